//! Building a domain on Xen: the builder's plan applied through privcmd,
//! with the steps libxl takes around it (ring event channels, the memory
//! map limit, TSC mode, address size).

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::time::{Duration, Instant};

use xen_sys::Xen;
use xen_sys::abi::{self, DomId};
use xl_builder::{
    FillFrames, GrantSeed, GuestFrames, PvTarget, PvVcpuContext, ReadAt, TargetError,
};

use crate::{BuildSpec, Built, Error, GuestKind};

/// Why the domain builder could not build a guest (libxl's "cannot
/// (re-)build domain").
#[derive(Debug, thiserror::Error)]
pub enum DomainBuildError {
    /// A PVH or HVM build was asked for without its HVM settings.
    #[error("a PVH or HVM build without its HVM settings")]
    NoHvmSettings,
    /// A PVH or HVM restore was asked for without its HVM settings.
    #[error("a PVH or HVM restore without its HVM settings")]
    NoHvmRestoreSettings,
    /// A PV guest with neither `kernel=` nor a bootloader.
    #[error("no kernel given (set kernel= or bootloader=)")]
    NoKernel,
    /// A PVH guest without `kernel=`.
    #[error("no kernel given: a PVH guest needs kernel=")]
    NoPvhKernel,
    /// An HVM guest without hvmloader.
    #[error("no HVM firmware (hvmloader) given")]
    NoFirmware,
    /// An HVM guest without SeaBIOS or OVMF for hvmloader.
    #[error("no system firmware (SeaBIOS or OVMF) for hvmloader")]
    NoSystemFirmware,
    /// An image file (kernel, ramdisk, firmware) that could not be read.
    #[error("cannot read {what} {path}")]
    Read {
        /// What the image is (`kernel`, `ramdisk`, ...).
        what: &'static str,
        /// Its path.
        path: String,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// An image file larger than the builder accepts.
    #[error("{what} {path} is larger than {} MiB", MAX_IMAGE >> 20)]
    TooLarge {
        /// What the image is.
        what: &'static str,
        /// Its path.
        path: String,
    },
    /// hvmloader's BIOS could not be read; what to install follows the
    /// cause, so the cause is part of this message.
    #[error(
        "{} (install SeaBIOS, or OVMF for bios=\"ovmf\", or set bios_path_override=)",
        crate::error_chain(.0)
    )]
    NoBios(Box<DomainBuildError>),
    /// An image the builder cannot load (not a kernel, a broken
    /// compression, a ramdisk too large).
    #[error("{what} {path}")]
    Image {
        /// What the image is.
        what: &'static str,
        /// Its path.
        path: String,
        /// What the builder found wrong.
        #[source]
        source: xl_builder::ImageError,
    },
    /// The hypervisor does not offer the guest's type.
    #[error("this hypervisor cannot run {want} guests (it offers: {offered})")]
    Capability {
        /// The capability wanted (`xen-3.0-x86_64`, `hvm-3.0-x86_32`, ...).
        want: &'static str,
        /// What the hypervisor offers (XENVER_capabilities).
        offered: String,
    },
    /// The builder found no layout for the guest (its own words, which
    /// already name any cause).
    #[error("{0}")]
    Plan(xl_builder::BuildError),
    /// Writing the guest's memory and state failed.
    #[error(transparent)]
    Apply(xl_builder::BuildError),
    /// Xen ran out of memory during the build (`builder` is the failure
    /// as the builder saw it).
    #[error(
        "not enough free memory: the guest needs {need_mib} MiB, Xen has {free_mib} MiB free \
         (lower memory=, or free memory: xl mem-set 0 <MiB> or destroy a domain)"
    )]
    NoMemory {
        /// Memory the guest needs, in MiB.
        need_mib: u64,
        /// Memory Xen had free, in MiB.
        free_mib: u64,
        /// The failure as the builder saw it.
        builder: xl_builder::BuildError,
    },
    /// The HVM guest's ACPI tables could not be built.
    #[error("cannot build the ACPI tables")]
    Acpi(#[source] xl_builder::x86::acpi::AcpiError),
    /// A restored guest's reserved grant entries (console, xenstore).
    #[error("seeding the grant table")]
    SeedGrants(#[source] TargetError),
}

const PAGE: usize = 4096;
/// Frames mapped into dom0 at once when copying a segment: bounds dom0's
/// address space use whatever the kernel's size.
const MAP_BATCH: usize = 1024;
/// Extents per populate_physmap call, as libxenguest issues them.
const EXTENTS_PER_CALL: usize = 512;
/// 2 MiB superpages.
const SUPERPAGE_ORDER: u32 = 9;
const SUPERPAGE_PAGES: u64 = 1 << SUPERPAGE_ORDER;
/// vcpu_info slots in the legacy shared_info page, 64 bytes each; byte 1
/// of each is evtchn_upcall_mask.
const LEGACY_VCPUS: usize = 32;
const VCPU_INFO_SIZE: usize = 64;
/// The grant-table entry flag that lets the named domain map the frame.
const GTF_PERMIT_ACCESS: u16 = 1;
/// E820_RAM.
const E820_RAM: u32 = 1;

/// Build a guest into the (empty, paused) domain `dom`.
pub(super) fn build(xen: &Xen, dom: DomId, spec: &BuildSpec) -> Result<Built, Error> {
    match (&spec.kind, &spec.hvm) {
        (GuestKind::Pv, _) => build_pv(xen, dom, spec),
        (_, Some(hvm)) => super::build_hvm::build(xen, dom, spec, hvm),
        (_, None) => Err(DomainBuildError::NoHvmSettings.into()),
    }
}

/// Build a PV guest into the (empty, paused) domain `dom`.
fn build_pv(xen: &Xen, dom: DomId, spec: &BuildSpec) -> Result<Built, Error> {
    let t = Instant::now();
    let kernel_path = spec.kernel.as_deref().ok_or(DomainBuildError::NoKernel)?;
    // A plain ELF kernel is read as the builder needs it: its headers now, its
    // loadable bytes straight into guest memory when the plan is applied.
    let kernel_source = timed("open the kernel", || KernelSource::open(kernel_path))?;
    let kernel = timed("parse the kernel", || kernel_source.parse()).map_err(|source| {
        DomainBuildError::Image {
            what: "kernel",
            path: kernel_path.to_string(),
            source,
        }
    })?;
    // Unpacked while the domain is populated and the kernel copied: the plan
    // needs only its length.
    let ramdisk = spec
        .ramdisk
        .as_deref()
        .map(|path| RamdiskLoad::start(path, xen.version));
    let (ramdisk_len, ramdisk) = match ramdisk.map(RamdiskLoad::len).transpose()? {
        Some((n, bytes)) => (n, Some(bytes)),
        None => (0, None),
    };
    check_capability(xen, "xen-3.0-x86_64")?;
    let store_port = xen.evtchn_alloc_unbound(dom, narrow(spec.store_domid)?)?;
    let console_port = xen.evtchn_alloc_unbound(dom, narrow(spec.console_domid)?)?;
    arch_setup(xen, dom, spec.max_memkb)?;
    timed("apply the CPU policy", || {
        super::cpu_policy::apply(xen, dom, false, &spec.cpuid)
    })?;
    let nr_pages = pv_pages(spec.target_memkb);
    let plan = xl_builder::plan_pv(
        &kernel,
        &xl_builder::PvRequest {
            nr_pages,
            ramdisk_len,
            cmdline: spec.cmdline.clone().unwrap_or_default(),
            store_evtchn: store_port,
            console_evtchn: console_port,
            xenstore_domid: narrow(spec.store_domid)?,
            console_domid: narrow(spec.console_domid)?,
            domid: dom,
            xen_version: xen.version,
        },
    )
    .map_err(DomainBuildError::Plan)?;
    crate::trace::detail(|| format!("domainbuilder: plan for domain {dom}:\n{plan}"));
    let mut target = XenTarget {
        xen,
        dom,
        written: (0, Duration::ZERO),
    };
    let built = timed("apply the plan", || {
        xl_builder::apply_pv_deferred(
            &plan,
            &kernel,
            || {
                Ok(std::borrow::Cow::Owned(
                    ramdisk.map(LoadedBytes::get).unwrap_or_default(),
                ))
            },
            &mut target,
        )
    })
    .map_err(|e| build_error(xen, nr_pages, e))?;
    crate::trace::timed_done(
        || {
            format!(
                "domainbuilder: {} frames written through foreign mappings",
                target.written.0
            )
        },
        target.written.1,
    );
    crate::trace::detail(|| format!("domainbuilder: domain {dom} built in {:?}", t.elapsed()));
    Ok(Built {
        store_port,
        store_mfn: built.store_mfn,
        console_port,
        console_mfn: built.console_mfn,
    })
}

/// A ramdisk being read and loaded (as the running release loads it: 4.17-4.19
/// unpack a gzip initrd, later releases load it as it is) on a thread of its
/// own, while the domain is populated and the kernel copied: unpacking an
/// initrd takes half as long as copying a kernel, and dom0 has more than one
/// vCPU. Its length (all the plan needs) is known as soon as the file is read.
struct RamdiskLoad {
    len: std::sync::mpsc::Receiver<Result<u64, DomainBuildError>>,
    bytes: LoadedBytes,
}

/// The loaded bytes, or the thread loading them.
enum LoadedBytes {
    Thread(std::thread::JoinHandle<Vec<u8>>),
    /// No thread could be started: loaded here.
    Ready(Vec<u8>),
}

impl LoadedBytes {
    fn get(self) -> Vec<u8> {
        match self {
            // A panic there would have been a panic here: let it go on.
            LoadedBytes::Thread(t) => t.join().unwrap_or_else(|p| std::panic::resume_unwind(p)),
            LoadedBytes::Ready(b) => b,
        }
    }
}

impl RamdiskLoad {
    fn start(path: &str, version: (u32, u32)) -> Self {
        let (tx, len) = std::sync::mpsc::sync_channel(1);
        let (owned, sender) = (path.to_string(), tx.clone());
        let bytes = match std::thread::Builder::new()
            .name("ramdisk".into())
            .spawn(move || load_ramdisk_file(&owned, version, |n| drop(sender.send(n))))
        {
            Ok(t) => LoadedBytes::Thread(t),
            Err(_) => LoadedBytes::Ready(load_ramdisk_file(path, version, |n| drop(tx.send(n)))),
        };
        RamdiskLoad { len, bytes }
    }

    /// The loaded length and, later, the bytes; or why the file cannot be
    /// loaded.
    fn len(self) -> Result<(u64, LoadedBytes), DomainBuildError> {
        match self.len.recv() {
            Ok(n) => Ok((n?, self.bytes)),
            // The loader always says something before it ends, unless it
            // panicked: let that go on here.
            Err(_) => {
                self.bytes.get();
                unreachable!("the ramdisk loader ended without a word")
            }
        }
    }
}

/// Read the ramdisk at `path`, tell `len` its loaded length (or why it
/// cannot be loaded), then load it.
fn load_ramdisk_file(
    path: &str,
    version: (u32, u32),
    len: impl FnOnce(Result<u64, DomainBuildError>),
) -> Vec<u8> {
    let file = match read_image("ramdisk", path) {
        Ok(f) => f,
        Err(e) => {
            len(Err(e));
            return Vec::new();
        }
    };
    match xl_builder::loaded_ramdisk_len(&file, version) {
        Ok(n) => len(Ok(n)),
        Err(source) => {
            len(Err(DomainBuildError::Image {
                what: "ramdisk",
                path: path.to_string(),
                source,
            }));
            return Vec::new();
        }
    }
    match timed("load the ramdisk", || {
        xl_builder::load_ramdisk(&file, version)
    }) {
        Ok(std::borrow::Cow::Owned(unpacked)) => unpacked,
        Ok(std::borrow::Cow::Borrowed(_)) => file,
        // Its length said it would load: the plan's check reports the rest.
        Err(_) => Vec::new(),
    }
}

/// libxl builds PV guests with whole MiB of memory.
fn pv_pages(target_memkb: u64) -> u64 {
    (target_memkb / 1024) * (1024 / 4)
}

pub(super) fn timed<T>(what: &'static str, f: impl FnOnce() -> T) -> T {
    crate::trace::timed(|| format!("domainbuilder: {what}"), f)
}

pub(super) fn narrow(domid: u32) -> Result<DomId, Error> {
    super::dom(domid)
}

/// Largest image read whole (libxenguest's cap for kernels and modules).
const MAX_IMAGE: u64 = 1 << 30;

/// An image read whole, bounded: a device or an oversized file must not
/// exhaust dom0's memory.
pub(super) fn read_image(what: &'static str, path: &str) -> Result<Vec<u8>, DomainBuildError> {
    use std::io::Read;
    let fail = |source| DomainBuildError::Read {
        what,
        path: path.to_string(),
        source,
    };
    let mut bytes = Vec::new();
    File::open(path)
        .and_then(|f| f.take(MAX_IMAGE + 1).read_to_end(&mut bytes))
        .map_err(fail)?;
    if bytes.len() as u64 > MAX_IMAGE {
        return Err(DomainBuildError::TooLarge {
            what,
            path: path.to_string(),
        });
    }
    Ok(bytes)
}

/// A kernel as the builder reads it.
pub(super) enum KernelSource {
    /// A regular file, read at offsets.
    File(FileAt),
    /// Anything else (a pipe, a device): read whole, as it may not be
    /// readable at offsets or have a length.
    Bytes(Vec<u8>),
}

impl KernelSource {
    pub(super) fn open(path: &str) -> Result<Self, DomainBuildError> {
        let cannot = |source| DomainBuildError::Read {
            what: "kernel",
            path: path.to_string(),
            source,
        };
        let file = File::open(path).map_err(cannot)?;
        let meta = file.metadata().map_err(cannot)?;
        if !meta.is_file() {
            return read_image("kernel", path).map(KernelSource::Bytes);
        }
        Ok(KernelSource::File(FileAt {
            file,
            len: meta.len(),
        }))
    }

    fn parse(&self) -> Result<xl_builder::Kernel<'_>, xl_builder::ImageError> {
        self.parse_as(xl_builder::LoadAs::Pv)
    }

    pub(super) fn parse_as(
        &self,
        load: xl_builder::LoadAs,
    ) -> Result<xl_builder::Kernel<'_>, xl_builder::ImageError> {
        match self {
            KernelSource::File(f) => xl_builder::parse_image_from(f, load),
            KernelSource::Bytes(b) => xl_builder::parse_image(b, load),
        }
    }
}

