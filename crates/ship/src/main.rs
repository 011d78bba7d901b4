//! The `ship` command line: parses flags (one meaning per flag name across subcommands:
//! `--to` is always a registry repository, `--cache` always a binary cache, `--format` always
//! how the result is printed), calls the library, and prints; anyhow only here.

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
    Release(Box<ReleaseArgs>),
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
    #[command(flatten)]
    cache_push: CachePushArgs,
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
    uploads: UploadArgs,
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
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    format: OutputFormat,
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
    #[arg(long = "cache", value_name = "CACHE")]
    cache: Option<String>,
    /// Print what would be pushed and the commands (secrets redacted); push and build nothing.
    #[arg(long)]
    dry_run: bool,
    /// Output: lines for people, or one JSON object.
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    format: OutputFormat,
    #[command(flatten)]
    cache_push: CachePushArgs,
    #[command(flatten)]
    nix: NixOpts,
}

/// How the binary cache is pushed (shared by push-cache and release).
#[derive(clap::Args, Debug)]
struct CachePushArgs {
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
}

impl CachePushArgs {
    fn options(self, dry_run: bool) -> cache::PushOptions {
        cache::PushOptions {
            dry_run,
            upstream_keys: self.upstream_keys,
            cachix: cache::CachixOptions {
                jobs: self.jobs,
                compression_method: self.compression_method,
                compression_level: self.compression_level,
                omit_deriver: self.omit_deriver,
            },
        }
    }
}

#[derive(clap::Args, Debug)]
struct PlanArgs {
    #[command(flatten)]
    inputs: PlanInputs,
    /// Output: a table for people, one JSON object, or key=value lines appended to
    /// $GITHUB_OUTPUT.
    #[arg(long, value_enum, default_value_t = PlanFormat::Table)]
    format: PlanFormat,
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
    /// Longest all requests to the registry, their retries and the waits between them may
    /// take, counted from the first request (e.g. 600, 90s, 15m, 2h). Past it, ship stops
    /// with exit code 124 and says what it was doing. Default: no overall limit (each wait
    /// is still bounded by --stall-timeout).
    #[arg(long, env = "SHIP_TIMEOUT", value_name = "DURATION", value_parser = parse_duration)]
    timeout: Option<std::time::Duration>,
    /// Longest wait for the registry to make any progress: to connect, to take more of a
    /// request, or to send more of its answer. A stalled request is retried like a broken
    /// connection.
    #[arg(
        long,
        env = "SHIP_STALL_TIMEOUT",
        value_name = "DURATION",
        default_value = "60s",
        value_parser = parse_duration
    )]
    stall_timeout: std::time::Duration,
}

/// How blobs go up (shared by push-image and release).
#[derive(clap::Args, Debug, Default)]
struct UploadArgs {
    /// Upload blobs in chunks of SIZE (bytes, or with KiB/MiB: 4MiB) instead of one request
    /// each. Without it, ship switches to 4 MiB chunks (what ghcr.io accepts) by itself
    /// once a registry refuses a body as too large (413).
    #[arg(long, env = "SHIP_CHUNK_SIZE", value_name = "SIZE", value_parser = parse_size)]
    chunk_size: Option<u64>,
    /// A repository in the same registry that may already hold the blobs (e.g. the image
    /// of another service built from the same base): missing blobs are mounted from it
    /// instead of uploaded, when the registry can (repeatable; tried in order).
    #[arg(long, value_name = "REPO")]
    mount_from: Vec<registry::Repository>,
}

impl UploadArgs {
    fn apply(&self, options: &mut registry::ClientOptions) {
        if let Some(size) = self.chunk_size {
            options.uploads = registry::UploadOptions {
                chunked: true,
                chunk_size: size,
            };
        }
        options.mount_from = self.mount_from.clone();
    }
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
    platform: Option<ship::platform::Platform>,
    /// Output: the digest on stdout (progress on stderr), or one JSON object.
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    format: OutputFormat,
    #[command(flatten)]
    registry: RegistryArgs,
    #[command(flatten)]
    uploads: UploadArgs,
}

