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
}

/// A connection to the hypervisor.
pub struct Xen {
    pc: Privcmd,
    pub version: (u32, u32),
    pub iv: InterfaceVersions,
}

fn hc_err(what: &'static str) -> impl FnOnce(std::io::Error) -> SysError {
    move |source| SysError::Hypercall { what, source }
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
        self.pc
            .hypercall(HYPERVISOR_SYSCTL, [buf.addr(), 0, 0, 0, 0])
            .map_err(hc_err("sysctl"))?;
        Ok(Sysctl::from_bytes(
            &buf.read(0, std::mem::size_of::<Sysctl>()),
        ))
    }

    fn domctl(&self, d: Domctl) -> Result<Domctl, SysError> {
        let buf = self.buf_with(&d.to_bytes(), 0)?;
        self.pc
            .hypercall(HYPERVISOR_DOMCTL, [buf.addr(), 0, 0, 0, 0])
            .map_err(hc_err("domctl"))?;
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
            .map_err(hc_err("domctl"))?;
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
            .map_err(hc_err("memory_op"))?;
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
            .map_err(hc_err("hvm_op"))?;
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
            .map_err(hc_err("memory_op"))
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
            .map_err(hc_err("domctl"))?;
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
