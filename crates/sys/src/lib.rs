//! Xen's public ABI and the hypercall path, for a toolstack.
//!
//! This is the only crate with `unsafe` (in `privcmd`): mapping hypercall
//! buffers and the privcmd ioctl. Everything else talks to Xen through
//! [`Xen`], which picks the domctl/sysctl interface version at run time
//! from the hypervisor's own version (4.17 to 4.22 supported).
//! It does not know about xenstore, domain building or xl's policies.
#![allow(unsafe_code)]

pub mod abi;
#[cfg(test)]
mod expected;
pub mod privcmd;

use abi::*;
pub use privcmd::ForeignMap;
use privcmd::{HypercallBuf, Privcmd};

/// Text up to the first NUL.
pub fn c_string(b: &[u8]) -> String {
    let end = b.iter().position(|c| *c == 0).unwrap_or(b.len());
    String::from_utf8_lossy(&b[..end]).into_owned()
}

#[derive(Debug, thiserror::Error)]
pub enum SysError {
    #[error("cannot open {path}")]
    Open {
        path: &'static str,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot map hypercall buffer")]
    Mmap(#[source] std::io::Error),
    #[error("hypercall {what} failed")]
    Hypercall {
        what: &'static str,
        #[source]
        source: std::io::Error,
    },
    #[error("Xen {major}.{minor} is not supported (supported: 4.17 to 4.22)")]
    Unsupported { major: u32, minor: u32 },
    /// One frame of a foreign mapping failed (the ioctl itself succeeded).
    #[error("cannot map frame {index} ({frame:#x}) of domain {dom}")]
    ForeignFrame {
        dom: DomId,
        index: usize,
        frame: u64,
        #[source]
        source: std::io::Error,
    },
    /// A grant-table operation returned a GNTST_* status other than okay.
    #[error("{what} failed with grant status {status}")]
    GrantStatus { what: &'static str, status: i16 },
    /// Arguments refused before any hypercall.
    #[error("invalid request: {0}")]
    Invalid(&'static str),
}

/// A connection to the hypervisor.
pub struct Xen {
    pc: Privcmd,
    pub version: (u32, u32),
    pub iv: InterfaceVersions,
}

/// Held while a guest mapping is handed to safe code: one at a time per
/// process, so two live `&mut [u8]` never cover the same guest frame.
static FOREIGN_MAPPING: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// One frame twice in a mapping would give two places of one `&mut [u8]`
/// the same memory.
fn distinct_frames(frames: &[u64]) -> Result<(), SysError> {
    let mut sorted = frames.to_vec();
    sorted.sort_unstable();
    if sorted.windows(2).any(|w| w[0] == w[1]) {
        return Err(SysError::Invalid("a frame is listed twice in one mapping"));
    }
    Ok(())
}

fn exclusive_mapping() -> Result<std::sync::MutexGuard<'static, ()>, SysError> {
    match FOREIGN_MAPPING.try_lock() {
        Ok(g) => Ok(g),
        Err(std::sync::TryLockError::Poisoned(p)) => Ok(p.into_inner()),
        Err(std::sync::TryLockError::WouldBlock) => Err(SysError::Invalid(
            "another guest mapping is in use in this process",
        )),
    }
}

fn hc_err(what: &'static str) -> impl FnOnce(std::io::Error) -> SysError {
    move |source| SysError::Hypercall { what, source }
}

/// Names for errors, so a failure says which operation it was.
fn domctl_what(cmd: u32) -> &'static str {
    match cmd {
        DOMCTL_CREATEDOMAIN => "domctl createdomain",
        DOMCTL_DESTROYDOMAIN => "domctl destroydomain",
        DOMCTL_PAUSEDOMAIN => "domctl pausedomain",
        DOMCTL_UNPAUSEDOMAIN => "domctl unpausedomain",
        DOMCTL_GETDOMAININFO => "domctl getdomaininfo",
        DOMCTL_SETVCPUAFFINITY => "domctl setvcpuaffinity",
        DOMCTL_MAX_MEM => "domctl max_mem",
        DOMCTL_SETVCPUCONTEXT => "domctl setvcpucontext",
        DOMCTL_GETVCPUINFO => "domctl getvcpuinfo",
        DOMCTL_MAX_VCPUS => "domctl max_vcpus",
        DOMCTL_SCHEDULER_OP => "domctl scheduler_op",
        DOMCTL_HYPERCALL_INIT => "domctl hypercall_init",
        DOMCTL_GETVCPUAFFINITY => "domctl getvcpuaffinity",
        DOMCTL_SENDTRIGGER => "domctl sendtrigger",
        DOMCTL_SET_ADDRESS_SIZE => "domctl set_address_size",
        DOMCTL_SETTSCINFO => "domctl settscinfo",
        DOMCTL_GETNODEAFFINITY => "domctl getnodeaffinity",
        _ => "domctl",
    }
}

fn sysctl_what(cmd: u32) -> &'static str {
    match cmd {
        SYSCTL_READCONSOLE => "sysctl readconsole",
        SYSCTL_PHYSINFO => "sysctl physinfo",
        SYSCTL_SCHED_ID => "sysctl sched_id",
        SYSCTL_GETDOMAININFOLIST => "sysctl getdomaininfolist",
        SYSCTL_CPUTOPOINFO => "sysctl cputopoinfo",
        SYSCTL_NUMAINFO => "sysctl numainfo",
        SYSCTL_CPUPOOL_OP => "sysctl cpupool_op",
        SYSCTL_SCHEDULER_OP => "sysctl scheduler_op",
        SYSCTL_PCITOPOINFO => "sysctl pcitopoinfo",
        _ => "sysctl",
    }
}

fn memory_op_what(cmd: u64) -> &'static str {
    match cmd {
        XENMEM_POPULATE_PHYSMAP => "memory_op populate_physmap",
        XENMEM_SET_MEMORY_MAP => "memory_op set_memory_map",
        XENMEM_MAXIMUM_GPFN => "memory_op maximum_gpfn",
        XENMEM_SET_POD_TARGET => "memory_op set_pod_target",
        XENMEM_GET_SHARING_FREED_PAGES => "memory_op get_sharing_freed_pages",
        XENMEM_GET_SHARING_SHARED_PAGES => "memory_op get_sharing_shared_pages",
        XENMEM_CLAIM_PAGES => "memory_op claim_pages",
        _ => "memory_op",
    }
}

/// The createdomain domctl for a Xen of `version` speaking domctl
/// interface `iv`; domain 0 lets Xen pick the domid.
fn createdomain_domctl(
    version: (u32, u32),
    iv: u32,
    cfg: &CreateDomain,
) -> Result<Domctl, SysError> {
    let bytes = cfg
        .to_bytes(CreateDomainLayout::for_version(version))
        .ok_or(SysError::Invalid(
            "altp2m_opts needs Xen 4.19 or later (earlier: HVM_PARAM_ALTP2M)",
        ))?;
    let mut d = Domctl {
        cmd: DOMCTL_CREATEDOMAIN,
        interface_version: iv,
        domain: 0,
        ..Default::default()
    };
    d.u[..bytes.len()].copy_from_slice(&bytes);
    Ok(d)
}

impl Xen {
    pub fn open() -> Result<Self, SysError> {
        let pc = Privcmd::open()?;
        let v = pc
            .hypercall(HYPERVISOR_XEN_VERSION, [XENVER_VERSION, 0, 0, 0, 0])
            .map_err(hc_err("xen_version"))?;
        let v = v as u32;
        let version = (v >> 16, v & 0xffff);
        let iv = interface_versions(v).ok_or(SysError::Unsupported {
            major: version.0,
            minor: version.1,
        })?;
        Ok(Xen { pc, version, iv })
    }

    fn buf_with(&self, bytes: &[u8], extra: usize) -> Result<HypercallBuf, SysError> {
        let mut b = self.pc.buffer(bytes.len() + extra)?;
        b.write(0, bytes);
        Ok(b)
    }

    /// Run a sysctl; `extra` bytes after it are for guest-handle buffers.
    fn sysctl_in(&self, buf: &HypercallBuf) -> Result<Sysctl, SysError> {
        let cmd = u32::from_le_bytes(buf.read(0, 4).try_into().expect("4 bytes"));
        self.pc
            .hypercall(HYPERVISOR_SYSCTL, [buf.addr(), 0, 0, 0, 0])
            .map_err(hc_err(sysctl_what(cmd)))?;
        Ok(Sysctl::from_bytes(
            &buf.read(0, std::mem::size_of::<Sysctl>()),
        ))
    }

    fn domctl(&self, d: Domctl) -> Result<Domctl, SysError> {
        let buf = self.buf_with(&d.to_bytes(), 0)?;
        self.pc
            .hypercall(HYPERVISOR_DOMCTL, [buf.addr(), 0, 0, 0, 0])
            .map_err(hc_err(domctl_what(d.cmd)))?;
        Ok(Domctl::from_bytes(
            &buf.read(0, std::mem::size_of::<Domctl>()),
        ))
    }

    pub fn physinfo(&self) -> Result<PhysInfo, SysError> {
        let s = Sysctl::new(SYSCTL_PHYSINFO, self.iv.sysctl, &PhysInfo::default());
        let buf = self.buf_with(&s.to_bytes(), 0)?;
        Ok(self.sysctl_in(&buf)?.payload())
    }

    pub fn sched_id(&self) -> Result<u32, SysError> {
        let s = Sysctl::new(SYSCTL_SCHED_ID, self.iv.sysctl, &abi::NoPayload);
        let buf = self.buf_with(&s.to_bytes(), 0)?;
        let r = self.sysctl_in(&buf)?;
        Ok(u32::from_le_bytes([r.u[0], r.u[1], r.u[2], r.u[3]]))
    }

    /// Every domain from `first` on, in domid order (at most `max`).
    pub fn domain_list(&self, first: DomId, max: u32) -> Result<Vec<DomainInfo>, SysError> {
        let size = std::mem::size_of::<Sysctl>().div_ceil(64) * 64;
        let info = std::mem::size_of::<DomainInfo>();
        let mut buf = self.pc.buffer(size + info * max as usize)?;
        let req = GetDomainInfoList {
            first_domain: first,
            max_domains: max,
            buffer: buf.addr() + size as u64,
            ..Default::default()
        };
        let s = Sysctl::new(SYSCTL_GETDOMAININFOLIST, self.iv.sysctl, &req);
        buf.write(0, &s.to_bytes());
        let r = self.sysctl_in(&buf)?;
        let n = r.payload::<GetDomainInfoList>().num_domains.min(max) as usize;
        Ok((0..n)
            .map(|i| DomainInfo::from_bytes(&buf.read(size + i * info, info)))
            .collect())
    }