/// A regular file of the length it had when opened (a file that shrinks later
/// fails to read, cleanly).
pub(super) struct FileAt {
    file: File,
    len: u64,
}

impl ReadAt for FileAt {
    fn len(&self) -> u64 {
        self.len
    }

    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> std::io::Result<()> {
        self.file.read_exact_at(buf, offset)
    }
}

/// The hypervisor must offer the guest type (XENVER_capabilities).
pub(super) fn check_capability(xen: &Xen, want: &'static str) -> Result<(), Error> {
    let caps = xen.version_string(abi::XENVER_CAPABILITIES, 1024)?;
    if caps.split_whitespace().any(|c| c == want) {
        Ok(())
    } else {
        Err(DomainBuildError::Capability {
            want,
            offered: caps,
        }
        .into())
    }
}

/// libxl__arch_domain_create for PV: the memory map limit (so a
/// ballooning guest may grow to maxmem), TSC mode default, 64-bit guest.
pub(super) fn arch_setup(xen: &Xen, dom: DomId, max_memkb: u64) -> Result<(), Error> {
    xen.set_memory_map(
        dom,
        &[abi::E820Entry {
            addr: 0,
            size: max_memkb << 10,
            kind: E820_RAM,
        }],
    )?;
    xen.settscinfo(dom, 0)?;
    xen.set_address_size(dom, 64)?;
    Ok(())
}

