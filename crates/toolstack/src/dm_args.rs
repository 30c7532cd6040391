//! The device model's (qemu-xen) command line and environment, as
//! libxl_dm.c builds them for Xen 4.17. Everything but the domid is
//! settled from the config when the plan is made.

use xl_config::domain::{ChannelConnection, DomainConfig, HvmInfo, Nic, Spice, Vnc, mac_string};

use crate::create::{MemoryPlan, VcpuPlan, disk_is_qdisk, nic_devid, nic_mac};
use crate::{DmBinarySource, DmSpec, Error, GuestKind, HostPaths};

/// What libxl bounds the output QEMU writes to its log by, unless xl's
/// environment already sets it.
const CONSOLE_LIMIT: (&str, &str) = ("XEN_QEMU_CONSOLE_LIMIT", "1048576");
/// The start of the MMIO hole below 4 GiB (HVM_BELOW_4G_MMIO_START).
const BELOW_4G_MMIO_START: u64 = 0xF000_0000;

/// Which QEMU machine a domain's device model is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DmMachine {
    /// Backends only (qdisk disks, vfb, ...) for a PV or PVH guest.
    Xenpv,
    /// The emulated PC of an HVM guest.
    Xenfv(Box<HvmArgs>),
}

/// An HVM guest's part of the argv, in libxl's order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HvmArgs {
    /// From direct kernel boot to `-smp`: controllers, serial ports,
    /// spice, video, boot order, USB, sound, ACPI, vCPUs.
    pub devices: Vec<String>,
    /// Emulated NICs (their tap names need the domid).
    pub nics: Vec<EmulatedNic>,
    /// `-machine`'s value.
    pub machine: String,
    /// Emulated disks and the vendor device, after `-m`.
    pub drives: Vec<String>,
    /// Whether the first serial port is a pty.
    pub serial_pty: bool,
}

/// A NIC QEMU emulates (nictype `vif_ioemu`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EmulatedNic {
    /// The vif's devid.
    pub devid: u32,
    /// The NIC model QEMU emulates (`model=`, default `rtl8139`).
    pub model: String,
    /// The guest-side MAC address.
    pub mac: [u8; 6],
    /// The bridge its tap is added to.
    pub bridge: String,
}

/// What the device model is started with, apart from the domid.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DmPlan {
    /// The domain's name, for `-name`.
    pub name: String,
    /// The QEMU binary to run.
    pub binary: String,
    /// Where `binary` came from, for messages that say what to fix.
    pub binary_source: DmBinarySource,
    /// The machine type and its machine-specific options.
    pub machine: DmMachine,
    /// Memory QEMU is told the guest has (`-m`), in MiB.
    pub memory_mb: u64,
    /// Disk images QEMU opens.
    pub disks: Vec<String>,
    /// `-chardev` values of the domain's channels.
    pub channels: Vec<String>,
    /// From `-vnc` to `-k`.
    pub display: Vec<String>,
    /// SDL's DISPLAY and XAUTHORITY.
    pub display_env: Vec<(String, String)>,
    /// `device_model_args`, before `-machine`.
    pub extra: Vec<String>,
    /// `device_model_args_pv` or `_hvm`, after `-machine`'s value.
    pub extra_machine: Vec<String>,
    /// Why libxl would refuse to start this device model.
    pub invalid: Option<String>,
}

