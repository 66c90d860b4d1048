//! Runtime configuration, read from the environment: the defaults live here and only here.

use std::ffi::OsString;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

/// One environment variable tinyweb reads: its name, default and meaning (for `--help`).
pub struct Var {
    /// The variable's name.
    pub name: &'static str,
    /// The value used when it is unset.
    pub default: &'static str,
    /// What it controls.
    pub help: &'static str,
}

/// Every variable tinyweb reads, in the order `--help` lists them.
pub const VARS: &[Var] = &[
    Var {
        name: "PORT",
        default: "8000",
        help: "TCP port to listen on (0: any free port)",
    },
    Var {
        name: "HOST",
        default: "0.0.0.0",
        help: "IP address to listen on (:: for IPv6 and IPv4)",
    },
    Var {
        name: "RUST_LOG",
        default: "info",
        help: "log filter (env_logger syntax)",
    },
    Var {
        name: "TINYWEB_SHUTDOWN_GRACE_SECS",
        default: "5",
        help: "on SIGTERM/SIGINT, how long in-flight requests may finish (0-3600)",
    },
    Var {
        name: "TINYWEB_SHUTDOWN_DELAY_SECS",
        default: "0",
        help: "on SIGTERM/SIGINT, keep serving this long with /healthz at 503 before the drain \
               (0-3600; with the grace at most 3600)",
    },
    Var {
        name: "TINYWEB_HEADER_TIMEOUT_SECS",
        default: "5",
        help: "a connection must send a whole request head within this (new or idle) (1-3600)",
    },
    Var {
        name: "TINYWEB_MAX_HEADER_BYTES",
        default: "16384",
        help: "largest request line + headers; larger gets 431 (1024-1048576)",
    },
    Var {
        name: "TINYWEB_WRITE_TIMEOUT_SECS",
        default: "10",
        help: "a connection whose answer makes no write progress this long is closed (1-3600)",
    },
    Var {
        name: "TINYWEB_MAX_CONNECTIONS",
        default: "auto",
        help: "open connections at most; auto derives it from the cgroup memory limit \
               (auto or 16-1048576)",
    },
    Var {
        name: "TINYWEB_LISTEN_BACKLOG",
        default: "4096",
        help: "connections the kernel queues before they are accepted, capped by \
               net.core.somaxconn (1-65535)",
    },
];

/// The service's settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// Address to listen on (`HOST`).
    pub host: IpAddr,
    /// Port to listen on (`PORT`); 0 lets the kernel choose.
    pub port: u16,
    /// How long a graceful shutdown waits for in-flight requests.
    pub shutdown_grace: Duration,
    /// How long a connection may take to deliver a complete request head, counted from when the
    /// connection is opened or from when it became idle between keep-alive requests.
    pub header_timeout: Duration,
    /// Largest request head (request line and headers) accepted, in bytes.
    pub max_header_bytes: usize,
    /// After the first signal, how long to keep accepting and serving (with `/healthz` at 503 and
    /// `Connection: close` on every answer) before the drain, so load balancers stop sending.
    pub shutdown_delay: Duration,
    /// How long a connection may make no write progress before it is closed.
    pub write_timeout: Duration,
    /// The connection cap, or `None` to derive it from the cgroup memory limit.
    pub max_connections: Option<usize>,
    /// The listen backlog asked for (the kernel caps it at `net.core.somaxconn`).
    pub listen_backlog: u32,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            host: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            port: 8000,
            shutdown_grace: Duration::from_secs(5),
            header_timeout: Duration::from_secs(5),
            max_header_bytes: 16 * 1024,
            shutdown_delay: Duration::ZERO,
            write_timeout: Duration::from_secs(10),
            max_connections: None,
            listen_backlog: 4096,
        }
    }
}

/// A variable whose value cannot be used.
#[derive(Debug, PartialEq, Eq)]
pub struct ConfigError {
    var: &'static str,
    value: String,
    expected: &'static str,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "invalid {} {:?}: expected {}",
            self.var, self.value, self.expected
        )
    }
}

impl std::error::Error for ConfigError {}

impl Config {
    /// Reads the configuration from the process environment.
    ///
    /// # Errors
    /// The first variable that is set but cannot be used.
    pub fn from_env() -> Result<Config, ConfigError> {
        Config::from_lookup(|name| std::env::var_os(name))
    }

