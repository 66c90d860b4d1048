#!/usr/bin/env python3
"""The acceptance test every tinyweb image must pass, whoever built it (docker/build.sh or Nix).

Usage: tests/image/acceptance.py IMAGE...
IMAGE is a tag (tinyweb:tiniest) or a docker-archive tarball, such as the `result` of
`nix build .#image-tiniest`. Needs a Docker engine; without one it skips, unless CI=true.
"""

import http.client
import json
import os
import pathlib
import posixpath
import signal
import subprocess
import sys
import tarfile
import tempfile
import time
import tomllib
import uuid
from datetime import datetime

import engine
import load
import tree
from engine import docker
from probe import Report, get

ROOT = pathlib.Path(__file__).resolve().parents[2]
DEFINITION = json.loads((ROOT / "nix" / "image.json").read_text())
VERSION = tomllib.loads((ROOT / "Cargo.toml").read_text())["package"]["version"]
ARTICLE_BASELINE_BYTES = 968_212_150  # golang:1.16 in the article's table
HARDENED = [
    "--read-only", "--cap-drop", "ALL", "--security-opt", "no-new-privileges",
    "-p", "127.0.0.1::8000",
]
MEMORY_LIMIT = ["--memory=6m", "--memory-swap=6m"]  # Docker's minimum; no swap to hide in
# Images of another architecture run through qemu-user-static, which charges its own memory to the
# container: the --memory=6m checks hold for the native architecture only.
HOST_ARCHITECTURE = {"x86_64": "amd64", "aarch64": "arm64"}.get(os.uname().machine, os.uname().machine)
STOP_BOUND_SECONDS = 2.0  # graceful, not killed: docker stop would wait 10 s before SIGKILL



def host_port(name):
    line = docker("port", name, "8000/tcp").stdout.splitlines()[0]
    return int(line.rsplit(":", 1)[1])


def wait_serving(port, seconds=10):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if get(port, "/healthz")[0] == 200:
                return True
        except (OSError, http.client.HTTPException):
            pass
        time.sleep(0.05)
    return False


def start(resources, image, *extra):
    """Starts a hardened container from the image's own config (user, entrypoint); returns
    (name, host port) once it answers /healthz."""
    name = resources.container_name()
    docker("run", "-d", "--name", name, *HARDENED, *extra, image)
    try:
        port = host_port(name)
        if wait_serving(port):
            return name, port
    except engine.DockerError:
        pass
    state = engine.inspect(name)["State"]
    logs = docker("logs", name, check=False)
    raise engine.DockerError(
        f"{' '.join(extra) or 'default'} container did not serve within 10 s "
        f"(status {state['Status']}, exit code {state['ExitCode']}): "
        f"{(logs.stdout + logs.stderr).strip()[-300:]}"
    )


def finished_at(state):
    """State.FinishedAt as a Unix time (the engine writes nanoseconds; Python parses micro)."""
    stamp = state["FinishedAt"].rstrip("Z")
    whole, _, fraction = stamp.partition(".")
    return datetime.fromisoformat(f"{whole}.{fraction[:6]:0<6}+00:00").timestamp()


def timed_stop(name):
    """docker stop's wall time, and when the process itself exited (the rest is the engine's
    teardown: which of the two grew is what a failure here needs to tell)."""
    issued = time.time()
    started = time.monotonic()
    docker("stop", "-t", "10", name, timeout=30)
    elapsed = time.monotonic() - started
    state = engine.inspect(name)["State"]
    ok = elapsed < STOP_BOUND_SECONDS and state["ExitCode"] == 0 and not state["OOMKilled"]
    return ok, (f"{elapsed:.2f} s, process exited {finished_at(state) - issued:.2f} s after the stop "
                f"was issued, exit code {state['ExitCode']}, OOMKilled {state['OOMKilled']}")


def proc_status(pid):
    lines = pathlib.Path(f"/proc/{pid}/status").read_text().splitlines()
    return dict(line.split(":\t", 1) for line in lines if ":\t" in line)


