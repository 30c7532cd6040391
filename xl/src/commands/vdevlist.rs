//! `xl vkb-list`, `vtpm-list` and `channel-list`: a header, then each named
//! domain's devices as libxl lists them.

use super::{Ctx, Outcome, err, out};
use crate::backend;
use crate::cmdtable::Opts;
use xl_toolstack::{names, vdevlist};

/// How a list command treats a domain it cannot find.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Unknown {
    /// xl's find_domain: the command ends there.
    Ends,
    /// "is an invalid domain identifier", and on to the next one.
    Skipped,
}

/// The common recipe of the device lists: the header, then each domain's
/// rows.
pub(super) fn list<T>(
    cx: &Ctx,
    opts: Opts,
    header: String,
    unknown: Unknown,
    rows: impl Fn(&xenstore::Xs, u32) -> Result<Option<Vec<T>>, xenstore::Error>,
    row: impl Fn(&T) -> String,
) -> Outcome {
    let (hv, xs) = cx.hv()?;
    out(&header);
    for q in opts.operands() {
        let domid = match unknown {
            Unknown::Ends => cx.domain(&q)?,
            Unknown::Skipped => match names::qualifier_to_domid(hv, xs, &q) {
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
        match rows(xs, domid) {
            Ok(Some(found)) => out(&found.iter().map(&row).collect::<String>()),
            Ok(None) => {}
            Err(e) => err(&format!("xl: {}\n", backend::chain(&e))),
        }
    }
    Ok(0)
}

pub fn vkb_list(cx: &Ctx, opts: Opts) -> Outcome {
    list(
        cx,
        opts,
        vdevlist::vkb_list_header(),
        Unknown::Ends,
        vdevlist::vkbs,
        vdevlist::vkb_row,
    )
}

pub fn vtpm_list(cx: &Ctx, opts: Opts) -> Outcome {
    list(
        cx,
        opts,
        vdevlist::vtpm_list_header(),
        Unknown::Skipped,
        vdevlist::vtpms,
        vdevlist::vtpm_row,
    )
}

pub fn channel_list(cx: &Ctx, opts: Opts) -> Outcome {
    list(
        cx,
        opts,
        vdevlist::channel_list_header(),
        Unknown::Ends,
        vdevlist::channels,
        vdevlist::channel_row,
    )
}
