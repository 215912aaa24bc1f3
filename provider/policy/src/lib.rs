//! The policy model: egress domains, wildcards, permit lists and the matcher. Pure functions, no I/O.
//!
//! This is the one place the domain grammar lives; the provider's validation, its functions and data
//! sources, and the lab's enforcement simulation all call it.

pub mod domain;
pub mod list;
pub mod matcher;

pub use domain::{Domain, DomainPattern, Rejection, ACCEPTED};
pub use list::{normalize, Invalid, Normalized, Removed};
pub use matcher::Matcher;
