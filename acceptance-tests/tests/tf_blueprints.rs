//! The two blueprints. Their `existing-cluster/` roots, as they stand, against a lab with only lab.env: apply
//! (the root's verdict checks passing), an empty re-plan, the seed's kill chain (a pod for `healthcare-mcp`
//! made with kubectl after the apply, `mcp-egress-lab attempt` permitting its own domain by tier 2 and
//! dropping `exfil.attacker.io:443` by `tier3-default-deny`, one FirewallPolicy per server), destroy, and
//! `inventory --diff` clean. Their net-new roots, which need the official cloud providers, are checked with
//! `terraform fmt -check`, and with `terraform validate` when the registry can be reached.

mod common;

use std::time::Instant;

use common::cluster::{decide, kubectl, kubectl_ok, run_pod};
use common::lab::Lab;
use common::terraform::{provider_dir, Run, Workspace};
use common::tools::text;

const NAMESPACE: &str = "obot-mcp";

fn ok(run: Run, what: &str) -> Run {
    let run = run.expect_code(0, what);
    assert!(!run.stdout.contains("Check block assertion failed"), "{what}: a check failed:\n{}", run.stdout);
    assert!(!run.stdout.contains("Warning: Check"), "{what}: a check warned:\n{}", run.stdout);
    run
}

/// Applies `blueprints/<blueprint>/existing-cluster` with only lab.env, plays the kill chain, destroys.
fn existing_cluster(blueprint: &str) {
    let lab = Lab::up(&[]);
    let mut ws = Workspace::new("");
    for (name, value) in &lab.env {
        ws.set_env(name, value);
    }
    ws.copy_repo_tree("modules");
    ws.copy_repo_tree(&format!("blueprints/{blueprint}"));
    let root = format!("blueprints/{blueprint}/existing-cluster");
    ws.run_in(&root, &["get", "-no-color"]).expect_code(0, "terraform get");

    let started = Instant::now();
    ok(ws.run_in(&root, &["apply", "-auto-approve", "-no-color"]), "the existing-cluster root applies");
    println!("{root}: apply took {:.1} s", started.elapsed().as_secs_f64());
    let replan = ws.run_in(&root, &["plan", "-detailed-exitcode", "-no-color"]);
    ok(replan, "and re-plans empty");

    let names =
        kubectl_ok(&lab, &["get", "firewallpolicy", "-n", NAMESPACE, "-o", "jsonpath={.items[*].metadata.name}"], None);
    let mut names: Vec<&str> = names.split_whitespace().collect();
    names.sort();
    assert_eq!(names, ["mcp-egress-healthcare-mcp", "mcp-egress-search-mcp"], "one FirewallPolicy per server");

    // The server runs after the apply (Obot starts it in the namespace the release made).
    run_pod(&lab, NAMESPACE, "healthcare-mcp-7f4d9c", "healthcare-mcp");
    let pod = format!("{NAMESPACE}/healthcare-mcp-7f4d9c");
    let want = |a: &str, t: u64, r: &str| (a.to_string(), t, r.to_string());
    assert_eq!(decide(&lab, &pod, "api.ehr.example.com:443"), want("permit", 2, "tier2-healthcare-mcp"));
    assert_eq!(decide(&lab, &pod, "registry.npmjs.org:443"), want("permit", 1, "tier1-registry"));
    assert_eq!(decide(&lab, &pod, "exfil.attacker.io:443"), want("drop", 3, "tier3-default-deny"));
    assert_eq!(decide(&lab, &pod, "api.search.example.com:443"), want("drop", 3, "tier3-default-deny"));

    ws.run_in(&root, &["destroy", "-auto-approve", "-no-color"]).expect_code(0, "destroy");
    // The MCP namespace was the Obot release's: it went with the release, and the pod with it.
    let gone = kubectl(&lab, &["get", "namespace", NAMESPACE], None);
    assert!(!gone.status.success(), "the MCP namespace outlived the release: {}", text(&gone));
    let (clean, diff) = lab.diff();
    assert!(clean, "{root}: the lab is back at its baseline: {diff:#}");
}

#[test]
fn aws_existing_cluster_root_contains_the_kill_chain_and_cleans_up() {
    existing_cluster("obot-mcp-egress-aws");
}

#[test]
fn azure_existing_cluster_root_contains_the_kill_chain_and_cleans_up() {
    existing_cluster("obot-mcp-egress-azure");
}

/// `terraform fmt -check` of each net-new root, and `validate` when `init` can reach the registry for the
/// official providers; says which it did.
#[test]
fn net_new_roots_are_formatted_and_validate_where_the_registry_is_reachable() {
    for blueprint in ["obot-mcp-egress-aws", "obot-mcp-egress-azure"] {
        let mut ws = Workspace::new("");
        ws.copy_repo_tree("modules");
        ws.copy_repo_tree(&format!("blueprints/{blueprint}"));
        let root = format!("blueprints/{blueprint}");
        let tf_files = std::fs::read_dir(ws.path().join(&root))
            .unwrap()
            .filter(|e| e.as_ref().unwrap().path().extension().is_some_and(|x| x == "tf"))
            .count();
        assert!(tf_files >= 3, "{root} holds no net-new root ({tf_files} .tf files)");
        ws.run_in(&root, &["fmt", "-check", "-recursive", "-diff", "-no-color"])
            .expect_code(0, &format!("terraform fmt -check of {root}"));
        // `init` would look this provider up in the registry even with dev_overrides: a filesystem mirror of
        // the build serves it, the registry the official ones.
        let mirror = ws.path().join("mirror");
        let platform = format!("linux_{}", if std::env::consts::ARCH == "aarch64" { "arm64" } else { "amd64" });
        let dir = mirror.join("registry.terraform.io/mcp-egress/aviatrix/0.0.1").join(platform);
        std::fs::create_dir_all(&dir).unwrap();
        std::os::unix::fs::symlink(
            provider_dir().join("terraform-provider-aviatrix"),
            dir.join("terraform-provider-aviatrix_v0.0.1"),
        )
        .unwrap();
        let rc = ws.path().join("mirror.rc");
        std::fs::write(
            &rc,
            format!(
                "provider_installation {{\n  filesystem_mirror {{\n    path    = {:?}\n    include = [\"registry.terraform.io/mcp-egress/aviatrix\"]\n  }}\n  direct {{\n    exclude = [\"registry.terraform.io/mcp-egress/aviatrix\"]\n  }}\n}}\n",
                mirror.display().to_string()
            ),
        )
        .unwrap();
        ws.set_env("TF_CLI_CONFIG_FILE", &rc.display().to_string());
        let init = ws.run_in(&root, &["init", "-backend=false", "-no-color"]);
        if init.code != 0 {
            let unreachable = ["could not connect", "no such host", "dial tcp", "i/o timeout", "connection refused"]
                .iter()
                .any(|s| init.stderr.contains(s) || init.stdout.contains(s));
            assert!(
                unreachable,
                "terraform init of {root} failed for another reason than the registry: {}",
                init.describe(0)
            );
            println!("{root}: fmt -check passed; validate not run: the registry is not reachable from here");
            continue;
        }
        ws.run_in(&root, &["validate", "-no-color"]).expect_code(0, &format!("terraform validate of {root}"));
        println!("{root}: fmt -check and validate passed");
    }
}
