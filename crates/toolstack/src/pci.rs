//! PCI passthrough as libxl 4.17 does it: devices made assignable by
//! binding them to pciback through sysfs (the driver they leave noted in
//! xenstore for a later rebind) and quarantined in Xen (DOMID_IO), then
//! given to guests (`pci-attach`, `pci=`) and taken back.
//!
//! libxl reports each step's failure in its log as it happens; so does
//! this module, through the caller's [`Log`], with libxl's words. The
//! result says only whether the operation as a whole failed.

use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use xenstore::{Access, Perm, Xs, XsOps};

use crate::{DOMID_IO, Dom0, GuestKind, Host, Hypervisor, IoRange, SysfsWriteError, strerror};

/// libxl's log levels, those this module uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    /// `debug`: the most detail.
    Debug,
    /// `detail`.
    Detail,
    /// `info`.
    Info,
    /// `warn`.
    Warn,
    /// `error`.
    Error,
}

/// Where libxl's log lines go.
pub type Log<'a> = &'a dyn Fn(Level, &str);

/// Where libxl keeps what it knows of assignable devices.
const PCI_INFO_PATH: &str = "/libxl/pci";
/// Bound on the `/libxl/pci` entries and pciback slots read.
const MAX_ENTRIES: usize = 4096;
/// Longest name a device may be given (libxl's bound).
const MAX_NAME: usize = 64;

/// A PCI device's address: segment (libxl's "domain"), bus, device,
/// function.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Bdf {
    /// Segment (libxl's "domain").
    pub domain: u32,
    /// Bus.
    pub bus: u32,
    /// Device (slot).
    pub dev: u32,
    /// Function.
    pub func: u32,
}

impl Bdf {
    /// libxl's `pci_encode_bdf`: the machine SBDF Xen's domctls take.
    pub fn sbdf(&self) -> u32 {
        (self.domain << 16) | ((self.bus & 0xff) << 8) | ((self.dev & 0x1f) << 3) | (self.func & 7)
    }

    /// The name of the device's node under `/libxl/pci`.
    fn xs_name(&self) -> String {
        format!(
            "{:04x}-{:02x}-{:02x}-{:01x}",
            self.domain, self.bus, self.dev, self.func
        )
    }

    /// `%x:%x:%x.%x`-style text with the given separators, each field
    /// hex (sscanf's `%x`, without sign or `0x`).
    fn scan(s: &str, seps: [char; 3]) -> Option<Bdf> {
        let mut fields = [0u32; 4];
        let mut rest = s;
        for (i, field) in fields.iter_mut().enumerate() {
            let end = rest
                .find(|c: char| !c.is_ascii_hexdigit())
                .unwrap_or(rest.len());
            *field = u32::from_str_radix(&rest[..end], 16).ok()?;
            rest = &rest[end..];
            if let Some(sep) = seps.get(i) {
                rest = rest.strip_prefix(*sep)?;
            }
        }
        Some(Bdf {
            domain: fields[0],
            bus: fields[1],
            dev: fields[2],
            func: fields[3],
        })
    }

    /// A sysfs entry's name (`0000:00:1f.3`).
    pub fn from_sysfs(s: &str) -> Option<Bdf> {
        Bdf::scan(s, [':', ':', '.'])
    }

    /// The libxl form in xl's messages (`%x:%x:%x.%x`).
    pub fn short(&self) -> String {
        format!(
            "{:x}:{:x}:{:x}.{:x}",
            self.domain, self.bus, self.dev, self.func
        )
    }
}

impl std::fmt::Display for Bdf {
    /// libxl's PCI_BDF: `0000:00:1f.3`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{:04x}:{:02x}:{:02x}.{:01x}",
            self.domain, self.bus, self.dev, self.func
        )
    }
}

/// How a PCI operation failed (libxl's log has the details).
#[derive(Debug, thiserror::Error)]
pub enum PciError {
    /// No device was made assignable under this name (ERROR_NOTFOUND).
    #[error("no assignable PCI device is named {0}")]
    NameNotFound(String),
    /// A step failed and was reported in the log (ERROR_FAIL).
    #[error("{0}")]
    Failed(&'static str),
    /// pciback is not there to list devices.
    #[error("Looks like pciback driver not loaded")]
    NoPciback,
    /// A sysfs file could not be opened.
    #[error("Couldn't open {path}")]
    Open {
        /// The file.
        path: String,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
}

/// What PCI passthrough works with: the host's sysfs, its dom0 (which
/// writes sysfs attributes), the hypervisor, xenstore, and libxl's log.
pub struct PciHost<'a> {
    hv: &'a dyn Hypervisor,
    dom0: &'a dyn Dom0,
    xs: &'a Xs,
    sysfs: PathBuf,
    log: Log<'a>,
}

/// One assignable device: its address and the name it was given.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Assignable {
    /// Its address.
    pub bdf: Bdf,
    /// The name it was given (`pci-assignable-add -n`), if any.
    pub name: Option<String>,
}

