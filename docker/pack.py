"""Packs one tinyweb image variant as a docker-archive tarball, without Nix.

The image configuration comes from nix/image.json, the definition the flake reads too. The archive
has the layout nixpkgs' stream_layered_image.py writes (manifest.json, <sha256>.json config,
<sha256>/layer.tar) and is byte-for-byte reproducible: the files in the layer carry Nix's
SOURCE_DATE_EPOCH as their mtime, like the customisation layer of buildLayeredImage, the
archive's own entries the definition's `created`, as stream_layered_image.py writes them; every
entry is owned by 0:0, entries are sorted, and the JSON is serialised canonically.

Usage: pack.py DEFINITION VARIANT TINI SERVER CARGO_TOML REVISION OUTPUT [--arch amd64|arm64]
The Go/echo baseline (bench/build-go.sh) is packed the same way, with --server-name server and
--version instead of a Cargo.toml's version.
"""

import argparse
import hashlib
import io
import json
import sys
import tarfile
import tomllib
from datetime import datetime


# nixpkgs' stdenv sets SOURCE_DATE_EPOCH to 1980-01-01 (the earliest date zip can store), and
# buildLayeredImage tars the customisation layer (our /bin) with `--mtime=@$SOURCE_DATE_EPOCH`.
LAYER_MTIME = 315532800


def tar_bytes(entries, mtime):
    """A ustar archive of (name, mode, bytes-or-None-for-a-directory) entries, in the given order."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for name, mode, content in entries:
            info = tarfile.TarInfo(name)
            info.mode = mode
            info.mtime = mtime
            info.uid = info.gid = 0
            info.uname = info.gname = "root"
            if content is None:
                info.type = tarfile.DIRTYPE
                tar.addfile(info)
            else:
                info.size = len(content)
                tar.addfile(info, io.BytesIO(content))
    return buffer.getvalue()


def canonical_json(value):
    return json.dumps(value, sort_keys=True, separators=(",", ":")).encode()


def image_config(definition, revision, version, diff_id, architecture="amd64"):
    config = json.loads(json.dumps(definition["config"]))
    config.setdefault("Labels", {}).update(
        {
            "org.opencontainers.image.revision": revision,
            "org.opencontainers.image.version": version,
        }
    )
    return {
        "architecture": architecture,
        "os": "linux",
        "created": definition["created"],
        "config": config,
        "rootfs": {"type": "layers", "diff_ids": [diff_id]},
        "history": [{"created": definition["created"], "created_by": "docker/pack.py"}],
    }


def pack(definition, variant, tini, server, version, revision, server_name="tinyweb", architecture="amd64"):
    """The image tarball's bytes: /bin/tini and the server at /bin/SERVER_NAME in one layer."""
    if variant not in definition["variants"]:
        known = ", ".join(sorted(definition["variants"]))
        raise ValueError(f"unknown variant {variant!r} (known: {known})")
    mtime = int(datetime.fromisoformat(definition["created"]).timestamp())

    # Read-only executables: nothing in the container needs to write them.
    layer = tar_bytes(
        sorted([("bin", 0o755, None), ("bin/tini", 0o555, tini), (f"bin/{server_name}", 0o555, server)]),
        LAYER_MTIME,
    )
    layer_sha = hashlib.sha256(layer).hexdigest()
    config = canonical_json(image_config(definition, revision, version, f"sha256:{layer_sha}", architecture))
    config_name = f"{hashlib.sha256(config).hexdigest()}.json"
    manifest = canonical_json(
        [
            {
                "Config": config_name,
                "RepoTags": [f"{definition['name']}:{variant}"],
                "Layers": [f"{layer_sha}/layer.tar"],
            }
        ]
    )
    return tar_bytes(
        sorted(
            [
                (config_name, 0o644, config),
                (f"{layer_sha}/layer.tar", 0o644, layer),
                ("manifest.json", 0o644, manifest),
            ]
        ),
        mtime,
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("definition", help="nix/image.json")
    parser.add_argument("variant", help="a key of the definition's variants")
    parser.add_argument("tini", help="static tini binary")
    parser.add_argument("server", help="the variant's server binary")
    parser.add_argument("cargo_toml", help="Cargo.toml giving the version label")
    parser.add_argument("revision", help="git revision, or 'dirty'")
    parser.add_argument("output", help="docker-archive tarball to write")
    parser.add_argument("--server-name", default="tinyweb", help="the server's name in /bin")
    parser.add_argument("--version", help="the version label, instead of CARGO_TOML's")
    parser.add_argument("--arch", default="amd64", choices=["amd64", "arm64"],
                        help="the image's architecture, in Docker's words (default amd64)")
    args = parser.parse_args()
    try:
        with open(args.definition, "rb") as f:
            definition = json.load(f)
        version = args.version
        if version is None:
            with open(args.cargo_toml, "rb") as f:
                version = tomllib.load(f)["package"]["version"]
        with open(args.tini, "rb") as f:
            tini = f.read()
        with open(args.server, "rb") as f:
            server = f.read()
        archive = pack(definition, args.variant, tini, server, version, args.revision, args.server_name,
                       args.arch)
        with open(args.output, "wb") as f:
            f.write(archive)
    except KeyError as error:
        sys.exit(f"pack.py: {args.definition} or {args.cargo_toml} lacks the key {error}")
    except (OSError, ValueError, tomllib.TOMLDecodeError) as error:
        sys.exit(f"pack.py: {error}")


if __name__ == "__main__":
    main()
