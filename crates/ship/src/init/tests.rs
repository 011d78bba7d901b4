use super::*;

const PACKAGE: &str = "[package]\nname = \"orders\"\nversion = \"0.3.0\"\nedition = \"2021\"\n";

fn found(manifest: &str, bins: &[&str]) -> Found {
    Found {
        members: Members {
            root: PathBuf::from("/ws"),
            dirs: vec![PathBuf::new()],
            root_package: Some("orders".into()),
            binaries: bins
                .iter()
                .map(|b| Binary {
                    name: (*b).into(),
                    package: "orders".into(),
                    package_dir: PathBuf::new(),
                })
                .collect(),
        },
        manifest: manifest.into(),
        toolchain_file: None,
        compile_time: vec![],
        github_owner: Some("acme".into()),
        default_branch: None,
        locked: vec![],
        subdir: None,
        existing: BTreeMap::new(),
    }
}

fn file<'a>(plan: &'a InitPlan, path: &str) -> &'a FileChange {
    plan.files
        .iter()
        .find(|f| f.path == path)
        .unwrap_or_else(|| panic!("no {path} in the plan"))
}

/// `found` after the plan's files were written: the next run sees them.
fn after(mut f: Found, plan: &InitPlan) -> Found {
    for c in &plan.files {
        if c.path == MANIFEST {
            f.manifest = c.contents.clone();
        } else {
            f.existing.insert(c.path.clone(), c.contents.clone());
        }
    }
    f
}

#[test]
fn a_fresh_workspace_gets_every_file_and_a_second_run_changes_nothing() {
    let f = found(PACKAGE, &["orders"]);
    let first = plan(&f, &Options::default()).expect("plan");
    let actions: Vec<(&str, Action)> = first
        .files
        .iter()
        .map(|c| (c.path.as_str(), c.action))
        .collect();
    assert_eq!(
        actions,
        [
            (MANIFEST, Action::AddTable),
            (FLAKE, Action::Create),
            (CI, Action::Create),
            (RELEASE, Action::Create)
        ]
    );
    assert_eq!(first.config.image, "ghcr.io/acme/orders");
    assert_eq!(first.config.binary, "orders");
    assert_eq!(
        file(&first, FLAKE).contents,
        templates::flake("orders"),
        "the flake is the contract's text"
    );
    let second = plan(&after(f, &first), &Options::default()).expect("plan");
    assert!(!second.changes_anything(), "{:#?}", second.files);
    assert_eq!(file(&second, MANIFEST).action, Action::KeepTable);
    assert!(second
        .summary(false)
        .contains("nothing to do: every file is as ship init writes it"));
}

#[test]
fn an_existing_different_file_needs_force() {
    let mut f = found(PACKAGE, &["orders"]);
    f.existing
        .insert(FLAKE.into(), "{ outputs = _: { }; }\n".into());
    let e = plan(&f, &Options::default()).expect_err("flake.nix exists");
    assert_eq!(
        e.to_string(),
        "flake.nix exists and is not what ship init writes; --force overwrites it (--dry-run shows what would be written)"
    );
    let forced = plan(
        &f,
        &Options {
            force: true,
            ..Options::default()
        },
    )
    .expect("forced");
    assert_eq!(file(&forced, FLAKE).action, Action::Overwrite);
}

#[test]
fn an_existing_table_is_kept_and_flags_that_contradict_it_are_refused() {
    let manifest = format!("{PACKAGE}\n[workspace.metadata.ship]\nbinary = \"orders\"\nimage = \"ghcr.io/acme/orders-api\"\n");
    let f = found(&manifest, &["orders", "migrate"]);
    let p = plan(&f, &Options::default()).expect("the table chooses the binary");
    assert_eq!(file(&p, MANIFEST).action, Action::KeepTable);
    assert_eq!(file(&p, MANIFEST).contents, manifest);
    assert_eq!(p.config.image, "ghcr.io/acme/orders-api");
    let e = plan(
        &f,
        &Options {
            binary: Some("migrate".into()),
            ..Options::default()
        },
    )
    .expect_err("contradicts the table");
    assert_eq!(
        e.to_string(),
        "--binary migrate: Cargo.toml's [workspace.metadata.ship] already has binary = \"orders\", and ship init keeps an existing table: change it there"
    );
}