    pub fn pause(&self, dom: DomId) -> Result<(), SysError> {
        self.domctl(Domctl::new(
            DOMCTL_PAUSEDOMAIN,
            self.iv.domctl,
            dom,
            &abi::NoPayload,
        ))
        .map(drop)
    }

    pub fn unpause(&self, dom: DomId) -> Result<(), SysError> {
        self.domctl(Domctl::new(
            DOMCTL_UNPAUSEDOMAIN,
            self.iv.domctl,
            dom,
            &abi::NoPayload,
        ))
        .map(drop)
    }

    pub fn destroy(&self, dom: DomId) -> Result<(), SysError> {
        self.domctl(Domctl::new(
            DOMCTL_DESTROYDOMAIN,
            self.iv.domctl,
            dom,
            &abi::NoPayload,
        ))
        .map(drop)
    }

    /// One XEN_SYSCTL_readconsole call: up to `count` bytes of the console
    /// ring from `*index` (updated when `incremental`).
    pub fn read_console(
        &self,
        clear: bool,
        incremental: bool,
        index: &mut u32,
        count: u32,
    ) -> Result<Vec<u8>, SysError> {
        let size = std::mem::size_of::<Sysctl>().div_ceil(64) * 64;
        let mut buf = self.pc.buffer(size + count as usize)?;
        let req = ReadConsole {
            clear: u8::from(clear),
            incremental: u8::from(incremental),
            index: *index,
            buffer: buf.addr() + size as u64,
            count,
            ..Default::default()
        };
        let s = Sysctl::new(SYSCTL_READCONSOLE, self.iv.sysctl, &req);
        buf.write(0, &s.to_bytes());
        let r: ReadConsole = self.sysctl_in(&buf)?.payload();
        if incremental {
            *index = r.index;
        }
        Ok(buf.read(size, r.count.min(count) as usize))
    }

    /// A xen_version sub-operation filling a `len`-byte buffer; returns
    /// Xen's result and the buffer.
    pub fn version_raw(&self, cmd: u64, len: usize) -> Result<(i64, Vec<u8>), SysError> {
        let buf = self.pc.buffer(len)?;
        let r = self
            .pc
            .hypercall(HYPERVISOR_XEN_VERSION, [cmd, buf.addr(), 0, 0, 0])
            .map_err(hc_err("xen_version"))?;
        Ok((r, buf.read(0, len)))
    }

    /// A NUL-terminated xen_version string (extraversion, capabilities, ...).
    pub fn version_string(&self, cmd: u64, len: usize) -> Result<String, SysError> {
        Ok(c_string(&self.version_raw(cmd, len)?.1))
    }

    /// XENVER_pagesize and other buffer-less sub-operations.
    pub fn version_value(&self, cmd: u64) -> Result<i64, SysError> {
        self.pc
            .hypercall(HYPERVISOR_XEN_VERSION, [cmd, 0, 0, 0, 0])
            .map_err(hc_err("xen_version"))
    }

    /// XENVER_build_id as bytes (empty when Xen has none).
    pub fn build_id(&self) -> Result<Vec<u8>, SysError> {
        let cap = 4096 - 4;
        let mut buf = self.pc.buffer(4 + cap)?;
        buf.write(0, &(cap as u32).to_le_bytes());
        match self.pc.hypercall(
            HYPERVISOR_XEN_VERSION,
            [XENVER_BUILD_ID, buf.addr(), 0, 0, 0],
        ) {
            Ok(n) if n > 0 => Ok(buf.read(4, (n as usize).min(cap))),
            _ => Ok(Vec::new()),
        }
    }

    /// XEN_DOMCTL_getvcpuinfo for one vCPU.
    pub fn vcpu_info(&self, dom: DomId, vcpu: u32) -> Result<VcpuInfo, SysError> {
        let req = VcpuInfo {
            vcpu,
            ..Default::default()
        };
        Ok(self
            .domctl(Domctl::new(DOMCTL_GETVCPUINFO, self.iv.domctl, dom, &req))?
            .payload())
    }

    /// Hard and soft affinity bitmaps of one vCPU, `bytes` long each.
    pub fn vcpu_affinity(
        &self,
        dom: DomId,
        vcpu: u32,
        bytes: usize,
    ) -> Result<(Vec<u8>, Vec<u8>), SysError> {
        let size = std::mem::size_of::<Domctl>().div_ceil(64) * 64;
        let mut buf = self.pc.buffer(size + 2 * bytes)?;
        let base = buf.addr() + size as u64;
        let nr_bits = (bytes * 8) as u32;
        let req = VcpuAffinity {
            vcpu,
            flags: VCPUAFFINITY_HARD | VCPUAFFINITY_SOFT,
            hard_bitmap: base,
            hard_nr_bits: nr_bits,
            soft_bitmap: base + bytes as u64,
            soft_nr_bits: nr_bits,
            ..Default::default()
        };
        let d = Domctl::new(DOMCTL_GETVCPUAFFINITY, self.iv.domctl, dom, &req);
        buf.write(0, &d.to_bytes());
        self.pc
            .hypercall(HYPERVISOR_DOMCTL, [buf.addr(), 0, 0, 0, 0])
            .map_err(hc_err(domctl_what(DOMCTL_GETVCPUAFFINITY)))?;
        Ok((buf.read(size, bytes), buf.read(size + bytes, bytes)))
    }

    /// XEN_DOMCTL_max_mem: the most memory the domain may have, in KiB.
    pub fn set_max_mem(&self, dom: DomId, max_memkb: u64) -> Result<(), SysError> {
        self.domctl(Domctl::new(
            DOMCTL_MAX_MEM,
            self.iv.domctl,
            dom,
            &MaxMem { max_memkb },
        ))
        .map(drop)
    }

    /// XENMEM_set_pod_target (populate-on-demand target, in pages).
    pub fn set_pod_target(&self, dom: DomId, target_pages: u64) -> Result<(), SysError> {
        let req = PodTarget {
            target_pages,
            domid: dom,
            ..Default::default()
        };
        let mut buf = self.pc.buffer(std::mem::size_of::<PodTarget>())?;
        buf.write(0, &req.to_bytes());
        self.pc
            .hypercall(
                HYPERVISOR_MEMORY_OP,
                [XENMEM_SET_POD_TARGET, buf.addr(), 0, 0, 0],
            )
            .map_err(hc_err(memory_op_what(XENMEM_SET_POD_TARGET)))?;
        Ok(())
    }

    /// HVMOP_get_param.
    pub fn hvm_param(&self, dom: DomId, index: u32) -> Result<u64, SysError> {
        let req = HvmParam {
            domid: dom,
            index,
            ..Default::default()
        };
        let mut buf = self.pc.buffer(std::mem::size_of::<HvmParam>())?;
        buf.write(0, &req.to_bytes());
        self.pc
            .hypercall(HYPERVISOR_HVM_OP, [HVMOP_GET_PARAM, buf.addr(), 0, 0, 0])
            .map_err(hc_err("hvm_op get_param"))?;
        Ok(HvmParam::from_bytes(&buf.read(0, std::mem::size_of::<HvmParam>())).value)
    }

    /// XEN_DOMCTL_sendtrigger (ACPI power/sleep button, reset, NMI, INIT).
    pub fn send_trigger(&self, dom: DomId, trigger: u32, vcpu: u32) -> Result<(), SysError> {
        self.domctl(Domctl::new(
            DOMCTL_SENDTRIGGER,
            self.iv.domctl,
            dom,
            &SendTrigger { trigger, vcpu },
        ))
        .map(drop)
    }

    /// A memory_op without argument (the sharing counters).
    pub fn memory_op_value(&self, cmd: u64) -> Result<i64, SysError> {
        self.pc
            .hypercall(HYPERVISOR_MEMORY_OP, [cmd, 0, 0, 0, 0])
            .map_err(hc_err(memory_op_what(cmd)))
    }

    /// CPUs in no cpupool, as a bitmap of `nr_bits`.
    pub fn cpupool_freeinfo(&self, nr_bits: u32) -> Result<Vec<u8>, SysError> {
        let size = std::mem::size_of::<Sysctl>().div_ceil(64) * 64;
        let bytes = nr_bits.div_ceil(8) as usize;
        let mut buf = self.pc.buffer(size + bytes)?;
        let req = CpupoolOp {
            op: SYSCTL_CPUPOOL_OP_FREEINFO,
            cpumap_bitmap: buf.addr() + size as u64,
            cpumap_nr_bits: nr_bits,
            ..Default::default()
        };
        let s = Sysctl::new(SYSCTL_CPUPOOL_OP, self.iv.sysctl, &req);
        buf.write(0, &s.to_bytes());
        self.sysctl_in(&buf)?;
        Ok(buf.read(size, bytes))
    }
}

/// Send SIGHUP to a process (libxl's way of stopping a device model).
/// `Ok(false)` when no such process exists.
pub fn hangup(pid: i32) -> std::io::Result<bool> {
    if pid <= 0 {
        // kill(2) would signal a process group or everything.
        return Err(std::io::Error::from(std::io::ErrorKind::InvalidInput));
    }
    // SAFETY: kill(2) takes plain integers and touches no memory of ours;
    // pid > 0 names a single process.
    let r = unsafe { libc::kill(pid, libc::SIGHUP) };
    if r == 0 {
        return Ok(true);
    }
    let e = std::io::Error::last_os_error();
    if e.raw_os_error() == Some(libc::ESRCH) {
        Ok(false)
    } else {
        Err(e)
    }
}

/// A cpupool as XEN_SYSCTL_CPUPOOL_OP_INFO describes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cpupool {
    pub id: u32,
    pub sched_id: u32,
    pub n_dom: u32,
    pub cpumap: Vec<u8>,
}

/// Where data after a sysctl/domctl header starts in a hypercall buffer.
fn header_room<T>() -> usize {
    std::mem::size_of::<T>().div_ceil(64) * 64
}

