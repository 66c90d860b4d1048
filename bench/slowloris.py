#!/usr/bin/env python3
"""Slowloris against an image under Docker's smallest memory limit: how long a normal client
waits for its answer while `slowhttptest -H -c 3000 -r 500` holds half-sent heads open.

    python3 bench/slowloris.py [--seconds 30] [--out bench/slowloris.md] [[LABEL=]IMAGE...]

IMAGE is a tag (default tinyweb:tiniest) or a docker-archive tarball; LABEL names its row. Each runs as the README
runs it (read-only, no capabilities, no-new-privileges, a published port) plus --memory=6m
--memory-swap=6m, with its default configuration, so the connection cap is the one it derives
from the cgroup (its start-up log line is quoted). slowhttptest and the normal client run inside
the container's network namespace (nsenter --net) against its 127.0.0.1. The normal client opens
a fresh connection for GET / every 0.1 s from the first second of the attack to its end; a
request that gets no `200 Hello, World!` within 10 s counts as failed. The cgroup's peak memory
(cgroup v1 memory.max_usage_in_bytes, reset when the attack starts) is sampled all along, so it
survives an OOM kill. Writes a Markdown table; asserts nothing (a timing goal: slowest < 1 s).
Needs root (nsenter, the cgroup's peak counter), Docker and slowhttptest.
"""

import argparse
import csv
import json
import os
import pathlib
import re
import socket
import statistics
import subprocess
import sys
import threading
import time
from datetime import datetime, timezone

ROOT = pathlib.Path(__file__).resolve().parent.parent
RUN = [
    "--read-only", "--cap-drop", "ALL", "--security-opt", "no-new-privileges", "-p", "127.0.0.1::8000",
    "--memory=6m", "--memory-swap=6m",
]
ATTACK = ["slowhttptest", "-H", "-c", "3000", "-r", "500", "-i", "10", "-x", "24", "-p", "3"]
REQUEST = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
PROBE_EVERY_S = 0.1
PROBE_TIMEOUT_S = 10.0


def docker(*args, check=True):
    done = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=300)
    if check and done.returncode != 0:
        raise RuntimeError(f"docker {' '.join(args)}: {done.stderr.strip()}")
    return done.stdout.strip()


def lift_nofile():
    import resource
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def probe_once():
    started = time.monotonic()
    try:
        with socket.create_connection(("127.0.0.1", 8000), timeout=PROBE_TIMEOUT_S) as conn:
            conn.sendall(REQUEST)
            data = b""
            while chunk := conn.recv(4096):
                data += chunk
        ok = data.startswith(b"HTTP/1.1 200 ") and data.endswith(b"\r\n\r\nHello, World!")
    except OSError:
        ok = False
    return time.monotonic() - started, ok


def probe_for(seconds, after):
    """Inside the namespace: after `after` seconds, probes every PROBE_EVERY_S for `seconds`;
    prints [[seconds, ok], ...]."""
    time.sleep(after)
    results = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        results.append(probe_once())
        time.sleep(PROBE_EVERY_S)
    print(json.dumps(results))


class PeakWatch(threading.Thread):
    def __init__(self, cgroup):
        super().__init__(daemon=True)
        self.cgroup = cgroup
        self.peak = 0
        self.done = threading.Event()
        (cgroup / "memory.max_usage_in_bytes").write_text("0")
        self.start()

    def run(self):
        while not self.done.wait(0.05):
            try:
                self.peak = max(self.peak, int((self.cgroup / "memory.max_usage_in_bytes").read_text()))
            except FileNotFoundError:  # the container is gone
                return

    def stop(self):
        self.done.set()
        self.join()
        return self.peak


def memory_cgroup(pid):
    for line in pathlib.Path(f"/proc/{pid}/cgroup").read_text().splitlines():
        _, controllers, path = line.split(":", 2)
        if "memory" in controllers.split(","):
            return pathlib.Path("/sys/fs/cgroup/memory" + path)
    raise RuntimeError(f"no cgroup v1 memory controller for PID {pid}")


