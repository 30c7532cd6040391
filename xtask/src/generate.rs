//! Generated documentation: xl.1 and completions, from `xl::cmdtable`.

use anyhow::Result;
use clap_complete::Shell;

/// Every generated file as (path relative to the workspace, content).
pub fn all() -> Result<Vec<(String, Vec<u8>)>> {
    let mut out = Vec::new();
    let mut man = Vec::new();
    // A fixed date keeps the page reproducible.
    clap_mangen::Man::new(xl::cmdtable::clap_root())
        .date("2026-11-23")
        .render(&mut man)?;
    man.extend_from_slice(xl::cmdtable::man_commands_section().as_bytes());
    out.push(("man/xl.1".to_string(), man));
    for (shell, name) in [
        (Shell::Bash, "xl.bash"),
        (Shell::Zsh, "_xl"),
        (Shell::Fish, "xl.fish"),
    ] {
        let mut buf = Vec::new();
        clap_complete::generate(shell, &mut xl::cmdtable::clap_root(), "xl", &mut buf);
        out.push((format!("completions/{name}"), buf));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    /// The committed man page and completions must be what `cargo xtask gen`
    /// writes now: a changed command table without regenerating fails here.
    #[test]
    fn generated_files_are_current() {
        for (path, content) in super::all().expect("generate") {
            let committed = std::fs::read(super::super::root().join(&path)).unwrap_or_default();
            assert!(
                committed == content,
                "{path} is stale: run `cargo xtask gen` and commit the result"
            );
        }
    }
}