// issue 4 (wt4): topology, NUMA, vCPU affinity, scheduler parameters.
impl Xen {
    /// Run a domctl whose payload points into `data` bytes placed after
    /// it; returns the domctl as Xen left it and the data area.
    fn domctl_with<P: Pod>(
        &self,
        cmd: u32,
        dom: DomId,
        data: &[u8],
        payload: impl FnOnce(u64) -> P,
    ) -> Result<(Domctl, Vec<u8>), SysError> {
        let size = header_room::<Domctl>();
        let mut buf = self.pc.buffer(size + data.len().max(1))?;
        let base = buf.addr() + size as u64;
        buf.write(size, data);
        let d = Domctl::new(cmd, self.iv.domctl, dom, &payload(base));
        buf.write(0, &d.to_bytes());
        self.pc
            .hypercall(HYPERVISOR_DOMCTL, [buf.addr(), 0, 0, 0, 0])
            .map_err(hc_err(domctl_what(cmd)))?;
        Ok((
            Domctl::from_bytes(&buf.read(0, std::mem::size_of::<Domctl>())),
            buf.read(size, data.len()),
        ))
    }

    /// The same for a sysctl.
    fn sysctl_with<P: Pod>(
        &self,
        cmd: u32,
        data: &[u8],
        payload: impl FnOnce(u64) -> P,
    ) -> Result<(Sysctl, Vec<u8>), SysError> {
        let size = header_room::<Sysctl>();
        let mut buf = self.pc.buffer(size + data.len().max(1))?;
        let base = buf.addr() + size as u64;
        buf.write(size, data);
        let s = Sysctl::new(cmd, self.iv.sysctl, &payload(base));
        buf.write(0, &s.to_bytes());
        let r = self.sysctl_in(&buf)?;
        Ok((r, buf.read(size, data.len())))
    }

    /// XEN_DOMCTL_getnodeaffinity: a `bytes`-long node bitmap.
    pub fn node_affinity(&self, dom: DomId, bytes: usize) -> Result<Vec<u8>, SysError> {
        let (_, map) = self.domctl_with(DOMCTL_GETNODEAFFINITY, dom, &vec![0; bytes], |b| {
            NodeAffinity {
                bitmap: b,
                nr_bits: (bytes * 8) as u32,
                ..Default::default()
            }
        })?;
        Ok(map)
    }

    /// XEN_DOMCTL_setvcpuaffinity: hard and/or soft maps (`bytes` long);
    /// returns the effective maps Xen wrote back.
    pub fn set_vcpu_affinity(
        &self,
        dom: DomId,
        vcpu: u32,
        hard: Option<&[u8]>,
        soft: Option<&[u8]>,
        force: bool,
        bytes: usize,
    ) -> Result<(Vec<u8>, Vec<u8>), SysError> {
        let mut data = vec![0u8; 2 * bytes];
        let mut flags = if force { VCPUAFFINITY_FORCE } else { 0 };
        if let Some(h) = hard {
            flags |= VCPUAFFINITY_HARD;
            let n = h.len().min(bytes);
            data[..n].copy_from_slice(&h[..n]);
        }
        if let Some(s) = soft {
            flags |= VCPUAFFINITY_SOFT;
            let n = s.len().min(bytes);
            data[bytes..bytes + n].copy_from_slice(&s[..n]);
        }
        let nr_bits = (bytes * 8) as u32;
        let (_, out) = self.domctl_with(DOMCTL_SETVCPUAFFINITY, dom, &data, |b| VcpuAffinity {
            vcpu,
            flags,
            hard_bitmap: b,
            hard_nr_bits: nr_bits,
            soft_bitmap: b + bytes as u64,
            soft_nr_bits: nr_bits,
            ..Default::default()
        })?;
        Ok((out[..bytes].to_vec(), out[bytes..].to_vec()))
    }

    /// XEN_SYSCTL_cputopoinfo: every CPU's core/socket/node.
    pub fn cpu_topology(&self) -> Result<Vec<CpuTopo>, SysError> {
        let (r, _) = self.sysctl_with(SYSCTL_CPUTOPOINFO, &[], |_| CpuTopoInfo::default())?;
        let n = r.payload::<CpuTopoInfo>().num_cpus as usize;
        let each = std::mem::size_of::<CpuTopo>();
        let (r, data) =
            self.sysctl_with(SYSCTL_CPUTOPOINFO, &vec![0; n * each], |b| CpuTopoInfo {
                num_cpus: n as u32,
                cputopo: b,
                ..Default::default()
            })?;
        let got = (r.payload::<CpuTopoInfo>().num_cpus as usize).min(n);
        Ok((0..got)
            .map(|i| CpuTopo::from_bytes(&data[i * each..]))
            .collect())
    }

    /// XEN_SYSCTL_numainfo: each node's memory and the distance matrix
    /// (row-major, nodes x nodes).
    pub fn numa_info(&self) -> Result<(Vec<MemInfo>, Vec<u32>), SysError> {
        let (r, _) = self.sysctl_with(SYSCTL_NUMAINFO, &[], |_| NumaInfo::default())?;
        let n = r.payload::<NumaInfo>().num_nodes as usize;
        let each = std::mem::size_of::<MemInfo>();
        let (r, data) = self.sysctl_with(SYSCTL_NUMAINFO, &vec![0; n * each + n * n * 4], |b| {
            NumaInfo {
                num_nodes: n as u32,
                meminfo: b,
                distance: b + (n * each) as u64,
                ..Default::default()
            }
        })?;
        let got = (r.payload::<NumaInfo>().num_nodes as usize).min(n);
        let mem = (0..got)
            .map(|i| MemInfo::from_bytes(&data[i * each..]))
            .collect();
        let d = &data[n * each..];
        let dist = (0..got * got)
            .map(|i| u32::from_le_bytes(d[i * 4..i * 4 + 4].try_into().expect("4 bytes")))
            .collect();
        Ok((mem, dist))
    }

    /// XEN_SYSCTL_pcitopoinfo for `devs`: each device's node, asked in as
    /// many rounds as Xen needs.
    pub fn pci_topology(&self, devs: &[PciDevice]) -> Result<Vec<u32>, SysError> {
        let mut nodes = vec![INVALID_NODE_ID; devs.len()];
        let mut done = 0;
        while done < devs.len() {
            let rest = &devs[done..];
            let mut data: Vec<u8> = rest.iter().flat_map(|d| d.to_bytes()).collect();
            let at = data.len();
            data.extend(std::iter::repeat_n(0u8, rest.len() * 4));
            let (r, out) = self.sysctl_with(SYSCTL_PCITOPOINFO, &data, |b| PciTopoInfo {
                num_devs: rest.len() as u32,
                devs: b,
                nodes: b + at as u64,
                ..Default::default()
            })?;
            let n = (r.payload::<PciTopoInfo>().num_devs as usize).min(rest.len());
            for i in 0..n {
                nodes[done + i] =
                    u32::from_le_bytes(out[at + i * 4..at + i * 4 + 4].try_into().expect("4"));
            }
            if n == 0 {
                break;
            }
            done += n;
        }
        Ok(nodes)
    }

