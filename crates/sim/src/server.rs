//! The simulated host process: xenstored (our in-process daemon speaking
//! the real wire protocol), the hypervisor (answering `hypervisor.sock`),
//! and what runs in a real dom0 and guests: xenconsoled's ptys, backend
//! drivers moving through xenbus states, QEMU's serial pty, and the guests.

use std::collections::HashMap;
use std::fs::{self, File};
use std::io::{self, BufRead, BufReader, Write};
use std::os::fd::OwnedFd;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread;
use std::time::{Duration, Instant};

use rustix::event::{PollFd, PollFlags, poll};
use rustix::io::Errno;
use xenstore::{Daemon, Xs, XsOps};
use xl_config::json::{Json, Obj};
use xl_toolstack::stats::{IoStats, NetStat, VbdStat};
use xl_toolstack::{BuildSpec, DmSpec, GuestKind, Trigger};

use crate::guest::{Exit, Guest, GuestIo};
use crate::host::{
    Host, HostSpec, SHUTDOWN_CRASH, SHUTDOWN_POWEROFF, SHUTDOWN_REBOOT, SHUTDOWN_SUSPEND,
};
use crate::proto::{Refusal, Request, SavedGuest, reply_line};
use crate::pty::Pty;
use crate::{HYPERVISOR_SOCK, XENSTORED_SOCK};

/// More ptys than this and consoles stop being allocated (the kernel's
/// default limit is 4096 for the whole machine).
const MAX_PTYS: usize = 512;
const TICK: Duration = Duration::from_millis(25);
/// A host with no guests and no clients exits after this long.
const IDLE_EXIT: Duration = Duration::from_secs(30 * 60);

struct Running {
    guest: Guest,
    console: Option<Pty>,
    serial: Option<Pty>,
    dm: bool,
    /// The USB controllers and devices plugged into the device model over
    /// QMP: (id, the controller a device is on).
    usb: Vec<(String, Option<String>)>,
    /// Output from before the console pty existed (xenconsoled reads the
    /// ring once it connects, so nothing early is lost).
    backlog: Vec<u8>,
    /// Restored from a save: its frontends reconnect when it first runs.
    resumed: bool,
}

/// How much early console output is kept (a console ring's worth).
const BACKLOG_MAX: usize = 64 * 1024;

impl Running {
    /// A guest just loaded (booted or restored), before any console connects.
    fn loaded(guest: Guest, resumed: bool) -> Running {
        Running {
            guest,
            console: None,
            serial: None,
            dm: false,
            usb: Vec::new(),
            backlog: Vec::new(),
            resumed,
        }
    }

    fn emit(&mut self, data: &[u8]) {
        match self.out() {
            Some(p) => p.write(data),
            None => {
                let room = BACKLOG_MAX.saturating_sub(self.backlog.len());
                self.backlog
                    .extend_from_slice(&data[..data.len().min(room)]);
            }
        }
    }

    fn flush_backlog(&mut self) {
        let early = std::mem::take(&mut self.backlog);
        match self.out() {
            Some(p) => p.write(&early),
            None => self.backlog = early,
        }
    }

    /// Where the guest's kernel console goes: the emulated serial port of
    /// an HVM guest that has one, else the PV console.
    fn out(&self) -> Option<&Pty> {
        self.serial.as_ref().or(self.console.as_ref())
    }
}

struct World {
    host: Host,
    guests: HashMap<u32, Running>,
    ptys: usize,
    last_activity: Instant,
    quit: bool,
}

struct Sim {
    world: Mutex<World>,
    xsd: Daemon,
    xs: Xs,
    log: Mutex<File>,
}

impl Sim {
    fn lock(&self) -> MutexGuard<'_, World> {
        self.world.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn log(&self, msg: &str) {
        let mut f = self.log.lock().unwrap_or_else(|e| e.into_inner());
        let _ = writeln!(f, "{msg}");
    }
}

/// Runs a simulated host in `dir` until told to quit, the directory goes
/// away, or it has been idle for a long time. Returns at once if another
/// host already serves `dir`.
pub fn serve(dir: &Path) -> io::Result<()> {
    crate::statedir::prepare(dir).map_err(io::Error::other)?;
    let lock = crate::statedir::open(&dir.join("host.lock"), false)?;
    if lock.try_lock().is_err() {
        return Ok(());
    }
    let log = crate::statedir::open(&dir.join("host.log"), true)?;
    let xsd = Daemon::new();
    let _server = xsd.serve(dir.join(XENSTORED_SOCK))?;
    let xs = Xs::new(xsd.connect_as(0)?)?;
    init_dom0(&xs).map_err(io::Error::other)?;
    forget_previous_boot(dir);
    store_dom0_config(dir)?;
    crate::pci::populate(&dir.join("sys"))?;
    let spec = host_spec();
    let sim = Arc::new(Sim {
        world: Mutex::new(World {
            host: Host::new(spec),
            guests: HashMap::new(),
            ptys: 0,
            last_activity: Instant::now(),
            quit: false,
        }),
        xsd,
        xs,
        log: Mutex::new(log),
    });
    sim.log(&format!("xl simulator host up in {}", dir.display()));

    let hv_path = dir.join(HYPERVISOR_SOCK);
    let _ = fs::remove_file(&hv_path);
    let listener = UnixListener::bind(&hv_path)?;
    {
        let sim = Arc::clone(&sim);
        thread::Builder::new()
            .name("sim-hypercalls".into())
            .spawn(move || accept(&sim, &listener))?;
    }
    {
        let sim = Arc::clone(&sim);
        let watcher = Xs::new(sim.xsd.connect_as(0)?)?;
        thread::Builder::new()
            .name("sim-watch".into())
            .spawn(move || watch_loop(&sim, &watcher))?;
    }
    {
        let sim = Arc::clone(&sim);
        thread::Builder::new()
            .name("sim-input".into())
            .spawn(move || input_loop(&sim))?;
    }
    tick_loop(&sim, &hv_path);
    let _ = fs::remove_file(&hv_path);
    sim.log("xl simulator host down");
    Ok(())
}

