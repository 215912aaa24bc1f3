//! AWS EC2 for the lab: moto's EC2 server (from PyPI, in the repository's ignored cache) behind a thin proxy
//! of ours that injects faults and answers, as EC2 would, the cases where moto is looser (reference §3.3).
//!
//! Owns installing and running moto, the proxy, the request journal that lets a restarted moto come back with
//! the same objects and IDs, the AWS baseline, and launching gateway instances for the controller. It must not
//! invent EC2 behaviour moto already has: requests it does not correct go to moto unchanged.

mod host;
pub mod moto;
mod proxy;
pub mod xml;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use serde::{Deserialize, Serialize};
use serde_json::json;

pub use host::AwsHost;
pub use moto::{ensure_moto_installed, MotoProcess};

use crate::emulator::{BoxFuture, Emulator};
use crate::fault::{FaultKind, Faults};
use crate::inventory::Object;
use crate::store::StateFile;

/// The AWS account the lab's EC2 is: moto's default account.
pub const ACCOUNT_ID: &str = "123456789012";

/// The name of the lab's EKS cluster, backed by the lab's Kubernetes API.
pub const EKS_CLUSTER_NAME: &str = "lab-eks";

/// A list as Terraform takes it in a `TF_VAR_` variable: a JSON list of strings (valid HCL too).
pub(crate) fn tf_list(items: &[String]) -> String {
    serde_json::to_string(items).unwrap_or_else(|_| "[]".into())
}

/// The seed moto's random IDs start from; mutation N is made with seed `BASE_SEED + N`.
const BASE_SEED: u64 = 4200;

/// An EC2 error, as EC2 returns it in XML.
#[derive(Debug, Clone)]
pub struct Ec2Error {
    pub status: u16,
    pub code: String,
    pub message: String,
}

impl std::fmt::Display for Ec2Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

/// EC2's error document.
pub fn error_xml(code: &str, message: &str) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Response><Errors><Error><Code>{}</Code><Message>{}</Message></Error></Errors><RequestID>{}</RequestID></Response>",
        xml::escape(code),
        xml::escape(message),
        uuid::Uuid::new_v4()
    )
}

/// One journalled mutation: replayed in order after a restart.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct JournalEntry {
    region: String,
    body: String,
}

/// Identities of the AWS baseline, for `lab.env`.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct AwsBaseline {
    pub vpc_id: String,
    pub gateway_subnet_id: String,
    pub gateway_subnet_cidr: String,
    pub node_subnet_ids: Vec<String>,
    pub node_route_table_ids: Vec<String>,
    pub internet_gateway_id: String,
}

/// EC2 through moto: every call is serialised, and every mutation is made with a seed derived from its
/// position and journalled, so that replaying the journal into a fresh moto gives the same IDs.
pub struct Ec2 {
    base_url: String,
    client: reqwest::Client,
    /// The number of journalled mutations; held while a call runs.
    lock: tokio::sync::Mutex<u64>,
    journal: PathBuf,
    pub region: String,
}

fn is_read(action: &str) -> bool {
    action.starts_with("Describe") || action.starts_with("Get")
}

fn auth_header(region: &str) -> String {
    // moto takes the region from the SigV4 scope and does not check the signature.
    format!("AWS4-HMAC-SHA256 Credential=lab/20260101/{region}/ec2/aws4_request, SignedHeaders=host, Signature=0")
}

impl Ec2 {
    fn new(base_url: String, journal: PathBuf, region: String) -> anyhow::Result<Ec2> {
        let client = reqwest::Client::builder().no_proxy().timeout(std::time::Duration::from_secs(60)).build()?;
        Ok(Ec2 { base_url, client, lock: tokio::sync::Mutex::new(0), journal, region })
    }

    async fn moto_api(&self, path: &str) -> anyhow::Result<()> {
        let response = self.client.post(format!("{}{path}", self.base_url)).send().await?;
        anyhow::ensure!(response.status().is_success(), "moto {path} answered {}", response.status());
        Ok(())
    }

