//! The resource catalogue: which kinds the API serves, under which group, version and plural, and how they
//! behave (scope, status subresource, strategic merge). Built-in kinds are fixed; custom resources are derived
//! from stored CustomResourceDefinitions each time the catalogue is rebuilt.
//!
//! This module only describes resources; it stores nothing and answers no request.

use serde_json::Value;

/// One served resource (all its versions).
#[derive(Debug, Clone)]
pub struct ResourceDef {
    pub group: String,
    /// Served versions, the preferred (storage) one first.
    pub versions: Vec<String>,
    pub kind: String,
    pub plural: String,
    pub singular: String,
    pub namespaced: bool,
    pub short_names: Vec<String>,
    pub categories: Vec<String>,
    pub status_subresource: bool,
    /// Built-in kinds take strategic merge patches; custom resources do not.
    pub builtin: bool,
    /// For custom resources: the structural schema per version, for pruning and strict validation.
    pub schemas: Vec<(String, Value)>,
    /// For custom resources: additionalPrinterColumns of the preferred version.
    pub printer_columns: Vec<Value>,
}

impl ResourceDef {
    /// `group/plural`, the storage key of the resource.
    pub fn key(&self) -> String {
        format!("{}/{}", self.group, self.plural)
    }

    pub fn api_version(&self, version: &str) -> String {
        if self.group.is_empty() {
            version.to_string()
        } else {
            format!("{}/{}", self.group, version)
        }
    }

    pub fn preferred_version(&self) -> &str {
        &self.versions[0]
    }

    pub fn list_kind(&self) -> String {
        format!("{}List", self.kind)
    }

    /// Kinds whose `generation` moves with spec changes.
    pub fn has_generation(&self) -> bool {
        !self.builtin
            || !matches!(
                self.kind.as_str(),
                "ConfigMap" | "Secret" | "Namespace" | "Node" | "ServiceAccount" | "Endpoints" | "Event"
            )
    }

    pub fn verbs(&self) -> Vec<&'static str> {
        vec!["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]
    }

    pub fn schema_for(&self, version: &str) -> Option<&Value> {
        self.schemas.iter().find(|(v, _)| v == version).map(|(_, s)| s)
    }
}

struct Builtin {
    group: &'static str,
    version: &'static str,
    kind: &'static str,
    plural: &'static str,
    namespaced: bool,
    short: &'static [&'static str],
    status: bool,
    categories: &'static [&'static str],
}

const BUILTINS: &[Builtin] = &[
    Builtin {
        group: "",
        version: "v1",
        kind: "Namespace",
        plural: "namespaces",
        namespaced: false,
        short: &["ns"],
        status: true,
        categories: &[],
    },
    Builtin {
        group: "",
        version: "v1",
        kind: "Node",
        plural: "nodes",
        namespaced: false,
        short: &["no"],
        status: true,
        categories: &[],
    },
    Builtin {
        group: "",
        version: "v1",
        kind: "ConfigMap",
        plural: "configmaps",
        namespaced: true,
        short: &["cm"],
        status: false,
        categories: &[],
    },
    Builtin {
        group: "",
        version: "v1",
        kind: "Secret",
        plural: "secrets",
        namespaced: true,
        short: &[],
        status: false,
        categories: &[],
    },
    Builtin {
        group: "",
        version: "v1",
        kind: "ServiceAccount",
        plural: "serviceaccounts",
        namespaced: true,
        short: &["sa"],
        status: false,
        categories: &[],
    },
    Builtin {
        group: "",
        version: "v1",
        kind: "Service",
        plural: "services",
        namespaced: true,
        short: &["svc"],
        status: true,
        categories: &["all"],
    },
    Builtin {
        group: "",
        version: "v1",
        kind: "Endpoints",
        plural: "endpoints",
        namespaced: true,
        short: &["ep"],
        status: false,
        categories: &[],
    },
    Builtin {
        group: "",
        version: "v1",
        kind: "Pod",
        plural: "pods",
        namespaced: true,
        short: &["po"],
        status: true,
        categories: &["all"],
    },
    Builtin {
        group: "",
        version: "v1",
        kind: "Event",
        plural: "events",
        namespaced: true,
        short: &["ev"],
        status: false,
        categories: &[],
    },
    Builtin {
        group: "apps",
        version: "v1",
        kind: "Deployment",
        plural: "deployments",
        namespaced: true,
        short: &["deploy"],
        status: true,
        categories: &["all"],
    },
    Builtin {
        group: "apps",
        version: "v1",
        kind: "ReplicaSet",
        plural: "replicasets",
        namespaced: true,
        short: &["rs"],
        status: true,
        categories: &["all"],
    },
    Builtin {
        group: "apps",
        version: "v1",
        kind: "DaemonSet",
        plural: "daemonsets",
        namespaced: true,
        short: &["ds"],
        status: true,
        categories: &["all"],
    },
    Builtin {
        group: "batch",
        version: "v1",
        kind: "Job",
        plural: "jobs",
        namespaced: true,
        short: &[],
        status: true,
        categories: &["all"],
    },
    Builtin {
        group: "rbac.authorization.k8s.io",
        version: "v1",
        kind: "Role",
        plural: "roles",
        namespaced: true,
        short: &[],
        status: false,
        categories: &[],
    },
    Builtin {
        group: "rbac.authorization.k8s.io",
        version: "v1",
        kind: "RoleBinding",
        plural: "rolebindings",
        namespaced: true,
        short: &[],
        status: false,
        categories: &[],
    },
    Builtin {
        group: "rbac.authorization.k8s.io",
        version: "v1",
        kind: "ClusterRole",
        plural: "clusterroles",
        namespaced: false,
        short: &[],
        status: false,
        categories: &[],
    },
    Builtin {
        group: "rbac.authorization.k8s.io",
        version: "v1",
        kind: "ClusterRoleBinding",
        plural: "clusterrolebindings",
        namespaced: false,
        short: &[],
        status: false,
        categories: &[],
    },
    Builtin {
        group: "apiextensions.k8s.io",
        version: "v1",
        kind: "CustomResourceDefinition",
        plural: "customresourcedefinitions",
        namespaced: false,
        short: &["crd", "crds"],
        status: true,
        categories: &["api-extensions"],
    },
];

