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

/// Why saving (suspending) a domain failed.
#[derive(Debug, thiserror::Error)]
pub enum SaveError {
    /// No domain has this id.
    #[error("domain {0} does not exist")]
    NoSuchDomain(u32),
    /// The guest did not suspend in time.
    #[error("domain {domid} did not respond to the suspend request within {secs} s{}", paused_note(*.paused))]
    GuestTimedOut {
        /// The domain.
        domid: u32,
        /// How long it was given, in seconds.
        secs: u64,
        /// Whether it was paused (and so could not answer).
        paused: bool,
    },
    /// The domain was destroyed while suspending.
    #[error("domain {0} went away while suspending")]
    Vanished(u32),
    /// The guest shut down for another reason instead of suspending.
    #[error("domain {domid} shut down (reason {reason}) instead of suspending")]
    ShutDownInstead {
        /// The domain.
        domid: u32,
        /// Its shutdown reason (0 poweroff, 1 reboot, 3 crash, ...).
        reason: u32,
    },
    /// The backend failed (hypervisor, device model, xenstore).
    #[error(transparent)]
    Backend(#[from] Error),
    /// The stream could not be written.
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

/// Suspend the guest and wait until the hypervisor reports it suspended.
/// As libxl: an HVM guest without PV drivers is stopped from outside; the
/// others are asked (`control/shutdown` = `suspend`), and a request the
/// guest never takes is withdrawn again.
pub fn suspend(host: &Host, xs: &Xs, domid: u32) -> Result<(), SaveError> {
    let info = host
        .hv
        .domain(domid)?
        .ok_or(SaveError::NoSuchDomain(domid))?;
    if info.shutdown && info.shutdown_reason == SHUTDOWN_SUSPEND {
        return Ok(());
    }
    let token = format!("xl-suspend-{}", std::process::id());
    xs.watch("@releaseDomain", &token).map_err(Error::from)?;
    let result = if crate::lifecycle::guest_kind(xs, &info) == crate::GuestKind::Hvm
        && !host.hv.has_pv_callback(domid)?
    {
        crate::trace::detail(|| format!("domain {domid}: no PV drivers, suspended from outside"));
        host.hv
            .remote_shutdown(domid, SHUTDOWN_SUSPEND)
            .map_err(SaveError::from)
            .and_then(|()| wait_suspended(host, xs, domid, info.paused))
    } else {
        ask_to_suspend(host, xs, domid, info.paused)
    };
    let _ = xs.unwatch("@releaseDomain", &token);
    result
}

fn ask_to_suspend(host: &Host, xs: &Xs, domid: u32, paused: bool) -> Result<(), SaveError> {
    let control = format!("/local/domain/{domid}/control/shutdown");
    let result = xs
        .write(&control, "suspend")
        .map_err(|e| SaveError::from(Error::from(e)))
        .and_then(|()| wait_suspended(host, xs, domid, paused));
    if result.is_err() {
        // Withdrawn only if still unanswered, so a late guest does not
        // suspend behind our back.
        if let Ok(Some(v)) = xs.try_read(&control)
            && v == "suspend"
        {
            let _ = xs.write(&control, "");
        }
    }
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
/// backend's libxc image, an HVM guest's device model records, END. The
/// device model is stopped and saved first, so nothing it does touches
/// the memory being written.
pub fn write_stream(
    host: &Host,
    xs: &Xs,
    domid: u32,
    out: &mut dyn Write,
) -> Result<(), SaveError> {
    let info = host
        .hv
        .domain(domid)?
        .ok_or(SaveError::NoSuchDomain(domid))?;
    let emulator = if crate::lifecycle::guest_kind(xs, &info) == crate::GuestKind::Hvm {
        Some(EmulatorState {
            xenstore: emulator_xenstore_data(xs, domid)?,
            state: host.dom0.save_device_model(domid, &info.uuid)?,
        })
    } else {
        None
    };
    xl_savefile::write_libxl_header(out).map_err(SaveError::Write)?;
    xl_savefile::write_libxl_record(out, &LibxlRecord::LibxcContext).map_err(SaveError::Write)?;
    host.hv.save_image(domid, out)?;
    for rec in emulator.map(EmulatorState::records).unwrap_or_default() {
        xl_savefile::write_libxl_record(out, &rec).map_err(SaveError::Write)?;
    }
    xl_savefile::write_libxl_record(out, &LibxlRecord::End).map_err(SaveError::Write)?;
    out.flush().map_err(SaveError::Write)
}

/// What an HVM guest's device model adds to the stream.
struct EmulatorState {
    /// EMULATOR_XENSTORE_DATA's body; empty when there is nothing to keep.
    xenstore: Vec<u8>,
    state: Option<Vec<u8>>,
}

impl EmulatorState {
    fn records(self) -> Vec<LibxlRecord> {
        let mut recs = Vec::new();
        if !self.xenstore.is_empty() {
            recs.push(LibxlRecord::EmulatorXenstoreData {
                emulator: xl_savefile::EMULATOR_QEMU_UPSTREAM,
                index: 0,
                data: self.xenstore,
            });
        }
        if let Some(data) = self.state {
            recs.push(LibxlRecord::EmulatorContext {
                emulator: xl_savefile::EMULATOR_QEMU_UPSTREAM,
                index: 0,
                data,
            });
        }
        recs
    }
}

/// The physmap entries below the device model's xenstore directory (where
/// QEMU moved guest memory such as video RAM), as libxl keeps them: each
/// `physmap/<gfn>/{start_addr,size,name}` key then its value, NUL-terminated.
fn emulator_xenstore_data(xs: &Xs, domid: u32) -> Result<Vec<u8>, Error> {
    let root = format!("/local/domain/0/device-model/{domid}");
    let entries = match xs.directory(&format!("{root}/physmap")) {
        Ok(e) => e,
        Err(e) if e.is_not_found() => return Ok(Vec::new()),
        Err(e) => return Err(e.into()),
    };
    let mut keys = Vec::new();
    for entry in &entries {
        for sub in PHYSMAP_KEYS {
            keys.push(format!("physmap/{entry}/{sub}"));
        }
    }
    let paths: Vec<String> = keys.iter().map(|k| format!("{root}/{k}")).collect();
    let values = xs.read_many(&paths)?;
    let mut data = Vec::new();
    for (key, value) in keys.iter().zip(values) {
        let value = value.ok_or_else(|| Error::NodeVanished {
            path: format!("{root}/{key}"),
            during: "saving the device model",
        })?;
        for s in [key.as_str(), value.as_str()] {
            data.extend_from_slice(s.as_bytes());
            data.push(0);
        }
    }
    Ok(data)
}

/// What libxl keeps of each physmap entry.
const PHYSMAP_KEYS: [&str; 3] = ["start_addr", "size", "name"];

/// Suspend and write the domain; the domain is left suspended (the
/// caller destroys it, or resumes it for a checkpoint or after a failure).
pub fn save(host: &Host, xs: &Xs, domid: u32, out: &mut dyn Write) -> Result<(), SaveError> {
    suspend(host, xs, domid)?;
    write_stream(host, xs, domid, out)
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
    // The save stopped an HVM guest's device model.
    if let Some(info) = host.hv.domain(domid)?
        && crate::lifecycle::guest_kind(xs, &info) == crate::GuestKind::Hvm
    {
        host.dom0.resume_device_model(domid, &info.uuid)?;
    }
    Ok(())
}

/// What a restore takes from the stream beside the image.
#[derive(Debug, Default)]
pub struct StreamExtras {
    /// The device model's saved state, for an HVM guest.
    pub device_model: Option<Vec<u8>>,
    /// Nodes to write below the device model's xenstore directory before
    /// it starts (relative keys and values).
    pub device_model_xenstore: Vec<(String, String)>,
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
            LibxlRecord::EmulatorXenstoreData { data, .. }
                if spec.kind == crate::GuestKind::Hvm =>
            {
                extras.device_model_xenstore = device_model_nodes(&data).map_err(Error::Stream)?;
            }
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

/// The most device model nodes a stream may ask for.
const MAX_DM_NODES: usize = 4096;

/// EMULATOR_XENSTORE_DATA's key/value pairs. The stream is not trusted to
/// name any node: only physmap entries' own keys, with printable values.
fn device_model_nodes(data: &[u8]) -> Result<Vec<(String, String)>, FormatError> {
    let bad = |why: String| FormatError::BadRecord {
        what: "EMULATOR_XENSTORE_DATA",
        why,
    };
    let body = data
        .strip_suffix(&[0])
        .ok_or_else(|| bad("not NUL-terminated".into()))?;
    let strings: Vec<&[u8]> = body.split(|b| *b == 0).collect();
    if !strings.len().is_multiple_of(2) {
        return Err(bad("a key without a value".into()));
    }
    if strings.len() / 2 > MAX_DM_NODES {
        return Err(bad(format!("more than {MAX_DM_NODES} nodes")));
    }
    strings
        .chunks(2)
        .map(|kv| {
            let key = std::str::from_utf8(kv[0]).map_err(|_| bad("a key is not UTF-8".into()))?;
            let value =
                std::str::from_utf8(kv[1]).map_err(|_| bad("a value is not UTF-8".into()))?;
            if !is_physmap_key(key) {
                return Err(bad(format!("unexpected key {}", crate::printable(key))));
            }
            if value.len() > 256 || value.chars().any(char::is_control) {
                return Err(bad(format!("bad value for {key}")));
            }
            Ok((key.to_string(), value.to_string()))
        })
        .collect()
}

/// `physmap/<hex gfn>/<start_addr|size|name>`.
fn is_physmap_key(key: &str) -> bool {
    let parts: Vec<&str> = key.split('/').collect();
    matches!(parts.as_slice(), ["physmap", gfn, sub]
        if !gfn.is_empty() && gfn.len() <= 16
            && gfn.bytes().all(|b| b.is_ascii_hexdigit())
            && PHYSMAP_KEYS.contains(sub))
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

#[cfg(test)]
mod tests {
    use super::device_model_nodes;

    fn record(pairs: &[&str]) -> Vec<u8> {
        pairs
            .iter()
            .flat_map(|s| [s.as_bytes(), b"\0"].concat())
            .collect()
    }

    #[test]
    fn physmap_nodes_are_read_in_order() {
        let data = record(&[
            "physmap/f0000000/start_addr",
            "f0000000",
            "physmap/f0000000/size",
            "800000",
            "physmap/f0000000/name",
            "vga.vram",
        ]);
        let nodes = device_model_nodes(&data).unwrap();
        assert_eq!(nodes.len(), 3);
        assert_eq!(
            nodes[2],
            ("physmap/f0000000/name".into(), "vga.vram".into())
        );
    }

    #[test]
    fn a_stream_cannot_name_other_nodes() {
        for key in [
            "../../1/control/shutdown",
            "physmap/f0000000/../../x",
            "physmap//size",
            "physmap/xyz/size",
            "physmap/f0000000/other",
            "state",
        ] {
            let err = device_model_nodes(&record(&[key, "1"])).unwrap_err();
            assert!(err.to_string().contains("unexpected key"), "{key}: {err}");
        }
    }

    #[test]
    fn malformed_records_are_refused() {
        assert!(device_model_nodes(b"physmap/1/size").is_err(), "no NUL");
        assert!(
            device_model_nodes(&record(&["physmap/1/size"])).is_err(),
            "no value"
        );
        assert!(
            device_model_nodes(&record(&["physmap/1/name", "a\nb"])).is_err(),
            "control character"
        );
    }
}