    async fn post(&self, region: &str, body: &str) -> anyhow::Result<(u16, String)> {
        let response = self
            .client
            .post(format!("{}/", self.base_url))
            .header("authorization", auth_header(region))
            .header("content-type", "application/x-www-form-urlencoded; charset=utf-8")
            .body(body.to_string())
            .send()
            .await?;
        let status = response.status().as_u16();
        Ok((status, response.text().await?))
    }

    /// Sends a raw query-protocol body; mutations are seeded and journalled.
    pub async fn send_raw(&self, region: &str, body: &str) -> anyhow::Result<(u16, String)> {
        let pairs: Vec<(String, String)> = serde_urlencoded::from_str(body).unwrap_or_default();
        let action = pairs.iter().find(|(k, _)| k == "Action").map(|(_, v)| v.clone()).unwrap_or_default();
        let mut count = self.lock.lock().await;
        if is_read(&action) {
            return self.post(region, body).await;
        }
        self.moto_api(&format!("/moto-api/seed?a={}", BASE_SEED + *count + 1)).await?;
        let (status, text) = self.post(region, body).await?;
        if (200..300).contains(&status) {
            let entry = JournalEntry { region: region.to_string(), body: body.to_string() };
            use std::io::Write;
            let mut file = std::fs::OpenOptions::new().create(true).append(true).open(&self.journal)?;
            writeln!(file, "{}", serde_json::to_string(&entry)?)?;
            *count += 1;
        }
        Ok((status, text))
    }

    /// Calls an action with parameters; the answer is the XML document, or EC2's error.
    pub async fn call(&self, region: &str, action: &str, params: &[(&str, &str)]) -> Result<String, Ec2Error> {
        let mut pairs = vec![("Action", action), ("Version", "2016-11-15")];
        pairs.extend_from_slice(params);
        let body = serde_urlencoded::to_string(&pairs).map_err(|e| Ec2Error {
            status: 0,
            code: "Lab".into(),
            message: e.to_string(),
        })?;
        let (status, text) = self.send_raw(region, &body).await.map_err(|e| Ec2Error {
            status: 0,
            code: "Unreachable".into(),
            message: format!("{e:#}"),
        })?;
        if (200..300).contains(&status) {
            return Ok(text);
        }
        let (code, message) = xml::error(&text).unwrap_or_else(|| ("Unknown".into(), text.chars().take(200).collect()));
        Err(Ec2Error { status, code, message })
    }

    /// Resets moto and replays the journal, so that a restarted moto holds what the last one held.
    async fn restore(&self) -> anyhow::Result<usize> {
        let mut count = self.lock.lock().await;
        self.moto_api("/moto-api/reset").await?;
        self.moto_api(&format!("/moto-api/seed?a={BASE_SEED}")).await?;
        // Touch the lab region first so its default VPC comes from the same seed on every start.
        self.post(&self.region, "Action=DescribeVpcs&Version=2016-11-15").await?;
        let text = std::fs::read_to_string(&self.journal).unwrap_or_default();
        let mut replayed = 0u64;
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            let entry: JournalEntry = serde_json::from_str(line).context("parsing the EC2 journal")?;
            self.moto_api(&format!("/moto-api/seed?a={}", BASE_SEED + replayed + 1)).await?;
            let (status, body) = self.post(&entry.region, &entry.body).await?;
            if !(200..300).contains(&status) {
                crate::http::log(
                    "aws",
                    format!(
                        "replaying journal entry {} failed ({status}): {}",
                        replayed + 1,
                        body.chars().take(300).collect::<String>()
                    ),
                );
            }
            replayed += 1;
        }
        *count = replayed;
        Ok(replayed as usize)
    }
}

/// The AWS emulator: moto, the proxy in front of it, and the baseline.
pub struct Aws {
    pub ec2: Arc<Ec2>,
    pub baseline: AwsBaseline,
    faults: Faults,
    proxy_url: std::sync::Mutex<String>,
    /// The lab CA, which signed the proxy's certificate: `AWS_CA_BUNDLE` for clients.
    ca_file: String,
}

const AWS_FAULTS: &[FaultKind] = &[FaultKind::ServerError, FaultKind::Slow, FaultKind::Throttle];