#[derive(clap::Args, Debug)]
struct PushIndexArgs {
    /// Per-platform manifests already in REPO, as DIGEST@PLATFORM, e.g.
    /// sha256:<64 hex>@linux/amd64.
    #[arg(required = true, value_name = "DIGEST@PLATFORM", value_parser = parse_child)]
    children: Vec<(ship::oci::Digest, ship::platform::Platform)>,
    /// Repository holding the images, e.g. ghcr.io/owner/name.
    #[arg(long = "to", value_name = "REPO")]
    to: registry::Repository,
    /// Tag to point at the index (repeatable); tags are written last. Without any, the
    /// index is published untagged (by digest only), and the output says so.
    #[arg(long = "tag", value_name = "TAG", allow_hyphen_values = true)]
    tags: Vec<String>,
    /// Output: the index digest on stdout (details on stderr), or one JSON object.
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    format: OutputFormat,
    #[command(flatten)]
    registry: RegistryArgs,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum OutputFormat {
    Text,
    Json,
}

/// `4194304`, `512KiB`, `4MiB` to bytes (above 0).
fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let (number, scale) = if let Some(n) = t.strip_suffix("MiB") {
        (n, 1 << 20)
    } else if let Some(n) = t.strip_suffix("KiB") {
        (n, 1 << 10)
    } else {
        (t, 1)
    };
    match number
        .trim()
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(scale))
    {
        Some(n) if n > 0 => Ok(n),
        _ => Err(format!(
            "{s:?} is not a size: give bytes above 0, or a whole number with KiB or MiB (4MiB)"
        )),
    }
}

fn parse_duration(s: &str) -> Result<std::time::Duration, String> {
    registry::limits::parse_duration(s)
}

fn parse_platform(s: &str) -> Result<ship::platform::Platform, String> {
    ship::platform::Platform::parse(s).map_err(|e| e.to_string())
}

fn parse_child(s: &str) -> Result<(ship::oci::Digest, ship::platform::Platform), String> {
    registry::parse_child(s)
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum PlanFormat {
    Table,
    Json,
    Github,
}

/// print!/println!/eprint!/eprintln! that never panic: a closed or broken stdout or stderr
/// (`ship push-image ... 2>&1 >/dev/null | head -1`) loses the text but never stops the work
/// (the std macros panic on EPIPE, and the release profile aborts on panic, which would skip
/// every cleanup).
macro_rules! out {
    ($($t:tt)*) => {{ let _ = write!(std::io::stdout(), $($t)*); }};
}
macro_rules! outln {
    ($($t:tt)*) => {{ let _ = writeln!(std::io::stdout(), $($t)*); }};
}
macro_rules! err {
    ($($t:tt)*) => {{ let _ = write!(std::io::stderr(), $($t)*); }};
}
macro_rules! errln {
    ($($t:tt)*) => {{ let _ = writeln!(std::io::stderr(), $($t)*); }};
}

fn main() -> std::process::ExitCode {
    remove_temporary_files_on_signals();
    match run(Cli::parse()) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            errln!("ship: {}", describe_error(&e));
            exit_code(&e)
        }
    }
}

/// On SIGINT or SIGTERM, remove ship's temporary files (an image being pushed can spool
/// gigabytes) and exit as the signal would have (128 + its number). The signals are blocked
/// in every thread and taken by one waiting thread, so the removal runs as ordinary code, not
/// in a signal handler. Children get an empty signal mask from std::process::Command.
fn remove_temporary_files_on_signals() {
    // SAFETY: sigset_t is plain data that sigemptyset initialises; the calls only read or
    // write the set passed and the calling thread's mask, before any other thread exists.
    let set = unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGINT);
        libc::sigaddset(&mut set, libc::SIGTERM);
        if libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()) != 0 {
            return;
        }
        set
    };
    std::thread::spawn(move || loop {
        let mut signal = 0;
        // SAFETY: `set` is an initialised sigset_t and `signal` a valid out-pointer.
        if unsafe { libc::sigwait(&set, &mut signal) } == 0 {
            ship::archive::remove_temporary_files();
            std::process::exit(128 + signal);
        }
    });
}

