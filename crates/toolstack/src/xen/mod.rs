//! The Xen backend: the hypervisor implemented with domctl/sysctl
//! hypercalls ([`XenHypervisor`]), and a Linux dom0's services: hotplug
//! scripts, qemu-xen and its QMP sockets ([`XenDom0`]).

mod bootloader;
mod build;
mod build_hvm;
mod cpu_policy;
mod dm;
mod dom0;
mod dump;
mod hvm_image;
mod pv_image;
mod restore;
mod save;

pub use bootloader::BootloaderError;
pub use build::DomainBuildError;
pub use cpu_policy::CpuidApplyError;
pub use dm::{BinaryProblem, DeviceModelError, NotReady};
pub use dom0::{HotplugScriptError, KillProblem, KillProblems, ScriptProblem, XenDom0};
pub use pv_image::PvImageError;

use xen_sys::Xen;
use xen_sys::abi::{self, DomainInfo};

use crate::params::{HypfsEntry, HypfsKind};
use crate::psr::{AllocFeature, AllocInfo};
use crate::{
    BuildSpec, Built, CpuTopology, CpupoolInfo, CreateSpec, DomInfo, Error, GuestKind, Hypervisor,
    IoRange, NumaNode, PciAddr, PhysInfo, RtdsVcpu, SchedParams, Trigger, VcpuInfo, VersionInfo,
};

/// Xen's first reserved domain id (DOMID_FIRST_RESERVED): ids from here
/// on name special domains (DOMID_SELF, DOMID_IO, ...), never a guest.
const DOMID_FIRST_RESERVED: u32 = 0x7ff0;

/// As [`dom`], and the quarantine: device assignment may name DOMID_IO.
fn dom_or_io(domid: u32) -> Result<u16, Error> {
    if domid == crate::DOMID_IO {
        Ok(abi::DOMID_IO)
    } else {
        dom(domid)
    }
}

/// The one narrowing of the toolstack's domain ids to Xen's 16 bits: an id
/// that does not name a guest must never reach a hypercall as another one.
fn dom(domid: u32) -> Result<u16, Error> {
    if domid < DOMID_FIRST_RESERVED {
        Ok(domid as u16)
    } else {
        Err(Error::NoSuchDomain(domid))
    }
}

/// The hypervisor half of the seam on real Xen: hypercalls through privcmd.
pub struct XenHypervisor {
    xen: Xen,
    page_kb: u64,
}

impl XenHypervisor {
    /// Open Xen's privcmd interface; fails when this is not a Xen dom0 (or not root).
    pub fn open() -> Result<Self, Error> {
        let xen = Xen::open().map_err(Error::NoXen)?;
        Ok(XenHypervisor { xen, page_kb: 4 })
    }

    fn dominfo(&self, i: &DomainInfo) -> DomInfo {
        let shutdown = i.flags & abi::DOMINF_SHUTDOWN != 0;
        DomInfo {
            domid: u32::from(i.domain),
            uuid: i.handle,
            ssidref: i.ssidref,
            running: i.flags & abi::DOMINF_RUNNING != 0,
            blocked: i.flags & abi::DOMINF_BLOCKED != 0,
            paused: i.flags & abi::DOMINF_PAUSED != 0,
            shutdown,
            dying: i.flags & abi::DOMINF_DYING != 0,
            shutdown_reason: (i.flags >> abi::DOMINF_SHUTDOWNSHIFT) & abi::DOMINF_SHUTDOWNMASK,
            outstanding_memkb: i.outstanding_pages * self.page_kb,
            current_memkb: i.tot_pages * self.page_kb,
            shared_memkb: i.shr_pages * self.page_kb,
            paged_memkb: i.paged_pages * self.page_kb,
            max_memkb: i.max_pages.saturating_mul(self.page_kb),
            cpu_time_ns: i.cpu_time,
            vcpu_max_id: i.max_vcpu_id,
            vcpu_online: i.nr_online_vcpus,
            cpupool: i.cpupool,
            hvm: i.flags & abi::DOMINF_HVM_GUEST != 0,
        }
    }
}

