//! `xl sched-credit` and `xl sched-credit2`: show and set a domain's weight
//! and cap, and a cpupool's scheduler parameters.

use xenstore::Xs;
use xl_toolstack::{Hypervisor, SchedParams, names};

use super::{Ctx, Exit, Outcome, err, fail, out, sanitize};
use crate::backend;
use crate::cmdtable::Opts;

/// libxl's default for "leave unchanged" (LIBXL_DOMAIN_SCHED_PARAM_*_DEFAULT).
const UNCHANGED: i32 = -1;
/// XEN_SYSCTL_SCHED_RATELIMIT_{MIN,MAX}, XEN_SYSCTL_CSCHED_TSLICE_{MIN,MAX},
/// XEN_SYSCTL_CSCHED_MGR_DLY_MAX_US.
const RATELIMIT: (u32, u32) = (100, 500_000);
const TSLICE: (u32, u32) = (1, 1000);
const MIGR_DELAY_MAX: u32 = 100_000;

/// `strtol(optarg, NULL, 10)` kept in an int.
fn int_arg(s: &str) -> i32 {
    xl_config::value::strtol(s.as_bytes(), 10).0 as i32
}

fn xl_err(e: &dyn std::error::Error) {
    err(&format!("xl: {}\n", backend::chain(e)));
}

/// The scheduler of the cpupool a domain is in (libxl__domain_scheduler).
pub(super) fn domain_scheduler(hv: &dyn Hypervisor, domid: u32) -> Option<String> {
    let pool = hv.domain(domid).ok()??.cpupool;
    hv.cpupools()
        .ok()?
        .into_iter()
        .find(|p| p.poolid == pool)
        .map(|p| p.sched)
}

/// libxl_domain_sched_params_get, checked against the scheduler the
/// command is about (xl's sched_domain_get); prints xl's messages.
pub(super) fn domain_get(hv: &dyn Hypervisor, domid: u32, want: &str) -> Option<SchedParams> {
    let Some(sched) = domain_scheduler(hv, domid).filter(|s| s != "unknown") else {
        err("libxl_domain_sched_params_get failed.\n");
        return None;
    };
    // Other schedulers have other parameters; only the mismatch matters.
    let params = if sched == "credit" || sched == "credit2" {
        match hv.domain_sched(domid, &sched) {
            Ok(p) => Some(p),
            Err(e) => {
                xl_err(&e);
                err("libxl_domain_sched_params_get failed.\n");
                return None;
            }
        }
    } else {
        None
    };
    if sched != want {
        err(&format!(
            "libxl_domain_sched_params_get returned {sched} not {want}.\n"
        ));
        return None;
    }
    params
}

fn domain_header() -> String {
    format!("{:<33} {:>4} {:>6} {:>4}\n", "Name", "ID", "Weight", "Cap")
}

/// One domain's row; false when it could not be read.
fn domain_row(hv: &dyn Hypervisor, xs: &Xs, domid: u32, want: &str) -> bool {
    let Some(p) = domain_get(hv, domid, want) else {
        return false;
    };
    // Names may hold control characters: escaped as in `xl list`.
    let name = names::domid_to_name(xs, domid).ok().flatten();
    out(&format!(
        "{:<33} {:>4} {:>6} {:>4}\n",
        name.as_deref().map_or("(null)".into(), sanitize),
        domid,
        p.weight,
        p.cap
    ));
    true
}

fn pool_line(hv: &dyn Hypervisor, xs: &Xs, poolid: u32, want: &str) {
    let name = names::cpupool_name(xs, poolid).ok().flatten();
    let name = name.as_deref().map_or("(null)".into(), sanitize);
    match hv.pool_sched(poolid, want) {
        Ok(p) if want == "credit" => out(&format!(
            "Cpupool {name}: tslice={}ms ratelimit={}us migration-delay={}us\n",
            p[0] as i32, p[1] as i32, p[2] as i32
        )),
        Ok(p) => out(&format!("Cpupool {name}: ratelimit={}us\n", p[0] as i32)),
        Err(e) => {
            xl_err(&e);
            err(&format!("libxl_sched_{want}_params_get failed.\n"));
            out(&format!("Cpupool {name}: [sched params unavailable]\n"));
        }
    }
}

