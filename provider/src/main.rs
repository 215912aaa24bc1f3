//! The provider binary: started by Terraform or OpenTofu, never by hand.

use terraform_provider_aviatrix::plugin::handshake::{serve, HandshakeError};

fn main() {
    terraform_provider_aviatrix::plugin::log::init("provider");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("starting the async runtime");
    match runtime.block_on(serve(terraform_provider_aviatrix::provider::AviatrixProvider::default())) {
        Ok(()) => {}
        Err(HandshakeError::NotStartedByHost) => {
            eprintln!(
                "terraform-provider-aviatrix is a Terraform plugin (source mcp-egress/aviatrix): Terraform or OpenTofu starts it; to use it, declare it in required_providers and run terraform (see README.md)."
            );
            std::process::exit(1);
        }
        Err(e) => {
            eprintln!("terraform-provider-aviatrix: {e}");
            std::process::exit(1);
        }
    }
}
