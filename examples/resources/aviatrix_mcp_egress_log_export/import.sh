# A syslog profile is imported by its index on the controller (0 to 8).
terraform import aviatrix_mcp_egress_log_export.siem 0
