//! `TINYWEB_SHUTDOWN_DELAY_SECS`: after the first signal the server keeps accepting and serving
//! for the delay, with `/healthz` at 503 and `Connection: close` on every answer, then drains and
//! exits 0; a second signal during the delay exits 1 at once.

mod common;

use std::io::Write;
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::{closed_by_server, connect, read_one, Server};

/// A correctness bound for a step that should be near-instant (not a performance target).
const STOP_BOUND: Duration = Duration::from_secs(2);

/// `/healthz` is 200 and never cached before a stop.
#[test]
fn healthz_is_200_no_store_before_a_stop() {
    let server = Server::start(&[]);

    let health = server.get("/healthz");

    assert_eq!((health.status, health.body.as_str()), (200, "ok"));
    assert_eq!(health.header("cache-control"), Some("no-store"));
}

/// During the delay: `/healthz` 503 (not cached), `/` still served on new and kept-alive
/// connections, each answer closing its connection; after it, refused, drained, exit 0.
#[test]
fn delay_serves_with_healthz_503_then_drains() {
    let delay = Duration::from_secs(2);
    let mut server = Server::start(&[
        ("TINYWEB_SHUTDOWN_DELAY_SECS", "2"),
        ("TINYWEB_SHUTDOWN_GRACE_SECS", "3"),
    ]);
    let mut kept = connect(server.addr);
    kept.write_all(b"GET / HTTP/1.1\r\nHost: test\r\n\r\n").unwrap();
    let before = read_one(&mut kept).expect("an answer before the stop");
    assert_eq!((before.status, before.header("connection")), (200, None));

    server.signal(libc::SIGTERM);
    let signalled = Instant::now();
    let stopping = server.wait_for_line("stopping:");
    let health = server.get("/healthz");
    let hello = server.get("/");
    kept.write_all(b"GET / HTTP/1.1\r\nHost: test\r\n\r\n").unwrap();
    let on_kept = read_one(&mut kept).expect("an answer on the kept-alive connection");
    let kept_closed = closed_by_server(&mut kept);

    assert!(stopping.contains("the stop takes at most 5s"), "{stopping}");
    assert_eq!((health.status, health.body.as_str()), (503, "stopping"));
    assert_eq!(health.header("cache-control"), Some("no-store"));
    assert_eq!(health.header("connection"), Some("close"));
    assert_eq!((hello.status, hello.body.as_str()), (200, "Hello, World!"));
    assert_eq!(hello.header("connection"), Some("close"));
    assert_eq!(
        (on_kept.status, on_kept.header("connection")),
        (200, Some("close"))
    );
    assert!(
        kept_closed,
        "the kept-alive connection stayed open after Connection: close"
    );
    assert!(
        signalled.elapsed() < delay,
        "the checks took longer than the delay"
    );

    server.wait_for_line("stopped accepting");
    let accepting_for = signalled.elapsed();
    let refused = TcpStream::connect(server.addr).is_err();
    let status = server.wait_exit(STOP_BOUND);

    assert!(
        accepting_for >= delay,
        "stopped accepting after {accepting_for:?}"
    );
    assert!(refused, "a new connection was accepted after the delay");
    assert_eq!(status.and_then(|s| s.code()), Some(0), "log:\n{}", server.log());
    assert!(
        server.log().contains("every connection drained"),
        "log:\n{}",
        server.log()
    );
}

/// A request in flight when the delay ends is still answered within the grace period.
#[test]
fn in_flight_request_at_the_end_of_the_delay_is_answered() {
    let mut server = Server::start(&[("TINYWEB_SHUTDOWN_DELAY_SECS", "1")]);

    server.signal(libc::SIGTERM);
    server.wait_for_line("stopping:");
    let mut slow = connect(server.addr);
    slow.write_all(b"GET / HTTP/1.1\r\nHost: test\r\n").unwrap();
    server.wait_for_line("stopped accepting");
    slow.write_all(b"\r\n").unwrap();
    let answer = read_one(&mut slow).expect("an answer during the drain");
    let status = server.wait_exit(STOP_BOUND);

    assert_eq!((answer.status, answer.body.as_str()), (200, "Hello, World!"));
    assert_eq!(status.and_then(|s| s.code()), Some(0), "log:\n{}", server.log());
}

/// A second signal during the delay exits 1 at once.
#[test]
fn second_signal_during_the_delay_exits_1() {
    let mut server = Server::start(&[("TINYWEB_SHUTDOWN_DELAY_SECS", "60")]);

    server.signal(libc::SIGTERM);
    server.wait_for_line("stopping:");
    let health = server.get("/healthz");
    server.signal(libc::SIGINT);
    let status = server.wait_exit(STOP_BOUND);

    assert_eq!(health.status, 503);
    assert_eq!(status.and_then(|s| s.code()), Some(1), "log:\n{}", server.log());
    assert!(
        server.log().contains("SIGINT received again"),
        "log:\n{}",
        server.log()
    );
}