fn host_spec() -> HostSpec {
    let mut s = HostSpec::default();
    let num = |k: &str| std::env::var(k).ok().and_then(|v| v.parse::<u64>().ok());
    if let Some(c) = num("XL_SIM_CPUS") {
        s.cpus = c.clamp(1, 256) as u32;
    }
    if let Some(m) = num("XL_SIM_MEMORY_MB") {
        s.memory_mb = m.max(s.dom0_mb + 64);
    }
    s
}

/// What dom0's kernel and QEMU would report for the guests' devices: one
/// vif interface per connected network backend (and QEMU's `-emu` tap for
/// an HVM guest), one block backend per disk. The guest's traffic is
/// credited to its first disk and first interface.
fn io_stats(xs: &Xs, guests: &[(u32, GuestIo, bool)]) -> IoStats {
    let mut out = IoStats::default();
    // Which domains have backends of a kind: one read per kind, not per
    // domain (10 000 domains are listed in one go).
    let with = |kind: &str| -> std::collections::HashSet<u32> {
        xs.directory(&format!("/local/domain/0/backend/{kind}"))
            .unwrap_or_default()
            .iter()
            .filter_map(|d| d.parse().ok())
            .collect()
    };
    let (vifs, qdisks, vbds) = (with("vif"), with("qdisk"), with("vbd"));
    let devids = |kind: &str, domid: u32| -> Vec<u32> {
        let present = match kind {
            "vif" => &vifs,
            "qdisk" => &qdisks,
            _ => &vbds,
        };
        if !present.contains(&domid) {
            return Vec::new();
        }
        let mut v: Vec<u32> = xs
            .directory(&format!("/local/domain/0/backend/{kind}/{domid}"))
            .unwrap_or_default()
            .iter()
            .filter_map(|d| d.parse().ok())
            .collect();
        v.sort_unstable();
        v
    };
    for &(domid, io, hvm) in guests {
        for (i, devid) in devids("vif", domid).into_iter().enumerate() {
            let status = xs
                .try_read(&format!(
                    "/local/domain/0/backend/vif/{domid}/{devid}/hotplug-status"
                ))
                .ok()
                .flatten();
            if status.as_deref() != Some("connected") {
                continue;
            }
            let mut n = NetStat {
                id: devid,
                ..NetStat::default()
            };
            if i == 0 {
                // dom0 receives what the guest sends.
                (n.rbytes, n.rpackets) = (io.tx_bytes, io.tx_packets);
                (n.tbytes, n.tpackets) = (io.rx_bytes, io.rx_packets);
            }
            out.nets.push((domid, n));
            if hvm {
                out.nets.push((
                    domid,
                    NetStat {
                        id: devid,
                        ..NetStat::default()
                    },
                ));
            }
        }
        let mut first = true;
        for (kind, back_type) in [("qdisk", 0), ("vbd", 1)] {
            for devid in devids(kind, domid) {
                let mut v = VbdStat {
                    back_type,
                    dev: devid,
                    ..VbdStat::default()
                };
                if first {
                    (v.rd_reqs, v.rd_sects) = (io.rd_reqs, io.rd_sects);
                    (v.wr_reqs, v.wr_sects) = (io.wr_reqs, io.wr_sects);
                    first = false;
                }
                out.vbds.push((domid, v));
            }
        }
    }
    out
}

/// What xen-init-dom0 and xenconsoled write at boot.
fn init_dom0(xs: &Xs) -> Result<(), xenstore::Error> {
    xs.write("/local/domain/0/name", "Domain-0")?;
    xs.write("/local/domain/0/domid", "0")?;
    xs.write(
        "/local/domain/0/vm",
        "/vm/00000000-0000-0000-0000-000000000000",
    )?;
    xs.write("/vm/00000000-0000-0000-0000-000000000000/name", "Domain-0")?;
    xs.write("/tool/xenstored/domid", "0")?;
    xs.write("/tool/xenconsoled/domid", "0")?;
    xs.write("/local/pool/0/name", "Pool-0")?;
    Ok(())
}

/// A new host is a machine booting: the domains of a host that died (it
/// was killed, or crashed) died with it, so their stored configurations
/// go, and so does everything in the run and lock directories, tmpfs on
/// Xen hosts (records of creates in progress, domid history, QMP sockets,
/// console locks). Logs stay,
/// as /var/log/xen does. Only entries are removed, never followed.
fn forget_previous_boot(dir: &Path) {
    let paths = xl_toolstack::HostPaths::under(dir);
    let dom0 = xl_toolstack::userdata::path(&paths.lib, 0, &[0; 16], 'd', "libxl-json");
    let entries = |d: &Path| fs::read_dir(d).into_iter().flatten().flatten();
    for e in entries(&paths.lib) {
        if e.path() != dom0 && e.file_type().is_ok_and(|t| !t.is_dir()) {
            let _ = fs::remove_file(e.path());
        }
    }
    for e in entries(&paths.run).chain(entries(&paths.locks)) {
        // remove_dir_all does not follow symbolic links.
        let _ = match e.file_type() {
            Ok(t) if t.is_dir() => fs::remove_dir_all(e.path()),
            _ => fs::remove_file(e.path()),
        };
    }
}

