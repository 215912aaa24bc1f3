//! What the enforcement fabric's resources find in the lab: the examples' `TF_VAR_` inputs naming the
//! baseline, the EKS and AKS identities onboarding against the lab's Kubernetes (and a Partial cluster that
//! is never reconciled), gateways resized and retagged in their cloud with sizes the cloud offers, and the
//! node masquerade agents seeded as baseline.

mod common;
mod lab_kube;

use std::time::Duration;

use common::lab::{objects, ControllerApi, Lab};
use lab_kube::{policy_spec, Kube, POLICIES};
use reqwest::Method;
use serde_json::{json, Value};

/// A `TF_VAR_` list as Terraform reads it (a JSON list is valid HCL).
fn tf_list(lab: &Lab, name: &str) -> Vec<String> {
    serde_json::from_str(&lab.var(&format!("TF_VAR_{name}"))).unwrap_or_else(|e| panic!("TF_VAR_{name}: {e}"))
}

/// One object of the inventory by system, kind and id.
fn object<'a>(inventory: &'a Value, system: &str, kind: &str, id: &str) -> &'a Value {
    objects(inventory, system, kind)
        .into_iter()
        .find(|o| o["id"] == id)
        .unwrap_or_else(|| panic!("no {system} {kind} {id} in the inventory"))
}

async fn enable_k8s_features(api: &ControllerApi) {
    for feature in ["k8s", "k8s_dcf_policies"] {
        let reply = api.json_action(json!({"action": "enable_controller_feature", "feature": feature})).await;
        assert_eq!(reply["return"], true, "{reply}");
    }
}

/// Onboards `cluster_id` with the cloud account's credentials, as EKS and AKS clusters are; returns the
/// controller's ID and the cluster as GET shows it.
async fn onboard(api: &ControllerApi, cluster_id: &str) -> (String, Value) {
    let body = json!({"cluster_id": cluster_id, "credential": {"use_csp_credentials": true}});
    let (status, created) = api.rest(Method::POST, "k8s/clusters", Some(body)).await;
    assert_eq!(status, 200, "{created}");
    let id = created["id"].as_str().unwrap().to_string();
    let (status, cluster) = api.rest(Method::GET, &format!("k8s/clusters/{id}"), None).await;
    assert_eq!(status, 200, "{cluster}");
    (id, cluster)
}

