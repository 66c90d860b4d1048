"""The container phase: for one image, its sizes, `docker run` -> first 200, `docker stop`, memory
under load, and whether it serves under `--memory=6m`.

Containers carry the label tinyweb-bench so that `remove_all` removes exactly the ones this
benchmark started. Start-ups publish the port on 127.0.0.1 the way a user would run the image
(default bridge network and json-file log driver). Load runs use `--network none` and reach the
server from inside the container's own namespace with nsenter, so no Docker port proxy competes
for the CPUs; `--log-driver none` discards both servers' access logs the same way, and the
container is pinned to CPU 0 with wrk on CPU 1.
"""

import gzip
import os
import socket
import subprocess
import sys
import time
from datetime import datetime

from probe import (
    cgroup_memory_files,
    only_child,
    proc_memory,
    read_int,
    summary,
    wait_for_200,
    wrk,
)

LABEL = "tinyweb-bench"
PROBE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "probe.py")
START_DEADLINE_S = 20.0
LIMIT_DEADLINE_S = 10.0


def docker(*args, timeout=120):
    done = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0:
        raise RuntimeError(f"docker {' '.join(args)}: {done.stderr.strip()}")
    return done.stdout.strip()


def remove_all():
    ids = docker("ps", "-aq", "--filter", f"label={LABEL}").split()
    if ids:
        docker("rm", "-f", *ids)


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def sizes(image):
    """`docker inspect` Size, and the bytes of `docker save` before and after gzip -6 (what a
    registry stores and sends is each layer gzip'd, plus the small config)."""
    saved = subprocess.run(
        ["docker", "save", image], capture_output=True, check=True, timeout=120
    ).stdout
    return {
        "image_bytes": int(docker("image", "inspect", "-f", "{{.Size}}", image)),
        "saved_tar_bytes": len(saved),
        "gzip_tar_bytes": len(gzip.compress(saved, compresslevel=6, mtime=0)),
    }


def stop_timed(cid):
    """`docker stop`: (seconds until the command returned, seconds until the container's recorded
    exit, exit code). The second leaves out Docker's clean-up after the exit."""
    wall, started = time.time(), time.monotonic()
    docker("stop", "-t", "10", cid)
    duration = time.monotonic() - started
    code, finished = docker(
        "inspect", "-f", "{{.State.ExitCode}} {{.State.FinishedAt}}", cid
    ).split()
    return duration, datetime.fromisoformat(finished).timestamp() - wall, int(code)


def startups(image, count):
    """`docker run -d -p` -> first 200 on GET /, then `docker stop`, `count` times."""
    port = free_port()
    times, stops, exits, codes = [], [], [], set()
    for _ in range(count):
        started = time.monotonic()
        cid = docker("run", "-d", "--label", LABEL, "-p", f"127.0.0.1:{port}:8000", image)
        elapsed = wait_for_200(port, started, START_DEADLINE_S)
        duration, until_exit, code = stop_timed(cid)
        docker("rm", cid)
        if elapsed is None:
            raise RuntimeError(f"{image} did not answer 200 within {START_DEADLINE_S} s")
        times.append(elapsed)
        stops.append(duration)
        exits.append(until_exit)
        codes.add(code)
    return {
        "run_to_200_s": {"samples_s": times, **summary(times)},
        "stop_s": {"samples_s": stops, **summary(stops)},
        "stop_to_exit_s": {"samples_s": exits, **summary(exits)},
        "stop_exit_codes": sorted(codes),
    }


def run_isolated(image, *options):
    """A container on `--network none`: (id, tini's pid, nsenter prefix into its network)."""
    cid = docker(
        "run",
        "-d",
        "--label",
        LABEL,
        "--network",
        "none",
        "--log-driver",
        "none",
        "--cpuset-cpus",
        "0",
        *options,
        image,
    )
    pid = int(docker("inspect", "-f", "{{.State.Pid}}", cid))
    return cid, pid, ["nsenter", f"--net=/proc/{pid}/ns/net"]


def probe_inside(prefix, count):
    """Whether the server answers 200 "Hello, World!" to `count` requests (after waiting)."""
    done = subprocess.run([*prefix, sys.executable, "-B", PROBE, "8000", str(count)], timeout=60)
    return done.returncode == 0


def under_load(image, duration_s, connections):
    """Idle memory after 10 requests, then wrk; the cgroup's and the server's peak memory."""
    cid, pid, prefix = run_isolated(image)
    try:
        if not probe_inside(prefix, 10):
            raise RuntimeError(f"{image} did not serve on --network none")
        server = only_child(pid)
        current, peak = cgroup_memory_files(pid)
        idle = {"cgroup_bytes": read_int(current), **proc_memory(server)}
        load = wrk(8000, duration_s, connections, prefix=prefix)
        after = {"cgroup_peak_bytes": read_int(peak), **proc_memory(server)}
        stop_s, until_exit, code = stop_timed(cid)
        return {
            "idle": idle,
            "wrk": load,
            "after_load": after,
            "stop_after_load_s": stop_s,
            "stop_after_load_to_exit_s": until_exit,
            "stop_after_load_exit_code": code,
        }
    finally:
        docker("rm", "-f", cid)


def memory_limited(image, limit, duration_s, connections):
    """Whether the image serves 10 requests under `--memory=<limit>`, and still serves after a
    wrk run; whether the kernel OOM-killed anything in it; its cgroup's peak."""
    cid, pid, prefix = run_isolated(image, f"--memory={limit}")
    try:
        result = {
            "limit": limit,
            "serves": probe_inside(prefix, 10),
            "serves_after_load": False,
            "cgroup_peak_bytes": None,
        }
        if result["serves"]:
            peak_file = cgroup_memory_files(pid)[1]
            try:
                load = wrk(8000, duration_s, connections, prefix=prefix)
                result["wrk"] = load
                result["serves_after_load"] = load["non_2xx"] == 0 and probe_inside(prefix, 1)
            except (RuntimeError, subprocess.SubprocessError) as error:
                result["load_error"] = str(error).splitlines()[0]
            if os.path.exists(peak_file):
                result["cgroup_peak_bytes"] = read_int(peak_file)
        status, oom_killed = docker(
            "inspect", "-f", "{{.State.Status}} {{.State.OOMKilled}}", cid
        ).split()
        return {**result, "status": status, "oom_killed": oom_killed == "true"}
    finally:
        docker("rm", "-f", cid)
