//! Signals on the real binary: graceful drain on SIGTERM/SIGINT, a second signal, the grace
//! period, and the same as PID 1 of a new PID namespace (no init in front of it).

mod common;

use std::io::Write;
use std::net::TcpStream;
use std::process::Command;
use std::time::{Duration, Instant};

use common::{connect, read_response, wait_until_read, Server, BIN};

/// A correctness bound for a graceful stop (not a performance target).
const STOP_BOUND: Duration = Duration::from_secs(2);

/// Opens a connection and sends half of a request head, and returns once the server has read
/// it: a request is in flight.
fn start_slow_request(server: &Server) -> TcpStream {
    let mut stream = connect(server.addr);
    stream.write_all(b"GET / HTTP/1.1\r\nHost: test\r\n").unwrap();
    wait_until_read(&stream);
    stream
}

/// Sends `signal`, lets an in-flight request complete, and expects exit 0 within [`STOP_BOUND`].
fn assert_graceful(signal: i32, name: &str) {
    let mut server = Server::start(&[]);
    let mut in_flight = start_slow_request(&server);

    server.signal(signal);
    server.wait_for_line(&format!("{name} received"));
    server.wait_for_line("stopped accepting");
    let refused = TcpStream::connect(server.addr).is_err();
    let started = Instant::now();
    in_flight.write_all(b"Connection: close\r\n\r\n").unwrap();
    let response = read_response(&mut in_flight);
    let status = server.wait_exit(STOP_BOUND);

    assert_eq!((response.status, response.body.as_str()), (200, "Hello, World!"));
    assert!(refused, "a new connection was accepted after {name}");
    assert_eq!(status.and_then(|s| s.code()), Some(0), "log:\n{}", server.log());
    assert!(started.elapsed() < STOP_BOUND);
    // wait_exit waited for the whole log, and drained the lines not waited for: look there.
    assert!(
        server.log().contains("every connection drained"),
        "log:\n{}",
        server.log()
    );
}

/// SIGTERM lets the in-flight request finish, refuses new connections, then exits 0.
#[test]
fn sigterm_lets_in_flight_request_finish() {
    assert_graceful(libc::SIGTERM, "SIGTERM");
}

/// SIGINT (Ctrl-C) is handled the same way.
#[test]
fn sigint_lets_in_flight_request_finish() {
    assert_graceful(libc::SIGINT, "SIGINT");
}

/// Idle keep-alive connections do not hold up the stop: they are closed at once.
#[test]
fn idle_keep_alive_does_not_delay_stop() {
    let mut server = Server::start(&[("TINYWEB_SHUTDOWN_GRACE_SECS", "30")]);
    let mut idle = connect(server.addr);
    idle.write_all(b"GET / HTTP/1.1\r\nHost: test\r\n\r\n").unwrap();
    server.wait_for_line("GET / 200");

    server.signal(libc::SIGTERM);
    let status = server.wait_exit(STOP_BOUND);
    let rest = read_response(&mut idle);

    assert_eq!(status.and_then(|s| s.code()), Some(0), "log:\n{}", server.log());
    assert_eq!(rest.body, "Hello, World!");
}

/// A second signal during the drain exits at once, with status 1.
#[test]
fn second_signal_exits_at_once() {
    let mut server = Server::start(&[
        ("TINYWEB_SHUTDOWN_GRACE_SECS", "60"),
        ("TINYWEB_HEADER_TIMEOUT_SECS", "60"),
    ]);
    let _in_flight = start_slow_request(&server);

    server.signal(libc::SIGTERM);
    server.wait_for_line("SIGTERM received");
    server.signal(libc::SIGINT);
    let status = server.wait_exit(STOP_BOUND);

    assert_eq!(status.and_then(|s| s.code()), Some(1), "log:\n{}", server.log());
    assert!(
        server.log().contains("SIGINT received again"),
        "log:\n{}",
        server.log()
    );
}

/// The grace period bounds the drain: a request that never completes does not keep it alive.
#[test]
fn grace_period_bounds_the_drain() {
    let mut server = Server::start(&[
        ("TINYWEB_SHUTDOWN_GRACE_SECS", "1"),
        ("TINYWEB_HEADER_TIMEOUT_SECS", "60"),
    ]);
    let _stalled = start_slow_request(&server);

    server.signal(libc::SIGTERM);
    let status = server.wait_exit(Duration::from_secs(1) + STOP_BOUND);

    assert_eq!(status.and_then(|s| s.code()), Some(0), "log:\n{}", server.log());
    assert!(
        server.log().contains("grace period of 1s expired"),
        "log:\n{}",
        server.log()
    );
}

/// `unshare`'s arguments for a new PID namespace inside a new user namespace that maps the
/// caller to root: no privilege needed, as in the Nix build sandbox or as any user.
const PID_NAMESPACE: [&str; 3] = ["--map-root-user", "--fork", "--pid"];

/// As PID 1 of a new PID namespace, where the kernel applies no default signal actions,
/// SIGTERM still drains and exits 0.
#[test]
fn sigterm_as_pid_1() {
    let probe = Command::new("unshare").args(PID_NAMESPACE).arg("true").output();
    if !probe.as_ref().is_ok_and(|o| o.status.success()) {
        let why = match &probe {
            Ok(o) => String::from_utf8_lossy(&o.stderr).trim().to_owned(),
            Err(e) => format!("cannot run unshare: {e}"),
        };
        return common::skip_or_fail(
            "sigterm_as_pid_1",
            &format!("`unshare {}` fails here: {why}", PID_NAMESPACE.join(" ")),
        );
    }
    let mut command = Command::new("unshare");
    command
        .args(PID_NAMESPACE)
        .arg(BIN)
        .env_clear()
        .env("HOST", "127.0.0.1")
        .env("PORT", "0");
    let mut server = Server::spawn(command, &[]);
    let pid = child_of(server.pid());
    let namespace_pids = status_field(pid, "NSpid");

    let hello = server.get("/");
    // SAFETY: kill(2) on a pid we just read from our own child's children list.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);
    let status = server.wait_exit(STOP_BOUND);

    assert_eq!(
        namespace_pids.split_whitespace().last(),
        Some("1"),
        "NSpid: {namespace_pids}"
    );
    assert_eq!(hello.body, "Hello, World!");
    assert_eq!(status.and_then(|s| s.code()), Some(0), "log:\n{}", server.log());
}

/// The one child process of `pid` (unshare's forked tinyweb).
fn child_of(pid: i32) -> i32 {
    let children = std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")).unwrap();
    children
        .split_whitespace()
        .next()
        .expect("unshare has a child")
        .parse()
        .unwrap()
}

/// A field of /proc/<pid>/status.
fn status_field(pid: i32, field: &str) -> String {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .unwrap_or("")
        .trim()
        .to_owned()
}