    /// Reads the configuration through `lookup`, which returns a variable's value if it is set.
    ///
    /// # Errors
    /// The first variable that is set but cannot be used.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<OsString>) -> Result<Config, ConfigError> {
        let defaults = Config::default();
        let get = |var: &'static str, expected: &'static str| -> Result<Option<String>, ConfigError> {
            match lookup(var) {
                None => Ok(None),
                Some(raw) => raw.into_string().map(Some).map_err(|raw| ConfigError {
                    var,
                    value: raw.to_string_lossy().into_owned(),
                    expected,
                }),
            }
        };
        let parsed = |var: &'static str, expected: &'static str, min: u64, max: u64| {
            get(var, expected)?
                .map(|value| match value.parse::<u64>() {
                    Ok(n) if (min..=max).contains(&n) => Ok(n),
                    _ => Err(ConfigError { var, value, expected }),
                })
                .transpose()
        };

        const HOST: &str = "an IPv4 or IPv6 address such as 0.0.0.0 or ::";
        let host = match get("HOST", HOST)? {
            None => defaults.host,
            Some(value) => value.parse().map_err(|_| ConfigError {
                var: "HOST",
                value,
                expected: HOST,
            })?,
        };
        let secs = |n: Option<u64>, default: Duration| n.map_or(default, Duration::from_secs);

