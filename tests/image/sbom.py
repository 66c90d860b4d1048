#!/usr/bin/env python3
"""Checks the SBOM docker/sbom.sh wrote next to each image tarball (build/images/VARIANT.cdx.json):
valid CycloneDX 1.5 (cyclonedx-python-lib's strict JSON schema validator); its subject is that
very image (the config digest of the tarball); its crates are exactly the ones Cargo.lock resolves
for the musl target's normal dependency graph (cargo metadata, independently of cargo-cyclonedx);
tini's component has the version the /bin/tini inside the image reports; musl (twice: tinyweb's
and tini's), the Rust standard library, and UPX exactly where nix/image.json says a binary is packed.

Usage: tests/image/sbom.py [IMAGES_DIR...]   (default: build/images; build/images/arm64 too)
Needs cyclonedx-python-lib (.ci/install.sh puts it in /opt/tinyweb-deploy-tools; tests/run.sh runs
this with that venv first in PATH); without it it skips, unless CI=true.
"""

import hashlib
import json
import os
import subprocess
import sys
import tarfile
import tempfile

import probe

# Docker's architecture -> (Rust target, how to run one of its binaries here)
ARCHES = {
    "amd64": ("x86_64-unknown-linux-musl", []),
    "arm64": ("aarch64-unknown-linux-musl", ["qemu-aarch64-static"]),
}


def locked_crates(target):
    """{(name, version)} reachable from tinyweb through normal dependencies on the target."""
    root, nodes, packages = probe.locked_resolve(target)
    seen, stack = set(), [root]
    while stack:
        current = stack.pop()
        for dep in nodes[current]["deps"]:
            if any(kind["kind"] is None for kind in dep["dep_kinds"]) and dep["pkg"] not in seen:
                seen.add(dep["pkg"])
                stack.append(dep["pkg"])
    return {(packages[p]["name"], packages[p]["version"]) for p in seen}


def image_file(tarball, name):
    """(config digest, architecture, bytes of NAME in the image's layer) of a docker-archive."""
    with tarfile.open(tarball, "r:*") as archive:
        manifest = json.load(archive.extractfile("manifest.json"))
        config = archive.extractfile(manifest[0]["Config"]).read()
        with tarfile.open(fileobj=archive.extractfile(manifest[0]["Layers"][0])) as layer:
            content = layer.extractfile(name).read()
    return f"sha256:{hashlib.sha256(config).hexdigest()}", json.loads(config)["architecture"], content


def tini_version(content, runner):
    with tempfile.TemporaryDirectory() as scratch:
        path = os.path.join(scratch, "tini")
        with open(path, "wb") as f:
            f.write(content)
        os.chmod(path, 0o555)
        output = subprocess.run([*runner, path, "--version"], capture_output=True, text=True, timeout=10).stdout
    return output.split()[2] if output.startswith("tini version ") else output


def check(report, validator, variant, tarball, crates):
    image, arch, tini = image_file(tarball, "bin/tini")
    target, runner = ARCHES[arch]
    if target not in crates:
        crates[target] = locked_crates(target)
    label = f"SBOM {variant} {arch}"
    path = tarball.with_suffix(".cdx.json")
    if not report.check(label, f"{path.name} exists next to the tarball", path.is_file(), path):
        return
    text = path.read_text()
    error = validator.validate_str(text)
    report.check(label, "valid CycloneDX 1.5 (strict schema)", error is None, str(error)[:300])
    sbom = json.loads(text)
    subject = sbom["metadata"]["component"]
    report.check(label, "its subject is this image (config digest)",
                 subject["type"] == "container" and {"name": "tinyweb:image:id", "value": image}
                 in subject.get("properties", []), image)
    components = sbom["components"]
    listed = {(c["name"], c["version"]) for c in components
              if c.get("purl", "").startswith("pkg:cargo/") and c["name"] != "tinyweb"}
    report.check(label, "its crates are exactly Cargo.lock's for the target (cargo metadata)",
                 listed == crates[target], f"{len(listed)} crates for {target}; only in the SBOM "
                 f"{sorted(listed - crates[target])}, missing {sorted(crates[target] - listed)}")
    by_ref = {c["bom-ref"]: c for c in components}
    version = tini_version(tini, runner)
    report.check(label, "tini's component has the version of the image's /bin/tini",
                 by_ref.get("tini", {}).get("version") == version, f"/bin/tini says {version}")
    report.check(label, "musl (tinyweb's and tini's) and the Rust standard library are listed",
                 all(ref in by_ref for ref in ("musl:tinyweb", "musl:tini", "rust-std")))
    spec = probe.DEFINITION["variants"][variant]
    packed = bool(spec.get("upx") or spec.get("tiniUpx"))
    report.check(label, f"UPX's stub is listed {'(packed)' if packed else 'nowhere (nothing packed)'}",
                 ("upx" in by_ref) == packed)


def main(args):
    if args and args[0] in ("-h", "--help"):
        print(__doc__.strip())
        return 0
    try:
        from cyclonedx.schema import SchemaVersion
        from cyclonedx.validation.json import JsonStrictValidator
    except ImportError:
        return probe.skip_or_fail("the SBOM test", "cyclonedx-python-lib (not importable)")
    report = probe.Report()
    validator = JsonStrictValidator(SchemaVersion.V1_5)
    crates = {}
    try:
        for directory in args or [probe.ROOT / "build" / "images"]:
            for variant, tarball in probe.tarballs(directory).items():
                check(report, validator, variant, tarball, crates)
    except (OSError, KeyError, tarfile.TarError, subprocess.SubprocessError) as error:
        report.check("SBOM", "every SBOM can be read and checked", False, f"{type(error).__name__}: {error}")
    return report.summary()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
