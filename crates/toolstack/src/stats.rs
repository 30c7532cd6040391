//! Host and domain statistics as `xentop` shows them (libxenstat's node):
//! physinfo, every named domain with its vCPU times, and the dom0-side
//! I/O counters of its network interfaces and block backends.
//!
//! The hypervisor part comes through [`Hypervisor`](crate::Hypervisor);
//! the I/O counters are what the backend kernel reports
//! ([`Dom0::io_stats`](crate::Dom0::io_stats)): on a Linux dom0
//! they are read by [`linux::collect`], with libxenstat's rules for which
//! interface and block device belongs to which domain.

use std::collections::HashMap;
use std::time::SystemTime;

use serde::{Deserialize, Serialize};
use xenstore::Xs;

use crate::{DomInfo, Error, Host};

/// Counters of one network interface, dom0's side of a vif: `r*` is what
/// dom0 received from the guest.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetStat {
    /// The vif's index.
    pub id: u32,
    /// Bytes dom0 received from the guest.
    pub rbytes: u64,
    /// Packets dom0 received.
    pub rpackets: u64,
    /// Receive errors.
    pub rerrs: u64,
    /// Received packets dropped.
    pub rdrop: u64,
    /// Bytes dom0 sent to the guest.
    pub tbytes: u64,
    /// Packets dom0 sent.
    pub tpackets: u64,
    /// Transmit errors.
    pub terrs: u64,
    /// Sent packets dropped.
    pub tdrop: u64,
}

/// Backend kinds as xentop names them.
pub const VBD_TYPES: [&str; 3] = ["Unidentified", "BlkBack", "BlkTap"];

/// Counters of one virtual block device's backend.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct VbdStat {
    /// Index into [`VBD_TYPES`]: 0 for QEMU (qdisk), 1 blkback, 2 blktap.
    pub back_type: u8,
    /// The xenstore device id (e.g. 51712 for xvda).
    pub dev: u32,
    /// The counters could not be read.
    pub error: bool,
    /// Requests that found the ring full (out of requests).
    pub oo_reqs: u64,
    /// Read requests.
    pub rd_reqs: u64,
    /// Write requests.
    pub wr_reqs: u64,
    /// Sectors read.
    pub rd_sects: u64,
    /// Sectors written.
    pub wr_sects: u64,
}

/// What the backend side knows of guest I/O, in the order it found it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct IoStats {
    /// Network interfaces, with the domain each belongs to.
    pub nets: Vec<(u32, NetStat)>,
    /// Block backends, with the domain each belongs to.
    pub vbds: Vec<(u32, VbdStat)>,
}

/// One domain in a [`Sample`].
#[derive(Clone, Debug, PartialEq)]
pub struct DomainSample {
    /// What the hypervisor reports of it.
    pub info: DomInfo,
    /// Its name.
    pub name: String,
    /// (online, CPU time in ns) for vCPUs 0..=max_vcpu_id, when asked for.
    pub vcpus: Vec<(bool, u64)>,
    /// Its network interfaces' counters.
    pub nets: Vec<NetStat>,
    /// Its block devices' counters.
    pub vbds: Vec<VbdStat>,
}

impl DomainSample {
    /// libxenstat counts vCPUs up to the highest id, online or not.
    pub fn num_vcpus(&self) -> u32 {
        self.info.vcpu_max_id.wrapping_add(1)
    }

    /// Maximum memory in bytes; None when the domain has no limit.
    pub fn max_mem(&self) -> Option<u64> {
        // Xen reports "no limit" as UINT_MAX pages.
        (self.info.max_memkb != u64::from(u32::MAX) * 4).then_some(self.info.max_memkb * 1024)
    }

    /// Current memory, in bytes.
    pub fn cur_mem(&self) -> u64 {
        self.info.current_memkb * 1024
    }

    /// Bytes received (`rx`) or sent over all its network interfaces, dom0's view.
    pub fn net_bytes(&self, rx: bool) -> u64 {
        self.nets
            .iter()
            .map(|n| if rx { n.rbytes } else { n.tbytes })
            .sum()
    }

