//! `xl create`: read the config (plus `key=value` overrides), build the
//! domain config, and for a dry run print libxl's JSON.

use std::process::{Command, Stdio};
use std::time::Duration;

use xenstore::Xs;
use xl_config::domain::{Action, DomainConfig};
use xl_toolstack::userdata::FileLock;
use xl_toolstack::{Host, HostPaths, create, destroy, inflight};

use super::ctx::connect;
use super::{Ctx, Exit, Outcome, err, fail, out, strerror, xl_error};
use crate::{backend, diag};

/// Set in the environment of the monitor process `xl create` leaves
/// behind: the domid it watches (the config comes from the same argv).
const MONITOR_ENV: &str = "XL_CREATE_MONITOR";

/// What xl's create needs from the host when no hypervisor answers: the
/// CPU count sizes CPU bitmaps, nodes map `node:` ranges.
pub(super) fn host_facts() -> xl_config::Host {
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get() as u32);
    xl_config::Host {
        max_cpus: cpus,
        node_cpus: vec![(0..cpus).collect()],
        firmware_dir: firmware_dir(),
    }
}

/// What xl's create asks libxl about the host when there is one: the
/// hypervisor's CPUs (libxl_get_max_cpus: max_cpu_id + 1, which dom0's own
/// vCPU count understates when dom0_max_vcpus is set) and each NUMA node's
/// CPUs; [`host_facts`] if it cannot say.
pub(super) fn host_facts_of(hv: &dyn xl_toolstack::Hypervisor) -> xl_config::Host {
    /// Xen's NUMA node ids are small (MAX_NUMNODES is 64): a larger one is
    /// not a node.
    const MAX_NODES: usize = 1024;
    let (Ok(info), Ok(topology)) = (hv.physinfo(), hv.cpu_topology()) else {
        return host_facts();
    };
    let max_cpus = info.max_cpu_id.saturating_add(1);
    let mut node_cpus: Vec<Vec<u32>> = Vec::new();
    for (cpu, node) in topology.iter().enumerate() {
        let Some(node) = node.node.map(|n| n as usize).filter(|&n| n < MAX_NODES) else {
            continue;
        };
        if node_cpus.len() <= node {
            node_cpus.resize(node + 1, Vec::new());
        }
        node_cpus[node].push(cpu as u32);
    }
    if node_cpus.is_empty() {
        node_cpus.push((0..max_cpus).collect());
    }
    xl_config::Host {
        max_cpus,
        node_cpus,
        firmware_dir: firmware_dir(),
    }
}

/// XENFIRMWAREDIR: `XL_FIRMWARE_DIR`, else the installed Xen's (Debian
/// keeps it per version, /usr/lib/xen-4.17/boot), else upstream's default.
fn firmware_dir() -> String {
    if let Ok(d) = std::env::var("XL_FIRMWARE_DIR") {
        return d;
    }
    let mut versioned: Vec<String> = std::fs::read_dir("/usr/lib")
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.starts_with("xen-"))
        .map(|n| format!("/usr/lib/{n}/boot"))
        .filter(|p| std::path::Path::new(p).is_dir())
        .collect();
    versioned.sort();
    versioned
        .pop()
        .unwrap_or_else(|| "/usr/lib/xen/boot".to_string())
}

/// What `create` and `config-update` are given: the options, the config
/// file (a first operand that is neither an option nor `KEY=VALUE`, which
/// xl takes before parsing options, else `-f`, else the first other
/// operand) and the `KEY=VALUE` overrides as config text, bytes like the
/// file's.
struct ConfigArgs {
    opts: crate::cmdtable::Opts,
    file: Option<String>,
    overrides: Vec<u8>,
}

enum ConfigArgsError {
    Exit(Exit),
    /// A second file name among the operands.
    SecondFile,
}

fn config_args(cx: &Ctx, args: &[String]) -> Result<ConfigArgs, ConfigArgsError> {
    let mut args = args.to_vec();
    let mut file = None;
    if let Some(first) = args.first()
        && !first.starts_with('-')
        && !first.contains('=')
    {
        file = Some(args.remove(0));
    }
    let opts = cx.options(&args).map_err(ConfigArgsError::Exit)?;
    if let Some(f) = opts.value('f') {
        file = Some(f.to_string());
    }
    let mut overrides = Vec::new();
    for a in opts.operands() {
        if a.contains('=') {
            overrides.extend_from_slice(&crate::args::to_bytes(&a));
            overrides.push(b'\n');
        } else if file.is_none() {
            file = Some(a);
        } else {
            return Err(ConfigArgsError::SecondFile);
        }
    }
    Ok(ConfigArgs {
        opts,
        file,
        overrides,
    })
}

