//! The controller's view of Azure: launching a gateway's VM and NIC in a VNet subnet, resizing and tagging
//! the VM, finding routes that point at it, and removing it. The NIC and VM then show in ARM as the real ones
//! would.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::{json, Value};

use super::{new_etag, Azure, REGIONS};
use crate::controller::{CloudHost, Instance, LaunchRequest};
use crate::emulator::BoxFuture;

/// Hosts gateways in the Azure emulator.
pub struct AzureHost {
    pub azure: Arc<Azure>,
}

impl AzureHost {
    fn launch_now(&self, request: &LaunchRequest) -> Result<Instance, String> {
        let azure = &self.azure;
        // vpc_id is "<vnet_name>:<resource_group>:<vnet_resource_guid>" (reference §2.2).
        let parts: Vec<&str> = request.vpc_id.split(':').collect();
        let [vnet_name, group, guid] = parts[..] else {
            return Err(format!(
                "Invalid vpc_id {}: for Azure use \"<vnet_name>:<resource_group>:<vnet_resource_guid>\"",
                request.vpc_id
            ));
        };
        let vnet_id = azure.network_id(group, &format!("virtualNetworks/{vnet_name}"));
        let vnet = azure.read(|s| s.resources.get(&vnet_id.to_lowercase()).cloned());
        let Some(vnet) = vnet else {
            return Err(format!("VNet {vnet_name} does not exist in resource group {group}"));
        };
        let actual_guid = vnet.pointer("/properties/resourceGuid").and_then(Value::as_str).unwrap_or("");
        if !actual_guid.eq_ignore_ascii_case(guid) {
            return Err(format!(
                "VNet {vnet_name} in resource group {group} has resource GUID {actual_guid}, not {guid}"
            ));
        }
        let location = vnet.get("location").and_then(Value::as_str).unwrap_or("").to_string();
        let display = REGIONS.iter().find(|(n, _)| *n == location).map(|(_, d)| *d).unwrap_or("");
        if request.vpc_region != display {
            return Err(format!(
                "vpc_region {:?} does not match VNet {vnet_name}, which is in {display:?}; Azure regions are given by display name",
                request.vpc_region
            ));
        }
        let subnet_prefix = format!("{}/subnets/", vnet_id.to_lowercase());
        let subnet = azure.read(|s| {
            s.resources
                .range(subnet_prefix.clone()..)
                .take_while(|(k, _)| k.starts_with(&subnet_prefix))
                .map(|(_, r)| r.clone())
                .find(|r| {
                    r.pointer("/properties/addressPrefix").and_then(Value::as_str) == Some(request.subnet_cidr.as_str())
                })
        });
        let Some(subnet) = subnet else {
            return Err(format!("VNet {vnet_name} has no subnet with CIDR {}", request.subnet_cidr));
        };
        let subnet_id = subnet["id"].as_str().unwrap_or("").to_string();
        let net: ipnet::Ipv4Net =
            request.subnet_cidr.parse().map_err(|_| format!("Invalid gw_subnet {}", request.subnet_cidr))?;
        let used: Vec<String> = azure.read(|s| {
            s.resources
                .values()
                .filter_map(|r| r.pointer("/properties/ipConfigurations/0/properties/privateIPAddress"))
                .filter_map(|ip| ip.as_str().map(str::to_string))
                .collect()
        });
        // Azure reserves the first four addresses of a subnet.
        let private_ip = net
            .hosts()
            .skip(3)
            .map(|ip| ip.to_string())
            .find(|ip| !used.contains(ip))
            .ok_or_else(|| format!("Subnet {} has no free address", request.subnet_cidr))?;
        let nic_name = format!("av-nic-{}_eth0", request.gw_name);
        let nic_id = azure.network_id(group, &format!("networkInterfaces/{nic_name}"));
        let vm_id =
            format!("{}/providers/Microsoft.Compute/virtualMachines/av-gw-{}", azure.group_id(group), request.gw_name);
        let nic = json!({
            "id": nic_id, "name": nic_name, "type": "Microsoft.Network/networkInterfaces", "location": location,
            "etag": new_etag(), "tags": {(CREATED_TAG.0): CREATED_TAG.1},
            "properties": {
                "provisioningState": "Succeeded",
                "enableIPForwarding": true,
                "ipConfigurations": [{
                    "id": format!("{nic_id}/ipConfigurations/ipconfig1"), "name": "ipconfig1",
                    "properties": {"privateIPAddress": private_ip, "privateIPAllocationMethod": "Static",
                                   "subnet": {"id": subnet_id}, "primary": true}
                }],
                "virtualMachine": {"id": vm_id}
            }
        });
        let vm = json!({
            "id": vm_id, "name": format!("av-gw-{}", request.gw_name), "type": "Microsoft.Compute/virtualMachines",
            "location": location, "tags": {(CREATED_TAG.0): CREATED_TAG.1},
            "properties": {"provisioningState": "Succeeded", "hardwareProfile": {"vmSize": request.gw_size},
                           "networkProfile": {"networkInterfaces": [{"id": nic_id}]}}
        });
        azure.mutate(|s| {
            s.resources.insert(nic_id.to_lowercase(), nic);
            s.resources.insert(vm_id.to_lowercase(), vm);
        });
        Ok(Instance {
            instance_id: vm_id,
            network_interface_id: nic_id,
            private_ip,
            security_group_id: String::new(),
            subnet_id,
        })
    }
}