impl<'a> PciHost<'a> {
    /// PCI passthrough on `host`, talking to `xs`, logging through `log`.
    pub fn new(host: &'a Host, xs: &'a Xs, log: Log<'a>) -> PciHost<'a> {
        PciHost {
            hv: host.hv.as_ref(),
            dom0: host.dom0.as_ref(),
            xs,
            sysfs: host.paths.sysfs.clone(),
            log,
        }
    }

    fn pciback(&self) -> PathBuf {
        self.sysfs.join("bus/pci/drivers/pciback")
    }

    fn device(&self, bdf: Bdf) -> PathBuf {
        self.sysfs.join(format!("bus/pci/devices/{bdf}"))
    }

    fn info_path(bdf: Bdf, node: &str) -> String {
        format!("{PCI_INFO_PATH}/{}/{node}", bdf.xs_name())
    }

    fn info_read(&self, bdf: Bdf, node: &str) -> Option<String> {
        self.xs.try_read(&Self::info_path(bdf, node)).ok().flatten()
    }

    fn info_write(&self, bdf: Bdf, node: &str, val: &str) {
        let path = Self::info_path(bdf, node);
        if let Err(e) = self.xs.write(&path, val) {
            (self.log)(
                Level::Warn,
                &format!(
                    "Write of {val} to node {path} failed.: {}",
                    crate::innermost_cause(&e)
                ),
            );
        }
    }

    fn info_remove(&self, bdf: Bdf, node: &str) {
        let _ = self.xs.rm(&Self::info_path(bdf, node));
    }

    /// Devices bound to pciback and given to no domain, in directory
    /// order, as `libxl_device_pci_assignable_list` finds them.
    pub fn assignable_list(&self) -> Result<Vec<Assignable>, PciError> {
        let dir = match std::fs::read_dir(self.pciback()) {
            Ok(d) => d,
            Err(e) if e.kind() == ErrorKind::NotFound => return Err(PciError::NoPciback),
            Err(source) => {
                return Err(PciError::Open {
                    path: self.pciback().display().to_string(),
                    source,
                });
            }
        };
        let mut out = Vec::new();
        for entry in dir.flatten().take(MAX_ENTRIES) {
            let Some(bdf) = Bdf::from_sysfs(&entry.file_name().to_string_lossy()) else {
                continue;
            };
            if self.info_read(bdf, "domid").is_some() {
                continue;
            }
            let name = self.info_read(bdf, "name");
            out.push(Assignable { bdf, name });
        }
        Ok(out)
    }

    /// Write the device's address to a sysfs attribute, reporting a
    /// failure as libxl's `sysfs_write_bdf` does; the OS error is kept
    /// for the caller's own line.
    fn write_bdf(&self, attr: &Path, bdf: Bdf) -> Result<(), std::io::Error> {
        self.dom0.sysfs_write(attr, &bdf.to_string()).map_err(|e| {
            let what = match &e {
                SysfsWriteError::Open(_) => format!("Couldn't open {}", attr.display()),
                SysfsWriteError::Write(_) => {
                    format!("write to {} returned -1", attr.display())
                }
            };
            self.error_os(&what, e.io());
            clone_io(e.io())
        })
    }

    fn error_os(&self, what: &str, e: &std::io::Error) {
        (self.log)(Level::Error, &format!("{what}: {}", strerror(e)));
    }

    /// 1 when the device is bound to pciback, 0 when not; None (said
    /// why) when that cannot be told.
    fn pciback_has(&self, bdf: Bdf) -> Option<bool> {
        let dir = self.pciback();
        if let Err(e) = std::fs::metadata(&dir) {
            if e.kind() == ErrorKind::NotFound {
                (self.log)(Level::Error, "Looks like pciback driver is not loaded");
            } else {
                self.error_os(&format!("Can't access {}", dir.display()), &e);
            }
            return None;
        }
        let entry = dir.join(bdf.to_string());
        match std::fs::symlink_metadata(&entry) {
            Ok(_) => Some(true),
            Err(e) if e.kind() == ErrorKind::NotFound => Some(false),
            Err(e) => {
                self.error_os(&format!("Accessing {}", entry.display()), &e);
                None
            }
        }
    }

    /// Whether pciback lists a slot for the device (its `slots` file).
    fn pciback_has_slot(&self, bdf: Bdf) -> Result<bool, std::io::Error> {
        let path = self.pciback().join("slots");
        let text = std::fs::read_to_string(&path).inspect_err(|e| {
            self.error_os(&format!("Couldn't open {}", path.display()), e);
        })?;
        // fscanf("%x:%x:%x.%d\n") stops at the first line it cannot read.
        Ok(text
            .lines()
            .take(MAX_ENTRIES)
            .map_while(|l| Bdf::scan(l.trim(), [':', ':', '.']))
            .any(|b| b == bdf))
    }

    /// Unbind the device from its driver, if it has one; the driver's
    /// canonical path.
    fn unbind(&self, bdf: Bdf) -> Result<Option<PathBuf>, ()> {
        let link = self.device(bdf).join("driver");
        if std::fs::symlink_metadata(&link).is_err() {
            return Ok(None);
        }
        let driver = std::fs::canonicalize(&link).map_err(|e| {
            self.error_os("realpath() failed", &e);
        })?;
        (self.log)(
            Level::Debug,
            &format!("Driver re-plug path: {}", driver.display()),
        );
        self.write_bdf(&driver.join("unbind"), bdf).map_err(|e| {
            self.error_os("Couldn't unbind device", &e);
        })?;
        Ok(Some(driver))
    }

    /// Bind the device to pciback, adding its slot first if it has none.
    fn pciback_assign(&self, bdf: Bdf) -> Result<(), ()> {
        let bind_failed = |e: &std::io::Error| {
            self.error_os("Couldn't bind device to pciback!", e);
        };
        match self.pciback_has_slot(bdf) {
            Err(e) => {
                self.error_os("Error checking for pciback slot", &e);
                return Err(());
            }
            Ok(false) => {
                self.write_bdf(&self.pciback().join("new_slot"), bdf)
                    .map_err(|e| bind_failed(&e))?;
            }
            Ok(true) => {}
        }
        self.write_bdf(&self.pciback().join("bind"), bdf)
            .map_err(|e| bind_failed(&e))
    }

    /// Unbind the device from pciback and drop its slot; failures are
    /// logged, and libxl goes on regardless.
    fn pciback_unassign(&self, bdf: Bdf) {
        if self.unbind(bdf).is_err() {
            (self.log)(Level::Error, "Couldn't unbind device!");
            return;
        }
        if let Ok(true) = self.pciback_has_slot(bdf)
            && let Err(e) = self.write_bdf(&self.pciback().join("remove_slot"), bdf)
        {
            self.error_os("Couldn't remove pciback slot", &e);
        }
    }

    /// `xl pci-assignable-add`: bind the device to pciback (from the
    /// driver it had, noted for `rebind`), name it, quarantine it.
    pub fn assignable_add(
        &self,
        bdf: Bdf,
        name: Option<&str>,
        rebind: bool,
    ) -> Result<(), PciError> {
        const FAIL: PciError = PciError::Failed("making the device assignable");
        if let Some(name) = name {
            check_name(name).map_err(|m| {
                (self.log)(Level::Error, m);
                FAIL
            })?;
        }
        let dev = self.device(bdf);
        if let Err(e) = std::fs::symlink_metadata(&dev) {
            self.error_os(&format!("Couldn't lstat {}", dev.display()), &e);
            return Err(FAIL);
        }
        match self.pciback_has(bdf) {
            None => return Err(FAIL),
            Some(true) => {
                (self.log)(Level::Warn, &format!("{bdf} already assigned to pciback"));
            }
            Some(false) => self.bind_to_pciback(bdf, rebind)?,
        }
        match name {
            Some(n) => self.info_write(bdf, "name", n),
            None => self.info_remove(bdf, "name"),
        }
        // DOMID_IO holds no mappings: reserved regions cannot matter.
        if self.hv.assign_device(DOMID_IO, bdf.sbdf(), true).is_err() {
            (self.log)(Level::Error, &format!("failed to quarantine {bdf}"));
            return Err(FAIL);
        }
        Ok(())
    }

    /// The part of `assignable_add` for a device pciback does not have
    /// yet: away from its driver (noted), onto pciback.
    fn bind_to_pciback(&self, bdf: Bdf, rebind: bool) -> Result<(), PciError> {
        const FAIL: PciError = PciError::Failed("making the device assignable");
        let Ok(driver) = self.unbind(bdf) else {
            (self.log)(Level::Error, &format!("Couldn't unbind {bdf} from driver"));
            return Err(FAIL);
        };
        if rebind {
            if let Some(d) = &driver {
                self.info_write(bdf, "driver_path", &d.to_string_lossy());
            } else if let Some(d) = self.info_read(bdf, "driver_path") {
                (self.log)(
                    Level::Info,
                    &format!("{bdf} not bound to a driver, will be rebound to {d}"),
                );
            } else {
                (self.log)(
                    Level::Warn,
                    &format!("{bdf} not bound to a driver, will not be rebound."),
                );
            }
        } else {
            self.info_remove(bdf, "driver_path");
        }
        self.pciback_assign(bdf).map_err(|()| {
            (self.log)(Level::Error, "Couldn't bind device to pciback!");
            FAIL
        })
    }

    /// The device a name was given to (libxl's `name2bdf`).
    pub fn by_name(&self, name: &str) -> Result<Bdf, PciError> {
        let entries = self.xs.directory(PCI_INFO_PATH).unwrap_or_default();
        for entry in entries.iter().take(MAX_ENTRIES) {
            let Some(bdf) = Bdf::scan(entry, ['-', '-', '-']) else {
                continue;
            };
            if self.info_read(bdf, "name").as_deref() == Some(name) {
                (self.log)(Level::Detail, &format!("'{name}' -> {bdf}"));
                return Ok(bdf);
            }
        }
        Err(PciError::NameNotFound(name.to_string()))
    }

    /// `xl pci-assignable-remove`: out of quarantine and pciback, back to
    /// the driver it came from when `rebind`.
    pub fn assignable_remove(&self, bdf: Bdf, rebind: bool) -> Result<(), PciError> {
        if self.hv.deassign_device(DOMID_IO, bdf.sbdf()).is_err() {
            (self.log)(Level::Error, &format!("failed to de-quarantine {bdf}"));
            return Err(PciError::Failed("taking the device out of quarantine"));
        }
        match self.pciback_has(bdf) {
            None => return Err(PciError::Failed("reading pciback")),
            Some(true) => self.pciback_unassign(bdf),
            Some(false) => (self.log)(Level::Warn, "Not bound to pciback"),
        }
        match (self.info_read(bdf, "driver_path"), rebind) {
            (Some(driver), true) => {
                (self.log)(Level::Info, &format!("Rebinding to driver at {driver}"));
                let attr = Path::new(&driver).join("bind");
                if let Err(e) = self.write_bdf(&attr, bdf) {
                    self.error_os(&format!("Couldn't bind device to {driver}"), &e);
                    return Err(PciError::Failed("rebinding the device"));
                }
                self.info_remove(bdf, "driver_path");
            }
            (None, true) => (self.log)(
                Level::Warn,
                "Couldn't find path for original driver; not rebinding",
            ),
            (_, false) => {}
        }
        self.info_remove(bdf, "name");
        Ok(())
    }
}

/// libxl's return codes the messages quote.
const ERROR_FAIL: i32 = -3;
const ERROR_INVAL: i32 = -6;
const ERROR_NOTFOUND: i32 = -23;
/// How long libxl waits for pciback to reach a state (100 x 100 ms).
const BACKEND_WAIT: std::time::Duration = std::time::Duration::from_secs(10);
/// The sysfs `resource` lines libxl reads (PROC_PCI_NUM_RESOURCES).
const NUM_RESOURCES: usize = 7;
/// An I/O-port BAR in the sysfs `resource` flags (PCI_BAR_IO).
const PCI_BAR_IO: u64 = 0x1;
/// XenbusState values pciback's nodes use.
const STATE_INITIALISING: u32 = 1;
const STATE_CONNECTED: u32 = 4;
const STATE_CLOSING: u32 = 5;
const STATE_RECONFIGURING: u32 = 7;

/// A device as `pci-attach`/`pci-detach` and `pci=` name it: its
/// address or the name it was made assignable under, and its options.
#[derive(Clone, Debug)]
pub struct PciDevice {
    /// The host device's address, when named by address.
    pub bdf: Option<Bdf>,
    /// The name it was made assignable under, when named so.
    pub name: Option<String>,
    /// The guest's slot and function (`vslot=`), 0 to let the device model choose.
    pub vdevfn: u32,
    /// All functions (`*`) rather than the one named.
    pub all_functions: bool,
    /// `msitranslate=`: route MSIs through the device model.
    pub msitranslate: bool,
    /// `power_mgmt=`: let the guest manage the device's power states.
    pub power_mgmt: bool,
    /// `permissive=`: let the guest write all of its config space.
    pub permissive: bool,
    /// `seize=`: make it assignable first if it is not.
    pub seize: bool,
    /// `rdm_policy`: strict unless `relaxed`.
    pub rdm_relaxed: bool,
}

impl PciDevice {
    /// From a parsed `PCI_SPEC_STRING`.
    pub fn from_spec(p: &xl_config::domain::Pci) -> PciDevice {
        PciDevice {
            bdf: p.name.is_none().then_some(Bdf {
                domain: p.domain as u32,
                bus: p.bus.into(),
                dev: p.dev.into(),
                func: p.func.into(),
            }),
            name: p.name.clone(),
            vdevfn: p.vdevfn,
            all_functions: p.vfunc_mask == u32::MAX,
            msitranslate: p.msitranslate,
            power_mgmt: p.power_mgmt,
            permissive: p.permissive,
            seize: p.seize,
            rdm_relaxed: p.rdm_policy == Some("relaxed"),
        }
    }