/// The overrides after the file's text, on lines of their own.
fn append_overrides(data: &mut Vec<u8>, overrides: &[u8]) {
    if !overrides.is_empty() {
        data.push(b'\n');
        data.extend_from_slice(overrides);
        data.push(b'\n');
    }
}

pub fn main(cx: &Ctx, args: &[String]) -> Outcome {
    let ConfigArgs {
        opts,
        file: config_file,
        overrides: extra,
    } = match config_args(cx, args) {
        Ok(a) => a,
        Err(ConfigArgsError::Exit(e)) => return Err(e),
        Err(ConfigArgsError::SecondFile) => return Err(cx.help(2)),
    };
    let dryrun = cx.globals.dryrun || opts.flag('n');
    let monitor_of: Option<(u32, [u8; 16])> = std::env::var(MONITOR_ENV).ok().and_then(|v| {
        let (d, u) = v.split_once(':')?;
        Some((d.parse().ok()?, xl_config::domain::parse_uuid(u)?))
    });
    let quiet = opts.flag('q') || monitor_of.is_some();
    let debug = opts.flag('d');

    let Some(config_path) = config_file else {
        err("Config file not specified and none in save file\n");
        return Err(Exit(6));
    };
    let config_file = crate::args::display(&config_path);
    let mut data = if config_path == "/dev/null" {
        Vec::new()
    } else {
        match std::fs::read(crate::args::to_os(&config_path)) {
            Ok(d) => d,
            Err(e) => {
                err(&format!(
                    "Failed to read config file: {config_file}: {}\n",
                    strerror(&e)
                ));
                return Err(Exit(3));
            }
        }
    };
    append_overrides(&mut data, &extra);
    // xl treats the file as bytes; we need text. Invalid UTF-8 only occurs
    // inside strings or comments in practice, and is kept as U+FFFD there.
    let text = String::from_utf8_lossy(&data).into_owned();

    if !quiet {
        err(&format!("Parsing config from {config_file}\n"));
    }
    let mut report = xl_config::Report::new();
    // A create needs the host anyway, and xl sizes CPU maps by its CPUs; a
    // dry run goes without.
    let facts = if dryrun {
        host_facts()
    } else {
        host_facts_of(cx.host()?.hv.as_ref())
    };
    let parsed = xl_toolstack::trace::timed(
        || "parsed the config".into(),
        || xl_config::parse_config_data(&config_file, &text, cx.xlconf, &facts, &mut report),
    );
    err(report.as_str());
    let config = match parsed {
        Ok(c) => c,
        Err(xl_config::Exit(code)) => {
            if diag::enabled() {
                for d in &report.diagnostics {
                    err(&diag::render(&config_file, &text, d));
                }
            }
            return Err(Exit(code));
        }
    };

    if debug || dryrun {
        let json = config.to_json().to_yajl();
        if dryrun {
            out(&json);
        } else {
            err(&json);
        }
    }
    if dryrun {
        return Ok(0);
    }
    let mut config = config;
    let (host, xs) = cx.connect()?;
    if let Some((domid, uuid)) = monitor_of {
        config.c_info.uuid = uuid;
        return monitor(host, xs, config, domid);
    }
    let domid = create_one(host, xs, &config)?;
    let console = if opts.flag('c') {
        match spawn_console(domid) {
            Ok(c) => Some(c),
            Err(e) => {
                err(&format!("xl: cannot start the console client: {e}\n"));
                None
            }
        }
    } else {
        None
    };
    if !opts.flag('p')
        && let Err(e) = xl_toolstack::qmp::unpause(host, xs, domid)
    {
        err(&format!("xl: unpause failed: {}\n", backend::chain(&e)));
    }
    // xl starts no viewer when nothing waits for the domain (-e).
    if !opts.flag('e') && (opts.flag('V') || opts.flag('A')) {
        autoconnect_vncviewer(domid, opts.flag('A'));
    }
    let status = if opts.flag('e') {
        Ok(0)
    } else if opts.flag('F') {
        monitor(host, xs, config, domid)
    } else {
        xl_toolstack::trace::timed(
            || "started the domain's monitor".into(),
            || spawn_monitor(&host.paths, &config, domid),
        )
        .map(|()| 0)
        .or_else(|e| fail(format!("xl: cannot start the domain monitor: {e}\n")))
    };
    if let Some(mut c) = console {
        let _ = c.wait();
    }
    status
}

