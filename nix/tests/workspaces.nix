# The flake library applied to other workspaces (crates/ship/tests/fixtures/adopt-*), as an
# adopter's flake calls it: `ship.lib.mkFlake { inherit self; root = ./.; }`, ship's source this
# repository.
# Every attribute of checks.<system> evaluates and names only what that workspace has; the test
# arguments, the toolchain, build inputs (in the right splice) and the image's contents and
# config come from that workspace's configuration, never from this repository's.
let
  h = import ./harness.nix;
  shipLib = import ../lib;
  inherit (shipLib) attrs;
  u = shipLib.util;
  inherit (builtins)
    attrNames
    attrValues
    concatMap
    elem
    filter
    pathExists
    ;

  inputs = import ./stand-ins {
    envVars = [ "SHIP_GIT_REV" ];
    rev = "f00d";
  };
  fixtures = ../../crates/ship/tests/fixtures;
  shipFlakeLib = import ./ship-lib.nix;

  shape =
    name:
    let
      root = fixtures + "/adopt-${name}";
    in
    {
      inherit name root;
      flake = shipFlakeLib.mkFlake {
        self = inputs.self // {
          outPath = toString root;
        };
        inherit root;
      };
      config = shipLib.config { path = root + "/Cargo.toml"; };
    };
  single = shape "single-crate";
  channel = shape "toolchain-key";
  database = shape "database";

  names = map (x: x.name);
  hosts = map (x: x.standin.host);

  # What holds for every shape on every system.
  commonCases =
    s:
    concatMap (
      system:
      let
        c = s.flake.checks.${system};
        p = s.flake.packages.${system};
        label = "${s.name} ${system}";
        namedTests = concatMap (
          t:
          let
            m = builtins.match "test:(.+)" t;
          in
          if m == null then [ ] else m
        ) s.config.tests.targets;
      in
      [
        (h.eq "${label}: checks are the workspace's, not this repository's nix-tests" (attrNames c) [
          "clippy"
          "fmt"
          "image-dev"
          "tests"
        ])
      ]
      ++ map (n: h.that "${label}: checks.${n} evaluates" (builtins.isString (h.show c.${n})) "") (attrNames c)
      ++ [
        (h.eq "${label}: tests run exactly the tests key's selection" c.tests.standin.args.cargoTestExtraArgs (
          shipLib.testArgs s.config.tests
        ))
        (h.that "${label}: every test target named exists in the workspace" (builtins.all (
          t: pathExists (s.root + "/tests/${t}.rs")
        ) namedTests) (h.show namedTests))
        (h.eq "${label}: clippy and tests get the builds' inputs, the tests also the tests key's tools" [
          (names (c.clippy.standin.args.nativeBuildInputs or [ ]))
          (names (c.tests.standin.args.nativeBuildInputs or [ ]))
        ] [
          (names p.deps-dev.standin.args.nativeBuildInputs)
          (names p.deps-dev.standin.args.nativeBuildInputs ++ s.config.tests.nativeBuildInputs)
        ])
        (h.eq "${label}: clippy and tests on the checks' deps, those on the dev deps" [
          c.clippy.standin.cargoArtifacts
          c.tests.standin.cargoArtifacts
          p.deps-checks.standin.cargoArtifacts
        ] [ p.deps-checks.outPath p.deps-checks.outPath p.deps-dev.outPath ])
        # A `-sys` crate among the dev-dependencies needs them as much as one among the deps.
        (h.eq "${label}: the checks' deps get the builds' inputs and env" (h.show [
          (names (p.deps-checks.standin.args.nativeBuildInputs or [ ]))
          (names (p.deps-checks.standin.args.buildInputs or [ ]))
          (p.deps-checks.standin.args.env or null)
        ]) (h.show [
          (names p.deps-dev.standin.args.nativeBuildInputs)
          (names p.deps-dev.standin.args.buildInputs)
          (p.deps-dev.standin.args.env or null)
        ]))
        (h.eq "${label}: the service is the workspace's own binary" (p.app-dev.standin.args.cargoBuildExtraArgs or null) (
          u.join " " (map (b: "--bin ${b}") ([ s.config.binary ] ++ s.config.byProfile.dev.runtime.binaries))
        ))
      ]
    ) attrs.systems;

  toolchainOf = d: if d.standin.toolchain == null then null else d.standin.toolchain.standin;
  toolchainCases =
    s: expected:
    concatMap (
      system:
      let
        c = s.flake.checks.${system};
        p = s.flake.packages.${system};
      in
      map
        (
          d:
          h.eq "${s.name} ${system}: ${d.name} built with ${if expected == null then "nixpkgs' rustc" else expected.channel}" (
            let
              t = toolchainOf d;
            in
            if t == null then null else { inherit (t) channel components; }
          ) expected
        )
        [
          c.clippy
          c.tests
          p.app-release
          p.deps-dev
          p.deps-checks
        ]
    ) attrs.systems;

  # A single crate, nothing configured: nixpkgs' Rust, the whole workspace's tests, an image with
  # nothing of demo-service's (no port, no LISTEN_ADDR).
  singleCases =
    let
      c = single.flake.checks.x86_64-linux;
      img = single.flake.packages.x86_64-linux.image-release.standin;
    in
    [
      (h.eq "single crate: tests over the whole workspace" c.tests.standin.args.cargoTestExtraArgs "")
      (h.eq "single crate: tests get no extra tools" (names c.tests.standin.args.nativeBuildInputs) [ ])
      (h.eq "single crate: no ports" img.config.ExposedPorts { })
      (h.eq "single crate: no environment" img.config.Env [ ])
      (h.that "single crate: no working dir" (!(img.config ? WorkingDir)) (h.show img.config))
      (h.eq "single crate: contents are /etc/passwd and /etc/group" (names img.contents) [
        "passwd"
        "group"
      ])
    ];

  # Build inputs: tools from the build machine's set, libraries from the target's, the same list
  # in deps and app (one deps derivation), for native and cross builds.
  buildCases = concatMap (
    b:
    let
      p = database.flake.packages.${b.system};
      deps = p.${b.deps}.standin;
      app = p.${b.app}.standin;
      label = "database ${b.system}.${b.app}";
    in
    [
      (h.eq "${label}: native build inputs are the configured tools" (names deps.args.nativeBuildInputs) [
        "pkg-config"
        "protobuf"
        "clang"
        "lld"
      ])
      (h.eq "${label}: native build inputs run on the build machine" (u.unique (hosts deps.args.nativeBuildInputs)) [
        b.build
      ])
      (h.eq "${label}: build inputs are the configured libraries" (names deps.args.buildInputs) [ "openssl" ])
      (h.eq "${label}: build inputs are for the platform the binary runs on" (hosts deps.args.buildInputs) [ b.host ])
      (h.eq "${label}: deps and app get the same inputs and env" (h.show [
        app.args.nativeBuildInputs
        app.args.buildInputs
        app.args.env
      ]) (h.show [ deps.args.nativeBuildInputs deps.args.buildInputs deps.args.env ]))
      (h.eq "${label}: build env, the variant's own added to the top-level one" deps.args.env b.env)
    ]
  ) [
    {
      system = "x86_64-linux";
      deps = "deps-release";
      app = "app-release";
      build = "x86_64-linux";
      host = "x86_64-linux";
      env.SQLX_OFFLINE = "true";
    }
    {
      system = "x86_64-linux";
      deps = "deps-release-arm64";
      app = "app-release-arm64";
      build = "x86_64-linux";
      host = "aarch64-linux";
      env.SQLX_OFFLINE = "true";
    }
    {
      system = "aarch64-linux";
      deps = "deps-dev";
      app = "app-dev";
      build = "aarch64-linux";
      host = "aarch64-linux";
      env = {
        SQLX_OFFLINE = "true";
        CARGO_INCREMENTAL = "0";
      };
    }
  ];

  # The image side of a Dockerfile: files, packages (for the image's platform), env per
  # variant, working dir, ports, a second binary, labels.
  imageCases = concatMap (
    b:
    let
      p = database.flake.packages.${b.system};
      s = p.${b.image}.standin;
      label = "database ${b.system}.${b.image}";
      cacert = builtins.head (filter (x: x.name == "cacert") s.contents);
    in
    [
      (h.eq "${label}: packages and the app (for its second binary) in the contents" (names s.contents) [
        "passwd"
        "group"
        "cacert"
        "tzdata"
        p.${b.app}.name
      ])
      (h.eq "${label}: packages for the image's platform" (hosts s.contents) [
        b.host
        b.host
        b.host
        b.host
        b.host
      ])
      (h.eq "${label}: env, SSL_CERT_FILE from cacert" s.config.Env [
        "APP_ENVIRONMENT=${b.environment}"
        "SSL_CERT_FILE=${cacert.outPath}/etc/ssl/certs/ca-bundle.crt"
      ])
      (h.eq "${label}: working dir" s.config.WorkingDir "/app")
      (h.eq "${label}: ports" s.config.ExposedPorts { "8000/tcp" = { }; })
      (h.eq "${label}: configured label next to the OCI ones" [
        (s.config.Labels."org.example.team" or null)
        (s.config.Labels."org.opencontainers.image.title" or null)
      ] [ "payments" "billing" ])
      (h.that "${label}: configuration/ copied to /app/configuration" (u.hasInfix "cp -rT --no-preserve=mode '${toString database.root}/configuration' './app/configuration'" s.args.extraCommands) s.args.extraCommands)
      (h.that "${label}: a writable /tmp" (u.hasInfix "mkdir -p -m 1777 tmp" s.args.extraCommands) s.args.extraCommands)
      (h.eq "${label}: the app builds both binaries" p.${b.app}.standin.args.cargoBuildExtraArgs "--bin billing --bin migrate")
    ]
  ) [
    {
      system = "x86_64-linux";
      image = "image-dev";
      app = "app-dev";
      host = "x86_64-linux";
      environment = "development";
    }
    {
      system = "x86_64-linux";
      image = "image-release-arm64";
      app = "app-release-arm64";
      host = "aarch64-linux";
      environment = "production";
    }
  ];

  # configuration/ is the image's: out of the cargo source (cleanCargoSource would keep its
  # *.toml), so a change there rebuilds only the image. migrations/ and .sqlx/ (`include`) are
  # in the workspace crates' source, and only there: never in a deps derivation's.
  sourceCases =
    let
      p = database.flake.packages.x86_64-linux;
      c = database.flake.checks.x86_64-linux;
      src = p.deps-release.standin.args.src;
      appSrc = p.app-release.standin.args.src;
      r = toString database.root;
      # Files: crane's filter keeps every directory (lib/filterCargoSources.nix).
      included = [
        "${r}/migrations/20240101000000_invoices.sql"
        "${r}/.sqlx/query-5d1f0b3c.json"
      ];
      keeps = s: map (f: s.filter f "regular") included;
    in
    [
      (h.eq "database: runtime files stay out of the cargo source" [
        (src.filter "${r}/configuration" "directory")
        (src.filter "${r}/configuration/base.toml" "regular")
        (src.filter "${r}/configurations.toml" "regular")
        (src.filter "${r}/src/main.rs" "regular")
      ] [ false false true true ])
      (h.eq "database: the deps build from the cargo source, without `include`" (keeps src) [
        false
        false
      ])
      (h.eq "database: the checks' deps too" (
        keeps p.deps-checks.standin.args.src.standin.args.src ++ keeps p.deps-checks.standin.args.cargoVendorDir.standin.args.src
      ) [ false false false false ])
      (h.eq "database: the packages build from the cargo source and `include`" (
        keeps appSrc ++ [ (appSrc.filter "${r}/src/main.rs" "regular") (appSrc.filter "${r}/configuration/base.toml" "regular") ]
      ) [ true true true false ])
      # (packages.ship builds from ship's own source, nix/ship.nix, never the workspace's.)
      (h.eq "database: clippy and the tests build from the packages' source" (
        map (x: h.show x.standin.args.src) [
          c.clippy
          c.tests
        ]
      ) (builtins.genList (_: h.show appSrc) 2))
      (h.eq "database: both sources unpack to the same directory name" appSrc.name src.name)
    ];
