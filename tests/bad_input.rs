//! Malformed and unusual requests over real TCP: each gets the right answer or a closed
//! connection, never a panic, and a normal client is still served afterwards.

mod common;
mod traffic;

use std::time::Duration;

use common::{Server, PATIENCE};
use traffic::{exchange, split_response, End, Exchange};

/// The header limit the tests run with (the documented default, set so the sizes below hold).
const MAX_HEADER_BYTES: usize = 16 * 1024;

fn server() -> Server {
    Server::start(&[("TINYWEB_MAX_HEADER_BYTES", &MAX_HEADER_BYTES.to_string())])
}

/// Sends `raw` and asserts the answer is exactly `expected`, that the server then closed the
/// connection, and that it still serves a normal client.
fn assert_refused(server: &Server, case: &str, raw: &[u8], expected: u16) -> Exchange {
    let reply = exchange(server.addr, raw, PATIENCE);
    eprintln!("{case}: {} then {:?}", reply.answer(), reply.end);
    assert_eq!(
        reply.status(),
        expected,
        "{case}: answered {}, expected {expected}",
        reply.answer()
    );
    assert_ne!(
        reply.end,
        End::StillOpen,
        "{case}: connection left open after a bad request"
    );
    traffic::assert_still_serving(server, case);
    reply
}

/// A request line that is not `METHOD target HTTP/x.y` is a 400.
#[test]
fn malformed_request_lines_are_400() {
    let server = server();
    for (case, raw) in [
        ("garbage request line", &b"GARBAGE\r\n\r\n"[..]),
        ("missing version", b"GET /\r\nHost: x\r\n\r\n"),
        ("spaces in target", b"GET / / HTTP/1.1\r\nHost: x\r\n\r\n"),
        ("NUL bytes", b"GET \0/ HTTP/1.1\r\n\0\r\n\r\n"),
        ("bare LF garbage", b"\x01\x02\x03\n\n"),
        ("header without colon", b"GET / HTTP/1.1\r\nHost x\r\n\r\n"),
    ] {
        assert_refused(&server, case, raw, 400);
    }
}

/// An unknown HTTP version is a 400.
#[test]
fn unsupported_http_version_is_400() {
    let server = server();

    assert_refused(&server, "HTTP/9.9", b"GET / HTTP/9.9\r\nHost: x\r\n\r\n", 400);
}

/// A header block larger than TINYWEB_MAX_HEADER_BYTES gets 431 and the connection is closed.
#[test]
fn header_block_over_the_limit_is_431() {
    let server = server();
    let big = format!(
        "GET / HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n",
        "a".repeat(MAX_HEADER_BYTES + 1024)
    );

    assert_refused(&server, "header block over the limit", big.as_bytes(), 431);
}

/// A request head of exactly `size` bytes (request line, headers and the blank line).
fn head_of(size: usize) -> Vec<u8> {
    let start = b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\nX-Pad: ";
    let mut head = start.to_vec();
    head.resize(size - 4, b'a');
    head.extend_from_slice(b"\r\n\r\n");
    head
}

/// The limit is exact: a head of TINYWEB_MAX_HEADER_BYTES is served and one byte more is not,
/// from the bottom to the top of the documented range (1 MiB is above hyper's default ~400 KiB
/// read buffer, which must not cut it short).
#[test]
fn header_limit_is_exact() {
    for limit in [1024, MAX_HEADER_BYTES, 1 << 20] {
        let server = Server::start(&[("TINYWEB_MAX_HEADER_BYTES", &limit.to_string())]);

        let at = exchange(server.addr, &head_of(limit), PATIENCE);
        let over = exchange(server.addr, &head_of(limit + 1), PATIENCE);

        eprintln!(
            "limit {limit}: head of {limit} bytes: {}; {} bytes: {}",
            at.answer(),
            limit + 1,
            over.answer()
        );
        assert_eq!(
            at.status(),
            200,
            "limit {limit}: a head of exactly the limit was refused"
        );
        assert_eq!(
            over.status(),
            431,
            "limit {limit}: one byte over: {}",
            over.answer()
        );
        assert_ne!(
            over.end,
            End::StillOpen,
            "limit {limit}: one byte over: connection left open"
        );
        traffic::assert_still_serving(&server, &format!("a head over the {limit}-byte limit"));
    }
}

/// More header lines than hyper keeps (100) is refused rather than truncated.
#[test]
fn too_many_headers_are_431() {
    let server = server();
    let many: String = (0..200).map(|i| format!("X-{i}: v\r\n")).collect();
    let raw = format!("GET / HTTP/1.1\r\nHost: x\r\n{many}\r\n");

    assert_refused(&server, "200 header lines", raw.as_bytes(), 431);
}

/// A 64 KiB URL is over the 16 KiB head limit (431); with the limit raised to 1 MiB, the URL
/// parser's own bound answers 414.
#[test]
fn url_of_64_kib_is_refused() {
    let raw = format!("GET /{} HTTP/1.1\r\nHost: x\r\n\r\n", "a".repeat(64 * 1024));

    assert_refused(&server(), "64 KiB URL", raw.as_bytes(), 431);
    let roomy = Server::start(&[("TINYWEB_MAX_HEADER_BYTES", "1048576")]);
    assert_refused(&roomy, "64 KiB URL, 1 MiB header limit", raw.as_bytes(), 414);
}

