//! Which host a command talks to: its hypervisor, dom0 services, files
//! and xenstored.
//!
//! `XL_BACKEND` (else `backend=` in xl.conf) chooses: `xen` (the default)
//! opens the real hypervisor, `sim` the built-in simulator (state in
//! `XL_SIM_DIR`), `none` refuses, for tests of the parts that need no
//! backend. The simulator never switches on by itself: failing to reach
//! Xen gives one actionable message that also says how to use it.

use std::sync::OnceLock;

use xl_sim::SimHypervisor;
use xl_toolstack::xen::{XenDom0, XenHypervisor};
use xl_toolstack::{Host, HostPaths, Xenstored};

use crate::commands::{Exit, err, no_backend};

static CONFIGURED: OnceLock<Option<String>> = OnceLock::new();

/// Record xl.conf's `backend=` (the environment still wins).
pub fn configure(from_xl_conf: Option<String>) {
    let _ = CONFIGURED.set(from_xl_conf);
}

fn selected() -> Option<String> {
    std::env::var("XL_BACKEND")
        .ok()
        .or_else(|| CONFIGURED.get().cloned().flatten())
}

pub fn open(command: &str) -> Result<Host, Exit> {
    match selected().as_deref() {
        Some("none") => Err(no_backend(command)),
        Some("sim") => match SimHypervisor::open(&xl_sim::default_dir()) {
            Ok(s) => Ok(sim_host(s)),
            Err(e) => {
                err(&format!("xl: simulator: {}\n", chain(&e)));
                Err(Exit(1))
            }
        },
        Some("xen") | None => {
            match xl_toolstack::trace::timed(|| "opened the hypervisor".into(), XenHypervisor::open)
            {
                Ok(x) => Ok(xen_host(x)),
                Err(e) => {
                    err(&format!("xl: {}\n", chain(&e)));
                    if let Some(h) = e.hint() {
                        err(&format!("xl: {h}\n"));
                        err(
                            "xl: To try xl without Xen, use the built-in simulator: XL_BACKEND=sim xl ...\n",
                        );
                    }
                    Err(Exit(1))
                }
            }
        }
        Some(other) => {
            err(&format!(
                "xl: unknown XL_BACKEND `{other}' (use xen or sim)\n"
            ));
            Err(Exit(1))
        }
    }
}

/// A Xen host as Debian installs it: scripts and qemu-xen in dom0, the
/// system's xenstored.
fn xen_host(hv: XenHypervisor) -> Host {
    let paths = HostPaths::xen();
    Host {
        hv: Box::new(hv),
        dom0: Box::new(XenDom0::new(paths.clone())),
        paths,
        xenstored: Xenstored::System,
    }
}

/// The simulated host `sim` is connected to: its files and xenstored
/// under the simulator's directory.
pub fn sim_host(sim: SimHypervisor) -> Host {
    let dir = sim.dir();
    Host {
        paths: HostPaths::under(dir),
        xenstored: Xenstored::Socket(dir.join(xl_sim::XENSTORED_SOCK)),
        dom0: Box::new(sim.dom0()),
        hv: Box::new(sim),
    }
}

/// An error and its causes on one line, as "a: b: c".
pub fn chain(e: &dyn std::error::Error) -> String {
    xl_toolstack::error_chain(e)
}