    /// The sum of one VBD counter over the readable devices; None when
    /// the domain has devices and none could be read (xentop prints `-`).
    pub fn vbd_total(&self, f: impl Fn(&VbdStat) -> u64) -> Option<u64> {
        let mut readable = self.vbds.iter().filter(|v| !v.error).peekable();
        if readable.peek().is_none() && !self.vbds.is_empty() {
            return None;
        }
        Some(readable.map(f).sum())
    }
}

/// One reading of the host.
#[derive(Clone, Debug, PartialEq)]
pub struct Sample {
    /// When it was taken.
    pub taken: SystemTime,
    /// `major.minor` and the extra version, as libxenstat formats it.
    pub xen_version: String,
    /// The host's memory, in bytes.
    pub tot_mem: u64,
    /// Free memory, in bytes.
    pub free_mem: u64,
    /// Online CPUs.
    pub num_cpus: u32,
    /// CPU clock rate, in Hz.
    pub cpu_hz: u64,
    /// Every named domain, in domid order.
    pub domains: Vec<DomainSample>,
}

/// Read the host as libxenstat does: domains without a name in xenstore
/// are being destroyed and left out, as are domains whose vCPUs cannot be
/// read (when `with_vcpus`).
pub fn sample(host: &Host, xs: &Xs, xen_version: &str, with_vcpus: bool) -> Result<Sample, Error> {
    let hv = host.hv.as_ref();
    let taken = SystemTime::now();
    let phys = hv.physinfo()?;
    let infos = hv.domains()?;
    let names = crate::names::names_of(xs, &infos)?;
    let mut domains = Vec::with_capacity(infos.len());
    for (info, name) in infos.into_iter().zip(names) {
        let Some(name) = name else { continue };
        let vcpus = if with_vcpus {
            match hv.vcpus(info.domid) {
                Ok(v) => v.iter().map(|v| (v.online, v.time_ns)).collect(),
                Err(_) => continue,
            }
        } else {
            Vec::new()
        };
        domains.push(DomainSample {
            info,
            name,
            vcpus,
            nets: Vec::new(),
            vbds: Vec::new(),
        });
    }
    let domids: Vec<u32> = domains.iter().map(|d| d.info.domid).collect();
    let index: HashMap<u32, usize> = domids.iter().enumerate().map(|(i, d)| (*d, i)).collect();
    let io = host.dom0.io_stats(xs, &domids)?;
    for (domid, n) in io.nets {
        if let Some(&i) = index.get(&domid) {
            domains[i].nets.push(n);
        }
    }
    for (domid, v) in io.vbds {
        if let Some(&i) = index.get(&domid) {
            domains[i].vbds.push(v);
        }
    }
    let page = 4096u64;
    Ok(Sample {
        taken,
        xen_version: xen_version.to_string(),
        tot_mem: phys.total_pages * page,
        free_mem: phys.free_pages * page,
        num_cpus: phys.nr_cpus,
        cpu_hz: u64::from(phys.cpu_khz) * 1000,
        domains,
    })
}

/// The version string libxenstat shows: `4.17.5-pre` style.
pub fn xen_version(v: &crate::VersionInfo) -> String {
    format!("{}.{}{}", v.major, v.minor, v.extra)
}

/// `%u` of scanf: optional leading blanks, then decimal digits (a value
/// too large keeps its low 32 bits, as glibc's conversion into unsigned
/// int does).
fn scan_u32(s: &str) -> Option<(u32, &str)> {
    let t = s.trim_start();
    let end = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    if end == 0 {
        return None;
    }
    let v = t[..end].bytes().fold(0u64, |a, b| {
        a.wrapping_mul(10).wrapping_add(u64::from(b - b'0'))
    });
    Some((v as u32, &t[end..]))
}

/// `sscanf(s, "<prefix>%u<sep>%u")` == 2.
fn scan_pair<'a>(s: &'a str, prefix: &str, sep: &str) -> Option<(u32, u32)> {
    let rest: &'a str = s.strip_prefix(prefix)?;
    let (a, rest) = scan_u32(rest)?;
    let (b, _) = scan_u32(rest.strip_prefix(sep)?)?;
    Some((a, b))
}

/// Reading a Linux dom0's counters, with libxenstat's rules.
pub mod linux {
    use std::fs;
    use std::path::Path;
    use std::time::Duration;

    use serde_json::Value;
    use xenstore::XsOps;

    use super::{IoStats, NetStat, VbdStat, scan_pair, scan_u32};

