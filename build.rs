// Bakes build facts into the binary so `/version` can say how it was built.
use std::path::Path;

fn main() {
    println!("cargo:rerun-if-env-changed=SHIP_GIT_REV");
    let rev = std::env::var("SHIP_GIT_REV").unwrap_or_else(|_| "unknown".to_owned());
    println!("cargo:rustc-env=SHIP_BUILD_GIT_REV={rev}");

    // Cargo tells build scripts only "debug" or "release" (PROFILE), which cannot tell a custom
    // profile apart; the profile's own directory name can: OUT_DIR is
    // <target>/[<triple>/]<profile-dir>/build/<pkg>-<hash>/out, and "debug" is the dev profile.
    let out_dir = std::env::var("OUT_DIR").unwrap_or_default();
    let dir = Path::new(&out_dir)
        .ancestors()
        .nth(3)
        .and_then(|p| p.file_name())
        .and_then(|n| n.to_str())
        .map(str::to_owned);
    let profile = match dir.as_deref() {
        Some("debug") => "dev".to_owned(),
        Some(name) if !name.is_empty() => name.to_owned(),
        _ => std::env::var("PROFILE").unwrap_or_else(|_| "unknown".to_owned()),
    };
    println!("cargo:rustc-env=SHIP_BUILD_PROFILE={profile}");
}
