//! A Linux dom0's services as libxl drives them: hotplug scripts run from
//! /etc/xen/scripts, qemu-xen started and stopped, QMP over its sockets in
//! the run directory, and the I/O counters the backend kernel exposes.

use std::os::fd::AsFd;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use xenstore::{Xs, XsOps};

use super::DeviceModelError;
use crate::{DmBinarySource, DmSpec, Dom0, Error, HostPaths, HotplugDevice};

/// Needs no hypervisor handle: only where the host keeps its files.
pub struct XenDom0 {
    paths: HostPaths,
}

impl XenDom0 {
    /// The dom0 half for a host keeping its files at `paths`.
    pub fn new(paths: HostPaths) -> XenDom0 {
        XenDom0 { paths }
    }

    /// Run `f` over a QMP session with the domain's device model, under
    /// libxl's lock; libxl allows LIBXL_DEVICE_MODEL_START_TIMEOUT.
    fn session(
        &self,
        domid: u32,
        uuid: &[u8; 16],
        f: impl FnOnce(&mut crate::qmp::Qmp) -> Result<(), crate::qmp::QmpError>,
    ) -> Result<(), crate::qmp::QmpError> {
        crate::qmp::Qmp::connect(&self.paths, domid, uuid, Duration::from_secs(60))
            .and_then(|mut q| f(&mut q))
    }

    /// [`Self::session`], its failure as the toolstack's.
    fn qmp(
        &self,
        domid: u32,
        uuid: &[u8; 16],
        f: impl FnOnce(&mut crate::qmp::Qmp) -> Result<(), crate::qmp::QmpError>,
    ) -> Result<(), Error> {
        Ok(self.session(domid, uuid, f)?)
    }
}

impl Dom0 for XenDom0 {
    /// Runs the device's scripts as libxl does; failures carry the
    /// script's `hotplug-error` when it left one.
    fn hotplug(&self, xs: &Xs, dev: &HotplugDevice, add: bool) -> Result<(), Error> {
        let mut problems = Vec::new();
        for (args, env) in crate::devices::hotplug_runs(xs, dev, add)? {
            problems.extend(run_hotplug(&args, &env));
        }
        if problems.is_empty() {
            return Ok(());
        }
        if let Some(why) = xs.try_read(&format!("{}/hotplug-error", dev.backend_path))? {
            if why.starts_with("Could not find bridge device")
                && let Some(bridge) = xs.try_read(&format!("{}/bridge", dev.backend_path))?
            {
                problems.push(ScriptProblem::NoBridge { why, bridge });
            } else {
                problems.push(ScriptProblem::Reported(why));
            }
        } else if let Some(params) = xs.try_read(&format!("{}/params", dev.backend_path))? {
            // The block script does not always say why; name the disk.
            problems.push(ScriptProblem::CheckDisk(params));
        }
        Err(HotplugScriptError(problems).into())
    }

    fn check_device_model(&self, binary: &str, source: DmBinarySource) -> Result<(), Error> {
        Ok(super::dm::check_executable(binary, source)?)
    }

    fn spawn_device_model(&self, xs: &Xs, spec: &DmSpec) -> Result<u32, Error> {
        let pid = super::dm::spawn(&self.paths, xs, spec)?;
        let vnc = spec
            .args
            .windows(2)
            .any(|w| w[0] == "-vnc" && w[1] != "none");
        if spec.serial_pty || vnc {
            publish_dm_consoles(&self.paths, xs, spec.domid, spec.serial_pty, vnc)?;
        }
        Ok(pid)
    }

    fn run_bootloader(
        &self,
        run: &crate::bootloader::BootloaderRun,
    ) -> Result<crate::bootloader::BootFiles, Error> {
        super::bootloader::run(run)
    }

    fn resume_device_model(&self, domid: u32, uuid: &[u8; 16]) -> Result<(), Error> {
        self.qmp(domid, uuid, |q| q.execute("cont", None).map(drop))
    }

