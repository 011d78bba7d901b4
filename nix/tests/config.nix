# The pure logic of nix/lib (configuration, attribute names, image metadata) on the repo's
# Cargo.toml, the sample manifests of crates/ship/tests/fixtures and manifests written here.
# crates/ship/tests/nix_eval.rs additionally holds every answer against `ship plan`.
let
  h = import ./harness.nix;
  shipLib = import ../lib;
  inherit (shipLib) attrs;
  fixture = name: shipLib.config { path = ../../crates/ship/tests/fixtures + "/${name}/Cargo.toml"; };
  repo = shipLib.config { path = ../../Cargo.toml; };

  # A manifest like ship's config::test_manifest: package `svc`, a custom profile `fast`, and
  # `ship` as the text of [workspace.metadata.ship] with its own sub-tables.
  inline =
    ship:
    shipLib.config {
      path = "Cargo.toml";
      manifest = builtins.fromTOML ''
        [package]
        name = "svc"
        version = "0.1.0"

        [workspace]

        [profile.fast]
        inherits = "release"

        ${ship}
      '';
    };

  minimal = fixture "minimal";
  cross = fixture "cross";
  custom = fixture "custom";
  image =
    config: profile: platform:
    shipLib.image {
      inherit config profile platform;
      rev = "f00d";
    };
  releaseArm64 = image repo "release" "linux/arm64";
