//! The connection cap: a registry of open connections that, at the cap, evicts the connection
//! that has waited longest for a request head, and never one with a request in flight.
//!
//! A connection has a request in flight from the moment its request head is complete (hyper
//! calls the service) until its answer has been handed to the kernel in full (the first flush
//! after the answer's bytes were written). Between requests, and before the first one, it is
//! waiting for a head: new connections, slow (slowloris) heads and idle keep-alive connections
//! alike. Those are the ones eviction closes, oldest wait first.

use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::Notify;

/// How often, at most, pressure on the cap is logged.
const LOG_EVERY: Duration = Duration::from_secs(1);

/// Marks a connection no longer in the registry's list.
const GONE: usize = usize::MAX;

/// The open connections, at most `cap` of them.
#[derive(Debug)]
pub struct Registry {
    cap: usize,
    epoch: Instant,
    open: Mutex<Open>,
    /// Woken when a connection closes or stops having a request in flight.
    room: Notify,
}

#[derive(Debug, Default)]
struct Open {
    conns: Vec<Arc<Conn>>,
    /// Evictions not yet logged.
    evicted: u64,
    last_log: Option<Instant>,
    paused: bool,
}

impl Registry {
    /// A registry that admits at most `cap` connections.
    pub fn new(cap: usize) -> Arc<Registry> {
        Arc::new(Registry {
            cap,
            epoch: Instant::now(),
            open: Mutex::default(),
            room: Notify::new(),
        })
    }

    /// How many connections are open.
    pub fn len(&self) -> usize {
        self.lock().conns.len()
    }

    /// Whether no connection is open.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Waits until one more connection can be admitted: the registry is under the cap, or some
    /// connection is waiting for a head and can be evicted. Until then the accept loop does not
    /// accept, and new connections wait in the kernel's listen backlog.
    pub async fn room(&self) {
        loop {
            let notified = self.room.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            {
                let mut open = self.lock();
                if open.conns.len() < self.cap || open.conns.iter().any(|c| !c.is_busy()) {
                    if open.paused {
                        open.paused = false;
                        log::info!("connection cap {}: accepting again", self.cap);
                    }
                    return;
                }
                if !open.paused {
                    open.paused = true;
                    log::warn!(
                        "connection cap {} reached and every connection has a request in flight: \
                         not accepting until one ends",
                        self.cap
                    );
                }
            }
            notified.await;
        }
    }

    /// Registers a newly accepted connection. At the cap, first evicts the connection that has
    /// waited longest for a request head, if any, and says so: the caller should then yield, so
    /// the evicted connection's task runs and closes it before more are accepted.
    pub fn admit(self: &Arc<Self>) -> (Registration, bool) {
        let now = self.now();
        let mut open = self.lock();
        let mut evicted = false;
        if open.conns.len() >= self.cap {
            let oldest = open
                .conns
                .iter()
                .enumerate()
                .filter(|(_, c)| !c.is_busy())
                .min_by_key(|(_, c)| c.waiting_since.load(Ordering::Relaxed))
                .map(|(i, _)| i);
            if let Some(i) = oldest {
                let victim = Self::take(&mut open, i);
                victim.evict.notify_one();
                evicted = true;
                open.evicted += 1;
                self.log_evictions(&mut open);
            }
        }
        let conn = Arc::new(Conn {
            registry: Arc::clone(self),
            slot: AtomicUsize::new(open.conns.len()),
            busy: AtomicBool::new(false),
            wrote: AtomicBool::new(false),
            waiting_since: AtomicU64::new(now),
            evict: Notify::new(),
        });
        open.conns.push(Arc::clone(&conn));
        (Registration(conn), evicted)
    }

    /// Logs the evictions since the last report, at most once per [`LOG_EVERY`].
    fn log_evictions(&self, open: &mut Open) {
        let now = Instant::now();
        if open.last_log.is_some_and(|at| now.duration_since(at) < LOG_EVERY) {
            return;
        }
        log::warn!(
            "connection cap {} reached: evicted {} connection(s) waiting for a request head, \
             oldest first",
            self.cap,
            open.evicted
        );
        open.evicted = 0;
        open.last_log = Some(now);
    }

    /// Removes the connection at `i` from the list (swapping the last one into its place).
    fn take(open: &mut Open, i: usize) -> Arc<Conn> {
        let conn = open.conns.swap_remove(i);
        if let Some(moved) = open.conns.get(i) {
            moved.slot.store(i, Ordering::Relaxed);
        }
        conn.slot.store(GONE, Ordering::Relaxed);
        conn
    }