    /// As libxl: QEMU stops, then writes its device state into a file
    /// (`/var/lib/xen/qemu-save.<domid>`), which is read and removed.
    fn save_device_model(&self, domid: u32, uuid: &[u8; 16]) -> Result<Option<Vec<u8>>, Error> {
        let path = self.paths.lib.join(format!("qemu-save.{domid}"));
        let _ = std::fs::remove_file(&path);
        let saved = self.session(domid, uuid, |q| {
            q.execute("stop", None)?;
            q.execute(
                "xen-save-devices-state",
                Some(serde_json::json!({
                    "filename": path.display().to_string(),
                    "live": false,
                })),
            )
            .map(drop)
        });
        let state = saved
            .map_err(DeviceModelError::SaveState)
            .and_then(|()| super::dm::read_state(&path));
        let _ = std::fs::remove_file(&path);
        Ok(Some(state?))
    }

    fn eject_cdrom(&self, domid: u32, uuid: &[u8; 16], devid: u32) -> Result<(), Error> {
        self.qmp(domid, uuid, |q| {
            q.execute(
                "eject",
                Some(serde_json::json!({ "id": format!("ide-{devid}") })),
            )
            .map(drop)
        })
    }

    /// As libxl: the image goes to QEMU as an open file (`add-fd`), named
    /// by its fd set.
    fn insert_cdrom(
        &self,
        domid: u32,
        uuid: &[u8; 16],
        devid: u32,
        path: &str,
        format: &str,
    ) -> Result<(), Error> {
        let file = std::fs::File::open(path).map_err(|source| DeviceModelError::CdromFile {
            path: path.to_string(),
            source,
        })?;
        self.qmp(domid, uuid, |q| {
            let fdset = q.add_fd(&file, &format!("{format}:{path}"))?;
            q.execute(
                "blockdev-change-medium",
                Some(serde_json::json!({
                    "id": format!("ide-{devid}"),
                    "filename": format!("/dev/fdset/{fdset}"),
                    "format": format,
                })),
            )
            .map(drop)
        })
    }

    fn monitor_command(&self, domid: u32, uuid: &[u8; 16], cmd: &str) -> Result<String, Error> {
        let mut out = String::new();
        self.qmp(domid, uuid, |q| {
            let r = q.execute(
                "human-monitor-command",
                Some(serde_json::json!({ "command-line": cmd })),
            )?;
            out = r
                .as_str()
                .ok_or_else(|| crate::qmp::QmpError::Command {
                    cmd: "human-monitor-command".into(),
                    class: "?".into(),
                    desc: format!("Response has unexpected format: {r}"),
                })?
                .to_string();
            Ok(())
        })?;
        Ok(out)
    }

    fn wakeup_device_model(&self, domid: u32, uuid: &[u8; 16]) -> Result<(), Error> {
        let mut q = crate::qmp::Qmp::connect(&self.paths, domid, uuid, QMP_COMMAND_TIMEOUT)?;
        q.execute("system_wakeup", None)?;
        Ok(())
    }

    fn qmp_command(
        &self,
        domid: u32,
        uuid: &[u8; 16],
        cmd: &str,
        args: serde_json::Value,
    ) -> Result<serde_json::Value, Error> {
        let session = crate::qmp::Qmp::connect(&self.paths, domid, uuid, Duration::from_secs(60));
        match session.and_then(|mut q| q.execute(cmd, Some(args))) {
            Ok(v) => Ok(v),
            Err(crate::qmp::QmpError::Command { cmd, class, desc }) => {
                Err(DeviceModelError::Refused { cmd, class, desc }.into())
            }
            Err(e) => Err(e.into()),
        }
    }

    fn io_stats(&self, xs: &Xs, domids: &[u32]) -> Result<crate::stats::IoStats, Error> {
        crate::stats::linux::collect(std::path::Path::new("/"), &self.paths.run, xs, domids)
            .map_err(Error::NetStats)
    }

