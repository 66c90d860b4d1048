"""A burst of connections against the listen backlog (issue 9, item 4).

In a private network namespace (so the kernel's counters count this run only), starts the bare
binary with each backlog given, opens COUNT connections as fast as a few threads can, sends
`GET /` on each, and reports the delta of TcpExt ListenOverflows and ListenDrops from
/proc/net/netstat, the connections that failed, and the slowest connect.

Needs root (unshare). Usage: python3 bench/backlog_burst.py [--binary PATH] [--count N]
                                [--backlog B ...] [--markdown]
"""

import argparse
import os
import socket
import subprocess
import sys
import threading
import time

sys.dont_write_bytecode = True  # leave no __pycache__ in the work tree
from bare import bring_loopback_up  # noqa: E402

PORT = 18471
THREADS = 4


def tcp_ext():
    with open("/proc/net/netstat") as f:
        lines = f.read().splitlines()
    for names, values in zip(lines[::2], lines[1::2]):
        if names.startswith("TcpExt:"):
            return dict(zip(names.split()[1:], map(int, values.split()[1:])))
    raise RuntimeError("no TcpExt in /proc/net/netstat")


def burst(count):
    """Opens `count` connections from THREADS threads at once; returns (socks, failures, slowest)."""
    socks, failures, slowest = [], [0], [0.0]
    lock = threading.Lock()
    start = threading.Barrier(THREADS)

    def worker(n):
        start.wait()
        for _ in range(n):
            t = time.monotonic()
            try:
                sock = socket.create_connection(("127.0.0.1", PORT), timeout=10)
                sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
                with lock:
                    socks.append(sock)
                    slowest[0] = max(slowest[0], time.monotonic() - t)
            except OSError:
                with lock:
                    failures[0] += 1

    threads = [threading.Thread(target=worker, args=(count // THREADS,)) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return socks, failures[0], slowest[0]


def run(binary, backlog, count):
    env = {"HOST": "127.0.0.1", "PORT": str(PORT), "RUST_LOG": "warn",
           "TINYWEB_LISTEN_BACKLOG": str(backlog), "TINYWEB_HEADER_TIMEOUT_SECS": "60"}
    server = subprocess.Popen([binary], env=env, stdin=subprocess.DEVNULL,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", PORT), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        time.sleep(0.2)
        before = tcp_ext()
        socks, failures, slowest = burst(count)
        after = tcp_ext()
        answered = 0
        for sock in socks:
            sock.settimeout(10)
            try:
                if sock.recv(64).startswith(b"HTTP/1.1 200"):
                    answered += 1
            except OSError:
                pass
            sock.close()
        return {
            "backlog": backlog,
            "overflows": after["ListenOverflows"] - before["ListenOverflows"],
            "drops": after["ListenDrops"] - before["ListenDrops"],
            "failed": failures,
            "answered": answered,
            "slowest_connect_ms": slowest * 1e3,
        }
    finally:
        server.kill()
        server.wait()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--binary", default="target/x86_64-unknown-linux-musl/release/tinyweb")
    parser.add_argument("--count", type=int, default=2000)
    parser.add_argument("--backlog", type=int, action="append")
    parser.add_argument("--markdown", action="store_true")
    parser.add_argument("--in-namespace", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if not args.in_namespace:
        os.execvp("unshare", ["unshare", "--net", sys.executable, *sys.argv, "--in-namespace"])
    bring_loopback_up()
    import resource
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 65536)), hard))
    with open("/proc/sys/net/core/somaxconn") as f:
        somaxconn = int(f.read())
    rows = [run(os.path.abspath(args.binary), b, args.count) for b in args.backlog or [4096, 128]]
    for row in rows:
        print(row, file=sys.stderr)
    if args.markdown:
        print(f"| backlog asked (somaxconn {somaxconn}) | connections | ListenOverflows | ListenDrops "
              "| failed | answered | slowest connect |")
        print("|--:|--:|--:|--:|--:|--:|--:|")
        for r in rows:
            print(f"| {r['backlog']} | {args.count} | {r['overflows']} | {r['drops']} | {r['failed']} "
                  f"| {r['answered']} | {r['slowest_connect_ms']:.0f} ms |")


if __name__ == "__main__":
    main()
