//! `xl psr-*`: Intel's platform shared resources (cache monitoring, cache
//! and memory-bandwidth allocation), printed as xl 4.17 prints them. On a
//! host without them, Xen's refusals come out as libxl's messages with
//! xl's exit statuses (libxl's ERROR_FAIL, -3, is status 253).

use xl_toolstack::Hypervisor;
use xl_toolstack::psr::{self, AllocFeature, AllocInfo, PsrError, PsrType};

use super::{Ctx, Exit, Outcome, err, out};
use crate::cmdtable::Opts;

/// libxl's ERROR_FAIL as xl's exit status.
const ERROR_FAIL: i32 = 253;
/// xl's `return -1` as an exit status.
const MINUS_ONE: i32 = 255;

/// libxl's own log line for a failure it logs.
fn log(e: &PsrError) {
    if e.logged() {
        err(&format!("libxl: error: {e}\n"));
    }
}

fn name_of(cx: &Ctx, domid: u32) -> Result<String, Exit> {
    let (_, xs) = cx.hv()?;
    Ok(xl_toolstack::names::domid_to_name(xs, domid)
        .ok()
        .flatten()
        .map_or_else(|| "(null)".into(), |n| super::sanitize(&n)))
}

/// C's `%#llx`: no prefix for zero.
fn alt_hex(v: u64) -> String {
    if v == 0 {
        "0".into()
    } else {
        format!("{v:#x}")
    }
}

/// `xl psr-hwinfo [-m] [-a] [-b]`.
pub fn hwinfo(cx: &Ctx, opts: Opts) -> Outcome {
    let (cmt, cat, mba) = (opts.flag('m'), opts.flag('a'), opts.flag('b'));
    let all = !(cmt || cat || mba);
    let hv = cx.host()?.hv.as_ref();
    let mut rc = 0;
    if all || cmt {
        rc = cmt_hwinfo(hv);
    }
    if rc == 0 && (all || cat) {
        rc = l3_cat_hwinfo(hv);
    }
    // L2 CAT and MBA do not depend on the others, as in xl.
    if all || cat {
        rc = l2_cat_hwinfo(hv);
    }
    if all || mba {
        rc = mba_hwinfo(hv);
    }
    Ok(rc)
}

const MONITOR_TYPES: [(&str, u32); 3] = [
    ("cache-occupancy", 1),
    ("total-mem-bandwidth", 2),
    ("local-mem-bandwidth", 3),
];

fn cmt_hwinfo(hv: &dyn Hypervisor) -> i32 {
    out("Cache Monitoring Technology (CMT):\n");
    let enabled = psr::cmt_enabled(hv);
    out(&format!("{:<16}: {}\n", "Enabled", u8::from(enabled)));
    if !enabled {
        return 0;
    }
    let total = match psr::cmt_total_rmid(hv) {
        Ok(t) => t,
        Err(e) => {
            log(&e);
            err("Failed to get max RMID value\n");
            return ERROR_FAIL;
        }
    };
    out(&format!("{:<16}: {total}\n", "Total RMID"));
    out("Supported monitor types:\n");
    for (name, ty) in MONITOR_TYPES {
        if supported(hv, ty) {
            out(&format!("{name}\n"));
        }
    }
    0
}

/// libxl_psr_cmt_type_supported: a failure is logged and means no.
fn supported(hv: &dyn Hypervisor, ty: u32) -> bool {
    psr::cmt_type_supported(hv, ty).unwrap_or_else(|e| {
        log(&e);
        false
    })
}

/// libxl_psr_get_hw_info; a failure is logged if libxl logs it.
fn hw_info(hv: &dyn Hypervisor, f: AllocFeature) -> Result<Vec<(u32, AllocInfo)>, i32> {
    psr::hw_info(hv, f).map_err(|e| {
        log(&e);
        ERROR_FAIL
    })
}

