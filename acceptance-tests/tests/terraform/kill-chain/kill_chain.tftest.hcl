# The seed's kill chain as assertions: tier 2 permits the server's own domain, tier 1 the registry, tier 3
# drops the exfiltration, and one server's permit is not another's.
run "kill_chain" {
  command = apply

  assert {
    condition     = data.aviatrix_mcp_egress_verdict.ehr.action == "permit" && data.aviatrix_mcp_egress_verdict.ehr.tier == 2 && data.aviatrix_mcp_egress_verdict.ehr.rule == "tier2-healthcare-mcp"
    error_message = "api.ehr.example.com: ${data.aviatrix_mcp_egress_verdict.ehr.reason}"
  }
  assert {
    condition     = data.aviatrix_mcp_egress_verdict.registry.action == "permit" && data.aviatrix_mcp_egress_verdict.registry.tier == 1 && data.aviatrix_mcp_egress_verdict.registry.rule == "tier1-registry"
    error_message = "registry.npmjs.org: ${data.aviatrix_mcp_egress_verdict.registry.reason}"
  }
  assert {
    condition     = data.aviatrix_mcp_egress_verdict.exfil.action == "drop" && data.aviatrix_mcp_egress_verdict.exfil.tier == 3 && data.aviatrix_mcp_egress_verdict.exfil.rule == "tier3-default-deny"
    error_message = "exfil.attacker.io: ${data.aviatrix_mcp_egress_verdict.exfil.reason}"
  }
  assert {
    condition     = data.aviatrix_mcp_egress_verdict.borrowed.action == "drop" && data.aviatrix_mcp_egress_verdict.borrowed.rule == "tier3-default-deny"
    error_message = "search-mcp borrowed healthcare-mcp's permit: ${data.aviatrix_mcp_egress_verdict.borrowed.reason}"
  }
}
