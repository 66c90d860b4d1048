//! The connection cap: a registry of open connections that, at the cap, evicts the connection
//! that has waited longest for a request head, and never one whose request is being answered.
//!
//! A connection has a request in flight from the moment its request head is complete (hyper
//! calls the service) until its answer has been handed to the kernel in full (the first
//! completed flush after the answer existed and bytes were written) and the client has sent
//! nothing more that hyper can parse. Otherwise it is waiting for a head: new connections, slow
//! (slowloris) heads and idle keep-alive connections alike. Those are the ones eviction closes,
//! oldest wait first.
//!
//! Only when there are none does eviction take a connection whose writes have made no progress
//! for [`STALLED_AFTER`]: a client that stopped reading its answers, which the write timeout
//! would close anyway. Its request is answered (the answer waits in buffers the client does not
//! empty); without this, as many non-reading clients as the cap would stop the server accepting
//! for the whole write timeout. The longest stalled goes first; a connection whose answer is
//! moving is never evicted.
//!
//! A connection is never evicted before its task has read all the client sent (a read that found
//! nothing more): until then its whole request may wait in the kernel's buffer, unseen. One whose
//! client has sent nothing yet goes last, after the stalled ones too: it is most likely a client
//! whose request is still on its way (or delayed by its own scheduler), and the header timeout
//! closes it if not. Only when no connection qualifies does accepting
//! pause (the backlog waits); a first read attempt, a request's end or a close wakes it.

use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::Notify;

use crate::notice::{Notice, Raised};

/// How often, at most, pressure on the cap is logged.
const LOG_EVERY: Duration = Duration::from_secs(1);

/// Marks a connection no longer in the registry's list.
const GONE: usize = usize::MAX;

/// How long a connection's writes must have made no progress before it may be evicted (only
/// ever at the cap). A blocked write means the client left a full kernel send buffer (32 KiB:
/// [`crate::server::SEND_BUFFER`] doubled) and its own receive window of answers unread: a
/// client that reads drains that from loopback or a LAN in well under this, and the answers here
/// are a few hundred bytes. Short, so that a backlog of non-reading clients drains at about
/// four caps a second and the normal clients queued behind them are answered within a second
/// or two; the write timeout still closes stalled connections when the cap is not reached.
pub const STALLED_AFTER: Duration = Duration::from_millis(250);

/// How often, at most, a paused accept loop looks for newly stalled connections: sooner when a
/// known stall will reach [`STALLED_AFTER`] sooner.
const RECHECK_EVERY: Duration = Duration::from_millis(250);

/// The shortest wait of a paused accept loop, so a stall about to qualify costs no busy loop.
const RECHECK_AT_LEAST: Duration = Duration::from_millis(5);

/// `stalled_since` of a connection whose writes are not blocked.
const NOT_STALLED: u64 = u64::MAX;

/// The open connections, at most `cap` of them.
#[derive(Debug)]
pub struct Registry {
    cap: usize,
    epoch: Instant,
    open: Mutex<Open>,
    /// Woken when a connection closes, or stops having a request in flight while accepting is
    /// paused.
    room: Notify,
    /// Accepting is paused (a copy of `Open::paused` readable without the lock, so a request
    /// that ends wakes the accept loop only when it waits).
    paused: AtomicBool,
    /// Orders the moments connections start waiting for a head: cheaper than reading the clock
    /// on every request.
    sequence: AtomicU64,
}

#[derive(Debug, Default)]
struct Open {
    conns: Vec<Arc<Conn>>,
    /// Evictions not yet logged.
    evicted: u64,
    last_log: Option<Instant>,
    /// A task will log the evictions not yet logged once [`LOG_EVERY`] has passed.
    report_due: bool,
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
            paused: AtomicBool::new(false),
            sequence: AtomicU64::new(0),
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

    /// Tells every open connection to finish the request it has in flight, if any, and close
    /// (a connection waiting for a head closes at once); completes when all have closed. For
    /// the end of a stop: accepting has ended, so the list only shrinks.
    pub async fn drain(&self) {
        for conn in &self.lock().conns {
            conn.drain.raise();
        }
        loop {
            let closed = self.room.notified();
            tokio::pin!(closed);
            closed.as_mut().enable();
            if self.is_empty() {
                return;
            }
            closed.await;
        }
    }

