terraform {
  required_version = ">= 1.9"
  required_providers {
    aviatrix = { source = "mcp-egress/aviatrix" }
  }
}
