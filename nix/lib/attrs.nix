# Flake attribute names: the Nix side of `plan::attrs` in crates/ship/src/plan.rs, and the
# build matrix `ship plan` emits for a variant. Native builds live under the platform's own
# system as `<kind>-<profile>`; arm64 cross builds live under x86_64-linux as
# `<kind>-<profile>-arm64`. builtins only.
let
  u = import ./util.nix;

  arch = {
    "linux/amd64" = "amd64";
    "linux/arm64" = "arm64";
  };
  nativeSystem = {
    "linux/amd64" = "x86_64-linux";
    "linux/arm64" = "aarch64-linux";
  };
in
rec {
  systems = [
    "x86_64-linux"
    "aarch64-linux"
  ];

  # The system whose packages build `platform` by cross-compilation.
  crossBuildSystem = "x86_64-linux";
  crossPlatforms = [ "linux/arm64" ];

  inherit arch nativeSystem;

  # (profile, platform, cross) -> where the three attributes of that build live.
  forPlatform =
    profile: platform: cross:
    let
      suffix = if cross then "-${arch.${platform}}" else "";
      name = kind: "${kind}-${profile}${suffix}";
    in
    {
      system = if cross then crossBuildSystem else nativeSystem.${platform};
      image = name "image";
      app = name "app";
      deps = name "deps";
    };

  # The checks' dependency artifacts (check --all-targets, test --no-run), built on the deps of
  # the checks' profile; `nix flake check` builds them, no image waits for them.
  checksDeps = "deps-checks";

  # The package names every system exposes for a configuration: both native and cross builds
  # of every profile any variant uses, whatever `cross` says (the configuration only picks
  # which one `ship plan` sends a runner to), plus `default`, `ship` and `checksDeps`.
  packageNames =
    config:
    let
      triple = a: [
        a.deps
        a.app
        a.image
      ];
      nativeOf =
        system: profile:
        triple (forPlatform profile (if system == "x86_64-linux" then "linux/amd64" else "linux/arm64") false);
      crossOf = profile: builtins.concatMap (p: triple (forPlatform profile p true)) crossPlatforms;
      names =
        system:
        builtins.concatMap (
          profile: nativeOf system profile ++ (if system == crossBuildSystem then crossOf profile else [ ])
        ) config.profiles;
    in
    u.genAttrs systems (
      system:
      builtins.sort builtins.lessThan (
        names system
        ++ [
          "default"
          "ship"
          checksDeps
        ]
      )
    );

  # The `matrix.include` of `ship plan --variant NAME --format json`.
  matrix =
    config: variantName:
    map (
      platform:
      let
        builder = config.builders.${platform};
        a = forPlatform config.variants.${variantName}.profile platform builder.cross;
      in
      {
        inherit platform;
        arch = arch.${platform};
        inherit (a) system app deps;
        inherit (builder) runner cross;
        attr = a.image;
      }
    ) config.variants.${variantName}.platforms;
}
