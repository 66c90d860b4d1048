//! Arbitrary bytes over TCP at the real service: tinyweb's own accept loop, hyper and the warp
//! routes run in this process (so libFuzzer sees their coverage), each input is sent on a fresh
//! loopback connection, and after every input the server must still close that connection and
//! answer a normal client with `Hello, World!`. A panic anywhere aborts: libFuzzer reports it.
#![no_main]

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use libfuzzer_sys::fuzz_target;
use tinyweb::config::Config;

/// Generous bound for the server to answer or close: only a hang waits this long.
const PATIENCE: Duration = Duration::from_secs(5);

/// Starts the service once, on an ephemeral loopback port, on its own thread and runtime (the
/// same single-threaded runtime the binary uses).
fn server() -> SocketAddr {
    static ADDR: OnceLock<SocketAddr> = OnceLock::new();
    *ADDR.get_or_init(|| {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind loopback");
        listener.set_nonblocking(true).expect("non-blocking listener");
        let addr = listener.local_addr().expect("bound address");
        // A short header timeout: an incomplete head costs at most a second of waiting.
        let config = Config {
            header_timeout: Duration::from_secs(1),
            ..Config::default()
        };
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            runtime.block_on(async {
                let listener = tokio::net::TcpListener::from_std(listener).expect("tokio listener");
                tinyweb::server::run(listener, &config, std::future::pending()).await;
            });
        });
        addr
    })
}

fn connect(addr: SocketAddr) -> TcpStream {
    let stream = TcpStream::connect_timeout(&addr, PATIENCE).expect("connect to the service");
    stream.set_read_timeout(Some(PATIENCE)).unwrap();
    stream.set_write_timeout(Some(PATIENCE)).unwrap();
    stream
}

/// Reads until the server closes or resets; panics if it keeps the connection open silently.
fn drain_until_closed(stream: &mut TcpStream, input: &[u8]) {
    let start = Instant::now();
    let mut chunk = [0u8; 16 * 1024];
    loop {
        match stream.read(&mut chunk) {
            Ok(0) => return,
            Ok(_) => assert!(start.elapsed() < PATIENCE, "endless answer to {input:?}"),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                panic!("connection still open {PATIENCE:?} after the client finished sending {input:?}")
            }
            Err(_) => return,
        }
    }
}

fuzz_target!(|input: &[u8]| {
    let addr = server();

    let mut hostile = connect(addr);
    // The server may close before taking everything (e.g. after a 400); that is its right.
    let _ = hostile.write_all(input);
    let _ = hostile.shutdown(Shutdown::Write);
    drain_until_closed(&mut hostile, input);

    let mut normal = connect(addr);
    normal
        .write_all(b"GET / HTTP/1.1\r\nHost: fuzz\r\nConnection: close\r\n\r\n")
        .expect("send a normal request");
    let mut answer = Vec::new();
    normal.read_to_end(&mut answer).expect("read the normal answer");
    let answer = String::from_utf8_lossy(&answer);
    assert!(
        answer.starts_with("HTTP/1.1 200 ") && answer.ends_with("\r\n\r\nHello, World!"),
        "after {input:?} a normal client got {answer:?}"
    );
});