    /// XEN_SYSCTL_CPUPOOL_OP_INFO for the first pool with an id of at
    /// least `poolid`, or None past the last pool.
    pub fn cpupool_info(&self, poolid: u32, bits: u32) -> Result<Option<Cpupool>, SysError> {
        let bytes = bits.div_ceil(8) as usize;
        match self.sysctl_with(SYSCTL_CPUPOOL_OP, &vec![0; bytes], |b| CpupoolOp {
            op: SYSCTL_CPUPOOL_OP_INFO,
            cpupool_id: poolid,
            cpumap_bitmap: b,
            cpumap_nr_bits: bits,
            ..Default::default()
        }) {
            Ok((r, map)) => {
                let p: CpupoolOp = r.payload();
                Ok(Some(Cpupool {
                    id: p.cpupool_id,
                    sched_id: p.sched_id,
                    n_dom: p.n_dom,
                    cpumap: map,
                }))
            }
            Err(SysError::Hypercall { source, .. }) if source.raw_os_error() == Some(2) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// XEN_DOMCTL_scheduler_op getinfo/putinfo for credit and credit2:
    /// (sched_id, weight, cap) as Xen returns them.
    pub fn domain_sched(
        &self,
        dom: DomId,
        sched_id: u32,
        put: Option<(u16, u16)>,
    ) -> Result<(u32, u16, u16), SysError> {
        let (weight, cap) = put.unwrap_or_default();
        let req = DomctlSchedOp {
            sched_id,
            cmd: if put.is_some() {
                DOMCTL_SCHEDOP_PUTINFO
            } else {
                DOMCTL_SCHEDOP_GETINFO
            },
            weight,
            cap,
            ..Default::default()
        };
        let r: DomctlSchedOp = self
            .domctl(Domctl::new(DOMCTL_SCHEDULER_OP, self.iv.domctl, dom, &req))?
            .payload();
        Ok((r.sched_id, r.weight, r.cap))
    }

    /// XEN_SYSCTL_scheduler_op getinfo/putinfo on a cpupool: the four
    /// parameter words of the credit/credit2 union member.
    pub fn pool_sched(
        &self,
        poolid: u32,
        sched_id: u32,
        put: Option<[u32; 4]>,
    ) -> Result<[u32; 4], SysError> {
        let req = SysctlSchedOp {
            cpupool_id: poolid,
            sched_id,
            cmd: if put.is_some() {
                SYSCTL_SCHEDOP_PUTINFO
            } else {
                SYSCTL_SCHEDOP_GETINFO
            },
            params: put.unwrap_or_default(),
            ..Default::default()
        };
        let s = Sysctl::new(SYSCTL_SCHEDULER_OP, self.iv.sysctl, &req);
        let buf = self.buf_with(&s.to_bytes(), 0)?;
        Ok(self.sysctl_in(&buf)?.payload::<SysctlSchedOp>().params)
    }
}

// What a PV domain builder needs.
impl Xen {
    /// XEN_DOMCTL_createdomain with the running Xen's layout; the domain
    /// starts paused. Returns the domid Xen chose.
    pub fn create_domain(&self, cfg: &CreateDomain) -> Result<DomId, SysError> {
        let d = createdomain_domctl(self.version, self.iv.domctl, cfg)?;
        Ok(self.domctl(d)?.domain)
    }

    /// XEN_DOMCTL_max_vcpus: must equal createdomain's `max_vcpus`.
    pub fn max_vcpus(&self, dom: DomId, n: u32) -> Result<(), SysError> {
        self.domctl(Domctl::new(
            DOMCTL_MAX_VCPUS,
            self.iv.domctl,
            dom,
            &MaxVcpus { max: n },
        ))
        .map(drop)
    }

    /// XEN_DOMCTL_set_address_size (64 for an x86-64 PV guest).
    pub fn set_address_size(&self, dom: DomId, bits: u32) -> Result<(), SysError> {
        self.domctl(Domctl::new(
            DOMCTL_SET_ADDRESS_SIZE,
            self.iv.domctl,
            dom,
            &AddressSize { size: bits },
        ))
        .map(drop)
    }

    /// XEN_DOMCTL_getdomaininfo for exactly `dom` (ESRCH when it does not
    /// exist: 4.17 answers with the next domain instead).
    pub fn getdomaininfo(&self, dom: DomId) -> Result<DomainInfo, SysError> {
        let info: DomainInfo = self
            .domctl(Domctl::new(
                DOMCTL_GETDOMAININFO,
                self.iv.domctl,
                dom,
                &abi::NoPayload,
            ))?
            .payload();
        if info.domain != dom {
            return Err(SysError::Hypercall {
                what: domctl_what(DOMCTL_GETDOMAININFO),
                source: std::io::Error::from_raw_os_error(libc::ESRCH),
            });
        }
        Ok(info)
    }

    /// XEN_DOMCTL_hypercall_init: make guest frame `gmfn` the PV hypercall
    /// page.
    pub fn hypercall_init(&self, dom: DomId, gmfn: u64) -> Result<(), SysError> {
        self.domctl(Domctl::new(
            DOMCTL_HYPERCALL_INIT,
            self.iv.domctl,
            dom,
            &HypercallInit { gmfn },
        ))
        .map(drop)
    }

    /// XEN_DOMCTL_settscinfo with only the mode (0 default, 1
    /// always_emulate, 2 native), as libxl sets it.
    pub fn settscinfo(&self, dom: DomId, tsc_mode: u32) -> Result<(), SysError> {
        self.domctl(Domctl::new(
            DOMCTL_SETTSCINFO,
            self.iv.domctl,
            dom,
            &TscInfo {
                tsc_mode,
                ..Default::default()
            },
        ))
        .map(drop)
    }

    /// XEN_DOMCTL_setvcpucontext: the boot state of one vCPU.
    pub fn set_vcpu_context(
        &self,
        dom: DomId,
        vcpu: u32,
        ctx: &VcpuGuestContext,
    ) -> Result<(), SysError> {
        self.domctl_with(DOMCTL_SETVCPUCONTEXT, dom, &ctx.to_bytes(), |b| {
            VcpuContext {
                vcpu,
                ctxt: b,
                ..Default::default()
            }
        })
        .map(drop)
    }

    /// A memory_op whose argument is the start of `buf`.
    fn memory_op(&self, cmd: u64, buf: &HypercallBuf) -> Result<i64, SysError> {
        self.pc
            .hypercall(HYPERVISOR_MEMORY_OP, [cmd, buf.addr(), 0, 0, 0])
            .map_err(hc_err(memory_op_what(cmd)))
    }

    /// A buffer holding `req` then, from a 64-byte boundary, `data`;
    /// returns it and the guest handle of `data`.
    fn buf_req_data<P: Pod>(
        &self,
        req: impl FnOnce(u64) -> P,
        data: &[u8],
    ) -> Result<(HypercallBuf, usize), SysError> {
        let at = header_room::<P>();
        let len = at
            .checked_add(data.len())
            .ok_or(SysError::Invalid("hypercall buffer size"))?;
        let mut buf = self.pc.buffer(len)?;
        buf.write(at, data);
        let r = req(buf.addr() + at as u64);
        buf.write(0, &r.to_bytes());
        Ok((buf, at))
    }

    /// XENMEM_claim_pages: reserve `pages` for the domain (0 cancels the
    /// claim). Needs max_mem set first.
    pub fn claim_pages(&self, dom: DomId, pages: u64) -> Result<(), SysError> {
        let (buf, _) = self.buf_req_data(
            |_| MemoryReservation {
                nr_extents: pages,
                domid: dom,
                ..Default::default()
            },
            &[],
        )?;
        self.memory_op(XENMEM_CLAIM_PAGES, &buf).map(drop)
    }

    /// XENMEM_populate_physmap: one extent of `2^order` pages per entry of
    /// `extents` (each the first guest frame of its extent). Returns how
    /// many extents were populated (fewer when memory ran out); those
    /// entries are rewritten with what Xen returned (MFNs for PV guests).
    pub fn populate_physmap(
        &self,
        dom: DomId,
        order: u32,
        mem_flags: u32,
        extents: &mut [u64],
    ) -> Result<usize, SysError> {
        if extents.is_empty() {
            return Ok(0);
        }
        let data: Vec<u8> = extents.iter().flat_map(|e| e.to_le_bytes()).collect();
        let (buf, at) = self.buf_req_data(
            |h| MemoryReservation {
                extent_start: h,
                nr_extents: extents.len() as u64,
                extent_order: order,
                mem_flags,
                domid: dom,
                ..Default::default()
            },
            &data,
        )?;
        let r = self.memory_op(XENMEM_POPULATE_PHYSMAP, &buf)?;
        let done = usize::try_from(r).unwrap_or(0).min(extents.len());
        let out = buf.read(at, done * 8);
        for (e, b) in extents.iter_mut().zip(out.chunks_exact(8)) {
            *e = u64::from_le_bytes(b.try_into().expect("8 bytes"));
        }
        Ok(done)
    }

    /// XENMEM_set_memory_map: the E820 map a PV guest reads back.
    pub fn set_memory_map(&self, dom: DomId, entries: &[E820Entry]) -> Result<(), SysError> {
        let nr_entries =
            u32::try_from(entries.len()).map_err(|_| SysError::Invalid("too many e820 entries"))?;
        let data: Vec<u8> = entries.iter().flat_map(|e| e.to_bytes()).collect();
        let (buf, _) = self.buf_req_data(
            |h| ForeignMemoryMap {
                domid: dom,
                nr_entries,
                buffer: h,
                ..Default::default()
            },
            &data,
        )?;
        self.memory_op(XENMEM_SET_MEMORY_MAP, &buf).map(drop)
    }

    /// XENMEM_maximum_gpfn: the highest guest frame the domain has.
    pub fn maximum_gpfn(&self, dom: DomId) -> Result<u64, SysError> {
        let mut buf = self.pc.buffer(2)?;
        buf.write(0, &dom.to_le_bytes());
        Ok(self.memory_op(XENMEM_MAXIMUM_GPFN, &buf)? as u64)
    }

    /// mmuext_op MMUEXT_PIN_L4_TABLE on the guest's frame `mfn`.
    pub fn mmuext_pin_l4(&self, dom: DomId, mfn: u64) -> Result<(), SysError> {
        let op = MmuextOp {
            cmd: MMUEXT_PIN_L4_TABLE,
            arg1: mfn,
            ..Default::default()
        };
        let buf = self.buf_with(&op.to_bytes(), 0)?;
        // One op, no count written back, on behalf of `dom`.
        self.pc
            .hypercall(HYPERVISOR_MMUEXT_OP, [buf.addr(), 1, 0, u64::from(dom), 0])
            .map_err(hc_err("mmuext_op pin_l4_table"))?;
        Ok(())
    }

    /// EVTCHNOP_alloc_unbound: a port of `dom` that `remote_dom` may bind.
    pub fn evtchn_alloc_unbound(&self, dom: DomId, remote_dom: DomId) -> Result<u32, SysError> {
        let req = EvtchnAllocUnbound {
            dom,
            remote_dom,
            ..Default::default()
        };
        let buf = self.buf_with(&req.to_bytes(), 0)?;
        self.pc
            .hypercall(
                HYPERVISOR_EVENT_CHANNEL_OP,
                [EVTCHNOP_ALLOC_UNBOUND, buf.addr(), 0, 0, 0],
            )
            .map_err(hc_err("event_channel_op alloc_unbound"))?;
        let size = std::mem::size_of::<EvtchnAllocUnbound>();
        Ok(EvtchnAllocUnbound::from_bytes(&buf.read(0, size)).port)
    }

    /// HVMOP_set_param.
    pub fn set_hvm_param(&self, dom: DomId, index: u32, value: u64) -> Result<(), SysError> {
        let req = HvmParam {
            domid: dom,
            index,
            value,
            ..Default::default()
        };
        let buf = self.buf_with(&req.to_bytes(), 0)?;
        self.pc
            .hypercall(HYPERVISOR_HVM_OP, [HVMOP_SET_PARAM, buf.addr(), 0, 0, 0])
            .map_err(hc_err("hvm_op set_param"))?;
        Ok(())
    }

    /// GNTTABOP_setup_table: the frames of the domain's first `nr_frames`
    /// grant-table frames (MFNs for a PV guest).
    pub fn gnttab_setup_table(&self, dom: DomId, nr_frames: u32) -> Result<Vec<u64>, SysError> {
        let n = nr_frames as usize;
        let (buf, at) = self.buf_req_data(
            |h| GnttabSetupTable {
                dom,
                nr_frames,
                frame_list: h,
                ..Default::default()
            },
            &vec![0u8; n * 8],
        )?;
        self.pc
            .hypercall(
                HYPERVISOR_GRANT_TABLE_OP,
                [GNTTABOP_SETUP_TABLE, buf.addr(), 1, 0, 0],
            )
            .map_err(hc_err("grant_table_op setup_table"))?;
        let size = std::mem::size_of::<GnttabSetupTable>();
        let status = GnttabSetupTable::from_bytes(&buf.read(0, size)).status;
        if status != GNTST_OKAY {
            return Err(SysError::GrantStatus {
                what: "grant_table_op setup_table",
                status,
            });
        }
        Ok(buf
            .read(at, n * 8)
            .chunks_exact(8)
            .map(|b| u64::from_le_bytes(b.try_into().expect("8 bytes")))
            .collect())
    }

    /// The first frame of the domain's shared grant table, writable: through
    /// acquire_resource, or where Xen or the kernel lack it, through
    /// GNTTABOP_setup_table and a foreign mapping (PV guests).
    fn map_grant_table(&self, dom: DomId) -> Result<ForeignMap, SysError> {
        match self.pc.map_resource(
            dom,
            XENMEM_RESOURCE_GRANT_TABLE,
            XENMEM_RESOURCE_GRANT_TABLE_ID_SHARED,
            0,
            1,
            true,
        ) {
            // ENOTTY: a kernel without IOCTL_PRIVCMD_MMAP_RESOURCE.
            Err(SysError::Hypercall { source, .. })
                if matches!(source.raw_os_error(), Some(libc::EOPNOTSUPP | libc::ENOTTY)) =>
            {
                let frames = self.gnttab_setup_table(dom, 1)?;
                self.pc.map_foreign(dom, &frames, true)
            }
            other => other,
        }
    }

    /// Runs `f` over guest frames mapped writable into this process
    /// (`frames[i]` at page `i`: MFNs for a PV guest, GFNs for PVH/HVM),
    /// then unmaps them. Every frame must map: the first failure is
    /// reported with its index ([`SysError::ForeignFrame`]); domain 0 and
    /// reserved domids are refused. The bytes `f` gets are
    /// the guest's: meant for a domain being built (paused), whose frames
    /// nothing else in this process maps meanwhile — guaranteed here: the
    /// frames must be distinct, and one such mapping exists at a time
    /// (a nested call is refused rather than let two `&mut` alias).
    pub fn with_foreign<R>(
        &self,
        dom: DomId,
        frames: &[u64],
        f: impl FnOnce(&mut [u8]) -> R,
    ) -> Result<R, SysError> {
        distinct_frames(frames)?;
        let _only = exclusive_mapping()?;
        let mut map = self.pc.map_foreign(dom, frames, true)?;
        Ok(f(map.as_mut_slice()))
    }

    /// Runs `f` over the first frame of the domain's shared grant table
    /// (see [`Xen::with_foreign`] for what the mapping promises).
    pub fn with_grant_table<R>(
        &self,
        dom: DomId,
        f: impl FnOnce(&mut [u8]) -> R,
    ) -> Result<R, SysError> {
        let _only = exclusive_mapping()?;
        let mut map = self.map_grant_table(dom)?;
        Ok(f(map.as_mut_slice()))
    }
}

#[cfg(test)]
mod tests {
    use super::abi::*;
    use super::expected::EXPECTED;
    use super::privcmd::*;
    use std::mem::{offset_of, size_of};

    fn fact(facts: &[(&str, usize)], name: &str) -> usize {
        facts
            .iter()
            .find(|(n, _)| *n == name)
            .unwrap_or_else(|| panic!("no fact {name}"))
            .1
    }

    /// Every constant, size and offset we use, against each release's
    /// headers (crates/sys/gen/layouts.sh).
    #[test]
    fn abi_matches_every_supported_release() {
        assert_eq!(EXPECTED.len(), SUPPORTED.len());
        for (version, facts) in EXPECTED {
            let (maj, min) = version.split_once('.').expect("version");
            let v = (maj.parse::<u32>().unwrap() << 16) | min.parse::<u32>().unwrap();
            let iv = interface_versions(v).expect("supported");
            let f = |n: &str| fact(facts, n);
            assert_eq!(
                iv.domctl as usize,
                f("const XEN_DOMCTL_INTERFACE_VERSION"),
                "{version}"
            );
            assert_eq!(
                iv.sysctl as usize,
                f("const XEN_SYSCTL_INTERFACE_VERSION"),
                "{version}"
            );
            assert_eq!(
                IOCTL_PRIVCMD_HYPERCALL as usize,
                f("const IOCTL_PRIVCMD_HYPERCALL")
            );
            assert_eq!(
                IOCTL_PRIVCMD_MMAPBATCH_V2 as usize,
                f("const IOCTL_PRIVCMD_MMAPBATCH_V2")
            );
            assert_eq!(
                IOCTL_PRIVCMD_MMAP_RESOURCE as usize,
                f("const IOCTL_PRIVCMD_MMAP_RESOURCE")
            );
            assert_eq!(
                IOCTL_EVTCHN_BIND_INTERDOMAIN as usize,
                f("const IOCTL_EVTCHN_BIND_INTERDOMAIN")
            );
            assert_eq!(
                IOCTL_EVTCHN_BIND_UNBOUND_PORT as usize,
                f("const IOCTL_EVTCHN_BIND_UNBOUND_PORT")
            );
            assert_eq!(IOCTL_EVTCHN_UNBIND as usize, f("const IOCTL_EVTCHN_UNBIND"));
            assert_eq!(IOCTL_EVTCHN_NOTIFY as usize, f("const IOCTL_EVTCHN_NOTIFY"));
            for (ours, name) in [
                (HYPERVISOR_XEN_VERSION, "__HYPERVISOR_xen_version"),
                (HYPERVISOR_SYSCTL, "__HYPERVISOR_sysctl"),
                (HYPERVISOR_DOMCTL, "__HYPERVISOR_domctl"),
                (HYPERVISOR_SCHED_OP, "__HYPERVISOR_sched_op"),
                (XENVER_VERSION, "XENVER_version"),
                (XENVER_EXTRAVERSION, "XENVER_extraversion"),
                (XENVER_COMPILE_INFO, "XENVER_compile_info"),
                (XENVER_CAPABILITIES, "XENVER_capabilities"),
                (XENVER_CHANGESET, "XENVER_changeset"),
                (XENVER_PLATFORM_PARAMETERS, "XENVER_platform_parameters"),
                (XENVER_PAGESIZE, "XENVER_pagesize"),
                (XENVER_COMMANDLINE, "XENVER_commandline"),
                (XENVER_BUILD_ID, "XENVER_build_id"),
                (HYPERVISOR_HVM_OP, "__HYPERVISOR_hvm_op"),
                (HVMOP_GET_PARAM, "HVMOP_get_param"),
                (HYPERVISOR_MEMORY_OP, "__HYPERVISOR_memory_op"),
                (
                    XENMEM_GET_SHARING_FREED_PAGES,
                    "XENMEM_get_sharing_freed_pages",
                ),
                (
                    XENMEM_GET_SHARING_SHARED_PAGES,
                    "XENMEM_get_sharing_shared_pages",
                ),
            ] {
                assert_eq!(
                    ours as usize,
                    f(&format!("const {name}")),
                    "{version} {name}"
                );
            }
            for (ours, name) in [
                (SYSCTL_PHYSINFO, "XEN_SYSCTL_physinfo"),
                (SYSCTL_GETDOMAININFOLIST, "XEN_SYSCTL_getdomaininfolist"),
                (SYSCTL_SCHED_ID, "XEN_SYSCTL_sched_id"),
                (SYSCTL_READCONSOLE, "XEN_SYSCTL_readconsole"),
                (SYSCTL_CPUPOOL_OP, "XEN_SYSCTL_cpupool_op"),
                (SYSCTL_CPUPOOL_OP_FREEINFO, "XEN_SYSCTL_CPUPOOL_OP_FREEINFO"),
                (DOMCTL_PAUSEDOMAIN, "XEN_DOMCTL_pausedomain"),
                (DOMCTL_UNPAUSEDOMAIN, "XEN_DOMCTL_unpausedomain"),
                (DOMCTL_DESTROYDOMAIN, "XEN_DOMCTL_destroydomain"),
                (DOMCTL_GETDOMAININFO, "XEN_DOMCTL_getdomaininfo"),
                (DOMCTL_MAX_MEM, "XEN_DOMCTL_max_mem"),
                (DOMCTL_GETVCPUINFO, "XEN_DOMCTL_getvcpuinfo"),
                (DOMCTL_SENDTRIGGER, "XEN_DOMCTL_sendtrigger"),
                (DOMCTL_GETVCPUAFFINITY, "XEN_DOMCTL_getvcpuaffinity"),
                (VCPUAFFINITY_HARD, "XEN_VCPUAFFINITY_HARD"),
                (VCPUAFFINITY_SOFT, "XEN_VCPUAFFINITY_SOFT"),
                (INVALID_MAX_VCPU_ID, "XEN_INVALID_MAX_VCPU_ID"),
                (TRIGGER_NMI, "XEN_DOMCTL_SENDTRIGGER_NMI"),
                (TRIGGER_RESET, "XEN_DOMCTL_SENDTRIGGER_RESET"),
                (TRIGGER_INIT, "XEN_DOMCTL_SENDTRIGGER_INIT"),
                (TRIGGER_POWER, "XEN_DOMCTL_SENDTRIGGER_POWER"),
                (TRIGGER_SLEEP, "XEN_DOMCTL_SENDTRIGGER_SLEEP"),
                (HVM_PARAM_CALLBACK_IRQ, "HVM_PARAM_CALLBACK_IRQ"),
                (DOMINF_DYING, "XEN_DOMINF_dying"),
                (DOMINF_SHUTDOWN, "XEN_DOMINF_shutdown"),
                (DOMINF_PAUSED, "XEN_DOMINF_paused"),
                (DOMINF_BLOCKED, "XEN_DOMINF_blocked"),
                (DOMINF_RUNNING, "XEN_DOMINF_running"),
                (DOMINF_HVM_GUEST, "XEN_DOMINF_hvm_guest"),
                (DOMINF_SHUTDOWNSHIFT, "XEN_DOMINF_shutdownshift"),
            ] {
                assert_eq!(
                    ours as usize,
                    f(&format!("const {name}")),
                    "{version} {name}"
                );
            }
            for (id, name) in SCHEDULERS {
                assert_eq!(
                    *id as usize,
                    f(&format!("const XEN_SCHEDULER_{}", name.to_uppercase())),
                    "{version}"
                );
            }
            assert_eq!(XEN_EXTRAVERSION_LEN, f("size xen_extraversion_t"));
            assert_eq!(XEN_CAPABILITIES_INFO_LEN, f("size xen_capabilities_info_t"));
            assert_eq!(XEN_CHANGESET_INFO_LEN, f("size xen_changeset_info_t"));
            assert_eq!(XEN_COMMANDLINE_LEN, f("size xen_commandline_t"));
            assert_eq!(XEN_COMPILE_INFO_LEN, f("size xen_compile_info_t"));
            assert_eq!(
                size_of::<CpupoolOp>(),
                f("size struct xen_sysctl_cpupool_op")
            );
            assert_eq!(
                offset_of!(CpupoolOp, cpumap_bitmap),
                f("offset struct xen_sysctl_cpupool_op.cpumap")
            );
            assert_eq!(
                offset_of!(CpupoolOp, cpumap_nr_bits) - offset_of!(CpupoolOp, cpumap_bitmap),
                f("offset struct xenctl_bitmap.nr_bits")
            );
            assert_eq!(
                offset_of!(CpupoolOp, n_dom),
                f("offset struct xen_sysctl_cpupool_op.n_dom")
            );
            assert_eq!(size_of::<PrivcmdHypercall>(), f("size privcmd_hypercall_t"));
            assert_eq!(size_of::<Domctl>(), f("size struct xen_domctl"));
            assert_eq!(size_of::<Sysctl>(), f("size struct xen_sysctl"));
            assert_eq!(offset_of!(Domctl, u), 16);
            assert_eq!(offset_of!(Sysctl, u), 8);
            macro_rules! layout {
                ($t:ty, $c:literal, [$($field:ident),*]) => {
                    assert_eq!(size_of::<$t>(), f(concat!("size struct ", $c)), "{version} size {}", $c);
                    $( assert_eq!(offset_of!($t, $field), f(concat!("offset struct ", $c, ".", stringify!($field))),
                        "{version} {}.{}", $c, stringify!($field)); )*
                };
            }
            layout!(
                DomainInfo,
                "xen_domctl_getdomaininfo",
                [
                    domain,
                    flags,
                    tot_pages,
                    max_pages,
                    outstanding_pages,
                    shr_pages,
                    paged_pages,
                    shared_info_frame,
                    cpu_time,
                    nr_online_vcpus,
                    max_vcpu_id,
                    ssidref,
                    handle,
                    cpupool,
                    gpaddr_bits,
                    arch_config
                ]
            );
            layout!(
                GetDomainInfoList,
                "xen_sysctl_getdomaininfolist",
                [first_domain, max_domains, buffer, num_domains]
            );
            layout!(
                PhysInfo,
                "xen_sysctl_physinfo",
                [
                    threads_per_core,
                    cores_per_socket,
                    nr_cpus,
                    max_cpu_id,
                    nr_nodes,
                    max_node_id,
                    cpu_khz,
                    capabilities,
                    total_pages,
                    free_pages,
                    scrub_pages,
                    outstanding_pages,
                    max_mfn,
                    hw_cap
                ]
            );
            // issue 4 (wt4): topology, NUMA, affinity, schedulers.
            for (ours, name) in [
                (SYSCTL_CPUTOPOINFO, "XEN_SYSCTL_cputopoinfo"),
                (SYSCTL_NUMAINFO, "XEN_SYSCTL_numainfo"),
                (SYSCTL_PCITOPOINFO, "XEN_SYSCTL_pcitopoinfo"),
                (SYSCTL_SCHEDULER_OP, "XEN_SYSCTL_scheduler_op"),
                (SYSCTL_CPUPOOL_OP_INFO, "XEN_SYSCTL_CPUPOOL_OP_INFO"),
                (SYSCTL_SCHEDOP_PUTINFO, "XEN_SYSCTL_SCHEDOP_putinfo"),
                (SYSCTL_SCHEDOP_GETINFO, "XEN_SYSCTL_SCHEDOP_getinfo"),
                (DOMCTL_SETVCPUAFFINITY, "XEN_DOMCTL_setvcpuaffinity"),
                (DOMCTL_SCHEDULER_OP, "XEN_DOMCTL_scheduler_op"),
                (DOMCTL_GETNODEAFFINITY, "XEN_DOMCTL_getnodeaffinity"),
                (DOMCTL_SCHEDOP_PUTINFO, "XEN_DOMCTL_SCHEDOP_putinfo"),
                (DOMCTL_SCHEDOP_GETINFO, "XEN_DOMCTL_SCHEDOP_getinfo"),
                (VCPUAFFINITY_FORCE, "XEN_VCPUAFFINITY_FORCE"),
                (INVALID_CORE_ID, "XEN_INVALID_CORE_ID"),
                (INVALID_SOCKET_ID, "XEN_INVALID_SOCKET_ID"),
                (INVALID_NODE_ID, "XEN_INVALID_NODE_ID"),
                (INVALID_DEV, "XEN_INVALID_DEV"),
                (INVALID_NODE_DIST, "XEN_INVALID_NODE_DIST"),
            ] {
                assert_eq!(
                    ours as usize,
                    f(&format!("const {name}")),
                    "{version} {name}"
                );
            }
            assert_eq!(INVALID_MEM_SZ as usize, f("const XEN_INVALID_MEM_SZ"));
            layout!(CpuTopo, "xen_sysctl_cputopo", [core, socket, node]);
            layout!(CpuTopoInfo, "xen_sysctl_cputopoinfo", [num_cpus, cputopo]);
            layout!(MemInfo, "xen_sysctl_meminfo", [memsize, memfree]);
            layout!(
                NumaInfo,
                "xen_sysctl_numainfo",
                [num_nodes, meminfo, distance]
            );
            layout!(PciDevice, "physdev_pci_device", [seg, bus, devfn]);
            layout!(
                PciTopoInfo,
                "xen_sysctl_pcitopoinfo",
                [num_devs, devs, nodes]
            );
            layout!(
                SysctlSchedOp,
                "xen_sysctl_scheduler_op",
                [cpupool_id, sched_id, cmd]
            );
            let credit = offset_of!(SysctlSchedOp, params);
            for (i, field) in [
                "sched_credit.tslice_ms",
                "sched_credit.ratelimit_us",
                "sched_credit.vcpu_migr_delay_us",
            ]
            .iter()
            .enumerate()
            {
                assert_eq!(
                    credit + 4 * i,
                    f(&format!("offset struct xen_sysctl_scheduler_op.u.{field}"))
                );
            }
            assert_eq!(
                credit,
                f("offset struct xen_sysctl_scheduler_op.u.sched_credit2.ratelimit_us")
            );
            layout!(DomctlSchedOp, "xen_domctl_scheduler_op", [sched_id, cmd]);
            for s in ["credit", "credit2"] {
                assert_eq!(
                    offset_of!(DomctlSchedOp, weight),
                    f(&format!(
                        "offset struct xen_domctl_scheduler_op.u.{s}.weight"
                    ))
                );
                assert_eq!(
                    offset_of!(DomctlSchedOp, cap),
                    f(&format!("offset struct xen_domctl_scheduler_op.u.{s}.cap"))
                );
            }
            assert_eq!(
                size_of::<NodeAffinity>(),
                f("size struct xen_domctl_nodeaffinity")
            );
            assert_eq!(
                offset_of!(NodeAffinity, bitmap),
                f("offset struct xen_domctl_nodeaffinity.nodemap")
            );
            assert_eq!(
                offset_of!(NodeAffinity, nr_bits) - offset_of!(NodeAffinity, bitmap),
                f("offset struct xenctl_bitmap.nr_bits")
            );
            layout!(
                ReadConsole,
                "xen_sysctl_readconsole",
                [clear, incremental, index, buffer, count]
            );
        }
    }

    /// Little-endian integer of `n` bytes at `at`.
    fn le(b: &[u8], at: usize, n: usize) -> u64 {
        let mut a = [0u8; 8];
        a[..n].copy_from_slice(&b[at..at + n]);
        u64::from_le_bytes(a)
    }

    fn releases() -> impl Iterator<Item = ((u32, u32), &'static [(&'static str, usize)])> {
        EXPECTED.iter().map(|(version, facts)| {
            let (maj, min) = version.split_once('.').expect("version");
            ((maj.parse().unwrap(), min.parse().unwrap()), *facts)
        })
    }

