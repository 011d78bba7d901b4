//! Running child processes, the one way ship does it: arguments as given (never through a
//! shell), stdin fed from memory, stdout captured or sent to a file, stderr captured (and
//! optionally echoed as it arrives) with every secret value scrubbed, and a failure reported
//! with the command line (redacted) and the end of its stderr.

use std::ffi::OsString;
use std::fs::File;
use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Command, ExitStatus, Stdio};

use crate::redact::{display_command, scrub};

/// How many of a failed child's last stderr lines an error shows.
pub const STDERR_TAIL_LINES: usize = 20;

#[derive(Debug, thiserror::Error)]
pub enum ExecError {
    #[error("cannot run `{program}`: {source}{}", hint_suffix(.hint))]
    Spawn {
        program: String,
        source: std::io::Error,
        /// What to do about it, e.g. which variable points at the program.
        hint: &'static str,
    },
    #[error("`{command}` failed ({status}){}", tail_suffix(.stderr_tail))]
    Failed {
        /// The command line, redacted.
        command: String,
        status: String,
        /// The last [`STDERR_TAIL_LINES`] lines of its stderr, scrubbed.
        stderr_tail: String,
    },
}

fn hint_suffix(hint: &str) -> String {
    if hint.is_empty() {
        String::new()
    } else {
        format!(" ({hint})")
    }
}

fn tail_suffix(tail: &str) -> String {
    if tail.trim().is_empty() {
        String::new()
    } else {
        format!(":\n{tail}")
    }
}

/// The last `lines` lines of `text`.
pub fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// What a finished child left behind.
#[derive(Debug)]
pub struct Output {
    pub status: ExitStatus,
    /// Empty when stdout went to a file.
    pub stdout: Vec<u8>,
    /// Scrubbed of every secret.
    pub stderr: String,
}

/// A program to run and how; built up, then [`Process::run`] or [`Process::output`].
#[derive(Debug)]
pub struct Process {
    program: OsString,
    args: Vec<String>,
    stdin: Option<Vec<u8>>,
    stdout_file: Option<File>,
    echo: bool,
    secrets: Vec<String>,
    hint: &'static str,
}

impl Process {
    pub fn new(program: impl Into<OsString>) -> Self {
        Self {
            program: program.into(),
            args: Vec::new(),
            stdin: None,
            stdout_file: None,
            echo: false,
            secrets: Vec::new(),
            hint: "",
        }
    }

    pub fn args<S: AsRef<str>>(mut self, args: &[S]) -> Self {
        self.args.extend(args.iter().map(|a| a.as_ref().to_owned()));
        self
    }

    /// Bytes written to the child's stdin (otherwise stdin is empty).
    pub fn stdin(mut self, data: Vec<u8>) -> Self {
        self.stdin = Some(data);
        self
    }

    /// Sends stdout to `file` instead of capturing it (output too big to hold in memory).
    pub fn stdout_to(mut self, file: File) -> Self {
        self.stdout_file = Some(file);
        self
    }

    /// Copies stderr line by line to ours as it arrives (build logs, copy progress).
    pub fn echo(mut self, echo: bool) -> Self {
        self.echo = echo;
        self
    }

    /// Values scrubbed from the child's stderr (echoed and captured).
    pub fn secrets(mut self, secrets: &[String]) -> Self {
        self.secrets.extend(secrets.iter().cloned());
        self
    }

    /// Said when the program cannot be started, e.g. which variable points at it.
    pub fn hint(mut self, hint: &'static str) -> Self {
        self.hint = hint;
        self
    }

    /// The command line, fit to print.
    pub fn display(&self) -> String {
        display_command(&self.program.to_string_lossy(), &self.args)
    }

    /// Runs it to the end; a non-zero exit is a [`ExecError::Failed`].
    pub fn run(self) -> Result<Output, ExecError> {
        let command = self.display();
        let out = self.output()?;
        if !out.status.success() {
            return Err(ExecError::Failed {
                command,
                status: out.status.to_string(),
                stderr_tail: tail(&out.stderr, STDERR_TAIL_LINES),
            });
        }
        Ok(out)
    }