fn l3_cat_hwinfo(hv: &dyn Hypervisor) -> i32 {
    let info = match hw_info(hv, AllocFeature::L3Cat) {
        Ok(i) => i,
        Err(rc) => return rc,
    };
    out("Cache Allocation Technology (CAT):\n");
    for (id, i) in info {
        let size = match psr::cmt_l3_cache_size(hv, id) {
            Ok(s) => s,
            Err(e) => {
                log(&e);
                err(&format!("Failed to get l3 cache size for socket:{id}\n"));
                return ERROR_FAIL;
            }
        };
        out(&format!("{:<16}: {id}\n", "Socket ID"));
        out(&format!("{:<16}: {size}KB\n", "L3 Cache"));
        let cdp = if i.flag { "Enabled" } else { "Disabled" };
        out(&format!("{:<16}: {cdp}\n", "CDP Status"));
        out(&format!("{:<16}: {}\n", "Maximum COS", i.cos_max));
        out(&format!("{:<16}: {}\n", "CBM length", i.len_or_max));
        out(&format!(
            "{:<16}: {}\n",
            "Default CBM",
            alt_hex(default_cbm(i.len_or_max))
        ));
    }
    0
}

/// Every bit of a capacity bitmask of `len` bits.
fn default_cbm(len: u32) -> u64 {
    1u64.checked_shl(len).unwrap_or(0).wrapping_sub(1)
}

fn l2_cat_hwinfo(hv: &dyn Hypervisor) -> i32 {
    let info = match hw_info(hv, AllocFeature::L2Cat) {
        Ok(i) => i,
        Err(rc) => return rc,
    };
    out("Cache Allocation Technology (CAT): L2\n");
    for (id, i) in info {
        out(&format!("{:<16}: {id}\n", "Socket ID"));
        out(&format!("{:<16}: {}\n", "Maximum COS", i.cos_max));
        out(&format!("{:<16}: {}\n", "CBM length", i.len_or_max));
        out(&format!(
            "{:<16}: {}\n",
            "Default CBM",
            alt_hex(default_cbm(i.len_or_max))
        ));
    }
    0
}

fn mba_hwinfo(hv: &dyn Hypervisor) -> i32 {
    let info = match hw_info(hv, AllocFeature::Mba) {
        Ok(i) => i,
        Err(rc) => return rc,
    };
    out("Memory Bandwidth Allocation (MBA):\n");
    for (id, i) in info {
        let linear = if i.flag { "Enabled" } else { "Disabled" };
        out(&format!(
            "Socket ID               : {id}\nLinear Mode             : {linear}\nMaximum COS             : {}\nMaximum Throttling Value: {}\nDefault Throttling Value: 0\n",
            i.cos_max, i.len_or_max
        ));
    }
    0
}

/// `xl psr-cmt-attach DOMAIN` / `psr-cmt-detach DOMAIN`.
pub fn cmt_attach(cx: &Ctx, opts: Opts) -> Outcome {
    let domid = cx.domain(&opts.operands()[0])?;
    let attach = cx.cmd.name == "psr-cmt-attach";
    match psr::cmt_attach(cx.host()?.hv.as_ref(), domid, attach) {
        Ok(()) => Ok(0),
        Err(e) => {
            log(&e);
            Ok(ERROR_FAIL)
        }
    }
}

/// `xl psr-cmt-show TYPE [DOMAIN]`.
pub fn cmt_show(cx: &Ctx, opts: Opts) -> Outcome {
    let ops = opts.operands();
    let Some(&(_, ty)) = MONITOR_TYPES.iter().find(|(n, _)| *n == ops[0]) else {
        return Err(cx.help(2));
    };
    let domid = match ops.len() {
        1 => None,
        2 => Some(cx.domain(&ops[1])?),
        _ => return Err(cx.help(2)),
    };
    let hv = cx.host()?.hv.as_ref();
    if !psr::cmt_enabled(hv) {
        err("CMT is disabled in the system\n");
        return Ok(MINUS_ONE);
    }
    if !supported(hv, ty) {
        let name = ["cache_occupancy", "total_mem_count", "local_mem_count"][ty as usize - 1];
        err(&format!(
            "Monitor type '{name}' is not supported in the system\n"
        ));
        return Ok(MINUS_ONE);
    }
    cmt_table(hv, ty, domid)
}

