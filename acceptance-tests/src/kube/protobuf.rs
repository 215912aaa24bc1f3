//! Kubernetes protobuf request bodies, for the kinds typed clients send that way: Secret (helm's release
//! storage, `kubectl create secret`), ConfigMap, Namespace and ServiceAccount (`kubectl create ...`), and
//! DeleteOptions. Messages are declared with prost over the published field numbers of apimachinery's and
//! k8s.io/api's `generated.proto`; only the fields these kinds use are declared. Decoded bodies become the
//! same JSON a JSON client would send. Responses are always JSON, which these clients accept.

use std::collections::BTreeMap;

use base64::Engine;
use prost::Message;
use serde_json::{json, Map, Value};

use super::errors::{ApiError, ApiResult};

/// The 4-byte prefix of every Kubernetes protobuf body.
pub const MAGIC: &[u8] = b"k8s\0";

#[derive(Clone, PartialEq, Message)]
struct TypeMeta {
    #[prost(string, optional, tag = "1")]
    api_version: Option<String>,
    #[prost(string, optional, tag = "2")]
    kind: Option<String>,
}

#[derive(Clone, PartialEq, Message)]
struct Unknown {
    #[prost(message, optional, tag = "1")]
    type_meta: Option<TypeMeta>,
    #[prost(bytes = "vec", optional, tag = "2")]
    raw: Option<Vec<u8>>,
    #[prost(string, optional, tag = "3")]
    content_encoding: Option<String>,
    #[prost(string, optional, tag = "4")]
    content_type: Option<String>,
}

#[derive(Clone, PartialEq, Message)]
struct OwnerReference {
    #[prost(string, optional, tag = "1")]
    kind: Option<String>,
    #[prost(string, optional, tag = "3")]
    name: Option<String>,
    #[prost(string, optional, tag = "4")]
    uid: Option<String>,
    #[prost(string, optional, tag = "5")]
    api_version: Option<String>,
    #[prost(bool, optional, tag = "6")]
    controller: Option<bool>,
    #[prost(bool, optional, tag = "7")]
    block_owner_deletion: Option<bool>,
}

#[derive(Clone, PartialEq, Message)]
struct ObjectMeta {
    #[prost(string, optional, tag = "1")]
    name: Option<String>,
    #[prost(string, optional, tag = "2")]
    generate_name: Option<String>,
    #[prost(string, optional, tag = "3")]
    namespace: Option<String>,
    #[prost(string, optional, tag = "5")]
    uid: Option<String>,
    #[prost(string, optional, tag = "6")]
    resource_version: Option<String>,
    #[prost(btree_map = "string, string", tag = "11")]
    labels: BTreeMap<String, String>,
    #[prost(btree_map = "string, string", tag = "12")]
    annotations: BTreeMap<String, String>,
    #[prost(message, repeated, tag = "13")]
    owner_references: Vec<OwnerReference>,
    #[prost(string, repeated, tag = "14")]
    finalizers: Vec<String>,
}

#[derive(Clone, PartialEq, Message)]
struct Secret {
    #[prost(message, optional, tag = "1")]
    metadata: Option<ObjectMeta>,
    #[prost(btree_map = "string, bytes", tag = "2")]
    data: BTreeMap<String, Vec<u8>>,
    #[prost(string, optional, tag = "3")]
    r#type: Option<String>,
    #[prost(btree_map = "string, string", tag = "4")]
    string_data: BTreeMap<String, String>,
    #[prost(bool, optional, tag = "5")]
    immutable: Option<bool>,
}

#[derive(Clone, PartialEq, Message)]
struct ConfigMap {
    #[prost(message, optional, tag = "1")]
    metadata: Option<ObjectMeta>,
    #[prost(btree_map = "string, string", tag = "2")]
    data: BTreeMap<String, String>,
    #[prost(btree_map = "string, bytes", tag = "3")]
    binary_data: BTreeMap<String, Vec<u8>>,
    #[prost(bool, optional, tag = "4")]
    immutable: Option<bool>,
}

#[derive(Clone, PartialEq, Message)]
struct NamespaceSpec {
    #[prost(string, repeated, tag = "1")]
    finalizers: Vec<String>,
}

#[derive(Clone, PartialEq, Message)]
struct Namespace {
    #[prost(message, optional, tag = "1")]
    metadata: Option<ObjectMeta>,
    #[prost(message, optional, tag = "2")]
    spec: Option<NamespaceSpec>,
}

