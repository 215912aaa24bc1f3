# Per-MCP-server egress containment on AWS in one apply: the fabric (egress gateway, EKS cluster onboarded,
# node routes through the gateway, pod IPs unmasqueraded), tier 1 (named infrastructure permits) and tier 3
# (default deny, logged) for the MCP namespace, tier 2 (each server's own permit list) as one FirewallPolicy
# per server, and the decisions exported to a syslog server. `check` blocks ask the verdict data source what
# the gateway decides, from live state, after every apply.
#
# Inputs come from the environment (TF_VAR_*), which the lab's lab.env sets:
# `. /path/to/lab/lab.env && terraform apply`. The MCP namespace must exist (Obot creates `obot-mcp`).
terraform {
  required_providers {
    aviatrix = { source = "mcp-egress/aviatrix" }
  }
}

provider "aviatrix" {}

variable "aws_account_name" { type = string }
variable "aws_region" { type = string }
variable "aws_vpc_id" { type = string }
variable "aws_gateway_subnet_cidr" { type = string }
variable "aws_node_route_table_ids" { type = list(string) }
variable "eks_cluster_id" { type = string }

variable "mcp_namespace" {
  description = "The namespace the MCP servers run in (Obot's default is obot-mcp); it must exist."
  type        = string
  default     = "default"
}

variable "mcp_servers" {
  description = "The MCP servers and the domains each may reach; an empty list means zero egress."
  type = map(object({
    domains = list(string)
    ports   = optional(list(number), [443])
  }))
  default = {
    "healthcare-mcp" = { domains = ["api.ehr.example.com"] }
    "search-mcp"     = { domains = ["api.search.example.com"] }
  }
}

variable "syslog_server" {
  description = "Where the gateway sends its decisions (a SIEM's syslog listener); empty for none."
  type        = string
  default     = ""
}

variable "syslog_port" {
  type    = number
  default = 514
}

resource "aviatrix_mcp_egress_gateway" "egress" {
  name         = "mcp-egress"
  cloud        = "aws"
  account_name = var.aws_account_name
  region       = var.aws_region
  vpc_id       = var.aws_vpc_id
  subnet_cidr  = var.aws_gateway_subnet_cidr
  size         = "t3.small"
}

resource "aviatrix_mcp_egress_cluster" "k8s" {
  cloud      = "aws"
  cluster_id = var.eks_cluster_id
}

resource "aviatrix_mcp_egress_route" "nodes" {
  gateway         = aviatrix_mcp_egress_gateway.egress.name
  route_table_ids = toset(var.aws_node_route_table_ids)
}

resource "aviatrix_mcp_egress_masquerade" "nodes" {
  flavor = "eks"
}

# Tiers 1 and 3 for the namespace.
resource "aviatrix_mcp_egress_policy" "mcp" {
  cluster   = aviatrix_mcp_egress_cluster.k8s.id
  namespace = var.mcp_namespace
  named_permits = [
    { name = "registry", domains = ["registry.npmjs.org", "*.dkr.ecr.${var.aws_region}.amazonaws.com"] },
  ]
}

# Tier 2: each server's own permit list.
resource "aviatrix_mcp_egress_server" "mcp" {
  for_each   = var.mcp_servers
  namespace  = var.mcp_namespace
  name       = each.key
  domains    = each.value.domains
  ports      = each.value.ports
  depends_on = [aviatrix_mcp_egress_policy.mcp]
}

resource "aviatrix_mcp_egress_log_export" "siem" {
  count    = var.syslog_server == "" ? 0 : 1
  index    = 0
  name     = "siem"
  server   = var.syslog_server
  port     = var.syslog_port
  protocol = "udp"
}

# The gateway's decisions, from live state; read after the servers exist (a data block nested in a check
# with depends_on would be re-read on every plan, so these sit beside their checks).
data "aviatrix_mcp_egress_verdict" "exfil" {
  cluster    = aviatrix_mcp_egress_cluster.k8s.id
  namespace  = var.mcp_namespace
  pod_labels = { app = "healthcare-mcp" }
  host       = "exfil.attacker.io"
  port       = 443
  depends_on = [aviatrix_mcp_egress_server.mcp]
}

check "exfiltration_is_dropped_by_tier_3" {
  assert {
    condition     = data.aviatrix_mcp_egress_verdict.exfil.action == "drop" && data.aviatrix_mcp_egress_verdict.exfil.rule == "tier3-default-deny"
    error_message = "exfil.attacker.io:443 is not dropped by tier3-default-deny: ${data.aviatrix_mcp_egress_verdict.exfil.reason}"
  }
}

data "aviatrix_mcp_egress_verdict" "own" {
  for_each   = var.mcp_servers
  cluster    = aviatrix_mcp_egress_cluster.k8s.id
  namespace  = var.mcp_namespace
  pod_labels = { app = each.key }
  host       = length(each.value.domains) == 0 ? "example.com" : replace(each.value.domains[0], "/^\\*\\./", "www.")
  port       = each.value.ports[0]
  depends_on = [aviatrix_mcp_egress_server.mcp]
}

check "each_server_reaches_its_own_domains_by_tier_2" {
  assert {
    condition = alltrue([
      for name, server in var.mcp_servers :
      length(server.domains) == 0 ? data.aviatrix_mcp_egress_verdict.own[name].action == "drop" : (
        data.aviatrix_mcp_egress_verdict.own[name].action == "permit" && data.aviatrix_mcp_egress_verdict.own[name].tier == 2
      )
    ])
    error_message = "a server does not reach its own first domain through tier 2"
  }
}

output "cluster" {
  value = aviatrix_mcp_egress_cluster.k8s.id
}

output "policies" {
  description = "The FirewallPolicy of each server (kubectl get firewallpolicy -n <namespace>)."
  value       = { for name, server in aviatrix_mcp_egress_server.mcp : name => server.policy_name }
}
