# `nix run .#publish -- REGISTRY/REPOSITORY [SKOPEO COPY FLAGS]`: pushes this system's images to a
# registry with skopeo, as REPOSITORY:VARIANT-ARCH in Docker's schema 2 (`--format v2s2`: the OCI
# config has no HEALTHCHECK field, schema 2 keeps it). tests/image/registry.py runs the same
# skopeo command on the Docker build's tarballs against a real registry, then joins the
# architectures into one index per variant with `buildah manifest`.
{ lib, stdenv, writeShellApplication, skopeo, gzip, coreutils, images, imageSpec }:
let
  # Docker's names for the two systems the flake builds for.
  arch = { x86_64 = "amd64"; aarch64 = "arm64"; }.${stdenv.hostPlatform.parsed.cpu.name};
  push = variant: ''
    # The result is gzipped; skopeo 1.9 (Debian bookworm) reads only a plain docker-archive.
    gzip -dcf ${images."image-${variant}"} >"$work/${variant}.tar"
    skopeo --policy ${skopeo.policy}/default-policy.json copy --format v2s2 "$@" \
      "docker-archive:$work/${variant}.tar" "docker://$repository:${variant}-${arch}"
    echo "pushed $repository:${variant}-${arch}"
  '';
in
writeShellApplication {
  name = "tinyweb-publish";
  runtimeInputs = [ skopeo gzip coreutils ];
  text = ''
    if [ $# -lt 1 ] || [ "$1" = --help ]; then
      echo "usage: nix run .#publish -- REGISTRY/REPOSITORY [skopeo copy flags, e.g. --dest-tls-verify=false]" >&2
      exit 2
    fi
    repository=$1
    shift
    work=$(mktemp -d)
    trap 'rm -rf "$work"' EXIT
    ${lib.concatMapStrings push (lib.attrNames imageSpec.variants)}
  '';
}