/// The monitoring table: sockets, the L3 size for occupancy, and the
/// attached domains. Reading a domain's samples needs MSR access through
/// XENPF_resource_op, which this xl does not do yet.
fn cmt_table(hv: &dyn Hypervisor, ty: u32, domid: Option<u32>) -> Outcome {
    let sockets = match psr::online_sockets(hv) {
        Ok(s) => s,
        Err(e) => {
            err(&format!("Failed getting available sockets, rc: -3 ({e})\n"));
            return Ok(ERROR_FAIL);
        }
    };
    let total = match psr::cmt_total_rmid(hv) {
        Ok(t) => t,
        Err(e) => {
            log(&e);
            err("Failed to get max RMID value\n");
            return Ok(ERROR_FAIL);
        }
    };
    out(&format!("Total RMID: {total}\n"));
    let mut head = format!("{:<40} {:>5}", "Name", "ID");
    for s in &sockets {
        head.push_str(&format!("{:>14} {s}", "Socket"));
    }
    out(&format!("{head}\n"));
    if ty == 1 {
        let mut line = format!("{:<46}", "Total L3 Cache Size");
        for &s in &sockets {
            match psr::cmt_l3_cache_size(hv, s) {
                Ok(size) => line.push_str(&format!("{size:>13} KB")),
                Err(e) => {
                    out(&line);
                    log(&e);
                    err(&format!(
                        "Failed to get system l3 cache size for socket:{s}\n"
                    ));
                    return Ok(ERROR_FAIL);
                }
            }
        }
        out(&format!("{line}\n"));
    }
    let domids = match domid {
        Some(d) => vec![d],
        None => hv
            .domains()
            .map_err(|e| super::xl_error(&e))?
            .iter()
            .map(|d| d.domid)
            .collect(),
    };
    if domids.iter().any(|d| psr::cmt_domain_attached(hv, *d)) {
        return super::fail("xl: reading CMT samples (XENPF_resource_op) is not implemented yet\n");
    }
    Ok(0)
}

/// xl's `-s` socket list: comma-separated numbers and ranges, each set
/// in a map of `bits` sockets (bits beyond it are dropped, as libxl's
/// bitmap does); a malformed entry counts from what strtoul read.
fn socket_list(values: &[&str], bits: u32) -> Vec<u32> {
    let mut set = std::collections::BTreeSet::new();
    for v in values {
        for part in v.trim().split(',') {
            let (a, b) = range(part);
            for s in a..=b.min(u64::from(bits.saturating_sub(1))) {
                set.insert(s as u32);
            }
        }
    }
    set.into_iter().collect()
}

/// xl's parse_range, its return ignored as psr-cat-set does.
fn range(s: &str) -> (u64, u64) {
    let (a, used, _) = xl_config::value::strtoul(s.as_bytes(), 10);
    let rest = &s[used..];
    match rest.strip_prefix('-') {
        Some(b) if used > 0 => {
            let (b, used_b, _) = xl_config::value::strtoul(b.as_bytes(), 10);
            (a, if used_b > 0 { b } else { a })
        }
        _ => (a, a),
    }
}

/// The sockets a set command works on: the `-s` list, or every socket of
/// the host's bitmap (libxl_bitmap_set_any).
fn target_sockets(hv: &dyn Hypervisor, opts: &Opts) -> Vec<u32> {
    let n = psr::physical_sockets(hv).unwrap_or(0);
    let bits = n.div_ceil(8) * 8;
    let list = socket_list(&opts.values('s'), bits);
    if list.is_empty() {
        (0..bits).collect()
    } else {
        list
    }
}

