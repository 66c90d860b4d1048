#!/usr/bin/env python3
"""Publishes every image to a real registry and takes it back, as a user would.

Starts Debian's docker-registry (distribution 2.8) on 127.0.0.1 with its storage in a temporary
directory; pushes each docker-archive tarball with `skopeo copy --format v2s2` (Docker's schema 2
keeps the HEALTHCHECK, which the OCI config has no field for) as tinyweb:VARIANT-ARCH; publishes
one index per variant, tinyweb:VARIANT, with `buildah manifest` (a Docker manifest list naming
every architecture); removes the images from the local engine, pulls each by tag (`--platform
linux/ARCH`), and checks that the digests agree end to end: the index buildah pushed is what the
registry serves (skopeo inspect) and what Docker recorded (RepoDigests), it lists the per-arch
manifests skopeo pushed, and the pulled image ID is the tarball's own config digest. Then it
smoke-tests what it pulled: serves, the healthcheck passes, docker stop exits 0. Local tags that
pointed at those images before are restored at the end.

Usage: tests/image/registry.py [IMAGES_DIR...]   (default: build/images)
Each IMAGES_DIR holds VARIANT.tar for every variant of nix/image.json; the architecture is read
from each image's config, so a directory of arm64 tarballs adds arm64 to every index. Needs Docker,
skopeo, buildah and docker-registry; without them it skips, unless CI=true.
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
import urllib.request
import uuid

import engine
import probe
from engine import docker

REPOSITORY = "tinyweb"
HARDENED = ["--read-only", "--cap-drop", "ALL", "--security-opt", "no-new-privileges",
            "-p", "127.0.0.1::8000"]
TOOLS = ("skopeo", "buildah", "docker-registry")


def run(*args, timeout=300):
    result = subprocess.run(args, capture_output=True, text=True, timeout=timeout)
    if result.returncode != 0:
        raise engine.DockerError(f"{' '.join(args)}: {result.stderr.strip()[-400:]}")
    return result.stdout


def tarball_config(path):
    """(config digest = the image ID Docker gives it, architecture) of a docker-archive tarball."""
    with tarfile.open(path) as archive:
        manifest = json.load(archive.extractfile("manifest.json"))
        config = archive.extractfile(manifest[0]["Config"]).read()
    return f"sha256:{hashlib.sha256(config).hexdigest()}", json.loads(config)["architecture"]


class Registry:
    """docker-registry serving from a temporary directory on 127.0.0.1:PORT."""

    def __init__(self, scratch):
        self.port = probe.free_port()
        self.address = f"127.0.0.1:{self.port}"
        config = pathlib.Path(scratch) / "registry.yml"
        config.write_text(
            "version: 0.1\n"
            "log:\n  level: warn\n"
            f"storage:\n  filesystem:\n    rootdirectory: {scratch}/storage\n"
            f"http:\n  addr: {self.address}\n"
        )
        self.log = open(pathlib.Path(scratch) / "registry.log", "w")
        self.process = subprocess.Popen(["docker-registry", "serve", str(config)],
                                        stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://{self.address}/v2/", timeout=1) as answer:
                    if answer.status == 200:
                        return
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise engine.DockerError(f"docker-registry did not answer on {self.address} within 10 s")

    def ref(self, tag):
        return f"docker://{self.address}/{REPOSITORY}:{tag}"

    def stop(self):
        self.process.terminate()
        self.process.wait(timeout=10)
        self.log.close()


def push(registry, tarball, tag, scratch):
    """skopeo copy into the registry; returns the manifest digest skopeo pushed."""
    digest_file = pathlib.Path(scratch) / f"{tag}.digest"
    run("skopeo", "copy", "-q", "--format", "v2s2", "--dest-tls-verify=false",
        "--digestfile", str(digest_file), f"docker-archive:{tarball}", registry.ref(tag))
    return digest_file.read_text().strip()


def publish_index(registry, variant, arch_tags, scratch):
    """buildah manifest: a list of every VARIANT-ARCH, pushed as VARIANT; returns its digest."""
    name = f"localhost/tinyweb-registry-test-{uuid.uuid4().hex[:8]}:{variant}"
    digest_file = pathlib.Path(scratch) / f"{variant}.index.digest"
    run("buildah", "manifest", "create", name)
    try:
        for tag in arch_tags:
            run("buildah", "manifest", "add", "--tls-verify=false", name, registry.ref(tag))
        run("buildah", "manifest", "push", "--all", "--tls-verify=false", "--format", "v2s2",
            "--digestfile", str(digest_file), name, registry.ref(variant))
    finally:
        subprocess.run(["buildah", "manifest", "rm", name], capture_output=True)
    return digest_file.read_text().strip()


def served_index(registry, variant):
    """The index the registry serves for the tag: (its digest, {arch: manifest digest})."""
    raw = run("skopeo", "inspect", "--tls-verify=false", "--raw", registry.ref(variant)).encode()
    index = json.loads(raw)
    entries = {m["platform"]["architecture"]: m["digest"] for m in index.get("manifests", [])}
    return f"sha256:{hashlib.sha256(raw).hexdigest()}", index.get("mediaType"), entries


class LocalTags:
    """Takes images out of the local engine (so a pull must fetch them) and restores the tags
    that pointed at them before."""

    def __init__(self):
        self.saved = {}

    def remove(self, image_id, tarball):
        if engine.image_id(image_id) is None:
            return
        tags = engine.inspect(image_id)["RepoTags"]
        self.saved[image_id] = (tags, tarball)
        docker("image", "rm", *(tags or [image_id]))
        if engine.image_id(image_id) is not None:
            raise engine.DockerError(f"{image_id} is still in the engine (a container uses it?)")

    def restore(self):
        problems = []
        for image_id, (tags, tarball) in self.saved.items():
            # A failed pull leaves nothing to tag: the tarball holds the same image.
            if engine.image_id(image_id) is None:
                docker("load", "-q", "-i", str(tarball), check=False, timeout=300)
            for tag in tags:
                result = docker("tag", image_id, tag, check=False)
                if result.returncode != 0:
                    problems.append(f"could not restore {tag}: {result.stderr.strip()}")
        return problems



def stop(name, bound):
    started = time.monotonic()
    docker("stop", "-t", "10", name, timeout=30)
    elapsed = time.monotonic() - started
    code = engine.inspect(name)["State"]["ExitCode"]
    return code == 0 and elapsed < bound, f"{elapsed:.2f} s, exit code {code}"


def main(args):
    if args and args[0] in ("-h", "--help"):
        print(__doc__.strip())
        return 0
    reason = engine.unavailable_reason()
    missing = [tool for tool in TOOLS if shutil.which(tool) is None]
    if reason or missing:
        return probe.skip_or_fail("the registry test", reason or f"{', '.join(missing)} (not installed)")

    directories = args or [probe.ROOT / "build" / "images"]
    report = probe.Report()
    local = LocalTags()
    pulled_refs = []
    containers = []
    scratch = tempfile.mkdtemp(prefix="tinyweb-registry-")
    registry = None
    try:
        # {variant: {arch: (tarball, image id)}}
        images = {}
        for directory in directories:
            for variant, tarball in probe.tarballs(directory).items():
                image_id, arch = tarball_config(tarball)
                images.setdefault(variant, {})[arch] = (tarball, image_id)
        registry = Registry(scratch)
        print(f"docker-registry serving on {registry.address}")

        pushed = {}
        for variant, arches in images.items():
            for arch, (tarball, _) in arches.items():
                tag = f"{variant}-{arch}"
                started = time.monotonic()
                pushed[tag] = push(registry, tarball, tag, scratch)
                report.check(f"{REPOSITORY}:{tag}", f"skopeo pushed {tarball} as schema 2", True,
                             f"{pushed[tag]}, {time.monotonic() - started:.1f} s")
            index_digest = publish_index(registry, variant, [f"{variant}-{a}" for a in arches], scratch)
            served, media_type, entries = served_index(registry, variant)
            report.check(f"{REPOSITORY}:{variant}", "buildah's index is what the registry serves, "
                         "and lists each architecture's pushed manifest",
                         served == index_digest and media_type.endswith("manifest.list.v2+json")
                         and entries == {arch: pushed[f"{variant}-{arch}"] for arch in arches},
                         f"{index_digest}, {media_type}, {entries}")

        for arches in images.values():
            for tarball, image_id in arches.values():
                local.remove(image_id, tarball)

        for variant, arches in images.items():
            ref = f"{registry.address}/{REPOSITORY}:{variant}"
            want_index = served_index(registry, variant)[0]
            for position, (arch, (_, image_id)) in enumerate(arches.items()):
                label = f"{ref} --platform linux/{arch}"
                docker("pull", "-q", "--platform", f"linux/{arch}", ref, timeout=300)
                pulled_refs.append(ref)
                details = engine.inspect(ref)
                config = details["Config"]
                report.check(label, "pulled image ID is the tarball's config digest, for this architecture",
                             details["Id"] == image_id and details["Architecture"] == arch,
                             f"{details['Id'][:19]}, {details['Architecture']}")
                # Docker 20.10 records repository@index-digest once, on the image pulled first
                # through that index; a later --platform pull of the same tag gets none.
                if position == 0:
                    report.check(label, "RepoDigests holds the pushed index's digest",
                                 f"{registry.address}/{REPOSITORY}@{want_index}" in details["RepoDigests"],
                                 details["RepoDigests"])
                report.check(label, "the HEALTHCHECK survived the registry",
                             (config.get("Healthcheck") or {}).get("Test")
                             == probe.DEFINITION["config"]["Healthcheck"]["Test"], config.get("Healthcheck"))
                name = f"tinyweb-registry-{uuid.uuid4().hex[:8]}"
                docker("run", "-d", "--name", name, *HARDENED, details["Id"])
                containers.append((label, name, arch))

        for label, name, arch in containers:
            port = int(docker("port", name, "8000/tcp").stdout.splitlines()[0].rsplit(":", 1)[1])
            # Emulated architectures start and stop slower under qemu-user.
            factor = 1 if arch == "amd64" else 5
            if not report.check(label, "what was pulled serves hardened", probe.wait_serving(port, 10 * factor),
                                docker("logs", name, check=False).stderr[-300:]):
                continue
            report.attempt(label, "its healthcheck turns healthy", lambda: engine.wait_healthy(name, 15 * factor))
            report.attempt(label, f"docker stop < {2 * factor} s, exit code 0", lambda: stop(name, 2 * factor))
    except (engine.DockerError, OSError, subprocess.TimeoutExpired) as error:
        report.check("registry", "push, index, pull and run complete", False, f"{type(error).__name__}: {error}")
    finally:
        problems = []
        for _, name, _ in containers:
            result = docker("rm", "-f", name, check=False)
            if result.returncode != 0:
                problems.append(result.stderr.strip())
        # Earlier tags first: they keep their images when the pulled references go below.
        problems += local.restore()
        # Pulls leave repository@digest references besides the tag: both must go.
        for ref in sorted(set(pulled_refs)):
            listed = docker("image", "ls", "--digests", "--format", "{{.Repository}}@{{.Digest}}",
                            ref.rsplit(":", 1)[0], check=False).stdout.split()
            for name in [ref] + [d for d in listed if not d.endswith("@<none>")]:
                result = docker("image", "rm", name, check=False)
                if result.returncode != 0 and "No such image" not in result.stderr:
                    problems.append(result.stderr.strip())
        if registry:
            registry.stop()
        shutil.rmtree(scratch, ignore_errors=True)
        report.check("cleanup", "containers, pulled tags and the registry are gone, earlier tags restored",
                     not problems, "; ".join(problems))
    return report.summary()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
