//! A driver domain's device daemon (`xl devd`), as libxl's
//! `libxl_device_events_handler`: it watches the backends of its own
//! domain (`/local/domain/<self>/backend`) and, for each device it has
//! not seen that reaches InitWait, runs the backend's hotplug script
//! (`block`, `vif-bridge`, ...); a device it knows whose backend is
//! Closed and offline gets the script's remove half and its backend
//! nodes deleted.
//!
//! Like libxl, the daemon knows a device only by its backend path, so
//! it never touches the frontend's or `/libxl`'s nodes (the toolstack
//! that made the device removes those). Devices served by QEMU (`qdisk`)
//! would need a QEMU for each guest; they are reported and left alone.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use xenstore::{Xs, XsOps};

use crate::devices::{STATE_CLOSED, STATE_CLOSING, STATE_INIT_WAIT};
use crate::{Host, HotplugDevice};

/// libxl's LIBXL_INIT_TIMEOUT: how long a new backend has to reach
/// InitWait.
const INIT_TIMEOUT: Duration = Duration::from_secs(10);
/// libxl's LIBXL_DESTROY_TIMEOUT, for a backend told to close.
const DESTROY_TIMEOUT: Duration = Duration::from_secs(10);
/// Most devices tracked at once: each is a backend in our own domain,
/// so only a toolstack with write access there can add them, but the
/// daemon still bounds what it keeps.
const MAX_DEVICES: usize = 4096;

/// Why `xl devd` could not serve.
#[derive(Debug, thiserror::Error)]
pub enum DevdError {
    /// Our own domid could not be read from xenstore.
    #[error("unable to get domain id")]
    Domid(#[source] xenstore::Error),
    /// Our domid node holds no number.
    #[error("unable to get domain id: the domid node holds {0:?}")]
    BadDomid(String),
    /// A watch (on the path given) could not be set.
    #[error("cannot watch {0}")]
    Watch(String, #[source] xenstore::Error),
    /// A xenstore read or write failed.
    #[error("xenstore")]
    Xenstore(#[from] xenstore::Error),
}

/// A backend as libxl parses its path:
/// `/local/domain/<self>/backend/<kind>/<domid>/<devid>`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Backend {
    /// The device kind (`vbd`, `vif`, ...).
    pub kind: String,
    /// The frontend's domain.
    pub domid: u32,
    /// The device's id.
    pub devid: u32,
}

impl Backend {
    /// Parse an event's path (without its `/state` or `/online`) below
    /// `root`; libxl reads the kind as at most 15 characters.
    pub fn parse(root: &str, path: &str) -> Option<Backend> {
        let rest = path.strip_prefix(root)?.strip_prefix('/')?;
        let mut parts = rest.split('/');
        let (kind, domid, devid) = (parts.next()?, parts.next()?, parts.next()?);
        if parts.next().is_some() || kind.is_empty() || kind.len() > 15 || !KINDS.contains(&kind) {
            return None;
        }
        Some(Backend {
            kind: kind.to_string(),
            domid: domid.parse().ok()?,
            devid: devid.parse().ok()?,
        })
    }

    fn path(&self, root: &str) -> String {
        format!("{root}/{}/{}/{}", self.kind, self.domid, self.devid)
    }
}

/// libxl's device kinds (libxl__device_kind_from_string).
const KINDS: &[&str] = &[
    "none",
    "vif",
    "vbd",
    "qdisk",
    "pci",
    "vfb",
    "vkbd",
    "console",
    "vtpm",
    "vusb",
    "qusb",
    "9pfs",
    "vdispl",
    "vuart",
    "pvcalls",
    "vsnd",
    "vinput",
    "virtio_disk",
];

/// Where a tracked device is: waiting for InitWait since a time, or
/// added (its script run or, on timeout, given up as libxl does).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    Waiting(Instant),
    Added,
}

/// The daemon's state: the devices of each guest it has taken on.
pub struct Devd<'a> {
    host: &'a Host,
    xs: &'a Xs,
    root: String,
    devices: BTreeMap<Backend, Phase>,
    log: &'a dyn Fn(&str),
}

/// The daemon's own domain id, as libxl__get_domid reads it.
pub fn own_domid(xs: &Xs) -> Result<u32, DevdError> {
    let text = xs.read("domid").map_err(DevdError::Domid)?;
    text.trim().parse().map_err(|_| DevdError::BadDomid(text))
}

