//! `xl`: global options, command lookup and exit codes as in xl 4.17.
// The C runtime calls `main` directly (see `xen_sys::entry`): std's
// start-up costs more than most commands.
#![cfg_attr(not(test), no_main)]

use std::io::Write;

use std::time::Instant;

use xl::{GlobalOpts, Status, cmdtable, commands, globalcfg, logging};

/// getopt("+vftTN") over the leading arguments; returns the index of the
/// subcommand, or None once an unknown option is reported.
fn parse_globals(args: &[String]) -> Option<(GlobalOpts, usize)> {
    let mut g = GlobalOpts::default();
    let mut i = 0;
    while i < args.len() {
        let a = &args[i];
        if a == "--" {
            i += 1;
            break;
        }
        if !a.starts_with('-') || a == "-" {
            break;
        }
        for ch in a[1..].chars() {
            match ch {
                'v' => g.verbose += 1,
                'N' => g.dryrun = true,
                'f' => g.force = true,
                't' => g.progress_cr = true,
                'T' => g.timestamps = true,
                _ => {
                    // glibc's getopt complains first, then xl.
                    eprintln!("xl: invalid option -- '{ch}'");
                    eprintln!("unknown global option");
                    return None;
                }
            }
        }
        i += 1;
    }
    Some((g, i))
}

fn run(args: Vec<String>, start: Instant) -> Status {
    if args.first().map(String::as_str) == Some(commands::create::GUARD_ARG) {
        return commands::status(commands::create::guard_main());
    }
    if args.first().map(String::as_str) == Some(commands::devd::DAEMON_ARG) {
        return commands::status(commands::devd::daemon_main(&args[1..]));
    }
    if args.first().map(String::as_str) == Some(commands::create::MONITOR_ARG) {
        return commands::status(commands::create::monitor_main(&args[1..]));
    }
    let Some((globals, at)) = parse_globals(&args) else {
        return 1;
    };
    let Some(name) = args.get(at) else {
        print!("{}", cmdtable::help_text(None));
        return 1;
    };
    let rest = &args[at + 1..];
    logging::init(globals.verbose, globals.timestamps, start);
    let xlconf = xl_toolstack::trace::timed(|| "read xl.conf".into(), globalcfg::load);
    xl::backend::configure(xlconf.backend.clone());
    match cmdtable::lookup(name) {
        Some(cmd) => {
            if globals.dryrun && !cmd.can_dryrun {
                eprintln!("command does not implement -N (dryrun) option");
                return 1;
            }
            let status = commands::run(cmd, rest, &globals, &xlconf);
            xl_toolstack::trace::timed_done(
                || {
                    // Page faults and context switches: under Xen each
                    // fault is a page-table update the hypervisor checks.
                    let usage = xen_sys::entry::usage().unwrap_or_default();
                    format!(
                        "{name}: exit status {status} ({} page faults, {} context switches)",
                        usage.minor_faults, usage.context_switches
                    )
                },
                start.elapsed(),
            );
            status
        }
        None if name == "help" => {
            print!("{}", cmdtable::help_text(rest.first().map(String::as_str)));
            0
        }
        None => {
            eprintln!("command not implemented");
            1
        }
    }
}

#[cfg(not(test))]
xen_sys::entry_point!(xl_main);

#[cfg_attr(test, allow(dead_code))]
fn xl_main() -> i32 {
    let start = Instant::now();
    // The simulator's host process is this binary with XL_SIM_SERVE set.
    if let Some(dir) = std::env::var_os(xl_sim::SERVE_ENV) {
        return match xl_sim::server::serve(std::path::Path::new(&dir)) {
            Ok(()) => 0,
            Err(e) => {
                eprintln!("xl simulator: {e}");
                1
            }
        };
    }
    let args: Vec<String> = std::env::args_os()
        .skip(1)
        .map(|a| xl::args::to_text(&a))
        .collect();
    let status = run(args, start);
    // A closed pipe (`xl list | head`) is not an error worth reporting.
    let _ = std::io::stdout().flush();
    status & 0xff
}