#[derive(Clone, PartialEq, Message)]
struct ServiceAccount {
    #[prost(message, optional, tag = "1")]
    metadata: Option<ObjectMeta>,
    #[prost(bool, optional, tag = "4")]
    automount_service_account_token: Option<bool>,
}

#[derive(Clone, PartialEq, Message)]
struct Preconditions {
    #[prost(string, optional, tag = "1")]
    uid: Option<String>,
    #[prost(string, optional, tag = "2")]
    resource_version: Option<String>,
}

#[derive(Clone, PartialEq, Message)]
struct DeleteOptions {
    #[prost(int64, optional, tag = "1")]
    grace_period_seconds: Option<i64>,
    #[prost(message, optional, tag = "2")]
    preconditions: Option<Preconditions>,
    #[prost(bool, optional, tag = "3")]
    orphan_dependents: Option<bool>,
    #[prost(string, optional, tag = "4")]
    propagation_policy: Option<String>,
    #[prost(string, repeated, tag = "5")]
    dry_run: Vec<String>,
}

fn b64(bytes: &[u8]) -> Value {
    json!(base64::engine::general_purpose::STANDARD.encode(bytes))
}

fn metadata_json(m: Option<ObjectMeta>) -> Value {
    let m = m.unwrap_or_default();
    let mut out = Map::new();
    let mut put = |k: &str, v: Option<String>| {
        if let Some(v) = v.filter(|v| !v.is_empty()) {
            out.insert(k.into(), json!(v));
        }
    };
    put("name", m.name);
    put("generateName", m.generate_name);
    put("namespace", m.namespace);
    put("uid", m.uid);
    put("resourceVersion", m.resource_version);
    if !m.labels.is_empty() {
        out.insert("labels".into(), json!(m.labels));
    }
    if !m.annotations.is_empty() {
        out.insert("annotations".into(), json!(m.annotations));
    }
    if !m.finalizers.is_empty() {
        out.insert("finalizers".into(), json!(m.finalizers));
    }
    if !m.owner_references.is_empty() {
        let refs: Vec<Value> = m
            .owner_references
            .into_iter()
            .map(|r| {
                let mut o = json!({"apiVersion": r.api_version, "kind": r.kind, "name": r.name, "uid": r.uid});
                if let Some(c) = r.controller {
                    o["controller"] = json!(c);
                }
                if let Some(b) = r.block_owner_deletion {
                    o["blockOwnerDeletion"] = json!(b);
                }
                o
            })
            .collect();
        out.insert("ownerReferences".into(), Value::Array(refs));
    }
    Value::Object(out)
}

fn envelope(body: &[u8]) -> ApiResult<(String, String, Vec<u8>)> {
    let rest = body
        .strip_prefix(MAGIC)
        .ok_or_else(|| ApiError::bad_request("protobuf body does not start with the Kubernetes magic prefix"))?;
    let unknown =
        Unknown::decode(rest).map_err(|e| ApiError::bad_request(format!("decoding protobuf envelope: {e}")))?;
    let tm = unknown.type_meta.unwrap_or_default();
    Ok((tm.api_version.unwrap_or_default(), tm.kind.unwrap_or_default(), unknown.raw.unwrap_or_default()))
}

fn bad(e: prost::DecodeError) -> ApiError {
    ApiError::bad_request(format!("decoding protobuf body: {e}"))
}

