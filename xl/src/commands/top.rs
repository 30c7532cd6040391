//! `xl top`: xl 4.17 runs `xentop`; ours is xentop. Batch mode (`-b`)
//! prints xentop's table byte for byte; otherwise a terminal UI with
//! xentop's keys.

use std::collections::HashMap;
use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use xl_config::value::strtol;
use xl_toolstack::stats::{self, DomainSample, Sample, VBD_TYPES};

use super::{Ctx, OrExit, Outcome, err, fail, sanitize};
use crate::Status;
use crate::backend;
use crate::cmdtable::Opts;

/// xentop's columns: header and default width.
pub const FIELDS: [(&str, usize); 19] = [
    ("NAME", 10),
    ("STATE", 6),
    ("CPU(sec)", 10),
    ("CPU(%)", 6),
    ("MEM(k)", 10),
    ("MEM(%)", 6),
    ("MAXMEM(k)", 10),
    ("MAXMEM(%)", 9),
    ("VCPUS", 5),
    ("NETS", 4),
    ("NETTX(k)", 8),
    ("NETRX(k)", 8),
    ("VBDS", 4),
    ("VBD_OO", 8),
    ("VBD_RD", 8),
    ("VBD_WR", 8),
    ("VBD_RSECT", 10),
    ("VBD_WSECT", 10),
    ("SSID", 4),
];

const NAME: usize = 0;
const NET_TX: usize = 10;
const NET_RX: usize = 11;
const VBD_RD: usize = 14;
const VBD_WR: usize = 15;
const VBD_RSECT: usize = 16;
const VBD_WSECT: usize = 17;

/// What to show and how (xentop's options and toggles).
#[derive(Clone, Debug, Default)]
pub struct View {
    pub full_name: bool,
    pub vcpus: bool,
    pub networks: bool,
    pub vbds: bool,
    pub repeat_header: bool,
    pub dom0_first: bool,
    /// Index into [`FIELDS`] of the sort column.
    pub sort: usize,
    /// First domain shown (scrolling in the terminal UI).
    pub first: usize,
}

/// One line of the domain table.
#[derive(Clone, Debug, PartialEq)]
pub enum Line {
    Header(Vec<String>),
    Domain(Vec<String>),
    /// vCPU, network or block device lines under a domain.
    Detail(String),
}

impl Line {
    /// As xentop prints it (cells joined by one space).
    pub fn text(&self) -> String {
        match self {
            Line::Header(c) | Line::Domain(c) => c.join(" "),
            Line::Detail(s) => s.clone(),
        }
    }
}

/// glibc's `atoi` (through strtol, truncated to int).
fn atoi(s: &str) -> i32 {
    strtol(s.as_bytes(), 10).0 as i32
}

/// `INT_FIELD_WIDTH(n + 1)`: the digits of n + 1.
fn width_for(n: u64) -> usize {
    ((n as f64 + 1.0).log10() + 1.0) as usize
}

/// `%10.10s`: at most 10 bytes (on a character boundary), right-aligned.
fn short_name(name: &str) -> String {
    let mut end = name.len().min(10);
    while !name.is_char_boundary(end) {
        end -= 1;
    }
    format!("{:>10}", &name[..end])
}

fn state(d: &DomainSample) -> String {
    state_bits(d)
        .iter()
        .zip("dsbcpr".chars())
        .map(|(on, c)| if *on { c } else { '-' })
        .collect()
}

/// xentop's state flags, in its letter order: dying, shutdown, blocked,
/// crashed, paused, running.
fn state_bits(d: &DomainSample) -> [bool; 6] {
    let i = &d.info;
    let crashed = i.shutdown && i.shutdown_reason == 3;
    [
        i.dying,
        i.shutdown && !crashed,
        i.blocked,
        crashed,
        i.paused,
        i.running,
    ]
}

