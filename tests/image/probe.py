"""What the deployment tests (compose, any-UID, registry, Podman) share: HTTP probes over loopback,
a free port, image tarball discovery, the skip-or-fail rule and a pass/fail tally."""

import http.client
import json
import os
import pathlib
import socket
import subprocess
import time

ROOT = pathlib.Path(__file__).resolve().parents[2]
DEFINITION = json.loads((ROOT / "nix" / "image.json").read_text())


def get(port, path, timeout=5):
    """(status, body) of GET path on 127.0.0.1:port."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def wait_serving(port, seconds=10):
    """True once GET / answers exactly `Hello, World!` within `seconds`."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if get(port, "/") == (200, b"Hello, World!"):
                return True
        except (OSError, http.client.HTTPException):
            pass
        time.sleep(0.05)
    return False


def free_port():
    """A TCP port free on 127.0.0.1 right now (the kernel's pick)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def tarballs(directory):
    """{variant: path} of the Docker build's tarballs, for every variant nix/image.json defines."""
    found = {name: pathlib.Path(directory) / f"{name}.tar" for name in DEFINITION["variants"]}
    missing = [str(path) for path in found.values() if not path.is_file()]
    if missing:
        raise FileNotFoundError(f"no image tarball {', '.join(missing)} (run bash docker/build.sh)")
    return found


def locked_resolve(target):
    """(root id, {id: resolve node}, {id: package}) of `cargo metadata --locked` for `target`."""
    metadata = json.loads(subprocess.run(
        ["cargo", "metadata", "--locked", "--format-version", "1", "--filter-platform", target],
        capture_output=True, text=True, check=True, cwd=ROOT).stdout)
    nodes = {node["id"]: node for node in metadata["resolve"]["nodes"]}
    packages = {package["id"]: package for package in metadata["packages"]}
    return metadata["resolve"]["root"], nodes, packages


def skip_or_fail(what, reason):
    """Exit status for a test that cannot run here: a skip outside CI, a failure under CI=true."""
    if os.environ.get("CI") == "true":
        print(f"FAIL: {what} needs {reason} under CI=true")
        return 1
    print(f"SKIP: {what}: {reason}; under CI=true this fails")
    return 0


class Report:
    """Counts checks; each prints one `ok`/`FAIL` line."""

    def __init__(self):
        self.passed = 0
        self.failed = 0

    def check(self, label, claim, ok, detail=""):
        detail = " ".join(str(detail).split())
        if ok:
            self.passed += 1
            print(f"ok   {label}: {claim}" + (f" ({detail})" if detail else ""))
        else:
            self.failed += 1
            print(f"FAIL {label}: {claim}: {detail}")
        return ok

    def attempt(self, label, claim, probe):
        """Records probe() -> (ok, detail); an exception is a failure with its message."""
        try:
            ok, detail = probe()
        except Exception as error:  # one broken step must not stop the other checks
            ok, detail = False, f"{type(error).__name__}: {error}"
        return self.check(label, claim, ok, detail)

    def summary(self):
        print(f"{self.passed} passed, {self.failed} failed")
        return 1 if self.failed else 0
