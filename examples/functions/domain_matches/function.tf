terraform {
  required_providers {
    aviatrix = { source = "mcp-egress/aviatrix" }
  }
}

# true: a wildcard matches every name below its suffix
output "below" {
  value = provider::aviatrix::domain_matches("*.example.com", "a.b.example.com")
}

# false: never the suffix itself
output "apex" {
  value = provider::aviatrix::domain_matches("*.example.com", "example.com")
}