    /// The PV builder's hypercalls: numbers, flags and struct layouts.
    #[test]
    fn builder_abi_matches_every_supported_release() {
        for (version, facts) in releases() {
            let f = |n: &str| fact(facts, n);
            for (ours, name) in [
                (
                    HYPERVISOR_GRANT_TABLE_OP as usize,
                    "__HYPERVISOR_grant_table_op",
                ),
                (HYPERVISOR_MMUEXT_OP as usize, "__HYPERVISOR_mmuext_op"),
                (
                    HYPERVISOR_EVENT_CHANNEL_OP as usize,
                    "__HYPERVISOR_event_channel_op",
                ),
                (DOMCTL_CREATEDOMAIN as usize, "XEN_DOMCTL_createdomain"),
                (DOMCTL_SETVCPUCONTEXT as usize, "XEN_DOMCTL_setvcpucontext"),
                (DOMCTL_MAX_VCPUS as usize, "XEN_DOMCTL_max_vcpus"),
                (DOMCTL_HYPERCALL_INIT as usize, "XEN_DOMCTL_hypercall_init"),
                (
                    DOMCTL_SET_ADDRESS_SIZE as usize,
                    "XEN_DOMCTL_set_address_size",
                ),
                (DOMCTL_SETTSCINFO as usize, "XEN_DOMCTL_settscinfo"),
                (CDF_HVM as usize, "XEN_DOMCTL_CDF_hvm"),
                (CDF_HAP as usize, "XEN_DOMCTL_CDF_hap"),
                (CDF_S3_INTEGRITY as usize, "XEN_DOMCTL_CDF_s3_integrity"),
                (CDF_OOS_OFF as usize, "XEN_DOMCTL_CDF_oos_off"),
                (CDF_XS_DOMAIN as usize, "XEN_DOMCTL_CDF_xs_domain"),
                (CDF_IOMMU as usize, "XEN_DOMCTL_CDF_iommu"),
                (CDF_NESTED_VIRT as usize, "XEN_DOMCTL_CDF_nested_virt"),
                (CDF_VPMU as usize, "XEN_DOMCTL_CDF_vpmu"),
                (IOMMU_NO_SHAREPT as usize, "XEN_DOMCTL_IOMMU_no_sharept"),
                (GRANT_VERSION_MASK as usize, "XEN_DOMCTL_GRANT_version_mask"),
                (X86_EMU_LAPIC as usize, "XEN_X86_EMU_LAPIC"),
                (X86_EMU_HPET as usize, "XEN_X86_EMU_HPET"),
                (X86_EMU_PM as usize, "XEN_X86_EMU_PM"),
                (X86_EMU_RTC as usize, "XEN_X86_EMU_RTC"),
                (X86_EMU_IOAPIC as usize, "XEN_X86_EMU_IOAPIC"),
                (X86_EMU_PIC as usize, "XEN_X86_EMU_PIC"),
                (X86_EMU_VGA as usize, "XEN_X86_EMU_VGA"),
                (X86_EMU_IOMMU as usize, "XEN_X86_EMU_IOMMU"),
                (X86_EMU_PIT as usize, "XEN_X86_EMU_PIT"),
                (X86_EMU_USE_PIRQ as usize, "XEN_X86_EMU_USE_PIRQ"),
                (X86_EMU_VPCI as usize, "XEN_X86_EMU_VPCI"),
                (X86_EMU_ALL as usize, "XEN_X86_EMU_ALL"),
                (X86_MSR_RELAXED as usize, "XEN_X86_MSR_RELAXED"),
                (DOMID_FIRST_RESERVED as usize, "DOMID_FIRST_RESERVED"),
                (DOMID_SELF as usize, "DOMID_SELF"),
                (VGCF_I387_VALID as usize, "VGCF_i387_valid"),
                (VGCF_IN_KERNEL as usize, "VGCF_in_kernel"),
                (
                    VGCF_FAILSAFE_DISABLES_EVENTS as usize,
                    "VGCF_failsafe_disables_events",
                ),
                (
                    VGCF_SYSCALL_DISABLES_EVENTS as usize,
                    "VGCF_syscall_disables_events",
                ),
                (VGCF_ONLINE as usize, "VGCF_online"),
                (FLAT_KERNEL_CS as usize, "FLAT_KERNEL_CS"),
                (FLAT_KERNEL_SS as usize, "FLAT_KERNEL_SS"),
                (FLAT_KERNEL_DS as usize, "FLAT_KERNEL_DS"),
                (XENMEM_POPULATE_PHYSMAP as usize, "XENMEM_populate_physmap"),
                (XENMEM_SET_MEMORY_MAP as usize, "XENMEM_set_memory_map"),
                (XENMEM_MAXIMUM_GPFN as usize, "XENMEM_maximum_gpfn"),
                (XENMEM_CLAIM_PAGES as usize, "XENMEM_claim_pages"),
                (XENMEM_ACQUIRE_RESOURCE as usize, "XENMEM_acquire_resource"),
                (
                    XENMEM_RESOURCE_GRANT_TABLE as usize,
                    "XENMEM_resource_grant_table",
                ),
                (
                    XENMEM_RESOURCE_GRANT_TABLE_ID_SHARED as usize,
                    "XENMEM_resource_grant_table_id_shared",
                ),
                (
                    XENMEMF_POPULATE_ON_DEMAND as usize,
                    "XENMEMF_populate_on_demand",
                ),
                (
                    XENMEMF_EXACT_NODE_REQUEST as usize,
                    "XENMEMF_exact_node_request",
                ),
                (xenmemf_exact_node(0) as usize, "XENMEMF_exact_node(0)"),
                (xenmemf_exact_node(3) as usize, "XENMEMF_exact_node(3)"),
                (XENMEM_SET_POD_TARGET as usize, "XENMEM_set_pod_target"),
                (E820_RAM as usize, "E820_RAM"),
                (MMUEXT_PIN_L4_TABLE as usize, "MMUEXT_PIN_L4_TABLE"),
                (EVTCHNOP_ALLOC_UNBOUND as usize, "EVTCHNOP_alloc_unbound"),
                (GNTTABOP_SETUP_TABLE as usize, "GNTTABOP_setup_table"),
                (GNTST_OKAY as usize, "GNTST_okay"),
                (HVMOP_SET_PARAM as usize, "HVMOP_set_param"),
                (HVM_PARAM_STORE_PFN as usize, "HVM_PARAM_STORE_PFN"),
                (HVM_PARAM_STORE_EVTCHN as usize, "HVM_PARAM_STORE_EVTCHN"),
                (HVM_PARAM_VIRIDIAN as usize, "HVM_PARAM_VIRIDIAN"),
                (HVM_PARAM_TIMER_MODE as usize, "HVM_PARAM_TIMER_MODE"),
                (HVM_PARAM_HPET_ENABLED as usize, "HVM_PARAM_HPET_ENABLED"),
                (HVM_PARAM_VPT_ALIGN as usize, "HVM_PARAM_VPT_ALIGN"),
                (HVM_PARAM_CONSOLE_PFN as usize, "HVM_PARAM_CONSOLE_PFN"),
                (
                    HVM_PARAM_CONSOLE_EVTCHN as usize,
                    "HVM_PARAM_CONSOLE_EVTCHN",
                ),
                (HVM_PARAM_ALTP2M as usize, "HVM_PARAM_ALTP2M"),
                (HVM_PARAM_MCA_CAP as usize, "HVM_PARAM_MCA_CAP"),
            ] {
                assert_eq!(ours, f(&format!("const {name}")), "{version:?} {name}");
            }
            // Constants of some releases only.
            let since = |n: &str, minor: u32, ours: u32| {
                let got = facts.iter().find(|(k, _)| *k == format!("const {n}"));
                assert_eq!(got.is_some(), version.1 >= minor, "{version:?} {n}");
                if let Some((_, v)) = got {
                    assert_eq!(ours as usize, *v, "{version:?} {n}");
                }
            };
            since(
                "XEN_DOMCTL_CDF_trap_unmapped_accesses",
                21,
                CDF_TRAP_UNMAPPED_ACCESSES,
            );
            since("XEN_DOMCTL_ALTP2M_mixed", 19, ALTP2M_MIXED);
            since("XEN_DOMCTL_ALTP2M_external", 19, ALTP2M_EXTERNAL);
            since("XEN_DOMCTL_ALTP2M_limited", 19, ALTP2M_LIMITED);

            macro_rules! layout {
                ($t:ty, $c:literal, [$($field:ident),*]) => {
                    assert_eq!(size_of::<$t>(), f(concat!("size ", $c)), "{version:?} size {}", $c);
                    $( assert_eq!(offset_of!($t, $field), f(concat!("offset ", $c, ".", stringify!($field))),
                        "{version:?} {}.{}", $c, stringify!($field)); )*
                };
            }
            layout!(MaxVcpus, "struct xen_domctl_max_vcpus", [max]);
            layout!(AddressSize, "struct xen_domctl_address_size", [size]);
            layout!(HypercallInit, "struct xen_domctl_hypercall_init", [gmfn]);
            layout!(
                TscInfo,
                "struct xen_domctl_tsc_info",
                [tsc_mode, gtsc_khz, incarnation, elapsed_nsec]
            );
            layout!(VcpuContext, "struct xen_domctl_vcpucontext", [vcpu, ctxt]);
            layout!(
                VcpuGuestContext,
                "struct vcpu_guest_context",
                [
                    fpu_ctxt,
                    flags,
                    user_regs,
                    trap_ctxt,
                    ldt_base,
                    ldt_ents,
                    gdt_frames,
                    gdt_ents,
                    kernel_ss,
                    kernel_sp,
                    ctrlreg,
                    debugreg,
                    event_callback_eip,
                    failsafe_callback_eip,
                    syscall_callback_eip,
                    vm_assist,
                    fs_base,
                    gs_base_kernel,
                    gs_base_user
                ]
            );
            assert_eq!(size_of::<VcpuGuestContext>(), 5168);
            layout!(TrapInfo, "struct trap_info", [vector, flags, cs, address]);
            layout!(
                CpuUserRegs,
                "struct cpu_user_regs",
                [
                    r15,
                    r14,
                    r13,
                    r12,
                    rbp,
                    rbx,
                    r11,
                    r10,
                    r9,
                    r8,
                    rax,
                    rcx,
                    rdx,
                    rsi,
                    rdi,
                    error_code,
                    entry_vector,
                    rip,
                    cs,
                    saved_upcall_mask,
                    rflags,
                    rsp,
                    ss,
                    es,
                    ds,
                    fs,
                    gs
                ]
            );
            layout!(
                MemoryReservation,
                "struct xen_memory_reservation",
                [extent_start, nr_extents, extent_order, mem_flags, domid]
            );
            layout!(ForeignMemoryMap, "struct xen_foreign_memory_map", [domid]);
            assert_eq!(
                offset_of!(ForeignMemoryMap, nr_entries),
                f("offset struct xen_foreign_memory_map.map.nr_entries")
            );
            assert_eq!(
                offset_of!(ForeignMemoryMap, buffer),
                f("offset struct xen_foreign_memory_map.map.buffer")
            );
            assert_eq!(E820Entry::SIZE, f("size struct e820entry"));
            layout!(MmuextOp, "struct mmuext_op", [cmd, arg2]);
            assert_eq!(
                offset_of!(MmuextOp, arg1),
                f("offset struct mmuext_op.arg1.mfn")
            );
            layout!(
                EvtchnAllocUnbound,
                "struct evtchn_alloc_unbound",
                [dom, remote_dom, port]
            );
            layout!(
                GnttabSetupTable,
                "struct gnttab_setup_table",
                [dom, nr_frames, status, frame_list]
            );
            layout!(
                PrivcmdMmapBatchV2,
                "privcmd_mmapbatch_v2_t",
                [num, dom, addr, arr, err]
            );
            layout!(
                PrivcmdMmapResource,
                "privcmd_mmap_resource_t",
                [dom, id, idx, num, addr]
            );
            assert_eq!(
                offset_of!(PrivcmdMmapResource, kind),
                f("offset privcmd_mmap_resource_t.type")
            );
            layout!(HvmParam, "struct xen_hvm_param", [domid, index, value]);
        }
    }

