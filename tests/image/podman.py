#!/usr/bin/env python3
"""Every image under a second engine: Debian's Podman 4.3, rootful, images loaded from the Docker
build's tarballs with `podman load`.

tiniest gets the acceptance checks that carry over: hardened (read-only, no capabilities,
no-new-privileges) as the image's user, exact answers, tini as PID 1 with tinyweb its child and
nothing privileged, the access log in `podman logs`, `podman healthcheck run`, `podman stop`
within 2 s with exit code 0 (also while clients hammer it), tini bypassed, no shell, the exported
tree, serving under --memory=6m. The others get a smoke test: serves, healthcheck, graceful stop.

Podman here cannot start a container with its default rlimits ("error setting rlimit type 7:
operation not permitted" in this nested environment), so every run passes explicit --ulimit
values. Periodic healthchecks need systemd timers, which this machine has not; `podman
healthcheck run` runs the image's HEALTHCHECK on demand.

Usage: tests/image/podman.py [IMAGES_DIR]   (default: build/images)
Needs podman; without it it skips, unless CI=true.
"""

import hashlib
import json
import os
import pathlib
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import uuid

import load
import probe
import tree

RUN = ["--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024"]
HARDENED = RUN + ["--read-only", "--cap-drop", "ALL", "--security-opt", "no-new-privileges",
                  "-p", "127.0.0.1::8000"]
FULL = "tiniest"


class PodmanError(Exception):
    pass


def podman(*args, check=True, timeout=120):
    result = subprocess.run(["podman", *args], capture_output=True, text=True, timeout=timeout)
    if check and result.returncode != 0:
        raise PodmanError(f"podman {' '.join(args)}: {result.stderr.strip()[-400:]}")
    return result


def inspect(ref):
    return json.loads(podman("inspect", ref).stdout)[0]


def config_digest(path):
    with tarfile.open(path) as archive:
        manifest = json.load(archive.extractfile("manifest.json"))
        return hashlib.sha256(archive.extractfile(manifest[0]["Config"]).read()).hexdigest()


class Podman:
    """Containers and images this run created, removed by `cleanup`."""

    def __init__(self):
        self.prefix = f"tinyweb-podman-{uuid.uuid4().hex[:8]}"
        self.containers = []
        self.images = []

    def load(self, tarball):
        image = config_digest(tarball)
        existed = podman("image", "exists", image, check=False).returncode == 0
        podman("load", "-q", "-i", str(tarball), timeout=300)
        if not existed:
            self.images.append(image)
        if podman("image", "exists", image, check=False).returncode != 0:
            raise PodmanError(f"podman load {tarball} did not give image {image[:12]}")
        return image

    def run(self, image, *extra, hardened=True):
        name = f"{self.prefix}-{len(self.containers)}"
        self.containers.append(name)
        podman("run", "-d", "--name", name, *(HARDENED if hardened else RUN), *extra, image)
        return name

    def cleanup(self):
        problems = []
        for name in self.containers:
            result = podman("rm", "-f", name, check=False)
            if result.returncode != 0 and "no such container" not in result.stderr.lower():
                problems.append(result.stderr.strip()[-200:])
        for image in self.images:
            result = podman("rmi", "-f", image, check=False)
            if result.returncode != 0:
                problems.append(result.stderr.strip()[-200:])
        return problems


def host_port(name):
    return int(podman("port", name, "8000/tcp").stdout.split(":")[-1])


def serving(name):
    port = host_port(name)
    ok = probe.wait_serving(port)
    logs = podman("logs", name, check=False)
    return ok, port, (logs.stdout + logs.stderr).strip()[-300:]


def healthcheck(name):
    result = podman("healthcheck", "run", name, check=False, timeout=30)
    return result.returncode == 0, f"exit {result.returncode} {result.stdout.strip()} {result.stderr.strip()[-200:]}"


