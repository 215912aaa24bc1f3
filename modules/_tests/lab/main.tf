# The lab's inputs for this module's tests: the TF_VAR_ variables `mcp-egress-lab up` writes into lab.env
# (`. DIR/lab.env && terraform test`), passed on as outputs that the test runs read as `run.lab.<name>`.
# Nothing is created. Against real infrastructure, set the same TF_VAR_ variables to a cluster of yours.
variable "aws_account_name" {
  type    = string
  default = null
}
variable "aws_region" {
  type    = string
  default = null
}
variable "aws_vpc_id" {
  type    = string
  default = null
}
variable "aws_gateway_subnet_cidr" {
  type    = string
  default = null
}
variable "aws_node_route_table_ids" {
  type    = list(string)
  default = []
}
variable "eks_cluster_id" {
  type    = string
  default = null
}
variable "azure_account_name" {
  type    = string
  default = null
}
variable "azure_location" {
  type    = string
  default = null
}
variable "azure_vnet_id" {
  type    = string
  default = null
}
variable "azure_gateway_subnet_cidr" {
  type    = string
  default = null
}
variable "azure_node_route_table_ids" {
  type    = list(string)
  default = []
}
variable "aks_cluster_id" {
  type    = string
  default = null
}
variable "charts_dir" {
  type    = string
  default = null
}

output "aws_account_name" { value = var.aws_account_name }
output "aws_region" { value = var.aws_region }
output "aws_vpc_id" { value = var.aws_vpc_id }
output "aws_gateway_subnet_cidr" { value = var.aws_gateway_subnet_cidr }
output "aws_node_route_table_ids" { value = var.aws_node_route_table_ids }
output "eks_cluster_id" { value = var.eks_cluster_id }
output "azure_account_name" { value = var.azure_account_name }
output "azure_location" { value = var.azure_location }
output "azure_vnet_id" { value = var.azure_vnet_id }
output "azure_gateway_subnet_cidr" { value = var.azure_gateway_subnet_cidr }
output "azure_node_route_table_ids" { value = var.azure_node_route_table_ids }
output "aks_cluster_id" { value = var.aks_cluster_id }
output "charts_dir" { value = var.charts_dir }
