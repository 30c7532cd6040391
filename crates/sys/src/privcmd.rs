//! `/dev/xen/privcmd`: the hypercall ioctl, with every buffer Xen reads or
//! writes placed in memory from `/dev/xen/hypercall` (as libxencall does),
//! never on the Rust heap or stack: the kernel must be able to hand those
//! pages to the hypervisor safely.

use std::fs::{File, OpenOptions};
use std::os::fd::AsRawFd;
use std::ptr::NonNull;
use std::sync::{Mutex, OnceLock};

use crate::SysError;
use crate::abi::{DOMID_FIRST_RESERVED, DomId};

/// `_IOC(_IOC_NONE, 'P', 0, sizeof(privcmd_hypercall_t))`.
pub const IOCTL_PRIVCMD_HYPERCALL: u64 = ioc_none(b'P', 0, 48);
/// `_IOC(_IOC_NONE, 'P', 4, sizeof(privcmd_mmapbatch_v2_t))`.
pub const IOCTL_PRIVCMD_MMAPBATCH_V2: u64 = ioc_none(b'P', 4, 32);
/// `_IOC(_IOC_NONE, 'P', 7, sizeof(privcmd_mmap_resource_t))`.
pub const IOCTL_PRIVCMD_MMAP_RESOURCE: u64 = ioc_none(b'P', 7, 32);
/// `/dev/xen/evtchn` ioctls (`_IOC(_IOC_NONE, 'E', nr, size)`).
pub const IOCTL_EVTCHN_BIND_INTERDOMAIN: u64 = ioc_none(b'E', 1, 8);
pub const IOCTL_EVTCHN_BIND_UNBOUND_PORT: u64 = ioc_none(b'E', 2, 4);
pub const IOCTL_EVTCHN_UNBIND: u64 = ioc_none(b'E', 3, 4);
pub const IOCTL_EVTCHN_NOTIFY: u64 = ioc_none(b'E', 4, 4);

/// Linux `_IOC(_IOC_NONE, type, nr, size)`: dir 0 in bits 30-31, size in
/// 16-29, type in 8-15, nr in 0-7.
pub const fn ioc_none(ty: u8, nr: u8, size: u16) -> u64 {
    ((size as u64) << 16) | ((ty as u64) << 8) | nr as u64
}

/// `privcmd_hypercall_t`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct PrivcmdHypercall {
    pub op: u64,
    pub arg: [u64; 5],
}

/// `privcmd_mmapbatch_v2_t`: map `num` guest frames at `addr`, one
/// error code per frame in `err`.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct PrivcmdMmapBatchV2 {
    pub num: u32,
    pub dom: DomId,
    pub _pad: u16,
    pub addr: u64,
    pub arr: *const u64,
    pub err: *mut i32,
}

/// `privcmd_mmap_resource_t` (XENMEM_acquire_resource through privcmd).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct PrivcmdMmapResource {
    pub dom: DomId,
    pub _pad: u16,
    /// `type`: XENMEM_resource_*.
    pub kind: u32,
    pub id: u32,
    pub idx: u32,
    pub num: u64,
    pub addr: u64,
}

pub const PAGE: usize = 4096;

/// Rounds of re-mapping frames Xen reports as paged out (ENOENT), and the
/// longest pause between them (the pause doubles from 100 µs).
const PAGED_OUT_ROUNDS: u32 = 64;
const PAGED_OUT_MAX_PAUSE: std::time::Duration = std::time::Duration::from_millis(20);

/// Pages Xen may access during a hypercall. One-page buffers go back to
/// their [`Privcmd`]'s spares when dropped, as libxencall caches them: a
/// command making dozens of hypercalls maps one page, not dozens (each
/// map, first touch and unmap is a page-table update Xen must check).
pub struct HypercallBuf<'a> {
    ptr: *mut u8,
    len: usize,
    spares: &'a Mutex<Vec<usize>>,
}

