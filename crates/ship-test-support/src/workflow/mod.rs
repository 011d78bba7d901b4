//! Reads a GitHub Actions workflow and lists every place where it disagrees with what
//! `ship plan --format github` writes and with the flake's package names: an output key the
//! plan step never writes, a matrix key no matrix entry has, `fromJSON` of a value that is not
//! JSON, an installable (`.#name`) the flake does not have. Pure: the plan outputs and the
//! flake's names are inputs, so tests can feed it broken workflows and watch it complain.

mod invocations;
pub mod runner;
mod runs;

pub use invocations::ship_invocations;
pub use runs::{ci_runs, dispatch_variants, flake_packages, plan_run, release_runs, SHA};

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;
use yaml_rust2::{Yaml, YamlLoader};

/// What one `ship plan --format github` run appended to GITHUB_OUTPUT, and the run it stands
/// for (e.g. "push of tag v1.2.3").
#[derive(Debug, Clone)]
pub struct PlanRun {
    pub label: String,
    pub outputs: BTreeMap<String, String>,
}

/// `packages.<system>` names of the flake.
pub type Packages = BTreeMap<String, BTreeSet<String>>;

/// Parses GITHUB_OUTPUT lines. `ship plan` writes one `key=value` line per key; a key written
/// twice would make the workflow see only the last one, so it is refused.
pub fn parse_github_output(text: &str) -> Result<BTreeMap<String, String>, String> {
    let mut out = BTreeMap::new();
    for line in text.lines() {
        let (k, v) = line
            .split_once('=')
            .ok_or_else(|| format!("GITHUB_OUTPUT line without `=`: {line:?}"))?;
        if out.insert(k.to_owned(), v.to_owned()).is_some() {
            return Err(format!("GITHUB_OUTPUT key `{k}` written twice"));
        }
    }
    Ok(out)
}

struct Step {
    id: Option<String>,
    run: Option<String>,
}

impl Step {
    fn runs_ship_plan(&self) -> bool {
        self.run.as_deref().is_some_and(|r| {
            (r.contains("ship plan") || r.contains(".#ship -- plan"))
                && r.contains("--format github")
        })
    }
}

struct Job {
    name: String,
    steps: Vec<Step>,
    outputs: BTreeMap<String, String>,
    matrix: Option<Yaml>,
    runs_on: Option<String>,
    /// Every string in the job, with where it is, for the reference scan.
    strings: Vec<(String, String)>,
}

/// Where a value the workflow reads comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Source {
    /// A key `ship plan --format github` writes.
    Plan(String),
    /// A `run:` step that writes `key=` itself, or an action's output: not ship's business.
    Other,
}

pub struct Workflow {
    name: String,
    jobs: BTreeMap<String, Job>,
}

/// A YAML scalar as the text GitHub would substitute.
pub(crate) fn string(y: &Yaml) -> Option<String> {
    match y {
        Yaml::String(s) | Yaml::Real(s) => Some(s.clone()),
        Yaml::Integer(i) => Some(i.to_string()),
        Yaml::Boolean(b) => Some(b.to_string()),
        _ => None,
    }
}

fn collect_strings(y: &Yaml, at: &str, out: &mut Vec<(String, String)>) {
    match y {
        Yaml::Hash(h) => {
            for (k, v) in h {
                let key = string(k).unwrap_or_default();
                collect_strings(v, &format!("{at}.{key}"), out);
            }
        }
        Yaml::Array(a) => {
            for (i, v) in a.iter().enumerate() {
                collect_strings(v, &format!("{at}[{i}]"), out);
            }
        }
        other => {
            if let Some(s) = string(other) {
                out.push((at.to_owned(), s));
            }
        }
    }
}