/// `xl psr-cat-set [-s SOCKETS] [-l LEVEL] [-c|-d] DOMAIN CBM`.
pub fn cat_set(cx: &Ctx, opts: Opts) -> Outcome {
    let lvl = opts.value('l').map_or(3, atoi);
    let ty = match lvl {
        2 => PsrType::L2Cbm,
        3 => match (opts.flag('c'), opts.flag('d')) {
            (true, true) => return super::fail("Cannot handle -c and -d at the same time\n"),
            (false, true) => PsrType::L3Data,
            (true, false) => PsrType::L3Code,
            (false, false) => PsrType::L3Cbm,
        },
        _ => return super::fail(format!("Input lvl {lvl} is wrong\n")),
    };
    set_value(cx, &opts, ty, 2)
}

/// `xl psr-mba-set [-s SOCKETS] DOMAIN THRTL`.
pub fn mba_set(cx: &Ctx, opts: Opts) -> Outcome {
    set_value(cx, &opts, PsrType::MbaThrtl, 1)
}

/// Both set commands after their options: two operands (else the help
/// and `wrong_count`), the domain, the value as strtoll reads it.
fn set_value(cx: &Ctx, opts: &Opts, ty: PsrType, wrong_count: i32) -> Outcome {
    let ops = opts.operands();
    if ops.len() != 2 {
        return Err(cx.help(wrong_count));
    }
    let domid = cx.domain(&ops[0])?;
    let value = xl_config::value::strtol(ops[1].as_bytes(), 0).0 as u64;
    let hv = cx.host()?.hv.as_ref();
    let sockets = target_sockets(hv, opts);
    match psr::set_val(hv, domid, ty, &sockets, value) {
        Ok(()) => Ok(0),
        Err(errors) => {
            errors.iter().for_each(log);
            Ok(ERROR_FAIL)
        }
    }
}

/// C's atoi.
fn atoi(s: &str) -> i64 {
    xl_config::value::strtol(s.as_bytes(), 10).0 as i32 as i64
}

/// `xl psr-cat-show [-l LEVEL] [DOMAIN]`.
pub fn cat_show(cx: &Ctx, opts: Opts) -> Outcome {
    let lvl = opts.value('l').map_or(3, atoi);
    let domid = show_domain(cx, &opts)?;
    if lvl != 2 && lvl != 3 {
        return super::fail(format!("Input lvl {lvl} is wrong\n"));
    }
    let feature = if lvl == 2 {
        AllocFeature::L2Cat
    } else {
        AllocFeature::L3Cat
    };
    value_show(cx, domid, feature)
}

/// `xl psr-mba-show [DOMAIN]`.
pub fn mba_show(cx: &Ctx, opts: Opts) -> Outcome {
    let domid = show_domain(cx, &opts)?;
    value_show(cx, domid, AllocFeature::Mba)
}

/// The show commands' optional domain; more than one operand is the
/// help and status 2.
fn show_domain(cx: &Ctx, opts: &Opts) -> Result<Option<u32>, Exit> {
    let ops = opts.operands();
    match ops.len() {
        0 => Ok(None),
        1 => Ok(Some(cx.domain(&ops[0])?)),
        _ => Err(cx.help(2)),
    }
}

/// xl's psr_val_show: each socket's defaults and every domain's values.
fn value_show(cx: &Ctx, domid: Option<u32>, feature: AllocFeature) -> Outcome {
    let hv = cx.host()?.hv.as_ref();
    let info = match psr::hw_info(hv, feature) {
        Ok(i) => i,
        Err(e) => {
            log(&e);
            err("Failed to get info\n");
            return Ok(ERROR_FAIL);
        }
    };
    for (socket, i) in info {
        if let Some(rc) = socket_header(hv, socket, &i, feature) {
            return Ok(rc);
        }
        let domids = match domid {
            Some(d) => vec![d],
            None => match hv.domains() {
                Ok(list) => list.iter().map(|d| d.domid).collect(),
                Err(_) => {
                    err("Failed to get domain list for value display\n");
                    return Ok(1);
                }
            },
        };
        for d in domids {
            domain_values(cx, hv, d, socket, &i, feature)?;
        }
    }
    Ok(0)
}

