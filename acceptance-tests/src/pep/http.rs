//! The enforcement point on the daemon's admin endpoint, for the CLI and the scenario web page:
//!
//! - `POST /pep/attempt` with `{"pod": "NS/NAME", "dst": "HOST:PORT", "protocol": "tcp"}` answers the
//!   [`Decision`] as JSON; 404 for a pod that does not exist, 400 for a malformed pod, destination or protocol
//!   (the body says which and what is accepted), 500 when the controller's objects cannot be evaluated;
//! - `GET /pep/pods/{namespace}` answers the namespace's pods as the gateway sees them (labels, IP, the
//!   Services selecting them, the cluster and whether its Kubernetes SmartGroups resolve), in name order;
//! - `GET /pep/decisions` answers every decision so far, oldest first, as a JSON list;
//! - `GET /pep/decisions/stream` is a server-sent event stream: every decision so far, then each new one, one
//!   `decision` event each with the decision as JSON in `data`.
//!
//! The daemon puts these routes behind its admin token; this module only translates HTTP to [`Pep`].

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use tokio::sync::broadcast::error::RecvError;

use super::{parse_destination, AttemptError, Decision, Pep, PodRef};

/// The body of `POST /pep/attempt`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct AttemptRequest {
    /// `NAMESPACE/NAME`.
    pub pod: String,
    /// `HOST:PORT`.
    pub dst: String,
    /// `tcp` (the default), `udp` or `icmp`.
    #[serde(default = "tcp")]
    pub protocol: String,
}

fn tcp() -> String {
    "tcp".into()
}

/// The routes, without authorisation (the daemon adds it).
pub fn routes(pep: Arc<Pep>) -> Router {
    Router::new()
        .route("/pep/attempt", post(attempt))
        .route("/pep/pods/{namespace}", get(pods))
        .route("/pep/decisions", get(decisions))
        .route("/pep/decisions/stream", get(stream))
        .with_state(pep)
}

async fn attempt(State(pep): State<Arc<Pep>>, Json(request): Json<AttemptRequest>) -> Response {
    let outcome = async {
        let pod = PodRef::parse(&request.pod)?;
        let destination = parse_destination(&request.dst, &request.protocol)?;
        pep.attempt(&pod, &destination).await
    }
    .await;
    match outcome {
        Ok(decision) => Json(decision).into_response(),
        Err(e) => {
            let status = match e {
                AttemptError::NoSuchPod(_) => StatusCode::NOT_FOUND,
                AttemptError::Input(_) => StatusCode::BAD_REQUEST,
                AttemptError::Policy(_) | AttemptError::Log(_) => StatusCode::INTERNAL_SERVER_ERROR,
            };
            (status, e.to_string()).into_response()
        }
    }
}

async fn pods(State(pep): State<Arc<Pep>>, Path(namespace): Path<String>) -> Response {
    Json(pep.workloads(&namespace)).into_response()
}

async fn decisions(State(pep): State<Arc<Pep>>) -> Response {
    match pep.decisions() {
        Ok(all) => Json(all).into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, format!("{e:#}")).into_response(),
    }
}

fn event(decision: &Decision) -> Result<Event, Infallible> {
    Ok(Event::default().event("decision").id(decision.seq.to_string()).json_data(decision).unwrap_or_default())
}

async fn stream(State(pep): State<Arc<Pep>>) -> Response {
    // Subscribe first, so that nothing decided while the history is read is missed.
    let receiver = pep.subscribe();
    let history = match pep.decisions() {
        Ok(all) => all,
        Err(e) => return (StatusCode::INTERNAL_SERVER_ERROR, format!("{e:#}")).into_response(),
    };
    let seen = history.last().map(|d| d.seq).unwrap_or(0);
    let past = futures_util::stream::iter(history.iter().map(event).collect::<Vec<_>>());
    let live = futures_util::stream::unfold((receiver, seen), |(mut receiver, seen)| async move {
        loop {
            match receiver.recv().await {
                Ok(decision) if decision.seq > seen => return Some((event(&decision), (receiver, decision.seq))),
                Ok(_) => continue,
                Err(RecvError::Lagged(missed)) => {
                    crate::http::log("pep", format!("a decision stream fell behind by {missed} decisions"));
                    continue;
                }
                Err(RecvError::Closed) => return None,
            }
        }
    });
    use futures_util::StreamExt;
    Sse::new(past.chain(live)).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))).into_response()
}
