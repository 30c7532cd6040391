//! `xl dump-core <Domain> <filename>`: libxc's core file of the domain
//! (see `xl_toolstack::core_dump`), with xl 4.17's messages: libxc's and
//! libxl's error lines (without their source locations) and
//! `core dump failed (rc=-3)`, status 1. As with libxc, the file is made
//! (mode 0600, truncated) before the domain is read, and what was written
//! stays when the dump fails.

use std::io::BufWriter;
use std::os::unix::fs::OpenOptionsExt;

use super::{Ctx, Exit, Outcome, err, strerror};
use crate::backend;
use crate::cmdtable::Opts;

/// libxl's ERROR_FAIL, which xl prints.
const ERROR_FAIL: i32 = -3;

pub fn dump_core(cx: &Ctx, opts: Opts) -> Outcome {
    let ops = opts.operands();
    let domid = cx.domain(&ops[0])?;
    let (hv, _) = cx.hv()?;
    let file = &ops[1];
    let f = match std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(crate::args::to_os(file))
    {
        Ok(f) => f,
        Err(e) => {
            let errno = e.raw_os_error().unwrap_or(0);
            err(&format!(
                "xc: error: Could not open corefile {file} ({errno} = {}): Internal error\n",
                strerror(&e)
            ));
            return failed(domid, file, &strerror(&e));
        }
    };
    let mut w = BufWriter::with_capacity(1 << 20, f);
    match hv.dump_core(domid, &mut w) {
        Ok(()) => Ok(0),
        Err(e) => {
            let why = match e.errno() {
                Some(errno) => strerror(&std::io::Error::from_raw_os_error(errno)),
                None => backend::chain(&e),
            };
            failed(domid, file, &why)
        }
    }
}

fn failed(domid: u32, file: &str, why: &str) -> Outcome {
    err(&format!(
        "libxl: error: Domain {domid}:Core dumping domain to {file}: {why}\n"
    ));
    err(&format!("core dump failed (rc={ERROR_FAIL})\n"));
    Err(Exit(1))
}