/// The rest of `xl config-update DOMAIN [FILE] [OPTIONS] [KEY=VALUE...]`
/// once the domain is known: the file and overrides are parsed as create
/// parses them, and their text (not the parsed result) is stored as the
/// domain's "xl" userdata, which its monitor builds from at the next
/// reboot.
pub fn config_update(cx: &Ctx, domid: u32, args: &[String]) -> Outcome {
    let ConfigArgs {
        opts,
        file: config_file,
        overrides: extra,
    } = match config_args(cx, args) {
        Ok(a) => a,
        Err(ConfigArgsError::Exit(e)) => return Err(e),
        // xl's quirk: create's help, not config-update's.
        Err(ConfigArgsError::SecondFile) => {
            out(&crate::cmdtable::help_text(Some("create")));
            return Err(Exit(2));
        }
    };
    let Some(config_path) = config_file else {
        return fail("Config file not specified\n");
    };
    let config_file = crate::args::display(&config_path);
    let mut data = match std::fs::read(crate::args::to_os(&config_path)) {
        Ok(d) => d,
        Err(e) => {
            err(&format!(
                "Failed to read config file: {config_file}: {}\n",
                strerror(&e)
            ));
            return Err(Exit(ERROR_FAIL_STATUS));
        }
    };
    append_overrides(&mut data, &extra);
    let config = parse_or_exit(cx.xlconf, &config_file, &data)?;
    if opts.flag('d') || cx.globals.dryrun {
        // xl's printf_info: the config under "config", no domid yet.
        let doc = xl_config::json::Obj::new()
            .field("domid", xl_config::json::Json::Null)
            .field("config", config.to_json())
            .build();
        out(&doc.to_yajl());
    }
    if cx.globals.dryrun {
        return Ok(0);
    }
    err(&format!("setting dom{domid} configuration\n"));
    let (host, _) = cx.connect()?;
    let uuid = host
        .hv
        .domain(domid)
        .map_err(|e| xl_error(&e))?
        .map(|d| d.uuid)
        .unwrap_or_default();
    if let Err(e) = xl_toolstack::userdata::store(&host.paths.lib, domid, &uuid, "xl", &data) {
        err(&format!(
            "libxl: error: cannot store the configuration: {}\n",
            strerror(&e)
        ));
        return fail("failed to update configuration\n");
    }
    Ok(0)
}

/// libxl's ERROR_FAIL as an exit status.
const ERROR_FAIL_STATUS: i32 = 253;

/// Config text parsed as xl's parse_config_data does: its messages on
/// stderr, its exit status when it gives up.
fn parse_or_exit(
    xlconf: &xl_config::Globals,
    name: &str,
    data: &[u8],
) -> Result<DomainConfig, Exit> {
    let text = String::from_utf8_lossy(data).into_owned();
    let mut report = xl_config::Report::new();
    let parsed = xl_config::parse_config_data(name, &text, xlconf, &host_facts(), &mut report);
    err(report.as_str());
    parsed.map_err(|xl_config::Exit(code)| {
        if diag::enabled() {
            for d in &report.diagnostics {
                err(&diag::render(name, &text, d));
            }
        }
        Exit(code)
    })
}

/// A configuration stored by `xl config-update`, which replaces the
/// domain's for its restart (and is used once: it is removed).
fn updated_config(host: &Host, domid: u32, uuid: &[u8; 16]) -> Option<DomainConfig> {
    let path = xl_toolstack::userdata::path(&host.paths.lib, domid, uuid, 'd', "xl");
    let data = std::fs::read(&path).ok().filter(|d| !d.is_empty())?;
    err("\"xl\" configuration found, using it\n\n");
    let config = parse_or_exit(&crate::globalcfg::load(), "<updated>", &data).ok();
    let _ = std::fs::remove_file(&path);
    config
}

