//! `xl create`: read the config (plus `key=value` overrides), build the
//! domain config, and for a dry run print libxl's JSON.

use super::{err, no_backend, options, out, strerror};
use crate::cmdtable::Cmd;
use crate::{Globals, Status, diag};

/// What xl's create needs from the host when no hypervisor answers: the
/// CPU count sizes CPU bitmaps, nodes map `node:` ranges.
fn host_facts() -> xl_config::Host {
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get() as u32);
    xl_config::Host {
        max_cpus: cpus,
        node_cpus: vec![(0..cpus).collect()],
        firmware_dir: firmware_dir(),
    }
}

/// XENFIRMWAREDIR: `XL_FIRMWARE_DIR`, else the installed Xen's (Debian
/// keeps it per version, /usr/lib/xen-4.17/boot), else upstream's default.
fn firmware_dir() -> String {
    if let Ok(d) = std::env::var("XL_FIRMWARE_DIR") {
        return d;
    }
    let mut versioned: Vec<String> = std::fs::read_dir("/usr/lib")
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.starts_with("xen-"))
        .map(|n| format!("/usr/lib/{n}/boot"))
        .filter(|p| std::path::Path::new(p).is_dir())
        .collect();
    versioned.sort();
    versioned
        .pop()
        .unwrap_or_else(|| "/usr/lib/xen/boot".to_string())
}

pub fn main(
    cmd: &'static Cmd,
    args: &[String],
    g: &Globals,
    xlconf: &xl_config::Globals,
) -> Status {
    // xl takes a first operand that is neither an option nor key=value as
    // the config file before parsing options.
    let mut args = args.to_vec();
    let mut config_file = None;
    if let Some(first) = args.first()
        && !first.starts_with('-')
        && !first.contains('=')
    {
        config_file = Some(first.clone());
        args.remove(0);
    }
    let opts = match options(cmd, &args) {
        Ok(o) => o,
        Err(code) => return code,
    };
    if let Some(f) = opts.value('f') {
        config_file = Some(f.to_string());
    }
    let dryrun = g.dryrun || opts.flag('n');
    let quiet = opts.flag('q');
    let debug = opts.flag('d');
    let mut extra = String::new();
    for a in opts.operands() {
        if a.contains('=') {
            extra.push_str(&a);
            extra.push('\n');
        } else if config_file.is_none() {
            config_file = Some(a);
        } else {
            out(&crate::cmdtable::help_text(Some("create")));
            return 2;
        }
    }

    let Some(config_file) = config_file else {
        err("Config file not specified and none in save file\n");
        return 6;
    };
    let mut data = if config_file == "/dev/null" {
        Vec::new()
    } else {
        match std::fs::read(&config_file) {
            Ok(d) => d,
            Err(e) => {
                err(&format!(
                    "Failed to read config file: {config_file}: {}\n",
                    strerror(&e)
                ));
                return 3;
            }
        }
    };
    if !extra.is_empty() {
        data.extend_from_slice(format!("\n{extra}\n").as_bytes());
    }
    // xl treats the file as bytes; we need text. Invalid UTF-8 only occurs
    // inside strings or comments in practice, and is kept as U+FFFD there.
    let text = String::from_utf8_lossy(&data).into_owned();

    if !quiet {
        err(&format!("Parsing config from {config_file}\n"));
    }
    let mut report = xl_config::Report::new();
    let parsed =
        xl_config::parse_config_data(&config_file, &text, xlconf, &host_facts(), &mut report);
    err(report.as_str());
    let config = match parsed {
        Ok(c) => c,
        Err(xl_config::Exit(code)) => {
            if diag::enabled() {
                for d in &report.diagnostics {
                    err(&diag::render(&config_file, &text, d));
                }
            }
            return code;
        }
    };

    if debug || dryrun {
        let json = config.to_json().to_yajl();
        if dryrun {
            out(&json);
        } else {
            err(&json);
        }
    }
    if dryrun {
        return 0;
    }
    no_backend("create")
}
