//! The scenario page (`mcp-egress-lab ui`) in headless Chromium, driven through chromedriver's WebDriver HTTP
//! API: the page loads with no console errors and says what to apply while nothing is; after the
//! containment example is applied it shows both servers reconciled with their permits, the tier-1 and
//! tier-3 rules, and a pod no policy selects flagged; playing the kill chain creates the pod on the live lab, passes the EHR call (tier 2) and
//! ends with the drop line of `exfil.attacker.io:443`; the attempt form shows a drop with tier 3 and
//! `tier3-default-deny`; a decision made outside the page reaches its log without a reload; the log filters
//! and exports what it shows; a stopped lab shows a clear message. A screenshot after the kill chain is
//! written to .cache/screenshots/scenario-page.png (git ignores it) on every run.
//!
//! Chromium and chromedriver come from `scripts/install-chromium.sh` (run by `make tools`; the test runs it
//! too when they are missing). Only when they cannot be installed at all does the test print `SKIP:`, and
//! with `CI` set it fails instead.

mod common;

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::lab::{Lab, BIN};
use common::terraform::Workspace;
use common::tools::{on_path, repo_root, text};
use serde_json::{json, Value};

const NAMESPACE: &str = "obot-mcp";
const POD: &str = "healthcare-mcp-7f4d9c";

/// chromium and chromedriver: from PATH, or installed by the project's script, or the reason they are not.
fn browser() -> Result<(PathBuf, PathBuf), String> {
    let find = || -> Option<(PathBuf, PathBuf)> {
        let chromium = std::env::var_os("CHROMIUM")
            .map(PathBuf::from)
            .or_else(|| on_path("chromium"))
            .or_else(|| on_path("chromium-browser"))?;
        let driver = std::env::var_os("CHROMEDRIVER").map(PathBuf::from).or_else(|| on_path("chromedriver"))?;
        Some((chromium, driver))
    };
    if let Some(found) = find() {
        return Ok(found);
    }
    let script = repo_root().join("scripts/install-chromium.sh");
    let out = Command::new("bash").arg(&script).output().map_err(|e| format!("running {}: {e}", script.display()))?;
    find().ok_or_else(|| {
        format!("chromium/chromedriver not installed and {} could not: {}", script.display(), text(&out))
    })
}

/// Calls the lab's Kubernetes API as its kubeconfig says (server, bearer token), trusting the lab CA.
fn kube(lab: &Lab, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
    let config = std::fs::read_to_string(lab.var("KUBECONFIG")).expect("the lab's kubeconfig");
    let field = |name: &str| {
        config
            .lines()
            .find_map(|l| l.trim().strip_prefix(name).map(|v| v.trim().trim_matches('"').to_string()))
            .unwrap_or_else(|| panic!("no {name} in the kubeconfig"))
    };
    let (server, token) = (field("server:"), field("token:"));
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let mut request = lab.client().request(method, format!("{server}{path}")).bearer_auth(token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("the lab's Kubernetes API");
        let status = response.status();
        let value: Value = response.json().await.expect("a JSON answer");
        assert!(status.is_success(), "{path}: {status} {value}");
        value
    })
}

fn pod_names(lab: &Lab) -> Vec<String> {
    let list = kube(lab, reqwest::Method::GET, &format!("/api/v1/namespaces/{NAMESPACE}/pods"), None);
    list["items"].as_array().unwrap().iter().map(|p| p["metadata"]["name"].as_str().unwrap().to_string()).collect()
}

/// A child process killed when the test ends, pass or fail.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `mcp-egress-lab ui` on a free port; returns it with the URL it printed.
fn start_ui(lab: &Lab) -> (Running, String) {
    let mut child = Command::new(BIN)
        .args(["ui", "--dir", &lab.dir_arg(), "--port", "0", "--namespace", NAMESPACE])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("mcp-egress-lab ui");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).expect("the ui's first line");
    let url = line.trim().strip_prefix("scenario page: ").unwrap_or_else(|| panic!("ui printed {line:?}")).to_string();
    assert!(url.starts_with("http://127.0.0.1:"), "the page is served on loopback: {url}");
    (Running(child), url)
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// One WebDriver session of headless Chromium.
struct Browser {
    http: reqwest::Client,
    base: String,
    _driver: Running,
    rt: tokio::runtime::Runtime,
    /// Chromium's profile, removed with the browser.
    _profile: tempfile::TempDir,
}

