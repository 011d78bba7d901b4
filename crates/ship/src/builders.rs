//! Where `ship release` builds each platform. Nix says what it can build: its own `system`, the
//! `extra-platforms` it runs (binfmt/qemu, Rosetta), and the machines in `builders` (inline, or
//! a machines file given as `@/path`, by default `@/etc/nix/machines`). This module parses
//! those (from `nix config show --json`, `nix show-config --json` before Nix 2.20) and decides,
//! purely, where each platform's derivations build. Nix itself does the distribution (its build
//! hook sends a derivation to a machine listing its system); ship only picks the native
//! derivations when some machine can build them, so their outputs and deps are the very store
//! paths a native runner of the workflow builds and caches.
//!
//! Formats, from NixOS/nix 88b09c64fbea076a0376830d98e5331f70ed31a3:
//! - settings JSON: `src/libutil/configuration.cc` `Config::toJSON` and
//!   `src/libutil/include/nix/util/abstract-setting-to-json.hh`: an object keyed by setting
//!   name, each `{"value", "defaultValue", "description", "aliases", ...}`; `extra-platforms`
//!   (a `StringSet`) is a JSON array, `builders` and `system` strings. Nix 2.8's
//!   `nix show-config --json` has the same shape (checked on Debian 12's nix-bin 2.8.0).
//! - machines: `src/libstore/machines.cc` (`expandBuilderLines`, `parseBuilderLine`) and the
//!   `builders` documentation in `src/libstore/include/nix/store/worker-settings.hh`: entries
//!   separated by newlines or `;`, `#` starts a comment, `@FILE` includes a machines file (a
//!   missing one is skipped), fields separated by whitespace, `-` or absent = default:
//!   1 store URI (`ssh://` assumed when it has no scheme), 2 systems (comma-separated; default
//!   the local system), 3 SSH identity file, 4 max jobs, 5 speed factor, 6 supported features,
//!   7 mandatory features, 8 base64 public host key.

use std::fmt;

use serde::Serialize;

use crate::config::Platform;
use crate::nix::redact_url;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum BuildersError {
    #[error("nix config show --json: {0}")]
    ConfigJson(String),
    #[error("Nix setting `builders`, machine {line:?}: {message}")]
    Machine { line: String, message: String },
}

/// The settings of `nix config show --json` that decide what this Nix can build.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NixBuildSettings {
    pub system: String,
    pub extra_platforms: Vec<String>,
    /// The `builders` value as Nix holds it (machines inline and/or `@FILE` references).
    pub builders: String,
    /// `max-jobs = 0`: this machine builds nothing itself, everything goes to `builders`.
    pub local_builds: bool,
}

/// One setting's value: `{"value": V, ...}` (every Nix since 2.4), or `V` itself.
fn setting<'a>(all: &'a serde_json::Value, name: &str) -> Option<&'a serde_json::Value> {
    let v = all.get(name)?;
    Some(v.get("value").unwrap_or(v))
}

/// Parses the JSON of `nix config show --json` / `nix show-config --json`.
pub fn parse_settings_json(json: &str) -> Result<NixBuildSettings, BuildersError> {
    let all: serde_json::Value = serde_json::from_str(json)
        .map_err(|e| BuildersError::ConfigJson(format!("not JSON: {e}")))?;
    if !all.is_object() {
        return Err(BuildersError::ConfigJson("expected a JSON object".into()));
    }
    let system = setting(&all, "system")
        .and_then(|v| v.as_str())
        .filter(|s| !s.is_empty())
        .ok_or_else(|| BuildersError::ConfigJson("no string setting `system`".into()))?
        .to_owned();
    let extra_platforms = match setting(&all, "extra-platforms") {
        None | Some(serde_json::Value::Null) => Vec::new(),
        Some(serde_json::Value::Array(items)) => items
            .iter()
            .map(|i| {
                i.as_str().map(str::to_owned).ok_or_else(|| {
                    BuildersError::ConfigJson(format!("extra-platforms: {i} is not a string"))
                })
            })
            .collect::<Result<_, _>>()?,
        Some(serde_json::Value::String(s)) => s.split_whitespace().map(str::to_owned).collect(),
        Some(other) => {
            return Err(BuildersError::ConfigJson(format!(
                "extra-platforms: expected a list of systems, got {other}"
            )))
        }
    };
    let builders = match setting(&all, "builders") {
        None | Some(serde_json::Value::Null) => String::new(),
        Some(serde_json::Value::String(s)) => s.clone(),
        Some(other) => {
            return Err(BuildersError::ConfigJson(format!(
                "builders: expected a string, got {other}"
            )))
        }
    };
    let local_builds = match setting(&all, "max-jobs") {
        Some(serde_json::Value::Number(n)) => n.as_u64() != Some(0),
        Some(serde_json::Value::String(s)) => s.trim() != "0",
        _ => true,
    };
    Ok(NixBuildSettings {
        system,
        extra_platforms,
        builders,
        local_builds,
    })
}

