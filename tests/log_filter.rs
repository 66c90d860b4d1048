//! `RUST_LOG=…/pattern` still filters log messages by regular expression now that `regex` is
//! patched to `regex-lite` (patch/regex): the real binary, real requests over loopback TCP.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::thread;
use std::time::{Duration, Instant};

const PATIENCE: Duration = Duration::from_secs(10);

/// The binary with `RUST_LOG` set, its stderr lines arriving on a channel; killed when dropped.
struct Logged {
    child: Child,
    lines: Receiver<String>,
}

impl Logged {
    fn start(rust_log: &str) -> Logged {
        let mut child = Command::new(env!("CARGO_BIN_EXE_tinyweb"))
            .env_clear()
            .env("HOST", "127.0.0.1")
            .env("PORT", "0")
            .env("RUST_LOG", rust_log)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn tinyweb");
        let stderr = child.stderr.take().expect("stderr is piped");
        let (tx, lines) = mpsc::channel();
        thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        Logged { child, lines }
    }

    /// Every line up to and including the first that contains `needle`.
    fn until(&self, needle: &str) -> Vec<String> {
        let deadline = Instant::now() + PATIENCE;
        let mut seen = Vec::new();
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    let done = line.contains(needle);
                    seen.push(line);
                    if done {
                        return seen;
                    }
                }
                Err(_) => break,
            }
        }
        panic!("no log line with {needle:?}; lines so far: {seen:#?}");
    }
}

impl Drop for Logged {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The address in the "listening on http://ADDR" line that ends `startup`.
fn listening_addr(startup: &[String]) -> String {
    startup
        .last()
        .and_then(|line| line.rsplit("http://").next())
        .expect("a listening line")
        .trim()
        .to_owned()
}

fn get(addr: &str, path: &str) -> String {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream.set_read_timeout(Some(PATIENCE)).unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    let _ = stream.read_to_string(&mut response);
    response
}

/// Only messages matching the pattern are logged, and the pattern is a regular expression
/// (alternation, repetition, anchoring inside the message), not a substring. env_logger splits
/// the spec at `/`, so the pattern itself cannot hold one.
#[test]
fn pattern_filters_messages() {
    let server = Logged::start("info/^listening|GET .ke+p-[0-9]+ 404");
    let startup = server.until("listening on http://");
    let addr = listening_addr(&startup);

    // Requests in order: only the last one's line can stop the wait, so any line the filter
    // failed to drop shows up before it.
    for path in ["/drop-1", "/keep-x", "/kep-1", "/keeep-2"] {
        assert!(get(&addr, path).starts_with("HTTP/1.1 404"), "GET {path}");
    }
    let logged = server.until("/keeep-2");

    let access: Vec<&String> = logged.iter().filter(|l| l.contains(" GET /")).collect();
    assert_eq!(access.len(), 2, "only /kep-1 and /keeep-2 match: {logged:#?}");
    assert!(access[0].contains("GET /kep-1 404"), "{logged:#?}");
    assert!(access[1].contains("GET /keeep-2 404"), "{logged:#?}");
}

/// Without a pattern every message at the level passes: the filter above is what dropped lines.
#[test]
fn without_pattern_every_message_passes() {
    let server = Logged::start("info");
    let startup = server.until("listening on http://");
    let addr = listening_addr(&startup);

    get(&addr, "/drop-1");
    let logged = server.until("GET /drop-1 404");

    assert!(logged.iter().any(|l| l.contains("GET /drop-1 404")));
}
