//! Kubernetes `Status` errors: every failed request answers with one, with the reason and code clients act on.
//!
//! Messages follow the API server's wording (`configmaps "x" not found`, `Operation cannot be fulfilled on ...`),
//! because kubectl, helm and kube-rs print them and sometimes match on them. Nothing here decides policy.

use serde_json::{json, Value};

/// One cause inside `details.causes` of a `Status`.
#[derive(Debug, Clone)]
pub struct Cause {
    pub reason: String,
    pub message: String,
    pub field: String,
}

/// An API error that becomes a `kind: Status` body.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub code: u16,
    pub reason: &'static str,
    pub message: String,
    pub name: Option<String>,
    pub group: Option<String>,
    pub kind: Option<String>,
    pub causes: Vec<Cause>,
    pub retry_after: Option<u32>,
}

impl ApiError {
    fn new(code: u16, reason: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            code,
            reason,
            message: message.into(),
            name: None,
            group: None,
            kind: None,
            causes: vec![],
            retry_after: None,
        }
    }

    fn with_details(mut self, group: &str, plural: &str, name: &str) -> ApiError {
        self.group = Some(group.to_string());
        self.kind = Some(plural.to_string());
        self.name = Some(name.to_string());
        self
    }

    /// `group_resource` as the server prints it: `configmaps` or `widgets.example.com`.
    pub fn qualified(group: &str, plural: &str) -> String {
        if group.is_empty() {
            plural.to_string()
        } else {
            format!("{plural}.{group}")
        }
    }

    pub fn not_found(group: &str, plural: &str, name: &str) -> ApiError {
        ApiError::new(404, "NotFound", format!("{} \"{name}\" not found", Self::qualified(group, plural)))
            .with_details(group, plural, name)
    }

    pub fn namespace_not_found(ns: &str) -> ApiError {
        ApiError::new(404, "NotFound", format!("namespaces \"{ns}\" not found")).with_details("", "namespaces", ns)
    }

    pub fn path_not_found() -> ApiError {
        ApiError::new(404, "NotFound", "the server could not find the requested resource")
    }

    pub fn already_exists(group: &str, plural: &str, name: &str) -> ApiError {
        ApiError::new(409, "AlreadyExists", format!("{} \"{name}\" already exists", Self::qualified(group, plural)))
            .with_details(group, plural, name)
    }

    pub fn conflict(group: &str, plural: &str, name: &str) -> ApiError {
        ApiError::new(
            409,
            "Conflict",
            format!(
                "Operation cannot be fulfilled on {} \"{name}\": the object has been modified; please apply your changes to the latest version and try again",
                Self::qualified(group, plural)
            ),
        )
        .with_details(group, plural, name)
    }

    pub fn conflict_message(group: &str, plural: &str, name: &str, message: String, causes: Vec<Cause>) -> ApiError {
        let mut e = ApiError::new(409, "Conflict", message).with_details(group, plural, name);
        e.causes = causes;
        e
    }

    /// 422 Invalid: `Kind "name" is invalid: field: message`.
    pub fn invalid(group: &str, kind: &str, name: &str, causes: Vec<Cause>) -> ApiError {
        let detail = causes.iter().map(|c| format!("{}: {}", c.field, c.message)).collect::<Vec<_>>().join(", ");
        let prefix = if group.is_empty() { kind.to_string() } else { format!("{kind}.{group}") };
        let message = if causes.len() == 1 {
            format!("{prefix} \"{name}\" is invalid: {detail}")
        } else {
            format!("{prefix} \"{name}\" is invalid: [{detail}]")
        };
        let mut e = ApiError::new(422, "Invalid", message);
        e.group = Some(group.to_string());
        e.kind = Some(kind.to_string());
        e.name = Some(name.to_string());
        e.causes = causes;
        e
    }

    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(400, "BadRequest", message)
    }

    pub fn forbidden_terminating(group: &str, plural: &str, name: &str, ns: &str) -> ApiError {
        ApiError::new(
            403,
            "Forbidden",
            format!(
                "{} \"{name}\" is forbidden: unable to create new content in namespace {ns} because it is being terminated",
                Self::qualified(group, plural)
            ),
        )
        .with_details(group, plural, name)
    }

    pub fn method_not_allowed(message: impl Into<String>) -> ApiError {
        ApiError::new(405, "MethodNotAllowed", message)
    }

    pub fn unsupported_media_type(content_type: &str) -> ApiError {
        ApiError::new(415, "UnsupportedMediaType", format!("the body of the request was in an unknown format - accepted media types include: application/json, application/yaml, application/vnd.kubernetes.protobuf (got {content_type})"))
    }

    pub fn unauthorized() -> ApiError {
        ApiError::new(401, "Unauthorized", "Unauthorized")
    }

    pub fn expired(requested: u64, oldest: u64) -> ApiError {
        ApiError::new(410, "Expired", format!("too old resource version: {requested} ({oldest})"))
    }

    pub fn gone_continue() -> ApiError {
        ApiError::new(410, "Expired", "The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter.")
    }

    pub fn internal(message: impl Into<String>) -> ApiError {
        ApiError::new(500, "InternalError", message)
    }

    pub fn injected(code: u16, message: &str) -> ApiError {
        let reason = match code {
            409 => "Conflict",
            429 => "TooManyRequests",
            503 => "ServiceUnavailable",
            504 => "Timeout",
            _ => "InternalError",
        };
        ApiError::new(code, reason, message.to_string())
    }

    pub fn too_many_requests(retry_after: u32) -> ApiError {
        let mut e = ApiError::new(
            429,
            "TooManyRequests",
            "the server has received too many requests and has asked us to try again later",
        );
        e.retry_after = Some(retry_after);
        e
    }

    /// The `Status` body.
    pub fn to_status(&self) -> Value {
        let mut details = serde_json::Map::new();
        if let Some(name) = &self.name {
            details.insert("name".into(), json!(name));
        }
        if let Some(group) = &self.group {
            details.insert("group".into(), json!(group));
        }
        if let Some(kind) = &self.kind {
            details.insert("kind".into(), json!(kind));
        }
        if !self.causes.is_empty() {
            details.insert(
                "causes".into(),
                Value::Array(
                    self.causes
                        .iter()
                        .map(|c| json!({"reason": c.reason, "message": c.message, "field": c.field}))
                        .collect(),
                ),
            );
        }
        if let Some(after) = self.retry_after {
            details.insert("retryAfterSeconds".into(), json!(after));
        }
        let mut status = json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        });
        if !details.is_empty() {
            status["details"] = Value::Object(details);
        }
        status
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}: {}", self.code, self.reason, self.message)
    }
}

impl std::error::Error for ApiError {}

pub fn cause(reason: &str, field: &str, message: impl Into<String>) -> Cause {
    Cause { reason: reason.to_string(), field: field.to_string(), message: message.into() }
}

pub type ApiResult<T> = Result<T, ApiError>;