    /// libxl's way: forget its xenstore directory, hang it up, remove its
    /// QMP sockets. Every step is tried; problems are reported together.
    fn kill_device_model(&self, xs: &Xs, domid: u32) -> Result<(), Error> {
        let mut problems = Vec::new();
        match xs.rm(&format!("/local/domain/0/device-model/{domid}")) {
            Err(e) if !e.is_not_found() => problems.push(KillProblem::Node(e)),
            _ => {}
        }
        let pid = xs
            .try_read(&format!("/local/domain/{domid}/image/device-model-pid"))
            .ok()
            .flatten();
        match pid.map(|p| xl_config::value::strtol(p.as_bytes(), 10).0 as i32) {
            None => problems.push(KillProblem::NoPid),
            Some(pid) => {
                if let Err(error) = xen_sys::hangup(pid) {
                    problems.push(KillProblem::Signal { pid, error });
                }
            }
        }
        for sock in ["qmp-libxl", "qmp-libxenstat"] {
            let p = self.paths.run.join(format!("{sock}-{domid}"));
            if let Err(e) = std::fs::remove_file(&p)
                && e.kind() != std::io::ErrorKind::NotFound
            {
                problems.push(KillProblem::Socket { path: p, error: e });
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(DeviceModelError::Kill(KillProblems(problems)).into())
        }
    }

    /// libxl asks `query-cpus-fast`, and `query-cpus` of a QEMU older than
    /// 2.12; it waits LIBXL_QMP_CMD_TIMEOUT (10 s) for the answer.
    /// libxl's sequence: the CPUs QEMU has, the driver of a hotpluggable
    /// one, then `device_add` of each missing one as socket N (libxl starts
    /// QEMU with `-smp N,maxcpus=M`, so cores and threads are 0); QEMU
    /// before 2.7 gets `cpu-add`.
    fn plug_device_model_cpus(&self, domid: u32, uuid: &[u8; 16], count: u32) -> Result<(), Error> {
        use crate::qmp::{Qmp, QmpError};
        let mut q = Qmp::connect(&self.paths, domid, uuid, QMP_COMMAND_TIMEOUT)?;
        let present = match q.execute("query-cpus-fast", None) {
            Ok(v) => crate::qmp::cpu_indices(&v, "cpu-index")?,
            Err(QmpError::Command { class, .. }) if class == "CommandNotFound" => {
                crate::qmp::cpu_indices(&q.execute("query-cpus", None)?, "CPU")?
            }
            Err(e) => return Err(e.into()),
        };
        let missing: Vec<u32> = (0..count).filter(|i| !present.contains(i)).collect();
        let driver = match q.execute("query-hotpluggable-cpus", None) {
            Ok(v) => Some(
                v.get(0)
                    .and_then(|c| c.get("type"))
                    .and_then(|t| t.as_str())
                    .map(str::to_string)
                    .ok_or_else(|| QmpError::Api {
                        cmd: "query-hotpluggable-cpus",
                        what: "CPU type",
                        answer: v.to_string(),
                    })?,
            ),
            Err(QmpError::Command { class, .. }) if class == "CommandNotFound" => None,
            Err(e) => return Err(e.into()),
        };
        for i in missing {
            let (cmd, args) = match &driver {
                Some(driver) => (
                    "device_add",
                    serde_json::json!({
                        "id": format!("cpu-{i}"),
                        "driver": driver,
                        "socket-id": i,
                        "core-id": 0,
                        "thread-id": 0,
                    }),
                ),
                None => ("cpu-add", serde_json::json!({ "id": i })),
            };
            q.execute(cmd, Some(args))?;
        }
        Ok(())
    }

    fn device_model_cpus(&self, domid: u32, uuid: &[u8; 16]) -> Result<Vec<u32>, Error> {
        use crate::qmp::{Qmp, QmpError};
        let run = || -> Result<Vec<u32>, QmpError> {
            let mut q = Qmp::connect(&self.paths, domid, uuid, Duration::from_secs(10))?;
            match q.execute("query-cpus-fast", None) {
                Ok(v) => crate::qmp::cpu_indices(&v, "cpu-index"),
                Err(QmpError::Command { class, .. }) if class == "CommandNotFound" => {
                    crate::qmp::cpu_indices(&q.execute("query-cpus", None)?, "CPU")
                }
                Err(e) => Err(e),
            }
        };
        run().map_err(Error::Qmp)
    }
}

/// libxl's LIBXL_QMP_CMD_TIMEOUT.
const QMP_COMMAND_TIMEOUT: Duration = Duration::from_secs(10);

/// libxl's LIBXL_HOTPLUG_TIMEOUT.
const HOTPLUG_TIMEOUT: Duration = Duration::from_secs(40);

/// Why a device's hotplug scripts failed: every problem, in the order
/// met, as one line.
#[derive(Debug, thiserror::Error)]
#[error("{}", join(.0, ": "))]
pub struct HotplugScriptError(pub Vec<ScriptProblem>);

/// One problem running a hotplug script.
#[derive(Debug, thiserror::Error)]
pub enum ScriptProblem {
    /// The script could not be started.
    #[error("cannot run {script}: {error}")]
    Spawn {
        /// The script.
        script: String,
        /// The OS error.
        error: std::io::Error,
    },
    /// The script exited unsuccessfully.
    #[error("{script} {action} failed: {status}")]
    Failed {
        /// The script.
        script: String,
        /// What it was asked to do (`add`, `remove`, `online`, ...).
        action: String,
        /// How it exited.
        status: std::process::ExitStatus,
    },
    /// The script ran longer than libxl allows.
    #[error("{script} {action} timed out")]
    TimedOut {
        /// The script.
        script: String,
        /// What it was asked to do.
        action: String,
    },
    /// Waiting for the script failed.
    #[error("waiting for {script}: {error}")]
    Wait {
        /// The script.
        script: String,
        /// The OS error.
        error: std::io::Error,
    },
    /// What the script wrote to the backend's `hotplug-error`.
    #[error("{0}")]
    Reported(String),
    /// The vif's bridge is missing (the script's words, and what to do).
    #[error(
        "{why} (create it, e.g. `ip link add {bridge} type bridge && ip link set {bridge} up`, \
         or name an existing bridge in the vif's bridge=)"
    )]
    NoBridge {
        /// The script's words.
        why: String,
        /// The bridge the vif names.
        bridge: String,
    },
    /// The block script said nothing: the disk it was given.
    #[error("check the disk {0}")]
    CheckDisk(String),
}

