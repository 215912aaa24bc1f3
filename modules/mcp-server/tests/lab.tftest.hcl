# Tier 2 on top of the egress-policy module: each server reaches its own domains and nothing else, an empty
# list is zero egress, and a server's permit is not another's.
run "lab" {
  module { source = "../_tests/lab" }
}

run "policy" {
  module { source = "../egress-policy" }
  variables {
    cloud                  = "aws"
    cluster_id             = run.lab.eks_cluster_id
    namespace              = "default"
    infrastructure_permits = {}
  }
}

run "servers" {
  variables {
    policy_id = run.policy.policy_id
    namespace = "default"
    servers = {
      "healthcare-mcp" = { domains = ["api.ehr.example.com"] }
      "search-mcp"     = { domains = ["*.search.example.com"], ports = [443, 8443] }
      "offline-mcp"    = { domains = [] }
    }
  }

  assert {
    condition     = alltrue(values(output.reconciled))
    error_message = "a FirewallPolicy is not reconciled: ${jsonencode(output.reconciled)}"
  }
  assert {
    condition     = output.policies["healthcare-mcp"] == "mcp-egress-healthcare-mcp"
    error_message = "unexpected policy name: ${output.policies["healthcare-mcp"]}"
  }
}

run "healthcare" {
  module { source = "./tests/verdict" }
  variables {
    cluster    = run.policy.cluster
    namespace  = "default"
    pod_labels = { app = "healthcare-mcp" }
    hosts      = ["api.ehr.example.com", "api.search.example.com", "exfil.attacker.io"]
  }

  assert {
    condition     = output.verdicts["api.ehr.example.com"].action == "permit" && output.verdicts["api.ehr.example.com"].tier == 2 && output.verdicts["api.ehr.example.com"].rule == "tier2-healthcare-mcp"
    error_message = "api.ehr.example.com: ${output.verdicts["api.ehr.example.com"].reason}"
  }
  assert {
    condition     = output.verdicts["api.search.example.com"].action == "drop" && output.verdicts["api.search.example.com"].rule == "tier3-default-deny"
    error_message = "healthcare-mcp borrowed search-mcp's permit: ${output.verdicts["api.search.example.com"].reason}"
  }
  assert {
    condition     = output.verdicts["exfil.attacker.io"].action == "drop" && output.verdicts["exfil.attacker.io"].tier == 3
    error_message = "exfil.attacker.io: ${output.verdicts["exfil.attacker.io"].reason}"
  }
}

run "offline" {
  module { source = "./tests/verdict" }
  variables {
    cluster    = run.policy.cluster
    namespace  = "default"
    pod_labels = { app = "offline-mcp" }
    hosts      = ["api.ehr.example.com"]
  }

  assert {
    condition     = output.verdicts["api.ehr.example.com"].action == "drop"
    error_message = "a server with no domains has egress: ${output.verdicts["api.ehr.example.com"].reason}"
  }
}

run "bad_server_name" {
  command = plan
  variables {
    policy_id = run.policy.policy_id
    servers   = { "Healthcare_MCP" = { domains = ["api.ehr.example.com"] } }
  }
  expect_failures = [var.servers]
}