def program(pid):
    """The program's name; under qemu-user (binfmt_misc) argv[0] is the interpreter, then the program."""
    argv = pathlib.Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    name = posixpath.basename(argv[0].decode())
    if name.startswith("qemu-") or "-binfmt-" in name:
        name = posixpath.basename(argv[1].decode())
    return name


def children(pid):
    found = []
    for task in pathlib.Path(f"/proc/{pid}/task").iterdir():
        found += [int(child) for child in (task / "children").read_text().split()]
    return found


def container_pid(name):
    return int(engine.inspect(name)["State"]["Pid"])


def build_orphan(directory):
    """tests/image/orphan.c as a static binary in DIRECTORY (bind-mounted into the containers)."""
    binary = os.path.join(directory, "orphan")
    result = subprocess.run(
        ["musl-gcc", "-static", "-Os", "-s", "-o", binary, str(ROOT / "tests/image/orphan.c")],
        capture_output=True, text=True,
    )
    if result.returncode != 0:
        raise OSError(f"musl-gcc failed: {result.stderr.strip()}")
    os.chmod(binary, 0o755)
    return binary


def proc_state(pid):
    """(name, one-letter state) from /proc/PID/stat; a zombie has no cmdline, but has these."""
    stat = pathlib.Path(f"/proc/{pid}/stat").read_text()
    name = stat[stat.index("(") + 1:stat.rindex(")")]
    return name, stat[stat.rindex(")") + 2]


def orphans_left(name):
    """Runs /orphan in the container (it forks a child that outlives it by 300 ms, so PID 1
    inherits it), waits for that child to exit, and returns PID 1's children named orphan with
    their state (host /proc): empty when PID 1 reaped it."""
    docker("exec", name, "/orphan")
    time.sleep(1.0)
    left = []
    for kid in children(container_pid(name)):
        try:
            program_name, state = proc_state(kid)
        except OSError:  # reaped while we looked
            continue
        if program_name == "orphan":
            left.append((kid, state))
    return left


def check_reaps(name, bypass):
    """tini reaps an orphan that PID 1 inherits; tinyweb as PID 1 (the bypass container) does not,
    which shows the probe can see a zombie when there is one."""
    with_tini, without = orphans_left(name), orphans_left(bypass)
    ok = not with_tini and bool(without) and all(state == "Z" for _, state in without)
    return ok, (f"children named orphan left under tini: {with_tini}; under tinyweb as PID 1 "
                f"(control, must be zombies): {without}")


def check_sigterm_reaches_server(name):
    """docker stop: tini forwards SIGTERM, tinyweb logs it and exits 0 (not killed)."""
    stopped, detail = timed_stop(name)
    logs = docker("logs", name)
    text = logs.stdout + logs.stderr
    seen = "SIGTERM received" in text
    return stopped and seen, f"{detail}; tinyweb logged the SIGTERM: {seen}"


def check_config(config):
    """The image's config is nix/image.json's, plus the two labels every builder adds."""
    wanted = DEFINITION["config"]
    problems = [
        key for key in ("Entrypoint", "Cmd", "User", "ExposedPorts") if config.get(key) != wanted[key]
    ]
    if not set(wanted["Env"]) <= set(config.get("Env") or []):
        problems.append("Env")
    # Docker 20.10 does not know StartInterval and drops it when it loads an image.
    health = config.get("Healthcheck") or {}
    problems += [
        f"Healthcheck.{key}" for key, value in wanted["Healthcheck"].items()
        if key != "StartInterval" and health.get(key) != value
    ]
    labels = config.get("Labels") or {}
    problems += [f"label {key}" for key, value in wanted["Labels"].items() if labels.get(key) != value]
    if labels.get("org.opencontainers.image.version") != VERSION:
        problems.append(f"version label (want {VERSION})")
    revision = labels.get("org.opencontainers.image.revision", "")
    if not (revision == "dirty" or (len(revision) == 40 and all(c in "0123456789abcdef" for c in revision))):
        problems.append(f"revision label {revision!r}")
    return not problems, "differs in " + ", ".join(problems) if problems else ""