/// What went wrong stopping a device model: every step is tried.
#[derive(Debug)]
pub struct KillProblems(pub Vec<KillProblem>);

impl std::fmt::Display for KillProblems {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&join(&self.0, "; "))
    }
}

/// One step of stopping a device model that failed.
#[derive(Debug, thiserror::Error)]
pub enum KillProblem {
    /// The device model's xenstore node could not be removed.
    #[error("removing device-model node: {0}")]
    Node(xenstore::Error),
    /// No pid of the device model was recorded.
    #[error("unable to find Device Model pid")]
    NoPid,
    /// The device model could not be signalled.
    #[error("failed to kill Device Model [{pid}]: {error}")]
    Signal {
        /// The device model's pid.
        pid: i32,
        /// The OS error.
        error: std::io::Error,
    },
    /// The device model's QMP socket could not be removed.
    #[error("Failed to remove QMP socket file {}: {error}", path.display())]
    Socket {
        /// The socket.
        path: std::path::PathBuf,
        /// The OS error.
        error: std::io::Error,
    },
}

fn join<T: std::fmt::Display>(items: &[T], sep: &str) -> String {
    items
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(sep)
}

/// Run one hotplug script as libxl does: stdin /dev/null, stdout to our
/// stderr, bounded by libxl's timeout. Returns what went wrong.
fn run_hotplug(args: &[String], env: &[(String, String)]) -> Option<ScriptProblem> {
    let stdout = std::io::stderr()
        .as_fd()
        .try_clone_to_owned()
        .map(Stdio::from)
        .unwrap_or_else(|_| Stdio::null());
    let mut cmd = Command::new(&args[0]);
    cmd.args(&args[1..]).stdin(Stdio::null()).stdout(stdout);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(error) => {
            return Some(ScriptProblem::Spawn {
                script: args[0].clone(),
                error,
            });
        }
    };
    let start = Instant::now();
    loop {
        match child.try_wait() {
            Ok(Some(st)) if st.success() => return None,
            Ok(Some(status)) => {
                return Some(ScriptProblem::Failed {
                    script: args[0].clone(),
                    action: args[1].clone(),
                    status,
                });
            }
            Ok(None) if start.elapsed() > HOTPLUG_TIMEOUT => {
                let _ = child.kill();
                let _ = child.wait();
                return Some(ScriptProblem::TimedOut {
                    script: args[0].clone(),
                    action: args[1].clone(),
                });
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            Err(error) => {
                return Some(ScriptProblem::Wait {
                    script: args[0].clone(),
                    error,
                });
            }
        }
    }
}

