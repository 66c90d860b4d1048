//! Connection counts: thousands of concurrent keep-alive connections are served, and running out
//! of file descriptors is logged, backed off from (no spinning) and recovered from.

mod common;
mod traffic;

use std::io;
use std::os::unix::process::CommandExt;
use std::process::Command;
use std::thread;
use std::time::Duration;

use common::{connect, Server, BIN};
use traffic::KeepAlive;

/// How many concurrent connections the first test holds (the README's figure).
const CONNECTIONS: u64 = 3000;

/// Raises this process's soft RLIMIT_NOFILE to its hard limit, or 65536 if that is higher (an
/// unlimited hard limit is not a valid soft one), and returns it; children inherit it.
fn raise_fd_limit() -> u64 {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit only read and write the struct passed in.
    unsafe {
        assert_eq!(libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit), 0, "getrlimit");
        limit.rlim_cur = limit.rlim_max.min(1 << 16);
        assert_eq!(libc::setrlimit(libc::RLIMIT_NOFILE, &limit), 0, "setrlimit");
    }
    limit.rlim_cur
}

/// Connections opened before their first answer is awaited: well under the listen backlog
/// (1024), so a server slow to accept on a loaded machine never makes the kernel drop SYNs.
const BATCH: usize = 500;

/// Sends `GET /` on every connection before reading any answer, so all are in use together,
/// then checks every answer.
fn round(clients: &mut [KeepAlive], what: &str) {
    for client in clients.iter_mut() {
        client
            .send(b"GET / HTTP/1.1\r\nHost: test\r\n\r\n")
            .expect("send");
    }
    for (i, client) in clients.iter_mut().enumerate() {
        let response = client
            .read()
            .unwrap_or_else(|e| panic!("{what}, connection {i}: {e:?}"));
        assert_eq!((response.status, response.body.as_str()), (200, "Hello, World!"));
    }
}

/// Thousands of keep-alive connections are open at once, each gets two answers in a row.
#[test]
fn thousands_of_keep_alive_connections_are_served() {
    // Both this process and the server hold one descriptor per connection, plus a few spare.
    let limit = raise_fd_limit();
    assert!(
        limit >= CONNECTIONS + 100,
        "RLIMIT_NOFILE can only be raised to {limit}: {CONNECTIONS} connections need {} \
         (raise the hard limit, e.g. `ulimit -Hn 4096`)",
        CONNECTIONS + 100
    );
    let count = CONNECTIONS as usize;
    eprintln!("opening {count} concurrent keep-alive connections");
    let server = Server::start(&[("TINYWEB_HEADER_TIMEOUT_SECS", "60")]);

    let mut clients = Vec::with_capacity(count);
    while clients.len() < count {
        let opened = clients.len();
        clients.extend((opened..count.min(opened + BATCH)).map(|_| KeepAlive::connect(server.addr)));
        round(&mut clients[opened..], "first request");
    }
    round(&mut clients, "second request, all connections at once");

    traffic::assert_still_serving(&server, "thousands of keep-alive connections");
}

/// The server's CPU time so far (user + system), from /proc/<pid>/stat.
fn cpu_time(pid: i32) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("read /proc/<pid>/stat");
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    let fields: Vec<&str> = stat.rsplit_once(')').unwrap().1.split_whitespace().collect();
    let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    // SAFETY: sysconf has no memory effects.
    let per_second = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as u64;
    Duration::from_millis(ticks * 1000 / per_second)
}

/// Descriptor limit the server is started with: enough to start and serve, soon exhausted.
const SERVER_FD_LIMIT: u64 = 64;

/// How long the retry rate is measured for.
const WINDOW: Duration = Duration::from_secs(2);

/// The README's retry rate: one retry per 100 ms, so 20 in [`WINDOW`]; the bounds allow for a
/// loaded machine that wakes the server late (fewer) and for the window's edges (one more).
const RETRIES: std::ops::RangeInclusive<usize> = 10..=22;

/// Out of descriptors, the server logs "accept failed: Too many open files", retries every
/// 100 ms rather than spinning, and serves again as soon as descriptors are freed.
#[test]
fn fd_exhaustion_is_logged_backed_off_and_recovered() {
    let mut command = Command::new(BIN);
    command.env_clear().env("HOST", "127.0.0.1").env("PORT", "0");
    // SAFETY: the closure only calls setrlimit, which is async-signal-safe.
    unsafe {
        command.pre_exec(|| {
            let limit = libc::rlimit {
                rlim_cur: SERVER_FD_LIMIT,
                rlim_max: SERVER_FD_LIMIT,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &limit) == 0 {
                Ok(())
            } else {
                Err(io::Error::last_os_error())
            }
        });
    }
    // A long header timeout keeps the hogs' descriptors taken for the whole test; a cap above
    // the descriptor limit lets them exhaust it instead of being evicted.
    let server = Server::spawn(
        command,
        &[
            ("TINYWEB_HEADER_TIMEOUT_SECS", "60"),
            ("TINYWEB_MAX_CONNECTIONS", "1000"),
        ],
    );

    let hogs: Vec<_> = (0..2 * SERVER_FD_LIMIT).map(|_| connect(server.addr)).collect();
    let error = server.wait_for_line("accept failed");
    assert!(
        error.contains("ERROR") && error.contains("Too many open files"),
        "{error}"
    );
    eprintln!(
        "{} idle connections against a limit of {SERVER_FD_LIMIT}: {error}",
        hogs.len()
    );

    let failures_before = server.log().matches("accept failed").count();
    let cpu_before = cpu_time(server.pid());
    thread::sleep(WINDOW);
    let cpu = cpu_time(server.pid()) - cpu_before;
    let retries = server.log().matches("accept failed").count() - failures_before;
    eprintln!("{WINDOW:?} out of descriptors: {cpu:?} CPU, {retries} logged accept retries");
    assert!(
        RETRIES.contains(&retries),
        "{retries} accept retries in {WINDOW:?}, expected one per 100 ms ({RETRIES:?})"
    );
    assert!(
        cpu < WINDOW / 4,
        "{cpu:?} CPU in {WINDOW:?} out of descriptors: spinning"
    );

    let mut waiting = KeepAlive::connect(server.addr);
    waiting
        .send(b"GET / HTTP/1.1\r\nHost: test\r\n\r\n")
        .expect("send");
    drop(hogs);
    let response = waiting
        .read()
        .expect("the client queued during exhaustion is served");
    assert_eq!((response.status, response.body.as_str()), (200, "Hello, World!"));
    traffic::assert_still_serving(&server, "running out of file descriptors");
}
