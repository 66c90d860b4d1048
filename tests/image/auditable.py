#!/usr/bin/env python3
"""Checks the dependency list `cargo auditable` embeds in the shipped binaries (the .dep-v0 section
of build/bin/tinyweb and build/bin/tinyweb-minimal), read back with a reader crate
(rust-audit-info): its root is tinyweb at Cargo.toml's version; its packages (name, version) are
exactly the ones Cargo.lock resolves for the target (cargo metadata, independently of
cargo-auditable): everything reachable from tinyweb through normal and build dependencies, dev
dependencies left out; each is marked a build dependency exactly when no chain of normal
dependencies reaches it without passing through a proc macro; and it names no path of the build
machine (docker/repro.sh relies on it).

Usage: tests/image/auditable.py [--target TRIPLE] BINARY...   (target: x86_64-unknown-linux-musl)
Needs rust-audit-info (.ci/install.sh); without it it skips, unless CI=true.
"""

import json
import shutil
import struct
import subprocess
import sys

import probe


def locked_graph(target):
    """(root (name, version), {(name, version): "runtime" | "build"}) from Cargo.lock."""
    root, nodes, packages = probe.locked_resolve(target)

    def proc_macro(package_id):
        return any("proc-macro" in t["kind"] for t in packages[package_id]["targets"])

    def reachable(kinds, through_proc_macros):
        seen, stack = {root}, [root]
        while stack:
            for dep in nodes[stack.pop()]["deps"]:
                if dep["pkg"] not in seen and any(k["kind"] in kinds for k in dep["dep_kinds"]):
                    seen.add(dep["pkg"])
                    if through_proc_macros or not proc_macro(dep["pkg"]):
                        stack.append(dep["pkg"])
        return seen

    def key(package_id):
        return packages[package_id]["name"], packages[package_id]["version"]

    # A proc macro runs in the compiler, not in the binary: cargo-auditable counts it, and all it
    # pulls in, as a build dependency.
    runtime = {p for p in reachable({None}, False) if not proc_macro(p)}
    kinds = {key(p): "build" for p in reachable({None, "build"}, True)}
    kinds.update({key(p): "runtime" for p in runtime})
    return key(root), kinds


def section_size(binary):
    """Bytes of the binary's .dep-v0 section (the zlib-compressed JSON), 0 when there is none.
    Read from the ELF64 little-endian section headers: the host's objcopy knows no aarch64."""
    data = open(binary, "rb").read()
    if data[:6] != b"\x7fELF\x02\x01":
        return 0
    shoff, = struct.unpack_from("<Q", data, 0x28)
    shentsize, shnum, shstrndx = struct.unpack_from("<HHH", data, 0x3A)
    headers = [struct.unpack_from("<IIQQQQ", data, shoff + i * shentsize) for i in range(shnum)]
    names = headers[shstrndx][4]
    for name, _, _, _, _, size in headers:
        if data[names + name:data.index(b"\0", names + name)] == b".dep-v0":
            return size
    return 0


def strings(value):
    """Every string anywhere in a JSON value."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from strings(item)


def main(args):
    target = "x86_64-unknown-linux-musl"
    if args[:1] == ["--target"]:
        target, args = args[1], args[2:]
    if not args:
        print(__doc__.strip().splitlines()[-2], file=sys.stderr)
        return 2
    if shutil.which("rust-audit-info") is None:
        return probe.skip_or_fail("the embedded dependency list check", "rust-audit-info")
    root, expected = locked_graph(target)
    report = probe.Report()
    for binary in args:
        read = subprocess.run(["rust-audit-info", binary], capture_output=True, text=True)
        if read.returncode != 0:
            report.check(binary, "carries a dependency list rust-audit-info reads", False,
                         read.stderr.strip())
            continue
        embedded = json.loads(read.stdout)["packages"]
        size = section_size(binary)
        report.check(binary, "carries a dependency list rust-audit-info reads, in .dep-v0",
                     size > 0, f".dep-v0: {size} bytes, {len(embedded)} packages")
        roots = [(p["name"], p["version"]) for p in embedded if p.get("root")]
        report.check(binary, f"its root is {root[0]} {root[1]}", roots == [root], roots)
        found = {(p["name"], p["version"]): p.get("kind", "runtime") for p in embedded}
        missing = sorted(set(expected) - set(found))
        extra = sorted(set(found) - set(expected))
        report.check(binary, f"lists exactly the {len(expected)} packages Cargo.lock resolves",
                     not missing and not extra and len(found) == len(embedded),
                     f"missing {missing}, extra {extra}" if missing or extra else "")
        wrong = sorted(k for k in set(found) & set(expected) if found[k] != expected[k])
        builds = sum(kind == "build" for kind in expected.values())
        report.check(binary, f"marks the same {builds} as build dependencies", not wrong,
                     f"kind differs for {wrong}" if wrong else "")
        paths = sorted({s for s in strings(embedded) if "/" in s})
        report.check(binary, "names no path", not paths, paths)
    return report.summary()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
