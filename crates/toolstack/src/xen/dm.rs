//! Starting a domain's device model (qemu-xen) as libxl_dm.c does: its
//! xenstore directory, the log in /var/log/xen/qemu-dm-NAME.log, and
//! readiness when QEMU writes `running` to its state node.

use std::io::{Read, Seek, SeekFrom};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use xenstore::{Xs, XsOps};

use crate::{DmBinarySource, DmSpec, Error, HostPaths, printable};

/// LIBXL_DEVICE_MODEL_START_TIMEOUT.
const START_TIMEOUT: Duration = Duration::from_secs(60);
/// Lines of QEMU's log shown when it fails.
const LOG_TAIL_LINES: usize = 8;
/// How much of the log's end is read for them.
const LOG_TAIL_BYTES: u64 = 64 * 1024;

/// Why a device model could not be started, saved or asked.
#[derive(Debug, thiserror::Error)]
pub enum DeviceModelError {
    /// Its binary cannot be run: which one, where its path came from and
    /// what to do.
    #[error("{}", binary_message(binary, *origin, problem, &crate::host::QEMU_XEN_PATHS))]
    Unusable {
        /// The binary.
        binary: String,
        /// Where its path came from.
        origin: DmBinarySource,
        /// What is wrong with it.
        problem: BinaryProblem,
    },
    /// The OS would not start it; what to do follows the cause, so the
    /// cause is part of this message.
    #[error(
        "cannot start device model {}: {}: {}",
        described(binary, *origin),
        crate::error_chain(error),
        advice(*origin)
    )]
    Spawn {
        /// The binary.
        binary: String,
        /// Where its path came from.
        origin: DmBinarySource,
        /// The OS error.
        error: std::io::Error,
    },
    /// It started but never became ready; `log_tail` shows the end of its log.
    #[error("device model {} {why}{log_tail}", described(binary, *origin))]
    NotReady {
        /// The binary.
        binary: String,
        /// Where its path came from.
        origin: DmBinarySource,
        /// What happened.
        why: NotReady,
        /// The end of its log, as a suffix to the message.
        log_tail: String,
    },
    /// Its log (or the log's directory) could not be made.
    #[error("cannot open {}", path.display())]
    Log {
        /// The log file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The file that hands a restored device model its state.
    #[error("{action} {}", path.display())]
    RestoreFile {
        /// What was being done to it.
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The device model's saved state could not be read.
    #[error("reading the device model's state {}", path.display())]
    ReadState {
        /// The file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The device model's saved state is larger than libxl accepts.
    #[error("the device model's state {} is larger than {MAX_STATE} bytes", path.display())]
    StateTooLarge {
        /// The file.
        path: PathBuf,
    },
    /// QMP failed while QEMU saved its state.
    #[error("saving the device model's state")]
    SaveState(#[source] crate::qmp::QmpError),
    /// QMP failed while asking QEMU where its serial pty and VNC server are.
    #[error("cannot ask the device model for its consoles")]
    Consoles(#[source] crate::qmp::QmpError),
    /// QEMU reports no pty for the guest's serial port.
    #[error("the device model reports no pty for serial0")]
    NoSerialPty,
    /// The image `cd-insert` hands QEMU.
    #[error("Failed to open cdrom file {}", printable(path))]
    CdromFile {
        /// The image.
        path: String,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// Stopping it left something behind.
    #[error("{0}")]
    Kill(super::dom0::KillProblems),
    /// QEMU refused a command: what it said, as libxl logs it.
    #[error("{desc}")]
    Refused {
        /// The QMP command.
        cmd: String,
        /// QMP's error class.
        class: String,
        /// QMP's description.
        desc: String,
    },
}

/// Why a started device model is not ready.
#[derive(Debug, thiserror::Error)]
pub enum NotReady {
    /// Its pid could not be recorded in xenstore.
    #[error("could not be recorded: {0}")]
    Unrecorded(xenstore::Error),
    /// Its state node could not be read.
    #[error("state unreadable: {0}")]
    StateUnreadable(xenstore::Error),
    /// It exited (how).
    #[error("exited before it was ready ({0})")]
    Exited(std::process::ExitStatus),
    /// It did not become ready in time.
    #[error("did not become ready in {}s", START_TIMEOUT.as_secs())]
    Timeout,
}

pub(super) fn spawn(paths: &HostPaths, xs: &Xs, spec: &DmSpec) -> Result<u32, Error> {
    check_executable(&spec.binary, spec.binary_source)?;
    let dm_path = format!("/local/domain/0/device-model/{}", spec.domid);
    xs.mkdir(&dm_path)?;
    let state = format!("{dm_path}/state");
    let log_path = paths.domain_log("qemu-dm-", &spec.name);
    let log = open_log(&log_path)?;
    let token = format!("xl-dm-{}", std::process::id());
    xs.watch(&state, &token)?;
    let (incoming, extra_args) = match &spec.incoming {
        Some(state) => (
            Stdio::from(restore_file(paths, spec.domid, state)?),
            INCOMING_ARGS.as_slice(),
        ),
        None => (Stdio::null(), [].as_slice()),
    };
    crate::trace::info(|| {
        format!(
            "starting {} {}{}",
            spec.binary,
            spec.args.join(" "),
            if extra_args.is_empty() {
                ""
            } else {
                " -incoming fd:0"
            }
        )
    });
    let spawned = Command::new(&spec.binary)
        .args(&spec.args)
        .args(extra_args)
        .envs(spec.env.clone())
        .stdin(incoming)
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
            return Err(DeviceModelError::Spawn {
                binary: spec.binary.clone(),
                origin: spec.binary_source,
                error: e,
            }
            .into());
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
        Err(e) => Err(NotReady::Unrecorded(e)),
    };
    let _ = xs.unwatch(&state, &token);
    match ready {
        Ok(()) => Ok(child.id()),
        Err(why) => {
            let _ = child.kill();
            let _ = child.wait();
            Err(DeviceModelError::NotReady {
                binary: spec.binary.clone(),
                origin: spec.binary_source,
                why,
                log_tail: log_tail(&log_path),
            }
            .into())
        }
    }
}

/// A restored device model reads its saved state from its stdin (libxl
/// hands QEMU the same file as another descriptor).
const INCOMING_ARGS: [&str; 2] = ["-incoming", "fd:0"];
/// The largest device state a save keeps (QEMU's is well under 1 MiB).
const MAX_STATE: u64 = 64 << 20;

/// The saved device state in a file QEMU can read, already unlinked so
/// that nothing is left behind whatever happens next.
fn restore_file(
    paths: &HostPaths,
    domid: u32,
    state: &[u8],
) -> Result<std::fs::File, DeviceModelError> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let path = paths.lib.join(format!("qemu-resume.{domid}"));
    let fail = |action, source| DeviceModelError::RestoreFile {
        action,
        path: path.clone(),
        source,
    };
    // A file left by a restore that was killed belongs to no one now.
    let _ = std::fs::remove_file(&path);
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .mode(0o600)
        .custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32)
        .open(&path)
        .map_err(|e| fail("cannot create", e))?;
    let _ = std::fs::remove_file(&path);
    file.write_all(state)
        .and_then(|()| file.seek(SeekFrom::Start(0)).map(drop))
        .map_err(|e| fail("cannot write", e))?;
    Ok(file)
}

/// The device state QEMU wrote to `path`, bounded.
pub(super) fn read_state(path: &Path) -> Result<Vec<u8>, DeviceModelError> {
    let fail = |source| DeviceModelError::ReadState {
        path: path.to_path_buf(),
        source,
    };
    let file = std::fs::File::open(path).map_err(fail)?;
    let mut state = Vec::new();
    file.take(MAX_STATE + 1)
        .read_to_end(&mut state)
        .map_err(fail)?;
    if state.len() as u64 > MAX_STATE {
        return Err(DeviceModelError::StateTooLarge {
            path: path.to_path_buf(),
        });
    }
    Ok(state)
}

/// Why a device model binary cannot be run.
#[derive(Debug)]
pub enum BinaryProblem {
    /// No such file.
    Missing,
    /// A symbolic link to nothing (its target).
    BrokenLink(String),
    /// A directory.
    Directory,
    /// Not a regular file (a device, socket or fifo).
    NotAFile,
    /// A file without execute permission (its mode).
    NotExecutable(u32),
    /// It could not even be looked at (a parent without search
    /// permission, a loop of links, ...).
    Unreadable(std::io::Error),
}

/// libxl refuses a device model it cannot execute; ours also says which
/// binary that was, where its path came from, and what to do.
pub(super) fn check_executable(
    binary: &str,
    origin: DmBinarySource,
) -> Result<(), DeviceModelError> {
    match binary_problem(Path::new(binary)) {
        None => Ok(()),
        Some(problem) => Err(DeviceModelError::Unusable {
            binary: binary.to_string(),
            origin,
            problem,
        }),
    }
}

fn binary_problem(path: &Path) -> Option<BinaryProblem> {
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Some(match std::fs::read_link(path) {
                Ok(target) => BinaryProblem::BrokenLink(target.display().to_string()),
                Err(_) => BinaryProblem::Missing,
            });
        }
        Err(e) => return Some(BinaryProblem::Unreadable(e)),
    };
    let mode = meta.permissions().mode();
    if meta.is_dir() {
        Some(BinaryProblem::Directory)
    } else if !meta.is_file() {
        Some(BinaryProblem::NotAFile)
    } else if mode & 0o111 == 0 {
        Some(BinaryProblem::NotExecutable(mode & 0o7777))
    } else {
        None
    }
}