impl<'a> Devd<'a> {
    /// A daemon for the backends of domain `me`; `log` gets libxl's
    /// messages (the log file, when daemonised).
    pub fn new(host: &'a Host, xs: &'a Xs, me: u32, log: &'a dyn Fn(&str)) -> Devd<'a> {
        Devd {
            host,
            xs,
            root: format!("/local/domain/{me}/backend"),
            devices: BTreeMap::new(),
            log,
        }
    }

    /// Watch the backends and handle their changes until xenstore fails:
    /// first the devices already waiting in InitWait, then each event.
    pub fn run(&mut self) -> Result<std::convert::Infallible, DevdError> {
        let token = format!("xl-devd-{}", std::process::id());
        self.xs
            .watch(&self.root, &token)
            .map_err(|e| DevdError::Watch(self.root.clone(), e))?;
        for be in self.waiting_at_start()? {
            let state = format!("{}/state", be.path(&self.root));
            self.event(&state)?;
        }
        loop {
            let timeout = self
                .next_deadline()
                .map(|d| d.saturating_duration_since(Instant::now()));
            let event = match timeout {
                Some(t) => self.xs.wait_watch(t)?,
                None => Some(self.xs.next_watch()?),
            };
            if let Some(ev) = event.filter(|e| e.token == token) {
                self.event(&ev.path)?;
            }
            self.expire_waits();
        }
    }

    /// Backends already in InitWait when the daemon starts.
    fn waiting_at_start(&self) -> Result<Vec<Backend>, DevdError> {
        let xs = self.xs;
        let list = |p: &str| -> Result<Vec<String>, xenstore::Error> {
            match xs.directory(p) {
                Ok(v) => Ok(v),
                Err(e) if e.is_not_found() => Ok(Vec::new()),
                Err(e) => Err(e),
            }
        };
        let mut found = Vec::new();
        for kind in list(&self.root)? {
            for dom in list(&format!("{}/{kind}", self.root))? {
                for dev in list(&format!("{}/{kind}/{dom}", self.root))? {
                    let path = format!("{}/{kind}/{dom}/{dev}", self.root);
                    let state = xs.try_read(&format!("{path}/state"))?;
                    if state.as_deref().map(atoi) == Some(STATE_INIT_WAIT as i64)
                        && let Some(be) = Backend::parse(&self.root, &path)
                    {
                        found.push(be);
                    }
                }
            }
        }
        Ok(found)
    }

    fn next_deadline(&self) -> Option<Instant> {
        self.devices
            .values()
            .filter_map(|p| match p {
                Phase::Waiting(since) => Some(*since + INIT_TIMEOUT),
                Phase::Added => None,
            })
            .min()
    }

    /// libxl gives up on a backend that did not reach InitWait in time;
    /// the device stays known, so its removal is still handled.
    fn expire_waits(&mut self) {
        let now = Instant::now();
        for (be, phase) in self.devices.iter_mut() {
            if let Phase::Waiting(since) = *phase
                && now >= since + INIT_TIMEOUT
            {
                (self.log)(&format!(
                    "libxl: error: Domain {}:unable to initialize device {}",
                    be.domid,
                    be.path(&self.root)
                ));
                *phase = Phase::Added;
            }
        }
    }

    /// One watch event (libxl's backend_watch_callback): only `state` and
    /// `online` nodes of a backend count, and both must be there.
    fn event(&mut self, path: &str) -> Result<(), DevdError> {
        let Some(dir) = path
            .strip_suffix("/state")
            .or_else(|| path.strip_suffix("/online"))
        else {
            return Ok(());
        };
        let Some(be) = Backend::parse(&self.root, dir) else {
            return Ok(());
        };
        let (Some(state), Some(online)) = (
            self.xs.try_read(&format!("{dir}/state"))?,
            self.xs.try_read(&format!("{dir}/online"))?,
        ) else {
            return Ok(());
        };
        let (state, online) = (atoi(&state), atoi(&online));
        let closed = state == i64::from(STATE_CLOSED);
        match self.devices.get(&be).copied() {
            None if closed => {}
            None => {
                if self.devices.len() >= MAX_DEVICES {
                    (self.log)(&format!(
                        "xl devd: {MAX_DEVICES} devices tracked already; {dir} ignored"
                    ));
                    return Ok(());
                }
                self.devices
                    .insert(be.clone(), Phase::Waiting(Instant::now()));
                self.progress(&be, state)?;
            }
            Some(Phase::Waiting(_)) if !closed => self.progress(&be, state)?,
            Some(_) if closed && online == 0 => {
                self.devices.remove(&be);
                self.remove(&be)?;
            }
            Some(_) => {}
        }
        Ok(())
    }

    /// A new device: QEMU-served backends need no script (a qdisk would
    /// need a QEMU, which this daemon does not start); the others get
    /// their script once the backend waits in InitWait.
    fn progress(&mut self, be: &Backend, state: i64) -> Result<(), DevdError> {
        if qemu_backend(&be.kind) {
            if be.kind == "qdisk" {
                (self.log)(&format!(
                    "xl devd: {}: disks served by QEMU (qdisk) are not handled by this xl",
                    be.path(&self.root)
                ));
            }
            self.devices.insert(be.clone(), Phase::Added);
            return Ok(());
        }
        if state != i64::from(STATE_INIT_WAIT) {
            return Ok(());
        }
        self.devices.insert(be.clone(), Phase::Added);
        self.script(be, true)
    }

    /// The backend's hotplug script (vbd and vif only, as libxl on Linux);
    /// a failure is logged and the device kept for its removal.
    fn script(&self, be: &Backend, add: bool) -> Result<(), DevdError> {
        if be.kind != "vbd" && be.kind != "vif" {
            return Ok(());
        }
        let path = be.path(&self.root);
        let Some(script) = self.xs.try_read(&format!("{path}/script"))? else {
            (self.log)(&format!(
                "libxl: error: Domain {}:unable to read script from {path}",
                be.domid
            ));
            return Ok(());
        };
        let dev = HotplugDevice {
            kind: be.kind.clone(),
            domid: be.domid,
            devid: be.devid,
            backend_path: path.clone(),
            script,
        };
        if let Err(e) = self.host.dom0.hotplug(self.xs, &dev, add) {
            (self.log)(&format!(
                "libxl: error: Domain {}:unable to {} device with path {path}: {}",
                be.domid,
                if add { "add" } else { "remove" },
                crate::error_chain(&e)
            ));
        }
        Ok(())
    }

    /// libxl's generic remove of a device whose backend closed: offline
    /// and Closed confirmed, the script's remove half, then the backend's
    /// nodes. As libxl in dom0, a guest that no longer exists is only
    /// reported.
    fn remove(&self, be: &Backend) -> Result<(), DevdError> {
        let path = be.path(&self.root);
        if self.host.hv.domain(be.domid).ok().flatten().is_none() {
            (self.log)(&format!(
                "libxl: error: Domain {}:unable to get info for domain {}",
                be.domid, be.domid
            ));
            return Ok(());
        }
        let present = self.xs.transaction(|t| -> Result<bool, xenstore::Error> {
            let Some(state) = t.try_read(&format!("{path}/state"))? else {
                return Ok(false);
            };
            t.write(&format!("{path}/online"), "0")?;
            if atoi(&state) != i64::from(STATE_CLOSED) {
                t.write(&format!("{path}/state"), &STATE_CLOSING.to_string())?;
            }
            Ok(true)
        })?;
        if !present {
            return Ok(());
        }
        let closed =
            crate::devices::wait_state(self.xs, &path, STATE_CLOSED, true, DESTROY_TIMEOUT)?;
        if closed.is_err() {
            (self.log)(&format!(
                "libxl: error: Domain {}:unable to remove device {path}",
                be.domid
            ));
            return Ok(());
        }
        self.script(be, false)?;
        self.xs
            .transaction(|t| crate::destroy::path_cleanup(t, &path))?;
        Ok(())
    }
}

/// Backends QEMU serves (libxl's QEMU_BACKEND), which have no script.
fn qemu_backend(kind: &str) -> bool {
    matches!(kind, "qdisk" | "vfb" | "qusb" | "vkbd")
}

/// C's atoi: leading digits after blanks and a sign, 0 when none.
fn atoi(s: &str) -> i64 {
    xl_config::value::strtol(s.as_bytes(), 10).0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backend_paths_parse_as_libxl_parses_them() {
        let root = "/local/domain/0/backend";
        assert_eq!(
            Backend::parse(root, "/local/domain/0/backend/vbd/7/51712"),
            Some(Backend {
                kind: "vbd".into(),
                domid: 7,
                devid: 51712
            })
        );
        for bad in [
            "/local/domain/0/backend/vbd/7",
            "/local/domain/0/backend/vbd/7/51712/extra",
            "/local/domain/0/backend/nosuchkind/7/1",
            "/local/domain/0/backend/vbd/x/1",
            "/local/domain/1/backend/vbd/7/1",
            "/local/domain/0/backendvbd/7/1",
        ] {
            assert_eq!(Backend::parse(root, bad), None, "{bad}");
        }
        assert_eq!(atoi(" 6\n"), 6);
        assert_eq!(atoi("x"), 0);
    }
}
