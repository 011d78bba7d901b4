# What `nix flake check` runs besides building the packages. Every cargo check reuses the checks'
# deps of its profile (`builds.checkDeps`, built on the image's `builds.deps`), so nothing is
# compiled twice. The checks are leaves: nothing reads their target directory, so they do not
# install it (crane's cargoClippy and cargoTest would, as target.tar.zst, into the cache too).
{
  craneLib,
  callPackage,
  procps,
  src,
  root,
  # The profile the checks build with, and crate.nix's result for it (plus `image`).
  profile,
  builds,
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

  # Only the tests that run in a Nix build sandbox, named explicitly so a new test file is
  # left out until someone decides it belongs: unit tests (--lib --bins), demo-service's HTTP
  # test (loopback only) and `ship plan` on the fixtures. The other integration tests of
  # crates/ship run tools a sandbox does not have (nix-instantiate on this repo's .nix files,
  # which cleanCargoSource drops; docker-registry, skopeo, network) and run in CI instead.
  tests = craneLib.cargoTest (
    commonArgs
    // {
      cargoArtifacts = builds.checkDeps;
      doInstallCargoArtifacts = false;
      cargoTestExtraArgs = "--lib --bins --test http --test plan_cli";
      # tests/http.rs stops the service with kill(1). Test-only: the deps never see it.
      nativeBuildInputs = [ procps ];
    }
  );

  # The image of that profile: `nix flake check` proves it builds.
  "image-${profile}" = builds.image;

  nix-tests = callPackage ./nix-tests.nix { inherit root; };
}
