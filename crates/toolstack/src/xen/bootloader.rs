//! Running a PV guest's bootloader in dom0 as libxl does: on a terminal of
//! its own (pygrub draws a menu with curses and picks the default entry
//! when its timeout passes), its screen kept in
//! /var/log/xen/bootloader.N.log, its choice read from the output file.
//! No shell: the arguments go to the program as they are.

use std::fs::{DirBuilder, File, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rustix::pty::{OpenptFlags, grantpt, openpt, ptsname, unlockpt};

use crate::Error;
use crate::bootloader::{BootFiles, BootloaderRun};

/// Longest a bootloader may take: libxl sets no limit, but a menu whose
/// timeout never comes would hold `xl create` forever.
const TIMEOUT: Duration = Duration::from_secs(300);
/// The most of its screen kept in the log, and of its output read.
const LOG_MAX: u64 = 1 << 20;
const OUTPUT_MAX: u64 = 64 << 10;
/// Lines of the log shown when it fails.
const LOG_TAIL_LINES: usize = 6;

/// Why a bootloader run gave no kernel to build from.
#[derive(Debug, thiserror::Error)]
pub enum BootloaderError {
    /// The config names no disk the bootloader can read.
    #[error("{0}")]
    NoDisk(String),
    /// A file or directory the run needs could not be made or read.
    #[error("{what} {}", path.display())]
    File {
        /// What was being done to it.
        what: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// No pty could be opened for its terminal.
    #[error("cannot make a terminal for the bootloader")]
    Terminal(#[source] std::io::Error),
    /// The bootloader could not be started.
    #[error("cannot execute bootloader {}", program.display())]
    Spawn {
        /// The program.
        program: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// Waiting for it to exit failed.
    #[error("waiting for the bootloader")]
    Wait(#[source] std::io::Error),
    /// It ran longer than libxl allows.
    #[error("killing bootloader because of timeout ({} s)", TIMEOUT.as_secs())]
    Timeout,
    /// It exited unsuccessfully; `tail` is the end of its screen.
    #[error("bootloader {} failed ({status}) - consult logfile {}{tail}", program.display(), log.display())]
    Failed {
        /// The program.
        program: PathBuf,
        /// How it exited.
        status: std::process::ExitStatus,
        /// Its log file.
        log: PathBuf,
        /// The end of its screen, as a suffix to the message.
        tail: String,
    },
    /// Its output file named no usable kernel.
    #[error("bootloader {}: {why} - consult logfile {}", program.display(), log.display())]
    Choice {
        /// The program.
        program: PathBuf,
        /// What was wrong with its output.
        why: String,
        /// Its log file.
        log: PathBuf,
    },
}

pub(super) fn run(run: &BootloaderRun) -> Result<BootFiles, Error> {
    Ok(run_bootloader(run)?)
}

fn run_bootloader(run: &BootloaderRun) -> Result<BootFiles, BootloaderError> {
    let disk = run.plan.disk.clone().map_err(BootloaderError::NoDisk)?;
    // From here on the output file and directory go away with `files`.
    let mut files = BootFiles::new(run);
    prepare_output(run)?;
    let log = open_log(run)?;
    let (master, slave) = open_pty()?;
    crate::trace::info(|| {
        format!(
            "running bootloader {} {}",
            run.program.display(),
            run.args(&disk).join(" ")
        )
    });
    let child = spawn(run, &disk, slave)?;
    let status = wait_relaying(child, master, log)?;
    if !status.success() {
        return Err(BootloaderError::Failed {
            program: run.program.clone(),
            status,
            log: run.log.clone(),
            tail: log_tail(run),
        });
    }
    let output = read_bounded(&run.output)?;
    files
        .take_choice(&output)
        .map_err(|why| BootloaderError::Choice {
            program: run.program.clone(),
            why,
            log: run.log.clone(),
        })?;
    Ok(files)
}

fn io_error(what: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> BootloaderError {
    let path = path.to_path_buf();
    move |source| BootloaderError::File { what, path, source }
}

/// The output directory (private) and the output file the bootloader
/// opens without creating it.
fn prepare_output(run: &BootloaderRun) -> Result<(), BootloaderError> {
    if let Some(parent) = run.output_dir.parent() {
        std::fs::create_dir_all(parent)
            .map_err(io_error("failed to create bootloader dir", parent))?;
    }
    match DirBuilder::new().mode(0o700).create(&run.output_dir) {
        Err(e) if e.kind() != std::io::ErrorKind::AlreadyExists => {
            return Err(io_error("failed to create bootloader dir", &run.output_dir)(e));
        }
        _ => {}
    }
    OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&run.output)
        .map_err(io_error(
            "failed to precreate bootloader output",
            &run.output,
        ))?;
    Ok(())
}

fn open_log(run: &BootloaderRun) -> Result<File, BootloaderError> {
    if let Some(dir) = run.log.parent() {
        std::fs::create_dir_all(dir).map_err(io_error("failed to create log dir", dir))?;
    }
    OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(&run.log)
        .map_err(io_error("failed to create bootloader logfile", &run.log))
}

/// A pseudo-terminal: the master end stays here, the slave becomes the
/// bootloader's terminal.
fn open_pty() -> Result<(File, File), BootloaderError> {
    let pty = || -> std::io::Result<(File, File)> {
        let master = openpt(OpenptFlags::RDWR | OpenptFlags::NOCTTY | OpenptFlags::CLOEXEC)?;
        grantpt(&master)?;
        unlockpt(&master)?;
        let name = ptsname(&master, Vec::new())?;
        let slave = OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(libc_o_noctty())
            .open(std::ffi::OsStr::new(&name.to_string_lossy().into_owned()))?;
        Ok((File::from(master), slave))
    };
    pty().map_err(BootloaderError::Terminal)
}

/// O_NOCTTY: the terminal must not become ours.
fn libc_o_noctty() -> i32 {
    rustix::fs::OFlags::NOCTTY.bits() as i32
}

fn spawn(run: &BootloaderRun, disk: &str, slave: File) -> Result<Child, BootloaderError> {
    let out = slave.try_clone().map_err(BootloaderError::Terminal)?;
    let err = slave.try_clone().map_err(BootloaderError::Terminal)?;
    Command::new(&run.program)
        .args(run.args(disk))
        .env("TERM", "vt100")
        .stdin(Stdio::from(slave))
        .stdout(Stdio::from(out))
        .stderr(Stdio::from(err))
        // Its own process group, killed whole on timeout; should xl itself
        // be killed, create's guard removes the files left behind.
        .process_group(0)
        .spawn()
        .map_err(|source| BootloaderError::Spawn {
            program: run.program.clone(),
            source,
        })
}

/// Copies the bootloader's screen to the log until it exits (bounded by
/// [`TIMEOUT`]); the terminal's master end closes with the last slave.
fn wait_relaying(
    mut child: Child,
    mut master: File,
    mut log: File,
) -> Result<std::process::ExitStatus, BootloaderError> {
    let relay = std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        let mut logged = 0u64;
        // EIO once every slave end is closed: the bootloader is gone.
        while let Ok(n) = master.read(&mut buf) {
            if n == 0 {
                break;
            }
            if logged < LOG_MAX {
                let _ = log.write_all(&buf[..n]);
                logged += n as u64;
            }
        }
    });
    let start = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(st)) => break st,
            Ok(None) if start.elapsed() > TIMEOUT => {
                // Its whole process group: what it started goes too.
                if let Some(pid) = rustix::process::Pid::from_raw(child.id() as i32) {
                    let _ = rustix::process::kill_process_group(pid, rustix::process::Signal::KILL);
                }
                let _ = child.kill();
                let _ = child.wait();
                return Err(BootloaderError::Timeout);
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            Err(e) => return Err(BootloaderError::Wait(e)),
        }
    };
    // A process the bootloader left behind may hold the terminal open:
    // give the relay a moment to drain, not forever.
    let drained = Instant::now() + Duration::from_secs(2);
    while !relay.is_finished() && Instant::now() < drained {
        std::thread::sleep(Duration::from_millis(10));
    }
    if relay.is_finished() {
        let _ = relay.join();
    }
    Ok(status)
}

fn read_bounded(path: &Path) -> Result<Vec<u8>, BootloaderError> {
    let mut out = Vec::new();
    File::open(path)
        .and_then(|f| f.take(OUTPUT_MAX).read_to_end(&mut out))
        .map_err(io_error("read bootloader output file", path))?;
    Ok(out)
}

/// The end of the log, without the terminal's control sequences.
fn log_tail(run: &BootloaderRun) -> String {
    let Ok(bytes) = std::fs::read(&run.log) else {
        return String::new();
    };
    let text: String = String::from_utf8_lossy(&bytes)
        .chars()
        .map(|c| if c.is_control() && c != '\n' { ' ' } else { c })
        .collect();
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    let tail = &lines[lines.len().saturating_sub(LOG_TAIL_LINES)..];
    if tail.is_empty() {
        String::new()
    } else {
        format!(":\n  {}", tail.join("\n  "))
    }
}
