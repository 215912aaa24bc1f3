terraform {
  required_version = ">= 1.9"
  required_providers {
    aws      = { source = "hashicorp/aws", version = ">= 5.60" }
    local    = { source = "hashicorp/local", version = ">= 2.5" }
    aviatrix = { source = "mcp-egress/aviatrix" }
  }
}

provider "aws" {
  region = var.region
}

# The controller comes from the environment (AVIATRIX_CONTROLLER_URL, AVIATRIX_USERNAME, AVIATRIX_PASSWORD).
# The cluster is reached through the kubeconfig this root writes once EKS exists; the provider reads it only
# when a resource first needs the cluster, which is after that file is written.
provider "aviatrix" {
  aws {
    region = var.region
  }
  kubernetes {
    config_path = local.kubeconfig_path
  }
}