/// One build machine of `builders`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Machine {
    /// The store URI as Nix completes it (`ssh://` prepended to a bare host).
    pub uri: String,
    pub systems: Vec<String>,
    pub ssh_key: Option<String>,
    pub max_jobs: u32,
    pub supported_features: Vec<String>,
    pub mandatory_features: Vec<String>,
    /// Base64 of the machine's SSH public host key.
    pub public_host_key: Option<String>,
}

impl Machine {
    /// The URI fit to print (user passwords and secret query parameters redacted).
    pub fn display_uri(&self) -> String {
        redact_url(&self.uri)
    }

    /// The store URL that reaches this machine the way Nix's build hook does (identity file and
    /// host key as query parameters), for `nix store info --store URL`.
    pub fn store_url(&self) -> String {
        let ssh = self.uri.starts_with("ssh://") || self.uri.starts_with("ssh-ng://");
        let mut params = Vec::new();
        if ssh {
            if let Some(key) = &self.ssh_key {
                params.push(format!("ssh-key={key}"));
            }
            if let Some(host_key) = &self.public_host_key {
                params.push(format!("base64-ssh-public-host-key={host_key}"));
            }
        }
        if params.is_empty() {
            return self.uri.clone();
        }
        let sep = if self.uri.contains('?') { '&' } else { '?' };
        format!("{}{sep}{}", self.uri, params.join("&"))
    }

    /// Whether Nix would send a plain derivation for `system` here: the system is listed and
    /// the machine demands no feature (a mandatory feature keeps every other build away).
    pub fn builds(&self, system: &str) -> bool {
        self.systems.iter().any(|s| s == system) && self.mandatory_features.is_empty()
    }
}

/// Parses a `builders` value. `read_file` reads an `@FILE` reference: `Ok(None)` when the file
/// does not exist (Nix skips it), `Err` for any other failure.
pub fn parse_machines(
    spec: &str,
    default_system: &str,
    read_file: &mut dyn FnMut(&str) -> Result<Option<String>, String>,
) -> Result<Vec<Machine>, BuildersError> {
    let mut lines = Vec::new();
    expand(spec, read_file, &mut lines, 0)?;
    lines
        .iter()
        .map(|line| parse_machine(line, default_system))
        .collect()
}

fn expand(
    spec: &str,
    read_file: &mut dyn FnMut(&str) -> Result<Option<String>, String>,
    out: &mut Vec<String>,
    depth: usize,
) -> Result<(), BuildersError> {
    for line in spec.lines() {
        let line = line.split('#').next().unwrap_or("");
        for entry in line.split(';').map(str::trim).filter(|e| !e.is_empty()) {
            if let Some(path) = entry.strip_prefix('@') {
                let path = path.trim();
                if depth > 8 {
                    return Err(BuildersError::Machine {
                        line: entry.to_owned(),
                        message: "machines files include each other too deeply".into(),
                    });
                }
                let text = read_file(path).map_err(|message| BuildersError::Machine {
                    line: entry.to_owned(),
                    message,
                })?;
                if let Some(text) = text {
                    expand(&text, read_file, out, depth + 1)?;
                }
            } else {
                out.push(entry.to_owned());
            }
        }
    }
    Ok(())
}

