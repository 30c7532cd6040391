//! `xl getenforce`, `setenforce` and `loadpolicy`: FLASK, Xen's XSM
//! module. xl reads no options for these (`-h` is an operand) and returns
//! libxc's -1 on failure, which the shell sees as 255.

use super::{Ctx, Exit, Outcome, err, out, strerror};
use crate::{Status, backend};

/// xl's `return -1`.
const FAILED: Status = 255;

/// The error, then xl's own line (if any), and xl's -1.
fn failed(e: &xl_toolstack::Error, xl_line: &str) -> Outcome {
    err(&format!("xl: {}\n", backend::chain(e)));
    // Without FLASK support in the backend, xl has nothing to add.
    if !matches!(e, xl_toolstack::Error::Unsupported(_)) {
        err(xl_line);
    }
    Err(Exit(FAILED))
}

/// `xl getenforce`: its status is the mode (1 enforcing, 0 permissive).
pub fn getenforce(cx: &Ctx, _args: &[String]) -> Outcome {
    match cx.host()?.hv.flask_getenforce() {
        Ok(Some(true)) => {
            out("Enforcing\n");
            Ok(1)
        }
        Ok(Some(false)) => {
            out("Permissive\n");
            Ok(0)
        }
        Ok(None) => {
            out("Flask XSM Disabled\n");
            Ok(FAILED)
        }
        Err(e) => failed(&e, "Failed to get enforcing mode\n"),
    }
}

/// `xl setenforce 1|0|Enforcing|Permissive`.
pub fn setenforce(cx: &Ctx, args: &[String]) -> Outcome {
    let mode = match args.first().map(String::as_str) {
        Some("1") => true,
        Some("0") => false,
        Some(s) if s.eq_ignore_ascii_case("enforcing") => true,
        Some(s) if s.eq_ignore_ascii_case("permissive") => false,
        _ => return Err(cx.help(2)),
    };
    match cx.host()?.hv.flask_setenforce(mode) {
        Ok(Some(())) => Ok(0),
        Ok(None) => disabled(),
        Err(e) => failed(&e, "error occurred while setting enforcing mode (-1)\n"),
    }
}

fn disabled() -> Outcome {
    err("Flask XSM disabled\n");
    Err(Exit(FAILED))
}

/// `xl loadpolicy FILE`.
pub fn loadpolicy(cx: &Ctx, args: &[String]) -> Outcome {
    let Some(file) = args.first() else {
        return Err(cx.help(2));
    };
    let host = cx.host()?;
    let policy = read_policy(file)?;
    match host.hv.flask_load_policy(&policy) {
        Ok(Some(())) => {
            out("Successfully loaded policy.\n");
            Ok(0)
        }
        Ok(None) => disabled(),
        // xl turns libxc's -1 into errno 1 before printing it.
        Err(e) => failed(
            &e,
            "Unable to load new Flask policy: Operation not permitted\n",
        ),
    }
}

/// The policy file's bytes, with xl's messages for a file that cannot be
/// opened or read.
fn read_policy(file: &str) -> Result<Vec<u8>, Exit> {
    use std::io::Read;
    let mut f = std::fs::File::open(file).map_err(|e| {
        err(&format!(
            "Error occurred opening policy file '{file}': {}\n",
            strerror(&e)
        ));
        Exit(FAILED)
    })?;
    let mut policy = Vec::new();
    f.read_to_end(&mut policy).map_err(|e| {
        err(&format!(
            "Unable to read new Flask policy file: {}\n",
            strerror(&e)
        ));
        Exit(FAILED)
    })?;
    Ok(policy)
}