    /// How libxl names the device in "failed for PCI device ...".
    fn ident(&self, bdf: Option<Bdf>) -> String {
        match (&self.name, bdf.or(self.bdf)) {
            (Some(n), _) => format!("'{n}'"),
            (None, Some(b)) => b.short(),
            (None, None) => String::new(),
        }
    }

    /// pciback's `opts-N` value.
    fn opts(&self) -> String {
        format!(
            "msitranslate={},power_mgmt={},permissive={},rdm_policy={}",
            u8::from(self.msitranslate),
            u8::from(self.power_mgmt),
            u8::from(self.permissive),
            if self.rdm_relaxed {
                "relaxed"
            } else {
                "strict"
            }
        )
    }
}

/// What pciback's xenstore entry says of one device.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Attached {
    /// The host device's address.
    pub bdf: Bdf,
    /// Its slot and function in the guest.
    pub vdevfn: u32,
}

fn backend_path(domid: u32) -> String {
    format!("/local/domain/0/backend/pci/{domid}/0")
}

impl PciHost<'_> {
    /// libxl__domain_type: PV unless Xen says HVM container, then the
    /// type libxl noted (an HVM container may be PVH).
    fn domain_kind(&self, domid: u32) -> Option<GuestKind> {
        let info = self.hv.domain(domid).ok().flatten()?;
        if !info.hvm {
            return Some(GuestKind::Pv);
        }
        match self
            .xs
            .try_read(&format!("/libxl/{domid}/type"))
            .ok()
            .flatten()
        {
            Some(t) => GuestKind::from_type_name(&t),
            None => Some(GuestKind::Hvm),
        }
    }

    fn dlog(&self, level: Level, domid: u32, msg: &str) {
        (self.log)(level, &format!("Domain {domid}:{msg}"));
    }

    /// The devices pciback serves a domain (libxl_device_pci_list); None
    /// when the domain has no PCI backend.
    pub fn attached(&self, domid: u32) -> Option<Vec<Attached>> {
        let be = backend_path(domid);
        let num = self.xs.try_read(&format!("{be}/num_devs")).ok().flatten()?;
        let num = crate::devlist::atoi(&num).clamp(0, MAX_ENTRIES as i32) as usize;
        let mut out = Vec::new();
        for i in 0..num {
            let read = |k: &str| self.xs.try_read(&format!("{be}/{k}-{i}")).ok().flatten();
            let bdf = read("dev")
                .and_then(|s| Bdf::from_sysfs(s.trim()))
                .unwrap_or(Bdf {
                    domain: 0,
                    bus: 0,
                    dev: 0,
                    func: 0,
                });
            let vdevfn = read("vdevfn")
                .and_then(|s| u32::from_str_radix(s.trim(), 16).ok())
                .unwrap_or(0);
            out.push(Attached { bdf, vdevfn });
        }
        Some(out)
    }

    /// libxl__device_pci_reset: pciback's function-level reset, else the
    /// device's own `reset`; failures are only logged.
    fn reset(&self, bdf: Bdf) {
        let flr = self.pciback().join("do_flr");
        match self.dom0.sysfs_write(&flr, &bdf.to_string()) {
            Ok(()) => return,
            Err(SysfsWriteError::Write(e)) => {
                self.error_os(&format!("write to {} returned -1", flr.display()), &e);
                return;
            }
            Err(SysfsWriteError::Open(e)) if e.kind() != ErrorKind::NotFound => {
                self.error_os(
                    &format!("Failed to access pciback path {}", flr.display()),
                    &e,
                );
            }
            Err(SysfsWriteError::Open(_)) => {}
        }
        let reset = self.device(bdf).join("reset");
        match self.dom0.sysfs_write(&reset, "1") {
            Ok(()) => {}
            Err(SysfsWriteError::Write(e)) => {
                self.error_os(&format!("write to {} returned -1", reset.display()), &e);
            }
            Err(SysfsWriteError::Open(e)) if e.kind() == ErrorKind::NotFound => (self.log)(
                Level::Error,
                &format!("The kernel doesn't support reset from sysfs for PCI device {bdf}"),
            ),
            Err(SysfsWriteError::Open(e)) => {
                self.error_os(
                    &format!("Failed to access reset path {}", reset.display()),
                    &e,
                );
            }
        }
    }

    /// The device's BARs (start, size, flags) from its sysfs `resource`.
    fn resources(&self, bdf: Bdf) -> std::io::Result<Vec<(u64, u64, u64)>> {
        let text = std::fs::read_to_string(self.device(bdf).join("resource"))?;
        let hex = |s: &str| u64::from_str_radix(s.strip_prefix("0x")?, 16).ok();
        Ok(text
            .lines()
            .take(NUM_RESOURCES)
            .filter_map(|l| {
                let mut f = l.split_whitespace();
                let (start, end, flags) = (hex(f.next()?)?, hex(f.next()?)?, hex(f.next()?)?);
                (start != 0).then(|| (start, end.wrapping_sub(start).wrapping_add(1), flags))
            })
            .collect())
    }

    /// The device's legacy IRQ (0: none).
    fn irq(&self, bdf: Bdf) -> std::io::Result<u32> {
        let text = std::fs::read_to_string(self.device(bdf).join("irq"))?;
        Ok(text.trim().parse().unwrap_or(0))
    }

    /// Wait for pciback to reach `state` (libxl__wait_for_backend).
    fn wait_backend(&self, domid: u32, state: u32) -> Result<(), ()> {
        let be = backend_path(domid);
        let path = format!("{be}/state");
        let deadline = std::time::Instant::now() + BACKEND_WAIT;
        loop {
            match self.xs.try_read(&path).ok().flatten() {
                None => {
                    (self.log)(Level::Error, &format!("Backend {be} does not exist"));
                    return Err(());
                }
                Some(s) if s.trim() == state.to_string() => return Ok(()),
                Some(_) if std::time::Instant::now() >= deadline => {
                    (self.log)(Level::Error, &format!("Backend {be} not ready"));
                    return Err(());
                }
                Some(_) => std::thread::sleep(std::time::Duration::from_millis(100)),
            }
        }
    }

    /// `xl pci-attach` (and `pci=` at create, `starting`): the device
    /// checked assignable, given the domain's resources and to the
    /// domain in Xen, then to its pciback (PV guests). A failure takes
    /// back the device's `domid` note, as libxl does.
    pub fn attach(
        &self,
        host: &Host,
        domid: u32,
        dev: &PciDevice,
        starting: bool,
    ) -> Result<(), PciError> {
        let mut bdf = dev.bdf;
        let r = self.attach_steps(host, domid, dev, starting, &mut bdf);
        if let Err(rc) = r {
            self.dlog(
                Level::Error,
                domid,
                &format!(
                    "libxl__device_pci_add failed for PCI device {} (rc {rc})",
                    dev.ident(bdf)
                ),
            );
            if let Some(b) = bdf {
                self.info_remove(b, "domid");
            }
            return Err(PciError::Failed("adding the PCI device"));
        }
        Ok(())
    }

    fn attach_steps(
        &self,
        host: &Host,
        domid: u32,
        dev: &PciDevice,
        starting: bool,
        bdf_out: &mut Option<Bdf>,
    ) -> Result<(), i32> {
        let bdf = match (&dev.name, dev.bdf) {
            (Some(n), _) => self.by_name(n).map_err(|_| ERROR_NOTFOUND)?,
            (None, Some(b)) => b,
            (None, None) => return Err(ERROR_INVAL),
        };
        *bdf_out = Some(bdf);
        let kind = self.domain_kind(domid);
        let hvm = kind == Some(GuestKind::Hvm);
        if hvm && let Err(e) = self.hv.test_assign_device(domid, bdf.sbdf()) {
            let why = if errno_of(&e) == Some(rustix::io::Errno::OPNOTSUPP) {
                "cannot be assigned - no IOMMU"
            } else {
                "already assigned to a different guest"
            };
            self.dlog(
                Level::Error,
                domid,
                &format!(
                    "PCI device {:04x}:{:02x}:{:02x}.{} {why}?",
                    bdf.domain, bdf.bus, bdf.dev, bdf.func
                ),
            );
            return Err(-1);
        }
        if dev.seize && self.pciback_has(bdf) == Some(false) {
            self.assignable_add(bdf, None, true)
                .map_err(|_| ERROR_FAIL)?;
        }
        self.check_assignable(domid, bdf)?;
        self.info_write(bdf, "domid", &domid.to_string());
        self.reset(bdf);
        if dev.all_functions {
            self.dlog(
                Level::Error,
                domid,
                "passing all functions of a device (`*`) is not supported by this xl yet",
            );
            return Err(ERROR_INVAL);
        }
        if hvm {
            self.dlog(
                Level::Error,
                domid,
                "giving a PCI device to an HVM guest's device model is not implemented in this xl yet",
            );
            return Err(ERROR_FAIL);
        }
        self.grant_resources(domid, bdf, dev)?;
        let flags_relaxed = dev.rdm_relaxed;
        if let Err(e) = self.hv.assign_device(domid, bdf.sbdf(), flags_relaxed)
            && errno_of(&e) != Some(rustix::io::Errno::NOSYS)
        {
            self.error_os_dom(domid, "xc_assign_device failed", &e);
            return Err(ERROR_FAIL);
        }
        let Some(kind) = kind else {
            return Err(ERROR_FAIL);
        };
        self.add_xenstore(host, domid, kind, bdf, dev, starting)
    }

    /// The device must be bound to pciback and given to no domain.
    fn check_assignable(&self, domid: u32, bdf: Bdf) -> Result<(), i32> {
        let list = match self.assignable_list() {
            Ok(l) => l,
            Err(e) => {
                let detail = match &e {
                    PciError::Open { source, .. } => format!("{e}: {}", strerror(source)),
                    _ => e.to_string(),
                };
                (self.log)(Level::Error, &detail);
                Vec::new()
            }
        };
        if list.iter().any(|a| a.bdf == bdf) {
            return Ok(());
        }
        self.dlog(
            Level::Error,
            domid,
            &format!("PCI device {} is not assignable", bdf.short()),
        );
        Err(ERROR_FAIL)
    }

    fn error_os_dom(&self, domid: u32, what: &str, e: &crate::Error) {
        self.dlog(
            Level::Error,
            domid,
            &format!("{what}: {}", crate::innermost_cause(e)),
        );
    }

    /// A PV guest's access to the device: its BARs' memory and ports,
    /// its interrupt, and pciback's permissive mode when asked.
    fn grant_resources(&self, domid: u32, bdf: Bdf, dev: &PciDevice) -> Result<(), i32> {
        let path = self.device(bdf).join("resource");
        let bars = self.resources(bdf).map_err(|e| {
            self.dlog(
                Level::Error,
                domid,
                &format!("Couldn't open {}: {}", path.display(), strerror(&e)),
            );
            ERROR_FAIL
        })?;
        for (start, size, flags) in bars {
            let (range, what) = if flags & PCI_BAR_IO != 0 {
                (
                    IoRange::Ports(start as u32, size as u32),
                    "xc_domain_ioport_permission",
                )
            } else {
                (
                    IoRange::Mem(start >> 12, size.div_ceil(4096)),
                    "xc_domain_iomem_permission",
                )
            };
            if let Err(e) = self.hv.io_permission(domid, range, true) {
                self.error_os_dom(
                    domid,
                    &format!("{what} {start:#x}/{size:#x} (error -1)"),
                    &e,
                );
                return Err(ERROR_FAIL);
            }
        }
        match self.irq(bdf) {
            Err(e) => {
                let p = self.device(bdf).join("irq");
                self.dlog(
                    Level::Error,
                    domid,
                    &format!("Couldn't open {}: {}", p.display(), strerror(&e)),
                );
                return Ok(());
            }
            Ok(0) => {}
            Ok(irq) => {
                let pirq = self.hv.map_pirq(domid, irq).map_err(|e| {
                    self.error_os_dom(
                        domid,
                        &format!("xc_physdev_map_pirq irq={irq} (error=-1)"),
                        &e,
                    );
                    ERROR_FAIL
                })?;
                if let Err(e) = self.hv.io_permission(domid, IoRange::Irq(pirq), true) {
                    self.error_os_dom(
                        domid,
                        &format!("xc_domain_irq_permission irq={pirq} (error=-1)"),
                        &e,
                    );
                    return Err(ERROR_FAIL);
                }
            }
        }
        if dev.permissive
            && self
                .dom0
                .sysfs_write(&self.pciback().join("permissive"), &bdf.to_string())
                .is_err()
        {
            self.dlog(Level::Error, domid, "Setting permissive for device");
            return Err(ERROR_FAIL);
        }
        Ok(())
    }

    /// pciback's entry for the device (the backend made with the first),
    /// and for a hot-plug the stored configuration gains it.
    fn add_xenstore(
        &self,
        host: &Host,
        domid: u32,
        kind: GuestKind,
        bdf: Bdf,
        dev: &PciDevice,
        starting: bool,
    ) -> Result<(), i32> {
        let be = backend_path(domid);
        let num_devs = self.xs.try_read(&format!("{be}/num_devs")).ok().flatten();
        if num_devs.is_some() && !starting && kind == GuestKind::Pv {
            self.wait_backend(domid, STATE_CONNECTED)
                .map_err(|()| ERROR_FAIL)?;
        }
        let num = num_devs.as_deref().map_or(0, crate::devlist::atoi).max(0);
        let mut back = vec![
            (format!("key-{num}"), bdf.to_string()),
            (format!("dev-{num}"), bdf.to_string()),
        ];
        if dev.vdevfn != 0 {
            back.push((format!("vdevfn-{num}"), format!("{:x}", dev.vdevfn)));
        }
        if let Some(n) = &dev.name {
            back.push((format!("name-{num}"), n.clone()));
        }
        back.push((format!("opts-{num}"), dev.opts()));
        back.push((format!("state-{num}"), STATE_INITIALISING.to_string()));
        back.push(("num_devs".into(), (num + 1).to_string()));
        if num > 0 && !starting {
            back.push(("state".into(), STATE_RECONFIGURING.to_string()));
        }
        let stored = if starting {
            None
        } else {
            Some(self.stored_with(host, domid, bdf, dev)?)
        };
        let name = self
            .xs
            .try_read(&format!("/local/domain/{domid}/name"))
            .ok()
            .flatten()
            .unwrap_or_default();
        let r = self.xs.transaction(|t| -> Result<(), xenstore::Error> {
            t.batch(|b| {
                if num_devs.is_none() {
                    create_backend(b, domid, &name)?;
                }
                for (k, v) in &back {
                    b.write(&format!("{be}/{k}"), v)?;
                }
                Ok(())
            })
        });
        if let Err(e) = r {
            if let Some(before) = &stored {
                let _ = self.restore_stored(host, domid, before);
            }
            (self.log)(Level::Error, &crate::error_chain(&e));
            return Err(ERROR_FAIL);
        }
        Ok(())
    }

    /// The stored configuration with the device added (libxl's
    /// device_add_domain_config), written; what it was before, to undo.
    fn stored_with(
        &self,
        host: &Host,
        domid: u32,
        bdf: Bdf,
        dev: &PciDevice,
    ) -> Result<String, i32> {
        let info = self.hv.domain(domid).ok().flatten().ok_or(ERROR_FAIL)?;
        let lib = &host.paths.lib;
        let fail = |e: &dyn std::error::Error| {
            (self.log)(Level::Error, &crate::error_chain(e));
            ERROR_FAIL
        };
        let _lock = crate::userdata::lock(lib, domid, &info.uuid).map_err(|e| fail(&e))?;
        let before = crate::userdata::read_file(&crate::userdata::path(
            lib,
            domid,
            &info.uuid,
            'd',
            "libxl-json",
        ))
        .map_err(|e| fail(&e))?;
        let before = String::from_utf8_lossy(before.split(|c| *c == 0).next().unwrap_or_default())
            .into_owned();
        let mut config =
            crate::retrieve::read_stored(lib, domid, &info.uuid).map_err(|e| fail(&e))?;
        let entry = stored_entry(bdf, dev);
        crate::hotplug::with_device(&mut config, "pcidevs", entry, same_pci);
        crate::hotplug::store(lib, domid, &info.uuid, &config.to_yajl()).map_err(|e| fail(&e))?;
        Ok(before)
    }

    /// `xl pci-detach` (`force`: `-f`, and destroy's removal): the
    /// domain's access taken back, the device reset and taken from the
    /// domain in Xen, its pciback entry removed. Without `force` a device
    /// the domain does not have is refused; with it libxl carries on and
    /// reports success.
    pub fn detach(&self, domid: u32, dev: &PciDevice, force: bool) -> Result<(), PciError> {
        const FAIL: PciError = PciError::Failed("removing the PCI device");
        let bdf = match (&dev.name, dev.bdf) {
            (Some(n), _) => self.by_name(n).map_err(|_| FAIL)?,
            (None, Some(b)) => b,
            (None, None) => return Err(FAIL),
        };
        if dev.all_functions {
            self.dlog(
                Level::Error,
                domid,
                "removing all functions of a device (`*`) is not supported by this xl yet",
            );
            return Err(FAIL);
        }
        let kind = self.domain_kind(domid);
        let hvm = kind == Some(GuestKind::Hvm);
        let attached = match self.attached(domid) {
            None => false,
            Some(list) if list.iter().any(|a| a.bdf == bdf) => true,
            Some(_) => {
                self.dlog(
                    Level::Error,
                    domid,
                    "PCI device not attached to this domain",
                );
                false
            }
        };
        if !attached && !force {
            return Err(FAIL);
        }
        if attached && hvm {
            self.dlog(
                Level::Error,
                domid,
                "taking a PCI device from an HVM guest's device model is not implemented in this xl yet",
            );
            return Err(FAIL);
        }
        if attached {
            self.revoke_resources(domid, bdf);
        }
        self.reset(bdf);
        if let Err(e) = self.hv.deassign_device(domid, bdf.sbdf())
            && (hvm || errno_of(&e) != Some(rustix::io::Errno::NOSYS))
        {
            self.error_os_dom(domid, "xc_deassign_device failed", &e);
        }
        // libxl goes on whatever this says.
        let _ = self.remove_xenstore(domid, bdf, kind == Some(GuestKind::Pv));
        self.info_remove(bdf, "domid");
        Ok(())
    }

    /// A PV guest's BARs, ports and interrupt taken back; failures are
    /// logged only.
    fn revoke_resources(&self, domid: u32, bdf: Bdf) {
        match self.resources(bdf) {
            Err(e) => {
                let p = self.device(bdf).join("resource");
                self.dlog(
                    Level::Error,
                    domid,
                    &format!("Couldn't open {}: {}", p.display(), strerror(&e)),
                );
            }
            Ok(bars) => {
                for (start, size, flags) in bars {
                    let (range, what) = if flags & PCI_BAR_IO != 0 {
                        (
                            IoRange::Ports(start as u32, size as u32),
                            "xc_domain_ioport_permission",
                        )
                    } else {
                        (
                            IoRange::Mem(start >> 12, size.div_ceil(4096)),
                            "xc_domain_iomem_permission",
                        )
                    };
                    if let Err(e) = self.hv.io_permission(domid, range, false) {
                        self.error_os_dom(domid, &format!("{what} error {start:#x}/{size:#x}"), &e);
                    }
                }
            }
        }
        match self.irq(bdf) {
            Err(e) => {
                let p = self.device(bdf).join("irq");
                self.dlog(
                    Level::Error,
                    domid,
                    &format!("Couldn't open {}: {}", p.display(), strerror(&e)),
                );
            }
            Ok(0) => {}
            Ok(irq) => {
                if let Err(e) = self.hv.unmap_pirq(domid, irq) {
                    self.error_os_dom(domid, &format!("xc_physdev_unmap_pirq irq={irq}"), &e);
                }
                if let Err(e) = self.hv.io_permission(domid, IoRange::Irq(irq), false) {
                    self.error_os_dom(domid, &format!("xc_domain_irq_permission irq={irq}"), &e);
                }
            }
        }
    }

    /// libxl__device_pci_remove_xenstore: the entry closed, then removed
    /// and the later ones moved down; the last device takes the backend
    /// and frontend with it.
    fn remove_xenstore(&self, domid: u32, bdf: Bdf, pv: bool) -> Result<(), ()> {
        let be = backend_path(domid);
        let Some(list) = self.attached(domid) else {
            return Err(());
        };
        if pv && self.wait_backend(domid, STATE_CONNECTED).is_err() {
            return Err(());
        }
        let Some(i) = list.iter().position(|a| a.bdf == bdf) else {
            self.dlog(Level::Error, domid, "Couldn't find the device on xenstore");
            return Err(());
        };
        let num = list.len();
        let _ = self.xs.transaction(|t| -> Result<(), xenstore::Error> {
            t.write(&format!("{be}/state-{i}"), &STATE_CLOSING.to_string())?;
            t.write(&format!("{be}/state"), &STATE_RECONFIGURING.to_string())
        });
        if pv && self.wait_backend(domid, STATE_CONNECTED).is_err() {
            return Err(());
        }
        const KEYS: [&str; 7] = ["state", "key", "dev", "vdev", "opts", "vdevfn", "name"];
        let _ = self.xs.transaction(|t| -> Result<(), xenstore::Error> {
            for k in KEYS {
                let _ = t.rm(&format!("{be}/{k}-{i}"));
            }
            t.write(&format!("{be}/num_devs"), &(num - 1).to_string())?;
            for j in i + 1..num {
                for k in KEYS {
                    let from = format!("{be}/{k}-{j}");
                    if let Some(v) = t.try_read(&from)? {
                        t.write(&format!("{be}/{k}-{}", j - 1), &v)?;
                        let _ = t.rm(&from);
                    }
                }
            }
            Ok(())
        });
        if num == 1 {
            let _ = crate::destroy::path_cleanup(self.xs, &be);
            let _ = crate::destroy::path_cleanup(
                self.xs,
                &format!("/local/domain/{domid}/device/pci/0"),
            );
        }
        Ok(())
    }

    /// Every device of a dying domain, forced off (destroy's
    /// libxl__device_pci_destroy_all).
    pub fn detach_all(&self, domid: u32) {
        for a in self.attached(domid).unwrap_or_default() {
            let dev = PciDevice {
                bdf: Some(a.bdf),
                name: None,
                vdevfn: a.vdevfn,
                all_functions: false,
                msitranslate: false,
                power_mgmt: false,
                permissive: false,
                seize: false,
                rdm_relaxed: false,
            };
            let _ = self.detach(domid, &dev, true);
        }
    }

    fn restore_stored(&self, host: &Host, domid: u32, text: &str) -> Option<()> {
        let info = self.hv.domain(domid).ok().flatten()?;
        let _lock = crate::userdata::lock(&host.paths.lib, domid, &info.uuid).ok()?;
        crate::hotplug::store(&host.paths.lib, domid, &info.uuid, text).ok()
    }
}

