//! Runs a workflow's jobs here, the way a GitHub-hosted runner would run their `run:` steps:
//! `bash --noprofile --norc -eo pipefail` (the workflows' `shell: bash`), with `${{ }}`
//! expressions in `env:` and `if:` evaluated, and GITHUB_OUTPUT, GITHUB_ENV, GITHUB_PATH and
//! GITHUB_STEP_SUMMARY files per step. Action steps (`uses:`) and the steps that set up the
//! tools (`nix build .#ship`) are not run: the caller provides `ship` and Nix on PATH.
//!
//! Only the expression forms the workflows use are understood (context lookups, `||`,
//! `== ''`, `!= ''`, `always()`); anything else panics, so a workflow change that this runner
//! cannot follow fails the test instead of being skipped.
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use yaml_rust2::Yaml;

use super::string;

/// The contexts expressions read: `matrix.attr`, `secrets.GITHUB_TOKEN`, `runner.temp`, ...
/// A key that is absent evaluates to "" (as GitHub gives for an unset secret or variable).
#[derive(Debug, Clone, Default)]
pub struct Contexts(pub BTreeMap<String, String>);

impl Contexts {
    pub fn set(&mut self, key: &str, value: &str) {
        self.0.insert(key.to_owned(), value.to_owned());
    }

    fn operand(&self, op: &str) -> String {
        let op = op.trim();
        if let Some(lit) = op.strip_prefix('\'').and_then(|o| o.strip_suffix('\'')) {
            return lit.to_owned();
        }
        let known = [
            "matrix.", "needs.", "steps.", "secrets.", "vars.", "github.", "inputs.", "runner.",
        ];
        assert!(
            known.iter().any(|p| op.starts_with(p))
                && op
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c)),
            "expression operand `{op}` is not one this runner evaluates"
        );
        self.0.get(op).cloned().unwrap_or_default()
    }

    /// `a || b || 'c'`: the first non-empty operand.
    pub fn eval(&self, expr: &str) -> String {
        expr.split("||")
            .map(|op| self.operand(op))
            .find(|v| !v.is_empty())
            .unwrap_or_default()
    }

    pub fn condition(&self, expr: &str) -> bool {
        let expr = expr.trim();
        let expr = expr
            .strip_prefix("${{")
            .and_then(|e| e.strip_suffix("}}"))
            .unwrap_or(expr)
            .trim();
        if expr == "always()" {
            return true;
        }
        if let Some((l, r)) = expr.split_once("!=") {
            return self.eval(l) != self.eval(r);
        }
        if let Some((l, r)) = expr.split_once("==") {
            return self.eval(l) == self.eval(r);
        }
        panic!("condition `{expr}` is not one this runner evaluates");
    }

    /// A string with every `${{ expr }}` replaced by its value.
    pub fn interpolate(&self, s: &str) -> String {
        let mut out = String::new();
        let mut rest = s;
        while let Some(start) = rest.find("${{") {
            let len = rest[start..]
                .find("}}")
                .unwrap_or_else(|| panic!("unterminated expression in {s:?}"));
            out.push_str(&rest[..start]);
            out.push_str(&self.eval(&rest[start + 3..start + len]));
            rest = &rest[start + len + 2..];
        }
        out.push_str(rest);
        out
    }
}

/// What running one job produced.
#[derive(Debug, Default)]
pub struct JobResult {
    /// The job's `outputs:`, evaluated.
    pub outputs: BTreeMap<String, String>,
    /// Everything the steps appended to GITHUB_STEP_SUMMARY, in order.
    pub summary: String,
    /// Every step's stdout and stderr, in order (for asserting what a log would show).
    pub log: String,
    /// Names of the `run:` steps that ran.
    pub ran: Vec<String>,
}

fn env_of(y: &Yaml, ctx: &Contexts) -> Vec<(String, String)> {
    y.as_hash()
        .map(|h| {
            h.iter()
                .filter_map(|(k, v)| Some((string(k)?, ctx.interpolate(&string(v)?))))
                .collect()
        })
        .unwrap_or_default()
}

fn read_key_values(path: &Path) -> Vec<(String, String)> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