/// XEN_DOMCTL_CDF_* and XEN_X86_EMU_* values libxl uses.
const CDF_HVM: u32 = 1 << 0;
const CDF_HAP: u32 = 1 << 1;
const EMU_LAPIC: u32 = 1 << 0;
/// Every emulated device but vPCI (and, from 4.19, but USE_PIRQ).
const EMU_HVM_4_17: u32 = 0x3ff;
const EMU_HVM_4_19: u32 = 0x1ff;
/// XEN_SYSCTL_PHYSCAP_gnttab_v1/v2.
const PHYSCAP_GNTTAB_V1: u32 = 1 << 8;
const PHYSCAP_GNTTAB_V2: u32 = 1 << 9;

impl XenHypervisor {
    /// createdomain's inputs as libxl settles them for this hypervisor.
    fn createdomain_config(&self, spec: &CreateSpec) -> Result<abi::CreateDomain, Error> {
        let caps = self.xen.physinfo()?.capabilities;
        let grant_version = if caps & PHYSCAP_GNTTAB_V2 != 0 {
            2
        } else if caps & PHYSCAP_GNTTAB_V1 != 0 {
            1
        } else {
            0
        };
        let (flags, emulation_flags) = match spec.kind {
            GuestKind::Pv => (0, 0),
            GuestKind::Pvh => (CDF_HVM, EMU_LAPIC),
            GuestKind::Hvm => (
                CDF_HVM,
                if self.xen.version >= (4, 19) {
                    EMU_HVM_4_19
                } else {
                    EMU_HVM_4_17
                },
            ),
        };
        let hap = if spec.hap && spec.kind != GuestKind::Pv {
            CDF_HAP
        } else {
            0
        };
        Ok(abi::CreateDomain {
            ssidref: spec.ssidref,
            handle: spec.uuid,
            flags: flags | hap,
            max_vcpus: spec.max_vcpus,
            max_evtchn_port: spec.max_evtchn_port,
            max_grant_frames: i32::try_from(spec.max_grant_frames).unwrap_or(-1),
            max_maptrack_frames: i32::try_from(spec.max_maptrack_frames).unwrap_or(-1),
            grant_opts: grant_version,
            emulation_flags,
            cpupool_id: spec.cpupool,
            ..Default::default()
        })
    }
}

impl Hypervisor for XenHypervisor {
    /// libxl__domain_make's createdomain, then build_pre's max_vcpus
    /// (which allocates the vCPUs); a domain that cannot get its vCPUs is
    /// destroyed here, as the caller never learns its id.
    fn create_domain(&self, spec: &CreateSpec) -> Result<u32, Error> {
        let cfg = self.createdomain_config(spec)?;
        let dom = crate::trace::timed(|| "createdomain".into(), || self.xen.create_domain(&cfg))?;
        if let Err(e) = self.xen.max_vcpus(dom, spec.max_vcpus) {
            let _ = self.xen.destroy(dom);
            return Err(e.into());
        }
        crate::trace::info(|| format!("created domain {dom}"));
        Ok(u32::from(dom))
    }

    fn build(&self, domid: u32, spec: &BuildSpec) -> Result<Built, Error> {
        build::build(&self.xen, dom(domid)?, spec)
    }

    fn save_image(&self, domid: u32, out: &mut dyn std::io::Write) -> Result<(), Error> {
        let d = dom(domid)?;
        let hvm = self.xen.getdomaininfo(d)?.flags & abi::DOMINF_HVM_GUEST != 0;
        crate::trace::timed(
            || format!("save domain {domid}'s image"),
            || {
                if hvm {
                    hvm_image::save_hvm(&self.xen, d, out)
                } else {
                    save::save_pv(&self.xen, d, out)
                }
            },
        )
    }

    fn dump_core(&self, domid: u32, out: &mut dyn std::io::Write) -> Result<(), Error> {
        let d = dom(domid)?;
        crate::trace::timed(
            || format!("dump domain {domid}'s core"),
            || dump::dump_core(&self.xen, d, out),
        )
    }

