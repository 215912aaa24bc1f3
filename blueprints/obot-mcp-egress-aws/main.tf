# Net-new: a VPC, EKS and Obot with per-MCP-server egress containment, in one `terraform apply`.
#
# The order is what makes one apply enough: the node route table's default route goes through the egress
# gateway before the cluster exists, the VPC CNI is set to leave pod IPs unmasqueraded before any node joins,
# and the node group is created only after both, so no node ever boots without egress. Then the cluster is
# onboarded, tiers 1 and 3 are written, the CRDs and Obot are installed, and each MCP server gets its tier-2
# FirewallPolicy.
locals {
  kubeconfig_path = "${path.root}/.kubeconfig-${var.cluster_name}"
  azs             = slice(data.aws_availability_zones.available.names, 0, 3)
}

data "aws_availability_zones" "available" {
  state = "available"
}

# ---- network: one public subnet for the gateway, three private node subnets without a default route yet
resource "aws_vpc" "this" {
  cidr_block           = var.vpc_cidr
  enable_dns_support   = true
  enable_dns_hostnames = true
  tags                 = merge(var.tags, { Name = var.cluster_name })
}

resource "aws_internet_gateway" "this" {
  vpc_id = aws_vpc.this.id
  tags   = merge(var.tags, { Name = var.cluster_name })
}

resource "aws_subnet" "gateway" {
  vpc_id                  = aws_vpc.this.id
  cidr_block              = cidrsubnet(var.vpc_cidr, 8, 0)
  availability_zone       = local.azs[0]
  map_public_ip_on_launch = true
  tags                    = merge(var.tags, { Name = "${var.cluster_name}-egress-gateway" })
}

resource "aws_route_table" "public" {
  vpc_id = aws_vpc.this.id
  route {
    cidr_block = "0.0.0.0/0"
    gateway_id = aws_internet_gateway.this.id
  }
  tags = merge(var.tags, { Name = "${var.cluster_name}-public" })
}

resource "aws_route_table_association" "gateway" {
  subnet_id      = aws_subnet.gateway.id
  route_table_id = aws_route_table.public.id
}

resource "aws_subnet" "nodes" {
  count             = 3
  vpc_id            = aws_vpc.this.id
  cidr_block        = cidrsubnet(var.vpc_cidr, 4, count.index + 1)
  availability_zone = local.azs[count.index]
  tags = merge(var.tags, {
    Name                              = "${var.cluster_name}-nodes-${count.index}"
    "kubernetes.io/role/internal-elb" = "1"
  })
}

# No routes here: the egress-gateway module adds the default route through the gateway.
resource "aws_route_table" "nodes" {
  vpc_id = aws_vpc.this.id
  tags   = merge(var.tags, { Name = "${var.cluster_name}-nodes" })
}

resource "aws_route_table_association" "nodes" {
  count          = 3
  subnet_id      = aws_subnet.nodes[count.index].id
  route_table_id = aws_route_table.nodes.id
}

# ---- the egress gateway and the node route through it, before the cluster
module "egress" {
  source = "../../modules/egress-gateway"

  cloud           = "aws"
  name            = "${var.cluster_name}-egress"
  account_name    = var.aviatrix_account_name
  region          = var.region
  vpc_id          = aws_vpc.this.id
  subnet_cidr     = aws_subnet.gateway.cidr_block
  size            = var.gateway_size
  route_table_ids = [aws_route_table.nodes.id]
  masquerade      = "none" # set below, once the cluster's VPC CNI exists and before any node joins
  tags            = var.tags

  depends_on = [aws_route_table_association.gateway, aws_route_table_association.nodes]
}

# ---- EKS: the control plane, then the CNI setting, then the nodes
resource "aws_iam_role" "cluster" {
  name = "${var.cluster_name}-cluster"
  assume_role_policy = jsonencode({
    Version   = "2012-10-17"
    Statement = [{ Effect = "Allow", Action = ["sts:AssumeRole", "sts:TagSession"], Principal = { Service = "eks.amazonaws.com" } }]
  })
  tags = var.tags
}

resource "aws_iam_role_policy_attachment" "cluster" {
  role       = aws_iam_role.cluster.name
  policy_arn = "arn:aws:iam::aws:policy/AmazonEKSClusterPolicy"
}

resource "aws_eks_cluster" "this" {
  name     = var.cluster_name
  version  = var.kubernetes_version
  role_arn = aws_iam_role.cluster.arn

  access_config {
    authentication_mode = "API"
  }

  vpc_config {
    subnet_ids              = aws_subnet.nodes[*].id
    endpoint_private_access = true
    endpoint_public_access  = true
    public_access_cidrs     = var.api_allowed_cidrs
  }

  tags       = var.tags
  depends_on = [aws_iam_role_policy_attachment.cluster, module.egress]
}

data "aws_caller_identity" "current" {}

# Whoever applies this root administers the cluster (this project's provider and helm use that access).
resource "aws_eks_access_entry" "admin" {
  cluster_name  = aws_eks_cluster.this.name
  principal_arn = coalesce(var.admin_principal_arn, data.aws_caller_identity.current.arn)
}

resource "aws_eks_access_policy_association" "admin" {
  cluster_name  = aws_eks_cluster.this.name
  principal_arn = aws_eks_access_entry.admin.principal_arn
  policy_arn    = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy"
  access_scope {
    type = "cluster"
  }
}

