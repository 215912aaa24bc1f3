# What the gateway decides for a pod of the given labels, from live state: the test's proof of the tiers.
terraform {
  required_providers {
    aviatrix = { source = "mcp-egress/aviatrix" }
  }
}

variable "cluster" { type = string }
variable "namespace" { type = string }
variable "pod_labels" { type = map(string) }
variable "hosts" { type = list(string) }

data "aviatrix_mcp_egress_verdict" "host" {
  for_each   = toset(var.hosts)
  cluster    = var.cluster
  namespace  = var.namespace
  pod_labels = var.pod_labels
  host       = each.key
  port       = 443
}

output "verdicts" {
  value = { for host, v in data.aviatrix_mcp_egress_verdict.host : host => { action = v.action, tier = v.tier, rule = v.rule, reason = v.reason } }
}