/// Raw bytes that are not UTF-8 (nor even URL characters) in the path are a 400; the same bytes
/// percent-encoded are a well-formed URL for a path that does not exist: 404.
#[test]
fn non_utf8_paths_are_400_or_404() {
    let server = server();

    assert_refused(
        &server,
        "raw non-UTF-8 path",
        b"GET /\xff\xfe\xc3 HTTP/1.1\r\nHost: x\r\n\r\n",
        400,
    );
    let encoded = exchange(
        server.addr,
        b"GET /%FF%FE%C3 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        PATIENCE,
    );
    eprintln!("percent-encoded non-UTF-8 path: {}", encoded.answer());
    assert_eq!(encoded.status(), 404);
    traffic::assert_still_serving(&server, "percent-encoded non-UTF-8 path");
}

/// Broken body framing is a 400: a request smuggler's conflicting or invalid lengths.
#[test]
fn bad_body_framing_is_400() {
    let server = server();
    for (case, raw) in [
        (
            "invalid Content-Length",
            &b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n"[..],
        ),
        (
            "two different Content-Lengths",
            b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
        ),
        (
            "unknown Transfer-Encoding",
            b"GET / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n",
        ),
    ] {
        assert_refused(&server, case, raw, 400);
    }
}

/// The handler never reads a GET body, so a broken chunked body is only found after the answer:
/// the connection is then closed, and what follows the bad chunk is never taken for a request.
#[test]
fn bad_chunk_closes_the_connection() {
    let server = server();
    let raw = b"GET / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n\
                GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";

    let reply = exchange(server.addr, raw, PATIENCE);
    let statuses: Vec<_> = reply.responses().iter().map(|r| r.status).collect();

    eprintln!(
        "bad chunk size, then GET /healthz: {statuses:?} then {:?}",
        reply.end
    );
    assert!(matches!(statuses[..], [200] | [400]), "{reply:?}");
    assert_ne!(reply.end, End::StillOpen);
    traffic::assert_still_serving(&server, "bad chunk size");
}

/// A body on GET is read and ignored: the answer is the usual one and the next request on the
/// same connection is framed correctly (the body was not taken for a request).
#[test]
fn body_on_get_is_ignored() {
    assert_body_skipped(
        "body on GET",
        b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 18\r\n\r\nGET /nope HTTP/1.1\
          GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
}

/// A chunked body on GET is consumed the same way.
#[test]
fn chunked_body_on_get_is_ignored() {
    assert_body_skipped(
        "chunked body on GET",
        b"GET / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n\
          GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
}

/// Sends `raw` (a GET / with a body, then GET /healthz) and expects exactly the two usual answers.
fn assert_body_skipped(case: &str, raw: &[u8]) {
    let server = server();

    let answers: Vec<_> = exchange(server.addr, raw, PATIENCE)
        .responses()
        .into_iter()
        .map(|r| (r.status, r.body))
        .collect();

    eprintln!("{case}, then GET /healthz: {answers:?}");
    assert_eq!(answers, [(200, "Hello, World!".into()), (200, "ok".into())]);
    traffic::assert_still_serving(&server, case);
}

/// HTTP/1.0 without Host is valid: served, then closed (1.0 defaults to no keep-alive).
#[test]
fn http10_without_host_is_served_and_closed() {
    let server = server();

    let reply = exchange(server.addr, b"GET / HTTP/1.0\r\n\r\n", PATIENCE);

    eprintln!("HTTP/1.0 without Host: {} then {:?}", reply.answer(), reply.end);
    let responses = reply.responses();
    assert_eq!(responses.len(), 1, "{reply:?}");
    assert_eq!(
        (responses[0].status, responses[0].body.as_str()),
        (200, "Hello, World!")
    );
    assert!(
        String::from_utf8_lossy(&reply.bytes).starts_with("HTTP/1.0 200"),
        "{reply:?}"
    );
    assert_eq!(reply.end, End::Closed);
    traffic::assert_still_serving(&server, "HTTP/1.0 without Host");
}

/// Requests written back to back in one packet are all answered, in order, on one connection.
#[test]
fn pipelined_requests_are_answered_in_order() {
    let server = server();
    let raw = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n\
                GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n\
                GET /nope HTTP/1.1\r\nHost: x\r\n\r\n\
                GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";

    let reply = exchange(server.addr, raw, PATIENCE);
    let answers: Vec<_> = reply
        .responses()
        .into_iter()
        .map(|r| (r.status, r.body))
        .collect();

    eprintln!("4 pipelined requests: {answers:?} then {:?}", reply.end);
    assert_eq!(
        answers,
        [
            (200, "Hello, World!".into()),
            (200, "ok".into()),
            (404, "Not Found".into()),
            (200, "Hello, World!".into()),
        ]
    );
    assert_eq!(reply.end, End::Closed);
}

/// `Connection: close` is answered with `connection: close` and the server closes; without it
/// the same connection stays open for the next request.
#[test]
fn connection_close_is_honoured() {
    let server = server();

    let closing = exchange(
        server.addr,
        b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        PATIENCE,
    );
    let kept = exchange(
        server.addr,
        b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
        Duration::from_millis(500),
    );

    eprintln!("Connection: close: {} then {:?}", closing.answer(), closing.end);
    eprintln!("keep-alive (control): {} then {:?}", kept.answer(), kept.end);
    let (response, _) = split_response(&closing.bytes).expect("a complete response");
    assert_eq!(
        (response.status, response.header("connection")),
        (200, Some("close"))
    );
    assert_eq!(closing.end, End::Closed);
    assert_eq!((kept.status(), kept.end), (200, End::StillOpen));
}