/// libxl_cpupool_qualifier_to_cpupoolid + libxl_cpupoolid_is_valid.
fn find_pool(hv: &dyn Hypervisor, xs: &Xs, q: &str) -> Option<u32> {
    let pools = hv.cpupools().ok()?;
    let id = if !q.is_empty() && q.bytes().all(|b| b.is_ascii_digit()) {
        xl_config::value::strtoul(q.as_bytes(), 10).0 as u32
    } else {
        pools
            .iter()
            .find(|p| names::cpupool_name(xs, p.poolid).ok().flatten().as_deref() == Some(q))?
            .poolid
    };
    pools.iter().any(|p| p.poolid == id).then_some(id)
}

/// Every domain of every pool running `want` (xl's sched_domain_output).
fn list_all(hv: &dyn Hypervisor, xs: &Xs, want: &str, pool: Option<u32>) -> Outcome {
    let doms = hv.domains().map_err(|e| {
        xl_err(&e);
        err("libxl_list_domain failed.\n");
        Exit(1)
    })?;
    let pools = hv.cpupools().map_err(|e| {
        xl_err(&e);
        err("error getting cpupool info\n");
        Exit(1)
    })?;
    'pools: for p in pools
        .iter()
        .filter(|p| p.sched == want && pool.is_none_or(|id| id == p.poolid))
    {
        pool_line(hv, xs, p.poolid, want);
        out(&domain_header());
        for d in doms.iter().filter(|d| d.cpupool == p.poolid) {
            if !domain_row(hv, xs, d.domid, want) {
                break 'pools;
            }
        }
    }
    Ok(0)
}

/// libxl's sched_credit{,2}_domain_set.
fn domain_set(hv: &dyn Hypervisor, domid: u32, want: &str, weight: i32, cap: i32) -> Outcome {
    let failed = || fail("libxl_domain_sched_params_set failed.\n");
    let Ok(Some(info)) = hv.domain(domid) else {
        return failed();
    };
    let mut p = match hv.domain_sched(domid, want) {
        Ok(p) => p,
        Err(e) => {
            xl_err(&e);
            return failed();
        }
    };
    if weight != UNCHANGED {
        if !(1..=65535).contains(&weight) {
            err(&format!(
                "xl: domain {domid}: Cpu weight out of range, valid values are within range from 1 to 65535\n"
            ));
            return failed();
        }
        p.weight = weight as u16;
    }
    if cap != UNCHANGED {
        let max = (i64::from(info.vcpu_max_id) + 1) * 100;
        if cap < 0 || i64::from(cap) > max {
            err(&format!(
                "xl: domain {domid}: Cpu cap out of range, valid range is from 0 to {max} for specified number of vcpus\n"
            ));
            return failed();
        }
        p.cap = cap as u16;
    }
    if let Err(e) = hv.set_domain_sched(domid, want, p) {
        xl_err(&e);
        return failed();
    }
    Ok(0)
}

fn ratelimit_ok(r: i32) -> bool {
    r == 0 || (RATELIMIT.0 as i32..=RATELIMIT.1 as i32).contains(&r)
}

