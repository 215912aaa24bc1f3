//! One module per outside system. Each owns everything about talking to its system: URLs, form fields, SDK
//! requests, its own error enum whose variants a caller can act on, the mapping of "not found", and which
//! failures are retried (through [`retry`], bounded by the calling resource's budget). Resources speak to
//! clients in typed calls and never build a request themselves.

pub mod controller;
pub mod retry;
