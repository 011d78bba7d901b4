//! One run function per subcommand: calls the library with the parsed flags and prints the
//! result (stdout for the answer, stderr for progress and reports).

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context as _;

use ship::{cache, config, init, nix, registry, release};

use crate::cli::{
    BuildArgs, InitArgs, OutputFormat, PlanArgs, PlanFormat, PushCacheArgs, PushImageArgs,
    PushIndexArgs, RegistryArgs, ReleaseArgs,
};

fn load_config(manifest: Option<PathBuf>) -> anyhow::Result<config::Config> {
    let path = match manifest {
        Some(p) => p,
        None => config::find_manifest(&std::env::current_dir()?)?,
    };
    Ok(config::load(&path)?)
}

pub(crate) fn init(args: InitArgs, manifest: Option<PathBuf>) -> anyhow::Result<()> {
    let cwd = std::env::current_dir()?;
    let manifest = init::io::workspace_manifest(manifest.as_deref(), &cwd)?;
    let found = init::io::find(&manifest)?;
    let options = init::Options {
        binary: args.binary,
        to: args.to,
        cache: args.cache,
        force: args.force,
    };
    let plan = init::plan(&found, &options)?;
    if !args.dry_run {
        init::io::write(&plan)?;
    }
    out!("{}", plan.summary(args.dry_run));
    Ok(())
}

pub(crate) fn plan(args: PlanArgs, manifest: Option<PathBuf>) -> anyhow::Result<()> {
    let config = load_config(manifest)?;
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

pub(crate) fn release(args: ReleaseArgs, manifest: Option<PathBuf>) -> anyhow::Result<()> {
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

pub(crate) fn push_image(args: PushImageArgs) -> anyhow::Result<()> {
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

pub(crate) fn push_index(args: PushIndexArgs) -> anyhow::Result<()> {
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

pub(crate) fn build(args: BuildArgs) -> anyhow::Result<()> {
    let nix = nix::Nix::from_env(args.nix.nix_args.as_deref())?;
    let outcome = nix.build_measured(&args.installables)?;
    match args.format {
        OutputFormat::Text => out!("{}", outcome.text()),
        OutputFormat::Json => outln!("{}", serde_json::to_string_pretty(&outcome)?),
    }
    append_step_summary(&outcome.markdown())
}

pub(crate) fn push_cache(args: PushCacheArgs, manifest: Option<PathBuf>) -> anyhow::Result<()> {
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
