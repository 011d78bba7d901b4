//! The harness's registry for programs that are not Rust tests (the benchmark, bench/): one
//! implementation of "a Distribution registry on loopback" ([`Registry`]), started from any
//! language. It prints where the registry is as one JSON line and keeps it running until its
//! standard input is closed, so the registry never outlives the program that started it.

use std::io::{Read, Write};

use clap::{Parser, Subcommand};
use ship_test_support::registry::Registry;

/// Test and benchmark harnesses of ship, for programs that cannot link ship-test-support.
#[derive(Parser)]
#[command(name = "ship-harness")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Start a plain-HTTP, anonymous Distribution registry on 127.0.0.1 with storage in a
    /// temporary directory; print `{"addr": "127.0.0.1:PORT", "storage": DIR}` on one line;
    /// stop it and delete its storage when standard input reaches end of file.
    Registry,
}

fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::Registry => serve_registry(),
    }
}

fn serve_registry() -> anyhow::Result<()> {
    let registry = Registry::start();
    let line = serde_json::json!({
        "addr": registry.addr(),
        "storage": registry.storage(),
    });
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{line}")?;
    stdout.flush()?;
    // Blocks until the starter closes the pipe (or exits); the registry is killed on drop.
    let mut rest = Vec::new();
    std::io::stdin().lock().read_to_end(&mut rest)?;
    drop(registry);
    Ok(())
}
