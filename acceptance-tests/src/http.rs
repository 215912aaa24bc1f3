//! Serving an emulator's axum router on a loopback listener, with TLS from the lab CA or in plain HTTP.
//!
//! Owns the accept loop and graceful shutdown only; it knows nothing about any emulated system.

use std::sync::Arc;

use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::watch;

/// Serves `app` on `listener` until `shutdown` turns true. With `tls`, every connection is a TLS connection.
pub async fn serve(
    listener: TcpListener,
    tls: Option<Arc<rustls::ServerConfig>>,
    app: Router,
    mut shutdown: watch::Receiver<bool>,
) {
    let acceptor = tls.map(tokio_rustls::TlsAcceptor::from);
    loop {
        let (stream, _) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(_) => {
                    // Out of file descriptors or similar: back off instead of spinning.
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = shutdown.changed() => return,
        };
        let _ = stream.set_nodelay(true);
        let app = app.clone();
        let acceptor = acceptor.clone();
        tokio::spawn(async move {
            let service = TowerToHyperService::new(app);
            let builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
            match acceptor {
                Some(acceptor) => {
                    if let Ok(tls_stream) = acceptor.accept(stream).await {
                        let _ = builder.serve_connection_with_upgrades(TokioIo::new(tls_stream), service).await;
                    }
                }
                None => {
                    let _ = builder.serve_connection_with_upgrades(TokioIo::new(stream), service).await;
                }
            }
        });
    }
}

/// Binds a fresh loopback port.
pub async fn bind_loopback() -> anyhow::Result<TcpListener> {
    Ok(TcpListener::bind(("127.0.0.1", 0)).await?)
}

/// Binds `preferred` on loopback when it is free, else a fresh port.
pub async fn bind_loopback_preferring(preferred: Option<u16>) -> anyhow::Result<TcpListener> {
    if let Some(port) = preferred.filter(|p| *p != 0) {
        if let Ok(listener) = TcpListener::bind(("127.0.0.1", port)).await {
            return Ok(listener);
        }
    }
    bind_loopback().await
}

/// A line in the lab log (stderr of the daemon, redirected to `DIR/lab.log`). Never pass secrets here.
pub fn log(system: &str, message: impl std::fmt::Display) {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    eprintln!("{}.{:03} [{system}] {message}", now.as_secs(), now.subsec_millis());
}