/// The built-in group-versions, in discovery order.
pub const BUILTIN_GROUP_VERSIONS: &[(&str, &str)] =
    &[("", "v1"), ("apps", "v1"), ("batch", "v1"), ("rbac.authorization.k8s.io", "v1"), ("apiextensions.k8s.io", "v1")];

pub fn builtins() -> Vec<ResourceDef> {
    BUILTINS
        .iter()
        .map(|b| ResourceDef {
            group: b.group.to_string(),
            versions: vec![b.version.to_string()],
            kind: b.kind.to_string(),
            plural: b.plural.to_string(),
            singular: b.kind.to_lowercase(),
            namespaced: b.namespaced,
            short_names: b.short.iter().map(|s| s.to_string()).collect(),
            categories: b.categories.iter().map(|s| s.to_string()).collect(),
            status_subresource: b.status,
            builtin: true,
            schemas: vec![],
            printer_columns: vec![],
        })
        .collect()
}

/// The resource a CustomResourceDefinition object defines, if its spec is usable.
pub fn from_crd(crd: &Value) -> Option<ResourceDef> {
    let spec = crd.get("spec")?;
    let names = spec.get("names")?;
    let group = spec.get("group")?.as_str()?.to_string();
    let plural = names.get("plural")?.as_str()?.to_string();
    let kind = names.get("kind")?.as_str()?.to_string();
    let singular =
        names.get("singular").and_then(Value::as_str).map(str::to_string).unwrap_or_else(|| kind.to_lowercase());
    let strs = |v: Option<&Value>| -> Vec<String> {
        v.and_then(Value::as_array)
            .map(|a| a.iter().filter_map(|s| s.as_str().map(str::to_string)).collect())
            .unwrap_or_default()
    };
    let versions = spec.get("versions")?.as_array()?;
    let mut served: Vec<&Value> =
        versions.iter().filter(|v| v.get("served").and_then(Value::as_bool).unwrap_or(false)).collect();
    if served.is_empty() {
        return None;
    }
    // The storage version is preferred, then the order given.
    served.sort_by_key(|v| !v.get("storage").and_then(Value::as_bool).unwrap_or(false));
    let status_subresource = served[0].pointer("/subresources/status").is_some();
    let schemas = served
        .iter()
        .filter_map(|v| Some((v.get("name")?.as_str()?.to_string(), v.pointer("/schema/openAPIV3Schema")?.clone())))
        .collect();
    let printer_columns =
        served[0].get("additionalPrinterColumns").and_then(Value::as_array).cloned().unwrap_or_default();
    Some(ResourceDef {
        group,
        versions: served.iter().filter_map(|v| v.get("name").and_then(Value::as_str).map(str::to_string)).collect(),
        kind,
        plural,
        singular,
        namespaced: spec.get("scope").and_then(Value::as_str) != Some("Cluster"),
        short_names: strs(names.get("shortNames")),
        categories: strs(names.get("categories")),
        status_subresource,
        builtin: false,
        schemas,
        printer_columns,
    })
}
