{
  # Quick start: `nix build .#image-tiniest && docker load < result`, then `nix flake check`.
  # Wiring only: the builds live in nix/*.nix, the image definition in nix/image.json.
  description = "tinyweb: a warp hello-world service as the smallest reproducible container images";

  inputs = {
    nixpkgs.url = "github:NixOS/nixpkgs/nixos-26.05";
    crane.url = "github:ipetkov/crane";
    # The toolchain rust-toolchain.toml names: prebuilt std for both musl targets, and rust-src.
    rust-overlay = {
      url = "github:oxalica/rust-overlay";
      inputs.nixpkgs.follows = "nixpkgs";
    };
    advisory-db = {
      url = "github:rustsec/advisory-db";
      flake = false;
    };
    flake-utils.url = "github:numtide/flake-utils";
  };

  outputs = { self, nixpkgs, crane, rust-overlay, advisory-db, flake-utils }:
    flake-utils.lib.eachSystem [ "x86_64-linux" "aarch64-linux" ] (system:
      let
        pkgs = import nixpkgs {
          inherit system;
          # rust-overlay is pinned as crane's test/flake.lock pins it at crane 2c71e19, the commit
          # after this flake's crane pin (b8d87f7, whose test flake still had an older one).
          overlays = [ (import rust-overlay) ];
        };
        inherit (pkgs) lib;
        # Each system builds for its own musl target: x86_64- or aarch64-unknown-linux-musl.
        target = "${pkgs.stdenv.hostPlatform.parsed.cpu.name}-unknown-linux-musl";
        # One compiler for both paths: the release, components and targets rustup reads too.
        toolchain = p: p.rust-bin.fromRustupToolchainFile ./rust-toolchain.toml;
        rustSrc = (toolchain pkgs).passthru.availableComponents.rust-src;
        craneLib = (crane.mkLib pkgs).overrideToolchain toolchain;
        imageSpec = builtins.fromJSON (builtins.readFile ./nix/image.json);
        # Checked-in copy of the toolchain's library/Cargo.lock (nix/check-std-lock.sh).
        stdLock = ./nix/std-Cargo.lock;
        tini = pkgs.pkgsStatic.tini;

        crate = import ./nix/package.nix {
          inherit lib craneLib target rustSrc stdLock;
          inherit (pkgs) cargo-auditable;
          inherit (imageSpec) releaseRustflags;
          src = ./.;
        };
        upx = import ./nix/upx.nix {
          inherit lib;
          inherit (pkgs) runCommand upx bash;
          inherit (imageSpec) upxFlags;
          inherit (crate) tinyweb-minimal;
          inherit tini;
        };
        binaries = { inherit (crate) tinyweb tinyweb-debug tinyweb-minimal; } // upx;
        images = import ./nix/images.nix {
          inherit lib imageSpec binaries tini;
          inherit (pkgs) dockerTools;
          naiveToolchain = [ (toolchain pkgs) pkgs.stdenv.cc pkgs.bashInteractive pkgs.coreutils ];
          revision = self.rev or "dirty";
          inherit (crate) version;
        };
      in
      {
        packages = binaries // images // {
          default = crate.tinyweb;
          size-table = pkgs.callPackage ./nix/size-table.nix { inherit images imageSpec; };
          sbom = pkgs.callPackage ./nix/sbom.nix {
            inherit craneLib target images imageSpec;
            inherit (crate) commonArgs;
          };
        };

        checks = import ./nix/checks.nix {
          inherit pkgs craneLib crate binaries images imageSpec advisory-db rustSrc stdLock tini;
          flakeRoot = ./.;
        };

        apps.default = flake-utils.lib.mkApp { drv = crate.tinyweb; };
        apps.publish = flake-utils.lib.mkApp {
          drv = pkgs.callPackage ./nix/publish.nix { inherit images imageSpec; };
        };

        devShells.default = craneLib.devShell {
          packages = with pkgs; [ upx deadnix nixpkgs-fmt cargo-deny cargo-audit curl jq ];
        };

        formatter = pkgs.nixpkgs-fmt;
      });
}