/// The error and its causes, each said once: library errors already include their cause in
/// their message (for callers that print only `{e}`), so a cause whose text the message
/// already holds is not repeated.
fn describe_error(e: &anyhow::Error) -> String {
    let mut text = String::new();
    for cause in e.chain() {
        let part = cause.to_string();
        if text.contains(&part) {
            continue;
        }
        if !text.is_empty() {
            text.push_str(": ");
        }
        text.push_str(&part);
    }
    text
}

/// 124 (as timeout(1) exits) when the overall deadline ran out, 1 for any other failure.
fn exit_code(e: &anyhow::Error) -> std::process::ExitCode {
    let deadline = e.chain().any(|c| {
        matches!(
            c.downcast_ref::<registry::RegistryError>(),
            Some(registry::RegistryError::Deadline { .. })
        )
    });
    if deadline {
        std::process::ExitCode::from(124)
    } else {
        std::process::ExitCode::FAILURE
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
        Command::Release(args) => release(*args, cli.manifest),
        Command::Plan(args) => {
            let config = load_config(cli.manifest)?;
            let plan = args.inputs.plan(&config)?;
            match args.format {
                PlanFormat::Table => out!("{}", plan.table()),
                PlanFormat::Json => outln!("{}", serde_json::to_string_pretty(&plan)?),
                PlanFormat::Github => {
                    if !append_to_env_file("GITHUB_OUTPUT", &plan.github_output()?)? {
                        anyhow::bail!(
                            "--format github: GITHUB_OUTPUT is not set (it names the file to append to)"
                        );
                    }
                    out!("{}", plan.table());
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
        limits: registry::Limits {
            stall: args.stall_timeout,
            overall: args.timeout,
        },
        uploads: registry::UploadOptions::default(),
        mount_from: Vec::new(),
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
        Some(c) => Some(cache::BinaryCache::parse(c)?),
        None => None,
    };
    let nix = nix::Nix::from_env(args.nix.nix_args.as_deref())?;
    // The plan's image and cache are what gets published; --to / --cache override them.
    let mut plan = plan;
    plan.image = repo.to_string();
    plan.cache = cache.as_ref().map(|c| c.to_string());
    err!("{}", plan.table());
    let mut log = std::io::stderr();
    let mut backend = release::real::RealBackend::new(
        &nix,
        repo,
        {
            let mut options = registry_options(&args.registry)?;
            args.uploads.apply(&mut options);
            options
        },
        cache,
        args.cache_push.options(false),
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
    out!("{}", report.markdown());
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
        let message = format!(
            "release failed at {e}\npublished: manifests: {manifests}; index: {}; tags: {}; cache: {}",
            p.index.as_ref().map_or("none".to_owned(), |d| d.to_string()),
            if p.tags.is_empty() { "none".to_owned() } else { p.tags.join(", ") },
            if p.cache { "pushed" } else { "not pushed" }
        );
        // The error stays in the chain (for the exit code); its text is in the message, so
        // it is not printed twice.
        return Err(anyhow::Error::new(e).context(message));
    }
    Ok(())
}

fn push_image(args: PushImageArgs) -> anyhow::Result<()> {
    let mut options = registry_options(&args.registry)?;
    args.uploads.apply(&mut options);
    let client = registry::Client::from_env(&args.to, options)?;
    let pushed = registry::push_image_with(
        &client,
        &args.image,
        &args.to,
        args.platform,
        &mut |event| errln!("{}", registry::describe_event(&event)),
    )?;
    match args.format {
        OutputFormat::Text => {
            errln!("{}", pushed.summary());
            outln!("{}", pushed.manifest_digest);
        }
        OutputFormat::Json => outln!("{}", serde_json::to_string_pretty(&pushed)?),
    }
    Ok(())
}

fn push_index(args: PushIndexArgs) -> anyhow::Result<()> {
    let client = registry_client(&args.to, &args.registry)?;
    // A partly applied tag list is still reported in full (which tags point at the index
    // and which do not), then fails the command.
    let (pushed, failure) =
        match registry::push_index(&client, &args.to, &args.children, &args.tags) {
            Ok(pushed) => (pushed, None),
            Err(registry::RegistryError::PartlyTagged(pushed)) => (
                (*pushed).clone(),
                Some(registry::RegistryError::PartlyTagged(pushed)),
            ),
            Err(e) => return Err(e.into()),
        };
    match args.format {
        OutputFormat::Text => {
            err!("{}", pushed.summary());
            outln!("{}", pushed.digest);
        }
        OutputFormat::Json => outln!("{}", serde_json::to_string_pretty(&pushed)?),
    }
    match failure {
        Some(e) => Err(e.into()),
        None => Ok(()),
    }
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
        OutputFormat::Text => out!("{}", outcome.text()),
        OutputFormat::Json => outln!("{}", serde_json::to_string_pretty(&outcome)?),
    }
    append_step_summary(&outcome.markdown())
}

fn push_cache(args: PushCacheArgs, manifest: Option<PathBuf>) -> anyhow::Result<()> {
    let configured = match &args.cache {
        Some(_) => None,
        None => load_config(manifest)?.cache,
    };
    let target = cache::BinaryCache::select(args.cache.as_deref(), configured.as_deref())?;
    let nix = nix::Nix::from_env(args.nix.nix_args.as_deref())?;
    let opts = args.cache_push.options(args.dry_run);
    let report = cache::push_cache(&nix, &target, &args.paths, &opts)?;
    match args.format {
        OutputFormat::Text => {
            let verb = if report.dry_run { "would run" } else { "ran" };
            for command in &report.commands {
                outln!("{verb}: {command}");
            }
            out!("{}", report.text());
        }
        OutputFormat::Json => outln!("{}", serde_json::to_string_pretty(&report)?),
    }
    append_step_summary(&report.markdown())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("{path}: opening image: {source}")]
    struct Opening {
        path: String,
        source: std::io::Error,
    }

    #[test]
    fn each_cause_is_said_once() {
        let io = std::io::Error::from(std::io::ErrorKind::NotFound);
        let e = anyhow::Error::new(Opening {
            path: "img.tar".into(),
            source: io,
        });
        let text = describe_error(&e);
        assert_eq!(text, "img.tar: opening image: entity not found");
        let e = anyhow::anyhow!("disk full").context("cannot write --report r.json");
        assert_eq!(
            describe_error(&e),
            "cannot write --report r.json: disk full"
        );
    }

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("ship").chain(args.iter().copied()))
    }

    #[test]
    fn cache_flags_mean_the_same_in_push_cache_and_release() {
        let cli = parse(&[
            "release",
            "--cache",
            "file:///c",
            "--upstream-key",
            "k-1",
            "--jobs",
            "2",
        ])
        .unwrap();
        let Command::Release(args) = cli.command else {
            panic!("not release")
        };
        assert_eq!(args.cache.as_deref(), Some("file:///c"));
        let opts = args.cache_push.options(false);
        assert_eq!(opts.upstream_keys, ["k-1"]);
        assert_eq!(opts.cachix.jobs, Some(2));

        let cli = parse(&["push-cache", "--cache", "cachix:x", "/nix/store/p"]).unwrap();
        let Command::PushCache(args) = cli.command else {
            panic!("not push-cache")
        };
        assert_eq!(args.cache.as_deref(), Some("cachix:x"));
        assert_eq!(
            args.cache_push.options(true).upstream_keys,
            [cache::DEFAULT_UPSTREAM_KEY]
        );
    }

    #[test]
    fn to_is_only_ever_a_registry_repository() {
        let err = parse(&["push-cache", "--to", "cachix:x", "/nix/store/p"]).unwrap_err();
        assert_eq!(err.kind(), clap::error::ErrorKind::UnknownArgument);
        assert!(parse(&["push-image", "./result", "--to", "ghcr.io/o/n"]).is_ok());
        assert!(parse(&[
            "push-index",
            "--to",
            "ghcr.io/o/n",
            &format!("sha256:{}@linux/amd64", "0".repeat(64))
        ])
        .is_ok());
        assert!(parse(&["release", "--to", "ghcr.io/o/n"]).is_ok());
    }
}
