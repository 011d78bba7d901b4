//! The command line's grammar: every subcommand, its flags and their help text (clap derive),
//! the value parsers, and the conversions from flags to library options.

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

use ship::{builders, cache, config, plan, registry};

/// Plans, pushes and reports Nix-built OCI image releases of a Rust workspace.
#[derive(Parser, Debug)]
#[command(version, propagate_version = true)]
pub(crate) struct Cli {
    /// The workspace Cargo.toml holding [workspace.metadata.ship] (default: found upwards from
    /// the current directory).
    #[arg(long, global = true, env = "SHIP_MANIFEST")]
    pub(crate) manifest: Option<PathBuf>,
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Subcommand, Debug)]
pub(crate) enum Command {
    /// Adopt ship in this cargo workspace: append [workspace.metadata.ship] to its Cargo.toml
    /// (nothing else in it changes), write flake.nix and .github/workflows/{ci,release}.yml,
    /// and print the next steps. A second run changes nothing.
    Init(InitArgs),
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
pub(crate) struct InitArgs {
    /// The binary the image runs, when the workspace has several.
    #[arg(long, value_name = "NAME")]
    pub(crate) binary: Option<String>,
    /// Repository the images are pushed to (default: ghcr.io/OWNER/BINARY, OWNER from the
    /// GitHub remote `origin`).
    #[arg(long = "to", value_name = "REPO")]
    pub(crate) to: Option<String>,
    /// Binary cache shared by CI and releases: cachix:NAME or a nix copy store URL (default:
    /// none; the table names how to add one).
    #[arg(long = "cache", value_name = "CACHE")]
    pub(crate) cache: Option<String>,
    /// Overwrite flake.nix and the workflows when they differ from what ship init writes.
    #[arg(long)]
    pub(crate) force: bool,
    /// Print each file and what would be written to it; write nothing.
    #[arg(long)]
    pub(crate) dry_run: bool,
}

#[derive(clap::Args, Debug)]
pub(crate) struct ReleaseArgs {
    #[command(flatten)]
    pub(crate) plan: PlanInputs,
    /// The flake to build from.
    #[arg(long, default_value = ".")]
    pub(crate) flake: String,
    /// Repository to push to (default: `image` in [workspace.metadata.ship]).
    #[arg(long = "to", value_name = "REPO")]
    pub(crate) to: Option<String>,
    /// Binary cache to push to (default: `cache` in [workspace.metadata.ship]).
    #[arg(long = "cache", value_name = "CACHE")]
    pub(crate) cache: Option<String>,
    #[command(flatten)]
    pub(crate) cache_push: CachePushArgs,
    /// Print every build, push and request it would make (secrets redacted) and change
    /// nothing; Nix's own read-only dry run still measures the cache hit rate.
    #[arg(long)]
    pub(crate) dry_run: bool,
    /// Write the report as JSON to this file (also on failure).
    #[arg(long, value_name = "FILE")]
    pub(crate) report: Option<PathBuf>,
    /// Size in bytes of the same binary built with cargo's default release profile, to
    /// compare the release binary against (bench/ measures it).
    #[arg(long, value_name = "BYTES")]
    pub(crate) baseline_binary_bytes: Option<u64>,
    /// How to build linux/arm64: natively wherever Nix can (this machine, an extra-platform or
    /// a remote builder from Nix's `builders`), or by the cross attributes on x86_64-linux.
    #[arg(long, value_enum, value_name = "MODE", default_value_t = builders::Arm64Mode::Auto)]
    pub(crate) arm64: builders::Arm64Mode,
    #[command(flatten)]
    pub(crate) registry: RegistryArgs,
    #[command(flatten)]
    pub(crate) uploads: UploadArgs,
    #[command(flatten)]
    pub(crate) nix: NixOpts,
}

#[derive(clap::Args, Debug)]
pub(crate) struct NixOpts {
    /// Extra arguments for every nix call, shell-quoted, e.g. "--option substituters ''"
    /// (`nix` itself is $SHIP_NIX or found on PATH).
    #[arg(
        long,
        env = "SHIP_NIX_ARGS",
        hide_env_values = true,
        allow_hyphen_values = true
    )]
    pub(crate) nix_args: Option<String>,
}

#[derive(clap::Args, Debug)]
pub(crate) struct BuildArgs {
    /// Flake installables (e.g. .#image-dev) or store paths.
    #[arg(required = true)]
    pub(crate) installables: Vec<String>,
    /// Output: lines for people, or one JSON object.
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    pub(crate) format: OutputFormat,
    #[command(flatten)]
    pub(crate) nix: NixOpts,
}

