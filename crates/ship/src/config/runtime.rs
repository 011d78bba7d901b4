//! `runtime` (top level and per variant): what goes into the image besides the binary's closure,
//! and its config. nix/lib/runtime-settings.nix reads the same keys; nix/image.nix applies them.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::build::{attr_paths, env_name, merge_maps};
use super::Problem;

/// The `runtime` table as written.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(super) struct RawRuntime {
    files: Option<BTreeMap<String, String>>,
    packages: Option<Vec<String>>,
    env: Option<BTreeMap<String, String>>,
    working_dir: Option<String>,
    ports: Option<Vec<String>>,
    binaries: Option<Vec<String>>,
    labels: Option<BTreeMap<String, String>>,
}

/// What a variant's images get, after its own `runtime` table is laid over the top-level one.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Runtime {
    /// Workspace path (file or directory) -> absolute path in the image.
    pub files: BTreeMap<String, String>,
    /// nixpkgs attribute paths whose outputs go into the image (`cacert`, `tzdata`).
    pub packages: Vec<String>,
    pub env: BTreeMap<String, String>,
    pub working_dir: Option<String>,
    /// `PORT/tcp` or `PORT/udp`.
    pub ports: Vec<String>,
    /// Other binaries of the workspace, built with the service and put on the image's PATH.
    pub binaries: Vec<String>,
    pub labels: BTreeMap<String, String>,
}

impl RawRuntime {
    /// `self` (a variant's table) over `base`: a key given here replaces the base's, except the
    /// tables `files`, `env` and `labels`, whose entries are added to (and override) the base's.
    pub(super) fn over(&self, base: &RawRuntime) -> RawRuntime {
        RawRuntime {
            files: merge_maps(&base.files, &self.files),
            packages: self.packages.clone().or_else(|| base.packages.clone()),
            env: merge_maps(&base.env, &self.env),
            working_dir: self
                .working_dir
                .clone()
                .or_else(|| base.working_dir.clone()),
            ports: self.ports.clone().or_else(|| base.ports.clone()),
            binaries: self.binaries.clone().or_else(|| base.binaries.clone()),
            labels: merge_maps(&base.labels, &self.labels),
        }
    }

    /// Validates every key; `key` is the table's own key, `binary` the service's binary.
    pub(super) fn resolve(self, key: &str, binary: &str) -> Result<Runtime, Problem> {
        let files = self.files.unwrap_or_default();
        for (from, to) in &files {
            let k = format!("{key}.files.{from}");
            if from.is_empty() || from.starts_with('/') || has_dot_dot(from) {
                return Err(Problem::new(
                    k,
                    format!("`{from}` must be a path relative to the workspace root, without `..` (e.g. configuration)"),
                ));
            }
            if !to.starts_with('/') || to == "/" || has_dot_dot(to) {
                return Err(Problem::new(
                    k,
                    format!("destination `{to}` must be an absolute path in the image, not `/`, without `..` (e.g. /app/configuration)"),
                ));
            }
        }
        let packages = attr_paths(&format!("{key}.packages"), self.packages)?;
        let env = self.env.unwrap_or_default();
        for name in env.keys() {
            env_name(&format!("{key}.env.{name}"), name)?;
        }
        if let Some(dir) = &self.working_dir {
            if !dir.starts_with('/') || has_dot_dot(dir) {
                return Err(Problem::new(
                    format!("{key}.working-dir"),
                    format!("`{dir}` must be an absolute path without `..` (e.g. /app)"),
                ));
            }
        }
        let mut ports = Vec::new();
        for (i, port) in self.ports.unwrap_or_default().iter().enumerate() {
            let k = format!("{key}.ports[{i}]");
            let normal = normal_port(port).ok_or_else(|| {
                Problem::new(
                    k.clone(),
                    format!("`{port}` is not a port; accepted: PORT, PORT/tcp or PORT/udp with PORT 1-65535"),
                )
            })?;
            if ports.contains(&normal) {
                return Err(Problem::new(k, format!("duplicate port `{normal}`")));
            }
            ports.push(normal);
        }
        let binaries = self.binaries.unwrap_or_default();
        for (i, b) in binaries.iter().enumerate() {
            let k = format!("{key}.binaries[{i}]");
            if b.is_empty() || b.contains('/') {
                return Err(Problem::new(
                    k,
                    format!("`{b}` is not a binary name (non-empty, no `/`)"),
                ));
            }
            if b == binary || binaries[..i].contains(b) {
                return Err(Problem::new(
                    k,
                    format!("duplicate binary `{b}` (the image's own binary is `{binary}`)"),
                ));
            }
        }
        let labels = self.labels.unwrap_or_default();
        if labels.contains_key("") {
            return Err(Problem::new(format!("{key}.labels"), "empty label name"));
        }
        Ok(Runtime {
            files,
            packages,
            env,
            working_dir: self.working_dir,
            ports,
            binaries,
            labels,
        })
    }
}

fn has_dot_dot(path: &str) -> bool {
    path.split('/').any(|c| c == "..")
}

