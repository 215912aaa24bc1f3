//! The egress domain grammar: what a permitted destination may look like, and why anything else is refused.
//!
//! Accepted: a hostname of at least two labels, each 1-63 letters, digits or inner hyphens, at most 253
//! characters in all, optionally preceded by one `*.` wildcard label. Normalised to lowercase, without a
//! trailing dot, internationalised names in punycode. Every refusal has its own [`Rejection`], which names
//! the rule and says what would be accepted.

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};

/// What a domain entry must look like, for messages.
pub const ACCEPTED: &str =
    "a hostname such as \"api.example.com\", or \"*.example.com\" for every name below example.com";

/// Why an entry is not an egress domain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Rejection {
    Empty,
    Whitespace,
    Scheme,
    UserInfo,
    Path,
    Port,
    IpAddress,
    Localhost,
    SingleLabel,
    ClusterInternal,
    ReverseDns,
    BareWildcard,
    WildcardPosition,
    EmptyLabel,
    LabelTooLong { label: String },
    HyphenAtEdge { label: String },
    InvalidCharacters,
    TooLong { length: usize },
}

impl Rejection {
    /// A short name for the rule broken, stable for tests, logs and docs.
    pub fn rule(&self) -> &'static str {
        match self {
            Rejection::Empty => "empty",
            Rejection::Whitespace => "no-whitespace",
            Rejection::Scheme => "no-scheme",
            Rejection::UserInfo => "no-user-info",
            Rejection::Path => "no-path",
            Rejection::Port => "no-port",
            Rejection::IpAddress => "no-ip-address",
            Rejection::Localhost => "no-localhost",
            Rejection::SingleLabel => "two-labels-minimum",
            Rejection::ClusterInternal => "no-cluster-internal",
            Rejection::ReverseDns => "no-reverse-dns",
            Rejection::BareWildcard => "no-bare-wildcard",
            Rejection::WildcardPosition => "wildcard-leftmost-only",
            Rejection::EmptyLabel => "no-empty-label",
            Rejection::LabelTooLong { .. } => "label-length",
            Rejection::HyphenAtEdge { .. } => "label-hyphens",
            Rejection::InvalidCharacters => "label-characters",
            Rejection::TooLong { .. } => "name-length",
        }
    }

    /// What is wrong and what to do instead.
    pub fn explanation(&self) -> String {
        match self {
            Rejection::Empty => "the entry is empty; remove it".into(),
            Rejection::Whitespace => "domains contain no spaces or other whitespace; remove them".into(),
            Rejection::Scheme => "a URL scheme is not part of a domain; give the hostname alone (\"https://api.example.com\" becomes \"api.example.com\")".into(),
            Rejection::UserInfo => "user information (\"user@\") is not part of a domain; give the hostname alone".into(),
            Rejection::Path => "a path or query is not part of a domain; give the hostname alone".into(),
            Rejection::Port => "ports are not part of a domain; give the hostname alone, ports are set by the policy's rules".into(),
            Rejection::IpAddress => "IP addresses are not domains, and permits are by domain; give the hostname the service is reached by".into(),
            Rejection::Localhost => "localhost never leaves the pod, so it is not an egress destination; remove it".into(),
            Rejection::SingleLabel => "a single-label name is not a public hostname (and \"*.com\"-style wildcards over a whole top-level domain are refused); give at least two labels".into(),
            Rejection::ClusterInternal => "cluster-internal names (*.cluster.local, *.svc) are not egress; in-cluster traffic is not governed by egress permits".into(),
            Rejection::ReverseDns => "reverse-DNS zones (in-addr.arpa, ip6.arpa) are not egress destinations; remove them".into(),
            Rejection::BareWildcard => "a bare \"*\" would permit everything, which defeats the permit list; name the domains".into(),
            Rejection::WildcardPosition => "a wildcard may only be the whole leftmost label (\"*.example.com\"); \"api.*.example.com\" and \"*api.example.com\" are refused".into(),
            Rejection::EmptyLabel => "the name has an empty label (two dots in a row, or a leading dot)".into(),
            Rejection::LabelTooLong { label } => format!("the label {label:?} is longer than 63 characters"),
            Rejection::HyphenAtEdge { label } => format!("the label {label:?} starts or ends with a hyphen"),
            Rejection::InvalidCharacters => "labels hold only letters, digits and inner hyphens (underscores and other symbols are refused)".into(),
            Rejection::TooLong { length } => format!("the name is {length} characters long; at most 253 are allowed"),
        }
    }
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (rule {})", self.explanation(), self.rule())
    }
}

