//! `ship build` for real with Nix 2.8 on the fixture flake (tests/fixtures/flake): what is
//! built versus fetched, the outputs it reports, the images it produced, and the cache hit
//! rate after a source-only change with the dependencies in a binary cache.

use ship_test_support as support;
use ship_test_support::nix_fixture;

use std::collections::BTreeMap;
use std::process::{Command, Output};

use nix_fixture::{json, ok, FixtureFlake, NixEnv, BINARY, OFFLINE};
use serde_json::Value;

fn ship(env: &NixEnv, nix_args: &str, args: &[&str]) -> Output {
    env.ship(nix_args, args)
}

/// Store path names (`<hash>-` dropped), sorted.
fn names(list: &Value) -> Vec<String> {
    let mut v: Vec<String> = list
        .as_array()
        .expect("a list")
        .iter()
        .map(|p| {
            let base = p.as_str().expect("a path").rsplit('/').next().unwrap_or("");
            base[33..].to_owned()
        })
        .collect();
    v.sort();
    v
}

fn output_of(report: &Value, installable: &str) -> (String, String) {
    let o = report["outputs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["installable"] == installable)
        .unwrap_or_else(|| panic!("{installable} missing from {report}"));
    (
        o["outputs"]["out"].as_str().unwrap().to_owned(),
        o["status"].as_str().unwrap().to_owned(),
    )
}

/// manifest.json and the config of a docker-archive file.
fn archive_config(archive: &str) -> (Value, Value) {
    let read = |member: &str| {
        let out = Command::new("tar")
            .args(["-xOf", archive, member])
            .output()
            .expect("run tar");
        assert!(out.status.success(), "tar -xOf {archive} {member} failed");
        serde_json::from_slice::<Value>(&out.stdout).expect("JSON member")
    };
    let manifest = read("manifest.json");
    let config = read(manifest[0]["Config"].as_str().expect("Config"));
    (manifest, config)
}

#[test]
fn first_build_builds_everything_then_everything_is_local() {
    let flake = FixtureFlake::prepare();
    let env = NixEnv::new();
    let (image_dev, deps_dev, image_arm) = (
        flake.attr("image-dev"),
        flake.attr("deps-dev"),
        flake.attr("image-release-arm64"),
    );

    let [image_dev_out, deps_dev_out, image_arm_out] =
        first_build_builds_all_seven(&env, [&image_dev, &deps_dev, &image_arm]);

    // The images: docker-archives with the right architecture whose entrypoint is the app,
    // which runs (arm64 under qemu-user).
    for (archive, arch, profile) in [
        (&image_dev_out, "amd64", "dev"),
        (&image_arm_out, "arm64", "release"),
    ] {
        assert_image_runs(&env, archive, arch, profile);
    }

    // Reproducible bit for bit (so layer digests are too): Nix rebuilds and compares.
    env.nix(&[
        "build",
        "--rebuild",
        "--no-link",
        &image_dev,
        &deps_dev,
        &image_arm,
    ]);

    // deps-dev is a build-time input only: in no runtime closure, which is why push-cache must
    // be given it explicitly.
    let image_closure = env.closure(&image_dev_out);
    assert_eq!(image_closure.len(), 3, "{image_closure:?}");
    assert!(!image_closure.contains(&deps_dev_out));

    second_build_finds_everything_local(
        &env,
        [
            (&image_dev, &image_dev_out),
            (&deps_dev, &deps_dev_out),
            (&image_arm, &image_arm_out),
        ],
    );
}

/// `ship build --format json` of image-dev, deps-dev and image-release-arm64 on an empty
/// store: every derivation is built, none fetched, and each installable's output is reported
/// as built. Returns the three outputs in the order given.
fn first_build_builds_all_seven(env: &NixEnv, installables: [&String; 3]) -> [String; 3] {
    let [image_dev, deps_dev, image_arm] = installables;
    let out = ok(ship(
        env,
        OFFLINE,
        &["build", "--format", "json", image_dev, deps_dev, image_arm],
    ));
    let report = json(&out);
    // image-dev needs fake-nss, deps-dev, app-dev and itself; image-release-arm64 its own
    // deps, app and itself (fake-nss is shared); deps-dev is one of those.
    assert_eq!(
        names(&report["will_build"]),
        [
            "docker-image-fixture.tar.drv",
            "docker-image-fixture.tar.drv",
            "fake-nss.drv",
            "fixture-0.1.0.drv",
            "fixture-0.1.0.drv",
            "fixture-deps-0.1.0.drv",
            "fixture-deps-0.1.0.drv",
        ]
    );
    assert_eq!(report["built"], 7);
    assert_eq!(report["fetched"], 0);
    assert_eq!(report["hit_rate"], 0.0);
    let (image_dev_out, s1) = output_of(&report, image_dev);
    let (deps_dev_out, s2) = output_of(&report, deps_dev);
    let (image_arm_out, s3) = output_of(&report, image_arm);
    assert_eq!([s1, s2, s3], ["built", "built", "built"]);
    [image_dev_out, deps_dev_out, image_arm_out]
}

/// Second run: nothing missing, so neither built nor fetched; no made-up hit rate; every
/// installable reported local at its path, in the text output and the step summary.
fn second_build_finds_everything_local(env: &NixEnv, outputs: [(&String, &String); 3]) {
    let summary = tempfile::NamedTempFile::new().unwrap();
    let mut cmd = support::ship();
    env.apply(&mut cmd, OFFLINE);
    let installables = outputs.map(|(installable, _)| installable.as_str());
    let out = ok(cmd
        .env("GITHUB_STEP_SUMMARY", summary.path())
        .arg("build")
        .args(installables)
        .output()
        .unwrap());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("0 derivations built, 0 paths fetched, cache hit rate n/a"),
        "{text}"
    );
    for (installable, path) in outputs {
        assert!(
            text.lines().any(|l| l.starts_with("local ")
                && l.contains(installable.as_str())
                && l.ends_with(path.as_str())),
            "{installable} not reported local at {path}:\n{text}"
        );
    }
    let md = std::fs::read_to_string(summary.path()).unwrap();
    assert!(md.starts_with("- **nix build** `"), "{md}");
    assert!(md.contains("cache hit rate n/a"), "{md}");
}