/// What xen-init-dom0 stores as dom0's libxl configuration: a PV domain
/// with every other field at its default (libxl prints only the always
/// present sub-structures).
fn store_dom0_config(dir: &Path) -> io::Result<()> {
    let lib = xl_toolstack::HostPaths::under(dir).lib;
    let nil = [0u8; 16];
    if xl_toolstack::userdata::path(&lib, 0, &nil, 'd', "libxl-json").exists() {
        return Ok(());
    }
    let empty = || Obj::new().build();
    let config = Obj::new()
        .field("c_info", Obj::new().field("type", Json::str("pv")).build())
        .field(
            "b_info",
            Obj::new()
                .field("sched_params", empty())
                .field("type.pv", empty())
                .field("arch_arm", empty())
                .field("arch_x86", empty())
                .build(),
        )
        .build();
    xl_toolstack::userdata::store_config(&lib, 0, &nil, &config.to_yajl())
}

fn accept(sim: &Arc<Sim>, listener: &UnixListener) {
    for stream in listener.incoming().flatten() {
        let sim = Arc::clone(sim);
        let _ = thread::Builder::new()
            .name("sim-client".into())
            .spawn(move || client(&sim, stream));
    }
}

fn client(sim: &Sim, stream: UnixStream) {
    let Ok(mut out) = stream.try_clone() else {
        return;
    };
    let reader = BufReader::new(stream);
    for line in reader.lines() {
        let Ok(line) = line else { break };
        let reply = match serde_json::from_str::<Request>(&line) {
            Ok(req) => handle(sim, req),
            Err(e) => Err(format!("bad request: {e}").into()),
        };
        if out.write_all(reply_line(&reply).as_bytes()).is_err() {
            break;
        }
    }
}

/// Ring pages and ports as a builder would pick them.
fn rings(domid: u32) -> xl_toolstack::Built {
    xl_toolstack::Built {
        store_port: 1,
        store_mfn: 0xfeffc + u64::from(domid),
        console_port: 2,
        console_mfn: 0xfeffb + u64::from(domid),
    }
}

fn host_err(e: crate::host::HostError) -> Refusal {
    match e {
        crate::host::HostError::Refused(errno) => Refusal::Errno(errno),
        e => Refusal::Message(e.to_string()),
    }
}

fn ok<T: serde::Serialize>(v: T) -> Result<String, Refusal> {
    serde_json::to_string(&v).map_err(|e| Refusal::Message(e.to_string()))
}

