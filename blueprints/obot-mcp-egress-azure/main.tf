# Net-new: a VNet, AKS and Obot with per-MCP-server egress containment, in one `terraform apply`.
#
# The node subnet's route table is associated, and its default route already goes through the egress gateway,
# before AKS is created (outbound type userDefinedRouting), so nodes bootstrap through the gateway from their
# first boot: no blackhole route, no association made after the fact, no CSE exit 50. Then azure-ip-masq-agent
# is told to keep pod IPs, the cluster is onboarded, tiers 1 and 3 are written, the CRDs and Obot installed,
# and each MCP server gets its tier-2 FirewallPolicy.
locals {
  kubeconfig_path = "${path.root}/.kubeconfig-${var.cluster_name}"
}

resource "azurerm_resource_group" "this" {
  name     = "${var.cluster_name}-rg"
  location = var.location
  tags     = var.tags
}

resource "azurerm_virtual_network" "this" {
  name                = "${var.cluster_name}-vnet"
  resource_group_name = azurerm_resource_group.this.name
  location            = var.location
  address_space       = [var.vnet_cidr]
  tags                = var.tags
}

resource "azurerm_subnet" "gateway" {
  name                 = "egress-gateway"
  resource_group_name  = azurerm_resource_group.this.name
  virtual_network_name = azurerm_virtual_network.this.name
  address_prefixes     = [cidrsubnet(var.vnet_cidr, 8, 0)]
}

resource "azurerm_subnet" "nodes" {
  name                 = "nodes"
  resource_group_name  = azurerm_resource_group.this.name
  virtual_network_name = azurerm_virtual_network.this.name
  address_prefixes     = [cidrsubnet(var.vnet_cidr, 4, 1)]
}

# The gateway subnet reaches the internet directly.
resource "azurerm_route_table" "gateway" {
  name                = "${var.cluster_name}-gateway-rt"
  resource_group_name = azurerm_resource_group.this.name
  location            = var.location
  route {
    name           = "internet"
    address_prefix = "0.0.0.0/0"
    next_hop_type  = "Internet"
  }
  tags = var.tags
}

resource "azurerm_subnet_route_table_association" "gateway" {
  subnet_id      = azurerm_subnet.gateway.id
  route_table_id = azurerm_route_table.gateway.id
}

# The nodes' table: the egress-gateway module adds its default route (a VirtualAppliance hop to the gateway).
# Routes are managed by that module, so this table declares none inline.
resource "azurerm_route_table" "nodes" {
  name                = "${var.cluster_name}-nodes-rt"
  resource_group_name = azurerm_resource_group.this.name
  location            = var.location
  tags                = var.tags
  lifecycle {
    ignore_changes = [route]
  }
}

resource "azurerm_subnet_route_table_association" "nodes" {
  subnet_id      = azurerm_subnet.nodes.id
  route_table_id = azurerm_route_table.nodes.id
}

module "egress" {
  source = "../../modules/egress-gateway"

  cloud           = "azure"
  name            = "${var.cluster_name}-egress"
  account_name    = var.aviatrix_account_name
  region          = var.location
  vpc_id          = azurerm_virtual_network.this.id
  subnet_cidr     = azurerm_subnet.gateway.address_prefixes[0]
  size            = var.gateway_size
  route_table_ids = [azurerm_route_table.nodes.id]
  masquerade      = "none" # set below, once AKS's azure-ip-masq-agent exists
  tags            = var.tags

  depends_on = [azurerm_subnet_route_table_association.gateway, azurerm_subnet_route_table_association.nodes]
}

resource "azurerm_kubernetes_cluster" "this" {
  name                = var.cluster_name
  resource_group_name = azurerm_resource_group.this.name
  location            = var.location
  dns_prefix          = var.cluster_name
  kubernetes_version  = var.kubernetes_version

  default_node_pool {
    name           = "system"
    vm_size        = var.node_vm_size
    node_count     = var.node_count
    vnet_subnet_id = azurerm_subnet.nodes.id
  }

  identity {
    type = "SystemAssigned"
  }

  network_profile {
    network_plugin = "azure" # Azure CNI: pods have VNet IPs the gateway can see
    outbound_type  = "userDefinedRouting"
    service_cidr   = var.service_cidr
    dns_service_ip = cidrhost(var.service_cidr, 10)
  }

  tags = var.tags
  # The nodes' default route through the gateway exists before the first node boots.
  depends_on = [module.egress]
}