/// Create (under xl's global lock, as xl does when ballooning) and
/// report failures as libxl would; the domain is left paused.
fn create_one(host: &Host, xs: &Xs, config: &DomainConfig) -> Result<u32, Exit> {
    create_one_from(host, xs, config, create::Image::Boot).map_err(|rc| Exit(-rc))
}

/// [`create_one`] with the domain's contents from `image`; a failure is
/// reported and its libxl rc returned.
pub(super) fn create_one_from(
    host: &Host,
    xs: &Xs,
    config: &DomainConfig,
    image: create::Image<'_>,
) -> Result<u32, i32> {
    let _lock = FileLock::take(&host.paths.lockfile).map_err(|e| {
        xl_error(&e);
        -3
    })?;
    for note in inflight::reap_locked(host, xs) {
        err(&format!("xl: {note}\n"));
    }
    let plan = create::CreatePlan::new(config, &host.paths);
    for note in &plan.notes {
        err(&format!("libxl: error: {note}\n"));
    }
    // Told the uuid before the domain exists, so even a create killed
    // between createdomain and its first report leaves nothing.
    let guard = xl_toolstack::trace::timed(
        || "started the create's guard".into(),
        || Guard::start(&plan.uuid),
    );
    // And if the guard dies with us, the next xl finds this record.
    let mut pids = vec![std::process::id()];
    pids.extend(guard.as_ref().map(|g| g.child.id()));
    let record = inflight::Record::begin(&host.paths.run, &plan.uuid, &pids);
    if let Err(e) = &record {
        // The guard still covers this create.
        xl_toolstack::trace::info(|| format!("cannot record the create in progress: {e}"));
    }
    let r = create::apply_from(host, xs, &plan, image);
    if r.is_ok() {
        create::pause_point("report the domain made");
    }
    // Success or a rolled-back failure: nothing is left to undo. The record
    // goes first: a create killed between the two is undone by the guard.
    if let Ok(rec) = record {
        rec.finish();
    }
    if let Some(g) = guard {
        xl_toolstack::trace::timed(|| "the create's guard ended".into(), || g.done());
    }
    r.map_err(|e| {
        err(&format!("libxl: error: {}\n", backend::chain(&e)));
        e.rc()
    })
}

/// The first argument that makes `xl` the guard of a create (see
/// `Guard`); an argument rather than the environment, so nothing the
/// guard runs inherits it.
pub const GUARD_ARG: &str = "--xl-create-guard";

/// A process that outlives a killed `xl create` to destroy the half-made
/// domain: told the domain's uuid before it exists, and `done` when
/// create finished or rolled back by itself. EOF before `done`
/// means this process died mid-create (kill -9, Ctrl-C). It runs in its
/// own process group, so a terminal's Ctrl-C reaches only the create.
struct Guard {
    child: std::process::Child,
    stdin: std::process::ChildStdin,
}

impl Guard {
    fn start(uuid: &[u8; 16]) -> Option<Guard> {
        use std::io::Write;
        use std::os::unix::process::CommandExt;
        let exe = std::env::current_exe().ok()?;
        let mut child = Command::new(exe)
            .arg(GUARD_ARG)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .process_group(0)
            .spawn()
            .ok()?;
        let mut stdin = child.stdin.take()?;
        let line = format!("uuid {}\n", xl_config::domain::uuid_string(uuid));
        stdin.write_all(line.as_bytes()).ok()?;
        Some(Guard { child, stdin })
    }

    fn done(mut self) {
        use std::io::Write;
        let _ = self.stdin.write_all(b"done\n");
        drop(self.stdin);
        let _ = self.child.wait();
    }
}

