//! `aviatrix_mcp_egress_domains`: a permit list normalised the way every resource will store it.

use serde::{Deserialize, Serialize};

use crate::plugin::{AttributePath, CallContext, DataSource, Diagnostic, Diagnostics, Outcome, TfSchema};
use crate::policy::{self, Invalid};

/// Normalises an egress permit list: lowercases, removes trailing dots, converts internationalised names to
/// punycode, sorts, and drops duplicates and entries a wildcard already covers. Invalid entries fail the plan
/// with an error on the exact element. No controller is contacted.
#[derive(Clone, Debug, Serialize, Deserialize, TfSchema)]
pub struct DomainsModel {
    /// The permit list as written: hostnames such as `api.example.com`, or `*.example.com` for every name
    /// below example.com (never example.com itself).
    #[tf(required)]
    pub domains: Vec<String>,
    /// The list normalised: sorted, without duplicates or entries covered by a wildcard.
    #[tf(computed)]
    pub normalized: Option<Vec<String>>,
    /// Each entry that was dropped, and why.
    #[tf(computed, nested)]
    pub removed: Option<Vec<RemovedDomain>>,
}

/// An entry dropped from the list.
#[derive(Clone, Debug, Serialize, Deserialize, TfSchema)]
pub struct RemovedDomain {
    /// The entry as written.
    #[tf(computed)]
    pub domain: String,
    /// Why it was dropped: a duplicate, or covered by a wildcard.
    #[tf(computed)]
    pub reason: String,
}

/// The diagnostic for an invalid entry of a list attribute: on the element, quoting it, naming the rule and
/// saying what would be accepted.
pub fn invalid_domain_diagnostic(attribute: &str, invalid: &Invalid) -> Diagnostic {
    Diagnostic::error(
        "Invalid egress domain",
        format!(
            "{attribute}[{}] = {:?}: {} (rule {}). Accepted: {}.",
            invalid.index,
            invalid.value,
            invalid.rejection.explanation(),
            invalid.rejection.rule(),
            policy::ACCEPTED
        ),
    )
    .at(AttributePath::root().attr(attribute).index(invalid.index as i64))
}

pub struct DomainsDataSource;

#[tonic::async_trait]
impl DataSource for DomainsDataSource {
    const TYPE_NAME: &'static str = "aviatrix_mcp_egress_domains";
    type Model = DomainsModel;

    fn validate(&self, config: &DomainsModel) -> Diagnostics {
        match policy::normalize(&config.domains) {
            Ok(_) => Diagnostics::default(),
            Err(invalid) => Diagnostics(invalid.iter().map(|i| invalid_domain_diagnostic("domains", i)).collect()),
        }
    }

    async fn read(&self, _ctx: &CallContext, mut config: DomainsModel) -> Outcome<DomainsModel> {
        let normalized = policy::normalize(&config.domains).map_err(|invalid| {
            Diagnostics(invalid.iter().map(|i| invalid_domain_diagnostic("domains", i)).collect())
        })?;
        config.normalized = Some(normalized.patterns.iter().map(ToString::to_string).collect());
        config.removed = Some(
            normalized.removed.into_iter().map(|r| RemovedDomain { domain: r.domain, reason: r.reason }).collect(),
        );
        Ok(config.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugin::component::DynDataSource;
    use crate::plugin::schema::TfBlock;
    use crate::plugin::value::Value;

    fn config(domains: &[&str]) -> Value {
        let model =
            DomainsModel { domains: domains.iter().map(|s| s.to_string()).collect(), normalized: None, removed: None };
        crate::plugin::bridge::to_value(&model).unwrap()
    }

    #[tokio::test]
    async fn reads_a_normalised_list() {
        let out = DynDataSource::read(
            &DomainsDataSource,
            &CallContext::default(),
            &config(&["B.example.org", "*.example.com", "api.example.com"]),
        )
        .await
        .unwrap();
        assert!(out.diagnostics.is_empty(), "{:?}", out.diagnostics);
        let model: DomainsModel = crate::plugin::bridge::from_value(&out.value).unwrap();
        assert_eq!(model.normalized.unwrap(), ["*.example.com", "b.example.org"]);
        let removed = model.removed.unwrap();
        assert_eq!(
            (removed[0].domain.as_str(), removed[0].reason.as_str()),
            ("api.example.com", "covered by *.example.com")
        );
    }

    #[test]
    fn an_invalid_entry_is_an_error_on_its_element() {
        let diags = DynDataSource::validate(&DomainsDataSource, &config(&["ok.example.com", "evil.example.com:443"])).0;
        assert_eq!(diags.len(), 1);
        assert_eq!(diags[0].path.as_ref().unwrap().to_string(), "domains[1]");
        assert!(
            diags[0].detail.starts_with("domains[1] = \"evil.example.com:443\": ports are not part of a domain"),
            "{}",
            diags[0].detail
        );
        assert!(diags[0].detail.contains("rule no-port") && diags[0].detail.contains("Accepted: a hostname"));
    }

    #[test]
    fn unknown_elements_wait_for_read() {
        let mut v = config(&["ok.example.com"]);
        if let Value::Object(m) = &mut v {
            m.insert("domains".into(), Value::List(vec![Value::String("x.example.com:1".into()), Value::Unknown]));
        }
        assert!(DynDataSource::validate(&DomainsDataSource, &v).is_empty());
    }

    #[test]
    fn schema_has_descriptions_and_a_computed_nested_attribute() {
        let block = DomainsModel::block();
        assert!(block.description.starts_with("Normalises an egress permit list"));
        let removed = block.attributes.iter().find(|a| a.name == "removed").unwrap();
        assert!(removed.computed && !removed.optional && removed.nested.is_some());
        let domains = block.attributes.iter().find(|a| a.name == "domains").unwrap();
        assert!(domains.required && domains.description.contains("*.example.com"));
    }
}