    /// The two header lines Linux prints in `/proc/net/dev`.
    pub const PROC_NET_DEV_HEADER: &str = "Inter-|   Receive                                                |  Transmit\n face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed\n";

    /// One `/proc/net/dev` line: the interface and its 16 counters.
    pub fn parse_net_dev_line(line: &str) -> Option<(String, [u64; 16])> {
        let (name, rest) = line.split_once(':')?;
        let name = name.trim_start_matches(|c: char| !c.is_ascii_alphanumeric());
        let mut v = [0u64; 16];
        for (slot, word) in v.iter_mut().zip(rest.split_whitespace()) {
            *slot = word.parse().unwrap_or(0);
        }
        Some((name.to_string(), v))
    }

    /// The bridge libxenstat credits to dom0: the last entry of
    /// /sys/class/net (directory order) with a `bridge` subdirectory and
    /// no "vir" in its name; "" when there is none.
    pub fn bridge_name(root: &Path) -> String {
        let mut found = String::new();
        let Ok(dir) = fs::read_dir(root.join("sys/class/net")) else {
            return found;
        };
        for e in dir.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') || name.contains("vir") {
                continue;
            }
            if e.path().join("bridge").exists() {
                // libxenstat keeps at most 15 bytes of the name.
                found = name.chars().take(15).collect();
            }
        }
        found
    }

    /// The (domid, devid) of a vif: its backend's xenstore node name, else
    /// its name when it reads `vif<domid>.<devid>` (so QEMU's `-emu` taps
    /// count too).
    pub fn iface_ids(root: &Path, iface: &str) -> Option<(u32, u32)> {
        let nodename = root.join(format!("sys/class/net/{iface}/device/nodename"));
        if let Ok(text) = fs::read_to_string(nodename)
            && let Some(ids) = scan_pair(&text, "backend/vif/", "/")
        {
            return Some(ids);
        }
        scan_pair(iface, "vif", ".")
    }

    /// Why the network counters could not be read (libxenstat's words).
    #[derive(Debug, thiserror::Error)]
    pub enum NetDevError {
        /// `/proc/net/dev` could not be opened.
        #[error("Error opening /proc/net/dev")]
        Open(#[source] std::io::Error),
        /// `/proc/net/dev` is not in the format expected.
        #[error("Unexpected /proc/net/dev format")]
        Format,
    }

    /// Network counters of the domains in `domids`, from `/proc/net/dev`.
    pub fn collect_nets(
        root: &Path,
        domids: &[u32],
        out: &mut Vec<(u32, NetStat)>,
    ) -> Result<(), NetDevError> {
        let text = fs::read_to_string(root.join("proc/net/dev")).map_err(NetDevError::Open)?;
        let Some(body) = text.strip_prefix(PROC_NET_DEV_HEADER) else {
            return Err(NetDevError::Format);
        };
        let bridge = bridge_name(root);
        let not_bridge = format!("p{bridge}");
        for line in body.lines() {
            let Some((iface, c)) = parse_net_dev_line(line) else {
                continue;
            };
            let net = |id| NetStat {
                id,
                rbytes: c[0],
                rpackets: c[1],
                rerrs: c[2],
                rdrop: c[3],
                tbytes: c[8],
                tpackets: c[9],
                terrs: c[10],
                tdrop: c[11],
            };
            // libxenstat gives a bridge's counters to dom0's still empty
            // first interface (for bonding setups). With no bridge at all
            // the name to look for is "", which every interface without a
            // 'p' matches: such hosts report no guest interfaces.
            if iface.contains(bridge.as_str())
                && !iface.contains(not_bridge.as_str())
                && domids.contains(&0)
            {
                for (domid, n) in out.iter_mut() {
                    if *domid == 0 && n.id == 0 && n.tbytes == 0 && n.rbytes == 0 {
                        *n = net(0);
                    }
                }
            } else if let Some((domid, id)) = iface_ids(root, &iface)
                && domids.contains(&domid)
            {
                out.push((domid, net(id)));
            }
        }
        Ok(())
    }

    fn read_counter(dir: &Path, what: &str) -> Option<u64> {
        let text = fs::read_to_string(dir.join("statistics").join(what)).ok()?;
        let t = text.trim_start();
        let end = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
        t[..end].parse().ok()
    }

    /// Block backends of the domains in `domids` from
    /// /sys/bus/xen-backend/devices (`vbd-<domid>-<dev>`, `tap-...`).
    pub fn collect_vbds(root: &Path, domids: &[u32], out: &mut Vec<(u32, VbdStat)>) {
        let Ok(dir) = fs::read_dir(root.join("sys/bus/xen-backend/devices")) else {
            return;
        };
        for e in dir.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let (back_type, rest) = if let Some(r) = name.strip_prefix("vbd-") {
                (1, r)
            } else if let Some(r) = name.strip_prefix("tap-") {
                (2, r)
            } else {
                continue;
            };
            let Some((domid, rest)) = scan_u32(rest) else {
                continue;
            };
            let Some((dev, _)) = rest.strip_prefix('-').and_then(scan_u32) else {
                continue;
            };
            if !domids.contains(&domid) {
                continue;
            }
            let p = e.path();
            let c: Option<Vec<u64>> = ["oo_req", "rd_req", "wr_req", "rd_sect", "wr_sect"]
                .iter()
                .map(|w| read_counter(&p, w))
                .collect();
            let mut v = VbdStat {
                back_type,
                dev,
                error: c.is_none(),
                ..VbdStat::default()
            };
            if let Some(c) = c {
                (v.oo_reqs, v.rd_reqs, v.wr_reqs, v.rd_sects, v.wr_sects) =
                    (c[0], c[1], c[2], c[3], c[4]);
            }
            out.push((domid, v));
        }
    }

    /// QEMU-served disks (qdisk) of one domain, from `query-blockstats` on
    /// the QMP socket libxl opens for libxenstat.
    /// The caller knows the domain has qdisk backends.
    pub fn qdisk_stats(xs: &impl XsOps, run: &Path, domid: u32) -> Vec<VbdStat> {
        let base = format!("/local/domain/0/backend/qdisk/{domid}");
        let sock = run.join(format!("qmp-libxenstat-{domid}"));
        let Ok(mut q) = crate::qmp::Qmp::connect_unlocked(&sock, Duration::from_secs(2)) else {
            return Vec::new();
        };
        let Ok(stats) = q.execute("query-blockstats", None) else {
            return Vec::new();
        };
        let block = q.execute("query-block", None).unwrap_or(Value::Null);
        let devids = xs.directory(&base).unwrap_or_default();
        let read = |devid: u32, what: &str| {
            xs.try_read(&format!("{base}/{devid}/{what}"))
                .ok()
                .flatten()
        };
        parse_blockstats(&stats, &block, read, &devids)
    }

    /// libxenstat's reading of `query-blockstats`: requests as counted,
    /// bytes in sectors of the size of the device matched before (512
    /// for the first), the device id found by matching the image file
    /// `query-block` reports against the backends' `params`.
    pub fn parse_blockstats(
        stats: &Value,
        block: &Value,
        backend: impl Fn(u32, &str) -> Option<String>,
        devids: &[String],
    ) -> Vec<VbdStat> {
        let mut out = Vec::new();
        let mut sector_size = 512u64;
        let Some(list) = stats.as_array() else {
            return out;
        };
        for entry in list {
            let Some(s) = entry.get("stats").filter(|s| s.is_object()) else {
                continue;
            };
            let num = |k: &str| s.get(k).and_then(Value::as_u64);
            let mut v = VbdStat::default();
            if let Some(b) = num("rd_bytes") {
                v.rd_sects = b / sector_size;
            }
            if let Some(b) = num("wr_bytes") {
                v.wr_sects = b / sector_size;
            }
            v.rd_reqs = num("rd_operations").unwrap_or(0);
            v.wr_reqs = num("wr_operations").unwrap_or(0);
            if let Some(dev) = entry.get("device").and_then(Value::as_str)
                && let Some(image) = block_image(block, dev)
            {
                for id in devids {
                    let devid = id.parse::<u32>().unwrap_or(0);
                    let Some(params) = backend(devid, "params") else {
                        continue;
                    };
                    let path = params.find('/').map_or(params.as_str(), |i| &params[i..]);
                    if path == image {
                        v.dev = devid;
                        if let Some(ss) = backend(devid, "sector-size") {
                            // atoi: libxenstat would divide by a 0 here; keep the last size.
                            if let Some((n, _)) = scan_u32(&ss).filter(|(n, _)| *n > 0) {
                                sector_size = u64::from(n);
                            }
                        }
                        break;
                    }
                }
            }
            out.push(v);
        }
        out
    }

    fn block_image<'a>(block: &'a Value, dev: &str) -> Option<&'a str> {
        block
            .as_array()?
            .iter()
            .find(|b| b.get("device").and_then(Value::as_str) == Some(dev))?
            .get("inserted")?
            .get("file")?
            .as_str()
    }

    /// Everything libxenstat reads, for the domains in `domids`: qdisks
    /// first, then the kernel's block backends, and the interfaces.
    pub fn collect(
        root: &Path,
        run: &Path,
        xs: &impl XsOps,
        domids: &[u32],
    ) -> Result<IoStats, NetDevError> {
        let mut io = IoStats::default();
        collect_nets(root, domids, &mut io.nets)?;
        // libxenstat looks for backend/qdisk/<domid> domain by domain; one
        // listing finds the same domains in one round trip.
        let with_qdisks: std::collections::HashSet<u32> = xs
            .directory("/local/domain/0/backend/qdisk")
            .unwrap_or_default()
            .iter()
            .filter_map(|d| d.parse().ok())
            .collect();
        for &d in domids.iter().filter(|d| **d > 0 && with_qdisks.contains(d)) {
            io.vbds
                .extend(qdisk_stats(xs, run, d).into_iter().map(|v| (d, v)));
        }
        collect_vbds(root, domids, &mut io.vbds);
        Ok(io)
    }
}

