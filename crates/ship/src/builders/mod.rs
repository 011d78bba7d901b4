//! Where `ship release` builds each platform. Nix says what it can build: its own `system`, the
//! `extra-platforms` it runs (binfmt/qemu, Rosetta), and the machines in `builders` (inline, or
//! a machines file given as `@/path`, by default `@/etc/nix/machines`); [`machines`] parses
//! those, and this file decides, purely, where each platform's derivations build. Nix itself
//! does the distribution (its build hook sends a derivation to a machine listing its system);
//! ship only picks the native derivations when some machine can build them, so their outputs
//! and deps are the very store paths a native runner of the workflow builds and caches.

mod machines;

pub use machines::{parse_machines, parse_settings_json, BuildersError, Machine, NixBuildSettings};

use std::fmt;

use serde::Serialize;

use crate::plan::CROSS_BUILD_PLATFORM;
use crate::platform::Platform;

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
    let cross_system = CROSS_BUILD_PLATFORM.native_system();
    let can_cross = platform == Platform::Arm64 && caps.system == cross_system;
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
            system: cross_system.to_owned(),
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
    use Arm64Mode::{Auto, Cross, Native};

    fn no_files(_: &str) -> Result<Option<String>, String> {
        Ok(None)
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

    const ARM_BUILDER: &str = "ssh-ng://u:pw@arm aarch64-linux /k";
    const X86: &str = "x86_64-linux";

    /// (local system, extra-platforms, builders, --arm64, config cross) -> route
    type Row = (
        &'static str,
        &'static [&'static str],
        &'static str,
        Arm64Mode,
        bool,
        &'static str,
    );

    const ARM64_ROUTES: &[Row] = &[
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
            X86,
            &["aarch64-linux"],
            ARM_BUILDER,
            Auto,
            false,
            "remote builder ssh-ng://u:***@arm (aarch64-linux), else extra-platform \
             (aarch64-linux on this machine)",
        ),
        (
            X86,
            &["aarch64-linux"],
            "",
            Auto,
            false,
            "extra-platform (aarch64-linux on this machine)",
        ),
        (
            X86,
            &[],
            ARM_BUILDER,
            Auto,
            false,
            "remote builder ssh-ng://u:***@arm (aarch64-linux)",
        ),
        (
            X86,
            &[],
            "ssh-ng://u:pw@arm aarch64-linux /k; ssh://b aarch64-linux",
            Native,
            false,
            "remote builder ssh-ng://u:***@arm or ssh://b (aarch64-linux)",
        ),
        (X86, &[], "", Auto, false, "cross (from x86_64-linux)"),
        (
            X86,
            &[],
            ARM_BUILDER,
            Cross,
            false,
            "cross (from x86_64-linux)",
        ),
        // The configuration's cross = true keeps the workflow's derivations...
        (
            X86,
            &[],
            ARM_BUILDER,
            Auto,
            true,
            "cross (from x86_64-linux)",
        ),
        // ...unless --arm64 native says otherwise.
        (
            X86,
            &[],
            ARM_BUILDER,
            Native,
            true,
            "remote builder ssh-ng://u:***@arm (aarch64-linux)",
        ),
        // A builder for another system, or with a mandatory feature, does not count.
        (
            X86,
            &[],
            "ssh://x x86_64-linux; ssh://k aarch64-linux - 1 1 kvm kvm",
            Auto,
            false,
            "cross (from x86_64-linux)",
        ),
    ];

    #[test]
    fn where_arm64_builds() {
        for (system, extra, builders, mode, prefer_cross, want) in ARM64_ROUTES {
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