/// libxl's rule: HVM guests always get a device model; PV and PVH guests
/// only when a device needs one (here: a framebuffer or a qdisk disk).
pub(crate) fn dm_plan(
    cfg: &DomainConfig,
    paths: &HostPaths,
    kind: GuestKind,
    vcpus: VcpuPlan,
    m: MemoryPlan,
) -> Option<DmPlan> {
    let b = &cfg.b_info;
    let mut invalid = Vec::new();
    let default_hvm = HvmInfo::default();
    // A PV or PVH guest's display is its first vfb's.
    let (vnc, sdl, keymap) = match kind {
        GuestKind::Hvm => {
            let h = b.hvm().unwrap_or(&default_hvm);
            (Some(&h.vnc), Some(&h.sdl), h.keymap.as_deref())
        }
        _ => match cfg.vfbs.first() {
            Some(v) => (Some(&v.vnc), Some(&v.sdl), v.keymap.as_deref()),
            None => (None, None, None),
        },
    };
    // libxl's defaults: VNC on, SDL off.
    let vnc = vnc.filter(|v| v.enable.unwrap_or(true));
    let sdl = sdl.filter(|s| s.enable.unwrap_or(false));
    let (machine, extra_machine) = match kind {
        GuestKind::Hvm => {
            let h = b.hvm().unwrap_or(&default_hvm);
            let graphics = vnc.is_some() || sdl.is_some();
            let hvm = hvm_args(cfg, h, vcpus, m, graphics, &mut invalid);
            (DmMachine::Xenfv(Box::new(hvm)), b.extra_hvm.clone())
        }
        // QEMU serves framebuffers, qdisk disks, 9pfs shares and channels.
        _ if !cfg.vfbs.is_empty()
            || cfg.disks.iter().any(|d| disk_is_qdisk(kind, d))
            || !cfg.p9s.is_empty()
            || !cfg.channels.is_empty() =>
        {
            (DmMachine::Xenpv, b.extra_pv.clone())
        }
        _ => return None,
    };
    let mut display = Vec::new();
    match vnc {
        Some(v) => display.extend(["-vnc".into(), vnc_arg(v, &mut invalid)]),
        None => display.extend(["-vnc".into(), "none".into()]),
    }
    display.extend(["-display".into(), "none".into()]);
    let mut display_env = Vec::new();
    if let Some(s) = sdl {
        display.extend(["-display".into(), "sdl".into()]);
        if let Some(d) = &s.display {
            display_env.push(("DISPLAY".into(), d.clone()));
        }
        if let Some(x) = &s.xauthority {
            display_env.push(("XAUTHORITY".into(), x.clone()));
        }
    }
    if let Some(k) = keymap {
        display.extend(["-k".into(), k.to_string()]);
    }
    if machine == DmMachine::Xenpv && vnc.is_none() && sdl.is_none() {
        display.push("-nographic".into());
    }
    Some(DmPlan {
        name: cfg.c_info.name.clone(),
        binary: b
            .device_model
            .clone()
            .unwrap_or_else(|| paths.qemu_xen.get().display().to_string()),
        binary_source: if b.device_model.is_some() {
            DmBinarySource::Override
        } else {
            DmBinarySource::Default
        },
        machine,
        // In MiB rounded up, as libxl's sizes.
        memory_mb: m.max_kb.saturating_sub(m.video_kb).div_ceil(1024),
        disks: cfg
            .disks
            .iter()
            .filter(|d| kind == GuestKind::Hvm || disk_is_qdisk(kind, d))
            .filter_map(|d| d.pdev_path.clone())
            .filter(|p| !p.is_empty())
            .collect(),
        channels: cfg
            .channels
            .iter()
            .map(|c| match &c.connection {
                ChannelConnection::Pty => format!("pty,id=libxl-channel{}", c.devid),
                ChannelConnection::Socket(path) => format!(
                    "socket,id=libxl-channel{},path={path},server=on,wait=off",
                    c.devid
                ),
            })
            .collect(),
        display,
        display_env,
        extra: b.extra.clone(),
        extra_machine,
        invalid: (!invalid.is_empty()).then(|| invalid.join("; ")),
    })
}

/// `-vnc`'s value: the listen address (127.0.0.1 by default) and display,
/// unless the address already names a display.
fn vnc_arg(v: &Vnc, invalid: &mut Vec<String>) -> String {
    let listen = v.listen.as_deref().unwrap_or("127.0.0.1");
    let mut arg = if listen.contains(':') {
        if v.display != 0 {
            invalid.push("vncdisplay set, vnclisten contains display".into());
        }
        listen.to_string()
    } else {
        format!("{listen}:{}", v.display)
    };
    if v.passwd.as_deref().is_some_and(|p| !p.is_empty()) {
        arg.push_str(",password=on");
    }
    // QEMU wants `to=` last among the VNC options.
    if v.findunused.unwrap_or(true) {
        arg.push_str(",to=99");
    }
    arg
}

