//! `xl devd [-F] [-p PIDFILE]`: the device daemon a driver domain runs
//! (see [`xl_toolstack::devd`]). Without `-F` it leaves a daemon behind,
//! as xl's do_daemonize: output in `<log dir>/xldevd.log` (the previous
//! logs rotated as libxl rotates them), working directory `/`, and the
//! daemon's pid in PIDFILE.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use xl_toolstack::devd::{self, Devd};

use super::{Ctx, Exit, Outcome, err, fail};
use crate::cmdtable::Opts;

/// The first argument that makes `xl` the daemon itself:
/// `xl --xl-devd [PIDFILE]`.
pub const DAEMON_ARG: &str = "--xl-devd";

/// How many old logs libxl keeps (`xldevd.log.1` .. `.10`).
const LOG_GENERATIONS: u32 = 10;

pub fn devd(cx: &Ctx, opts: Opts) -> Outcome {
    let (host, xs) = cx.connect()?;
    if opts.flag('F') {
        return serve(host, xs);
    }
    let log = open_log(&host.paths.log).map_err(|e| {
        err(&format!(
            "xl: cannot open the devd log in {}: {e}\n",
            host.paths.log.display()
        ))
    });
    let log = match log {
        Ok(f) => f,
        Err(()) => return Err(Exit(1)),
    };
    let spawned = std::env::current_exe().and_then(|exe| {
        use std::os::unix::process::CommandExt;
        let mut cmd = Command::new(exe);
        cmd.arg(DAEMON_ARG);
        if let Some(p) = opts.value('p') {
            cmd.arg(p);
        }
        cmd.current_dir("/")
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .process_group(0)
            .spawn()
    });
    match spawned {
        Ok(_) => Ok(0),
        Err(e) => fail(format!("xl: cannot start the devd daemon: {e}\n")),
    }
}

/// The daemon's side (see [`DAEMON_ARG`]): the pidfile, then the watch.
pub fn daemon_main(args: &[String]) -> Outcome {
    if let Some(pidfile) = args.first() {
        write_pidfile(Path::new(pidfile))?;
    }
    let (host, xs) = super::ctx::connect("devd")?;
    serve(&host, &xs)
}

/// Handle devices until xenstore fails (libxl_device_events_handler).
fn serve(host: &xl_toolstack::Host, xs: &xenstore::Xs) -> Outcome {
    let log = |m: &str| err(&format!("{m}\n"));
    let me = match devd::own_domid(xs) {
        Ok(id) => id,
        Err(e) => {
            err(&format!("libxl: error: {e}\n"));
            return Err(Exit(1));
        }
    };
    let Err(e) = Devd::new(host, xs, me, &log).run();
    fail(format!("xl: devd: {}\n", crate::backend::chain(&e)))
}

/// xl's pidfile: created if need be (mode 0600), the pid and a newline
/// written over its start; failures end the daemon with perror's words.
fn write_pidfile(path: &Path) -> Result<(), Exit> {
    use std::os::unix::fs::OpenOptionsExt;
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(path);
    let mut file = match file {
        Ok(f) => f,
        Err(e) => return fail(format!("Unable to open pidfile: {}\n", super::strerror(&e))),
    };
    if let Err(e) = file.write_all(format!("{}\n", std::process::id()).as_bytes()) {
        return fail(format!("Writing pid: {}\n", super::strerror(&e)));
    }
    Ok(())
}

/// libxl_create_logfile: an existing `xldevd.log` becomes `.1`, `.1`
/// becomes `.2` and so on, the tenth dropped; then the log is opened for
/// appending.
fn open_log(dir: &Path) -> std::io::Result<fs::File> {
    fs::create_dir_all(dir)?;
    let name = |n: u32| {
        if n == 0 {
            dir.join("xldevd.log")
        } else {
            dir.join(format!("xldevd.log.{n}"))
        }
    };
    if name(0).exists() {
        ignore_missing(fs::remove_file(name(LOG_GENERATIONS)))?;
        for n in (0..LOG_GENERATIONS).rev() {
            ignore_missing(fs::rename(name(n), name(n + 1)))?;
        }
    }
    OpenOptions::new().create(true).append(true).open(name(0))
}

fn ignore_missing(r: std::io::Result<()>) -> std::io::Result<()> {
    match r {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logs_rotate_as_libxl_rotates_them() {
        let dir = tempfile::tempdir().unwrap();
        let read = |n: &str| fs::read_to_string(dir.path().join(n)).ok();
        for run in 0..12 {
            let mut f = open_log(dir.path()).unwrap();
            write!(f, "run {run}").unwrap();
        }
        assert_eq!(read("xldevd.log").as_deref(), Some("run 11"));
        assert_eq!(read("xldevd.log.1").as_deref(), Some("run 10"));
        assert_eq!(read("xldevd.log.10").as_deref(), Some("run 1"));
        assert_eq!(read("xldevd.log.11"), None);
    }

    #[test]
    fn pidfile_holds_the_pid_over_what_was_there() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("pid");
        fs::write(&p, "1234567890\n").unwrap();
        write_pidfile(&p).unwrap();
        let text = fs::read_to_string(&p).unwrap();
        let pid = format!("{}\n", std::process::id());
        assert!(text.starts_with(&pid), "{text:?}");
        assert_eq!(
            write_pidfile(&dir.path().join("no/such/dir/pid")),
            Err(Exit(1))
        );
    }
}
