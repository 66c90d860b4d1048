//! Slow and stalled clients: they cannot starve new clients, and TINYWEB_HEADER_TIMEOUT_SECS
//! closes every connection that does not deliver a request head in time (new, half-sent,
//! trickling or idle between keep-alive requests).

mod common;
mod traffic;

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::thread;
use std::time::{Duration, Instant};

use common::{connect, Server, PATIENCE};
use traffic::{read_all, End, KeepAlive};

/// The half of a request head a stalled client sends before going quiet.
const HALF_HEAD: &[u8] = b"GET / HTTP/1.1\r\nHost: test\r\nX-Half: ";

/// Bound for a new client to be served while the stalled ones hang on: generous (a loaded
/// 2-core CI machine; quiet, the slowest of 20 takes about 10 ms), yet far below the header
/// timeout, so a starved server cannot pass.
const PROMPTLY: Duration = Duration::from_secs(1);

/// The header timeout the timing tests run with, and the README's bound on when such a
/// connection closes: not before the timeout, and within twice of it.
const TIMEOUT: Duration = Duration::from_secs(1);
const TIMEOUT_SECS: &str = "1";
const LATEST: Duration = Duration::from_secs(2);

/// Hundreds of half-sent heads do not stop new clients from being served promptly.
#[test]
fn stalled_clients_do_not_block_new_ones() {
    let server = Server::start(&[("TINYWEB_HEADER_TIMEOUT_SECS", "60")]);
    let stalled: Vec<TcpStream> = (0..300)
        .map(|_| {
            let mut stream = connect(server.addr);
            stream.write_all(HALF_HEAD).expect("send half a head");
            stream
        })
        .collect();

    let slowest = (0..20)
        .map(|_| {
            let start = Instant::now();
            let response = server.get("/");
            assert_eq!((response.status, response.body.as_str()), (200, "Hello, World!"));
            start.elapsed()
        })
        .max()
        .unwrap();

    eprintln!("300 stalled connections: slowest of 20 new clients served in {slowest:?}");
    assert!(
        slowest < PROMPTLY,
        "a new client waited {slowest:?} behind stalled ones"
    );
    for mut stream in stalled {
        assert_eq!(
            read_all(&mut stream, Duration::from_millis(1)).end,
            End::StillOpen
        );
    }
    traffic::assert_no_panic(&server, "300 stalled connections");
}

/// Asserts a connection whose header-timeout clock started no earlier than `start` was closed
/// by the header timeout: not before [`TIMEOUT`] after `start`, and by [`LATEST`].
fn assert_timed_out(case: &str, stream: &mut TcpStream, start: Instant) -> Duration {
    let reply = read_all(stream, PATIENCE);
    let after = start.elapsed();
    let text = String::from_utf8_lossy(&reply.bytes);
    assert_ne!(reply.end, End::StillOpen, "{case}: still open after {after:?}");
    assert!(after >= TIMEOUT, "{case}: closed early, after {after:?}");
    assert!(after < LATEST, "{case}: closed late, after {after:?}");
    assert!(
        text.is_empty() || text.starts_with("HTTP/1.1 408"),
        "{case}: unexpected answer {text:?}"
    );
    after
}

/// Silent, half-sent and idle keep-alive connections are closed after the header timeout.
#[test]
fn stalled_and_idle_connections_time_out() {
    let server = Server::start(&[("TINYWEB_HEADER_TIMEOUT_SECS", TIMEOUT_SECS)]);
    // Each connection's clock: taken before it connects (silent, half head) or before its one
    // request (idle keep-alive, whose timeout counts from when it turned idle).
    let mut silent: Vec<_> = (0..50).map(|_| (Instant::now(), connect(server.addr))).collect();
    let mut half: Vec<_> = (0..50)
        .map(|_| {
            let start = Instant::now();
            let mut stream = connect(server.addr);
            stream.write_all(HALF_HEAD).expect("send half a head");
            (start, stream)
        })
        .collect();
    let mut idle: Vec<_> = (0..50)
        .map(|_| {
            let mut client = KeepAlive::connect(server.addr);
            let start = Instant::now();
            let response = client.get("/").expect("first request on a keep-alive connection");
            assert_eq!(response.status, 200);
            (start, client.stream)
        })
        .collect();

    for (case, group) in [
        ("silent", &mut silent),
        ("half head", &mut half),
        ("idle keep-alive", &mut idle),
    ] {
        let times: Vec<_> = group
            .iter_mut()
            .map(|(start, stream)| assert_timed_out(case, stream, *start))
            .collect();
        eprintln!(
            "{case}: {} connections closed by the server after {:?} to {:?}",
            times.len(),
            times.iter().min().unwrap(),
            times.iter().max().unwrap()
        );
    }
    traffic::assert_still_serving(&server, "timed-out connections");
}

/// A slowloris client that keeps sending header bytes never completes its head, and is cut off
/// by the same timeout: it bounds the whole head, not the gap between bytes.
#[test]
fn trickling_head_times_out() {
    let server = Server::start(&[("TINYWEB_HEADER_TIMEOUT_SECS", TIMEOUT_SECS)]);
    let start = Instant::now();
    let mut stream = connect(server.addr);
    stream.write_all(HALF_HEAD).expect("send half a head");
    stream.set_read_timeout(Some(Duration::from_millis(100))).unwrap();

    let mut byte = [0u8; 1];
    let closed_after = loop {
        assert!(start.elapsed() < PATIENCE, "a trickling client was never cut off");
        if stream.write_all(b"a").is_err() {
            break start.elapsed();
        }
        match stream.read(&mut byte) {
            Ok(_) => break start.elapsed(),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(_) => break start.elapsed(),
        }
    };

    eprintln!("trickling head: cut off after {closed_after:?}");
    assert!(closed_after >= TIMEOUT, "cut off early: {closed_after:?}");
    assert!(closed_after < LATEST, "cut off late: {closed_after:?}");
    traffic::assert_still_serving(&server, "a trickling head");
}

/// The timeout is per request head, not per connection: a keep-alive connection in steady use
/// outlives it several times over.
#[test]
fn busy_keep_alive_connection_is_not_cut() {
    let server = Server::start(&[("TINYWEB_HEADER_TIMEOUT_SECS", TIMEOUT_SECS)]);
    let mut client = KeepAlive::connect(server.addr);
    let start = Instant::now();

    let mut served = 0;
    while start.elapsed() < Duration::from_millis(3500) {
        let response = client
            .get("/")
            .unwrap_or_else(|e| panic!("cut after {served} requests, {:?}: {e:?}", start.elapsed()));
        assert_eq!(response.status, 200);
        served += 1;
        thread::sleep(Duration::from_millis(300));
    }

    eprintln!(
        "busy keep-alive connection: {served} requests over {:?}",
        start.elapsed()
    );
}
