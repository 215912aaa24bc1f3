# AKS: the Azure infrastructure permits by default, tier 3 in monitor mode (lets through and logs).
run "lab" {
  module { source = "../_tests/lab" }
}

run "aks" {
  variables {
    cloud       = "azure"
    cluster_id  = run.lab.aks_cluster_id
    region      = run.lab.azure_location
    namespace   = "default"
    enforcement = "monitor"
  }

  assert {
    condition     = contains(output.named_permits["cluster-api"], "*.hcp.${run.lab.azure_location}.azmk8s.io")
    error_message = "the AKS API server permit does not name the location: ${jsonencode(output.named_permits)}"
  }
  assert {
    condition     = output.log_export == null
    error_message = "a syslog profile was made without log_export"
  }
}

run "decisions" {
  module { source = "./tests/verdict" }
  variables {
    cluster    = run.aks.cluster
    namespace  = "default"
    pod_labels = { app = "any-mcp" }
    hosts      = ["mcr.microsoft.com", "exfil.attacker.io"]
  }

  assert {
    condition     = output.verdicts["mcr.microsoft.com"].rule == "tier1-registries"
    error_message = "mcr.microsoft.com: ${output.verdicts["mcr.microsoft.com"].reason}"
  }
  assert {
    condition     = output.verdicts["exfil.attacker.io"].action == "watch" && output.verdicts["exfil.attacker.io"].tier == 3
    error_message = "under monitor, exfil.attacker.io is watched by tier 3: ${output.verdicts["exfil.attacker.io"].action} ${output.verdicts["exfil.attacker.io"].reason}"
  }
}

run "azure_defaults_need_a_region" {
  command = plan
  variables {
    cloud      = "azure"
    cluster_id = run.lab.aks_cluster_id
  }
  expect_failures = [aviatrix_mcp_egress_cluster.this]
}