    /// Waits until one more connection can be admitted: the registry is under the cap, or some
    /// connection may be evicted. Until then the accept loop does not accept, and new
    /// connections wait in the kernel's listen backlog.
    pub async fn room(&self) {
        loop {
            let notified = self.room.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            {
                let now = self.now();
                let mut open = self.lock();
                if open.conns.len() < self.cap || open.conns.iter().any(|c| c.eviction_key(now).is_some()) {
                    if open.paused {
                        open.paused = false;
                        self.paused.store(false, Ordering::Relaxed);
                        log::info!("connection cap {}: accepting again", self.cap);
                    }
                    return;
                }
                if !open.paused {
                    open.paused = true;
                    self.paused.store(true, Ordering::Relaxed);
                    log::warn!(
                        "connection cap {} reached and every connection has a request in flight: \
                         not accepting until one ends or stalls",
                        self.cap
                    );
                }
            }
            // Connections stall without a wake-up, so look again when the first known stall
            // qualifies, and now and then for the ones not yet known.
            let _ = tokio::time::timeout(self.recheck_in(), notified).await;
        }
    }

    /// How long until the longest current stall reaches [`STALLED_AFTER`], within
    /// [`RECHECK_AT_LEAST`] and [`RECHECK_EVERY`].
    fn recheck_in(&self) -> Duration {
        let now = self.now();
        let after = STALLED_AFTER.as_nanos() as u64;
        self.lock()
            .conns
            .iter()
            .map(|c| c.stalled_since.load(Ordering::Relaxed))
            .filter(|&since| since != NOT_STALLED)
            .map(|since| Duration::from_nanos((since + after).saturating_sub(now)))
            .min()
            .unwrap_or(RECHECK_EVERY)
            .clamp(RECHECK_AT_LEAST, RECHECK_EVERY)
    }

    /// Registers a newly accepted connection. At the cap, first evicts one (see the module
    /// documentation), if any may be, and says so: the caller should then yield, so the evicted
    /// connection's task runs and closes it before more are accepted.
    pub fn admit(self: &Arc<Self>) -> (Registration, bool) {
        let now = self.now();
        let mut open = self.lock();
        let mut evicted = false;
        if open.conns.len() >= self.cap {
            let oldest = open
                .conns
                .iter()
                .enumerate()
                .filter_map(|(i, c)| Some((c.eviction_key(now)?, i)))
                .min()
                .map(|(_, i)| i);
            if let Some(i) = oldest {
                let victim = Self::take(&mut open, i);
                victim.evict.raise();
                evicted = true;
                open.evicted += 1;
                self.log_evictions(&mut open);
            }
        }
        let conn = Arc::new(Conn {
            registry: Arc::clone(self),
            slot: AtomicUsize::new(open.conns.len()),
            flags: AtomicU8::new(0),
            stalled_since: AtomicU64::new(NOT_STALLED),
            polled: AtomicBool::new(false),
            sent: AtomicBool::new(false),
            waiting_since: AtomicU64::new(self.next_in_sequence()),
            evict: Notice::new(),
            drain: Notice::new(),
        });
        open.conns.push(Arc::clone(&conn));
        (Registration(conn), evicted)
    }

