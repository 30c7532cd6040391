//! Starting a domain's device model (qemu-xen) as libxl_dm.c does: its
//! xenstore directory, the log in /var/log/xen/qemu-dm-NAME.log, and
//! readiness when QEMU writes `running` to its state node.

use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use xenstore::{Xs, XsOps};

use crate::{DmSpec, Error, HostPaths};

/// LIBXL_DEVICE_MODEL_START_TIMEOUT.
const START_TIMEOUT: Duration = Duration::from_secs(60);
/// Lines of QEMU's log shown when it fails.
const LOG_TAIL_LINES: usize = 8;

pub(super) fn spawn(paths: &HostPaths, xs: &Xs, spec: &DmSpec) -> Result<u32, Error> {
    check_executable(&spec.binary)?;
    let dm_path = format!("/local/domain/0/device-model/{}", spec.domid);
    xs.mkdir(&dm_path)?;
    let state = format!("{dm_path}/state");
    let log_path = paths.log.join(format!("qemu-dm-{}.log", spec.name));
    let log = open_log(&log_path)?;
    let token = format!("xl-dm-{}", std::process::id());
    xs.watch(&state, &token)?;
    crate::trace::info(|| format!("starting {} {}", spec.binary, spec.args.join(" ")));
    let spawned = Command::new(&spec.binary)
        .args(&spec.args)
        .envs(spec.env.clone())
        .stdin(Stdio::null())
        .stdout(log.try_clone().map_err(|e| log_error(&log_path, e))?)
        .stderr(log)
        // Its own process group: a terminal's Ctrl-C to xl must not
        // take the guest's backends with it.
        .process_group(0)
        .spawn();
    let mut child = match spawned {
        Ok(c) => c,
        Err(e) => {
            let _ = xs.unwatch(&state, &token);
            return Err(Error::Backend(format!(
                "cannot start device model {}: {e}",
                spec.binary
            )));
        }
    };
    // Recorded at once, as libxl does after its fork: should xl die while
    // QEMU starts, destroy still finds it.
    let recorded = xs.write(
        &format!("/local/domain/{}/image/device-model-pid", spec.domid),
        &child.id().to_string(),
    );
    let ready = match recorded {
        Ok(()) => wait_running(xs, &state, &mut child),
        Err(e) => Err(format!("could not be recorded: {e}")),
    };
    let _ = xs.unwatch(&state, &token);
    match ready {
        Ok(()) => Ok(child.id()),
        Err(why) => {
            let _ = child.kill();
            let _ = child.wait();
            Err(Error::Backend(format!(
                "device model {} {why}{}",
                spec.binary,
                log_tail(&log_path)
            )))
        }
    }
}

/// libxl refuses a device model it cannot execute, naming it.
fn check_executable(binary: &str) -> Result<(), Error> {
    let meta = std::fs::metadata(binary).map_err(|e| {
        Error::Backend(format!(
            "device model {binary} is not executable: {e} (install qemu-xen, or set \
             device_model_override= in the domain's config)"
        ))
    })?;
    if meta.is_file() && meta.permissions().mode() & 0o111 != 0 {
        Ok(())
    } else {
        Err(Error::Backend(format!(
            "device model {binary} is not executable"
        )))
    }
}

fn log_error(path: &Path, e: std::io::Error) -> Error {
    Error::Backend(format!("cannot open {}: {e}", path.display()))
}

fn open_log(path: &Path) -> Result<std::fs::File, Error> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| log_error(dir, e))?;
    }
    std::fs::OpenOptions::new()
        .create(true)
        .write(true)
        .truncate(true)
        .open(path)
        .map_err(|e| log_error(path, e))
}

/// Until QEMU says `running`, exits, or the start timeout passes.
fn wait_running(xs: &Xs, state: &str, child: &mut std::process::Child) -> Result<(), String> {
    let deadline = Instant::now() + START_TIMEOUT;
    loop {
        match xs.try_read(state) {
            Ok(Some(s)) if s == "running" => return Ok(()),
            Ok(_) => {}
            Err(e) => return Err(format!("state unreadable: {e}")),
        }
        if let Ok(Some(st)) = child.try_wait() {
            return Err(format!("exited before it was ready ({st})"));
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(format!(
                "did not become ready in {}s",
                START_TIMEOUT.as_secs()
            ));
        }
        // Wake for the watch, or now and then to notice an exit.
        let _ = xs.wait_watch(left.min(Duration::from_millis(200)));
    }
}

fn log_tail(path: &Path) -> String {
    let Ok(text) = std::fs::read_to_string(path) else {
        return String::new();
    };
    let lines: Vec<&str> = text.lines().collect();
    let tail = &lines[lines.len().saturating_sub(LOG_TAIL_LINES)..];
    if tail.is_empty() {
        return format!(" (its log {} is empty)", path.display());
    }
    format!("; the end of {}:\n  {}", path.display(), tail.join("\n  "))
}