/// How many one-page buffers a [`Privcmd`] keeps for reuse: the most one
/// operation holds at once.
const SPARE_BUFFERS: usize = 4;

impl HypercallBuf<'_> {
    /// Address to put in a hypercall argument or guest handle.
    pub fn addr(&self) -> u64 {
        self.ptr as u64
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn write(&mut self, offset: usize, data: &[u8]) {
        assert!(
            offset
                .checked_add(data.len())
                .is_some_and(|end| end <= self.len),
            "hypercall buffer overflow"
        );
        // SAFETY: `ptr` is a live mapping of `len` bytes owned by self, and
        // the bound was checked above; the source is a distinct Rust slice.
        unsafe { std::ptr::copy_nonoverlapping(data.as_ptr(), self.ptr.add(offset), data.len()) }
    }

    /// Clears the whole buffer (fresh and reused ones alike).
    fn zero(&mut self) {
        // SAFETY: `ptr` is a live, writable mapping of `len` bytes owned
        // by self.
        unsafe { std::ptr::write_bytes(self.ptr, 0, self.len) }
    }

    pub fn read(&self, offset: usize, len: usize) -> Vec<u8> {
        assert!(
            offset.checked_add(len).is_some_and(|end| end <= self.len),
            "hypercall buffer overread"
        );
        let mut out = vec![0u8; len];
        // SAFETY: as in `write`; the mapping outlives this call.
        unsafe { std::ptr::copy_nonoverlapping(self.ptr.add(offset), out.as_mut_ptr(), len) }
        out
    }
}

impl Drop for HypercallBuf<'_> {
    fn drop(&mut self) {
        if self.len == PAGE {
            let mut spares = self.spares.lock().unwrap_or_else(|e| e.into_inner());
            if spares.len() < SPARE_BUFFERS {
                spares.push(self.ptr as usize);
                return;
            }
        }
        // SAFETY: ptr/len are exactly what mmap returned for this buffer,
        // which is unmapped once (a kept page is unmapped by its Privcmd).
        unsafe {
            libc::munmap(self.ptr.cast(), self.len);
        }
    }
}

/// Open handles on the privcmd and hypercall-buffer devices.
pub struct Privcmd {
    privcmd: File,
    hypercall: Option<File>,
    /// Addresses of one-page hypercall buffers no one holds.
    spares: Mutex<Vec<usize>>,
}

impl Drop for Privcmd {
    fn drop(&mut self) {
        let started = log::log_enabled!(log::Level::Trace).then(std::time::Instant::now);
        let spares = self.spares.get_mut().unwrap_or_else(|e| e.into_inner());
        let n = spares.len();
        for addr in spares.drain(..) {
            // SAFETY: each address is a one-page mapping a dropped
            // HypercallBuf handed back; nothing else refers to it.
            unsafe {
                libc::munmap(addr as *mut libc::c_void, PAGE);
            }
        }
        if let Some(t) = started {
            let ms = t.elapsed().as_secs_f64() * 1000.0;
            log::trace!("privcmd: {n} kept buffers unmapped ({ms:.3} ms)");
        }
    }
}

fn open_rw(path: &str) -> std::io::Result<File> {
    OpenOptions::new().read(true).write(true).open(path)
}

/// The first of `paths` that opens. A path that is missing gives way to
/// the next; any other failure (EACCES for a user who is not root) is
/// the one reported, not the fallback's ENOENT.
fn open_first(paths: &[&'static str]) -> Result<File, SysError> {
    let mut missing = None;
    for &path in paths {
        match open_rw(path) {
            Ok(f) => return Ok(f),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                missing.get_or_insert((path, e));
            }
            Err(e) => return Err(open_error(path, e)),
        }
    }
    let (path, source) =
        missing.unwrap_or(("/dev/xen/privcmd", std::io::ErrorKind::NotFound.into()));
    Err(SysError::Open { path, source })
}

