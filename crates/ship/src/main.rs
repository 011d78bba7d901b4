use std::io::Write;
use std::path::PathBuf;

use anyhow::Context as _;
use clap::{Parser, Subcommand, ValueEnum};

use ship::{builders, cache, config, nix, plan, registry, release};

/// Plans, pushes and reports Nix-built OCI image releases of a Rust workspace.
#[derive(Parser, Debug)]
#[command(version, propagate_version = true)]
struct Cli {
    /// The workspace Cargo.toml holding [workspace.metadata.ship] (default: found upwards from
    /// the current directory).
    #[arg(long, global = true, env = "SHIP_MANIFEST")]
    manifest: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Decide the variant, platforms, build matrix and image tags for this run.
    Plan(PlanArgs),
    /// Push an image the flake built to a registry as an OCI image, by digest (no tag), and
    /// print its manifest digest. Layers the registry already has are not sent.
    PushImage(PushImageArgs),
    /// Publish the multi-platform OCI index of images already pushed, then point tags at it.
    /// Every child is checked first; nothing is written if one is missing or mismatched.
    PushIndex(PushIndexArgs),
    /// Build flake installables with one `nix build`, after a `--dry-run` pass that measures
    /// the cache hit rate (paths fetched versus derivations built); prints every output and
    /// appends a line to $GITHUB_STEP_SUMMARY when it is set.
    Build(BuildArgs),
    /// Push the closures of store paths or installables to the binary cache, minus image
    /// archives, paths the upstream cache serves and paths the cache already has. Pass the
    /// dependency-only outputs (deps-PROFILE) explicitly: they are in no runtime closure.
    PushCache(PushCacheArgs),
    /// Everything a release does from this machine: plan, one `nix build` of the variant's
    /// images, apps and dependency derivations (each platform natively wherever this Nix can
    /// build it: locally, an extra-platform or a remote builder; else arm64 by cross), push each
    /// image by digest, publish the index and tags, push the binary cache, and report. Refuses
    /// up front what nothing can build.
    Release(ReleaseArgs),
}

#[derive(clap::Args, Debug)]
struct ReleaseArgs {
    #[command(flatten)]
    plan: PlanInputs,
    /// The flake to build from.
    #[arg(long, default_value = ".")]
    flake: String,
    /// Repository to push to (default: `image` in [workspace.metadata.ship]).
    #[arg(long = "to", value_name = "REPO")]
    to: Option<String>,
    /// Binary cache to push to (default: `cache` in [workspace.metadata.ship]).
    #[arg(long = "cache", value_name = "CACHE")]
    cache: Option<String>,
    /// Print every build, push and request it would make (secrets redacted) and change
    /// nothing; Nix's own read-only dry run still measures the cache hit rate.
    #[arg(long)]
    dry_run: bool,
    /// Write the report as JSON to this file (also on failure).
    #[arg(long, value_name = "FILE")]
    report: Option<PathBuf>,
    /// Size in bytes of the same binary built with cargo's default release profile, to
    /// compare the release binary against (bench/ measures it).
    #[arg(long, value_name = "BYTES")]
    baseline_binary_bytes: Option<u64>,
    /// How to build linux/arm64: natively wherever Nix can (this machine, an extra-platform or
    /// a remote builder from Nix's `builders`), or by the cross attributes on x86_64-linux.
    #[arg(long, value_enum, value_name = "MODE", default_value_t = builders::Arm64Mode::Auto)]
    arm64: builders::Arm64Mode,
    #[command(flatten)]
    registry: RegistryArgs,
    #[command(flatten)]
    nix: NixOpts,
}

#[derive(clap::Args, Debug)]
struct NixOpts {
    /// Extra arguments for every nix call, shell-quoted, e.g. "--option substituters ''"
    /// (`nix` itself is $SHIP_NIX or found on PATH).
    #[arg(
        long,
        env = "SHIP_NIX_ARGS",
        hide_env_values = true,
        allow_hyphen_values = true
    )]
    nix_args: Option<String>,
}

#[derive(clap::Args, Debug)]
struct BuildArgs {
    /// Flake installables (e.g. .#image-dev) or store paths.
    #[arg(required = true)]
    installables: Vec<String>,
    /// Output: lines for people, or one JSON object.
    #[arg(long, value_enum, default_value_t = PushFormat::Text)]
    format: PushFormat,
    #[command(flatten)]
    nix: NixOpts,
}

