//! Every route and status over real TCP, and the access log.

mod common;

use common::Server;

/// `GET /` answers exactly `Hello, World!` as text/plain.
#[test]
fn root_says_hello() {
    let server = Server::start(&[]);

    let response = server.get("/");

    assert_eq!(response.status, 200);
    assert_eq!(response.body, "Hello, World!");
    assert_eq!(response.header("content-type"), Some("text/plain; charset=utf-8"));
}

/// `HEAD /` answers 200 with the GET headers and no body.
#[test]
fn head_root_has_no_body() {
    let server = Server::start(&[]);

    let response = server.request(b"HEAD / HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n");

    assert_eq!(response.status, 200);
    assert_eq!(response.header("content-length"), Some("13"));
    assert_eq!(response.body, "");
}

/// `/healthz` answers 200 `ok` to GET and HEAD.
#[test]
fn healthz_is_ok() {
    let server = Server::start(&[]);

    let get = server.get("/healthz");
    let head = server.request(b"HEAD /healthz HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n");

    assert_eq!((get.status, get.body.as_str()), (200, "ok"));
    assert_eq!((head.status, head.body.as_str()), (200, ""));
}

/// Unknown paths are 404, including ones under known routes.
#[test]
fn unknown_paths_are_404() {
    let server = Server::start(&[]);

    for path in ["/nope", "/healthz/more", "/index.html", "/%FF"] {
        let response = server.get(path);

        assert_eq!(response.status, 404, "{path}");
        assert_eq!(response.body, "Not Found", "{path}");
    }
}

/// A method a route does not take is 405 with `Allow: GET, HEAD`, on every route.
#[test]
fn wrong_method_is_405() {
    let server = Server::start(&[]);

    for (method, path) in [
        ("POST", "/"),
        ("DELETE", "/"),
        ("PUT", "/healthz"),
        ("OPTIONS", "/"),
    ] {
        let raw = format!(
            "{method} {path} HTTP/1.1\r\nHost: test\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        );
        let response = server.request(raw.as_bytes());

        assert_eq!(response.status, 405, "{method} {path}");
        assert_eq!(response.header("allow"), Some("GET, HEAD"), "{method} {path}");
    }
}

/// Each request logs exactly one access line with method, path, status and duration; 4xx are
/// not errors. The log is read after the server has exited, so every line is in it.
#[test]
fn access_log_line_per_request() {
    let mut server = Server::start(&[]);
    let requests = [("/", 200), ("/missing", 404), ("/healthz", 200), ("/", 200)];

    for (path, status) in requests {
        assert_eq!(server.get(path).status, status, "{path}");
    }
    let log = server.stop();
    let access: Vec<&str> = log.lines().filter(|l| l.contains("tinyweb::access")).collect();

    assert_eq!(access.len(), requests.len(), "one line per request:\n{log}");
    for (line, (path, status)) in access.iter().zip(requests) {
        assert!(line.contains(&format!(" GET {path} {status} ")), "{line}");
        assert!(line.contains(" INFO "), "{line}");
        assert!(line.trim_end().ends_with("ms"), "{line}");
    }
    assert!(!log.contains("ERROR"), "{log}");
}

/// `RUST_LOG` filters the log: with the access target off, no access lines are written, while
/// the server's other lines still are. The log is read after the server has exited.
#[test]
fn rust_log_filters() {
    let mut server = Server::start(&[("RUST_LOG", "tinyweb=info,tinyweb::access=off")]);

    for path in ["/", "/healthz", "/missing"] {
        assert_ne!(server.get(path).status, 0, "{path}");
    }
    let log = server.stop();

    assert!(log.contains("stopped: every connection drained"), "{log}");
    assert!(!log.contains("tinyweb::access"), "{log}");
}

/// `HOST=::` listens on IPv6 (and the healthcheck finds it on ::1).
#[test]
fn listens_on_ipv6() {
    if let Err(e) = std::net::TcpListener::bind("[::1]:0") {
        return common::skip_or_fail("listens_on_ipv6", &format!("no IPv6 loopback here ({e})"));
    }
    let server = Server::start(&[("HOST", "::")]);

    let response = server.get("/");
    let (code, _, stderr) = common::run(
        &["healthcheck"],
        &[("HOST", "::"), ("PORT", &server.addr.port().to_string())],
    );

    assert!(server.addr.is_ipv6());
    assert_eq!(response.body, "Hello, World!");
    assert_eq!(code, Some(0), "{stderr}");
}
