//! `Host` per RFC 9112 §3.2 over real TCP: a missing Host in HTTP/1.1, two Host fields or a value
//! that is not `uri-host[:port]` get 400 with `Connection: close` and the connection is closed;
//! HTTP/1.0 without Host and every well-formed name are served (no allow-list).

mod common;

use std::io::Write;

use common::{closed_by_server, connect, read_one, Server};

/// Sends `raw` on a new connection (without `Connection: close`) and returns the first answer
/// and whether the server then closed the connection.
fn answer(server: &Server, raw: &str) -> (common::Response, bool) {
    let mut stream = connect(server.addr);
    stream.write_all(raw.as_bytes()).unwrap();
    let response = read_one(&mut stream).unwrap_or_else(|| panic!("no answer to {raw:?}"));
    let closed = response.status == 400 && closed_by_server(&mut stream);
    (response, closed)
}

/// Every refused case: 400, `Connection: close`, closed; the server still serves afterwards.
#[test]
fn bad_host_is_400_and_closes() {
    let server = Server::start(&[]);
    for raw in [
        "GET / HTTP/1.1\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
        "GET / HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: a b\r\n\r\n",
        "GET / HTTP/1.0\r\nHost: a b\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: user@example.com\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: example.com/x\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: example.com:http\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: [::1\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: [zz]:80\r\n\r\n",
        "GET /healthz HTTP/1.1\r\nHost: a%zz\r\n\r\n",
        "GET http://example.com/ HTTP/1.1\r\n\r\n",
    ] {
        let (response, closed) = answer(&server, raw);

        assert_eq!(response.status, 400, "{raw:?}");
        assert_eq!(response.header("connection"), Some("close"), "{raw:?}");
        assert!(closed, "{raw:?}: connection left open after the 400");
    }
    server.wait_for_line("GET / 400 bad Host");
    assert_eq!(server.get("/").body, "Hello, World!");
}

/// HTTP/1.0 without Host, an empty Host, names, addresses and ports are all served.
#[test]
fn good_host_is_served() {
    let server = Server::start(&[]);
    for raw in [
        "GET / HTTP/1.0\r\n\r\n",
        "GET / HTTP/1.1\r\nHost:\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: example.com\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: example.com:8000\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: 127.0.0.1:8000\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: [::1]:8000\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: any-name.that.is_not~listed\r\n\r\n",
    ] {
        let (response, _) = answer(&server, raw);

        assert_eq!(
            (response.status, response.body.as_str()),
            (200, "Hello, World!"),
            "{raw:?}"
        );
    }
}