def check_tree(resources, image, label, row):
    """Exports a created (never started) container and fills the size row's debug/UPX columns."""
    name = resources.container_name()
    docker("create", "--name", name, image)
    with tempfile.TemporaryDirectory() as scratch:
        export = os.path.join(scratch, "export.tar")
        docker("export", "-o", export, name, timeout=120)
        entries = tree.read_export(export)
    problems = tree.tree_problems(entries)
    binary = tree.binary_content(entries, "bin/tinyweb")
    if binary is not None:
        row["debug"] = tree.has_debug_info(binary)
        row["upx"] = tree.is_upx_packed(binary)
        variant = DEFINITION["variants"].get(label.rsplit(":", 1)[-1])
        if variant and (variant["debugInfo"], variant["upx"]) != (row["debug"], row["upx"]):
            problems.append(
                f"bin/tinyweb has debug info {row['debug']}, UPX {row['upx']}; "
                f"nix/image.json says {variant['debugInfo']}, {variant['upx']}"
            )
    return not problems, "; ".join(problems)


def check_no_shell(resources, image):
    name = resources.container_name()
    result = docker("run", "--name", name, "--entrypoint", "/bin/sh", image, "-c", "true", check=False)
    error = " ".join(result.stderr.split())
    missing = "stat /bin/sh: no such file or directory"
    ok = result.returncode != 0 and missing in error
    return ok, f"exit {result.returncode}: {missing if ok else error[-200:]}"


def check_pid1(name, user):
    """tini is PID 1 and tinyweb its only child, both as the image's user, unprivileged."""
    pid = container_pid(name)
    kids = children(pid)
    problems = []
    if proc_status(pid)["NSpid"].split()[-1] != "1" or program(pid) != "tini":
        problems.append(f"PID 1 is {program(pid)}")
    if [program(kid) for kid in kids] != ["tinyweb"]:
        problems.append(f"tini's children are {[program(kid) for kid in kids]}")
    uid, _, gid = user.partition(":")
    for process in [pid, *kids]:
        status = proc_status(process)
        if set(status["Uid"].split()) != {uid} or set(status["Gid"].split()) != {gid or uid}:
            problems.append(f"{program(process)} runs as uid {status['Uid']} gid {status['Gid']}")
        if int(status["CapEff"], 16) or status["NoNewPrivs"] != "1":
            problems.append(f"{program(process)} has CapEff {status['CapEff']}, NoNewPrivs {status['NoNewPrivs']}")
    return not problems, "; ".join(problems)


def check_http(port):
    answers = {path: get(port, path) for path in ("/", "/healthz", "/no-such-path")}
    ok = answers["/"] == (200, b"Hello, World!") and answers["/healthz"][0] == 200 \
        and answers["/no-such-path"][0] == 404
    return ok, ", ".join(f"{path} -> {status} {body[:20]!r}" for path, (status, body) in answers.items())


def check_access_log(name, port):
    path = f"/access-log-{uuid.uuid4().hex[:8]}"
    status, _ = get(port, path)
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline:
        logs = docker("logs", name)
        lines = [line for line in (logs.stdout + logs.stderr).splitlines() if path in line]
        if lines:
            return status == 404 and "404" in lines[0], lines[0].strip()
        time.sleep(0.1)
    return False, f"no line with {path} in docker logs"


def check_healthy(name, config, started):
    health = config.get("Healthcheck") or {}
    # Docker 20.10 ignores StartInterval: the first probe runs one Interval after the start.
    bound = (health.get("Interval", 30e9) + health.get("Timeout", 30e9)) / 1e9 + 5
    while True:
        state = engine.inspect(name)["State"].get("Health") or {}
        status = state.get("Status", "none")
        elapsed = time.monotonic() - started
        if status == "healthy":
            return True, f"after {elapsed:.1f} s"
        if status == "unhealthy" or elapsed > bound:
            log = (state.get("Log") or [{}])[-1]
            return False, f"{status} after {elapsed:.1f} s, last probe: {log}"
        time.sleep(0.25)


