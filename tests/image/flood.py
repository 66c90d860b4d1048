#!/usr/bin/env python3
"""One flood against a server on 127.0.0.1, with a normal client probing it all along; run by
floods.py inside the container's network namespace (nsenter --net), so that no Docker proxy sits
between the attacker and the server.

    flood.py heads COUNT HOLD_S         COUNT connections each send half a request head, then wait
    flood.py pipeline COUNT REQUESTS HOLD_S
                                        COUNT connections each pipeline REQUESTS GETs and never
                                        read an answer
    flood.py probe                      waits up to 10 s for one good answer

The attack connections are held HOLD_S seconds, then closed. Meanwhile a normal client sends
GET / on a fresh connection every PROBE_EVERY_S seconds (each waits up to PROBE_TIMEOUT_S for its
answer); once the flood is released and those have finished, three more.
Prints one JSON object: what the attack achieved and every probe's outcome.
"""

import json
import resource
import select
import socket
import sys
import threading
import time

PORT = 8000
HELLO = b"Hello, World!"
PROBE = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
HALF_HEAD = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: flood\r\n"
PIPELINED = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
PROBE_EVERY_S = 0.25
# Generous: the benchmark (bench/slowloris.py) holds the 1 s goal; under the pipelining flood on a
# loaded 2-core machine the slowest answer reached 5.0 s once (README, "Under attack").
PROBE_TIMEOUT_S = 10.0
GONE = select.EPOLLRDHUP | select.EPOLLHUP | select.EPOLLERR


def probe():
    """One GET / on a fresh connection: (seconds, None) when it answered 200 Hello, World!, else
    (seconds, what went wrong)."""
    started = time.monotonic()
    try:
        with socket.create_connection(("127.0.0.1", PORT), timeout=PROBE_TIMEOUT_S) as conn:
            conn.sendall(PROBE)
            data = b""
            while chunk := conn.recv(4096):
                data += chunk
    except OSError as error:
        return time.monotonic() - started, f"{type(error).__name__}: {error}"
    elapsed = time.monotonic() - started
    head, _, body = data.partition(b"\r\n\r\n")
    if not head.startswith(b"HTTP/1.1 200 ") or body != HELLO:
        return elapsed, f"answer {data[:60]!r}"
    return elapsed, None


class Prober(threading.Thread):
    """Starts a normal client every PROBE_EVERY_S, each on its own thread, so that one stuck
    client does not hide how the ones after it fare."""

    def __init__(self):
        super().__init__(daemon=True)
        self.results = []
        self.clients = []
        self.done = threading.Event()

    def run(self):
        while not self.done.is_set():
            client = threading.Thread(target=lambda: self.results.append(probe()), daemon=True)
            client.start()
            self.clients.append(client)
            self.done.wait(PROBE_EVERY_S)

    def finish(self):
        self.done.set()
        self.join()
        for client in self.clients:
            client.join()
        return self.results


def flood(count, payload, hold_s):
    """Opens `count` non-blocking connections, writes `payload` on each as far as the server takes
    it, never reads, and holds them `hold_s` seconds. Counts connections established, failed, and
    closed by the server (seen as EPOLLRDHUP/HUP/ERR, which needs no read)."""
    poller = select.epoll()
    conns = {}
    stats = {"connected": 0, "connect_failed": 0, "sent_all": 0, "closed_by_server": 0, "bytes_sent": 0}

    def handle(timeout):
        for fd, events in poller.poll(timeout):
            sock, connected, sent = conns[fd]
            if not connected:
                if sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR):
                    stats["connect_failed"] += 1
                    poller.unregister(fd)
                    continue
                conns[fd][1] = connected = True
                stats["connected"] += 1
            if events & GONE:
                stats["closed_by_server"] += 1
                poller.unregister(fd)
                continue
            try:
                written = sock.send(payload[sent:])
            except BlockingIOError:
                written = 0
            except OSError:
                stats["closed_by_server"] += 1
                poller.unregister(fd)
                continue
            conns[fd][2] = sent = sent + written
            stats["bytes_sent"] += written
            if sent == len(payload):
                stats["sent_all"] += 1
                poller.modify(fd, GONE)

    for opened in range(count):
        sock = socket.socket()
        sock.setblocking(False)
        sock.connect_ex(("127.0.0.1", PORT))
        conns[sock.fileno()] = [sock, False, 0]  # socket, connected, bytes of payload sent
        poller.register(sock, select.EPOLLOUT | GONE)
        if opened % 16 == 15:  # each one writes its payload as soon as it is connected
            handle(0)
    deadline = time.monotonic() + hold_s
    while (left := deadline - time.monotonic()) > 0:
        handle(min(left, 0.5))
    for sock, _, _ in conns.values():
        sock.close()
    poller.close()
    return stats


def main(args):
    # Thousands of sockets: lift the soft descriptor limit to the hard one.
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    if args[:1] == ["probe"]:
        deadline = time.monotonic() + 10
        while probe()[1] is not None and time.monotonic() < deadline:
            time.sleep(0.05)
        elapsed, error = probe()
        print(json.dumps({"error": error}))
        return 0 if error is None else 1
    if args[:1] == ["heads"] and len(args) == 3:
        count, payload, hold_s = int(args[1]), HALF_HEAD, float(args[2])
    elif args[:1] == ["pipeline"] and len(args) == 4:
        count, payload, hold_s = int(args[1]), PIPELINED * int(args[2]), float(args[3])
    else:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    prober = Prober()
    prober.start()
    stats = flood(count, payload, hold_s)
    during = prober.finish()
    time.sleep(0.5)
    after = [probe() for _ in range(3)]
    print(json.dumps({**stats, "during": during, "after": after}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
