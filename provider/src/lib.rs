//! `terraform-provider-aviatrix` (`mcp-egress/aviatrix`): per-MCP-server egress containment on Aviatrix.
//!
//! Layers, outermost first: [`plugin`] (the tfplugin6 framework), the provider's components
//! ([`data_sources`], [`functions`], configuration in [`provider`]), the [`clients`] of the outside systems,
//! and the [`policy`] model, the one place the egress domain grammar lives.

// Lets `#[derive(TfSchema)]` name this crate the same way inside and outside it.
extern crate self as terraform_provider_aviatrix;

pub mod clients;
pub mod data_sources;
pub mod docs;
pub mod functions;
pub mod plugin;
/// The policy model, its own crate (`provider/policy`) so that the lab's enforcement point evaluates the same code.
pub use mcp_egress_policy as policy;
pub mod provider;
pub mod resources;