fn push(args: &mut Vec<String>, items: &[&str]) {
    args.extend(items.iter().map(|s| s.to_string()));
}

fn hvm_args(
    cfg: &DomainConfig,
    h: &HvmInfo,
    vcpus: VcpuPlan,
    m: MemoryPlan,
    graphics: bool,
    invalid: &mut Vec<String>,
) -> HvmArgs {
    let b = &cfg.b_info;
    let mut a = Vec::new();
    for (flag, value) in [
        ("-kernel", &b.kernel),
        ("-initrd", &b.ramdisk),
        ("-append", &b.cmdline),
    ] {
        if let Some(v) = value {
            push(&mut a, &[flag, v]);
        }
    }
    // The SCSI controller comes first, keeping its PCI slot.
    if cfg
        .disks
        .iter()
        .any(|d| d.is_cdrom == 0 && d.vdev.as_deref().is_some_and(|v| v.starts_with("sd")))
    {
        push(&mut a, &["-device", "lsi53c895a"]);
    }
    if h.serial.is_some() && !h.serial_list.is_empty() {
        invalid.push("Both serial and serial_list set".into());
    }
    let serials: Vec<&str> = h
        .serial
        .iter()
        .chain(&h.serial_list)
        .map(String::as_str)
        .collect();
    for s in &serials {
        push(&mut a, &["-serial", s]);
    }
    if h.nographic.unwrap_or(false) && !graphics {
        a.push("-nographic".into());
    }
    if h.spice.enable.unwrap_or(false) {
        match spice_options(&h.spice) {
            Ok(opts) => {
                push(&mut a, &["-spice", &opts]);
                if h.spice.vdagent.unwrap_or(false) {
                    push(
                        &mut a,
                        &[
                            "-device",
                            "virtio-serial",
                            "-chardev",
                            "spicevmc,id=vdagent,name=vdagent",
                            "-device",
                            "virtserialport,chardev=vdagent,name=com.redhat.spice.0",
                        ],
                    );
                }
            }
            Err(e) => invalid.push(e),
        }
    }
    let video_mb = m.video_kb.div_ceil(1024);
    match h.vga.unwrap_or("cirrus") {
        "std" => push(&mut a, &["-device", &format!("VGA,vgamem_mb={video_mb}")]),
        "qxl" => {
            // Half the video memory for each of QXL's two RAM regions.
            let half = m.video_kb / 2 / 1024;
            push(
                &mut a,
                &[
                    "-device",
                    &format!("qxl-vga,vram_size_mb={half},ram_size_mb={half}"),
                ],
            );
        }
        "none" => {}
        _ => push(
            &mut a,
            &["-device", &format!("cirrus-vga,vgamem_mb={video_mb}")],
        ),
    }
    let boot = h.boot.as_deref().unwrap_or("cda");
    push(&mut a, &["-boot", &format!("order={boot}")]);
    usb_args(h, &mut a, invalid);
    if let Some(s) = &h.soundhw {
        const SOUNDHW: [&str; 7] = ["ac97", "adlib", "cs4231a", "es1370", "gus", "hda", "sb16"];
        match SOUNDHW.iter().find(|n| n.eq_ignore_ascii_case(s)) {
            Some(&"hda") => push(&mut a, &["-device", "intel-hda", "-device", "hda-duplex"]),
            Some(n) => push(&mut a, &["-device", n]),
            None => invalid.push(format!("Unknown soundhw option '{s}'")),
        }
    }
    if !b.acpi.unwrap_or(true) {
        a.push("-no-acpi".into());
    }
    if vcpus.max > 1 {
        push(
            &mut a,
            &["-smp", &format!("{},maxcpus={}", vcpus.online, vcpus.max)],
        );
    }
    let nics = cfg
        .nics
        .iter()
        .enumerate()
        .filter(|(_, n)| n.nictype.unwrap_or("vif_ioemu") == "vif_ioemu")
        .map(|(i, n)| emulated_nic(cfg, i, n))
        .collect();
    HvmArgs {
        devices: a,
        nics,
        machine: machine_arg(h, invalid),
        drives: drives(cfg, h, invalid),
        serial_pty: serials.first() == Some(&"pty"),
    }
}