fn handle(sim: &Sim, req: Request) -> Result<String, Refusal> {
    let mut w = sim.lock();
    w.last_activity = Instant::now();
    match req {
        Request::Domains => ok(w.host.list()),
        Request::Physinfo => ok(w.host.physinfo()),
        Request::VersionInfo => ok(w.host.version_info()),
        Request::Dmesg { clear } => {
            let text = String::from_utf8_lossy(&w.host.dmesg).into_owned();
            if clear {
                w.host.dmesg.clear();
            }
            ok(text)
        }
        Request::Pause(domid) => {
            let d = w.host.get_mut(domid).map_err(host_err)?;
            if domid != 0 {
                d.paused = true;
                d.set_rate(Instant::now(), 0.0);
            }
            ok(())
        }
        Request::Unpause(domid) => {
            let busy = w.guests.get(&domid).is_some_and(|g| g.guest.busy());
            let d = w.host.get_mut(domid).map_err(host_err)?;
            if domid != 0 && d.built && d.shutdown.is_none() {
                d.paused = false;
                d.started = true;
                d.set_rate(Instant::now(), if busy { 1.0 } else { 0.005 });
            }
            ok(())
        }
        Request::Destroy(domid) => destroy(sim, w, domid),
        Request::Vcpus(domid) => ok(w.host.vcpus(domid).map_err(host_err)?),
        Request::SetMaxMem { domid, kb } => {
            w.host.get_mut(domid).map_err(host_err)?.max_memkb = kb;
            ok(())
        }
        Request::SetPodTarget { domid, pages } => {
            w.host.get_mut(domid).map_err(host_err)?.pod_target_pages = Some(pages);
            ok(())
        }
        Request::HasPvCallback(domid) => ok(w.host.get(domid).map_err(host_err)?.pv_callback),
        Request::SendTrigger { domid, trigger, .. } => send_trigger(sim, w, domid, trigger),
        Request::SetVcpuAffinity {
            domid,
            vcpu,
            hard,
            soft,
        } => {
            let d = w.host.get_mut(domid).map_err(host_err)?;
            let slot = d.affinity.get_mut(vcpu as usize).ok_or(Errno::INVAL)?;
            if hard.is_some() {
                slot.0 = hard;
            }
            if soft.is_some() {
                slot.1 = soft;
            }
            ok(())
        }
        Request::Cpupools => ok(w.host.cpupools()),
        Request::FreeCpus => ok(w.host.pools.free()),
        Request::CpupoolCreate(sched) => ok(w.host.pools.create(&sched)?),
        Request::CpupoolDestroy(poolid) => ok(w.host.cpupool_destroy(poolid)?),
        Request::CpupoolAddCpu { poolid, cpu } => ok(w.host.pools.add_cpu(poolid, cpu)?),
        Request::CpupoolRemoveCpu { poolid, cpu } => ok(w.host.cpupool_remove_cpu(poolid, cpu)?),
        Request::CpupoolMoveDomain { poolid, domid } => {
            ok(w.host.cpupool_move_domain(poolid, domid)?)
        }
        Request::AssignDevice { domid, sbdf, test } => {
            ok(w.host.assign_device(domid, sbdf, test).map_err(host_err)?)
        }
        Request::DeassignDevice { domid, sbdf } => {
            ok(w.host.deassign_device(domid, sbdf).map_err(host_err)?)
        }
        Request::DebugKeys(keys) => {
            w.host.debug_keys(&keys);
            ok(())
        }
        Request::HypfsEntry(path) => ok(w.host.params.entry(&path).map_err(Refusal::Errno)?),
        Request::HypfsWrite { path, data } => {
            w.host.params.write(&path, &data).map_err(Refusal::Errno)?;
            ok(())
        }
        Request::DomainSched(domid) => ok(w.host.get(domid).map_err(host_err)?.sched),
        Request::SetDomainSched { domid, params } => {
            w.host.get_mut(domid).map_err(host_err)?.sched = params;
            ok(())
        }
        r @ (Request::RtdsDomain(_) | Request::RtdsVcpus { .. } | Request::SetRtdsVcpus { .. }) => {
            rtds(&mut w, r)
        }
        Request::PoolSched => ok(w.host.pool_params),
        Request::SetPoolSched(p) => {
            w.host.pool_params = p;
            ok(())
        }
        Request::CreateDomain(spec) => ok(w.host.create(&spec).map_err(host_err)?),
        Request::Build { domid, spec } => build(&mut w, domid, &spec),
        Request::SaveGuest(domid) => save_guest(&w, domid),
        Request::CoreGuest(domid) => core_guest(&w, domid),
        Request::RestoreGuest { domid, spec, saved } => restore_guest(&mut w, domid, &spec, *saved),
        Request::Resume(domid) => resume(&mut w, domid),
        Request::SpawnDeviceModel(spec) => spawn_device_model(sim, w, &spec),
        Request::ResumeDeviceModel(domid) => {
            let has_dm = w.guests.get(&domid).is_some_and(|r| r.dm);
            if has_dm {
                ok(())
            } else {
                Err(format!("domain {domid} has no device model").into())
            }
        }
        Request::WakeupDeviceModel(domid) => wakeup(&w, domid),
        Request::DeviceModelCpus(domid) => {
            if !w.guests.get(&domid).is_some_and(|r| r.dm) {
                return Err(format!("domain {domid} has no device model").into());
            }
            // QEMU is started with the vCPUs online at boot present.
            let vcpus = w.host.vcpus(domid).map_err(host_err)?;
            ok(vcpus
                .iter()
                .filter(|v| v.online)
                .map(|v| v.vcpuid)
                .collect::<Vec<u32>>())
        }
        Request::PlugDeviceModelCpus(domid, count) => {
            if !w.guests.get(&domid).is_some_and(|r| r.dm) {
                return Err(format!("domain {domid} has no device model").into());
            }
            // QEMU cannot unplug: only more vCPUs change anything.
            let d = w.host.get_mut(domid).map_err(host_err)?;
            d.online_vcpus = d.online_vcpus.max(count.min(d.max_vcpus));
            ok(())
        }
        Request::KillDeviceModel(domid) => kill_device_model(sim, w, domid),
        Request::Qmp { domid, cmd, args } => qmp(&mut w, domid, &cmd, &args),
        Request::IoStats(domids) => {
            let io: Vec<(u32, GuestIo, bool)> = domids
                .iter()
                .filter_map(|d| {
                    let r = w.guests.get(d)?;
                    Some((*d, r.guest.io(), r.guest.kind == GuestKind::Hvm))
                })
                .collect();
            drop(w);
            ok(io_stats(&sim.xs, &io))
        }
        Request::Quit => {
            w.quit = true;
            ok(())
        }
    }
}

/// The domain goes, with its guest and ptys; xenstored is told.
fn destroy(sim: &Sim, mut w: MutexGuard<'_, World>, domid: u32) -> Result<String, Refusal> {
    w.host.destroy(domid).map_err(host_err)?;
    if let Some(r) = w.guests.remove(&domid) {
        w.ptys -= usize::from(r.console.is_some()) + usize::from(r.serial.is_some());
    }
    drop(w);
    // xenstored notices the domain is gone.
    if sim.xs.is_domain_introduced(domid).unwrap_or(false) {
        let _ = sim.xs.release_domain(domid);
    } else {
        sim.xsd.domain_exception();
    }
    sim.log(&format!("domain {domid} destroyed"));
    ok(())
}

/// RTDS parameters: a domain's defaults, its vCPUs' values, setting them.
fn rtds(w: &mut World, req: Request) -> Result<String, Refusal> {
    match req {
        Request::RtdsDomain(domid) => ok(w.host.rtds_defaults(domid)?),
        Request::RtdsVcpus { domid, ids } => ok(w.host.rtds_vcpus(domid, &ids)?),
        Request::SetRtdsVcpus { domid, vcpus } => ok(w.host.set_rtds_vcpus(domid, &vcpus)?),
        _ => Err("not an RTDS request".into()),
    }
}