/// The message for a device model that cannot run (pure). `probed` are
/// the paths the host probe looks for qemu-xen in: when the default is
/// missing, the others were missing too, and the message says so.
fn binary_message(
    binary: &str,
    source: DmBinarySource,
    problem: &BinaryProblem,
    probed: &[&str],
) -> String {
    let what = match problem {
        BinaryProblem::Missing => {
            let others: Vec<&str> = match source {
                DmBinarySource::Default if probed.contains(&binary) => {
                    probed.iter().copied().filter(|p| *p != binary).collect()
                }
                _ => Vec::new(),
            };
            if others.is_empty() {
                "does not exist".to_string()
            } else {
                format!(
                    "does not exist (nor does {})",
                    printable(&others.join(" or "))
                )
            }
        }
        BinaryProblem::BrokenLink(target) => {
            format!(
                "is a symbolic link to {}, which does not exist",
                printable(target)
            )
        }
        BinaryProblem::Directory => "is a directory, not a program".into(),
        BinaryProblem::NotAFile => "is not a regular file".into(),
        BinaryProblem::NotExecutable(mode) => format!("is not executable (mode {mode:04o})"),
        BinaryProblem::Unreadable(e) => format!("cannot be examined: {}", crate::error_chain(e)),
    };
    format!(
        "device model {} {what}: {}",
        described(binary, source),
        advice(source)
    )
}

