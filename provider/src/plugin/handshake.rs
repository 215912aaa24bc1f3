//! The go-plugin handshake and serving loop: magic cookie, protocol version negotiation, a unix socket in a
//! private temporary directory (as go-plugin does on Linux: no TCP, so no Nagle delay), optional AutoMTLS,
//! the handshake line on stdout, and a graceful end on controller Shutdown or SIGTERM. The socket directory is
//! removed on exit.

use std::io::Write;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tokio_util::either::Either;
use tokio_util::sync::CancellationToken;

use super::component::Provider;
use super::proto::goplugin;
use super::server::ProviderServer;

/// Terraform's magic cookie: a plugin refuses to run unless its host set it.
pub const MAGIC_COOKIE_KEY: &str = "TF_PLUGIN_MAGIC_COOKIE";
pub const MAGIC_COOKIE_VALUE: &str = "d602bf8f470bc67ca7faa0386276bbdd4330efaf76d1a219cb4d6991ca9872b2";
/// go-plugin's core protocol version.
pub const CORE_PROTOCOL_VERSION: u32 = 1;
/// The plugin protocol major version we speak.
pub const PROTOCOL_VERSION: u32 = 6;

#[derive(Debug, thiserror::Error)]
pub enum HandshakeError {
    #[error("not started by Terraform: the magic cookie is missing")]
    NotStartedByHost,
    #[error("the host offers plugin protocol versions {0:?}, and this provider speaks only version 6")]
    NoCommonVersion(String),
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("AutoMTLS: {0}")]
    Mtls(#[from] super::mtls::MtlsError),
    #[error("gRPC server: {0}")]
    Transport(#[from] tonic::transport::Error),
}

/// Negotiates the protocol version from `PLUGIN_PROTOCOL_VERSIONS` (absent means the host's default).
pub fn negotiate(offered: Option<&str>) -> Result<u32, HandshakeError> {
    let Some(offered) = offered.filter(|s| !s.trim().is_empty()) else {
        return Ok(PROTOCOL_VERSION);
    };
    let speaks = offered.split(',').filter_map(|v| v.trim().parse::<u32>().ok()).any(|v| v == PROTOCOL_VERSION);
    if speaks {
        Ok(PROTOCOL_VERSION)
    } else {
        Err(HandshakeError::NoCommonVersion(offered.to_string()))
    }
}

/// The line go-plugin hosts read from stdout: `CORE|APP|NETWORK|ADDRESS|PROTOCOL|CERT`.
pub fn handshake_line(version: u32, socket: &std::path::Path, certificate_der: Option<&[u8]>) -> String {
    use base64::Engine;
    let cert =
        certificate_der.map(|der| base64::engine::general_purpose::STANDARD_NO_PAD.encode(der)).unwrap_or_default();
    format!("{CORE_PROTOCOL_VERSION}|{version}|unix|{}|grpc|{cert}", socket.display())
}

/// A connection as tonic sees it: a unix stream, with or without TLS. tokio-util's `Either` does the
/// reading and writing; this type only tells tonic there is no peer address to report.
struct PluginStream(Either<UnixStream, Box<tokio_rustls::server::TlsStream<UnixStream>>>);

impl tonic::transport::server::Connected for PluginStream {
    type ConnectInfo = ();
    fn connect_info(&self) -> Self::ConnectInfo {}
}

impl AsyncRead for PluginStream {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().0).poll_read(cx, buf)
    }
}

impl AsyncWrite for PluginStream {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.get_mut().0).poll_write(cx, buf)
    }
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().0).poll_flush(cx)
    }
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().0).poll_shutdown(cx)
    }
    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.get_mut().0).poll_write_vectored(cx, bufs)
    }
    fn is_write_vectored(&self) -> bool {
        self.0.is_write_vectored()
    }
}

/// go-plugin's controller: Shutdown ends the plugin gracefully.
struct Controller {
    shutdown: CancellationToken,
}

#[tonic::async_trait]
impl goplugin::grpc_controller_server::GrpcController for Controller {
    async fn shutdown(
        &self,
        _: tonic::Request<goplugin::Empty>,
    ) -> Result<tonic::Response<goplugin::Empty>, tonic::Status> {
        tracing::debug!("host asked the plugin to shut down");
        self.shutdown.cancel();
        Ok(tonic::Response::new(goplugin::Empty {}))
    }
}

