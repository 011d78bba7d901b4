//! The pure decision of what to push: from the closures of the roots, leave out images,
//! paths an upstream cache serves and paths the store has, but keep what a pushed path
//! references when the store needs it (see [`crate::cache`]).

use std::collections::{BTreeMap, BTreeSet};

use crate::nix::{PathInfo, StorePath};

/// Names of root outputs that are image archives.
const IMAGE_SUFFIXES: &[&str] = &[".tar", ".tar.gz", ".tgz", ".tar.zst", ".tar.xz"];
/// Names dockerTools gives image scripts, tarballs and layers.
const IMAGE_PREFIXES: &[&str] = &["stream-", "docker-image-", "docker-layer-"];

/// True for image scripts, archives and layers (see the module documentation). `is_root`: the
/// path is one of the given outputs, not something found in a closure.
pub fn is_image(name: &str, is_root: bool) -> bool {
    IMAGE_PREFIXES.iter().any(|p| name.starts_with(p))
        || (is_root && IMAGE_SUFFIXES.iter().any(|s| name.ends_with(s)))
}

/// The pure decision: which paths of `closure` to push.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selection {
    pub push: Vec<PathInfo>,
    pub required: Vec<PathInfo>,
    pub present: Vec<PathInfo>,
    pub upstream: Vec<PathInfo>,
    pub images: Vec<PathInfo>,
}