#[tokio::test]
async fn eks_and_aks_identities_onboard_and_a_partial_cluster_is_never_reconciled() {
    let lab = Lab::up(&[]);

    // The examples' inputs name the baseline.
    assert_eq!(lab.var("TF_VAR_aws_account_name"), lab.var("LAB_AWS_ACCOUNT_NAME"));
    assert_eq!(lab.var("TF_VAR_azure_account_name"), lab.var("LAB_AZURE_ACCOUNT_NAME"));
    assert_eq!(lab.var("TF_VAR_aws_region"), lab.var("AWS_REGION"));
    assert_eq!(lab.var("TF_VAR_aws_vpc_id"), lab.var("LAB_AWS_VPC_ID"));
    assert_eq!(lab.var("TF_VAR_aws_gateway_subnet_cidr"), lab.var("LAB_AWS_GATEWAY_SUBNET_CIDR"));
    assert_eq!(tf_list(&lab, "aws_node_route_table_ids"), [lab.var("LAB_AWS_NODE_ROUTE_TABLE_IDS")]);
    assert_eq!(lab.var("TF_VAR_azure_location"), "eastus");
    assert_eq!(lab.var("TF_VAR_azure_gateway_subnet_cidr"), lab.var("LAB_AZURE_GATEWAY_SUBNET_CIDR"));
    assert_eq!(tf_list(&lab, "azure_node_route_table_ids"), [lab.var("LAB_AZURE_NODE_ROUTE_TABLE_IDS")]);
    assert_eq!(lab.var("TF_VAR_eks_cluster_id"), lab.var("LAB_EKS_CLUSTER_ID"));
    assert_eq!(lab.var("TF_VAR_aks_cluster_id"), lab.var("LAB_AKS_CLUSTER_ID"));
    let inventory = lab.inventory();
    let vnet = object(&inventory, "azure", "virtual_network", &lab.var("TF_VAR_azure_vnet_id"));
    assert_eq!(vnet["data"]["name"], lab.var("LAB_AZURE_VNET_NAME"));
    object(&inventory, "aws", "vpc", &lab.var("TF_VAR_aws_vpc_id"));
    for table in tf_list(&lab, "aws_node_route_table_ids") {
        object(&inventory, "aws", "route_table", &table);
    }
    for table in tf_list(&lab, "azure_node_route_table_ids") {
        object(&inventory, "azure", "route_table", &table);
    }
    let eks = lab.var("LAB_EKS_CLUSTER_ID");
    assert_eq!(eks, format!("arn:aws:eks:{}:123456789012:cluster/lab-eks", lab.var("AWS_REGION")));
    let aks = lab.var("LAB_AKS_CLUSTER_ID");
    assert_eq!(
        aks,
        format!(
            "/subscriptions/{}/resourceGroups/{}/providers/Microsoft.ContainerService/managedClusters/lab-aks",
            lab.var("ARM_SUBSCRIPTION_ID"),
            lab.var("LAB_AZURE_RESOURCE_GROUP")
        )
    );

    // What the masquerade resource restores is there from the start, as baseline.
    let config = object(&inventory, "kubernetes", "ConfigMap", "kube-system/azure-ip-masq-agent-config");
    assert_eq!(config["baseline"], true);
    assert_eq!(config["data"]["metadata"]["labels"]["addonmanager.kubernetes.io/mode"], "EnsureExists");
    assert!(config["data"]["data"]["ip-masq-agent"].as_str().unwrap().contains("nonMasqueradeCIDRs"));
    assert_eq!(object(&inventory, "kubernetes", "DaemonSet", "kube-system/azure-ip-masq-agent")["baseline"], true);
    let aws_node = object(&inventory, "kubernetes", "DaemonSet", "kube-system/aws-node");
    assert_eq!(aws_node["baseline"], true);
    let env = &aws_node["data"]["spec"]["template"]["spec"]["containers"][0]["env"];
    let value = |name: &str| env.as_array().unwrap().iter().find(|e| e["name"] == name).map(|e| e["value"].clone());
    assert_eq!(value("AWS_VPC_K8S_CNI_EXTERNALSNAT"), Some(json!("false")));
    assert_eq!(value("AWS_VPC_K8S_CNI_RANDOMIZESNAT"), Some(json!("prng")));
    let agent_pods = objects(&inventory, "kubernetes", "Pod")
        .into_iter()
        .filter(|p| p["id"].as_str().unwrap().starts_with("kube-system/aws-node-"))
        .count();
    assert_eq!(agent_pods, 3, "one aws-node pod per node");
    let (clean, diff) = lab.diff();
    assert!(clean, "a fresh lab differs from its baseline: {diff}");

    let api = ControllerApi::login(&lab).await;
    let kube = Kube::from_lab(&lab);
    kube.install_firewall_policy_crd_and_namespace().await;
    let policy = json!({"apiVersion": "networking.aviatrix.com/v1alpha1", "kind": "FirewallPolicy",
                        "metadata": {"name": "obot-s1-fw", "namespace": "obot-mcp"}, "spec": policy_spec(&["api.example.com"])});
    assert_eq!(kube.send(Method::POST, POLICIES, Some(policy)).await.0, 201);
    enable_k8s_features(&api).await;

    // A cluster the clouds do not hold cannot be reached with the cloud account's credentials.
    let (stranger, cluster) = onboard(&api, "arn:aws:eks:us-east-1:123456789012:cluster/elsewhere").await;
    assert_eq!(cluster["status"], "Disconnected", "{cluster}");
    assert_eq!(api.rest(Method::DELETE, &format!("k8s/clusters/{stranger}"), None).await.0, 200);

    // The EKS cluster registers Partial while the fault is on, and its policies are never reconciled.
    lab.fault("controller", "partial-cluster", "1", "0");
    let (partial, cluster) = onboard(&api, &eks).await;
    assert_eq!(cluster["status"], "Partial", "{cluster}");
    let (_, all) = api.rest(Method::GET, "k8s/clusters", None).await;
    assert_eq!(all["clusters"][0]["status"], "Partial", "the list shows the state too: {all}");
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let (_, unreconciled) = kube.send(Method::GET, &format!("{POLICIES}/obot-s1-fw"), None).await;
    assert!(unreconciled["status"]["lastReconciledGeneration"].is_null(), "{unreconciled}");
    lab.fault("controller", "partial-cluster", "0", "0");
    assert_eq!(api.rest(Method::DELETE, &format!("k8s/clusters/{partial}"), None).await.0, 200);

    // Onboarded again without the fault, the EKS cluster is Connected and its policy is reconciled.
    let (eks_id, cluster) = onboard(&api, &eks).await;
    assert_eq!(cluster["status"], "Connected", "{cluster}");
    let reconciled = kube.wait_for_generation(1).await;
    assert!(reconciled["status"]["ruleset"].as_str().is_some_and(|r| !r.is_empty()), "{reconciled}");
    assert_eq!(api.rest(Method::DELETE, &format!("k8s/clusters/{eks_id}"), None).await.0, 200);

    // The AKS ID onboards too, whatever its casing (reference §4.2 leaves the casing unsettled), and a change
    // to the policy is reconciled through it.
    let (aks_id, cluster) = onboard(&api, &aks.to_lowercase()).await;
    assert_eq!(cluster["status"], "Connected", "{cluster}");
    let (_, mut current) = kube.send(Method::GET, &format!("{POLICIES}/obot-s1-fw"), None).await;
    current["spec"] = policy_spec(&["api.example.com", "pypi.org"]);
    assert_eq!(kube.send(Method::PUT, &format!("{POLICIES}/obot-s1-fw"), Some(current)).await.0, 200);
    kube.wait_for_generation(2).await;
    assert_eq!(api.rest(Method::DELETE, &format!("k8s/clusters/{aks_id}"), None).await.0, 200);
}

