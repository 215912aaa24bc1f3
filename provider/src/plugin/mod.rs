//! The plugin layer: a framework for Terraform/OpenTofu providers on tfplugin6, knowing nothing of Aviatrix.
//!
//! It owns the go-plugin handshake and AutoMTLS ([`handshake`], [`mtls`]), the gRPC service ([`server`]),
//! dynamic values and their codecs ([`value`], [`types`]), the serde bridge to typed structs ([`bridge`],
//! [`known`]), schemas ([`schema`]) and the plan rules they carry ([`plan`]), private state ([`private`]),
//! diagnostics and paths ([`diag`], [`path`]), the `timeouts` convention ([`timeouts`]) and hclog logging
//! ([`log`]). Providers implement the traits in [`component`]. Every call returns its value with its
//! diagnostics ([`Outcome`]); only errors stop it.

pub mod bridge;
pub mod component;
pub mod diag;
pub mod handshake;
pub mod known;
pub mod log;
pub mod mtls;
pub mod path;
pub mod plan;
pub mod private;
pub mod proto;
pub mod schema;
pub mod server;
pub mod timeouts;
pub mod types;
pub mod value;

pub use component::{CallContext, DataSource, Function, FunctionError, Planned, Provider, Resource};
pub use diag::{Diagnosed, Diagnostic, Diagnostics, Outcome};
pub use known::Known;
pub use path::AttributePath;
pub use plugin_derive::TfSchema;
pub use private::{Private, PrivateEntry};

/// What `#[derive(TfSchema)]` expands to needs, reachable through the framework's own path.
#[doc(hidden)]
pub mod __private {
    pub use serde_json;
}
