"""tinyweb's benchmark: every tinyweb image and binary beside the article's Go/echo server, one run.

    python3 bench/run.py           full run (~10 minutes): writes bench/results.json,
                                   bench/report.md and bench/chart.svg
    python3 bench/run.py --quick   sizes, a few start-ups, one short load per image (< 2 minutes),
                                   written to a temporary directory, with sanity checks that fail
                                   the test command if the benchmark has rotted

tinyweb's images and binaries come from docker/build.sh (or, with --nix, from the flake); the Go
baseline from bench/build-go.sh. Without a Docker engine it skips with one line, except under
CI=true, where it fails. Load stays on loopback: bare binaries run in a private network namespace
(bench/bare.py), containers on `--network none` (bench/containers.py).
"""

import argparse
import json
import os
import platform
import re
import shlex
import subprocess
import sys
import tarfile
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

sys.dont_write_bytecode = True  # leave no __pycache__ in the work tree (subprocesses: -B)
import chart  # noqa: E402
import containers  # noqa: E402
import nginx  # noqa: E402
import peers  # noqa: E402
import report  # noqa: E402
from figures import check_sanity, derive  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
GO_BINARIES = ROOT / "build/bench/go"
TINYWEB_BINARIES = ROOT / "build/bin"

MEMORY_LIMIT = "6m"  # Docker's minimum
# wrk's connections under MEMORY_LIMIT: below the connection cap every image derives there (45
# to 80 at 49 152 B per connection, README "Under attack at --memory=6m"), so that the cap never
# evicts wrk's idle keep-alive connections between its requests, which wrk counts as read errors.
LIMIT_CONNECTIONS = 32
FULL = {
    "starts": 20,
    "rounds": 5,  # alternating rounds, so that another load on the machine hits both sides
    "duration_s": 6,
    "warmup_s": 2,
    "load_s": 10,
    "limit_load_s": 5,
    "connections": 64,
    "limit_connections": LIMIT_CONNECTIONS,
}
QUICK = {
    "starts": 2,
    "rounds": 1,
    "duration_s": 1,
    "warmup_s": 0,
    "load_s": 1,
    "limit_load_s": 1,
    "connections": 64,
    "limit_connections": LIMIT_CONNECTIONS,
}


def load_json(path):
    with open(path) as f:
        return json.load(f)


def command_output(*command):
    done = subprocess.run(command, capture_output=True, text=True)
    return (done.stdout or done.stderr).strip().splitlines()[0] if done.returncode == 0 else None


def revision():
    """The commit measured, marked -dirty when a tracked file that goes into what is measured
    differs from it."""
    head = command_output("git", "-C", str(ROOT), "rev-parse", "--short", "HEAD")
    inputs = ["src", "Cargo.toml", "Cargo.lock", ".cargo", "nix/image.json", "docker", "bench"]
    diff = subprocess.run(["git", "-C", str(ROOT), "diff", "--quiet", "HEAD", "--", *inputs])
    return head if diff.returncode == 0 else f"{head}-dirty"


def machine():
    with open("/proc/cpuinfo") as f:
        cpu = re.search(r"^model name\s*:\s*(.*)$", f.read(), re.M)
    with open("/proc/meminfo") as f:
        mem_kib = int(re.search(r"^MemTotal:\s+(\d+)", f.read(), re.M).group(1))
    return {
        "cpu": cpu.group(1) if cpu else platform.processor(),
        "cores": os.cpu_count(),
        "memory_gib": round(mem_kib / 2**20, 1),
        "kernel": platform.release(),
    }


def tools():
    wrk = subprocess.run(["wrk", "-v"], capture_output=True, text=True)
    return {
        "docker": command_output("docker", "version", "-f", "{{.Server.Version}}"),
        "go": command_output("go", "version"),
        "echo": command_output(
            "dpkg-query", "-W", "-f", "${Version}", "golang-github-labstack-echo-dev"
        ),
        "upx": command_output("upx", "--version"),
        "wrk": " ".join((wrk.stdout + wrk.stderr).split()[:2]),
        "rustc": command_output("rustc", "--version"),
    }