#[cfg(test)]
mod tests {
    use super::linux::*;
    use super::*;
    use std::path::Path;

    #[test]
    fn scanf_like_pairs() {
        assert_eq!(scan_pair("vif3.0", "vif", "."), Some((3, 0)));
        assert_eq!(scan_pair("vif3.1-emu", "vif", "."), Some((3, 1)));
        assert_eq!(scan_pair("vifx.1", "vif", "."), None);
        assert_eq!(
            scan_pair("backend/vif/7/2\n", "backend/vif/", "/"),
            Some((7, 2))
        );
        assert_eq!(scan_pair("eth0", "vif", "."), None);
    }

    #[test]
    fn proc_net_dev_lines() {
        let (n, c) = parse_net_dev_line("vif1.0: 1234 10 0 1 0 0 0 0 5678 20 2 3 0 0 0 0").unwrap();
        assert_eq!(n, "vif1.0");
        assert_eq!(
            (c[0], c[1], c[3], c[8], c[9], c[10], c[11]),
            (1234, 10, 1, 5678, 20, 2, 3)
        );
        let (n, _) = parse_net_dev_line("    lo:    0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0").unwrap();
        assert_eq!(n, "lo");
    }

    fn write(root: &Path, rel: &str, text: &str) {
        let p = root.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }

