//! Shared by the crate's integration tests, in five parts: `tools` (where the repository, its tool cache
//! and the external binaries are, and what a run of one printed), `lab` (a lab in a temp dir driven through
//! the real `mcp-egress-lab` binary, and clients for its emulators), `terraform` (the real terraform CLI
//! wired to the provider under test) and `steps` (the step harness the provider's acceptance tests are
//! written in), and `cluster` (kubectl, an MCP server's pod and `mcp-egress-lab attempt`, the kill chain's
//! moves).
//!
//! Test machinery only: what a product test asserts lives in the test, except the lifecycle checks the
//! harness makes of every case (empty re-plan after apply, import, a clean lab after destroy).

#![allow(dead_code)]

pub mod cluster;
pub mod lab;
pub mod steps;
pub mod terraform;
pub mod tools;