/// The guard's side (see `Guard`): a few short lines from our own
/// process; anything longer or unexpected is ignored.
pub fn guard_main() -> Outcome {
    use std::io::{BufRead, Read, Write};
    const MAX_LINES: usize = 64;
    const MAX_LINE: u64 = 128;
    let mut uuid = None;
    let stdin = std::io::stdin();
    let mut input = stdin.lock();
    for _ in 0..MAX_LINES {
        let mut line = String::new();
        match (&mut input).take(MAX_LINE).read_line(&mut line) {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
        match line.trim().split_once(' ') {
            _ if line.trim() == "done" => return Ok(0),
            Some(("uuid", u)) => uuid = Some(u.to_string()),
            _ => {}
        }
    }
    let Some(uuid) = uuid else {
        return Ok(0);
    };
    let (host, xs) = connect("create")?;
    let Some(uuid) = xl_config::domain::parse_uuid(&uuid) else {
        return Ok(0);
    };
    // The domains with this create's uuid (fresh for each create, so
    // nobody else's domain matches), however far create got.
    let (notes, undone) = inflight::destroy_created(&host, &xs, &uuid);
    for note in notes {
        let _ = writeln!(std::io::stderr(), "xl: {note}");
    }
    if !undone {
        // The record stays for the next xl to try again.
        return Err(Exit(1));
    }
    inflight::forget(&host.paths.run, &uuid);
    Ok(0)
}

/// `xl console <domid>` as a child sharing our terminal, like xl's
/// autoconnect. The guest's early output waits in the pty until it reads.
pub(super) fn spawn_console(domid: u32) -> std::io::Result<std::process::Child> {
    let exe = std::env::current_exe()?;
    let child = Command::new(exe)
        .args(["console", &domid.to_string()])
        .spawn()?;
    // Give the client a moment to attach before the guest starts talking.
    std::thread::sleep(Duration::from_millis(300));
    Ok(child)
}

/// `-V`/`-A` of create and restore: `xl vncviewer` for the new domain as
/// a child left running, as xl's autoconnect_vncviewer. xl's child waits
/// a second for QEMU's VNC server; ours is started once QEMU answered on
/// QMP, its VNC address already in xenstore.
pub(super) fn autoconnect_vncviewer(domid: u32, autopass: bool) {
    let spawned = std::env::current_exe().and_then(|exe| {
        let mut viewer = Command::new(exe);
        viewer.arg("vncviewer");
        if autopass {
            viewer.arg("--autopass");
        }
        // Its standard streams are xl's, as for xl's forked child.
        viewer.arg(domid.to_string()).spawn()
    });
    if let Err(e) = spawned {
        err(&format!(
            "xl: cannot start the VNC viewer: {e}
"
        ));
    }
}

/// Leave a monitor behind, as xl's daemonized child: same config, its
/// output in <log dir>/xl-<name>.log.
fn spawn_monitor(paths: &HostPaths, config: &DomainConfig, domid: u32) -> std::io::Result<()> {
    let exe = std::env::current_exe()?;
    std::fs::create_dir_all(&paths.log)?;
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(paths.domain_log("xl-", &config.c_info.name))?;
    use std::os::unix::process::CommandExt;
    Command::new(exe)
        .args(std::env::args_os().skip(1))
        .env(
            MONITOR_ENV,
            format!(
                "{domid}:{}",
                xl_config::domain::uuid_string(&config.c_info.uuid)
            ),
        )
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        .process_group(0)
        .spawn()?;
    Ok(())
}

/// The first argument that makes `xl` the monitor of a restored domain:
/// `xl --xl-monitor <domid> <uuid>`, the domain's config (libxl JSON) on
/// stdin. The save file it came from may be gone by then (xendomains
/// removes it as soon as the restore returns).
pub const MONITOR_ARG: &str = "--xl-monitor";

/// Most config text a monitor takes on stdin.
const MONITOR_CONFIG_MAX: u64 = 64 << 20;

/// Leave a monitor behind for a restored domain (see [`MONITOR_ARG`]).
pub(super) fn spawn_monitor_json(
    paths: &HostPaths,
    config: &DomainConfig,
    domid: u32,
) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::process::CommandExt;
    let exe = std::env::current_exe()?;
    std::fs::create_dir_all(&paths.log)?;
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(paths.domain_log("xl-", &config.c_info.name))?;
    let mut child = Command::new(exe)
        .args([
            MONITOR_ARG,
            &domid.to_string(),
            &xl_config::domain::uuid_string(&config.c_info.uuid),
        ])
        .stdin(Stdio::piped())
        .stdout(log.try_clone()?)
        .stderr(log)
        .process_group(0)
        .spawn()?;
    let json = config.to_json().to_yajl();
    let mut stdin = child
        .stdin
        .take()
        .ok_or_else(|| std::io::Error::other("no pipe to the monitor"))?;
    stdin.write_all(json.as_bytes())
}

