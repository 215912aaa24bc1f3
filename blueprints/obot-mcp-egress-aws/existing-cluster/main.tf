# Obot with per-MCP-server egress containment on an EKS cluster you already have, in one apply: the egress
# gateway in the cluster's VPC (or your existing spoke), the node routes through it, VPC CNI external SNAT,
# the cluster onboarded with every feature flag DCF on Kubernetes needs, tiers 1 and 3 for the MCP namespace,
# the k8s-firewall CRDs and Obot with its network policy controller, tier 2 for each MCP server, and the
# decisions exported to a SIEM. Only this project's provider and modules are used.
#
# Inputs come from terraform.tfvars or the environment (TF_VAR_*); the lab's lab.env sets every one:
# `. /path/to/lab/lab.env && terraform init && terraform apply`.
terraform {
  required_version = ">= 1.9"
  required_providers {
    aviatrix = { source = "mcp-egress/aviatrix" }
  }
}

# Controller, AWS and Kubernetes settings come from the environment (AVIATRIX_*, AWS_*, KUBECONFIG).
provider "aviatrix" {}

locals {
  # Lab charts when charts_dir is set, the published ones otherwise.
  k8s_firewall_chart = var.charts_dir == "" ? var.k8s_firewall_chart : { chart = "${var.charts_dir}/k8s-firewall", repository = null, version = null }
  obot_chart         = var.charts_dir == "" ? var.obot_chart : { chart = "${var.charts_dir}/obot", repository = null, version = null }
}

# 1. The fabric: routes exist before anything in this root needs the nodes' egress.
module "egress" {
  source = "../../../modules/egress-gateway"

  cloud            = "aws"
  existing_gateway = var.existing_gateway
  name             = var.gateway_name
  account_name     = var.aws_account_name
  region           = var.aws_region
  vpc_id           = var.aws_vpc_id
  subnet_cidr      = var.aws_gateway_subnet_cidr
  size             = var.gateway_size
  route_table_ids  = var.aws_node_route_table_ids
  tags             = var.tags
}

# 2. Onboarding, tier 1 (named infrastructure permits) and tier 3 (default deny, logged).
module "policy" {
  source = "../../../modules/egress-policy"

  cloud           = "aws"
  cluster_id      = var.eks_cluster_id
  region          = var.aws_region
  namespace       = var.mcp_namespace
  pod_ip_fallback = var.pod_ip_fallback
  extra_permits   = var.extra_permits
  enforcement     = var.enforcement
  log_export      = var.syslog_server == "" ? null : { server = var.syslog_server, port = var.syslog_port, protocol = var.syslog_protocol }

  depends_on = [module.egress]
}

# 3. The CRDs and Obot, after the routes and the onboarding.
module "obot" {
  source = "../../../modules/obot-platform"

  mcp_namespace            = var.mcp_namespace
  k8s_firewall_chart       = local.k8s_firewall_chart
  obot_chart               = local.obot_chart
  values                   = var.obot_values
  sensitive_values         = var.obot_bootstrap_token == "" ? [] : [yamlencode({ secret = { OBOT_BOOTSTRAP_TOKEN = var.obot_bootstrap_token } })]
  sensitive_values_version = var.obot_secrets_version

  depends_on = [module.egress, module.policy]
}

# 4. Tier 2: one FirewallPolicy per MCP server, in the namespace Obot made, between the policy and Obot.
module "servers" {
  source = "../../../modules/mcp-server"

  policy_id = module.policy.policy_id
  namespace = module.obot.mcp_namespace
  servers   = var.mcp_servers
}

# What the gateway decides, from live state, after every apply: the exfiltration the seed describes is
# dropped by tier 3, and each server reaches its own first domain through tier 2.
data "aviatrix_mcp_egress_verdict" "exfil" {
  for_each   = var.mcp_servers
  cluster    = module.policy.cluster
  namespace  = var.mcp_namespace
  pod_labels = { app = each.key }
  host       = var.probe_host
  port       = 443
  depends_on = [module.servers]
}

check "exfiltration_is_dropped_by_tier_3" {
  assert {
    condition     = alltrue([for name, v in data.aviatrix_mcp_egress_verdict.exfil : v.action == (var.enforcement == "enforce" ? "drop" : "watch") && v.rule == "tier3-default-deny"])
    error_message = "${var.probe_host}:443 is not stopped by tier3-default-deny for every server: ${jsonencode({ for n, v in data.aviatrix_mcp_egress_verdict.exfil : n => v.reason })}"
  }
}

data "aviatrix_mcp_egress_verdict" "own" {
  for_each   = { for name, s in var.mcp_servers : name => s if length(s.domains) > 0 }
  cluster    = module.policy.cluster
  namespace  = var.mcp_namespace
  pod_labels = { app = each.key }
  host       = replace(each.value.domains[0], "/^\\*\\./", "www.")
  port       = each.value.ports[0]
  depends_on = [module.servers]
}

check "each_server_reaches_its_own_domains_by_tier_2" {
  assert {
    condition     = alltrue([for name, v in data.aviatrix_mcp_egress_verdict.own : v.action == "permit" && v.tier == 2])
    error_message = "a server does not reach its first domain through tier 2: ${jsonencode({ for n, v in data.aviatrix_mcp_egress_verdict.own : n => v.reason })}"
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