/// CPU use since the previous sample, in percent of one CPU, by domid
/// (0.0 for a domain the previous sample did not have). Computed once per
/// table: rows and sorting look it up.
fn cpu_pcts(cur: &Sample, prev: Option<&Sample>) -> HashMap<u32, f64> {
    let Some(prev) = prev else {
        return HashMap::new();
    };
    let us = match cur.taken.duration_since(prev.taken) {
        Ok(e) => e.as_micros() as f64,
        Err(e) => -(e.duration().as_micros() as f64),
    };
    let old: HashMap<u32, u64> = prev
        .domains
        .iter()
        .map(|d| (d.info.domid, d.info.cpu_time_ns))
        .collect();
    cur.domains
        .iter()
        .filter_map(|d| {
            let was = old.get(&d.info.domid)?;
            let pct = (d.info.cpu_time_ns.wrapping_sub(*was) as f64 / 10.0) / us;
            Some((d.info.domid, pct))
        })
        .collect()
}

fn pct_of(pcts: &HashMap<u32, f64>, d: &DomainSample) -> f64 {
    pcts.get(&d.info.domid).copied().unwrap_or(0.0)
}

fn total(d: &DomainSample, field: usize) -> Option<u64> {
    match field {
        13 => d.vbd_total(|v| v.oo_reqs),
        VBD_RD => d.vbd_total(|v| v.rd_reqs),
        VBD_WR => d.vbd_total(|v| v.wr_reqs),
        VBD_RSECT => d.vbd_total(|v| v.rd_sects),
        VBD_WSECT => d.vbd_total(|v| v.wr_sects),
        _ => None,
    }
}

/// xentop's sort order for a column (ties keep the hypervisor's order).
fn compare(
    field: usize,
    a: &DomainSample,
    b: &DomainSample,
    pcts: &HashMap<u32, f64>,
) -> std::cmp::Ordering {
    let desc = |x: u64, y: u64| y.cmp(&x);
    let max = |d: &DomainSample| d.max_mem().unwrap_or(u64::MAX);
    match field {
        // strcasecmp
        NAME => {
            fn fold(s: &str) -> impl Iterator<Item = u8> + '_ {
                s.bytes().map(|c| c.to_ascii_lowercase())
            }
            fold(&a.name).cmp(fold(&b.name))
        }
        1 => {
            let (sa, sb) = (state_bits(a), state_bits(b));
            for (x, y) in sa.iter().zip(sb.iter()) {
                if *x != *y {
                    return if *x {
                        std::cmp::Ordering::Less
                    } else {
                        std::cmp::Ordering::Greater
                    };
                }
            }
            std::cmp::Ordering::Equal
        }
        2 => desc(a.info.cpu_time_ns, b.info.cpu_time_ns),
        3 => pct_of(pcts, b)
            .partial_cmp(&pct_of(pcts, a))
            .unwrap_or(std::cmp::Ordering::Equal),
        4 | 5 => desc(a.cur_mem(), b.cur_mem()),
        6 | 7 => desc(max(a), max(b)),
        8 => desc(u64::from(a.num_vcpus()), u64::from(b.num_vcpus())),
        9 => desc(a.nets.len() as u64, b.nets.len() as u64),
        NET_TX => desc(a.net_bytes(false), b.net_bytes(false)),
        NET_RX => desc(a.net_bytes(true), b.net_bytes(true)),
        12 => desc(a.vbds.len() as u64, b.vbds.len() as u64),
        13..=17 => desc(total(a, field).unwrap_or(0), total(b, field).unwrap_or(0)),
        _ => a.info.ssidref.cmp(&b.info.ssidref),
    }
}

/// The domains in display order.
fn ordered<'a>(view: &View, cur: &'a Sample, pcts: &HashMap<u32, f64>) -> Vec<&'a DomainSample> {
    let mut doms: Vec<&DomainSample> = cur.domains.iter().collect();
    let mut start = 0;
    if view.dom0_first
        && let Some(i) = doms.iter().position(|d| d.name == "Domain-0")
    {
        doms.swap(0, i);
        start = 1;
    }
    // glibc's qsort is a merge sort for arrays like this one: stable.
    doms[start..].sort_by(|a, b| compare(view.sort, a, b, pcts));
    doms
}

