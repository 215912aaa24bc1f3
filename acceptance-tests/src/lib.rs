//! The lab: faithful stand-ins for the systems the provider talks to, on loopback.
//!
//! One module per emulated system, named like the provider client that talks to it. Emulators follow the
//! facts in `shared/reference/`, never what the provider happens to send, so that they can disagree with it.
//! Nothing here is linked into the provider.

pub mod tls;
