//! tinyweb: a tiny, hardened hello-world HTTP service (warp on tokio, logging through
//! pretty_env_logger) meant to run as PID 1 in an empty container image.
//!
//! # Layout
//! - [`config`]: settings from the environment, their defaults and validation.
//! - [`routes`]: the warp filters (`/`, `/healthz`), 4xx mapping and the access log.
//! - [`access_line`]: the access log's message, rendered with one write.
//! - [`server`]: the listener and accept loop on hyper's HTTP/1 builder, limits, timeouts, the
//!   shutdown delay and graceful drain.
//! - [`service`]: the per-request guard around the routes: `Host` check, in-flight mark,
//!   `Connection: close` while stopping.
//! - [`header_timer`]: hyper's header-read timer, one per connection.
//! - [`host`]: `Host` header validation (RFC 9112 §3.2, RFC 3986).
//! - [`connections`]: the connection registry, its cap and eviction.
//! - [`notice`]: a one-way notice to a task, cheap to check at every poll.
//! - [`limits`]: the cap in force, from the configuration or the cgroup memory limit.
//! - [`cgroup`]: the cgroup v1/v2 memory limit and usage.
//! - [`shutdown`]: SIGTERM/SIGINT handling that also works as PID 1.
//! - [`healthcheck`]: the self-probe used by the images' Docker HEALTHCHECK.
//! - [`cli`]: the few command-line arguments and the help text.

pub mod access_line;
pub mod cgroup;
pub mod cli;
pub mod config;
pub mod connections;
pub mod header_timer;
pub mod healthcheck;
pub mod host;
pub mod limits;
pub mod notice;
pub mod routes;
pub mod server;
pub mod service;
pub mod shutdown;
