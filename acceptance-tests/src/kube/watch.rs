//! Watch streams: one JSON event per line over a chunked 200 response. Supports resuming from a
//! resourceVersion (410 `ERROR` event when it is no longer kept), replay of current state for `0` or unset,
//! watch-list (`sendInitialEvents=true` with the `k8s.io/initial-events-end` bookmark), periodic bookmarks,
//! `timeoutSeconds`, and label/field selectors (an object leaving the selection is sent as `DELETED`).

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, StreamBody};
use hyper::body::Frame;
use hyper::Response;
use serde_json::{json, Value};
use tokio::sync::{broadcast, mpsc};

use super::errors::{cause, ApiError, ApiResult};
use super::handlers::{present, Query, Target};
use super::selectors::{FieldSelector, LabelSelector};
use super::server::{App, Body};
use super::store::{Event, EventType};

const BOOKMARK_EVERY: Duration = Duration::from_secs(5);

struct Filter {
    resource: String,
    namespace: Option<String>,
    labels: LabelSelector,
    fields: FieldSelector,
}

impl Filter {
    fn matches(&self, obj: &Value) -> bool {
        self.labels.matches_object(obj) && self.fields.matches(obj)
    }

    /// How `ev` looks to this watch, if it sees it at all.
    fn translate(&self, ev: &Event) -> Option<(EventType, Value)> {
        if ev.resource != self.resource || self.namespace.as_ref().is_some_and(|n| *n != ev.namespace) {
            return None;
        }
        let now = self.matches(&ev.object);
        let before = ev.old.as_ref().is_some_and(|o| self.matches(o));
        match ev.kind {
            EventType::Added if now => Some((EventType::Added, ev.object.clone())),
            EventType::Modified if now && before => Some((EventType::Modified, ev.object.clone())),
            EventType::Modified if now => Some((EventType::Added, ev.object.clone())),
            EventType::Modified if before => Some((EventType::Deleted, ev.object.clone())),
            EventType::Deleted if now || before => Some((EventType::Deleted, ev.object.clone())),
            _ => None,
        }
    }
}

fn line(kind: &str, object: &Value) -> Bytes {
    let mut s = serde_json::to_vec(&json!({"type": kind, "object": object})).expect("json");
    s.push(b'\n');
    Bytes::from(s)
}

fn bookmark(t: &Target, rv: u64, initial_end: bool) -> Bytes {
    let mut metadata = json!({"resourceVersion": rv.to_string()});
    if initial_end {
        metadata["annotations"] = json!({"k8s.io/initial-events-end": "true"});
    }
    line("BOOKMARK", &json!({"apiVersion": t.def.api_version(&t.version), "kind": t.def.kind, "metadata": metadata}))
}

/// The object as a watch event carries it: the object itself, or a one-row Table when the client asked for
/// Tables (human `kubectl get -w`).
fn shaped(t: &Target, obj: Value, tables: bool) -> Value {
    let obj = present(&t.def, &t.version, obj);
    if tables {
        let rv = obj.pointer("/metadata/resourceVersion").and_then(Value::as_str).unwrap_or_default().to_string();
        super::table::table(&t.def, &[obj], &rv)
    } else {
        obj
    }
}