/// ENOMEM: what Xen answers a claim or allocation it cannot satisfy.
const ENOMEM: i32 = 12;

/// A builder failure, with the host's free memory when Xen ran out.
pub(super) fn build_error(xen: &Xen, nr_pages: u64, e: xl_builder::BuildError) -> Error {
    if caused_by_errno(&e, ENOMEM)
        && let Ok(p) = xen.physinfo()
    {
        return DomainBuildError::NoMemory {
            need_mib: nr_pages / 256,
            free_mib: p.free_pages / 256,
            builder: e,
        }
        .into();
    }
    DomainBuildError::Apply(e).into()
}

/// Whether an OS error `errno` is somewhere in `e`'s causes.
fn caused_by_errno(e: &(dyn std::error::Error + 'static), errno: i32) -> bool {
    let mut cur = Some(e);
    while let Some(c) = cur {
        if c.downcast_ref::<std::io::Error>()
            .and_then(std::io::Error::raw_os_error)
            == Some(errno)
        {
            return true;
        }
        cur = c.source();
    }
    false
}

/// The builder's view of a Xen domain: frames are MFNs (PV), written
/// through foreign mappings of dom0.
pub(super) struct XenTarget<'a> {
    pub(super) xen: &'a Xen,
    pub(super) dom: DomId,
    /// Frames written and the time it took, reading the kernel file into
    /// them included (for `-vv`).
    pub(super) written: (usize, Duration),
}