#[test]
fn flags_choose_binary_image_and_cache() {
    let f = found(PACKAGE, &["orders", "migrate"]);
    let e = plan(&f, &Options::default()).expect_err("two binaries");
    assert!(e.to_string().contains("--binary NAME"), "{e}");
    let p = plan(
        &f,
        &Options {
            binary: Some("migrate".into()),
            to: Some("registry.example.com/team/migrate".into()),
            cache: Some("cachix:acme".into()),
            force: false,
        },
    )
    .expect("chosen");
    assert_eq!(p.config.binary, "migrate");
    assert_eq!(p.config.image, "registry.example.com/team/migrate");
    assert_eq!(p.config.cache.as_deref(), Some("cachix:acme"));
    let next = p.next.join("\n");
    for want in [
        "nix build .#image-dev",
        "git add flake.lock",
        "nix flake check   (what ship.yml runs: clippy -D warnings, rustfmt and the tests, in the Nix sandbox: no network, no database",
        "`tests.skip`, `tests.targets` and `include`",
        "create the cache acme at https://app.cachix.org",
        "CACHIX_AUTH_TOKEN",
        "REGISTRY_USERNAME",
        "REGISTRY_PASSWORD",
        "git tag v0.1.0",
    ] {
        assert!(next.contains(want), "next steps lack {want:?}:\n{next}");
    }
    assert!(
        !next.contains("cachix create"),
        "the cachix CLI has no create:\n{next}"
    );
    let e = plan(
        &f,
        &Options {
            binary: Some("migrate".into()),
            cache: Some("memcached://x".into()),
            ..Options::default()
        },
    )
    .expect_err("not a cache");
    assert!(e.to_string().starts_with("--cache memcached://x: "), "{e}");
}

#[test]
fn a_bad_flag_or_manifest_is_named_as_given() {
    let f = found(PACKAGE, &["orders"]);
    let e = plan(
        &f,
        &Options {
            to: Some("Registry.Example.com/Team/Orders".into()),
            ..Options::default()
        },
    )
    .expect_err("not a repository")
    .to_string();
    assert!(
        e.starts_with("--to Registry.Example.com/Team/Orders: ") && !e.contains("image"),
        "{e}"
    );
    let e = plan(&found("[package\n", &["orders"]), &Options::default())
        .expect_err("not TOML")
        .to_string();
    assert!(e.starts_with("/ws/Cargo.toml: not valid TOML"), "{e}");
}

#[test]
fn without_a_github_remote_the_image_is_a_placeholder_and_said_so() {
    let mut f = found(PACKAGE, &["Orders"]);
    f.github_owner = None;
    let p = plan(&f, &Options::default()).expect("plan");
    assert_eq!(p.config.image, "ghcr.io/owner/orders");
    assert!(
        p.notes.iter().any(|n| n.contains("no GitHub remote")),
        "{:?}",
        p.notes
    );
}

#[test]
fn compile_time_paths_go_into_include() {
    let mut f = found(PACKAGE, &["orders"]);
    f.compile_time = vec!["migrations".into(), ".sqlx".into()];
    let p = plan(&f, &Options::default()).expect("plan");
    assert!(
        file(&p, MANIFEST)
            .shown
            .contains("include = [\"migrations\", \".sqlx\"]\n"),
        "{}",
        file(&p, MANIFEST).shown
    );
}

#[test]
fn candidates_are_the_conventional_names_in_root_and_members() {
    let members = Members {
        root: PathBuf::from("/ws"),
        dirs: vec![PathBuf::from("crates/db")],
        root_package: None,
        binaries: vec![],
    };
    let c = compile_time_candidates(&members);
    assert!(c.contains(&PathBuf::from("migrations")));
    assert!(c.contains(&PathBuf::from("crates/db/.sqlx")));
    assert_eq!(c.len(), 2 * COMPILE_TIME_PATHS.len());
}