/// A socket's lines before its domains; Some(status) when it fails.
fn socket_header(
    hv: &dyn Hypervisor,
    socket: u32,
    i: &AllocInfo,
    feature: AllocFeature,
) -> Option<i32> {
    out(&format!("{:<16}: {socket}\n", "Socket ID"));
    match feature {
        AllocFeature::L3Cat | AllocFeature::L2Cat => {
            if feature == AllocFeature::L3Cat {
                match psr::cmt_l3_cache_size(hv, socket) {
                    Ok(size) => out(&format!("{:<16}: {size}KB\n", "L3 Cache")),
                    Err(e) => {
                        log(&e);
                        err(&format!(
                            "Failed to get l3 cache size for socket:{socket}\n"
                        ));
                        return Some(MINUS_ONE);
                    }
                }
            }
            out(&format!(
                "{:<16}: {}\n",
                "Default CBM",
                alt_hex(default_cbm(i.len_or_max))
            ));
            if i.flag {
                out(&format!(
                    "{:>5}{:>25}{:>16}{:>16}\n",
                    "ID", "NAME", "CBM (code)", "CBM (data)"
                ));
            } else {
                out(&format!("{:>5}{:>25}{:>16}\n", "ID", "NAME", "CBM"));
            }
        }
        AllocFeature::Mba => {
            out(&format!("{:<16}: 0\n", "Default THRTL"));
            out(&format!("{:>5}{:>25}{:>16}\n", "ID", "NAME", "THRTL"));
        }
    }
    None
}

/// One domain's row: its values of the feature on `socket`.
fn domain_values(
    cx: &Ctx,
    hv: &dyn Hypervisor,
    domid: u32,
    socket: u32,
    i: &AllocInfo,
    feature: AllocFeature,
) -> Result<(), Exit> {
    let mut line = format!("{domid:>5}{:>25}", name_of(cx, domid)?);
    let types: &[PsrType] = match feature {
        AllocFeature::L3Cat if i.flag => &[PsrType::L3Code, PsrType::L3Data],
        AllocFeature::L3Cat => &[PsrType::L3Cbm],
        AllocFeature::L2Cat => &[PsrType::L2Cbm],
        AllocFeature::Mba => &[PsrType::MbaThrtl],
    };
    for &ty in types {
        match psr::get_val(hv, domid, ty, socket) {
            Ok(v) if ty == PsrType::MbaThrtl && i.flag => line.push_str(&format!("{v:>16}")),
            Ok(v) => line.push_str(&format!("{:>16}", alt_hex(v))),
            Err(e) => {
                out(&line);
                line.clear();
                log(&e);
                line.push_str(&format!("{:>16}", "error"));
            }
        }
    }
    out(&format!("{line}\n"));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn socket_lists_as_xl_reads_them() {
        assert_eq!(socket_list(&["0"], 8), vec![0]);
        assert_eq!(socket_list(&["1-3"], 8), vec![1, 2, 3]);
        assert_eq!(socket_list(&[" 0,2-3 "], 8), vec![0, 2, 3]);
        // Beyond the bitmap: dropped; a huge range stays bounded.
        assert_eq!(socket_list(&["6-4000000000"], 8), vec![6, 7]);
        // Junk: what strtoul read (0).
        assert_eq!(socket_list(&["x"], 8), vec![0]);
    }

    #[test]
    fn c_hex_of_zero_has_no_prefix() {
        assert_eq!(alt_hex(0), "0");
        assert_eq!(alt_hex(0xff), "0xff");
        assert_eq!(default_cbm(11), 0x7ff);
        assert_eq!(default_cbm(64), u64::MAX);
    }
}
