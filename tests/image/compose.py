#!/usr/bin/env python3
"""Runs deploy/compose.yaml with docker-compose (v1, as Debian ships it): up, serves, hardened as
the file says, healthy, the shutdown delay at work on stop, stop exits 0 before the grace period
ends, down leaves nothing behind.

Usage: tests/image/compose.py [IMAGE_TARBALL]   (default: build/images/stripped.tar)
Needs Docker and docker-compose; without them it skips, unless CI=true.
"""

import http.client
import os
import shutil
import subprocess
import sys
import threading
import time
import uuid

import engine
import probe
from engine import docker

COMPOSE_FILE = probe.ROOT / "deploy" / "compose.yaml"
DELAY_SECONDS = 5  # TINYWEB_SHUTDOWN_DELAY_SECS in deploy/compose.yaml
GRACE_PERIOD_SECONDS = 12  # its stop_grace_period


def compose(project, env, *args, timeout=120):
    result = subprocess.run(
        ["docker-compose", "-p", project, "-f", str(COMPOSE_FILE), *args],
        capture_output=True, text=True, timeout=timeout, env=env,
    )
    if result.returncode != 0:
        raise engine.DockerError(f"docker-compose {' '.join(args)}: {result.stderr.strip()[-400:]}")
    return result.stdout



def hardening(container):
    details = engine.inspect(container)
    host = details["HostConfig"]
    env = details["Config"]["Env"] or []
    problems = []
    if not host["ReadonlyRootfs"]:
        problems.append("root filesystem writable")
    if host["CapDrop"] != ["ALL"]:
        problems.append(f"CapDrop {host['CapDrop']}")
    if not any(opt.startswith("no-new-privileges") for opt in host["SecurityOpt"] or []):
        problems.append(f"SecurityOpt {host['SecurityOpt']}")
    if details["Config"]["User"] != "65534:65534":
        problems.append(f"user {details['Config']['User']}")
    if host["Memory"] != 16 * 1024 * 1024:
        problems.append(f"memory limit {host['Memory']}")
    if f"TINYWEB_SHUTDOWN_DELAY_SECS={DELAY_SECONDS}" not in env:
        problems.append("no shutdown delay in the environment")
    return not problems, "; ".join(problems) or "read-only, CapDrop ALL, no-new-privileges, 65534, 16 MiB"


def stop_with_delay(project, env, container, port):
    """docker-compose stop, watching the service meanwhile: during the delay /healthz is 503 while
    / still answers; the container then exits 0 before stop_grace_period would SIGKILL it."""
    outcome = {}

    def stop():
        started = time.monotonic()
        try:
            compose(project, env, "stop", timeout=60)
        except Exception as error:  # reported below with the rest
            outcome["error"] = error
        outcome["elapsed"] = time.monotonic() - started

    thread = threading.Thread(target=stop)
    thread.start()
    draining_503 = served_after_503 = False
    while thread.is_alive():
        try:
            if probe.get(port, "/healthz", timeout=1)[0] == 503:
                draining_503 = True
            if draining_503 and probe.get(port, "/", timeout=1) == (200, b"Hello, World!"):
                served_after_503 = True
        except (OSError, http.client.HTTPException):
            pass
        time.sleep(0.1)
    thread.join()
    state = engine.inspect(container)["State"]
    elapsed = outcome.get("elapsed", 0)
    ok = ("error" not in outcome and draining_503 and served_after_503
          and state["ExitCode"] == 0 and not state["OOMKilled"]
          and DELAY_SECONDS <= elapsed < GRACE_PERIOD_SECONDS)
    return ok, (f"stop took {elapsed:.1f} s, exit code {state['ExitCode']}, /healthz 503 seen "
                f"{draining_503}, / served after it {served_after_503}, {outcome.get('error', '')}")


def main(args):
    if args and args[0] in ("-h", "--help"):
        print(__doc__.strip())
        return 0
    reason = engine.unavailable_reason()
    if reason is None and shutil.which("docker-compose") is None:
        reason = "docker-compose is not installed"
    if reason:
        return probe.skip_or_fail("the Compose test", reason)
    tarball = args[0] if args else str(probe.ROOT / "build" / "images" / "stripped.tar")

    report = probe.Report()
    resources = engine.Resources()
    token = uuid.uuid4().hex[:8]
    project = f"tinywebcompose{token}"
    tag = f"tinyweb-compose-{token}:test"
    port = probe.free_port()
    env = dict(os.environ, TINYWEB_IMAGE=tag, TINYWEB_BIND="127.0.0.1", TINYWEB_PORT=str(port))
    label = f"compose {os.path.basename(tarball)}"
    try:
        image, _ = resources.load(tarball)
        docker("tag", image, tag)
        compose(project, env, "up", "-d")
        container = compose(project, env, "ps", "-q", "tinyweb").strip()
        report.check(label, "docker-compose up starts the service", bool(container), container)
        report.check(label, f"GET 127.0.0.1:{port}/ is 'Hello, World!'", probe.wait_serving(port))
        report.attempt(label, "the container is hardened as compose.yaml says", lambda: hardening(container))
        report.attempt(label, "the image's healthcheck turns healthy", lambda: engine.wait_healthy(container))
        report.attempt(label, f"docker-compose stop: {DELAY_SECONDS} s of /healthz 503 while serving, "
                       f"then exit 0 within stop_grace_period {GRACE_PERIOD_SECONDS} s",
                       lambda: stop_with_delay(project, env, container, port))
        compose(project, env, "down")
        left = docker("ps", "-aq", "--filter", f"label=com.docker.compose.project={project}").stdout.split()
        networks = docker("network", "ls", "-q", "--filter", f"name={project}").stdout.split()
        report.check(label, "docker-compose down removes the container and the network",
                     not left and not networks, f"containers {left}, networks {networks}")
    except Exception as error:
        report.check(label, "the Compose run completes", False, f"{type(error).__name__}: {error}")
    finally:
        subprocess.run(["docker-compose", "-p", project, "-f", str(COMPOSE_FILE), "down", "-v",
                        "--remove-orphans", "-t", "1"], capture_output=True, env=env, timeout=120)
        docker("image", "rm", tag, check=False)
        problems = resources.cleanup()
        report.check("cleanup", "the image and tag this run loaded are gone", not problems, "; ".join(problems))
    return report.summary()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
