//! The controller's view of AWS: launching a gateway's instance (with its network interface and private IP)
//! in a VPC subnet through EC2, resizing and tagging it, finding routes that point at it, and terminating it.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::{xml, Ec2};
use crate::controller::{CloudHost, Instance, LaunchRequest};
use crate::emulator::BoxFuture;

/// Hosts gateways in moto.
pub struct AwsHost {
    pub ec2: Arc<Ec2>,
}

impl AwsHost {
    async fn launch_now(&self, request: &LaunchRequest) -> Result<Instance, String> {
        let region = request.vpc_region.as_str();
        let ec2 = &self.ec2;
        if !request.vpc_id.starts_with("vpc-") {
            return Err(format!("Invalid vpc_id {}: for AWS use the VPC ID (vpc-…)", request.vpc_id));
        }
        ec2.call(region, "DescribeVpcs", &[("VpcId.1", &request.vpc_id)])
            .await
            .map_err(|e| format!("VPC {} does not exist in region {region}: {e}", request.vpc_id))?;
        let doc = ec2
            .call(
                region,
                "DescribeSubnets",
                &[
                    ("Filter.1.Name", "vpc-id"),
                    ("Filter.1.Value.1", &request.vpc_id),
                    ("Filter.2.Name", "cidr-block"),
                    ("Filter.2.Value.1", &request.subnet_cidr),
                ],
            )
            .await
            .map_err(|e| format!("listing the subnets of {}: {e}", request.vpc_id))?;
        let subnet_id = xml::items(&doc, "subnetSet").first().map(|s| s.text("subnetId")).unwrap_or_default();
        if subnet_id.is_empty() {
            return Err(format!("VPC {} has no subnet with CIDR {}", request.vpc_id, request.subnet_cidr));
        }
        let name = format!("aviatrix-{}", request.gw_name);
        let doc = ec2
            .call(
                region,
                "RunInstances",
                &[
                    ("ImageId", "ami-0aviatrixgw0000000"),
                    ("InstanceType", &request.gw_size),
                    ("SubnetId", &subnet_id),
                    ("MinCount", "1"),
                    ("MaxCount", "1"),
                    ("TagSpecification.1.ResourceType", "instance"),
                    ("TagSpecification.1.Tag.1.Key", "Name"),
                    ("TagSpecification.1.Tag.1.Value", &name),
                ],
            )
            .await
            .map_err(|e| format!("launching the gateway instance: {e}"))?;
        let instance =
            xml::items(&doc, "instancesSet").into_iter().next().ok_or("RunInstances returned no instance")?;
        let eni =
            instance.items("networkInterfaceSet").first().map(|n| n.text("networkInterfaceId")).unwrap_or_default();
        let group = instance.items("groupSet").first().map(|g| g.text("groupId")).unwrap_or_default();
        if !eni.is_empty() {
            // A gateway forwards traffic: its interface does no source/destination check.
            let _ = ec2
                .call(
                    region,
                    "ModifyNetworkInterfaceAttribute",
                    &[("NetworkInterfaceId", &eni), ("SourceDestCheck.Value", "false")],
                )
                .await;
        }
        Ok(Instance {
            instance_id: instance.text("instanceId"),
            network_interface_id: eni,
            private_ip: instance.text("privateIpAddress"),
            security_group_id: group,
            subnet_id,
        })
    }
}

impl AwsHost {
    async fn call(&self, action: &str, params: &[(&str, &str)]) -> Result<String, String> {
        let region = self.ec2.region.clone();
        self.ec2.call(&region, action, params).await.map_err(|e| format!("{action}: {e}"))
    }

    /// EC2 changes an instance type only while the instance is stopped.
    async fn resize_now(&self, instance: &Instance, size: &str) -> Result<(), String> {
        let id = instance.instance_id.as_str();
        self.call("StopInstances", &[("InstanceId.1", id)]).await?;
        self.call("ModifyInstanceAttribute", &[("InstanceId", id), ("InstanceType.Value", size)]).await?;
        self.call("StartInstances", &[("InstanceId.1", id)]).await?;
        Ok(())
    }