in
h.run "workspaces" (
  commonCases single
  ++ commonCases channel
  ++ commonCases database
  ++ toolchainCases single null
  ++ toolchainCases channel {
    channel = "1.94.0";
    components = [
      "clippy"
      "rustfmt"
    ];
  }
  ++ toolchainCases database {
    channel = "1.90.0";
    components = [
      "clippy"
      "rustfmt"
    ];
  }
  ++ singleCases
  ++ [
    # Sources are paths: a self.outPath (a store path's string) is never turned into one.
    (h.fails "root left out: refused, naming `root = ./.;`" (
      shipFlakeLib.mkFlake { inherit (inputs) self; }
    ).packages.x86_64-linux)
    (h.fails "root a string: refused" (
      shipFlakeLib.mkFlake {
        inherit (inputs) self;
        root = toString single.root;
      }
    ).packages.x86_64-linux)
    # The source is `root`, whatever self is.
    (h.eq "root given apart from self: the same packages" (
      let
        byRoot = shipFlakeLib.mkFlake {
          inherit (inputs) self;
          inherit (single) root;
        };
      in
      map (s: builtins.mapAttrs (_: p: p.outPath) s.packages.x86_64-linux) [ byRoot single.flake ]
    ) (builtins.genList (_: builtins.mapAttrs (_: p: p.outPath) single.flake.packages.x86_64-linux) 2))
    (h.eq "the test arguments, written out" (map (s: s.flake.checks.x86_64-linux.tests.standin.args.cargoTestExtraArgs) [
      single
      channel
      database
    ]) [ "" "--lib --test api" "--lib --bins --test api -- --skip db:: --skip needs_redis" ])
  ]
  ++ buildCases
  ++ imageCases
  ++ sourceCases
)
