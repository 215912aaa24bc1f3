//! A lab in its own temp dir, driven through the real `mcp-egress-lab` binary: start it, read its
//! `lab.env`, talk to its emulators, and stop it when the test ends, pass or fail.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

use serde_json::Value;

use super::tools::text;

pub const BIN: &str = env!("CARGO_BIN_EXE_mcp-egress-lab");

/// What `mcp-egress-lab` exits with when the lab is not running (`status`, `inventory`, `fault`, ...).
pub const NOT_RUNNING: i32 = 3;

/// A running lab in its own temp directory; `down` runs on drop.
pub struct Lab {
    pub dir: tempfile::TempDir,
    pub env: HashMap<String, String>,
}

pub fn run(args: &[&str]) -> Output {
    std::process::Command::new(BIN).args(args).output().expect("running mcp-egress-lab")
}

/// Parses `export NAME='value'` lines; other lines (comments, the PATH line) are not variables of the lab.
pub fn parse_env(path: &Path) -> HashMap<String, String> {
    let content = std::fs::read_to_string(path).expect("reading lab.env");
    let mut env = HashMap::new();
    for line in content.lines() {
        let Some(rest) = line.strip_prefix("export ") else { continue };
        let (name, quoted) = rest.split_once('=').expect("NAME=value");
        let value = quoted.trim_start_matches('\'').trim_end_matches('\'').replace("'\\''", "'");
        env.insert(name.to_string(), value);
    }
    env
}

impl Lab {
    /// `mcp-egress-lab up --dir <temp> [extra]`.
    pub fn up(extra: &[&str]) -> Lab {
        let mut lab = Lab { dir: tempfile::tempdir().expect("temp dir"), env: HashMap::new() };
        lab.start(extra);
        lab
    }

    pub fn path(&self) -> PathBuf {
        self.dir.path().to_path_buf()
    }

    pub fn dir_arg(&self) -> String {
        self.dir.path().display().to_string()
    }

    pub fn start(&mut self, extra: &[&str]) {
        let dir = self.dir_arg();
        let mut args = vec!["up", "--dir", dir.as_str()];
        args.extend_from_slice(extra);
        let output = run(&args);
        assert!(output.status.success(), "up failed: {}", text(&output));
        self.env = parse_env(&self.dir.path().join("lab.env"));
    }

    pub fn stop(&self) -> Output {
        run(&["down", "--dir", &self.dir_arg()])
    }

    pub fn cli(&self, args: &[&str]) -> Output {
        let dir = self.dir_arg();
        let mut all: Vec<&str> = vec![args[0], "--dir", dir.as_str()];
        all.extend_from_slice(&args[1..]);
        run(&all)
    }

    pub fn fault(&self, target: &str, kind: &str, rate: &str, delay_ms: &str) {
        let output = self.cli(&["fault", "--target", target, "--kind", kind, "--rate", rate, "--delay-ms", delay_ms]);
        assert!(output.status.success(), "fault failed: {}", text(&output));
    }

    pub fn inventory(&self) -> Value {
        let output = self.cli(&["inventory"]);
        assert!(output.status.success(), "inventory failed: {}", text(&output));
        serde_json::from_slice(&output.stdout).expect("inventory JSON")
    }

    /// (whether `inventory --diff` found nothing, its JSON). Fails the test unless it exited 0 (no
    /// differences) or 1 (differences): any other exit means it could not compare.
    pub fn diff(&self) -> (bool, Value) {
        let output = self.cli(&["inventory", "--diff"]);
        let code = output.status.code();
        assert!(matches!(code, Some(0 | 1)), "inventory --diff exited {code:?}: {}", text(&output));
        let json = serde_json::from_slice(&output.stdout).unwrap_or_else(|_| panic!("diff JSON: {}", text(&output)));
        (code == Some(0), json)
    }

    pub fn var(&self, name: &str) -> String {
        self.env.get(name).cloned().unwrap_or_else(|| panic!("{name} missing from lab.env"))
    }

    /// An HTTP client that trusts only the lab CA.
    pub fn client(&self) -> reqwest::Client {
        let pem = std::fs::read(self.dir.path().join("ca.pem")).expect("ca.pem");
        reqwest::Client::builder()
            .tls_built_in_root_certs(false)
            .add_root_certificate(reqwest::Certificate::from_pem(&pem).expect("CA"))
            .no_proxy()
            .timeout(Duration::from_secs(30))
            .build()
            .expect("client")
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        let _ = self.stop();
    }
}

/// Sends a request and parses its JSON answer; a transport error or a body that is not JSON fails the test.
pub async fn send_json(request: reqwest::RequestBuilder) -> Value {
    request.send().await.expect("sending the request").json().await.expect("a JSON answer")
}