# AKS routes through the node subnet's table, so its identity must be able to read and join it.
resource "azurerm_role_assignment" "aks_network" {
  scope                = azurerm_resource_group.this.id
  role_definition_name = "Network Contributor"
  principal_id         = azurerm_kubernetes_cluster.this.identity[0].principal_id
}

# The Aviatrix controller's app registration reads the cluster to resolve SmartGroups.
resource "azurerm_role_assignment" "aviatrix" {
  scope                = azurerm_kubernetes_cluster.this.id
  role_definition_name = "Azure Kubernetes Service Cluster User Role"
  principal_id         = var.aviatrix_principal_id
}

resource "azurerm_role_assignment" "aviatrix_rbac" {
  scope                = azurerm_kubernetes_cluster.this.id
  role_definition_name = "Azure Kubernetes Service RBAC Reader"
  principal_id         = var.aviatrix_principal_id
}

resource "local_sensitive_file" "kubeconfig" {
  filename = local.kubeconfig_path
  content  = azurerm_kubernetes_cluster.this.kube_admin_config_raw != "" ? azurerm_kubernetes_cluster.this.kube_admin_config_raw : azurerm_kubernetes_cluster.this.kube_config_raw
}

# AKS masquerades pod traffic to the node IP unless told otherwise; label enforcement needs pod IPs.
resource "aviatrix_mcp_egress_masquerade" "nodes" {
  flavor               = "aks"
  non_masquerade_cidrs = ["0.0.0.0/0"]
  depends_on           = [local_sensitive_file.kubeconfig]
}

module "policy" {
  source = "../../modules/egress-policy"

  cloud           = "azure"
  cluster_id      = azurerm_kubernetes_cluster.this.id
  region          = var.location
  namespace       = var.mcp_namespace
  pod_ip_fallback = var.pod_ip_fallback
  extra_permits   = var.extra_permits
  log_export      = var.syslog_server == "" ? null : { server = var.syslog_server, port = var.syslog_port, protocol = var.syslog_protocol }

  depends_on = [aviatrix_mcp_egress_masquerade.nodes, azurerm_role_assignment.aviatrix, azurerm_role_assignment.aviatrix_rbac]
}

module "obot" {
  source = "../../modules/obot-platform"

  mcp_namespace            = var.mcp_namespace
  obot_chart               = var.obot_chart
  k8s_firewall_chart       = var.k8s_firewall_chart
  values                   = var.obot_values
  sensitive_values         = var.obot_sensitive_values
  sensitive_values_version = var.obot_secrets_version

  depends_on = [module.policy]
}

module "servers" {
  source = "../../modules/mcp-server"

  policy_id = module.policy.policy_id
  namespace = module.obot.mcp_namespace
  servers   = var.mcp_servers
}

data "aviatrix_mcp_egress_verdict" "exfil" {
  for_each   = var.mcp_servers
  cluster    = module.policy.cluster
  namespace  = var.mcp_namespace
  pod_labels = { app = each.key }
  host       = "exfil.attacker.io"
  port       = 443
  depends_on = [module.servers]
}

check "exfiltration_is_dropped_by_tier_3" {
  assert {
    condition     = alltrue([for v in data.aviatrix_mcp_egress_verdict.exfil : v.action == "drop" && v.rule == "tier3-default-deny"])
    error_message = "exfil.attacker.io:443 is not dropped by tier3-default-deny for every server: ${jsonencode({ for n, v in data.aviatrix_mcp_egress_verdict.exfil : n => v.reason })}"
  }
}

# A cluster the controller registers as Partial cannot resolve label SmartGroups: enforcement by label is not
# live until the controller can read the cluster, or until pod_ip_fallback lists the pod IPs.
check "label_enforcement_is_live" {
  assert {
    condition     = module.policy.cluster_status == "Connected" || var.pod_ip_fallback
    error_message = "the controller reports the cluster ${module.policy.cluster_status}: label SmartGroups do not resolve, so the tiers match no pod. Give the controller read access to the cluster, or set pod_ip_fallback = true (pod IPs read live at every plan)."
  }
}
