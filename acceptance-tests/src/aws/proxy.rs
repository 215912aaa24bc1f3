//! The proxy in front of moto: fault injection, and EC2's answers where moto is looser (reference §3.3):
//! a `CreateRoute` onto an existing destination (moto silently overwrites when the target is an ENI, or the
//! local route), a `GatewayId` that is no gateway (moto stores `nat-…` with no target), and deleting the local
//! route (moto allows it), and `DryRun=true`, which moto ignores on many actions (it runs DescribeRouteTables
//! for real) where EC2 answers 412 `DryRunOperation` and changes nothing. Everything else goes to moto
//! unchanged.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Router;

use super::{error_xml, xml, Aws};
use crate::fault::FaultKind;

pub(super) fn router(aws: Arc<Aws>) -> Router {
    Router::new().fallback(entry).with_state(aws)
}

fn ec2_error(status: StatusCode, code: &str, message: &str) -> Response {
    (status, [("content-type", "text/xml;charset=UTF-8")], error_xml(code, message)).into_response()
}

/// The region of a SigV4-signed request: `Credential=AKID/date/REGION/ec2/aws4_request`.
fn region_of(headers: &HeaderMap) -> Option<String> {
    let auth = headers.get("authorization")?.to_str().ok()?;
    let credential = auth.split("Credential=").nth(1)?;
    credential.split(['/', ',']).nth(2).map(str::to_string)
}

async fn entry(State(aws): State<Arc<Aws>>, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    aws.faults.maybe_slow().await;
    if aws.faults.fires(FaultKind::ServerError).is_some() {
        return ec2_error(StatusCode::INTERNAL_SERVER_ERROR, "InternalError", "An internal error has occurred");
    }
    if let Some(setting) = aws.faults.fires(FaultKind::Throttle) {
        // EC2 throttles with 503 RequestLimitExceeded.
        let mut response =
            ec2_error(StatusCode::SERVICE_UNAVAILABLE, "RequestLimitExceeded", "Request limit exceeded.");
        let seconds = setting.delay_ms.div_ceil(1000).max(1);
        response.headers_mut().insert("retry-after", HeaderValue::from(seconds));
        return response;
    }
    let region = region_of(&headers).unwrap_or_else(|| aws.ec2.region.clone());
    // The query API takes its parameters in a form body (POST) or in the query string (GET).
    let text = match (body.is_empty(), uri.query()) {
        (true, Some(query)) => query.to_string(),
        _ => String::from_utf8_lossy(&body).to_string(),
    };
    let params: Vec<(String, String)> = serde_urlencoded::from_str(&text).unwrap_or_default();
    let get = |key: &str| params.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str());
    if get("DryRun").is_some_and(|v| v.eq_ignore_ascii_case("true")) {
        // The lab grants every permission, so a dry run always "would have succeeded".
        return ec2_error(
            StatusCode::PRECONDITION_FAILED,
            "DryRunOperation",
            "Request would have succeeded, but DryRun flag is set.",
        );
    }
    if let Some(action @ ("CreateRoute" | "ReplaceRoute" | "DeleteRoute")) = get("Action") {
        if let Some(response) = stricter_than_moto(&aws, &region, action, &get).await {
            return response;
        }
    }
    match aws.ec2.send_raw(&region, &text).await {
        Ok((status, text)) => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY);
            (status, [("content-type", "text/xml;charset=UTF-8")], text).into_response()
        }
        Err(e) => {
            ec2_error(StatusCode::SERVICE_UNAVAILABLE, "Unavailable", &format!("The service is unavailable: {e:#}"))
        }
    }
}

/// EC2's answer where moto would accept what EC2 refuses; `None` lets the request through.
async fn stricter_than_moto<'a>(
    aws: &Aws,
    region: &str,
    action: &str,
    get: &impl Fn(&str) -> Option<&'a str>,
) -> Option<Response> {
    let table_id = get("RouteTableId")?;
    let destination = get("DestinationCidrBlock")?;
    if let Some(gateway) = get("GatewayId") {
        let known = ["igw-", "vgw-", "vpce-"].iter().any(|p| gateway.starts_with(p))
            || (action == "ReplaceRoute" && gateway == "local");
        if !known {
            return Some(ec2_error(
                StatusCode::BAD_REQUEST,
                "InvalidGatewayID.NotFound",
                &format!("The gateway ID '{gateway}' does not exist"),
            ));
        }
    }
    let doc = aws.ec2.call(region, "DescribeRouteTables", &[("RouteTableId.1", table_id)]).await.ok()?;
    let tables = xml::items(&doc, "routeTableSet");
    let table = tables.first()?;
    let routes = table.items("routeSet");
    let existing = routes.iter().find(|r| r.text("destinationCidrBlock") == destination);
    let is_local = existing.is_some_and(|r| r.text("gatewayId") == "local");
    match action {
        "CreateRoute" if existing.is_some() => Some(ec2_error(
            StatusCode::BAD_REQUEST,
            "RouteAlreadyExists",
            &format!("The route identified by {destination} already exists."),
        )),
        "DeleteRoute" if is_local => Some(ec2_error(
            StatusCode::BAD_REQUEST,
            "InvalidParameterValue",
            &format!("cannot remove local route {destination} in route table {table_id}"),
        )),
        _ => None,
    }
}
