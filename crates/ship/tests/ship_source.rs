//! packages.ship's source (nix/ship.nix: a lib.fileset of ship's files in ship's repository) is
//! enough for cargo: copied alone, without the demo's src/, build.rs, tests/ or configuration,
//! it loads as this workspace with its Cargo.lock unchanged (`--locked`), as crane's builds of
//! ship need.
//!
//! Needs `nix-instantiate` for the file list (nix/tests/show.nix) and cargo, which the sid root
//! lacks: not one of .ci/sid's NIX_TESTS.

use ship_test_support as support;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

#[test]
fn ships_source_loads_as_the_workspace_without_the_demo() {
    let repo = support::repo();
    let show = support::output_json(
        support::nix_instantiate()
            .args(["--eval", "--strict", "--json"])
            .arg(repo.join("nix/tests/show.nix")),
    )
    .unwrap_or_else(|e| panic!("nix/tests/show.nix: {e}"));
    let files = show["builds"]["x86_64-linux"]["ship"]["sourceFiles"]
        .as_array()
        .expect("packages.ship is built from a lib.fileset source");

    let dir = tempfile::tempdir().expect("tempdir");
    for file in files {
        let from = Path::new(file.as_str().expect("a path"));
        let to = dir
            .path()
            .join(from.strip_prefix(&repo).expect("in ship's repository"));
        if from.is_dir() {
            support::copy_dir(from, &to);
        } else {
            std::fs::create_dir_all(to.parent().expect("parent")).expect("mkdir");
            std::fs::copy(from, &to).expect("copy");
        }
    }
    for demo in ["src", "build.rs", "tests", "configuration"] {
        assert!(
            !dir.path().join(demo).exists(),
            "the demo's {demo} is in ship's source"
        );
    }

    // Offline and for this platform only: cargo fetched only this platform's crates (a fresh
    // machine has no windows-* crates), and a full `cargo metadata` would want every one.
    let rustc = support::output_ok(Command::new("rustc").arg("-vV"));
    let host = String::from_utf8_lossy(&rustc.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("host: ").map(str::to_owned))
        .expect("rustc -vV names the host");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let metadata = support::run_json(
        Command::new(cargo)
            .args(["metadata", "--locked", "--offline", "--format-version", "1"])
            .args(["--filter-platform", &host])
            .current_dir(dir.path()),
    );
    let members: BTreeSet<&str> = metadata["packages"]
        .as_array()
        .expect("packages")
        .iter()
        .filter(|p| p["source"].is_null())
        .map(|p| p["name"].as_str().expect("name"))
        .collect();
    assert_eq!(
        members,
        BTreeSet::from(["demo-service", "ship", "ship-test-support"]),
        "the workspace's own packages, loaded from ship's source"
    );
}
