//! Shared helpers for the integration tests: start the real `tinyweb` binary on an ephemeral
//! loopback port, talk raw HTTP/1.1 to it over TCP, signal it and read its log.
#![allow(dead_code)] // each test crate uses a different subset

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// The binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_tinyweb");

/// Generous bound for anything that should be near-instant; only a failure waits this long.
pub const PATIENCE: Duration = Duration::from_secs(10);

/// A running `tinyweb` process, killed when dropped.
pub struct Server {
    child: Child,
    /// The address it reported in its "listening on" line.
    pub addr: SocketAddr,
    log: Arc<Mutex<String>>,
    /// Each stderr line as it arrives; disconnected once the reader thread has seen EOF.
    lines: Receiver<String>,
}

impl Server {
    /// Starts the binary on 127.0.0.1 with PORT=0 plus `env`, and waits for its "listening" line.
    pub fn start(env: &[(&str, &str)]) -> Server {
        let mut command = Command::new(BIN);
        command.env_clear().env("HOST", "127.0.0.1").env("PORT", "0");
        Server::spawn(command, env)
    }

    /// Starts `command` (which must run tinyweb) with `env` and waits for its "listening" line.
    pub fn spawn(mut command: Command, env: &[(&str, &str)]) -> Server {
        command
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let mut child = command.spawn().expect("spawn tinyweb");
        let stderr = child.stderr.take().expect("stderr is piped");
        let log = Arc::new(Mutex::new(String::new()));
        let (tx, lines) = mpsc::channel();
        let sink = Arc::clone(&log);
        // The line goes into the log before it is sent, so once the channel is disconnected
        // (this thread hit EOF and dropped `tx`), the log holds every line.
        thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                sink.lock().unwrap().push_str(&format!("{line}\n"));
                let _ = tx.send(line);
            }
        });
        let mut server = Server {
            child,
            addr: "0.0.0.0:0".parse().unwrap(),
            log,
            lines,
        };
        let line = server.wait_for_line("listening on http://");
        let addr = line.rsplit("http://").next().unwrap().trim();
        server.addr = addr.parse().unwrap_or_else(|_| panic!("bad address in {line:?}"));
        server
    }

    /// Waits up to [`PATIENCE`] for a log line containing `needle` and returns it.
    pub fn wait_for_line(&self, needle: &str) -> String {
        let deadline = Instant::now() + PATIENCE;
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            match self.lines.recv_timeout(left) {
                Ok(line) if line.contains(needle) => return line,
                Ok(_) => {}
                Err(_) => break,
            }
        }
        panic!("no log line with {needle:?}; log so far:\n{}", self.log())
    }

    /// Everything the process wrote to stderr so far. Once [`Server::wait_exit`] has returned
    /// a status, that is everything it ever wrote.
    pub fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    /// The process id.
    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    /// Sends `signal` (e.g. `libc::SIGTERM`) to the process.
    pub fn signal(&self, signal: i32) {
        // SAFETY: kill(2) with a pid we own and a valid signal number has no memory effects.
        assert_eq!(unsafe { libc::kill(self.pid(), signal) }, 0, "kill failed");
    }

    /// Waits up to `limit` for the process to exit; `None` if it is still running. After an
    /// exit it also waits for the stderr reader to reach EOF, so [`Server::log`] is complete
    /// (this drains the lines [`Server::wait_for_line`] has not seen: look for them in the log).
    pub fn wait_exit(&mut self, limit: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                self.wait_log_end();
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            thread::sleep(Duration::from_millis(5));
        }
    }

    /// Waits up to [`PATIENCE`] for the stderr reader thread to hit EOF (every writer gone).
    fn wait_log_end(&self) {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(_) => {}
                Err(RecvTimeoutError::Disconnected) => return,
                Err(RecvTimeoutError::Timeout) => {
                    panic!(
                        "stderr still open {PATIENCE:?} after the exit; log:\n{}",
                        self.log()
                    )
                }
            }
        }
    }

    /// Sends SIGTERM, expects exit 0 within [`PATIENCE`], and returns the complete log.
    pub fn stop(&mut self) -> String {
        self.signal(libc::SIGTERM);
        let status = self.wait_exit(PATIENCE);
        assert_eq!(status.and_then(|s| s.code()), Some(0), "log:\n{}", self.log());
        self.log()
    }

    /// Sends a `GET` for `path` on a new connection and returns the response.
    pub fn get(&self, path: &str) -> Response {
        self.request(format!("GET {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n").as_bytes())
    }

    /// Sends raw bytes on a new connection and reads the response until the server closes it.
    pub fn request(&self, raw: &[u8]) -> Response {
        let mut stream = connect(self.addr);
        stream.write_all(raw).expect("write request");
        read_response(&mut stream)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Connects to `addr` with read and write timeouts of [`PATIENCE`].
pub fn connect(addr: SocketAddr) -> TcpStream {
    let stream = TcpStream::connect_timeout(&addr, PATIENCE).expect("connect");
    stream.set_read_timeout(Some(PATIENCE)).unwrap();
    stream.set_write_timeout(Some(PATIENCE)).unwrap();
    stream
}

/// Waits until the server has read every byte sent so far on `stream`, which proves it accepted
/// the connection: the kernel's receive queue of the server's end (in /proc/net/tcp) is empty.
/// Panics after [`PATIENCE`]. IPv4 only.
pub fn wait_until_read(stream: &TcpStream) {
    let hex = |addr: SocketAddr| match addr.ip() {
        // /proc/net/tcp prints the address as the native-endian value of its network-order bytes.
        IpAddr::V4(ip) => format!("{:08X}:{:04X}", u32::from_ne_bytes(ip.octets()), addr.port()),
        IpAddr::V6(_) => panic!("wait_until_read: IPv4 only"),
    };
    let server_end = hex(stream.peer_addr().unwrap());
    let client_end = hex(stream.local_addr().unwrap());
    let deadline = Instant::now() + PATIENCE;
    let mut last = None;
    while Instant::now() < deadline {
        let table = std::fs::read_to_string("/proc/net/tcp").expect("read /proc/net/tcp");
        // Fields: sl local rem st tx_queue:rx_queue ...
        last = table.lines().find_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            (fields.get(1) == Some(&server_end.as_str()) && fields.get(2) == Some(&client_end.as_str()))
                .then(|| fields[4].split_once(':').map(|(_, rx)| rx.to_owned()))
                .flatten()
        });
        if last
            .as_deref()
            .is_some_and(|rx| u64::from_str_radix(rx, 16) == Ok(0))
        {
            return;
        }
        thread::sleep(Duration::from_millis(2));
    }
    panic!("the server did not read the bytes sent on {client_end} -> {server_end}: rx_queue {last:?}");
}