    fn restore_image(
        &self,
        domid: u32,
        spec: &BuildSpec,
        input: &mut dyn std::io::Read,
    ) -> Result<Built, Error> {
        let d = dom(domid)?;
        crate::trace::timed(
            || format!("restore domain {domid}'s image"),
            || match (spec.kind, &spec.hvm) {
                (GuestKind::Pv, _) => restore::restore_pv(&self.xen, d, spec, input),
                (_, Some(hvm)) => hvm_image::restore_hvm(&self.xen, d, spec, hvm, input),
                (_, None) => Err(build::DomainBuildError::NoHvmRestoreSettings.into()),
            },
        )
    }

    /// As libxc's resume with the suspend cancelled: the guest's suspend
    /// hypercall returns 1 (vCPU 0's rax), so it carries on with what it
    /// had, then Xen lets the domain run. An HVM guest without PV drivers
    /// never made that call: it just runs on.
    fn resume(&self, domid: u32) -> Result<(), Error> {
        let d = dom(domid)?;
        let hvm = self.xen.getdomaininfo(d)?.flags & abi::DOMINF_HVM_GUEST != 0;
        if !hvm || self.has_pv_callback(domid)? {
            let mut ctx = self.xen.vcpu_context(d, 0)?;
            ctx.user_regs.rax = 1;
            self.xen.set_vcpu_context(d, 0, &ctx)?;
        }
        Ok(self.xen.resume_domain(d)?)
    }

    fn remote_shutdown(&self, domid: u32, reason: u32) -> Result<(), Error> {
        Ok(self.xen.remote_shutdown(dom(domid)?, reason)?)
    }

    fn domains(&self) -> Result<Vec<DomInfo>, Error> {
        // Xen returns at most what fits; ask in batches of one page.
        const BATCH: u32 = xen_sys::DOMAINS_PER_PAGE;
        let mut out = Vec::new();
        let mut next = 0u16;
        loop {
            let batch = self.xen.domain_list(next, BATCH)?;
            let full = batch.len() as u32 == BATCH;
            let last = batch.last().map(|d| d.domain);
            out.extend(batch.iter().map(|d| self.dominfo(d)));
            match last {
                Some(l) if full && l < u16::MAX => next = l + 1,
                _ => return Ok(out),
            }
        }
    }

    /// One record from the list starting at `domid`, as libxl_domain_info
    /// asks: not every domain's, for each domain looked at.
    fn domain(&self, domid: u32) -> Result<Option<DomInfo>, Error> {
        let Ok(d) = dom(domid) else {
            return Ok(None);
        };
        let first = self.xen.domain_list(d, 1)?;
        Ok(first
            .first()
            .filter(|i| i.domain == d)
            .map(|i| self.dominfo(i)))
    }

    fn physinfo(&self) -> Result<PhysInfo, Error> {
        let p = self.xen.physinfo()?;
        let caps = [
            (abi::PHYSCAP_PV, "pv"),
            (abi::PHYSCAP_HVM, "hvm"),
            (abi::PHYSCAP_DIRECTIO, "hvm_directio"),
            (abi::PHYSCAP_DIRECTIO, "pv_directio"),
            (abi::PHYSCAP_HAP, "hap"),
            (abi::PHYSCAP_SHADOW, "shadow"),
            (abi::PHYSCAP_IOMMU_HAP_PT_SHARE, "iommu_hap_pt_share"),
            (abi::PHYSCAP_VMTRACE, "vmtrace"),
            (abi::PHYSCAP_VPMU, "vpmu"),
            (abi::PHYSCAP_GNTTAB_V1, "gnttab-v1"),
            (abi::PHYSCAP_GNTTAB_V2, "gnttab-v2"),
        ];
        Ok(PhysInfo {
            threads_per_core: p.threads_per_core,
            cores_per_socket: p.cores_per_socket,
            nr_cpus: p.nr_cpus,
            max_cpu_id: p.max_cpu_id,
            nr_nodes: p.nr_nodes,
            max_node_id: p.max_node_id,
            cpu_khz: p.cpu_khz,
            hw_cap: p.hw_cap,
            virt_caps: caps
                .iter()
                .filter(|(bit, _)| p.capabilities & bit != 0)
                .map(|(_, n)| (*n).to_string())
                .collect(),
            total_pages: p.total_pages,
            free_pages: p.free_pages,
            scrub_pages: p.scrub_pages,
            outstanding_pages: p.outstanding_pages,
            // Counters, not errors, when sharing is unused; libxl ignores failures too.
            sharing_freed_pages: self
                .xen
                .memory_op_value(abi::XENMEM_GET_SHARING_FREED_PAGES)
                .map_or(0, |v| v.max(0) as u64),
            sharing_used_frames: self
                .xen
                .memory_op_value(abi::XENMEM_GET_SHARING_SHARED_PAGES)
                .map_or(0, |v| v.max(0) as u64),
        })
    }

