//! Resource `aviatrix_mcp_egress_masquerade` through the real terraform CLI against the lab's Kubernetes:
//! the AKS ConfigMap and the EKS VPC CNI variable are written, imported by flavor, show drift when changed
//! behind Terraform's back, and are restored exactly on destroy (the lab's inventory back at its baseline,
//! which seeds both); a list that would still masquerade internet traffic and a cluster without the agent are
//! refused before anything is written.

mod common;
mod lab_kube;

use common::lab::Lab;
use common::steps::{Case, Step};
use common::terraform::config;
use lab_kube::Kube;
use reqwest::Method;
use serde_json::{json, Value};

const MASQ: &str = "aviatrix_mcp_egress_masquerade.nodes";
const AKS_CONFIG: &str = "/api/v1/namespaces/kube-system/configmaps/azure-ip-masq-agent-config";
const AWS_NODE: &str = "/apis/apps/v1/namespaces/kube-system/daemonsets/aws-node";

fn masquerade(flavor: &str, cidrs: &str) -> String {
    config(&format!(
        r#"
resource "aviatrix_mcp_egress_masquerade" "nodes" {{
  flavor               = "{flavor}"
  non_masquerade_cidrs = {cidrs}
}}
"#
    ))
}

fn kube_call(lab: &Lab, method: Method, path: &str, body: Option<Value>) -> (u16, Value) {
    let kube = Kube::from_lab(lab);
    tokio::runtime::Runtime::new().expect("runtime").block_on(kube.send(method, path, body))
}

/// The AKS ConfigMap's agent configuration, as the agent would read it.
fn aks_config(lab: &Lab) -> String {
    let (status, cm) = kube_call(lab, Method::GET, AKS_CONFIG, None);
    assert_eq!(status, 200, "{cm}");
    cm["data"]["ip-masq-agent"].as_str().unwrap_or_default().to_string()
}

/// The value of AWS_VPC_K8S_CNI_EXTERNALSNAT on the aws-node container.
fn external_snat(lab: &Lab) -> Option<String> {
    let (status, ds) = kube_call(lab, Method::GET, AWS_NODE, None);
    assert_eq!(status, 200, "{ds}");
    let containers = ds["spec"]["template"]["spec"]["containers"].as_array().cloned().unwrap_or_default();
    let node = containers.iter().find(|c| c["name"] == "aws-node").expect("the aws-node container");
    node["env"]
        .as_array()?
        .iter()
        .find(|e| e["name"] == "AWS_VPC_K8S_CNI_EXTERNALSNAT")
        .map(|e| e["value"].as_str().unwrap_or("").to_string())
}

#[test]
fn the_aks_config_map_is_written_imported_drifts_and_is_restored() {
    Case::new("AKS: azure-ip-masq-agent-config")
        .step(Step::outside("the seeded ConfigMap masquerades public traffic", |lab| {
            assert!(!aks_config(lab).contains("0.0.0.0/0"), "the seed must not already be the product's setting");
        }))
        .step(
            Step::apply(&masquerade("aks", r#"["0.0.0.0/0"]"#))
                .expect_attr(MASQ, "id", json!("aks"))
                .expect_attr(MASQ, "object", json!("ConfigMap kube-system/azure-ip-masq-agent-config"))
                .expect_attr(MASQ, "restores", json!("previous"))
                .expect_attr(MASQ, "masq_link_local", json!(false)),
        )
        .step(Step::outside("the agent now reads 0.0.0.0/0 and the AKS labels are kept", |lab| {
            let config = aks_config(lab);
            assert!(config.contains("nonMasqueradeCIDRs") && config.contains("0.0.0.0/0"), "{config}");
            let (_, cm) = kube_call(lab, Method::GET, AKS_CONFIG, None);
            assert_eq!(cm["metadata"]["labels"]["addonmanager.kubernetes.io/mode"], "EnsureExists", "{cm}");
            assert!(cm["metadata"]["annotations"]["mcp-egress.aviatrix.com/previous"].is_string(), "{cm}");
        }))
        .step(Step::import(MASQ))
        .step(Step::outside("someone narrows the list behind Terraform's back", |lab| {
            let (_, mut cm) = kube_call(lab, Method::GET, AKS_CONFIG, None);
            cm["data"]["ip-masq-agent"] = json!("nonMasqueradeCIDRs:\n- 10.0.0.0/8\nmasqLinkLocal: false\n");
            let (status, reply) = kube_call(lab, Method::PUT, AKS_CONFIG, Some(cm));
            assert_eq!(status, 200, "{reply}");
        }))
        .step(Step::plan(&masquerade("aks", r#"["0.0.0.0/0"]"#)).expect_changes(&[MASQ]))
        .step(Step::apply(&masquerade("aks", r#"["0.0.0.0/0"]"#)))
        .step(Step::outside("the next apply put the list back", |lab| {
            assert!(aks_config(lab).contains("0.0.0.0/0"));
        }))
        .step(Step::destroy().expect_no_resource(MASQ))
        .run();
}

#[test]
fn the_eks_external_snat_variable_is_set_drifts_and_is_restored() {
    Case::new("EKS: AWS_VPC_K8S_CNI_EXTERNALSNAT on aws-node")
        .step(Step::apply(&masquerade("eks", r#"["0.0.0.0/0"]"#)).expect_attr(MASQ, "restores", json!("previous")))
        .step(Step::outside("aws-node has external SNAT on", |lab| {
            assert_eq!(external_snat(lab).as_deref(), Some("true"));
        }))
        .step(Step::import(MASQ))
        .step(Step::outside("someone turns it back off", |lab| {
            let (_, mut ds) = kube_call(lab, Method::GET, AWS_NODE, None);
            let containers = ds["spec"]["template"]["spec"]["containers"].as_array_mut().unwrap();
            let node = containers.iter_mut().find(|c| c["name"] == "aws-node").unwrap();
            for var in node["env"].as_array_mut().unwrap() {
                if var["name"] == "AWS_VPC_K8S_CNI_EXTERNALSNAT" {
                    var["value"] = json!("false");
                }
            }
            let (status, reply) = kube_call(lab, Method::PUT, AWS_NODE, Some(ds));
            assert_eq!(status, 200, "{reply}");
        }))
        .step(Step::plan(&masquerade("eks", r#"["0.0.0.0/0"]"#)).expect_changes(&[MASQ]))
        .step(Step::apply(&masquerade("eks", r#"["0.0.0.0/0"]"#)))
        .step(Step::outside("the next apply turned it on again", |lab| {
            assert_eq!(external_snat(lab).as_deref(), Some("true"));
        }))
        .step(Step::destroy().expect_no_resource(MASQ))
        .step(Step::outside("destroy restored the VPC CNI's own value", |lab| {
            assert_eq!(external_snat(lab).as_deref(), Some("false"));
        }))
        .run();
}

#[test]
fn lists_that_masquerade_the_internet_and_clusters_without_the_agent_are_refused() {
    Case::new("refusals before anything is written")
        .step(
            Step::plan(&masquerade("aks", r#"["10.0.0.0/8"]"#))
                .expect_error("Traffic to the internet would still be masqueraded: .*include \"0.0.0.0/0\""),
        )
        .step(
            Step::plan(&masquerade("aks", r#"["10.0.0.1/8"]"#))
                .expect_error(r#"non_masquerade_cidrs\[0\] = "10.0.0.1/8""#),
        )
        .step(
            Step::apply(&masquerade("generic", r#"["0.0.0.0/0"]"#))
                .expect_error("No ip-masq-agent on this cluster")
                .expect_no_resource(MASQ),
        )
        .run();
}
