variable "cloud" {
  description = "The cluster's cloud: `aws` (EKS) or `azure` (AKS). Picks the gateway size and the masquerade flavour unless they are set."
  type        = string
  validation {
    condition     = contains(["aws", "azure"], var.cloud)
    error_message = "cloud = \"${var.cloud}\": accepted values are \"aws\" and \"azure\"."
  }
}

variable "existing_gateway" {
  description = "The name of a spoke gateway already in the cluster's VPC or VNet (an existing fabric customer's). When set, no gateway is created and only the routes (and the masquerade) are made, through it; `name`, `account_name`, `region`, `vpc_id` and `subnet_cidr` are then ignored."
  type        = string
  default     = null
  validation {
    condition     = var.existing_gateway == null || can(regex("^[A-Za-z][A-Za-z0-9_-]{0,49}$", var.existing_gateway))
    error_message = "existing_gateway = \"${var.existing_gateway == null ? "null" : var.existing_gateway}\": a gateway name is 1-50 letters, digits, '-' and '_', starting with a letter."
  }
}

variable "name" {
  description = "The name of the gateway to create: 1-50 letters, digits, `-` and `_`, starting with a letter."
  type        = string
  default     = "mcp-egress"
  validation {
    condition     = can(regex("^[A-Za-z][A-Za-z0-9_-]{0,49}$", var.name))
    error_message = "name = \"${var.name}\": a gateway name is 1-50 letters, digits, '-' and '_', starting with a letter."
  }
}

variable "account_name" {
  description = "The controller's access account for the cloud account the VPC or VNet belongs to. Required unless `existing_gateway` is set."
  type        = string
  default     = null
  validation {
    condition     = var.existing_gateway != null || (var.account_name != null && var.account_name != "")
    error_message = "account_name is required to create a gateway (or set existing_gateway to use one you have)."
  }
}

variable "region" {
  description = "The AWS region (`us-east-1`) or Azure location name (`eastus`) of the VPC or VNet. Required unless `existing_gateway` is set."
  type        = string
  default     = null
  validation {
    condition     = var.existing_gateway != null || can(regex("^[a-z][a-z0-9-]*[0-9a-z]$", var.region))
    error_message = "region = \"${var.region == null ? "null" : var.region}\": required to create a gateway; an AWS region such as us-east-1 or an Azure location name such as eastus (not a display name)."
  }
}

variable "vpc_id" {
  description = "The AWS VPC ID (`vpc-...`) or the VNet's ARM resource ID the cluster's nodes run in. Required unless `existing_gateway` is set."
  type        = string
  default     = null
  validation {
    condition = var.existing_gateway != null || (var.vpc_id != null && (
      (var.cloud == "aws" && can(regex("^vpc-[0-9a-f]+$", var.vpc_id))) ||
      (var.cloud == "azure" && can(regex("(?i)^/subscriptions/[^/]+/resourceGroups/[^/]+/providers/Microsoft.Network/virtualNetworks/[^/]+$", var.vpc_id)))
    ))
    error_message = "vpc_id = \"${var.vpc_id == null ? "null" : var.vpc_id}\": required to create a gateway; for aws a VPC ID (vpc-...), for azure a VNet resource ID (/subscriptions/.../providers/Microsoft.Network/virtualNetworks/NAME)."
  }
}

variable "subnet_cidr" {
  description = "The CIDR of the (public) subnet the gateway is placed in, such as `10.10.0.0/24`. Required unless `existing_gateway` is set."
  type        = string
  default     = null
  validation {
    condition     = var.existing_gateway != null || can(cidrhost(var.subnet_cidr, 0))
    error_message = "subnet_cidr = \"${var.subnet_cidr == null ? "null" : var.subnet_cidr}\": required to create a gateway; an IPv4 CIDR such as 10.10.0.0/24."
  }
}

variable "size" {
  description = "The gateway's instance size; `t3.small` on aws and `Standard_B2ms` on azure unless set. Changes in place."
  type        = string
  default     = null
}

variable "tags" {
  description = "Tags on the gateway's cloud resources."
  type        = map(string)
  default     = {}
}

variable "route_table_ids" {
  description = "The route tables of the cluster's node subnets, whose default route goes through the gateway: AWS route table IDs (`rtb-...`) or Azure route table resource IDs."
  type        = list(string)
  validation {
    condition     = length(var.route_table_ids) > 0
    error_message = "route_table_ids = []: name at least one node route table; pods only reach the gateway through their nodes' routes."
  }
  validation {
    condition = alltrue([for id in var.route_table_ids : (
      (var.cloud == "aws" && can(regex("^rtb-[0-9a-f]+$", id))) ||
      (var.cloud == "azure" && can(regex("(?i)^/subscriptions/[^/]+/resourceGroups/[^/]+/providers/Microsoft.Network/routeTables/[^/]+$", id)))
    )])
    error_message = "route_table_ids = ${jsonencode(var.route_table_ids)}: for aws each is a route table ID (rtb-...), for azure a route table resource ID (/subscriptions/.../providers/Microsoft.Network/routeTables/NAME)."
  }
}

variable "destination_cidr" {
  description = "The destination routed through the gateway; the default route `0.0.0.0/0` unless set."
  type        = string
  default     = "0.0.0.0/0"
  validation {
    condition     = can(cidrhost(var.destination_cidr, 0))
    error_message = "destination_cidr = \"${var.destination_cidr}\": an IPv4 CIDR such as 0.0.0.0/0."
  }
}

variable "masquerade" {
  description = "How the nodes keep pod IPs unmasqueraded so the gateway sees them: `eks` (VPC CNI external SNAT, the aws default), `aks` (azure-ip-masq-agent, the azure default), `generic` (ip-masq-agent), or `none` when the cluster is already set up so."
  type        = string
  default     = null
  validation {
    condition     = contains(["eks", "aks", "generic", "none"], var.masquerade == null ? "none" : var.masquerade)
    error_message = "masquerade = \"${var.masquerade == null ? "null" : var.masquerade}\": accepted values are \"eks\", \"aks\", \"generic\" and \"none\"."
  }
}

variable "non_masquerade_cidrs" {
  description = "For the `aks` and `generic` flavours: destinations the nodes must not masquerade traffic to. `0.0.0.0/0` keeps every pod IP (what label enforcement needs)."
  type        = list(string)
  default     = ["0.0.0.0/0"]
  validation {
    condition     = alltrue([for c in var.non_masquerade_cidrs : can(cidrhost(c, 0))])
    error_message = "non_masquerade_cidrs = ${jsonencode(var.non_masquerade_cidrs)}: each entry is an IPv4 CIDR such as 0.0.0.0/0."
  }
}

variable "timeouts" {
  description = "How long creating and deleting the gateway may take (a real gateway takes 5-20 minutes)."
  type = object({
    create = optional(string, "30m")
    delete = optional(string, "30m")
  })
  default = {}
}
