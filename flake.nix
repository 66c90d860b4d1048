{
  # Quick start: `nix build .#image-tiniest && docker load < result`, then `nix flake check`.
  # Wiring only: the builds live in nix/*.nix, the image definition in nix/image.json.
  description = "tinyweb: a warp hello-world service as the smallest reproducible container images";

  inputs = {
    nixpkgs.url = "github:NixOS/nixpkgs/nixos-26.05";
    crane.url = "github:ipetkov/crane";
    # Prebuilt Rust std for the musl targets, as crane's cross-musl example does.
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
          # As crane's test flake does with this same rust-overlay pin.
          overlays = [ (import rust-overlay) ];
        };
        inherit (pkgs) lib;
        # Each system builds for its own musl target: x86_64- or aarch64-unknown-linux-musl.
        target = "${pkgs.stdenv.hostPlatform.parsed.cpu.name}-unknown-linux-musl";
        toolchain = p: p.rust-bin.stable.latest.default.override { targets = [ target ]; };
        craneLib = (crane.mkLib pkgs).overrideToolchain toolchain;
        imageSpec = builtins.fromJSON (builtins.readFile ./nix/image.json);

        crate = import ./nix/package.nix { inherit craneLib target; src = ./.; };
        tinyweb-upx = pkgs.callPackage ./nix/upx.nix {
          inherit (crate) tinyweb version;
          inherit (imageSpec) upxFlags;
        };
        binaries = { inherit (crate) tinyweb tinyweb-debug; inherit tinyweb-upx; };
        images = import ./nix/images.nix {
          inherit lib imageSpec binaries;
          inherit (pkgs) dockerTools;
          tini = pkgs.pkgsStatic.tini;
          naiveToolchain = [ (toolchain pkgs) pkgs.stdenv.cc pkgs.bashInteractive pkgs.coreutils ];
          revision = self.rev or "dirty";
          inherit (crate) version;
        };
      in
      {
        packages = binaries // images // {
          default = crate.tinyweb;
          size-table = pkgs.callPackage ./nix/size-table.nix { inherit images imageSpec; };
        };

        checks = import ./nix/checks.nix {
          inherit pkgs craneLib crate binaries images imageSpec advisory-db;
          tini = pkgs.pkgsStatic.tini;
          flakeRoot = ./.;
        };

        apps.default = flake-utils.lib.mkApp { drv = crate.tinyweb; };

        devShells.default = craneLib.devShell {
          packages = with pkgs; [ upx deadnix nixpkgs-fmt cargo-deny cargo-audit curl jq ];
        };

        formatter = pkgs.nixpkgs-fmt;
      });
}
