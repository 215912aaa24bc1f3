//! The plugin layer: a framework for Terraform/OpenTofu providers on tfplugin6, knowing nothing of Aviatrix.
//!
//! It owns the go-plugin handshake and AutoMTLS ([`handshake`], [`mtls`]), the gRPC service ([`server`]),
//! dynamic values and their codecs ([`value`], [`types`]), the serde bridge to typed structs ([`bridge`],
//! [`known`]), schemas ([`schema`]), diagnostics and paths ([`diag`], [`path`]), the `timeouts` convention
//! ([`timeouts`]) and hclog logging ([`log`]). Providers implement the traits in [`component`].

pub mod bridge;
pub mod component;
pub mod diag;
pub mod handshake;
pub mod known;
pub mod log;
pub mod mtls;
pub mod path;
pub mod proto;
pub mod schema;
pub mod server;
pub mod timeouts;
pub mod types;
pub mod value;

pub use component::{CallContext, DataSource, Function, FunctionError, Provider, Resource};
pub use diag::{Diagnostic, Diagnostics};
pub use known::Known;
pub use path::AttributePath;
pub use plugin_derive::TfSchema;