    /// createdomain as serialised for each release, field by field at the
    /// offsets that release's header gives.
    #[test]
    fn createdomain_has_each_releases_layout() {
        let cfg = CreateDomain {
            ssidref: 0x1111_1111,
            handle: *b"0123456789abcdef",
            flags: 0x2222_2222,
            iommu_opts: 0x3333_3333,
            max_vcpus: 0x4444_4444,
            max_evtchn_port: 0x5555_5555,
            max_grant_frames: -2,
            max_maptrack_frames: -3,
            grant_opts: 0x6666_6666,
            altp2m_opts: 0x000a_0001,
            vmtrace_size: 0x7777_7777,
            cpupool_id: 0x8888_8888,
            emulation_flags: 0x9999_9999,
            misc_flags: 0xaaaa_aaaa,
        };
        let mut shapes = Vec::new();
        for (version, facts) in releases() {
            let f = |n: &str| fact(facts, &format!("offset struct xen_domctl_createdomain.{n}"));
            let has = |n: &str| {
                facts
                    .iter()
                    .any(|(k, _)| *k == format!("offset struct xen_domctl_createdomain.{n}"))
            };
            let layout = CreateDomainLayout::for_version(version);
            let size = fact(facts, "size struct xen_domctl_createdomain");
            assert_eq!(layout.size(), size, "{version:?}");
            assert!(size <= UNION_SIZE);
            let iv = interface_versions(version.0 << 16 | version.1).unwrap();
            let cfg = match layout {
                CreateDomainLayout::NoAltp2m => CreateDomain {
                    altp2m_opts: 0,
                    ..cfg
                },
                CreateDomainLayout::Altp2m => cfg,
            };
            let d = super::createdomain_domctl(version, iv.domctl, &cfg).expect("serialises");
            assert_eq!(
                (d.cmd, d.interface_version, d.domain),
                (1, iv.domctl, 0),
                "{version:?}"
            );
            let b = &d.u[..];
            assert!(b[size..].iter().all(|x| *x == 0), "{version:?} tail");
            let u32_at = |n: &str| le(b, f(n), 4) as u32;
            assert_eq!(u32_at("ssidref"), cfg.ssidref, "{version:?}");
            assert_eq!(&b[f("handle")..f("handle") + 16], &cfg.handle[..]);
            assert_eq!(u32_at("flags"), cfg.flags, "{version:?}");
            assert_eq!(u32_at("iommu_opts"), cfg.iommu_opts, "{version:?}");
            assert_eq!(u32_at("max_vcpus"), cfg.max_vcpus, "{version:?}");
            assert_eq!(u32_at("max_evtchn_port"), cfg.max_evtchn_port);
            assert_eq!(u32_at("max_grant_frames") as i32, cfg.max_grant_frames);
            assert_eq!(
                u32_at("max_maptrack_frames") as i32,
                cfg.max_maptrack_frames
            );
            assert_eq!(u32_at("grant_opts"), cfg.grant_opts, "{version:?}");
            assert_eq!(u32_at("vmtrace_size"), cfg.vmtrace_size, "{version:?}");
            assert_eq!(u32_at("cpupool_id"), cfg.cpupool_id, "{version:?}");
            assert_eq!(
                u32_at("arch.emulation_flags"),
                cfg.emulation_flags,
                "{version:?}"
            );
            assert_eq!(u32_at("arch.misc_flags"), cfg.misc_flags, "{version:?}");
            let shape = if has("altp2m.opts") {
                assert_eq!(le(b, f("altp2m.opts"), 2), 1, "{version:?}");
                assert_eq!(le(b, f("altp2m.nr"), 2), 10, "{version:?}");
                "struct"
            } else if has("altp2m_opts") {
                assert_eq!(u32_at("altp2m_opts"), cfg.altp2m_opts, "{version:?}");
                "u32"
            } else {
                assert_eq!(layout, CreateDomainLayout::NoAltp2m, "{version:?}");
                "none"
            };
            shapes.push(shape);
        }
        // The per-release headers really differ where the table says.
        assert_eq!(shapes, ["none", "none", "u32", "u32", "struct", "struct"]);
    }