fn open_error(path: &'static str, source: std::io::Error) -> SysError {
    match source.raw_os_error() {
        Some(libc::EACCES | libc::EPERM) => SysError::Denied { path },
        _ => SysError::Open { path, source },
    }
}

/// The process's handles, opened on first use and kept until it exits:
/// a process talks to one hypervisor, and leaving the descriptors and
/// kept buffers to the exit saves a system call for each.
static SHARED: OnceLock<Privcmd> = OnceLock::new();

impl Privcmd {
    /// The process's handles, opened by the first call and kept until it
    /// exits.
    pub fn shared() -> Result<&'static Privcmd, SysError> {
        if let Some(pc) = SHARED.get() {
            return Ok(pc);
        }
        let pc = Privcmd::open()?;
        Ok(SHARED.get_or_init(|| pc))
    }

    pub fn open() -> Result<Self, SysError> {
        let privcmd = open_first(&["/dev/xen/privcmd", "/proc/xen/privcmd"])?;
        // Kernels before 4.18 lack the device; then locked anonymous
        // memory is the fallback libxencall uses too.
        let hypercall = open_rw("/dev/xen/hypercall").ok();
        Ok(Privcmd {
            privcmd,
            hypercall,
            spares: Mutex::new(Vec::new()),
        })
    }

    /// A zeroed buffer of at least `len` bytes, page-granular.
    pub fn buffer(&self, len: usize) -> Result<HypercallBuf<'_>, SysError> {
        let len = len
            .max(1)
            .div_ceil(PAGE)
            .checked_mul(PAGE)
            .filter(|l| *l <= isize::MAX as usize)
            .ok_or(SysError::Invalid("hypercall buffer size"))?;
        if len == PAGE {
            let spare = self.spares.lock().unwrap_or_else(|e| e.into_inner()).pop();
            if let Some(addr) = spare {
                let mut buf = HypercallBuf {
                    ptr: addr as *mut u8,
                    len,
                    spares: &self.spares,
                };
                buf.zero();
                return Ok(buf);
            }
        }
        let prot = libc::PROT_READ | libc::PROT_WRITE;
        let ptr = match &self.hypercall {
            // SAFETY: mapping a fresh shared region of the hypercall device;
            // the kernel validates fd and length, we check the result.
            Some(f) => unsafe {
                libc::mmap(
                    std::ptr::null_mut(),
                    len,
                    prot,
                    libc::MAP_SHARED,
                    f.as_raw_fd(),
                    0,
                )
            },
            // SAFETY: a fresh private anonymous mapping; no existing memory
            // is touched.
            None => unsafe {
                libc::mmap(
                    std::ptr::null_mut(),
                    len,
                    prot,
                    libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_LOCKED,
                    -1,
                    0,
                )
            },
        };
        if ptr == libc::MAP_FAILED {
            return Err(SysError::Mmap(std::io::Error::last_os_error()));
        }
        let mut buf = HypercallBuf {
            ptr: ptr.cast(),
            len,
            spares: &self.spares,
        };
        buf.zero();
        Ok(buf)
    }

    /// Issue one hypercall; returns Xen's non-negative result.
    ///
    /// # Safety
    ///
    /// Xen reads and writes this process's memory at whatever addresses
    /// `op` and `arg` tell it to, directly or through guest handles in
    /// the structures they point at. Every such address must lie in a
    /// [`HypercallBuf`] that stays alive for the call, with room for all
    /// Xen reads or writes there for this operation; other arguments must
    /// be plain values, not addresses.
    ///
    /// `what` names the operation in errors and in `-vvv` trace lines.
    pub(crate) unsafe fn hypercall(
        &self,
        what: &'static str,
        op: u64,
        arg: [u64; 5],
    ) -> Result<i64, SysError> {
        let started = log::log_enabled!(log::Level::Trace).then(std::time::Instant::now);
        // SAFETY: the caller's promise, passed on.
        let r = unsafe { self.raw_hypercall(op, arg) };
        if let Some(t) = started {
            let ms = t.elapsed().as_secs_f64() * 1e3;
            match &r {
                Ok(v) => log::trace!("hypercall {what}: {v} ({ms:.3} ms)"),
                Err(e) => log::trace!("hypercall {what}: {e} ({ms:.3} ms)"),
            }
        }
        r.map_err(|source| SysError::Hypercall { what, source })
    }

    /// The ioctl behind [`Privcmd::hypercall`].
    ///
    /// # Safety
    ///
    /// As for [`Privcmd::hypercall`].
    unsafe fn raw_hypercall(&self, op: u64, arg: [u64; 5]) -> Result<i64, std::io::Error> {
        let mut hc = PrivcmdHypercall { op, arg };
        // The raw syscall returns the whole long (libc's ioctl() cuts it to
        // an int; maximum_gpfn and extent counts are longs).
        // SAFETY: IOCTL_PRIVCMD_HYPERCALL takes a pointer to a
        // privcmd_hypercall_t, which `hc` is (repr(C), 48 bytes, tested),
        // alive for the call; what it points Xen at is the caller's
        // promise (see # Safety).
        let r = unsafe {
            libc::syscall(
                libc::SYS_ioctl,
                self.privcmd.as_raw_fd(),
                IOCTL_PRIVCMD_HYPERCALL,
                &mut hc as *mut PrivcmdHypercall,
            )
        };
        if r < 0 {
            Err(std::io::Error::last_os_error())
        } else {
            Ok(r)
        }
    }
}

