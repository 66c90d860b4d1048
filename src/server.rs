//! The listener and the accept loop: each connection is served by hyper's HTTP/1 builder (for the
//! header limit and timeouts that `warp::serve` does not expose) under the connection cap, and a
//! stop keeps serving for the shutdown delay, then drains.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio_io_timeout::TimeoutWriter;

use crate::config::Config;
use crate::connections::{Registry, Tracked};
use crate::header_timer::HeaderTimer;
use crate::limits;
use crate::routes::{routes, Direct};
use crate::service::Guard;
use crate::shutdown::Stopping;

/// How long to wait before accepting again after running out of file descriptors or memory.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// The kernel send buffer asked for each connection (Linux doubles it for its bookkeeping): with
/// hyper's own buffers it bounds what a client that does not read can make the server hold.
/// Answers here are a few hundred bytes, so a small buffer costs no throughput.
pub const SEND_BUFFER: u32 = 16 * 1024;

/// The kernel receive buffer asked for each connection (doubled by Linux likewise): a request
/// head is at most `TINYWEB_MAX_HEADER_BYTES`, and pipelined requests beyond this wait in the
/// client's own send buffer instead of the server's memory.
pub const RECEIVE_BUFFER: u32 = 16 * 1024;

/// How a [`run`] ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Drained {
    /// Every open connection finished within the grace period.
    All,
    /// The grace period ran out with connections still open.
    GraceExpired,
}

/// Listens on `config`'s address with its backlog and the per-connection socket buffers (accepted
/// sockets inherit them), and logs the values the kernel put in force.
///
/// Must be called inside a tokio runtime.
///
/// # Errors
/// The socket could not be made, configured, bound or put to listen.
pub fn bind(config: &Config) -> io::Result<TcpListener> {
    let addr = config.listen_addr();
    let socket = match addr {
        SocketAddr::V4(_) => TcpSocket::new_v4()?,
        SocketAddr::V6(_) => TcpSocket::new_v6()?,
    };
    socket.set_reuseaddr(true)?;
    socket.set_send_buffer_size(SEND_BUFFER)?;
    socket.set_recv_buffer_size(RECEIVE_BUFFER)?;
    let (send, receive) = (socket.send_buffer_size()?, socket.recv_buffer_size()?);
    socket.bind(addr)?;
    let listener = socket.listen(config.listen_backlog)?;
    let somaxconn = std::fs::read_to_string("/proc/sys/net/core/somaxconn")
        .ok()
        .and_then(|s| s.trim().parse::<u32>().ok());
    match somaxconn {
        Some(max) => log::info!(
            "listen backlog {} (TINYWEB_LISTEN_BACKLOG {}, net.core.somaxconn {max})",
            config.listen_backlog.min(max),
            config.listen_backlog
        ),
        None => log::info!(
            "listen backlog {} (net.core.somaxconn unreadable; the kernel caps it there)",
            config.listen_backlog
        ),
    }
    log::info!("per connection: socket send buffer {send} B, receive buffer {receive} B");
    Ok(listener)
}

/// hyper's read buffer cap for a head limit: the head must fit, and hyper needs at least 8 KiB.
/// Keeping it at the head limit (16 KiB by default, not hyper's 400 KiB) bounds what a client
/// that pipelines requests without reading the answers makes the server buffer.
fn read_buffer_cap(max_header_bytes: usize) -> usize {
    max_header_bytes.max(8192)
}

