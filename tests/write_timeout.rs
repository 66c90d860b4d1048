//! `TINYWEB_WRITE_TIMEOUT_SECS`: a client that pipelines requests and never reads the answers is
//! closed once the server's writes make no progress for the timeout; a slow reader that keeps
//! reading is not.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::thread;
use std::time::{Duration, Instant};

use common::{connect, Server};

/// Enough pipelined requests that their answers (about 130 bytes each) overflow the server's
/// send buffer and the client's receive buffer.
const PIPELINED: usize = 5000;

/// Pipelines [`PIPELINED`] requests on a new connection.
fn pipeline(server: &Server) -> TcpStream {
    let mut stream = connect(server.addr);
    stream
        .write_all("GET / HTTP/1.1\r\nHost: t\r\n\r\n".repeat(PIPELINED).as_bytes())
        .unwrap();
    stream
}

/// Reads until the server ends the connection or goes quiet for a second; returns how many
/// answers arrived and whether the server ended the connection.
fn drain(stream: &mut TcpStream) -> (usize, bool) {
    stream.set_read_timeout(Some(Duration::from_secs(1))).unwrap();
    let (mut text, mut buf) = (Vec::new(), [0u8; 64 * 1024]);
    let ended = loop {
        match stream.read(&mut buf) {
            Ok(0) => break true,
            Ok(n) => text.extend_from_slice(&buf[..n]),
            Err(e) => {
                break !matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                )
            }
        }
    };
    let needle = b"HTTP/1.1 200";
    (text.windows(needle.len()).filter(|w| w == needle).count(), ended)
}

/// Not reading for longer than the timeout gets the connection closed, with answers lost; the
/// server keeps serving.
#[test]
fn non_reading_client_is_closed_after_the_write_timeout() {
    let server = Server::start(&[
        ("TINYWEB_WRITE_TIMEOUT_SECS", "1"),
        ("TINYWEB_HEADER_TIMEOUT_SECS", "60"),
        ("RUST_LOG", "info,tinyweb::access=off"),
    ]);
    let mut stream = pipeline(&server);

    thread::sleep(Duration::from_millis(2500));
    let (answers, ended) = drain(&mut stream);

    assert!(ended, "the connection is still open");
    assert!(answers < PIPELINED, "all {answers} answers arrived: no timeout");
    assert_eq!(server.get("/").body, "Hello, World!");
}

/// Within the timeout nothing is lost: every pipelined request is answered once the client reads.
#[test]
fn reading_within_the_timeout_gets_every_answer() {
    let server = Server::start(&[
        ("TINYWEB_WRITE_TIMEOUT_SECS", "5"),
        ("RUST_LOG", "info,tinyweb::access=off"),
    ]);
    let mut stream = pipeline(&server);

    thread::sleep(Duration::from_millis(2500));
    let started = Instant::now();
    let (answers, _) = drain(&mut stream);

    assert_eq!(answers, PIPELINED, "answers lost after {:?}", started.elapsed());
}
