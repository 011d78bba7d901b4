//! The `ship` command line: parses flags (one meaning per flag name across subcommands:
//! `--to` is always a registry repository, `--cache` always a binary cache, `--format` always
//! how the result is printed), dispatches to the subcommand, and turns an error into its
//! message and exit code; anyhow only in the binary.

use std::io::Write;

use clap::Parser;

use ship::registry;

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

mod cli;
mod commands;

use cli::{Cli, Command};

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

fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Init(args) => commands::init(args, cli.manifest),
        Command::PushImage(args) => commands::push_image(args),
        Command::PushIndex(args) => commands::push_index(args),
        Command::Build(args) => commands::build(args),
        Command::PushCache(args) => commands::push_cache(args, cli.manifest),
        Command::Release(args) => commands::release(*args, cli.manifest),
        Command::Plan(args) => commands::plan(args, cli.manifest),
    }
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
}