    fn dmesg(&self, clear: bool) -> Result<Vec<u8>, Error> {
        // libxl's reader never resets the byte count between calls, so each
        // read asks for at most what the previous one returned; it stops at
        // an empty read. Output stops at a NUL like printf("%s").
        let mut out = Vec::new();
        let (mut index, mut count) = (0u32, 16384u32);
        loop {
            let chunk = self.xen.read_console(clear, true, &mut index, count)?;
            count = chunk.len() as u32;
            if count == 0 {
                return Ok(out);
            }
            let end = chunk.iter().position(|b| *b == 0).unwrap_or(chunk.len());
            out.extend_from_slice(&chunk[..end]);
        }
    }

    fn version_info(&self) -> Result<VersionInfo, Error> {
        let x = &self.xen;
        let v = x.version_value(abi::XENVER_VERSION)? as u32;
        let (_, cc) = x.version_raw(abi::XENVER_COMPILE_INFO, abi::XEN_COMPILE_INFO_LEN)?;
        let field = |i: usize| {
            let (at, len) = abi::XEN_COMPILE_INFO_FIELDS[i];
            xen_sys::c_string(&cc[at..at + len])
        };
        let (_, pp) = x.version_raw(abi::XENVER_PLATFORM_PARAMETERS, 8)?;
        Ok(VersionInfo {
            major: v >> 16,
            // libxl masks the minor with 0xff.
            minor: v & 0xff,
            extra: x.version_string(abi::XENVER_EXTRAVERSION, abi::XEN_EXTRAVERSION_LEN)?,
            compiler: field(0),
            compile_by: field(1),
            compile_domain: field(2),
            compile_date: field(3),
            capabilities: x
                .version_string(abi::XENVER_CAPABILITIES, abi::XEN_CAPABILITIES_INFO_LEN)?,
            changeset: x.version_string(abi::XENVER_CHANGESET, abi::XEN_CHANGESET_INFO_LEN)?,
            virt_start: u64::from_le_bytes(pp[..8].try_into().expect("8 bytes")),
            pagesize: x.version_value(abi::XENVER_PAGESIZE)? as u32,
            commandline: x.version_string(abi::XENVER_COMMANDLINE, abi::XEN_COMMANDLINE_LEN)?,
            build_id: x.build_id()?.iter().map(|b| format!("{b:02x}")).collect(),
        })
    }

    fn capabilities(&self) -> Result<String, Error> {
        Ok(self
            .xen
            .version_string(abi::XENVER_CAPABILITIES, abi::XEN_CAPABILITIES_INFO_LEN)?)
    }

    fn scheduler(&self) -> Result<String, Error> {
        let id = self.xen.sched_id()?;
        Ok(abi::SCHEDULERS
            .iter()
            .find(|(i, _)| *i == id)
            .map_or_else(|| "unknown".to_string(), |(_, n)| n.to_string()))
    }

    fn free_cpus(&self) -> Result<u32, Error> {
        let p = self.xen.physinfo()?;
        let bits = (p.max_cpu_id + 1).div_ceil(8) * 8;
        Ok(self
            .xen
            .cpupool_freeinfo(bits)?
            .iter()
            .map(|b| b.count_ones())
            .sum())
    }

