# The lab's charts (the stand-ins with the real charts' value names): both releases deployed, the MCP
# namespace there, nothing in it uncontained; bad inputs refused at plan.
run "lab" {
  module { source = "../_tests/lab" }
}

run "platform" {
  variables {
    k8s_firewall_chart = { chart = "${run.lab.charts_dir}/k8s-firewall" }
    obot_chart         = { chart = "${run.lab.charts_dir}/obot" }
    sensitive_values   = [yamlencode({ secret = { OBOT_BOOTSTRAP_TOKEN = "module-test-token-0123456789" } })]
  }

  assert {
    condition     = output.obot_status == "deployed" && output.k8s_firewall_status == "deployed"
    error_message = "the releases are not deployed: obot ${output.obot_status}, k8s-firewall ${output.k8s_firewall_status}"
  }
  assert {
    condition     = output.mcp_namespace == "obot-mcp" && output.namespace == "obot"
    error_message = "unexpected namespaces: ${output.namespace}, ${output.mcp_namespace}"
  }
  assert {
    condition     = yamldecode(aviatrix_mcp_egress_release.obot.values[0]).config.OBOT_SERVER_MCPDEFAULT_DENY_ALL_EGRESS == "true" && yamldecode(aviatrix_mcp_egress_release.obot.values[0]).config.OBOT_SERVER_MCPNETWORK_POLICY_PROVIDER_CHART_NAME == "aviatrix-network-policy-controller"
    error_message = "Obot is not told to run the network policy controller with default-deny egress: ${aviatrix_mcp_egress_release.obot.values[0]}"
  }
}

run "mcp_namespace" {
  module { source = "./tests/inventory" }
  variables {
    namespace = run.platform.mcp_namespace
  }

  assert {
    condition     = length(output.unprotected) == 0
    error_message = "uncontained workloads in the MCP namespace: ${jsonencode(output.unprotected)}"
  }
}

run "bad_namespace" {
  command = plan
  variables {
    mcp_namespace = "Obot_MCP"
  }
  expect_failures = [var.mcp_namespace]
}