    /// Logs the evictions since the last report, at most once per [`LOG_EVERY`]; when that is too
    /// soon, a task reports them when it is due, so the last ones of a burst are logged too.
    fn log_evictions(self: &Arc<Self>, open: &mut Open) {
        let now = Instant::now();
        if let Some(at) = open.last_log.filter(|&at| now.duration_since(at) < LOG_EVERY) {
            if !open.report_due {
                open.report_due = true;
                let registry = Arc::clone(self);
                tokio::spawn(async move {
                    tokio::time::sleep_until((at + LOG_EVERY).into()).await;
                    let mut open = registry.lock();
                    open.report_due = false;
                    if open.evicted > 0 {
                        registry.log_evictions(&mut open);
                    }
                });
            }
            return;
        }
        log::warn!(
            "connection cap {} reached: evicted {} connection(s) waiting for a request head or \
             not reading their answers, longest waiting first",
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

    /// The next number of a sequence that orders events.
    fn next_in_sequence(&self) -> u64 {
        self.sequence.fetch_add(1, Ordering::Relaxed)
    }

    /// Nanoseconds since the registry was made.
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
    /// The `BUSY`, `ANSWERED`, `WROTE`, `DELIVERED` and `READ_WAITING` flags below.
    flags: AtomicU8,
    /// When it started waiting for its next request head ([`Registry::next_in_sequence`]).
    waiting_since: AtomicU64,
    /// Since when its writes are blocked, or [`NOT_STALLED`].
    stalled_since: AtomicU64,
    /// A read of its task found nothing more to read: until then its request may wait unseen in
    /// the kernel's buffer, so it may not be evicted.
    polled: AtomicBool,
    /// Its client has sent at least one byte.
    sent: AtomicBool,
    evict: Notice,
    drain: Notice,
}

/// A request is in flight: the connection may not be evicted.
const BUSY: u8 = 1;
/// The request in flight has its answer (hyper is writing it).
const ANSWERED: u8 = 2;
/// Bytes were written since the answer existed.
const WROTE: u8 = 4;
/// A flush completed after that: the answer is with the kernel in full.
const DELIVERED: u8 = 8;
/// The last read found nothing to read: hyper holds at most part of the next head. (A client
/// that pipelines has its next requests read and parsed before this, so it stays busy.)
const READ_WAITING: u8 = 16;

impl Conn {
    /// A complete request head arrived: the connection may not be evicted until it is answered
    /// and the client has sent no further complete request.
    pub fn request_started(&self) {
        self.flags.store(BUSY, Ordering::Relaxed);
    }

    /// The request in flight has its answer. Bytes written before this belonged to earlier
    /// (pipelined) answers, so only a flush after this and after a write delivers it.
    pub fn answer_ready(&self) {
        self.update(|f| (f | ANSWERED) & !WROTE);
    }

    /// Completes when the registry evicted this connection. The connection's task polls it at
    /// every turn, so it is a [`Notice`], cheap to poll, rather than a `Notify`.
    pub fn evicted(&self) -> Raised<'_> {
        self.evict.raised()
    }

    /// Completes when the server drains its connections ([`Registry::drain`]): this one should
    /// then finish its request in flight and close.
    pub fn drained(&self) -> Raised<'_> {
        self.drain.raised()
    }

    fn is_busy(&self) -> bool {
        self.flags.load(Ordering::Relaxed) & BUSY != 0
    }

    /// Eviction order at `now`: waiting for a head after sending something first (longest wait
    /// first), then stalled for [`STALLED_AFTER`] (longest stall first), then waiting with
    /// nothing sent yet (longest wait first); `None` if it may not be evicted (not yet read from,
    /// or busy and not stalled long enough).
    fn eviction_key(&self, now: u64) -> Option<(u8, u64)> {
        if !self.is_busy() {
            let class = if self.sent.load(Ordering::Relaxed) { 0 } else { 2 };
            return self
                .polled
                .load(Ordering::Relaxed)
                .then(|| (class, self.waiting_since.load(Ordering::Relaxed)));
        }
        let stalled = self.stalled_since.load(Ordering::Relaxed);
        (stalled != NOT_STALLED && now.saturating_sub(stalled) >= STALLED_AFTER.as_nanos() as u64)
            .then_some((1, stalled))
    }

    /// A write could not proceed: the stall starts now unless it already had.
    fn write_blocked(&self) {
        if self.stalled_since.load(Ordering::Relaxed) == NOT_STALLED {
            self.stalled_since.store(self.registry.now(), Ordering::Relaxed);
        }
    }

    fn write_progressed(&self) {
        self.stalled_since.store(NOT_STALLED, Ordering::Relaxed);
    }

    fn wrote(&self) {
        self.update(|f| if f & ANSWERED != 0 { f | WROTE } else { f });
    }

    fn flushed(&self) {
        self.update(|f| {
            if f & (ANSWERED | WROTE) == ANSWERED | WROTE {
                f | DELIVERED
            } else {
                f
            }
        });
    }

    /// Its task found nothing (more) to read: whatever the client sent so far has been seen, so
    /// from now on it may be evicted (the first time, a paused accept loop is woken to look
    /// again). Marking it on a read that returned bytes instead would leave it evictable between
    /// that read and hyper calling the service with a complete head.
    fn read_attempted(&self) {
        if !self.polled.load(Ordering::Relaxed) {
            self.polled.store(true, Ordering::Relaxed);
            if self.registry.paused.load(Ordering::Relaxed) {
                self.registry.room.notify_one();
            }
        }
    }

