//! Compiles the wire contract in `proto/` with a pure-Rust protobuf compiler, so a fresh machine builds with
//! cargo alone (no system `protoc`).

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Read at run time, not compile time: a build script binary may be reused by another checkout.
    let proto_dir = std::path::PathBuf::from(std::env::var("CARGO_MANIFEST_DIR")?).join("../proto");
    let files = ["tfplugin6.proto", "grpc_controller.proto", "grpc_stdio.proto", "grpc_broker.proto"];
    for file in files {
        println!("cargo:rerun-if-changed={}", proto_dir.join(file).display());
    }
    let descriptors = protox::compile(files, [&proto_dir])?;
    tonic_prost_build::configure().build_client(true).build_server(true).compile_fds(descriptors)?;
    Ok(())
}
