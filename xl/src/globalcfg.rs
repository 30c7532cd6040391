//! /etc/xen/xl.conf: the global settings xl reads on every run.

use xl_config::Report;
use xl_config::value::Config;

/// Path of the global configuration; `XL_CONF` overrides it (tests, and
/// hosts that keep it elsewhere).
pub fn path() -> String {
    std::env::var("XL_CONF").unwrap_or_else(|_| "/etc/xen/xl.conf".to_string())
}

/// Load xl.conf into the settings that shape domain configs. A missing file
/// is reported as xl does, but only on a Xen host: elsewhere it is normal.
pub fn load() -> xl_config::Globals {
    let mut g = xl_config::Globals::default();
    let path = path();
    let text = match read_small(&path) {
        Ok(t) => String::from_utf8_lossy(&t).into_owned(),
        Err(e) => {
            if std::path::Path::new("/proc/xen").exists() {
                eprintln!(
                    "Failed to read config file: {path}: {}",
                    crate::commands::strerror(&e)
                );
            }
            return g;
        }
    };
    // Debian's xl.conf is all comments: nothing to parse, and skipping the
    // parser spares every command the page faults of its first run.
    if only_comments(&text) {
        return g;
    }
    let mut r = Report::new();
    let parsed = xl_config::syntax::parse(&text, &path, &mut r);
    // Nothing set (Debian's xl.conf is all comments): every lookup below
    // would find nothing and say nothing.
    if parsed.settings.is_empty() {
        eprint!("{}", r.as_str());
        return g;
    }
    let cfg = Config::new(path.clone(), parsed.settings);
    if let Ok(v) = cfg.long("run_hotplug_scripts", false, &mut r) {
        g.run_hotplug_scripts = v != 0;
    }
    if let Ok(v) = cfg.long("claim_mode", false, &mut r) {
        g.claim_mode = v != 0;
    }
    let string = |k: &str, r: &mut Report| cfg.string(k, false, r).ok().map(str::to_string);
    for (old, new) in [
        ("vifscript", "vif.default.script"),
        ("defaultbridge", "vif.default.bridge"),
    ] {
        if let Some(v) = string(old, &mut r) {
            r.line(format!(
                "the global config option {old} is deprecated, please switch to {new}"
            ));
            if old == "vifscript" {
                g.default_vifscript = Some(v);
            } else {
                g.default_bridge = Some(v);
            }
        }
    }
    if let Some(v) = string("vif.default.script", &mut r) {
        g.default_vifscript = Some(v);
    }
    if let Some(v) = string("vif.default.bridge", &mut r) {
        g.default_bridge = Some(v);
    }
    g.default_gatewaydev = string("vif.default.gatewaydev", &mut r);
    g.default_vifbackend = string("vif.default.backend", &mut r);
    g.blkdev_start = string("blkdev_start", &mut r);
    g.backend = string("backend", &mut r);
    g.vm_cpumask = string("vm.cpumask", &mut r);
    g.vm_hvm_cpumask = string("vm.hvm.cpumask", &mut r);
    g.vm_pv_cpumask = string("vm.pv.cpumask", &mut r);
    for (k, slot) in [
        ("max_grant_frames", 0),
        ("max_maptrack_frames", 1),
        ("max_grant_version", 2),
    ] {
        if let Ok(v) = cfg.bounded_long(k, 0, i64::from(i32::MAX), false, &mut r) {
            match slot {
                0 => g.max_grant_frames = Some(v as u32),
                1 => g.max_maptrack_frames = Some(v as u32),
                _ => g.max_grant_version = Some(v),
            }
        }
    }
    eprint!("{}", r.as_str());
    g
}

/// A small file's bytes: open, read until end of file, close. Unlike
/// `std::fs::read`, no stat for a size hint (xl reads xl.conf on every run).
fn read_small(path: &str) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let mut bytes = Vec::with_capacity(4096);
    // Through `take`: `File`'s own read_to_end stats the file first.
    std::fs::File::open(path)?
        .take(u64::MAX)
        .read_to_end(&mut bytes)?;
    Ok(bytes)
}

/// Whether every line is blank or a `#` comment (spaces and tabs being the
/// language's only other whitespace), so the file sets nothing and cannot
/// be wrong. A comment must end with its newline: libxlu's lexer refuses
/// one at the end of the file.
fn only_comments(text: &str) -> bool {
    let Some(lines) = text.strip_suffix('\n') else {
        return text.is_empty();
    };
    lines.split('\n').all(|line| {
        let rest = line.trim_start_matches([' ', '\t']);
        rest.is_empty() || rest.starts_with('#')
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comment_only_files_are_those_the_parser_finds_nothing_in() {
        for text in [
            "",
            "\n\n",
            "## Global XL config file ##\n\n# domid_policy=\"xen\"\n  \t# indented\n",
        ] {
            assert!(only_comments(text), "{text:?}");
            let mut r = Report::new();
            let parsed = xl_config::syntax::parse(text, "xl.conf", &mut r);
            assert!(
                parsed.settings.is_empty() && r.as_str().is_empty(),
                "{text:?}: {}",
                r.as_str()
            );
        }
        for text in [
            "a = 1\n",
            "# c\nb=\"x\"\n",
            "\r\n",
            "  x\n",
            "#ok\n;\n",
            "# no newline at the end",
            "\n  ",
        ] {
            assert!(!only_comments(text), "{text:?}");
        }
    }
}
