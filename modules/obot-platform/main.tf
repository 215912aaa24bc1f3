# The cluster side of the containment: the Aviatrix CRDs (k8s-firewall) and Obot with its network policy
# controller enabled and default-deny egress for MCP servers. Both releases are atomic and report helm's real
# status; Obot waits for the CRDs.
locals {
  # Relative paths are relative to the root module's directory; make them absolute so helm finds them.
  local_chart = { for k, c in { k8s_firewall = var.k8s_firewall_chart, obot = var.obot_chart } :
    k => c.repository == null && !startswith(c.chart, "oci://") && !startswith(c.chart, "/") ? abspath("${path.root}/${c.chart}") : c.chart
  }
}

resource "aviatrix_mcp_egress_release" "k8s_firewall" {
  name       = "k8s-firewall"
  namespace  = "kube-system"
  chart      = local.local_chart.k8s_firewall
  repository = var.k8s_firewall_chart.repository
  version    = var.k8s_firewall_chart.version

  timeouts {
    create = var.timeouts.create
    update = var.timeouts.update
  }
}

resource "aviatrix_mcp_egress_release" "obot" {
  name             = "obot"
  namespace        = var.namespace
  create_namespace = true
  chart            = local.local_chart.obot
  repository       = var.obot_chart.repository
  version          = var.obot_chart.version
  values = concat([yamlencode({
    mcpNamespace = { name = var.mcp_namespace }
    config = {
      OBOT_SERVER_MCPRUNTIME_BACKEND                       = "kubernetes"
      OBOT_SERVER_MCPNETWORK_POLICY_PROVIDER_CHART_REPO    = var.network_policy_controller.repository
      OBOT_SERVER_MCPNETWORK_POLICY_PROVIDER_CHART_NAME    = var.network_policy_controller.name
      OBOT_SERVER_MCPNETWORK_POLICY_PROVIDER_CHART_VERSION = var.network_policy_controller.version
      OBOT_SERVER_MCPDEFAULT_DENY_ALL_EGRESS               = tostring(var.default_deny_egress)
    }
  })], var.values)
  sensitive_values         = length(var.sensitive_values) == 0 ? null : var.sensitive_values
  sensitive_values_version = length(var.sensitive_values) == 0 ? null : var.sensitive_values_version

  timeouts {
    create = var.timeouts.create
    update = var.timeouts.update
  }

  depends_on = [aviatrix_mcp_egress_release.k8s_firewall]
}