    fn remove(&self, conn: &Conn) {
        let mut open = self.lock();
        let slot = conn.slot.load(Ordering::Relaxed);
        if slot != GONE {
            Self::take(&mut open, slot);
        }
        drop(open);
        self.room.notify_one();
    }

    fn lock(&self) -> MutexGuard<'_, Open> {
        // Nothing panics while holding the lock (and panics abort), so it is never poisoned.
        self.open.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Nanoseconds since the registry was made: a cheap, ordered timestamp.
    fn now(&self) -> u64 {
        self.epoch.elapsed().as_nanos() as u64
    }
}

/// One open connection's state, shared by its task, its service and its I/O.
#[derive(Debug)]
pub struct Conn {
    registry: Arc<Registry>,
    /// Its index in the registry's list, or [`GONE`].
    slot: AtomicUsize,
    /// A request is in flight.
    busy: AtomicBool,
    /// Bytes of the answer in flight were written.
    wrote: AtomicBool,
    /// When it started waiting for its next request head ([`Registry::now`]).
    waiting_since: AtomicU64,
    evict: Notify,
}

impl Conn {
    /// A complete request head arrived: the connection may not be evicted until it is answered.
    pub fn request_started(&self) {
        self.wrote.store(false, Ordering::Relaxed);
        self.busy.store(true, Ordering::Relaxed);
    }

    /// Completes when the registry evicted this connection.
    pub async fn evicted(&self) {
        self.evict.notified().await;
    }

    fn is_busy(&self) -> bool {
        self.busy.load(Ordering::Relaxed)
    }

    fn wrote(&self) {
        self.wrote.store(true, Ordering::Relaxed);
    }

    /// A flush completed: if an answer was written since the request started, it is delivered.
    fn flushed(&self) {
        if self.is_busy() && self.wrote.load(Ordering::Relaxed) {
            self.waiting_since.store(self.registry.now(), Ordering::Relaxed);
            self.busy.store(false, Ordering::Relaxed);
            self.registry.room.notify_one();
        }
    }
}

/// A connection's place in the registry; dropping it (when the connection ends) frees the slot.
#[derive(Debug)]
pub struct Registration(Arc<Conn>);

impl Registration {
    /// The connection's shared state.
    pub fn conn(&self) -> &Arc<Conn> {
        &self.0
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        self.0.registry.remove(&self.0);
    }
}

/// A connection's I/O, reporting write progress to its [`Conn`].
#[derive(Debug)]
pub struct Tracked<T> {
    io: T,
    conn: Arc<Conn>,
}

impl<T> Tracked<T> {
    /// Wraps `io`, reporting to `conn`.
    pub fn new(io: T, conn: Arc<Conn>) -> Tracked<T> {
        Tracked { io, conn }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for Tracked<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Tracked<T> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let result = Pin::new(&mut self.io).poll_write(cx, buf);
        if matches!(result, Poll::Ready(Ok(n)) if n > 0) {
            self.conn.wrote();
        }
        result
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let result = Pin::new(&mut self.io).poll_write_vectored(cx, bufs);
        if matches!(result, Poll::Ready(Ok(n)) if n > 0) {
            self.conn.wrote();
        }
        result
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let result = Pin::new(&mut self.io).poll_flush(cx);
        if matches!(result, Poll::Ready(Ok(()))) {
            self.conn.flushed();
        }
        result
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// At the cap, the connection waiting longest for a head goes first; busy ones never.
    #[tokio::test]
    async fn evicts_oldest_waiting_never_busy() {
        let registry = Registry::new(3);
        let (first, _) = registry.admit();
        let (second, _) = registry.admit();
        let (third, evicted) = registry.admit();
        first.conn().request_started();
        assert!(!evicted);
        assert_eq!(registry.len(), 3);

        let (_fourth, evicted) = registry.admit();

        assert!(evicted);
        assert_eq!(registry.len(), 3);
        assert_ne!(first.conn().slot.load(Ordering::Relaxed), GONE);
        assert_eq!(second.conn().slot.load(Ordering::Relaxed), GONE);
        tokio::time::timeout(Duration::from_secs(1), second.conn().evicted())
            .await
            .expect("the evicted connection is told");
        drop(third);
        assert_eq!(registry.len(), 2);
    }

    /// With every connection busy, `room` waits until one ends.
    #[tokio::test]
    async fn room_waits_while_all_busy() {
        let registry = Registry::new(1);
        let (only, _) = registry.admit();
        only.conn().request_started();

        let blocked = tokio::time::timeout(Duration::from_millis(50), registry.room()).await;
        assert!(blocked.is_err(), "room while every connection is busy");

        drop(only);
        tokio::time::timeout(Duration::from_secs(1), registry.room())
            .await
            .expect("room once a connection ended");
        assert!(registry.is_empty());
    }
}