impl Aws {
    /// Restores moto from the journal (or seeds the baseline on a fresh lab).
    pub async fn open(dir: &Path, moto_url: String, region: &str) -> anyhow::Result<Arc<Aws>> {
        let state_dir = dir.join("state");
        std::fs::create_dir_all(&state_dir)?;
        let ec2 = Arc::new(Ec2::new(moto_url, state_dir.join("aws-journal.jsonl"), region.to_string())?);
        let replayed = ec2.restore().await?;
        let store = StateFile::new(dir, "aws");
        let baseline = match store.load::<AwsBaseline>()? {
            Some(baseline) if replayed > 0 => baseline,
            _ => {
                let baseline =
                    seed_baseline(&ec2).await.map_err(|e| anyhow::anyhow!("seeding the AWS baseline: {e}"))?;
                store.save(&baseline)?;
                baseline
            }
        };
        crate::http::log("aws", format!("moto ready; {replayed} journalled requests replayed"));
        Ok(Arc::new(Aws {
            ec2,
            baseline,
            faults: Faults::new(AWS_FAULTS),
            proxy_url: std::sync::Mutex::new(String::new()),
            ca_file: dir.join("ca.pem").display().to_string(),
        }))
    }

    pub fn set_url(&self, url: String) {
        *self.proxy_url.lock().unwrap() = url;
    }

    pub fn router(self: &Arc<Self>) -> axum::Router {
        proxy::router(self.clone())
    }

    /// The ARN of the lab's EKS cluster: what `cluster_id` is for EKS at onboarding (reference §4.2).
    pub fn eks_cluster_id(&self) -> String {
        format!("arn:aws:eks:{}:{ACCOUNT_ID}:cluster/{EKS_CLUSTER_NAME}", self.ec2.region)
    }

