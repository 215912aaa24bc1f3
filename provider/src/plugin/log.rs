//! Logging as hclog JSON lines on stderr, the format Terraform reads from a plugin's stderr.
//!
//! Terraform parses each JSON line with `@level`, `@message`, `@module` and `@timestamp` and shows it under
//! the provider's name when `TF_LOG` (or `TF_LOG_PROVIDER`) asks for that level; with neither set we write
//! nothing at all. Use the `tracing` macros anywhere in the crate; fields become hclog key/value pairs.
//! Never log a secret: configuration values marked sensitive are not passed to log macros.

use std::io::Write;

use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::{Context, Layer};
use tracing_subscriber::prelude::*;

/// The level Terraform asked for, read the way Terraform's plugin SDKs read it.
pub fn level_from_env() -> Option<Level> {
    let raw =
        std::env::var("TF_LOG_PROVIDER").ok().filter(|v| !v.is_empty()).or_else(|| std::env::var("TF_LOG").ok())?;
    match raw.trim().to_ascii_uppercase().as_str() {
        "TRACE" | "JSON" => Some(Level::TRACE),
        "DEBUG" => Some(Level::DEBUG),
        "INFO" => Some(Level::INFO),
        "WARN" => Some(Level::WARN),
        "ERROR" => Some(Level::ERROR),
        "" | "OFF" => None,
        // Terraform treats any other value as TRACE.
        _ => Some(Level::TRACE),
    }
}

/// Installs the hclog writer for this process, if Terraform asked for logs. `module` names the source.
pub fn init(module: &'static str) {
    let Some(level) = level_from_env() else {
        return;
    };
    let _ = tracing_subscriber::registry().with(HclogLayer { level, module }).try_init();
}

struct HclogLayer {
    level: Level,
    module: &'static str,
}

struct JsonFields(serde_json::Map<String, serde_json::Value>);

impl Visit for JsonFields {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_string(), value.into());
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.0.insert(field.name().to_string(), value.into());
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.0.insert(field.name().to_string(), value.into());
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.0.insert(field.name().to_string(), value.into());
    }
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0.insert(field.name().to_string(), format!("{value:?}").into());
    }
}

/// Formats one hclog JSON line.
pub fn hclog_line(
    level: &Level,
    module: &str,
    message: &str,
    fields: serde_json::Map<String, serde_json::Value>,
) -> String {
    // go-plugin parses exactly this layout (six fractional digits); any other makes the line raw text.
    const LAYOUT: &[time::format_description::BorrowedFormatItem<'static>] =
        time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:6]Z");
    let timestamp = time::OffsetDateTime::now_utc().format(LAYOUT).unwrap_or_default();
    let mut line = serde_json::Map::new();
    line.insert("@level".into(), level.as_str().to_ascii_lowercase().into());
    line.insert("@message".into(), message.into());
    line.insert("@module".into(), module.into());
    line.insert("@timestamp".into(), timestamp.into());
    for (k, v) in fields {
        line.insert(k, v);
    }
    serde_json::Value::Object(line).to_string()
}

impl<S: Subscriber> Layer<S> for HclogLayer {
    fn enabled(&self, metadata: &tracing::Metadata<'_>, _ctx: Context<'_, S>) -> bool {
        // Our own lines at the requested level; libraries' (h2 frames, hyper) only when they warn.
        let ours = metadata.target().starts_with(env!("CARGO_CRATE_NAME"));
        *metadata.level() <= if ours { self.level } else { self.level.min(Level::WARN) }
    }

    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        if !self.enabled(event.metadata(), _ctx) {
            return;
        }
        let mut fields = JsonFields(serde_json::Map::new());
        event.record(&mut fields);
        let message = fields.0.remove("message").and_then(|m| m.as_str().map(str::to_string)).unwrap_or_default();
        let line = hclog_line(event.metadata().level(), self.module, &message, fields.0);
        let mut err = std::io::stderr().lock();
        let _ = writeln!(err, "{line}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_hclog_json() {
        let mut fields = serde_json::Map::new();
        fields.insert("type_name".into(), "aviatrix_mcp_egress_domains".into());
        let line = hclog_line(&Level::DEBUG, "provider", "reading data source", fields);
        let parsed: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(parsed["@level"], "debug");
        assert_eq!(parsed["@message"], "reading data source");
        assert_eq!(parsed["@module"], "provider");
        assert_eq!(parsed["type_name"], "aviatrix_mcp_egress_domains");
        let ts = parsed["@timestamp"].as_str().unwrap();
        assert!(ts.ends_with('Z') && ts.len() == "2026-03-14T18:42:07.000000Z".len(), "{ts}");
    }
}
