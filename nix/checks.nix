# Everything `nix flake check` builds: the cargo checks (crane), Nix hygiene, closure, layout and
# size claims on the binaries and images, a sandbox smoke test of each binary, and the NixOS VM
# test (the only one that needs KVM). Returns a set of checks, so it is imported.
{ pkgs, craneLib, crate, binaries, images, imageSpec, tini, advisory-db, flakeRoot }:
let
  inherit (pkgs) lib runCommand;
  inherit (crate) commonArgs cargoArtifacts;
  inherit (commonArgs) src;

  cargoChecks = {
    tinyweb-clippy = craneLib.cargoClippy (commonArgs // {
      inherit cargoArtifacts;
      cargoClippyExtraArgs = "--all-targets -- --deny warnings";
    });
    tinyweb-fmt = craneLib.cargoFmt { inherit src; };
    # Integration tests spawn the built binary and talk to it over loopback, which the sandbox has;
    # the PID 1 test runs it under `unshare --map-root-user --fork --pid` (util-linux).
    tinyweb-test = craneLib.cargoTest (commonArgs // {
      inherit cargoArtifacts;
      nativeBuildInputs = [ pkgs.util-linux ];
    });
    tinyweb-audit = craneLib.cargoAudit { inherit src advisory-db; };
    # `bans licenses sources` (crane's default) against deny.toml, as tests/run.sh runs it.
    tinyweb-deny = craneLib.cargoDeny { inherit src; };
  };

  nixFiles = lib.sources.sourceFilesBySuffices flakeRoot [ ".nix" ];
  hygieneChecks = {
    # The flake's `formatter`, in check mode; nix/lint.sh runs the same tools without Nix.
    tinyweb-nixpkgs-fmt = runCommand "tinyweb-nixpkgs-fmt" { nativeBuildInputs = [ pkgs.nixpkgs-fmt ]; } ''
      nixpkgs-fmt --check ${nixFiles}
      touch $out
    '';
    tinyweb-deadnix = runCommand "tinyweb-deadnix" { nativeBuildInputs = [ pkgs.deadnix ]; } ''
      deadnix --fail ${nixFiles}
      touch $out
    '';
  };

  # "Closure is only the binary": Nix registers no other store path, and the bytes hold no store
  # path text at all (crane's checks/illegalReferences.nix test), which also rules out the
  # self-reference that would pull a store layer into an image. crane's scrubbed placeholder
  # (eeee...) is allowed. tinyweb is also the binary fed to UPX: packed bytes would hide references.
  closureCheck = name: drv: runCommand "${name}-closure"
    {
      nativeBuildInputs = [ pkgs.binutils-unwrapped ];
      closure = pkgs.writeClosure [ drv ];
    } ''
    echo "runtime closure of ${name}:"
    cat $closure
    [ "$(wc -l < $closure)" -eq 1 ] || { echo "FAIL: ${name} references other store paths"; exit 1; }
    if strings ${drv}/bin/* | grep -o '${builtins.storeDir}/[a-z0-9]\{32\}' | grep -v '/eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee$'; then
      echo "FAIL: ${name} holds the store paths above"
      exit 1
    fi
    touch $out
  '';

  # Starts the binary inside the build sandbox and gets `Hello, World!` from it over loopback.
  smokeCheck = name: drv: runCommand "${name}-smoke" { nativeBuildInputs = [ pkgs.curl ]; } ''
    bash ${../tests/smoke.sh} ${lib.getExe drv}
    touch $out
  '';

  # Size budgets, in bytes of uncompressed layers, live in nix/image.json (sizeBudgetBytes).
  imageCheck = tag: image: runCommand "image-${tag}-layout-and-size"
    { nativeBuildInputs = [ pkgs.jq ]; } ''
    mkdir image
    tar -xzf ${image} -C image
    repoTags=$(jq -r '.[0].RepoTags | join(" ")' image/manifest.json)
    [ "$repoTags" = "${imageSpec.name}:${tag}" ] || { echo "FAIL: image is '$repoTags'"; exit 1; }

    for layer in $(jq -r '.[0].Layers[]' image/manifest.json); do
      tar -tf "image/$layer"
    done | sed -e 's|^\./||' -e 's|/$||' -e '/^\.\?$/d' | sort -u > tree
    printf '%s\n' bin bin/tini bin/tinyweb > expected
    diff -u expected tree || { echo "FAIL: the image tree is not exactly /bin/tini and /bin/tinyweb"; exit 1; }

    total=0
    for layer in $(jq -r '.[0].Layers[]' image/manifest.json); do
      total=$((total + $(stat -c %s "image/$layer")))
    done
    echo "image-${tag}: $total bytes of layers, budget ${toString imageSpec.sizeBudgetBytes.${tag}}"
    [ "$total" -le ${toString imageSpec.sizeBudgetBytes.${tag}} ] || { echo "FAIL: over budget"; exit 1; }
    touch $out
  '';

  # image-naive (the toolchain image, gigabytes) is left out: it is only the size table's 100 % row.
  ladder = lib.filterAttrs (name: _: name != "image-naive") images;
in
binaries // ladder // cargoChecks // hygieneChecks // {
  tinyweb-closure = closureCheck "tinyweb" binaries.tinyweb;
  tinyweb-debug-closure = closureCheck "tinyweb-debug" binaries.tinyweb-debug;
  tini-closure = closureCheck "tini" tini;
  tinyweb-smoke = smokeCheck "tinyweb" binaries.tinyweb;
  tinyweb-debug-smoke = smokeCheck "tinyweb-debug" binaries.tinyweb-debug;
  tinyweb-upx-smoke = smokeCheck "tinyweb-upx" binaries.tinyweb-upx;
  tinyweb-vm-docker = pkgs.callPackage ./vm-test.nix {
    inherit (images) image-tiniest image-stripped;
  };
}
  // lib.mapAttrs' (tag: _: lib.nameValuePair "image-${tag}-layout-and-size" (imageCheck tag images."image-${tag}")) imageSpec.variants