fn parse_machine(line: &str, default_system: &str) -> Result<Machine, BuildersError> {
    let fields: Vec<&str> = line.split_whitespace().collect();
    let field = |i: usize| {
        fields
            .get(i)
            .copied()
            .filter(|f| !f.is_empty() && *f != "-")
    };
    let list = |i: usize| -> Vec<String> {
        field(i)
            .map(|f| {
                f.split(',')
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default()
    };
    let bad = |message: String| BuildersError::Machine {
        line: redact_url(line),
        message,
    };
    let uri = field(0).ok_or_else(|| bad("no store URI in the first field".into()))?;
    let special = ["auto", "daemon", "local"]
        .iter()
        .any(|w| uri == *w || uri.starts_with(&format!("{w}?")));
    let uri = if uri.contains("://") || uri.contains('/') || special || uri.starts_with('?') {
        uri.to_owned()
    } else {
        format!("ssh://{uri}")
    };
    let systems = match field(1) {
        Some(_) => list(1),
        None => vec![default_system.to_owned()],
    };
    let max_jobs = match field(3) {
        Some(f) => f.parse::<u32>().map_err(|_| {
            bad(format!(
                "field 4 (max jobs) is {f:?}; expected a whole number or -"
            ))
        })?,
        None => 1,
    };
    if let Some(f) = field(4) {
        if !f.parse::<f32>().is_ok_and(|v| v >= 0.0) {
            return Err(bad(format!(
                "field 5 (speed factor) is {f:?}; expected a number >= 0 or -"
            )));
        }
    }
    Ok(Machine {
        uri,
        systems,
        ssh_key: field(2).map(str::to_owned),
        max_jobs,
        supported_features: list(5),
        mandatory_features: list(6),
        public_host_key: field(7).map(str::to_owned),
    })
}

/// What this Nix can build, all sources together.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Capabilities {
    pub system: String,
    pub extra_platforms: Vec<String>,
    pub local_builds: bool,
    pub machines: Vec<Machine>,
}

impl Capabilities {
    /// A machine that builds only its own system, with no builders.
    pub fn local(system: &str) -> Self {
        Self {
            system: system.to_owned(),
            extra_platforms: Vec::new(),
            local_builds: true,
            machines: Vec::new(),
        }
    }

    pub fn from_settings(
        settings: NixBuildSettings,
        read_file: &mut dyn FnMut(&str) -> Result<Option<String>, String>,
    ) -> Result<Self, BuildersError> {
        let machines = parse_machines(&settings.builders, &settings.system, read_file)?;
        Ok(Self {
            system: settings.system,
            extra_platforms: settings.extra_platforms,
            local_builds: settings.local_builds,
            machines,
        })
    }

    /// What this Nix builds, for error messages: `x86_64-linux (extra-platforms: ...;
    /// builders: URI (systems), ...)`.
    pub fn summary(&self) -> String {
        let extra = if self.extra_platforms.is_empty() {
            "none".to_owned()
        } else {
            self.extra_platforms.join(" ")
        };
        let machines = if self.machines.is_empty() {
            "none".to_owned()
        } else {
            self.machines
                .iter()
                .map(|m| format!("{} ({})", m.display_uri(), m.systems.join(",")))
                .collect::<Vec<_>>()
                .join(", ")
        };
        format!(
            "{}{}, extra-platforms: {extra}, builders: {machines}",
            self.system,
            if self.local_builds {
                ""
            } else {
                " (max-jobs = 0: no local builds)"
            }
        )
    }
}

/// How linux/arm64 is built when both are possible (`ship release --arm64`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Arm64Mode {
    /// Natively (locally, by extra-platforms or on a builder) when Nix can, else cross on
    /// x86_64-linux; `builders."linux/arm64".cross = true` in the configuration prefers cross.
    #[default]
    Auto,
    /// The native aarch64-linux derivations, wherever Nix can build them; refuse otherwise.
    Native,
    /// The cross attributes under x86_64-linux (needs an x86_64-linux machine).
    Cross,
}

