//! The accept loop: each connection is served by hyper's HTTP/1 builder (for the header limit and
//! timeouts that `warp::serve` does not expose), and a graceful shutdown drains them all.

use std::future::Future;
use std::io;
use std::time::Duration;

use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;

use crate::config::Config;
use crate::routes::routes;

/// How long to wait before accepting again after running out of file descriptors or memory.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// hyper's default read-buffer cap (not exported). The head must fit in that buffer, so a larger
/// TINYWEB_MAX_HEADER_BYTES raises the cap to match; smaller ones keep hyper's default.
const HYPER_DEFAULT_MAX_BUF: usize = 8192 + 4096 * 100;

/// How a [`run`] ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Drained {
    /// Every open connection finished within the grace period.
    All,
    /// The grace period ran out with connections still open.
    GraceExpired,
}

/// Serves [`routes`] on `listener` until `shutdown` completes, then stops accepting and waits up
/// to `config.shutdown_grace` for in-flight requests (idle keep-alive connections close at once).
pub async fn run(listener: TcpListener, config: &Config, shutdown: impl Future<Output = ()>) -> Drained {
    let service = TowerToHyperService::new(warp::service(routes()));
    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(config.header_timeout)
        .max_header_size(config.max_header_bytes)
        .max_buf_size(config.max_header_bytes.max(HYPER_DEFAULT_MAX_BUF));
    let connections = GracefulShutdown::new();

    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    // Small responses: send them now rather than wait for Nagle's algorithm.
                    let _ = stream.set_nodelay(true);
                    let connection = connections.watch(http.serve_connection(TokioIo::new(stream), service.clone()));
                    tokio::spawn(async move {
                        if let Err(error) = connection.await {
                            log::debug!("connection closed: {error}");
                        }
                    });
                }
                Err(error) => backoff_on(error).await,
            },
            () = &mut shutdown => break,
        }
    }
    // Closing the socket now makes new clients fail fast instead of queueing unserved.
    drop(listener);
    log::info!(
        "stopped accepting; draining open connections for up to {:?}",
        config.shutdown_grace
    );

    match tokio::time::timeout(config.shutdown_grace, connections.shutdown()).await {
        Ok(()) => Drained::All,
        Err(_) => Drained::GraceExpired,
    }
}

/// Survives accept errors: a connection reset before it was accepted is ignored; anything else
/// (running out of file descriptors, buffers or memory) is logged and retried after a pause
/// instead of spinning.
async fn backoff_on(error: io::Error) {
    match error.kind() {
        io::ErrorKind::ConnectionAborted | io::ErrorKind::ConnectionReset | io::ErrorKind::Interrupted => {
            log::debug!("accept failed: {error}");
        }
        _ => {
            log::error!("accept failed: {error}; retrying in {ACCEPT_BACKOFF:?}");
            tokio::time::sleep(ACCEPT_BACKOFF).await;
        }
    }
}
