//! hyper's timer for one connection's header-read timeout: one tokio timer, moved to each new
//! deadline, where hyper-util's `TokioTimer` makes a new one per request, registers it with
//! tokio's timer wheel when the read waits and takes it out again when the head arrives.
//!
//! hyper asks for a new sleep each time it starts reading a head and drops it once the head is
//! complete, so a connection has at most one deadline at a time. Moving a registered tokio timer
//! to a later deadline is one atomic update (the wheel re-files it only when the old deadline
//! comes), which costs about 500 instructions per request less (bench/instructions.py).

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use hyper::rt::{Sleep, Timer};

/// The header-read timer of one connection; give each connection its own.
#[derive(Debug, Default, Clone)]
pub struct HeaderTimer(Arc<Shared>);

/// The connection's tokio timer, made at its first deadline.
#[derive(Debug, Default)]
struct Shared(Mutex<Option<Pin<Box<tokio::time::Sleep>>>>);

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Option<Pin<Box<tokio::time::Sleep>>>> {
        // Nothing panics while holding the lock (and panics abort), so it is never poisoned.
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Timer for HeaderTimer {
    fn sleep(&self, duration: Duration) -> Pin<Box<dyn Sleep>> {
        self.sleep_until(self.now() + duration)
    }

    fn sleep_until(&self, deadline: Instant) -> Pin<Box<dyn Sleep>> {
        let mut sleep = self.0.lock();
        match sleep.as_mut() {
            Some(sleep) => sleep.as_mut().reset(deadline.into()),
            None => *sleep = Some(Box::pin(tokio::time::sleep_until(deadline.into()))),
        }
        Box::pin(Deadline(Arc::clone(&self.0)))
    }

    fn now(&self) -> Instant {
        tokio::time::Instant::now().into_std()
    }
}

/// The connection's latest deadline, as hyper's [`Sleep`].
struct Deadline(Arc<Shared>);

impl Future for Deadline {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        match self.0.lock().as_mut() {
            Some(sleep) => sleep.as_mut().poll(cx),
            None => Poll::Ready(()),
        }
    }
}

impl Sleep for Deadline {}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each deadline completes when it comes, whether it moves the timer later or earlier.
    #[tokio::test]
    async fn deadlines_complete_when_due() {
        let timer = HeaderTimer::default();
        for ms in [60, 120, 30] {
            let start = Instant::now();
            let abandoned = timer.sleep(Duration::from_secs(60));
            drop(abandoned);
            tokio::time::timeout(Duration::from_secs(5), timer.sleep(Duration::from_millis(ms)))
                .await
                .expect("the deadline came");
            let waited = start.elapsed();
            assert!(
                waited >= Duration::from_millis(ms),
                "{ms} ms deadline after {waited:?}"
            );
        }
    }
}
