//! `tinyweb healthcheck`: the images have no shell and no curl, so the binary probes itself.

use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpStream};
use std::time::Duration;

use crate::config::Config;

/// How long the whole probe may take at most, per step (connect, write, read).
pub const TIMEOUT: Duration = Duration::from_secs(2);

/// Requests `GET /healthz` from the server `config` describes. A wildcard `HOST` is probed on
/// 127.0.0.1 and then ::1: a `::` socket also takes IPv4 on Linux, and a container network may
/// have no IPv6 at all.
///
/// # Errors
/// A one-line reason when the server cannot be reached or answers anything but 200.
pub fn probe(config: &Config) -> Result<(), String> {
    let mut first_error = None;
    for addr in probe_addrs(config) {
        match TcpStream::connect_timeout(&addr, TIMEOUT) {
            Ok(stream) => return request_health(stream, addr),
            Err(e) => {
                first_error.get_or_insert_with(|| format!("GET /healthz on {addr}: {e}"));
            }
        }
    }
    Err(first_error.unwrap_or_default())
}

/// Sends `GET /healthz` on a connected `stream` and expects a 200 status line.
fn request_health(mut stream: TcpStream, addr: SocketAddr) -> Result<(), String> {
    let fail = |what: &str| format!("GET /healthz on {addr}: {what}");

    stream
        .set_read_timeout(Some(TIMEOUT))
        .map_err(|e| fail(&e.to_string()))?;
    stream
        .set_write_timeout(Some(TIMEOUT))
        .map_err(|e| fail(&e.to_string()))?;
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .map_err(|e| fail(&e.to_string()))?;

    // The status line is all we need; 64 bytes hold it.
    let mut head = [0u8; 64];
    let mut len = 0;
    while len < head.len() {
        match stream.read(&mut head[len..]) {
            Ok(0) => break,
            Ok(n) => len += n,
            Err(e) => return Err(fail(&e.to_string())),
        }
        if head[..len].contains(&b'\n') {
            break;
        }
    }
    let status_line = String::from_utf8_lossy(&head[..len]);
    let status_line = status_line.lines().next().unwrap_or("").trim();
    match status_line.split(' ').nth(1) {
        Some("200") => Ok(()),
        _ if status_line.is_empty() => Err(fail("no answer")),
        _ => Err(fail(&format!("answered {status_line:?}"))),
    }
}

/// Where to probe: the configured address, or the loopback addresses when it is a wildcard.
fn probe_addrs(config: &Config) -> Vec<SocketAddr> {
    let ips = if config.host.is_unspecified() {
        vec![IpAddr::V4(Ipv4Addr::LOCALHOST), IpAddr::V6(Ipv6Addr::LOCALHOST)]
    } else {
        vec![config.host]
    };
    ips.into_iter()
        .map(|ip| SocketAddr::new(ip, config.port))
        .collect()
}
