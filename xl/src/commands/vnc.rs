//! `xl vncviewer [-a] DOMAIN`: becomes `vncviewer HOST:DISPLAY` for the
//! domain's VNC server, as libxl_vncviewer_exec does.

use std::io::{Seek, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::process::CommandExt;

use xenstore::XsOps;

use super::{Ctx, Exit, Outcome, err, fail, strerror};
use crate::cmdtable::Opts;

pub fn vncviewer(cx: &Ctx, opts: Opts) -> Outcome {
    let autopass = opts.flag('a');
    let domid = cx.domain(&opts.operands()[0])?;
    let (_, xs) = cx.connect()?;
    let console = format!("/local/domain/{domid}/console");
    let Ok(Some(port)) = xs.try_read(&format!("{console}/vnc-port")) else {
        return fail(format!(
            "libxl: error: Domain {domid}:Cannot get vnc-port\n"
        ));
    };
    let display = xl_config::value::strtol(port.as_bytes(), 10).0 as i32 - 5900;
    let listen = xs
        .try_read(&format!("{console}/vnc-listen"))
        .ok()
        .flatten()
        .unwrap_or_else(|| "localhost".into());
    let pass = if autopass {
        xs.try_read(&format!("{console}/vnc-pass")).ok().flatten()
    } else {
        None
    };
    let bin = std::env::var_os("VNCVIEWER").unwrap_or_else(|| "vncviewer".into());
    let mut viewer = std::process::Command::new(&bin);
    viewer.arg(format!("{listen}:{display}"));
    if let Some(pass) = pass {
        // The password reaches the viewer on its stdin, from a file no
        // other process can open (unlinked before it is written).
        match password_file(&pass) {
            Ok(f) => {
                viewer.arg("-autopass").stdin(f);
            }
            Err(e) => {
                return fail(format!(
                    "libxl: error: Domain {domid}:vnc password file: {}\n",
                    strerror(&e)
                ));
            }
        }
    }
    let e = viewer.exec();
    err(&format!(
        "libxl: cannot execute {}: {}\n",
        bin.to_string_lossy(),
        strerror(&e)
    ));
    Err(Exit(255))
}

fn password_file(pass: &str) -> std::io::Result<std::fs::File> {
    let dir = std::env::temp_dir();
    for _ in 0..16 {
        let path = dir.join(format!("vncautopass.{}", xl_config::random_uuid().simple()));
        let created = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path);
        let mut f = match created {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        };
        std::fs::remove_file(&path)?;
        f.write_all(pass.as_bytes())?;
        f.rewind()?;
        return Ok(f);
    }
    Err(std::io::ErrorKind::AlreadyExists.into())
}