def memory_cgroup(pid):
    """(limit, peak) in bytes of the process's memory cgroup, cgroup v1 or v2; peak may be None."""
    for line in pathlib.Path(f"/proc/{pid}/cgroup").read_text().splitlines():
        _, controllers, path = line.split(":", 2)
        if "memory" in controllers.split(","):
            group = pathlib.Path("/sys/fs/cgroup/memory" + path)
            return (int((group / "memory.limit_in_bytes").read_text()),
                    int((group / "memory.max_usage_in_bytes").read_text()))
        if controllers == "":
            group = pathlib.Path("/sys/fs/cgroup" + path)
            peak = group / "memory.peak"
            return int((group / "memory.max").read_text()), int(peak.read_text()) if peak.exists() else None
    raise OSError(f"no memory cgroup for PID {pid}")


def check_memory_limit(name, port):
    traffic = load.Load(port).start()
    time.sleep(2)
    traffic.stop()
    limit, peak = memory_cgroup(container_pid(name))
    state = engine.inspect(name)["State"]
    counts = traffic.counts
    ok = counts["ok"] > 0 and counts["failed"] == counts["dropped"] == 0 \
        and state["Running"] and not state["OOMKilled"] and limit == 6 * 1024 * 1024
    return ok, (f"{counts}, running {state['Running']}, OOMKilled {state['OOMKilled']}, "
                f"cgroup limit {limit} B, peak {peak} B")


def check_stop_under_load(name, port):
    traffic = load.Load(port).start()
    time.sleep(0.5)
    traffic.shutdown_begins()
    stopped, stop_detail = timed_stop(name)
    time.sleep(0.2)
    traffic.stop()
    counts = traffic.counts
    ok = stopped and counts["ok"] > 0 and counts["failed"] == 0 and traffic.dropped_early == 0
    detail = f"{stop_detail}; requests {counts}, dropped before the stop {traffic.dropped_early}"
    if traffic.failures:
        detail += f"; first failures: {traffic.failures}"
    return ok, detail


