"""A small keep-alive HTTP load generator that classifies every request it sends.

ok:      a complete `200` with the expected body.
dropped: the connection was refused, or closed before a single response byte: the server never
         took the request (expected once a shutdown has begun, never before).
failed:  anything else: a partial response, another status, a wrong body, a stall. A graceful
         server never produces one, shutting down or not.
"""

import socket
import threading
import time

REQUEST = b"GET / HTTP/1.1\r\nHost: tinyweb\r\n\r\n"
BODY = b"Hello, World!"


class Outcome(Exception):
    def __init__(self, kind, detail):
        super().__init__(detail)
        self.kind = kind


def receive(sock, received):
    """The next bytes of a response of which `received` bytes have arrived; Outcome on EOF."""
    try:
        chunk = sock.recv(4096)
    except ConnectionResetError:
        chunk = b""
    if not chunk:
        kind = "dropped" if not received else "failed"
        raise Outcome(kind, f"connection closed after {received} response bytes")
    return chunk


def read_response(sock):
    """Reads one response; returns (status, headers, body) or raises Outcome."""
    data = b""
    while b"\r\n\r\n" not in data:
        data += receive(sock, len(data))
    head, body = data.split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ")[1])
    headers = {}
    for line in lines[1:]:
        key, _, value = line.partition(":")
        headers[key.strip().lower()] = value.strip()
    length = int(headers.get("content-length", "0"))
    while len(body) < length:
        body += receive(sock, len(head) + len(body) + 4)
    return status, headers, body


class Load:
    """`threads` clients hammering GET / on 127.0.0.1:port until `stop()`."""

    def __init__(self, port, threads=8):
        self.port = port
        self.counts = {"ok": 0, "dropped": 0, "failed": 0}
        self.dropped_early = 0
        self.failures = []
        self.shutdown_started = None
        self._lock = threading.Lock()
        self._done = threading.Event()
        self._threads = [threading.Thread(target=self._client) for _ in range(threads)]

    def start(self):
        for thread in self._threads:
            thread.start()
        return self

    def shutdown_begins(self):
        """Marks the moment the server was told to stop: drops before it are failures."""
        self.shutdown_started = time.monotonic()

    def stop(self):
        self._done.set()
        for thread in self._threads:
            thread.join()
        return self

    def _record(self, kind, detail=""):
        with self._lock:
            self.counts[kind] += 1
            if kind == "dropped" and self.shutdown_started is None:
                self.dropped_early += 1
            if kind == "failed" and len(self.failures) < 5:
                self.failures.append(detail)

    def _client(self):
        while not self._done.is_set():
            try:
                sock = socket.create_connection(("127.0.0.1", self.port), timeout=3)
            except OSError as error:
                self._record("dropped", str(error))
                time.sleep(0.01)
                continue
            with sock:
                self._session(sock)

    def _session(self, sock):
        while not self._done.is_set():
            try:
                sock.sendall(REQUEST)
                status, headers, body = read_response(sock)
            except Outcome as outcome:
                self._record(outcome.kind, str(outcome))
                return
            except (ConnectionResetError, BrokenPipeError):
                self._record("dropped", "connection reset before a response")
                return
            except OSError as error:
                self._record("failed", f"{type(error).__name__}: {error}")
                return
            if status != 200 or body != BODY:
                self._record("failed", f"status {status}, body {body[:40]!r}")
                return
            self._record("ok")
            if headers.get("connection", "").lower() == "close":
                return
