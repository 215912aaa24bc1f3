//! Discovery documents, built from the live resource catalogue on every request (so a new CRD's resources
//! appear the moment it is created): aggregated discovery (`apidiscovery.k8s.io/v2`, or `v2beta1` when that is
//! all the client accepts) under its exact Content-Type, and the legacy `/api`, `/api/v1`, `/apis`,
//! `/apis/{g}` and `/apis/{g}/{v}` lists. Also the OpenAPI v3 index and per-group-version documents that kubectl
//! and helm need to choose server-side field validation.

use serde_json::{json, Value};

use super::resources::{ResourceDef, BUILTIN_GROUP_VERSIONS};

/// Which aggregated discovery version the Accept header asks for, if any.
pub fn aggregated_version(accept: &str) -> Option<&'static str> {
    let mut best = None;
    for part in accept.split(',') {
        let params: Vec<&str> = part.split(';').map(str::trim).collect();
        let has = |p: &str| params.contains(&p);
        if has("g=apidiscovery.k8s.io") && has("as=APIGroupDiscoveryList") {
            if has("v=v2") {
                return Some("v2");
            }
            if has("v=v2beta1") && best.is_none() {
                best = Some("v2beta1");
            }
        }
    }
    best
}

pub fn aggregated_content_type(version: &str) -> String {
    format!("application/json;g=apidiscovery.k8s.io;v={version};as=APIGroupDiscoveryList")
}

fn scope(r: &ResourceDef) -> &'static str {
    if r.namespaced {
        "Namespaced"
    } else {
        "Cluster"
    }
}

/// Groups in discovery order: built-in groups first, then custom groups by name.
fn groups(resources: &[ResourceDef]) -> Vec<(String, Vec<String>)> {
    let mut out: Vec<(String, Vec<String>)> = vec![];
    for (g, v) in BUILTIN_GROUP_VERSIONS {
        out.push((g.to_string(), vec![v.to_string()]));
    }
    let mut custom: Vec<&ResourceDef> = resources.iter().filter(|r| !r.builtin).collect();
    custom.sort_by(|a, b| a.group.cmp(&b.group));
    for r in custom {
        match out.iter_mut().find(|(g, _)| *g == r.group) {
            Some((_, versions)) => {
                for v in &r.versions {
                    if !versions.contains(v) {
                        versions.push(v.clone());
                    }
                }
            }
            None => out.push((r.group.clone(), r.versions.clone())),
        }
    }
    out
}

fn in_version<'a>(resources: &'a [ResourceDef], group: &str, version: &str) -> Vec<&'a ResourceDef> {
    resources.iter().filter(|r| r.group == group && r.versions.iter().any(|v| v == version)).collect()
}

/// Aggregated discovery for `/api` (core) or `/apis` (everything else).
pub fn aggregated(resources: &[ResourceDef], core: bool, version: &str) -> Value {
    let items: Vec<Value> = groups(resources)
        .into_iter()
        .filter(|(g, _)| g.is_empty() == core)
        .map(|(g, versions)| {
            let versions: Vec<Value> = versions
                .iter()
                .map(|v| {
                    let rs: Vec<Value> = in_version(resources, &g, v)
                        .into_iter()
                        .map(|r| {
                            let kind = json!({"group": r.group, "version": v, "kind": r.kind});
                            let mut e = json!({
                                "resource": r.plural, "responseKind": kind, "scope": scope(r),
                                "singularResource": r.singular, "verbs": r.verbs(),
                            });
                            if !r.short_names.is_empty() {
                                e["shortNames"] = json!(r.short_names);
                            }
                            if !r.categories.is_empty() {
                                e["categories"] = json!(r.categories);
                            }
                            let mut subs = vec![];
                            if r.status_subresource {
                                subs.push(json!({"subresource": "status", "responseKind": kind, "verbs": ["get", "patch", "update"]}));
                            }
                            if super::scale::has_scale(r) {
                                subs.push(json!({"subresource": "scale", "responseKind": {"group": "autoscaling", "version": "v1", "kind": "Scale"}, "verbs": ["get", "patch", "update"]}));
                            }
                            if !subs.is_empty() {
                                e["subresources"] = Value::Array(subs);
                            }
                            e
                        })
                        .collect();
                    json!({"version": v, "resources": rs, "freshness": "Current"})
                })
                .collect();
            json!({"metadata": {"name": g, "creationTimestamp": null}, "versions": versions})
        })
        .collect();
    json!({"kind": "APIGroupDiscoveryList", "apiVersion": format!("apidiscovery.k8s.io/{version}"), "metadata": {}, "items": items})
}

