//! Raw-HTTP client pieces for the hostile-traffic tests: exchanges that tolerate the server
//! closing early, response framing for keep-alive and pipelining, and the "still serving" check.
#![allow(dead_code)] // each test crate uses a different subset

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use crate::common::{self, parse_response, Response, Server};

/// How reading a connection ended.
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
pub enum End {
    /// The server closed the connection (FIN).
    Closed,
    /// The server reset the connection (RST), e.g. closing with unread request bytes.
    Reset,
    /// Nothing more arrived within the read timeout: the connection is still open.
    StillOpen,
}

/// Everything read back on one connection and how reading ended.
#[derive(Debug)]
pub struct Exchange {
    pub bytes: Vec<u8>,
    pub end: End,
}

impl Exchange {
    /// The complete responses, in order.
    pub fn responses(&self) -> Vec<Response> {
        let mut rest = &self.bytes[..];
        let mut out = Vec::new();
        while let Some((response, used)) = split_response(rest) {
            out.push(response);
            rest = &rest[used..];
        }
        out
    }

    /// The first response's status, or 0 if the server answered nothing.
    pub fn status(&self) -> u16 {
        self.responses().first().map_or(0, |r| r.status)
    }

    /// The first status, or "closed" when the connection ended without an answer, for messages.
    pub fn answer(&self) -> String {
        match self.status() {
            0 => format!("closed ({:?}, {} bytes)", self.end, self.bytes.len()),
            status => status.to_string(),
        }
    }
}

/// Writes `raw` on a new connection (a server that closes early may cut the write short) and
/// reads until the server closes, resets, or stays silent for `quiet`.
pub fn exchange(addr: SocketAddr, raw: &[u8], quiet: Duration) -> Exchange {
    let mut stream = common::connect(addr);
    let _ = stream.write_all(raw);
    read_all(&mut stream, quiet)
}

/// Reads until the server closes, resets, or stays silent for `quiet`.
pub fn read_all(stream: &mut TcpStream, quiet: Duration) -> Exchange {
    stream.set_read_timeout(Some(quiet)).unwrap();
    let mut bytes = Vec::new();
    let mut chunk = [0u8; 16 * 1024];
    let end = loop {
        match stream.read(&mut chunk) {
            Ok(0) => break End::Closed,
            Ok(n) => bytes.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                break End::StillOpen
            }
            Err(_) => break End::Reset,
        }
    };
    Exchange { bytes, end }
}

/// Splits the first complete response (head plus `content-length` body) off `bytes` and says
/// how many bytes it used; `None` while it is incomplete.
pub fn split_response(bytes: &[u8]) -> Option<(Response, usize)> {
    let head_len = bytes.windows(4).position(|w| w == b"\r\n\r\n")? + 4;
    let head = parse_response(&String::from_utf8_lossy(&bytes[..head_len]));
    let body_len: usize = head
        .header("content-length")
        .map_or(Some(0), |v| v.trim().parse().ok())?;
    let body = bytes.get(head_len..head_len + body_len)?;
    let response = Response {
        body: String::from_utf8_lossy(body).into_owned(),
        ..head
    };
    Some((response, head_len + body_len))
}

/// A kept-alive connection that sends one request at a time and reads exactly its response.
pub struct KeepAlive {
    pub stream: TcpStream,
    buffered: Vec<u8>,
}

/// Why a round trip on a [`KeepAlive`] connection did not produce a response.
#[derive(Debug)]
pub enum Broken {
    /// The request could not be written.
    Write(std::io::Error),
    /// The connection ended (or timed out) after `received` bytes of the response.
    Read {
        received: usize,
        error: Option<std::io::Error>,
    },
}

impl KeepAlive {
    pub fn new(stream: TcpStream) -> KeepAlive {
        KeepAlive {
            stream,
            buffered: Vec::new(),
        }
    }

    pub fn connect(addr: SocketAddr) -> KeepAlive {
        KeepAlive::new(common::connect(addr))
    }

    /// Sends `GET path` (keep-alive) and reads its response.
    pub fn get(&mut self, path: &str) -> Result<Response, Broken> {
        self.send(format!("GET {path} HTTP/1.1\r\nHost: test\r\n\r\n").as_bytes())
            .map_err(Broken::Write)?;
        self.read()
    }

    /// Writes raw request bytes.
    pub fn send(&mut self, raw: &[u8]) -> std::io::Result<()> {
        self.stream.write_all(raw)
    }

    /// Reads the next complete response.
    pub fn read(&mut self) -> Result<Response, Broken> {
        let mut chunk = [0u8; 4096];
        loop {
            if let Some((response, used)) = split_response(&self.buffered) {
                self.buffered.drain(..used);
                return Ok(response);
            }
            match self.stream.read(&mut chunk) {
                Ok(0) => {
                    return Err(Broken::Read {
                        received: self.buffered.len(),
                        error: None,
                    })
                }
                Ok(n) => self.buffered.extend_from_slice(&chunk[..n]),
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => {
                    return Err(Broken::Read {
                        received: self.buffered.len(),
                        error: Some(e),
                    })
                }
            }
        }
    }
}

/// The server still answers a normal client with `Hello, World!` and has not panicked.
pub fn assert_still_serving(server: &Server, after: &str) {
    let response = server.get("/");
    assert_eq!(
        (response.status, response.body.as_str()),
        (200, "Hello, World!"),
        "after {after}: a normal client was not served; log:\n{}",
        server.log()
    );
    assert_no_panic(server, after);
}

/// The server's log shows no panic.
pub fn assert_no_panic(server: &Server, after: &str) {
    let log = server.log();
    assert!(
        !log.contains("panicked"),
        "after {after}: the server panicked; log:\n{log}"
    );
}
