//! What this Nix can build and where: its settings as JSON (builders, extra-platforms, ...) and
//! whether a remote builder's store answers. crate::builders decides from what these return.

use super::{strings, Nix, NixError, NixVersion};
use crate::redact::url_secrets;

impl Nix {
    /// `nix config show --json` (`nix show-config --json` before Nix 2.20, where it was
    /// renamed): every setting, for [`crate::builders::parse_settings_json`].
    pub fn settings_json(&self) -> Result<String, NixError> {
        let args = if self.version()? >= NixVersion(2, 20, 0) {
            strings(&["config", "show", "--json"])
        } else {
            strings(&["show-config", "--json"])
        };
        let out = self.run(&args, false)?;
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// Connects to a store the way a build would (`nix store info`, `nix store ping` before
    /// 2.20): fails, with Nix's own message, when the builder is down or refuses us.
    pub fn check_store(&self, url: &str) -> Result<(), NixError> {
        let verb = if self.version()? >= NixVersion(2, 20, 0) {
            "info"
        } else {
            "ping"
        };
        let args = strings(&["store", verb, "--store", url]);
        // Nix prints the store URL, query parameters included: scrub what redact_url hides.
        self.process(&args).secrets(&url_secrets(url)).run()?;
        Ok(())
    }
}