    async fn inventory_objects(&self) -> Result<Vec<Object>, Ec2Error> {
        let region = self.ec2.region.clone();
        let mut out = Vec::new();
        let doc = self.ec2.call(&region, "DescribeVpcs", &[]).await?;
        for vpc in xml::items(&doc, "vpcSet") {
            out.push(Object::new(
                "aws",
                "vpc",
                vpc.text("vpcId"),
                json!({"cidr_block": vpc.text("cidrBlock"), "is_default": vpc.text("isDefault"), "tags": vpc.tags()}),
            ));
        }
        let doc = self.ec2.call(&region, "DescribeSubnets", &[]).await?;
        for subnet in xml::items(&doc, "subnetSet") {
            out.push(Object::new(
                "aws",
                "subnet",
                subnet.text("subnetId"),
                json!({"vpc_id": subnet.text("vpcId"), "cidr_block": subnet.text("cidrBlock"), "availability_zone": subnet.text("availabilityZone"), "tags": subnet.tags()}),
            ));
        }
        let doc = self.ec2.call(&region, "DescribeInternetGateways", &[]).await?;
        for igw in xml::items(&doc, "internetGatewaySet") {
            let attachments: Vec<String> = igw.items("attachmentSet").iter().map(|a| a.text("vpcId")).collect();
            out.push(Object::new(
                "aws",
                "internet_gateway",
                igw.text("internetGatewayId"),
                json!({"attachments": attachments, "tags": igw.tags()}),
            ));
        }
        let doc = self.ec2.call(&region, "DescribeRouteTables", &[]).await?;
        for table in xml::items(&doc, "routeTableSet") {
            let table_id = table.text("routeTableId");
            let mut associations: Vec<serde_json::Value> = table
                .items("associationSet")
                .iter()
                .map(|a| json!({"subnet_id": a.text("subnetId"), "main": a.text("main") == "true"}))
                .collect();
            associations.sort_by_key(|a| a.to_string());
            out.push(Object::new(
                "aws",
                "route_table",
                &table_id,
                json!({"vpc_id": table.text("vpcId"), "associations": associations, "tags": table.tags()}),
            ));
            for route in table.items("routeSet") {
                let destination = route.text("destinationCidrBlock");
                let mut data = serde_json::Map::new();
                for key in [
                    "gatewayId",
                    "networkInterfaceId",
                    "instanceId",
                    "natGatewayId",
                    "transitGatewayId",
                    "vpcPeeringConnectionId",
                    "state",
                    "origin",
                ] {
                    let value = route.text(key);
                    if !value.is_empty() {
                        data.insert(key.to_string(), json!(value));
                    }
                }
                out.push(Object::new(
                    "aws",
                    "route",
                    format!("{table_id}/{destination}"),
                    serde_json::Value::Object(data),
                ));
            }
        }
        // A gateway's interface, and any interface a failed create or delete leaves behind.
        let doc = self.ec2.call(&region, "DescribeNetworkInterfaces", &[]).await?;
        for eni in xml::items(&doc, "networkInterfaceSet") {
            let attached_to = eni.child("attachment").map(|a| a.text("instanceId")).unwrap_or_default();
            let mut groups: Vec<String> = eni.items("groupSet").iter().map(|g| g.text("groupId")).collect();
            groups.sort();
            out.push(Object::new(
                "aws",
                "network_interface",
                eni.text("networkInterfaceId"),
                json!({"subnet_id": eni.text("subnetId"), "vpc_id": eni.text("vpcId"), "private_ip": eni.text("privateIpAddress"),
                       "source_dest_check": eni.text("sourceDestCheck"), "attached_to": attached_to, "security_groups": groups,
                       "description": eni.text("description"), "tags": eni.tags()}),
            ));
        }
        let doc = self.ec2.call(&region, "DescribeSecurityGroups", &[]).await?;
        for group in xml::items(&doc, "securityGroupInfo") {
            out.push(Object::new(
                "aws",
                "security_group",
                group.text("groupId"),
                json!({"name": group.text("groupName"), "vpc_id": group.text("vpcId"), "tags": group.tags()}),
            ));
        }
        let doc = self.ec2.call(&region, "DescribeAddresses", &[]).await?;
        for address in xml::items(&doc, "addressesSet") {
            out.push(Object::new(
                "aws",
                "elastic_ip",
                address.text("allocationId"),
                json!({"public_ip": address.text("publicIp"), "network_interface_id": address.text("networkInterfaceId"),
                       "instance_id": address.text("instanceId"), "tags": address.tags()}),
            ));
        }
        let doc = self.ec2.call(&region, "DescribeInstances", &[]).await?;
        for reservation in xml::items(&doc, "reservationSet") {
            for instance in reservation.items("instancesSet") {
                let state = instance.child("instanceState").map(|s| s.text("name")).unwrap_or_default();
                if state == "terminated" {
                    continue;
                }
                let enis: Vec<String> =
                    instance.items("networkInterfaceSet").iter().map(|n| n.text("networkInterfaceId")).collect();
                out.push(Object::new(
                    "aws",
                    "instance",
                    instance.text("instanceId"),
                    json!({"subnet_id": instance.text("subnetId"), "private_ip": instance.text("privateIpAddress"), "instance_type": instance.text("instanceType"), "network_interfaces": enis, "tags": instance.tags()}),
                ));
            }
        }
        Ok(out)
    }
}

impl Emulator for Aws {
    fn target(&self) -> &'static str {
        "aws"
    }

    fn faults(&self) -> &Faults {
        &self.faults
    }

    fn inventory(&self) -> BoxFuture<'_, anyhow::Result<Vec<Object>>> {
        Box::pin(async move { self.inventory_objects().await.map_err(|e| anyhow::anyhow!("EC2 {e}")) })
    }

    fn env(&self) -> Vec<(String, String)> {
        let url = self.proxy_url.lock().unwrap().clone();
        vec![
            ("AWS_ENDPOINT_URL_EC2".into(), url),
            ("AWS_CA_BUNDLE".into(), self.ca_file.clone()),
            ("AWS_REGION".into(), self.ec2.region.clone()),
            // boto3 and the AWS CLI read the region from AWS_DEFAULT_REGION, the Rust SDK from AWS_REGION.
            ("AWS_DEFAULT_REGION".into(), self.ec2.region.clone()),
            ("AWS_ACCESS_KEY_ID".into(), "lab-access-key".into()),
            ("AWS_SECRET_ACCESS_KEY".into(), "lab-secret-key".into()),
            ("LAB_AWS_VPC_ID".into(), self.baseline.vpc_id.clone()),
            ("LAB_AWS_GATEWAY_SUBNET_CIDR".into(), self.baseline.gateway_subnet_cidr.clone()),
            ("LAB_AWS_NODE_ROUTE_TABLE_IDS".into(), self.baseline.node_route_table_ids.join(",")),
            ("LAB_EKS_CLUSTER_ID".into(), self.eks_cluster_id()),
            ("TF_VAR_aws_region".into(), self.ec2.region.clone()),
            ("TF_VAR_aws_vpc_id".into(), self.baseline.vpc_id.clone()),
            ("TF_VAR_aws_gateway_subnet_cidr".into(), self.baseline.gateway_subnet_cidr.clone()),
            ("TF_VAR_aws_node_route_table_ids".into(), tf_list(&self.baseline.node_route_table_ids)),
            ("TF_VAR_eks_cluster_id".into(), self.eks_cluster_id()),
        ]
    }

    fn describe(&self) -> String {
        format!("{} (TLS; EC2 query API, moto behind the lab's proxy)", self.proxy_url.lock().unwrap())
    }
}

