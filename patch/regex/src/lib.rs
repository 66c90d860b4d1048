//! `regex-lite` under the name `regex`, for `env_logger` only.
//!
//! `pretty_env_logger` 0.5 turns on `env_logger` 0.10's default `regex` feature, whose only use is
//! the `RUST_LOG=…/pattern` message filter: `env_logger` calls `Regex::new`, `Regex::is_match` and
//! `Display` on the result (its `src/filter/regex.rs`), nothing else. The full `regex` crate
//! (with `regex-automata`, `regex-syntax` and `aho-corasick`) was 44 % of tinyweb's code; the
//! top-level `Cargo.toml` patches `regex` with this crate, which re-exports `regex-lite`: the same
//! syntax without Unicode classes and with backtracking-free but unoptimised matching, which is
//! plenty for one short filter checked against log lines. `tests/log_filter.rs` checks that the
//! filter still filters, through the real binary.

pub use regex_lite::*;