    #[test]
    fn altp2m_before_4_19_is_refused() {
        let cfg = CreateDomain {
            altp2m_opts: ALTP2M_MIXED,
            ..Default::default()
        };
        assert!(matches!(
            super::createdomain_domctl((4, 18), 0x16, &cfg),
            Err(super::SysError::Invalid(_))
        ));
        assert!(super::createdomain_domctl((4, 19), 0x17, &cfg).is_ok());
    }

    /// The byte images Xen reads put nested fields where the headers say.
    #[test]
    fn vcpu_context_and_e820_images_follow_the_headers() {
        let (_, facts) = releases().next().unwrap();
        let f = |n: &str| fact(facts, n);
        let mut ctx = VcpuGuestContext {
            flags: VGCF_IN_KERNEL | VGCF_ONLINE,
            kernel_sp: 0x5555,
            gs_base_user: 0x6666,
            ..Default::default()
        };
        ctx.fpu_ctxt[511] = 0x42;
        ctx.user_regs.rip = 0x1111;
        ctx.user_regs.cs = FLAT_KERNEL_CS;
        ctx.user_regs.saved_upcall_mask = 0x7;
        ctx.user_regs.gs = 0x33;
        ctx.trap_ctxt[255] = TrapInfo {
            vector: 0x80,
            flags: 3,
            cs: 0xe033,
            address: 0x2222,
            ..Default::default()
        };
        ctx.ctrlreg[3] = 0x3333 << 12;
        ctx.debugreg[7] = 0x400;
        let b = ctx.to_bytes();
        assert_eq!(b.len(), f("size struct vcpu_guest_context"));
        let vgc = |n: &str| f(&format!("offset struct vcpu_guest_context.{n}"));
        let regs = |n: &str| vgc("user_regs") + f(&format!("offset struct cpu_user_regs.{n}"));
        assert_eq!(b[511], 0x42);
        assert_eq!(le(&b, vgc("flags"), 8), 0x24);
        assert_eq!(le(&b, regs("rip"), 8), 0x1111);
        assert_eq!(le(&b, regs("cs"), 2), 0xe033);
        assert_eq!(le(&b, regs("saved_upcall_mask"), 1), 0x7);
        assert_eq!(le(&b, regs("gs"), 2), 0x33);
        let trap = vgc("trap_ctxt") + 255 * f("size struct trap_info");
        assert_eq!(le(&b, trap + f("offset struct trap_info.vector"), 1), 0x80);
        assert_eq!(le(&b, trap + f("offset struct trap_info.flags"), 1), 3);
        assert_eq!(le(&b, trap + f("offset struct trap_info.cs"), 2), 0xe033);
        assert_eq!(
            le(&b, trap + f("offset struct trap_info.address"), 8),
            0x2222
        );
        assert_eq!(le(&b, vgc("ctrlreg") + 3 * 8, 8), 0x3333 << 12);
        assert_eq!(le(&b, vgc("debugreg") + 7 * 8, 8), 0x400);
        assert_eq!(le(&b, vgc("kernel_sp"), 8), 0x5555);
        assert_eq!(le(&b, vgc("gs_base_user"), 8), 0x6666);
        // Nothing else is written: the non-zero bytes of the values above.
        assert_eq!(b.iter().filter(|x| **x != 0).count(), 22);
        assert_eq!(VcpuGuestContext::from_bytes(&b), ctx);

        let e = E820Entry {
            addr: 0x0102_0304_0506_0708,
            size: 0x1112_1314_1516_1718,
            kind: E820_RAM,
        };
        let b = e.to_bytes();
        assert_eq!(le(&b, f("offset struct e820entry.addr"), 8), e.addr);
        assert_eq!(le(&b, f("offset struct e820entry.size"), 8), e.size);
        assert_eq!(le(&b, f("offset struct e820entry.type"), 4), 1);
    }