impl Workflow {
    pub fn parse(name: &str, text: &str) -> Result<Self, String> {
        let docs = YamlLoader::load_from_str(text).map_err(|e| format!("{name}: {e}"))?;
        let doc = docs.first().ok_or_else(|| format!("{name}: empty"))?;
        let jobs_yaml = doc["jobs"]
            .as_hash()
            .ok_or_else(|| format!("{name}: no `jobs` mapping"))?;
        let mut jobs = BTreeMap::new();
        for (k, j) in jobs_yaml {
            let job_name =
                string(k).ok_or_else(|| format!("{name}: a job name is not a string"))?;
            let steps = j["steps"]
                .as_vec()
                .map(|v| {
                    v.iter()
                        .map(|s| Step {
                            id: string(&s["id"]),
                            run: string(&s["run"]),
                        })
                        .collect()
                })
                .unwrap_or_default();
            let outputs = j["outputs"]
                .as_hash()
                .map(|h| {
                    h.iter()
                        .filter_map(|(k, v)| Some((string(k)?, string(v)?)))
                        .collect()
                })
                .unwrap_or_default();
            let matrix = match &j["strategy"]["matrix"] {
                Yaml::BadValue | Yaml::Null => None,
                m => Some(m.clone()),
            };
            let mut strings = Vec::new();
            collect_strings(j, &format!("jobs.{job_name}"), &mut strings);
            jobs.insert(
                job_name.clone(),
                Job {
                    name: job_name,
                    steps,
                    outputs,
                    matrix,
                    runs_on: string(&j["runs-on"]),
                    strings,
                },
            );
        }
        Ok(Workflow {
            name: name.to_owned(),
            jobs,
        })
    }

    /// Everything that disagrees with the plan runs and the flake's packages; empty when the
    /// workflow agrees with both.
    pub fn problems(&self, runs: &[PlanRun], packages: &Packages) -> Vec<String> {
        let mut problems = Vec::new();
        for job in self.jobs.values() {
            let mut p = JobCheck {
                wf: self,
                job,
                runs,
                problems: Vec::new(),
            };
            p.check_references();
            p.check_installables(packages);
            problems.extend(p.problems);
        }
        problems.sort();
        problems.dedup();
        problems
    }
}

pub(crate) fn ident_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '-'
}

/// Dotted names (`needs.plan.outputs.tags-csv`) in a string, each with the text after it.
fn dotted_names(s: &str) -> Vec<(String, &str)> {
    let mut out = Vec::new();
    let chars: Vec<(usize, char)> = s.char_indices().collect();
    let mut i = 0;
    while i < chars.len() {
        let (pos, c) = chars[i];
        let starts = (c.is_ascii_alphabetic() || c == '_')
            && (i == 0 || {
                let p = chars[i - 1].1;
                !(ident_char(p) || p == '.' || p == '$')
            });
        if !starts {
            i += 1;
            continue;
        }
        let mut j = i;
        while j < chars.len() && (ident_char(chars[j].1) || chars[j].1 == '.') {
            j += 1;
        }
        let end = if j < chars.len() { chars[j].0 } else { s.len() };
        let name = s[pos..end].trim_end_matches(['.', '-']);
        out.push((name.to_owned(), &s[pos + name.len()..]));
        i = j;
    }
    out
}

/// `fromJSON(<inner>)<tail>` occurrences: the inner text and the dotted fields read after it.
fn from_json_calls(s: &str) -> Vec<(String, Vec<String>)> {
    let lower = s.to_ascii_lowercase();
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(at) = lower[from..].find("fromjson(") {
        let open = from + at + "fromjson(".len();
        let Some(close) = s[open..].find(')') else {
            break;
        };
        let inner = s[open..open + close].trim().to_owned();
        let mut fields = Vec::new();
        let mut rest = &s[open + close + 1..];
        while let Some(r) = rest.strip_prefix('.') {
            let n = r.find(|c: char| !ident_char(c)).unwrap_or(r.len());
            fields.push(r[..n].to_owned());
            rest = &r[n..];
        }
        out.push((inner, fields));
        from = open + close + 1;
    }
    out
}

struct JobCheck<'a> {
    wf: &'a Workflow,
    job: &'a Job,
    runs: &'a [PlanRun],
    problems: Vec<String>,
}

