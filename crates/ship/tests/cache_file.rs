//! `ship push-cache` for real with Nix 2.8: `nix copy` of the fixture flake's outputs to a
//! `file://` binary cache signed with a test key, checked with `nix store verify` and the
//! public key; deps outputs pushed though they are in no runtime closure; images and
//! upstream-signed paths left out; a re-push finds everything present; the key never printed.

use ship_test_support::nix_fixture;

use std::path::Path;
use std::process::Output;

use nix_fixture::{json, ok, FixtureFlake, NixEnv, OFFLINE};
use serde_json::Value;

fn ship(env: &NixEnv, args: &[&str]) -> Output {
    env.ship(OFFLINE, args)
}

fn all_output(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn paths(group: &Value) -> Vec<String> {
    group["paths"]
        .as_array()
        .expect("paths")
        .iter()
        .map(|p| p.as_str().unwrap().to_owned())
        .collect()
}

fn name(path: &str) -> &str {
    &path.rsplit('/').next().unwrap()[33..]
}

fn names(group: &Value) -> Vec<String> {
    let mut v: Vec<String> = paths(group).iter().map(|p| name(p).to_owned()).collect();
    v.sort();
    v
}

fn narinfos(dir: &Path) -> usize {
    std::fs::read_dir(dir)
        .map(|d| {
            d.filter(|e| {
                e.as_ref()
                    .is_ok_and(|e| e.path().extension().is_some_and(|x| x == "narinfo"))
            })
            .count()
        })
        .unwrap_or(0)
}

/// Total NAR size of `paths` as Nix itself reports it (in whichever JSON shape this Nix prints:
/// ship's own parser knows them all).
fn nar_bytes(env: &NixEnv, paths: &[String]) -> u64 {
    let mut args = vec!["path-info", "--json"];
    args.extend(paths.iter().map(String::as_str));
    let out = env.nix(&args);
    let infos = ship::nix::parse_path_info(&String::from_utf8_lossy(&out.stdout))
        .expect("nix path-info --json parses");
    assert_eq!(infos.len(), paths.len(), "one entry per path");
    infos.iter().map(|i| i.nar_size).sum()
}

fn manifest_with_cache(dir: &Path, cache: &str) -> String {
    let path = dir.join("Cargo.toml");
    std::fs::write(
        &path,
        format!(
            "[package]\nname = \"tiny\"\nversion = \"0.2.0\"\n\n[workspace]\n\n\
             [workspace.metadata.ship]\ncache = \"{cache}\"\n"
        ),
    )
    .unwrap();
    path.display().to_string()
}

#[test]
fn push_to_a_signed_file_cache_then_everything_is_present() {
    let flake = FixtureFlake::prepare();
    let env = NixEnv::new();
    let keys = tempfile::tempdir().unwrap();
    let (secret, public) = env.signing_key(keys.path(), "ship-test-1");
    let (upstream_secret, upstream_public) = env.signing_key(keys.path(), "cache.nixos.org-1");
    let cache_dir = tempfile::tempdir().unwrap();
    let url = format!(
        "file://{}?secret-key={}&compression=zstd",
        cache_dir.path().display(),
        secret.display()
    );
    let store = format!("file://{}", cache_dir.path().display());
    let (attrs, [image_dev, deps_dev, image_arm, deps_arm], fake_nss) =
        build_fixture(&flake, &env, &upstream_secret);
    let attr_refs: Vec<&str> = attrs.iter().map(String::as_str).collect();
    let mut outputs_seen = String::new();

    outputs_seen.push_str(&dry_run_writes_nothing(
        &env,
        &url,
        &attr_refs,
        cache_dir.path(),
    ));

    outputs_seen.push_str(&push_deps_dev_alone(
        &env,
        &url,
        (&attrs[1], &deps_dev),
        cache_dir.path(),
    ));

    // Everything: the apps (from the images' closures) and the other deps go; images and the
    // upstream-signed path stay out; deps-dev is already there.
    let mut args = vec!["push-cache", "--format", "json", "--cache", &url];
    args.extend(&attr_refs);
    let out = ok(ship(&env, &args));
    outputs_seen.push_str(&all_output(&out));
    let report = json(&out);
    let shown_url = url.replace(&secret.display().to_string(), "***");
    assert_full_push(
        &env,
        &report,
        &shown_url,
        [&deps_dev, &deps_arm, &fake_nss],
        [&image_dev, &image_arm],
    );
    assert_eq!(narinfos(cache_dir.path()), 4);

    let mut in_cache = paths(&report["pushed"]);
    in_cache.push(deps_dev.clone());
    let keys = (public.as_str(), upstream_public.as_str());
    assert_cache_holds(
        &env,
        &store,
        keys,
        &in_cache,
        [&image_dev, &fake_nss],
        &deps_arm,
    );

    outputs_seen.push_str(&push_from_the_manifest_finds_everything_present(
        &env,
        &url,
        &attr_refs,
        cache_dir.path(),
    ));

    assert_secret_never_shown(&outputs_seen, &secret);
}

/// First, only deps-dev (`attr`, its output `path`): the store then has part of what
/// follows. Returns all its output, for the secret check.
fn push_deps_dev_alone(
    env: &NixEnv,
    url: &str,
    (attr, path): (&str, &str),
    cache_dir: &Path,
) -> String {
    let out = ok(ship(
        env,
        &["push-cache", "--format", "json", "--cache", url, attr],
    ));
    let report = json(&out);
    assert_eq!(paths(&report["pushed"]), [path]);
    assert_eq!(narinfos(cache_dir), 1);
    all_output(&out)
}

/// The secret key was read by nix, never printed: not its file's contents, not its path.
fn assert_secret_never_shown(outputs_seen: &str, secret: &Path) {
    let secret_text = std::fs::read_to_string(secret).unwrap();
    let secret_b64 = secret_text.trim().split_once(':').unwrap().1;
    assert!(!outputs_seen.contains(secret_b64), "{outputs_seen}");
    assert!(!outputs_seen.contains(secret_text.trim()));
    assert!(!outputs_seen.contains(&secret.display().to_string()));
}

/// Dry run: says what it would do, with the key redacted, and writes nothing. Returns all
/// its output, for the check that no secret was shown.
fn dry_run_writes_nothing(env: &NixEnv, url: &str, attrs: &[&str], cache_dir: &Path) -> String {
    let mut args = vec!["push-cache", "--dry-run", "--cache", url];
    args.extend(attrs);
    let out = ok(ship(env, &args));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("would run: nix ") && text.contains("secret-key=***"),
        "{text}"
    );
    assert!(text.contains("would push            4 paths"), "{text}");
    assert_eq!(narinfos(cache_dir), 0);
    all_output(&out)
}