def test_image(arg, report, resources, orphan):
    """Runs every check on one image; returns its size-table row, or None if it is unusable."""
    label = arg
    try:
        if os.path.isfile(arg):
            image, tags = resources.load(arg)
            label = tags[0] if tags else arg
        else:
            image = arg
        details = json.loads(docker("image", "inspect", image).stdout)[0]
    except tarfile.TarError:
        report.check(label, "image is available", False, "not a docker-archive tarball (tar, gzip, bzip2 or xz)")
        return None
    except (engine.DockerError, OSError, KeyError, ValueError) as error:
        report.check(label, "image is available", False, str(error))
        return None
    config = details["Config"]
    row = {"image": label, "size": details["Size"], "debug": None, "upx": None}

    report.attempt(label, "config is nix/image.json's plus revision and version labels",
                   lambda: check_config(config))
    report.attempt(label, "tree is exactly /bin/tini and /bin/tinyweb, static, no shell, no libc",
                   lambda: check_tree(resources, image, label, row))
    report.attempt(label, "docker run --entrypoint /bin/sh fails", lambda: check_no_shell(resources, image))

    try:
        started = time.monotonic()
        mount = ["-v", f"{orphan}:/orphan:ro"]
        main, main_port = start(resources, image, *mount)
        bypass, bypass_port = start(resources, image, *mount, "--entrypoint", "/bin/tinyweb")
        emulated = details.get("Architecture", HOST_ARCHITECTURE) != HOST_ARCHITECTURE
        limited, limited_port = start(resources, image, *([] if emulated else MEMORY_LIMIT))
    except engine.DockerError as error:
        report.check(label, "hardened containers start and serve", False, str(error))
        return row
    report.check(label, "serves hardened (read-only, no capabilities, no-new-privileges, random port)", True)

    report.attempt(label, "GET / is exactly 'Hello, World!', /healthz 200, unknown path 404",
                   lambda: check_http(main_port))
    report.attempt(label, "PID 1 is tini, tinyweb its child, both as the image's user, unprivileged",
                   lambda: check_pid1(main, config.get("User", "")))
    report.attempt(label, "the access-log line appears in docker logs", lambda: check_access_log(main, main_port))
    report.attempt(label, "tini reaps an orphaned child (tests/image/orphan.c); tinyweb as PID 1 "
                   "leaves it a zombie", lambda: check_reaps(main, bypass))
    report.attempt(label, "without tini (--entrypoint /bin/tinyweb) it serves as PID 1",
                   lambda: (program(container_pid(bypass)) == "tinyweb" and check_http(bypass_port)[0],
                            program(container_pid(bypass))))
    report.attempt(label, f"without tini, docker stop < {STOP_BOUND_SECONDS:g} s and exit code 0",
                   lambda: timed_stop(bypass))
    if emulated:
        print(f"skip {label}: the --memory=6m checks: {details['Architecture']} runs emulated here "
              "(qemu's own memory is charged to the container)")
    else:
        report.attempt(label, "serves under --memory=6m (8 keep-alive clients, 2 s)",
                       lambda: check_memory_limit(limited, limited_port))
    report.attempt(label, f"docker stop under load{'' if emulated else ' (6m)'}: no request cut, exit 0, < 2 s",
                   lambda: check_stop_under_load(limited, limited_port))
    report.attempt(label, "the Docker healthcheck becomes healthy",
                   lambda: check_healthy(main, config, started))
    report.attempt(label, f"with tini, docker stop < {STOP_BOUND_SECONDS:g} s, exit code 0, and "
                   "tinyweb logged the forwarded SIGTERM", lambda: check_sigterm_reaches_server(main))
    return row


def print_size_table(rows):
    def mark(flag):
        return "?" if flag is None else "yes" if flag else "no"

    def grouped(number):
        return f"{number:,}".replace(",", " ")

    print()
    print("| Image | Debug info | UPX | Size (bytes) | Percentage |")
    print("|---|:-:|:-:|--:|--:|")
    print(f"| golang:1.16 (the article) | yes | no | {grouped(ARTICLE_BASELINE_BYTES)} | 100.00 % |")
    for row in rows:
        percentage = 100 * row["size"] / ARTICLE_BASELINE_BYTES
        print(f"| {row['image']} | {mark(row['debug'])} | {mark(row['upx'])} "
              f"| {grouped(row['size'])} | {percentage:.2f} % |")
    print()


def main(args):
    if not args or args[0] in ("-h", "--help"):
        print(__doc__.strip())
        return 0 if args else 2
    reason = engine.unavailable_reason()
    if reason:
        if os.environ.get("CI") == "true":
            print(f"FAIL: the image acceptance test needs Docker under CI=true: {reason}")
            return 1
        print(f"SKIP: image acceptance test: no Docker engine ({reason}); under CI=true this fails")
        return 0

    # SIGTERM unwinds like Ctrl-C, through the cleanup below.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    report = Report()
    resources = engine.Resources()
    rows = []
    scratch = tempfile.TemporaryDirectory()
    try:
        orphan = build_orphan(scratch.name)
        for arg in args:
            row = test_image(arg, report, resources, orphan)
            if row:
                rows.append(row)
    except OSError as error:
        report.check("setup", "tests/image/orphan.c builds with musl-gcc", False, str(error))
    finally:
        scratch.cleanup()
        problems = resources.cleanup()
        left = docker("ps", "-aq", "--filter", f"name={resources.prefix}", check=False).stdout.split()
        if left:
            problems.append(f"containers left: {left}")
        report.check("cleanup", "every container and image this run created is gone", not problems,
                     "; ".join(problems))
    print_size_table(rows)
    print(f"{report.passed} passed, {report.failed} failed")
    return 1 if report.failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