# The Aviatrix controller's role reads the cluster to resolve SmartGroups and reconcile FirewallPolicies.
resource "aws_eks_access_entry" "aviatrix" {
  cluster_name      = aws_eks_cluster.this.name
  principal_arn     = var.aviatrix_controller_role_arn
  kubernetes_groups = ["avx-controller"]
}

resource "local_sensitive_file" "kubeconfig" {
  filename = local.kubeconfig_path
  content = yamlencode({
    apiVersion      = "v1"
    kind            = "Config"
    current-context = var.cluster_name
    clusters        = [{ name = var.cluster_name, cluster = { server = aws_eks_cluster.this.endpoint, certificate-authority-data = aws_eks_cluster.this.certificate_authority[0].data } }]
    contexts        = [{ name = var.cluster_name, context = { cluster = var.cluster_name, user = var.cluster_name } }]
    users = [{ name = var.cluster_name, user = { exec = {
      apiVersion = "client.authentication.k8s.io/v1beta1"
      command    = "aws"
      args       = ["eks", "get-token", "--cluster-name", var.cluster_name, "--region", var.region]
    } } }]
  })
  depends_on = [aws_eks_access_policy_association.admin]
}

# Pod IPs reach the gateway unmasqueraded (VPC CNI external SNAT), set before any node runs aws-node.
resource "aviatrix_mcp_egress_masquerade" "nodes" {
  flavor     = "eks"
  depends_on = [local_sensitive_file.kubeconfig]
}

resource "aws_iam_role" "nodes" {
  name = "${var.cluster_name}-nodes"
  assume_role_policy = jsonencode({
    Version   = "2012-10-17"
    Statement = [{ Effect = "Allow", Action = "sts:AssumeRole", Principal = { Service = "ec2.amazonaws.com" } }]
  })
  tags = var.tags
}

resource "aws_iam_role_policy_attachment" "nodes" {
  for_each = toset([
    "arn:aws:iam::aws:policy/AmazonEKSWorkerNodePolicy",
    "arn:aws:iam::aws:policy/AmazonEKS_CNI_Policy",
    "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly",
  ])
  role       = aws_iam_role.nodes.name
  policy_arn = each.value
}

# The nodes come last: their subnets' default route already goes through the gateway, and the CNI already
# keeps pod IPs. No scale-from-zero, no second apply.
resource "aws_eks_node_group" "this" {
  cluster_name    = aws_eks_cluster.this.name
  node_group_name = "${var.cluster_name}-nodes"
  node_role_arn   = aws_iam_role.nodes.arn
  subnet_ids      = aws_subnet.nodes[*].id
  instance_types  = [var.node_instance_type]

  scaling_config {
    desired_size = var.node_count
    min_size     = var.node_count
    max_size     = var.node_count
  }

  tags = var.tags
  depends_on = [
    aws_iam_role_policy_attachment.nodes,
    module.egress,
    aviatrix_mcp_egress_masquerade.nodes,
  ]
}

# ---- the containment
module "policy" {
  source = "../../modules/egress-policy"

  cloud           = "aws"
  cluster_id      = aws_eks_cluster.this.arn
  region          = var.region
  namespace       = var.mcp_namespace
  pod_ip_fallback = var.pod_ip_fallback
  extra_permits   = var.extra_permits
  log_export      = var.syslog_server == "" ? null : { server = var.syslog_server, port = var.syslog_port, protocol = var.syslog_protocol }

  depends_on = [aws_eks_node_group.this, aws_eks_access_entry.aviatrix]
}

module "obot" {
  source = "../../modules/obot-platform"

  mcp_namespace            = var.mcp_namespace
  obot_chart               = var.obot_chart
  k8s_firewall_chart       = var.k8s_firewall_chart
  values                   = var.obot_values
  sensitive_values         = var.obot_sensitive_values
  sensitive_values_version = var.obot_secrets_version

  depends_on = [module.policy]
}

module "servers" {
  source = "../../modules/mcp-server"

  policy_id = module.policy.policy_id
  namespace = module.obot.mcp_namespace
  servers   = var.mcp_servers
}

data "aviatrix_mcp_egress_verdict" "exfil" {
  for_each   = var.mcp_servers
  cluster    = module.policy.cluster
  namespace  = var.mcp_namespace
  pod_labels = { app = each.key }
  host       = "exfil.attacker.io"
  port       = 443
  depends_on = [module.servers]
}

check "exfiltration_is_dropped_by_tier_3" {
  assert {
    condition     = alltrue([for v in data.aviatrix_mcp_egress_verdict.exfil : v.action == "drop" && v.rule == "tier3-default-deny"])
    error_message = "exfil.attacker.io:443 is not dropped by tier3-default-deny for every server: ${jsonencode({ for n, v in data.aviatrix_mcp_egress_verdict.exfil : n => v.reason })}"
  }
}

# A cluster the controller registers as Partial cannot resolve label SmartGroups: enforcement by label is not
# live until the controller can read the cluster, or until pod_ip_fallback lists the pod IPs.
check "label_enforcement_is_live" {
  assert {
    condition     = module.policy.cluster_status == "Connected" || var.pod_ip_fallback
    error_message = "the controller reports the cluster ${module.policy.cluster_status}: label SmartGroups do not resolve, so the tiers match no pod. Give the controller read access to the cluster, or set pod_ip_fallback = true (pod IPs read live at every plan)."
  }
}
