//! `xl shutdown` and `xl reboot`.

use xl_toolstack::Trigger;
use xl_toolstack::lifecycle::{self, ACK_TIMEOUT, ControlError, DomainEvent};

use super::{Ctx, Outcome, err, fail};
use crate::backend;
use crate::cmdtable::Opts;

pub fn shutdown_or_reboot(cx: &Ctx, opts: Opts, reboot: bool) -> Outcome {
    let operands = opts.operands();
    let (all, wait, fallback) = (opts.flag('a'), opts.count('w'), opts.flag('F'));
    if operands.is_empty() && !all {
        return fail("You must specify -a or a domain id.\n\n");
    }
    let (hv, xs) = cx.hv()?;
    let targets: Vec<u32> = if all {
        match hv.domains() {
            Ok(d) => d.iter().map(|d| d.domid).filter(|d| *d != 0).collect(),
            Err(e) => {
                return fail(format!(
                    "libxl_list_domain failed.\nxl: {}\n",
                    backend::chain(&e)
                ));
            }
        }
    } else {
        vec![cx.domain(&operands[0])?]
    };
    let (verb, cmdword) = if reboot {
        ("Rebooting", "reboot")
    } else {
        ("Shutting down", "poweroff")
    };
    for &domid in &targets {
        err(&format!("{verb} domain {domid}\n"));
        let mut result = lifecycle::pvcontrol(hv, xs, domid, cmdword, ACK_TIMEOUT);
        if let Err(ControlError::NoParavirt) = result {
            let (what, trigger, event) = if reboot {
                ("reboot", Trigger::Reset, "reset")
            } else {
                ("shutdown", Trigger::Power, "power")
            };
            if fallback {
                let button = if reboot {
                    "ACPI reset button event"
                } else {
                    "ACPI power button event"
                };
                err(&format!(
                    "PV control interface not available: sending {button}.\n"
                ));
                result = hv
                    .send_trigger(domid, trigger, 0)
                    .map_err(ControlError::from);
            } else {
                err(&format!(
                    "PV control interface not available: external graceful {what} not possible.\n\
                     Use \"-F\" to fallback to ACPI {event} event.\n"
                ));
            }
        }
        if let Err(e) = result {
            if !matches!(e, ControlError::NoParavirt) {
                err(&format!("xl: {}\n", backend::chain(&e)));
            }
            return fail(format!(
                "{} failed (rc={})\n",
                if reboot { "reboot" } else { "shutdown" },
                e.rc()
            ));
        }
    }
    if wait > 0 {
        err(&format!("Waiting for {} domains\n", targets.len()));
        let waited =
            lifecycle::wait_for_domains(hv, xs, &targets, wait == 1, |ev, done| match ev {
                DomainEvent::Destroyed { domid } => {
                    err(&format!("Domain {domid} has been destroyed\n"))
                }
                DomainEvent::Shutdown { domid, reason } => {
                    err(&format!(
                        "Domain {domid} has been shut down, reason code {reason}\n"
                    ));
                    if !done {
                        err(&format!("Domain {domid} continue waiting for death\n"));
                    }
                }
            });
        if let Err(e) = waited {
            return fail(format!(
                "xl: waiting for domains failed: {}\n",
                backend::chain(&e)
            ));
        }
    }
    Ok(0)
}

pub fn destroy(cx: &Ctx, opts: Opts) -> Outcome {
    let dom0_refused = || {
        fail(
            "Not destroying domain 0; use -f to force.\n\
             This can only be done when using a disaggregated hardware domain and toolstack.\n\n",
        )
    };
    // An all-digit 0 needs no lookup: refuse before touching the hypervisor.
    let q = &opts.operands()[0];
    if !q.is_empty() && q.bytes().all(|b| b == b'0') && !opts.flag('f') {
        return dom0_refused();
    }
    let domid = cx.domain(q)?;
    if domid == 0 && !opts.flag('f') {
        return dom0_refused();
    }
    let (host, xs) = cx.connect()?;
    match xl_toolstack::destroy::destroy(host, xs, domid) {
        Ok(problems) => {
            // libxl logs these and carries on; so do we.
            for p in problems {
                err(&format!("xl: domain {domid}: {p}\n"));
            }
            Ok(0)
        }
        Err(e) => {
            err(&format!("xl: {}\n", backend::chain(&e)));
            fail(format!("destroy failed (rc={})\n", e.rc()))
        }
    }
}
