//! The object store: every object of every resource, one global resourceVersion, the watch event history,
//! and the write rules every path shares (uid, resourceVersion, generation, creationTimestamp, optimistic
//! concurrency, finalizers, deletion, field ownership).
//!
//! All reads and writes take one lock, so writes to an object are serialised and checked against its
//! resourceVersion. State is saved through the lab's [`crate::store::StateFile`] (`DIR/state/kubernetes.json`)
//! shortly after each change and loaded on start.
//! The store knows nothing about HTTP; controllers and handlers call it.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};

use serde_json::{json, Map, Value};
use tokio::sync::{broadcast, watch};

use super::apply::{managers_of, record_update, set_managers};
use super::errors::{ApiError, ApiResult};
use super::resources::{builtins, from_crd, ResourceDef};
use super::validation::validate_metadata;

/// How many events the store keeps for watches resuming from a resourceVersion.
const HISTORY: usize = 50_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventType {
    Added,
    Modified,
    Deleted,
}

impl EventType {
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Added => "ADDED",
            EventType::Modified => "MODIFIED",
            EventType::Deleted => "DELETED",
        }
    }
}

/// One change, as watches see it.
#[derive(Debug, Clone)]
pub struct Event {
    pub rv: u64,
    pub kind: EventType,
    /// `group/plural`.
    pub resource: String,
    pub namespace: String,
    pub object: Value,
    /// The object before the change, so a filtered watch can tell "left the selection" from "changed".
    pub old: Option<Value>,
}

type Objects = BTreeMap<String, BTreeMap<(String, String), Value>>;

/// The locked state.
pub struct State {
    pub rv: u64,
    objects: Objects,
    history: VecDeque<Arc<Event>>,
    /// Watches may resume from any resourceVersion at or after this one.
    oldest_rv: u64,
    resources: Vec<ResourceDef>,
    pending: Vec<Arc<Event>>,
    /// The lab CA, published in each namespace's `kube-root-ca.crt`.
    pub ca_pem: String,
    /// Per node, the last pod IP handed out.
    pub ip_cursor: BTreeMap<String, u32>,
}

/// The store shared by the server, the controllers and the handle.
pub struct Store {
    state: Mutex<State>,
    events: broadcast::Sender<Arc<Event>>,
    changed: watch::Sender<u64>,
    file: crate::store::StateFile,
}

/// Who is writing, for field ownership.
#[derive(Debug, Clone)]
pub struct Writer<'a> {
    pub manager: &'a str,
    pub api_version: &'a str,
    pub subresource: &'a str,
    pub dry_run: bool,
    /// Ownership already computed by a server-side apply; other writes derive it from the change.
    pub managed: Option<Vec<super::apply::Managed>>,
}

/// Options of a DELETE.
#[derive(Debug, Clone, Default)]
pub struct DeleteOptions {
    pub propagation: Option<String>,
    pub precondition_uid: Option<String>,
    pub precondition_rv: Option<String>,
    pub dry_run: bool,
}

pub fn now() -> String {
    chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// Random suffix as Kubernetes makes them (no vowels, no look-alike digits).
pub fn random_suffix(len: usize) -> String {
    use rand::Rng;
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let mut rng = rand::rng();
    (0..len).map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char).collect()
}

fn meta(obj: &Value, field: &str) -> String {
    obj.pointer(&format!("/metadata/{field}")).and_then(Value::as_str).unwrap_or_default().to_string()
}

/// The object's `spec`-like content: everything except metadata and (for status-subresource kinds) status.
fn spec_part(obj: &Value, status_subresource: bool) -> Value {
    let mut out = Map::new();
    if let Some(m) = obj.as_object() {
        for (k, v) in m {
            if k == "metadata" || k == "apiVersion" || k == "kind" || (status_subresource && k == "status") {
                continue;
            }
            out.insert(k.clone(), v.clone());
        }
    }
    Value::Object(out)
}

impl State {
    pub fn resources(&self) -> &[ResourceDef] {
        &self.resources
    }

    pub fn resource(&self, group: &str, plural: &str) -> Option<&ResourceDef> {
        self.resources.iter().find(|r| r.group == group && r.plural == plural)
    }

    pub fn resource_by_kind(&self, api_version: &str, kind: &str) -> Option<ResourceDef> {
        let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
        self.resources
            .iter()
            .find(|r| r.group == group && r.kind == kind && r.versions.iter().any(|v| v == version))
            .cloned()
    }

