//! The access log's message, `GET / 200 0.022ms`, rendered with one write where it can be.
//!
//! Every piece a message hands to `core::fmt` becomes its own write into env_logger's line
//! buffer, about a hundred instructions each, and integers go through `Formatter::pad_integral`:
//! the message as a `format_args!` of five arguments cost about 1 000 instructions per request
//! more than gathering it on the stack and writing it once (bench/instructions.py).

use std::fmt;
use std::time::Duration;

/// Bytes gathered before a write: a usual line (method, a short path, status, duration) fits.
const CHUNK: usize = 96;

/// One request's access-log message: method, path, status, and the duration in milliseconds
/// to the microsecond.
#[derive(Debug, Clone, Copy)]
pub struct Line<'a> {
    /// The request's method, as sent.
    pub method: &'a str,
    /// The request's path, without the query.
    pub path: &'a str,
    /// The answer's status code.
    pub status: u16,
    /// From the request's arrival at the routes to its answer.
    pub elapsed: Duration,
}

impl fmt::Display for Line<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = Chunked::new(f);
        out.push(self.method)?;
        out.push_byte(b' ')?;
        out.push(self.path)?;
        out.push_byte(b' ')?;
        out.push(itoa::Buffer::new().format(u64::from(self.status)))?;
        out.push_byte(b' ')?;
        let millis = self.elapsed.as_secs() * 1000 + u64::from(self.elapsed.subsec_millis());
        out.push(itoa::Buffer::new().format(millis))?;
        out.push_byte(b'.')?;
        // 1000 + µs has four digits; without its leading 1 it is the µs zero-padded to three.
        let micros = 1000 + u64::from(self.elapsed.subsec_micros() % 1000);
        out.push(&itoa::Buffer::new().format(micros)[1..])?;
        out.push("ms")?;
        out.flush()
    }
}

/// Gathers whole `&str` pieces on the stack and hands them to the formatter a chunk at a time;
/// a piece longer than the chunk (a long path) goes through on its own.
struct Chunked<'f, 'a> {
    out: &'f mut fmt::Formatter<'a>,
    buf: [u8; CHUNK],
    len: usize,
}

impl<'f, 'a> Chunked<'f, 'a> {
    fn new(out: &'f mut fmt::Formatter<'a>) -> Self {
        Chunked {
            out,
            buf: [0; CHUNK],
            len: 0,
        }
    }

    fn push(&mut self, piece: &str) -> fmt::Result {
        if piece.len() > CHUNK - self.len {
            self.flush()?;
            if piece.len() > CHUNK {
                return self.out.write_str(piece);
            }
        }
        self.buf[self.len..self.len + piece.len()].copy_from_slice(piece.as_bytes());
        self.len += piece.len();
        Ok(())
    }

    /// An ASCII byte, valid UTF-8 on its own.
    fn push_byte(&mut self, byte: u8) -> fmt::Result {
        if self.len == CHUNK {
            self.flush()?;
        }
        self.buf[self.len] = byte;
        self.len += 1;
        Ok(())
    }

    fn flush(&mut self) -> fmt::Result {
        let gathered = &self.buf[..self.len];
        self.len = 0;
        // Only whole `&str` pieces are gathered, so this never fails.
        match std::str::from_utf8(gathered) {
            Ok(text) => self.out.write_str(text),
            Err(_) => Err(fmt::Error),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(method: &str, path: &str, status: u16, elapsed: Duration) -> String {
        Line {
            method,
            path,
            status,
            elapsed,
        }
        .to_string()
    }

    #[test]
    fn milliseconds_to_the_microsecond() {
        assert_eq!(
            line("GET", "/", 200, Duration::from_nanos(22_900)),
            "GET / 200 0.022ms"
        );
        assert_eq!(
            line("HEAD", "/healthz", 503, Duration::from_micros(1_234_005)),
            "HEAD /healthz 503 1234.005ms"
        );
        assert_eq!(line("GET", "/", 404, Duration::ZERO), "GET / 404 0.000ms");
    }

    #[test]
    fn the_same_as_core_fmt_at_any_length() {
        for path_len in [0, 1, 80, 95, 96, 97, 200, 5000] {
            let path = format!("/{}", "é".repeat(path_len));
            let elapsed = Duration::new(3_600, 999_999_999);
            let expected = format!(
                "PATCH {path} 418 {}.{:03}ms",
                elapsed.as_secs() * 1000 + u64::from(elapsed.subsec_millis()),
                elapsed.subsec_micros() % 1000
            );
            assert_eq!(
                line("PATCH", &path, 418, elapsed),
                expected,
                "path of {path_len} × é"
            );
        }
    }
}
