#!/usr/bin/env python3
"""Floods against tinyweb images under Docker's smallest memory limit, --memory=6m: the container
must never be OOM-killed and a normal client must get `Hello, World!` during and after each one.

Usage: tests/image/floods.py [--env VAR=VALUE]... IMAGE... [--smoke IMAGE...]
IMAGE is a tag or a docker-archive tarball, as for acceptance.py. Images before --smoke get the
full run, those after it a shorter one. Needs root, a Docker engine, nsenter and slowhttptest;
without them it skips, unless CI=true.

Each image runs as the README runs it (read-only, no capabilities, no-new-privileges, a published
port) plus --memory=6m --memory-swap=6m, with its default configuration (--env adds variables,
to try another one). The attackers run on the
host inside the container's own network namespace (nsenter --net) and aim at its 127.0.0.1, so
Docker's userland proxy neither buffers for them nor hides the server's behaviour:

1. 3 000 connections each send half a request head and wait (tests/image/flood.py heads);
2. 200 clients each pipeline 2 000 requests and never read an answer (flood.py pipeline);
3. slowhttptest, slowloris (-H) and slow read (-X) at once: "service available" every second.

Per flood: the cgroup's peak memory (reset before it), the kernel's OOM-kill count for the cgroup,
and the normal client's answers (a fresh connection every 0.25 s during the flood, three after).
"""

import argparse
import csv
import json
import os
import pathlib
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time

import engine
from engine import docker

HERE = pathlib.Path(__file__).resolve().parent
FLOOD = HERE / "flood.py"
RUN = [
    "--read-only", "--cap-drop", "ALL", "--security-opt", "no-new-privileges", "-p", "127.0.0.1::8000",
    "--memory=6m", "--memory-swap=6m",
]
FULL = {"heads": ("3000", "8"), "pipeline": ("200", "2000", "10"), "slowhttptest_s": 20}
SMOKE = {"heads": ("3000", "4"), "pipeline": ("200", "2000", "6"), "slowhttptest_s": 10}
URL = "http://127.0.0.1:8000/"


def slowhttptest_commands(seconds, prefix):
    """Slowloris at the issue's settings, and slow read (tiny receive windows, reading 32 bytes a
    second of the answers to 10 pipelined requests), both probing every second with a 3 s timeout.
    Both keep opening connections for the whole run: the server closes theirs (cap, timeouts),
    and slowhttptest ends early once it has none left."""
    common = ["-l", str(seconds), "-p", "3", "-u", URL, "-g", "-o"]
    return {
        "slowloris": ["slowhttptest", "-H", "-c", str(200 * seconds), "-r", "200", "-i", "2", "-x", "24",
                      *common, f"{prefix}-slowloris"],
        "slow read": ["slowhttptest", "-X", "-c", str(100 * seconds), "-r", "100", "-k", "10", "-n", "1",
                      "-w", "10", "-y", "20", "-z", "32", *common, f"{prefix}-slowread"],
    }


def lift_nofile():
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


class Container:
    """One container from RUN, and the host-side handles on it: its network namespace for
    nsenter and its memory cgroup."""

    def __init__(self, resources, image, env):
        self.name = resources.container_name()
        docker("run", "-d", "--name", self.name, *RUN, *(f"--env={pair}" for pair in env), image)
        self.pid = int(engine.inspect(self.name)["State"]["Pid"])
        self.netns = ["nsenter", f"--net=/proc/{self.pid}/ns/net"]
        self.cgroup = memory_cgroup(self.pid)

    def state(self):
        return engine.inspect(self.name)["State"]

    def watch(self):
        """Resets the cgroup's peak and samples it until `Watch.stop`: the cgroup directory
        disappears with the container, so a flood that kills it must not take its figures along."""
        return Watch(self.cgroup)

    def logs(self):
        done = docker("logs", self.name, check=False)
        return done.stdout + done.stderr


class Watch(threading.Thread):
    """The cgroup's peak memory and OOM-kill count over one flood, sampled every 50 ms."""

    def __init__(self, cgroup):
        super().__init__(daemon=True)
        self.cgroup = cgroup
        self.peak = 0
        self.oom_kills = 0
        self.oom_kills_before = self.oom_kill_count()
        self.done = threading.Event()
        (cgroup / "memory.max_usage_in_bytes").write_text("0")
        self.start()

    def oom_kill_count(self):
        """The kernel's count of OOM kills in the cgroup (any process in it: the server, tini, or
        the Docker healthcheck's `tinyweb healthcheck`)."""
        lines = (self.cgroup / "memory.oom_control").read_text().splitlines()
        return int(dict(line.split(" ", 1) for line in lines).get("oom_kill", 0))

    def sample(self):
        try:
            self.peak = max(self.peak, int((self.cgroup / "memory.max_usage_in_bytes").read_text()))
            self.oom_kills = self.oom_kill_count() - self.oom_kills_before
        except FileNotFoundError:
            self.done.set()

    def run(self):
        while not self.done.is_set():
            self.sample()
            self.done.wait(0.05)

    def stop(self):
        self.sample()
        self.done.set()
        self.join()
        return self


