//! The backend `ship release` runs with: Nix for the builds, the registry client for images and
//! the index, the cache module for store paths. Each method adapts one module's result to what
//! the orchestration records.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::builders::{parse_settings_json, Capabilities};
use crate::cache;
use crate::config::Platform;
use crate::nix::Nix;
use crate::oci::Digest;
use crate::registry::{self, Client, ClientOptions, Repository};
use crate::report::CacheStats;

use super::{Backend, BackendError, Built, PushedImage};

pub struct RealBackend<'a> {
    pub nix: &'a Nix,
    pub repo: Repository,
    pub registry: ClientOptions,
    pub cache: Option<cache::Target>,
    pub cache_options: cache::PushOptions,
    /// Where `describe` and progress lines go (stderr for the CLI).
    pub log: &'a mut dyn Write,
    client: Option<Client>,
}

impl<'a> RealBackend<'a> {
    pub fn new(
        nix: &'a Nix,
        repo: Repository,
        registry: ClientOptions,
        cache: Option<cache::Target>,
        cache_options: cache::PushOptions,
        log: &'a mut dyn Write,
    ) -> Self {
        Self {
            nix,
            repo,
            registry,
            cache,
            cache_options,
            log,
            client: None,
        }
    }
}

/// The registry client, made on first use so a dry run never reads credentials.
fn client<'c>(
    slot: &'c mut Option<Client>,
    repo: &Repository,
    options: &ClientOptions,
) -> Result<&'c Client, BackendError> {
    if slot.is_none() {
        *slot = Some(Client::from_env(repo, options.clone())?);
    }
    slot.as_ref()
        .ok_or_else(|| "registry client unavailable".into())
}

impl Backend for RealBackend<'_> {
    fn capabilities(&mut self) -> Result<Capabilities, BackendError> {
        let settings = parse_settings_json(&self.nix.settings_json()?)?;
        let mut read = |path: &str| match std::fs::read_to_string(path) {
            Ok(text) => Ok(Some(text)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(format!("cannot read machines file {path}: {e}")),
        };
        Ok(Capabilities::from_settings(settings, &mut read)?)
    }

    fn check_builder(&mut self, store_url: &str) -> Result<(), BackendError> {
        Ok(self.nix.check_store(store_url)?)
    }

    fn dry_run(&mut self, installables: &[String]) -> Result<(usize, usize), BackendError> {
        let dry = self.nix.dry_run(installables)?;
        Ok((dry.built(), dry.fetched()))
    }

    fn build(&mut self, installables: &[String]) -> Result<Built, BackendError> {
        let outcome = self.nix.build_measured(installables)?;
        let outputs = outcome
            .outputs
            .iter()
            .map(|o| {
                o.out()
                    .map(PathBuf::from)
                    .ok_or_else(|| format!("{}: no `out` output", o.installable))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Built {
            built: outcome.built,
            fetched: outcome.fetched,
            outputs,
        })
    }

    fn push_image(
        &mut self,
        image: &Path,
        platform: Platform,
    ) -> Result<PushedImage, BackendError> {
        let client = client(&mut self.client, &self.repo, &self.registry)?;
        let log = &mut *self.log;
        let pushed =
            registry::push_image_with(client, image, &self.repo, Some(platform), &mut |e| {
                let _ = writeln!(log, "{}", registry::describe_event(&e));
            })?;
        let _ = writeln!(self.log, "{}", pushed.summary());
        Ok(PushedImage {
            digest: pushed.manifest_digest.to_string(),
            layers_uploaded: pushed.layers_uploaded,
            layers_skipped: pushed.layers_skipped,
            bytes_uploaded: pushed.bytes_uploaded,
            bytes_skipped: pushed.bytes_skipped,
        })
    }

    fn push_index(
        &mut self,
        children: &[(String, Platform)],
        tags: &[String],
    ) -> Result<String, BackendError> {
        let children = children
            .iter()
            .map(|(d, p)| Ok((Digest::parse(d)?, *p)))
            .collect::<Result<Vec<_>, BackendError>>()?;
        let client = client(&mut self.client, &self.repo, &self.registry)?;
        let pushed = registry::push_index(client, &self.repo, &children, tags)?;
        let _ = write!(self.log, "{}", pushed.summary());
        Ok(pushed.digest.to_string())
    }

    fn push_cache(&mut self, installables: &[String]) -> Result<CacheStats, BackendError> {
        let target = self.cache.as_ref().ok_or(
            "no binary cache configured (`cache` in [workspace.metadata.ship] or --cache)",
        )?;
        let report = cache::push_cache(self.nix, target, installables, &self.cache_options)?;
        let _ = write!(self.log, "{}", report.text());
        Ok(CacheStats {
            target: report.target.clone(),
            paths_pushed: report.pushed.count,
            bytes_pushed: report.pushed.bytes,
            paths_present: report.present.as_ref().map_or(0, |p| p.count),
            paths_upstream: report.upstream.count,
            paths_skipped_images: report.images.count,
        })
    }

    fn file_size(&mut self, path: &Path) -> Result<u64, BackendError> {
        Ok(std::fs::metadata(path)?.len())
    }

    fn describe(&mut self, line: &str) {
        let _ = writeln!(self.log, "would {line}");
    }
}
