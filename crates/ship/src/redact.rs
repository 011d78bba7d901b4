//! Making text fit to print: store URLs, command lines and captured output lose every secret
//! (passwords in URLs, secret query parameters, values of secret settings, known secret values)
//! before ship shows them anywhere.

/// A setting or query parameter whose value is a secret (or points at one): its value is
/// never printed.
pub fn is_secret_name(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    ["secret", "token", "password", "passwd", "ssh-key"]
        .iter()
        .any(|s| name.contains(s))
}

/// A store URL fit to print: the password of `user:password@` and the value of every query
/// parameter naming a secret (`secret-key=`, `ssh-key=`, `...token=`) become `***`.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let (before_query, query) = match rest.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (rest, None),
    };
    let (authority, path) = match before_query.find('/') {
        Some(i) => before_query.split_at(i),
        None => (before_query, ""),
    };
    let authority = match authority.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _)) => format!("{user}:***@{host}"),
            None => format!("{userinfo}@{host}"),
        },
        None => authority.to_owned(),
    };
    let mut out = format!("{scheme}://{authority}{path}");
    if let Some(query) = query {
        let params: Vec<String> = query
            .split('&')
            .map(|param| match param.split_once('=') {
                Some((name, _)) if is_secret_name(name) => format!("{name}=***"),
                _ => param.to_owned(),
            })
            .collect();
        out.push('?');
        out.push_str(&params.join("&"));
    }
    out
}

/// The values [`redact_url`] hides: the password of `user:password@` and every secret query
/// parameter's value.
pub fn url_secrets(url: &str) -> Vec<String> {
    let Some((_, rest)) = url.split_once("://") else {
        return Vec::new();
    };
    let (before_query, query) = rest.split_once('?').unwrap_or((rest, ""));
    let authority = before_query.split('/').next().unwrap_or("");
    let mut secrets = Vec::new();
    if let Some((userinfo, _)) = authority.rsplit_once('@') {
        if let Some((_, password)) = userinfo.split_once(':') {
            secrets.push(password.to_owned());
        }
    }
    for param in query.split('&') {
        if let Some((name, value)) = param.split_once('=') {
            if is_secret_name(name) && !value.is_empty() {
                secrets.push(value.to_owned());
            }
        }
    }
    secrets
}

/// A command line fit to print: shell-quoted, URLs redacted, values of secret settings
/// (`--option access-tokens ...`, `--secret-key-files ...`) replaced by `***`.
pub fn display_command(program: &str, args: &[String]) -> String {
    let mut words = vec![shell_quote(program)];
    let mut redact_next = false;
    for (i, arg) in args.iter().enumerate() {
        let shown = if redact_next {
            redact_next = false;
            "***".to_owned()
        } else if arg.contains("://") {
            redact_url(arg)
        } else {
            arg.clone()
        };
        if i > 0 && args[i - 1] == "--option" && is_secret_name(arg) {
            redact_next = true;
        } else if let Some(flag) = arg.strip_prefix("--") {
            if is_secret_name(flag) && !flag.contains('=') {
                redact_next = true;
            }
        }
        words.push(shell_quote(&shown));
    }
    words.join(" ")
}

fn shell_quote(word: &str) -> String {
    let plain = !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:=@%+,#*".contains(c));
    if plain {
        word.to_owned()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

/// Replaces every occurrence of each secret value in `text` with `***`.
pub fn scrub(text: &str, secrets: &[String]) -> String {
    let mut out = text.to_owned();
    for secret in secrets.iter().filter(|s| s.len() >= 4) {
        out = out.replace(secret.as_str(), "***");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn urls_and_commands_are_redacted() {
        assert_eq!(
            redact_url("file:///tmp/c?compression=zstd&secret-key=/run/keys/cache.sec"),
            "file:///tmp/c?compression=zstd&secret-key=***"
        );
        assert_eq!(
            redact_url("s3://bucket?region=eu-west-1&profile=ci"),
            "s3://bucket?region=eu-west-1&profile=ci"
        );
        assert_eq!(
            redact_url("https://user:hunter22@cache.example.org/nix?token=abcd"),
            "https://user:***@cache.example.org/nix?token=***"
        );
        assert_eq!(
            redact_url("ssh-ng://builder@host?ssh-key=/root/.ssh/id"),
            "ssh-ng://builder@host?ssh-key=***"
        );
        assert_eq!(redact_url("cachix:name"), "cachix:name");
        let shown = display_command(
            "nix",
            &strings(&[
                "--option",
                "access-tokens",
                "github.com=ghp_secret",
                "--secret-key-files",
                "/k",
                "--option",
                "trusted-public-keys",
                "t-1:pub",
                "copy",
                "--to",
                "file:///c?secret-key=/k",
            ]),
        );
        assert!(!shown.contains("ghp_secret"), "{shown}");
        assert!(!shown.contains("/k"), "{shown}");
        assert!(shown.contains("trusted-public-keys t-1:pub"), "{shown}");
        assert!(shown.contains("'file:///c?secret-key=***'"), "{shown}");
    }

    #[test]
    fn url_secrets_are_what_redact_url_hides() {
        let url = "ssh-ng://u:pw1234@arm?ssh-key=/k/id_arm&base64-ssh-public-host-key=AAAA";
        assert_eq!(url_secrets(url), ["pw1234", "/k/id_arm"]);
        let printed = format!("Store URL: {url}");
        assert_eq!(
            scrub(&printed, &url_secrets(url)),
            "Store URL: ssh-ng://u:***@arm?ssh-key=***&base64-ssh-public-host-key=AAAA"
        );
        assert!(url_secrets("daemon").is_empty());
    }

    #[test]
    fn scrub_replaces_secret_values() {
        assert_eq!(
            scrub("token abcd1234 and abcd1234", &["abcd1234".to_owned()]),
            "token *** and ***"
        );
        // Too short to be a real secret: scrubbing it would mangle everything.
        assert_eq!(scrub("a b", &["a".to_owned()]), "a b");
    }
}
