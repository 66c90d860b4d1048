//! A normal client is answered within 2 s while connections holding half-sent heads flood the
//! connection cap (its own test binary, so no parallel test slows it).

mod common;

use std::io::Write;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use common::Server;

/// The generous correctness bound of the issue (not a performance target).
const ANSWER_BOUND: Duration = Duration::from_secs(2);

/// Flood connections each thread keeps open at once (the oldest are evicted by the server anyway).
const KEEP_OPEN: usize = 300;

#[test]
fn normal_client_is_answered_while_half_heads_flood_the_cap() {
    let server = Server::start(&[
        ("TINYWEB_MAX_CONNECTIONS", "100"),
        ("TINYWEB_HEADER_TIMEOUT_SECS", "60"),
        ("RUST_LOG", "info,tinyweb::access=off"),
    ]);
    let stop = Arc::new(AtomicBool::new(false));
    let opened = Arc::new(AtomicUsize::new(0));
    let flooders: Vec<_> = (0..2)
        .map(|_| {
            let (stop, opened, addr) = (Arc::clone(&stop), Arc::clone(&opened), server.addr);
            thread::spawn(move || {
                let mut open = std::collections::VecDeque::new();
                while !stop.load(Ordering::Relaxed) {
                    if let Ok(mut stream) = std::net::TcpStream::connect(addr) {
                        let _ = stream.write_all(b"GET / HTTP/1.1\r\nHost: flood\r\n");
                        open.push_back(stream);
                        opened.fetch_add(1, Ordering::Relaxed);
                    }
                    if open.len() > KEEP_OPEN {
                        open.pop_front();
                    }
                }
            })
        })
        .collect();
    while opened.load(Ordering::Relaxed) < 500 {
        thread::sleep(Duration::from_millis(10));
    }

    let mut slowest = Duration::ZERO;
    for _ in 0..20 {
        let started = Instant::now();
        let response = server.get("/");
        slowest = slowest.max(started.elapsed());
        assert_eq!((response.status, response.body.as_str()), (200, "Hello, World!"));
        thread::sleep(Duration::from_millis(50));
    }
    let flood = opened.load(Ordering::Relaxed);
    stop.store(true, Ordering::Relaxed);
    for flooder in flooders {
        flooder.join().unwrap();
    }
    eprintln!("{flood} half-head connections against a cap of 100; slowest of 20 answers {slowest:?}");

    assert!(slowest < ANSWER_BOUND, "slowest answer {slowest:?}");
    assert!(
        server.log().contains("connection cap 100 reached: evicted"),
        "{}",
        server.log()
    );
    assert_eq!(server.get("/").body, "Hello, World!");
}
