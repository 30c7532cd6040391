//! Host-level commands: dmesg, info.

use super::{err, options, out_bytes};
use crate::cmdtable::Cmd;
use crate::{Status, backend};

pub fn dmesg(cmd: &'static Cmd, args: &[String]) -> Status {
    let opts = match options(cmd, args) {
        Ok(o) => o,
        Err(code) => return code,
    };
    let hv = match backend::open(cmd.name) {
        Ok(h) => h,
        Err(code) => return code,
    };
    match hv.dmesg(opts.flag('c')) {
        Ok(bytes) => {
            out_bytes(&bytes);
            0
        }
        Err(e) => {
            err(&format!(
                "xl: reading the hypervisor console failed: {}\n",
                backend::chain(&e)
            ));
            1
        }
    }
}