/// Guest memory mapped into this process: `len` bytes, every page backed
/// by a frame of another domain. Unmapped when dropped.
///
/// The bytes are shared with that domain: while it runs they may change
/// under a slice (any byte value is valid, so this can give stale or torn
/// data but nothing worse). Builders map paused domains.
pub struct ForeignMap {
    ptr: NonNull<u8>,
    len: usize,
    writable: bool,
}

/// Guest memory mapped read-only where the guest has it: some pages of
/// the mapping are backed by the domain's frames, the others not at all.
pub struct PartialMap {
    map: ForeignMap,
    mapped: Vec<bool>,
}

impl PartialMap {
    /// The `i`-th page, if its frame was mapped.
    pub fn page(&self, i: usize) -> Option<&[u8]> {
        if !*self.mapped.get(i)? {
            return None;
        }
        let start = i.checked_mul(PAGE)?;
        // SAFETY: page `i` lies inside the live mapping `map` owns (the
        // vector has one entry per page of it) and the ioctl reported its
        // frame mapped, so every byte is backed by the guest's frame; the
        // slice borrows self, which keeps the mapping until drop. Only this
        // page is covered: unbacked pages of the mapping are never part of a
        // slice. u8 has no invalid values.
        Some(unsafe { std::slice::from_raw_parts(self.map.ptr.as_ptr().add(start), PAGE) })
    }
}

impl ForeignMap {
    pub fn len(&self) -> usize {
        self.len
    }