fn widths(view: &View, doms: &[&DomainSample]) -> Vec<usize> {
    let mut w: Vec<usize> = FIELDS.iter().map(|f| f.1).collect();
    for d in doms {
        if view.full_name {
            w[NAME] = w[NAME].max(d.name.len());
        }
        w[NET_TX] = w[NET_TX].max(width_for(d.net_bytes(false) / 1024));
        w[NET_RX] = w[NET_RX].max(width_for(d.net_bytes(true) / 1024));
        for f in [VBD_RD, VBD_WR, VBD_RSECT, VBD_WSECT] {
            w[f] = w[f].max(width_for(total(d, f).unwrap_or(0)));
        }
    }
    w
}

fn cells(d: &DomainSample, w: &[usize], view: &View, cur: &Sample, pct: f64) -> Vec<String> {
    let tot = cur.tot_mem as f64;
    let opt = |v: Option<u64>, width: usize| match v {
        Some(v) => format!("{v:>width$}"),
        None => format!("{:>width$}", '-'),
    };
    vec![
        if view.full_name {
            format!("{:>1$}", sanitize(&d.name), w[NAME])
        } else {
            short_name(&sanitize(&d.name))
        },
        state(d),
        format!("{:>10}", d.info.cpu_time_ns / 1_000_000_000),
        format!("{:>6.1}", pct),
        format!("{:>10}", d.cur_mem() / 1024),
        format!("{:>6.1}", d.cur_mem() as f64 / tot * 100.0),
        match d.max_mem() {
            None => format!("{:>10}", "no limit"),
            Some(m) => format!("{:>10}", m / 1024),
        },
        match d.max_mem() {
            None => format!("{:>9}", "n/a"),
            Some(m) => format!("{:>9.1}", m as f64 / tot * 100.0),
        },
        format!("{:>5}", d.num_vcpus()),
        format!("{:>4}", d.nets.len()),
        format!("{:>1$}", d.net_bytes(false) / 1024, w[NET_TX]),
        format!("{:>1$}", d.net_bytes(true) / 1024, w[NET_RX]),
        format!("{:>4}", d.vbds.len()),
        opt(total(d, 13), 8),
        opt(total(d, VBD_RD), w[VBD_RD]),
        opt(total(d, VBD_WR), w[VBD_WR]),
        opt(total(d, VBD_RSECT), w[VBD_RSECT]),
        opt(total(d, VBD_WSECT), w[VBD_WSECT]),
        format!("{:>4}", d.info.ssidref),
    ]
}

fn vcpu_line(d: &DomainSample) -> String {
    let mut s = String::from("VCPUs(sec): ");
    for (i, (online, ns)) in d.vcpus.iter().enumerate() {
        if !online {
            continue;
        }
        if i != 0 && i % 5 == 0 {
            s.push_str("\n        ");
        }
        s.push_str(&format!(" {i:>2}: {:>10}s", ns / 1_000_000_000));
    }
    s
}

fn net_lines(d: &DomainSample) -> Vec<String> {
    d.nets
        .iter()
        .enumerate()
        .map(|(i, n)| {
            format!(
                "Net{i} RX: {:>8}bytes {:>8}pkts {:>8}err {:>8}drop  TX: {:>8}bytes {:>8}pkts {:>8}err {:>8}drop",
                n.rbytes, n.rpackets, n.rerrs, n.rdrop, n.tbytes, n.tpackets, n.terrs, n.tdrop
            )
        })
        .collect()
}

fn vbd_lines(d: &DomainSample) -> Vec<String> {
    d.vbds
        .iter()
        .map(|v| {
            let kind = VBD_TYPES.get(usize::from(v.back_type)).unwrap_or(&"Unidentified");
            // Linux's userspace MAJOR/MINOR of the device id.
            let details = format!("[{:>2x}:{:>2x}] ", v.dev >> 8, v.dev & 0xff);
            let dev = v.dev as i32;
            if v.error {
                format!(
                    "VBD {kind} {dev:>4} {details} OO: {:>8}   RD: {:>8}   WR: {:>8}   RSECT: {:>10}   WSECT: {:>10}",
                    '-', '-', '-', '-', '-'
                )
            } else {
                format!(
                    "VBD {kind} {dev:>4} {details} OO: {:>8}   RD: {:>8}   WR: {:>8}   RSECT: {:>10}   WSECT: {:>10}",
                    v.oo_reqs, v.rd_reqs, v.wr_reqs, v.rd_sects, v.wr_sects
                )
            }
        })
        .collect()
}

