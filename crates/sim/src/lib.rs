//! The built-in simulator: a simulated Xen host behind the same backend
//! seam ([`xl_toolstack::Hypervisor`] and [`xl_toolstack::Dom0`]) as the
//! real one.
//!
//! One host per state directory (`XL_SIM_DIR`). The first `xl` that needs
//! it starts a host process (`xl` itself, with `XL_SIM_SERVE` set), which
//! runs a xenstored speaking the real wire protocol on `xenstored.sock`,
//! the hypervisor on `hypervisor.sock`, and the simulated guests. Every
//! `xl` invocation is then a client, like on a real host, so everything
//! above the seam is the code that runs on Xen.

#![warn(missing_docs)]

pub mod cpu;
pub mod guest;
pub mod host;
pub mod params;
pub mod pci;
pub mod pools;
pub mod proto;
pub mod pty;
pub mod server;
pub mod statedir;

use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::DirBuilderExt;
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rustix::io::Errno;
use serde::de::DeserializeOwned;
use xenstore::{Xs, XsOps};
use xl_toolstack::{
    BuildSpec, Built, CpuTopology, CpupoolInfo, CreateSpec, DmSpec, Dom0, DomInfo, Error,
    GuestKind, HostPaths, HotplugDevice, Hypervisor, IoRange, NumaNode, PciAddr, PhysInfo,
    RtdsVcpu, SchedParams, SysfsWriteError, Trigger, VcpuInfo, VersionInfo,
};

use proto::Request;

/// Socket of the simulated hypervisor in the state directory (see
/// [`proto`]).
pub const HYPERVISOR_SOCK: &str = "hypervisor.sock";
/// Socket of the simulated host's xenstored in the state directory.
pub const XENSTORED_SOCK: &str = "xenstored.sock";
/// Set in the environment of the host process: the directory it serves.
pub const SERVE_ENV: &str = "XL_SIM_SERVE";

/// `XL_SIM_DIR`, else a per-user directory: `$XDG_RUNTIME_DIR/xl-sim`, or
/// `/tmp/xl-sim-<uid>`.
pub fn default_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("XL_SIM_DIR") {
        return d.into();
    }
    if let Some(d) = std::env::var_os("XDG_RUNTIME_DIR") {
        return Path::new(&d).join("xl-sim");
    }
    PathBuf::from(format!(
        "/tmp/xl-sim-{}",
        rustix::process::getuid().as_raw()
    ))
}

/// The simulated hypervisor: a client of the host serving a directory.
/// Clones share one connection.
#[derive(Clone)]
pub struct SimHypervisor {
    client: Arc<Client>,
}

/// The simulated dom0's services, over the same connection as the
/// hypervisor it comes from.
pub struct SimDom0 {
    client: Arc<Client>,
}

struct Client {
    dir: PathBuf,
    conn: Mutex<(BufReader<UnixStream>, UnixStream)>,
}

/// Why the simulator failed, where it does not fail as Xen would (an
/// errno or a toolstack error).
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// The simulated host refused, in its words.
    #[error("{0}")]
    Refused(String),
    /// The state directory cannot be used (what is wrong and the fix).
    #[error("{0}")]
    StateDir(String),
    /// An OS error while starting, reaching or writing for the host.
    #[error("{what}")]
    Io {
        /// The step that failed, with its path if it has one.
        what: String,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// A request or reply that did not encode.
    #[error("{0}")]
    Encode(serde_json::Error),
    /// The host's end of the socket closed.
    #[error("simulated host went away")]
    HostGone,
    /// The host process did not answer in time.
    #[error("the simulated host did not start (see {})", log.display())]
    NotStarted {
        /// Its log, which says why.
        log: PathBuf,
    },
    /// A file a real builder would load, unreadable.
    #[error("cannot read {what} {path}: {}", xl_toolstack::strerror(error))]
    Read {
        /// `kernel` or `ramdisk`.
        what: &'static str,
        /// The path as the config gives it.
        path: String,
        /// The OS error, worded as strerror does it.
        error: std::io::Error,
    },
    /// A PV or PVH guest without `kernel=`.
    #[error("no kernel given")]
    NoKernel,
    /// A kernel the builder cannot load.
    #[error("kernel {path}")]
    Kernel {
        /// The kernel's path.
        path: String,
        /// The builder's reason.
        #[source]
        source: xl_builder::ImageError,
    },
    /// A ramdisk the builder cannot load.
    #[error("ramdisk")]
    Ramdisk(#[source] xl_builder::ImageError),
    /// The builder refused the guest, in its words.
    #[error("{0}")]
    Build(xl_builder::BuildError),
    /// The simulated hotplug script failed.
    #[error("{script} {action}: {why}")]
    Hotplug {
        /// The script as the backend names it.
        script: String,
        /// `online` (vif) or `add` (vbd).
        action: &'static str,
        /// What it wrote to `hotplug-error`.
        why: String,
    },
    /// A disk the simulated QEMU cannot open, as QEMU says it.
    #[error("device model: Could not open '{0}': No such file or directory")]
    NoDisk(String),
    /// A save image from elsewhere (real Xen).
    #[error(
        "the image holds no simulated guest (saved on real Xen?): the simulator restores only \
         what it saved"
    )]
    NoSimGuest,
    /// The guest record of a save image does not decode.
    #[error("the simulated guest's record is damaged: {0}")]
    Damaged(serde_json::Error),
    /// A save image of one guest type restored as another.
    #[error("the image is of a {saved} guest, the config makes a {wanted} guest")]
    KindMismatch {
        /// The saved guest's type (`pv`, `pvh`, `hvm`).
        saved: &'static str,
        /// The config's type.
        wanted: &'static str,
    },
}

