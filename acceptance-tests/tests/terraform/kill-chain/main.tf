# What the gateway decides for the kill chain's pods, from live state only: a root with nothing but verdict
# data sources, for `terraform test` (kill_chain.tftest.hcl) after the containment example is applied.
terraform {
  required_providers {
    aviatrix = { source = "mcp-egress/aviatrix" }
  }
}

provider "aviatrix" {}

variable "cluster" { type = string }
variable "namespace" { type = string }

data "aviatrix_mcp_egress_verdict" "ehr" {
  cluster   = var.cluster
  namespace = var.namespace
  pod       = "healthcare-mcp-7f4d9c"
  host      = "api.ehr.example.com"
}

data "aviatrix_mcp_egress_verdict" "registry" {
  cluster   = var.cluster
  namespace = var.namespace
  pod       = "healthcare-mcp-7f4d9c"
  host      = "registry.npmjs.org"
}

data "aviatrix_mcp_egress_verdict" "exfil" {
  cluster   = var.cluster
  namespace = var.namespace
  pod       = "healthcare-mcp-7f4d9c"
  host      = "exfil.attacker.io"
  port      = 443
}

data "aviatrix_mcp_egress_verdict" "borrowed" {
  cluster   = var.cluster
  namespace = var.namespace
  pod       = "search-mcp-5b8c21"
  host      = "api.ehr.example.com"
}