pub async fn serve(app: &Arc<App>, t: &Target, q: &Query, accept: &str) -> ApiResult<Response<Body>> {
    let tables = accept.contains("as=Table");
    let mut fields_sel = q.get("fieldSelector").unwrap_or_default().to_string();
    if let Some(name) = &t.name {
        fields_sel = if fields_sel.is_empty() {
            format!("metadata.name={name}")
        } else {
            format!("{fields_sel},metadata.name={name}")
        };
    }
    let filter = Filter {
        resource: t.def.key(),
        namespace: t.namespace.clone(),
        labels: LabelSelector::parse(q.get("labelSelector").unwrap_or_default())?,
        fields: FieldSelector::parse(&fields_sel, &t.def.kind)?,
    };
    let send_initial = q.bool("sendInitialEvents");
    let bookmarks = q.flag("allowWatchBookmarks");
    if send_initial.is_some() {
        let mut causes = vec![];
        if q.get("resourceVersionMatch") != Some("NotOlderThan") {
            causes.push(cause(
                "FieldValueForbidden",
                "resourceVersionMatch",
                "Forbidden: sendInitialEvents requires setting resourceVersionMatch to NotOlderThan",
            ));
        }
        if send_initial == Some(true) && !bookmarks {
            causes.push(cause(
                "FieldValueForbidden",
                "allowWatchBookmarks",
                "Forbidden: sendInitialEvents requires setting allowWatchBookmarks to true",
            ));
        }
        if !causes.is_empty() {
            return Err(ApiError::invalid("meta.k8s.io", "ListOptions", "", causes));
        }
    }
    let timeout = q.get("timeoutSeconds").and_then(|s| s.parse::<u64>().ok()).filter(|s| *s > 0).unwrap_or(1800);
    let rv_param = q.get("resourceVersion").unwrap_or_default().to_string();

    let (tx, rx) = mpsc::channel::<Bytes>(1024);
    let (mut live, backlog, start_rv, expired) = {
        let st = app.store.lock();
        let live = app.store.subscribe();
        let mut backlog: Vec<Bytes> = vec![];
        let mut expired = false;
        let replay = send_initial == Some(true) || (send_initial.is_none() && (rv_param.is_empty() || rv_param == "0"));
        if replay {
            for obj in st.list(&t.def, t.namespace.as_deref()) {
                if filter.matches(obj) {
                    backlog.push(line("ADDED", &shaped(t, obj.clone(), tables)));
                }
            }
            if send_initial == Some(true) {
                backlog.push(bookmark(t, st.rv, true));
            }
        } else if send_initial.is_none() {
            let from: u64 = rv_param
                .parse()
                .map_err(|_| ApiError::bad_request(format!("invalid resource version {rv_param:?}")))?;
            match st.events_since(&filter.resource, from) {
                Ok(events) => {
                    for ev in events {
                        if let Some((kind, obj)) = filter.translate(&ev) {
                            backlog.push(line(kind.as_str(), &shaped(t, obj, tables)));
                        }
                    }
                }
                Err(e) => {
                    expired = true;
                    backlog.push(line("ERROR", &e.to_status()));
                }
            }
        }
        (live, backlog, st.rv, expired)
    };
    let t_kind = (t.def.clone(), t.version.clone(), t.namespace.clone(), t.name.clone(), t.subresource.clone());
    tokio::spawn(async move {
        let target =
            Target { def: t_kind.0, version: t_kind.1, namespace: t_kind.2, name: t_kind.3, subresource: t_kind.4 };
        for b in backlog {
            if tx.send(b).await.is_err() {
                return;
            }
        }
        if expired {
            return;
        }
        let deadline = tokio::time::Instant::now() + Duration::from_secs(timeout);
        let mut last_rv = start_rv;
        let mut ticker = tokio::time::interval_at(tokio::time::Instant::now() + BOOKMARK_EVERY, BOOKMARK_EVERY);
        loop {
            tokio::select! {
                _ = tokio::time::sleep_until(deadline) => {
                    if bookmarks {
                        let _ = tx.send(bookmark(&target, last_rv, false)).await;
                    }
                    return;
                }
                _ = ticker.tick() => {
                    if bookmarks && tx.send(bookmark(&target, last_rv, false)).await.is_err() {
                        return;
                    }
                }
                ev = live.recv() => match ev {
                    Ok(ev) => {
                        if ev.rv <= start_rv {
                            continue;
                        }
                        last_rv = last_rv.max(ev.rv);
                        if let Some((kind, obj)) = filter.translate(&ev) {
                            if tx.send(line(kind.as_str(), &shaped(&target, obj, tables))).await.is_err() {
                                return;
                            }
                        }
                    }
                    // A watcher that fell behind is closed; the client resumes from its last resourceVersion.
                    Err(broadcast::error::RecvError::Lagged(_)) | Err(broadcast::error::RecvError::Closed) => return,
                },
                _ = tx.closed() => return,
            }
        }
    });
    let stream = tokio_stream::wrappers::ReceiverStream::new(rx);
    let body =
        StreamBody::new(futures_util::StreamExt::map(stream, |b| Ok::<_, std::convert::Infallible>(Frame::data(b))))
            .boxed();
    Ok(Response::builder()
        .status(200)
        .header("content-type", "application/json")
        .header("cache-control", "no-cache, private")
        .body(body)
        .expect("response"))
}
