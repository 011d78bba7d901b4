# What `nix flake check` runs besides building the packages. Every cargo check reuses the checks'
# deps of its profile (`builds.checkDeps`, built on the image's `builds.deps`), so nothing is
# compiled twice. The checks are leaves: nothing reads their target directory, so they do not
# install it (crane's cargoClippy and cargoTest would, as target.tar.zst, into the cache too).
{
  craneLib,
  src,
  # The profile the checks build with, crate.nix's result for it (crane's, whichever builder
  # makes the binaries: nix/per-system.nix) and that profile's `image`.
  profile,
  builds,
  # `cargo test` arguments and the tools the tests run, from the `tests` key.
  testArgs,
  testInputs,
}:
let
  inherit (builds) commonArgs;
in
{
  clippy = craneLib.cargoClippy (
    commonArgs
    // {
      cargoArtifacts = builds.checkDeps;
      cargoClippyExtraArgs = "--all-targets -- --deny warnings";
      doInstallCargoArtifacts = false;
    }
  );

  fmt = craneLib.cargoFmt { inherit src; };

  # Only the tests that run in a Nix build sandbox: the whole workspace unless the `tests` key
  # selects targets or skips tests by name (those needing a database, a registry, network).
  tests = craneLib.cargoTest (
    commonArgs
    // {
      cargoArtifacts = builds.checkDeps;
      doInstallCargoArtifacts = false;
      cargoTestExtraArgs = testArgs;
      # Test-only tools: the deps never see them.
      nativeBuildInputs = commonArgs.nativeBuildInputs ++ testInputs;
    }
  );

  # The image of that profile: `nix flake check` proves it builds.
  "image-${profile}" = builds.image;
}
