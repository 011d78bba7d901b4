//! What a cache push did (or would do), as numbers per group of paths, for people (text),
//! for the job summary (Markdown) and as JSON.

use serde::Serialize;

use crate::nix::{PathInfo, StorePath};

/// A set of store paths and their NAR bytes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PathGroup {
    pub count: usize,
    pub bytes: u64,
    pub paths: Vec<StorePath>,
}

impl PathGroup {
    pub(super) fn of<'a>(infos: impl IntoIterator<Item = &'a PathInfo>) -> Self {
        let mut g = Self::default();
        for i in infos {
            g.count += 1;
            g.bytes += i.nar_size;
            g.paths.push(i.path.clone());
        }
        g.paths.sort();
        g
    }
}

/// What a push did (or, dry, would do). JSON field names are stable.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CacheReport {
    /// The target, secrets redacted.
    pub target: String,
    /// `cachix` or `nix-copy`.
    pub backend: String,
    pub dry_run: bool,
    /// The outputs whose closures were considered.
    pub roots: Vec<StorePath>,
    /// Sent to the cache (for cachix: handed to it; it may still skip some).
    pub pushed: PathGroup,
    /// The part of `pushed` that is upstream or image paths a pushed path references.
    pub pushed_required: PathGroup,
    /// Already in the store; `None` when not checked (cachix checks by itself).
    pub present: Option<PathGroup>,
    /// Left out: signed by an upstream key.
    pub upstream: PathGroup,
    /// Left out: image scripts and archives.
    pub images: PathGroup,
    /// The commands run (or that would run), secrets redacted.
    pub commands: Vec<String>,
}

impl CacheReport {
    /// For people.
    pub fn text(&self) -> String {
        let verb = if self.dry_run { "would push" } else { "pushed" };
        let mut out = format!("push-cache to {} ({})\n", self.target, self.backend);
        let row = |label: &str, g: &PathGroup, note: &str| {
            format!(
                "  {label:<17} {:>5} path{:<1}  {:>10}{note}\n",
                g.count,
                if g.count == 1 { "" } else { "s" },
                crate::human::bytes(g.bytes)
            )
        };
        out.push_str(&row(verb, &self.pushed, ""));
        if self.pushed_required.count > 0 {
            out.push_str(&row(
                "  of which needed",
                &self.pushed_required,
                "  (upstream/image paths a pushed path references)",
            ));
        }
        match &self.present {
            Some(g) => out.push_str(&row("already present", g, "")),
            None => out.push_str("  already present   (not checked: cachix skips them itself)\n"),
        }
        out.push_str(&row("skipped upstream", &self.upstream, ""));
        out.push_str(&row("skipped images", &self.images, ""));
        out
    }

    /// A few Markdown lines for $GITHUB_STEP_SUMMARY.
    pub fn markdown(&self) -> String {
        let g = |g: &PathGroup| format!("{} ({})", g.count, crate::human::bytes(g.bytes));
        format!(
            "- **push-cache** `{}`: {} {}, already present {}, skipped upstream {}, skipped images {}\n",
            self.target,
            if self.dry_run { "would push" } else { "pushed" },
            g(&self.pushed),
            self.present
                .as_ref()
                .map(g)
                .unwrap_or_else(|| "not checked".to_owned()),
            g(&self.upstream),
            g(&self.images),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_text() {
        let g = |n: usize, b: u64| PathGroup {
            count: n,
            bytes: b,
            paths: Vec::new(),
        };
        let r = CacheReport {
            target: "file:///c?secret-key=***".into(),
            backend: "nix-copy".into(),
            dry_run: false,
            roots: Vec::new(),
            pushed: g(3, 2048),
            pushed_required: g(0, 0),
            present: Some(g(1, 10)),
            upstream: g(1, 5),
            images: g(1, 1000),
            commands: Vec::new(),
        };
        let text = r.text();
        assert!(
            text.starts_with("push-cache to file:///c?secret-key=*** (nix-copy)\n"),
            "{text}"
        );
        assert!(
            text.contains("pushed                3 paths     2.0 KiB"),
            "{text}"
        );
        assert!(
            text.contains("already present       1 path         10 B"),
            "{text}"
        );
        let md = r.markdown();
        assert!(md.contains("pushed 3 (2.0 KiB), already present 1 (10 B), skipped upstream 1 (5 B), skipped images 1 (1000 B)"), "{md}");
        let cachix = CacheReport {
            present: None,
            dry_run: true,
            ..r
        };
        assert!(cachix.text().contains("would push"));
        assert!(cachix.text().contains("not checked"));
    }
}
