//! The connection cap over real TCP: at the cap the connection waiting longest for a request
//! head is evicted, never one with a request in flight; with every connection in flight the
//! server stops accepting until one ends; pressure is logged at most once a second.

mod common;

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::thread;
use std::time::{Duration, Instant};

use common::{connect, Server, PATIENCE};

/// Requests a non-reading client pipelines: their answers (about 130 bytes each) overflow the
/// server's send buffer and the client's receive buffer, so the server's write blocks.
const PIPELINED: usize = 5000;

/// A client that pipelines [`PIPELINED`] requests and reads nothing: its request stays in flight.
fn non_reader(server: &Server) -> TcpStream {
    let mut stream = connect(server.addr);
    stream
        .write_all("GET / HTTP/1.1\r\nHost: t\r\n\r\n".repeat(PIPELINED).as_bytes())
        .unwrap();
    stream
}

/// A client that sent half a request head.
fn half_head(server: &Server) -> TcpStream {
    let mut stream = connect(server.addr);
    stream.write_all(b"GET / HTTP/1.1\r\nHost: t\r\n").unwrap();
    stream
}

/// A keep-alive client that was served once and is now silent.
fn idle(server: &Server) -> TcpStream {
    let mut stream = connect(server.addr);
    stream.write_all(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n").unwrap();
    let answer = common::read_one(&mut stream).expect("an answer");
    assert_eq!(answer.status, 200);
    stream
}

/// Whether the server closed `stream`: EOF or reset within a short wait, not silence.
fn is_closed(stream: &mut TcpStream) -> bool {
    stream.set_read_timeout(Some(Duration::from_millis(300))).unwrap();
    let mut buf = [0u8; 64];
    match stream.read(&mut buf) {
        Ok(0) => true,
        Ok(_) => false,
        Err(e) => !matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut),
    }
}

/// Reads everything the server sends until it has answered `count` requests or goes quiet;
/// returns how many `200` answers arrived.
fn count_answers(stream: &mut TcpStream, count: usize) -> usize {
    stream.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    let mut text = Vec::new();
    let mut buf = [0u8; 64 * 1024];
    let needle = b"HTTP/1.1 200";
    let mut answers = 0;
    while answers < count {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                text.extend_from_slice(&buf[..n]);
                answers = text.windows(needle.len()).filter(|w| w == needle).count();
            }
        }
    }
    answers
}

/// Waits until the server's log shows `needle`, up to [`PATIENCE`].
fn wait_log(server: &Server, needle: &str) {
    let deadline = Instant::now() + PATIENCE;
    while !server.log().contains(needle) {
        assert!(
            Instant::now() < deadline,
            "no {needle:?} in the log:\n{}",
            server.log()
        );
        thread::sleep(Duration::from_millis(20));
    }
}

/// At the cap, new connections evict those waiting longest for a head (half-sent heads and idle
/// keep-alive alike), oldest first; the one with a request in flight survives and is answered in
/// full.
#[test]
fn cap_evicts_oldest_waiting_never_in_flight() {
    let server = Server::start(&[
        ("TINYWEB_MAX_CONNECTIONS", "16"),
        ("TINYWEB_HEADER_TIMEOUT_SECS", "60"),
    ]);
    server.wait_for_line("connection cap 16 (TINYWEB_MAX_CONNECTIONS)");
    let mut in_flight = non_reader(&server);
    thread::sleep(Duration::from_millis(300));
    // Alternately half a head and an idle keep-alive connection that was served once.
    let mut waiting: Vec<TcpStream> = (0..15)
        .map(|i| {
            let stream = if i % 2 == 0 {
                half_head(&server)
            } else {
                idle(&server)
            };
            thread::sleep(Duration::from_millis(20));
            stream
        })
        .collect();

    let mut newcomers: Vec<TcpStream> = (0..5).map(|_| half_head(&server)).collect();
    wait_log(&server, "connection cap 16 reached: evicted");
    let closed: Vec<bool> = waiting.iter_mut().map(is_closed).collect();

    assert_eq!(
        closed[..5],
        [true; 5],
        "the five oldest waiting were not evicted: {closed:?}"
    );
    assert_eq!(closed[5..], [false; 10], "newer ones were evicted: {closed:?}");
    assert!(!newcomers.iter_mut().any(is_closed), "a newcomer was closed");
    assert_eq!(
        count_answers(&mut in_flight, PIPELINED),
        PIPELINED,
        "the in-flight client lost answers"
    );

    // Recovered: with everything closed, a normal client is served.
    drop((waiting, newcomers, in_flight));
    assert_eq!(server.get("/").body, "Hello, World!");
}

