# A release is imported by <namespace>/<name>. Releases this provider made carry their configuration
# (chart, repository, version, values; never secrets), so the imported state matches the configuration.
terraform import aviatrix_mcp_egress_release.obot obot/obot
