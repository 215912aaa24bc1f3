# EKS: onboarding with every flag on, the default infrastructure permits as tier 1, the default deny as tier 3,
# a syslog profile; then what the gateway decides for a pod of the namespace.
run "lab" {
  module { source = "../_tests/lab" }
}

run "eks" {
  variables {
    cloud         = "aws"
    cluster_id    = run.lab.eks_cluster_id
    namespace     = "default"
    extra_permits = [{ name = "npm", domains = ["registry.npmjs.org"] }]
    log_export    = { server = "127.0.0.1", port = 5514 }
  }

  assert {
    condition     = output.cluster_status == "Connected"
    error_message = "the EKS cluster is not Connected: ${output.cluster_status}"
  }
  assert {
    condition     = length(output.feature_flags) > 0 && alltrue(values(output.feature_flags))
    error_message = "a feature flag DCF on Kubernetes needs is off: ${jsonencode(output.feature_flags)}"
  }
  assert {
    condition     = toset(keys(output.web_groups)) == toset(["cluster-api", "registries", "cloud-endpoints", "npm"])
    error_message = "tier 1 is not the EKS defaults plus npm: ${jsonencode(keys(output.web_groups))}"
  }
  assert {
    condition     = contains(output.named_permits["registries"], "*.dkr.ecr.us-east-1.amazonaws.com")
    error_message = "the ECR permit does not name the cluster's region: ${jsonencode(output.named_permits["registries"])}"
  }
  assert {
    condition     = output.log_export == "0"
    error_message = "no syslog profile at index 0: ${coalesce(output.log_export, "none")}"
  }
}

run "decisions" {
  module { source = "./tests/verdict" }
  variables {
    cluster    = run.eks.cluster
    namespace  = "default"
    pod_labels = { app = "any-mcp" }
    hosts      = ["registry.npmjs.org", "ghcr.io", "exfil.attacker.io"]
  }

  assert {
    condition     = output.verdicts["registry.npmjs.org"].action == "permit" && output.verdicts["registry.npmjs.org"].rule == "tier1-npm"
    error_message = "registry.npmjs.org: ${output.verdicts["registry.npmjs.org"].reason}"
  }
  assert {
    condition     = output.verdicts["ghcr.io"].tier == 1 && output.verdicts["ghcr.io"].rule == "tier1-registries"
    error_message = "ghcr.io: ${output.verdicts["ghcr.io"].reason}"
  }
  assert {
    condition     = output.verdicts["exfil.attacker.io"].action == "drop" && output.verdicts["exfil.attacker.io"].tier == 3 && output.verdicts["exfil.attacker.io"].rule == "tier3-default-deny"
    error_message = "exfil.attacker.io: ${output.verdicts["exfil.attacker.io"].reason}"
  }
}

run "bad_cluster_id" {
  command = plan
  variables {
    cloud      = "aws"
    cluster_id = "lab-eks"
  }
  expect_failures = [var.cluster_id]
}

run "bad_permit_name" {
  command = plan
  variables {
    cloud                  = "aws"
    cluster_id             = run.lab.eks_cluster_id
    infrastructure_permits = { "Bad Name" = ["ghcr.io"] }
  }
  expect_failures = [var.infrastructure_permits]
}
