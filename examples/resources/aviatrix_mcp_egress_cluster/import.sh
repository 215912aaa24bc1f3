# A cluster is imported by the controller's ID for it (GET /v2.5/api/k8s/clusters lists them).
terraform import aviatrix_mcp_egress_cluster.eks 3f0c2a1e-5b7d-4c2a-9e1f-0a1b2c3d4e5f
