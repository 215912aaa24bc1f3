//! The `timeouts` block convention: `timeouts { create = "30m" delete = "1h" }` on long-running resources.
//!
//! Durations use Terraform's syntax (`90s`, `30m`, `1h30m`); a bad one is an error on the exact attribute.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::diag::Diagnostic;
use super::path::AttributePath;

/// Per-operation time limits. Attributes left null take the resource's defaults.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, plugin_derive::TfSchema)]
pub struct Timeouts {
    /// How long creating may take, as a duration such as `30m` or `1h30m`.
    #[tf(optional)]
    pub create: Option<String>,
    /// How long reading may take, as a duration such as `5m`.
    #[tf(optional)]
    pub read: Option<String>,
    /// How long updating may take, as a duration such as `30m`.
    #[tf(optional)]
    pub update: Option<String>,
    /// How long deleting may take, as a duration such as `30m`.
    #[tf(optional)]
    pub delete: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Operation {
    Create,
    Read,
    Update,
    Delete,
}

impl Operation {
    fn name(self) -> &'static str {
        match self {
            Operation::Create => "create",
            Operation::Read => "read",
            Operation::Update => "update",
            Operation::Delete => "delete",
        }
    }
}

impl Timeouts {
    /// The limit for `op`, or `default` when none is configured.
    pub fn get(this: Option<&Timeouts>, op: Operation, default: Duration) -> Result<Duration, Diagnostic> {
        let raw = this.and_then(|t| match op {
            Operation::Create => t.create.as_deref(),
            Operation::Read => t.read.as_deref(),
            Operation::Update => t.update.as_deref(),
            Operation::Delete => t.delete.as_deref(),
        });
        match raw {
            None => Ok(default),
            Some(text) => parse_duration(text).map_err(|why| {
                Diagnostic::error(
                    format!("Invalid timeouts.{}", op.name()),
                    format!(
                        "timeouts.{} = {text:?}: {why}; use a duration such as \"90s\", \"30m\" or \"1h30m\".",
                        op.name()
                    ),
                )
                .at(AttributePath::root().attr("timeouts").attr(op.name()))
            }),
        }
    }

    /// Checks every configured duration, for validation.
    pub fn validate(&self) -> Vec<Diagnostic> {
        [Operation::Create, Operation::Read, Operation::Update, Operation::Delete]
            .into_iter()
            .filter_map(|op| Timeouts::get(Some(self), op, Duration::ZERO).err())
            .collect()
    }
}

/// Parses Terraform/Go duration text: a sequence of number+unit pairs (`h`, `m`, `s`, `ms`).
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    if text.is_empty() {
        return Err("the duration is empty".into());
    }
    let mut total = Duration::ZERO;
    let mut rest = text;
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(rest.len());
        if digits == 0 {
            return Err(format!("expected a number at {rest:?}"));
        }
        let number: f64 = rest[..digits].parse().map_err(|_| format!("{:?} is not a number", &rest[..digits]))?;
        rest = &rest[digits..];
        let unit_len = rest.find(|c: char| c.is_ascii_digit() || c == '.').unwrap_or(rest.len());
        let seconds = match &rest[..unit_len] {
            "h" => 3600.0,
            "m" => 60.0,
            "s" => 1.0,
            "ms" => 0.001,
            "" => return Err("a unit is missing (h, m, s or ms)".into()),
            other => return Err(format!("unknown unit {other:?} (use h, m, s or ms)")),
        };
        rest = &rest[unit_len..];
        total += Duration::from_secs_f64(number * seconds);
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_like_terraform() {
        let cases = [
            ("90s", Some(90)),
            ("30m", Some(1800)),
            ("1h30m", Some(5400)),
            ("1.5h", Some(5400)),
            ("", None),
            ("10", None),
            ("5d", None),
            ("m", None),
        ];
        for (text, want) in cases {
            assert_eq!(parse_duration(text).ok().map(|d| d.as_secs()), want, "{text:?}");
        }
    }

    #[test]
    fn a_bad_timeout_names_its_attribute() {
        let t = Timeouts { create: Some("soon".into()), ..Default::default() };
        let diags = t.validate();
        assert_eq!(diags.len(), 1);
        assert_eq!(diags[0].path.as_ref().unwrap().to_string(), "timeouts.create");
        assert!(diags[0].detail.contains("\"soon\""));
        assert_eq!(Timeouts::get(None, Operation::Delete, Duration::from_secs(7)).unwrap(), Duration::from_secs(7));
    }
}