    fn vcpus(&self, domid: u32) -> Result<Vec<VcpuInfo>, Error> {
        let Some(d) = self
            .xen
            .domain_list(dom(domid)?, 1)?
            .into_iter()
            .find(|d| u32::from(d.domain) == domid)
        else {
            return Err(Error::NoSuchDomain(domid));
        };
        if d.max_vcpu_id == abi::INVALID_MAX_VCPU_ID {
            return Ok(Vec::new());
        }
        // libxl sizes cpumaps by the host's CPU count, in whole bytes.
        let bytes = (self.xen.physinfo()?.max_cpu_id as usize + 1).div_ceil(8);
        (0..=d.max_vcpu_id)
            .map(|v| {
                let i = self.xen.vcpu_info(dom(domid)?, v)?;
                let (hard, soft) = self.xen.vcpu_affinity(dom(domid)?, v, bytes)?;
                Ok(VcpuInfo {
                    vcpuid: v,
                    cpu: i.cpu,
                    online: i.online != 0,
                    blocked: i.blocked != 0,
                    running: i.running != 0,
                    time_ns: i.cpu_time,
                    hard,
                    soft,
                })
            })
            .collect()
    }

    fn set_max_mem(&self, domid: u32, max_kb: u64) -> Result<(), Error> {
        Ok(self.xen.set_max_mem(dom(domid)?, max_kb)?)
    }

    fn set_pod_target(&self, domid: u32, pages: u64) -> Result<(), Error> {
        Ok(self.xen.set_pod_target(dom(domid)?, pages)?)
    }

    fn has_pv_callback(&self, domid: u32) -> Result<bool, Error> {
        Ok(self
            .xen
            .hvm_param(dom(domid)?, abi::HVM_PARAM_CALLBACK_IRQ)?
            != 0)
    }

    fn send_trigger(&self, domid: u32, trigger: Trigger, vcpu: u32) -> Result<(), Error> {
        let t = match trigger {
            Trigger::Nmi => abi::TRIGGER_NMI,
            Trigger::Reset => abi::TRIGGER_RESET,
            Trigger::Init => abi::TRIGGER_INIT,
            Trigger::Power => abi::TRIGGER_POWER,
            Trigger::Sleep => abi::TRIGGER_SLEEP,
        };
        Ok(self.xen.send_trigger(dom(domid)?, t, vcpu)?)
    }

    fn pause(&self, domid: u32) -> Result<(), Error> {
        Ok(self.xen.pause(dom(domid)?)?)
    }

    fn destroy(&self, domid: u32, patience: std::time::Duration) -> Result<(), Error> {
        let start = std::time::Instant::now();
        loop {
            match self.xen.destroy(dom(domid)?) {
                Err(xen_sys::SysError::Hypercall { source, .. })
                    if source.kind() == std::io::ErrorKind::WouldBlock
                        && start.elapsed() < patience => {}
                other => return Ok(other?),
            }
        }
    }

    fn unpause(&self, domid: u32) -> Result<(), Error> {
        Ok(self.xen.unpause(dom(domid)?)?)
    }

    // Topology, affinity, cpupools and schedulers.
    fn node_affinity(&self, domid: u32) -> Result<Vec<u8>, Error> {
        let bytes = (self.xen.physinfo()?.max_node_id as usize + 1).div_ceil(8);
        Ok(self.xen.node_affinity(dom(domid)?, bytes)?)
    }

    fn cpu_topology(&self) -> Result<Vec<CpuTopology>, Error> {
        let valid = |v: u32, invalid: u32| (v != invalid).then_some(v);
        Ok(self
            .xen
            .cpu_topology()?
            .iter()
            .map(|t| CpuTopology {
                core: valid(t.core, abi::INVALID_CORE_ID),
                socket: valid(t.socket, abi::INVALID_SOCKET_ID),
                node: valid(t.node, abi::INVALID_NODE_ID),
            })
            .collect())
    }

