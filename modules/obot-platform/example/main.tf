# The obot-platform module with the lab's test charts: `. DIR/lab.env && terraform init && terraform apply`.
# Against a real cluster, drop the two chart arguments: the published charts are the defaults.
terraform {
  required_providers {
    aviatrix = { source = "mcp-egress/aviatrix" }
  }
}

provider "aviatrix" {}

variable "charts_dir" { type = string }

module "obot" {
  source = "../"

  k8s_firewall_chart = { chart = "${var.charts_dir}/k8s-firewall" }
  obot_chart         = { chart = "${var.charts_dir}/obot" }
  values             = [yamlencode({ config = { OBOT_SERVER_HOSTNAME = "https://obot.example.com" } })]
}

output "mcp_namespace" { value = module.obot.mcp_namespace }