    async fn retag_now(
        &self,
        instance: &Instance,
        previous: &BTreeMap<String, String>,
        tags: &BTreeMap<String, String>,
    ) -> Result<(), String> {
        let id = instance.instance_id.as_str();
        let gone: Vec<&String> = previous.keys().filter(|k| !tags.contains_key(*k)).collect();
        if !gone.is_empty() {
            let keys: Vec<(String, &str)> =
                gone.iter().enumerate().map(|(i, k)| (format!("Tag.{}.Key", i + 1), k.as_str())).collect();
            let mut params = vec![("ResourceId.1", id)];
            params.extend(keys.iter().map(|(k, v)| (k.as_str(), *v)));
            self.call("DeleteTags", &params).await?;
        }
        if !tags.is_empty() {
            let pairs: Vec<(String, &str)> = tags
                .iter()
                .enumerate()
                .flat_map(|(i, (k, v))| {
                    [(format!("Tag.{}.Key", i + 1), k.as_str()), (format!("Tag.{}.Value", i + 1), v.as_str())]
                })
                .collect();
            let mut params = vec![("ResourceId.1", id)];
            params.extend(pairs.iter().map(|(k, v)| (k.as_str(), *v)));
            self.call("CreateTags", &params).await?;
        }
        Ok(())
    }

    /// EC2 deletes an instance's primary interface with the instance (`DeleteOnTermination` is true for the
    /// interface RunInstances makes); moto keeps it, attached to the terminated instance and marked false, so
    /// the lab does what EC2 would. A primary interface cannot be detached, but it can be deleted once its
    /// instance is terminated.
    async fn delete_interface_on_termination(&self, instance: &Instance) -> Result<(), String> {
        let eni = instance.network_interface_id.as_str();
        if eni.is_empty() {
            return Ok(());
        }
        let doc = self
            .call("DescribeNetworkInterfaces", &[("Filter.1.Name", "network-interface-id"), ("Filter.1.Value.1", eni)])
            .await?;
        if xml::items(&doc, "networkInterfaceSet").is_empty() {
            return Ok(()); // Already gone.
        }
        self.call("DeleteNetworkInterface", &[("NetworkInterfaceId", eni)]).await.map(|_| ())
    }
}

impl CloudHost for AwsHost {
    fn resize<'a>(&'a self, instance: &'a Instance, size: &'a str) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(self.resize_now(instance, size))
    }

    fn retag<'a>(
        &'a self,
        instance: &'a Instance,
        previous: &'a BTreeMap<String, String>,
        tags: &'a BTreeMap<String, String>,
    ) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(self.retag_now(instance, previous, tags))
    }

    fn launch<'a>(&'a self, request: &'a LaunchRequest) -> BoxFuture<'a, Result<Instance, String>> {
        Box::pin(self.launch_now(request))
    }

    fn references<'a>(&'a self, instance: &'a Instance) -> BoxFuture<'a, Result<Vec<String>, String>> {
        Box::pin(async move {
            let region = self.ec2.region.clone();
            let doc = self
                .ec2
                .call(&region, "DescribeRouteTables", &[])
                .await
                .map_err(|e| format!("listing route tables: {e}"))?;
            let mut refs = Vec::new();
            for table in xml::items(&doc, "routeTableSet") {
                for route in table.items("routeSet") {
                    let eni = route.text("networkInterfaceId");
                    let inst = route.text("instanceId");
                    if (!eni.is_empty() && eni == instance.network_interface_id)
                        || (!inst.is_empty() && inst == instance.instance_id)
                    {
                        refs.push(format!(
                            "route {} in {}",
                            route.text("destinationCidrBlock"),
                            table.text("routeTableId")
                        ));
                    }
                }
            }
            Ok(refs)
        })
    }

    fn terminate<'a>(&'a self, instance: &'a Instance) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async move {
            self.call("TerminateInstances", &[("InstanceId.1", &instance.instance_id)])
                .await
                .map_err(|e| format!("terminating {}: {e}", instance.instance_id))?;
            self.delete_interface_on_termination(instance).await
        })
    }
}
