//! The lab's inventory: every object in every emulator, each marked as part of the baseline or not, and the
//! difference from the baseline that `inventory --diff` prints.
//!
//! Owns the object model and the comparison; it reads no emulator itself (each emulator lists its own objects).
//! Objects a controller owns (the pods of a DaemonSet, say) are listed but not compared: their owner is, and
//! the controller replaces them at will, as it does whenever the owner's template changes.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// One object in one emulator.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Object {
    /// The emulated system, as `fault --target` names it: `controller`, `azure`, `aws` or `kubernetes`.
    pub system: String,
    /// What it is, e.g. `gateway`, `route_table`, `route`, or a Kubernetes kind such as `ConfigMap`.
    pub kind: String,
    /// Its identity within system and kind (a name, UUID, cloud ID, or Kubernetes `namespace/name`).
    pub id: String,
    /// Whether an object with this identity is in the baseline: what the lab held right after its first start.
    #[serde(default)]
    pub baseline: bool,
    /// Whether it differs from its baseline version.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub changed: bool,
    /// The object that owns and replaces it, such as `DaemonSet kube-system/aws-node`; not compared.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owned_by: Option<String>,
    /// What the emulator holds for it, normalised so that equal objects compare equal.
    pub data: serde_json::Value,
}

impl Object {
    pub fn new(system: &str, kind: &str, id: impl Into<String>, data: serde_json::Value) -> Object {
        Object {
            system: system.to_string(),
            kind: kind.to_string(),
            id: id.into(),
            baseline: false,
            changed: false,
            owned_by: None,
            data,
        }
    }

    fn key(&self) -> (String, String, String) {
        (self.system.clone(), self.kind.clone(), self.id.clone())
    }
}

/// The difference between the baseline and now.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Diff {
    pub added: Vec<Object>,
    pub removed: Vec<Object>,
    pub changed: Vec<Changed>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Changed {
    pub system: String,
    pub kind: String,
    pub id: String,
    pub before: serde_json::Value,
    pub after: serde_json::Value,
}

impl Diff {
    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.removed.is_empty() && self.changed.is_empty()
    }
}

/// Marks each object of `now` as baseline (and changed) against `baseline`.
pub fn mark(now: &mut [Object], baseline: &[Object]) {
    let base: BTreeMap<_, _> = baseline.iter().map(|o| (o.key(), &o.data)).collect();
    for object in now.iter_mut() {
        match base.get(&object.key()) {
            Some(data) => {
                object.baseline = true;
                object.changed = **data != object.data;
            }
            None => {
                object.baseline = false;
                object.changed = false;
            }
        }
    }
}

/// What differs between `baseline` and `now`.
pub fn diff(baseline: &[Object], now: &[Object]) -> Diff {
    let compared = |o: &&Object| o.owned_by.is_none();
    let base: BTreeMap<_, _> = baseline.iter().filter(compared).map(|o| (o.key(), o)).collect();
    let current: BTreeMap<_, _> = now.iter().filter(compared).map(|o| (o.key(), o)).collect();
    let mut out = Diff::default();
    for (key, object) in &current {
        match base.get(key) {
            None => out.added.push(Object { baseline: false, changed: false, ..(*object).clone() }),
            Some(before) if before.data != object.data => out.changed.push(Changed {
                system: object.system.clone(),
                kind: object.kind.clone(),
                id: object.id.clone(),
                before: before.data.clone(),
                after: object.data.clone(),
            }),
            Some(_) => {}
        }
    }
    for (key, object) in &base {
        if !current.contains_key(key) {
            out.removed.push(Object { baseline: true, changed: false, ..(*object).clone() });
        }
    }
    out
}

/// Groups objects by system for printing: `{"controller": [...], "azure": [...], ...}`.
pub fn by_system(objects: Vec<Object>) -> BTreeMap<String, Vec<Object>> {
    let mut out: BTreeMap<String, Vec<Object>> = BTreeMap::new();
    for object in objects {
        out.entry(object.system.clone()).or_default().push(object);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn diff_reports_added_removed_and_changed_objects_and_nothing_else() {
        let base = vec![
            Object::new("aws", "route", "rtb-1/0.0.0.0/0", json!({"gateway_id": "igw-1"})),
            Object::new("aws", "vpc", "vpc-1", json!({"cidr": "10.0.0.0/16"})),
            Object::new("azure", "route", "r1", json!({})),
        ];
        let mut now = vec![
            Object::new("aws", "route", "rtb-1/0.0.0.0/0", json!({"network_interface_id": "eni-1"})),
            Object::new("aws", "vpc", "vpc-1", json!({"cidr": "10.0.0.0/16"})),
            Object::new("controller", "gateway", "gw", json!({})),
        ];
        let d = diff(&base, &now);
        assert_eq!(d.added.iter().map(|o| o.id.as_str()).collect::<Vec<_>>(), ["gw"]);
        assert_eq!(d.removed.iter().map(|o| o.id.as_str()).collect::<Vec<_>>(), ["r1"]);
        assert_eq!(d.changed.len(), 1);
        assert_eq!(d.changed[0].before, json!({"gateway_id": "igw-1"}));
        assert!(diff(&base, &base).is_empty());
        mark(&mut now, &base);
        assert_eq!(
            now.iter().map(|o| (o.baseline, o.changed)).collect::<Vec<_>>(),
            [(true, true), (true, false), (false, false)]
        );
    }
}
