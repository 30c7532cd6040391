//! `xl remus`: continuous checkpoints of a domain to a backup host (Remus,
//! or COLO with `-c`). This xl checks the options, the domain and the
//! backup host as xl 4.17 does, with its messages and statuses, and
//! refuses to start checkpointing, which it does not implement.

use super::saverestore::{config_to_save, open_stream};
use super::{Ctx, Exit, Outcome, err, fail};
use crate::cmdtable::Opts;

/// What the options ask for, once xl's checks pass.
struct RemusArgs {
    colo: bool,
    blackhole: bool,
    unsafe_ok: bool,
    netbuf_off: bool,
    diskbuf_off: bool,
}

/// xl's option checks, in its order; `perror` adds errno's words, which
/// are "Success" there.
fn remus_args(opts: &Opts) -> Result<RemusArgs, Exit> {
    let colo = opts.flag('c');
    let interval = opts
        .value('i')
        .map_or(0, |v| xl_config::value::strtol(v.as_bytes(), 10).0 as i32);
    let a = RemusArgs {
        colo,
        blackhole: opts.flag('b'),
        unsafe_ok: opts.flag('F'),
        netbuf_off: opts.flag('n'),
        diskbuf_off: opts.flag('d'),
    };
    if opts.flag('p') && !colo {
        err("Option -p must be used in conjunction with -c");
        return Err(Exit(255));
    }
    if colo {
        if interval != 0 || a.blackhole || a.netbuf_off || a.diskbuf_off {
            err("option -c is conflict with -i, -d, -n or -b: Success\n");
            return Err(Exit(255));
        }
        if !opts.flag('u') {
            err(
                "COLO can't be used with memory compression. Disable memory checkpoint compression now...: Success\n",
            );
        }
    }
    Ok(a)
}

/// The command that reaches the backup's `xl migrate-receive`, as xl
/// words it (spaces included).
fn remus_rune(opts: &Opts, host: &str, colo: bool) -> String {
    let ssh = opts.value('s').unwrap_or("ssh");
    if ssh.is_empty() {
        return host.to_string();
    }
    let e = if opts.flag('e') { " -e" } else { "" };
    if colo {
        let script = opts
            .value('N')
            .unwrap_or("/etc/xen/scripts/colo-proxy-setup");
        let proxy = if opts.flag('p') {
            "--userspace-colo-proxy"
        } else {
            ""
        };
        format!("exec {ssh} {host} xl migrate-receive --colo --coloft-script {script} {proxy} {e}")
    } else {
        format!("exec {ssh} {host} xl migrate-receive -r {e}")
    }
}

/// `xl remus [options] DOMAIN HOST`.
pub fn remus(cx: &Ctx, opts: Opts) -> Outcome {
    let ops = opts.operands();
    let domid = cx.domain(&ops[0])?;
    let a = remus_args(&opts)?;
    let (host, xs) = cx.connect()?;
    if a.blackhole {
        return refuse_unsafe_or_unimplemented(cx, domid, &a);
    }
    let rune = remus_rune(&opts, &ops[1], a.colo);
    let json = config_to_save(host, xs, domid, None, false, cx.xlconf)?;
    let t = open_stream(&rune, &json)?;
    // The backup is listening; from here xl checkpoints for ever.
    let status = refuse_unsafe_or_unimplemented(cx, domid, &a);
    t.report();
    status
}

/// What libxl_domain_remus_start says before its first checkpoint: the
/// unsafe options need `-F`; past that, this xl stops.
fn refuse_unsafe_or_unimplemented(cx: &Ctx, domid: u32, a: &RemusArgs) -> Outcome {
    if !a.unsafe_ok && (a.blackhole || a.netbuf_off || a.diskbuf_off) {
        err(&format!(
            "libxl: error: Domain {domid}:Unsafe mode must be enabled to replicate to /dev/null,\
             disable network buffering and disk replication\n"
        ));
        err(&format!(
            "{}: Backup failed? resuming domain at primary.\n",
            if a.colo { "COLO" } else { "Remus" }
        ));
        resume_unsuspended(cx, domid)?;
        return Err(Exit(1));
    }
    fail(format!(
        "xl: {} checkpointing is not implemented in this xl yet; domain {domid} is untouched\n",
        if a.colo { "COLO" } else { "Remus" }
    ))
}

/// xl resumes the domain after a failed start; libxc refuses a domain
/// that is not suspended, with these words.
fn resume_unsuspended(cx: &Ctx, domid: u32) -> Result<(), Exit> {
    let (hv, _) = cx.hv()?;
    if let Ok(Some(d)) = hv.domain(domid) {
        let (shutdown, reason) = if d.shutdown {
            (1, d.shutdown_reason)
        } else {
            (0, 255)
        };
        if !(d.shutdown && d.shutdown_reason == xl_toolstack::saverestore::SHUTDOWN_SUSPEND) {
            err(&format!(
                "xc: error: Dom {domid} not suspended: (shutdown {shutdown}, reason {reason}): Internal error\n"
            ));
            err(&format!(
                "libxl: error: Domain {domid}:xc_domain_resume failed: Invalid argument\n"
            ));
        }
    }
    Ok(())
}
