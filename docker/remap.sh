# Sourced by docker/*.sh. The flags that keep the build machine's paths out of the binaries, so
# that a clone anywhere, any CARGO_HOME and any toolchain location give the same bytes:
#   the checkout                               -> /tinyweb
#   CARGO_HOME (the registry's sources)        -> /cargo
#   the toolchain's sysroot                    -> /rustc-sysroot
#   its rust-src (std, when rebuilt or inlined) -> /rustc/COMMIT, where the shipped std says it was
# (Cargo's trim-paths would do this but is unstable.) They go in CARGO_TARGET_<TRIPLE>_RUSTFLAGS,
# which Cargo joins with .cargo/config.toml's target.'cfg(...)'.rustflags, where RUSTFLAGS would
# replace them; and, being target flags, they reach the rebuilt std as well, never build scripts.

# Prints the name of the variable that carries TARGET's rustflags.
rustflags_var() {
  echo "CARGO_TARGET_$(echo "$1" | tr 'a-z-' 'A-Z_')_RUSTFLAGS"
}

# Prints the remapping flags for a build run from the checkout's root (the current directory).
remap_flags() {
  local checkout cargo_home sysroot commit
  checkout=$(pwd -P)
  cargo_home=$(realpath -m "${CARGO_HOME:-$HOME/.cargo}")
  sysroot=$(rustc --print sysroot)
  commit=$(rustc -vV | sed -n 's/^commit-hash: //p')
  # Cargo splits these variables at whitespace.
  if [[ "$checkout$cargo_home$sysroot" =~ [[:space:]] ]]; then
    echo "remap.sh: paths with spaces cannot be remapped: $checkout, $cargo_home, $sysroot" >&2
    return 1
  fi
  # rustc applies the last matching mapping: the more specific rust-src one comes last.
  echo "--remap-path-prefix=$checkout=/tinyweb --remap-path-prefix=$cargo_home=/cargo" \
    "--remap-path-prefix=$sysroot=/rustc-sysroot" \
    "--remap-path-prefix=$sysroot/lib/rustlib/src/rust=/rustc/$commit"
}

# Prints the extra rustflags of the release and debuginfo builds (the stripped and scratch rungs),
# nix/image.json's releaseRustflags, as the flake passes them: one inline threshold for every crate
# (Cargo.toml, [profile.release.package."*"]). The minimal rung does without (docker/minimal.sh).
release_rustflags() {
  python3 -c 'import json; print(*json.load(open("nix/image.json"))["releaseRustflags"])'
}