#[derive(clap::Args, Debug)]
struct PushCacheArgs {
    /// Store paths or installables whose closures to push.
    #[arg(required = true)]
    paths: Vec<String>,
    /// The binary cache: cachix:NAME or a nix copy store URL (file://, s3://, http(s)://,
    /// ssh://, ssh-ng://). Default: `cache` in [workspace.metadata.ship].
    #[arg(long)]
    to: Option<String>,
    /// Print what would be pushed and the commands (secrets redacted); push and build nothing.
    #[arg(long)]
    dry_run: bool,
    /// Output: lines for people, or one JSON object.
    #[arg(long, value_enum, default_value_t = PushFormat::Text)]
    format: PushFormat,
    /// Paths signed by a key of this name are served upstream and not pushed (repeatable).
    #[arg(long = "upstream-key", value_name = "NAME", default_value = cache::DEFAULT_UPSTREAM_KEY)]
    upstream_keys: Vec<String>,
    /// cachix: store paths pushed concurrently (cachix push -j).
    #[arg(long)]
    jobs: Option<u32>,
    /// cachix: compression method (cachix push -m).
    #[arg(long, value_parser = ["xz", "zstd"])]
    compression_method: Option<String>,
    /// cachix: compression level, 0-9 for xz, 0-16 for zstd (cachix push -l).
    #[arg(long, value_parser = clap::value_parser!(u32).range(0..=16))]
    compression_level: Option<u32>,
    /// cachix: do not publish which derivation built each path.
    #[arg(long)]
    omit_deriver: bool,
    #[command(flatten)]
    nix: NixOpts,
}

#[derive(clap::Args, Debug)]
struct PlanArgs {
    #[command(flatten)]
    inputs: PlanInputs,
    /// Output: a table for people, one JSON object, or key=value lines appended to
    /// $GITHUB_OUTPUT.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
}

/// What decides the variant and tags (shared by plan and release).
#[derive(clap::Args, Debug)]
struct PlanInputs {
    /// Variant to build; wins over the selection rules.
    #[arg(long)]
    variant: Option<String>,
    /// Git ref of the run, e.g. refs/tags/v1.2.3, refs/heads/main, refs/pull/42/merge.
    #[arg(long = "ref", env = "GITHUB_REF", default_value = "")]
    git_ref: String,
    /// Event that triggered the run, e.g. push, pull_request, workflow_dispatch.
    #[arg(long, env = "GITHUB_EVENT_NAME", default_value = "")]
    event: String,
    /// Commit being built; gives the sha-<7 hex> tag.
    #[arg(long, env = "GITHUB_SHA", default_value = "")]
    sha: String,
}

impl PlanInputs {
    fn plan(self, config: &config::Config) -> anyhow::Result<plan::Plan> {
        let ctx = plan::Context {
            variant: self.variant,
            git_ref: self.git_ref,
            event: self.event,
            sha: self.sha,
        };
        Ok(plan::plan(config, &ctx)?)
    }
}

/// How to reach and log in to the registry (shared by push-image and push-index).
#[derive(clap::Args, Debug)]
struct RegistryArgs {
    /// User to log in as; the password or token comes from the variable named by
    /// --password-env. Without it, credentials come from the docker/podman auth file
    /// ($REGISTRY_AUTH_FILE, $XDG_RUNTIME_DIR/containers/auth.json, ~/.docker/config.json).
    #[arg(long, env = "SHIP_REGISTRY_USERNAME")]
    username: Option<String>,
    /// Environment variable holding the password or token for --username (never pass a
    /// secret as an argument).
    #[arg(long, value_name = "VAR", default_value = "SHIP_REGISTRY_PASSWORD")]
    password_env: String,
    /// PEM file with the CA certificate(s) to trust for the registry's TLS certificate,
    /// instead of the public roots.
    #[arg(long, value_name = "PEM")]
    ca_file: Option<PathBuf>,
    /// Speak plain HTTP to the registry. Loopback registries without TLS get it without
    /// this flag; anything else is HTTPS, verified.
    #[arg(long)]
    insecure_http: bool,
}

#[derive(clap::Args, Debug)]
struct PushImageArgs {
    /// The image: a streamLayeredImage script (e.g. ./result) or a docker-archive, plain or
    /// compressed with gzip, zstd or xz.
    image: PathBuf,
    /// Repository to push to, e.g. ghcr.io/owner/name or 127.0.0.1:5000/team/app.
    #[arg(long = "to", value_name = "REPO")]
    to: registry::Repository,
    /// Refuse unless the image config says this platform (linux/amd64 or linux/arm64).
    #[arg(long, value_parser = parse_platform)]
    platform: Option<config::Platform>,
    /// Output: the digest on stdout (progress on stderr), or one JSON object.
    #[arg(long, value_enum, default_value_t = PushFormat::Text)]
    format: PushFormat,
    #[command(flatten)]
    registry: RegistryArgs,
}