/// go-plugin's stdio stream. We write nothing to stdout after the handshake and log to stderr directly, so the
/// stream stays open and silent until shutdown.
struct Stdio {
    shutdown: CancellationToken,
}

type StdioStream = Pin<Box<dyn tokio_stream::Stream<Item = Result<goplugin::StdioData, tonic::Status>> + Send>>;

#[tonic::async_trait]
impl goplugin::grpc_stdio_server::GrpcStdio for Stdio {
    type StreamStdioStream = StdioStream;
    async fn stream_stdio(&self, _: tonic::Request<()>) -> Result<tonic::Response<StdioStream>, tonic::Status> {
        let shutdown = self.shutdown.clone();
        let stream = futures_stream_until(shutdown);
        Ok(tonic::Response::new(stream))
    }
}

fn futures_stream_until<T: Send + 'static>(
    shutdown: CancellationToken,
) -> Pin<Box<dyn tokio_stream::Stream<Item = Result<T, tonic::Status>> + Send>> {
    let (tx, rx) = mpsc::channel::<Result<T, tonic::Status>>(1);
    tokio::spawn(async move {
        shutdown.cancelled().await;
        drop(tx);
    });
    Box::pin(ReceiverStream::new(rx))
}

/// go-plugin's broker. Providers open no extra connections; the stream is held open and anything the host
/// sends is acknowledged as refused.
struct Broker {
    shutdown: CancellationToken,
}

type BrokerStream = Pin<Box<dyn tokio_stream::Stream<Item = Result<goplugin::ConnInfo, tonic::Status>> + Send>>;

#[tonic::async_trait]
impl goplugin::grpc_broker_server::GrpcBroker for Broker {
    type StartStreamStream = BrokerStream;
    async fn start_stream(
        &self,
        request: tonic::Request<tonic::Streaming<goplugin::ConnInfo>>,
    ) -> Result<tonic::Response<BrokerStream>, tonic::Status> {
        let mut incoming = request.into_inner();
        let shutdown = self.shutdown.clone();
        let (tx, rx) = mpsc::channel(4);
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = shutdown.cancelled() => break,
                    msg = incoming.message() => match msg {
                        Ok(Some(info)) => {
                            let reply = goplugin::ConnInfo {
                                service_id: info.service_id,
                                knock: Some(goplugin::conn_info::Knock { knock: false, ack: false, error: "this plugin brokers no connections".into() }),
                                ..Default::default()
                            };
                            if tx.send(Ok(reply)).await.is_err() { break; }
                        }
                        _ => break,
                    }
                }
            }
        });
        Ok(tonic::Response::new(Box::pin(ReceiverStream::new(rx))))
    }
}