impl JobCheck<'_> {
    fn problem(&mut self, at: &str, msg: String) {
        self.problems.push(format!("{}: {at}: {msg}", self.wf.name));
    }

    fn plan_keys(&self) -> String {
        self.runs
            .first()
            .map(|r| r.outputs.keys().cloned().collect::<Vec<_>>().join(", "))
            .unwrap_or_default()
    }

    /// Resolves `steps.ID.outputs.K` within `job`, or `needs.J.outputs.K` through job J's
    /// outputs, to where the value comes from.
    fn resolve(&self, job: &Job, reference: &str) -> Result<Source, String> {
        let parts: Vec<&str> = reference.split('.').collect();
        match parts.as_slice() {
            ["steps", id, "outputs", key] => {
                let step = job
                    .steps
                    .iter()
                    .find(|s| s.id.as_deref() == Some(id))
                    .ok_or_else(|| format!("job `{}` has no step with id `{id}`", job.name))?;
                if step.runs_ship_plan() {
                    let missing: Vec<&str> = self
                        .runs
                        .iter()
                        .filter(|r| !r.outputs.contains_key(*key))
                        .map(|r| r.label.as_str())
                        .collect();
                    if missing.is_empty() {
                        Ok(Source::Plan((*key).to_owned()))
                    } else {
                        Err(format!(
                            "`ship plan --format github` does not write `{key}` (for {}); it writes: {}",
                            missing.join(", "),
                            self.plan_keys()
                        ))
                    }
                } else if let Some(run) = &step.run {
                    if run.contains(&format!("{key}=")) {
                        Ok(Source::Other)
                    } else {
                        Err(format!(
                            "step `{id}` of job `{}` never writes `{key}=` to GITHUB_OUTPUT",
                            job.name
                        ))
                    }
                } else {
                    Ok(Source::Other)
                }
            }
            ["needs", dep, "outputs", key] => {
                let dep_job = self
                    .wf
                    .jobs
                    .get(*dep)
                    .ok_or_else(|| format!("no job `{dep}`"))?;
                let value = dep_job
                    .outputs
                    .get(*key)
                    .ok_or_else(|| format!("job `{dep}` has no output `{key}`"))?;
                let inner: Vec<String> = dotted_names(value)
                    .into_iter()
                    .map(|(n, _)| n)
                    .filter(|n| n.starts_with("steps.") || n.starts_with("needs."))
                    .collect();
                match inner.as_slice() {
                    [one] => self
                        .resolve(dep_job, one)
                        .map_err(|e| format!("output `{key}` of job `{dep}`: {e}")),
                    _ => Ok(Source::Other),
                }
            }
            _ => Err(format!(
                "`{reference}`: expected steps.ID.outputs.KEY or needs.JOB.outputs.KEY"
            )),
        }
    }

    /// The plan's JSON value of `key` in every run.
    fn plan_json(&self, key: &str) -> Result<Vec<(String, Value)>, String> {
        self.runs
            .iter()
            .map(|r| {
                let raw = r.outputs.get(key).map(String::as_str).unwrap_or_default();
                serde_json::from_str(raw)
                    .map(|v| (r.label.clone(), v))
                    .map_err(|e| format!("`{key}` is not JSON ({}: {raw:?}: {e})", r.label))
            })
            .collect()
    }

    /// The matrix entries of every run, when the job's matrix is `fromJSON` of a plan output.
    fn matrix_entries(&self) -> Result<Option<Vec<(String, Value)>>, String> {
        let Some(matrix) = &self.job.matrix else {
            return Ok(None);
        };
        let Some(text) = string(matrix) else {
            return Err("a matrix written out in the workflow is not checked against `ship plan`; take it from `fromJSON(needs.plan.outputs.matrix)`".into());
        };
        let calls = from_json_calls(&text);
        let [(inner, fields)] = calls.as_slice() else {
            return Err(format!("matrix `{text}` is not one fromJSON(...)"));
        };
        if !fields.is_empty() {
            return Err(format!(
                "matrix `{text}`: fields after fromJSON are not supported"
            ));
        }
        match self.resolve(self.job, inner)? {
            Source::Plan(key) => {
                let values = self.plan_json(&key)?;
                let mut entries = Vec::new();
                for (label, v) in values {
                    let include = v["include"]
                        .as_array()
                        .ok_or_else(|| format!("`{key}` of {label} has no `include` list"))?;
                    entries.extend(include.iter().map(|e| (label.clone(), e.clone())));
                }
                Ok(Some(entries))
            }
            Source::Other => Err(format!("matrix `{text}` does not come from `ship plan`")),
        }
    }

    fn check_references(&mut self) {
        let entries = match self.matrix_entries() {
            Ok(e) => e,
            Err(e) => {
                self.problem(&format!("jobs.{}.strategy.matrix", self.job.name), e);
                None
            }
        };
        for (at, s) in &self.job.strings {
            for (name, after) in dotted_names(s) {
                let is_ref = ["steps.", "needs.", "matrix."]
                    .iter()
                    .any(|p| name.starts_with(p));
                if is_ref && after.starts_with('[') {
                    self.problem(
                        at,
                        format!("`{name}[...]`: use dotted access so the workflow can be checked"),
                    );
                    continue;
                }
                if let Some(key) = name.strip_prefix("matrix.") {
                    match &entries {
                        None => self.problem(
                            at,
                            format!(
                                "`{name}`: job `{}` has no matrix from `ship plan`",
                                self.job.name
                            ),
                        ),
                        Some(entries) => {
                            let key = key.split('.').next().unwrap_or(key);
                            let missing: BTreeSet<&str> = entries
                                .iter()
                                .filter(|(_, e)| e.get(key).is_none())
                                .map(|(l, _)| l.as_str())
                                .collect();
                            if !missing.is_empty() {
                                let have: BTreeSet<&str> = entries
                                    .iter()
                                    .filter_map(|(_, e)| e.as_object())
                                    .flat_map(|o| o.keys().map(String::as_str))
                                    .collect();
                                self.problem(
                                    at,
                                    format!(
                                        "`{name}`: matrix entries have no `{key}` (for {}); they have: {}",
                                        missing.into_iter().collect::<Vec<_>>().join(", "),
                                        have.into_iter().collect::<Vec<_>>().join(", ")
                                    ),
                                );
                            }
                        }
                    }
                } else if name.starts_with("steps.") || name.starts_with("needs.") {
                    if let Err(e) = self.resolve(self.job, &name) {
                        self.problem(at, format!("`{name}`: {e}"));
                    }
                }
            }
            self.check_from_json(at, s);
        }
    }

    /// `fromJSON(X).a.b` where X is a plan output: every plan run's value has `a.b`.
    fn check_from_json(&mut self, at: &str, s: &str) {
        for (inner, fields) in from_json_calls(s) {
            match self.resolve(self.job, &inner) {
                Ok(Source::Plan(key)) => match self.plan_json(&key) {
                    Ok(values) => {
                        for (label, v) in values {
                            let mut cur = &v;
                            for f in &fields {
                                match cur.get(f) {
                                    Some(next) => cur = next,
                                    None => {
                                        self.problem(
                                            at,
                                            format!("`fromJSON({inner}).{}`: `{key}` of {label} has no `{f}`", fields.join(".")),
                                        );
                                        break;
                                    }
                                }
                            }
                        }
                    }
                    Err(e) => self.problem(at, format!("`fromJSON({inner})`: {e}")),
                },
                Ok(Source::Other) => {}
                Err(e) => self.problem(at, format!("`fromJSON({inner})`: {e}")),
            }
        }
    }

    /// Every `.#name` the job builds, with `${{ matrix.K }}` filled in from each matrix
    /// entry, must be a package of the system the job runs on.
    fn check_installables(&mut self, packages: &Packages) {
        let entries = match self.matrix_entries() {
            Ok(Some(e)) => e.into_iter().map(|(l, e)| (l, Some(e))).collect(),
            Ok(None) => vec![(String::new(), None)],
            // Already reported by check_references.
            Err(_) => return,
        };
        for (label, entry) in entries {
            let fill = |s: &str| substitute_matrix(s, entry.as_ref());
            let runs_on = self.job.runs_on.as_deref().map(fill).unwrap_or_default();
            let runner_system = match system_of_runner(&runs_on) {
                Some(s) => s,
                None => {
                    self.problem(
                        &format!("jobs.{}.runs-on", self.job.name),
                        format!(
                            "`{runs_on}`: not a GitHub-hosted Linux runner label this test knows"
                        ),
                    );
                    continue;
                }
            };
            if let Some(system) = entry.as_ref().and_then(|e| e["system"].as_str()) {
                if system != runner_system {
                    self.problem(
                        &format!("jobs.{}.runs-on", self.job.name),
                        format!("{label}: runner `{runs_on}` is {runner_system} but the entry builds on {system}"),
                    );
                }
            }
            let strings = self.job.strings.clone();
            for (at, s) in &strings {
                let filled = fill(s);
                for installable in installables(&filled) {
                    let (system, name) = match installable.strip_prefix("packages.") {
                        Some(rest) => match rest.split_once('.') {
                            Some((sys, name)) => (sys.to_owned(), name.to_owned()),
                            None => (runner_system.to_owned(), installable.clone()),
                        },
                        None => (runner_system.to_owned(), installable.clone()),
                    };
                    let for_run = if label.is_empty() {
                        String::new()
                    } else {
                        format!(" ({label})")
                    };
                    if name.contains(['$', '{', '}']) || system.contains(['$', '{', '}']) {
                        self.problem(
                            at,
                            format!("`.#{installable}`: cannot tell which package this builds"),
                        );
                    } else if system != runner_system {
                        self.problem(
                            at,
                            format!("`.#{installable}`{for_run}: builds packages.{system} on an {runner_system} runner (`{runs_on}`)"),
                        );
                    } else if !packages.get(&system).is_some_and(|p| p.contains(&name)) {
                        let have = packages
                            .get(&system)
                            .map(|p| p.iter().cloned().collect::<Vec<_>>().join(", "))
                            .unwrap_or_else(|| "(no such system)".into());
                        self.problem(
                            at,
                            format!("`.#{installable}`{for_run}: the flake has no packages.{system}.{name}; it has: {have}"),
                        );
                    }
                }
            }
        }
    }
}

