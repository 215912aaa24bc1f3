//! A matcher built once from a permit list, answering "which pattern permits this host".
//!
//! Lookups cost one hash probe per label of the host (at most 127), whatever the number of patterns: exact
//! names live in one table, wildcard suffixes in another, and a lookup tries the host itself, then each of its
//! proper suffixes from the most specific down. The answer is the most specific permit.

use std::collections::HashMap;

use super::domain::{Domain, DomainPattern};

#[derive(Clone, Debug, Default)]
pub struct Matcher {
    exact: HashMap<String, usize>,
    wildcard: HashMap<String, usize>,
    patterns: Vec<DomainPattern>,
}

impl Matcher {
    pub fn new(patterns: impl IntoIterator<Item = DomainPattern>) -> Matcher {
        let mut m = Matcher::default();
        for p in patterns {
            let table = match &p {
                DomainPattern::Exact(d) => (&mut m.exact, d.as_str().to_string()),
                DomainPattern::Wildcard(d) => (&mut m.wildcard, d.as_str().to_string()),
            };
            if !table.0.contains_key(&table.1) {
                table.0.insert(table.1, m.patterns.len());
                m.patterns.push(p);
            }
        }
        m
    }

    pub fn len(&self) -> usize {
        self.patterns.len()
    }

    pub fn is_empty(&self) -> bool {
        self.patterns.is_empty()
    }

    /// The most specific pattern that permits `host`, if any.
    pub fn permitting(&self, host: &Domain) -> Option<&DomainPattern> {
        let name = host.as_str();
        if let Some(&i) = self.exact.get(name) {
            return Some(&self.patterns[i]);
        }
        let mut rest = name;
        while let Some(dot) = rest.find('.') {
            rest = &rest[dot + 1..];
            if let Some(&i) = self.wildcard.get(rest) {
                return Some(&self.patterns[i]);
            }
        }
        None
    }
}

/// The same question answered by trying every pattern: the baseline the benchmark compares against, and
/// the oracle the matcher is tested against.
pub fn linear_permitting<'a>(patterns: &'a [DomainPattern], host: &Domain) -> Option<&'a DomainPattern> {
    patterns.iter().filter(|p| p.matches(host)).max_by_key(|p| match p {
        DomainPattern::Exact(_) => usize::MAX,
        DomainPattern::Wildcard(s) => s.as_str().len(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pats(list: &[&str]) -> Vec<DomainPattern> {
        list.iter().map(|s| DomainPattern::parse(s).unwrap()).collect()
    }

    #[test]
    fn answers_with_the_most_specific_permit() {
        let patterns = pats(&["*.example.com", "*.api.example.com", "api.example.com", "ehr.example.org"]);
        let m = Matcher::new(patterns.clone());
        let cases = [
            ("api.example.com", Some("api.example.com")),
            ("v1.api.example.com", Some("*.api.example.com")),
            ("www.example.com", Some("*.example.com")),
            ("a.b.c.example.com", Some("*.example.com")),
            ("example.com", None),
            ("ehr.example.org", Some("ehr.example.org")),
            ("x.ehr.example.org", None),
            ("exfil.attacker.io", None),
        ];
        for (host, want) in cases {
            let host = Domain::parse(host).unwrap();
            assert_eq!(m.permitting(&host).map(|p| p.to_string()).as_deref(), want, "{host}");
            assert_eq!(linear_permitting(&patterns, &host), m.permitting(&host), "oracle disagrees on {host}");
        }
        assert!(
            Matcher::new(Vec::new()).permitting(&Domain::parse("a.example.com").unwrap()).is_none(),
            "empty list = zero egress"
        );
    }

    #[test]
    fn agrees_with_the_linear_oracle_on_generated_lists() {
        let mut patterns = Vec::new();
        for i in 0..300 {
            let s = match i % 3 {
                0 => format!("svc{i}.zone{}.example.com", i % 7),
                1 => format!("*.zone{}.example.com", i % 11),
                _ => format!("*.t{i}.example.net"),
            };
            patterns.push(DomainPattern::parse(&s).unwrap());
        }
        let m = Matcher::new(patterns.clone());
        for i in 0..600 {
            let host = Domain::parse(&format!("svc{i}.zone{}.example.com", i % 13)).unwrap();
            assert_eq!(m.permitting(&host), linear_permitting(&patterns, &host), "{host}");
            let host = Domain::parse(&format!("a.t{i}.example.net")).unwrap();
            assert_eq!(m.permitting(&host), linear_permitting(&patterns, &host), "{host}");
        }
    }
}