#[derive(clap::Args, Debug)]
pub(crate) struct PushCacheArgs {
    /// Store paths or installables whose closures to push.
    #[arg(required = true)]
    pub(crate) paths: Vec<String>,
    /// The binary cache: cachix:NAME or a nix copy store URL (file://, s3://, http(s)://,
    /// ssh://, ssh-ng://). Default: `cache` in [workspace.metadata.ship].
    #[arg(long = "cache", value_name = "CACHE")]
    pub(crate) cache: Option<String>,
    /// Print what would be pushed and the commands (secrets redacted); push and build nothing.
    #[arg(long)]
    pub(crate) dry_run: bool,
    /// Output: lines for people, or one JSON object.
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    pub(crate) format: OutputFormat,
    #[command(flatten)]
    pub(crate) cache_push: CachePushArgs,
    #[command(flatten)]
    pub(crate) nix: NixOpts,
}

/// How the binary cache is pushed (shared by push-cache and release).
#[derive(clap::Args, Debug)]
pub(crate) struct CachePushArgs {
    /// Paths signed by a key of this name are served upstream and not pushed (repeatable).
    #[arg(long = "upstream-key", value_name = "NAME", default_value = cache::DEFAULT_UPSTREAM_KEY)]
    pub(crate) upstream_keys: Vec<String>,
    /// cachix: store paths pushed concurrently (cachix push -j).
    #[arg(long)]
    pub(crate) jobs: Option<u32>,
    /// cachix: compression method (cachix push -m).
    #[arg(long, value_parser = ["xz", "zstd"])]
    pub(crate) compression_method: Option<String>,
    /// cachix: compression level, 0-9 for xz, 0-16 for zstd (cachix push -l).
    #[arg(long, value_parser = clap::value_parser!(u32).range(0..=16))]
    pub(crate) compression_level: Option<u32>,
    /// cachix: do not publish which derivation built each path.
    #[arg(long)]
    pub(crate) omit_deriver: bool,
}