/// Again, with the cache from [workspace.metadata.ship]: everything is already there, so
/// nothing is pushed and nix is not run. Returns all its output, for the secret check.
fn push_from_the_manifest_finds_everything_present(
    env: &NixEnv,
    url: &str,
    attrs: &[&str],
    cache_dir: &Path,
) -> String {
    let manifest_dir = tempfile::tempdir().unwrap();
    let manifest = manifest_with_cache(manifest_dir.path(), url);
    let mut args = vec!["push-cache", "--manifest", &manifest];
    args.extend(attrs);
    let out = ok(ship(env, &args));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("pushed                0 paths"), "{text}");
    assert!(text.contains("already present       4 paths"), "{text}");
    assert!(text.contains("skipped upstream      1 path"), "{text}");
    assert!(text.contains("skipped images        2 paths"), "{text}");
    assert!(!text.contains("ran: "), "nothing to run, yet: {text}");
    assert_eq!(narinfos(cache_dir), 4);
    all_output(&out)
}

#[test]
fn refusals_say_what_is_wrong() {
    let flake = FixtureFlake::prepare();
    let env = NixEnv::new();
    let cache_dir = tempfile::tempdir().unwrap();
    let url = format!("file://{}", cache_dir.path().display());

    let out = ship(
        &env,
        &["push-cache", "--cache", "ftp://host/cache", "/nix/store/x"],
    );
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("unsupported scheme `ftp`") && err.contains("accepted: cachix:NAME"),
        "{err}"
    );

    let manifest_dir = tempfile::tempdir().unwrap();
    let manifest = manifest_dir.path().join("Cargo.toml");
    std::fs::write(
        &manifest,
        "[package]\nname = \"tiny\"\nversion = \"0.2.0\"\n\n[workspace]\n\n[workspace.metadata.ship]\n",
    )
    .unwrap();
    let out = ship(
        &env,
        &[
            "push-cache",
            "--manifest",
            manifest.to_str().unwrap(),
            "/nix/store/x",
        ],
    );
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("no binary cache to push to: pass --cache"),
        "{err}"
    );

    let missing = format!("/nix/store/{}-never-built", "b".repeat(32));
    let out = ship(&env, &["push-cache", "--cache", &url, &missing]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("can neither build nor fetch") && err.contains(&missing),
        "{err}"
    );

    // A dry run never builds: an unbuilt output is refused and stays unbuilt.
    let app = flake.attr("app-dev");
    let out = ship(&env, &["push-cache", "--dry-run", "--cache", &url, &app]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("not in the local store yet") && err.contains(&app),
        "{err}"
    );
    let eval = env.nix(&["eval", "--raw", &format!("{app}.outPath")]);
    let out_path = String::from_utf8_lossy(&eval.stdout).into_owned();
    assert!(!env
        .nix_unchecked(&["path-info", &out_path])
        .status
        .success());
    assert_eq!(narinfos(cache_dir.path()), 0);
}