pub(super) fn failed(what: &'static str) -> impl FnOnce(xen_sys::SysError) -> TargetError {
    move |e| TargetError::Failed {
        what,
        source: Box::new(e),
    }
}

impl XenTarget<'_> {
    /// populate_physmap of `extents` (first pfn of each, order `order`);
    /// every extent must be given.
    fn populate_exact(&self, order: u32, extents: &mut [u64]) -> Result<(), TargetError> {
        let done = self
            .xen
            .populate_physmap(self.dom, order, 0, extents)
            .map_err(failed("populate_physmap"))?;
        if done != extents.len() {
            return Err(TargetError::Message(format!(
                "Xen gave {done} of {} memory extents of order {order}",
                extents.len()
            )));
        }
        Ok(())
    }

    fn populate_all(&self, nr_pages: u64) -> Result<Vec<u64>, TargetError> {
        let mut p2m: Vec<u64> = (0..nr_pages).collect();
        let super_end = nr_pages / SUPERPAGE_PAGES * SUPERPAGE_PAGES;
        let mut pfn = 0;
        while pfn < super_end {
            let n = ((super_end - pfn) / SUPERPAGE_PAGES).min(EXTENTS_PER_CALL as u64);
            let mut extents: Vec<u64> = (0..n).map(|i| pfn + i * SUPERPAGE_PAGES).collect();
            // Fragmented free memory gives fewer 2 MiB extents than asked:
            // as libxenguest, keep those and go on with 4 KiB pages.
            let done = self
                .xen
                .populate_physmap(self.dom, SUPERPAGE_ORDER, 0, &mut extents)
                .map_err(failed("populate_physmap"))?
                .min(extents.len());
            for (i, mfn) in extents.iter().take(done).enumerate() {
                let first = pfn + i as u64 * SUPERPAGE_PAGES;
                for k in 0..SUPERPAGE_PAGES {
                    p2m[(first + k) as usize] = mfn + k;
                }
            }
            pfn += done as u64 * SUPERPAGE_PAGES;
            if (done as u64) < n {
                break;
            }
        }
        while pfn < nr_pages {
            let n = (nr_pages - pfn).min(EXTENTS_PER_CALL as u64);
            let mut extents: Vec<u64> = (pfn..pfn + n).collect();
            self.populate_exact(0, &mut extents)?;
            p2m[pfn as usize..(pfn + n) as usize].copy_from_slice(&extents);
            pfn += n;
        }
        Ok(p2m)
    }

    fn claim_and_populate(&self, nr_pages: u64) -> Result<Vec<u64>, TargetError> {
        self.xen
            .claim_pages(self.dom, nr_pages)
            .map_err(failed("claim_pages"))?;
        let r = self.populate_all(nr_pages);
        let cancel = self.xen.claim_pages(self.dom, 0);
        let p2m = r?;
        cancel.map_err(failed("claim_pages (cancel)"))?;
        Ok(p2m)
    }

    /// Map `mfns` in batches of MAP_BATCH frames and let `fill` write each
    /// batch in place (for the kernel, straight from its file).
    fn fill_frames_mapped(
        &mut self,
        mfns: &[u64],
        fill: &mut FillFrames<'_>,
    ) -> Result<(), TargetError> {
        let t = Instant::now();
        for (i, frames) in mfns.chunks(MAP_BATCH).enumerate() {
            self.xen
                .with_foreign(self.dom, frames, |bytes| fill(i * MAP_BATCH * PAGE, bytes))
                .map_err(failed("map guest frames"))??;
        }
        self.written.0 += mfns.len();
        self.written.1 += t.elapsed();
        Ok(())
    }
}

