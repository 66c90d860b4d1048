//! The `Host` request header as RFC 9112 §3.2 requires it to be checked: exactly one field in an
//! HTTP/1.1 request, at most one in HTTP/1.0, and its value `uri-host [ ":" port ]` (RFC 3986).
//!
//! No name is refused for what it is (no allow-list): tinyweb answers the same for every name.
//! An empty value is accepted: RFC 9112 §3.2 makes it what a client sends when the target URI has
//! no authority, and §3.3 lets the server then apply a default authority, which tinyweb has (it
//! serves every name alike), exactly as for an HTTP/1.0 request without Host.

use std::net::Ipv6Addr;

use warp::http::header::{self, HeaderMap};
use warp::http::Version;

/// Whether a request of `version` with these headers must be answered 400 for its `Host` fields.
///
/// The fields are found by walking the headers, not by `HeaderMap::get_all`: hashing the name
/// for a lookup costs about as much as comparing the names of ten headers, so a request with
/// fewer (wrk's and curl's send one to three) costs less, up to 350 instructions, and a
/// browser's dozen about 90 more (bench/instructions.py).
pub fn is_bad(version: Version, headers: &HeaderMap) -> bool {
    let mut fields = headers.iter().filter(|(name, _)| *name == header::HOST);
    match (fields.next(), fields.next()) {
        (Some(_), Some(_)) => true,
        (Some((_, host)), None) => !is_valid(host.as_bytes()),
        // HTTP/1.0 predates Host; from HTTP/1.1 on it is required.
        (None, _) => version >= Version::HTTP_11,
    }
}

/// Whether `value` is `uri-host [ ":" port ]`, where uri-host is an IP-literal or a reg-name
/// (an IPv4 address is also a reg-name) and port is `*DIGIT`.
pub fn is_valid(value: &[u8]) -> bool {
    let (host, port) = if let Some(rest) = value.strip_prefix(b"[") {
        let Some(end) = rest.iter().position(|&b| b == b']') else {
            return false;
        };
        if !is_ip_literal(&rest[..end]) {
            return false;
        }
        (&[][..], &rest[end + 1..])
    } else {
        let end = value.iter().position(|&b| b == b':').unwrap_or(value.len());
        (&value[..end], &value[end..])
    };
    let port_ok = match port.split_first() {
        None => true,
        Some((b':', digits)) => digits.iter().all(u8::is_ascii_digit),
        Some(_) => false,
    };
    port_ok && is_reg_name(host)
}

/// `reg-name = *( unreserved / pct-encoded / sub-delims )`.
fn is_reg_name(name: &[u8]) -> bool {
    let mut i = 0;
    while i < name.len() {
        match name[i] {
            b'%' => {
                let hex = name.get(i + 1..i + 3);
                if !hex.is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit)) {
                    return false;
                }
                i += 3;
            }
            b if is_unreserved(b) || is_sub_delim(b) => i += 1,
            _ => return false,
        }
    }
    true
}

/// The inside of `[...]`: an IPv6 address or `IPvFuture = "v" 1*HEXDIG "." 1*( unreserved /
/// sub-delims / ":" )`.
fn is_ip_literal(inside: &[u8]) -> bool {
    if let Some(future) = inside.strip_prefix(b"v").or_else(|| inside.strip_prefix(b"V")) {
        let Some(dot) = future.iter().position(|&b| b == b'.') else {
            return false;
        };
        let (version, rest) = (&future[..dot], &future[dot + 1..]);
        return !version.is_empty()
            && version.iter().all(u8::is_ascii_hexdigit)
            && !rest.is_empty()
            && rest
                .iter()
                .all(|&b| is_unreserved(b) || is_sub_delim(b) || b == b':');
    }
    std::str::from_utf8(inside).is_ok_and(|s| s.parse::<Ipv6Addr>().is_ok())
}

fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

fn is_sub_delim(b: u8) -> bool {
    matches!(
        b,
        b'!' | b'$' | b'&' | b'\'' | b'(' | b')' | b'*' | b'+' | b',' | b';' | b'='
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use warp::http::{HeaderMap, HeaderValue};

    /// Names, addresses and ports RFC 3986 allows.
    #[test]
    fn valid_hosts() {
        for host in [
            "example.com",
            "example.com:8000",
            "EXAMPLE.com:",
            "localhost",
            "127.0.0.1:80",
            "999.1.1.1",
            "[::1]",
            "[::1]:8080",
            "[2001:db8::ffff:192.0.2.1]",
            "[v1.fe80::a+en1]",
            "xn--nxasmq6b.example",
            "my_host~1",
            "a%20b",
            "!$&'()*+,;=",
            "",
            ":80",
        ] {
            assert!(is_valid(host.as_bytes()), "{host:?} refused");
        }
    }

    /// Anything else: spaces, userinfo, paths, bad brackets, bad ports, bad escapes, non-ASCII.
    #[test]
    fn invalid_hosts() {
        for host in [
            &b"a b"[..],
            b" example.com",
            b"user@example.com",
            b"example.com/path",
            b"example.com?q",
            b"example.com#f",
            b"example.com:80:80",
            b"example.com:http",
            b"example.com:-1",
            b"[::1",
            b"[::1]x",
            b"[::1]:a",
            b"[not-v6]",
            b"[::g]",
            b"[v.x]",
            b"[v1.]",
            b"::1",
            b"a%2",
            b"a%zz",
            b"caf\xc3\xa9.example",
            b"a\tb",
            b"a\"b",
        ] {
            assert!(!is_valid(host), "{:?} accepted", String::from_utf8_lossy(host));
        }
    }

    fn headers(hosts: &[&'static str]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for host in hosts {
            map.append("host", HeaderValue::from_static(host));
        }
        map
    }

    /// Missing Host is refused from HTTP/1.1 on only; two Host fields always.
    #[test]
    fn count_and_version() {
        let bad = |version, hosts: &[&'static str]| is_bad(version, &headers(hosts));

        assert!(!bad(Version::HTTP_10, &[]));
        assert!(bad(Version::HTTP_11, &[]));
        assert!(!bad(Version::HTTP_11, &["a"]));
        assert!(bad(Version::HTTP_11, &["a", "a"]));
        assert!(bad(Version::HTTP_10, &["a", "b"]));
        assert!(bad(Version::HTTP_10, &["a b"]));
    }
}