#[test]
fn source_change_rebuilds_app_and_image_and_fetches_deps_from_the_cache() {
    let flake = FixtureFlake::prepare();
    let env = NixEnv::new();
    let keys = tempfile::tempdir().unwrap();
    let (secret, public) = env.signing_key(keys.path(), "ship-test-1");
    let cache_dir = tempfile::tempdir().unwrap();
    let cache = format!("file://{}", cache_dir.path().display());
    let image = flake.attr("image-dev");
    let deps = flake.attr("deps-dev");

    let first = json(&ok(ship(
        &env,
        OFFLINE,
        &["build", "--format", "json", &image, &deps],
    )));
    let (old_image, _) = output_of(&first, &image);
    let (deps_out, _) = output_of(&first, &deps);
    let old_closure = env.closure(&old_image);

    // CI pushed the image's closure and deps-dev; this is a fresh runner without them.
    ok(ship(
        &env,
        OFFLINE,
        &[
            "push-cache",
            "--cache",
            &format!("{cache}?secret-key={}", secret.display()),
            &image,
            &deps,
        ],
    ));
    // fake-nss stays: a path still in the local store is neither built nor fetched.
    let mut doomed: Vec<String> = old_closure
        .iter()
        .filter(|p| !p.ends_with("-fake-nss"))
        .cloned()
        .collect();
    assert_eq!(doomed.len(), 2, "{old_closure:?}");
    doomed.push(deps_out.clone());
    let mut args = vec!["store", "delete"];
    args.extend(doomed.iter().map(String::as_str));
    env.nix(&args);
    let gone = env.nix_unchecked(&["path-info", &deps_out]);
    assert!(!gone.status.success(), "{deps_out} is still in the store");

    // A source-only change: only the app and the image need building; deps-dev comes from the
    // cache: 1 fetched / (1 fetched + 2 built).
    flake.set_message("a source-only change");
    let with_cache =
        format!("--option substituters {cache} --option trusted-public-keys '{public}'");
    let second = json(&ok(ship(
        &env,
        &with_cache,
        &["build", "--format", "json", &image],
    )));
    assert_eq!(
        names(&second["will_build"]),
        ["docker-image-fixture.tar.drv", "fixture-0.1.0.drv"]
    );
    assert_eq!(names(&second["will_fetch"]), ["fixture-deps-0.1.0"]);
    assert_eq!(second["hit_rate"], 1.0 / 3.0);
    let (new_image, status) = output_of(&second, &image);
    assert_eq!(status, "built");
    assert_ne!(new_image, old_image);
    env.nix(&["path-info", &deps_out]);

    let (_, config) = archive_config(&new_image);
    let entry = config["config"]["Entrypoint"][0].as_str().unwrap();
    let run = Command::new(entry).output().expect("run the new binary");
    assert_eq!(
        String::from_utf8_lossy(&run.stdout),
        "fixture: a source-only change\n"
    );
}

