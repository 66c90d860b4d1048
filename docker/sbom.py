"""Turns cargo-cyclonedx's SBOM of the tinyweb crate into one CycloneDX 1.5 SBOM per image.

cargo-cyclonedx lists the crates compiled into /bin/tinyweb. An image holds more: the Rust
standard library and the musl libc that rustc's musl target links statically into tinyweb, tini
(and the musl it was linked against), and in UPX-packed binaries UPX's decompression stub. This
adds those as components, makes the image itself the SBOM's subject (a `container` component
carrying the image ID, i.e. the config digest that Docker and registries show), and fixes the
fields that would differ between two builds of the same image (timestamp, serial number, the
checkout path), so the SBOM is as reproducible as the image.

Usage: sbom.py CARGO_SBOM DEFINITION VARIANT IMAGE_TARBALL OUTPUT --checkout DIR
           --rust VERSION --rust-musl VERSION --tini VERSION --tini-musl VERSION --upx VERSION
The Nix build (nix/sbom.nix) calls it with the versions of its own toolchain and packages.
"""

import argparse
import hashlib
import json
import sys
import tarfile
import uuid


def image_id(path):
    """The image's config digest, as `docker images --no-trunc` shows it (any compression)."""
    with tarfile.open(path, "r:*") as archive:
        manifest = json.load(archive.extractfile("manifest.json"))
        config = archive.extractfile(manifest[0]["Config"]).read()
    return f"sha256:{hashlib.sha256(config).hexdigest()}"


def component(kind, ref, name, version, purl, description, licenses=None):
    entry = {"type": kind, "bom-ref": ref, "name": name, "version": version, "purl": purl,
             "description": description}
    if licenses:
        entry["licenses"] = [{"expression": licenses}]
    return entry


def image_sbom(cargo, definition, variant, image, args):
    """The image's SBOM: cargo's crates, plus what else the image's two binaries hold."""
    if variant not in definition["variants"]:
        raise ValueError(f"unknown variant {variant!r} (known: {', '.join(sorted(definition['variants']))})")
    spec = definition["variants"][variant]
    crate = cargo["metadata"]["component"]
    crate_ref = crate["bom-ref"]
    image_ref = f"image:{definition['name']}:{variant}"
    extra = [
        component("library", "rust-std", "rust-std", args.rust, f"pkg:generic/rust-std@{args.rust}",
                  "The Rust standard library, linked statically into /bin/tinyweb", "MIT OR Apache-2.0"),
        component("library", "musl:tinyweb", "musl", args.rust_musl, f"pkg:generic/musl@{args.rust_musl}",
                  "musl libc from rustc's self-contained musl target, linked statically into /bin/tinyweb",
                  "MIT"),
        component("application", "tini", "tini", args.tini, f"pkg:github/krallin/tini@v{args.tini}",
                  "tini, the image's PID 1 (/bin/tini), linked statically against musl", "MIT"),
        component("library", "musl:tini", "musl", args.tini_musl, f"pkg:generic/musl@{args.tini_musl}",
                  "musl libc, linked statically into /bin/tini", "MIT"),
    ]
    packed = [name for name, flag in (("tinyweb", spec.get("upx")), ("tini", spec.get("tiniUpx"))) if flag]
    if packed:
        extra.append(component(
            "application", "upx", "upx", args.upx, f"pkg:generic/upx@{args.upx}",
            f"UPX's decompression stub, part of the packed /bin/{' and /bin/'.join(packed)}",
            "GPL-2.0-or-later WITH UPX-exception"))
    subject = {
        "type": "container",
        "bom-ref": image_ref,
        "name": definition["name"],
        "version": variant,
        "description": definition["config"]["Labels"]["org.opencontainers.image.description"],
        "hashes": [{"alg": "SHA-256", "content": image.split(":", 1)[1]}],
        "properties": [
            {"name": "tinyweb:image:id", "value": image},
            {"name": "tinyweb:image:tag", "value": f"{definition['name']}:{variant}"},
            {"name": "tinyweb:image:files", "value": "/bin/tini /bin/tinyweb"},
        ],
    }
    dependencies = [d for d in cargo.get("dependencies", []) if d["ref"] != crate_ref]
    crate_deps = next((d["dependsOn"] for d in cargo.get("dependencies", []) if d["ref"] == crate_ref), [])
    dependencies += [
        {"ref": image_ref, "dependsOn": [crate_ref, "tini"] + (["upx"] if packed else [])},
        {"ref": crate_ref, "dependsOn": crate_deps + ["rust-std", "musl:tinyweb"]},
        {"ref": "tini", "dependsOn": ["musl:tini"]},
    ]
    return {
        "bomFormat": "CycloneDX",
        "specVersion": "1.5",
        # The same image always gets the same serial number: the SBOM is reproducible too.
        "serialNumber": f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, definition['name'] + '@' + image)}",
        "version": 1,
        "metadata": {
            "timestamp": definition["created"],
            "tools": cargo["metadata"].get("tools", []) + [{"name": "docker/sbom.py"}],
            "component": subject,
            "properties": cargo["metadata"].get("properties", []),
        },
        "components": [{k: v for k, v in crate.items() if k != "scope"}] + cargo["components"] + extra,
        "dependencies": dependencies,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("cargo_sbom", help="cargo cyclonedx --format json output")
    parser.add_argument("definition", help="nix/image.json")
    parser.add_argument("variant", help="a key of the definition's variants")
    parser.add_argument("image", help="the variant's docker-archive tarball (plain or compressed)")
    parser.add_argument("output", help="the image's SBOM to write")
    parser.add_argument("--checkout", required=True, help="the source directory cargo-cyclonedx ran in")
    for option in ("rust", "rust-musl", "tini", "tini-musl", "upx"):
        parser.add_argument(f"--{option}", required=True, help=f"{option} version")
    args = parser.parse_args()
    try:
        with open(args.cargo_sbom) as f:
            # cargo-cyclonedx records the checkout's absolute path in bom-refs and purls.
            cargo = json.loads(f.read().replace(f"file://{args.checkout.rstrip('/')}", "file://."))
        with open(args.definition) as f:
            definition = json.load(f)
        sbom = image_sbom(cargo, definition, args.variant, image_id(args.image), args)
        with open(args.output, "w") as f:
            json.dump(sbom, f, indent=2, sort_keys=True)
            f.write("\n")
    except KeyError as error:
        sys.exit(f"sbom.py: {args.cargo_sbom} or {args.definition} lacks the key {error}")
    except (OSError, ValueError, tarfile.TarError) as error:
        sys.exit(f"sbom.py: {error}")


if __name__ == "__main__":
    main()
