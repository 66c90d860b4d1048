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

/// Each request logs one access line with method, path, status and duration; 4xx are not errors.
#[test]
fn access_log_line_per_request() {
    let server = Server::start(&[]);

    server.get("/");
    server.get("/missing");
    let hello = server.wait_for_line("GET / 200");
    let missing = server.wait_for_line("GET /missing 404");

    for line in [&hello, &missing] {
        assert!(line.contains(" INFO "), "{line}");
        assert!(line.contains("tinyweb::access"), "{line}");
        assert!(line.trim_end().ends_with("ms"), "{line}");
    }
    assert!(!server.log().contains("ERROR"), "{}", server.log());
}

/// `RUST_LOG` filters the log: with the access target off, no access lines are written.
#[test]
fn rust_log_filters() {
    let server = Server::start(&[("RUST_LOG", "tinyweb=info,tinyweb::access=off")]);

    server.get("/");
    server.get("/healthz");
    server.get("/");

    assert_eq!(server.get("/").status, 200);
    assert!(!server.log().contains("tinyweb::access"), "{}", server.log());
}

/// `HOST=::` listens on IPv6 (and the healthcheck finds it on ::1).
#[test]
fn listens_on_ipv6() {
    if std::net::TcpListener::bind("[::1]:0").is_err() {
        eprintln!("SKIP listens_on_ipv6: this host has no IPv6 loopback");
        return;
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
