//! `xl vkb-*`, `vtpm-*`, `vdispl-*` and `vsnd-*`: keyboards, vTPMs,
//! displays and sound cards of running domains, with xl 4.17's messages
//! and exit statuses (libxl's ERROR_FAIL, -3, is 253; a vTPM removal
//! that timed out, ERROR_TIMEDOUT, 247).

use super::vdevlist::{Unknown, list};
use super::{Ctx, Exit, Outcome, err, fail, out};
use crate::backend;
use crate::cmdtable::Opts;
use xl_config::domain::{Vdispl, Vkb, Vsnd, Vtpm, parse_uuid, vtpm_json};
use xl_toolstack::hotplug::HotplugError;
use xl_toolstack::{names, vdev, vdevlist};

/// libxl's ERROR_FAIL as xl's exit status.
const ERROR_FAIL: i32 = 253;
/// libxl's ERROR_TIMEDOUT as xl's exit status.
const ERROR_TIMEDOUT: i32 = 247;

/// libxl's error line, xl's own, and the status xl ends with.
fn failed(e: &HotplugError, xl_line: &str, status: i32) -> Outcome {
    err(&format!("libxl: error: {}\n", backend::chain(e)));
    err(&format!("{xl_line}\n"));
    Err(Exit(status))
}

/// The report's lines on stderr, then the status.
fn refused(r: &xl_config::Report, status: i32) -> Exit {
    err(r.as_str());
    Exit(status)
}

/// A dry run prints the device as libxl JSON.
fn dry_run(cx: &Ctx, name: &str, json: &xl_config::json::Json) -> Option<Outcome> {
    cx.globals.dryrun.then(|| {
        out(&format!("{name}: {}\n", json.to_yajl()));
        Ok(0)
    })
}

/// `xl vkb-attach DOMAIN SPEC...`: each argument one `key=value`.
pub fn vkb_attach(cx: &Ctx, opts: Opts) -> Outcome {
    let ops = opts.operands();
    let domid = cx.domain(&ops[0])?;
    let mut vkb = Vkb::with_devid(-1);
    let mut r = xl_config::Report::new();
    for tok in &ops[1..] {
        vkb.attach_token(tok, &mut r)
            .map_err(|_| refused(&r, 255))?;
    }
    vkb.attach_check(&mut r)
        .map_err(|_| refused(&r, ERROR_FAIL))?;
    if let Some(done) = dry_run(cx, "vkb", &vkb.to_json()) {
        return done;
    }
    let (host, xs) = cx.connect()?;
    match vdev::attach_vkb(host, xs, domid, &vkb) {
        Ok(_) => Ok(0),
        Err(e) => failed(&e, "libxl_device_vkb_add failed.", ERROR_FAIL),
    }
}

/// `xl vtpm-attach DOMAIN [uuid=UUID] [backend=DOMAIN]`.
pub fn vtpm_attach(cx: &Ctx, opts: Opts) -> Outcome {
    let ops = opts.operands();
    let domid = {
        let (hv, xs) = cx.hv()?;
        match names::qualifier_to_domid(hv, xs, &ops[0]) {
            Ok(Some(d)) => d,
            Ok(None) => return fail(format!("{} is an invalid domain identifier\n", ops[0])),
            Err(e) => return Err(super::xl_error(&e)),
        }
    };
    let mut vtpm = Vtpm {
        devid: -1,
        ..Vtpm::default()
    };
    for arg in &ops[1..] {
        if let Some(v) = arg.strip_prefix("uuid=") {
            let Some(u) = parse_uuid(v) else {
                return fail(format!("Invalid uuid specified ({v})\n"));
            };
            vtpm.uuid = u;
        } else if let Some(v) = arg.strip_prefix("backend=") {
            vtpm.backend_domname = Some(v.to_string());
        } else {
            return fail(format!("unrecognized argument `{arg}'\n"));
        }
    }
    if let Some(done) = dry_run(cx, "vtpm", &vtpm_json(&vtpm)) {
        return done;
    }
    let (host, xs) = cx.connect()?;
    match vdev::attach_vtpm(host, xs, domid, &vtpm) {
        Ok(()) => Ok(0),
        Err(e) => failed(&e, "libxl_device_vtpm_add failed.", 1),
    }
}

/// `xl vdispl-attach DOMAIN [backend=..] [be-alloc=..] [connectors=..]`.
pub fn vdispl_attach(cx: &Ctx, opts: Opts) -> Outcome {
    let ops = opts.operands();
    let domid = cx.domain(&ops[0])?;
    let mut d = Vdispl {
        devid: -1,
        ..Vdispl::default()
    };
    let mut r = xl_config::Report::new();
    for tok in &ops[1..] {
        d.token(tok, &mut r).map_err(|_| refused(&r, 1))?;
    }
    err(r.as_str());
    if d.connectors.is_empty() {
        err("At least one connector should be specified.\n");
        return Err(Exit(ERROR_FAIL));
    }
    if let Some(done) = dry_run(cx, "vdispl", &d.to_json()) {
        return done;
    }
    let (host, xs) = cx.connect()?;
    match vdev::attach_vdispl(host, xs, domid, &d) {
        Ok(()) => Ok(0),
        Err(e) => failed(&e, "libxl_device_vdispl_add failed.", ERROR_FAIL),
    }
}