#[derive(clap::Args, Debug)]
struct PushIndexArgs {
    /// Per-platform manifests already in REPO, as DIGEST@PLATFORM, e.g.
    /// sha256:<64 hex>@linux/amd64.
    #[arg(required = true, value_name = "DIGEST@PLATFORM", value_parser = parse_child)]
    children: Vec<(ship::oci::Digest, config::Platform)>,
    /// Repository holding the images, e.g. ghcr.io/owner/name.
    #[arg(long = "to", value_name = "REPO")]
    to: registry::Repository,
    /// Tag to point at the index (repeatable); tags are written last.
    #[arg(long = "tag", value_name = "TAG")]
    tags: Vec<String>,
    /// Output: the index digest on stdout (details on stderr), or one JSON object.
    #[arg(long, value_enum, default_value_t = PushFormat::Text)]
    format: PushFormat,
    #[command(flatten)]
    registry: RegistryArgs,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum PushFormat {
    Text,
    Json,
}

fn parse_platform(s: &str) -> Result<config::Platform, String> {
    config::Platform::parse(s).ok_or_else(|| {
        format!(
            "unknown platform {s:?}; expected one of {}",
            config::PLATFORMS.join(", ")
        )
    })
}

fn parse_child(s: &str) -> Result<(ship::oci::Digest, config::Platform), String> {
    registry::parse_child(s)
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum Format {
    Table,
    Json,
    Github,
}

fn main() -> std::process::ExitCode {
    match run(Cli::parse()) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ship: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn load_config(manifest: Option<PathBuf>) -> anyhow::Result<config::Config> {
    let path = match manifest {
        Some(p) => p,
        None => config::find_manifest(&std::env::current_dir()?)?,
    };
    Ok(config::load(&path)?)
}

fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::PushImage(args) => push_image(args),
        Command::PushIndex(args) => push_index(args),
        Command::Build(args) => build(args),
        Command::PushCache(args) => push_cache(args, cli.manifest),
        Command::Release(args) => release(args, cli.manifest),
        Command::Plan(args) => {
            let config = load_config(cli.manifest)?;
            let plan = args.inputs.plan(&config)?;
            match args.format {
                Format::Table => print!("{}", plan.table()),
                Format::Json => println!("{}", serde_json::to_string_pretty(&plan)?),
                Format::Github => {
                    if !append_to_env_file("GITHUB_OUTPUT", &plan.github_output()?)? {
                        anyhow::bail!(
                            "--format github: GITHUB_OUTPUT is not set (it names the file to append to)"
                        );
                    }
                    print!("{}", plan.table());
                }
            }
            Ok(())
        }
    }
}

fn registry_options(args: &RegistryArgs) -> anyhow::Result<registry::ClientOptions> {
    let env = |k: &str| std::env::var(k).ok();
    let credentials =
        registry::credentials_from_flags(args.username.as_deref(), &args.password_env, &env)?;
    Ok(registry::ClientOptions {
        credentials,
        ca_file: args.ca_file.clone(),
        insecure_http: args.insecure_http,
        retry: registry::RetryPolicy::default(),
    })
}

fn registry_client(
    repo: &registry::Repository,
    args: &RegistryArgs,
) -> anyhow::Result<registry::Client> {
    Ok(registry::Client::from_env(repo, registry_options(args)?)?)
}

fn release(args: ReleaseArgs, manifest: Option<PathBuf>) -> anyhow::Result<()> {
    let config = load_config(manifest)?;
    let plan = args.plan.plan(&config)?;
    let repo_text = args.to.clone().unwrap_or_else(|| plan.image.clone());
    let repo: registry::Repository = repo_text
        .parse()
        .with_context(|| format!("--to / image `{repo_text}`"))?;
    // The plan shows the cache redacted; the usable URL comes from the configuration.
    let cache = match args.cache.as_deref().or(config.cache.as_deref()) {
        Some(c) => Some(cache::Target::parse(c)?),
        None => None,
    };
    let nix = nix::Nix::from_env(args.nix.nix_args.as_deref())?;
    // The plan's image and cache are what gets published; --to / --cache override them.
    let mut plan = plan;
    plan.image = repo.to_string();
    plan.cache = cache.as_ref().map(|c| c.to_string());
    eprint!("{}", plan.table());
    let mut log = std::io::stderr();
    let mut backend = release::real::RealBackend::new(
        &nix,
        repo,
        registry_options(&args.registry)?,
        cache,
        cache::PushOptions::default(),
        &mut log,
    );
    let opts = release::Options {
        flake: args.flake,
        dry_run: args.dry_run,
        baseline_binary_bytes: args.baseline_binary_bytes,
        arm64: args.arm64,
    };
    let (report, result) = release::run(&plan, &opts, &mut backend);
    if let Some(path) = &args.report {
        std::fs::write(path, serde_json::to_string_pretty(&report)? + "\n")
            .with_context(|| format!("cannot write --report {}", path.display()))?;
    }
    append_step_summary(&report.markdown())?;
    print!("{}", report.markdown());
    if let Err(e) = result {
        let p = &report.published;
        let manifests = if p.manifests.is_empty() {
            "none".to_owned()
        } else {
            p.manifests
                .iter()
                .map(|(platform, d)| format!("{platform} {d} (untagged)"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        anyhow::bail!(
            "release failed at {e}\npublished: manifests: {manifests}; index: {}; tags: {}; cache: {}",
            p.index.as_deref().unwrap_or("none"),
            if p.tags.is_empty() { "none".to_owned() } else { p.tags.join(", ") },
            if p.cache { "pushed" } else { "not pushed" }
        );
    }
    Ok(())
}

fn push_image(args: PushImageArgs) -> anyhow::Result<()> {
    let client = registry_client(&args.to, &args.registry)?;
    let pushed = registry::push_image_with(
        &client,
        &args.image,
        &args.to,
        args.platform,
        &mut |event| eprintln!("{}", registry::describe_event(&event)),
    )?;
    match args.format {
        PushFormat::Text => {
            eprintln!("{}", pushed.summary());
            println!("{}", pushed.manifest_digest);
        }
        PushFormat::Json => println!("{}", serde_json::to_string_pretty(&pushed)?),
    }
    Ok(())
}

fn push_index(args: PushIndexArgs) -> anyhow::Result<()> {
    let client = registry_client(&args.to, &args.registry)?;
    let pushed = registry::push_index(&client, &args.to, &args.children, &args.tags)?;
    match args.format {
        PushFormat::Text => {
            eprint!("{}", pushed.summary());
            println!("{}", pushed.digest);
        }
        PushFormat::Json => println!("{}", serde_json::to_string_pretty(&pushed)?),
    }
    Ok(())
}

/// Appends `text` to the file GitHub Actions names in the variable `var` (GITHUB_OUTPUT,
/// GITHUB_STEP_SUMMARY); false when the variable is unset or empty.
fn append_to_env_file(var: &str, text: &str) -> anyhow::Result<bool> {
    let Some(path) = std::env::var_os(var).filter(|p| !p.is_empty()) else {
        return Ok(false);
    };
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .with_context(|| format!("cannot open {var} file {}", PathBuf::from(&path).display()))?;
    file.write_all(text.as_bytes())?;
    Ok(true)
}

/// Appends to the job summary when running in GitHub Actions.
fn append_step_summary(markdown: &str) -> anyhow::Result<()> {
    append_to_env_file("GITHUB_STEP_SUMMARY", markdown).map(|_| ())
}

fn build(args: BuildArgs) -> anyhow::Result<()> {
    let nix = nix::Nix::from_env(args.nix.nix_args.as_deref())?;
    let outcome = nix.build_measured(&args.installables)?;
    match args.format {
        PushFormat::Text => print!("{}", outcome.text()),
        PushFormat::Json => println!("{}", serde_json::to_string_pretty(&outcome)?),
    }
    append_step_summary(&outcome.markdown())
}

fn push_cache(args: PushCacheArgs, manifest: Option<PathBuf>) -> anyhow::Result<()> {
    let configured = match &args.to {
        Some(_) => None,
        None => load_config(manifest)?.cache,
    };
    let target = cache::Target::select(args.to.as_deref(), configured.as_deref())?;
    let nix = nix::Nix::from_env(args.nix.nix_args.as_deref())?;
    let opts = cache::PushOptions {
        dry_run: args.dry_run,
        upstream_keys: args.upstream_keys,
        cachix: cache::CachixOptions {
            jobs: args.jobs,
            compression_method: args.compression_method,
            compression_level: args.compression_level,
            omit_deriver: args.omit_deriver,
        },
    };
    let report = cache::push_cache(&nix, &target, &args.paths, &opts)?;
    match args.format {
        PushFormat::Text => {
            let verb = if report.dry_run { "would run" } else { "ran" };
            for command in &report.commands {
                println!("{verb}: {command}");
            }
            print!("{}", report.text());
        }
        PushFormat::Json => println!("{}", serde_json::to_string_pretty(&report)?),
    }
    append_step_summary(&report.markdown())
}