/// `xl sched-credit` (`credit2` false) and `xl sched-credit2`.
pub fn sched_credit(cx: &Ctx, opts: Opts, credit2: bool) -> Outcome {
    let want = if credit2 { "credit2" } else { "credit" };
    let dom = opts.value('d').map(str::to_string);
    let pool = opts.value('p').map(str::to_string);
    let (w, c, s) = (opts.value('w'), opts.value('c'), opts.flag('s'));
    let (t, r, m) = (opts.value('t'), opts.value('r'), opts.value('m'));
    if credit2 {
        if pool.is_some() && (dom.is_some() || w.is_some() || c.is_some()) {
            return fail("Specifying a cpupool is not allowed with other options.\n");
        }
    } else if (pool.is_some() || s) && (dom.is_some() || w.is_some() || c.is_some()) {
        return fail("Specifying a cpupool or schedparam is not allowed with domain options.\n");
    }
    if dom.is_none() && (w.is_some() || c.is_some()) {
        return fail("Must specify a domain.\n");
    }
    if !credit2 && !s && (t.is_some() || r.is_some() || m.is_some()) {
        return fail("Must specify schedparam to set schedule parameter values.\n");
    }
    let (hv, xs) = cx.hv()?;
    let pool_id = match &pool {
        None => None,
        Some(q) => match find_pool(hv, xs, q) {
            Some(id) => Some(id),
            None => return fail(format!("unknown cpupool '{q}'\n")),
        },
    };
    if s {
        let poolid = pool_id.unwrap_or(0);
        let setting = if credit2 {
            r.is_some()
        } else {
            t.is_some() || r.is_some() || m.is_some()
        };
        if !setting {
            pool_line(hv, xs, poolid, want);
            return Ok(0);
        }
        return pool_set(hv, poolid, credit2, t, r, m);
    }
    let Some(dom) = dom else {
        return list_all(hv, xs, want, pool_id);
    };
    let domid = cx.domain(&dom)?;
    if w.is_none() && c.is_none() {
        out(&domain_header());
        return if domain_row(hv, xs, domid, want) {
            Ok(0)
        } else {
            Err(Exit(1))
        };
    }
    domain_set(
        hv,
        domid,
        want,
        w.map_or(UNCHANGED, int_arg),
        c.map_or(UNCHANGED, int_arg),
    )
}

/// Set a cpupool's parameters (`-s` with values), validated as libxl does.
fn pool_set(
    hv: &dyn Hypervisor,
    poolid: u32,
    credit2: bool,
    t: Option<&str>,
    r: Option<&str>,
    m: Option<&str>,
) -> Outcome {
    let want = if credit2 { "credit2" } else { "credit" };
    let failed = |msg: &str| {
        if !msg.is_empty() {
            err(&format!("xl: {msg}\n"));
        }
        fail(format!("libxl_sched_{want}_params_set failed.\n"))
    };
    let range_msg = format!(
        "Ratelimit out of range, valid range is from {} to {}",
        RATELIMIT.0, RATELIMIT.1
    );
    if credit2 {
        let ratelimit = r.map_or(0, int_arg);
        if !ratelimit_ok(ratelimit) {
            return failed(&range_msg);
        }
        return match hv.set_pool_sched(poolid, want, [ratelimit as u32, 0, 0]) {
            Ok(()) => Ok(0),
            Err(e) => failed(&backend::chain(&e)),
        };
    }
    let cur = match hv.pool_sched(poolid, want) {
        Ok(p) => p,
        Err(e) => {
            xl_err(&e);
            return fail("libxl_sched_credit_params_get failed.\n");
        }
    };
    let tslice = t.map_or(cur[0] as i32, int_arg);
    let ratelimit = r.map_or(cur[1] as i32, int_arg);
    let delay = m.map_or(cur[2] as i32, int_arg);
    if !(TSLICE.0 as i32..=TSLICE.1 as i32).contains(&tslice) {
        return failed(&format!(
            "Time slice out of range, valid range is from {} to {}",
            TSLICE.0, TSLICE.1
        ));
    }
    if !ratelimit_ok(ratelimit) {
        return failed(&range_msg);
    }
    if i64::from(ratelimit) > i64::from(tslice) * 1000 {
        return failed("Ratelimit cannot be greater than timeslice");
    }
    if delay > MIGR_DELAY_MAX as i32 {
        return failed(&format!(
            "vcpu migration delay should be >= 0 and <= {MIGR_DELAY_MAX}us"
        ));
    }
    match hv.set_pool_sched(
        poolid,
        want,
        [tslice as u32, ratelimit as u32, delay as u32],
    ) {
        Ok(()) => Ok(0),
        Err(e) => failed(&backend::chain(&e)),
    }
}
