# Quickstart: normalise an MCP server's egress permit list and ask what it permits.
# Needs no controller, cloud or cluster: the functions and the domains data source run inside the provider.
terraform {
  required_providers {
    aviatrix = { source = "mcp-egress/aviatrix" }
  }
}

# Everything can also come from the environment (AVIATRIX_CONTROLLER_URL, ...); nothing is contacted here.
provider "aviatrix" {}

# The permit list of a healthcare MCP server, as someone might write it.
data "aviatrix_mcp_egress_domains" "healthcare" {
  domains = [
    "api.EHR.example.com.",
    "*.ehr.example.com",
    "fhir.ehr.example.com",
    "registry.npmjs.org",
    "bücher.example",
  ]
}

output "permit_list" {
  description = "The list as the gateway will enforce it: normalised, sorted, nothing redundant."
  value       = data.aviatrix_mcp_egress_domains.healthcare.normalized
}

output "dropped_entries" {
  description = "What was dropped from the list, and why."
  value       = data.aviatrix_mcp_egress_domains.healthcare.removed
}
