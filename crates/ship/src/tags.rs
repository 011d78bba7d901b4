//! Image tags from a git ref, following docker/metadata-action's conventions so users get the
//! tags they already know: branch -> sanitized name, PR -> `pr-N`, semver tag -> version,
//! major.minor, major and `latest`, and `sha-<7 hex>` whenever the commit is known.

/// A git ref as GitHub reports it in GITHUB_REF.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GitRef {
    Tag(String),
    Branch(String),
    Pull(u64),
    Other(String),
    None,
}

impl GitRef {
    pub fn parse(raw: &str) -> Self {
        if raw.is_empty() {
            return Self::None;
        }
        if let Some(tag) = raw.strip_prefix("refs/tags/") {
            return Self::Tag(tag.to_owned());
        }
        if let Some(branch) = raw.strip_prefix("refs/heads/") {
            return Self::Branch(branch.to_owned());
        }
        if let Some(rest) = raw.strip_prefix("refs/pull/") {
            if let Some(n) = rest.split('/').next().and_then(|n| n.parse().ok()) {
                return Self::Pull(n);
            }
        }
        Self::Other(raw.to_owned())
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TagError {
    #[error("--sha `{0}`: not a commit hash (at least 7 hexadecimal digits)")]
    BadSha(String),
}

/// A tag's version when it is semver, with or without a leading `v`.
pub fn semver_of(tag: &str) -> Option<semver::Version> {
    semver::Version::parse(tag.strip_prefix('v').unwrap_or(tag)).ok()
}

/// Docker tags are `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`: runs of anything else become `-`, a
/// leading `.` or `-` is dropped, and the result is cut to 128 characters.
pub fn sanitize(raw: &str) -> Option<String> {
    let mut out = String::with_capacity(raw.len());
    let mut in_bad_run = false;
    for c in raw.chars() {
        if c.is_ascii_alphanumeric() || "_.-".contains(c) {
            out.push(c);
            in_bad_run = false;
        } else if !in_bad_run {
            out.push('-');
            in_bad_run = true;
        }
    }
    let trimmed: String = out
        .trim_start_matches(['.', '-'])
        .chars()
        .take(128)
        .collect();
    (!trimmed.is_empty()).then_some(trimmed)
}

/// The tags for one build. `latest` is given only when `allow_latest` (the variant is the one
/// the rules pick for this ref, so a manual dev build of a release tag never becomes `latest`).
pub fn tags_for(
    git_ref: &GitRef,
    sha: Option<&str>,
    allow_latest: bool,
) -> Result<Vec<String>, TagError> {
    let mut tags = Vec::new();
    match git_ref {
        GitRef::Tag(tag) => match semver_of(tag) {
            Some(v) if v.pre.is_empty() => {
                tags.push(format!("{}.{}.{}", v.major, v.minor, v.patch));
                tags.push(format!("{}.{}", v.major, v.minor));
                if v.major > 0 {
                    tags.push(v.major.to_string());
                }
                if allow_latest {
                    tags.push("latest".to_owned());
                }
            }
            // Pre-releases (and build metadata, which `+` cannot carry into a tag) get only
            // their full version, never the floating tags.
            Some(v) => tags.extend(sanitize(&v.to_string())),
            None => tags.extend(sanitize(tag)),
        },
        GitRef::Branch(branch) => tags.extend(sanitize(branch)),
        GitRef::Pull(n) => tags.push(format!("pr-{n}")),
        GitRef::Other(raw) => tags.extend(sanitize(raw)),
        GitRef::None => {}
    }
    if let Some(sha) = sha.filter(|s| !s.is_empty()) {
        if sha.len() < 7 || !sha.chars().all(|c| c.is_ascii_hexdigit()) {
            return Err(TagError::BadSha(sha.to_owned()));
        }
        tags.push(format!("sha-{}", sha[..7].to_ascii_lowercase()));
    }
    let mut seen = std::collections::HashSet::new();
    tags.retain(|t| seen.insert(t.clone()));
    Ok(tags)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHA: &str = "0123abcDEF4567890123456789abcdef01234567";

    #[test]
    fn parses_refs() {
        let cases = [
            ("refs/tags/v1.2.3", GitRef::Tag("v1.2.3".into())),
            ("refs/heads/feature/x", GitRef::Branch("feature/x".into())),
            ("refs/pull/42/merge", GitRef::Pull(42)),
            ("refs/pull/7/head", GitRef::Pull(7)),
            (
                "refs/pull/abc/merge",
                GitRef::Other("refs/pull/abc/merge".into()),
            ),
            ("refs/notes/x", GitRef::Other("refs/notes/x".into())),
            ("", GitRef::None),
        ];
        for (raw, want) in cases {
            assert_eq!(GitRef::parse(raw), want, "{raw}");
        }
    }

    #[test]
    fn tag_table() {
        let cases: &[(&str, Option<&str>, bool, &[&str])] = &[
            (
                "refs/tags/v1.2.3",
                Some(SHA),
                true,
                &["1.2.3", "1.2", "1", "latest", "sha-0123abc"],
            ),
            (
                "refs/tags/1.2.3",
                None,
                true,
                &["1.2.3", "1.2", "1", "latest"],
            ),
            ("refs/tags/v1.2.3", None, false, &["1.2.3", "1.2", "1"]),
            ("refs/tags/v0.3.1", None, true, &["0.3.1", "0.3", "latest"]),
            (
                "refs/tags/v2.0.0-rc.1",
                Some(SHA),
                true,
                &["2.0.0-rc.1", "sha-0123abc"],
            ),
            (
                "refs/tags/v1.0.0+build.5",
                None,
                true,
                &["1.0.0", "1.0", "1", "latest"],
            ),
            (
                "refs/tags/v1.0.0-beta+exp.sha",
                None,
                true,
                &["1.0.0-beta-exp.sha"],
            ),
            (
                "refs/tags/dev-7",
                Some(SHA),
                true,
                &["dev-7", "sha-0123abc"],
            ),
            ("refs/tags/v1.2", None, true, &["v1.2"]),
            (
                "refs/heads/feature/Login_page",
                Some(SHA),
                true,
                &["feature-Login_page", "sha-0123abc"],
            ),
            ("refs/heads/main", None, true, &["main"]),
            (
                "refs/heads/fix//we!rd branch",
                None,
                true,
                &["fix-we-rd-branch"],
            ),
            ("refs/heads/-lead", None, true, &["lead"]),
            ("refs/heads/...", None, true, &[]),
            (
                "refs/pull/42/merge",
                Some(SHA),
                true,
                &["pr-42", "sha-0123abc"],
            ),
            ("", Some(SHA), true, &["sha-0123abc"]),
            ("", None, true, &[]),
        ];
        for (raw, sha, latest, want) in cases {
            let got = tags_for(&GitRef::parse(raw), *sha, *latest).unwrap();
            assert_eq!(got, *want, "ref {raw:?}");
        }
    }

    #[test]
    fn tags_are_cut_to_128_characters() {
        let long = format!("refs/heads/{}", "a".repeat(300));
        let tags = tags_for(&GitRef::parse(&long), None, true).unwrap();
        assert_eq!(tags[0].len(), 128);
    }

    #[test]
    fn bad_sha_is_refused() {
        for bad in ["123", "xyz1234", "0123abc!"] {
            assert_eq!(
                tags_for(&GitRef::None, Some(bad), true),
                Err(TagError::BadSha(bad.into()))
            );
        }
    }
}
