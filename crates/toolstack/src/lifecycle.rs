//! Shutting domains down and waiting for them, as libxl does: the PV
//! control protocol over xenstore (`control/shutdown`), and death or
//! shutdown noticed through the `@releaseDomain` watch.

use std::time::{Duration, Instant};

use xenstore::{Xs, XsOps};

use crate::{DomInfo, Error, GuestKind, Hypervisor};

/// libxl error codes xl prints as `(rc=N)`.
pub const ERROR_FAIL: i32 = -3;
/// libxl's ERROR_TIMEDOUT: a wait ran out.
pub const ERROR_TIMEDOUT: i32 = -9;
/// libxl's ERROR_NOPARAVIRT: the guest has no PV control interface.
pub const ERROR_NOPARAVIRT: i32 = -10;

/// How long a guest has to acknowledge a control request (libxl: 60 s).
pub const ACK_TIMEOUT: Duration = Duration::from_secs(60);

/// Why a shutdown/reboot/suspend request could not be delivered.
#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    /// An HVM guest without PV drivers (no event channel callback set up):
    /// nothing in it reads `control/shutdown`.
    #[error("PV control interface not available")]
    NoParavirt,
    /// The guest did not acknowledge the request within the given time.
    #[error("guest didn't acknowledge control request within {0:?}")]
    NotAcknowledged(Duration),
    /// The domain was not created by a libxl-compatible toolstack.
    #[error("domain {0} has no type in xenstore (/libxl/{0}/type): not managed by libxl?")]
    NoType(u32),
    /// The hypervisor or xenstore failed.
    #[error(transparent)]
    Toolstack(#[from] Error),
}

impl ControlError {
    /// The libxl rc xl reports.
    pub fn rc(&self) -> i32 {
        match self {
            ControlError::NoParavirt => ERROR_NOPARAVIRT,
            ControlError::NotAcknowledged(_) => ERROR_TIMEDOUT,
            _ => ERROR_FAIL,
        }
    }
}

impl From<xenstore::Error> for ControlError {
    fn from(e: xenstore::Error) -> Self {
        ControlError::Toolstack(e.into())
    }
}

/// `/libxl/<domid>/type` as libxl recorded it: pv, pvh or hvm.
fn recorded_type(xs: &impl XsOps, domid: u32) -> Result<Option<String>, xenstore::Error> {
    xs.try_read(&format!("/libxl/{domid}/type"))
}

/// A domain's kind as libxl__domain_type finds it: PV unless Xen says
/// HVM, then what libxl recorded (HVM when it recorded nothing it knows).
pub fn guest_kind(xs: &impl XsOps, info: &DomInfo) -> GuestKind {
    if !info.hvm {
        return GuestKind::Pv;
    }
    recorded_type(xs, info.domid)
        .ok()
        .flatten()
        .and_then(|t| GuestKind::from_type_name(&t))
        .unwrap_or(GuestKind::Hvm)
}

/// Ask the guest to power off or reboot (`cmd` = "poweroff"/"reboot") and
/// wait until it acknowledges by clearing the node.
pub fn pvcontrol(
    hv: &dyn Hypervisor,
    xs: &Xs,
    domid: u32,
    cmd: &str,
    timeout: Duration,
) -> Result<(), ControlError> {
    match recorded_type(xs, domid)?.as_deref() {
        None => return Err(ControlError::NoType(domid)),
        Some("hvm") => {
            if !hv.has_pv_callback(domid)? {
                return Err(ControlError::NoParavirt);
            }
        }
        Some(_) => {}
    }
    let dom_path = xs.get_domain_path(domid)?;
    let path = format!("{dom_path}/control/shutdown");
    xs.write(&path, cmd)?;
    let token = format!("xl-pvcontrol-{}", std::process::id());
    xs.watch(&path, &token)?;
    let deadline = Instant::now() + timeout;
    let acked = loop {
        let state = xs.try_read(&path)?;
        if state.as_deref().is_none_or(str::is_empty) {
            break true;
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() || xs.wait_watch(left)?.is_none() && Instant::now() >= deadline {
            break false;
        }
    };
    let _ = xs.unwatch(&path, &token);
    if acked {
        Ok(())
    } else {
        Err(ControlError::NotAcknowledged(timeout))
    }
}

/// What happened to a watched domain.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DomainEvent {
    /// It shut down (once per domain).
    Shutdown {
        /// The domain.
        domid: u32,
        /// Its shutdown reason (0 poweroff, 1 reboot, 2 suspend, 3 crash,
        /// 4 watchdog, 5 soft reset).
        reason: u32,
    },
    /// It is gone or dying.
    Destroyed {
        /// The domain.
        domid: u32,
    },
}

/// Wait for each domain to shut down (`stop_at_shutdown`) or to die,
/// reporting events as libxl's death watch does: a shutdown once, then
/// destruction when the domain is gone or dying.
pub fn wait_for_domains(
    hv: &dyn Hypervisor,
    xs: &Xs,
    domids: &[u32],
    stop_at_shutdown: bool,
    mut report: impl FnMut(DomainEvent, bool),
) -> Result<(), Error> {
    let token = format!("xl-death-{}", std::process::id());
    xs.watch("@releaseDomain", &token)?;
    let mut pending: Vec<(u32, bool)> = domids.iter().map(|d| (*d, false)).collect();
    while !pending.is_empty() {
        let domains = hv.domains()?;
        let mut still = Vec::new();
        for (domid, shutdown_reported) in pending {
            match domains.iter().find(|d| d.domid == domid) {
                None => report(DomainEvent::Destroyed { domid }, true),
                Some(d) if d.dying => report(DomainEvent::Destroyed { domid }, true),
                Some(d) if d.shutdown && !shutdown_reported => {
                    report(
                        DomainEvent::Shutdown {
                            domid,
                            reason: d.shutdown_reason,
                        },
                        stop_at_shutdown,
                    );
                    if !stop_at_shutdown {
                        still.push((domid, true));
                    }
                }
                Some(_) => still.push((domid, shutdown_reported)),
            }
        }
        pending = still;
        if !pending.is_empty() {
            xs.next_watch()?;
        }
    }
    let _ = xs.unwatch("@releaseDomain", &token);
    Ok(())
}