    fn rebuild_resources(&mut self) {
        let mut defs = builtins();
        if let Some(crds) = self.objects.get("apiextensions.k8s.io/customresourcedefinitions") {
            for crd in crds.values() {
                let established = crd
                    .pointer("/status/conditions")
                    .and_then(Value::as_array)
                    .is_some_and(|c| c.iter().any(|c| c["type"] == "Established" && c["status"] == "True"));
                if let (true, Some(def)) = (established, from_crd(crd)) {
                    defs.push(def);
                }
            }
        }
        self.resources = defs;
    }

    pub fn get(&self, def: &ResourceDef, ns: &str, name: &str) -> Option<&Value> {
        self.objects.get(&def.key())?.get(&(ns.to_string(), name.to_string()))
    }

    /// Objects of `def` in `ns` (all namespaces when `None`), in (namespace, name) order.
    pub fn list(&self, def: &ResourceDef, ns: Option<&str>) -> Vec<&Value> {
        let Some(objs) = self.objects.get(&def.key()) else { return vec![] };
        objs.iter().filter(|((n, _), _)| ns.is_none_or(|want| want == n)).map(|(_, v)| v).collect()
    }

    /// Every object of every resource, with its `group/plural`.
    pub fn all(&self) -> impl Iterator<Item = (&String, &Value)> {
        self.objects.iter().flat_map(|(k, objs)| objs.values().map(move |v| (k, v)))
    }

    pub fn find_by_uid(&self, uid: &str) -> Option<(&String, &Value)> {
        self.all().find(|(_, v)| meta(v, "uid") == uid)
    }

    pub fn namespace_phase(&self, ns: &str) -> Option<String> {
        let obj = self.objects.get("/namespaces")?.get(&(String::new(), ns.to_string()))?;
        Some(obj.pointer("/status/phase").and_then(Value::as_str).unwrap_or("Active").to_string())
    }

    fn emit(&mut self, kind: EventType, def_key: &str, ns: &str, object: Value, old: Option<Value>) {
        let ev = Arc::new(Event {
            rv: self.rv,
            kind,
            resource: def_key.to_string(),
            namespace: ns.to_string(),
            object,
            old,
        });
        self.history.push_back(ev.clone());
        while self.history.len() > HISTORY {
            if let Some(dropped) = self.history.pop_front() {
                self.oldest_rv = dropped.rv;
            }
        }
        self.pending.push(ev);
        if def_key == "apiextensions.k8s.io/customresourcedefinitions" {
            self.rebuild_resources();
        }
    }

    fn next_rv(&mut self) -> u64 {
        self.rv += 1;
        self.rv
    }

    /// Creates an object. `obj` has been decoded and checked against the URL; metadata is filled in here.
    pub fn create(&mut self, def: &ResourceDef, ns: &str, mut obj: Value, writer: &Writer) -> ApiResult<Value> {
        if !obj.get("metadata").is_some_and(Value::is_object) {
            obj["metadata"] = json!({});
        }
        if meta(&obj, "name").is_empty() {
            let generate = meta(&obj, "generateName");
            if !generate.is_empty() {
                obj["metadata"]["name"] = json!(format!("{generate}{}", random_suffix(5)));
            }
        }
        let name = meta(&obj, "name");
        let causes = validate_metadata(&def.kind, &obj);
        if !causes.is_empty() {
            return Err(ApiError::invalid(&def.group, &def.kind, &name, causes));
        }
        if def.namespaced {
            match self.namespace_phase(ns) {
                None => return Err(ApiError::namespace_not_found(ns)),
                Some(p) if p == "Terminating" => {
                    return Err(ApiError::forbidden_terminating(&def.group, &def.plural, &name, ns))
                }
                _ => {}
            }
        }
        if self.get(def, ns, &name).is_some() {
            return Err(ApiError::already_exists(&def.group, &def.plural, &name));
        }
        let m = obj["metadata"].as_object_mut().expect("metadata");
        for k in [
            "uid",
            "resourceVersion",
            "creationTimestamp",
            "deletionTimestamp",
            "deletionGracePeriodSeconds",
            "generation",
            "selfLink",
            "managedFields",
        ] {
            m.remove(k);
        }
        if def.namespaced {
            m.insert("namespace".into(), json!(ns));
        } else {
            m.remove("namespace");
        }
        m.insert("uid".into(), json!(uuid::Uuid::new_v4().to_string()));
        m.insert("creationTimestamp".into(), json!(now()));
        if def.has_generation() {
            m.insert("generation".into(), json!(1));
        }
        if def.status_subresource {
            if let Some(o) = obj.as_object_mut() {
                o.remove("status");
            }
        }
        super::defaults::on_create(def, &mut obj);
        let managers = match &writer.managed {
            Some(m) => m.clone(),
            None => record_update(
                None,
                &obj,
                vec![],
                writer.manager,
                writer.api_version,
                &now(),
                def.builtin,
                def.status_subresource,
                "",
            ),
        };
        set_managers(&mut obj, &managers);
        if writer.dry_run {
            obj["metadata"]["resourceVersion"] = json!("");
            return Ok(obj);
        }
        let rv = self.next_rv();
        obj["metadata"]["resourceVersion"] = json!(rv.to_string());
        self.objects.entry(def.key()).or_default().insert((ns.to_string(), name), obj.clone());
        self.emit(EventType::Added, &def.key(), ns, obj.clone(), None);
        Ok(obj)
    }

