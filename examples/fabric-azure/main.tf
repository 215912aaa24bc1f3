# The enforcement fabric on Azure in one apply: the egress gateway in the cluster's VNet, the AKS cluster
# onboarded with the feature flags DCF on Kubernetes needs, the node subnets' default route through the gateway
# (a VirtualAppliance next hop), and pod IPs kept unmasqueraded by azure-ip-masq-agent. Inputs come from the
# environment (TF_VAR_*), which the lab's lab.env sets: `. /path/to/lab/lab.env && terraform apply`;
# `terraform destroy` puts the routes and the masquerade configuration back as they were.
terraform {
  required_providers {
    aviatrix = { source = "mcp-egress/aviatrix" }
  }
}

provider "aviatrix" {}

variable "azure_account_name" { type = string }
variable "azure_location" { type = string }
variable "azure_vnet_id" { type = string }
variable "azure_gateway_subnet_cidr" { type = string }
variable "azure_node_route_table_ids" { type = list(string) }
variable "aks_cluster_id" { type = string }

resource "aviatrix_mcp_egress_gateway" "egress" {
  name         = "mcp-egress-azure"
  cloud        = "azure"
  account_name = var.azure_account_name
  region       = var.azure_location
  vpc_id       = var.azure_vnet_id
  subnet_cidr  = var.azure_gateway_subnet_cidr
  size         = "Standard_B2ms"
}

resource "aviatrix_mcp_egress_cluster" "k8s" {
  cloud      = "azure"
  cluster_id = var.aks_cluster_id
}

resource "aviatrix_mcp_egress_route" "nodes" {
  gateway         = aviatrix_mcp_egress_gateway.egress.name
  route_table_ids = toset(var.azure_node_route_table_ids)
}

resource "aviatrix_mcp_egress_masquerade" "nodes" {
  flavor = "aks"
}

output "gateway_private_ip" {
  value = aviatrix_mcp_egress_gateway.egress.private_ip
}

output "routes_pointed_at_before" {
  value = aviatrix_mcp_egress_route.nodes.previous_targets
}