impl CachePushArgs {
    pub(crate) fn options(self, dry_run: bool) -> cache::PushOptions {
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
pub(crate) struct PlanArgs {
    #[command(flatten)]
    pub(crate) inputs: PlanInputs,
    /// Output: a table for people, one JSON object, or key=value lines appended to
    /// $GITHUB_OUTPUT.
    #[arg(long, value_enum, default_value_t = PlanFormat::Table)]
    pub(crate) format: PlanFormat,
}

/// What decides the variant and tags (shared by plan and release).
#[derive(clap::Args, Debug)]
pub(crate) struct PlanInputs {
    /// Variant to build; wins over the selection rules.
    #[arg(long)]
    pub(crate) variant: Option<String>,
    /// Git ref of the run, e.g. refs/tags/v1.2.3, refs/heads/main, refs/pull/42/merge.
    #[arg(long = "ref", env = "GITHUB_REF", default_value = "")]
    pub(crate) git_ref: String,
    /// Event that triggered the run, e.g. push, pull_request, workflow_dispatch.
    #[arg(long, env = "GITHUB_EVENT_NAME", default_value = "")]
    pub(crate) event: String,
    /// Commit being built; gives the sha-<7 hex> tag.
    #[arg(long, env = "GITHUB_SHA", default_value = "")]
    pub(crate) sha: String,
}

impl PlanInputs {
    pub(crate) fn plan(self, config: &config::Config) -> anyhow::Result<plan::Plan> {
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
pub(crate) struct RegistryArgs {
    /// User to log in as; the password or token comes from the variable named by
    /// --password-env. Without it, credentials come from the docker/podman auth file
    /// ($REGISTRY_AUTH_FILE, $XDG_RUNTIME_DIR/containers/auth.json, ~/.docker/config.json).
    #[arg(long, env = "SHIP_REGISTRY_USERNAME")]
    pub(crate) username: Option<String>,
    /// Environment variable holding the password or token for --username (never pass a
    /// secret as an argument).
    #[arg(long, value_name = "VAR", default_value = "SHIP_REGISTRY_PASSWORD")]
    pub(crate) password_env: String,
    /// PEM file with the CA certificate(s) to trust for the registry's TLS certificate,
    /// instead of the public roots.
    #[arg(long, value_name = "PEM")]
    pub(crate) ca_file: Option<PathBuf>,
    /// Speak plain HTTP to the registry. Loopback registries without TLS get it without
    /// this flag; anything else is HTTPS, verified.
    #[arg(long)]
    pub(crate) insecure_http: bool,
    /// Longest all requests to the registry, their retries and the waits between them may
    /// take, counted from the first request (e.g. 600, 90s, 15m, 2h). Past it, ship stops
    /// with exit code 124 and says what it was doing. Default: no overall limit (each wait
    /// is still bounded by --stall-timeout).
    #[arg(long, env = "SHIP_TIMEOUT", value_name = "DURATION", value_parser = parse_duration)]
    pub(crate) timeout: Option<std::time::Duration>,
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
    pub(crate) stall_timeout: std::time::Duration,
}

/// How blobs go up (shared by push-image and release).
#[derive(clap::Args, Debug, Default)]
pub(crate) struct UploadArgs {
    /// Upload blobs in chunks of SIZE (bytes, or with KiB/MiB: 4MiB) instead of one request
    /// each. Without it, ship switches to 4 MiB chunks (what ghcr.io accepts) by itself
    /// once a registry refuses a body as too large (413).
    #[arg(long, env = "SHIP_CHUNK_SIZE", value_name = "SIZE", value_parser = parse_size)]
    pub(crate) chunk_size: Option<u64>,
    /// A repository in the same registry that may already hold the blobs (e.g. the image
    /// of another service built from the same base): missing blobs are mounted from it
    /// instead of uploaded, when the registry can (repeatable; tried in order).
    #[arg(long, value_name = "REPO")]
    pub(crate) mount_from: Vec<registry::Repository>,
}

impl UploadArgs {
    pub(crate) fn apply(&self, options: &mut registry::ClientOptions) {
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
pub(crate) struct PushImageArgs {
    /// The image: a streamLayeredImage script (e.g. ./result) or a docker-archive, plain or
    /// compressed with gzip, zstd or xz.
    pub(crate) image: PathBuf,
    /// Repository to push to, e.g. ghcr.io/owner/name or 127.0.0.1:5000/team/app.
    #[arg(long = "to", value_name = "REPO")]
    pub(crate) to: registry::Repository,
    /// Refuse unless the image config says this platform (linux/amd64 or linux/arm64).
    #[arg(long, value_parser = parse_platform)]
    pub(crate) platform: Option<ship::platform::Platform>,
    /// Output: the digest on stdout (progress on stderr), or one JSON object.
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    pub(crate) format: OutputFormat,
    #[command(flatten)]
    pub(crate) registry: RegistryArgs,
    #[command(flatten)]
    pub(crate) uploads: UploadArgs,
}

#[derive(clap::Args, Debug)]
pub(crate) struct PushIndexArgs {
    /// Per-platform manifests already in REPO, as DIGEST@PLATFORM, e.g.
    /// sha256:<64 hex>@linux/amd64.
    #[arg(required = true, value_name = "DIGEST@PLATFORM", value_parser = parse_child)]
    pub(crate) children: Vec<(ship::oci::Digest, ship::platform::Platform)>,
    /// Repository holding the images, e.g. ghcr.io/owner/name.
    #[arg(long = "to", value_name = "REPO")]
    pub(crate) to: registry::Repository,
    /// Tag to point at the index (repeatable); tags are written last. Without any, the
    /// index is published untagged (by digest only), and the output says so.
    #[arg(long = "tag", value_name = "TAG", allow_hyphen_values = true)]
    pub(crate) tags: Vec<String>,
    /// Output: the index digest on stdout (details on stderr), or one JSON object.
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    pub(crate) format: OutputFormat,
    #[command(flatten)]
    pub(crate) registry: RegistryArgs,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum OutputFormat {
    Text,
    Json,
}

/// `4194304`, `512KiB`, `4MiB` to bytes (above 0).
pub(crate) fn parse_size(s: &str) -> Result<u64, String> {
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

pub(crate) fn parse_duration(s: &str) -> Result<std::time::Duration, String> {
    registry::limits::parse_duration(s)
}

pub(crate) fn parse_platform(s: &str) -> Result<ship::platform::Platform, String> {
    ship::platform::Platform::parse(s).map_err(|e| e.to_string())
}

pub(crate) fn parse_child(
    s: &str,
) -> Result<(ship::oci::Digest, ship::platform::Platform), String> {
    registry::parse_child(s)
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum PlanFormat {
    Table,
    Json,
    Github,
}

#[cfg(test)]
mod tests {
    use super::*;
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