impl From<SimError> for Error {
    fn from(e: SimError) -> Self {
        Error::Backend(Box::new(e))
    }
}

/// An OS error in `what`.
fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> SimError {
    let what = what.into();
    move |source| SimError::Io { what, source }
}

/// A refusal with an errno, as a hypercall on Xen fails.
fn os(errno: Errno) -> Error {
    Error::Os(errno.into())
}

fn refused(r: proto::Refusal) -> Error {
    match r {
        proto::Refusal::Errno(errno) => os(errno),
        proto::Refusal::Message(m) => SimError::Refused(m).into(),
    }
}

impl SimHypervisor {
    /// Connects to the host serving `dir`, starting one if there is none.
    pub fn open(dir: &Path) -> Result<SimHypervisor, Error> {
        statedir::prepare(dir).map_err(SimError::StateDir)?;
        let sock = dir.join(HYPERVISOR_SOCK);
        let stream = match UnixStream::connect(&sock) {
            Ok(s) => s,
            Err(_) => start_host(dir)?,
        };
        let reader = BufReader::new(stream.try_clone().map_err(io("simulator socket"))?);
        let paths = HostPaths::under(dir);
        for d in [&paths.lib, &paths.run, &paths.log] {
            match std::fs::DirBuilder::new().mode(0o700).create(d) {
                Err(e) if e.kind() != std::io::ErrorKind::AlreadyExists => {
                    return Err(io(format!("cannot create {}", d.display()))(e).into());
                }
                _ => {}
            }
        }
        Ok(SimHypervisor {
            client: Arc::new(Client {
                dir: dir.to_owned(),
                conn: Mutex::new((reader, stream)),
            }),
        })
    }

    /// The state directory of the host this client talks to.
    pub fn dir(&self) -> &Path {
        &self.client.dir
    }

    /// This host's dom0.
    pub fn dom0(&self) -> SimDom0 {
        SimDom0 {
            client: Arc::clone(&self.client),
        }
    }

    fn call<T: DeserializeOwned>(&self, req: &Request) -> Result<T, Error> {
        self.client.call(req)
    }

    /// Stops the simulated host (its domains are gone with it).
    pub fn quit(&self) -> Result<(), Error> {
        self.call::<()>(&Request::Quit)
    }
}

impl Client {
    fn call<T: DeserializeOwned>(&self, req: &Request) -> Result<T, Error> {
        let mut conn = self.conn.lock().unwrap_or_else(|e| e.into_inner());
        let (reader, writer) = &mut *conn;
        let mut line = serde_json::to_string(req).map_err(SimError::Encode)?;
        line.push('\n');
        writer
            .write_all(line.as_bytes())
            .map_err(io("simulated host went away"))?;
        let mut answer = String::new();
        match reader.read_line(&mut answer) {
            Ok(0) | Err(_) => return Err(SimError::HostGone.into()),
            Ok(_) => {}
        }
        proto::parse_reply(&answer).map_err(refused)
    }
}