/// Decodes a protobuf object body into its JSON form.
pub fn decode_object(body: &[u8]) -> ApiResult<Value> {
    let (api_version, kind, raw) = envelope(body)?;
    let raw = raw.as_slice();
    let mut obj = json!({"apiVersion": api_version, "kind": kind});
    match (api_version.as_str(), kind.as_str()) {
        ("v1", "Secret") => {
            let s = Secret::decode(raw).map_err(bad)?;
            obj["metadata"] = metadata_json(s.metadata);
            if !s.data.is_empty() {
                obj["data"] = Value::Object(s.data.iter().map(|(k, v)| (k.clone(), b64(v))).collect());
            }
            if !s.string_data.is_empty() {
                obj["stringData"] = json!(s.string_data);
            }
            if let Some(t) = s.r#type.filter(|t| !t.is_empty()) {
                obj["type"] = json!(t);
            }
            if let Some(i) = s.immutable {
                obj["immutable"] = json!(i);
            }
        }
        ("v1", "ConfigMap") => {
            let c = ConfigMap::decode(raw).map_err(bad)?;
            obj["metadata"] = metadata_json(c.metadata);
            if !c.data.is_empty() {
                obj["data"] = json!(c.data);
            }
            if !c.binary_data.is_empty() {
                obj["binaryData"] = Value::Object(c.binary_data.iter().map(|(k, v)| (k.clone(), b64(v))).collect());
            }
            if let Some(i) = c.immutable {
                obj["immutable"] = json!(i);
            }
        }
        ("v1", "Namespace") => {
            let n = Namespace::decode(raw).map_err(bad)?;
            obj["metadata"] = metadata_json(n.metadata);
            if let Some(spec) = n.spec.filter(|s| !s.finalizers.is_empty()) {
                obj["spec"] = json!({"finalizers": spec.finalizers});
            }
        }
        ("v1", "ServiceAccount") => {
            let s = ServiceAccount::decode(raw).map_err(bad)?;
            obj["metadata"] = metadata_json(s.metadata);
            if let Some(a) = s.automount_service_account_token {
                obj["automountServiceAccountToken"] = json!(a);
            }
        }
        _ => {
            return Err(ApiError::unsupported_media_type(&format!(
                "application/vnd.kubernetes.protobuf for {api_version} {kind}"
            )))
        }
    }
    Ok(obj)
}

/// Decodes a protobuf `DeleteOptions` body into its JSON form.
pub fn decode_delete_options(body: &[u8]) -> ApiResult<Value> {
    let (_, kind, raw) = envelope(body)?;
    if kind != "DeleteOptions" {
        return Err(ApiError::bad_request(format!("expected DeleteOptions, got {kind}")));
    }
    let d = DeleteOptions::decode(raw.as_slice()).map_err(bad)?;
    let mut out = json!({"kind": "DeleteOptions", "apiVersion": "meta.k8s.io/v1"});
    if let Some(g) = d.grace_period_seconds {
        out["gracePeriodSeconds"] = json!(g);
    }
    if let Some(p) = d.propagation_policy {
        out["propagationPolicy"] = json!(p);
    }
    if let Some(o) = d.orphan_dependents {
        out["orphanDependents"] = json!(o);
    }
    if let Some(p) = d.preconditions {
        out["preconditions"] = json!({"uid": p.uid, "resourceVersion": p.resource_version});
    }
    if !d.dry_run.is_empty() {
        out["dryRun"] = json!(d.dry_run);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wrap(api_version: &str, kind: &str, raw: Vec<u8>) -> Vec<u8> {
        let u = Unknown {
            type_meta: Some(TypeMeta { api_version: Some(api_version.into()), kind: Some(kind.into()) }),
            raw: Some(raw),
            content_encoding: Some(String::new()),
            content_type: Some(String::new()),
        };
        let mut out = MAGIC.to_vec();
        out.extend(u.encode_to_vec());
        out
    }

    #[test]
    fn secret_round_trips_into_json() {
        let secret = Secret {
            metadata: Some(ObjectMeta {
                name: Some("sh.helm.release.v1.r.v1".into()),
                labels: [("owner".to_string(), "helm".to_string())].into(),
                ..Default::default()
            }),
            data: [("release".to_string(), b"H4sI".to_vec())].into(),
            r#type: Some("helm.sh/release.v1".into()),
            ..Default::default()
        };
        let obj = decode_object(&wrap("v1", "Secret", secret.encode_to_vec())).unwrap();
        assert_eq!(obj["metadata"]["name"], "sh.helm.release.v1.r.v1");
        assert_eq!(obj["metadata"]["labels"]["owner"], "helm");
        assert_eq!(obj["data"]["release"], "SDRzSQ==");
        assert_eq!(obj["type"], "helm.sh/release.v1");
    }

    #[test]
    fn delete_options_and_unsupported_kinds() {
        let d = DeleteOptions { propagation_policy: Some("Background".into()), ..Default::default() };
        let opts = decode_delete_options(&wrap("meta.k8s.io/v1", "DeleteOptions", d.encode_to_vec())).unwrap();
        assert_eq!(opts["propagationPolicy"], "Background");
        let err = decode_object(&wrap("apps/v1", "Deployment", vec![])).unwrap_err();
        assert_eq!(err.code, 415);
        assert!(decode_object(b"not protobuf").is_err());
    }
}