def memory_cgroup(pid):
    """The cgroup v1 memory directory of a process (this test reads v1's peak and OOM files)."""
    for line in pathlib.Path(f"/proc/{pid}/cgroup").read_text().splitlines():
        _, controllers, path = line.split(":", 2)
        if "memory" in controllers.split(","):
            return pathlib.Path("/sys/fs/cgroup/memory" + path)
    raise engine.DockerError(f"no cgroup v1 memory controller for PID {pid} (cgroup v2 is not supported here)")


def run_flood(container, args, timeout):
    done = subprocess.run([*container.netns, sys.executable, "-B", str(FLOOD), *args],
                          capture_output=True, text=True, timeout=timeout, preexec_fn=lift_nofile)
    if done.returncode != 0:
        raise engine.DockerError(f"flood.py {' '.join(args)} exited {done.returncode}: {done.stderr.strip()[-300:]}")
    return json.loads(done.stdout)


def probe_summary(probes):
    """(good, total, slowest s, median s, first problem) of flood.py's [seconds, error] pairs."""
    times = [elapsed for elapsed, _ in probes]
    errors = [error for _, error in probes if error]
    return (len(probes) - len(errors), len(probes), max(times, default=0.0),
            statistics.median(times) if times else 0.0, errors[0] if errors else None)