    fn numa_nodes(&self) -> Result<Vec<NumaNode>, Error> {
        let (mem, dist) = self.xen.numa_info()?;
        let n = mem.len();
        let size = |v: u64| (v != abi::INVALID_MEM_SZ).then_some(v);
        Ok(mem
            .iter()
            .enumerate()
            .map(|(i, m)| NumaNode {
                size: size(m.memsize),
                free: size(m.memfree),
                dists: dist[i * n..(i + 1) * n]
                    .iter()
                    .map(|d| (*d != abi::INVALID_NODE_DIST).then_some(*d))
                    .collect(),
            })
            .collect())
    }

    fn pci_nodes(&self, devs: &[PciAddr]) -> Result<Vec<Option<u32>>, Error> {
        let raw: Vec<abi::PciDevice> = devs
            .iter()
            .map(|d| abi::PciDevice {
                seg: d.seg,
                bus: d.bus,
                devfn: d.devfn,
            })
            .collect();
        Ok(self
            .xen
            .pci_topology(&raw)?
            .into_iter()
            .map(|n| (n != abi::INVALID_NODE_ID && n != abi::INVALID_DEV).then_some(n))
            .collect())
    }

    fn set_vcpu_affinity(
        &self,
        domid: u32,
        vcpu: u32,
        hard: Option<&[u8]>,
        soft: Option<&[u8]>,
        force: bool,
    ) -> Result<(), Error> {
        let bytes = (self.xen.physinfo()?.max_cpu_id as usize + 1).div_ceil(8);
        self.xen
            .set_vcpu_affinity(dom(domid)?, vcpu, hard, soft, force, bytes)?;
        Ok(())
    }

    fn cpupools(&self) -> Result<Vec<CpupoolInfo>, Error> {
        let bits = (self.xen.physinfo()?.max_cpu_id + 1).div_ceil(8) * 8;
        let mut out = Vec::new();
        let mut next = 0u32;
        while let Some(p) = self.xen.cpupool_info(next, bits)? {
            next = p.id + 1;
            out.push(CpupoolInfo {
                poolid: p.id,
                sched: sched_name(p.sched_id),
                n_dom: p.n_dom,
                cpumap: p.cpumap,
            });
        }
        Ok(out)
    }

    fn free_cpu_map(&self) -> Result<Vec<u8>, Error> {
        let p = self.xen.physinfo()?;
        let bits = (p.max_cpu_id + 1).div_ceil(8) * 8;
        Ok(self.xen.cpupool_freeinfo(bits)?)
    }

    fn cpupool_create(&self, sched: &str) -> Result<u32, Error> {
        Ok(self.xen.cpupool_create(None, sched_id(sched)?)?)
    }

    fn cpupool_destroy(&self, poolid: u32) -> Result<(), Error> {
        Ok(self.xen.cpupool_destroy(poolid)?)
    }

    fn cpupool_add_cpu(&self, poolid: u32, cpu: u32) -> Result<(), Error> {
        Ok(self.xen.cpupool_add_cpu(poolid, cpu)?)
    }

    fn cpupool_remove_cpu(&self, poolid: u32, cpu: u32) -> Result<(), Error> {
        Ok(self.xen.cpupool_remove_cpu(poolid, cpu)?)
    }

    fn cpupool_move_domain(&self, poolid: u32, domid: u32) -> Result<(), Error> {
        Ok(self.xen.cpupool_move_domain(poolid, dom(domid)?)?)
    }

    fn send_debug_keys(&self, keys: &[u8]) -> Result<(), Error> {
        Ok(self.xen.debug_keys(keys)?)
    }

    fn hypfs_open(&self) -> Result<(), Error> {
        self.xen.hypfs_version()?;
        Ok(())
    }

    fn hypfs_entry(&self, path: &str) -> Result<HypfsEntry, Error> {
        let e = self.xen.hypfs_entry(path)?;
        let kind = match e.kind {
            0 => HypfsKind::Dir,
            abi::HYPFS_TYPE_STRING => HypfsKind::String,
            abi::HYPFS_TYPE_UINT => HypfsKind::Uint,
            abi::HYPFS_TYPE_INT => HypfsKind::Int,
            abi::HYPFS_TYPE_BOOL => HypfsKind::Bool,
            _ => HypfsKind::Blob,
        };
        // libxenhypfs takes an unknown encoding for a plain blob.
        let plain = e.encoding == abi::HYPFS_ENC_PLAIN || e.encoding > 1;
        Ok(HypfsEntry {
            kind: if e.encoding > 1 {
                HypfsKind::Blob
            } else {
                kind
            },
            plain,
            content_len: e.content_len,
            max_write_len: e.max_write_len,
        })
    }