    /// Never true: empty mappings are refused.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn is_writable(&self) -> bool {
        self.writable
    }

    /// Address of the first byte in this process (for logs).
    pub fn addr(&self) -> usize {
        self.ptr.as_ptr() as usize
    }

    pub fn as_slice(&self) -> &[u8] {
        // SAFETY: `ptr` is a live `len`-byte mapping owned by self until
        // drop, which the borrow of self rules out meanwhile. Its pages are
        // guest frames (a ForeignMap is handed out only after the ioctl
        // reported every page mapped; a page left unbacked would fault with
        // SIGBUS, never show other memory). They belong to another domain,
        // never to memory Rust allocated here (own and reserved domids are
        // refused), and u8 has no invalid values.
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.len) }
    }

    /// # Panics
    /// When the frames were mapped read-only (writing would fault).
    pub fn as_mut_slice(&mut self) -> &mut [u8] {
        assert!(self.writable, "foreign mapping is read-only");
        // SAFETY: as in as_slice; the mapping is PROT_WRITE, and `&mut self`
        // makes this the only live reference into it from this map.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.as_ptr(), self.len) }
    }

    /// The `i`-th page of the mapping (the frame `frames[i]` of
    /// map_foreign), or None past the end.
    pub fn page(&self, i: usize) -> Option<&[u8]> {
        let start = i.checked_mul(PAGE)?;
        self.as_slice().get(start..start.checked_add(PAGE)?)
    }

    /// # Panics
    /// As [`ForeignMap::as_mut_slice`].
    pub fn page_mut(&mut self, i: usize) -> Option<&mut [u8]> {
        let start = i.checked_mul(PAGE)?;
        let end = start.checked_add(PAGE)?;
        self.as_mut_slice().get_mut(start..end)
    }
}

impl std::fmt::Debug for ForeignMap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ForeignMap")
            .field("addr", &self.ptr)
            .field("len", &self.len)
            .field("writable", &self.writable)
            .finish()
    }
}

impl Drop for ForeignMap {
    fn drop(&mut self) {
        // SAFETY: ptr/len are exactly what mmap returned for this map, and
        // no slice of it outlives self; unmapped once.
        unsafe {
            libc::munmap(self.ptr.as_ptr().cast(), self.len);
        }
    }
}

/// Index ranges of consecutive frames the kernel reported paged out.
fn paged_out_runs(err: &[i32]) -> Vec<std::ops::Range<usize>> {
    let mut runs = Vec::new();
    let mut i = 0;
    while i < err.len() {
        let run = err[i..].iter().take_while(|e| **e == -libc::ENOENT).count();
        if run > 0 {
            runs.push(i..i + run);
        }
        i += run.max(1);
    }
    runs
}

/// The first frame that did not map and its errno (the kernel stores
/// negative errnos).
fn first_failure(err: &[i32]) -> Option<(usize, i32)> {
    err.iter()
        .position(|e| *e != 0)
        .map(|i| (i, err[i].saturating_neg()))
}

fn invalid(what: &'static str) -> SysError {
    SysError::Invalid(what)
}

/// Frames of our own domain would alias this process's memory; reserved
/// ids (DOMID_SELF, ...) name no guest.
fn check_foreign_dom(dom: DomId) -> Result<(), SysError> {
    if dom == 0 || dom >= DOMID_FIRST_RESERVED {
        return Err(invalid("foreign mappings need a guest domid"));
    }
    Ok(())
}