/// QMP `system_wakeup`: simulated guests never enter S3 (the sleep
/// button is ignored), so there is nothing to wake.
fn wakeup(w: &World, domid: u32) -> Result<String, Refusal> {
    if w.guests.get(&domid).is_some_and(|r| r.dm) {
        ok(false)
    } else {
        Err(format!("domain {domid} has no device model").into())
    }
}

fn send_trigger(
    sim: &Sim,
    mut w: MutexGuard<'_, World>,
    domid: u32,
    trigger: Trigger,
) -> Result<String, Refusal> {
    let hvm = w.host.get(domid).map_err(host_err)?.kind != GuestKind::Pv;
    if !hvm {
        return Err("Function not implemented".into());
    }
    match trigger {
        Trigger::Power => {
            if let Some(g) = w.guests.get_mut(&domid) {
                g.guest.power_button();
            }
        }
        Trigger::Reset => {
            w.host.shutdown(domid, SHUTDOWN_REBOOT).map_err(host_err)?;
            drop(w);
            sim.xsd.domain_exception();
        }
        Trigger::Nmi => {
            if let Some(g) = w.guests.get_mut(&domid) {
                g.guest.nmi();
            }
        }
        Trigger::Init | Trigger::Sleep => {}
    }
    ok(())
}

/// Memory for the domain and a guest loaded into it.
fn build(w: &mut World, domid: u32, spec: &BuildSpec) -> Result<String, Refusal> {
    // The policy is made before the image is built, as libxl makes it.
    let cpu_flags = crate::cpu::guest_flags(spec.kind, &spec.cpuid)?;
    w.host
        .populate(domid, spec.target_memkb, spec.online_vcpus)
        .map_err(|err| format!("xc_dom_boot_mem_init: can't allocate memory for domain: {err}"))?;
    w.host.get_mut(domid).map_err(host_err)?.max_memkb = spec.max_memkb + 1024;
    // An HVM guest's kernel gets its command line from its own
    // bootloader, not from the toolstack.
    let cmdline = match (&spec.cmdline, spec.kind) {
        (Some(c), _) => c.clone(),
        (None, GuestKind::Hvm) => {
            "BOOT_IMAGE=/boot/vmlinuz-6.1.0-sim-amd64 root=/dev/sda1 ro console=ttyS0".into()
        }
        (None, _) => String::new(),
    };
    let guest = Guest::with_cpu_flags(
        &spec.name,
        spec.kind,
        &cmdline,
        spec.target_memkb,
        spec.online_vcpus,
        cpu_flags,
    );
    w.guests.insert(domid, Running::loaded(guest, false));
    ok(rings(domid))
}

fn save_guest(w: &World, domid: u32) -> Result<String, Refusal> {
    let d = w.host.get(domid).map_err(host_err)?;
    if d.shutdown != Some(SHUTDOWN_SUSPEND) {
        return Err(format!("domain {domid} is not suspended").into());
    }
    core_guest(w, domid)
}

/// The guest as it is now: a core dump reads a domain without stopping it
/// (a save, once it is suspended).
fn core_guest(w: &World, domid: u32) -> Result<String, Refusal> {
    let d = w.host.get(domid).map_err(host_err)?;
    let (memkb, online_vcpus, kind) = (d.memkb, d.online_vcpus, d.kind);
    let r = w
        .guests
        .get(&domid)
        .ok_or_else(|| format!("domain {domid} has no guest loaded"))?;
    ok(SavedGuest {
        kind,
        memkb,
        online_vcpus,
        guest: r.guest.clone(),
    })
}

fn restore_guest(
    w: &mut World,
    domid: u32,
    spec: &BuildSpec,
    saved: SavedGuest,
) -> Result<String, Refusal> {
    // The saved guest's memory, not the config's target: a guest
    // ballooned since its start comes back at the size it had.
    w.host
        .populate(domid, saved.memkb, saved.online_vcpus)
        .map_err(|err| format!("xc_domain_restore: cannot allocate the guest's memory: {err}"))?;
    w.host.get_mut(domid).map_err(host_err)?.max_memkb = spec.max_memkb + 1024;
    let mut guest = saved.guest;
    guest.resumed();
    w.guests.insert(domid, Running::loaded(guest, true));
    ok(rings(domid))
}

fn resume(w: &mut World, domid: u32) -> Result<String, Refusal> {
    let d = w.host.get_mut(domid).map_err(host_err)?;
    if d.shutdown != Some(SHUTDOWN_SUSPEND) {
        return Err(format!("domain {domid} is not suspended").into());
    }
    d.shutdown = None;
    d.pv_callback = true;
    if !d.paused {
        d.set_rate(Instant::now(), 0.005);
    }
    if let Some(r) = w.guests.get_mut(&domid) {
        r.guest.resumed();
    }
    ok(())
}