/// libxl's checks of a device's name: at most 64 characters, each
/// printable and not blank.
fn check_name(name: &str) -> Result<(), &'static str> {
    if name.len() > MAX_NAME {
        return Err("Name too long");
    }
    if !name.bytes().all(|b| b.is_ascii_graphic()) {
        return Err("Names may only include printable characters");
    }
    Ok(())
}

/// A copy of an OS error (io::Error is not Clone).
fn clone_io(e: &std::io::Error) -> std::io::Error {
    match e.raw_os_error() {
        Some(n) => std::io::Error::from_raw_os_error(n),
        None => std::io::Error::new(e.kind(), e.to_string()),
    }
}

/// The errno a hypervisor call failed with, if it says.
fn errno_of(e: &crate::Error) -> Option<rustix::io::Errno> {
    let mut cur: Option<&dyn std::error::Error> = Some(e);
    while let Some(c) = cur {
        if let Some(io) = c.downcast_ref::<std::io::Error>() {
            return io.raw_os_error().map(rustix::io::Errno::from_raw_os_error);
        }
        cur = c.source();
    }
    None
}

/// libxl__create_pci_backend: the backend and frontend directories with
/// their permissions (the domain reads its backend, dom0 its frontend).
fn create_backend(t: &xenstore::Batch, domid: u32, name: &str) -> Result<(), xenstore::Error> {
    let be = backend_path(domid);
    let fe = format!("/local/domain/{domid}/device/pci/0");
    t.rm_if_present(&be)?;
    t.mkdir(&be)?;
    t.set_perms(
        &be,
        &[Perm::new(0, Access::None), Perm::new(domid, Access::Read)],
    )?;
    for (k, v) in [
        ("frontend", fe.clone()),
        ("frontend-id", domid.to_string()),
        ("online", "1".into()),
        ("state", STATE_INITIALISING.to_string()),
        ("domain", name.to_string()),
    ] {
        t.write(&format!("{be}/{k}"), &v)?;
    }
    t.rm_if_present(&fe)?;
    t.mkdir(&fe)?;
    t.set_perms(
        &fe,
        &[Perm::new(domid, Access::None), Perm::new(0, Access::Read)],
    )?;
    for (k, v) in [
        ("backend", be.clone()),
        ("backend-id", "0".into()),
        ("state", STATE_INITIALISING.to_string()),
    ] {
        t.write(&format!("{fe}/{k}"), &v)?;
    }
    Ok(())
}

