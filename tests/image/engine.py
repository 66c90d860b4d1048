"""The Docker CLI as the acceptance test uses it, and the bookkeeping that lets it remove every
container and image it created, and nothing else."""

import hashlib
import json
import os
import subprocess
import tarfile
import time
import uuid


class DockerError(Exception):
    pass


def docker(*args, check=True, timeout=60):
    """Runs `docker ARGS`; returns the completed process (text output)."""
    result = subprocess.run(
        ["docker", *args], capture_output=True, text=True, timeout=timeout
    )
    if check and result.returncode != 0:
        raise DockerError(f"docker {' '.join(args)}: {result.stderr.strip()}")
    return result


def unavailable_reason():
    """None when a Docker engine answers, else why not."""
    try:
        result = docker("info", "--format", "{{.ServerVersion}}", check=False, timeout=30)
    except FileNotFoundError:
        return "the docker command is not installed"
    except subprocess.TimeoutExpired:
        return "the Docker engine did not answer within 30 s"
    if result.returncode != 0:
        return result.stderr.strip().splitlines()[-1] if result.stderr.strip() else "docker info failed"
    return None


def image_id(ref):
    result = docker("image", "inspect", "-f", "{{.Id}}", ref, check=False)
    return result.stdout.strip() if result.returncode == 0 else None


def inspect(ref):
    return json.loads(docker("inspect", ref).stdout)[0]


class Resources:
    """Containers and loaded images this run owns; `cleanup` removes exactly those."""

    def __init__(self, purpose="acceptance"):
        self.prefix = f"tinyweb-{purpose}-{uuid.uuid4().hex[:8]}"
        self.containers = []
        self.loads = []

    def container_name(self):
        name = f"{self.prefix}-{len(self.containers)}"
        self.containers.append(name)
        return name

    def load(self, path):
        """Loads a docker-archive tarball (plain or compressed, e.g. Nix's `result`); returns
        (image id, tags). Tags that pointed elsewhere before are restored on cleanup."""
        with tarfile.open(path, "r:*") as archive:
            manifest = json.load(archive.extractfile("manifest.json"))
            if len(manifest) != 1:
                raise DockerError(f"{path}: expected one image, the archive holds {len(manifest)}")
            config = archive.extractfile(manifest[0]["Config"]).read()
        loaded_id = f"sha256:{hashlib.sha256(config).hexdigest()}"
        tags = manifest[0].get("RepoTags") or []
        record = {
            "id": loaded_id,
            "existed": image_id(loaded_id) is not None,
            "previous": {tag: image_id(tag) for tag in tags},
        }
        self.loads.append(record)
        docker("load", "-i", os.fspath(path), timeout=300)
        if image_id(loaded_id) != loaded_id:
            raise DockerError(f"{path}: docker load did not produce image {loaded_id}")
        return loaded_id, tags

    def cleanup(self):
        """Best effort, every step independent: a failure here must not hide the test's result."""
        problems = []
        for name in self.containers:
            result = docker("rm", "-f", "-v", name, check=False)
            if result.returncode != 0 and "No such container" not in result.stderr:
                problems.append(result.stderr.strip())
        for record in self.loads:
            for tag, previous in record["previous"].items():
                if previous == record["id"]:
                    continue
                if previous is not None:
                    result = docker("tag", previous, tag, check=False)
                elif record["existed"] and len(inspect(record["id"])["RepoTags"]) < 2:
                    # Untagging the image's only tag would delete an image we did not create.
                    continue
                else:
                    result = docker("image", "rm", tag, check=False)
                if result.returncode != 0:
                    problems.append(result.stderr.strip())
            if not record["existed"] and image_id(record["id"]) is not None:
                result = docker("image", "rm", record["id"], check=False)
                if result.returncode != 0:
                    problems.append(result.stderr.strip())
        return problems


def wait_healthy(container, seconds=15):
    """(healthy, last status) once Docker's healthcheck of `container` settles, or after `seconds`."""
    deadline = time.monotonic() + seconds
    status = "none"
    while time.monotonic() < deadline:
        status = (inspect(container)["State"].get("Health") or {}).get("Status", "none")
        if status in ("healthy", "unhealthy"):
            break
        time.sleep(0.25)
    return status == "healthy", status