#[test]
fn a_dry_run_shows_each_file_and_writes_nothing() {
    let p = plan(&found(PACKAGE, &["orders"]), &Options::default()).expect("plan");
    let text = p.summary(true);
    for want in [
        "would append [workspace.metadata.ship] to Cargo.toml",
        "would create flake.nix",
        "--- .github/workflows/ship-release.yml (create)\n# The release",
        "--- Cargo.toml (append [workspace.metadata.ship] to)\n\n# What ship builds",
        "--dry-run: nothing written",
        "toolchain: nixpkgs' rustc",
    ] {
        assert!(text.contains(want), "lacks {want:?}:\n{text}");
    }
}

#[test]
fn the_toolchain_is_named_in_nix_lib_toolchain_nix_order() {
    let m = Path::new("/ws/Cargo.toml");
    let sentence = |file, toolchain| toolchain_sentence(m, file, &toolchain).expect("accepted");
    assert_eq!(
        sentence(Some("rust-toolchain.toml"), Toolchain::Nixpkgs),
        "toolchain: the one rust-toolchain.toml names, from rust-overlay"
    );
    assert!(sentence(None, Toolchain::Channel("1.95.0".into())).contains("rust-overlay's `1.95.0`"));
    assert!(sentence(None, Toolchain::Nixpkgs).contains("nixpkgs' rustc"));
}

#[test]
fn a_toolchain_key_beside_a_toolchain_file_is_refused_as_ship_plan_refuses_it() {
    let mut f = found(
        &format!(
            "{PACKAGE}\n[workspace.metadata.ship]\nbinary = \"orders\"\ntoolchain = \"1.90.0\"\n"
        ),
        &["orders"],
    );
    f.toolchain_file = Some("rust-toolchain.toml".into());
    let e = plan(&f, &Options::default())
        .expect_err("refused")
        .to_string();
    assert!(
        e.contains("/ws/Cargo.toml")
            && e.contains("toolchain")
            && e.contains("`1.90.0` given, but rust-toolchain.toml names the toolchain too"),
        "{e}"
    );
}

#[test]
fn github_owners_from_remote_urls() {
    for url in [
        "https://github.com/Acme/orders.git\n",
        "git@github.com:acme/orders.git",
        "ssh://git@github.com/acme/orders",
    ] {
        assert_eq!(github_owner(url).as_deref(), Some("acme"), "{url}");
    }
    assert_eq!(github_owner("https://gitlab.com/acme/orders"), None);
}

#[test]
fn a_workspace_below_the_repository_top_gets_the_workflows_at_the_top() {
    let mut f = found(PACKAGE, &["orders"]);
    f.subdir = Some("services/orders".into());
    let p = plan(&f, &Options::default()).expect("plan");
    let paths: Vec<&str> = p.files.iter().map(|c| c.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            MANIFEST,
            FLAKE,
            "../../.github/workflows/ship.yml",
            "../../.github/workflows/ship-release.yml"
        ]
    );
    for wf in &p.files[2..] {
        assert!(
            wf.contents
                .contains("    working-directory: \"services/orders\"\n"),
            "{}",
            wf.contents
        );
    }
    assert!(
        p.next[0].contains("../../.github/workflows/ship.yml"),
        "{:?}",
        p.next
    );
    let again = plan(&after(f, &p), &Options::default()).expect("plan");
    assert!(!again.changes_anything(), "{:#?}", again.files);
}

#[test]
fn locked_sys_crates_get_a_note_naming_the_build_inputs() {
    let mut f = found(PACKAGE, &["orders"]);
    f.locked = vec!["itoa".into(), "openssl-sys".into()];
    let p = plan(&f, &Options::default()).expect("plan");
    assert!(
        p.notes.iter().any(|n| n.contains("openssl-sys")
            && n.contains("[workspace.metadata.ship.build] native-build-inputs = [\"pkg-config\"] and build-inputs = [\"openssl\"]")),
        "{:?}",
        p.notes
    );
    f.locked = vec!["itoa".into()];
    let p = plan(&f, &Options::default()).expect("plan");
    assert!(
        !p.notes.iter().any(|n| n.contains("build-inputs")),
        "{:?}",
        p.notes
    );
}
