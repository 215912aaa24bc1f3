//! The binary as a host sees it: the go-plugin handshake, AutoMTLS with a pinned client certificate, a
//! private unix socket, real gRPC calls, a stranger's certificate refused, and a graceful Shutdown that
//! removes the socket directory.

use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use terraform_provider_aviatrix::plugin::handshake::{MAGIC_COOKIE_KEY, MAGIC_COOKIE_VALUE};
use terraform_provider_aviatrix::plugin::proto::{goplugin, tfplugin6};
use tonic::transport::{Channel, Endpoint};

/// A host identity like the one go-plugin makes: self-signed, CA flag set, ECDSA P-521.
fn host_identity() -> (String, CertificateDer<'static>, PrivateKeyDer<'static>) {
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P521_SHA512).unwrap();
    let mut params = rcgen::CertificateParams::new(vec!["localhost".to_string()]).unwrap();
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    params.extended_key_usages =
        vec![rcgen::ExtendedKeyUsagePurpose::ClientAuth, rcgen::ExtendedKeyUsagePurpose::ServerAuth];
    let cert = params.self_signed(&key).unwrap();
    (cert.pem(), cert.der().clone(), PrivateKeyDer::try_from(key.serialize_der()).unwrap())
}

/// Trusts exactly the certificate announced in the handshake line.
#[derive(Debug)]
struct Pinned(Vec<u8>, Arc<rustls::crypto::CryptoProvider>);

impl ServerCertVerifier for Pinned {
    fn verify_server_cert(
        &self,
        ee: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if ee.as_ref() == self.0.as_slice() {
            Ok(ServerCertVerified::assertion())
        } else {
            Err(rustls::Error::General("server certificate differs from the handshake line".into()))
        }
    }
    fn verify_tls12_signature(
        &self,
        m: &[u8],
        c: &CertificateDer<'_>,
        d: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(m, c, d, &self.1.signature_verification_algorithms)
    }
    fn verify_tls13_signature(
        &self,
        m: &[u8],
        c: &CertificateDer<'_>,
        d: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(m, c, d, &self.1.signature_verification_algorithms)
    }
    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.1.signature_verification_algorithms.supported_schemes()
    }
}

async fn connect(
    socket: PathBuf,
    server_der: Vec<u8>,
    cert: CertificateDer<'static>,
    key: PrivateKeyDer<'static>,
) -> Result<Channel, tonic::transport::Error> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .unwrap()
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(Pinned(server_der, provider)))
        .with_client_auth_cert(vec![cert], key)
        .unwrap();
    config.alpn_protocols = vec![b"h2".to_vec()];
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    Endpoint::from_static("http://localhost")
        .connect_with_connector(tower::service_fn(move |_| {
            let (socket, connector) = (socket.clone(), connector.clone());
            async move {
                let stream = tokio::net::UnixStream::connect(socket).await?;
                let tls = connector.connect(ServerName::try_from("localhost").unwrap(), stream).await?;
                Ok::<_, std::io::Error>(hyper_util::rt::TokioIo::new(tls))
            }
        }))
        .await
}

/// Kills the plugin if the test fails before shutting it down, so a failed run leaves no process behind.
struct Plugin(Option<std::process::Child>);

impl Drop for Plugin {
    fn drop(&mut self) {
        if let Some(child) = self.0.as_mut() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

#[tokio::test]
async fn a_host_handshakes_calls_and_shuts_the_plugin_down() {
    let (pem, cert, key) = host_identity();
    let mut child = Command::new(env!("CARGO_BIN_EXE_terraform-provider-aviatrix"))
        .env(MAGIC_COOKIE_KEY, MAGIC_COOKIE_VALUE)
        .env("PLUGIN_PROTOCOL_VERSIONS", "5,6")
        .env("PLUGIN_CLIENT_CERT", &pem)
        .env_remove("TF_LOG")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut plugin = Plugin(Some(child));
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).unwrap();
    let fields: Vec<&str> = line.trim_end().split('|').collect();
    assert_eq!(fields[..3], ["1", "6", "unix"], "handshake line {line:?}");
    assert_eq!(fields[4], "grpc");
    let socket = PathBuf::from(fields[3]);
    let socket_dir = socket.parent().unwrap().to_path_buf();
    assert!(socket.exists());
    assert_eq!(
        std::fs::metadata(&socket_dir).unwrap().permissions().mode() & 0o777,
        0o700,
        "socket directory is private"
    );
    let server_der =
        base64::engine::general_purpose::STANDARD_NO_PAD.decode(fields[5]).expect("certificate is unpadded base64 DER");

    let channel =
        connect(socket.clone(), server_der.clone(), cert, key).await.expect("TLS with the pinned host certificate");
    let mut provider = tfplugin6::provider_client::ProviderClient::new(channel.clone());
    let schema = provider.get_provider_schema(tfplugin6::get_provider_schema::Request {}).await.unwrap().into_inner();
    assert!(schema.data_source_schemas.contains_key("aviatrix_mcp_egress_domains"));
    assert!(schema.data_source_schemas.contains_key("aviatrix_mcp_egress_verdict"));
    assert!(schema.functions.contains_key("normalize_domain"));

    // normalize_domain("API.Example.COM.") with the argument as msgpack.
    let mut arg = Vec::new();
    rmp::encode::write_str(&mut arg, "API.Example.COM.").unwrap();
    let result = provider
        .call_function(tfplugin6::call_function::Request {
            name: "normalize_domain".into(),
            arguments: vec![tfplugin6::DynamicValue { msgpack: arg, json: vec![] }],
        })
        .await
        .unwrap()
        .into_inner();
    let mut expected = Vec::new();
    rmp::encode::write_str(&mut expected, "api.example.com").unwrap();
    assert_eq!(result.result.unwrap().msgpack, expected);

    // A client presenting any other certificate is refused.
    let (_, stranger_cert, stranger_key) = host_identity();
    let stranger = match connect(socket.clone(), server_der, stranger_cert, stranger_key).await {
        Err(_) => true,
        Ok(ch) => tfplugin6::provider_client::ProviderClient::new(ch)
            .get_metadata(tfplugin6::get_metadata::Request {})
            .await
            .is_err(),
    };
    assert!(stranger, "a stranger's certificate was accepted");

    goplugin::grpc_controller_client::GrpcControllerClient::new(channel).shutdown(goplugin::Empty {}).await.unwrap();
    let mut child = plugin.0.take().expect("plugin still owned");
    let status = tokio::task::spawn_blocking(move || {
        for _ in 0..100 {
            if let Some(s) = child.try_wait().unwrap() {
                return Some(s);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        child.kill().ok();
        None
    })
    .await
    .unwrap();
    assert!(status.expect("plugin exits after Shutdown").success());
    assert!(!socket_dir.exists(), "socket directory {} left behind", socket_dir.display());
}

#[test]
fn an_unsupported_protocol_version_is_refused() {
    let out = Command::new(env!("CARGO_BIN_EXE_terraform-provider-aviatrix"))
        .env(MAGIC_COOKIE_KEY, MAGIC_COOKIE_VALUE)
        .env("PLUGIN_PROTOCOL_VERSIONS", "4,5")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(out.stdout.is_empty(), "no handshake line for a version we do not speak");
    assert!(String::from_utf8_lossy(&out.stderr).contains("speaks only version 6"));
}