impl Browser {
    fn start(chromium: &PathBuf, driver: &PathBuf) -> Browser {
        let port = free_port();
        let child = Command::new(driver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver");
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let http = reqwest::Client::builder().no_proxy().timeout(Duration::from_secs(60)).build().unwrap();
        let profile = tempfile::tempdir().unwrap();
        let profile_dir = profile.path().display().to_string();
        let mut browser =
            Browser { http, base: format!("http://127.0.0.1:{port}"), _driver: Running(child), rt, _profile: profile };
        let deadline = Instant::now() + Duration::from_secs(20);
        while browser.raw("GET", "/status", None).is_err() {
            assert!(Instant::now() < deadline, "chromedriver did not answer on port {port}");
            std::thread::sleep(Duration::from_millis(100));
        }
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {"binary": chromium, "args": [
                "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1400,1500", format!("--user-data-dir={profile_dir}")]},
            "goog:loggingPrefs": {"browser": "ALL"}}}});
        let session = browser.raw("POST", "/session", Some(caps)).expect("a WebDriver session");
        let id = session["sessionId"].as_str().expect("sessionId").to_string();
        browser.base = format!("{}/session/{id}", browser.base);
        browser
    }

    fn raw(&mut self, method: &str, path: &str, body: Option<Value>) -> Result<Value, String> {
        let url = format!("{}{path}", self.base);
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let request = self.http.request(method, url).json(&body.unwrap_or(json!({})));
        self.rt.block_on(async {
            let response = request.send().await.map_err(|e| e.to_string())?;
            let status = response.status();
            let value: Value = response.json().await.map_err(|e| e.to_string())?;
            if !status.is_success() {
                return Err(format!("WebDriver {status}: {}", value["value"]));
            }
            Ok(value.get("value").cloned().unwrap_or(Value::Null))
        })
    }

    fn call(&mut self, method: &str, path: &str, body: Option<Value>) -> Value {
        self.raw(method, path, body).unwrap_or_else(|e| panic!("{method} {path}: {e}"))
    }

    fn go(&mut self, url: &str) {
        self.call("POST", "/url", Some(json!({"url": url})));
    }

    /// Runs `script` (a function body) in the page and answers what it returns.
    fn js(&mut self, script: &str) -> Value {
        self.call("POST", "/execute/sync", Some(json!({"script": script, "args": []})))
    }

    fn text_of(&mut self, selector: &str) -> String {
        let script = format!("const e = document.querySelector({}); return e ? e.textContent : null;", json!(selector));
        self.js(&script).as_str().unwrap_or_default().to_string()
    }

    fn click(&mut self, selector: &str) {
        let done = self.js(&format!(
            "const e = document.querySelector({}); if (!e) return false; e.click(); return true;",
            json!(selector)
        ));
        assert_eq!(done, json!(true), "no {selector} to click");
    }

    /// Waits until `script` returns something truthy; fails with `what` and the page's banner otherwise.
    fn wait(&mut self, what: &str, secs: u64, script: &str) -> Value {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            let value = self.js(script);
            if !matches!(value, Value::Null | Value::Bool(false)) && value != json!("") {
                return value;
            }
            if Instant::now() > deadline {
                let banner = self.text_of("#banner");
                let body = self.text_of("main");
                panic!("{what}: not within {secs} s; banner {banner:?}; page: {body}");
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// Console messages at SEVERE since the last call.
    fn console_errors(&mut self) -> Vec<String> {
        let logs = self.call("POST", "/se/log", Some(json!({"type": "browser"})));
        logs.as_array()
            .into_iter()
            .flatten()
            .filter(|l| l["level"] == "SEVERE")
            .map(|l| l["message"].as_str().unwrap_or_default().to_string())
            .collect()
    }

    fn screenshot(&mut self) -> Vec<u8> {
        use base64::Engine;
        let png = self.call("GET", "/screenshot", None);
        base64::engine::general_purpose::STANDARD.decode(png.as_str().expect("base64 PNG")).expect("PNG")
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.raw("DELETE", "", None);
    }
}

#[test]
fn the_scenario_page_shows_the_lab_and_plays_the_kill_chain_in_chromium() {
    let (chromium, driver) = match browser() {
        Ok(found) => found,
        Err(why) if std::env::var_os("CI").is_none() => {
            println!("SKIP: the scenario page's browser test: {why}");
            return;
        }
        Err(why) => panic!("CI is set and the browser cannot be installed: {why}"),
    };
    let lab = Lab::up(&[]);
    let namespace = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}});
    kube(&lab, reqwest::Method::POST, "/api/v1/namespaces", Some(namespace));
    // A workload no policy will select, to be flagged.
    let stray = json!({"apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "stray-tool", "namespace": NAMESPACE, "labels": {"app": "stray-tool"}},
        "spec": {"containers": [{"name": "tool", "image": "busybox:1.36"}]}});
    kube(&lab, reqwest::Method::POST, &format!("/api/v1/namespaces/{NAMESPACE}/pods"), Some(stray));
    let (_ui, url) = start_ui(&lab);
    let mut b = Browser::start(&chromium, &driver);

    // Nothing applied yet: the page loads cleanly and says what to apply.
    b.go(&url);
    let hint = b.wait(
        "the page says what to apply",
        15,
        "const t = document.querySelector('#banner.show'); return t && t.textContent;",
    );
    assert!(hint.as_str().unwrap().contains("examples/containment-aws"), "hint: {hint}");
    assert_eq!(b.text_of("title"), "MCP egress containment: the lab's scenario");
    let errors = b.console_errors();
    assert!(errors.is_empty(), "console errors on load: {errors:?}");
    // The console check sees errors at all: one the test makes is reported.
    b.js("console.error('ui_browser probe'); return true;");
    let probe = b.console_errors();
    assert!(
        probe.len() == 1 && probe[0].contains("ui_browser probe"),
        "the browser log reports console errors: {probe:?}"
    );

    // Apply the containment: the servers appear, reconciled, with their permits; tiers 1 and 3 by name.
    let mut ws = Workspace::for_lab(
        &lab,
        &std::fs::read_to_string(repo_root().join("examples/containment-aws/main.tf")).unwrap(),
    );
    ws.set_env("TF_VAR_mcp_namespace", NAMESPACE);
    ws.run(&["apply", "-auto-approve"]).expect_code(0, "the containment example applies");
    b.wait(
        "both servers shown reconciled",
        30,
        "return ['healthcare-mcp', 'search-mcp'].every(s => { const r = document.querySelector(`#servers tr[data-server='${s}'] td[data-reconciled='true']`); return !!r; });",
    );
    let healthcare = b.text_of("#servers tr[data-server='healthcare-mcp']");
    assert!(
        healthcare.contains("api.ehr.example.com") && healthcare.contains("deny"),
        "healthcare-mcp row: {healthcare}"
    );
    assert!(healthcare.contains("mcp-egress-healthcare-mcp"), "the policy name: {healthcare}");
    assert!(b.text_of("#tier1").contains("tier1-registry"), "tier 1: {}", b.text_of("#tier1"));
    assert!(b.text_of("#tier3").contains("tier3-default-deny"), "tier 3: {}", b.text_of("#tier3"));
    assert_eq!(b.js("return document.querySelector('#banner').className;"), json!(""), "no hint once applied");
    let stray = b.text_of("#unprotected tr[data-unprotected='stray-tool']");
    assert!(
        stray.contains("app=stray-tool") && stray.contains("no FirewallPolicy rule"),
        "the stray pod is flagged: {stray:?}"
    );

    // The kill chain, on the live lab: the pod is created, the EHR call passes, the exfiltration drops.
    assert!(!pod_names(&lab).iter().any(|p| p == POD), "no pod before the play");
    b.click("#play");
    b.wait("the kill chain ends with the drop line", 60, "const l = document.querySelector('#chain-line'); return l.getAttribute('data-action') === 'drop' || /stopped/.test(l.textContent) ? l.textContent : null;");
    let line = b.text_of("#chain-line");
    let want = regex::Regex::new(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ action=drop rule=tier3-default-deny pod=healthcare-mcp-7f4d9c dst=exfil.attacker.io port=443 tier=3$").unwrap();
    assert!(want.is_match(&line), "the play ends with the drop line, got {line:?}");
    let stages = b.js("return [...document.querySelectorAll('#chain li')].map(li => [li.dataset.stage, li.dataset.state, li.classList.contains('outside'), li.textContent]);");
    let stages = stages.as_array().unwrap();
    assert_eq!(stages.len(), 5, "{stages:?}");
    for (stage, outside) in
        [("dependency", true), ("execution", true), ("permitted", false), ("exfiltration", false), ("audit", false)]
    {
        let s = stages.iter().find(|s| s[0] == stage).unwrap_or_else(|| panic!("stage {stage}: {stages:?}"));
        assert_eq!((s[1].as_str(), s[2].as_bool()), (Some("done"), Some(outside)), "stage {stage}: {s}");
    }
    let permitted = stages.iter().find(|s| s[0] == "permitted").unwrap()[3].as_str().unwrap().to_string();
    assert!(permitted.contains("permit · tier 2 · tier2-healthcare-mcp"), "the permitted call: {permitted}");
    assert!(pod_names(&lab).iter().any(|p| p == POD), "the play made the pod");
    let cli_log = text(&lab.cli(&["decisions"]));
    assert!(cli_log.contains(&line), "the line shown is the lab's decision log:\n{cli_log}");
    let shot = b.screenshot();
    assert!(shot.starts_with(b"\x89PNG"), "a PNG screenshot");
    // The screenshot is a build product, kept in the ignored cache beside the tools, never in git.
    let shots = common::tools::cache_bin().with_file_name("screenshots");
    std::fs::create_dir_all(&shots).unwrap();
    std::fs::write(shots.join("scenario-page.png"), &shot).unwrap();

    // The attempt form asks the enforcement point.
    b.wait(
        "the pod is offered in the attempt form",
        15,
        &format!("return [...document.querySelectorAll('#pod option')].some(o => o.value === '{POD}');"),
    );
    b.js(&format!("document.querySelector('#pod').value = '{POD}'; document.querySelector('#host').value = 'exfil.attacker.io'; document.querySelector('#port').value = '443'; return true;"));
    b.click("#attempt-btn");
    let shown = b.wait("the attempt's verdict", 15, "const e = document.querySelector('#attempt-action'); return e && [e.dataset.action, e.dataset.tier, e.dataset.rule];");
    assert_eq!(shown, json!(["drop", "3", "tier3-default-deny"]));

    // A decision made outside the page reaches its log without a reload.
    b.js("window.__notReloaded = true; return true;");
    let out =
        lab.cli(&["attempt", "--pod", &format!("{NAMESPACE}/{POD}"), "--dst", "registry.npmjs.org:443", "--json"]);
    assert!(out.status.success(), "{}", text(&out));
    let seq = serde_json::from_slice::<Value>(&out.stdout).unwrap()["seq"].as_u64().unwrap();
    let row = b.wait(
        "the CLI's decision in the live log",
        15,
        &format!("const r = document.querySelector(\"#log tr[data-seq='{seq}']\"); return r && r.textContent;"),
    );
    assert!(row.as_str().unwrap().contains("tier1-registry"), "{row}");
    assert_eq!(b.js("return window.__notReloaded === true;"), json!(true), "the page was not reloaded");

    // Filters and the export of the lines shown.
    b.js("const f = document.querySelector('#filter-action'); f.value = 'drop'; f.dispatchEvent(new Event('change')); return true;");
    let actions = b.js("return [...document.querySelectorAll('#log tbody tr')].map(r => r.dataset.action);");
    assert!(
        !actions.as_array().unwrap().is_empty() && actions.as_array().unwrap().iter().all(|a| a == "drop"),
        "{actions}"
    );
    let exported: Value = serde_json::from_str(b.js("return window.mcpExport();").as_str().unwrap()).unwrap();
    let exported = exported.as_array().unwrap();
    assert_eq!(exported.len(), actions.as_array().unwrap().len(), "the export holds the lines shown");
    assert!(exported.iter().all(|d| d["action"] == "drop" && d["rule"] == "tier3-default-deny" && d["pod"] == POD));
    b.js("const f = document.querySelector('#filter-server'); f.value = 'search-mcp'; f.dispatchEvent(new Event('change')); return true;");
    assert_eq!(
        b.js("return document.querySelectorAll('#log tbody tr').length;"),
        json!(0),
        "no decision of search-mcp"
    );
    let errors = b.console_errors();
    assert!(errors.is_empty(), "console errors while in use: {errors:?}");

    // The lab stops: the page says so instead of going blank.
    assert!(lab.stop().status.success());
    let gone = b.wait("the page says the lab is unreachable", 20, "const t = document.querySelector('#banner.show'); return t && /cannot be reached/.test(t.textContent) && t.textContent;");
    assert!(gone.as_str().unwrap().contains("mcp-egress-lab up"), "the message says what to do: {gone}");
}
