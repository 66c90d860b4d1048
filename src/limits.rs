//! The connection cap in force: `TINYWEB_MAX_CONNECTIONS`, or derived from the cgroup memory
//! limit, and never more than the file-descriptor limit allows.

use crate::cgroup::{self, Memory};
use crate::config::Config;
use crate::server::{RECEIVE_BUFFER, SEND_BUFFER};

/// The cap when there is no memory limit to derive one from: above the 3 000 concurrent
/// connections the tests and README promise.
pub const FIXED_DEFAULT: usize = 4096;

/// The smallest cap: fewer could not serve a handful of clients and a health probe.
pub const MINIMUM: usize = 16;

/// Descriptors kept free of connections: the listener, stdio, the runtime's own, and spares.
pub const SPARE_FDS: u64 = 64;

/// What a cgroup v1 charges per open connection, in bytes: the largest measured charge (a request
/// in flight whose answers the client does not read, 41 083 to 43 971 B over four runs; half a
/// head about 24 800 B, idle keep-alive about 16 500 B: `bench/conn_cost.py`, README "Cost per
/// connection") with a tenth added for run-to-run spread. Using the worst case keeps the cap safe
/// whatever mix of connections fills it.
pub const CHARGE_PER_CONNECTION: u64 = 48 * 1024;

/// What cgroup v2 charges on top: it also counts socket buffers, at worst both of a connection's
/// kernel buffers full (Linux doubles the sizes asked for).
pub const V2_SOCKET_CHARGE: u64 = 2 * (SEND_BUFFER as u64 + RECEIVE_BUFFER as u64);

/// Memory kept out of the connections' budget: the process's working memory under load (request
/// handling, logging, the runtime) beyond what it had at start.
pub const RESERVE: u64 = 1024 * 1024;

/// The cap and a sentence saying where it came from, for the start-up log.
#[derive(Debug, PartialEq, Eq)]
pub struct Cap {
    /// The connection cap.
    pub value: usize,
    /// Where it came from.
    pub source: String,
    /// A reason to warn, if any.
    pub warning: Option<String>,
}

/// The cap for `config` in this process: reads the cgroup and `RLIMIT_NOFILE`.
pub fn connection_cap(config: &Config) -> Cap {
    derive(config.max_connections, cgroup::memory(), fd_limit())
}

/// The soft `RLIMIT_NOFILE`, if it can be read.
fn fd_limit() -> Option<u64> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit only writes the struct passed in.
    let ok = unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } == 0;
    ok.then_some(limit.rlim_cur)
}

/// The cap from an explicit setting or the cgroup's memory, bounded by the descriptor limit.
pub fn derive(explicit: Option<usize>, memory: Result<Memory, String>, fds: Option<u64>) -> Cap {
    let by_fds = fds.map(|n| n.saturating_sub(SPARE_FDS) as usize);
    if let Some(value) = explicit {
        let warning = by_fds.filter(|&max| value > max).map(|max| {
            format!(
                "TINYWEB_MAX_CONNECTIONS={value} is above RLIMIT_NOFILE - {SPARE_FDS} = {max}: \
                 accepting may fail with \"Too many open files\""
            )
        });
        return Cap {
            value,
            source: "TINYWEB_MAX_CONNECTIONS".into(),
            warning,
        };
    }
    let (mut value, mut source) = match memory {
        Ok(m) => {
            let budget = m.limit.saturating_sub(m.usage).saturating_sub(RESERVE);
            let charge = CHARGE_PER_CONNECTION + if m.version == 2 { V2_SOCKET_CHARGE } else { 0 };
            (
                (budget / charge) as usize,
                format!(
                    "cgroup v{} memory limit {} B, usage at start {} B: ({} - {} - {RESERVE} reserve) / \
                     {charge} B per connection",
                    m.version, m.limit, m.usage, m.limit, m.usage
                ),
            )
        }
        Err(why) => (FIXED_DEFAULT, format!("fixed default: {why}")),
    };
    if let Some(max) = by_fds.filter(|&max| value > max) {
        value = max;
        source = format!("RLIMIT_NOFILE - {SPARE_FDS}, below the {source}");
    }
    let mut warning = None;
    if value < MINIMUM {
        warning = Some(format!(
            "derived connection cap {value} is below {MINIMUM} ({source}); using {MINIMUM}"
        ));
        value = MINIMUM;
    }
    Cap {
        value,
        source,
        warning,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limited(limit: u64, usage: u64) -> Result<Memory, String> {
        Ok(Memory {
            version: 1,
            limit,
            usage,
        })
    }

    /// cgroup v2 also charges socket buffers, so the same limit gives fewer connections.
    #[test]
    fn v2_charges_socket_buffers_too() {
        let v2 = derive(
            None,
            Ok(Memory {
                version: 2,
                limit: 64 << 20,
                usage: 0,
            }),
            None,
        );

        assert_eq!(
            v2.value as u64,
            ((64 << 20) - RESERVE) / (CHARGE_PER_CONNECTION + V2_SOCKET_CHARGE)
        );
    }

    /// A limit gives (limit - usage - reserve) / charge.
    #[test]
    fn derived_from_the_memory_limit() {
        let cap = derive(None, limited(6 << 20, 1 << 20), Some(1 << 20));

        assert_eq!(
            cap.value,
            ((6 << 20) - (1 << 20) - RESERVE as usize) / CHARGE_PER_CONNECTION as usize
        );
        assert!(
            cap.source.starts_with("cgroup v1 memory limit 6291456 B"),
            "{}",
            cap.source
        );
        assert_eq!(cap.warning, None);
    }

    /// No limit gives the fixed default; the descriptor limit caps either.
    #[test]
    fn fixed_default_and_descriptor_limit() {
        let none = derive(None, Err("cgroup v2 sets no memory limit".into()), Some(1 << 20));
        let few_fds = derive(None, Err("x".into()), Some(1024));

        assert_eq!(none.value, FIXED_DEFAULT);
        assert_eq!(none.source, "fixed default: cgroup v2 sets no memory limit");
        assert_eq!(few_fds.value, 1024 - SPARE_FDS as usize);
        assert!(
            few_fds.source.starts_with("RLIMIT_NOFILE - 64"),
            "{}",
            few_fds.source
        );
    }

    /// Never below the minimum, with a warning.
    #[test]
    fn minimum_with_a_warning() {
        let tiny = derive(None, limited(2 << 20, 1 << 20), None);
        let no_fds = derive(None, Err("x".into()), Some(64));

        assert_eq!((tiny.value, no_fds.value), (MINIMUM, MINIMUM));
        assert!(tiny.warning.is_some() && no_fds.warning.is_some());
    }

    /// An explicit cap is used as given, with a warning above the descriptor limit.
    #[test]
    fn explicit_cap() {
        let fits = derive(Some(100), limited(2 << 20, 0), Some(1024));
        let above = derive(Some(5000), Err("x".into()), Some(1024));

        assert_eq!((fits.value, fits.warning), (100, None));
        assert_eq!(above.value, 5000);
        assert!(above.warning.unwrap().contains("RLIMIT_NOFILE - 64 = 960"));
    }
}
