//! Saving a domain into libxl's migration stream and the stream's side of
//! restoring one (libxl_domain_suspend, libxl_domain_resume and the
//! reading half of libxl_domain_create_restore).
//!
//! Above the seam: the suspend request over xenstore's control protocol,
//! the libxl records around the image, and what to do with them. Below it
//! ([`crate::Hypervisor::save_image`] / [`crate::Hypervisor::restore_image`]):
//! libxc's image of memory and vCPUs, which each backend writes and reads
//! in its own way (Xen: the guest's pages; the simulator: its guest's state).

use std::io::{Read, Write};
use std::time::{Duration, Instant};

use xenstore::{Xs, XsOps};
use xl_savefile::{FormatError, LibxlRecord};

use crate::{BuildSpec, Built, Error, Host};

/// SHUTDOWN_suspend: the reason a domain stops when it has suspended.
pub const SHUTDOWN_SUSPEND: u32 = 2;
/// How long a guest has to acknowledge a suspend request and suspend
/// (libxl waits as long).
const SUSPEND_TIMEOUT: Duration = Duration::from_secs(60);

#[derive(Debug, thiserror::Error)]
pub enum SaveError {
    #[error("domain {0} does not exist")]
    NoSuchDomain(u32),
    #[error("domain {domid} did not respond to the suspend request within {secs} s{}", paused_note(*.paused))]
    GuestTimedOut { domid: u32, secs: u64, paused: bool },
    #[error("domain {0} went away while suspending")]
    Vanished(u32),
    #[error("domain {domid} shut down (reason {reason}) instead of suspending")]
    ShutDownInstead { domid: u32, reason: u32 },
    #[error(transparent)]
    Backend(#[from] Error),
    #[error("writing the stream")]
    Write(#[source] std::io::Error),
}

fn paused_note(paused: bool) -> &'static str {
    if paused {
        " (it is paused: a paused guest cannot answer)"
    } else {
        ""
    }
}

impl SaveError {
    /// Whether the guest never suspended, so there is nothing to resume
    /// (xl's ERROR_GUEST_TIMEDOUT).
    pub fn guest_timed_out(&self) -> bool {
        matches!(self, SaveError::GuestTimedOut { .. })
    }
}

/// Ask the guest to suspend (`control/shutdown` = `suspend`) and wait until
/// the hypervisor reports it suspended. A request the guest never takes is
/// withdrawn again.
pub fn suspend(host: &Host, xs: &Xs, domid: u32) -> Result<(), SaveError> {
    let info = host
        .hv
        .domain(domid)?
        .ok_or(SaveError::NoSuchDomain(domid))?;
    if info.shutdown && info.shutdown_reason == SHUTDOWN_SUSPEND {
        return Ok(());
    }
    let control = format!("/local/domain/{domid}/control/shutdown");
    let token = format!("xl-suspend-{}", std::process::id());
    xs.watch("@releaseDomain", &token).map_err(Error::from)?;
    let result = (|| {
        xs.write(&control, "suspend").map_err(Error::from)?;
        wait_suspended(host, xs, domid, info.paused)
    })();
    if result.is_err() {
        // Withdrawn only if still unanswered, so a late guest does not
        // suspend behind our back.
        if let Ok(Some(v)) = xs.try_read(&control)
            && v == "suspend"
        {
            let _ = xs.write(&control, "");
        }
    }
    let _ = xs.unwatch("@releaseDomain", &token);
    result
}

fn wait_suspended(host: &Host, xs: &Xs, domid: u32, paused: bool) -> Result<(), SaveError> {
    let deadline = Instant::now() + SUSPEND_TIMEOUT;
    loop {
        let info = host.hv.domain(domid)?.ok_or(SaveError::Vanished(domid))?;
        if info.shutdown {
            return match info.shutdown_reason {
                SHUTDOWN_SUSPEND => Ok(()),
                reason => Err(SaveError::ShutDownInstead { domid, reason }),
            };
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(SaveError::GuestTimedOut {
                domid,
                secs: SUSPEND_TIMEOUT.as_secs(),
                paused,
            });
        }
        xs.wait_watch(left.min(Duration::from_secs(1)))
            .map_err(Error::from)?;
    }
}

/// Write a suspended domain as libxl's stream: header, LIBXC_CONTEXT, the
/// backend's libxc image, the device model's records, END.
pub fn write_stream(host: &Host, domid: u32, out: &mut dyn Write) -> Result<(), SaveError> {
    let info = host
        .hv
        .domain(domid)?
        .ok_or(SaveError::NoSuchDomain(domid))?;
    xl_savefile::write_libxl_header(out).map_err(SaveError::Write)?;
    xl_savefile::write_libxl_record(out, &LibxlRecord::LibxcContext).map_err(SaveError::Write)?;
    host.hv.save_image(domid, out)?;
    if info.hvm
        && let Some(state) = host.dom0.save_device_model(domid)?
    {
        let rec = LibxlRecord::EmulatorContext {
            emulator: xl_savefile::EMULATOR_QEMU_UPSTREAM,
            index: 0,
            data: state,
        };
        xl_savefile::write_libxl_record(out, &rec).map_err(SaveError::Write)?;
    }
    xl_savefile::write_libxl_record(out, &LibxlRecord::End).map_err(SaveError::Write)?;
    out.flush().map_err(SaveError::Write)
}

/// Suspend and write the domain; the domain is left suspended (the
/// caller destroys it, or resumes it for a checkpoint or after a failure).
pub fn save(host: &Host, xs: &Xs, domid: u32, out: &mut dyn Write) -> Result<(), SaveError> {
    suspend(host, xs, domid)?;
    write_stream(host, domid, out)
}

/// Let a suspended domain run on where it stopped (libxl_domain_resume
/// with suspend_cancel): the guest sees its suspend return early.
pub fn resume(host: &Host, xs: &Xs, domid: u32) -> Result<(), Error> {
    host.hv.resume(domid)?;
    // xenstored fires @releaseDomain once per shutdown: re-armed, the
    // next suspend (by any toolstack) is seen again.
    xs.resume_domain(domid)?;
    // Nothing may be left asking the guest to suspend again.
    let control = format!("/local/domain/{domid}/control/shutdown");
    if let Ok(Some(v)) = xs.try_read(&control)
        && v == "suspend"
    {
        xs.write(&control, "")?;
    }
    Ok(())
}

/// What a restore takes from the stream beside the image.
#[derive(Debug, Default)]
pub struct StreamExtras {
    /// The device model's saved state, for an HVM guest.
    pub device_model: Option<Vec<u8>>,
}

/// Read libxl's stream into the new (empty, paused) domain `domid`: the
/// backend loads the libxc image in place of a build, and the records
/// after it are checked and handed back.
pub fn read_stream(
    host: &Host,
    domid: u32,
    spec: &BuildSpec,
    input: &mut dyn Read,
) -> Result<(Built, StreamExtras), Error> {
    xl_savefile::read_domain_stream_head(input).map_err(Error::Stream)?;
    let built = host.hv.restore_image(domid, spec, input)?;
    let tail = xl_savefile::read_domain_stream_tail(input).map_err(Error::Stream)?;
    let mut extras = StreamExtras::default();
    for rec in tail {
        match rec {
            LibxlRecord::EmulatorContext { data, .. } if spec.kind == crate::GuestKind::Hvm => {
                extras.device_model = Some(data);
            }
            // The device model rebuilds its xenstore nodes itself.
            LibxlRecord::EmulatorXenstoreData { .. } if spec.kind == crate::GuestKind::Hvm => {}
            other => {
                return Err(Error::Stream(FormatError::BadRecord {
                    what: "libxl",
                    why: format!(
                        "{} does not belong in the stream of a {} guest{}",
                        other.type_name(),
                        spec.kind.type_name(),
                        if matches!(other, LibxlRecord::CheckpointEnd) {
                            " (checkpointed Remus/COLO streams are not supported)"
                        } else {
                            ""
                        }
                    ),
                }));
            }
        }
    }
    Ok((built, extras))
}

/// The config a save carries: the domain's as it is now (what `xl list -l`
/// shows), its domid kept only when asked (`xl save -D`).
pub fn saved_config(
    host: &Host,
    xs: &Xs,
    domid: u32,
    preserve_domid: bool,
) -> Result<crate::retrieve::Retrieved, crate::retrieve::RetrieveError> {
    use crate::retrieve::{C_INFO_ORDER, TOP_ORDER, obj_field, set};
    let mut r = crate::retrieve::retrieve(host, xs, domid)?;
    let c = obj_field(&mut r.config, "c_info", TOP_ORDER);
    let kept = preserve_domid.then(|| xl_config::json::Json::UInt(u64::from(domid)));
    set(c, C_INFO_ORDER, "domid", kept);
    Ok(r)
}
