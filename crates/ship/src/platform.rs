//! The platforms ship builds images for, `linux/amd64` and `linux/arm64`, and every name
//! each goes by: the `os/arch` people write, the OCI `os` and `architecture`, the Nix system.

/// Every platform's name, for messages saying what is accepted.
pub const PLATFORMS: &[&str] = &["linux/amd64", "linux/arm64"];

/// A platform name ship does not build.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown platform `{0}`; accepted: linux/amd64, linux/arm64")]
pub struct UnknownPlatform(pub String);

/// `linux/amd64` or `linux/arm64`, the only two the flake builds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Platform {
    Amd64,
    Arm64,
}

impl Platform {
    pub const ALL: [Self; 2] = [Self::Amd64, Self::Arm64];

    pub fn parse(s: &str) -> Result<Self, UnknownPlatform> {
        Self::ALL
            .into_iter()
            .find(|p| p.as_str() == s)
            .ok_or_else(|| UnknownPlatform(s.to_owned()))
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Amd64 => "linux/amd64",
            Self::Arm64 => "linux/arm64",
        }
    }
    /// The OCI `os` value (every platform ship builds is Linux).
    pub fn os(self) -> &'static str {
        "linux"
    }
    /// The platform an image config's `os` and `architecture` describe, if ship builds it.
    pub fn from_os_arch(os: &str, arch: &str) -> Option<Self> {
        match (os, arch) {
            ("linux", "amd64") => Some(Self::Amd64),
            ("linux", "arm64") => Some(Self::Arm64),
            _ => None,
        }
    }
    /// The OCI `architecture` value.
    pub fn arch(self) -> &'static str {
        match self {
            Self::Amd64 => "amd64",
            Self::Arm64 => "arm64",
        }
    }
    /// The Nix system that builds this platform natively.
    pub fn native_system(self) -> &'static str {
        match self {
            Self::Amd64 => "x86_64-linux",
            Self::Arm64 => "aarch64-linux",
        }
    }
    /// The platform a Nix system builds natively, if ship builds it.
    pub fn from_native_system(system: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.native_system() == system)
    }
}

impl serde::Serialize for Platform {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl std::str::FromStr for Platform {
    type Err = UnknownPlatform;
    fn from_str(s: &str) -> Result<Self, UnknownPlatform> {
        Self::parse(s)
    }
}

impl std::fmt::Display for Platform {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        assert_eq!(PLATFORMS.len(), Platform::ALL.len());
        for (p, name) in Platform::ALL.into_iter().zip(PLATFORMS) {
            assert_eq!(p.as_str(), *name);
            assert_eq!(Platform::parse(name), Ok(p));
            assert_eq!(Platform::from_os_arch(p.os(), p.arch()), Some(p));
            assert_eq!(Platform::from_native_system(p.native_system()), Some(p));
        }
        let e = Platform::parse("windows/amd64").unwrap_err();
        assert_eq!(
            e.to_string(),
            "unknown platform `windows/amd64`; accepted: linux/amd64, linux/arm64"
        );
        assert_eq!(Platform::from_native_system("x86_64-darwin"), None);
    }
}
