# The firewall CRDs and the controller's RBAC (k8s-firewall), then Obot with its network policy controller
# and default egress deny, as the blueprints install them. In the lab, `charts_dir` (lab.env sets
# TF_VAR_charts_dir) is the folder of the lab's test charts; against a real cluster use the published charts,
# e.g. chart = "obot" with repository = "https://charts.obot.ai" and a version.
terraform {
  required_providers {
    aviatrix = { source = "mcp-egress/aviatrix" }
  }
}

provider "aviatrix" {}

variable "charts_dir" {
  type = string
}

variable "obot_bootstrap_token" {
  type      = string
  sensitive = true
  default   = "lab-bootstrap-token-0123456789"
}

resource "aviatrix_mcp_egress_release" "k8s_firewall" {
  name      = "k8s-firewall"
  namespace = "kube-system"
  chart     = "${var.charts_dir}/k8s-firewall"
}

resource "aviatrix_mcp_egress_release" "obot" {
  name             = "obot"
  namespace        = "obot"
  create_namespace = true
  chart            = "${var.charts_dir}/obot"
  values = [yamlencode({
    mcpNamespace = { name = "obot-mcp" }
    config = {
      OBOT_SERVER_MCPNETWORK_POLICY_PROVIDER_CHART_REPO = "https://charts.obot.ai"
      OBOT_SERVER_MCPNETWORK_POLICY_PROVIDER_CHART_NAME = "aviatrix-network-policy-controller"
      OBOT_SERVER_MCPDEFAULT_DENY_ALL_EGRESS            = "true"
    }
  })]
  # Write-only: reaches helm through a private file, never state, plan or a command line.
  sensitive_values         = [yamlencode({ secret = { OBOT_BOOTSTRAP_TOKEN = var.obot_bootstrap_token } })]
  sensitive_values_version = "1"

  timeouts {
    create = "5m"
  }

  depends_on = [aviatrix_mcp_egress_release.k8s_firewall]
}

output "obot_status" {
  value = aviatrix_mcp_egress_release.obot.status
}
