//! Which `ship` subcommands and flags a workflow's `run:` scripts use, so a test can hold them
//! against what `ship --help` accepts.

use super::ident_char;

fn flags_in(text: &str) -> Vec<String> {
    let mut flags = Vec::new();
    let mut text = text;
    while let Some(i) = text.find("--") {
        let flag: String = text[i + 2..]
            .chars()
            .take_while(|&c| ident_char(c))
            .collect();
        if !flag.is_empty() {
            flags.push(format!("--{flag}"));
        }
        text = &text[i + 2 + flag.len()..];
    }
    flags
}

/// Every `ship SUBCOMMAND ...` a script runs, as (subcommand, the `--flags` it passes). Line
/// continuations are joined; comments are skipped; `${X:+--flag "$X"}` counts as passing
/// `--flag`, and so does an array built with `args+=(--flag ...)` before the command.
pub fn ship_invocations(script: &str) -> Vec<(String, Vec<String>)> {
    let joined = script.replace("\\\n", " ");
    let mut out = Vec::new();
    let mut pending = Vec::new();
    for line in joined.lines() {
        if line.trim_start().starts_with('#') {
            continue;
        }
        if let Some((_, array)) = line.split_once("+=(") {
            pending.extend(flags_in(array));
            continue;
        }
        let mut from = 0;
        while let Some(at) = line[from..].find("ship ") {
            let start = from + at;
            from = start + "ship ".len();
            let prev = line[..start].chars().last();
            if prev.is_some_and(|c| !(c == ' ' || c == '(' || c == '\t')) {
                continue;
            }
            let rest = &line[from..];
            let end = rest.find(['|', ';', '&', ')', '>']).unwrap_or(rest.len());
            let command = &rest[..end];
            let Some(sub) = command.split_whitespace().next() else {
                continue;
            };
            let mut flags = flags_in(command);
            flags.append(&mut pending);
            out.push((sub.to_owned(), flags));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::ship_invocations;

    #[test]
    fn finds_subcommands_and_flags() {
        let script = "nix build .#ship --out-link x\n# ship is built above\n\
                      ship plan --format github ${V:+--variant \"$V\"} | tee f\n\
                      ship push-image \"$s\" --to \"$I\" \\\n  --username u --format json > x\n\
                      for t in a b; do\n  tags+=(--tag \"$t\")\ndone\n\
                      ship push-index --to r \"${tags[@]}\"\n";
        let flags = |v: &[&str]| v.iter().map(|f| f.to_string()).collect::<Vec<_>>();
        assert_eq!(
            ship_invocations(script),
            [
                ("plan".to_owned(), flags(&["--format", "--variant"])),
                (
                    "push-image".to_owned(),
                    flags(&["--to", "--username", "--format"])
                ),
                ("push-index".to_owned(), flags(&["--to", "--tag"])),
            ]
        );
    }
}
