#!/usr/bin/env python3
"""A rolling restart of three tinyweb processes behind HAProxy, under load: with
TINYWEB_SHUTDOWN_DELAY_SECS set, not one request may fail.

HAProxy (Debian's `haproxy`, started here on loopback with its own configuration) is set up so
that it cannot hide a failure: `retries 0`, no `option redispatch`, health checks on /healthz
every 500 ms, a server DOWN after 2 failed checks and UP after 2 good ones. wrk sends GET /
through it on 16 keep-alive connections while each process in turn gets SIGTERM, exits, and is
replaced by a new one on the same port that HAProxy must list UP before the next one stops.

The run with the delay asserts 0 failed requests (wrk's socket errors and non-2xx answers) and
exit code 0 from every stopped process; the run with delay 0 is reported beside it, not asserted:
it shows what the delay is for.

Usage: tests/rolling/rolling_restart.py [--binary PATH] [--delay SECONDS]
The binary defaults to build/bin/tinyweb (docker/build.sh's release build). Without haproxy or
wrk it skips, unless CI=true.
"""

import argparse
import csv
import math
import os
import pathlib
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone

ROOT = pathlib.Path(__file__).resolve().parents[2]
DEFAULT_BINARY = ROOT / "build" / "bin" / "tinyweb"
REPLICAS = 3
CHECK_INTER_MS = 500
FALL = 2
RISE = 2
# HAProxy needs FALL checks INTER apart to see a stopping process fail /healthz: the delay must
# outlast that, with a second of margin for a check already in flight.
MIN_DELAY_S = math.ceil(FALL * CHECK_INTER_MS / 1000 + 1)
WRK = ["wrk", "-t1", "-c16", "--timeout", "5s", "-d", "300s"]  # stopped by SIGINT when done
SETTLE_S = 1.0  # load before the first stop and after the last replacement is UP
UP_DEADLINE_S = 15.0
HAPROXY_CONFIG = """\
global
    stats socket {socket} mode 600 level admin
    maxconn 4096

defaults
    mode http
    retries 0
    timeout connect 2s
    timeout client 30s
    timeout server 30s

frontend front
    bind 127.0.0.1:{port}
    default_backend replicas

backend replicas
    balance roundrobin
    option httpchk GET /healthz
    default-server check inter {inter}ms fall {fall} rise {rise}
{servers}
"""


class Failure(Exception):
    pass