    /// Replaces an object (PUT, or the result of a patch). `require_rv`: reject an update without
    /// `metadata.resourceVersion` (custom resources and CRDs).
    pub fn update(
        &mut self,
        def: &ResourceDef,
        ns: &str,
        name: &str,
        mut obj: Value,
        writer: &Writer,
    ) -> ApiResult<Value> {
        let old = self.get(def, ns, name).cloned().ok_or_else(|| ApiError::not_found(&def.group, &def.plural, name))?;
        if !obj.get("metadata").is_some_and(Value::is_object) {
            obj["metadata"] = json!({});
        }
        let given_rv = meta(&obj, "resourceVersion");
        if given_rv.is_empty() && !def.builtin || given_rv.is_empty() && def.kind == "CustomResourceDefinition" {
            return Err(ApiError::invalid(
                &def.group,
                &def.kind,
                name,
                vec![super::errors::cause(
                    "FieldValueInvalid",
                    "metadata.resourceVersion",
                    "Invalid value: 0x0: must be specified for an update",
                )],
            ));
        }
        if !given_rv.is_empty() && given_rv != meta(&old, "resourceVersion") {
            return Err(ApiError::conflict(&def.group, &def.plural, name));
        }
        let given_name = meta(&obj, "name");
        if !given_name.is_empty() && given_name != name {
            return Err(ApiError::bad_request(format!(
                "the name of the object ({given_name}) does not match the name on the URL ({name})"
            )));
        }
        obj["metadata"]["name"] = json!(name);
        let causes = validate_metadata(&def.kind, &obj);
        if !causes.is_empty() {
            return Err(ApiError::invalid(&def.group, &def.kind, name, causes));
        }
        // Fields the server owns come from the stored object.
        let m = obj["metadata"].as_object_mut().expect("metadata");
        for k in
            ["uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "generation", "namespace"]
        {
            match old["metadata"].get(k) {
                Some(v) => m.insert(k.into(), v.clone()),
                None => m.remove(k),
            };
        }
        if writer.subresource == "status" {
            let mut merged = old.clone();
            merged["status"] = obj.get("status").cloned().unwrap_or(Value::Null);
            if merged["status"].is_null() {
                merged.as_object_mut().expect("object").remove("status");
            }
            obj = merged;
        } else if def.status_subresource {
            match old.get("status") {
                Some(s) => obj["status"] = s.clone(),
                None => {
                    obj.as_object_mut().expect("object").remove("status");
                }
            }
        }
        if writer.subresource.is_empty() && def.builtin {
            let causes = super::validation::immutable_changes(&def.kind, &old, &obj);
            if !causes.is_empty() {
                return Err(ApiError::invalid(&def.group, &def.kind, name, causes));
            }
        }
        if def.has_generation() && spec_part(&old, def.status_subresource) != spec_part(&obj, def.status_subresource) {
            let g = old.pointer("/metadata/generation").and_then(Value::as_i64).unwrap_or(0);
            obj["metadata"]["generation"] = json!(g + 1);
        }
        super::defaults::on_update(def, &old, &mut obj, writer.subresource);
        let managers = match &writer.managed {
            Some(m) => m.clone(),
            None => record_update(
                Some(&old),
                &obj,
                managers_of(&old),
                writer.manager,
                writer.api_version,
                &now(),
                def.builtin,
                def.status_subresource,
                writer.subresource,
            ),
        };
        set_managers(&mut obj, &managers);
        self.commit_update(def, ns, name, old, obj, writer.dry_run)
    }

    /// Stores `obj` as the new version of an existing object, or removes it when it is being deleted and has
    /// no finalizers left. Used by updates, patches and the controllers.
    pub fn commit_update(
        &mut self,
        def: &ResourceDef,
        ns: &str,
        name: &str,
        old: Value,
        mut obj: Value,
        dry_run: bool,
    ) -> ApiResult<Value> {
        let unchanged = {
            let mut a = old.clone();
            let mut b = obj.clone();
            for v in [&mut a, &mut b] {
                if let Some(m) = v.get_mut("metadata").and_then(Value::as_object_mut) {
                    m.remove("resourceVersion");
                    m.remove("managedFields");
                }
            }
            a == b
        };
        if unchanged {
            // A no-op write keeps the resourceVersion, as upstream.
            return Ok(old);
        }
        if dry_run {
            return Ok(obj);
        }
        let rv = self.next_rv();
        obj["metadata"]["resourceVersion"] = json!(rv.to_string());
        let deleting = obj.pointer("/metadata/deletionTimestamp").is_some();
        let finalizers_left =
            obj.pointer("/metadata/finalizers").and_then(Value::as_array).is_some_and(|f| !f.is_empty());
        let spec_finalizers_left = def.kind == "Namespace"
            && obj.pointer("/spec/finalizers").and_then(Value::as_array).is_some_and(|f| !f.is_empty());
        if deleting && !finalizers_left && !spec_finalizers_left {
            self.objects.get_mut(&def.key()).map(|o| o.remove(&(ns.to_string(), name.to_string())));
            self.emit(EventType::Deleted, &def.key(), ns, obj.clone(), Some(old));
            return Ok(obj);
        }
        self.objects.entry(def.key()).or_default().insert((ns.to_string(), name.to_string()), obj.clone());
        self.emit(EventType::Modified, &def.key(), ns, obj.clone(), Some(old));
        Ok(obj)
    }

    /// DELETE: immediate removal, or deletionTimestamp while finalizers remain.
    pub fn delete(&mut self, def: &ResourceDef, ns: &str, name: &str, opts: &DeleteOptions) -> ApiResult<Value> {
        let old = self.get(def, ns, name).cloned().ok_or_else(|| ApiError::not_found(&def.group, &def.plural, name))?;
        if let Some(uid) = &opts.precondition_uid {
            if *uid != meta(&old, "uid") {
                return Err(ApiError::conflict_message(
                    &def.group,
                    &def.plural,
                    name,
                    format!("Operation cannot be fulfilled on {} \"{name}\": Precondition failed: UID in precondition: {uid}, UID in object meta: {}", ApiError::qualified(&def.group, &def.plural), meta(&old, "uid")),
                    vec![],
                ));
            }
        }
        if let Some(rv) = &opts.precondition_rv {
            if *rv != meta(&old, "resourceVersion") {
                return Err(ApiError::conflict(&def.group, &def.plural, name));
            }
        }
        let mut obj = old.clone();
        if def.kind == "Namespace" {
            if obj.pointer("/metadata/deletionTimestamp").is_none() {
                obj["metadata"]["deletionTimestamp"] = json!(now());
                obj["metadata"]["deletionGracePeriodSeconds"] = json!(0);
                obj["status"]["phase"] = json!("Terminating");
            }
            return self.commit_update(def, ns, name, old, obj, opts.dry_run);
        }
        let mut finalizers: Vec<Value> =
            obj.pointer("/metadata/finalizers").and_then(Value::as_array).cloned().unwrap_or_default();
        let extra = match opts.propagation.as_deref() {
            Some("Foreground") => Some("foregroundDeletion"),
            Some("Orphan") => Some("orphan"),
            _ => None,
        };
        if let Some(f) = extra {
            // Only worth a finalizer when there are dependents to wait for or orphan.
            let uid = meta(&old, "uid");
            let has_dependents = self.all().any(|(_, v)| owner_uids(v).contains(&uid));
            if has_dependents && !finalizers.iter().any(|x| x == f) {
                finalizers.push(json!(f));
            }
        }
        if finalizers.is_empty() {
            if opts.dry_run {
                return Ok(old);
            }
            let rv = self.next_rv();
            obj["metadata"]["resourceVersion"] = json!(rv.to_string());
            self.objects.get_mut(&def.key()).map(|o| o.remove(&(ns.to_string(), name.to_string())));
            self.emit(EventType::Deleted, &def.key(), ns, obj.clone(), Some(old));
            return Ok(obj);
        }
        obj["metadata"]["finalizers"] = Value::Array(finalizers);
        if obj.pointer("/metadata/deletionTimestamp").is_none() {
            obj["metadata"]["deletionTimestamp"] = json!(now());
            obj["metadata"]["deletionGracePeriodSeconds"] = json!(0);
            if let Some(g) = obj.pointer("/metadata/generation").and_then(Value::as_i64).filter(|g| *g > 0) {
                obj["metadata"]["generation"] = json!(g + 1);
            }
        }
        self.commit_update(def, ns, name, old, obj, opts.dry_run)
    }

    /// Events since `rv` for one resource, or `Expired` when they are no longer kept.
    pub fn events_since(&self, resource: &str, rv: u64) -> ApiResult<Vec<Arc<Event>>> {
        if rv < self.oldest_rv {
            return Err(ApiError::expired(rv, self.oldest_rv + 1));
        }
        Ok(self.history.iter().filter(|e| e.rv > rv && e.resource == resource).cloned().collect())
    }

    pub fn oldest_rv(&self) -> u64 {
        self.oldest_rv
    }
}

/// The uids an object's ownerReferences point at.
pub fn owner_uids(obj: &Value) -> Vec<String> {
    obj.pointer("/metadata/ownerReferences")
        .and_then(Value::as_array)
        .map(|refs| refs.iter().filter_map(|r| r.get("uid").and_then(Value::as_str).map(str::to_string)).collect())
        .unwrap_or_default()
}

/// A guard that publishes the writes made under it when dropped.
pub struct Locked<'a> {
    guard: MutexGuard<'a, State>,
    store: &'a Store,
}

