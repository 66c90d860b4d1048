//! Signal handling: the first SIGTERM or SIGINT starts a graceful shutdown, a second one exits at
//! once. The handlers are installed explicitly because the kernel gives PID 1 no default action.

use std::future::Future;
use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::oneshot;

/// Exit status after a second signal cut the graceful drain short.
pub const FORCED_EXIT: i32 = 1;

/// Installs the SIGTERM and SIGINT handlers and returns a future that completes on the first
/// signal. A second signal ends the process with [`FORCED_EXIT`].
///
/// Must be called inside a tokio runtime.
///
/// # Errors
/// The handlers could not be installed.
pub fn on_signal() -> io::Result<impl Future<Output = ()>> {
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    let (first_tx, first_rx) = oneshot::channel();
    tokio::spawn(async move {
        let mut next = async || {
            tokio::select! {
                _ = term.recv() => "SIGTERM",
                _ = int.recv() => "SIGINT",
            }
        };
        let first = next().await;
        log::info!("{first} received: shutting down gracefully");
        let _ = first_tx.send(());
        let second = next().await;
        log::warn!("{second} received again: exiting now");
        std::process::exit(FORCED_EXIT);
    });
    Ok(async move {
        let _ = first_rx.await;
    })
}

/// Set once a stop has begun: from then on `/healthz` answers 503 and every answer carries
/// `Connection: close`, so load balancers and clients move away before the listener closes.
#[derive(Clone, Debug, Default)]
pub struct Stopping(Arc<AtomicBool>);

impl Stopping {
    /// Marks the stop as begun.
    pub fn set(&self) {
        self.0.store(true, Ordering::Relaxed);
    }

    /// Whether the stop has begun.
    pub fn is_set(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}