/// Serves [`routes`] on `listener` until `shutdown` completes; then answers `/healthz` with 503
/// and every request with `Connection: close` while still accepting for `config.shutdown_delay`,
/// then stops accepting and waits up to `config.shutdown_grace` for in-flight requests (idle
/// keep-alive connections close at once).
pub async fn run(listener: TcpListener, config: &Config, shutdown: impl Future<Output = ()>) -> Drained {
    let cap = limits::connection_cap(config);
    if let Some(warning) = &cap.warning {
        log::warn!("{warning}");
    }
    log::info!("connection cap {} ({})", cap.value, cap.source);
    let registry = Registry::new(cap.value);
    let stopping = Stopping::default();
    let routes = Direct(warp::service(routes(stopping.clone())));
    let mut http = http1::Builder::new();
    http.header_read_timeout(config.header_timeout)
        .max_header_size(config.max_header_bytes)
        .max_buf_size(read_buffer_cap(config.max_header_bytes))
        // Answers are small: copying the body behind the head and sending both with one write
        // costs fewer instructions per request than queueing both for a writev.
        .writev(false);

    let stop = async {
        shutdown.await;
        stopping.set();
        if config.shutdown_delay.is_zero() {
            log::info!(
                "stopping: draining for up to {:?}; the stop takes at most {:?}",
                config.shutdown_grace,
                config.stop_bound()
            );
        } else {
            log::info!(
                "stopping: /healthz answers 503 and every answer closes its connection; still \
                 accepting for {:?}, then draining for up to {:?}; the stop takes at most {:?}",
                config.shutdown_delay,
                config.shutdown_grace,
                config.stop_bound()
            );
        }
        tokio::time::sleep(config.shutdown_delay).await;
    };
    tokio::pin!(stop);
    loop {
        tokio::select! {
            accepted = accept(&listener, &registry) => match accepted {
                Ok(stream) => {
                    // Small responses: send them now rather than wait for Nagle's algorithm.
                    let _ = stream.set_nodelay(true);
                    let (registration, evicted) = registry.admit();
                    let conn = Arc::clone(registration.conn());
                    let mut io = TimeoutWriter::new(stream);
                    io.set_timeout(Some(config.write_timeout));
                    let io = TokioIo::new(Tracked::new(Box::pin(io), Arc::clone(&conn)));
                    let service = Guard::new(routes.clone(), conn, stopping.clone());
                    let timer = HeaderTimer::default();
                    let connection = http.clone().timer(timer.clone()).serve_connection(io, service);
                    tokio::spawn(timer.serving(async move {
                        let conn = registration.conn();
                        tokio::pin!(connection);
                        let (evicted, drained) = (conn.evicted(), conn.drained());
                        tokio::pin!(evicted, drained);
                        let mut draining = false;
                        loop {
                            tokio::select! {
                                // The connection first, without select!'s random start: no
                                // random number per poll, and an eviction is still seen at once.
                                biased;
                                result = &mut connection => {
                                    if let Err(error) = result {
                                        log::debug!("connection closed: {error}");
                                    }
                                    break;
                                }
                                () = &mut evicted => {
                                    log::debug!("connection evicted");
                                    break;
                                }
                                // The stop's drain: hyper finishes the request in flight, if
                                // any, and closes. The registry says so through a cheap notice,
                                // not hyper-util's GracefulShutdown, whose watch channel cost
                                // about 200 instructions per request (bench/instructions.py).
                                () = &mut drained, if !draining => {
                                    draining = true;
                                    connection.as_mut().graceful_shutdown();
                                }
                            }
                        }
                    }));
                    if evicted {
                        // Let the evicted connection's task close it before accepting more.
                        tokio::task::yield_now().await;
                    }
                }
                Err(error) => backoff_on(error).await,
            },
            () = &mut stop => break,
        }
    }
    // Closing the socket now makes new clients fail fast instead of queueing unserved.
    drop(listener);
    log::info!(
        "stopped accepting; draining open connections for up to {:?}",
        config.shutdown_grace
    );

    match tokio::time::timeout(config.shutdown_grace, registry.drain()).await {
        Ok(()) => Drained::All,
        Err(_) => Drained::GraceExpired,
    }
}

/// Accepts the next connection once the cap leaves room for it. Room is checked again after
/// the accept, since connections may have received requests while it waited: then at most this
/// one accepted connection waits, unserved, for a slot.
async fn accept(listener: &TcpListener, registry: &Registry) -> io::Result<TcpStream> {
    registry.room().await;
    let (stream, _) = listener.accept().await?;
    registry.room().await;
    Ok(stream)
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