impl std::ops::Deref for Locked<'_> {
    type Target = State;
    fn deref(&self) -> &State {
        &self.guard
    }
}

impl std::ops::DerefMut for Locked<'_> {
    fn deref_mut(&mut self) -> &mut State {
        &mut self.guard
    }
}

impl Drop for Locked<'_> {
    fn drop(&mut self) {
        let pending = std::mem::take(&mut self.guard.pending);
        if !pending.is_empty() {
            // Sent while the lock is held, so every subscriber sees events in resourceVersion order.
            for ev in pending {
                let _ = self.store.events.send(ev);
            }
            self.store.changed.send_replace(self.guard.rv);
        }
    }
}

#[derive(serde::Serialize, serde::Deserialize)]
struct Saved {
    rv: u64,
    objects: Vec<(String, Value)>,
}

impl Store {
    /// Opens the store saved in `file`, or a fresh one seeded with the baseline objects.
    pub fn open(file: crate::store::StateFile, ca_pem: &str) -> anyhow::Result<Arc<Store>> {
        let mut state = State {
            rv: 0,
            objects: BTreeMap::new(),
            history: VecDeque::new(),
            oldest_rv: 0,
            resources: builtins(),
            pending: vec![],
            ca_pem: ca_pem.to_string(),
            ip_cursor: BTreeMap::new(),
        };
        let saved: Option<Saved> = file.load()?;
        let fresh = saved.is_none();
        if let Some(saved) = saved {
            state.rv = saved.rv;
            state.oldest_rv = saved.rv;
            for (key, obj) in saved.objects {
                let ns = meta(&obj, "namespace");
                let name = meta(&obj, "name");
                state.objects.entry(key).or_default().insert((ns, name), obj);
            }
            state.rebuild_resources();
        }
        let (events, _) = broadcast::channel(65_536);
        let (changed, _) = watch::channel(state.rv);
        let store = Arc::new(Store { state: Mutex::new(state), events, changed, file });
        if fresh {
            super::seed::seed(&store)?;
        }
        Ok(store)
    }

    pub fn lock(&self) -> Locked<'_> {
        Locked { guard: self.state.lock().unwrap_or_else(|p| p.into_inner()), store: self }
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Event>> {
        self.events.subscribe()
    }

    pub fn changes(&self) -> watch::Receiver<u64> {
        self.changed.subscribe()
    }

    /// Writes the state to its file (atomically).
    pub fn save(&self) -> anyhow::Result<()> {
        let saved = {
            let st = self.lock();
            Saved { rv: st.rv, objects: st.all().map(|(k, v)| (k.clone(), v.clone())).collect() }
        };
        self.file.save(&saved)
    }

    /// A copy of every stored object.
    pub fn objects(&self) -> Vec<Value> {
        self.lock().all().map(|(_, v)| v.clone()).collect()
    }
}

/// Every object saved in `file`, for when the API is not running; empty when nothing was saved yet.
pub fn saved_objects(file: &crate::store::StateFile) -> anyhow::Result<Vec<Value>> {
    Ok(file.load::<Saved>()?.map(|saved| saved.objects.into_iter().map(|(_, v)| v).collect()).unwrap_or_default())
}