def build(quick, nix):
    """Builds (or reuses) both sides; returns the tinyweb binaries' directory and the UPX flags."""
    subprocess.run(
        ["bash", str(BENCH / "build-go.sh"), *(["--quick"] if quick else [])], check=True, cwd=ROOT
    )
    if nix:
        return from_nix()
    subprocess.run(
        ["bash", str(ROOT / "docker/build.sh")], check=True, cwd=ROOT, stdout=subprocess.DEVNULL
    )
    return TINYWEB_BINARIES


def from_nix():
    """The flake's images loaded into Docker, and its binaries linked under build/bench/nix."""
    linked = ROOT / "build/bench/nix"
    linked.mkdir(parents=True, exist_ok=True)
    definition = load_json(ROOT / "nix/image.json")

    def nix_build(attribute):
        return subprocess.run(
            ["nix", "build", "--no-link", "--print-out-paths", f"{ROOT}#{attribute}"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()

    for variant, spec in definition["variants"].items():
        subprocess.run(
            ["docker", "load", "-q", "-i", nix_build(f"image-{variant}")],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        binary = linked / spec["binary"]
        binary.unlink(missing_ok=True)
        binary.symlink_to(Path(nix_build(spec["binary"])) / "bin/tinyweb")
    subprocess.run(
        ["docker", "load", "-q", "-i", nix_build("image-naive")],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return linked


def sides(tinyweb_binaries):
    """Per variant, each side's image name, binary path and article columns (a rung the Go
    service has no counterpart for, such as tinyweb's minimal, has only the tinyweb side)."""
    result = {}
    for side, definition_path, binaries in (
        ("tinyweb", ROOT / "nix/image.json", tinyweb_binaries),
        ("go", BENCH / "go/image.json", GO_BINARIES),
    ):
        definition = load_json(definition_path)
        for variant, spec in definition["variants"].items():
            result.setdefault(variant, {})[side] = {
                "image": f"{definition['name']}:{variant}",
                "binary": str(binaries / spec["binary"]),
                "debug_info": spec["debugInfo"],
                "upx": spec["upx"],
            }
    return result


def pin_images(variants):
    """docker/build.sh's tags (tinyweb:VARIANT) are shared with whoever else uses this engine and
    may point at another build at any moment: load this tree's tarballs again and measure each
    image through a tag of this run's own, on the image ID its tarball names (the sha256 of its
    config), so that neither a later load nor build.sh's clean-up of untagged images can touch it.
    The report still names them tinyweb:VARIANT. Returns the private tags, to remove at the end."""
    pinned = []
    for variant, both in variants.items():
        entry = both["tinyweb"]
        with tarfile.open(ROOT / "build/images" / f"{variant}.tar") as archive:
            manifest = json.load(archive.extractfile("manifest.json"))
        image_id = "sha256:" + manifest[0]["Config"].removesuffix(".json")
        subprocess.run(
            ["docker", "load", "-q", "-i", str(ROOT / "build/images" / f"{variant}.tar")],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        entry["ref"] = f"tinyweb-bench-{os.getpid()}:{variant}"
        subprocess.run(["docker", "tag", image_id, entry["ref"]], check=True)
        pinned.append(entry["ref"])
    return pinned


def unpin_images(pinned):
    for ref in pinned:
        subprocess.run(["docker", "image", "rm", ref], capture_output=True)


def measure_bare(variants, params):
    pairs = {name: {side: entry["binary"] for side, entry in v.items()} for name, v in variants.items()}
    # nginx, the server a user would pick for a fixed answer, beside the shipped rung.
    if nginx.binary() is None:
        raise RuntimeError("nginx is not installed; run .ci/install.sh")
    pairs[peers.BESIDE]["nginx"] = nginx.binary()
    spec = {
        "host_netns": os.readlink("/proc/self/ns/net"),
        "pairs": list(pairs.values()),
        **{k: params[k] for k in ("starts", "rounds", "duration_s", "warmup_s", "connections")},
    }
    done = subprocess.run(
        ["unshare", "--net", sys.executable, "-B", str(BENCH / "bare.py"), json.dumps(spec)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"bare.py failed:\n{done.stderr.strip()}")
    return json.loads(done.stdout)


def measure(variants, params):
    """Everything for every variant and side, and the peers measured beside them; the raw
    figures, nested as measured."""
    bare = measure_bare(variants, params)
    peer_figures = bare.pop("peers")
    for both in variants.values():
        for entry in both.values():
            print(f"bench: {entry['image']}", file=sys.stderr)
            image = entry.pop("ref", entry["image"])
            entry["binary_bytes"] = os.path.getsize(entry["binary"])
            entry["sizes"] = containers.sizes(image)
            entry["bare"] = bare[entry["binary"]]
            entry["docker"] = containers.startups(image, params["starts"])
            entry["load"] = containers.under_load(image, params["load_s"], params["connections"])
            entry["memory_limit"] = containers.memory_limited(
                image, MEMORY_LIMIT, params["limit_load_s"], params["limit_connections"]
            )
    return variants, peer_figures


def naive_size():
    """tinyweb:naive's size when it is loaded (Nix only): the article's first row, in Rust."""
    done = subprocess.run(
        ["docker", "image", "inspect", "-f", "{{.Size}}", "tinyweb:naive"],
        capture_output=True,
        text=True,
    )
    return int(done.stdout) if done.returncode == 0 else None


def docker_available():
    try:
        return subprocess.run(["docker", "info"], capture_output=True).returncode == 0
    except OSError:
        return False


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick",
        action="store_true",
        help="sizes, a few start-ups and short loads, into a temporary directory",
    )
    parser.add_argument(
        "--nix",
        action="store_true",
        help="measure the flake's images and binaries instead of docker/build.sh's",
    )
    parser.add_argument(
        "--out",
        type=Path,
        help="where to write results.json, report.md and chart.svg "
        "(default: bench/, or a temporary directory with --quick)",
    )
    args = parser.parse_args()

    if not docker_available():
        if os.environ.get("CI") == "true":
            sys.exit("bench: no Docker engine (CI=true: the benchmark must run)")
        print("bench: SKIP: no Docker engine to run the images in")
        return
    out = args.out or (Path(tempfile.mkdtemp(prefix="tinyweb-bench-")) if args.quick else BENCH)
    params = QUICK if args.quick else FULL
    command = "python3 bench/run.py" + "".join(f" {shlex.quote(a)}" for a in sys.argv[1:])

    started = time.monotonic()
    pinned = []
    try:
        tinyweb_binaries = build(args.quick, args.nix)
        built = time.monotonic()
        variants = sides(tinyweb_binaries)
        if not args.nix:
            pinned = pin_images(variants)
        containers.remove_all()
        raw, peer_figures = measure(variants, params)
    except (RuntimeError, OSError, subprocess.SubprocessError) as error:
        sys.exit(f"bench: {error}")
    finally:
        containers.remove_all()
        unpin_images(pinned)

    results = {
        "meta": {
            "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "command": command,
            "mode": "quick" if args.quick else "full",
            "source": "nix" if args.nix else "docker/build.sh",
            "params": params,
            "memory_limit": MEMORY_LIMIT,
            "machine": machine(),
            "tools": tools(),
            "go_upx_flags": (GO_BINARIES / "upx-flags").read_text().split(),
            "tinyweb_upx_flags": load_json(ROOT / "nix/image.json")["upxFlags"],
            "revision": revision(),
            "build_seconds": round(built - started),
            "seconds": round(time.monotonic() - started),
        },
        "naive_image_bytes": naive_size(),
        "variants": raw,
        "peers": peer_figures,
    }
    results["figures"], results["targets"] = derive(raw)

    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(results, indent=1) + "\n")
    (out / "report.md").write_text(report.render(results))
    (out / "chart.svg").write_text(chart.render(results))
    print(
        f"bench: wrote {out}/report.md, results.json, chart.svg in {results['meta']['seconds']} s"
    )
    if args.quick:
        problems = check_sanity(results, out) + peers.problems(results, out)
        if problems:
            sys.exit("bench: quick run is not sane:\n  " + "\n  ".join(problems))
        print(
            "bench: quick run sane: every image served, also under --memory=6m, size targets met, "
            "no wrk errors (nginx beside them too), exit 0 after load, report and chart written"
        )


if __name__ == "__main__":
    main()