#[test]
fn runtime_file_change_rebuilds_only_the_image() {
    let flake = FixtureFlake::prepare();
    let env = NixEnv::new();
    let (image, app, deps) = (
        flake.attr("image-release"),
        flake.attr("app-release"),
        flake.attr("deps-release"),
    );
    let first = json(&ok(ship(
        &env,
        OFFLINE,
        &["build", "--format", "json", &image, &app, &deps],
    )));
    let (old_image, _) = output_of(&first, &image);

    std::fs::write(
        flake.dir().join("configuration/service.json"),
        "{\"greeting\": \"changed at run time only\"}\n",
    )
    .unwrap();
    let second = json(&ok(ship(
        &env,
        OFFLINE,
        &["build", "--format", "json", &image, &app, &deps],
    )));
    assert_eq!(
        names(&second["will_build"]),
        ["docker-image-fixture.tar.drv"]
    );
    let (new_image, status) = output_of(&second, &image);
    assert_eq!(status, "built");
    assert_ne!(new_image, old_image);
    for installable in [&app, &deps] {
        assert_eq!(output_of(&second, installable).1, "local", "{installable}");
    }
    // The new file is in the image's runtime layer.
    let (manifest, _) = archive_config(&new_image);
    let layer = manifest[0]["Layers"][2].as_str().unwrap();
    let extract = Command::new("sh")
        .args([
            "-c",
            "tar -xOf \"$1\" \"$2\" | tar -xOf - ./app/configuration/service.json",
            "sh",
            &new_image,
            layer,
        ])
        .output()
        .unwrap();
    assert!(extract.status.success(), "{extract:?}");
    assert_eq!(
        String::from_utf8_lossy(&extract.stdout),
        "{\"greeting\": \"changed at run time only\"}\n"
    );
}

#[test]
fn errors_name_what_nix_cannot_do() {
    let flake = FixtureFlake::prepare();
    let env = NixEnv::new();

    let missing = format!("/nix/store/{}-never-built", "a".repeat(32));
    let out = ship(&env, OFFLINE, &["build", &missing]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("can neither build nor fetch this path") && err.contains(&missing),
        "{err}"
    );

    let out = ship(&env, OFFLINE, &["build", &flake.attr("image-nope")]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("build --dry-run --json") && err.contains("does not provide attribute"),
        "{err}"
    );

    let out = ship(
        &env,
        "--option substituters 'unterminated",
        &["build", &flake.attr("app-dev")],
    );
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("SHIP_NIX_ARGS") && err.contains("unterminated '"),
        "{err}"
    );

    let mut cmd = support::ship();
    env.apply(&mut cmd, OFFLINE);
    let out = cmd
        .env("SHIP_NIX", "/nonexistent/nix")
        .args(["build", &flake.attr("app-dev")])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("cannot run `/nonexistent/nix`") && err.contains("SHIP_NIX"),
        "{err}"
    );
}