def free_ports(count):
    """`count` distinct free loopback ports (held open together so none repeats)."""
    sockets = [socket.socket() for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def healthz(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as conn:
            conn.sendall(b"GET /healthz HTTP/1.1\r\nHost: probe\r\nConnection: close\r\n\r\n")
            return conn.recv(64).startswith(b"HTTP/1.1 200")
    except OSError:
        return False


class Stats:
    """HAProxy's runtime API on its UNIX socket."""

    def __init__(self, path):
        self.path = path

    def show_stat(self):
        """`show stat` as {(proxy, server): row}."""
        with socket.socket(socket.AF_UNIX) as sock:
            sock.settimeout(2)
            sock.connect(self.path)
            sock.sendall(b"show stat\n")
            data = b""
            while chunk := sock.recv(65536):
                data += chunk
        lines = data.decode().lstrip("# ").splitlines()
        return {(row["pxname"], row["svname"]): row for row in csv.DictReader(lines) if row.get("pxname")}

    def status(self, server):
        """"UP", "UP 1/2" (failing checks), "DOWN", "DOWN 1/2" (passing checks)..."""
        return self.show_stat()[("replicas", server)]["status"]


class Replica:
    def __init__(self, binary, port, delay_s, logs):
        self.binary = binary
        self.port = port
        self.delay_s = delay_s
        self.logs = logs
        self.generation = 0
        self.process = None

    def start(self):
        env = {
            "HOST": "127.0.0.1",
            "PORT": str(self.port),
            "RUST_LOG": "info,tinyweb::access=off",
            "TINYWEB_SHUTDOWN_DELAY_SECS": str(self.delay_s),
        }
        log = open(self.logs / f"tinyweb-{self.port}-{self.generation}.log", "wb")
        self.generation += 1
        with log:
            self.process = subprocess.Popen([self.binary], env=env, stdin=subprocess.DEVNULL,
                                            stdout=log, stderr=log)
        deadline = time.monotonic() + 10
        while not healthz(self.port):
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise Failure(f"tinyweb on port {self.port} did not serve /healthz within 10 s "
                              f"(exit {self.process.poll()})")
            time.sleep(0.02)

    def kill(self):
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait()


def wait_status(stats, server, wanted, deadline_s):
    """Seconds until HAProxy lists `server` with status `wanted`."""
    started = time.monotonic()
    while (status := stats.status(server)) != wanted:
        if time.monotonic() - started > deadline_s:
            raise Failure(f"HAProxy lists {server} {status}, not {wanted}, after {deadline_s:g} s")
        time.sleep(0.05)
    return time.monotonic() - started


def parse_wrk(output):
    requests = re.search(r"^\s*(\d+) requests in", output, re.M)
    if not requests:
        raise Failure(f"cannot parse wrk's output:\n{output}")
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    return {
        "requests": int(requests.group(1)),
        "socket_errors": dict(zip(("connect", "read", "write", "timeout"),
                                  map(int, errors.groups() if errors else (0, 0, 0, 0)))),
        "non_2xx": int(non_2xx.group(1)) if non_2xx else 0,
    }


def rolling_restart(binary, delay_s, workdir):
    """One full run: returns a result row for the table."""
    workdir.mkdir()
    front, *ports = free_ports(REPLICAS + 1)
    replicas = [Replica(binary, port, delay_s, workdir) for port in ports]
    names = [f"tinyweb{index}" for index in range(REPLICAS)]
    stats = Stats(str(workdir / "haproxy.sock"))
    config = workdir / "haproxy.cfg"
    config.write_text(HAPROXY_CONFIG.format(
        socket=stats.path, port=front, inter=CHECK_INTER_MS, fall=FALL, rise=RISE,
        servers="\n".join(f"    server {name} 127.0.0.1:{port}" for name, port in zip(names, ports)),
    ))
    haproxy = wrk = None
    stop_timeout_s = delay_s + 5 + 5  # the delay, tinyweb's default grace, and a margin
    row = {"delay": delay_s, "exit_codes": [], "down_after_s": []}
    try:
        for replica in replicas:
            replica.start()
        check = subprocess.run(["haproxy", "-c", "-q", "-f", str(config)], capture_output=True, text=True)
        if check.returncode != 0:
            raise Failure(f"haproxy rejects its configuration: {check.stderr.strip()}")
        haproxy_log = open(workdir / "haproxy.log", "wb")
        with haproxy_log:
            haproxy = subprocess.Popen(["haproxy", "-db", "-f", str(config)], stdin=subprocess.DEVNULL,
                                       stdout=haproxy_log, stderr=haproxy_log)
        deadline = time.monotonic() + 10
        while not os.path.exists(stats.path):
            if haproxy.poll() is not None or time.monotonic() > deadline:
                raise Failure(f"haproxy did not start: {(workdir / 'haproxy.log').read_text()[-400:]}")
            time.sleep(0.05)
        for name in names:
            wait_status(stats, name, "UP", UP_DEADLINE_S)

        wrk = subprocess.Popen([*WRK, f"http://127.0.0.1:{front}/"], stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
        time.sleep(SETTLE_S)
        started = time.monotonic()
        for replica, name in zip(replicas, names):
            stopped = time.monotonic()
            replica.process.send_signal(signal.SIGTERM)
            down_at = None
            while replica.process.poll() is None:
                if down_at is None and stats.status(name).startswith("DOWN"):
                    down_at = time.monotonic() - stopped
                if time.monotonic() - stopped > stop_timeout_s:
                    replica.kill()
                    raise Failure(f"{name} still running {stop_timeout_s} s after SIGTERM")
                time.sleep(0.05)
            row["exit_codes"].append(replica.process.returncode)
            row["down_after_s"].append(down_at)
            replica.start()
            # A process that came back within one check interval may still be listed UP from
            # before it stopped: wait until HAProxy has had time to check the new one RISE times.
            time.sleep(RISE * CHECK_INTER_MS / 1000)
            wait_status(stats, name, "UP", UP_DEADLINE_S)
        row["restart_s"] = time.monotonic() - started
        time.sleep(SETTLE_S)
        wrk.send_signal(signal.SIGINT)  # wrk stops and prints its summary
        output, _ = wrk.communicate(timeout=30)
        wrk = None
        row.update(parse_wrk(output))
        frontend = stats.show_stat()[("front", "FRONTEND")]
        backend = stats.show_stat()[("replicas", "BACKEND")]
        row["haproxy_5xx"] = int(frontend["hrsp_5xx"] or 0)
        row["haproxy_econ"] = int(backend["econ"] or 0)
        row["haproxy_eresp"] = int(backend["eresp"] or 0)
        return row
    finally:
        if wrk is not None:
            wrk.kill()
            wrk.wait()
        if haproxy is not None:
            haproxy.terminate()
            try:
                haproxy.wait(timeout=5)
            except subprocess.TimeoutExpired:
                haproxy.kill()
                haproxy.wait()
        for replica in replicas:
            replica.kill()


def failed(row):
    return sum(row["socket_errors"].values()) + row["non_2xx"]


def print_table(rows):
    print()
    print("| TINYWEB_SHUTDOWN_DELAY_SECS | requests | failed | socket errors (connect/read/write/timeout) "
          "| non-2xx | HAProxy 5xx | stop → DOWN in HAProxy (s) | exit codes | restart of 3 (s) |")
    print("|--:|--:|--:|---|--:|--:|---|---|--:|")
    for row in rows:
        errors = "/".join(str(row["socket_errors"][key]) for key in ("connect", "read", "write", "timeout"))
        downs = ", ".join("exited first" if s is None else f"{s:.2f}" for s in row["down_after_s"])
        share = 100 * failed(row) / row["requests"] if row["requests"] else 0
        print(f"| {row['delay']:g} | {row['requests']} | {failed(row)} ({share:.2f} %) | {errors} | {row['non_2xx']} "
              f"| {row['haproxy_5xx']} | {downs} | {', '.join(map(str, row['exit_codes']))} "
              f"| {row['restart_s']:.1f} |")
    print()


def missing_tools():
    return [tool for tool in ("haproxy", "wrk") if shutil.which(tool) is None]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--binary", default=str(DEFAULT_BINARY), help=f"tinyweb binary (default {DEFAULT_BINARY})")
    parser.add_argument("--delay", type=int, default=MIN_DELAY_S,
                        help=f"TINYWEB_SHUTDOWN_DELAY_SECS for the asserted run (default {MIN_DELAY_S:g})")
    args = parser.parse_args()
    if args.delay < MIN_DELAY_S:
        parser.error(f"--delay must be at least fall × inter + 1 s = {MIN_DELAY_S:g}")
    missing = missing_tools()
    if missing:
        if os.environ.get("CI") == "true":
            print(f"FAIL: the rolling-restart test needs {' and '.join(missing)} under CI=true")
            return 1
        print(f"SKIP: rolling-restart test: {' and '.join(missing)} not installed; under CI=true this fails")
        return 0
    if not os.access(args.binary, os.X_OK):
        print(f"FAIL: no tinyweb binary at {args.binary} (run bash docker/build.sh, or pass --binary)")
        return 1

    # SIGTERM unwinds like Ctrl-C, through the clean-up in rolling_restart.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    date = datetime.now(timezone.utc)
    rows = []
    with tempfile.TemporaryDirectory(prefix="tinyweb-rolling-") as scratch:
        try:
            for delay_s in (args.delay, 0):
                rows.append(rolling_restart(args.binary, delay_s, pathlib.Path(scratch) / f"delay-{delay_s}"))
        except Failure as error:
            print(f"FAIL: {error}")
            for log in sorted(pathlib.Path(scratch).glob("*/*.log")):
                print(f"--- {log.relative_to(scratch)} (last lines)")
                print("\n".join(log.read_text(errors="replace").splitlines()[-5:]))
            return 1
    print(f"date: {date:%Y-%m-%d %H:%M} UTC; binary {os.path.relpath(args.binary, ROOT)}; "
          f"HAProxy retries 0, no redispatch, check inter {CHECK_INTER_MS}ms fall {FALL} rise {RISE}; "
          f"load: {' '.join(WRK[:5])} (from {SETTLE_S:g} s before the first stop to {SETTLE_S:g} s after "
          f"the last replacement is UP)")
    print_table(rows)
    delayed = rows[0]
    problems = []
    if delayed["requests"] == 0:
        problems.append("wrk completed no request")
    if failed(delayed):
        problems.append(f"{failed(delayed)} failed requests with TINYWEB_SHUTDOWN_DELAY_SECS={delayed['delay']:g}")
    if delayed["exit_codes"] != [0] * REPLICAS:
        problems.append(f"exit codes {delayed['exit_codes']}, expected 0 each")
    for problem in problems:
        print(f"FAIL: {problem}")
    if not problems:
        print(f"ok: 0 of {delayed['requests']} requests failed through a rolling restart with "
              f"TINYWEB_SHUTDOWN_DELAY_SECS={delayed['delay']:g}; with 0, {failed(rows[1])} of "
              f"{rows[1]['requests']} failed (reported, not asserted)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
