# What `nix flake check` runs besides building the packages. Every cargo check reuses the deps
# derivation of its profile (`builds.deps`), so nothing is compiled twice.
{
  craneLib,
  src,
  # The profile the checks build with, and crate.nix's result for it (plus `image`).
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
      cargoArtifacts = builds.deps;
      cargoClippyExtraArgs = "--all-targets -- --deny warnings";
    }
  );

  fmt = craneLib.cargoFmt { inherit src; };

  # Only the tests that run in a Nix build sandbox: the whole workspace unless the `tests` key
  # selects targets or skips tests by name (those needing a database, a registry, network).
  tests = craneLib.cargoTest (
    commonArgs
    // {
      cargoArtifacts = builds.deps;
      cargoTestExtraArgs = testArgs;
      # Test-only tools: the deps never see them.
      nativeBuildInputs = commonArgs.nativeBuildInputs ++ testInputs;
    }
  );

  # The image of that profile: `nix flake check` proves it builds.
  "image-${profile}" = builds.image;
}
