# The article's image ladder, every rung from the one definition in nix/image.json.
# Build and load one: `nix build .#image-tiniest && docker load < result` gives tinyweb:tiniest.
# Returns a set of images, so it is imported (callPackage would add `override` attributes that
# `nix flake check` rejects as non-derivations).
{ lib, dockerTools, imageSpec, binaries, tini, naiveToolchain, revision, version }:
let
  imageConfig = imageSpec.config // {
    Labels = imageSpec.config.Labels // {
      "org.opencontainers.image.revision" = revision;
      "org.opencontainers.image.version" = version;
    };
  };

  # Store-free tree: the static binaries are copied (not linked) into the customisation layer,
  # so the image holds /bin/tini and /bin/tinyweb and no /nix/store, byte for byte the tree the
  # Docker-built images hold. Both binaries reference no store path (the *-closure checks).
  mkImage = { tag, binary, init ? null, contents ? [ ], config ? imageConfig }:
    dockerTools.buildLayeredImage {
      inherit (imageSpec) name created;
      # The archive's own entries (layer tarball, config, manifest) are stamped with `mtime`, as
      # docker/pack.py stamps them with `created`; the files inside the layer get stdenv's
      # SOURCE_DATE_EPOCH (1980-01-01) whatever these say, and docker/pack.py does the same.
      mtime = imageSpec.created;
      inherit tag contents config;
      extraCommands = ''
        mkdir -p bin
        ${lib.optionalString (init != null) "cp ${lib.getExe init} bin/tini"}
        cp ${lib.getExe binary} bin/tinyweb
      '';
    };

  # scratch (tinyweb-debug), stripped (tinyweb), minimal (tinyweb-minimal), tiniest (tinyweb-upx):
  # each with static tini as PID 1, UPX-packed where the variant says tiniUpx (tiniest).
  ladder = lib.mapAttrs'
    (tag: variant: lib.nameValuePair "image-${tag}" (mkImage {
      inherit tag;
      binary = binaries.${variant.binary};
      init = if variant.tiniUpx then binaries.tini-upx else tini;
    }))
    imageSpec.variants;
in
ladder // {
  # The article's first row, kept only as the 100 % reference of the size table: the whole
  # build toolchain shipped next to the debug binary, and no tini (the service is PID 1).
  image-naive = mkImage {
    tag = "naive";
    binary = binaries.tinyweb-debug;
    contents = naiveToolchain;
    config = removeAttrs imageConfig [ "Entrypoint" ];
  };
}