fn emulated_nic(cfg: &DomainConfig, index: usize, n: &Nic) -> EmulatedNic {
    let devid = nic_devid(index, n);
    EmulatedNic {
        devid,
        model: n.model.clone().unwrap_or_else(|| "rtl8139".into()),
        mac: nic_mac(cfg, devid, n),
        bridge: n.bridge.clone().unwrap_or_else(|| "xenbr0".into()),
    }
}

/// libxl's spice options; it refuses spice without a port, or with
/// ticketing but no password.
fn spice_options(s: &Spice) -> Result<String, String> {
    if s.port == 0 && s.tls_port == 0 {
        return Err("at least one of the spiceport or tls_port must be provided".into());
    }
    let ticketing = !s.disable_ticketing.unwrap_or(false);
    let mut o = format!("port={},tls-port={}", s.port, s.tls_port);
    if let Some(host) = &s.host {
        o.push_str(&format!(",addr={host}"));
    }
    if ticketing {
        match s.passwd.as_deref() {
            None => return Err("spice ticketing is enabled but missing password".into()),
            Some("") => return Err("spice password can't be empty".into()),
            Some(p) => o.push_str(&format!(",password={p}")),
        }
    } else {
        o.push_str(",disable-ticketing=on");
    }
    let mouse = if s.agent_mouse.unwrap_or(true) {
        "on"
    } else {
        "off"
    };
    o.push_str(&format!(",agent-mouse={mouse}"));
    if !s.clipboard_sharing.unwrap_or(false) {
        o.push_str(",disable-copy-paste=on");
    }
    if let Some(c) = &s.image_compression {
        o.push_str(&format!(",image-compression={c}"));
    }
    if let Some(v) = &s.streaming_video {
        o.push_str(&format!(",streaming-video={v}"));
    }
    Ok(o)
}

/// `usb`/`usbdevice` give QEMU's legacy USB; otherwise `usbversion`
/// picks a controller, with spice's USB redirection channels.
fn usb_args(h: &HvmInfo, a: &mut Vec<String>, invalid: &mut Vec<String>) {
    let spice = h.spice.enable.unwrap_or(false);
    // libxl drops redirection without spice, and redirection implies USB 2.
    let redir = if spice { h.spice.usbredirection } else { 0 };
    let version = if h.usbversion == 0 && redir > 0 {
        2
    } else {
        h.usbversion
    };
    let legacy = h.usb.unwrap_or(false) || h.usbdevice.is_some() || !h.usbdevice_list.is_empty();
    if (version != 0 || redir != 0) && legacy {
        invalid.push(
            "usbversion and/or usbredirection cannot be enabled with usb and/or usbdevice \
             parameters."
                .into(),
        );
    }
    if legacy {
        if h.usbdevice.is_some() && !h.usbdevice_list.is_empty() {
            invalid.push("Both usbdevice and usbdevice_list set".into());
        }
        a.push("-usb".into());
        for d in h.usbdevice.iter().chain(&h.usbdevice_list) {
            push(a, &["-usbdevice", d]);
        }
        return;
    }
    match version {
        0 => return,
        1 => push(a, &["-device", "piix3-usb-uhci,id=usb"]),
        2 => {
            push(
                a,
                &[
                    "-device",
                    "ich9-usb-ehci1,id=usb,addr=0x1d.0x7,multifunction=on",
                ],
            );
            for i in 1..4 {
                // C's %#x: a plain 0, else 0x-prefixed.
                let func = if i == 1 {
                    "0".to_string()
                } else {
                    format!("{:#x}", i - 1)
                };
                push(
                    a,
                    &[
                        "-device",
                        &format!(
                            "ich9-usb-uhci{i},masterbus=usb.0,firstport={},addr=0x1d.{func},\
                             multifunction=on",
                            2 * (i - 1)
                        ),
                    ],
                );
            }
        }
        3 => push(a, &["-device", "nec-usb-xhci,id=usb"]),
        _ => {
            invalid.push("usbversion parameter is invalid, must be between 1 and 3".into());
            return;
        }
    }
    if (0..5).contains(&redir) {
        for i in 1..=redir {
            push(
                a,
                &[
                    "-chardev",
                    &format!("spicevmc,name=usbredir,id=usbrc{i}"),
                    "-device",
                    &format!("usb-redir,chardev=usbrc{i},id=usbrc{i}"),
                ],
            );
        }
    } else {
        invalid.push("usbredirection parameter is invalid, it must be between 1 and 4".into());
    }
}