    fn hypfs_write(&self, path: &str, data: &[u8]) -> Result<(), Error> {
        Ok(self.xen.hypfs_write(path, data)?)
    }

    fn psr_cmt_sysctl(&self, cmd: u32, cpu: u32) -> Result<u64, Error> {
        Ok(self.xen.psr_cmt_query(cmd, cpu)?)
    }

    fn psr_cmt_domain(&self, domid: u32, cmd: u32) -> Result<u32, Error> {
        Ok(self.xen.psr_cmt_domain(dom(domid)?, cmd)?)
    }

    fn psr_alloc_info(&self, feature: AllocFeature, socket: u32) -> Result<AllocInfo, Error> {
        let cmd = match feature {
            AllocFeature::L3Cat => abi::SYSCTL_PSR_GET_L3_INFO,
            AllocFeature::L2Cat => abi::SYSCTL_PSR_GET_L2_INFO,
            AllocFeature::Mba => abi::SYSCTL_PSR_GET_MBA_INFO,
        };
        let r = self.xen.psr_alloc_info(cmd, socket)?;
        // CDP exists for L3 only (libxc reports it off for L2).
        let flag = match feature {
            AllocFeature::L3Cat => r.flags & abi::SYSCTL_PSR_CAT_L3_CDP != 0,
            AllocFeature::L2Cat => false,
            AllocFeature::Mba => r.flags & abi::SYSCTL_PSR_MBA_LINEAR != 0,
        };
        Ok(AllocInfo {
            len_or_max: r.a,
            cos_max: r.cos_max,
            flag,
        })
    }

    fn psr_alloc_domain(&self, domid: u32, cmd: u32, socket: u32, data: u64) -> Result<u64, Error> {
        Ok(self.xen.psr_alloc_domain(dom(domid)?, cmd, socket, data)?)
    }

    fn assign_device(&self, domid: u32, sbdf: u32, relaxed: bool) -> Result<(), Error> {
        let flags = if relaxed {
            abi::DOMCTL_DEV_RDM_RELAXED
        } else {
            0
        };
        Ok(self
            .xen
            .assign_device(dom_or_io(domid)?, sbdf, flags, false)?)
    }

    fn test_assign_device(&self, domid: u32, sbdf: u32) -> Result<(), Error> {
        Ok(self.xen.assign_device(dom(domid)?, sbdf, 0, true)?)
    }

    fn deassign_device(&self, domid: u32, sbdf: u32) -> Result<(), Error> {
        Ok(self.xen.deassign_device(dom_or_io(domid)?, sbdf)?)
    }

    fn map_pirq(&self, domid: u32, irq: u32) -> Result<u32, Error> {
        Ok(self.xen.map_pirq(dom(domid)?, irq)?)
    }

    fn unmap_pirq(&self, domid: u32, pirq: u32) -> Result<(), Error> {
        Ok(self.xen.unmap_pirq(dom(domid)?, pirq)?)
    }

    fn io_permission(&self, domid: u32, range: IoRange, allow: bool) -> Result<(), Error> {
        let d = dom(domid)?;
        Ok(match range {
            IoRange::Mem(first, nr) => self.xen.iomem_permission(d, first, nr, allow),
            IoRange::Ports(first, nr) => self.xen.ioport_permission(d, first, nr, allow),
            IoRange::Irq(pirq) => self.xen.irq_permission(d, pirq, allow),
        }?)
    }

    fn flask_getenforce(&self) -> Result<Option<bool>, Error> {
        without_flask(self.xen.flask_getenforce().map(|v| v == 1))
    }

    fn flask_setenforce(&self, enforcing: bool) -> Result<Option<()>, Error> {
        without_flask(self.xen.flask_setenforce(enforcing))
    }

