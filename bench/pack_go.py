"""Packs one Go/echo baseline image as a docker-archive tarball, exactly as docker/pack.py packs
tinyweb's (same tar layout, timestamps, ownership and canonical JSON), with /bin/server in place
of /bin/tinyweb.

Usage: pack_go.py DEFINITION VARIANT TINI SERVER VERSION REVISION OUTPUT
"""

import argparse
import hashlib
import json
import sys
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "docker"))
from pack import canonical_json, image_config, tar_bytes  # noqa: E402


def pack(definition, variant, tini, server, version, revision):
    if variant not in definition["variants"]:
        known = ", ".join(sorted(definition["variants"]))
        raise ValueError(f"unknown variant {variant!r} (known: {known})")
    mtime = int(datetime.fromisoformat(definition["created"]).timestamp())
    layer = tar_bytes(
        [("bin", 0o755, None), ("bin/server", 0o555, server), ("bin/tini", 0o555, tini)],
        mtime,
    )
    layer_sha = hashlib.sha256(layer).hexdigest()
    config = canonical_json(image_config(definition, revision, version, f"sha256:{layer_sha}"))
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
    parser.add_argument("definition", help="bench/go/image.json")
    parser.add_argument("variant", help="a key of the definition's variants")
    parser.add_argument("tini", help="static tini binary")
    parser.add_argument("server", help="the variant's Go/echo binary")
    parser.add_argument("version", help="the version label (echo's Debian version)")
    parser.add_argument("revision", help="git revision, or 'dirty'")
    parser.add_argument("output", help="docker-archive tarball to write")
    args = parser.parse_args()
    try:
        with open(args.definition, "rb") as f:
            definition = json.load(f)
        with open(args.tini, "rb") as f:
            tini = f.read()
        with open(args.server, "rb") as f:
            server = f.read()
        archive = pack(definition, args.variant, tini, server, args.version, args.revision)
        with open(args.output, "wb") as f:
            f.write(archive)
    except KeyError as error:
        sys.exit(f"pack_go.py: {args.definition} lacks the key {error}")
    except (OSError, ValueError) as error:
        sys.exit(f"pack_go.py: {error}")


if __name__ == "__main__":
    main()
