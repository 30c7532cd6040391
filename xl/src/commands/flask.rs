//! `xl getenforce`, `setenforce` and `loadpolicy`: FLASK, Xen's XSM
//! module. xl reads no options for these (`-h` is an operand) and returns
//! libxc's -1 on failure, which the shell sees as 255.

use super::{err, out, strerror};
use crate::cmdtable::{self, Cmd};
use crate::{Status, backend};

/// xl's `return -1`.
const FAILED: Status = 255;

fn xl_err(e: &xl_toolstack::Error) -> Status {
    err(&format!("xl: {}\n", backend::chain(e)));
    FAILED
}

/// `xl getenforce`: its status is the mode (1 enforcing, 0 permissive).
pub fn getenforce(cmd: &'static Cmd) -> Status {
    let host = match backend::open(cmd.name) {
        Ok(h) => h,
        Err(code) => return code,
    };
    match host.hv.flask_getenforce() {
        Ok(Some(true)) => {
            out("Enforcing\n");
            1
        }
        Ok(Some(false)) => {
            out("Permissive\n");
            0
        }
        Ok(None) => {
            out("Flask XSM Disabled\n");
            FAILED
        }
        Err(e @ xl_toolstack::Error::Unsupported(_)) => xl_err(&e),
        Err(e) => {
            err(&format!("xl: {}\n", backend::chain(&e)));
            err("Failed to get enforcing mode\n");
            FAILED
        }
    }
}

/// `xl setenforce 1|0|Enforcing|Permissive`.
pub fn setenforce(cmd: &'static Cmd, args: &[String]) -> Status {
    let mode = match args.first().map(String::as_str) {
        Some("1") => true,
        Some("0") => false,
        Some(s) if s.eq_ignore_ascii_case("enforcing") => true,
        Some(s) if s.eq_ignore_ascii_case("permissive") => false,
        _ => {
            out(&cmdtable::help_text(Some(cmd.name)));
            return 2;
        }
    };
    let host = match backend::open(cmd.name) {
        Ok(h) => h,
        Err(code) => return code,
    };
    match host.hv.flask_setenforce(mode) {
        Ok(Some(())) => 0,
        Ok(None) => {
            err("Flask XSM disabled\n");
            FAILED
        }
        Err(e @ xl_toolstack::Error::Unsupported(_)) => xl_err(&e),
        Err(e) => {
            err(&format!("xl: {}\n", backend::chain(&e)));
            err("error occurred while setting enforcing mode (-1)\n");
            FAILED
        }
    }
}

/// `xl loadpolicy FILE`.
pub fn loadpolicy(cmd: &'static Cmd, args: &[String]) -> Status {
    let Some(file) = args.first() else {
        out(&cmdtable::help_text(Some(cmd.name)));
        return 2;
    };
    let host = match backend::open(cmd.name) {
        Ok(h) => h,
        Err(code) => return code,
    };
    let policy = match read_policy(file) {
        Ok(p) => p,
        Err(code) => return code,
    };
    match host.hv.flask_load_policy(&policy) {
        Ok(Some(())) => {
            out("Successfully loaded policy.\n");
            0
        }
        Ok(None) => {
            err("Flask XSM disabled\n");
            FAILED
        }
        Err(e @ xl_toolstack::Error::Unsupported(_)) => xl_err(&e),
        Err(e) => {
            err(&format!("xl: {}\n", backend::chain(&e)));
            // xl turns libxc's -1 into errno 1 before printing it.
            err("Unable to load new Flask policy: Operation not permitted\n");
            FAILED
        }
    }
}

/// The policy file's bytes, with xl's messages for a file that cannot be
/// opened or read.
fn read_policy(file: &str) -> Result<Vec<u8>, Status> {
    use std::io::Read;
    let mut f = std::fs::File::open(file).map_err(|e| {
        err(&format!(
            "Error occurred opening policy file '{file}': {}\n",
            strerror(&e)
        ));
        FAILED
    })?;
    let mut policy = Vec::new();
    f.read_to_end(&mut policy).map_err(|e| {
        err(&format!(
            "Unable to read new Flask policy file: {}\n",
            strerror(&e)
        ));
        FAILED
    })?;
    Ok(policy)
}