    fn flask_load_policy(&self, policy: &[u8]) -> Result<Option<()>, Error> {
        without_flask(self.xen.flask_load(policy))
    }

    fn domain_sched(&self, domid: u32, sched: &str) -> Result<SchedParams, Error> {
        let (_, weight, cap) = self.xen.domain_sched(dom(domid)?, sched_id(sched)?, None)?;
        Ok(SchedParams { weight, cap })
    }

    fn set_domain_sched(&self, domid: u32, sched: &str, p: SchedParams) -> Result<(), Error> {
        self.xen
            .domain_sched(dom(domid)?, sched_id(sched)?, Some((p.weight, p.cap)))?;
        Ok(())
    }

    fn acpi_s3_resume(&self, domid: u32) -> Result<(), Error> {
        Ok(self
            .xen
            .set_hvm_param(dom(domid)?, abi::HVM_PARAM_ACPI_S_STATE, 0)?)
    }

    fn rtds_domain(&self, domid: u32) -> Result<(u32, u32), Error> {
        Ok(self.xen.rtds_domain(dom(domid)?, sched_id("rtds")?)?)
    }

    fn rtds_vcpus(&self, domid: u32, ids: &[u32]) -> Result<Vec<RtdsVcpu>, Error> {
        let ask: Vec<abi::SchedParamVcpu> = ids
            .iter()
            .map(|&vcpuid| abi::SchedParamVcpu {
                vcpuid,
                ..Default::default()
            })
            .collect();
        let got = self
            .xen
            .rtds_vcpus(dom(domid)?, sched_id("rtds")?, &ask, false)?;
        Ok(got
            .into_iter()
            .map(|v| RtdsVcpu {
                vcpuid: v.vcpuid,
                period: v.period,
                budget: v.budget,
                extratime: v.flags & abi::DOMCTL_SCHEDRT_EXTRA != 0,
            })
            .collect())
    }

    fn set_rtds_vcpus(&self, domid: u32, vcpus: &[RtdsVcpu]) -> Result<(), Error> {
        let put: Vec<abi::SchedParamVcpu> = vcpus
            .iter()
            .map(|v| abi::SchedParamVcpu {
                vcpuid: v.vcpuid,
                period: v.period,
                budget: v.budget,
                flags: if v.extratime {
                    abi::DOMCTL_SCHEDRT_EXTRA
                } else {
                    0
                },
            })
            .collect();
        self.xen
            .rtds_vcpus(dom(domid)?, sched_id("rtds")?, &put, true)?;
        Ok(())
    }

    fn pool_sched(&self, poolid: u32, sched: &str) -> Result<[u32; 3], Error> {
        let w = self.xen.pool_sched(poolid, sched_id(sched)?, None)?;
        Ok([w[0], w[1], w[2]])
    }

    fn set_pool_sched(&self, poolid: u32, sched: &str, p: [u32; 3]) -> Result<(), Error> {
        self.xen
            .pool_sched(poolid, sched_id(sched)?, Some([p[0], p[1], p[2], 0]))?;
        Ok(())
    }
}

/// A FLASK answer; ENOSYS (Xen without FLASK) as None.
fn without_flask<T>(r: Result<T, xen_sys::SysError>) -> Result<Option<T>, Error> {
    match r {
        Ok(v) => Ok(Some(v)),
        Err(xen_sys::SysError::Hypercall { source, .. })
            if source.raw_os_error() == Some(ENOSYS) =>
        {
            Ok(None)
        }
        Err(e) => Err(e.into()),
    }
}

/// Linux's ENOSYS.
const ENOSYS: i32 = 38;

/// A scheduler's name from its XEN_SCHEDULER_* id.
fn sched_name(id: u32) -> String {
    abi::SCHEDULERS
        .iter()
        .find(|(i, _)| *i == id)
        .map_or_else(|| "unknown".to_string(), |(_, n)| n.to_string())
}

fn sched_id(name: &str) -> Result<u32, Error> {
    abi::SCHEDULERS
        .iter()
        .find(|(_, n)| *n == name)
        .map(|(i, _)| *i)
        .ok_or_else(|| Error::UnknownScheduler(name.to_string()))
}
