//! The simulated host's PCI devices, as dom0's kernel shows them in sysfs
//! (`<state dir>/sys/bus/pci`): a tree of real files and symbolic links
//! that the toolstack reads as it reads /sys, and the kernel's side of the
//! attributes it writes (`bind`, `unbind`, pciback's `new_slot`, ...).
//!
//! The host has an IOMMU: devices can be quarantined and assigned (the
//! hypervisor side keeps who owns each device, see [`crate::host`]).

use std::fs;
use std::io;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};

use rustix::io::Errno;
use xl_toolstack::SysfsWriteError;

/// One device of the simulated host.
pub struct SimPciDev {
    /// Its sysfs name (`0000:00:10.0`).
    pub name: &'static str,
    /// The sysfs `vendor`, `device`, `class` attributes.
    pub ids: [&'static str; 3],
    /// The driver dom0's kernel binds it to at boot, if any.
    pub driver: Option<&'static str>,
    /// Its BARs as the sysfs `resource` file lists them (start, end,
    /// flags).
    pub resources: &'static [(u64, u64, u64)],
    /// Its legacy IRQ.
    pub irq: u32,
}

/// A NIC bound to its driver, and a device no driver claims.
pub const DEVICES: &[SimPciDev] = &[
    SimPciDev {
        name: "0000:00:03.0",
        ids: ["0x8086", "0x100e", "0x020000"],
        driver: Some("e1000"),
        resources: &[
            (0xfeb8_0000, 0xfeb9_ffff, 0x40200),
            (0xc000, 0xc03f, 0x40101),
        ],
        irq: 11,
    },
    SimPciDev {
        name: "0000:00:10.0",
        ids: ["0x1234", "0x11e8", "0x00ff00"],
        driver: None,
        resources: &[(0xfe00_0000, 0xfe0f_ffff, 0x40200)],
        irq: 10,
    },
];

/// The drivers dom0's kernel has: pciback and the devices' own.
const DRIVERS: &[&str] = &["pciback", "e1000"];
/// The attributes every driver directory has.
const DRIVER_ATTRS: &[&str] = &["bind", "unbind", "new_id", "remove_id"];
/// pciback's own attributes.
const PCIBACK_ATTRS: &[&str] = &["new_slot", "remove_slot", "permissive", "slots"];

fn bus(sysfs: &Path) -> PathBuf {
    sysfs.join("bus/pci")
}

/// The PCI sysfs of a freshly booted host, made once per state directory.
pub fn populate(sysfs: &Path) -> io::Result<()> {
    let bus = bus(sysfs);
    if bus.exists() {
        return Ok(());
    }
    for drv in DRIVERS {
        let dir = bus.join("drivers").join(drv);
        fs::create_dir_all(&dir)?;
        for attr in DRIVER_ATTRS {
            fs::write(dir.join(attr), "")?;
        }
    }
    for attr in PCIBACK_ATTRS {
        fs::write(bus.join("drivers/pciback").join(attr), "")?;
    }
    for d in DEVICES {
        let dir = bus.join("devices").join(d.name);
        fs::create_dir_all(&dir)?;
        for (attr, v) in ["vendor", "device", "class"].iter().zip(d.ids) {
            fs::write(dir.join(attr), format!("{v}\n"))?;
        }
        // The kernel lists 13 resources, unused ones as zeros.
        let mut res = String::new();
        for i in 0..13 {
            let (s, e, f) = d.resources.get(i).copied().unwrap_or((0, 0, 0));
            res.push_str(&format!("0x{s:016x} 0x{e:016x} 0x{f:016x}\n"));
        }
        fs::write(dir.join("resource"), res)?;
        fs::write(dir.join("irq"), format!("{}\n", d.irq))?;
        fs::write(dir.join("reset"), "")?;
        if let Some(drv) = d.driver {
            bind(&bus, d.name, drv)?;
        }
    }
    Ok(())
}

fn bind(bus: &Path, dev: &str, drv: &str) -> io::Result<()> {
    let drv_dir = bus.join("drivers").join(drv);
    symlink(&drv_dir, bus.join("devices").join(dev).join("driver"))?;
    symlink(bus.join("devices").join(dev), drv_dir.join(dev))
}

fn unbind(bus: &Path, dev: &str, drv: &str) -> io::Result<()> {
    fs::remove_file(bus.join("devices").join(dev).join("driver"))?;
    fs::remove_file(bus.join("drivers").join(drv).join(dev))
}

fn errno(e: Errno) -> io::Error {
    io::Error::from_raw_os_error(e.raw_os_error())
}

/// The driver a device is bound to, by name.
fn driver_of(bus: &Path, dev: &str) -> Option<String> {
    let target = fs::read_link(bus.join("devices").join(dev).join("driver")).ok()?;
    Some(target.file_name()?.to_string_lossy().into_owned())
}

fn slots(pciback: &Path) -> Vec<String> {
    fs::read_to_string(pciback.join("slots"))
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}

/// What dom0's kernel does when `value` is written to the attribute at
/// `path`; paths outside the simulated PCI sysfs are refused.
pub fn write(sysfs: &Path, path: &Path, value: &str) -> Result<(), SysfsWriteError> {
    let bus = bus(sysfs);
    let open = |e: Errno| SysfsWriteError::Open(errno(e));
    let rel = path
        .strip_prefix(bus.join("drivers"))
        .map_err(|_| open(Errno::ACCESS))?;
    let parts: Vec<_> = rel
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    let [drv, attr] = parts.as_slice() else {
        return Err(open(Errno::NOENT));
    };
    if !path.is_file() {
        return Err(open(Errno::NOENT));
    }
    let refuse = |e: Errno| SysfsWriteError::Write(errno(e));
    let dev = value.trim();
    let known = DEVICES.iter().any(|d| d.name == dev);
    let pciback = bus.join("drivers/pciback");
    match attr.as_str() {
        "bind" => {
            if !known || driver_of(&bus, dev).is_some() {
                return Err(refuse(Errno::NODEV));
            }
            // pciback takes only the devices it has a slot for.
            if drv == "pciback" && !slots(&pciback).iter().any(|s| s == dev) {
                return Err(refuse(Errno::NODEV));
            }
            bind(&bus, dev, drv).map_err(SysfsWriteError::Write)
        }
        "unbind" => {
            if driver_of(&bus, dev).as_deref() != Some(drv.as_str()) {
                return Err(refuse(Errno::NODEV));
            }
            unbind(&bus, dev, drv).map_err(SysfsWriteError::Write)
        }
        "new_slot" if drv == "pciback" => {
            if !known {
                return Err(refuse(Errno::INVAL));
            }
            let mut s = slots(&pciback);
            s.push(dev.to_string());
            fs::write(pciback.join("slots"), s.join("\n") + "\n").map_err(SysfsWriteError::Write)
        }
        "remove_slot" if drv == "pciback" => {
            let mut s = slots(&pciback);
            let Some(at) = s.iter().position(|x| x == dev) else {
                return Err(refuse(Errno::NOENT));
            };
            s.remove(at);
            let text = if s.is_empty() {
                String::new()
            } else {
                s.join("\n") + "\n"
            };
            fs::write(pciback.join("slots"), text).map_err(SysfsWriteError::Write)
        }
        "permissive" if drv == "pciback" => {
            if driver_of(&bus, dev).as_deref() != Some("pciback") {
                return Err(refuse(Errno::NXIO));
            }
            Ok(())
        }
        "slots" => Err(open(Errno::ACCESS)),
        _ => Err(refuse(Errno::INVAL)),
    }
}

/// Whether a device of this address exists (libxl's encoding).
pub fn exists(sbdf: u32) -> bool {
    DEVICES
        .iter()
        .any(|d| xl_toolstack::pci::Bdf::from_sysfs(d.name).is_some_and(|b| b.sbdf() == sbdf))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binding_follows_the_kernels_rules() {
        let dir = tempfile::tempdir().unwrap();
        let sys = dir.path();
        populate(sys).unwrap();
        let drv = |d: &str| sys.join("bus/pci/drivers").join(d);
        let dev = "0000:00:03.0";
        assert_eq!(driver_of(&bus(sys), dev).as_deref(), Some("e1000"));
        // pciback wants a slot first, and the device off its driver.
        assert!(write(sys, &drv("pciback").join("bind"), dev).is_err());
        write(sys, &drv("e1000").join("unbind"), dev).unwrap();
        assert!(write(sys, &drv("pciback").join("bind"), dev).is_err());
        write(sys, &drv("pciback").join("new_slot"), dev).unwrap();
        write(sys, &drv("pciback").join("bind"), dev).unwrap();
        assert!(drv("pciback").join(dev).exists());
        assert!(matches!(
            write(sys, &drv("nosuch").join("bind"), dev),
            Err(SysfsWriteError::Open(_))
        ));
        assert!(write(sys, Path::new("/etc/passwd"), dev).is_err());
        write(sys, &drv("pciback").join("unbind"), dev).unwrap();
        write(sys, &drv("pciback").join("remove_slot"), dev).unwrap();
        write(sys, &drv("e1000").join("bind"), dev).unwrap();
        assert_eq!(driver_of(&bus(sys), dev).as_deref(), Some("e1000"));
        assert!(exists(0x18));
        assert!(!exists(0x19));
    }
}