fn name_tag<'a>(resource_type: &'a str, name: &'a str) -> [(&'a str, &'a str); 3] {
    [
        ("TagSpecification.1.ResourceType", resource_type),
        ("TagSpecification.1.Tag.1.Key", "Name"),
        ("TagSpecification.1.Tag.1.Value", name),
    ]
}

/// The AWS baseline: a VPC with a gateway subnet and two node subnets, an internet gateway, and a node route
/// table whose default route points at the internet gateway.
async fn seed_baseline(ec2: &Ec2) -> Result<AwsBaseline, Ec2Error> {
    let region = ec2.region.clone();
    let az = format!("{region}a");
    let mut params = vec![("CidrBlock", "10.10.0.0/16")];
    params.extend(name_tag("vpc", "lab-vpc"));
    let vpc_id = xml::first(&ec2.call(&region, "CreateVpc", &params).await?, "vpcId");
    let mut subnet_ids = Vec::new();
    for (cidr, name) in
        [("10.10.0.0/24", "lab-gateway"), ("10.10.1.0/24", "lab-nodes-a"), ("10.10.2.0/24", "lab-nodes-b")]
    {
        let mut params = vec![("VpcId", vpc_id.as_str()), ("CidrBlock", cidr), ("AvailabilityZone", az.as_str())];
        params.extend(name_tag("subnet", name));
        subnet_ids.push(xml::first(&ec2.call(&region, "CreateSubnet", &params).await?, "subnetId"));
    }
    let igw_id = xml::first(
        &ec2.call(&region, "CreateInternetGateway", &name_tag("internet-gateway", "lab-igw")).await?,
        "internetGatewayId",
    );
    ec2.call(&region, "AttachInternetGateway", &[("InternetGatewayId", &igw_id), ("VpcId", &vpc_id)]).await?;
    let mut tables = Vec::new();
    for (name, subnets) in [("lab-gateway-rt", &subnet_ids[0..1]), ("lab-nodes-rt", &subnet_ids[1..3])] {
        let mut params = vec![("VpcId", vpc_id.as_str())];
        params.extend(name_tag("route-table", name));
        let table = xml::first(&ec2.call(&region, "CreateRouteTable", &params).await?, "routeTableId");
        ec2.call(
            &region,
            "CreateRoute",
            &[("RouteTableId", &table), ("DestinationCidrBlock", "0.0.0.0/0"), ("GatewayId", &igw_id)],
        )
        .await?;
        for subnet in subnets {
            ec2.call(&region, "AssociateRouteTable", &[("RouteTableId", &table), ("SubnetId", subnet)]).await?;
        }
        tables.push(table);
    }
    Ok(AwsBaseline {
        vpc_id,
        gateway_subnet_id: subnet_ids[0].clone(),
        gateway_subnet_cidr: "10.10.0.0/24".into(),
        node_subnet_ids: subnet_ids[1..].to_vec(),
        node_route_table_ids: vec![tables[1].clone()],
        internet_gateway_id: igw_id,
    })
}