/// `xenfv`, or plain `pc` without the Xen platform device; the MMIO hole
/// and IGD passthrough are machine options.
fn machine_arg(h: &HvmInfo, invalid: &mut Vec<String>) -> String {
    let mut m = if h.xen_platform_pci.unwrap_or(true) {
        "xenfv,suppress-vmdesc=on".to_string()
    } else {
        "pc,accel=xen,suppress-vmdesc=on".to_string()
    };
    if let Some(kb) = h.mmio_hole_memkb.filter(|kb| *kb != 0) {
        let below_4g = (1u64 << 32).wrapping_sub(kb << 10);
        // libxl ignores (with a warning) a hole too small for the MMIO.
        if below_4g <= BELOW_4G_MMIO_START {
            m.push_str(&format!(",max-ram-below-4g={below_4g}"));
        }
    }
    if h.gfx_passthru.unwrap_or(false) {
        match h.gfx_passthru_kind {
            Some("igd") => m.push_str(",igd-passthru=on"),
            // libxl guesses IGD from the assigned PCI devices; not done here.
            _ => invalid.push("unable to detect required gfx_passthru_kind".into()),
        }
    }
    m
}

/// libxl's disk number (`disk`) and device number for a vdev; None for
/// names it cannot place, such as plain numbers.
fn disk_number(vdev: &str) -> Option<(u32, u32)> {
    fn letters_partition(rest: &str, max_disk: u32, max_part: u32) -> Option<(u32, u32)> {
        let n = rest.bytes().take_while(u8::is_ascii_lowercase).count();
        if n == 0 {
            return None;
        }
        let mut disk: u32 = 0;
        for (i, c) in rest.bytes().take(n).enumerate() {
            let v = u32::from(c - b'a');
            disk = if i == 0 { v } else { (disk + 1) * 26 + v };
            if disk > max_disk {
                return None;
            }
        }
        let part = &rest[n..];
        let part = if part.is_empty() {
            0
        } else if part.starts_with('0') || !part.bytes().all(|c| c.is_ascii_digit()) {
            return None;
        } else {
            part.parse().ok().filter(|p| *p <= max_part)?
        };
        Some((disk, part))
    }
    let xvd = |disk: u32, part: u32| {
        let devid = if disk <= 15 && part <= 15 {
            (202 << 8) | (disk << 4) | part
        } else {
            (1 << 28) | (disk << 8) | part
        };
        Some((disk, devid))
    };
    if let Some((d, p)) = vdev.strip_prefix('d').and_then(|r| r.split_once('p'))
        && let (Ok(disk), Ok(part)) = (d.parse::<u32>(), p.parse::<u32>())
        && disk < (1 << 20)
        && part < 256
    {
        return xvd(disk, part);
    }
    if let Some(r) = vdev.strip_prefix("xvd") {
        let (disk, part) = letters_partition(r, (1 << 20) - 1, 255)?;
        return xvd(disk, part);
    }
    if let Some(r) = vdev.strip_prefix("hd") {
        let (disk, part) = letters_partition(r, 3, 63)?;
        let major = if disk < 2 { 3 } else { 22 };
        return Some((disk, (major << 8) | ((disk & 1) << 6) | part));
    }
    if let Some(r) = vdev.strip_prefix("sd") {
        let (disk, part) = letters_partition(r, 15, 15)?;
        return Some((disk, (8 << 8) | (disk << 4) | part));
    }
    None
}