/// Runs `provider` as a Terraform plugin until the host shuts it down. Prints a one-line explanation and
/// returns an error when started by hand.
pub async fn serve<P: Provider>(provider: P) -> Result<(), HandshakeError> {
    if std::env::var(MAGIC_COOKIE_KEY).ok().as_deref() != Some(MAGIC_COOKIE_VALUE) {
        return Err(HandshakeError::NotStartedByHost);
    }
    let version = negotiate(std::env::var("PLUGIN_PROTOCOL_VERSIONS").ok().as_deref())?;

    let mut dir = tempfile::Builder::new();
    dir.prefix("plugin");
    // Private to this user, as go-plugin's os.MkdirTemp makes it: only the host may reach the socket.
    dir.permissions(std::os::unix::fs::PermissionsExt::from_mode(0o700));
    let socket_dir = match std::env::var_os("PLUGIN_UNIX_SOCKET_DIR").filter(|d| !d.is_empty()) {
        Some(base) => dir.tempdir_in(base)?,
        None => dir.tempdir()?,
    };
    let socket_path = socket_dir.path().join("plugin.sock");
    let listener = UnixListener::bind(&socket_path)?;

    let mtls = match std::env::var("PLUGIN_CLIENT_CERT").ok().filter(|c| !c.trim().is_empty()) {
        Some(pem) => Some(super::mtls::auto_mtls(&pem)?),
        None => None,
    };

    let shutdown = CancellationToken::new();
    let cancel = CancellationToken::new();
    let (tx, rx) = mpsc::channel::<Result<PluginStream, std::io::Error>>(16);
    let acceptor = mtls.as_ref().map(|m| tokio_rustls::TlsAcceptor::from(m.config.clone()));
    let accept_shutdown = shutdown.clone();
    tokio::spawn(async move {
        loop {
            let accepted = tokio::select! {
                _ = accept_shutdown.cancelled() => break,
                accepted = listener.accept() => accepted,
            };
            let (stream, _) = match accepted {
                Ok(s) => s,
                Err(e) => {
                    tracing::warn!(error = %e, "accepting a connection failed");
                    continue;
                }
            };
            let tx = tx.clone();
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let conn = match acceptor {
                    None => Ok(PluginStream(Either::Left(stream))),
                    Some(acceptor) => acceptor.accept(stream).await.map(|s| PluginStream(Either::Right(Box::new(s)))),
                };
                match conn {
                    Ok(conn) => {
                        let _ = tx.send(Ok(conn)).await;
                    }
                    Err(e) => tracing::warn!(error = %e, "TLS handshake with the host failed"),
                }
            });
        }
    });

    let (health_reporter, health_service) = tonic_health::server::health_reporter();
    health_reporter.set_service_status("plugin", tonic_health::ServingStatus::Serving).await;

    let router = tonic::transport::Server::builder()
        .add_service(health_service)
        .add_service(
            super::proto::tfplugin6::provider_server::ProviderServer::new(ProviderServer::new(
                provider,
                cancel.clone(),
            ))
            .max_decoding_message_size(256 << 20)
            .max_encoding_message_size(256 << 20),
        )
        .add_service(goplugin::grpc_controller_server::GrpcControllerServer::new(Controller {
            shutdown: shutdown.clone(),
        }))
        .add_service(goplugin::grpc_stdio_server::GrpcStdioServer::new(Stdio { shutdown: shutdown.clone() }))
        .add_service(goplugin::grpc_broker_server::GrpcBrokerServer::new(Broker { shutdown: shutdown.clone() }));

    let line = handshake_line(version, &socket_path, mtls.as_ref().map(|m| m.certificate_der.as_slice()));
    {
        let mut out = std::io::stdout().lock();
        writeln!(out, "{line}")?;
        out.flush()?;
    }
    tracing::debug!(socket = %socket_path.display(), tls = mtls.is_some(), "plugin serving");

    let signal_shutdown = shutdown.clone();
    tokio::spawn(async move {
        let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(s) => s,
            Err(_) => return,
        };
        // Ctrl-C reaches the whole process group; Terraform handles it and stops us through StopProvider,
        // so SIGINT is deliberately not a reason to exit mid-apply.
        let mut int = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt()).ok();
        loop {
            tokio::select! {
                _ = term.recv() => { signal_shutdown.cancel(); break; }
                _ = async { match int.as_mut() { Some(i) => { i.recv().await; } None => std::future::pending::<()>().await } } => {
                    tracing::debug!("interrupt received; waiting for the host to stop the provider");
                }
            }
        }
    });

    let graceful = shutdown.clone();
    router
        .serve_with_incoming_shutdown(ReceiverStream::new(rx), async move {
            graceful.cancelled().await;
            cancel.cancel();
        })
        .await?;
    drop(socket_dir);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn negotiates_version_6_only() {
        assert_eq!(negotiate(None).unwrap(), 6);
        assert_eq!(negotiate(Some("5,6")).unwrap(), 6);
        assert_eq!(negotiate(Some("6")).unwrap(), 6);
        assert!(matches!(negotiate(Some("4,5")), Err(HandshakeError::NoCommonVersion(_))));
    }

    #[test]
    fn handshake_line_has_go_plugin_fields() {
        let line = handshake_line(6, std::path::Path::new("/tmp/plugin1/plugin.sock"), Some(&[1, 2, 3, 4]));
        assert_eq!(line, "1|6|unix|/tmp/plugin1/plugin.sock|grpc|AQIDBA");
        let plain = handshake_line(6, std::path::Path::new("/s"), None);
        assert_eq!(plain, "1|6|unix|/s|grpc|");
    }
}