/// The binary and where its path came from.
fn described(binary: &str, source: DmBinarySource) -> String {
    let origin = match source {
        DmBinarySource::Default => "the default qemu-xen path",
        DmBinarySource::Override => "device_model_override in the config",
    };
    format!("{} ({origin})", printable(binary))
}

/// What to do about a device model that will not run.
fn advice(source: DmBinarySource) -> &'static str {
    match source {
        DmBinarySource::Default => {
            "install qemu-xen (Debian: qemu-system-xen) or set device_model_override= to a \
             qemu-system-i386 built with Xen support"
        }
        DmBinarySource::Override => {
            "fix device_model_override= (or remove it to use the default qemu-xen)"
        }
    }
}

fn log_error(path: &Path, source: std::io::Error) -> DeviceModelError {
    DeviceModelError::Log {
        path: path.to_path_buf(),
        source,
    }
}

fn open_log(path: &Path) -> Result<std::fs::File, DeviceModelError> {
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
fn wait_running(xs: &Xs, state: &str, child: &mut std::process::Child) -> Result<(), NotReady> {
    let deadline = Instant::now() + START_TIMEOUT;
    loop {
        match xs.try_read(state) {
            Ok(Some(s)) if s == "running" => return Ok(()),
            Ok(_) => {}
            Err(e) => return Err(NotReady::StateUnreadable(e)),
        }
        if let Ok(Some(st)) = child.try_wait() {
            return Err(NotReady::Exited(st));
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(NotReady::Timeout);
        }
        // Wake for the watch, or now and then to notice an exit.
        let _ = xs.wait_watch(left.min(Duration::from_millis(200)));
    }
}

fn log_tail(path: &Path) -> String {
    let shown = printable(&path.display().to_string());
    let text = match read_end(path, LOG_TAIL_BYTES) {
        Ok(t) => t,
        Err(e) => {
            return format!(
                " (its log {shown} is unreadable: {})",
                crate::error_chain(&e)
            );
        }
    };
    let lines: Vec<&str> = text.lines().collect();
    let tail = &lines[lines.len().saturating_sub(LOG_TAIL_LINES)..];
    if tail.is_empty() {
        return format!(" (its log {shown} is empty)");
    }
    let tail: Vec<String> = tail.iter().map(|l| printable(l)).collect();
    format!("; the end of its log {shown}:\n  {}", tail.join("\n  "))
}

/// The last `max` bytes of a file as text (invalid UTF-8 replaced), from
/// its first whole line.
fn read_end(path: &Path, max: u64) -> std::io::Result<String> {
    let mut f = std::fs::File::open(path)?;
    let len = f.metadata()?.len();
    let start = len.saturating_sub(max);
    f.seek(SeekFrom::Start(start))?;
    let mut buf = Vec::new();
    f.take(max).read_to_end(&mut buf)?;
    let text = String::from_utf8_lossy(&buf).into_owned();
    Ok(match text.split_once('\n') {
        Some((_, rest)) if start > 0 => rest.to_string(),
        _ => text,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const PROBED: [&str; 2] = [
        "/usr/libexec/xen-qemu-system-i386",
        "/usr/lib/xen/bin/qemu-system-i386",
    ];

    struct TempDir(std::path::PathBuf);
    impl TempDir {
        fn new(tag: &str) -> TempDir {
            let dir = std::env::temp_dir().join(format!("xl-dm-{tag}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).unwrap();
            TempDir(dir)
        }
        fn path(&self, name: &str) -> String {
            self.0.join(name).display().to_string()
        }
    }
    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn message(binary: &str, source: DmBinarySource, problem: BinaryProblem) -> String {
        binary_message(binary, source, &problem, &PROBED)
    }

    #[test]
    fn a_missing_default_says_where_qemu_xen_was_looked_for_and_what_to_install() {
        assert_eq!(
            message(PROBED[1], DmBinarySource::Default, BinaryProblem::Missing),
            "device model /usr/lib/xen/bin/qemu-system-i386 (the default qemu-xen path) does \
             not exist (nor does /usr/libexec/xen-qemu-system-i386): install qemu-xen (Debian: \
             qemu-system-xen) or set device_model_override= to a qemu-system-i386 built with \
             Xen support"
        );
        // A default path the probe does not know (a host laid out elsewhere).
        assert_eq!(
            message("/opt/q", DmBinarySource::Default, BinaryProblem::Missing),
            "device model /opt/q (the default qemu-xen path) does not exist: install qemu-xen \
             (Debian: qemu-system-xen) or set device_model_override= to a qemu-system-i386 \
             built with Xen support"
        );
    }

    #[test]
    fn an_override_says_it_came_from_the_config() {
        let o = DmBinarySource::Override;
        let fix = "fix device_model_override= (or remove it to use the default qemu-xen)";
        assert_eq!(
            message("/x/y", o, BinaryProblem::Missing),
            format!(
                "device model /x/y (device_model_override in the config) does not exist: {fix}"
            )
        );
        // An override that happens to be a probed path is still the config's.
        assert_eq!(
            message(PROBED[0], o, BinaryProblem::Missing),
            format!(
                "device model /usr/libexec/xen-qemu-system-i386 (device_model_override in the \
                 config) does not exist: {fix}"
            )
        );
        assert_eq!(
            message("/x/y", o, BinaryProblem::Directory),
            format!(
                "device model /x/y (device_model_override in the config) is a directory, not a \
                 program: {fix}"
            )
        );
        assert_eq!(
            message("/x/y", o, BinaryProblem::NotExecutable(0o644)),
            format!(
                "device model /x/y (device_model_override in the config) is not executable \
                 (mode 0644): {fix}"
            )
        );
        assert_eq!(
            message("/x/y", o, BinaryProblem::BrokenLink("/gone".into())),
            format!(
                "device model /x/y (device_model_override in the config) is a symbolic link to \
                 /gone, which does not exist: {fix}"
            )
        );
        assert_eq!(
            message("/x/y", o, BinaryProblem::NotAFile),
            format!(
                "device model /x/y (device_model_override in the config) is not a regular file: \
                 {fix}"
            )
        );
        let denied = std::io::Error::from_raw_os_error(13);
        assert_eq!(
            message("/x/y", o, BinaryProblem::Unreadable(denied)),
            format!(
                "device model /x/y (device_model_override in the config) cannot be examined: \
                 Permission denied: {fix}"
            )
        );
    }

    #[test]
    fn no_message_mentions_the_traditional_device_model() {
        for source in [DmBinarySource::Default, DmBinarySource::Override] {
            for p in [
                BinaryProblem::Missing,
                BinaryProblem::Directory,
                BinaryProblem::NotExecutable(0),
            ] {
                let m = message(PROBED[1], source, p);
                assert!(!m.contains("qemu-dm") && !m.contains("traditional"), "{m}");
            }
        }
    }

    #[test]
    fn the_filesystem_decides_the_problem() {
        use std::os::unix::fs::symlink;
        let t = TempDir::new("check");
        let (exe, plain, dir, dangling) = (
            t.path("qemu"),
            t.path("plain"),
            t.path("dir"),
            t.path("dangling"),
        );
        std::fs::write(&exe, "#!/bin/sh\n").unwrap();
        std::fs::set_permissions(&exe, std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::write(&plain, "").unwrap();
        std::fs::set_permissions(&plain, std::fs::Permissions::from_mode(0o640)).unwrap();
        std::fs::create_dir(&dir).unwrap();
        symlink(t.path("nowhere"), &dangling).unwrap();
        let problem = |p: &str| binary_problem(Path::new(p));
        assert!(problem(&exe).is_none());
        assert!(matches!(
            problem(&t.path("absent")),
            Some(BinaryProblem::Missing)
        ));
        assert!(matches!(problem(&dir), Some(BinaryProblem::Directory)));
        assert!(matches!(
            problem(&plain),
            Some(BinaryProblem::NotExecutable(0o640))
        ));
        assert!(
            matches!(problem(&dangling), Some(BinaryProblem::BrokenLink(to)) if to == t.path("nowhere"))
        );
        assert!(matches!(
            problem("/dev/null"),
            Some(BinaryProblem::NotAFile)
        ));
        assert!(check_executable(&exe, DmBinarySource::Override).is_ok());
        let e = check_executable(&dir, DmBinarySource::Override).unwrap_err();
        assert!(e.to_string().contains("is a directory"), "{e}");
    }

    #[test]
    fn the_log_tail_names_the_log_and_escapes_what_it_shows() {
        let t = TempDir::new("log");
        let log = Path::new(&t.path("qemu-dm-t.log")).to_path_buf();
        std::fs::write(
            &log,
            b"one\ntwo\n\x1b[2Jcleared\rover\xff\n\xe2\x80\xaeevil\tok\n".as_slice(),
        )
        .unwrap();
        assert_eq!(
            log_tail(&log),
            format!(
                "; the end of its log {}:\n  one\n  two\n  \\u{{1b}}[2Jcleared\\rover\u{fffd}\n  \
                 \\u{{202e}}evil\tok",
                log.display()
            )
        );
        std::fs::write(&log, "").unwrap();
        assert_eq!(
            log_tail(&log),
            format!(" (its log {} is empty)", log.display())
        );
        let absent = Path::new(&t.path("absent.log")).to_path_buf();
        assert_eq!(
            log_tail(&absent),
            format!(
                " (its log {} is unreadable: No such file or directory)",
                absent.display()
            )
        );
    }

    #[test]
    fn a_long_log_shows_only_its_last_whole_lines() {
        let t = TempDir::new("long");
        let log = Path::new(&t.path("big.log")).to_path_buf();
        let mut text = "x".repeat(100_000);
        for i in 0..20 {
            text.push_str(&format!("\nline {i}"));
        }
        std::fs::write(&log, &text).unwrap();
        let tail = log_tail(&log);
        let shown: Vec<&str> = tail.lines().skip(1).map(str::trim).collect();
        assert_eq!(shown.len(), LOG_TAIL_LINES);
        assert_eq!(shown.last(), Some(&"line 19"));
        assert!(!tail.contains("xxx"));
        // Only the end is read, from its first whole line.
        assert_eq!(read_end(&log, 20).unwrap(), "line 18\nline 19");
    }

    #[test]
    fn start_failures_name_the_binary_its_origin_and_the_cause() {
        let chain = |e: DeviceModelError| crate::error_chain(&Error::from(e));
        assert_eq!(
            chain(DeviceModelError::Spawn {
                binary: "/q".into(),
                origin: DmBinarySource::Override,
                error: std::io::Error::from_raw_os_error(13),
            }),
            "cannot start device model /q (device_model_override in the config): Permission \
             denied: fix device_model_override= (or remove it to use the default qemu-xen)"
        );
        assert_eq!(
            chain(DeviceModelError::NotReady {
                binary: "/q".into(),
                origin: DmBinarySource::Override,
                why: NotReady::Timeout,
                log_tail: " (its log /l is empty)".into(),
            }),
            "device model /q (device_model_override in the config) did not become ready in 60s \
             (its log /l is empty)"
        );
        assert_eq!(
            chain(DeviceModelError::Log {
                path: "/var/log/xen".into(),
                source: std::io::Error::from_raw_os_error(30),
            }),
            "cannot open /var/log/xen: Read-only file system"
        );
        assert_eq!(
            chain(DeviceModelError::SaveState(crate::qmp::QmpError::Closed)),
            "saving the device model's state: QMP: the device model closed the connection"
        );
    }

    #[test]
    fn a_refused_qmp_command_is_what_qemu_said() {
        let e = Error::from(DeviceModelError::Refused {
            cmd: "device_add".into(),
            class: "GenericError".into(),
            desc: "Bus 'pci.0' does not support hotplugging".into(),
        });
        assert_eq!(
            crate::innermost_cause(&e),
            "Bus 'pci.0' does not support hotplugging"
        );
    }
}