pub fn api_versions(server_address: &str) -> Value {
    json!({"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}]})
}

fn group_entry(g: &str, versions: &[String]) -> Value {
    let vs: Vec<Value> = versions.iter().map(|v| json!({"groupVersion": format!("{g}/{v}"), "version": v})).collect();
    json!({"name": g, "versions": vs, "preferredVersion": vs[0]})
}

pub fn api_group_list(resources: &[ResourceDef]) -> Value {
    let groups: Vec<Value> =
        groups(resources).into_iter().filter(|(g, _)| !g.is_empty()).map(|(g, v)| group_entry(&g, &v)).collect();
    json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
}

pub fn api_group(resources: &[ResourceDef], group: &str) -> Option<Value> {
    let (g, v) = groups(resources).into_iter().find(|(g, _)| g == group && !g.is_empty())?;
    let mut e = group_entry(&g, &v);
    e["kind"] = json!("APIGroup");
    e["apiVersion"] = json!("v1");
    Some(e)
}

/// The legacy APIResourceList of one group-version, or `None` when it is not served.
pub fn resource_list(resources: &[ResourceDef], group: &str, version: &str) -> Option<Value> {
    let served = groups(resources).into_iter().any(|(g, vs)| g == group && vs.iter().any(|v| v == version));
    if !served {
        return None;
    }
    let mut list = vec![];
    for r in in_version(resources, group, version) {
        let mut e = json!({"name": r.plural, "singularName": r.singular, "namespaced": r.namespaced, "kind": r.kind, "verbs": r.verbs()});
        if !r.short_names.is_empty() {
            e["shortNames"] = json!(r.short_names);
        }
        if !r.categories.is_empty() {
            e["categories"] = json!(r.categories);
        }
        list.push(e);
        if r.status_subresource {
            list.push(json!({"name": format!("{}/status", r.plural), "singularName": "", "namespaced": r.namespaced, "kind": r.kind, "verbs": ["get", "patch", "update"]}));
        }
        if super::scale::has_scale(r) {
            list.push(json!({"name": format!("{}/scale", r.plural), "singularName": "", "namespaced": r.namespaced, "group": "autoscaling", "version": "v1", "kind": "Scale", "verbs": ["get", "patch", "update"]}));
        }
    }
    let gv = if group.is_empty() { version.to_string() } else { format!("{group}/{version}") };
    Some(json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": list}))
}

fn gv_path(group: &str, version: &str) -> String {
    if group.is_empty() {
        format!("api/{version}")
    } else {
        format!("apis/{group}/{version}")
    }
}

/// `GET /openapi/v3`: one entry per built-in group-version.
pub fn openapi_index() -> Value {
    let mut paths = serde_json::Map::new();
    for (g, v) in BUILTIN_GROUP_VERSIONS {
        let p = gv_path(g, v);
        let hash = super::controllers::fnv32a(p.as_bytes());
        paths.insert(p.clone(), json!({"serverRelativeURL": format!("/openapi/v3/{p}?hash={hash:08X}")}));
    }
    json!({"paths": paths})
}

/// `GET /openapi/v3/{api/v1|apis/g/v}`: the item paths of each kind, whose PATCH operation names its
/// group-version-kind and takes `fieldValidation`, so clients leave validation to the server.
pub fn openapi_document(resources: &[ResourceDef], path: &str) -> Option<Value> {
    let (group, version) = BUILTIN_GROUP_VERSIONS.iter().find(|(g, v)| gv_path(g, v) == path)?;
    let mut paths = serde_json::Map::new();
    let query = |name: &str, description: &str| json!({"name": name, "in": "query", "description": description, "schema": {"type": "string", "uniqueItems": true}});
    for r in in_version(resources, group, version).into_iter().filter(|r| r.builtin) {
        let item = if r.namespaced {
            format!("/{path}/namespaces/{{namespace}}/{}/{{name}}", r.plural)
        } else {
            format!("/{path}/{}/{{name}}", r.plural)
        };
        let gvk = json!({"group": r.group, "version": version, "kind": r.kind});
        let op = |action: &str| {
            json!({
                "operationId": format!("{action}{}", r.kind),
                "x-kubernetes-action": action,
                "x-kubernetes-group-version-kind": gvk,
                "parameters": [
                    query("dryRun", "When present, indicates that modifications should not be persisted."),
                    query("fieldManager", "fieldManager is a name associated with the actor or entity that is making these changes."),
                    query("fieldValidation", "fieldValidation instructs the server on how to handle objects in the request containing unknown or duplicate fields."),
                ],
                "responses": {"200": {"description": "OK"}},
            })
        };
        paths.insert(item, json!({"get": op("get"), "put": op("put"), "patch": op("patch"), "delete": op("delete")}));
    }
    Some(
        json!({"openapi": "3.0.0", "info": {"title": "Kubernetes", "version": "v1.34.0"}, "paths": paths, "components": {"schemas": {}}}),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_header_selects_aggregated_version() {
        let client_go = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json";
        assert_eq!(aggregated_version(client_go), Some("v2"));
        assert_eq!(
            aggregated_version("application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList"),
            Some("v2beta1")
        );
        assert_eq!(aggregated_version("application/json"), None);
    }

    #[test]
    fn every_builtin_group_version_has_an_openapi_document_with_field_validation() {
        let resources = super::super::resources::builtins();
        let index = openapi_index();
        for (g, v) in BUILTIN_GROUP_VERSIONS {
            let p = gv_path(g, v);
            assert!(index["paths"][&p]["serverRelativeURL"].is_string(), "{p}");
            let doc = openapi_document(&resources, &p).unwrap();
            for (_, item) in doc["paths"].as_object().unwrap() {
                assert!(item["patch"]["parameters"].as_array().unwrap().iter().any(|p| p["name"] == "fieldValidation"));
            }
        }
        let core = openapi_document(&resources, "api/v1").unwrap();
        assert_eq!(
            core["paths"]["/api/v1/namespaces/{namespace}/configmaps/{name}"]["patch"]
                ["x-kubernetes-group-version-kind"]["kind"],
            "ConfigMap"
        );
        assert!(core["paths"]["/api/v1/namespaces/{name}"].is_object());
    }
}