/// The store at `store` holds `in_cache`, signed with `public` (`nix store verify` checks every
/// NAR's hash and signature, and fails with `other_public`), and not the `absent` paths;
/// `deps_arm` is in it.
fn assert_cache_holds(
    env: &NixEnv,
    store: &str,
    (public, other_public): (&str, &str),
    in_cache: &[String],
    absent: [&str; 2],
    deps_arm: &str,
) {
    // The cache holds what was reported, signed with the test key: nix store verify checks
    // every NAR's hash and signature against the public key (and fails with another key).
    let mut verify = vec![
        "store",
        "verify",
        "--store",
        store,
        "--trusted-public-keys",
        public,
    ];
    verify.extend(in_cache.iter().map(String::as_str));
    env.nix(&verify);
    verify[5] = other_public;
    let wrong = env.nix_unchecked(&verify);
    assert!(
        !wrong.status.success(),
        "verify passed with an unrelated key"
    );
    // Images and the upstream path are not in the cache.
    let out = env.nix(&[
        "path-info",
        "--json",
        "--store",
        store,
        absent[0],
        absent[1],
        deps_arm,
    ]);
    let infos = ship::nix::parse_path_info(&String::from_utf8_lossy(&out.stdout))
        .expect("nix path-info --json parses");
    assert_eq!(infos.len(), 3, "one entry per path");
    for info in infos {
        assert_eq!(
            info.valid,
            info.path == deps_arm,
            "{} in the cache?",
            info.path
        );
    }
}

/// Builds image-dev, deps-dev and their arm64 cross twins, and gives the user database an
/// upstream signature (it stands in for what nixpkgs, so cache.nixos.org, provides): the
/// installables, the four outputs in that order, and the user database's path.
fn build_fixture(
    flake: &FixtureFlake,
    env: &NixEnv,
    upstream_secret: &Path,
) -> (Vec<String>, [String; 4], String) {
    let attrs: Vec<String> = [
        "image-dev",
        "deps-dev",
        "image-release-arm64",
        "deps-release-arm64",
    ]
    .iter()
    .map(|a| flake.attr(a))
    .collect();
    let attr_refs: Vec<&str> = attrs.iter().map(String::as_str).collect();

    let mut build = vec!["build", "--format", "json"];
    build.extend(&attr_refs);
    let built = json(&ok(ship(env, &build)));
    let out_of = |i: usize| {
        built["outputs"][i]["outputs"]["out"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let (image_dev, deps_dev, image_arm, deps_arm) = (out_of(0), out_of(1), out_of(2), out_of(3));
    let fake_nss = env
        .closure(&image_dev)
        .into_iter()
        .find(|p| p.ends_with("-fake-nss"))
        .expect("fake-nss in the image's closure");
    env.nix(&[
        "store",
        "sign",
        "--key-file",
        upstream_secret.to_str().unwrap(),
        &fake_nss,
    ]);
    (attrs, [image_dev, deps_dev, image_arm, deps_arm], fake_nss)
}

/// The report of the push of everything: the apps (from the images' closures) and the other
/// deps went, deps-dev was already there, the upstream-signed path and the images stayed out,
/// with their NAR bytes.
fn assert_full_push(
    env: &NixEnv,
    report: &Value,
    shown_url: &str,
    [deps_dev, deps_arm, fake_nss]: [&str; 3],
    [image_dev, image_arm]: [&str; 2],
) {
    assert_eq!(report["backend"], "nix-copy");
    assert_eq!(report["dry_run"], false);
    assert_eq!(report["target"], shown_url);
    assert_eq!(
        names(&report["pushed"]),
        ["fixture-0.1.0", "fixture-0.1.0", "fixture-deps-0.1.0"]
    );
    assert!(paths(&report["pushed"]).contains(&deps_arm.to_owned()));
    assert_eq!(paths(&report["present"]), [deps_dev]);
    assert_eq!(paths(&report["upstream"]), [fake_nss]);
    let mut images = vec![image_dev.to_owned(), image_arm.to_owned()];
    images.sort();
    assert_eq!(paths(&report["images"]), images);
    assert_eq!(report["pushed_required"]["count"], 0);
    assert_eq!(
        report["pushed"]["bytes"].as_u64().unwrap(),
        nar_bytes(env, &paths(&report["pushed"]))
    );
    assert_eq!(
        report["images"]["bytes"].as_u64().unwrap(),
        nar_bytes(env, &images)
    );
}