in
h.run "config" [
  (h.eq "repo: variants" (builtins.mapAttrs (_: v: [
    v.profile
    v.platforms
  ]) repo.variants) {
    dev = [
      "dev"
      [ "linux/amd64" ]
    ];
    production = [
      "release"
      [
        "linux/amd64"
        "linux/arm64"
      ]
    ];
  })
  (h.eq "repo: profiles" repo.profiles [
    "dev"
    "release"
  ])
  (h.eq "repo: image, binary, cache" [ repo.image repo.binary repo.cache ] [
    "ghcr.io/ship-rs/demo-service"
    "demo-service"
    "cachix:ship-demo"
  ])
  (h.eq "repo: source comes from the inherited repository" repo.source "https://github.com/ship-rs/ship")
  (h.eq "repo: arm64 builds natively" repo.builders."linux/arm64" {
    runner = "ubuntu-24.04-arm";
    cross = false;
  })

  (h.eq "minimal: everything defaulted" [
    minimal.image
    minimal.binary
    minimal.cache
    minimal.source
    minimal.defaultVariant
    (builtins.attrNames minimal.variants)
    (builtins.length minimal.rules)
  ] [ "tiny" "tiny" null null "dev" [ "dev" "production" ] 2 ])
  (h.eq "minimal: default rules" (map (r: [
    r.tag
    r.semver
    r.variant
  ]) minimal.rules) [
    [
      "v*"
      true
      "production"
    ]
    [
      "dev-*"
      false
      "dev"
    ]
  ])

  (h.eq "cross: a cross builder defaults to an amd64 runner" cross.builders."linux/arm64" {
    runner = "ubuntu-24.04";
    cross = true;
  })
  (h.eq "cross: production matrix" (attrs.matrix cross "production") [
    {
      platform = "linux/amd64";
      arch = "amd64";
      system = "x86_64-linux";
      runner = "ubuntu-24.04";
      cross = false;
      attr = "image-release";
      app = "app-release";
      deps = "deps-release";
    }
    {
      platform = "linux/arm64";
      arch = "arm64";
      system = "x86_64-linux";
      runner = "ubuntu-24.04";
      cross = true;
      attr = "image-release-arm64";
      app = "app-release-arm64";
      deps = "deps-release-arm64";
    }
  ])

  (h.eq "custom: profiles of all variants" custom.profiles [
    "dev"
    "fast-release"
    "release"
  ])
  (h.eq "custom: platform order is kept" (map (e: e.attr) (attrs.matrix custom "staging")) [
    "image-fast-release"
    "image-fast-release"
  ])
  (h.eq "custom: systems of staging" (map (e: e.system) (attrs.matrix custom "staging")) [
    "aarch64-linux"
    "x86_64-linux"
  ])
  (h.eq "custom: no root package, no version" custom.package.version null)
  (h.that "custom: x86_64-linux has the custom profile's cross build" (builtins.elem "image-fast-release-arm64" (attrs.packageNames custom).x86_64-linux) "image-fast-release-arm64 missing")
  (h.that "custom: aarch64-linux has no cross build" (!builtins.elem "image-fast-release-arm64" (attrs.packageNames custom).aarch64-linux) "aarch64-linux must not list -arm64 attributes")

  (h.eq "names: native dev on amd64" (attrs.forPlatform "dev" "linux/amd64" false) {
    system = "x86_64-linux";
    image = "image-dev";
    app = "app-dev";
    deps = "deps-dev";
  })
  (h.eq "names: native release on arm64" (attrs.forPlatform "release" "linux/arm64" false) {
    system = "aarch64-linux";
    image = "image-release";
    app = "app-release";
    deps = "deps-release";
  })
  (h.eq "names: cross release for arm64" (attrs.forPlatform "release" "linux/arm64" true) {
    system = "x86_64-linux";
    image = "image-release-arm64";
    app = "app-release-arm64";
    deps = "deps-release-arm64";
  })

  (h.eq "inline: a custom profile is accepted when defined" (inline ''
    [workspace.metadata.ship.variants.fast]
    profile = "fast"
    [workspace.metadata.ship.variants.dev]
    profile = "dev"
    [workspace.metadata.ship.variants.production]
  '').variants.production.profile "release")
  (h.eq "inline: an empty cache is no cache" (inline ''
    [workspace.metadata.ship]
    cache = ""
  '').cache null)
  (h.eq "inline: no table at all is the minimal table" (shipLib.config {
    path = "Cargo.toml";
    manifest = {
      package = {
        name = "x";
        version = "0.1.0";
      };
    };
  }).binary "x")
  (h.fails "inline: unknown key" (inline ''
    [workspace.metadata.ship]
    colour = 1
  ''))
  (h.fails "inline: unknown variant key" (inline ''
    [workspace.metadata.ship.variants.dev]
    platfroms = []
  ''))
  (h.fails "inline: unknown platform" (inline ''
    [workspace.metadata.ship.variants.dev]
    platforms = ["linux/riscv64"]
    [workspace.metadata.ship.variants.production]
  ''))
  (h.fails "inline: duplicate platform" (inline ''
    [workspace.metadata.ship.variants.dev]
    platforms = ["linux/amd64", "linux/amd64"]
    [workspace.metadata.ship.variants.production]
  ''))
  (h.fails "inline: unknown profile" (inline ''
    [workspace.metadata.ship.variants.dev]
    profile = "speedy"
    [workspace.metadata.ship.variants.production]
  ''))
  (h.fails "inline: unknown default variant" (inline ''
    [workspace.metadata.ship]
    default-variant = "staging"
  ''))
  (h.fails "inline: rule for an unknown variant" (inline ''
    [[workspace.metadata.ship.rules]]
    tag = "x*"
    variant = "qa"
  ''))
  (h.fails "inline: rule matching everything" (inline ''
    [[workspace.metadata.ship.rules]]
    variant = "dev"
  ''))
  (h.fails "inline: cross amd64" (inline ''
    [workspace.metadata.ship.builders."linux/amd64"]
    cross = true
  ''))
  (h.eq "adopt-database: include, in the order given" (fixture "adopt-database").include [
    "migrations"
    ".sqlx"
  ])
  (h.eq "repo: ship init's templates included" repo.include [ "crates/ship/src/init/templates" ])
  (h.fails "inline: include outside the workspace" (inline ''
    [workspace.metadata.ship]
    include = ["../shared"]
  ''))
  (h.fails "inline: include per variant" (inline ''
    [workspace.metadata.ship.variants.dev]
    include = ["migrations"]
  ''))
  (h.fails "adopt-database: an include path the workspace lacks" (shipLib.config {
    path = ../../crates/ship/tests/fixtures/adopt-database/Cargo.toml;
    manifest = {
      workspace.metadata.ship.include = [ "proto" ];
      package.name = "billing";
    };
  }))
  (h.fails "inline: image with a tag" (inline ''
    [workspace.metadata.ship]
    image = "ghcr.io/me/app:1.0"
  ''))
  (h.fails "inline: uppercase image path" (inline ''
    [workspace.metadata.ship]
    image = "ghcr.io/Me/App"
  ''))
  (h.fails "inline: not a cache" (inline ''
    [workspace.metadata.ship]
    cache = "ftp://x"
  ''))
  (h.fails "inline: wrong type" (inline ''
    [workspace.metadata.ship]
    image = 3
  ''))
  (h.fails "inline: no variants" (inline ''
    [workspace.metadata.ship.variants]
  ''))
  (h.fails "fixture bad-key" (fixture "bad-key"))
  (h.fails "fixture bad-platform" (fixture "bad-platform"))
  (h.fails "fixture bad-rule" (fixture "bad-rule"))

  (h.eq "image: arm64 release metadata" {
    inherit (releaseArm64)
      name
      tag
      architecture
      created
      ;
  } {
    name = "ghcr.io/ship-rs/demo-service";
    tag = "release-arm64";
    architecture = "arm64";
    created = "1970-01-01T00:00:01Z";
  })
  (h.eq "image: OCI labels" releaseArm64.imageConfig.Labels {
    "org.opencontainers.image.source" = "https://github.com/ship-rs/ship";
    "org.opencontainers.image.revision" = "f00d";
    "org.opencontainers.image.version" = "0.1.0";
    "org.opencontainers.image.title" = "demo-service";
  })
  (h.that "image: runs as a non-root user" (
    builtins.match "0(:.*)?|root(:.*)?" releaseArm64.imageConfig.User == null
  ) "User is ${releaseArm64.imageConfig.User}")
  (h.that "image: the user is in /etc/passwd" (
    builtins.match ".*\napp:x:65532:65532:.*" ("\n" + releaseArm64.passwd) != null
  ) releaseArm64.passwd)
  (h.eq "image: no null labels for a manifest without source or version"
    (builtins.attrNames (image custom "dev" "linux/amd64").imageConfig.Labels)
    [
      "org.opencontainers.image.revision"
      "org.opencontainers.image.title"
    ]
  )
]
