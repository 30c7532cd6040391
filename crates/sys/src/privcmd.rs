//! `/dev/xen/privcmd`: the hypercall ioctl, with every buffer Xen reads or
//! writes placed in memory from `/dev/xen/hypercall` (as libxencall does),
//! never on the Rust heap or stack: the kernel must be able to hand those
//! pages to the hypervisor safely.

use std::fs::{File, OpenOptions};
use std::os::fd::AsRawFd;

use crate::SysError;

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

const PAGE: usize = 4096;

/// Pages Xen may access during a hypercall.
pub struct HypercallBuf {
    ptr: *mut u8,
    len: usize,
}

impl HypercallBuf {
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
        assert!(offset + data.len() <= self.len, "hypercall buffer overflow");
        // SAFETY: `ptr` is a live mapping of `len` bytes owned by self, and
        // the bound was checked above; the source is a distinct Rust slice.
        unsafe { std::ptr::copy_nonoverlapping(data.as_ptr(), self.ptr.add(offset), data.len()) }
    }

    pub fn read(&self, offset: usize, len: usize) -> Vec<u8> {
        assert!(offset + len <= self.len, "hypercall buffer overread");
        let mut out = vec![0u8; len];
        // SAFETY: as in `write`; the mapping outlives this call.
        unsafe { std::ptr::copy_nonoverlapping(self.ptr.add(offset), out.as_mut_ptr(), len) }
        out
    }
}

impl Drop for HypercallBuf {
    fn drop(&mut self) {
        // SAFETY: ptr/len are exactly what mmap returned for this buffer,
        // which is unmapped once.
        unsafe {
            libc::munmap(self.ptr.cast(), self.len);
        }
    }
}

/// Open handles on the privcmd and hypercall-buffer devices.
pub struct Privcmd {
    privcmd: File,
    hypercall: Option<File>,
}

fn open_rw(path: &str) -> std::io::Result<File> {
    OpenOptions::new().read(true).write(true).open(path)
}

impl Privcmd {
    pub fn open() -> Result<Self, SysError> {
        let privcmd = open_rw("/dev/xen/privcmd")
            .or_else(|_| open_rw("/proc/xen/privcmd"))
            .map_err(|e| SysError::Open {
                path: "/dev/xen/privcmd",
                source: e,
            })?;
        // Kernels before 4.18 lack the device; then locked anonymous
        // memory is the fallback libxencall uses too.
        let hypercall = open_rw("/dev/xen/hypercall").ok();
        Ok(Privcmd { privcmd, hypercall })
    }

    /// A zeroed buffer of at least `len` bytes, page-granular.
    pub fn buffer(&self, len: usize) -> Result<HypercallBuf, SysError> {
        let len = len.max(1).div_ceil(PAGE) * PAGE;
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
        };
        buf.write(0, &vec![0u8; len]);
        Ok(buf)
    }

    /// Issue one hypercall; returns Xen's non-negative result.
    pub fn hypercall(&self, op: u64, arg: [u64; 5]) -> Result<i64, std::io::Error> {
        let mut hc = PrivcmdHypercall { op, arg };
        // SAFETY: IOCTL_PRIVCMD_HYPERCALL takes a pointer to a
        // privcmd_hypercall_t, which `hc` is (repr(C), 48 bytes, tested);
        // any memory it points Xen at lives in HypercallBufs of the caller.
        let r = unsafe {
            libc::ioctl(
                self.privcmd.as_raw_fd(),
                IOCTL_PRIVCMD_HYPERCALL as _,
                &mut hc,
            )
        };
        if r < 0 {
            Err(std::io::Error::last_os_error())
        } else {
            Ok(i64::from(r))
        }
    }
}