/// A normalised hostname (no wildcard): the destination of a connection.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Domain(String);

/// A normalised permit: one hostname, or every name below a suffix.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DomainPattern {
    Exact(Domain),
    /// `*.suffix`: matches names with at least one label before `suffix`, never `suffix` itself.
    Wildcard(Domain),
}

impl Domain {
    pub fn parse(raw: &str) -> Result<Domain, Rejection> {
        match DomainPattern::parse(raw)? {
            DomainPattern::Exact(d) => Ok(d),
            DomainPattern::Wildcard(_) => Err(Rejection::WildcardPosition),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// True when `self` is strictly below `suffix` (`a.example.com` is below `example.com`).
    pub fn is_below(&self, suffix: &Domain) -> bool {
        self.0.len() > suffix.0.len() + 1
            && self.0.ends_with(suffix.0.as_str())
            && self.0.as_bytes()[self.0.len() - suffix.0.len() - 1] == b'.'
    }
}

impl fmt::Display for Domain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Display for DomainPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DomainPattern::Exact(d) => write!(f, "{d}"),
            DomainPattern::Wildcard(d) => write!(f, "*.{d}"),
        }
    }
}

impl DomainPattern {
    /// Parses and normalises one entry of a permit list.
    pub fn parse(raw: &str) -> Result<DomainPattern, Rejection> {
        if raw.is_empty() {
            return Err(Rejection::Empty);
        }
        if raw.chars().any(char::is_whitespace) {
            return Err(Rejection::Whitespace);
        }
        if raw.contains("://") {
            return Err(Rejection::Scheme);
        }
        if raw.contains('@') {
            return Err(Rejection::UserInfo);
        }
        if raw.contains(['/', '?', '#']) {
            return Err(Rejection::Path);
        }
        let unbracketed = raw.trim_start_matches('[').trim_end_matches(']');
        if unbracketed.parse::<Ipv6Addr>().is_ok() || (raw.starts_with('[') && raw.contains("]:")) {
            return Err(Rejection::IpAddress);
        }
        if let Some((host, port)) = raw.rsplit_once(':') {
            if host.parse::<Ipv4Addr>().is_ok() {
                return Err(Rejection::IpAddress);
            }
            return Err(if !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) {
                Rejection::Port
            } else {
                Rejection::InvalidCharacters
            });
        }
        let name = raw.strip_suffix('.').unwrap_or(raw);
        if name == "*" {
            return Err(Rejection::BareWildcard);
        }
        let (wildcard, rest) = match name.strip_prefix("*.") {
            Some(rest) => (true, rest),
            None => (false, name),
        };
        if rest.contains('*') {
            return Err(Rejection::WildcardPosition);
        }
        if rest.is_empty() || rest.starts_with('.') || rest.contains("..") {
            return Err(Rejection::EmptyLabel);
        }
        // Lowercase and IDNA (punycode) in one step; symbols such as '_' are left for the label check.
        let ascii = idna::domain_to_ascii(rest).map_err(|_| Rejection::InvalidCharacters)?;
        let ascii = ascii.to_ascii_lowercase();
        let labels: Vec<&str> = ascii.split('.').collect();
        if labels.iter().any(|l| l.is_empty()) {
            return Err(Rejection::EmptyLabel);
        }
        if ascii.parse::<Ipv4Addr>().is_ok() || labels.last().is_some_and(|tld| tld.bytes().all(|b| b.is_ascii_digit()))
        {
            return Err(Rejection::IpAddress);
        }
        if labels.last() == Some(&"localhost") {
            return Err(Rejection::Localhost);
        }
        if ascii == "cluster.local" || ascii.ends_with(".cluster.local") || labels.last() == Some(&"svc") {
            return Err(Rejection::ClusterInternal);
        }
        let in_zone = |zone: &str| ascii == zone || ascii.ends_with(&format!(".{zone}"));
        if in_zone("in-addr.arpa") || in_zone("ip6.arpa") {
            return Err(Rejection::ReverseDns);
        }
        if labels.len() < 2 {
            return Err(Rejection::SingleLabel);
        }
        for label in &labels {
            if label.len() > 63 {
                return Err(Rejection::LabelTooLong { label: label.to_string() });
            }
            if !label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
                return Err(Rejection::InvalidCharacters);
            }
            if label.starts_with('-') || label.ends_with('-') {
                return Err(Rejection::HyphenAtEdge { label: label.to_string() });
            }
        }
        let length = ascii.len() + if wildcard { 2 } else { 0 };
        if length > 253 {
            return Err(Rejection::TooLong { length });
        }
        let domain = Domain(ascii);
        Ok(if wildcard { DomainPattern::Wildcard(domain) } else { DomainPattern::Exact(domain) })
    }

    /// Does this permit allow `host`?
    pub fn matches(&self, host: &Domain) -> bool {
        match self {
            DomainPattern::Exact(d) => d == host,
            DomainPattern::Wildcard(suffix) => host.is_below(suffix),
        }
    }

    /// Does this permit allow everything `other` allows (so `other` is redundant beside it)?
    pub fn subsumes(&self, other: &DomainPattern) -> bool {
        match (self, other) {
            (a, b) if a == b => true,
            (DomainPattern::Wildcard(s), DomainPattern::Exact(h)) => h.is_below(s),
            (DomainPattern::Wildcard(s), DomainPattern::Wildcard(t)) => t.is_below(s),
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_and_normalises() {
        let cases = [
            ("api.example.com", "api.example.com"),
            ("API.Example.COM", "api.example.com"),
            ("api.example.com.", "api.example.com"),
            ("*.example.com", "*.example.com"),
            ("*.Example.com.", "*.example.com"),
            ("a-b.c0.io", "a-b.c0.io"),
            ("xn--bcher-kva.example", "xn--bcher-kva.example"),
            ("bücher.example", "xn--bcher-kva.example"),
            ("*.münchen.de", "*.xn--mnchen-3ya.de"),
            ("EHR.例え.jp", "ehr.xn--r8jz45g.jp"),
            ("1password.com", "1password.com"),
        ];
        for (raw, want) in cases {
            let got = DomainPattern::parse(raw).unwrap_or_else(|e| panic!("{raw:?} rejected: {e}"));
            assert_eq!(got.to_string(), want, "{raw:?}");
        }
        let max_label = format!("{}.com", "a".repeat(63));
        assert!(DomainPattern::parse(&max_label).is_ok());
        let long = [&"a".repeat(63)[..], &"b".repeat(63), &"c".repeat(63), &"d".repeat(57), "com"].join(".");
        assert_eq!(long.len(), 253);
        assert!(DomainPattern::parse(&long).is_ok());
    }

    #[test]
    fn rejects_each_with_its_own_rule() {
        let too_long = [&"a".repeat(63)[..], &"b".repeat(63), &"c".repeat(63), &"d".repeat(58), "com"].join(".");
        let cases: Vec<(&str, &str)> = vec![
            ("", "empty"),
            ("api .example.com", "no-whitespace"),
            (" api.example.com", "no-whitespace"),
            ("https://api.example.com", "no-scheme"),
            ("ftp://files.example.com/x", "no-scheme"),
            ("user@api.example.com", "no-user-info"),
            ("api.example.com/v1", "no-path"),
            ("api.example.com?x=1", "no-path"),
            ("api.example.com:443", "no-port"),
            ("api.example.com:", "label-characters"),
            ("10.0.0.1", "no-ip-address"),
            ("10.0.0.1:80", "no-ip-address"),
            ("::1", "no-ip-address"),
            ("2001:db8::1", "no-ip-address"),
            ("[2001:db8::1]", "no-ip-address"),
            ("[2001:db8::1]:443", "no-ip-address"),
            ("1.2.3", "no-ip-address"),
            ("localhost", "no-localhost"),
            ("localhost.", "no-localhost"),
            ("app.localhost", "no-localhost"),
            ("intranet", "two-labels-minimum"),
            ("*.com", "two-labels-minimum"),
            ("kubernetes.default.svc", "no-cluster-internal"),
            ("kubernetes.default.svc.cluster.local", "no-cluster-internal"),
            ("*.cluster.local", "no-cluster-internal"),
            ("cluster.local", "no-cluster-internal"),
            ("1.0.0.10.in-addr.arpa", "no-reverse-dns"),
            ("*.ip6.arpa", "no-reverse-dns"),
            ("*", "no-bare-wildcard"),
            ("*.", "no-bare-wildcard"),
            ("api.*.example.com", "wildcard-leftmost-only"),
            ("*api.example.com", "wildcard-leftmost-only"),
            ("*.*.example.com", "wildcard-leftmost-only"),
            ("example.*", "wildcard-leftmost-only"),
            ("api..example.com", "no-empty-label"),
            (".example.com", "no-empty-label"),
            ("*..example.com", "no-empty-label"),
            (&too_long, "name-length"),
            ("-api.example.com", "label-hyphens"),
            ("api-.example.com", "label-hyphens"),
            ("my_service.example.com", "label-characters"),
            ("api!.example.com", "label-characters"),
        ];
        let long_label = format!("{}.com", "a".repeat(64));
        let mut cases = cases;
        cases.push((&long_label, "label-length"));
        for (raw, rule) in cases {
            match DomainPattern::parse(raw) {
                Ok(p) => panic!("{raw:?} accepted as {p}, expected rule {rule}"),
                Err(e) => assert_eq!(e.rule(), rule, "{raw:?}: {e}"),
            }
        }
    }

    #[test]
    fn wildcards_match_below_never_at_the_suffix() {
        let p = DomainPattern::parse("*.example.com").unwrap();
        let host = |h: &str| Domain::parse(h).unwrap();
        assert!(p.matches(&host("a.example.com")));
        assert!(p.matches(&host("a.b.example.com")));
        assert!(!p.matches(&host("example.com")));
        assert!(!p.matches(&host("badexample.com")));
        assert!(!p.matches(&host("example.com.evil.io")));
        let exact = DomainPattern::parse("api.example.com").unwrap();
        assert!(exact.matches(&host("API.example.com")));
        assert!(!exact.matches(&host("x.api.example.com")));
        assert_eq!(Domain::parse("*.example.com"), Err(Rejection::WildcardPosition));
    }

    #[test]
    fn subsumption() {
        let p = |s: &str| DomainPattern::parse(s).unwrap();
        assert!(p("*.example.com").subsumes(&p("api.example.com")));
        assert!(p("*.example.com").subsumes(&p("*.api.example.com")));
        assert!(p("*.example.com").subsumes(&p("*.example.com")));
        assert!(!p("*.example.com").subsumes(&p("example.com")));
        assert!(!p("api.example.com").subsumes(&p("*.api.example.com")));
        assert!(!p("*.api.example.com").subsumes(&p("*.example.com")));
    }

    /// Random strings over the characters that matter never panic the parser, and every accepted entry is
    /// already normal: parsing its normal form gives it back.
    #[test]
    fn parsing_is_total_and_normal_forms_are_fixed_points() {
        let alphabet: Vec<char> = "abcXYZ019-._*:/@[] ü例".chars().collect();
        let mut state: u64 = 0x9e3779b97f4a7c15;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let mut accepted = 0;
        for _ in 0..50_000 {
            let len = (next() % 20) as usize;
            let raw: String = (0..len).map(|_| alphabet[(next() as usize) % alphabet.len()]).collect();
            if let Ok(p) = DomainPattern::parse(&raw) {
                accepted += 1;
                assert_eq!(
                    DomainPattern::parse(&p.to_string()),
                    Ok(p.clone()),
                    "{raw:?} normalises to {p}, which is not stable"
                );
            }
        }
        assert!(accepted > 100, "the generator should reach valid names too ({accepted})");
    }
}