/// The simulated QEMU: a serial pty when asked, and its xenstore state.
fn spawn_device_model(
    sim: &Sim,
    mut w: MutexGuard<'_, World>,
    spec: &DmSpec,
) -> Result<String, Refusal> {
    let domid = spec.domid;
    w.host.get(domid).map_err(host_err)?;
    let serial = if spec.serial_pty && w.ptys < MAX_PTYS {
        let p = Pty::open().map_err(|err| format!("cannot open pty: {err}"))?;
        w.ptys += 1;
        Some(p)
    } else {
        None
    };
    let tty = serial.as_ref().map(|p| p.path.clone());
    if let Some(r) = w.guests.get_mut(&domid) {
        r.serial = serial;
        r.dm = true;
        r.flush_backlog();
    }
    drop(w);
    if let Some(tty) = tty {
        sim.xs
            .write(&format!("/local/domain/{domid}/serial/0/tty"), &tty)
            .map_err(|err| err.to_string())?;
    }
    sim.xs
        .write(
            &format!("/local/domain/0/device-model/{domid}/state"),
            "running",
        )
        .map_err(|err| err.to_string())?;
    ok(std::process::id())
}

/// A QMP command for the domain's simulated QEMU.
fn qmp(w: &mut World, domid: u32, cmd: &str, args: &str) -> Result<String, Refusal> {
    let r = w
        .guests
        .get_mut(&domid)
        .filter(|r| r.dm)
        .ok_or_else(|| format!("domain {domid} has no device model"))?;
    let args: serde_json::Value =
        serde_json::from_str(args).map_err(|e| format!("bad QMP arguments: {e}"))?;
    qmp_usb(&mut r.usb, cmd, &args)?;
    ok(serde_json::json!({}))
}

/// Bound on the USB devices a simulated QEMU takes.
const MAX_QMP_DEVICES: usize = 256;

/// QEMU's answers to `device_add` and `device_del` of USB controllers
/// and `usb-host` devices (with its error texts); other commands and
/// drivers are not simulated.
fn qmp_usb(
    usb: &mut Vec<(String, Option<String>)>,
    cmd: &str,
    args: &serde_json::Value,
) -> Result<(), String> {
    let arg = |k: &str| args.get(k).and_then(|v| v.as_str()).unwrap_or_default();
    let id = arg("id").to_string();
    match cmd {
        "device_add" => {
            if usb.iter().any(|(d, _)| *d == id) {
                return Err(format!("Duplicate device ID '{id}'"));
            }
            if usb.len() >= MAX_QMP_DEVICES {
                return Err("too many devices".into());
            }
            match arg("driver") {
                "piix3-usb-uhci" | "usb-ehci" | "nec-usb-xhci" => usb.push((id, None)),
                "usb-host" => {
                    let bus = arg("bus");
                    let ctrl = bus
                        .strip_suffix(".0")
                        .filter(|c| usb.iter().any(|(d, parent)| d == c && parent.is_none()));
                    let Some(ctrl) = ctrl else {
                        return Err(format!("Bus '{bus}' not found"));
                    };
                    let ctrl = ctrl.to_string();
                    usb.push((id, Some(ctrl)));
                }
                other => return Err(format!("'{other}' is not a valid device model name")),
            }
            Ok(())
        }
        "device_del" => {
            if !usb.iter().any(|(d, _)| *d == id) {
                return Err(format!("Device '{id}' not found"));
            }
            usb.retain(|(d, parent)| *d != id && parent.as_deref() != Some(id.as_str()));
            Ok(())
        }
        other => Err(format!("The command {other} has not been found")),
    }
}

fn kill_device_model(
    sim: &Sim,
    mut w: MutexGuard<'_, World>,
    domid: u32,
) -> Result<String, Refusal> {
    if let Some(r) = w.guests.get_mut(&domid) {
        r.dm = false;
        r.usb.clear();
        if r.serial.take().is_some() {
            w.ptys -= 1;
        }
    }
    drop(w);
    let _ = sim.xs.rm(&format!("/local/domain/0/device-model/{domid}"));
    ok(())
}

/// Watches the whole store as dom0's daemons would: xenconsoled (console
/// ptys), backend drivers (xenbus states) and the guests' xenbus clients
/// (control/shutdown and control/sysrq).
fn watch_loop(sim: &Sim, xs: &Xs) {
    if xs.watch("/local/domain", "sim").is_err() {
        return;
    }
    while let Ok(ev) = xs.next_watch() {
        let parts: Vec<&str> = ev.path.split('/').collect();
        // ["", "local", "domain", N, ...]
        let Some(domid) = parts.get(3).and_then(|d| d.parse::<u32>().ok()) else {
            continue;
        };
        match &parts[4..] {
            ["console", "tty"] => console_up(sim, xs, domid),
            ["control", "shutdown"] => control(sim, xs, domid, &ev.path, false),
            ["control", "sysrq"] => control(sim, xs, domid, &ev.path, true),
            ["backend", kind, _fe, _dev, "state"] if domid == 0 && *kind != "console" => {
                backend_state(xs, &ev.path);
            }
            ["device", _kind, _dev, "state"] if domid != 0 => {
                frontend_state(sim, xs, domid, &ev.path)
            }
            ["backend", _kind, _fe, _dev, "hotplug-status"]
                if domid == 0
                    && xs.try_read(&ev.path).ok().flatten().as_deref() == Some("connected") =>
            {
                let state = ev.path.replace("/hotplug-status", "/state");
                let _ = xs.write(&state, "4");
            }
            _ => {}
        }
    }
}