/// `xl vsnd-attach DOMAIN ITEM...`: each argument one `card`, `pcm` or
/// `stream` item.
pub fn vsnd_attach(cx: &Ctx, opts: Opts) -> Outcome {
    let ops = opts.operands();
    let domid = cx.domain(&ops[0])?;
    let mut card = Vsnd {
        devid: -1,
        ..Vsnd::default()
    };
    let mut r = xl_config::Report::new();
    for item in &ops[1..] {
        card.item(item, &mut r).map_err(|_| refused(&r, 255))?;
    }
    if let Some(done) = dry_run(cx, "vsnd", &card.to_json()) {
        return done;
    }
    let (host, xs) = cx.connect()?;
    match vdev::attach_vsnd(host, xs, domid, &card) {
        Ok(()) => Ok(0),
        Err(e) => failed(&e, "libxl_device_vsnd_add failed.", ERROR_FAIL),
    }
}

/// The detach of a keyboard, display or sound card: by devid (C's atoi
/// of the argument), "not connected" when the domain has no such one.
fn detach_by_devid(cx: &Ctx, opts: Opts, kind: &str, what: &str) -> Outcome {
    let ops = opts.operands();
    let domid = cx.domain(&ops[0])?;
    let devid = xl_toolstack::devlist::atoi(&ops[1]);
    let (host, xs) = cx.connect()?;
    let Ok(Some(dev)) = vdev::find(xs, domid, kind, i64::from(devid)) else {
        err(&format!("Error: Device {devid} not connected.\n"));
        return Err(Exit(ERROR_FAIL));
    };
    match vdev::detach(host, xs, domid, &dev) {
        Ok(()) => Ok(0),
        Err(e) => failed(
            &e,
            &format!("libxl_device_{what}_remove failed."),
            ERROR_FAIL,
        ),
    }
}

/// `xl vkb-detach DOMAIN DEVID`.
pub fn vkb_detach(cx: &Ctx, opts: Opts) -> Outcome {
    detach_by_devid(cx, opts, "vkbd", "vkb")
}

/// `xl vdispl-detach DOMAIN DEVID`.
pub fn vdispl_detach(cx: &Ctx, opts: Opts) -> Outcome {
    detach_by_devid(cx, opts, "vdispl", "vdispl")
}

/// `xl vsnd-detach DOMAIN DEVID`.
pub fn vsnd_detach(cx: &Ctx, opts: Opts) -> Outcome {
    detach_by_devid(cx, opts, "vsnd", "vsnd")
}

/// `xl vtpm-detach DOMAIN DEVID|UUID`: a uuid names the vTPM whose
/// backend has it; anything else is a devid (C's atoi). xl ends with
/// libxl's own status when the removal fails.
pub fn vtpm_detach(cx: &Ctx, opts: Opts) -> Outcome {
    let ops = opts.operands();
    let domid = cx.domain(&ops[0])?;
    let (host, xs) = cx.connect()?;
    let found = match parse_uuid(&ops[1]) {
        Some(u) => vdev::find_vtpm_by_uuid(xs, domid, &u),
        None => vdev::find(
            xs,
            domid,
            "vtpm",
            i64::from(xl_toolstack::devlist::atoi(&ops[1])),
        ),
    };
    let Ok(Some(dev)) = found else {
        return fail(format!("Unknown device {}.\n", ops[1]));
    };
    match vdev::detach(host, xs, domid, &dev) {
        Ok(()) => Ok(0),
        Err(e @ HotplugError::Remove(_)) => {
            failed(&e, "libxl_device_vtpm_remove failed.", ERROR_TIMEDOUT)
        }
        Err(e) => failed(&e, "libxl_device_vtpm_remove failed.", ERROR_FAIL),
    }
}

/// `xl vdispl-list DOMAIN...`: no header; an unknown domain is reported
/// and skipped.
pub fn vdispl_list(cx: &Ctx, opts: Opts) -> Outcome {
    list(
        cx,
        opts,
        String::new(),
        Unknown::Skipped,
        vdevlist::vdispls,
        vdevlist::vdispl_row,
    )
}

/// `xl vsnd-list DOMAIN...`.
pub fn vsnd_list(cx: &Ctx, opts: Opts) -> Outcome {
    list(
        cx,
        opts,
        String::new(),
        Unknown::Skipped,
        vdevlist::vsnds,
        vdevlist::vsnd_row,
    )
}