/// Where one platform's derivations build.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Route {
    /// On this machine, its own system.
    Native { system: String },
    /// On this machine, as one of its `extra-platforms` (binfmt/qemu, Rosetta).
    ExtraPlatform { system: String },
    /// On the remote builders listing the system (Nix picks one); URIs redacted. Nix's build
    /// hook prefers a free builder even when this machine could build the system itself, and
    /// falls back to this machine (`fallback`) only when none is free or reachable.
    Remote {
        system: String,
        builders: Vec<String>,
        fallback: Option<Box<Route>>,
    },
    /// Cross-compiled on this machine (`system` is where the cross attributes live). A builder
    /// listing that system (an x86_64-linux builder for an x86_64-linux machine) would take
    /// these derivations too; ship does not model that case.
    Cross { system: String },
}

impl Route {
    pub fn is_cross(&self) -> bool {
        matches!(self, Route::Cross { .. })
    }

    /// Where a remote route builds when no builder answers.
    pub fn local_fallback(&self) -> Option<&Route> {
        match self {
            Route::Remote { fallback, .. } => fallback.as_deref(),
            _ => None,
        }
    }
}

impl fmt::Display for Route {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Route::Native { system } => write!(f, "native ({system}, this machine)"),
            Route::ExtraPlatform { system } => {
                write!(f, "extra-platform ({system} on this machine)")
            }
            Route::Remote {
                system,
                builders,
                fallback,
            } => {
                write!(f, "remote builder {} ({system})", builders.join(" or "))?;
                match fallback {
                    Some(local) => write!(f, ", else {local}"),
                    None => Ok(()),
                }
            }
            Route::Cross { system } => write!(f, "cross (from {system})"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{platform} needs a build for {system} and this Nix cannot do one: it builds {capabilities}. \
     To build it, {remedy}"
)]
pub struct Unbuildable {
    pub platform: Platform,
    pub system: String,
    pub capabilities: String,
    pub remedy: String,
}