/// xenconsoled: a new console frontend gets a pty.
fn console_up(sim: &Sim, xs: &Xs, domid: u32) {
    let path = format!("/local/domain/{domid}/console/tty");
    if !matches!(xs.try_read(&path), Ok(Some(t)) if t.is_empty()) {
        return;
    }
    let mut w = sim.lock();
    let Some(r) = w.guests.get(&domid) else {
        return;
    };
    if r.console.is_some() {
        return;
    }
    if w.ptys >= MAX_PTYS {
        drop(w);
        sim.log(&format!(
            "domain {domid}: no console, {MAX_PTYS} ptys in use"
        ));
        return;
    }
    let pty = match Pty::open() {
        Ok(p) => p,
        Err(e) => {
            drop(w);
            sim.log(&format!("domain {domid}: cannot open pty: {e}"));
            return;
        }
    };
    let tty = pty.path.clone();
    w.ptys += 1;
    if let Some(r) = w.guests.get_mut(&domid) {
        r.console = Some(pty);
        r.flush_backlog();
    }
    drop(w);
    let _ = xs.write(&path, &tty);
}

/// A backend driver's half of the xenbus handshake.
fn backend_state(xs: &Xs, path: &str) {
    let Ok(Some(state)) = xs.try_read(path) else {
        return;
    };
    let next = match state.trim() {
        "1" => "2",
        "5" => "6",
        // pciback takes a device list change (Reconfiguring) at once.
        "7" if path.contains("/backend/pci/") => "4",
        _ => return,
    };
    let _ = xs.write(path, next);
}

/// A running guest's frontend driver: a device added while it runs
/// connects at once (those present at boot connect when it has booted).
fn frontend_state(sim: &Sim, xs: &Xs, domid: u32, path: &str) {
    let listening = {
        let w = sim.lock();
        let runs = w.host.get(domid).is_ok_and(|d| d.running());
        runs && w.guests.get(&domid).is_some_and(|r| !r.guest.busy())
    };
    if !listening {
        return;
    }
    // Read and written in one transaction: a destroy may remove the
    // frontend (or pciback's entry) since the event, and must not see
    // them come back.
    let _ = xs.transaction(|tx| -> Result<(), xenstore::Error> {
        if !matches!(tx.try_read(path)?, Some(s) if s.trim() == "1") {
            return Ok(());
        }
        tx.write(path, "4")?;
        // pcifront connected: pciback follows.
        if path.contains("/device/pci/") {
            let state = format!("/local/domain/0/backend/pci/{domid}/0/state");
            if tx.try_read(&state)?.is_some() {
                tx.write(&state, "4")?;
            }
        }
        Ok(())
    });
}

/// The guest's xenbus control watch.
fn control(sim: &Sim, xs: &Xs, domid: u32, path: &str, sysrq: bool) {
    let Ok(Some(value)) = xs.try_read(path) else {
        return;
    };
    if value.is_empty() {
        return;
    }
    let mut w = sim.lock();
    let runs = w.host.get(domid).is_ok_and(|d| d.running());
    let Some(r) = w.guests.get_mut(&domid) else {
        return;
    };
    // A paused or still-booting guest has no xenbus driver listening yet.
    if !runs || r.guest.busy() {
        return;
    }
    let acked = if sysrq {
        r.guest.sysrq(value.chars().next().unwrap_or(' '));
        true
    } else {
        r.guest.control_shutdown(&value)
    };
    let busy = r.guest.busy();
    if let Ok(d) = w.host.get_mut(domid) {
        d.set_rate(Instant::now(), if busy { 1.0 } else { 0.005 });
    }
    drop(w);
    if acked {
        let _ = xs.write(path, "");
    }
}

fn tick_loop(sim: &Sim, hv_path: &Path) {
    let mut last = Instant::now();
    let mut checked = Instant::now();
    loop {
        thread::sleep(TICK);
        let now = Instant::now();
        let ms = now.duration_since(last).as_millis() as u64;
        last = now;
        let mut exits = Vec::new();
        let mut booted = Vec::new();
        {
            let mut w = sim.lock();
            if w.quit {
                return;
            }
            let World { host, guests, .. } = &mut *w;
            for (domid, r) in guests.iter_mut() {
                let Ok(d) = host.get_mut(*domid) else {
                    continue;
                };
                if !d.running() {
                    continue;
                }
                if r.resumed && r.guest.booted() {
                    r.resumed = false;
                    d.pv_callback = true;
                    booted.push(*domid);
                }
                let (out, exit) = r.guest.advance(ms);
                if !out.is_empty() {
                    r.emit(&out);
                }
                if r.guest.take_booted() {
                    d.pv_callback = true;
                    d.set_rate(now, 0.005);
                    booted.push(*domid);
                }
                if let Some(x) = exit {
                    exits.push((*domid, x));
                }
            }
            for (domid, x) in &exits {
                let reason = match x {
                    Exit::Poweroff => SHUTDOWN_POWEROFF,
                    Exit::Reboot => SHUTDOWN_REBOOT,
                    Exit::Crash => SHUTDOWN_CRASH,
                    Exit::Suspend => SHUTDOWN_SUSPEND,
                };
                let _ = host.shutdown(*domid, reason);
            }
            if !exits.is_empty() || host.domains.len() > 1 {
                w.last_activity = now;
            }
        }
        for domid in booted {
            frontends_connected(&sim.xs, domid);
            // A request written while the guest was booting is seen when
            // its xenbus driver comes up, as in Linux.
            for (node, sysrq) in [("shutdown", false), ("sysrq", true)] {
                let path = format!("/local/domain/{domid}/control/{node}");
                control(sim, &sim.xs, domid, &path, sysrq);
            }
        }
        if !exits.is_empty() {
            sim.xsd.domain_exception();
            for (domid, x) in exits {
                sim.log(&format!("domain {domid} shut down ({x:?})"));
            }
        }
        if now.duration_since(checked) > Duration::from_secs(2) {
            checked = now;
            // The state directory was removed (a test's temp dir): go.
            if !hv_path.exists() || sim.lock().last_activity.elapsed() > IDLE_EXIT {
                return;
            }
        }
    }
}

