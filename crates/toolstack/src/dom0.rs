//! What dom0's services do for the toolstack: hotplug scripts, device
//! models (QEMU and its QMP socket), and the backends' I/O counters.

use std::path::Path;

use xenstore::Xs;

use crate::bootloader::{BootFiles, BootloaderRun};
use crate::{DmBinarySource, DmSpec, Error, HotplugDevice, stats::IoStats};

/// The dom0 half of the backend seam.
///
/// Required: hotplug scripts, which every scripted backend device needs.
/// Device models serve only HVM guests and QEMU-backed disks, and I/O
/// counters only statistics: they answer [`Error::Unsupported`] unless a
/// backend has them.
pub trait Dom0 {
    /// Run a device's hotplug script (`add`/`online` when `add`, else
    /// `remove`/`offline`); the script reports in the backend's
    /// `hotplug-status`, and its error text is returned.
    fn hotplug(&self, xs: &Xs, dev: &HotplugDevice, add: bool) -> Result<(), Error>;

    /// Whether a device model binary can be started, checked before a
    /// domain is made. Backends that run no real binary have nothing to
    /// check.
    fn check_device_model(&self, _binary: &str, _source: DmBinarySource) -> Result<(), Error> {
        Ok(())
    }
    /// Start a domain's device model and wait until it is running.
    /// Records its pid in `image/device-model-pid` (where destroy finds
    /// it) and returns it.
    fn spawn_device_model(&self, _xs: &Xs, _spec: &DmSpec) -> Result<u32, Error> {
        Err(Error::Unsupported("starting a device model"))
    }
    /// Let a paused device model run again (QMP `cont`), before an HVM
    /// guest's vCPUs are unpaused.
    fn resume_device_model(&self, _domid: u32, _uuid: &[u8; 16]) -> Result<(), Error> {
        Err(Error::Unsupported("resuming a device model"))
    }
    /// Stop the device model and return its saved state (QEMU's
    /// migration stream), taken while the guest is suspended; `None` when
    /// it has none to keep.
    fn save_device_model(&self, _domid: u32, _uuid: &[u8; 16]) -> Result<Option<Vec<u8>>, Error> {
        Err(Error::Unsupported("saving a device model's state"))
    }
    /// Empty an HVM guest's emulated CD drive (`ide-<devid>`), as QMP
    /// `eject` does.
    fn eject_cdrom(&self, _domid: u32, _uuid: &[u8; 16], _devid: u32) -> Result<(), Error> {
        Err(Error::Unsupported("changing an emulated CD"))
    }
    /// Put the image at `path` (in `format`: raw, qcow2, ...) into an
    /// emptied emulated CD drive.
    fn insert_cdrom(
        &self,
        _domid: u32,
        _uuid: &[u8; 16],
        _devid: u32,
        _path: &str,
        _format: &str,
    ) -> Result<(), Error> {
        Err(Error::Unsupported("changing an emulated CD"))
    }
    /// Run a command of QEMU's human monitor (`xl qemu-monitor-command`,
    /// QMP `human-monitor-command`) and return what it printed.
    fn monitor_command(&self, _domid: u32, _uuid: &[u8; 16], _cmd: &str) -> Result<String, Error> {
        Err(Error::Unsupported("QEMU's monitor"))
    }
    /// Wake the guest from ACPI S3 through its device model (QMP
    /// `system_wakeup`); QMP failures stay typed ([`Error::Qmp`]) for
    /// libxl's rc.
    fn wakeup_device_model(&self, _domid: u32, _uuid: &[u8; 16]) -> Result<(), Error> {
        Err(Error::Unsupported(
            "waking a guest through its device model",
        ))
    }
    /// Run one QMP command on the domain's device model; its answer.
    fn qmp_command(
        &self,
        _domid: u32,
        _uuid: &[u8; 16],
        _cmd: &str,
        _args: serde_json::Value,
    ) -> Result<serde_json::Value, Error> {
        Err(Error::Unsupported("QEMU's QMP commands"))
    }
    /// Stop a domain's device model (no-op when none runs).
    fn kill_device_model(&self, _xs: &Xs, _domid: u32) -> Result<(), Error> {
        Err(Error::Unsupported("stopping a device model"))
    }
    /// The vCPUs (by index) an HVM domain's device model has present, as
    /// QEMU reports them (QMP `query-cpus-fast`).
    fn device_model_cpus(&self, _domid: u32, _uuid: &[u8; 16]) -> Result<Vec<u32>, Error> {
        Err(Error::Unsupported("asking a device model for its vCPUs"))
    }
    /// Plug vCPUs `0..count` an HVM domain's device model lacks into it
    /// (QMP CPU hotplug, as libxl_set_vcpuonline); the guest's ACPI then
    /// sees them. QEMU cannot unplug: fewer vCPUs change nothing there.
    fn plug_device_model_cpus(
        &self,
        _domid: u32,
        _uuid: &[u8; 16],
        _count: u32,
    ) -> Result<(), Error> {
        Err(Error::Unsupported("adding vCPUs to a device model"))
    }
    /// Run a PV guest's bootloader (pygrub) over its boot disk; its kernel,
    /// ramdisk and arguments are what the domain builder loads.
    fn run_bootloader(&self, _run: &BootloaderRun) -> Result<BootFiles, Error> {
        Err(Error::Unsupported("running a bootloader"))
    }
    /// Write `value` to a sysfs attribute (a PCI driver's `bind`,
    /// `unbind`, pciback's `new_slot`, ...), for the kernel to act on.
    /// The file must exist: it is opened for writing, never created.
    fn sysfs_write(&self, path: &Path, value: &str) -> Result<(), SysfsWriteError> {
        use std::io::Write;
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .open(path)
            .map_err(SysfsWriteError::Open)?;
        f.write_all(value.as_bytes())
            .map_err(SysfsWriteError::Write)
    }
    /// dom0-side I/O counters (vifs, block backends) of the listed
    /// domains, as the backend kernel and device models report them.
    fn io_stats(&self, _xs: &Xs, _domids: &[u32]) -> Result<IoStats, Error> {
        Err(Error::Unsupported("reading I/O counters"))
    }
}

/// Why a sysfs attribute took no value: libxl words the two apart.
#[derive(Debug, thiserror::Error)]
pub enum SysfsWriteError {
    /// The attribute could not be opened for writing.
    #[error("cannot open the attribute")]
    Open(#[source] std::io::Error),
    /// The kernel refused the written value.
    #[error("the kernel refused the value")]
    Write(#[source] std::io::Error),
}

impl SysfsWriteError {
    /// The OS error either way.
    pub fn io(&self) -> &std::io::Error {
        match self {
            SysfsWriteError::Open(e) | SysfsWriteError::Write(e) => e,
        }
    }
}