    fn tree(tag: &str) -> std::path::PathBuf {
        let root = std::env::temp_dir().join(format!("xl-stats-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        root
    }

    fn net_dev(lines: &[&str]) -> String {
        let mut s = PROC_NET_DEV_HEADER.to_string();
        for l in lines {
            s.push_str(l);
            s.push('\n');
        }
        s
    }

    #[test]
    fn vifs_are_credited_to_their_domains() {
        let root = tree("nets");
        write(
            &root,
            "proc/net/dev",
            &net_dev(&[
                "    lo:     100       1    0    0    0     0          0         0      100       1    0    0    0     0       0          0",
                "xenbr0:   5000      50    0    0    0     0          0         0     6000      60    0    0    0     0       0          0",
                "vif1.0:   2048      10    0    0    0     0          0         0     4096      20    0    0    0     0       0          0",
                "vif1.0-emu:  10      1    0    0    0     0          0         0       20       2    0    0    0     0       0          0",
                "web0:      300       3    0    0    0     0          0         0      400       4    0    0    0     0       0          0",
                "vif9.0:      1       1    0    0    0     0          0         0        1       1    0    0    0     0       0          0",
            ]),
        );
        std::fs::create_dir_all(root.join("sys/class/net/xenbr0/bridge")).unwrap();
        write(
            &root,
            "sys/class/net/web0/device/nodename",
            "backend/vif/2/1\n",
        );
        let mut out = Vec::new();
        collect_nets(&root, &[0, 1, 2], &mut out).unwrap();
        let got: Vec<(u32, u32, u64, u64)> = out
            .iter()
            .map(|(d, n)| (*d, n.id, n.rbytes, n.tbytes))
            .collect();
        // vif9.0's domain is not listed; lo is nobody's.
        assert_eq!(
            got,
            vec![(1, 0, 2048, 4096), (1, 0, 10, 20), (2, 1, 300, 400)]
        );

        // Without any bridge, libxenstat's "" matches every name without
        // a 'p': the vifs are not reported.
        std::fs::remove_dir_all(root.join("sys/class/net/xenbr0")).unwrap();
        let mut out = Vec::new();
        collect_nets(&root, &[0, 1, 2], &mut out).unwrap();
        assert!(out.is_empty(), "{out:?}");
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn bad_proc_net_dev_is_an_error() {
        let root = tree("badnet");
        write(&root, "proc/net/dev", "something else\n");
        assert!(collect_nets(&root, &[0], &mut Vec::new()).is_err());
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn block_backends_from_sysfs() {
        let root = tree("vbds");
        let d = "sys/bus/xen-backend/devices";
        for (w, v) in [
            ("oo_req", 1),
            ("rd_req", 200),
            ("wr_req", 30),
            ("rd_sect", 4000),
            ("wr_sect", 240),
        ] {
            write(
                &root,
                &format!("{d}/vbd-3-51712/statistics/{w}"),
                &format!("{v}\n"),
            );
        }
        // Counters missing: reported, marked unreadable.
        std::fs::create_dir_all(root.join(format!("{d}/vbd-3-51728"))).unwrap();
        std::fs::create_dir_all(root.join(format!("{d}/vif-3-0"))).unwrap();
        std::fs::create_dir_all(root.join(format!("{d}/vbd-8-51712"))).unwrap();
        let mut out = Vec::new();
        collect_vbds(&root, &[0, 3], &mut out);
        out.sort_by_key(|(_, v)| v.dev);
        assert_eq!(out.len(), 2);
        assert_eq!(
            out[0].1,
            VbdStat {
                back_type: 1,
                dev: 51712,
                error: false,
                oo_reqs: 1,
                rd_reqs: 200,
                wr_reqs: 30,
                rd_sects: 4000,
                wr_sects: 240
            }
        );
        assert!(out[1].1.error);
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn qdisk_blockstats_are_matched_to_backends() {
        let stats = serde_json::json!([
            {"device": "", "qdev": "xvda", "stats": {"rd_bytes": 1024, "wr_bytes": 4096, "rd_operations": 2, "wr_operations": 1}},
            {"device": "", "stats": {"rd_bytes": 4096, "wr_bytes": 0, "rd_operations": 1, "wr_operations": 0}},
            {"device": "x"}
        ]);
        let block = serde_json::json!([
            {"device": "", "inserted": {"file": "/srv/disk.img"}}
        ]);
        let devids = vec!["768".to_string()];
        let v = parse_blockstats(
            &stats,
            &block,
            |devid, what| match (devid, what) {
                (768, "params") => Some("aio:/srv/disk.img".into()),
                (768, "sector-size") => Some("4096".into()),
                _ => None,
            },
            &devids,
        );
        assert_eq!(v.len(), 2);
        assert_eq!(
            (v[0].dev, v[0].rd_sects, v[0].wr_sects, v[0].rd_reqs),
            (768, 2, 8, 2)
        );
        // The sector size found for the first device applies to the next.
        assert_eq!(v[1].rd_sects, 1);
        assert_eq!(v[0].back_type, 0);
    }

    #[test]
    fn vbd_totals_skip_unreadable_devices() {
        let mut d = DomainSample {
            info: DomInfo::default(),
            name: "a".into(),
            vcpus: Vec::new(),
            nets: Vec::new(),
            vbds: Vec::new(),
        };
        assert_eq!(d.vbd_total(|v| v.rd_reqs), Some(0));
        d.vbds.push(VbdStat {
            error: true,
            ..VbdStat::default()
        });
        assert_eq!(d.vbd_total(|v| v.rd_reqs), None);
        d.vbds.push(VbdStat {
            rd_reqs: 5,
            ..VbdStat::default()
        });
        assert_eq!(d.vbd_total(|v| v.rd_reqs), Some(5));
    }
}
