//! `xl vkb-list`, `vtpm-list` and `channel-list`: a header, then each named
//! domain's devices as libxl lists them.

use super::domains::{connect, find_domain};
use super::{err, options, out};
use crate::cmdtable::Cmd;
use crate::{Status, backend};
use xl_toolstack::{names, vdevlist};

/// How a list command treats a domain it cannot find.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Unknown {
    /// xl's find_domain: the command ends there.
    Ends,
    /// "is an invalid domain identifier", and on to the next one.
    Skipped,
}

/// The common recipe: options, the header, then each domain's rows.
fn list<T>(
    cmd: &'static Cmd,
    args: &[String],
    header: String,
    unknown: Unknown,
    rows: impl Fn(&xenstore::Xs, u32) -> Result<Option<Vec<T>>, xenstore::Error>,
    row: impl Fn(&T) -> String,
) -> Status {
    let opts = match options(cmd, args) {
        Ok(o) => o,
        Err(code) => return code,
    };
    let (host, xs) = match connect(cmd.name) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let hv = host.hv.as_ref();
    out(&header);
    for q in opts.operands() {
        let domid = match unknown {
            Unknown::Ends => match find_domain(hv, &xs, &q) {
                Ok(d) => d,
                Err(code) => return code,
            },
            Unknown::Skipped => match names::qualifier_to_domid(hv, &xs, &q) {
                Ok(Some(d)) => d,
                Ok(None) => {
                    err(&format!("{q} is an invalid domain identifier\n"));
                    continue;
                }
                Err(e) => {
                    err(&format!("xl: {}\n", backend::chain(&e)));
                    continue;
                }
            },
        };
        match rows(&xs, domid) {
            Ok(Some(found)) => out(&found.iter().map(&row).collect::<String>()),
            Ok(None) => {}
            Err(e) => err(&format!("xl: {}\n", backend::chain(&e))),
        }
    }
    0
}

pub fn vkb_list(cmd: &'static Cmd, args: &[String]) -> Status {
    list(
        cmd,
        args,
        vdevlist::vkb_list_header(),
        Unknown::Ends,
        vdevlist::vkbs,
        vdevlist::vkb_row,
    )
}

pub fn vtpm_list(cmd: &'static Cmd, args: &[String]) -> Status {
    list(
        cmd,
        args,
        vdevlist::vtpm_list_header(),
        Unknown::Skipped,
        vdevlist::vtpms,
        vdevlist::vtpm_row,
    )
}

pub fn channel_list(cmd: &'static Cmd, args: &[String]) -> Status {
    list(
        cmd,
        args,
        vdevlist::channel_list_header(),
        Unknown::Ends,
        vdevlist::channels,
        vdevlist::channel_row,
    )
}