/// QEMU's name of an image format; None for an empty drive.
fn qemu_format(format: Option<&str>) -> Option<&'static str> {
    match format.unwrap_or("raw") {
        "qcow" => Some("qcow"),
        "qcow2" => Some("qcow2"),
        "vhd" => Some("vpc"),
        "qed" => Some("qed"),
        "raw" => Some("raw"),
        _ => None,
    }
}

/// The emulated disks: IDE (or AHCI) hd[a-d], SCSI sd*, IDE cdroms. A
/// disk QEMU cannot open here stays PV-only, as with libxl.
fn drives(cfg: &DomainConfig, h: &HvmInfo, invalid: &mut Vec<String>) -> Vec<String> {
    let ahci = h.hdtype == Some("ahci");
    let mut a = Vec::new();
    if ahci {
        push(&mut a, &["-device", "ahci,id=ahci0"]);
    }
    for d in &cfg.disks {
        let Some((disk, devid)) = disk_number(d.vdev.as_deref().unwrap_or_default()) else {
            continue;
        };
        let cdrom = d.is_cdrom != 0;
        // QEMU reads what blkback would serve as raw.
        let format = if disk_is_qdisk(GuestKind::Hvm, d) {
            qemu_format(d.format)
        } else {
            Some("raw")
        };
        let target = if d.format == Some("empty") {
            if !cdrom {
                continue;
            }
            None
        } else {
            let Some(format) = format else { continue };
            // A local file or device QEMU can open itself; a disk behind
            // a hotplug script (whose path only the script knows) or a
            // driver domain is not emulated.
            let raw = d.format.is_none_or(|f| f == "raw");
            let local = d.backend_domname.is_none()
                && ((raw && d.script.is_none()) || disk_is_qdisk(GuestKind::Hvm, d));
            if !local {
                continue;
            }
            Some((d.pdev_path.clone().unwrap_or_default(), format))
        };
        let vdev = d.vdev.as_deref().unwrap_or_default();
        if cdrom {
            if disk > 4 {
                continue;
            }
            let id = format!("ide-{devid}");
            let mut drive = format!("if=none,readonly=on,id={id}");
            if let Some((path, format)) = &target {
                drive.push_str(&format!(",file={path},format={format}"));
            }
            push(
                &mut a,
                &[
                    "-drive",
                    &drive,
                    "-device",
                    &format!(
                        "ide-cd,id={id},drive={id},bus=ide.{},unit={}",
                        disk / 2,
                        disk % 2
                    ),
                ],
            );
            continue;
        }
        let Some((path, format)) = target else {
            continue;
        };
        if vdev.starts_with("sd") {
            let ro = if d.readwrite != 0 { "off" } else { "on" };
            push(
                &mut a,
                &[
                    "-drive",
                    &format!(
                        "file={path},id=scsi0-hd{disk},format={format},if=none,readonly={ro},\
                         cache=writeback"
                    ),
                    "-device",
                    &format!("scsi-hd,drive=scsi0-hd{disk},scsi-id={disk}"),
                ],
            );
        } else if ahci && disk < 6 {
            if d.readwrite == 0 {
                invalid.push("qemu-xen doesn't support read-only AHCI disk drivers".into());
            }
            push(
                &mut a,
                &[
                    "-drive",
                    &format!(
                        "file={path},if=none,id=ahcidisk-{disk},format={format},cache=writeback"
                    ),
                    "-device",
                    &format!("ide-hd,bus=ahci0.{disk},unit=0,drive=ahcidisk-{disk}"),
                ],
            );
        } else if disk < 4 {
            if d.readwrite == 0 {
                invalid.push("qemu-xen doesn't support read-only IDE disk drivers".into());
            }
            push(
                &mut a,
                &[
                    "-drive",
                    &format!(
                        "file={path},if=ide,index={disk},media=disk,format={format},\
                         cache=writeback"
                    ),
                ],
            );
        }
    }
    if h.vendor_device == Some("xenserver") {
        push(&mut a, &["-device", "xen-pvdevice,device-id=0xc000"]);
    }
    a
}