impl GuestFrames for XenTarget<'_> {
    fn write_frames_with(
        &mut self,
        mfns: &[u64],
        fill: &mut FillFrames<'_>,
    ) -> Result<(), TargetError> {
        self.fill_frames_mapped(mfns, fill)
    }
}

impl PvTarget for XenTarget<'_> {
    /// As libxenguest with xl's default claim mode: claim first so a
    /// too-large guest fails before any allocation, cancel the claim
    /// afterwards whatever happened.
    fn populate(&mut self, nr_pages: u64) -> Result<Vec<u64>, TargetError> {
        timed("claim and populate the guest's memory", || {
            self.claim_and_populate(nr_pages)
        })
    }

    fn shared_info_mfn(&mut self) -> Result<u64, TargetError> {
        let info = self
            .xen
            .getdomaininfo(self.dom)
            .map_err(failed("getdomaininfo"))?;
        Ok(info.shared_info_frame)
    }

    fn hypercall_page(&mut self, mfn: u64) -> Result<(), TargetError> {
        self.xen
            .hypercall_init(self.dom, mfn)
            .map_err(failed("hypercall_init"))
    }

    fn pin_l4(&mut self, mfn: u64) -> Result<(), TargetError> {
        self.xen
            .mmuext_pin_l4(self.dom, mfn)
            .map_err(failed("pin the L4 page table"))
    }

    fn init_shared_info(&mut self) -> Result<(), TargetError> {
        let mfn = self.shared_info_mfn()?;
        self.xen
            .with_foreign(self.dom, &[mfn], |page| {
                page.fill(0);
                for v in 0..LEGACY_VCPUS {
                    page[v * VCPU_INFO_SIZE + 1] = 1;
                }
            })
            .map_err(failed("map shared_info"))
    }

    fn set_vcpu_context(&mut self, c: &PvVcpuContext) -> Result<(), TargetError> {
        let ctx = vcpu_guest_context(c);
        self.xen
            .set_vcpu_context(self.dom, 0, &ctx)
            .map_err(failed("set vCPU 0's context"))
    }

    fn seed_grants(&mut self, grants: &[GrantSeed]) -> Result<(), TargetError> {
        seed_grants(self.xen, self.dom, grants)
    }
}