/// Splits `closure` (the closures of `roots`, with references) into what to push and what to
/// leave out. `present`: what the target already has (`None`: unknown, as with cachix).
/// `needs_references`: the target refuses paths whose references it lacks (every `nix copy`
/// store), so upstream/image paths referenced by pushed ones are pushed too.
pub fn select(
    closure: &[PathInfo],
    roots: &BTreeSet<StorePath>,
    present: Option<&BTreeSet<StorePath>>,
    upstream_keys: &[String],
    needs_references: bool,
) -> Selection {
    let by_path: BTreeMap<&str, &PathInfo> = closure.iter().map(|i| (i.path.as_str(), i)).collect();
    let has = |p: &str| present.is_some_and(|set| set.contains(p));
    let mut kind: BTreeMap<&str, Kind> = BTreeMap::new();
    for info in closure {
        let k = if is_image(info.name(), roots.contains(&info.path)) {
            Kind::Image
        } else if upstream_keys.iter().any(|key| info.signed_by(key)) {
            Kind::Upstream
        } else if has(&info.path) {
            Kind::Present
        } else {
            Kind::Push
        };
        kind.insert(info.path.as_str(), k);
    }

    if needs_references {
        // Whatever a pushed path references must reach the store too, unless it is there.
        let mut stack: Vec<&str> = kind
            .iter()
            .filter(|(_, k)| **k == Kind::Push)
            .map(|(p, _)| *p)
            .collect();
        while let Some(path) = stack.pop() {
            let Some(info) = by_path.get(path) else {
                continue;
            };
            for r in &info.references {
                let Some((r, k)) = kind.get_key_value(r.as_str()).map(|(p, k)| (*p, *k)) else {
                    continue;
                };
                if matches!(k, Kind::Image | Kind::Upstream) {
                    let next = if has(r) {
                        Kind::Present
                    } else {
                        Kind::Required
                    };
                    kind.insert(r, next);
                    if next == Kind::Required {
                        stack.push(r);
                    }
                }
            }
        }
    }

    let pick = |want: &[Kind]| -> Vec<PathInfo> {
        closure
            .iter()
            .filter(|i| kind.get(i.path.as_str()).is_some_and(|k| want.contains(k)))
            .cloned()
            .collect()
    };
    Selection {
        push: pick(&[Kind::Push, Kind::Required]),
        required: pick(&[Kind::Required]),
        present: pick(&[Kind::Present]),
        upstream: pick(&[Kind::Upstream]),
        images: pick(&[Kind::Image]),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Push,
    Required,
    Present,
    Upstream,
    Image,
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::cache::DEFAULT_UPSTREAM_KEY;

    pub(crate) fn info(name: &str, size: u64, refs: &[&str], sigs: &[&str]) -> PathInfo {
        PathInfo {
            path: path(name),
            valid: true,
            nar_size: size,
            closure_size: None,
            signatures: sigs.iter().map(|k| format!("{k}:c2ln")).collect(),
            deriver: None,
            references: refs.iter().map(|r| path(r)).collect(),
        }
    }

    pub(crate) fn path(name: &str) -> String {
        format!("/nix/store/{}-{name}", "a".repeat(32))
    }

    pub(crate) fn names(infos: &[PathInfo]) -> Vec<&str> {
        infos.iter().map(PathInfo::name).collect()
    }

    pub(crate) fn keys() -> Vec<String> {
        vec![DEFAULT_UPSTREAM_KEY.to_owned()]
    }

    #[test]
    fn image_names() {
        assert!(is_image("stream-demo-service", false));
        assert!(is_image("docker-image-fixture.tar", false));
        assert!(is_image("docker-layer-base", false));
        assert!(is_image("demo-service.tar.gz", true));
        assert!(is_image("image.tar.zst", true));
        // A source tarball deep in a closure is not an image.
        assert!(!is_image("crate-serde-1.0.0.tar.gz", false));
        assert!(!is_image("demo-service-0.1.0", true));
        assert!(!is_image("demo-service-deps-0.1.0", true));
    }

    #[test]
    fn selection_for_a_binary_cache() {
        // image -> app -> glibc (upstream); image -> fake-nss (upstream); deps alone.
        let closure = vec![
            info(
                "docker-image-fixture.tar",
                1000,
                &["fixture-0.1.0", "fake-nss"],
                &[],
            ),
            info("fixture-0.1.0", 100, &["glibc-2.35"], &[]),
            info("glibc-2.35", 50, &[], &[DEFAULT_UPSTREAM_KEY]),
            info("fake-nss", 5, &[], &[DEFAULT_UPSTREAM_KEY]),
            info("fixture-deps-0.1.0", 10, &[], &["test-1"]),
        ];
        let roots: BTreeSet<String> =
            [path("docker-image-fixture.tar"), path("fixture-deps-0.1.0")]
                .into_iter()
                .collect();
        let sel = select(&closure, &roots, Some(&BTreeSet::new()), &keys(), true);
        assert_eq!(
            names(&sel.push),
            vec!["fixture-0.1.0", "glibc-2.35", "fixture-deps-0.1.0"]
        );
        assert_eq!(names(&sel.required), vec!["glibc-2.35"]);
        assert_eq!(names(&sel.upstream), vec!["fake-nss"]);
        assert_eq!(names(&sel.images), vec!["docker-image-fixture.tar"]);
        assert!(sel.present.is_empty());

        // The store already has the app: only deps is sent, and glibc, needed by nothing that
        // is sent, is left to upstream again.
        let present: BTreeSet<String> = [path("fixture-0.1.0")].into();
        let sel = select(&closure, &roots, Some(&present), &keys(), true);
        assert_eq!(names(&sel.push), vec!["fixture-deps-0.1.0"]);
        assert!(sel.required.is_empty());
        assert_eq!(names(&sel.present), vec!["fixture-0.1.0"]);
        assert_eq!(names(&sel.upstream), vec!["glibc-2.35", "fake-nss"]);

        // A new app whose glibc the store has: glibc counts as present, not pushed.
        let present: BTreeSet<String> = [path("glibc-2.35")].into();
        let sel = select(&closure, &roots, Some(&present), &keys(), true);
        assert_eq!(
            names(&sel.push),
            vec!["fixture-0.1.0", "fixture-deps-0.1.0"]
        );
        assert_eq!(names(&sel.present), vec!["glibc-2.35"]);
        assert!(sel.required.is_empty());

        // Everything there: nothing to push.
        let all: BTreeSet<String> = closure.iter().map(|i| i.path.clone()).collect();
        let sel = select(&closure, &roots, Some(&all), &keys(), true);
        assert!(sel.push.is_empty());
        assert_eq!(
            names(&sel.present),
            vec!["fixture-0.1.0", "fixture-deps-0.1.0"]
        );
    }

    #[test]
    fn selection_for_cachix_hands_over_no_upstream_path() {
        let closure = vec![
            info("fixture-0.1.0", 100, &["glibc-2.35"], &[]),
            info("glibc-2.35", 50, &[], &[DEFAULT_UPSTREAM_KEY]),
            info("stream-fixture", 3, &["fixture-0.1.0"], &[]),
        ];
        let roots: BTreeSet<String> = [path("stream-fixture")].into();
        let sel = select(&closure, &roots, None, &keys(), false);
        assert_eq!(names(&sel.push), vec!["fixture-0.1.0"]);
        assert_eq!(names(&sel.upstream), vec!["glibc-2.35"]);
        assert_eq!(names(&sel.images), vec!["stream-fixture"]);
        // Another upstream key, and the default one no longer counts.
        let sel = select(&closure, &roots, None, &["my-upstream-1".to_owned()], false);
        assert_eq!(names(&sel.push), vec!["fixture-0.1.0", "glibc-2.35"]);
    }
}