    /// Runs it to the end, whatever its exit status.
    pub fn output(self) -> Result<Output, ExecError> {
        let program = self.program.to_string_lossy().into_owned();
        let hint = self.hint;
        let spawn_error = |source| ExecError::Spawn {
            program: program.clone(),
            source,
            hint,
        };
        let stdout = match self.stdout_file {
            Some(file) => Stdio::from(file),
            None => Stdio::piped(),
        };
        let mut child = Command::new(&self.program)
            .args(&self.args)
            .stdin(if self.stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(stdout)
            .stderr(Stdio::piped())
            .spawn()
            .map_err(spawn_error)?;
        let writer = match (self.stdin, child.stdin.take()) {
            (Some(data), Some(mut pipe)) => Some(std::thread::spawn(move || {
                // A child that exits without reading all of stdin is reported by its exit status.
                let _ = pipe.write_all(&data);
            })),
            _ => None,
        };
        let reader = {
            let pipe = child.stderr.take();
            let (echo, secrets) = (self.echo, self.secrets);
            std::thread::spawn(move || read_stderr(pipe, echo, &secrets))
        };
        let mut stdout = Vec::new();
        if let Some(mut pipe) = child.stdout.take() {
            pipe.read_to_end(&mut stdout).map_err(spawn_error)?;
        }
        let status = child.wait().map_err(spawn_error)?;
        if let Some(w) = writer {
            let _ = w.join();
        }
        let stderr = reader.join().unwrap_or_default();
        Ok(Output {
            status,
            stdout,
            stderr,
        })
    }
}

fn read_stderr(pipe: Option<std::process::ChildStderr>, echo: bool, secrets: &[String]) -> String {
    let mut collected = String::new();
    if let Some(pipe) = pipe {
        for line in BufReader::new(pipe).split(b'\n') {
            let Ok(line) = line else { break };
            let line = scrub(&String::from_utf8_lossy(&line), secrets);
            if echo {
                // A closed stderr loses the echo, never the run (eprintln! would panic).
                let _ = writeln!(std::io::stderr(), "{line}");
            }
            collected.push_str(&line);
            collected.push('\n');
        }
    }
    collected
}

/// Splits a command-line fragment (e.g. `SHIP_NIX_ARGS`) the way a POSIX shell splits words: blanks separate, '...' and "..."
/// quote (so `--option substituters ''` gives an empty third word), backslash escapes.
pub fn split_words(text: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match c {
            c if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            '\'' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(c) => word.push(c),
                        None => return Err("unterminated '".to_owned()),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(c @ ('"' | '\\' | '$' | '`')) => word.push(c),
                            Some(c) => {
                                word.push('\\');
                                word.push(c);
                            }
                            None => return Err("unterminated \"".to_owned()),
                        },
                        Some(c) => word.push(c),
                        None => return Err("unterminated \"".to_owned()),
                    }
                }
            }
            '\\' => {
                in_word = true;
                match chars.next() {
                    Some(c) => word.push(c),
                    None => return Err("trailing \\".to_owned()),
                }
            }
            c => {
                in_word = true;
                word.push(c);
            }
        }
    }
    if in_word {
        words.push(word);
    }
    Ok(words)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn shell_words() {
        assert_eq!(
            split_words("--option substituters ''").unwrap(),
            strings(&["--option", "substituters", ""])
        );
        assert_eq!(
            split_words(r#"  -L --option trusted-public-keys "k-1:abc= k-2:def"  a\ b "x\"y" "#)
                .unwrap(),
            strings(&[
                "-L",
                "--option",
                "trusted-public-keys",
                "k-1:abc= k-2:def",
                "a b",
                "x\"y"
            ])
        );
        assert_eq!(split_words("").unwrap(), Vec::<String>::new());
        assert!(split_words("'open").is_err());
        assert!(split_words("\"open").is_err());
        assert!(split_words("x\\").is_err());
    }

    #[test]
    fn failure_names_the_command_and_the_end_of_stderr_scrubbed() {
        let script =
            "for i in $(seq 1 30); do echo line$i >&2; done; printf 'hunter%s\\n' 22 >&2; exit 3";
        let err = Process::new("sh")
            .args(&["-c", script])
            .secrets(&["hunter22".to_owned()])
            .run()
            .unwrap_err();
        let text = err.to_string();
        assert!(text.starts_with("`sh -c "), "{text}");
        assert!(text.contains("failed (exit status: 3)"), "{text}");
        assert!(text.contains("line30\n***"), "{text}");
        assert!(!text.contains("line10\n"), "{text}");
        assert!(!text.contains("hunter22"), "{text}");
    }

    #[test]
    fn stdin_stdout_and_spawn_errors() {
        let out = Process::new("tr")
            .args(&["a-z", "A-Z"])
            .stdin(b"ship".to_vec())
            .run()
            .unwrap();
        assert_eq!(out.stdout, b"SHIP");
        let err = Process::new("/nonexistent/prog")
            .hint("point SHIP_X at it")
            .run()
            .unwrap_err();
        let text = err.to_string();
        assert!(
            text.starts_with("cannot run `/nonexistent/prog`: "),
            "{text}"
        );
        assert!(text.ends_with(" (point SHIP_X at it)"), "{text}");
        assert!(matches!(err, ExecError::Spawn { .. }));
    }

    #[test]
    fn stdout_to_a_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out");
        let out = Process::new("echo")
            .args(&["spooled"])
            .stdout_to(File::create(&path).unwrap())
            .run()
            .unwrap();
        assert!(out.stdout.is_empty());
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "spooled\n");
    }
}