    #[test]
    fn failures_name_the_operation() {
        use super::{domctl_what, memory_op_what, sysctl_what};
        assert_eq!(domctl_what(DOMCTL_CREATEDOMAIN), "domctl createdomain");
        assert_eq!(domctl_what(DOMCTL_SETVCPUCONTEXT), "domctl setvcpucontext");
        assert_eq!(domctl_what(9999), "domctl");
        assert_eq!(sysctl_what(SYSCTL_PHYSINFO), "sysctl physinfo");
        assert_eq!(
            memory_op_what(XENMEM_POPULATE_PHYSMAP),
            "memory_op populate_physmap"
        );
        assert_eq!(memory_op_what(XENMEM_CLAIM_PAGES), "memory_op claim_pages");
        // Every named command has its own name.
        let mut names: Vec<_> = (0..100)
            .map(domctl_what)
            .filter(|n| *n != "domctl")
            .collect();
        let n = names.len();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), n);
        assert!(n >= 17);
    }

    #[test]
    fn payload_round_trip() {
        let d = DomainInfo {
            domain: 7,
            flags: DOMINF_PAUSED,
            cpu_time: 1 << 40,
            handle: [9; 16],
            ..Default::default()
        };
        assert_eq!(DomainInfo::from_bytes(&d.to_bytes()), d);
        let s = Sysctl::new(
            SYSCTL_PHYSINFO,
            0x15,
            &PhysInfo {
                nr_cpus: 2,
                total_pages: 5,
                ..Default::default()
            },
        );
        let back: PhysInfo = Sysctl::from_bytes(&s.to_bytes()).payload();
        assert_eq!((back.nr_cpus, back.total_pages), (2, 5));
    }

    #[test]
    fn hangup_stops_a_process_and_knows_when_it_is_gone() {
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap();
        let pid = child.id() as i32;
        assert!(super::hangup(pid).unwrap());
        let status = child.wait().unwrap();
        assert_eq!(
            std::os::unix::process::ExitStatusExt::signal(&status),
            Some(1)
        );
        assert!(!super::hangup(pid).unwrap(), "reaped: no such process");
        assert!(super::hangup(0).is_err() && super::hangup(-1).is_err());
    }

    #[test]
    fn unknown_versions_are_refused() {
        assert!(interface_versions(4 << 16 | 16).is_none());
        assert!(interface_versions(4 << 16 | 23).is_none());
    }
}

#[cfg(test)]
mod mapping_rules {
    #[test]
    fn a_frame_twice_is_refused() {
        assert!(super::distinct_frames(&[3, 1, 2]).is_ok());
        assert!(super::distinct_frames(&[3, 1, 3]).is_err());
    }

    #[test]
    fn one_guest_mapping_at_a_time() {
        let held = super::exclusive_mapping().unwrap();
        assert!(super::exclusive_mapping().is_err());
        drop(held);
        assert!(super::exclusive_mapping().is_ok());
    }
}
