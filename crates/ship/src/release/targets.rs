//! Where each platform of a plan is built from this machine, and the flake installables that
//! build it: natively when the systems match, by the cross attributes when arm64 is wanted on
//! the cross-build platform. Anything else is refused before anything is built or published.

use super::ReleaseError;
use crate::plan::{self, Outputs, Plan};
use crate::platform::Platform;

/// One platform's flake installables, as this machine builds them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlatformBuild {
    pub platform: Platform,
    pub installables: Outputs<String>,
}

/// Every platform of `plan`, as built from a machine whose Nix system is `local`.
pub fn targets(plan: &Plan, flake: &str, local: &str) -> Result<Vec<PlatformBuild>, ReleaseError> {
    plan.matrix
        .include
        .iter()
        .map(|entry| {
            let platform = entry.platform;
            let (system, names) = if entry.system == local {
                let names = Outputs {
                    image: entry.attr.clone(),
                    app: entry.app.clone(),
                    deps: entry.deps.clone(),
                };
                (entry.system.clone(), names)
            } else if platform == Platform::Arm64
                && local == plan::CROSS_BUILD_PLATFORM.native_system()
            {
                plan::attrs(&plan.profile, platform, true)
            } else {
                return Err(ReleaseError::CannotBuildHere {
                    platform,
                    needed: entry.system.clone(),
                    local: local.to_owned(),
                });
            };
            Ok(PlatformBuild {
                platform,
                installables: names.map(|attr| format!("{flake}#packages.{system}.{attr}")),
            })
        })
        .collect()
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
        let t = targets(&plan, "github:o/n", "x86_64-linux").unwrap();
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
        let t = targets(&plan_for("refs/heads/main", ""), ".", "aarch64-linux");
        assert!(
            matches!(
                &t,
                Err(ReleaseError::CannotBuildHere {
                    platform: Platform::Amd64,
                    ..
                })
            ),
            "{t:?}"
        );
        let e = targets(&plan, ".", "aarch64-linux")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("linux/amd64 is built on x86_64-linux and this machine is aarch64-linux"),
            "{e}"
        );
    }
}
