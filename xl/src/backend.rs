//! Which hypervisor backend a command talks to.
//!
//! `XL_BACKEND=xen` (default) opens the real hypervisor; `none` refuses,
//! for tests of the parts that need no backend. Failing to reach Xen gives
//! one actionable message instead of an errno.

use xl_toolstack::Hypervisor;
use xl_toolstack::xen::XenHypervisor;

use crate::Status;
use crate::commands::{err, no_backend};

pub fn open(command: &str) -> Result<Box<dyn Hypervisor>, Status> {
    match std::env::var("XL_BACKEND").as_deref() {
        Ok("none") => Err(no_backend(command)),
        Ok("xen") | Err(_) => match XenHypervisor::open() {
            Ok(x) => Ok(Box::new(x)),
            Err(e) => {
                err(&format!("xl: {}\n", chain(&e)));
                if let Some(h) = e.hint() {
                    err(&format!("xl: {h}\n"));
                }
                Err(1)
            }
        },
        Ok(other) => {
            err(&format!("xl: unknown XL_BACKEND `{other}' (use xen)\n"));
            Err(1)
        }
    }
}

/// An error and its causes on one line, as "a: b: c".
pub fn chain(e: &dyn std::error::Error) -> String {
    // io::Error appends " (os error N)": users want strerror's text only.
    let clean = |m: String| m.split(" (os error").next().unwrap_or_default().to_string();
    let mut s = clean(e.to_string());
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&clean(c.to_string()));
        cur = c.source();
    }
    s
}
