//! hyper's timer for one connection's header-read timeout: one tokio timer, moved to each new
//! deadline, where hyper-util's `TokioTimer` makes a new one per request, registers it with
//! tokio's timer wheel when the read waits and takes it out again when the head arrives.
//!
//! hyper asks for a new sleep each time it starts reading a head and drops it once the head is
//! complete, so a connection has at most one deadline at a time. Moving a registered tokio timer
//! to a later deadline is one atomic update (the wheel re-files it only when the old deadline
//! comes). The sleep hyper gets is zero-sized, so boxing it allocates nothing: it finds its
//! connection's timer through the task that polls it ([`HeaderTimer::serving`]). A per-request
//! allocation of even a few bytes cost about 600 instructions in musl's allocator here, the
//! group it lived in emptying and being made again at every request (bench/instructions.py).

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use hyper::rt::{Sleep, Timer};
use pin_project_lite::pin_project;
use scoped_tls::scoped_thread_local;

/// The header-read timer of one connection; give each connection its own, and poll the
/// connection's task through [`HeaderTimer::serving`].
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
        Box::pin(Deadline)
    }

    fn now(&self) -> Instant {
        tokio::time::Instant::now().into_std()
    }
}

scoped_thread_local!(
    /// The timer of the connection whose task is being polled on this thread.
    static SERVING: Shared
);

impl HeaderTimer {
    /// `task`, the task serving this timer's connection, polled where the sleeps hyper gets
    /// from this timer find it.
    pub fn serving<F: Future>(self, task: F) -> Serving<F> {
        Serving { task, timer: self }
    }
}

pin_project! {
    /// The future of [`HeaderTimer::serving`].
    #[derive(Debug)]
    pub struct Serving<F> {
        #[pin]
        task: F,
        timer: HeaderTimer,
    }
}

impl<F: Future> Future for Serving<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.project();
        SERVING.set(&this.timer.0, || this.task.poll(cx))
    }
}

/// The latest deadline of the connection whose task polls it, as hyper's [`Sleep`]. Polled
/// outside such a task it has no timer to wait on, and is over at once: the connection times out
/// rather than hangs.
struct Deadline;

impl Future for Deadline {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if !SERVING.is_set() {
            return Poll::Ready(());
        }
        SERVING.with(|timer| match timer.lock().as_mut() {
            Some(sleep) => sleep.as_mut().poll(cx),
            None => Poll::Ready(()),
        })
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
        timer
            .clone()
            .serving(async move {
                for ms in [60, 120, 30] {
                    let start = Instant::now();
                    drop(timer.sleep(Duration::from_secs(60)));
                    let due = timer.sleep(Duration::from_millis(ms));
                    tokio::time::timeout(Duration::from_secs(5), due)
                        .await
                        .expect("the deadline came");
                    let waited = start.elapsed();
                    assert!(
                        waited >= Duration::from_millis(ms),
                        "{ms} ms deadline after {waited:?}"
                    );
                }
            })
            .await;
    }

    /// Polled outside a task serving its connection, a sleep has no timer to wait on: it is
    /// over at once rather than never.
    #[tokio::test]
    async fn outside_its_task_a_sleep_is_over() {
        let timer = HeaderTimer::default();
        tokio::time::timeout(Duration::from_secs(1), timer.sleep(Duration::from_secs(60)))
            .await
            .expect("over at once");
    }
}