/// Grant-table entries through the grant table mapped as a resource.
pub(super) fn seed_grants(xen: &Xen, dom: DomId, grants: &[GrantSeed]) -> Result<(), TargetError> {
    if grants.is_empty() {
        return Ok(());
    }
    xen.with_grant_table(dom, |table| {
        for g in grants {
            let at = g.gref as usize * 8;
            let Some(entry) = table.get_mut(at..at + 8) else {
                return Err(TargetError::Message(format!(
                    "grant reference {} is outside the first grant frame",
                    g.gref
                )));
            };
            entry[2..4].copy_from_slice(&g.domid.to_le_bytes());
            entry[4..8].copy_from_slice(&(g.frame as u32).to_le_bytes());
            entry[0..2].copy_from_slice(&GTF_PERMIT_ACCESS.to_le_bytes());
        }
        Ok(())
    })
    .map_err(failed("map the grant table"))?
}

/// The builder's vCPU 0 state in Xen's x86-64 layout.
fn vcpu_guest_context(c: &PvVcpuContext) -> abi::VcpuGuestContext {
    let mut ctx = abi::VcpuGuestContext {
        flags: c.flags,
        ..Default::default()
    };
    ctx.user_regs.rip = c.rip;
    ctx.user_regs.rsp = c.rsp;
    ctx.user_regs.rsi = c.rsi;
    ctx.user_regs.rflags = c.rflags;
    ctx.user_regs.cs = c.cs;
    ctx.user_regs.ss = c.ss;
    ctx.user_regs.ds = c.ds;
    ctx.user_regs.es = c.es;
    ctx.user_regs.fs = c.fs;
    ctx.user_regs.gs = c.gs;
    ctx.kernel_ss = c.kernel_ss;
    ctx.kernel_sp = c.kernel_sp;
    ctx.ctrlreg[3] = c.cr3;
    ctx.debugreg[6] = c.debugreg6;
    ctx.debugreg[7] = c.debugreg7;
    ctx
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chain(e: impl Into<Error>) -> String {
        crate::error_chain(&e.into())
    }

    fn enoent() -> std::io::Error {
        std::io::Error::from_raw_os_error(2)
    }

    #[test]
    fn image_failures_read_as_the_path_then_the_cause() {
        let read = |what| DomainBuildError::Read {
            what,
            path: "/k".into(),
            source: enoent(),
        };
        assert_eq!(
            chain(read("kernel")),
            "cannot read kernel /k: No such file or directory"
        );
        assert_eq!(
            chain(DomainBuildError::NoBios(Box::new(read("BIOS")))),
            "cannot read BIOS /k: No such file or directory (install SeaBIOS, or OVMF for \
             bios=\"ovmf\", or set bios_path_override=)"
        );
        assert_eq!(
            chain(DomainBuildError::Image {
                what: "PVH kernel",
                path: "/k".into(),
                source: xl_builder::ImageError::BzImage("no setup header".into()),
            }),
            "PVH kernel /k: bzImage: no setup header"
        );
        assert!(std::error::Error::source(&read("kernel")).is_some());
    }

    #[test]
    fn builder_failures_say_the_builders_words_once() {
        let layout =
            || xl_builder::BuildError::Layout(xl_builder::layout::LayoutError("no room".into()));
        // Planning: the builder's message, which already names its cause.
        assert_eq!(
            chain(DomainBuildError::Plan(layout())),
            "cannot lay out the guest: no room"
        );
        // Out of memory: the sizes and what to do, nothing after.
        assert_eq!(
            chain(DomainBuildError::NoMemory {
                need_mib: 512,
                free_mib: 100,
                builder: layout(),
            }),
            "not enough free memory: the guest needs 512 MiB, Xen has 100 MiB free (lower \
             memory=, or free memory: xl mem-set 0 <MiB> or destroy a domain)"
        );
        let target =
            TargetError::failed("map the grant table", std::io::Error::from_raw_os_error(1));
        assert_eq!(
            chain(DomainBuildError::SeedGrants(target)),
            "seeding the grant table: map the grant table: Operation not permitted"
        );
        let e: Error = DomainBuildError::SeedGrants(TargetError::failed(
            "map",
            std::io::Error::from_raw_os_error(1),
        ))
        .into();
        assert_eq!(e.errno(), Some(1));
    }
}