/// `8080` -> `8080/tcp`; `53/udp` stays; anything else is not a port.
fn normal_port(port: &str) -> Option<String> {
    let (number, proto) = match port.split_once('/') {
        Some((n, p)) => (n, p),
        None => (port, "tcp"),
    };
    let valid_number = !number.is_empty()
        && number.chars().all(|c| c.is_ascii_digit())
        && !number.starts_with('0')
        && number
            .parse::<u32>()
            .is_ok_and(|n| (1..=65535).contains(&n));
    (valid_number && (proto == "tcp" || proto == "udp")).then(|| format!("{number}/{proto}"))
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use crate::config::{parse, test_manifest, Config};

    fn cfg(ship: &str) -> Config {
        parse(Path::new("Cargo.toml"), &test_manifest(ship)).expect("accepted")
    }
    fn err(ship: &str) -> String {
        parse(Path::new("Cargo.toml"), &test_manifest(ship))
            .expect_err("refused")
            .to_string()
    }

    #[test]
    fn runtime_keys_are_read_and_a_variant_table_overrides() {
        let c = cfg("[runtime]\nfiles = { configuration = \"/app/configuration\" }\n\
             packages = [\"cacert\", \"tzdata\"]\nenv = { APP_ENVIRONMENT = \"local\", TZ = \"UTC\" }\n\
             working-dir = \"/app\"\nports = [\"8080\", \"53/udp\"]\nbinaries = [\"migrate\"]\n\
             labels = { team = \"core\" }\n\
             [variants.dev]\nprofile = \"dev\"\n\
             [variants.production]\nruntime = { env = { APP_ENVIRONMENT = \"production\" }, ports = [\"80/tcp\"] }\n");
        let dev = &c.variants["dev"].runtime;
        assert_eq!(dev.files["configuration"], "/app/configuration");
        assert_eq!(dev.packages, ["cacert", "tzdata"]);
        assert_eq!(dev.env["APP_ENVIRONMENT"], "local");
        assert_eq!(dev.working_dir.as_deref(), Some("/app"));
        assert_eq!(dev.ports, ["8080/tcp", "53/udp"]);
        assert_eq!(dev.binaries, ["migrate"]);
        assert_eq!(dev.labels["team"], "core");
        let prod = &c.variants["production"].runtime;
        assert_eq!(prod.env["APP_ENVIRONMENT"], "production");
        assert_eq!(prod.env["TZ"], "UTC");
        assert_eq!(prod.ports, ["80/tcp"]);
        assert_eq!(prod.packages, dev.packages);
    }

    #[test]
    fn bad_runtime_values_name_the_key() {
        for (input, needles) in [
            ("[runtime]\nfiles = { \"/etc\" = \"/etc\" }\n", &["runtime.files./etc", "relative"][..]),
            ("[runtime]\nfiles = { \"../x\" = \"/x\" }\n", &["runtime.files.../x", "relative"]),
            ("[runtime]\nfiles = { conf = \"app/conf\" }\n", &["runtime.files.conf", "absolute"]),
            ("[runtime]\nfiles = { conf = \"/\" }\n", &["runtime.files.conf", "absolute"]),
            ("[runtime]\npackages = [\"ca cert\"]\n", &["runtime.packages[0]", "attribute path"]),
            ("[runtime]\nenv = { \"A=B\" = \"x\" }\n", &["runtime.env.A=B", "environment variable"]),
            ("[runtime]\nworking-dir = \"app\"\n", &["runtime.working-dir", "absolute"]),
            ("[runtime]\nports = [\"http\"]\n", &["runtime.ports[0]", "PORT/tcp"]),
            ("[runtime]\nports = [\"70000\"]\n", &["runtime.ports[0]", "1-65535"]),
            ("[runtime]\nports = [\"80/sctp\"]\n", &["runtime.ports[0]", "PORT/udp"]),
            ("[runtime]\nports = [\"80\", \"80/tcp\"]\n", &["runtime.ports[1]", "duplicate port `80/tcp`"]),
            ("[runtime]\nports = [8080]\n", &["runtime.ports[0]", "invalid type"]),
            ("[runtime]\nbinaries = [\"svc\"]\n", &["runtime.binaries[0]", "duplicate binary `svc`"]),
            ("[runtime]\nbinaries = [\"a/b\"]\n", &["runtime.binaries[0]", "binary name"]),
            ("[runtime]\nlabels = { \"\" = \"x\" }\n", &["runtime.labels", "empty label"]),
            ("[runtime]\nworkdir = \"/app\"\n", &["runtime", "unknown field `workdir`", "working-dir"]),
            (
                "[variants.dev]\nruntime = { ports = [\"0\"] }\n",
                &["variants.dev.runtime.ports[0]", "1-65535"],
            ),
            (
                "[variants.dev]\nprofile = \"release\"\nruntime = { env = { A = \"1\" } }\n[variants.production]\n",
                &["variants.production", "profile `release` as variant `dev`"],
            ),
        ] {
            let message = err(input);
            for needle in needles {
                assert!(message.contains(needle), "{input:?}: `{message}` lacks `{needle}`");
            }
        }
    }
}
