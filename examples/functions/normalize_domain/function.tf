terraform {
  required_providers {
    aviatrix = { source = "mcp-egress/aviatrix" }
  }
}

# "api.example.com"
output "normalized" {
  value = provider::aviatrix::normalize_domain("API.Example.COM.")
}

# "xn--bcher-kva.example"
output "punycode" {
  value = provider::aviatrix::normalize_domain("bücher.example")
}