/// Starts a host process for `dir` and waits for it to answer. A lock
/// makes concurrent first invocations start exactly one.
fn start_host(dir: &Path) -> Result<UnixStream, Error> {
    let sock = dir.join(HYPERVISOR_SOCK);
    let lock = statedir::open(&dir.join("start.lock"), false).map_err(io(format!(
        "cannot start the simulator in {}",
        dir.display()
    )))?;
    lock.lock()
        .map_err(io(format!("cannot lock {}", dir.display())))?;
    if let Ok(s) = UnixStream::connect(&sock) {
        return Ok(s);
    }
    let exe = std::env::current_exe().map_err(io("cannot find xl"))?;
    let log =
        statedir::open(&dir.join("host.log"), true).map_err(io("cannot open the simulator log"))?;
    Command::new(exe)
        .env(SERVE_ENV, dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        // Its own process group: Ctrl-C at the terminal that started it
        // must not take the host down.
        .process_group(0)
        .spawn()
        .map_err(io("cannot start the simulated host"))?;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Ok(s) = UnixStream::connect(&sock) {
            return Ok(s);
        }
        if Instant::now() > deadline {
            return Err(SimError::NotStarted {
                log: dir.join("host.log"),
            }
            .into());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn check_file(what: &'static str, path: &str) -> Result<(), Error> {
    match std::fs::File::open(path) {
        Ok(_) => Ok(()),
        Err(error) => Err(SimError::Read {
            what,
            path: path.to_string(),
            error,
        }
        .into()),
    }
}

/// The Xen release the simulated host reports.
const SIM_XEN_VERSION: (u32, u32) = (4, 17);

/// PV guests go through the real domain builder, into memory: the layout
/// Xen would get is computed and written, so a kernel (or a size) the
/// builder refuses on Xen is refused here with the same words.
fn build_pv_in_memory(domid: u32, spec: &BuildSpec, kernel_path: &str) -> Result<(), Error> {
    let read = |what: &'static str, path: &str| {
        std::fs::read(path).map_err(|error| SimError::Read {
            what,
            path: path.to_string(),
            error,
        })
    };
    let kernel_bytes = read("kernel", kernel_path)?;
    let kernel = xl_builder::parse_kernel(&kernel_bytes).map_err(|source| SimError::Kernel {
        path: kernel_path.to_string(),
        source,
    })?;
    let ramdisk_file = match &spec.ramdisk {
        Some(p) => read("ramdisk", p)?,
        None => Vec::new(),
    };
    let ramdisk =
        xl_builder::load_ramdisk(&ramdisk_file, SIM_XEN_VERSION).map_err(SimError::Ramdisk)?;
    let request = xl_builder::PvRequest {
        nr_pages: (spec.target_memkb / 1024) * 256,
        ramdisk_len: ramdisk.len() as u64,
        cmdline: spec.cmdline.clone().unwrap_or_default(),
        store_evtchn: 1,
        console_evtchn: 2,
        xenstore_domid: 0,
        console_domid: 0,
        domid: u16::try_from(domid).map_err(|_| Error::NoSuchDomain(domid))?,
        xen_version: SIM_XEN_VERSION,
    };
    let plan = xl_builder::plan_pv(&kernel, &request).map_err(SimError::Build)?;
    let mut memory = xl_builder::MemTarget::new();
    xl_builder::apply_pv(&plan, &kernel, &ramdisk, &mut memory).map_err(SimError::Build)?;
    Ok(())
}

impl Hypervisor for SimHypervisor {
    fn domains(&self) -> Result<Vec<DomInfo>, Error> {
        self.call(&Request::Domains)
    }

    fn physinfo(&self) -> Result<PhysInfo, Error> {
        self.call(&Request::Physinfo)
    }

    fn pause(&self, domid: u32) -> Result<(), Error> {
        self.call(&Request::Pause(domid))
    }

    fn unpause(&self, domid: u32) -> Result<(), Error> {
        self.call(&Request::Unpause(domid))
    }

    fn destroy(&self, domid: u32, _patience: Duration) -> Result<(), Error> {
        self.call(&Request::Destroy(domid))
    }

    fn dmesg(&self, clear: bool) -> Result<Vec<u8>, Error> {
        self.call::<String>(&Request::Dmesg { clear })
            .map(String::into_bytes)
    }

    fn version_info(&self) -> Result<VersionInfo, Error> {
        self.call(&Request::VersionInfo)
    }

    fn scheduler(&self) -> Result<String, Error> {
        Ok("credit2".into())
    }

    fn free_cpus(&self) -> Result<u32, Error> {
        let map: Vec<u8> = self.call(&Request::FreeCpus)?;
        Ok(map.iter().map(|b| b.count_ones()).sum())
    }

    fn has_pv_callback(&self, domid: u32) -> Result<bool, Error> {
        self.call(&Request::HasPvCallback(domid))
    }

    fn vcpus(&self, domid: u32) -> Result<Vec<VcpuInfo>, Error> {
        self.call(&Request::Vcpus(domid))
    }

    fn set_max_mem(&self, domid: u32, kb: u64) -> Result<(), Error> {
        self.call(&Request::SetMaxMem { domid, kb })
    }

    fn set_pod_target(&self, domid: u32, pages: u64) -> Result<(), Error> {
        self.call(&Request::SetPodTarget { domid, pages })
    }

    fn send_trigger(&self, domid: u32, trigger: Trigger, vcpu: u32) -> Result<(), Error> {
        self.call(&Request::SendTrigger {
            domid,
            trigger,
            vcpu,
        })
    }

    fn create_domain(&self, spec: &CreateSpec) -> Result<u32, Error> {
        self.call(&Request::CreateDomain(spec.clone()))
    }

    /// libxc's image as far as it fits a simulated guest: the headers a
    /// real decoder walks, PV info, the TSC, and the guest itself in an
    /// optional record (libxc skips optional records it does not know).
    fn save_image(&self, domid: u32, out: &mut dyn std::io::Write) -> Result<(), Error> {
        let saved: proto::SavedGuest = self.call(&Request::SaveGuest(domid))?;
        let image = image_of(&saved).map_err(SimError::Encode)?;
        Ok(image.encode(out).map_err(io("writing the domain image"))?)
    }

    /// libxc's core file of the simulated guest: its memory is its state
    /// (serialised from the first page on, zeros after), its vCPUs zeroed
    /// contexts (the simulator has no machine state to put there).
    fn dump_core(&self, domid: u32, out: &mut dyn std::io::Write) -> Result<(), Error> {
        let g: proto::SavedGuest = self.call(&Request::CoreGuest(domid))?;
        let version = self.version_info()?;
        let head = core_head(&g, &version);
        let memory = serde_json::to_vec(&g.guest).map_err(SimError::Encode)?;
        xl_toolstack::core_dump::write_core(out, &head, |sink| {
            for (i, (pfn, gmfn)) in sim_frames(g.kind, head.nr_pages).enumerate() {
                let mut page = [0u8; xl_toolstack::core_dump::PAGE_SIZE];
                let from = (i * page.len()).min(memory.len());
                let part = &memory[from..(from + page.len()).min(memory.len())];
                page[..part.len()].copy_from_slice(part);
                sink.page(pfn, gmfn, &page)?;
            }
            Ok(())
        })
    }

    fn restore_image(
        &self,
        domid: u32,
        spec: &BuildSpec,
        input: &mut dyn std::io::Read,
    ) -> Result<Built, Error> {
        let image = xl_savefile::LibxcImage::decode(input).map_err(Error::Stream)?;
        let saved = guest_of(&image, spec.kind)?;
        self.call(&Request::RestoreGuest {
            domid,
            spec: spec.clone(),
            saved: Box::new(saved),
        })
    }

    fn resume(&self, domid: u32) -> Result<(), Error> {
        self.call(&Request::Resume(domid))
    }

    /// The files a real builder would load are checked here, in the
    /// caller's working directory, as libxl would open them.
    fn build(&self, domid: u32, spec: &BuildSpec) -> Result<Built, Error> {
        if spec.kind != GuestKind::Hvm {
            let kernel = spec.kernel.as_deref().ok_or(SimError::NoKernel)?;
            check_file("kernel", kernel)?;
            if spec.kind == GuestKind::Pv {
                build_pv_in_memory(domid, spec, kernel)?;
            }
        }
        if let Some(r) = &spec.ramdisk {
            check_file("ramdisk", r)?;
        }
        self.call(&Request::Build {
            domid,
            spec: spec.clone(),
        })
    }

    // One NUMA node holding every CPU and all memory.
    fn node_affinity(&self, domid: u32) -> Result<Vec<u8>, Error> {
        self.domain(domid)?.ok_or(Error::NoSuchDomain(domid))?;
        Ok(vec![0x01])
    }

    fn cpu_topology(&self) -> Result<Vec<CpuTopology>, Error> {
        let p = self.physinfo()?;
        Ok((0..p.nr_cpus)
            .map(|i| CpuTopology {
                core: Some(i),
                socket: Some(0),
                node: Some(0),
            })
            .collect())
    }

    fn numa_nodes(&self) -> Result<Vec<NumaNode>, Error> {
        let p = self.physinfo()?;
        Ok(vec![NumaNode {
            size: Some(p.total_pages * 4096),
            free: Some(p.free_pages * 4096),
            dists: vec![Some(10)],
        }])
    }

    fn pci_nodes(&self, devs: &[PciAddr]) -> Result<Vec<Option<u32>>, Error> {
        // The simulated host has no PCI devices to pass through.
        Ok(vec![None; devs.len()])
    }

    fn set_vcpu_affinity(
        &self,
        domid: u32,
        vcpu: u32,
        hard: Option<&[u8]>,
        soft: Option<&[u8]>,
        _force: bool,
    ) -> Result<(), Error> {
        self.call(&Request::SetVcpuAffinity {
            domid,
            vcpu,
            hard: hard.map(<[u8]>::to_vec),
            soft: soft.map(<[u8]>::to_vec),
        })
    }

    fn cpupools(&self) -> Result<Vec<CpupoolInfo>, Error> {
        self.call(&Request::Cpupools)
    }

    fn free_cpu_map(&self) -> Result<Vec<u8>, Error> {
        self.call(&Request::FreeCpus)
    }

    fn cpupool_create(&self, sched: &str) -> Result<u32, Error> {
        if !matches!(sched, "credit" | "credit2" | "rtds" | "null" | "arinc653") {
            return Err(os(Errno::NOENT));
        }
        self.call(&Request::CpupoolCreate(sched.to_string()))
    }

    fn cpupool_destroy(&self, poolid: u32) -> Result<(), Error> {
        self.call(&Request::CpupoolDestroy(poolid))
    }

    fn cpupool_add_cpu(&self, poolid: u32, cpu: u32) -> Result<(), Error> {
        self.call(&Request::CpupoolAddCpu { poolid, cpu })
    }

    fn cpupool_remove_cpu(&self, poolid: u32, cpu: u32) -> Result<(), Error> {
        self.call(&Request::CpupoolRemoveCpu { poolid, cpu })
    }

    fn cpupool_move_domain(&self, poolid: u32, domid: u32) -> Result<(), Error> {
        self.call(&Request::CpupoolMoveDomain { poolid, domid })
    }

    fn hypfs_open(&self) -> Result<(), Error> {
        Ok(())
    }

    fn hypfs_entry(&self, path: &str) -> Result<xl_toolstack::params::HypfsEntry, Error> {
        self.call(&Request::HypfsEntry(path.to_string()))
    }

    fn hypfs_write(&self, path: &str, data: &[u8]) -> Result<(), Error> {
        self.call(&Request::HypfsWrite {
            path: path.to_string(),
            data: data.to_vec(),
        })
    }

    /// The simulated host has no PSR hardware: Xen answers ENODEV.
    fn psr_cmt_sysctl(&self, _cmd: u32, _cpu: u32) -> Result<u64, Error> {
        Err(os(Errno::NODEV))
    }

    fn psr_cmt_domain(&self, domid: u32, _cmd: u32) -> Result<u32, Error> {
        self.domain(domid)?.ok_or(os(Errno::SRCH))?;
        Err(os(Errno::NODEV))
    }

    fn psr_alloc_info(
        &self,
        _feature: xl_toolstack::psr::AllocFeature,
        _socket: u32,
    ) -> Result<xl_toolstack::psr::AllocInfo, Error> {
        Err(os(Errno::NODEV))
    }

    fn psr_alloc_domain(
        &self,
        domid: u32,
        _cmd: u32,
        _socket: u32,
        _data: u64,
    ) -> Result<u64, Error> {
        self.domain(domid)?.ok_or(os(Errno::SRCH))?;
        Err(os(Errno::NODEV))
    }

    /// The simulated hypervisor has no XSM module: FLASK answers ENOSYS.
    fn flask_getenforce(&self) -> Result<Option<bool>, Error> {
        Ok(None)
    }

    fn flask_setenforce(&self, _enforcing: bool) -> Result<Option<()>, Error> {
        Ok(None)
    }

    fn flask_load_policy(&self, _policy: &[u8]) -> Result<Option<()>, Error> {
        Ok(None)
    }

    fn assign_device(&self, domid: u32, sbdf: u32, _relaxed: bool) -> Result<(), Error> {
        self.call(&Request::AssignDevice {
            domid,
            sbdf,
            test: false,
        })
    }

    fn test_assign_device(&self, domid: u32, sbdf: u32) -> Result<(), Error> {
        self.call(&Request::AssignDevice {
            domid,
            sbdf,
            test: true,
        })
    }

    fn deassign_device(&self, domid: u32, sbdf: u32) -> Result<(), Error> {
        self.call(&Request::DeassignDevice { domid, sbdf })
    }

    /// Interrupts are not simulated: a domain that exists gets the pirq
    /// it asks for.
    fn map_pirq(&self, domid: u32, irq: u32) -> Result<u32, Error> {
        self.io_permission(domid, IoRange::Irq(irq), true)
            .map(|()| irq)
    }

    fn unmap_pirq(&self, domid: u32, pirq: u32) -> Result<(), Error> {
        self.io_permission(domid, IoRange::Irq(pirq), false)
    }

    /// The simulated hardware has nothing to protect: any range is
    /// granted to a domain that exists.
    fn io_permission(&self, domid: u32, _range: IoRange, _allow: bool) -> Result<(), Error> {
        match self.domain(domid)? {
            Some(_) => Ok(()),
            None => Err(os(Errno::SRCH)),
        }
    }

    fn send_debug_keys(&self, keys: &[u8]) -> Result<(), Error> {
        self.call(&Request::DebugKeys(keys.to_vec()))
    }

    /// Xen answers EINVAL when asked about a scheduler the domain's pool
    /// does not run.
    fn domain_sched(&self, domid: u32, sched: &str) -> Result<SchedParams, Error> {
        check_sched(sched)?;
        self.call(&Request::DomainSched(domid))
    }

    fn set_domain_sched(&self, domid: u32, sched: &str, params: SchedParams) -> Result<(), Error> {
        check_sched(sched)?;
        self.call(&Request::SetDomainSched { domid, params })
    }

    fn rtds_domain(&self, domid: u32) -> Result<(u32, u32), Error> {
        self.call(&Request::RtdsDomain(domid))
    }

    fn rtds_vcpus(&self, domid: u32, ids: &[u32]) -> Result<Vec<RtdsVcpu>, Error> {
        self.call(&Request::RtdsVcpus {
            domid,
            ids: ids.to_vec(),
        })
    }

    fn set_rtds_vcpus(&self, domid: u32, vcpus: &[RtdsVcpu]) -> Result<(), Error> {
        self.call(&Request::SetRtdsVcpus {
            domid,
            vcpus: vcpus.to_vec(),
        })
    }

    fn pool_sched(&self, poolid: u32, sched: &str) -> Result<[u32; 3], Error> {
        check_sched(sched)?;
        if poolid != 0 {
            return Err(os(Errno::NOENT));
        }
        self.call(&Request::PoolSched)
    }

    fn set_pool_sched(&self, poolid: u32, sched: &str, p: [u32; 3]) -> Result<(), Error> {
        check_sched(sched)?;
        if poolid != 0 {
            return Err(os(Errno::NOENT));
        }
        self.call(&Request::SetPoolSched(p))
    }
}

impl Dom0 for SimDom0 {
    /// The simulated kernel's answer to a PCI sysfs attribute.
    fn sysfs_write(&self, path: &Path, value: &str) -> Result<(), SysfsWriteError> {
        pci::write(&self.client.dir.join("sys"), path, value)
    }

    /// The checks Xen's `block` and `vif-bridge` scripts make, with their
    /// messages, reported the way the scripts report.
    fn hotplug(&self, xs: &Xs, dev: &HotplugDevice, add: bool) -> Result<(), Error> {
        let be = &dev.backend_path;
        if !add {
            let _ = xs.rm(&format!("{be}/hotplug-status"));
            return Ok(());
        }
        let failure = match dev.kind.as_str() {
            "vbd" => {
                let params = xs.try_read(&format!("{be}/params"))?.unwrap_or_default();
                if params.is_empty() || std::fs::metadata(&params).is_err() {
                    Some(format!("{params} does not exist."))
                } else {
                    None
                }
            }
            // Only vif-bridge needs a bridge (vif-route and vif-nat do not).
            "vif" if Path::new(&dev.script).file_name() == Some("vif-bridge".as_ref()) => {
                let bridge = xs.try_read(&format!("{be}/bridge"))?.unwrap_or_default();
                if Path::new("/sys/class/net")
                    .join(&bridge)
                    .join("bridge")
                    .is_dir()
                {
                    None
                } else {
                    Some(format!("Could not find bridge device {bridge}"))
                }
            }
            _ => None,
        };
        match failure {
            None => {
                xs.write(&format!("{be}/hotplug-status"), "connected")?;
                Ok(())
            }
            Some(msg) => {
                xs.write(&format!("{be}/hotplug-error"), &msg)?;
                xs.write(&format!("{be}/hotplug-status"), "error")?;
                Err(SimError::Hotplug {
                    script: dev.script.clone(),
                    action: if dev.kind == "vif" { "online" } else { "add" },
                    why: msg,
                }
                .into())
            }
        }
    }

    fn spawn_device_model(&self, xs: &Xs, spec: &DmSpec) -> Result<u32, Error> {
        for d in &spec.disks {
            if std::fs::metadata(d).is_err() {
                return Err(SimError::NoDisk(d.clone()).into());
            }
        }
        let pid: u32 = self.client.call(&Request::SpawnDeviceModel(spec.clone()))?;
        // Recorded where destroy looks for it, as the Xen dom0 does once QEMU runs.
        xs.write(
            &format!("/local/domain/{}/image/device-model-pid", spec.domid),
            &pid.to_string(),
        )?;
        Ok(pid)
    }

    fn resume_device_model(&self, domid: u32, _uuid: &[u8; 16]) -> Result<(), Error> {
        self.client.call(&Request::ResumeDeviceModel(domid))
    }

    /// QEMU's answer to `system_wakeup` for a guest that is not asleep.
    fn wakeup_device_model(&self, domid: u32, _uuid: &[u8; 16]) -> Result<(), Error> {
        let woken: bool = self.client.call(&Request::WakeupDeviceModel(domid))?;
        if woken {
            return Ok(());
        }
        Err(Error::Qmp(xl_toolstack::qmp::QmpError::Command {
            cmd: "system_wakeup".into(),
            class: "GenericError".into(),
            desc: "Unable to wake up: guest is not in suspended state".into(),
        }))
    }

    /// The simulated QEMU keeps no device state worth saving.
    fn save_device_model(&self, _domid: u32, _uuid: &[u8; 16]) -> Result<Option<Vec<u8>>, Error> {
        Ok(None)
    }

    /// The simulated QEMU emulates no drives: a media change is the
    /// toolstack's nodes and stored config alone.
    fn eject_cdrom(&self, _domid: u32, _uuid: &[u8; 16], _devid: u32) -> Result<(), Error> {
        Ok(())
    }

    fn insert_cdrom(
        &self,
        _domid: u32,
        _uuid: &[u8; 16],
        _devid: u32,
        _path: &str,
        _format: &str,
    ) -> Result<(), Error> {
        Ok(())
    }

    fn kill_device_model(&self, _xs: &Xs, domid: u32) -> Result<(), Error> {
        self.client.call(&Request::KillDeviceModel(domid))
    }

    fn device_model_cpus(&self, domid: u32, _uuid: &[u8; 16]) -> Result<Vec<u32>, Error> {
        self.client.call(&Request::DeviceModelCpus(domid))
    }

    fn plug_device_model_cpus(
        &self,
        domid: u32,
        _uuid: &[u8; 16],
        count: u32,
    ) -> Result<(), Error> {
        self.client
            .call(&Request::PlugDeviceModelCpus(domid, count))
    }

    fn qmp_command(
        &self,
        domid: u32,
        _uuid: &[u8; 16],
        cmd: &str,
        args: serde_json::Value,
    ) -> Result<serde_json::Value, Error> {
        self.client.call(&Request::Qmp {
            domid,
            cmd: cmd.to_string(),
            args: args.to_string(),
        })
    }

    fn io_stats(&self, _xs: &Xs, domids: &[u32]) -> Result<xl_toolstack::stats::IoStats, Error> {
        self.client.call(&Request::IoStats(domids.to_vec()))
    }
}

/// The optional libxc record holding a simulated guest ("SIM").
const SIM_GUEST_RECORD: u32 = xl_savefile::REC_TYPE_OPTIONAL | 0x0053_494d;
/// What the simulated host's CPUs run at (physinfo's cpu_khz).
const SIM_CPU_KHZ: u32 = 2_400_000;

/// Machine frames of the simulated PV guests start here (the simulator
/// has none; the p2m needs numbers that are not the pfns).
const SIM_MFN_BASE: u64 = 0x10_0000;

/// What the core file of a simulated guest says besides its pages: as on
/// Xen, translated guests (PVH, HVM) have no shared info page in it and
/// name pages by pfn, PV guests have one and name them by frame.
fn core_head(g: &proto::SavedGuest, v: &VersionInfo) -> xl_toolstack::core_dump::CoreHead {
    use xl_toolstack::core_dump::{CoreHead, PAGE_SIZE, PageNaming, VCPU_CONTEXT_SIZE};
    let pv = g.kind == GuestKind::Pv;
    let text = |s: &str| s.as_bytes().to_vec();
    let mut compile_info = Vec::with_capacity(144);
    for (s, len) in [
        (&v.compiler, 64),
        (&v.compile_by, 16),
        (&v.compile_domain, 32),
        (&v.compile_date, 32),
    ] {
        let start = compile_info.len();
        compile_info.extend(s.bytes().take(len - 1));
        compile_info.resize(start + len, 0);
    }
    CoreHead {
        machine: xl_toolstack::core_dump::EM_X86_64,
        hvm: !pv,
        naming: if pv { PageNaming::P2m } else { PageNaming::Pfn },
        vcpus: vec![vec![0; VCPU_CONTEXT_SIZE]; g.online_vcpus.max(1) as usize],
        shared_info: pv.then(|| vec![0; PAGE_SIZE]),
        xen_version: xl_toolstack::core_dump::XenVersionNote {
            major: u64::from(v.major),
            minor: u64::from(v.minor),
            extraversion: text(&v.extra),
            compile_info,
            capabilities: text(&v.capabilities),
            changeset: text(&v.changeset),
            platform_parameters: v.virt_start.to_le_bytes().to_vec(),
            pagesize: u64::from(v.pagesize),
        },
        nr_pages: g.memkb / 4,
    }
}

/// The (pfn, frame) of each page of a simulated guest of `pages` pages:
/// translated guests' RAM around the VGA hole, PV guests' pfns from 0.
fn sim_frames(kind: GuestKind, pages: u64) -> impl Iterator<Item = (u64, u64)> {
    let pv = kind == GuestKind::Pv;
    (0..)
        .filter(move |pfn| pv || !(0xa0..0xc0).contains(pfn))
        .take(pages as usize)
        .map(move |pfn| (pfn, if pv { SIM_MFN_BASE + pfn } else { pfn }))
}

fn image_of(saved: &proto::SavedGuest) -> Result<xl_savefile::LibxcImage, serde_json::Error> {
    use xl_savefile::{DomainHeader, LibxcRecord};
    let pv = saved.kind == GuestKind::Pv;
    let mut records = Vec::new();
    if pv {
        // 64-bit guest, 4-level page tables.
        records.push(LibxcRecord::X86PvInfo {
            guest_width: 8,
            pt_levels: 4,
        });
    }
    records.push(LibxcRecord::StaticDataEnd);
    records.push(LibxcRecord::X86TscInfo {
        mode: 0,
        khz: SIM_CPU_KHZ,
        nsec: saved.guest.clock_ms.saturating_mul(1_000_000),
        incarnation: 0,
    });
    records.push(LibxcRecord::Other {
        rtype: SIM_GUEST_RECORD,
        body: serde_json::to_vec(saved)?,
    });
    Ok(xl_savefile::LibxcImage {
        domain: DomainHeader {
            domain_type: if pv {
                xl_savefile::DHDR_TYPE_X86_PV
            } else {
                xl_savefile::DHDR_TYPE_X86_HVM
            },
            xen_major: SIM_XEN_VERSION.0,
            xen_minor: SIM_XEN_VERSION.1,
        },
        records,
    })
}

/// The simulated guest an image holds, checked against the kind of
/// domain it is to become.
fn guest_of(image: &xl_savefile::LibxcImage, kind: GuestKind) -> Result<proto::SavedGuest, Error> {
    let body = image
        .optional(SIM_GUEST_RECORD)
        .ok_or(SimError::NoSimGuest)?;
    let saved: proto::SavedGuest = serde_json::from_slice(body).map_err(SimError::Damaged)?;
    let image_pv = image.domain.domain_type == xl_savefile::DHDR_TYPE_X86_PV;
    if saved.kind != kind || image_pv != (kind == GuestKind::Pv) {
        return Err(SimError::KindMismatch {
            saved: saved.kind.type_name(),
            wanted: kind.type_name(),
        }
        .into());
    }
    Ok(saved)
}

fn check_sched(sched: &str) -> Result<(), Error> {
    if sched == host::SCHEDULER {
        Ok(())
    } else {
        Err(os(Errno::INVAL))
    }
}
