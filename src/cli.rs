//! Command-line arguments: there are few, so they are parsed by hand (no parser crate to pay for).

use std::ffi::OsString;
use std::fmt::Write;

use crate::config::VARS;

/// What the command line asks for.
#[derive(Debug, PartialEq, Eq)]
pub enum Command {
    /// Serve HTTP (no arguments).
    Serve,
    /// Probe a running server's `/healthz` (`healthcheck`).
    Healthcheck,
    /// Print [`help`] (`-h`, `--help`).
    Help,
    /// Print the version (`-V`, `--version`).
    Version,
}

/// Parses the arguments after the program name.
///
/// # Errors
/// A one-line message for an unknown or extra argument.
pub fn parse(mut args: impl Iterator<Item = OsString>) -> Result<Command, String> {
    let command = match args.next() {
        None => return Ok(Command::Serve),
        Some(arg) => match arg.to_str() {
            Some("healthcheck") => Command::Healthcheck,
            Some("-h" | "--help") => Command::Help,
            Some("-V" | "--version") => Command::Version,
            _ => return Err(format!("unknown argument {arg:?} (see --help)")),
        },
    };
    match args.next() {
        None => Ok(command),
        Some(extra) => Err(format!("unexpected argument {extra:?} (see --help)")),
    }
}

/// The `--version` line.
pub fn version() -> String {
    format!("tinyweb {}", env!("CARGO_PKG_VERSION"))
}

/// The `--help` text, with every environment variable and its default.
pub fn help() -> String {
    let mut text = format!(
        "{}: {}\n\n\
         Usage: tinyweb [healthcheck | --help | --version]\n\n\
         With no argument, serves HTTP until SIGTERM or SIGINT (GET / says Hello, World!).\n\
         healthcheck    GET /healthz on the configured port; exit 0 on 200, 1 otherwise\n\
         -h, --help     print this help\n\
         -V, --version  print the version\n\n\
         Environment:\n",
        version(),
        env!("CARGO_PKG_DESCRIPTION"),
    );
    for var in VARS {
        let _ = writeln!(text, "  {:<28} {} (default {})", var.name, var.help, var.default);
    }
    text.push_str("\nExit status: 0 success, 1 runtime failure, 2 bad argument or configuration.");
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_strs(args: &[&str]) -> Result<Command, String> {
        parse(args.iter().map(OsString::from))
    }

    /// Each known argument maps to its command.
    #[test]
    fn known_arguments() {
        assert_eq!(parse_strs(&[]), Ok(Command::Serve));
        assert_eq!(parse_strs(&["healthcheck"]), Ok(Command::Healthcheck));
        assert_eq!(parse_strs(&["--help"]), Ok(Command::Help));
        assert_eq!(parse_strs(&["-V"]), Ok(Command::Version));
    }

    /// Unknown and extra arguments are errors that name the argument.
    #[test]
    fn unknown_and_extra_arguments() {
        assert_eq!(
            parse_strs(&["--port"]),
            Err("unknown argument \"--port\" (see --help)".into())
        );
        assert_eq!(
            parse_strs(&["healthcheck", "now"]),
            Err("unexpected argument \"now\" (see --help)".into())
        );
    }
}