/// The booted guest's frontends connect, and so do their backends.
fn frontends_connected(xs: &Xs, domid: u32) {
    let base = format!("/local/domain/{domid}/device");
    for kind in xs.directory(&base).unwrap_or_default() {
        for dev in xs.directory(&format!("{base}/{kind}")).unwrap_or_default() {
            let fe = format!("{base}/{kind}/{dev}");
            // Only frontends name a backend (device/suspend/event-channel
            // is no device).
            let Ok(Some(be)) = xs.try_read(&format!("{fe}/backend")) else {
                continue;
            };
            let _ = xs.write(&format!("{fe}/state"), "4");
            let _ = xs.write(&format!("{be}/state"), "4");
        }
    }
}

/// Keys typed into console ptys reach their guests.
fn input_loop(sim: &Sim) {
    let mut buf = [0u8; 1024];
    loop {
        let fds: Vec<(u32, Arc<OwnedFd>)> = {
            let w = sim.lock();
            if w.quit {
                return;
            }
            w.guests
                .iter()
                .flat_map(|(d, r)| {
                    [r.console.as_ref(), r.serial.as_ref()]
                        .into_iter()
                        .flatten()
                        .map(|p| (*d, Arc::clone(&p.master)))
                })
                .collect()
        };
        if fds.is_empty() {
            thread::sleep(Duration::from_millis(100));
            continue;
        }
        let mut polls: Vec<PollFd<'_>> = fds
            .iter()
            .map(|(_, fd)| PollFd::new(&**fd, PollFlags::IN))
            .collect();
        let timeout = rustix::event::Timespec {
            tv_sec: 0,
            tv_nsec: 100_000_000,
        };
        if poll(&mut polls, Some(&timeout)).unwrap_or(0) == 0 {
            continue;
        }
        let ready: Vec<usize> = polls
            .iter()
            .enumerate()
            .filter(|(_, p)| p.revents().contains(PollFlags::IN))
            .map(|(i, _)| i)
            .collect();
        drop(polls);
        for i in ready {
            let (domid, fd) = &fds[i];
            let n = match rustix::io::read(&**fd, &mut buf) {
                Ok(n) if n > 0 => n,
                _ => continue,
            };
            let mut w = sim.lock();
            let runs = w.host.get(*domid).is_ok_and(|d| d.running());
            if let Some(r) = w.guests.get_mut(domid)
                && runs
            {
                let echo = r.guest.input(&buf[..n]);
                r.emit(&echo);
                if r.guest.busy()
                    && let Ok(d) = w.host.get_mut(*domid)
                {
                    d.set_rate(Instant::now(), 1.0);
                }
            }
        }
    }
}

/// The state directory's socket paths.
pub fn socket_paths(dir: &Path) -> (PathBuf, PathBuf) {
    (dir.join(HYPERVISOR_SOCK), dir.join(XENSTORED_SOCK))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn io_stats_report_connected_vifs_and_every_disk() {
        let d = Daemon::new();
        let xs = Xs::new(d.connect_as(0).unwrap()).unwrap();
        let be = "/local/domain/0/backend";
        xs.write(&format!("{be}/vif/1/0/hotplug-status"), "connected")
            .unwrap();
        xs.write(&format!("{be}/vif/1/1/hotplug-status"), "connected")
            .unwrap();
        // Hotplug not done yet: no interface in dom0.
        xs.write(&format!("{be}/vif/2/0/state"), "2").unwrap();
        xs.write(&format!("{be}/vif/2/1/hotplug-status"), "connected")
            .unwrap();
        xs.write(&format!("{be}/qdisk/2/768/state"), "4").unwrap();
        xs.write(&format!("{be}/vbd/1/51712/state"), "4").unwrap();
        xs.write(&format!("{be}/vbd/1/51728/state"), "4").unwrap();
        let io = GuestIo {
            rd_reqs: 10,
            rd_sects: 160,
            wr_reqs: 2,
            wr_sects: 16,
            tx_packets: 3,
            tx_bytes: 300,
            rx_packets: 4,
            rx_bytes: 400,
        };
        // Domain 9 has no guest here: nothing of it is listed.
        let got = io_stats(&xs, &[(1, io, false), (2, io, true)]);
        let nets: Vec<(u32, u32, u64, u64)> = got
            .nets
            .iter()
            .map(|(d, n)| (*d, n.id, n.rbytes, n.tbytes))
            .collect();
        // dom0 receives what the guest sends; the traffic is on the first
        // vif; an HVM guest's vif has QEMU's `-emu` tap beside it.
        assert_eq!(
            nets,
            vec![(1, 0, 300, 400), (1, 1, 0, 0), (2, 1, 0, 0), (2, 1, 0, 0)]
        );
        let vbds: Vec<(u32, u8, u32, u64)> = got
            .vbds
            .iter()
            .map(|(d, v)| (*d, v.back_type, v.dev, v.rd_reqs))
            .collect();
        assert_eq!(
            vbds,
            vec![(1, 1, 51712, 10), (1, 1, 51728, 0), (2, 0, 768, 10)]
        );
    }
}
