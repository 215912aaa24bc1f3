# The gateways' decisions, the containment's drops included, sent to a SIEM's syslog listener. Nothing here
# needs an input: with the lab's lab.env sourced, `terraform apply` runs as it is.
terraform {
  required_providers {
    aviatrix = { source = "mcp-egress/aviatrix" }
  }
}

provider "aviatrix" {}

variable "siem_server" {
  description = "The SIEM's syslog listener, as the gateways reach it."
  type        = string
  default     = "127.0.0.1"
}

resource "aviatrix_mcp_egress_log_export" "siem" {
  index    = 0
  name     = "siem"
  server   = var.siem_server
  port     = 5000
  protocol = "udp"

  # Over TCP with TLS instead: the CA the listener's certificate chains to, and a client certificate whose
  # key is write-only (never in state or plan); bump private_key_version to send a new key.
  #   protocol            = "tcp"
  #   ca_certificate      = file("siem-ca.pem")
  #   public_certificate  = file("gateway.pem")
  #   private_key         = file("gateway-key.pem")
  #   private_key_version = 1
}