impl Privcmd {
    /// A fresh privcmd VMA of `pages` pages. Its pages are not backed
    /// until an ioctl fills them, so it must not reach callers before.
    fn privcmd_vma(&self, pages: usize, writable: bool) -> Result<ForeignMap, SysError> {
        let len = pages
            .checked_mul(PAGE)
            .filter(|l| *l > 0 && *l <= isize::MAX as usize)
            .ok_or_else(|| invalid("foreign mapping size"))?;
        let prot = if writable {
            libc::PROT_READ | libc::PROT_WRITE
        } else {
            libc::PROT_READ
        };
        // SAFETY: a new shared mapping of the privcmd device at an address
        // the kernel picks; no existing memory is affected. The result is
        // checked below.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                prot,
                libc::MAP_SHARED,
                self.privcmd.as_raw_fd(),
                0,
            )
        };
        if ptr == libc::MAP_FAILED {
            return Err(SysError::Mmap(std::io::Error::last_os_error()));
        }
        let ptr = NonNull::new(ptr.cast()).ok_or_else(|| invalid("mmap returned NULL"))?;
        Ok(ForeignMap { ptr, len, writable })
    }

    /// One IOCTL_PRIVCMD_MMAPBATCH_V2 for `frames` at page `first` of
    /// `map`; per-frame results land in `err`. Ok(true) when some frame
    /// is paged out (the ioctl's ENOENT).
    fn mmapbatch(
        &self,
        dom: DomId,
        map: &ForeignMap,
        first: usize,
        frames: &[u64],
        err: &mut [i32],
    ) -> Result<bool, SysError> {
        let in_range = first
            .checked_add(frames.len())
            .and_then(|end| end.checked_mul(PAGE))
            .is_some_and(|end| end <= map.len);
        if !in_range || err.len() != frames.len() {
            return Err(invalid("mmapbatch range"));
        }
        let num = u32::try_from(frames.len()).map_err(|_| invalid("too many frames"))?;
        let mut req = PrivcmdMmapBatchV2 {
            num,
            dom,
            _pad: 0,
            addr: (map.addr() + first * PAGE) as u64,
            arr: frames.as_ptr(),
            err: err.as_mut_ptr(),
        };
        // SAFETY: the ioctl takes a privcmd_mmapbatch_v2_t (repr(C), layout
        // tested). The kernel reads `num` frames from `arr` and writes `num`
        // ints to `err`, both slices of that length alive for the call; it
        // maps pages only inside the privcmd VMA `map` owns, within the
        // range checked above.
        let r = unsafe {
            libc::ioctl(
                self.privcmd.as_raw_fd(),
                IOCTL_PRIVCMD_MMAPBATCH_V2 as _,
                &mut req,
            )
        };
        if r == 0 {
            return Ok(false);
        }
        let e = std::io::Error::last_os_error();
        if e.raw_os_error() == Some(libc::ENOENT) {
            return Ok(true);
        }
        Err(SysError::Hypercall {
            what: "privcmd mmapbatch_v2",
            source: e,
        })
    }

    /// Map guest frames (MFNs for PV guests seen from a PV dom0, GFNs
    /// otherwise) of `dom`, `frames[i]` at page `i`. Fails unless every
    /// frame is mapped; paged-out frames are retried a bounded number of
    /// times.
    pub(crate) fn map_foreign(
        &self,
        dom: DomId,
        frames: &[u64],
        writable: bool,
    ) -> Result<ForeignMap, SysError> {
        check_foreign_dom(dom)?;
        if frames.is_empty() {
            return Err(invalid("no frames to map"));
        }
        let map = self.privcmd_vma(frames.len(), writable)?;
        let mut err = vec![0i32; frames.len()];
        // The first batch must cover the whole fresh VMA.
        let mut paged = self.mmapbatch(dom, &map, 0, frames, &mut err)?;
        let mut pause = std::time::Duration::from_micros(100);
        for _ in 0..PAGED_OUT_ROUNDS {
            if !paged {
                break;
            }
            std::thread::sleep(pause);
            pause = (pause * 2).min(PAGED_OUT_MAX_PAUSE);
            paged = false;
            // Later batches may fill holes of the VMA: one per run of
            // paged-out frames.
            for run in paged_out_runs(&err) {
                let (f, e) = (&frames[run.clone()], &mut err[run.clone()]);
                paged |= self.mmapbatch(dom, &map, run.start, f, e)?;
            }
        }
        if let Some((index, errno)) = first_failure(&err) {
            return Err(SysError::ForeignFrame {
                dom,
                index,
                frame: frames[index],
                source: std::io::Error::from_raw_os_error(errno),
            });
        }
        Ok(map)
    }

    /// Map those of `frames` of `dom` that Xen lets this domain map, in
    /// one batch: unlike [`Privcmd::map_foreign`], frames that fail (holes,
    /// frames the guest does not have) are no error; they stay unbacked and
    /// [`PartialMap::page`] answers None for them.
    pub(crate) fn map_foreign_some(
        &self,
        dom: DomId,
        frames: &[u64],
    ) -> Result<PartialMap, SysError> {
        check_foreign_dom(dom)?;
        if frames.is_empty() {
            return Err(invalid("no frames to map"));
        }
        let map = self.privcmd_vma(frames.len(), false)?;
        let mut err = vec![0i32; frames.len()];
        // Paged-out frames count as missing: a dump takes what is there.
        self.mmapbatch(dom, &map, 0, frames, &mut err)?;
        let mapped = err.iter().map(|e| *e == 0).collect();
        Ok(PartialMap { map, mapped })
    }

    /// IOCTL_PRIVCMD_MMAP_RESOURCE: `pages` frames of resource
    /// (`kind`, `id`) of `dom` from frame `idx` (XENMEM_acquire_resource).
    pub(crate) fn map_resource(
        &self,
        dom: DomId,
        kind: u32,
        id: u32,
        idx: u32,
        pages: usize,
        writable: bool,
    ) -> Result<ForeignMap, SysError> {
        check_foreign_dom(dom)?;
        if pages == 0 {
            return Err(invalid("no frames to map"));
        }
        let map = self.privcmd_vma(pages, writable)?;
        let mut req = PrivcmdMmapResource {
            dom,
            kind,
            id,
            idx,
            num: pages as u64,
            addr: map.addr() as u64,
            ..Default::default()
        };
        // SAFETY: the ioctl takes a privcmd_mmap_resource_t (repr(C),
        // layout tested) and maps at most `num` pages at `addr`, which is
        // the whole privcmd VMA `map` owns. Should the kernel leave a page
        // unbacked, touching it raises SIGBUS; it never shows other memory.
        let r = unsafe {
            libc::ioctl(
                self.privcmd.as_raw_fd(),
                IOCTL_PRIVCMD_MMAP_RESOURCE as _,
                &mut req,
            )
        };
        if r != 0 {
            return Err(SysError::Hypercall {
                what: "privcmd mmap_resource",
                source: std::io::Error::last_os_error(),
            });
        }
        Ok(map)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_real_open_error_is_reported_not_the_fallbacks() {
        // "/" cannot be opened read-write (EISDIR); the fallback is missing.
        match open_first(&["/", "/nonexistent/privcmd"]) {
            Err(SysError::Open { path, source }) => {
                assert_eq!(path, "/");
                assert_eq!(source.raw_os_error(), Some(libc::EISDIR));
            }
            other => panic!("{other:?}"),
        }
        // Missing everywhere: the first path's ENOENT.
        match open_first(&["/nonexistent/a", "/nonexistent/b"]) {
            Err(SysError::Open { path, source }) => {
                assert_eq!(path, "/nonexistent/a");
                assert_eq!(source.kind(), std::io::ErrorKind::NotFound);
            }
            other => panic!("{other:?}"),
        }
        let denied = open_error(
            "/dev/xen/privcmd",
            std::io::Error::from_raw_os_error(libc::EACCES),
        );
        assert_eq!(
            denied.to_string(),
            "cannot open /dev/xen/privcmd: permission denied: run xl as root"
        );
    }

    #[test]
    fn paged_out_frames_are_retried_in_runs() {
        let n = -libc::ENOENT;
        assert_eq!(
            paged_out_runs(&[0, n, n, 0, n, -libc::EFAULT, n]),
            [1..3, 4..5, 6..7]
        );
        assert!(paged_out_runs(&[0, 0]).is_empty());
        assert!(paged_out_runs(&[]).is_empty());
    }

    #[test]
    fn the_first_failed_frame_is_reported_with_its_errno() {
        assert_eq!(first_failure(&[0, 0, 0]), None);
        assert_eq!(
            first_failure(&[0, -libc::EPERM, -libc::EFAULT]),
            Some((1, libc::EPERM))
        );
        // A frame still paged out after the retries counts as failed.
        assert_eq!(first_failure(&[-libc::ENOENT]), Some((0, libc::ENOENT)));
    }

    #[test]
    fn own_and_reserved_domains_are_not_mapped() {
        for dom in [0, DOMID_FIRST_RESERVED, DOMID_FIRST_RESERVED + 1, u16::MAX] {
            assert!(matches!(check_foreign_dom(dom), Err(SysError::Invalid(_))));
        }
        assert!(check_foreign_dom(1).is_ok());
        assert!(check_foreign_dom(DOMID_FIRST_RESERVED - 1).is_ok());
    }

    /// A ForeignMap over anonymous memory, to test its accessors without
    /// Xen.
    fn anonymous(pages: usize, writable: bool) -> ForeignMap {
        let len = pages * PAGE;
        // SAFETY: a fresh private anonymous mapping; ForeignMap's Drop
        // unmaps exactly it.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        assert_ne!(ptr, libc::MAP_FAILED);
        ForeignMap {
            ptr: NonNull::new(ptr.cast()).unwrap(),
            len,
            writable,
        }
    }

    #[test]
    fn foreign_map_pages_are_bounded() {
        let mut m = anonymous(3, true);
        assert_eq!(m.len(), 3 * PAGE);
        m.page_mut(2).unwrap()[PAGE - 1] = 7;
        assert_eq!(m.as_slice()[3 * PAGE - 1], 7);
        assert_eq!(m.page(2).unwrap().len(), PAGE);
        assert!(m.page(3).is_none());
        assert!(m.page(usize::MAX).is_none());
        assert!(m.page(usize::MAX / PAGE + 1).is_none());
        assert!(m.page_mut(usize::MAX).is_none());
    }

    #[test]
    #[should_panic(expected = "read-only")]
    fn read_only_foreign_maps_give_no_mutable_slice() {
        anonymous(1, false).as_mut_slice();
    }

    #[test]
    fn a_buffer_size_that_would_wrap_is_refused() {
        let pc = without_xen();
        for len in [usize::MAX, usize::MAX - PAGE, isize::MAX as usize + 1] {
            assert!(matches!(pc.buffer(len), Err(SysError::Invalid(_))), "{len}");
        }
        assert_eq!(pc.buffer(1).unwrap().len(), PAGE);
    }

    #[test]
    #[should_panic(expected = "overflow")]
    fn hypercall_buffer_offsets_cannot_wrap() {
        let len = PAGE;
        // SAFETY: a fresh private anonymous mapping owned by the buffer.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        assert_ne!(ptr, libc::MAP_FAILED);
        let spares = Mutex::new(Vec::new());
        let mut b = HypercallBuf {
            ptr: ptr.cast(),
            len,
            spares: &spares,
        };
        b.write(usize::MAX, &[1, 2]);
    }

    fn without_xen() -> Privcmd {
        Privcmd {
            privcmd: File::open("/dev/null").expect("/dev/null"),
            hypercall: None,
            spares: Mutex::new(Vec::new()),
        }
    }

    #[test]
    fn page_buffers_are_reused_cleared_and_bounded() {
        let pc = without_xen();
        let first = {
            let mut b = pc.buffer(100).expect("buffer");
            b.write(0, &[0xaa; 100]);
            b.addr()
        };
        let again = pc.buffer(PAGE).expect("buffer");
        assert_eq!(again.addr(), first, "a dropped page is handed out again");
        assert_eq!(again.read(0, 100), vec![0; 100], "and cleared first");
        let held: Vec<_> = (0..SPARE_BUFFERS + 2)
            .map(|_| pc.buffer(1).expect("buffer"))
            .collect();
        drop(held);
        drop(again);
        assert_eq!(pc.spares.lock().unwrap().len(), SPARE_BUFFERS);
        let big = pc.buffer(PAGE + 1).expect("buffer");
        assert_eq!(big.len(), 2 * PAGE);
        drop(big);
        assert_eq!(
            pc.spares.lock().unwrap().len(),
            SPARE_BUFFERS,
            "only pages are kept"
        );
    }
}
