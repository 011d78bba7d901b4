# Stand-in for `import nixpkgs { ... }` (nixpkgs pkgs/top-level/impure.nix and default.nix):
# a package set for a build and a host platform, overlays applied to every spliced set as in
# nixpkgs, and only the packages and functions nix/*.nix uses, so anything else is a missing
# attribute here and gets a stand-in on purpose.
#
# Arguments: impure.nix (read at 09c66f40454de7afceb2101105657e96def9133f) takes localSystem,
# system, platform, crossSystem, config, overlays, crossOverlays and `...`. This stand-in has no
# `...`: a misspelt `crossSystem` would give the real nixpkgs a silent native build, here it
# fails (with a `throw`, so the stand-in tests can catch it).
args:
let
  drv = import ../drv.nix;
  checked = drv.checkArgs "import nixpkgs" [
    "localSystem"
    "system"
    "crossSystem"
    "config"
    "overlays"
    "crossOverlays"
  ] "real nixpkgs would ignore it" args;
  localSystem = checked.localSystem or null;
  system = checked.system or null;
  crossSystem = checked.crossSystem or null;
  config = checked.config or { };
  overlays = checked.overlays or [ ];
  crossOverlays = checked.crossOverlays or [ ];

  known = {
    x86_64-linux = {
      rustcTarget = "x86_64-unknown-linux-gnu";
      cargoEnvVarTarget = "X86_64_UNKNOWN_LINUX_GNU";
      GOARCH = "amd64";
    };
    aarch64-linux = {
      rustcTarget = "aarch64-unknown-linux-gnu";
      cargoEnvVarTarget = "AARCH64_UNKNOWN_LINUX_GNU";
      GOARCH = "arm64";
    };
  };
  platform =
    spec:
    let
      name = if builtins.isString spec then spec else spec.system;
    in
    if !(known ? ${name}) then
      throw "stand-in nixpkgs: unknown system `${name}`; accepted: ${builtins.concatStringsSep ", " (builtins.attrNames known)}"
    else
      {
        system = name;
        config = known.${name}.rustcTarget;
        isLinux = true;
        rust = {
          inherit (known.${name}) rustcTarget cargoEnvVarTarget;
        };
        go.GOARCH = known.${name}.GOARCH;
      };

  buildPlatform = platform (
    if localSystem != null then
      localSystem
    else if system != null then
      system
    else
      throw "stand-in nixpkgs: give localSystem (the tests never use builtins.currentSystem)"
  );
  hostPlatform = if crossSystem == null then buildPlatform else platform crossSystem;

  # One package set; `pkgsBuildHost` and friends are the spliced sets crane and rust-overlay
  # look at (tools that run on the build machine, for the host or target platform).
  mkSet =
    {
      build,
      host,
      target,
    }:
    let
      base = final: {
        lib = import ../lib.nix;
        stdenv = {
          buildPlatform = build;
          hostPlatform = host;
          targetPlatform = target;
          isLinux = true;
          # The C compiler runs on the build platform and targets the host; as in nixpkgs its
          # tools carry the host's config as a prefix when the two differ.
          cc = package "gcc-wrapper" // {
            targetPrefix = if build.system == host.system then "" else "${host.config}-";
          };
        };
        pkgsBuildBuild = mkSet {
          host = build;
          target = build;
          inherit build;
        };
        pkgsBuildHost = mkSet {
          inherit build;
          host = build;
          target = host;
        };
        pkgsHostTarget = final;
        pkgs = final;
        buildPackages = final.pkgsBuildHost;

        # As lib.callPackageWith (lib/customisation.nix, read at
        # 00976b194fe32d3e425ff3b457eeb6e4ec7ba12c; makeOverridable is unchanged in this respect
        # in later revisions' excerpts): missing arguments are Nix's own
        # error, and makeOverridable adds `override` and `overrideDerivation` to an attribute-set
        # result, which is why a set of checks must not come out of callPackage.
        callPackage =
          fn: overrides:
          let
            f = if builtins.isFunction fn then fn else import fn;
            args = builtins.intersectAttrs (builtins.functionArgs f) final // overrides;
            result = f args;
          in
          if builtins.isAttrs result then
            result
            // {
              override = more: final.callPackage fn (overrides // more);
              overrideDerivation = _: throw "stand-in: overrideDerivation is not modelled";
            }
          else
            result;

        go = package "go" // {
          inherit (host.go) GOARCH;
        };
        # What the tests' configurations name as build inputs and image packages.
        llvmPackages = {
          clang = package "clang";
          lld = package "lld";
        };
        dockerTools = import ../docker-tools.nix {
          defaultArchitecture = final.go.GOARCH;
          host = host.system;
        };
      }
      // import ../trivial-builders.nix { host = host.system; }
      // builtins.listToAttrs (
        map
          (n: {
            name = n;
            value = package n;
          })
          [
            "nix"
            "cachix"
            "git"
            "nixfmt-tree"
            "distribution"
            "skopeo"
            "umoci"
            "qemu-user"
            "apacheHttpd"
            "openssl"
            "jq"
            "zstd"
            "shellcheck"
            "procps"
            "xz"
            "actionlint"
            # nixpkgs' own Rust: what `callPackage naersk { }` gets unless told otherwise.
            "cargo"
            "rustc"
            # naersk's default.nix formals (stand-ins/naersk.nix neither builds nor calls them).
            "fetchurl"
            "lndir"
            "remarshal"
            "formats"
            "rsync"
            "runCommandLocal"
            "writeText"
            "clippy"
            # What the tests' configurations name as build inputs and image packages.
            "pkg-config"
            "protobuf"
            "clang"
            "cacert"
            "tzdata"
          ]
      );
      package =
        name:
        drv.mk {
          fn = "nixpkgs.package";
          inherit name;
          info.host = host.system;
        };
      withOverlays = final: builtins.foldl' (prev: overlay: prev // overlay final prev) (base final) overlays;
      fix = f: let x = f x; in x;
    in
    fix withOverlays;
in
builtins.seq config (
  builtins.seq crossOverlays (mkSet {
    build = buildPlatform;
    host = hostPlatform;
    target = hostPlatform;
  })
)
