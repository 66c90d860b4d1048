"""What one open connection costs, as the memory cgroup charges it (issue 9, item 3).

Runs the bare release binary alone in a fresh cgroup v1 memory cgroup, opens N connections of one
kind at a time (a fresh server per kind), and reads the cgroup's counters before and after:

  half head     "GET / HTTP/1.1\\r\\nHost: x\\r\\n" and nothing more (slowloris)
  idle          one request answered, then kept alive and silent
  body pending  a GET head announcing a 1 000-byte body, 10 bytes of it sent: answered at once,
                then closed by hyper (the unread body makes the connection unusable), so nothing
                is held
  in flight     2 000 pipelined GETs, no answer ever read: the answers cannot be delivered, so a
                request stays in flight (the image test's non-reading client; N/5 connections)
  non-reading   15 000 pipelined GETs, no answer ever read (the issue's attack; N/5 connections)

For this service a request is only ever in flight while its answer cannot be delivered: every
route answers at once.

Figures per connection: `memory.usage_in_bytes` (what a v1 limit is enforced against: user memory
and, with kmem accounting on, kernel memory), `memory.kmem.usage_in_bytes`, `memory.stat`'s
rss + cache, and `memory.kmem.tcp.usage_in_bytes` (socket buffers: v1 charges them only when a
TCP kmem limit is set, which Docker does not do; cgroup v2 always charges them).

Needs root and a cgroup v1 memory hierarchy at /sys/fs/cgroup/memory.
Usage: python3 bench/conn_cost.py [--binary PATH] [--count N] [--markdown]
"""

import argparse
import os
import resource
import socket
import subprocess
import sys
import time

CGROUP_ROOT = "/sys/fs/cgroup/memory"
PORT = 18461
SETTLE_S = 1.0


def read_int(cgroup, name):
    with open(os.path.join(cgroup, name)) as f:
        return int(f.read().split()[0])


def snapshot(cgroup):
    stat = {}
    with open(os.path.join(cgroup, "memory.stat")) as f:
        for line in f:
            key, value = line.split()
            stat[key] = int(value)
    return {
        "usage": read_int(cgroup, "memory.usage_in_bytes"),
        "kmem": read_int(cgroup, "memory.kmem.usage_in_bytes"),
        "tcp": read_int(cgroup, "memory.kmem.tcp.usage_in_bytes"),
        "rss+cache": stat["rss"] + stat["cache"],
    }


def connect():
    sock = socket.create_connection(("127.0.0.1", PORT), timeout=10)
    return sock


def read_answer(sock):
    data = b""
    while b"Hello, World!" not in data:
        chunk = sock.recv(4096)
        if not chunk:
            raise RuntimeError("closed before the answer")
        data += chunk


def open_kind(kind, count):
    socks = []
    for _ in range(count):
        sock = connect()
        if kind == "half head":
            sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")
        elif kind == "idle":
            sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            read_answer(sock)
        elif kind == "body pending":
            sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n0123456789")
        else:
            sock.setblocking(False)
        socks.append(sock)
    if kind in ("in flight", "non-reading"):
        pipeline(socks, 2000 if kind == "in flight" else 15000)
    return socks


def pipeline(socks, requests):
    """Sends `requests` pipelined GETs on every socket, as far as the server takes them: rounds of
    non-blocking sends until a whole round makes no progress."""
    payload = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n" * requests
    sent = [0] * len(socks)
    stalled_rounds = 0
    while stalled_rounds < 3:
        progress = False
        for i, sock in enumerate(socks):
            if sent[i] < len(payload):
                try:
                    n = sock.send(payload[sent[i]:sent[i] + 65536])
                    sent[i] += n
                    progress = progress or n > 0
                except BlockingIOError:
                    pass
        stalled_rounds = 0 if progress else stalled_rounds + 1
        time.sleep(0.1)


def measure(binary, kind, count):
    cgroup = os.path.join(CGROUP_ROOT, f"tinyweb-conncost-{os.getpid()}")
    os.mkdir(cgroup)
    try:
        env = {
            "HOST": "127.0.0.1",
            "PORT": str(PORT),
            "RUST_LOG": "warn",
            "TINYWEB_HEADER_TIMEOUT_SECS": "600",
            "TINYWEB_WRITE_TIMEOUT_SECS": "600",
            "TINYWEB_MAX_CONNECTIONS": str(max(count * 2, 16)),
        }

        def enter():
            with open(os.path.join(cgroup, "cgroup.procs"), "w") as f:
                f.write(str(os.getpid()))

        server = subprocess.Popen([binary], env=env, preexec_fn=enter, stdin=subprocess.DEVNULL,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 10
            while True:
                try:
                    probe = connect()
                    probe.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                    read_answer(probe)
                    probe.close()
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.05)
            time.sleep(SETTLE_S)
            before = snapshot(cgroup)
            socks = open_kind(kind, count)
            time.sleep(SETTLE_S)
            after = snapshot(cgroup)
            if server.poll() is not None:
                raise RuntimeError(f"server exited with {server.returncode}")
            for sock in socks:
                sock.close()
            return before, {k: (after[k] - before[k]) / count for k in after}
        finally:
            server.kill()
            server.wait()
    finally:
        deadline = time.monotonic() + 5
        while True:
            try:
                os.rmdir(cgroup)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--binary", default="target/x86_64-unknown-linux-musl/release/tinyweb")
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--markdown", action="store_true", help="print a README table")
    args = parser.parse_args()
    if not os.path.isdir(CGROUP_ROOT):
        sys.exit(f"conn_cost: no cgroup v1 memory hierarchy at {CGROUP_ROOT}")
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 65536)), hard))

    rows = []
    for kind in ["half head", "idle", "body pending", "in flight", "non-reading"]:
        count = args.count // 5 if kind in ("in flight", "non-reading") else args.count
        before, per = measure(os.path.abspath(args.binary), kind, count)
        rows.append((kind, count, before, per))
        print(f"{kind}: {count} connections, idle server {before['usage']} B; per connection "
              + ", ".join(f"{k} {v:.0f} B" for k, v in per.items()), file=sys.stderr)
    if args.markdown:
        print("| connection | count | usage_in_bytes | kmem | rss + cache | kmem.tcp (not charged by Docker on v1) |")
        print("|---|--:|--:|--:|--:|--:|")
        for kind, count, _, per in rows:
            print(f"| {kind} | {count} | {per['usage']:.0f} | {per['kmem']:.0f} | "
                  f"{per['rss+cache']:.0f} | {per['tcp']:.0f} |")


if __name__ == "__main__":
    main()
