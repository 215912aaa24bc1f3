//! `mcp-egress-lab`: brings the lab up and down, and inspects it.

fn main() -> anyhow::Result<()> {
    let _ = mcp_egress_lab::tls::LabCa::load_or_create;
    eprintln!("usage: mcp-egress-lab <up|down|status|inventory|fault> --dir DIR");
    std::process::exit(2)
}
