//! Where each platform of a plan builds (see [`builders::route`]) and the flake installables
//! that build it: the native derivations wherever Nix can build them (this machine, an extra
//! platform, a remote builder that answers), the cross attributes for arm64 on x86_64-linux
//! otherwise or when asked. A platform nothing can build is refused before anything is built
//! or published.

use super::{Backend, BackendError, ReleaseError};
use crate::builders::{self, Arm64Mode, Capabilities, Route};
use crate::plan::{self, Outputs, Plan};
use crate::platform::Platform;

/// One platform's flake installables, and where they build.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlatformBuild {
    pub platform: Platform,
    pub installables: Outputs<String>,
    pub route: Route,
}

/// Every platform of `plan`, as this Nix (`caps`) builds it.
pub fn targets(
    plan: &Plan,
    flake: &str,
    caps: &Capabilities,
    arm64: Arm64Mode,
) -> Result<Vec<PlatformBuild>, ReleaseError> {
    plan.matrix
        .include
        .iter()
        .map(|entry| {
            let platform = entry.platform;
            let route =
                builders::route(platform, platform.native_system(), caps, arm64, entry.cross)?;
            let (system, names) = plan::attrs(&plan.profile, platform, route.is_cross());
            Ok(PlatformBuild {
                platform,
                installables: names.map(|attr| format!("{flake}#packages.{system}.{attr}")),
                route,
            })
        })
        .collect()
}

/// Every remote builder a platform relies on must answer before anything is built: Nix would
/// otherwise only find out mid-build. A platform needs one of its candidate machines, or else
/// builds on this machine when it can (as Nix itself then does).
pub(super) fn check_builders(
    builds: &mut [PlatformBuild],
    caps: &Capabilities,
    backend: &mut dyn Backend,
) -> Result<(), BackendError> {
    for b in builds {
        let Route::Remote { system, .. } = &b.route else {
            continue;
        };
        let mut failures = Vec::new();
        let mut answered = false;
        for m in caps.machines.iter().filter(|m| m.builds(system)) {
            match backend.check_builder(&m.store_url()) {
                Ok(()) => {
                    answered = true;
                    break;
                }
                Err(e) => failures.push(format!("{}: {e}", m.display_uri())),
            }
        }
        if answered {
            continue;
        }
        if let Some(local) = b.route.local_fallback() {
            b.route = local.clone();
            continue;
        }
        return Err(Box::new(ReleaseError::BuildersDown {
            platform: b.platform,
            system: system.clone(),
            failures: failures.join("; "),
            elsewhere: if b.platform == Platform::Arm64 {
                "`--arm64 cross` on x86_64-linux, the release workflow"
            } else {
                "the release workflow"
            },
        }));
    }
    Ok(())
}

/// Every installable of `builds`, platform by platform, image, app, deps.
pub fn all_installables(builds: &[PlatformBuild]) -> Vec<String> {
    builds.iter().flat_map(|b| b.installables.clone()).collect()
}

/// What goes to the binary cache: each app and, explicitly, its dependency-only derivation
/// (crane's deps output is a build input, not in the app's runtime closure).
pub fn cache_installables(builds: &[PlatformBuild]) -> Vec<String> {
    builds
        .iter()
        .flat_map(|b| [b.installables.app.clone(), b.installables.deps.clone()])
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::release::tests::plan_for;

    #[test]
    fn arm64_on_x86_64_uses_the_cross_attributes_even_when_ci_builds_natively() {
        let plan = plan_for("refs/tags/v1.2.3", "");
        let local = |system: &str| Capabilities::local(system);
        let t = targets(&plan, "github:o/n", &local("x86_64-linux"), Arm64Mode::Auto).unwrap();
        assert_eq!(
            t[0].installables.image,
            "github:o/n#packages.x86_64-linux.image-release"
        );
        assert_eq!(
            t[1].installables.image,
            "github:o/n#packages.x86_64-linux.image-release-arm64"
        );
        assert_eq!(
            t[1].installables.deps,
            "github:o/n#packages.x86_64-linux.deps-release-arm64"
        );
        assert_eq!(t[1].route.to_string(), "cross (from x86_64-linux)");
        let t = targets(
            &plan_for("refs/heads/main", ""),
            ".",
            &local("aarch64-linux"),
            Arm64Mode::Auto,
        );
        assert!(
            matches!(
                &t,
                Err(ReleaseError::Unbuildable(builders::Unbuildable {
                    platform: Platform::Amd64,
                    ..
                }))
            ),
            "{t:?}"
        );
        let e = targets(&plan, ".", &local("aarch64-linux"), Arm64Mode::Auto)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("linux/amd64 needs a build for x86_64-linux and this Nix cannot do one: it builds aarch64-linux"),
            "{e}"
        );
    }
}
