//! tinyweb: a tiny, hardened hello-world HTTP service (warp on tokio, logging through
//! pretty_env_logger) meant to run as PID 1 in an empty container image.
//!
//! # Layout
//! - [`config`]: settings from the environment, their defaults and validation.
//! - [`routes`]: the warp filters (`/`, `/healthz`), 4xx mapping and the access log.
//! - [`server`]: the accept loop on hyper's HTTP/1 builder, limits, timeouts, graceful drain.
//! - [`shutdown`]: SIGTERM/SIGINT handling that also works as PID 1.
//! - [`healthcheck`]: the self-probe used by the images' Docker HEALTHCHECK.
//! - [`cli`]: the few command-line arguments and the help text.

pub mod cli;
pub mod config;
pub mod healthcheck;
pub mod routes;
pub mod server;
pub mod shutdown;
