//! The policy model: egress domains, wildcards, permit lists, the matcher, and the evaluation of the gateway's
//! rule tree ([`eval`]) that decides permit, drop or watch with the tier and the rule. Pure functions, no I/O.
//!
//! This is the one place the domain grammar lives; the provider's validation, its functions and data
//! sources, and the lab's enforcement simulation all call it.

pub mod domain;
pub mod list;
pub mod matcher;

pub use domain::{Domain, DomainPattern, Rejection, ACCEPTED};
pub use list::{normalize, Invalid, Normalized, Removed};
pub use matcher::Matcher;
pub mod eval;
pub mod inventory;