def timed_stop(name, bound=2.0):
    started = time.monotonic()
    podman("stop", "-t", "10", name, timeout=30)
    elapsed = time.monotonic() - started
    state = inspect(name)["State"]
    return (elapsed < bound and state["ExitCode"] == 0 and not state["OOMKilled"],
            f"{elapsed:.2f} s, exit code {state['ExitCode']}, OOMKilled {state['OOMKilled']}")


def proc_status(pid):
    lines = pathlib.Path(f"/proc/{pid}/status").read_text().splitlines()
    return dict(line.split(":\t", 1) for line in lines if ":\t" in line)


def program(pid):
    return os.path.basename(pathlib.Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0].decode())


def check_pid1(name):
    pid = int(inspect(name)["State"]["Pid"])
    kids = [int(k) for k in pathlib.Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    problems = []
    if program(pid) != "tini" or [program(k) for k in kids] != ["tinyweb"]:
        problems.append(f"PID 1 {program(pid)}, children {[program(k) for k in kids]}")
    for process in [pid, *kids]:
        status = proc_status(process)
        if set(status["Uid"].split()) != {"65534"} or set(status["Gid"].split()) != {"65534"}:
            problems.append(f"{program(process)} uid {status['Uid']} gid {status['Gid']}")
        if int(status["CapEff"], 16) or int(status["CapBnd"], 16) or status["NoNewPrivs"] != "1":
            problems.append(f"{program(process)} CapEff {status['CapEff']} CapBnd {status['CapBnd']} "
                            f"NoNewPrivs {status['NoNewPrivs']}")
    return not problems, "; ".join(problems) or "tini (65534) -> tinyweb (65534), no capabilities"


def check_http(port):
    answers = {path: probe.get(port, path) for path in ("/", "/healthz", "/no-such-path")}
    ok = (answers["/"] == (200, b"Hello, World!") and answers["/healthz"][0] == 200
          and answers["/no-such-path"][0] == 404)
    return ok, ", ".join(f"{path} -> {status}" for path, (status, _) in answers.items())


def check_access_log(name, port):
    path = f"/access-log-{uuid.uuid4().hex[:8]}"
    probe.get(port, path)
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline:
        logs = podman("logs", name)
        lines = [line for line in (logs.stdout + logs.stderr).splitlines() if path in line]
        if lines:
            return "404" in lines[0], lines[0]
        time.sleep(0.1)
    return False, f"no line with {path} in podman logs"


def check_stop_under_load(name, port):
    traffic = load.Load(port).start()
    time.sleep(0.5)
    traffic.shutdown_begins()
    stopped, detail = timed_stop(name)
    time.sleep(0.2)
    traffic.stop()
    counts = traffic.counts
    ok = stopped and counts["ok"] > 0 and counts["failed"] == 0 and traffic.dropped_early == 0
    return ok, f"{detail}; requests {counts}, dropped before the stop {traffic.dropped_early}"


def check_tree(pod, image):
    name = f"{pod.prefix}-{len(pod.containers)}"
    pod.containers.append(name)
    podman("create", "--name", name, image)
    with tempfile.TemporaryDirectory() as scratch:
        export = os.path.join(scratch, "export.tar")
        podman("export", "-o", export, name, timeout=120)
        problems = tree.tree_problems(tree.read_export(export))
    return not problems, "; ".join(problems)


def check_no_shell(pod, image):
    name = f"{pod.prefix}-{len(pod.containers)}"
    pod.containers.append(name)
    result = podman("run", "--name", name, *RUN, "--entrypoint", "/bin/sh", image, "-c", "true", check=False)
    return result.returncode != 0, f"exit {result.returncode}: {' '.join(result.stderr.split())[-160:]}"


def check_memory(pod, image):
    name = pod.run(image, "--memory=6m", "--memory-swap=6m")
    ok, port, logs = serving(name)
    if not ok:
        return False, f"did not serve: {logs}"
    traffic = load.Load(port).start()
    time.sleep(2)
    traffic.stop()
    state = inspect(name)["State"]
    counts = traffic.counts
    return (counts["ok"] > 0 and counts["failed"] == counts["dropped"] == 0 and state["Running"]
            and not state["OOMKilled"], f"{counts}, running {state['Running']}, OOMKilled {state['OOMKilled']}")


def stop_bypass(name):
    ok, _, logs = serving(name)
    if not ok:
        return False, f"did not serve: {logs}"
    if program(int(inspect(name)["State"]["Pid"])) != "tinyweb":
        return False, "PID 1 is not tinyweb"
    return timed_stop(name)


def full(report, pod, label, image):
    report.attempt(label, "the HEALTHCHECK came through podman load",
                   lambda: ((inspect(image).get("Healthcheck") or {}).get("Test")
                            == probe.DEFINITION["config"]["Healthcheck"]["Test"], inspect(image).get("Healthcheck")))
    report.attempt(label, "tree is exactly /bin/tini and /bin/tinyweb (podman export)", lambda: check_tree(pod, image))
    report.attempt(label, "--entrypoint /bin/sh fails", lambda: check_no_shell(pod, image))
    main_name = pod.run(image)
    bypass = pod.run(image, "--entrypoint", "/bin/tinyweb")
    ok, port, logs = serving(main_name)
    if not report.check(label, "serves hardened (read-only, --cap-drop ALL, no-new-privileges)", ok, logs):
        return
    report.attempt(label, "GET / exact, /healthz 200, unknown path 404", lambda: check_http(port))
    report.attempt(label, "PID 1 is tini, tinyweb its child, as 65534, no capabilities, NoNewPrivs",
                   lambda: check_pid1(main_name))
    report.attempt(label, "the access-log line appears in podman logs", lambda: check_access_log(main_name, port))
    report.attempt(label, "podman healthcheck run passes", lambda: healthcheck(main_name))
    report.attempt(label, "without tini (--entrypoint /bin/tinyweb) it serves; podman stop < 2 s, exit 0",
                   lambda: stop_bypass(bypass))
    report.attempt(label, "serves under --memory=6m (8 keep-alive clients, 2 s)", lambda: check_memory(pod, image))
    report.attempt(label, "podman stop under load: no request cut, exit 0, < 2 s",
                   lambda: check_stop_under_load(main_name, port))


def smoke(report, label, name):
    ok, _, logs = serving(name)
    if report.check(label, "serves hardened", ok, logs):
        report.attempt(label, "podman healthcheck run passes", lambda: healthcheck(name))
        report.attempt(label, "podman stop < 2 s, exit code 0", lambda: timed_stop(name))


def main(args):
    if args and args[0] in ("-h", "--help"):
        print(__doc__.strip())
        return 0
    if shutil.which("podman") is None:
        return probe.skip_or_fail("the Podman test", "podman (not installed)")
    version = podman("version", "--format", "{{.Client.Version}}", check=False).stdout.strip()
    print(f"podman {version}")
    report = probe.Report()
    pod = Podman()
    try:
        images = {variant: pod.load(path)
                  for variant, path in probe.tarballs(args[0] if args else probe.ROOT / "build" / "images").items()}
        smokes = {variant: pod.run(image) for variant, image in images.items() if variant != FULL}
        if FULL in images:
            full(report, pod, f"podman {FULL}", images[FULL])
        for variant, name in smokes.items():
            smoke(report, f"podman {variant}", name)
    except (PodmanError, OSError, subprocess.TimeoutExpired) as error:
        report.check("podman", "the images load and run", False, f"{type(error).__name__}: {error}")
    finally:
        problems = pod.cleanup()
        left = podman("ps", "-aq", "--filter", f"name={pod.prefix}", check=False).stdout.split()
        report.check("cleanup", "every container and image this run created is gone", not problems and not left,
                     "; ".join(problems) + (f" left: {left}" if left else ""))
    return report.summary()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
