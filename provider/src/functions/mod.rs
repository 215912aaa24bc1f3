//! Provider-defined functions: `provider::aviatrix::normalize_domain` and `provider::aviatrix::domain_matches`.

use serde::{Deserialize, Serialize};

use crate::plugin::{Function, FunctionError, TfSchema};
use crate::policy::{Domain, DomainPattern, Rejection, ACCEPTED};

fn rejection_error(argument: i64, value: &str, rejection: &Rejection) -> FunctionError {
    FunctionError {
        text: format!("{value:?}: {} (rule {}). Accepted: {ACCEPTED}.", rejection.explanation(), rejection.rule()),
        argument: Some(argument),
    }
}

/// Returns the normalised form of one egress domain (lowercase, no trailing dot, punycode), or fails with the
/// rule the value breaks.
#[derive(Debug, Serialize, Deserialize, TfSchema)]
pub struct NormalizeDomainArgs {
    /// A hostname such as `API.Example.com.` or a wildcard such as `*.example.com`.
    pub domain: String,
}

pub struct NormalizeDomain;

impl Function for NormalizeDomain {
    const NAME: &'static str = "normalize_domain";
    const SUMMARY: &'static str = "Normalise an egress domain";
    type Args = NormalizeDomainArgs;
    type Output = String;

    fn call(&self, args: NormalizeDomainArgs) -> Result<String, FunctionError> {
        DomainPattern::parse(&args.domain).map(|p| p.to_string()).map_err(|r| rejection_error(0, &args.domain, &r))
    }
}

/// Tells whether an egress permit allows a host: `*.example.com` matches `a.example.com` and
/// `a.b.example.com`, never `example.com`.
#[derive(Debug, Serialize, Deserialize, TfSchema)]
pub struct DomainMatchesArgs {
    /// The permit: a hostname or a `*.` wildcard.
    pub pattern: String,
    /// The destination host, without wildcard.
    pub host: String,
}

pub struct DomainMatches;

impl Function for DomainMatches {
    const NAME: &'static str = "domain_matches";
    const SUMMARY: &'static str = "Does an egress permit allow a host";
    type Args = DomainMatchesArgs;
    type Output = bool;

    fn call(&self, args: DomainMatchesArgs) -> Result<bool, FunctionError> {
        let pattern = DomainPattern::parse(&args.pattern).map_err(|r| rejection_error(0, &args.pattern, &r))?;
        let host = Domain::parse(&args.host).map_err(|r| rejection_error(1, &args.host, &r))?;
        Ok(pattern.matches(&host))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugin::component::DynFunction;
    use crate::plugin::value::Value;

    fn s(v: &str) -> Value {
        Value::String(v.into())
    }

    #[test]
    fn functions_through_the_dynamic_interface() {
        assert_eq!(DynFunction::call(&NormalizeDomain, &[s("API.Example.COM.")]).unwrap(), s("api.example.com"));
        let e = DynFunction::call(&NormalizeDomain, &[s("https://x.example.com")]).unwrap_err();
        assert_eq!(e.argument, Some(0));
        assert!(e.text.contains("rule no-scheme"), "{}", e.text);
        assert_eq!(
            DynFunction::call(&DomainMatches, &[s("*.example.com"), s("a.b.example.com")]).unwrap(),
            Value::Bool(true)
        );
        assert_eq!(
            DynFunction::call(&DomainMatches, &[s("*.example.com"), s("example.com")]).unwrap(),
            Value::Bool(false)
        );
        let e = DynFunction::call(&DomainMatches, &[s("*.example.com"), s("*.example.com")]).unwrap_err();
        assert_eq!(e.argument, Some(1));
        let params = DynFunction::parameters(&DomainMatches);
        assert_eq!(params.iter().map(|p| p.name.as_str()).collect::<Vec<_>>(), ["pattern", "host"]);
    }
}
