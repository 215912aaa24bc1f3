# Pod IPs leave the AKS nodes unmasqueraded, so the egress gateway sees which pod each connection is from.
# The cluster is the provider's kubernetes block or KUBECONFIG (the lab's lab.env sets it).
terraform {
  required_providers {
    aviatrix = { source = "mcp-egress/aviatrix" }
  }
}

provider "aviatrix" {}

resource "aviatrix_mcp_egress_masquerade" "nodes" {
  flavor = "aks"
  # The default: nothing the pods send to the internet is masqueraded.
  non_masquerade_cidrs = ["0.0.0.0/0"]
}

output "restores" {
  value = aviatrix_mcp_egress_masquerade.nodes.restores
}
