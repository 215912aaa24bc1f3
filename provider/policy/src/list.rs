//! Permit lists as users write them, normalised: parsed, sorted, duplicates and subsumed entries removed,
//! each removal with its reason. Invalid entries are errors with their index, never silently dropped.

use super::domain::{DomainPattern, Rejection};
use super::matcher::Matcher;

/// An entry taken out of a list, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Removed {
    /// The entry as written.
    pub domain: String,
    /// Why it is not needed: a duplicate, or covered by a wildcard.
    pub reason: String,
}

/// An entry that is not a domain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Invalid {
    pub index: usize,
    pub value: String,
    pub rejection: Rejection,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Normalized {
    pub patterns: Vec<DomainPattern>,
    pub removed: Vec<Removed>,
}

/// Normalises a permit list, or returns every invalid entry.
pub fn normalize(entries: &[String]) -> Result<Normalized, Vec<Invalid>> {
    let mut parsed = Vec::with_capacity(entries.len());
    let mut invalid = Vec::new();
    for (index, raw) in entries.iter().enumerate() {
        match DomainPattern::parse(raw) {
            Ok(p) => parsed.push((raw.as_str(), p)),
            Err(rejection) => invalid.push(Invalid { index, value: raw.clone(), rejection }),
        }
    }
    if !invalid.is_empty() {
        return Err(invalid);
    }
    // Wildcards only: an entry is redundant when a strictly wider wildcard covers it.
    let wildcards =
        Matcher::new(parsed.iter().filter(|(_, p)| matches!(p, DomainPattern::Wildcard(_))).map(|(_, p)| p.clone()));
    let mut out = Normalized::default();
    let mut seen = std::collections::HashMap::new();
    for (raw, p) in &parsed {
        if let Some(first) = seen.get(p) {
            let reason =
                if *first == *raw { "listed more than once".to_string() } else { format!("same domain as {first:?}") };
            out.removed.push(Removed { domain: raw.to_string(), reason });
            continue;
        }
        seen.insert(p.clone(), *raw);
        let covering = match p {
            DomainPattern::Exact(d) => wildcards.permitting(d),
            // A wildcard is covered by a wider one: look up its suffix's own name under the wildcards.
            DomainPattern::Wildcard(d) => wildcards.permitting(d),
        };
        match covering {
            Some(wider) if wider != p => {
                out.removed.push(Removed { domain: raw.to_string(), reason: format!("covered by {wider}") })
            }
            _ => out.patterns.push(p.clone()),
        }
    }
    out.patterns.sort_by_key(ToString::to_string);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn sorts_dedups_and_removes_subsumed_entries_with_reasons() {
        let got = normalize(&strings(&[
            "b.example.org",
            "API.example.com",
            "*.example.com",
            "b.example.org",
            "api.example.com",
            "*.v1.example.com",
            "B.example.org.",
        ]))
        .unwrap();
        let names: Vec<String> = got.patterns.iter().map(|p| p.to_string()).collect();
        assert_eq!(names, ["*.example.com", "b.example.org"]);
        let removed: Vec<(&str, &str)> = got.removed.iter().map(|r| (r.domain.as_str(), r.reason.as_str())).collect();
        assert_eq!(
            removed,
            [
                ("API.example.com", "covered by *.example.com"),
                ("b.example.org", "listed more than once"),
                ("api.example.com", "same domain as \"API.example.com\""),
                ("*.v1.example.com", "covered by *.example.com"),
                ("B.example.org.", "same domain as \"b.example.org\""),
            ]
        );
        assert_eq!(normalize(&[]).unwrap(), Normalized::default());
    }

    #[test]
    fn a_wildcard_does_not_remove_its_own_suffix() {
        let got = normalize(&strings(&["example.com", "*.example.com"])).unwrap();
        assert_eq!(got.patterns.len(), 2);
        assert!(got.removed.is_empty());
    }

    #[test]
    fn every_invalid_entry_is_reported_with_its_index() {
        let err = normalize(&strings(&["ok.example.com", "evil.example.com:443", "*", "also.fine.io", "10.0.0.1"]))
            .unwrap_err();
        let got: Vec<(usize, &str)> = err.iter().map(|i| (i.index, i.rejection.rule())).collect();
        assert_eq!(got, [(1, "no-port"), (2, "no-bare-wildcard"), (4, "no-ip-address")]);
    }
}