#[test]
fn every_fixture_attribute_evaluates_with_the_readme_names() {
    let flake = FixtureFlake::prepare();
    let env = NixEnv::new();
    for system in ["x86_64-linux", "aarch64-linux"] {
        let out = env.nix(&[
            "eval",
            "--json",
            &flake.attr(&format!("packages.{system}")),
            "--apply",
            "builtins.attrNames",
        ]);
        let names: Vec<String> = serde_json::from_slice(&out.stdout).unwrap();
        let mut expected: Vec<&str> = nix_fixture::ATTRS
            .iter()
            .copied()
            .filter(|a| system == "x86_64-linux" || !a.ends_with("-arm64"))
            .collect();
        expected.extend(["default", "ship"]);
        expected.sort();
        assert_eq!(names, expected, "{system}");
        // Names and profiles agree with ship's own naming function.
        for profile in ["dev", "release"] {
            let platform = if system == "x86_64-linux" {
                ship::platform::Platform::Amd64
            } else {
                ship::platform::Platform::Arm64
            };
            let (sys, attrs) = ship::plan::attrs(profile, platform, false);
            assert_eq!(sys, system);
            for a in attrs {
                assert!(names.contains(&a), "{system}: {a}");
            }
        }
    }
    let (_, cross) = ship::plan::attrs("release", ship::platform::Platform::Arm64, true);
    for a in cross {
        assert!(nix_fixture::ATTRS.contains(&a.as_str()), "{a}");
    }

    // The image derivations' architectures, without building.
    let arch = |attr: &str| {
        let out = env.nix(&[
            "eval",
            "--raw",
            &flake.attr(&format!("{attr}.architecture")),
        ]);
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    assert_eq!(arch("image-dev"), "amd64");
    assert_eq!(arch("image-release-arm64"), "arm64");
    assert_eq!(arch("packages.aarch64-linux.image-release"), "arm64");
    let mut by_attr = BTreeMap::new();
    for attr in ["deps-release", "app-release", "image-release"] {
        let out = env.nix(&["eval", "--raw", &flake.attr(&format!("{attr}.name"))]);
        by_attr.insert(attr, String::from_utf8_lossy(&out.stdout).into_owned());
    }
    // crane's naming (`<pname>-deps-<version>`) and dockerTools' (`docker-image-<name>.tar`).
    assert_eq!(by_attr["deps-release"], "fixture-deps-0.1.0");
    assert_eq!(by_attr["app-release"], "fixture-0.1.0");
    assert_eq!(by_attr["image-release"], "docker-image-fixture.tar");
}

#[test]
fn fixture_scripts_pass_shellcheck() {
    support::require_tool(&["shellcheck"], "shellcheck");
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut scripts: Vec<std::path::PathBuf> =
        std::fs::read_dir(dir.join("tests/fixtures/flake/nix"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "sh"))
            .collect();
    scripts.push(support::recording_cachix());
    assert!(scripts.len() >= 5, "{scripts:?}");
    let out = Command::new("shellcheck").args(&scripts).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

/// `archive` is a docker-archive for `arch` whose entrypoint is the app of `profile`, from its
/// own closure, and runs (arm64 under qemu-user).
fn assert_image_runs(env: &NixEnv, archive: &str, arch: &str, profile: &str) {
    let (manifest, config) = archive_config(archive);
    assert_eq!(manifest[0]["Layers"].as_array().unwrap().len(), 3);
    assert_eq!(config["os"], "linux");
    // From the fixture's [workspace.metadata.ship.runtime].
    assert_eq!(
        config["config"]["Env"],
        serde_json::json!(["APP_ENVIRONMENT=fixture", "LISTEN_ADDR=0.0.0.0:8080"])
    );
    assert_eq!(config["config"]["WorkingDir"], "/app");
    assert_eq!(
        config["config"]["ExposedPorts"],
        serde_json::json!({"8080/tcp": {}})
    );
    assert_eq!(config["architecture"], arch);
    assert_eq!(config["config"]["User"], "1000:1000");
    let entry = config["config"]["Entrypoint"][0]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(entry.ends_with(&format!("/bin/{BINARY}")), "{entry}");
    let run = if arch == "arm64" {
        support::require_tool(&["qemu-aarch64-static"], "qemu-user-static");
        Command::new("qemu-aarch64-static")
            .args([&entry, "--version"])
            .output()
    } else {
        Command::new(&entry).arg("--version").output()
    }
    .expect("run the image's binary");
    let version: Value = serde_json::from_slice(&run.stdout).expect("--version prints JSON");
    assert_eq!(version["profile"], profile);
    assert_eq!(version["version"], "0.1.0");
    // The binary is the one in the image's closure.
    let closure = env.closure(archive);
    let app = entry.trim_end_matches(&format!("/bin/{BINARY}"));
    assert!(closure.iter().any(|p| p == app), "{closure:?}");
}