    fn read(&self, waiting: bool) {
        self.update(|f| {
            if waiting {
                f | READ_WAITING
            } else {
                f & !READ_WAITING
            }
        });
    }

    /// Applies `change` to the flags of a busy connection; once its answer is delivered and the
    /// client has nothing more for hyper to parse, it is waiting for a head again.
    fn update(&self, change: impl Fn(u8) -> u8) {
        let before = self.flags.load(Ordering::Relaxed);
        if before & BUSY == 0 {
            return;
        }
        let mut after = change(before);
        if after & (DELIVERED | READ_WAITING) == DELIVERED | READ_WAITING {
            after = 0;
            self.waiting_since
                .store(self.registry.next_in_sequence(), Ordering::Relaxed);
            if self.registry.paused.load(Ordering::Relaxed) {
                self.registry.room.notify_one();
            }
        }
        self.flags.store(after, Ordering::Relaxed);
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
        let before = buf.filled().len();
        let result = Pin::new(&mut self.io).poll_read(cx, buf);
        match result {
            Poll::Pending => {
                self.conn.read_attempted();
                self.conn.read(true);
            }
            Poll::Ready(Ok(())) if buf.filled().len() > before => {
                self.conn.sent.store(true, Ordering::Relaxed);
                self.conn.read(false);
            }
            Poll::Ready(_) => {}
        }
        result
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Tracked<T> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let result = Pin::new(&mut self.io).poll_write(cx, buf);
        self.wrote(&result);
        result
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let result = Pin::new(&mut self.io).poll_write_vectored(cx, bufs);
        self.wrote(&result);
        result
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let result = Pin::new(&mut self.io).poll_flush(cx);
        match result {
            Poll::Ready(Ok(())) => {
                self.conn.write_progressed();
                self.conn.flushed();
            }
            Poll::Pending => self.conn.write_blocked(),
            Poll::Ready(Err(_)) => {}
        }
        result
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

impl<T> Tracked<T> {
    /// Reports a write's outcome: progress, or a blocked write.
    fn wrote(&self, result: &Poll<io::Result<usize>>) {
        match result {
            Poll::Ready(Ok(n)) if *n > 0 => {
                self.conn.write_progressed();
                self.conn.wrote();
            }
            Poll::Pending => self.conn.write_blocked(),
            Poll::Ready(_) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Admits a connection whose task has read everything its client sent, something.
    fn admit_read(registry: &Arc<Registry>) -> (Registration, bool) {
        let (registration, evicted) = registry.admit();
        registration.conn().sent.store(true, Ordering::Relaxed);
        registration.conn().read_attempted();
        (registration, evicted)
    }

    /// At the cap, the connection waiting longest for a head goes first; busy ones never.
    #[tokio::test]
    async fn evicts_oldest_waiting_never_busy() {
        let registry = Registry::new(3);
        let (first, _) = admit_read(&registry);
        let (second, _) = admit_read(&registry);
        let (third, evicted) = admit_read(&registry);
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

    /// Draining tells every open connection, and completes once the last one has closed.
    #[tokio::test]
    async fn drain_tells_each_and_waits_for_all() {
        let registry = Registry::new(4);
        let (first, _) = registry.admit();
        let (second, _) = registry.admit();
        let drain = tokio::spawn({
            let registry = Arc::clone(&registry);
            async move { registry.drain().await }
        });
        for conn in [first.conn(), second.conn()] {
            tokio::time::timeout(Duration::from_secs(1), conn.drained())
                .await
                .expect("each connection is told");
        }
        drop(first);
        for _ in 0..3 {
            tokio::task::yield_now().await;
        }
        assert!(!drain.is_finished(), "drained with a connection still open");
        drop(second);
        tokio::time::timeout(Duration::from_secs(1), drain)
            .await
            .expect("drained once the last connection closed")
            .unwrap();
    }

    /// A connection stalled for [`STALLED_AFTER`] may be evicted, after every one waiting for a
    /// head and longest stall first; busy ones that are not stalled, or not long enough, never.
    #[tokio::test]
    async fn stalled_after_waiting_longest_stall_first() {
        let registry = Registry::new(4);
        let conns: Vec<_> = (0..4).map(|_| admit_read(&registry).0).collect();
        let [idle, stalled_long, stalled_short, moving] = [0, 1, 2, 3].map(|i| conns[i].conn());
        for conn in [stalled_long, stalled_short, moving] {
            conn.request_started();
        }
        let second = STALLED_AFTER.as_nanos() as u64;
        stalled_long.stalled_since.store(1, Ordering::Relaxed);
        stalled_short.stalled_since.store(2, Ordering::Relaxed);
        let now = 2 + second;

        assert_eq!(idle.eviction_key(now).map(|k| k.0), Some(0));
        assert_eq!(stalled_long.eviction_key(now), Some((1, 1)));
        assert_eq!(stalled_short.eviction_key(now), Some((1, 2)));
        assert_eq!(stalled_short.eviction_key(now - 1), None);
        assert_eq!(moving.eviction_key(now), None);
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

    /// A connection not yet read from is never evicted, however long it has waited: with only
    /// such connections at the cap, `room` waits, and their first read wakes it.
    #[tokio::test]
    async fn unread_connection_is_not_evicted() {
        let registry = Registry::new(2);
        let (older, _) = registry.admit();
        let (newer, _) = registry.admit();

        assert_eq!(older.conn().eviction_key(u64::MAX), None);
        let blocked = tokio::time::timeout(Duration::from_millis(50), registry.room()).await;
        assert!(blocked.is_err(), "room while no connection has been read");

        let room = tokio::spawn({
            let registry = Arc::clone(&registry);
            async move { registry.room().await }
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
        newer.conn().read_attempted();
        // Sooner than the periodic look (RECHECK_EVERY after it began waiting), with room for
        // a loaded machine.
        tokio::time::timeout(Duration::from_millis(150), room)
            .await
            .expect("the first read wakes the paused accept loop")
            .unwrap();

        let (_third, evicted) = registry.admit();
        assert!(evicted);
        assert_eq!(newer.conn().slot.load(Ordering::Relaxed), GONE);
        assert_ne!(older.conn().slot.load(Ordering::Relaxed), GONE);
    }

    /// A paused accept loop looks again as soon as a known stall qualifies, not a fixed period
    /// later.
    #[tokio::test]
    async fn recheck_when_the_first_stall_qualifies() {
        let registry = Registry::new(2);
        let (stalled, _) = admit_read(&registry);
        let (_idle, _) = admit_read(&registry);
        assert_eq!(registry.recheck_in(), RECHECK_EVERY);

        stalled.conn().request_started();
        // The registry's clock starts at zero: let it pass the stall times set below.
        std::thread::sleep(STALLED_AFTER);
        let now = registry.now();
        let remaining = Duration::from_millis(100);
        stalled.conn().stalled_since.store(
            now - (STALLED_AFTER - remaining).as_nanos() as u64,
            Ordering::Relaxed,
        );
        let wait = registry.recheck_in();

        assert!(wait <= remaining && wait > remaining / 2, "{wait:?}");
        stalled
            .conn()
            .stalled_since
            .store(now - STALLED_AFTER.as_nanos() as u64, Ordering::Relaxed);
        assert_eq!(registry.recheck_in(), RECHECK_AT_LEAST);
    }

    /// A connection whose client has sent nothing yet goes after every one that sent something,
    /// however much newer those are, and after stalled ones.
    #[tokio::test]
    async fn silent_after_those_that_sent_something() {
        let registry = Registry::new(2);
        let (silent, _) = registry.admit();
        silent.conn().read_attempted();
        let (sent, _) = admit_read(&registry);

        let (_third, evicted) = registry.admit();

        assert!(evicted);
        assert_eq!(sent.conn().slot.load(Ordering::Relaxed), GONE);
        assert_ne!(silent.conn().slot.load(Ordering::Relaxed), GONE);
        let (stalled, _) = admit_read(&registry);
        stalled.conn().request_started();
        stalled.conn().stalled_since.store(0, Ordering::Relaxed);
        let now = STALLED_AFTER.as_nanos() as u64;
        assert!(stalled.conn().eviction_key(now) < silent.conn().eviction_key(now));
    }
}
