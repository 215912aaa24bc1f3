//! The lab's certificate authority: one CA per lab directory, and server certificates it issues for loopback.
//!
//! The CA is written to `DIR/ca.pem` (its key to `DIR/ca-key.pem`, mode 0600) and reused across `down`/`up`, so
//! clients configured with the CA file keep working after a restart. Emulators that speak TLS build their
//! `rustls::ServerConfig` from [`LabCa::server_config`].

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose, SanType};

/// The lab's certificate authority.
pub struct LabCa {
    cert_pem: String,
    issuer: Issuer<'static, KeyPair>,
    cert_path: PathBuf,
}

impl LabCa {
    /// Loads the CA from `dir`, or creates it there on first use.
    pub fn load_or_create(dir: &Path) -> anyhow::Result<LabCa> {
        let cert_path = dir.join("ca.pem");
        let key_path = dir.join("ca-key.pem");
        if cert_path.exists() && key_path.exists() {
            let cert_pem =
                std::fs::read_to_string(&cert_path).with_context(|| format!("reading {}", cert_path.display()))?;
            let key_pem =
                std::fs::read_to_string(&key_path).with_context(|| format!("reading {}", key_path.display()))?;
            let key = KeyPair::from_pem(&key_pem).context("parsing the lab CA key")?;
            let issuer = Issuer::from_ca_cert_pem(&cert_pem, key).context("parsing the lab CA certificate")?;
            return Ok(LabCa { cert_pem, issuer, cert_path });
        }
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let key = KeyPair::generate().context("generating the lab CA key")?;
        let mut params = CertificateParams::default();
        params.distinguished_name.push(DnType::CommonName, "mcp-egress-lab CA");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages =
            vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
        let cert = params.self_signed(&key).context("self-signing the lab CA")?;
        let cert_pem = cert.pem();
        std::fs::write(&cert_path, &cert_pem).with_context(|| format!("writing {}", cert_path.display()))?;
        crate::store::write_private(&key_path, key.serialize_pem().as_bytes())?;
        let issuer = Issuer::new(params, key);
        Ok(LabCa { cert_pem, issuer, cert_path })
    }

    /// Path of the CA certificate (PEM), for clients' CA-file settings.
    pub fn cert_path(&self) -> &Path {
        &self.cert_path
    }

    /// The CA certificate in PEM.
    pub fn cert_pem(&self) -> &str {
        &self.cert_pem
    }

    /// Issues a server certificate for `127.0.0.1`, `::1` and `localhost`, returning (cert chain PEM, key PEM).
    pub fn issue_loopback(&self, common_name: &str) -> anyhow::Result<(String, String)> {
        let key = KeyPair::generate()?;
        let mut params = CertificateParams::new(vec!["localhost".to_string()])?;
        params.distinguished_name.push(DnType::CommonName, common_name);
        params.subject_alt_names.push(SanType::IpAddress("127.0.0.1".parse()?));
        params.subject_alt_names.push(SanType::IpAddress("::1".parse()?));
        let cert = params.signed_by(&key, &self.issuer)?;
        Ok((cert.pem(), key.serialize_pem()))
    }

    /// A rustls server configuration with a fresh loopback certificate, offering `alpn` protocols
    /// (for example `[b"h2".to_vec(), b"http/1.1".to_vec()]`).
    pub fn server_config(&self, common_name: &str, alpn: &[&[u8]]) -> anyhow::Result<Arc<rustls::ServerConfig>> {
        let (cert_pem, key_pem) = self.issue_loopback(common_name)?;
        let certs = rustls::pki_types::pem::PemObject::pem_slice_iter(cert_pem.as_bytes())
            .collect::<Result<Vec<rustls::pki_types::CertificateDer<'static>>, _>>()?;
        let key = <rustls::pki_types::PrivateKeyDer as rustls::pki_types::pem::PemObject>::from_pem_slice(
            key_pem.as_bytes(),
        )?;
        // The provider is named: with both ring (through reqwest) and aws-lc-rs in the build, rustls cannot pick one.
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .with_no_client_auth()
            .with_single_cert(certs, key)?;
        config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
        Ok(Arc::new(config))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ca_is_reused_across_loads_and_issues_loopback_certificates() {
        let dir = tempfile::tempdir().unwrap();
        let first = LabCa::load_or_create(dir.path()).unwrap();
        let second = LabCa::load_or_create(dir.path()).unwrap();
        assert_eq!(first.cert_pem(), second.cert_pem());
        let (cert, key) = second.issue_loopback("test").unwrap();
        assert!(cert.contains("BEGIN CERTIFICATE") && key.contains("PRIVATE KEY"));
        second.server_config("test", &[b"h2"]).unwrap();
    }
}