/// The monitor's side (see [`MONITOR_ARG`]).
pub fn monitor_main(args: &[String]) -> Outcome {
    use std::io::Read;
    let (Some(domid), Some(uuid)) = (
        args.first().and_then(|d| d.parse::<u32>().ok()),
        args.get(1).and_then(|u| xl_config::domain::parse_uuid(u)),
    ) else {
        return fail("xl: monitor: expected <domid> <uuid>\n");
    };
    let mut text = String::new();
    if let Err(e) = std::io::stdin()
        .take(MONITOR_CONFIG_MAX)
        .read_to_string(&mut text)
    {
        return fail(format!("xl: monitor: reading the config: {e}\n"));
    }
    let mut config = match DomainConfig::from_json(&text) {
        Ok(c) => c,
        Err(e) => return fail(format!("xl: monitor: {e}\n")),
    };
    config.c_info.uuid = uuid;
    let (host, xs) = connect("restore")?;
    monitor(&host, &xs, config, domid)
}

/// xl's domain death handling: wait for the domain to shut down, then
/// apply on_poweroff/on_reboot/on_crash; restarts re-create it from the
/// same config (same UUID) and keep watching.
pub(super) fn monitor(host: &Host, xs: &Xs, mut config: DomainConfig, mut domid: u32) -> Outcome {
    let log = |m: String| err(&format!("{m}\n"));
    let failed = |m: String| fail(format!("{m}\n"));
    log(format!(
        "Waiting for domain {} (domid {domid}) to die [pid {}]",
        config.c_info.name,
        std::process::id()
    ));
    let token = format!("xl-monitor-{}", std::process::id());
    if let Err(e) = xs.watch("@releaseDomain", &token) {
        return failed(format!(
            "xl: cannot watch for domain death: {}",
            backend::chain(&e)
        ));
    }
    loop {
        let info = host.hv.domain(domid).map_err(|e| xl_error(&e))?;
        let Some(info) = info else {
            log(format!("Domain {domid} has been destroyed."));
            return Ok(0);
        };
        if info.shutdown {
            let r = info.shutdown_reason;
            log(format!(
                "Domain {domid} has shut down, reason code {r} 0x{r:x}"
            ));
            // Suspended for a save: whoever saves it decides its fate.
            if r == xl_toolstack::saverestore::SHUTDOWN_SUSPEND {
                log("Domain has suspended.".into());
                log("Done. Exiting now".into());
                return Ok(0);
            }
            let action = match r {
                0 => config.on_poweroff,
                1 => config.on_reboot,
                3 => config.on_crash,
                4 => config.on_watchdog,
                5 => config.on_soft_reset,
                _ => Action::Destroy,
            };
            log(format!(
                "Action for shutdown reason code {r} is {}",
                action.cfg_name()
            ));
            match action {
                Action::Preserve => {
                    log("Done. Exiting now".into());
                    return Ok(0);
                }
                Action::Restart | Action::CoredumpRestart | Action::RestartRename => {
                    if let Some(updated) = updated_config(host, domid, &info.uuid) {
                        config = updated;
                    }
                    if let Err(e) = destroy::destroy(host, xs, domid) {
                        return failed(format!("xl: destroy failed: {}", backend::chain(&e)));
                    }
                    log("Done. Rebooting now".into());
                    std::thread::sleep(Duration::from_secs(2));
                    domid = create_one(host, xs, &config)?;
                    if let Err(e) = xl_toolstack::qmp::unpause(host, xs, domid) {
                        log(format!("xl: unpause failed: {}", backend::chain(&e)));
                    }
                    continue;
                }
                _ => {
                    log(format!(
                        "Domain {domid} needs to be cleaned up: destroying the domain"
                    ));
                    if let Err(e) = destroy::destroy(host, xs, domid) {
                        return failed(format!("xl: destroy failed: {}", backend::chain(&e)));
                    }
                    log("Done. Exiting now".into());
                    return Ok(0);
                }
            }
        }
        let _ = xs.wait_watch(Duration::from_secs(5));
    }
}
