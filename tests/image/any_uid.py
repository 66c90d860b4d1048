#!/usr/bin/env python3
"""Every image serves as an arbitrary non-root user in group 0, the way OpenShift's restricted
SCC runs containers (a UID from the namespace's range, GID 0, the image's USER ignored): hardened
as in the acceptance test, GET / answers, the process runs as that UID and GID 0, the Docker
healthcheck turns healthy, docker stop exits 0.

Usage: tests/image/any_uid.py [IMAGES_DIR...]   (default: build/images; every variant of nix/image.json,
of any architecture the host runs natively or through qemu-user-static)
Needs Docker; without it it skips, unless CI=true.
"""

import pathlib
import sys
import time

import engine
import probe
from engine import docker

USER = "1000770000:0"  # a UID from an OpenShift project's range, primary group root
HARDENED = ["--read-only", "--cap-drop", "ALL", "--security-opt", "no-new-privileges",
            "-p", "127.0.0.1::8000"]


def ids(pid):
    status = dict(line.split(":\t", 1) for line in
                  pathlib.Path(f"/proc/{pid}/status").read_text().splitlines() if ":\t" in line)
    return set(status["Uid"].split()), set(status["Gid"].split())


def check_process(name):
    pid = int(engine.inspect(name)["State"]["Pid"])
    uids, gids = ids(pid)
    kids = (pathlib.Path(f"/proc/{pid}/task/{pid}/children").read_text().split())
    ok = uids == {"1000770000"} and gids == {"0"} and all(ids(int(kid)) == (uids, gids) for kid in kids)
    return ok, f"PID 1 uid {uids} gid {gids}, {len(kids)} child(ren) alike"



def stop(name):
    started = time.monotonic()
    docker("stop", "-t", "10", name, timeout=30)
    elapsed = time.monotonic() - started
    code = engine.inspect(name)["State"]["ExitCode"]
    return code == 0 and elapsed < 2, f"{elapsed:.2f} s, exit code {code}"


def check_directory(report, directory):
    """Every image of one directory: all started first, then checked (the healthchecks' waits
    overlap). One directory at a time: its tarballs carry the same tags as another directory's."""
    resources = engine.Resources()
    try:
        running = {}
        for variant, tarball in probe.tarballs(directory).items():
            image, _ = resources.load(tarball)
            name = resources.container_name()
            docker("run", "-d", "--name", name, "--user", USER, *HARDENED, image)
            running[f"{variant} {engine.inspect(image)['Architecture']}"] = name
        for variant, name in running.items():
            label = f"{variant} as {USER}"
            port = int(docker("port", name, "8000/tcp").stdout.splitlines()[0].rsplit(":", 1)[1])
            if not report.check(label, "serves read-only with no capabilities", probe.wait_serving(port),
                                docker("logs", name, check=False).stderr[-300:]):
                continue
            report.attempt(label, "tini and tinyweb run as that UID with GID 0", lambda: check_process(name))
            report.attempt(label, "the healthcheck turns healthy", lambda: engine.wait_healthy(name))
            report.attempt(label, "docker stop < 2 s, exit code 0", lambda: stop(name))
    except (engine.DockerError, OSError) as error:
        report.check(f"any-UID {directory}", "the images load and start", False, error)
    finally:
        problems = resources.cleanup()
        report.check("cleanup", f"every container and image loaded from {directory} is gone", not problems,
                     "; ".join(problems))


def main(args):
    if args and args[0] in ("-h", "--help"):
        print(__doc__.strip())
        return 0
    reason = engine.unavailable_reason()
    if reason:
        return probe.skip_or_fail("the any-UID test", f"a Docker engine ({reason})")
    report = probe.Report()
    for directory in args or [probe.ROOT / "build" / "images"]:
        check_directory(report, directory)
    return report.summary()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
