# Provider-defined functions (Terraform 1.8 or later).
output "ehr_endpoint_permitted" {
  value = provider::aviatrix::domain_matches("*.ehr.example.com", "fhir.ehr.example.com")
}

output "exfiltration_permitted" {
  value = anytrue([for d in data.aviatrix_mcp_egress_domains.healthcare.normalized : provider::aviatrix::domain_matches(d, "exfil.attacker.io")])
}

output "normalized_example" {
  value = provider::aviatrix::normalize_domain("API.Example.COM.")
}