/// The parameters of `create_multicloud_primary_gateway` in the Azure baseline's gateway subnet.
async fn azure_gateway_params(lab: &Lab, name: &str, size: &str) -> Vec<(&'static str, String)> {
    let token = common::lab::azure_token(lab).await;
    let vnet: Value = lab
        .client()
        .get(format!(
            "{}{}?api-version=2024-03-01",
            lab.var("AZURE_RESOURCE_MANAGER_ENDPOINT"),
            lab.var("TF_VAR_azure_vnet_id")
        ))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let guid = vnet["properties"]["resourceGuid"].as_str().expect("resourceGuid").to_string();
    vec![
        ("cloud_type", "8".into()),
        ("account_name", lab.var("TF_VAR_azure_account_name")),
        ("gw_name", name.into()),
        ("gw_size", size.into()),
        ("vpc_id", format!("{}:{}:{guid}", lab.var("LAB_AZURE_VNET_NAME"), lab.var("LAB_AZURE_RESOURCE_GROUP"))),
        ("vpc_region", lab.var("LAB_AZURE_REGION")),
        ("gw_subnet", lab.var("TF_VAR_azure_gateway_subnet_cidr")),
        ("async", "true".into()),
    ]
}

/// Runs an async action to its end and returns the final `check_task_status` envelope.
async fn run_task(api: &ControllerApi, action: &str, params: &[(&str, &str)]) -> Value {
    let started = api.action(action, params).await;
    assert_eq!(started["return"], true, "{action}: {started}");
    api.wait_task(started["results"].as_str().unwrap(), Duration::from_secs(20)).await.0
}

fn gateway_summary(reply: &Value) -> &Value {
    &reply["results"][0]
}