/// The device's entry in the stored configuration (`pcidevs`).
fn stored_entry(bdf: Bdf, dev: &PciDevice) -> xl_config::json::Json {
    let p = xl_config::domain::Pci {
        func: bdf.func as u8,
        dev: bdf.dev as u8,
        bus: bdf.bus as u8,
        domain: i64::from(bdf.domain),
        vdevfn: dev.vdevfn,
        vfunc_mask: if dev.all_functions { u32::MAX } else { 1 },
        msitranslate: dev.msitranslate,
        power_mgmt: dev.power_mgmt,
        permissive: dev.permissive,
        seize: dev.seize,
        rdm_policy: Some(if dev.rdm_relaxed { "relaxed" } else { "strict" }),
        name: dev.name.clone(),
    };
    xl_config::domain::pci_json(&p)
}

/// libxl's COMPARE_PCI: the same address.
fn same_pci(a: &xl_config::json::Json, b: &xl_config::json::Json) -> bool {
    let key =
        |j: &xl_config::json::Json| ["domain", "bus", "dev", "func"].map(|k| j.get(k).cloned());
    key(a) == key(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_read_and_print_as_libxl_does() {
        let b = Bdf::from_sysfs("0000:00:1f.3").expect("parses");
        assert_eq!(
            b,
            Bdf {
                domain: 0,
                bus: 0,
                dev: 0x1f,
                func: 3
            }
        );
        assert_eq!(b.to_string(), "0000:00:1f.3");
        assert_eq!(b.xs_name(), "0000-00-1f-3");
        assert_eq!(b.short(), "0:0:1f.3");
        assert_eq!(b.sbdf(), 0xfb);
        assert_eq!(
            Bdf::scan("0000-00-10-0", ['-', '-', '-']).map(|b| b.dev),
            Some(0x10)
        );
        assert_eq!(Bdf::from_sysfs("new_slot"), None);
        assert_eq!(Bdf::from_sysfs("0000:00:1f"), None);
    }

    #[test]
    fn names_are_checked_as_libxl_checks_them() {
        assert_eq!(check_name("nic0"), Ok(()));
        assert_eq!(
            check_name("a b"),
            Err("Names may only include printable characters")
        );
        assert_eq!(check_name(&"x".repeat(65)), Err("Name too long"));
        assert_eq!(check_name(&"x".repeat(64)), Ok(()));
    }
}
