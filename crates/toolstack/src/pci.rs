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

use xenstore::{Xs, XsOps};

use crate::{DOMID_IO, Dom0, Host, Hypervisor, SysfsWriteError, strerror};

/// libxl's log levels, those this module uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Debug,
    Detail,
    Info,
    Warn,
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
    pub domain: u32,
    pub bus: u32,
    pub dev: u32,
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
    #[error("Couldn't open {path}")]
    Open {
        path: String,
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
    pub bdf: Bdf,
    pub name: Option<String>,
}

impl<'a> PciHost<'a> {
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
