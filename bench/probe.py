"""Measuring primitives shared by the bare-binary and container phases: HTTP probes, wrk runs,
process and cgroup memory, and summary statistics.

As a command (run inside a container's network namespace with nsenter):
    probe.py PORT COUNT   waits up to 10 s for GET / to answer 200, then sends COUNT more
                          requests; exits 0 if every one answered 200 "Hello, World!", else 1.
"""

import os
import re
import socket
import statistics
import subprocess
import sys
import time

HELLO = b"Hello, World!"
REQUEST = b"GET / HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n"


def get(port, host="127.0.0.1", timeout=1.0):
    """One GET / on a fresh connection: (status, body), or (None, b"") if nothing answered."""
    try:
        with socket.create_connection((host, port), timeout=timeout) as conn:
            conn.sendall(REQUEST)
            data = b""
            while chunk := conn.recv(4096):
                data += chunk
    except OSError:
        return None, b""
    head, _, body = data.partition(b"\r\n\r\n")
    match = re.match(rb"HTTP/1\.[01] (\d{3})", head)
    return (int(match.group(1)) if match else None), body


def wait_for_200(port, started, deadline_s, host="127.0.0.1"):
    """Seconds from `started` (a time.monotonic()) to the first 200 on GET /, or None once past
    the deadline."""
    while True:
        status, _ = get(port, host, timeout=max(0.05, deadline_s))
        now = time.monotonic()
        if status == 200:
            return now - started
        if now - started > deadline_s:
            return None
        time.sleep(0.001)


def serves_hello(port, count, host="127.0.0.1"):
    """Whether `count` sequential GET / all answer 200 with the hello body."""
    return all(get(port, host) == (200, HELLO) for _ in range(count))


def proc_memory(pid):
    """VmRSS, VmHWM, RssAnon and RssFile of a process, in bytes."""
    fields = {}
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM", "RssAnon", "RssFile"):
                fields[key] = int(value.split()[0]) * 1024
    return fields


def cpu_seconds(pid):
    """(user, system) CPU seconds a process has used so far, from /proc/PID/stat."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rpartition(")")[2].split()
    tick = os.sysconf("SC_CLK_TCK")
    return int(fields[11]) / tick, int(fields[12]) / tick


def only_child(pid):
    """The single child of `pid` (the server under tini)."""
    with open(f"/proc/{pid}/task/{pid}/children") as children:
        pids = children.read().split()
    if len(pids) != 1:
        raise RuntimeError(f"expected one child of {pid}, found {pids}")
    return int(pids[0])


def cgroup_memory_files(pid):
    """(current usage, peak) file paths of the memory cgroup `pid` runs in, v1 or v2."""
    with open(f"/proc/{pid}/cgroup") as cgroups:
        for line in cgroups:
            _, controllers, path = line.rstrip("\n").split(":", 2)
            if "memory" in controllers.split(","):
                base = f"/sys/fs/cgroup/memory{path}"
                return f"{base}/memory.usage_in_bytes", f"{base}/memory.max_usage_in_bytes"
            if controllers == "":
                base = f"/sys/fs/cgroup{path}"
                return f"{base}/memory.current", f"{base}/memory.peak"
    raise RuntimeError(f"no memory cgroup for process {pid}")


def read_int(path):
    with open(path) as f:
        return int(f.read())


UNITS = {"us": 1e-6, "ms": 1e-3, "s": 1.0}


def wrk(port, duration_s, connections, prefix=()):
    """A `wrk -t1` run against GET / pinned to CPU 1: req/s, p50 and p99 in seconds, errors."""
    command = [
        *prefix,
        "taskset",
        "-c",
        "1",
        "wrk",
        "-t1",
        f"-c{connections}",
        f"-d{duration_s}s",
        "--latency",
        f"http://127.0.0.1:{port}/",
    ]
    out = subprocess.run(
        command, capture_output=True, text=True, check=True, timeout=duration_s + 30
    ).stdout
    rate = re.search(r"Requests/sec:\s+([\d.]+)", out)
    latency = dict(re.findall(r"^\s+(50|99)%\s+([\d.]+(?:us|ms|s))\s*$", out, re.M))
    if not rate or set(latency) != {"50", "99"}:
        raise RuntimeError(f"cannot parse wrk's output:\n{out}")

    def seconds(text):
        value, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", text).groups()
        return float(value) * UNITS[unit]

    non_2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    socket_errors = re.search(r"Socket errors:.*", out)
    return {
        "rps": float(rate.group(1)),
        "p50_s": seconds(latency["50"]),
        "p99_s": seconds(latency["99"]),
        "non_2xx": int(non_2xx.group(1)) if non_2xx else 0,
        "socket_errors": socket_errors.group(0) if socket_errors else None,
    }


def summary(samples):
    """Median and p90 (statistics.quantiles, inclusive method) of a list of numbers."""
    if not samples:
        return {"n": 0, "median": None, "p90": None}
    p90 = (
        statistics.quantiles(samples, n=10, method="inclusive")[8]
        if len(samples) > 1
        else samples[0]
    )
    return {"n": len(samples), "median": statistics.median(samples), "p90": p90}


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: probe.py PORT COUNT")
    port, count = int(sys.argv[1]), int(sys.argv[2])
    ok = wait_for_200(port, time.monotonic(), 10.0) is not None and serves_hello(port, count)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
