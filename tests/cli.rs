//! The command line and configuration errors: exit codes and one-line messages, never a panic.

mod common;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::thread;

use common::{run, Server};

/// Asserts a failure is exactly one `tinyweb: ...` line containing `needle`, with no panic text.
fn assert_one_line_error(stderr: &str, needle: &str) {
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.starts_with("tinyweb: "), "{stderr}");
    assert!(stderr.contains(needle), "{needle:?} not in {stderr}");
    assert!(
        !stderr.contains("panicked") && !stderr.contains("backtrace"),
        "{stderr}"
    );
}

/// The README's configuration table: every variable and its default.
const DOCUMENTED: &[(&str, &str)] = &[
    ("PORT", "8000"),
    ("HOST", "0.0.0.0"),
    ("RUST_LOG", "info"),
    ("TINYWEB_SHUTDOWN_GRACE_SECS", "5"),
    ("TINYWEB_HEADER_TIMEOUT_SECS", "5"),
    ("TINYWEB_MAX_HEADER_BYTES", "16384"),
];

/// `--help` and `-h` print usage and every documented variable with its default, and exit 0.
#[test]
fn help_prints_usage() {
    for flag in ["--help", "-h"] {
        let (code, stdout, stderr) = run(&[flag], &[]);

        assert_eq!(code, Some(0), "{stderr}");
        assert!(stdout.contains("Usage: tinyweb"), "{stdout}");
        for (var, default) in DOCUMENTED {
            let line = stdout
                .lines()
                .find(|l| l.split_whitespace().next() == Some(var))
                .unwrap_or_else(|| panic!("{var} missing from {stdout}"));
            assert!(line.ends_with(&format!("(default {default})")), "{var}: {line:?}");
        }
    }
}

/// `--version` and `-V` print the crate version and exit 0.
#[test]
fn version_prints_version() {
    for flag in ["--version", "-V"] {
        let (code, stdout, _) = run(&[flag], &[]);

        assert_eq!(code, Some(0));
        assert_eq!(stdout.trim(), format!("tinyweb {}", env!("CARGO_PKG_VERSION")));
    }
}

/// Unknown arguments exit 2 with one line naming the argument.
#[test]
fn unknown_argument_exits_2() {
    for args in [&["--port"][..], &["serve"], &["healthcheck", "extra"]] {
        let (code, _, stderr) = run(args, &[]);

        assert_eq!(code, Some(2), "{args:?}: {stderr}");
        assert_one_line_error(&stderr, args.last().unwrap());
    }
}

/// Each invalid variable exits 2 with one line naming the variable and the value.
#[test]
fn bad_configuration_exits_2() {
    let cases = [
        ("PORT", "abc"),
        ("PORT", "70000"),
        ("PORT", ""),
        ("HOST", "not-an-ip"),
        ("HOST", "256.0.0.1"),
        ("TINYWEB_SHUTDOWN_GRACE_SECS", "soon"),
        ("TINYWEB_HEADER_TIMEOUT_SECS", "0"),
        ("TINYWEB_MAX_HEADER_BYTES", "10"),
    ];
    for (var, value) in cases {
        for args in [&[][..], &["healthcheck"]] {
            let (code, _, stderr) = run(args, &[(var, value)]);

            assert_eq!(code, Some(2), "{var}={value:?} {args:?}: {stderr}");
            assert_one_line_error(&stderr, &format!("invalid {var} {value:?}"));
        }
    }
}

/// A port already in use exits 1 with one line naming HOST, PORT and the cause.
#[test]
fn address_in_use_exits_1() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();

    let (code, _, stderr) = run(&[], &[("HOST", "127.0.0.1"), ("PORT", &port)]);

    assert_eq!(code, Some(1), "{stderr}");
    assert_one_line_error(&stderr, &format!("HOST=127.0.0.1, PORT={port}"));
    assert!(stderr.contains("in use"), "{stderr}");
}

/// `healthcheck` exits 0 against a live server.
#[test]
fn healthcheck_passes_against_live_server() {
    let server = Server::start(&[]);

    let (code, _, stderr) = run(&["healthcheck"], &[("PORT", &server.addr.port().to_string())]);

    assert_eq!(code, Some(0), "{stderr}");
    server.wait_for_line("GET /healthz 200");
}

/// With a wildcard `HOST=::`, `healthcheck` finds a server on IPv4 loopback (a container network
/// may have no IPv6 while the `::` socket serves IPv4).
#[test]
fn healthcheck_on_wildcard_host_tries_ipv4_loopback() {
    let server = Server::start(&[]);

    let (code, _, stderr) = run(
        &["healthcheck"],
        &[("HOST", "::"), ("PORT", &server.addr.port().to_string())],
    );

    assert_eq!(code, Some(0), "{stderr}");
}

/// `healthcheck` exits 1 with one line when nothing listens.
#[test]
fn healthcheck_fails_against_dead_port() {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
        .to_string();

    let (code, _, stderr) = run(&["healthcheck"], &[("HOST", "127.0.0.1"), ("PORT", &port)]);

    assert_eq!(code, Some(1), "{stderr}");
    assert_one_line_error(&stderr, &format!("GET /healthz on 127.0.0.1:{port}"));
}

/// `healthcheck` exits 1 when the server answers anything but 200.
#[test]
fn healthcheck_fails_on_non_200() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port().to_string();
    let unhealthy = thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        let mut request = [0u8; 1024];
        let _ = stream.read(&mut request);
        stream
            .write_all(b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n")
            .unwrap();
    });

    let (code, _, stderr) = run(&["healthcheck"], &[("PORT", &port)]);

    unhealthy.join().unwrap();
    assert_eq!(code, Some(1), "{stderr}");
    assert_one_line_error(&stderr, "503");
}
