//! The old name of `common::lab`, kept only for `kube_lab_cli.rs` until it says `mod common;` itself; new
//! tests use `common` directly.

#[path = "../common/mod.rs"]
mod common;

pub use common::lab::*;