/// The domain table as xentop lays it out.
pub fn table(view: &View, cur: &Sample, prev: Option<&Sample>) -> Vec<Line> {
    let pcts = cpu_pcts(cur, prev);
    let doms = ordered(view, cur, &pcts);
    let first = view.first.min(doms.len().saturating_sub(1));
    let shown = &doms[first..];
    let w = widths(view, shown);
    let header: Vec<String> = FIELDS
        .iter()
        .zip(&w)
        .map(|((h, _), w)| format!("{h:>w$}"))
        .collect();
    let mut out = Vec::new();
    for (i, d) in shown.iter().enumerate() {
        if i == 0 || view.repeat_header {
            out.push(Line::Header(header.clone()));
        }
        out.push(Line::Domain(cells(d, &w, view, cur, pct_of(&pcts, d))));
        if view.vcpus {
            out.push(Line::Detail(vcpu_line(d)));
        }
        if view.networks {
            out.extend(net_lines(d).into_iter().map(Line::Detail));
        }
        if view.vbds {
            out.extend(vbd_lines(d).into_iter().map(Line::Detail));
        }
    }
    out
}

/// The three summary lines above the table (terminal UI).
pub fn summary(cur: &Sample, clock: &str) -> [String; 3] {
    let (mut run, mut block, mut pause, mut crash, mut dying, mut shut) = (0, 0, 0, 0, 0, 0);
    for d in &cur.domains {
        let s = state_bits(d);
        // One bucket per domain, in xentop's order of precedence.
        if s[5] {
            run += 1;
        } else if s[2] {
            block += 1;
        } else if s[4] {
            pause += 1;
        } else if s[1] {
            shut += 1;
        } else if s[3] {
            crash += 1;
        } else if s[0] {
            dying += 1;
        }
    }
    [
        format!("xl top - {clock}   Xen {}", cur.xen_version),
        format!(
            "{} domains: {run} running, {block} blocked, {pause} paused, {crash} crashed, {dying} dying, {shut} shutdown ",
            cur.domains.len()
        ),
        format!(
            "Mem: {}k total, {}k used, {}k free    CPUs: {} @ {}MHz",
            cur.tot_mem / 1024,
            cur.tot_mem.saturating_sub(cur.free_mem) / 1024,
            cur.free_mem / 1024,
            cur.num_cpus,
            cur.cpu_hz / 1_000_000
        ),
    ]
}

/// Where samples come from (the seam and xenstore, read once per update).
pub struct Source<'a> {
    host: &'a xl_toolstack::Host,
    xs: &'a xenstore::Xs,
    version: String,
}

impl Source<'_> {
    pub fn sample(&self, vcpus: bool) -> Result<Sample, xl_toolstack::Error> {
        stats::sample(self.host, self.xs, &self.version, vcpus)
    }
}

pub fn top(cx: &Ctx, opts: Opts) -> Outcome {
    let view = View {
        full_name: opts.flag('f'),
        vcpus: opts.flag('v'),
        networks: opts.flag('n'),
        vbds: opts.flag('x'),
        repeat_header: opts.flag('r'),
        dom0_first: opts.flag('z'),
        sort: NAME,
        first: 0,
    };
    // As xentop keeps them: unsigned ints from atoi.
    let delay = opts.value('d').map_or(3, |v| atoi(v) as u32);
    let iterations = opts.value('i').map(|v| atoi(v) as u32);
    let batch = opts.flag('b');
    if !batch && !crate::tui::is_terminal() {
        return fail("xl top: not a terminal; use `xl top -b` for batch output\n");
    }
    let (host, xs) = cx.connect()?;
    let version = stats::xen_version(&host.hv.version_info().or_exit()?);
    let src = Source { host, xs, version };
    Ok(if batch {
        run_batch(&src, &view, delay, iterations)
    } else {
        crate::tui::run(&src, view, delay, iterations)
    })
}