#[tokio::test]
async fn gateways_resize_and_retag_in_their_cloud_with_sizes_the_cloud_offers() {
    let lab = Lab::up(&["--task-ms", "100"]);
    let api = ControllerApi::login(&lab).await;

    // A size of the other cloud, or one the family does not have, is refused before anything is launched.
    for size in ["Standard_B1ms", "t3.24xlarge"] {
        let refused = api.create_aws_gateway(&lab, "mcp-aws", size, &[]).await;
        assert_eq!(refused["return"], false, "{refused}");
        assert!(refused["reason"].as_str().unwrap().contains("not a valid instance size for AWS"), "{refused}");
    }
    assert!(lab.diff().0, "a refused create leaves nothing");

    let created = api.create_aws_gateway(&lab, "mcp-aws", "t3.small", &[("async", "true")]).await;
    let done = api.wait_task(created["results"].as_str().unwrap(), Duration::from_secs(20)).await.0;
    assert_eq!(done["return"], true, "{done}");
    let instance_id = gateway_summary(&api.action("list_vpcs_summary", &[("gateway_name", "mcp-aws")]).await)
        ["cloudn_gateway_inst_id"]
        .as_str()
        .unwrap()
        .to_string();

    // Resize: refused for a size AWS does not offer, carried out (async, as the official provider polls it)
    // for one it does, on the controller and on the EC2 instance.
    let refused =
        api.action("edit_gw_config", &[("cloud_type", "1"), ("gw_name", "mcp-aws"), ("gw_size", "t3.huge")]).await;
    assert_eq!(refused["return"], false, "{refused}");
    assert!(refused["reason"].as_str().unwrap().contains("t3.huge"), "{refused}");
    let missing =
        api.action("edit_gw_config", &[("cloud_type", "1"), ("gw_name", "nope"), ("gw_size", "t3.medium")]).await;
    assert_eq!(missing["reason"], "Gateway nope does not exist", "{missing}");
    let resized = run_task(
        &api,
        "edit_gw_config",
        &[("cloud_type", "1"), ("gw_name", "mcp-aws"), ("gw_size", "t3.medium"), ("async", "true")],
    )
    .await;
    assert_eq!(resized["return"], true, "{resized}");
    let summary = api.action("list_vpcs_summary", &[("gateway_name", "mcp-aws")]).await;
    assert_eq!(gateway_summary(&summary)["vpc_size"], "t3.medium");
    let inventory = lab.inventory();
    assert_eq!(object(&inventory, "aws", "instance", &instance_id)["data"]["instance_type"], "t3.medium");

    // Tags: replaced as a whole, read back, and on the instance; the cloud's rules apply.
    let tag = |json: &str| {
        [("cloud_type", "1"), ("resource_type", "gw"), ("resource_name", "mcp-aws"), ("new_tag_json", json)]
            .map(|(k, v)| (k, v.to_string()))
    };
    let as_pairs = |p: &[(&'static str, String)]| p.iter().map(|(k, v)| (*k, v.clone())).collect::<Vec<_>>();
    let send = |params: Vec<(&'static str, String)>| {
        let api = &api;
        async move {
            let borrowed: Vec<(&str, &str)> = params.iter().map(|(k, v)| (*k, v.as_str())).collect();
            api.action("update_resource_tags", &borrowed).await
        }
    };
    let reply = send(as_pairs(&tag(r#"{"team":"mcp","env":"lab"}"#))).await;
    assert_eq!(reply["return"], true, "{reply}");
    let reply = send(as_pairs(&tag(r#"{"team":"egress"}"#))).await;
    assert_eq!(reply["return"], true, "{reply}");
    let read = api
        .action("list_resource_tags", &[("cloud_type", "1"), ("resource_type", "gw"), ("resource_name", "mcp-aws")])
        .await;
    assert_eq!(read["results"]["usr_tags"], json!({"team": "egress"}), "{read}");
    let tags = &lab.inventory()["aws"];
    let instance = tags.as_array().unwrap().iter().find(|o| o["id"] == instance_id.as_str()).unwrap();
    assert_eq!(instance["data"]["tags"]["team"], "egress", "{instance}");
    assert!(instance["data"]["tags"].get("env").is_none(), "a dropped tag leaves the instance: {instance}");
    let reserved = send(as_pairs(&tag(r#"{"aws:owner":"me"}"#))).await;
    assert_eq!(reserved["return"], false, "{reserved}");

    // Azure: its own sizes; the resize reaches the VM.
    let params = azure_gateway_params(&lab, "mcp-azure", "t3.medium").await;
    let borrowed: Vec<(&str, &str)> = params.iter().map(|(k, v)| (*k, v.as_str())).collect();
    // With async=true the refusal is the task's outcome, as every create failure is.
    let started = api.action("create_multicloud_primary_gateway", &borrowed).await;
    let refused = api.wait_task(started["results"].as_str().unwrap(), Duration::from_secs(20)).await.0;
    assert_eq!(refused["return"], false, "{refused}");
    assert!(refused["reason"].as_str().unwrap().contains("not a valid instance size for Azure"), "{refused}");
    let params = azure_gateway_params(&lab, "mcp-azure", "Standard_B1ms").await;
    let borrowed: Vec<(&str, &str)> = params.iter().map(|(k, v)| (*k, v.as_str())).collect();
    assert_eq!(run_task(&api, "create_multicloud_primary_gateway", &borrowed).await["return"], true);
    let resized = run_task(
        &api,
        "edit_gw_config",
        &[("cloud_type", "8"), ("gw_name", "mcp-azure"), ("gw_size", "Standard_B2ms"), ("async", "true")],
    )
    .await;
    assert_eq!(resized["return"], true, "{resized}");
    let vm_id = gateway_summary(&api.action("list_vpcs_summary", &[("gateway_name", "mcp-azure")]).await)
        ["cloudn_gateway_inst_id"]
        .as_str()
        .unwrap()
        .to_string();
    let inventory = lab.inventory();
    let vm = object(&inventory, "azure", "virtual_machine", &vm_id);
    assert_eq!(vm["data"]["properties"]["hardwareProfile"]["vmSize"], "Standard_B2ms", "{vm}");
    let wrong_cloud =
        api.action("edit_gw_config", &[("cloud_type", "1"), ("gw_name", "mcp-azure"), ("gw_size", "t3.small")]).await;
    assert_eq!(wrong_cloud["return"], false, "{wrong_cloud}");

    // Deleting both gateways leaves nothing behind: no instance, VM, ENI or NIC.
    for (cloud, name) in [("1", "mcp-aws"), ("8", "mcp-azure")] {
        let done =
            run_task(&api, "delete_container", &[("cloud_type", cloud), ("gw_name", name), ("async", "true")]).await;
        assert_eq!(done["return"], true, "{done}");
    }
    let (clean, diff) = lab.diff();
    assert!(clean, "{diff}");
}