/// `bash` running one step's script as a runner would: only the runner's environment, and the
/// directories earlier steps added to GITHUB_PATH first on PATH.
fn step_command(
    script_file: &Path,
    workdir: &Path,
    base_env: &[(String, String)],
    added_path: &[PathBuf],
) -> Command {
    let mut cmd = Command::new("bash");
    cmd.args(["--noprofile", "--norc", "-eo", "pipefail"])
        .arg(script_file)
        .current_dir(workdir)
        .env_clear();
    for (k, v) in base_env {
        cmd.env(k, v);
    }
    let path = base_env
        .iter()
        .find(|(k, _)| k == "PATH")
        .map(|(_, v)| v.clone())
        .unwrap_or_default();
    let mut dirs: Vec<PathBuf> = added_path.iter().rev().cloned().collect();
    dirs.extend(std::env::split_paths(&path));
    cmd.env("PATH", std::env::join_paths(dirs).expect("PATH"));
    cmd
}

/// Runs `job` in `workdir`. `ctx` holds the contexts (matrix, needs, secrets, ...); `base_env`
/// is the runner's environment (PATH with ship and nix, GITHUB_REF, RUNNER_TEMP, ...).
pub fn run_job(
    job: &Yaml,
    workdir: &Path,
    ctx: &Contexts,
    base_env: &[(String, String)],
    scratch: &Path,
) -> JobResult {
    let mut ctx = ctx.clone();
    let mut result = JobResult::default();
    let job_env = env_of(&job["env"], &ctx);
    let mut added_env: Vec<(String, String)> = Vec::new();
    let mut added_path: Vec<PathBuf> = Vec::new();
    let steps = job["steps"].as_vec().expect("job has steps");
    for (i, step) in steps.iter().enumerate() {
        let Some(script) = string(&step["run"]) else {
            continue;
        };
        let name = string(&step["name"]).unwrap_or_else(|| format!("step {i}"));
        // Tool setup: the caller already put ship on PATH.
        if script.contains("nix build .#ship") {
            continue;
        }
        if let Some(cond) = string(&step["if"]) {
            if !ctx.condition(&cond) {
                continue;
            }
        }
        let dir = scratch.join(format!("step-{i}"));
        std::fs::create_dir_all(&dir).expect("step dir");
        let files = ["output", "env", "path", "summary"].map(|f| dir.join(f));
        for f in &files {
            std::fs::write(f, "").expect("step file");
        }
        let script_file = dir.join("script.sh");
        std::fs::write(&script_file, &script).expect("script");
        let mut cmd = step_command(&script_file, workdir, base_env, &added_path);
        for (k, v) in job_env.iter().chain(&added_env) {
            cmd.env(k, v);
        }
        for (k, v) in env_of(&step["env"], &ctx) {
            cmd.env(k, v);
        }
        cmd.env("GITHUB_OUTPUT", &files[0])
            .env("GITHUB_ENV", &files[1])
            .env("GITHUB_PATH", &files[2])
            .env("GITHUB_STEP_SUMMARY", &files[3]);
        let out = cmd.output().expect("run bash");
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        result.log.push_str(&format!("== {name}\n{stdout}{stderr}"));
        assert!(
            out.status.success(),
            "step `{name}` failed:\n--- script\n{script}\n--- stdout\n{stdout}\n--- stderr\n{stderr}"
        );
        result.ran.push(name);
        if let Some(id) = string(&step["id"]) {
            for (k, v) in read_key_values(&files[0]) {
                ctx.set(&format!("steps.{id}.outputs.{k}"), &v);
            }
        }
        added_env.extend(read_key_values(&files[1]));
        added_path.extend(
            std::fs::read_to_string(&files[2])
                .unwrap_or_default()
                .lines()
                .map(PathBuf::from),
        );
        result
            .summary
            .push_str(&std::fs::read_to_string(&files[3]).unwrap_or_default());
    }
    if let Some(outputs) = job["outputs"].as_hash() {
        for (k, v) in outputs {
            if let (Some(k), Some(v)) = (string(k), string(v)) {
                result.outputs.insert(k, ctx.interpolate(&v));
            }
        }
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expressions() {
        let mut c = Contexts::default();
        c.set("secrets.GITHUB_TOKEN", "t");
        c.set("github.actor", "me");
        assert_eq!(
            c.eval(" secrets.REGISTRY_PASSWORD || secrets.GITHUB_TOKEN "),
            "t"
        );
        assert_eq!(c.eval("vars.REGISTRY_USERNAME || github.actor"), "me");
        assert!(c.condition("${{ secrets.X == '' }}"));
        assert!(!c.condition("github.actor != 'me'"));
        assert_eq!(
            c.interpolate(".#a.${{ github.actor }}.${{ vars.NONE }}"),
            ".#a.me."
        );
    }

    #[test]
    #[should_panic(expected = "not one this runner evaluates")]
    fn unknown_forms_fail_loudly() {
        Contexts::default().eval("startsWith(github.ref, 'refs/tags/')");
    }
}
