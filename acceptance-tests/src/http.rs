//! Serving an emulator's axum router on a loopback listener, with TLS from the lab CA or in plain HTTP.
//!
//! Owns the accept loop and graceful shutdown only; it knows nothing about any emulated system.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::watch;

/// Serves `app` on `listener` until `shutdown` turns true (or its sender is dropped); open connections, watches
/// included, close then too. With `tls`, every connection is a TLS connection.
///
/// An accept error (out of file descriptors, say) is logged and waited out, starting at 5 ms and doubling up to
/// one second, so a listener that keeps failing never spins a core.
pub async fn serve(
    listener: TcpListener,
    tls: Option<Arc<rustls::ServerConfig>>,
    app: Router,
    mut shutdown: watch::Receiver<bool>,
) {
    let acceptor = tls.map(tokio_rustls::TlsAcceptor::from);
    let mut backoff = AcceptBackoff::default();
    loop {
        let (stream, _) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(pair) => {
                    backoff.reset();
                    pair
                }
                Err(e) => {
                    let pause = backoff.next();
                    log("http", format!("accepting a connection failed ({e}); retrying in {} ms", pause.as_millis()));
                    tokio::select! {
                        _ = tokio::time::sleep(pause) => continue,
                        _ = shutdown.changed() => return,
                    }
                }
            },
            _ = shutdown.changed() => return,
        };
        let _ = stream.set_nodelay(true);
        let app = app.clone();
        let acceptor = acceptor.clone();
        let mut stopped = shutdown.clone();
        tokio::spawn(async move {
            let connection = async move {
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
            };
            tokio::select! {
                _ = connection => {}
                _ = stopped.wait_for(|stop| *stop) => {}
            }
        });
    }
}

/// The wait after consecutive accept errors: 5 ms, doubling, at most one second.
#[derive(Default)]
struct AcceptBackoff {
    failures: u32,
}

impl AcceptBackoff {
    const FIRST: Duration = Duration::from_millis(5);
    const MAX: Duration = Duration::from_secs(1);

    fn next(&mut self) -> Duration {
        let pause = Self::FIRST.saturating_mul(1 << self.failures.min(16)).min(Self::MAX);
        self.failures = self.failures.saturating_add(1);
        pause
    }

    fn reset(&mut self) {
        self.failures = 0;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_errors_back_off_doubling_up_to_a_second_and_start_over_after_a_success() {
        let mut backoff = AcceptBackoff::default();
        let waits: Vec<u128> = (0..10).map(|_| backoff.next().as_millis()).collect();
        assert_eq!(waits, [5, 10, 20, 40, 80, 160, 320, 640, 1000, 1000]);
        backoff.reset();
        assert_eq!(backoff.next(), Duration::from_millis(5));
    }

    #[tokio::test]
    async fn shutdown_closes_open_connections_as_well_as_the_listener() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = bind_loopback().await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = watch::channel(false);
        let server = tokio::spawn(serve(
            listener,
            None,
            Router::new().route("/", axum::routing::get(|| async { "hi" })),
            stopped,
        ));
        let mut open = tokio::net::TcpStream::connect(addr).await.unwrap();
        open.write_all(b"GET / HTTP/1.1\r\nhost: x\r\n\r\n").await.unwrap();
        let mut buf = vec![0u8; 1024];
        let n = open.read(&mut buf).await.unwrap();
        assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
        stop.send_replace(true);
        server.await.unwrap();
        let closed = tokio::time::timeout(Duration::from_secs(5), open.read(&mut buf)).await.expect("closed in time");
        assert_eq!(closed.unwrap(), 0, "the kept-alive connection was closed by the server");
        assert!(tokio::net::TcpStream::connect(addr).await.is_err(), "nothing listens any more");
    }
}