/// Whether the test runs in CI (`CI=true`), where a test that cannot run must fail, not skip.
pub fn in_ci() -> bool {
    std::env::var("CI").as_deref() == Ok("true")
}

/// Skips the calling test with a message naming `why`, or fails it under `CI=true`.
pub fn skip_or_fail(test: &str, why: &str) {
    assert!(!in_ci(), "{test}: {why} (CI=true: this test must run, not skip)");
    eprintln!("SKIP {test}: {why} (under CI=true this fails)");
}

/// An HTTP response as read off the wire.
#[derive(Debug)]
pub struct Response {
    /// The status code, 0 if none could be read.
    pub status: u16,
    /// The header block, one `name: value` per line, names in lower case.
    pub headers: String,
    /// Everything after the header block.
    pub body: String,
}

impl Response {
    /// The value of header `name` (lower case), if present.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .lines()
            .find_map(|line| line.strip_prefix(name)?.strip_prefix(": "))
    }
}

/// Reads until EOF and splits the first response into status, headers and body.
pub fn read_response(stream: &mut TcpStream) -> Response {
    let mut raw = Vec::new();
    let _ = stream.read_to_end(&mut raw);
    parse_response(&String::from_utf8_lossy(&raw))
}

/// Splits raw response text into status, headers and body.
pub fn parse_response(text: &str) -> Response {
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((text, ""));
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let headers = lines
        .map(|line| match line.split_once(':') {
            Some((name, value)) => format!("{}: {}", name.to_ascii_lowercase(), value.trim()),
            None => line.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("\n");
    Response {
        status,
        headers,
        body: body.to_owned(),
    }
}

/// Runs the binary with `args` and exactly `env`, and returns its exit code, stdout and stderr.
pub fn run(args: &[&str], env: &[(&str, &str)]) -> (Option<i32>, String, String) {
    let output = Command::new(BIN)
        .args(args)
        .env_clear()
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .output()
        .expect("run tinyweb");
    let text = |bytes: Vec<u8>| String::from_utf8_lossy(&bytes).into_owned();
    (output.status.code(), text(output.stdout), text(output.stderr))
}

/// Reads exactly one response (head and `content-length` body) off a kept-alive `stream`,
/// leaving the connection open; `None` if the connection ends or times out first.
pub fn read_one(stream: &mut TcpStream) -> Option<Response> {
    let mut bytes = Vec::new();
    let mut byte = [0u8; 1];
    while !bytes.ends_with(b"\r\n\r\n") {
        match stream.read(&mut byte) {
            Ok(1) => bytes.push(byte[0]),
            _ => return None,
        }
    }
    let mut response = parse_response(&String::from_utf8_lossy(&bytes));
    let length: usize = response
        .header("content-length")
        .map_or(Some(0), |v| v.parse().ok())?;
    let mut body = vec![0u8; length];
    stream.read_exact(&mut body).ok()?;
    response.body = String::from_utf8_lossy(&body).into_owned();
    Some(response)
}

/// Whether the server closed `stream` (EOF or reset) within [`PATIENCE`] without sending more.
pub fn closed_by_server(stream: &mut TcpStream) -> bool {
    let mut byte = [0u8; 1];
    match stream.read(&mut byte) {
        Ok(n) => n == 0,
        Err(e) => e.kind() == std::io::ErrorKind::ConnectionReset,
    }
}