/// Objects of one system and kind in an inventory.
pub fn objects<'a>(inventory: &'a Value, system: &str, kind: &str) -> Vec<&'a Value> {
    inventory[system].as_array().map(|list| list.iter().filter(|o| o["kind"] == kind).collect()).unwrap_or_default()
}

/// A logged-in controller client: `/v2/api` actions and `/v2.5/api` REST.
pub struct ControllerApi {
    pub http: reqwest::Client,
    pub url: String,
    pub cid: String,
}

impl ControllerApi {
    pub async fn login(lab: &Lab) -> ControllerApi {
        let http = lab.client();
        let url = lab.var("AVIATRIX_CONTROLLER_URL");
        let mut api = ControllerApi { http, url, cid: String::new() };
        let token = send_json(api.http.get(format!("{}/v2/api?action=get_api_token&log_enable=true", api.url))).await;
        let token = token["results"]["api_token"].as_str().expect("api_token").to_string();
        let reply = send_json(api.http.post(format!("{}/v2/api", api.url)).header("X-Access-Key", token).form(&[
            ("action", "login"),
            ("username", &lab.var("AVIATRIX_USERNAME")),
            ("password", &lab.var("AVIATRIX_PASSWORD")),
        ]))
        .await;
        assert_eq!(reply["return"], true, "login: {reply}");
        api.cid = reply["CID"].as_str().expect("top-level CID").to_string();
        api
    }

    /// A v2 form action (POST), with the CID.
    pub async fn action(&self, action: &str, params: &[(&str, &str)]) -> Value {
        let mut form = vec![("action", action), ("CID", self.cid.as_str())];
        form.extend_from_slice(params);
        let response = self.http.post(format!("{}/v2/api", self.url)).form(&form).send().await.unwrap();
        assert_eq!(response.status(), 200, "v2 answers HTTP 200 even on failure");
        response.json().await.unwrap()
    }

    /// `create_multicloud_primary_gateway` in the baseline AWS VPC's gateway subnet, with `extra` parameters
    /// (such as `("async", "true")`) after the baseline ones.
    pub async fn create_aws_gateway(&self, lab: &Lab, name: &str, size: &str, extra: &[(&str, &str)]) -> Value {
        let (account, vpc, region, subnet) = (
            lab.var("LAB_AWS_ACCOUNT_NAME"),
            lab.var("LAB_AWS_VPC_ID"),
            lab.var("AWS_REGION"),
            lab.var("LAB_AWS_GATEWAY_SUBNET_CIDR"),
        );
        let mut params = vec![
            ("cloud_type", "1"),
            ("account_name", account.as_str()),
            ("gw_name", name),
            ("gw_size", size),
            ("vpc_id", vpc.as_str()),
            ("vpc_region", region.as_str()),
            ("gw_subnet", subnet.as_str()),
        ];
        params.extend_from_slice(extra);
        self.action("create_multicloud_primary_gateway", &params).await
    }

    /// A v2 JSON action (POST).
    pub async fn json_action(&self, body: Value) -> Value {
        let mut body = body;
        body["CID"] = Value::String(self.cid.clone());
        send_json(self.http.post(format!("{}/v2/api", self.url)).json(&body)).await
    }

    /// A v2.5 REST call: (status, JSON body or Null).
    pub async fn rest(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut request = self
            .http
            .request(method, format!("{}/v2.5/api/{path}", self.url))
            .header("Authorization", format!("cid {}", self.cid));
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    /// Polls `check_task_status` until the task is no longer in progress; returns the final envelope and how
    /// many in-progress answers came first.
    pub async fn wait_task(&self, request_id: &str, limit: Duration) -> (Value, usize) {
        let deadline = std::time::Instant::now() + limit;
        let mut pending = 0;
        loop {
            let reply = self.action("check_task_status", &[("request_id", request_id)]).await;
            if reply["return"] == false && reply["reason"] == "REQUEST_IN_PROGRESS" {
                pending += 1;
                assert!(std::time::Instant::now() < deadline, "task {request_id} still in progress after {limit:?}");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
            return (reply, pending);
        }
    }
}

/// An ARM bearer token for the lab's service principal, by the client-credentials flow.
pub async fn azure_token(lab: &Lab) -> String {
    let token = send_json(
        lab.client()
            .post(format!("{}/{}/oauth2/v2.0/token", lab.var("AZURE_AUTHORITY_HOST"), lab.var("ARM_TENANT_ID")))
            .form(&[
                ("grant_type", "client_credentials"),
                ("scope", "https://management.azure.com/.default"),
                ("client_id", &lab.var("ARM_CLIENT_ID")),
                ("client_secret", &lab.var("ARM_CLIENT_SECRET")),
            ]),
    )
    .await;
    token["access_token"].as_str().expect("access_token").to_string()
}