/// Decides where `platform` (whose native derivations are for `system`) builds.
/// `prefer_cross` is the configuration's `builders."linux/arm64".cross`.
pub fn route(
    platform: Platform,
    system: &str,
    caps: &Capabilities,
    mode: Arm64Mode,
    prefer_cross: bool,
) -> Result<Route, Unbuildable> {
    let can_cross = platform == Platform::Arm64 && caps.system == "x86_64-linux";
    let mode = if platform == Platform::Arm64 {
        mode
    } else {
        Arm64Mode::Native
    };
    let cross = || Route::Cross {
        system: caps.system.clone(),
    };
    if mode == Arm64Mode::Cross || (mode == Arm64Mode::Auto && prefer_cross && can_cross) {
        if can_cross {
            return Ok(cross());
        }
        return Err(Unbuildable {
            platform,
            system: "x86_64-linux".into(),
            capabilities: caps.summary(),
            remedy: "run it on an x86_64-linux machine, or build arm64 natively (`--arm64 \
                     native` with an aarch64-linux builder or extra-platform)"
                .into(),
        });
    }
    let local = if caps.local_builds && caps.system == system {
        Some(Route::Native {
            system: system.to_owned(),
        })
    } else if caps.local_builds && caps.extra_platforms.iter().any(|p| p == system) {
        Some(Route::ExtraPlatform {
            system: system.to_owned(),
        })
    } else {
        None
    };
    // As Nix's build hook decides (src/nix/build-remote/build-remote.cc): a free machine
    // listing the system takes the build, this machine only gets it when none does.
    let builders: Vec<String> = caps
        .machines
        .iter()
        .filter(|m| m.builds(system))
        .map(Machine::display_uri)
        .collect();
    if !builders.is_empty() {
        return Ok(Route::Remote {
            system: system.to_owned(),
            builders,
            fallback: local.map(Box::new),
        });
    }
    if let Some(local) = local {
        return Ok(local);
    }
    if mode == Arm64Mode::Auto && can_cross {
        return Ok(cross());
    }
    let mut remedy = format!(
        "add a machine for {system} to Nix's `builders` (e.g. `ssh-ng://builder {system}` in \
         /etc/nix/machines), or `extra-platforms = {system}` where binfmt/qemu runs {system} \
         binaries, or run the release on {system} (the release workflow does)"
    );
    if can_cross {
        remedy.push_str(", or cross-compile with `--arm64 cross`");
    }
    Err(Unbuildable {
        platform,
        system: system.to_owned(),
        capabilities: caps.summary(),
        remedy,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_files(_: &str) -> Result<Option<String>, String> {
        Ok(None)
    }

    fn machines(spec: &str) -> Vec<Machine> {
        parse_machines(spec, "x86_64-linux", &mut no_files).unwrap()
    }

    #[test]
    fn settings_json_of_nix_2_8_and_current_nix() {
        // Trimmed from Debian 12's `nix show-config --json` (2.8.0): every setting an object.
        let v2_8 = r#"{"builders":{"aliases":[],"defaultValue":"@/etc/nix/machines","description":"x","documentDefault":true,"value":"ssh://a aarch64-linux"},
            "system":{"aliases":[],"defaultValue":"x86_64-linux","description":"","documentDefault":true,"value":"x86_64-linux"},
            "extra-platforms":{"aliases":[],"defaultValue":["i686-linux"],"description":"","documentDefault":true,"value":["i686-linux","x86_64-v1-linux"]},
            "max-jobs":{"aliases":["build-max-jobs"],"defaultValue":1,"description":"","documentDefault":true,"value":1}}"#;
        let s = parse_settings_json(v2_8).unwrap();
        assert_eq!(s.system, "x86_64-linux");
        assert_eq!(s.extra_platforms, ["i686-linux", "x86_64-v1-linux"]);
        assert_eq!(s.builders, "ssh://a aarch64-linux");
        assert!(s.local_builds);
        // Current Nix adds "experimentalFeature"; plain values are read as well.
        let current = r#"{"builders":{"value":"@/etc/nix/machines","experimentalFeature":null},
            "system":{"value":"aarch64-linux"},"extra-platforms":{"value":[]},"max-jobs":{"value":0}}"#;
        let s = parse_settings_json(current).unwrap();
        assert_eq!(s.system, "aarch64-linux");
        assert!(s.extra_platforms.is_empty());
        assert!(!s.local_builds);
        let flat = r#"{"system":"x86_64-linux","extra-platforms":"aarch64-linux i686-linux","builders":""}"#;
        assert_eq!(
            parse_settings_json(flat).unwrap().extra_platforms,
            ["aarch64-linux", "i686-linux"]
        );
        for (bad, needle) in [
            ("[]", "expected a JSON object"),
            ("{}", "no string setting `system`"),
            (
                r#"{"system":{"value":"x"},"builders":{"value":3}}"#,
                "builders: expected a string",
            ),
            ("nope", "not JSON"),
        ] {
            let e = parse_settings_json(bad).unwrap_err().to_string();
            assert!(e.contains(needle), "{bad}: {e}");
        }
    }

    #[test]
    fn machines_lines_fields_defaults_and_separators() {
        let m = machines(
            "nix@scratchy i686-linux /home/nix/.ssh/id 8 1 kvm # a comment\n\
             ssh-ng://arm aarch64-linux,armv7l-linux - - - - big-parallel c3NoLWVkMjU1MTk=;\
             ssh://[::1]:2222  \n\n# only a comment\n ; ",
        );
        assert_eq!(m.len(), 3);
        assert_eq!(m[0].uri, "ssh://nix@scratchy");
        assert_eq!(m[0].systems, ["i686-linux"]);
        assert_eq!(m[0].ssh_key.as_deref(), Some("/home/nix/.ssh/id"));
        assert_eq!(m[0].max_jobs, 8);
        assert_eq!(m[0].supported_features, ["kvm"]);
        assert_eq!(m[1].uri, "ssh-ng://arm");
        assert_eq!(m[1].systems, ["aarch64-linux", "armv7l-linux"]);
        assert_eq!(m[1].ssh_key, None);
        assert_eq!(m[1].mandatory_features, ["big-parallel"]);
        assert_eq!(m[1].public_host_key.as_deref(), Some("c3NoLWVkMjU1MTk="));
        assert!(
            !m[1].builds("aarch64-linux"),
            "mandatory features keep plain builds away"
        );
        // No systems field: the local system.
        assert_eq!(m[2].systems, ["x86_64-linux"]);
        assert_eq!(m[2].max_jobs, 1);
        for word in [
            "daemon",
            "local",
            "auto",
            "/var/remote-store",
            "local?root=/x",
        ] {
            assert_eq!(machines(word)[0].uri, word);
        }
    }

    #[test]
    fn machines_files_are_included_and_missing_ones_skipped() {
        let mut read = |path: &str| match path {
            "/etc/nix/machines" => Ok(Some(
                "ssh-ng://arm aarch64-linux /k\n@/etc/nix/more\n@/nowhere".to_owned(),
            )),
            "/etc/nix/more" => Ok(Some("ssh://x86 x86_64-linux".to_owned())),
            "/unreadable" => Err("permission denied".to_owned()),
            _ => Ok(None),
        };
        let m = parse_machines(
            "@/etc/nix/machines; ssh://inline riscv64-linux",
            "x86_64-linux",
            &mut read,
        )
        .unwrap();
        let uris: Vec<_> = m.iter().map(|m| m.uri.as_str()).collect();
        assert_eq!(uris, ["ssh-ng://arm", "ssh://x86", "ssh://inline"]);
        let e = parse_machines("@/unreadable", "x86_64-linux", &mut read)
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "Nix setting `builders`, machine \"@/unreadable\": permission denied"
        );
        let mut looping = |_: &str| Ok(Some("@/self".to_owned()));
        assert!(parse_machines("@/self", "x86_64-linux", &mut looping).is_err());
    }

    #[test]
    fn bad_machine_lines_name_the_field_and_hide_secrets() {
        let e = parse_machines(
            "ssh://u:hunter22@h aarch64-linux - many",
            "x86_64-linux",
            &mut no_files,
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("field 4 (max jobs) is \"many\""), "{e}");
        assert!(!e.contains("hunter22"), "{e}");
        let e = parse_machines("h aarch64-linux - 1 fast", "x86_64-linux", &mut no_files)
            .unwrap_err()
            .to_string();
        assert!(e.contains("field 5 (speed factor)"), "{e}");
    }

    #[test]
    fn store_url_carries_key_and_host_key_and_display_redacts() {
        let m = &machines("ssh-ng://u:pw@arm?compress=true aarch64-linux /k/id 2 1 - - AAAA")[0];
        assert_eq!(
            m.store_url(),
            "ssh-ng://u:pw@arm?compress=true&ssh-key=/k/id&base64-ssh-public-host-key=AAAA"
        );
        assert_eq!(m.display_uri(), "ssh-ng://u:***@arm?compress=true");
        assert_eq!(machines("daemon aarch64-linux /k")[0].store_url(), "daemon");
    }

    fn caps(system: &str, extra: &[&str], builders: &str) -> Capabilities {
        Capabilities {
            system: system.into(),
            extra_platforms: extra.iter().map(|s| s.to_string()).collect(),
            local_builds: true,
            machines: parse_machines(builders, system, &mut no_files).unwrap(),
        }
    }

    fn r(
        system: &str,
        extra: &[&str],
        builders: &str,
        mode: Arm64Mode,
        prefer_cross: bool,
    ) -> String {
        match route(
            Platform::Arm64,
            "aarch64-linux",
            &caps(system, extra, builders),
            mode,
            prefer_cross,
        ) {
            Ok(route) => route.to_string(),
            Err(e) => format!("refused: {e}"),
        }
    }

    #[test]
    fn where_arm64_builds() {
        use Arm64Mode::*;
        let arm_builder = "ssh-ng://u:pw@arm aarch64-linux /k";
        let x86 = "x86_64-linux";
        // (local system, extra-platforms, builders, --arm64, config cross) -> route
        type Row<'a> = (&'a str, &'a [&'a str], &'a str, Arm64Mode, bool, &'a str);
        let table: &[Row] = &[
            (
                "aarch64-linux",
                &[],
                "",
                Auto,
                false,
                "native (aarch64-linux, this machine)",
            ),
            (
                "aarch64-linux",
                &[],
                "",
                Native,
                true,
                "native (aarch64-linux, this machine)",
            ),
            // Nix hands the build to a free builder before building it here.
            (
                x86,
                &["aarch64-linux"],
                arm_builder,
                Auto,
                false,
                "remote builder ssh-ng://u:***@arm (aarch64-linux), else extra-platform \
                 (aarch64-linux on this machine)",
            ),
            (
                x86,
                &["aarch64-linux"],
                "",
                Auto,
                false,
                "extra-platform (aarch64-linux on this machine)",
            ),
            (
                x86,
                &[],
                arm_builder,
                Auto,
                false,
                "remote builder ssh-ng://u:***@arm (aarch64-linux)",
            ),
            (
                x86,
                &[],
                &format!("{arm_builder}; ssh://b aarch64-linux"),
                Native,
                false,
                "remote builder ssh-ng://u:***@arm or ssh://b (aarch64-linux)",
            ),
            (x86, &[], "", Auto, false, "cross (from x86_64-linux)"),
            (
                x86,
                &[],
                arm_builder,
                Cross,
                false,
                "cross (from x86_64-linux)",
            ),
            // The configuration's cross = true keeps the workflow's derivations...
            (
                x86,
                &[],
                arm_builder,
                Auto,
                true,
                "cross (from x86_64-linux)",
            ),
            // ...unless --arm64 native says otherwise.
            (
                x86,
                &[],
                arm_builder,
                Native,
                true,
                "remote builder ssh-ng://u:***@arm (aarch64-linux)",
            ),
            // A builder for another system, or with a mandatory feature, does not count.
            (
                x86,
                &[],
                "ssh://x x86_64-linux; ssh://k aarch64-linux - 1 1 kvm kvm",
                Auto,
                false,
                "cross (from x86_64-linux)",
            ),
        ];
        for (system, extra, builders, mode, prefer_cross, want) in table {
            assert_eq!(
                &r(system, extra, builders, *mode, *prefer_cross),
                want,
                "{system} {extra:?} {builders:?} {mode:?} {prefer_cross}"
            );
        }
    }

    #[test]
    fn refusals_say_what_would_make_the_platform_buildable() {
        let e = r(
            "x86_64-linux",
            &["i686-linux"],
            "ssh://x x86_64-linux",
            Arm64Mode::Native,
            false,
        );
        for needle in [
            "refused: linux/arm64 needs a build for aarch64-linux",
            "it builds x86_64-linux, extra-platforms: i686-linux, builders: ssh://x (x86_64-linux)",
            "`ssh-ng://builder aarch64-linux` in /etc/nix/machines",
            "`extra-platforms = aarch64-linux`",
            "`--arm64 cross`",
        ] {
            assert!(e.contains(needle), "{needle}: {e}");
        }
        let e = r("riscv64-linux", &[], "", Arm64Mode::Auto, false);
        assert!(!e.contains("--arm64 cross"), "{e}");
        let e = r("aarch64-linux", &[], "", Arm64Mode::Cross, false);
        assert!(e.contains("needs a build for x86_64-linux"), "{e}");
        // amd64 ignores --arm64; on an arm64 machine with no builder it is refused.
        let e = route(
            Platform::Amd64,
            "x86_64-linux",
            &caps("aarch64-linux", &[], ""),
            Arm64Mode::Cross,
            false,
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.starts_with("linux/amd64 needs a build for x86_64-linux"),
            "{e}"
        );
        // max-jobs = 0: the local system goes to the builders too.
        let mut c = caps("x86_64-linux", &[], "ssh://b x86_64-linux");
        let amd64 = |c: &Capabilities| {
            route(Platform::Amd64, "x86_64-linux", c, Arm64Mode::Auto, false).unwrap()
        };
        assert_eq!(
            amd64(&c).local_fallback(),
            Some(&Route::Native {
                system: "x86_64-linux".into()
            })
        );
        c.local_builds = false;
        assert_eq!(
            amd64(&c).to_string(),
            "remote builder ssh://b (x86_64-linux)"
        );
        assert_eq!(amd64(&c).local_fallback(), None);
    }
}
