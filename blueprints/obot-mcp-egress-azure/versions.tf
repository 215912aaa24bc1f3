terraform {
  required_version = ">= 1.9"
  required_providers {
    azurerm  = { source = "hashicorp/azurerm", version = ">= 4.0" }
    local    = { source = "hashicorp/local", version = ">= 2.5" }
    aviatrix = { source = "mcp-egress/aviatrix" }
  }
}

provider "azurerm" {
  features {}
  subscription_id = var.subscription_id
}

# The controller comes from the environment (AVIATRIX_CONTROLLER_URL, AVIATRIX_USERNAME, AVIATRIX_PASSWORD),
# Azure credentials from ARM_*; the cluster through the kubeconfig this root writes once AKS exists, which the
# provider reads only when a resource first needs the cluster.
provider "aviatrix" {
  azure {
    subscription_id = var.subscription_id
  }
  kubernetes {
    config_path = local.kubeconfig_path
  }
}