/// With every connection in flight, the server stops accepting (it logs it once); once the
/// clients that stopped reading have made no write progress for 250 ms, a newcomer evicts the
/// longest stalled, and no other.
#[test]
fn cap_full_of_non_readers_pauses_then_evicts_the_longest_stalled() {
    // A long write timeout keeps the others open while each is read in turn.
    let server = Server::start(&[
        ("TINYWEB_MAX_CONNECTIONS", "16"),
        ("TINYWEB_WRITE_TIMEOUT_SECS", "60"),
        ("RUST_LOG", "info,tinyweb::access=off"),
    ]);
    let mut busy: Vec<TcpStream> = (0..16).map(|_| non_reader(&server)).collect();
    let started = Instant::now();
    // Let the server read their requests and block writing the answers.
    thread::sleep(Duration::from_millis(300));

    let mut waiting = connect(server.addr);
    waiting
        .write_all(b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        .unwrap();
    wait_log(&server, "not accepting until one ends or stalls");
    let answer = common::read_response(&mut waiting);
    let waited = started.elapsed();
    let complete: Vec<bool> = busy
        .iter_mut()
        .map(|stream| count_answers(stream, PIPELINED) == PIPELINED)
        .collect();

    eprintln!("with every connection in flight, a newcomer was answered after {waited:?}");
    assert_eq!((answer.status, answer.body.as_str()), (200, "Hello, World!"));
    assert!(
        (Duration::from_millis(200)..Duration::from_secs(4)).contains(&waited),
        "answered after {waited:?}, expected after a stall of about 250 ms"
    );
    assert_eq!(
        complete.iter().filter(|c| !**c).count(),
        1,
        "evicted: {complete:?}"
    );
    assert_eq!(
        server.log().matches("not accepting").count(),
        1,
        "{}",
        server.log()
    );
    wait_log(&server, "accepting again");
}

/// Seconds since midnight of a log line's `2026-11-29T08:49:40.357Z` timestamp.
fn log_time(line: &str) -> f64 {
    let time = line.split_whitespace().next().unwrap().split('T').nth(1).unwrap();
    let parts: Vec<f64> = time
        .trim_end_matches('Z')
        .split(':')
        .map(|p| p.parse().unwrap())
        .collect();
    parts[0] * 3600.0 + parts[1] * 60.0 + parts[2]
}

/// Evictions are logged at most once a second, with a count, not once per connection.
#[test]
fn pressure_is_logged_at_most_once_a_second() {
    let server = Server::start(&[
        ("TINYWEB_MAX_CONNECTIONS", "16"),
        ("TINYWEB_HEADER_TIMEOUT_SECS", "60"),
    ]);
    let started = Instant::now();
    let (mut open, mut opened) = (Vec::new(), 0);
    while started.elapsed() < Duration::from_millis(2500) {
        open.push(half_head(&server));
        opened += 1;
        if open.len() > 200 {
            open.remove(0);
        }
    }
    thread::sleep(Duration::from_millis(200));
    let log = server.log();
    let lines: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("connection cap 16 reached: evicted"))
        .collect();
    let evicted: Vec<usize> = lines
        .iter()
        .map(|l| {
            l.split("evicted ")
                .nth(1)
                .unwrap()
                .split(' ')
                .next()
                .unwrap()
                .parse()
                .unwrap()
        })
        .collect();

    assert!(
        lines.len() >= 2,
        "{opened} connections, {} eviction lines:\n{log}",
        lines.len()
    );
    for pair in lines.windows(2) {
        let gap = log_time(pair[1]) - log_time(pair[0]);
        assert!(
            gap >= 0.999,
            "eviction lines {gap:.3} s apart:\n{}\n{}",
            pair[0],
            pair[1]
        );
    }
    assert!(
        evicted[1..].iter().all(|&n| n > 1),
        "counts not aggregated: {evicted:?}"
    );
    assert_eq!(server.get("/").body, "Hello, World!");
}
