"""The bare-binary phase: start-up, memory, throughput and latency of each tinyweb binary beside
its Go/echo counterpart (and, beside the pair that names one, nginx as a peer: bench/nginx.py), run by bench/run.py inside a private network namespace (`unshare --net`),
so the Go server's fixed port 8000 cannot meet anything else on this machine and all traffic stays
on that namespace's loopback.

Every server runs pinned to CPU 0 with stdin, stdout and stderr on /dev/null: Go's access log
(echo's Logger middleware, stdout) and tinyweb's (stderr, RUST_LOG=info) are both formatted and
written, one write per request, and both land in /dev/null; so is nginx's access log. wrk runs
pinned to CPU 1, against each server in turn, round after round.

Usage: bare.py SPEC_JSON   (see bench/run.py); prints the results as JSON on stdout.
"""

import fcntl
import json
import os
import signal
import socket
import struct
import subprocess
import sys
import time

import nginx
from probe import cpu_seconds, proc_memory, serves_hello, summary, wait_for_200, wrk

GO_PORT = 8000  # hard-coded in the article's main.go
TINYWEB_PORT = 8001
NGINX_PORT = 8002
START_DEADLINE_S = 10.0
STOP_DEADLINE_S = 10.0


def bring_loopback_up():
    """A new network namespace starts with `lo` down; set IFF_UP with the ioctl `ip` uses."""
    siocgifflags, siocsifflags, iff_up = 0x8913, 0x8914, 0x1
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        request = struct.pack("16sh22x", b"lo", 0)
        flags = struct.unpack("16sh22x", fcntl.ioctl(sock, siocgifflags, request))[1]
        fcntl.ioctl(sock, siocsifflags, struct.pack("16sh22x", b"lo", flags | iff_up))


def start(side, binary):
    argv = [binary]
    if side == "go":
        env, port = {}, GO_PORT
    elif side == "nginx":
        env, port = {}, NGINX_PORT
        argv = nginx.command(NGINX_PORT)
    else:
        env = {"HOST": "127.0.0.1", "PORT": str(TINYWEB_PORT), "RUST_LOG": "info"}
        port = TINYWEB_PORT
    process = subprocess.Popen(
        argv,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        preexec_fn=lambda: os.sched_setaffinity(0, {0}),
    )
    return process, port


def stop(process):
    """SIGTERM, then (seconds to exit, exit status as the shell shows it: 128+N if killed by N)."""
    started = time.monotonic()
    process.send_signal(signal.SIGTERM)
    try:
        code = process.wait(STOP_DEADLINE_S)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        return None, None
    return time.monotonic() - started, 128 - code if code < 0 else code


def startups(pair, count):
    """exec -> first 200 on GET /, `count` times per side, alternating sides, each a fresh process
    stopped with SIGTERM."""
    samples = {side: {"times": [], "stops": [], "codes": set()} for side in pair}
    for _ in range(count):
        for side, sample in samples.items():
            started = time.monotonic()
            process, port = start(side, pair[side])
            elapsed = wait_for_200(port, started, START_DEADLINE_S)
            duration, code = stop(process)
            if elapsed is None:
                raise RuntimeError(f"{pair[side]} did not answer 200 within {START_DEADLINE_S} s")
            sample["times"].append(elapsed)
            sample["stops"].append(duration)
            sample["codes"].add(code)
    return {
        side: {
            "samples_s": s["times"],
            **summary(s["times"]),
            "sigterm_exit_s": summary(s["stops"]),
            "sigterm_exit_codes": sorted(s["codes"]),
        }
        for side, s in samples.items()
    }


def measured_round(pid, port, duration_s, connections):
    """One wrk round, with the CPU time the server used per request in it, in user space and in
    the kernel: less noisy than req/s on a shared machine, and it shows where a request's time
    goes (the loopback TCP stack's share is the kernel's)."""
    user, system = cpu_seconds(pid)
    result = wrk(port, duration_s, connections)
    user_after, system_after = cpu_seconds(pid)
    requests = result["rps"] * duration_s
    result["user_s_per_request"] = (user_after - user) / requests
    result["system_s_per_request"] = (system_after - system) / requests
    return result


def side_by_side(pair, rounds, duration_s, warmup_s, connections):
    """Every server of the pair (and its peer) up at once; idle memory after 10 requests; wrk
    alternating between them."""
    running = {side: start(side, binary) for side, binary in pair.items()}
    try:
        result = {side: {} for side in running}
        for side, (process, port) in running.items():
            if wait_for_200(port, time.monotonic(), START_DEADLINE_S) is None:
                raise RuntimeError(f"{pair[side]} did not answer 200")
            if not serves_hello(port, 10):
                raise RuntimeError(f"{pair[side]} did not answer 10 requests with the hello body")
            result[side]["idle"] = proc_memory(process.pid)
        if warmup_s:
            for _, port in running.values():
                wrk(port, warmup_s, connections)
        for side in running:
            result[side]["rounds"] = []
        for _ in range(rounds):
            for side, (process, port) in running.items():
                result[side]["rounds"].append(measured_round(process.pid, port, duration_s, connections))
        for side, (process, _) in running.items():
            result[side]["after_load"] = proc_memory(process.pid)
            runs = result[side]["rounds"]
            result[side]["rps"] = summary([r["rps"] for r in runs])["median"]
            result[side]["p50_s"] = summary([r["p50_s"] for r in runs])["median"]
            result[side]["p99_s"] = summary([r["p99_s"] for r in runs])["median"]
            for key in ("user_s_per_request", "system_s_per_request"):
                result[side][key] = summary([r[key] for r in runs])["median"]
        return result
    finally:
        for process, _ in running.values():
            if process.poll() is None:
                stop(process)


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: bare.py SPEC_JSON")
    spec = json.loads(sys.argv[1])
    if os.readlink("/proc/self/ns/net") == spec["host_netns"]:
        sys.exit(
            "bare.py: must run in a private network namespace (bench/run.py uses unshare --net)"
        )
    bring_loopback_up()
    results = {}
    for pair in spec["pairs"]:
        measured = side_by_side(
            pair, spec["rounds"], spec["duration_s"], spec["warmup_s"], spec["connections"]
        )
        started = startups(pair, spec["starts"])
        for side in pair:
            results[pair[side]] = {**measured[side], "startup": started[side]}
        for peer in set(pair) - {"tinyweb", "go"}:
            results.setdefault("peers", {})[peer] = {
                **measured[peer],
                "beside": pair["tinyweb"],
                "version": nginx.version(),
            }
    json.dump(results, sys.stdout)


if __name__ == "__main__":
    main()
