//! Every folder under examples/ is a runnable root module: with nothing but the lab's lab.env in the
//! environment (its TF_VAR_ variables give the examples their inputs), each applies as it stands, re-plans
//! empty, and destroys to a lab back at its baseline. Examples of MCP servers need what a cluster has once
//! the k8s-firewall chart is installed and Obot runs: the FirewallPolicy CRD and the `obot-mcp` namespace,
//! which the test puts in place for them and removes after their destroy.

mod common;
mod lab_kube;

use std::path::{Path, PathBuf};

use common::steps::{Case, Step};
use common::tools::repo_root;
use lab_kube::{block_on, Kube};

/// Every folder under examples/ that holds `.tf` files, and their text joined in name order.
fn roots() -> Vec<(PathBuf, String)> {
    fn walk(dir: &Path, out: &mut Vec<(PathBuf, String)>) {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
        entries.sort();
        let tf: Vec<&PathBuf> = entries.iter().filter(|p| p.extension().is_some_and(|e| e == "tf")).collect();
        if !tf.is_empty() {
            let text = tf.iter().map(|p| std::fs::read_to_string(p).unwrap()).collect::<Vec<_>>().join("\n");
            out.push((dir.to_path_buf(), text));
        }
        for sub in entries.iter().filter(|p| p.is_dir()) {
            walk(sub, out);
        }
    }
    let mut out = Vec::new();
    walk(&repo_root().join("examples"), &mut out);
    out
}

#[test]
fn every_example_folder_applies_with_only_lab_env() {
    let roots = roots();
    assert!(
        roots.len() >= 13,
        "examples/ holds the provider, quickstart, two fabrics, containment, three data sources, two functions and seven resources: {roots:?}",
        roots = roots.iter().map(|(p, _)| p).collect::<Vec<_>>()
    );
    let mut failures = Vec::new();
    for (dir, text) in roots {
        let name = dir.strip_prefix(repo_root()).unwrap().display().to_string();
        let mut case = Case::new(&name).needs_terraform(1, 8, "the examples use provider-defined functions");
        if text.contains("aviatrix_mcp_egress_server") {
            // The case's own end destroys, then removes the CRD and namespace, then checks the lab.
            case = case
                .teardown(|lab| block_on(Kube::from_lab(lab).restore_baseline()))
                .step(Step::outside("the k8s-firewall CRD and the obot-mcp namespace are installed", |lab| {
                    block_on(Kube::from_lab(lab).install_firewall_policy_crd_and_namespace())
                }))
                .step(Step::apply(&text));
        } else {
            case = case.step(Step::apply(&text)).step(Step::destroy());
        }
        if let Err(why) = case.try_run() {
            failures.push(why);
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