fn run_batch(src: &Source, view: &View, delay: u32, iterations: Option<u32>) -> Status {
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        let _ = signal_hook::flag::register(sig, Arc::clone(&stop));
    }
    let mut left = iterations;
    let mut prev: Option<Sample> = None;
    let stdout = std::io::stdout();
    loop {
        let cur = match src.sample(view.vcpus) {
            Ok(s) => s,
            Err(e) => {
                err(&format!(
                    "Failed to retrieve statistics: {}\n",
                    backend::chain(&e)
                ));
                return 1;
            }
        };
        let mut text = String::new();
        for l in table(view, &cur, prev.as_ref()) {
            text.push_str(&l.text());
            text.push('\n');
        }
        let mut o = stdout.lock();
        // A reader that went away (`| head`) ends the loop.
        if o.write_all(text.as_bytes())
            .and_then(|_| o.flush())
            .is_err()
        {
            return 0;
        }
        drop(o);
        prev = Some(cur);
        if let Some(n) = left.as_mut() {
            *n = n.wrapping_sub(1);
            if *n == 0 {
                return 0;
            }
        }
        // sleep(delay), cut short by SIGINT/SIGTERM as xentop's is.
        let until = std::time::Instant::now() + Duration::from_secs(u64::from(delay));
        while std::time::Instant::now() < until && !stop.load(Ordering::Relaxed) {
            std::thread::sleep(Duration::from_millis(50).min(until - std::time::Instant::now()));
        }
        if stop.load(Ordering::Relaxed) {
            return 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, SystemTime};
    use xl_toolstack::DomInfo;
    use xl_toolstack::stats::{NetStat, VbdStat};

    fn dom(domid: u32, name: &str, memkb: u64, maxkb: u64, cpu_s: u64) -> DomainSample {
        DomainSample {
            info: DomInfo {
                domid,
                current_memkb: memkb,
                max_memkb: maxkb,
                cpu_time_ns: cpu_s * 1_000_000_000,
                vcpu_max_id: 1,
                running: domid == 0,
                blocked: domid != 0,
                ..DomInfo::default()
            },
            name: name.into(),
            vcpus: vec![(true, 12_000_000_000), (true, 19_500_000_000)],
            nets: Vec::new(),
            vbds: Vec::new(),
        }
    }

    fn host(domains: Vec<DomainSample>) -> Sample {
        Sample {
            taken: SystemTime::UNIX_EPOCH + Duration::from_secs(1000),
            xen_version: "4.17.5".into(),
            tot_mem: 3_221_225_472,
            free_mem: 2_000_000_000,
            num_cpus: 2,
            cpu_hz: 2_000_000_000,
            domains,
        }
    }

    /// The real xentop 4.17's `-b -i 1` in the lab (dom0 only).
    #[test]
    fn dom0_row_is_xentops() {
        let s = host(vec![dom(0, "Domain-0", 1048576, 1048576, 31)]);
        let t: Vec<String> = table(&View::default(), &s, None)
            .iter()
            .map(Line::text)
            .collect();
        assert_eq!(
            t,
            vec![
                "      NAME  STATE   CPU(sec) CPU(%)     MEM(k) MEM(%)  MAXMEM(k) MAXMEM(%) VCPUS NETS NETTX(k) NETRX(k) VBDS   VBD_OO   VBD_RD   VBD_WR  VBD_RSECT  VBD_WSECT SSID",
                "  Domain-0 -----r         31    0.0    1048576   33.3    1048576      33.3     2    0        0        0    0        0        0        0          0          0    0",
            ]
        );
    }

    #[test]
    fn sorted_by_name_without_case_and_names_cut() {
        let mut g = dom(
            3,
            "a-very-long-guest-name",
            262144,
            u64::from(u32::MAX) * 4,
            2,
        );
        g.info.shutdown = true;
        g.info.shutdown_reason = 3;
        let s = host(vec![
            dom(0, "Domain-0", 1048576, 1048576, 31),
            dom(2, "web", 524288, 525312, 5),
            g,
            dom(4, "Backup", 131072, 132096, 0),
        ]);
        let rows: Vec<String> = table(&View::default(), &s, None)
            .iter()
            .skip(1)
            .map(|l| l.text()[..40].to_string())
            .collect();
        assert_eq!(
            rows,
            vec![
                "a-very-lon --bc--          2    0.0     ",
                "    Backup --b---          0    0.0     ",
                "  Domain-0 -----r         31    0.0    1",
                "       web --b---          5    0.0     ",
            ]
        );
        let full = View {
            full_name: true,
            dom0_first: true,
            ..View::default()
        };
        let t = table(&full, &s, None);
        assert!(t[0].text().starts_with("                  NAME  STATE"));
        assert!(t[1].text().starts_with("              Domain-0 "));
        assert!(t[2].text().starts_with("a-very-long-guest-name --bc--"));
        assert!(t[2].text().contains("  no limit       n/a "));
    }

    #[test]
    fn cpu_percent_needs_two_samples() {
        let prev = host(vec![dom(0, "Domain-0", 1048576, 1048576, 10)]);
        let mut cur = host(vec![dom(0, "Domain-0", 1048576, 1048576, 10)]);
        cur.domains[0].info.cpu_time_ns += 1_500_000_000;
        cur.taken = prev.taken + Duration::from_secs(3);
        let t = table(&View::default(), &cur, Some(&prev));
        assert_eq!(&t[1].text()[17..35], "         11   50.0");
    }

    #[test]
    fn details_and_widths() {
        let mut d = dom(5, "io", 262144, 263168, 1);
        d.vcpus = (0..7).map(|i| (i != 2, i * 1_000_000_000)).collect();
        d.info.vcpu_max_id = 6;
        d.nets.push(NetStat {
            id: 0,
            rbytes: 2048,
            rpackets: 4,
            tbytes: 1_000_000_000_000,
            tpackets: 9,
            ..NetStat::default()
        });
        d.vbds.push(VbdStat {
            back_type: 1,
            dev: 51712,
            rd_reqs: 10,
            rd_sects: 80,
            ..VbdStat::default()
        });
        d.vbds.push(VbdStat {
            back_type: 0,
            dev: 768,
            error: true,
            ..VbdStat::default()
        });
        let s = host(vec![d]);
        let v = View {
            vcpus: true,
            networks: true,
            vbds: true,
            ..View::default()
        };
        let t: Vec<String> = table(&v, &s, None).iter().map(Line::text).collect();
        // NETTX(k) grew to the digits of 976562500 + 1.
        assert!(
            t[0].contains(" VBDS  NETTX(k)") || t[0].contains("  NETTX(k) NETRX(k)"),
            "{}",
            t[0]
        );
        assert!(t[1].contains(" 976562500        2    2"), "{}", t[1]);
        assert_eq!(
            t[2],
            "VCPUs(sec):   0:          0s  1:          1s  3:          3s  4:          4s\n          5:          5s  6:          6s"
        );
        assert_eq!(
            t[3],
            "Net0 RX:     2048bytes        4pkts        0err        0drop  TX: 1000000000000bytes        9pkts        0err        0drop"
        );
        assert_eq!(
            t[4],
            "VBD BlkBack 51712 [ca: 0]  OO:        0   RD:       10   WR:        0   RSECT:         80   WSECT:          0"
        );
        assert_eq!(
            t[5],
            "VBD Unidentified  768 [ 3: 0]  OO:        -   RD:        -   WR:        -   RSECT:          -   WSECT:          -"
        );
    }

    #[test]
    fn atoi_like_xentop() {
        assert_eq!(atoi("5"), 5);
        assert_eq!(atoi(" 2x"), 2);
        assert_eq!(atoi("x"), 0);
        assert_eq!(atoi("-1") as u32, u32::MAX);
    }

    #[test]
    fn summary_lines() {
        let s = host(vec![
            dom(0, "Domain-0", 1048576, 1048576, 31),
            dom(1, "web", 524288, 525312, 5),
        ]);
        let [a, b, c] = summary(&s, "12:00:00");
        assert_eq!(a, "xl top - 12:00:00   Xen 4.17.5");
        assert_eq!(
            b,
            "2 domains: 1 running, 1 blocked, 0 paused, 0 crashed, 0 dying, 0 shutdown "
        );
        assert_eq!(
            c,
            "Mem: 3145728k total, 1192603k used, 1953125k free    CPUs: 2 @ 2000MHz"
        );
    }
}
