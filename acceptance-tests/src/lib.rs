//! The lab: faithful stand-ins for the systems the provider talks to, on loopback.
//!
//! One module per emulated system, named like the provider client that talks to it. Emulators follow the
//! documented behaviour of the real systems, never what the provider happens to send, so that they can disagree with it.
//! Nothing here is linked into the provider.

pub mod aws;
pub mod azure;
pub mod controller;
pub mod daemon;
pub mod emulator;
pub mod fault;
pub mod http;
pub mod inventory;
pub mod kube;
pub mod pep;
pub mod store;
pub mod tls;
pub mod ui;