/// Replaces `${{ matrix.K }}` with the entry's value of K.
fn substitute_matrix(s: &str, entry: Option<&Value>) -> String {
    let Some(entry) = entry else {
        return s.to_owned();
    };
    let mut out = String::new();
    let mut rest = s;
    while let Some(start) = rest.find("${{") {
        let Some(len) = rest[start..].find("}}") else {
            break;
        };
        let inner = rest[start + 3..start + len].trim();
        out.push_str(&rest[..start]);
        match inner.strip_prefix("matrix.").and_then(|k| entry.get(k)) {
            Some(Value::String(v)) => out.push_str(v),
            Some(v) => out.push_str(&v.to_string()),
            None => out.push_str(&rest[start..start + len + 2]),
        }
        rest = &rest[start + len + 2..];
    }
    out.push_str(rest);
    out
}

/// Flake installables of the workflow's own flake: `.#name` and `.#packages.SYSTEM.name`.
fn installables(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(at) = s[from..].find(".#") {
        let start = from + at + 2;
        let prev = s[..from + at].chars().last();
        let n = s[start..]
            .find(|c: char| !(ident_char(c) || c == '.' || c == '$' || c == '{' || c == '}'))
            .unwrap_or(s.len() - start);
        let name = s[start..start + n].trim_end_matches('.');
        // `./.#x`, `path:.#x` and the like name other flakes; only `.#` alone is ours.
        if !name.is_empty() && !prev.is_some_and(|c| ident_char(c) || c == '/' || c == ':') {
            out.push(name.to_owned());
        }
        from = start + n.max(1).min(s.len() - start);
        if from >= s.len() {
            break;
        }
    }
    out
}

