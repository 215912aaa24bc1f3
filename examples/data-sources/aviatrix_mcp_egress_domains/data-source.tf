terraform {
  required_providers {
    aviatrix = { source = "mcp-egress/aviatrix" }
  }
}

data "aviatrix_mcp_egress_domains" "github_mcp" {
  domains = ["api.github.com", "*.githubusercontent.com", "raw.githubusercontent.com", "API.GitHub.com."]
}

# ["*.githubusercontent.com", "api.github.com"]
output "permits" {
  value = data.aviatrix_mcp_egress_domains.github_mcp.normalized
}

# raw.githubusercontent.com: covered by *.githubusercontent.com; API.GitHub.com.: same domain as "api.github.com"
output "dropped" {
  value = data.aviatrix_mcp_egress_domains.github_mcp.removed
}