def slowhttptest(container, seconds, scratch):
    """Runs both attacks at once; returns {attack: (seconds with service available, seconds
    without, exit code)} from the per-second CSV each writes (-g -o)."""
    running = {}
    for attack, command in slowhttptest_commands(seconds, scratch / "slowhttptest").items():
        output = open(scratch / f"{command[-1]}.out", "w")
        with output:
            running[attack] = (command[-1], subprocess.Popen(
                [*container.netns, *command], stdout=output, stderr=subprocess.STDOUT, preexec_fn=lift_nofile))
    result = {}
    for attack, (prefix, process) in running.items():
        try:
            process.wait(timeout=seconds + 30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        csv_path = pathlib.Path(f"{prefix}.csv")
        rows = list(csv.DictReader(csv_path.read_text().splitlines())) if csv_path.exists() else []
        # The column holds the connection target while the probe is answered within -p, 0 when not.
        available = [int(row["Service Available"]) > 0 for row in rows]
        result[attack] = (available.count(True), available.count(False), process.returncode)
    return result


class Report:
    def __init__(self):
        self.failed = 0
        self.rows = []

    def check(self, label, claim, ok, detail=""):
        print(f"{'ok  ' if ok else 'FAIL'} {label}: {claim}" + (f" ({detail})" if detail else ""))
        self.failed += not ok
        return ok


def mib(number):
    return f"{number / 2**20:.2f} MiB"


def survived(report, label, container, flood, watch):
    """The container is running and Docker saw no OOM kill. OOM kills of other processes in the
    cgroup (the Docker healthcheck's exec, whose runc init alone needs megabytes) are reported."""
    state = container.state()
    return report.check(label, f"{flood}: still running, never OOM-killed",
                        state["Running"] and not state["OOMKilled"],
                        f"running {state['Running']}, OOMKilled {state['OOMKilled']}, exit code "
                        f"{state['ExitCode']}; OOM kills of any process in the cgroup: {watch.oom_kills}")


def test_image(report, resources, label, image, plan, scratch, env):
    container = Container(resources, image, env)
    ready = subprocess.run([*container.netns, sys.executable, "-B", str(FLOOD), "probe"],
                           capture_output=True, text=True, timeout=30)
    if not report.check(label, "serves under --memory=6m", ready.returncode == 0, ready.stdout.strip()):
        return
    cap = [line.split(" > ", 1)[-1] for line in container.logs().splitlines() if "connection cap" in line]
    if cap:
        print(f"     {label}: {cap[0]}")

    floods = [
        ("3 000 half-sent heads", ["heads", *plan["heads"]], f"held {plan['heads'][-1]} s"),
        ("200 pipelining non-readers", ["pipeline", *plan["pipeline"]],
         f"2 000 requests each, held {plan['pipeline'][-1]} s"),
    ]
    for flood, args, how in floods:
        watch = container.watch()
        try:
            outcome = run_flood(container, args, timeout=120)
        except (engine.DockerError, subprocess.TimeoutExpired, ValueError) as error:
            report.check(label, f"{flood}: the flood ran", False, str(error))
            survived(report, label, container, flood, watch.stop())
            return
        peak = watch.stop().peak
        alive = survived(report, label, container, flood, watch)
        good, total, slowest, median, problem = probe_summary(outcome["during"])
        report.check(label, f"{flood}: the attack got in", outcome["sent_all"] >= int(args[1]) // 2,
                     f"{outcome['connected']} of {args[1]} connected, {outcome['connect_failed']} failed, "
                     f"{outcome['sent_all']} sent all they meant to, {outcome['closed_by_server']} closed "
                     f"by the server, {outcome['bytes_sent']} bytes sent")
        report.check(label, f"{flood}: a normal client gets Hello, World! during it",
                     total > 0 and good == total,
                     f"{good}/{total} answered, slowest {slowest * 1000:.0f} ms, median {median * 1000:.1f} ms"
                     + (f", first problem: {problem}" if problem else ""))
        after_good, after_total, _, _, after_problem = probe_summary(outcome["after"])
        report.check(label, f"{flood}: and after it", after_total > 0 and after_good == after_total,
                     f"{after_good}/{after_total}" + (f", {after_problem}" if after_problem else ""))
        report.rows.append((label, f"{flood} ({how})", f"{good}/{total}", f"{slowest * 1000:.0f} ms",
                            f"{median * 1000:.1f} ms", mib(peak), "no" if alive else "**yes**",
                            str(watch.oom_kills)))
        if not alive:
            return

    seconds = plan["slowhttptest_s"]
    watch = container.watch()
    verdicts = slowhttptest(container, seconds, scratch)
    peak = watch.stop().peak
    alive = survived(report, label, container, "slowhttptest", watch)
    for attack, (yes, no, code) in verdicts.items():
        report.check(label, f"slowhttptest {attack}, {seconds} s: service available every second",
                     yes >= seconds - 2 and no == 0, f"{yes} s available, {no} s not, exit {code}")
    report.rows.append((label, f"slowhttptest -H -r 200 and -X -r 100 at once, {seconds} s",
                        ", ".join(f"{attack}: service available {yes}/{yes + no} s"
                                  for attack, (yes, no, _) in verdicts.items()), "", "",
                        mib(peak), "no" if alive else "**yes**", str(watch.oom_kills)))
    if not alive:
        print(container.logs()[-600:])


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("images", nargs="*", help="images for the full run")
    parser.add_argument("--smoke", nargs="+", default=[], help="images for the shorter run")
    parser.add_argument("--env", action="append", default=[], metavar="VAR=VALUE",
                        help="an environment variable for every container (default: none)")
    args = parser.parse_args()
    if not args.images and not args.smoke:
        parser.error("no image given")
    reason = engine.unavailable_reason()
    missing = [tool for tool in ("nsenter", "slowhttptest") if shutil.which(tool) is None]
    if reason or missing or os.geteuid() != 0:
        why = reason or (f"{' and '.join(missing)} not installed" if missing else
                         "not root (nsenter into the container's network, its cgroup's peak counter)")
        if os.environ.get("CI") == "true":
            print(f"FAIL: the image flood test needs root, Docker, nsenter and slowhttptest under CI=true: {why}")
            return 1
        print(f"SKIP: image flood test: {why}; under CI=true this fails")
        return 0

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    report = Report()
    resources = engine.Resources("floods")
    started = time.monotonic()
    try:
        with tempfile.TemporaryDirectory(prefix="tinyweb-floods-") as scratch:
            for arg, plan in [(image, FULL) for image in args.images] + [(image, SMOKE) for image in args.smoke]:
                label = arg
                try:
                    image = arg
                    if os.path.isfile(arg):
                        image, tags = resources.load(arg)
                        label = tags[0] if tags else arg
                    test_image(report, resources, label, image, plan, pathlib.Path(scratch), args.env)
                except (engine.DockerError, OSError, subprocess.SubprocessError) as error:
                    report.check(label, "the flood test ran", False, f"{type(error).__name__}: {error}")
    finally:
        problems = resources.cleanup()
        report.check("cleanup", "every container and image this run created is gone", not problems,
                     "; ".join(problems))
    print()
    print("| image | flood | normal client answered | slowest | median | peak cgroup memory | OOM-killed "
          "| OOM kills in the cgroup |")
    print("|---|---|--:|--:|--:|--:|:-:|--:|")
    for row in report.rows:
        print("| " + " | ".join(row) + " |")
    print()
    print(f"{time.monotonic() - started:.0f} s, {report.failed} failed")
    return 1 if report.failed else 0


if __name__ == "__main__":
    sys.exit(main())