        const CONNECTIONS: &str = "auto or a connection count from 16 to 1048576";
        let max_connections = match get("TINYWEB_MAX_CONNECTIONS", CONNECTIONS)? {
            None => defaults.max_connections,
            Some(value) if value == "auto" => None,
            Some(value) => match value.parse::<usize>() {
                Ok(n) if (16..=1 << 20).contains(&n) => Some(n),
                _ => {
                    return Err(ConfigError {
                        var: "TINYWEB_MAX_CONNECTIONS",
                        value,
                        expected: CONNECTIONS,
                    })
                }
            },
        };
        let config = Config {
            host,
            port: parsed("PORT", "a port number from 0 to 65535", 0, 65535)?
                .map_or(defaults.port, |n| n as u16),
            shutdown_grace: secs(
                parsed(
                    "TINYWEB_SHUTDOWN_GRACE_SECS",
                    "whole seconds from 0 to 3600",
                    0,
                    3600,
                )?,
                defaults.shutdown_grace,
            ),
            header_timeout: secs(
                parsed(
                    "TINYWEB_HEADER_TIMEOUT_SECS",
                    "whole seconds from 1 to 3600",
                    1,
                    3600,
                )?,
                defaults.header_timeout,
            ),
            max_header_bytes: parsed(
                "TINYWEB_MAX_HEADER_BYTES",
                "a byte count from 1024 to 1048576",
                1024,
                1 << 20,
            )?
            .map_or(defaults.max_header_bytes, |n| n as usize),
            shutdown_delay: secs(
                parsed(
                    "TINYWEB_SHUTDOWN_DELAY_SECS",
                    "whole seconds from 0 to 3600",
                    0,
                    3600,
                )?,
                defaults.shutdown_delay,
            ),
            write_timeout: secs(
                parsed(
                    "TINYWEB_WRITE_TIMEOUT_SECS",
                    "whole seconds from 1 to 3600",
                    1,
                    3600,
                )?,
                defaults.write_timeout,
            ),
            max_connections,
            listen_backlog: parsed("TINYWEB_LISTEN_BACKLOG", "a count from 1 to 65535", 1, 65535)?
                .map_or(defaults.listen_backlog, |n| n as u32),
        };
        // The whole stop must fit the orchestrator's kill timeout, which the README sizes from it.
        if config.stop_bound() > Duration::from_secs(3600) {
            return Err(ConfigError {
                var: "TINYWEB_SHUTDOWN_DELAY_SECS",
                value: config.shutdown_delay.as_secs().to_string(),
                expected: "at most 3600 seconds together with TINYWEB_SHUTDOWN_GRACE_SECS",
            });
        }
        Ok(config)
    }

    /// The longest a graceful stop can take: the delay, then the drain's grace period.
    pub fn stop_bound(&self) -> Duration {
        self.shutdown_delay + self.shutdown_grace
    }

    /// The socket address to listen on.
    pub fn listen_addr(&self) -> SocketAddr {
        SocketAddr::new(self.host, self.port)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn from(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
        Config::from_lookup(|name| pairs.iter().find(|(k, _)| *k == name).map(|(_, v)| v.into()))
    }

    /// Nothing set gives the documented defaults (the README's values, written out here, so a
    /// changed default fails until the documentation changes with it).
    #[test]
    fn unset_gives_defaults() {
        let config = from(&[]).unwrap();

        assert_eq!(config.listen_addr().to_string(), "0.0.0.0:8000");
        assert_eq!(config.shutdown_grace, Duration::from_secs(5));
        assert_eq!(config.header_timeout, Duration::from_secs(5));
        assert_eq!(config.max_header_bytes, 16384);
        assert_eq!(config, Config::default());
    }

    /// Every variable is read.
    #[test]
    fn every_variable_is_read() {
        let config = from(&[
            ("HOST", "::"),
            ("PORT", "0"),
            ("TINYWEB_SHUTDOWN_GRACE_SECS", "0"),
            ("TINYWEB_HEADER_TIMEOUT_SECS", "30"),
            ("TINYWEB_MAX_HEADER_BYTES", "8192"),
            ("TINYWEB_SHUTDOWN_DELAY_SECS", "7"),
            ("TINYWEB_WRITE_TIMEOUT_SECS", "3"),
            ("TINYWEB_MAX_CONNECTIONS", "16"),
            ("TINYWEB_LISTEN_BACKLOG", "100"),
        ])
        .unwrap();

        assert_eq!(config.listen_addr().to_string(), "[::]:0");
        assert_eq!(config.shutdown_grace, Duration::ZERO);
        assert_eq!(config.header_timeout, Duration::from_secs(30));
        assert_eq!(config.max_header_bytes, 8192);
        assert_eq!(config.shutdown_delay, Duration::from_secs(7));
        assert_eq!(config.write_timeout, Duration::from_secs(3));
        assert_eq!(config.max_connections, Some(16));
        assert_eq!(config.listen_backlog, 100);
    }

    /// `auto` and unset both derive the cap.
    #[test]
    fn max_connections_auto() {
        assert_eq!(
            from(&[("TINYWEB_MAX_CONNECTIONS", "auto")])
                .unwrap()
                .max_connections,
            None
        );
        assert_eq!(from(&[]).unwrap().max_connections, None);
    }

    /// The delay and the grace may each be up to 3600 s, but not together.
    #[test]
    fn delay_plus_grace_at_most_an_hour() {
        let both = |delay, grace| {
            from(&[
                ("TINYWEB_SHUTDOWN_DELAY_SECS", delay),
                ("TINYWEB_SHUTDOWN_GRACE_SECS", grace),
            ])
        };

        assert_eq!(both("3600", "0").unwrap().stop_bound(), Duration::from_secs(3600));
        assert_eq!(
            both("1800", "1800").unwrap().stop_bound(),
            Duration::from_secs(3600)
        );
        assert_eq!(
            both("1800", "1801").unwrap_err().to_string(),
            "invalid TINYWEB_SHUTDOWN_DELAY_SECS \"1800\": \
             expected at most 3600 seconds together with TINYWEB_SHUTDOWN_GRACE_SECS"
        );
    }

    /// Bad values name the variable and the value.
    #[test]
    fn bad_values_are_named() {
        for (var, value) in [
            ("PORT", "abc"),
            ("PORT", "70000"),
            ("PORT", ""),
            ("PORT", "-1"),
            ("HOST", "localhost"),
            ("HOST", ""),
            ("TINYWEB_SHUTDOWN_GRACE_SECS", "3601"),
            ("TINYWEB_HEADER_TIMEOUT_SECS", "0"),
            ("TINYWEB_MAX_HEADER_BYTES", "100"),
            ("TINYWEB_SHUTDOWN_DELAY_SECS", "3601"),
            ("TINYWEB_SHUTDOWN_DELAY_SECS", "-1"),
            ("TINYWEB_WRITE_TIMEOUT_SECS", "0"),
            ("TINYWEB_WRITE_TIMEOUT_SECS", "3601"),
            ("TINYWEB_MAX_CONNECTIONS", "15"),
            ("TINYWEB_MAX_CONNECTIONS", "1048577"),
            ("TINYWEB_MAX_CONNECTIONS", "AUTO"),
            ("TINYWEB_MAX_CONNECTIONS", ""),
            ("TINYWEB_LISTEN_BACKLOG", "0"),
            ("TINYWEB_LISTEN_BACKLOG", "65536"),
        ] {
            let message = from(&[(var, value)]).unwrap_err().to_string();

            assert!(
                message.starts_with(&format!("invalid {var} {value:?}: expected ")),
                "{message}"
            );
        }
    }

    /// `--help` documents exactly the variables `from_lookup` reads.
    #[test]
    fn help_lists_every_variable_read() {
        let read = std::cell::RefCell::new(Vec::new());
        Config::from_lookup(|name| {
            read.borrow_mut().push(name.to_owned());
            None
        })
        .unwrap();
        let mut listed: Vec<_> = VARS.iter().map(|v| v.name).filter(|n| *n != "RUST_LOG").collect();
        let mut read = read.into_inner();

        listed.sort_unstable();
        read.sort_unstable();
        assert_eq!(listed, read);
    }

    /// The defaults `--help` prints are the ones the service uses.
    #[test]
    fn help_defaults_are_the_real_defaults() {
        let documented: Vec<_> = VARS.iter().map(|v| (v.name, v.default)).collect();

        assert_eq!(from(&documented), Ok(Config::default()));
    }
}