impl DmPlan {
    /// Why libxl would refuse to start this device model, if it would.
    pub fn check(&self) -> Result<(), Error> {
        match &self.invalid {
            Some(why) => Err(Error::ConfigRefused(vec![why.clone()])),
            None => Ok(()),
        }
    }

    /// libxl_dm.c's argv and environment for domain `domid`; QMP sockets
    /// live in `run`.
    pub fn spec(&self, domid: u32, run: &std::path::Path) -> DmSpec {
        let run = run.display();
        let mut args: Vec<String> = vec![
            "-xen-domid".to_string(),
            domid.to_string(),
            "-no-shutdown".into(),
            "-chardev".into(),
            format!("socket,id=libxl-cmd,path={run}/qmp-libxl-{domid},server=on,wait=off"),
            "-mon".into(),
            "chardev=libxl-cmd,mode=control".into(),
            "-chardev".into(),
            format!(
                "socket,id=libxenstat-cmd,path={run}/qmp-libxenstat-{domid},server=on,wait=off"
            ),
            "-mon".into(),
            "chardev=libxenstat-cmd,mode=control".into(),
        ];
        for c in &self.channels {
            args.extend(["-chardev".into(), c.clone()]);
        }
        args.extend(["-nodefaults".into(), "-no-user-config".into()]);
        if self.machine == DmMachine::Xenpv {
            args.push("-xen-attach".into());
        }
        args.extend(["-name".into(), self.name.clone()]);
        args.extend(self.display.iter().cloned());
        let mut env = Vec::new();
        if std::env::var_os(CONSOLE_LIMIT.0).is_none() {
            env.push((CONSOLE_LIMIT.0.to_string(), CONSOLE_LIMIT.1.to_string()));
        }
        env.extend(self.display_env.iter().cloned());
        let machine = match &self.machine {
            DmMachine::Xenpv => "xenpv".to_string(),
            DmMachine::Xenfv(h) => {
                args.extend(h.devices.iter().cloned());
                for n in &h.nics {
                    let id = n.devid;
                    args.extend([
                        "-device".into(),
                        format!(
                            "{},id=nic{id},netdev=net{id},mac={}",
                            n.model,
                            mac_string(&n.mac)
                        ),
                        "-netdev".into(),
                        format!(
                            "type=tap,id=net{id},ifname=vif{domid}.{id}-emu,br={},script=no,\
                             downscript=no",
                            n.bridge
                        ),
                    ]);
                }
                if h.nics.is_empty() {
                    args.extend(["-net".into(), "none".into()]);
                }
                h.machine.clone()
            }
        };
        args.extend(self.extra.iter().cloned());
        args.extend(["-machine".into(), machine]);
        args.extend(self.extra_machine.iter().cloned());
        args.extend(["-m".into(), self.memory_mb.to_string()]);
        let mut serial_pty = false;
        if let DmMachine::Xenfv(h) = &self.machine {
            env.push(("XEN_DOMAIN_ID".into(), domid.to_string()));
            args.extend(h.drives.iter().cloned());
            serial_pty = h.serial_pty;
        }
        DmSpec {
            domid,
            name: self.name.clone(),
            binary: self.binary.clone(),
            binary_source: self.binary_source,
            args,
            env,
            disks: self.disks.clone(),
            serial_pty,
            incoming: None,
        }
    }
}

#[cfg(test)]
mod tests;
