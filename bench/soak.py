#!/usr/bin/env python3
"""Soak: minutes of wrk on loopback against the release musl binary.

Reports throughput, latency percentiles, errors and the server's RSS (idle before, sampled every
5 s under load, idle after) as a Markdown table, and exits non-zero if any request failed (socket
errors or non-2xx/3xx answers) or RSS under load grew without bound (the last sample above twice
the one at 10 s plus 1 MiB).

The access log stays on (RUST_LOG=info) and goes to /dev/null, so its cost is in the figures.

Usage: python3 bench/soak.py [--duration 180] [--connections 64] [--threads 2] [--binary PATH]
"""

import argparse
import datetime
import os
import re
import socket
import subprocess
import sys
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TARGET = "x86_64-unknown-linux-musl"
DEFAULT_BINARY = os.path.join(ROOT, "target", TARGET, "release", "tinyweb")
SAMPLE_EVERY = 5.0
WARM_UP = 10.0


def fail(message):
    print(f"soak: {message}", file=sys.stderr)
    sys.exit(1)


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    fail(f"no VmRSS for pid {pid}")


def wait_listening(port, server):
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if server.poll() is not None:
            fail(f"server exited with {server.returncode} before listening on port {port}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    fail(f"server not listening on port {port} after 10 s")


def duration_ms(text):
    """wrk prints durations as e.g. 812.00us, 1.23ms, 2.00s."""
    value, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text).groups()
    return float(value) * {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 6e4}[unit]


def parse_wrk(output):
    def find(pattern, default=None):
        match = re.search(pattern, output, re.MULTILINE)
        if match is None and default is None:
            fail(f"unexpected wrk output (no {pattern!r}):\n{output}")
        return match.groups() if match else default

    percentiles = {p: duration_ms(v) for p, v in re.findall(r"^\s+(50|75|90|99)%\s+(\S+)$", output, re.M)}
    if set(percentiles) != {"50", "75", "90", "99"}:
        fail(f"no latency distribution in wrk output:\n{output}")
    socket_errors = find(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", ("0",) * 4)
    return {
        "requests": int(find(r"^\s+(\d+) requests in")[0]),
        "rps": float(find(r"^Requests/sec:\s+([\d.]+)")[0]),
        "p50": percentiles["50"],
        "p99": percentiles["99"],
        "max": duration_ms(find(r"^\s+Latency\s+\S+\s+\S+\s+(\S+)")[0]),
        "socket_errors": sum(map(int, socket_errors)),
        "non_2xx": int(find(r"Non-2xx or 3xx responses: (\d+)", ("0",))[0]),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=int, default=180, help="seconds of load (default 180)")
    parser.add_argument("--connections", type=int, default=64, help="keep-alive connections (default 64)")
    parser.add_argument("--threads", type=int, default=2, help="wrk threads (default 2)")
    parser.add_argument("--binary", help=f"server binary (default: build {DEFAULT_BINARY})")
    args = parser.parse_args()

    binary = args.binary
    if binary is None:
        subprocess.run(["cargo", "build", "--locked", "--release", "--target", TARGET], cwd=ROOT, check=True)
        binary = DEFAULT_BINARY
    port = free_port()
    env = {"HOST": "127.0.0.1", "PORT": str(port), "RUST_LOG": "info"}
    server = subprocess.Popen([binary], env=env, stdin=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_listening(port, server)
        rss = {"start": rss_kib(server.pid)}
        samples = []
        stop = threading.Event()

        def sample():
            began = time.monotonic()
            while not stop.wait(SAMPLE_EVERY):
                samples.append((time.monotonic() - began, rss_kib(server.pid)))

        sampler = threading.Thread(target=sample, daemon=True)
        wrk_command = [
            "wrk", f"-t{args.threads}", f"-c{args.connections}", f"-d{args.duration}s",
            "--latency", "--timeout", "5s", f"http://127.0.0.1:{port}/",
        ]
        started = datetime.datetime.now(datetime.timezone.utc)
        load_before = os.getloadavg()[0]
        sampler.start()
        wrk = subprocess.run(wrk_command, capture_output=True, text=True)
        stop.set()
        sampler.join()
        if wrk.returncode != 0:
            fail(f"wrk exited {wrk.returncode}:\n{wrk.stdout}{wrk.stderr}")
        if server.poll() is not None:
            fail(f"server died during the soak (exit {server.returncode})")
        rss["after"] = rss_kib(server.pid)
        if not samples:
            fail(f"no RSS sample during a {args.duration} s run (one every {SAMPLE_EVERY:.0f} s)")
        warm = [kib for at, kib in samples if at >= WARM_UP]
        rss["warm"] = warm[0] if warm else samples[0][1]
        rss["end"] = samples[-1][1]
        rss["peak"] = max(kib for _, kib in samples)
    finally:
        server.terminate()
        server.wait(timeout=10)

    result = parse_wrk(wrk.stdout)
    print(wrk.stdout)
    print(f"date: {started:%Y-%m-%d %H:%M} UTC; 1-minute load average before the run: {load_before:.2f}")
    print(f"command: python3 bench/soak.py --duration {args.duration} --connections {args.connections} "
          f"--threads {args.threads}  (wrk: {' '.join(wrk_command[:-1])} http://127.0.0.1:PORT/)")
    print(f"binary: {os.path.relpath(binary, ROOT)} ({os.path.getsize(binary)} bytes)\n")
    print("| duration | connections | requests | req/s | p50 | p99 | max | socket errors | non-2xx/3xx "
          "| RSS idle at start | RSS at 10 s | RSS at end of load | RSS peak | RSS idle after |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    mib = lambda kib: f"{kib / 1024:.1f} MiB"
    print(f"| {args.duration} s | {args.connections} | {result['requests']} | {result['rps']:.0f} "
          f"| {result['p50']:.2f} ms | {result['p99']:.2f} ms | {result['max']:.2f} ms "
          f"| {result['socket_errors']} | {result['non_2xx']} "
          f"| {mib(rss['start'])} | {mib(rss['warm'])} | {mib(rss['end'])} | {mib(rss['peak'])} "
          f"| {mib(rss['after'])} |")

    if result["socket_errors"] or result["non_2xx"]:
        fail(f"{result['socket_errors']} socket errors and {result['non_2xx']} non-2xx/3xx answers")
    if rss["end"] > 2 * rss["warm"] + 1024:
        fail(f"RSS under load grew from {rss['warm']} KiB (at {WARM_UP:.0f} s) to {rss['end']} KiB")


if __name__ == "__main__":
    main()
