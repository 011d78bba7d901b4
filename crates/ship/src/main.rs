use std::io::Write;
use std::path::PathBuf;

use anyhow::Context as _;
use clap::{Parser, Subcommand, ValueEnum};

use ship::{config, plan};

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
}

#[derive(clap::Args, Debug)]
struct PlanArgs {
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
    /// Output: a table for people, one JSON object, or key=value lines appended to
    /// $GITHUB_OUTPUT.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
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
        Command::Plan(args) => {
            let config = load_config(cli.manifest)?;
            let ctx = plan::Context {
                variant: args.variant,
                git_ref: args.git_ref,
                event: args.event,
                sha: args.sha,
            };
            let plan = plan::plan(&config, &ctx)?;
            match args.format {
                Format::Table => print!("{}", plan.table()),
                Format::Json => println!("{}", serde_json::to_string_pretty(&plan)?),
                Format::Github => {
                    let path = std::env::var_os("GITHUB_OUTPUT")
                        .context("--format github: GITHUB_OUTPUT is not set (it names the file to append to)")?;
                    let mut file = std::fs::OpenOptions::new()
                        .create(true)
                        .append(true)
                        .open(&path)
                        .with_context(|| {
                            format!(
                                "cannot open GITHUB_OUTPUT file {}",
                                PathBuf::from(&path).display()
                            )
                        })?;
                    file.write_all(plan.github_output()?.as_bytes())?;
                    print!("{}", plan.table());
                }
            }
            Ok(())
        }
    }
}