def measure(arg, seconds):
    label, _, image = arg.rpartition("=")
    if os.path.isfile(image):
        loaded = docker("load", "-q", "-i", image)
        image = loaded.rsplit(" ", 1)[-1]
    name = f"tinyweb-bench-slowloris-{os.getpid()}"
    docker("run", "-d", "--name", name, *RUN, image)
    try:
        pid = docker("inspect", "-f", "{{.State.Pid}}", name)
        netns = ["nsenter", f"--net=/proc/{pid}/ns/net"]
        cgroup = memory_cgroup(pid)
        deadline = time.monotonic() + 10
        while not probe_in(netns, 0.2):
            if time.monotonic() > deadline:
                raise RuntimeError(f"{image} does not serve under --memory=6m")
        logs = subprocess.run(["docker", "logs", name], capture_output=True, text=True).stderr
        cap = next((line.split(" > ", 1)[-1] for line in logs.splitlines() if "connection cap" in line), "")
        # The normal client enters the namespace first: it keeps it (and its own view) alive even
        # if the attack kills the container.
        prober = subprocess.Popen([*netns, sys.executable, "-B", __file__, "--probe-for", str(seconds - 1),
                                   "--probe-after", "1"], stdout=subprocess.PIPE, text=True)
        watch = PeakWatch(cgroup)
        csv_prefix = f"/tmp/{name}"
        attack = subprocess.Popen([*netns, *ATTACK, "-l", str(seconds), "-g", "-o", csv_prefix,
                                   "-u", "http://127.0.0.1:8000/"],
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                  preexec_fn=lift_nofile)
        probes = json.loads(prober.communicate(timeout=seconds + 60)[0])
        attack.communicate(timeout=60)
        peak = watch.stop()
        state = json.loads(docker("inspect", "-f", "{{json .State}}", name))
        attack_rows = read_csv(csv_prefix)
        times = [elapsed for elapsed, ok in probes if ok]
        return {
            "image": label or image,
            "cap": cap,
            "probes": len(probes),
            "failed": sum(not ok for _, ok in probes),
            "median_ms": statistics.median(times) * 1000 if times else None,
            "slowest_ms": max(times) * 1000 if times else None,
            "peak": peak,
            "oom_killed": state["OOMKilled"],
            "running": state["Running"],
            # slowhttptest's per-second CSV: the column holds the connection target while its own
            # probe is answered within -p, 0 when not.
            "service_available": f"{sum(int(row['Service Available']) > 0 for row in attack_rows)}"
                                 f"/{len(attack_rows)} s",
            "attack_connected_max": max((int(row["Connected"]) for row in attack_rows), default=0),
            "attack_closed": max((int(row["Closed"]) for row in attack_rows), default=0),
        }
    finally:
        docker("rm", "-f", name, check=False)


def read_csv(prefix):
    """slowhttptest's rows (it also writes an HTML page beside it); both files are removed."""
    rows = []
    for suffix in (".csv", ".html"):
        path = pathlib.Path(prefix + suffix)
        if path.exists():
            if suffix == ".csv":
                rows = list(csv.DictReader(path.read_text().splitlines()))
            path.unlink()
    return rows


def probe_in(netns, seconds):
    done = subprocess.run([*netns, sys.executable, "-B", __file__, "--probe-for", str(seconds)],
                          capture_output=True, text=True, timeout=30)
    return done.returncode == 0 and any(ok for _, ok in json.loads(done.stdout or "[]"))


def table(rows, seconds, date, load):
    lines = [
        f"`python3 bench/slowloris.py --seconds {seconds}`, {date:%Y-%m-%d %H:%M} UTC, 1-minute load "
        f"average {load:.1f} at the start: "
        f"`{' '.join(ATTACK)} -l {seconds}` against each image at `--memory=6m` (a normal client: "
        f"a fresh connection for GET / every {PROBE_EVERY_S:g} s, inside the container's network "
        "namespace; failed = no `200 Hello, World!` within 10 s).",
        "",
        "| image | connection cap | normal requests | failed | median | slowest "
        "| peak cgroup memory | attack: most connections open at once, closed by the server "
        "| slowhttptest: service available | OOM-killed |",
        "|---|---|--:|--:|--:|--:|--:|--:|--:|:-:|",
    ]
    for row in rows:
        median = "–" if row["median_ms"] is None else f"{row['median_ms']:.1f} ms"
        slowest = "–" if row["slowest_ms"] is None else f"{row['slowest_ms']:.0f} ms"
        lines.append(
            f"| {row['image']} | {cap_of(row['cap'])} | {row['probes']} | {row['failed']} "
            f"| {median} | {slowest} | {row['peak'] / 2**20:.2f} MiB "
            f"| {row['attack_connected_max']}, {row['attack_closed']} | {row['service_available']} "
            f"| {'**yes**' if row['oom_killed'] else 'no'} |"
        )
    lines += ["", *(f"{row['image']}: `{row['cap']}`" for row in rows if row["cap"])]
    return "\n".join(lines) + "\n"


def cap_of(line):
    """The number in the server's `connection cap N (...)` start-up line."""
    match = re.match(r"connection cap (\d+)", line)
    return match.group(1) if match else "(none logged)"


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("images", nargs="*", default=["tinyweb:tiniest"])
    parser.add_argument("--seconds", type=int, default=30, help="length of the attack (default 30)")
    parser.add_argument("--out", help="also write the table to this file")
    parser.add_argument("--probe-for", type=float, help=argparse.SUPPRESS)
    parser.add_argument("--probe-after", type=float, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.probe_for is not None:
        return probe_for(args.probe_for, args.probe_after)
    date, load = datetime.now(timezone.utc), os.getloadavg()[0]
    rows = [measure(image, args.seconds) for image in args.images]
    text = table(rows, args.seconds, date, load)
    print(text)
    if args.out:
        pathlib.Path(args.out).write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