/// The Nix system of a GitHub-hosted runner label.
pub fn system_of_runner(label: &str) -> Option<&'static str> {
    let label = label.trim();
    if !label.starts_with("ubuntu-") {
        return None;
    }
    Some(if label.ends_with("-arm") {
        "aarch64-linux"
    } else {
        "x86_64-linux"
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scanners() {
        let names: Vec<String> =
            dotted_names("a ${{ needs.plan.outputs.tags-csv }} $X.y matrix.attr")
                .into_iter()
                .map(|(n, _)| n)
                .collect();
        assert_eq!(names, ["a", "needs.plan.outputs.tags-csv", "matrix.attr"]);
        assert_eq!(
            from_json_calls("${{ fromJSON(needs.plan.outputs.matrix).include }}"),
            [(
                "needs.plan.outputs.matrix".to_owned(),
                vec!["include".to_owned()]
            )]
        );
        assert_eq!(
            installables("nix build .#ship ./.#no path:.#no \".#packages.x86_64-linux.image-dev\" .#packages.$S.$A"),
            ["ship", "packages.x86_64-linux.image-dev", "packages.$S.$A"]
        );
        assert_eq!(
            substitute_matrix(
                ".#packages.${{ matrix.system }}.${{matrix.attr}} ${{ matrix.nope }}",
                Some(&serde_json::json!({"system": "s", "attr": "a"}))
            ),
            ".#packages.s.a ${{ matrix.nope }}"
        );
    }
}
