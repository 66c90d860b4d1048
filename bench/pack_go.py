"""Packs one Go/echo baseline image as a docker-archive tarball, exactly as docker/pack.py packs
tinyweb's (same tar layout, timestamps, ownership and canonical JSON), with /bin/server in place
of /bin/tinyweb.

Usage: pack_go.py DEFINITION VARIANT TINI SERVER VERSION REVISION OUTPUT
"""

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "docker"))
from pack import pack  # noqa: E402


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
        archive = pack(definition, args.variant, tini, server, args.version, args.revision, "server")
        with open(args.output, "wb") as f:
            f.write(archive)
    except KeyError as error:
        sys.exit(f"pack_go.py: {args.definition} lacks the key {error}")
    except (OSError, ValueError) as error:
        sys.exit(f"pack_go.py: {error}")


if __name__ == "__main__":
    main()
