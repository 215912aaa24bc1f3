terraform {
  required_providers {
    aviatrix = { source = "mcp-egress/aviatrix" }
  }
}

# Every attribute may come from the environment instead (AVIATRIX_CONTROLLER_URL, AVIATRIX_USERNAME,
# AVIATRIX_PASSWORD, ...), so `provider "aviatrix" {}` is enough where those are set.
provider "aviatrix" {
  controller_url = "https://controller.example.com"
  username       = "terraform"
  # password from AVIATRIX_PASSWORD: keep secrets out of configuration files.

  aws {
    region = "us-east-1"
  }

  kubernetes {
    config_path    = "~/.kube/config"
    config_context = "mcp-cluster"
  }
}
