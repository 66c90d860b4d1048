//! A one-way notice from anywhere to one task, cheap to check at every poll of that task.
//!
//! tokio's `Notify` takes its lock at every poll of a waiting `Notified`, about 150 instructions
//! per request for a connection task that checks it each time it runs (bench/instructions.py).
//! Here a poll that finds the notice not raised, with the task's waker already registered, is
//! one atomic load and a waker comparison.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

/// A notice raised at most once, and the waker of the task waiting for it.
#[derive(Debug, Default)]
pub struct Notice {
    raised: AtomicBool,
    waker: Mutex<Option<Waker>>,
}

impl Notice {
    /// A notice not raised.
    pub const fn new() -> Notice {
        Notice {
            raised: AtomicBool::new(false),
            waker: Mutex::new(None),
        }
    }

    /// Raises the notice and wakes the task waiting for it, if one is.
    pub fn raise(&self) {
        // SeqCst with the lock below: either `Raised::poll` sees the flag, or this sees the waker
        // it registered before it looked.
        self.raised.store(true, Ordering::SeqCst);
        if let Some(waker) = self.lock().take() {
            waker.wake();
        }
    }

    /// Whether it has been raised.
    pub fn is_raised(&self) -> bool {
        self.raised.load(Ordering::SeqCst)
    }

    /// Completes once the notice is raised. Only one task should wait at a time: the notice
    /// keeps a single waker.
    pub fn raised(&self) -> Raised<'_> {
        Raised {
            notice: self,
            registered: None,
        }
    }

    fn lock(&self) -> MutexGuard<'_, Option<Waker>> {
        // Nothing panics while holding the lock (and panics abort), so it is never poisoned.
        self.waker.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The future of [`Notice::raised`].
#[derive(Debug)]
pub struct Raised<'a> {
    notice: &'a Notice,
    /// The waker last handed to the notice: while the task's waker stays the same (always, for
    /// a task that is this future's only owner), polls skip the lock.
    registered: Option<Waker>,
}

impl Future for Raised<'_> {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if !self.registered.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
            let waker = cx.waker().clone();
            *self.notice.lock() = Some(waker.clone());
            self.registered = Some(waker);
        }
        if self.notice.is_raised() {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::time::Duration;

    /// A waiting task is woken by a raise from another task, and a raise before the wait counts.
    #[tokio::test]
    async fn raise_wakes_the_waiter() {
        let notice = Arc::new(Notice::default());
        let waiter = tokio::spawn({
            let notice = Arc::clone(&notice);
            async move { notice.raised().await }
        });
        tokio::task::yield_now().await;
        assert!(!waiter.is_finished(), "finished before the raise");
        notice.raise();
        tokio::time::timeout(Duration::from_secs(1), waiter)
            .await
            .expect("woken by the raise")
            .unwrap();

        let early = Notice::default();
        early.raise();
        tokio::time::timeout(Duration::from_secs(1), early.raised())
            .await
            .expect("a raise before the wait is seen");
    }

    /// Polled again with another task's waker, it wakes that task.
    #[tokio::test]
    async fn follows_a_new_waker() {
        static NOTICE: Notice = Notice::new();
        let mut raised = Box::pin(NOTICE.raised());
        assert!(poll_once(raised.as_mut()).await.is_pending());
        let waiter = tokio::spawn(raised);
        tokio::task::yield_now().await;
        NOTICE.raise();
        tokio::time::timeout(Duration::from_secs(1), waiter)
            .await
            .expect("the new waker was woken")
            .unwrap();
    }

    async fn poll_once<F: Future + Unpin>(mut future: F) -> Poll<F::Output> {
        std::future::poll_fn(|cx| Poll::Ready(Pin::new(&mut future).poll(cx))).await
    }
}