/// How long QEMU has to answer the toolstack's QMP questions at start.
const QMP_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// As libxl once QEMU runs: ask it which pty the first serial port got and
/// where its VNC server listens, and publish them where `xl console -t
/// serial` and `xl vncviewer` look (`serial/0/tty`, `console/vnc-*`).
fn publish_dm_consoles(
    paths: &crate::HostPaths,
    xs: &Xs,
    domid: u32,
    serial: bool,
    vnc: bool,
) -> Result<(), Error> {
    let socket = paths.run.join(format!("qmp-libxl-{domid}"));
    let fail = DeviceModelError::Consoles;
    let mut qmp = crate::qmp::Qmp::connect_unlocked(&socket, QMP_TIMEOUT).map_err(fail)?;
    let dom = format!("/local/domain/{domid}");
    if serial {
        let chardevs = qmp.execute("query-chardev", None).map_err(fail)?;
        let pty = chardevs
            .as_array()
            .into_iter()
            .flatten()
            .filter(|c| c.get("label").and_then(|l| l.as_str()) == Some("serial0"))
            .find_map(|c| c.get("filename")?.as_str()?.strip_prefix("pty:"))
            .ok_or(DeviceModelError::NoSerialPty)?;
        xs.write(&format!("{dom}/serial/0/tty"), pty)?;
    }
    if vnc {
        let info = qmp.execute("query-vnc", None).map_err(fail)?;
        let field = |k: &str| info.get(k).and_then(|v| v.as_str()).map(str::to_string);
        if let (Some(host), Some(port)) = (field("host"), field("service")) {
            xs.write(&format!("{dom}/console/vnc-listen"), &host)?;
            xs.write(&format!("{dom}/console/vnc-port"), &port)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::process::ExitStatusExt;

    #[test]
    fn hotplug_problems_are_one_line_in_the_order_met() {
        let e = Error::from(HotplugScriptError(vec![
            ScriptProblem::Failed {
                script: "/etc/xen/scripts/vif-bridge".into(),
                action: "online".into(),
                status: std::process::ExitStatus::from_raw(256),
            },
            ScriptProblem::NoBridge {
                why: "Could not find bridge device br9".into(),
                bridge: "br9".into(),
            },
        ]));
        assert_eq!(
            crate::error_chain(&e),
            "/etc/xen/scripts/vif-bridge online failed: exit status: 1: Could not find bridge \
             device br9 (create it, e.g. `ip link add br9 type bridge && ip link set br9 up`, or \
             name an existing bridge in the vif's bridge=)"
        );
    }

    #[test]
    fn a_device_models_stop_reports_every_step_that_failed() {
        let e = Error::from(DeviceModelError::Kill(KillProblems(vec![
            KillProblem::NoPid,
            KillProblem::Socket {
                path: "/run/xen/qmp-libxl-3".into(),
                error: std::io::Error::from_raw_os_error(13),
            },
        ])));
        assert_eq!(
            crate::error_chain(&e),
            "unable to find Device Model pid; Failed to remove QMP socket file \
             /run/xen/qmp-libxl-3: Permission denied"
        );
    }
}