/// The tag Aviatrix puts on what it creates in Azure; user tags come beside it.
const CREATED_TAG: (&str, &str) = ("Aviatrix-Created-Resource", "Do-Not-Delete-Aviatrix-Created-Resource");

impl AzureHost {
    /// Changes the gateway VM, which must still exist.
    fn change_vm(&self, instance: &Instance, change: impl FnOnce(&mut Value)) -> Result<(), String> {
        self.azure.mutate(|s| match s.resources.get_mut(&instance.instance_id.to_lowercase()) {
            Some(vm) => {
                change(vm);
                vm["etag"] = Value::String(new_etag());
                Ok(())
            }
            None => Err(format!("virtual machine {} does not exist", instance.instance_id)),
        })
    }
}

impl CloudHost for AzureHost {
    fn resize<'a>(&'a self, instance: &'a Instance, size: &'a str) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(
            async move { self.change_vm(instance, |vm| vm["properties"]["hardwareProfile"]["vmSize"] = json!(size)) },
        )
    }

    fn retag<'a>(
        &'a self,
        instance: &'a Instance,
        _previous: &'a BTreeMap<String, String>,
        tags: &'a BTreeMap<String, String>,
    ) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async move {
            let mut all = serde_json::Map::new();
            all.insert(CREATED_TAG.0.into(), json!(CREATED_TAG.1));
            all.extend(tags.iter().map(|(k, v)| (k.clone(), json!(v))));
            self.change_vm(instance, |vm| vm["tags"] = Value::Object(all))
        })
    }

    fn launch<'a>(&'a self, request: &'a LaunchRequest) -> BoxFuture<'a, Result<Instance, String>> {
        Box::pin(async move { self.launch_now(request) })
    }

    fn references<'a>(&'a self, instance: &'a Instance) -> BoxFuture<'a, Result<Vec<String>, String>> {
        Box::pin(async move {
            Ok(self.azure.read(|s| {
                s.resources
                    .values()
                    .filter(|r| r.get("type").and_then(Value::as_str) == Some("Microsoft.Network/routeTables/routes"))
                    .filter(|r| {
                        r.pointer("/properties/nextHopIpAddress").and_then(Value::as_str)
                            == Some(instance.private_ip.as_str())
                    })
                    .filter_map(|r| r.get("id").and_then(Value::as_str).map(str::to_string))
                    .collect()
            }))
        })
    }

    fn terminate<'a>(&'a self, instance: &'a Instance) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async move {
            self.azure.mutate(|s| {
                super::ops::remove_tree(s, &instance.network_interface_id.to_lowercase());
                super::ops::remove_tree(s, &instance.instance_id.to_lowercase());
            });
            Ok(())
        })
    }
}
