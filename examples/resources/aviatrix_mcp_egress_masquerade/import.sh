# A masquerade setting is imported by its flavor: aks, generic or eks.
terraform import aviatrix_mcp_egress_masquerade.nodes aks
