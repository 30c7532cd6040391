//! Listing a domain's disks and network interfaces from xenstore, as
//! libxl's `libxl_device_{disk,nic}_list` + `_getinfo` do for `xl
//! block-list` / `xl network-list`.
//!
//! libxl reads each device's configuration back from its private tree
//! (`/libxl/<domid>/device/<kind>/<devid>`); when any device there cannot
//! be read back, the whole list fails and xl prints nothing for that
//! domain. A device whose info cannot be read is skipped on its own.
//! Ring and state numbers come from the frontend, -1 when absent.

use xenstore::XsOps;
use xl_config::value::{strtol, strtoul};

/// One row of `xl block-list` (libxl_diskinfo).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DiskInfo {
    /// The device's id (`Vdev` as a number).
    pub devid: i32,
    /// The backend's domain.
    pub backend_id: u32,
    /// The frontend's domain.
    pub frontend_id: u32,
    /// The frontend's xenbus state (-1 when absent).
    pub state: i32,
    /// The frontend's event channel (-1 when absent).
    pub evtch: i32,
    /// The ring's grant reference (-1 when absent).
    pub rref: i32,
    /// The backend's xenstore directory.
    pub backend: String,
}

/// One row of `xl network-list` (libxl_nicinfo plus the nic's MAC).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NicInfo {
    /// The vif's index.
    pub devid: i32,
    /// The backend's domain.
    pub backend_id: u32,
    /// The vif's MAC address.
    pub mac: [u8; 6],
    /// The frontend's xenbus state (-1 when absent).
    pub state: i32,
    /// The frontend's event channel (-1 when absent).
    pub evtch: i32,
    /// The transmit ring's grant reference (-1 when absent).
    pub rref_tx: i32,
    /// The receive ring's grant reference (-1 when absent).
    pub rref_rx: i32,
    /// The backend's xenstore directory.
    pub backend: String,
}

/// Why libxl's list would come back empty.
#[derive(Debug, thiserror::Error)]
pub enum ListError {
    /// A device directory libxl would reject (its path, and what is wrong).
    #[error("device {0}: {1}")]
    Device(String, &'static str),
    /// A xenstore read failed.
    #[error(transparent)]
    Xenstore(#[from] xenstore::Error),
}

/// `sscanf(path, "/local/domain/%u%c")` with '/' as the character.
pub fn backend_domid(be: &str) -> Option<u32> {
    let rest = be.strip_prefix("/local/domain/")?;
    let (v, used, _) = strtoul(rest.as_bytes(), 10);
    if used == 0 || rest.as_bytes().get(used) != Some(&b'/') {
        return None;
    }
    Some(v as u32)
}

/// libxl's strtoul-or--1 reading of a frontend number, kept in an int.
pub(crate) fn fe_number(xs: &impl XsOps, path: &str) -> Result<i32, xenstore::Error> {
    Ok(match xs.try_read(path)? {
        Some(v) => strtoul(v.as_bytes(), 10).0 as i32,
        None => -1,
    })
}

/// C `atoi` (as libxl uses it on directory entries).
pub fn atoi(s: &str) -> i32 {
    strtol(s.as_bytes(), 10).0 as i32
}

/// `d<N>p<M>` with sscanf's `%i` for both numbers, nothing after.
fn parse_dp(s: &str) -> Option<(i64, i64)> {
    let rest = s.strip_prefix('d')?;
    let (disk, used, _) = strtol(rest.as_bytes(), 0);
    if used == 0 {
        return None;
    }
    let rest = rest[used..].strip_prefix('p')?;
    let (part, used, _) = strtol(rest.as_bytes(), 0);
    (used != 0 && used == rest.len()).then_some((disk, part))
}

/// A `<prefix><letters>[<partition>]` name: letters in bijective base 26,
/// partition without leading zero.
fn virtdisk(s: &str, prefix: &str, max_index: i64, max_part: i64) -> Option<(i64, i64)> {
    let rest = s.strip_prefix(prefix)?;
    let mut index: i64 = -1;
    let mut i = 0;
    let b = rest.as_bytes();
    while i < b.len() && b[i].is_ascii_lowercase() {
        index = (index + 1) * 26 + i64::from(b[i] - b'a');
        if index > max_index {
            return None;
        }
        i += 1;
    }
    let p = &b[i..];
    if p.is_empty() {
        return Some((index, 0));
    }
    if p[0] == b'0' {
        return None;
    }
    let (v, used, _) = strtoul(p, 10);
    let v = v as i64;
    if v > max_part || used != p.len() {
        return None;
    }
    Some((index, v))
}

/// libxl's device number for a virtual disk name (`xvda`, `hdb2`, `sdc`,
/// `d0p1`, or a number), -1 when it is none of these.
pub fn disk_dev_number(vdev: &str) -> i32 {
    if let Some((disk, part)) = parse_dp(vdev)
        .filter(|(d, p)| *d < (1 << 20) && *p < 256)
        .or_else(|| virtdisk(vdev, "xvd", (1 << 20) - 1, 255))
    {
        let (disk, part) = (disk as i32, part as i32);
        return if disk <= 15 && part <= 15 {
            (202 << 8) | (disk << 4) | part
        } else {
            (1 << 28) | (disk << 8) | part
        };
    }
    let (v, used, overflow) = strtoul(vdev.as_bytes(), 0);
    if !overflow && used == vdev.len() && !vdev.is_empty() && v <= i32::MAX as u64 {
        return v as i32;
    }
    if let Some((disk, part)) = virtdisk(vdev, "hd", 3, 63) {
        let (disk, part) = (disk as i32, part as i32);
        return ((if disk < 2 { 3 } else { 22 }) << 8) | ((disk & 1) << 6) | part;
    }
    if let Some((disk, part)) = virtdisk(vdev, "sd", 15, 15) {
        return (8 << 8) | ((disk as i32) << 4) | part as i32;
    }
    -1
}

pub(crate) fn entries(xs: &impl XsOps, path: &str) -> Result<Vec<String>, xenstore::Error> {
    match xs.directory(path) {
        Ok(d) => Ok(d),
        Err(e) if e.is_not_found() => Ok(Vec::new()),
        Err(e) => Err(e),
    }
}

/// The entries of a directory node, `None` when it does not exist.
fn try_entries(xs: &impl XsOps, path: &str) -> Result<Option<Vec<String>>, xenstore::Error> {
    match xs.directory(path) {
        Ok(d) => Ok(Some(d)),
        Err(e) if e.is_not_found() => Ok(None),
        Err(e) => Err(e),
    }
}

/// A disk as libxl reads it back from its private tree: what
/// `libxl_retrieve_domain_configuration` compares and merges.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct XsDisk {
    /// The virtual device name (`xvda`, `hdc`, ...).
    pub vdev: String,
    /// A virtio ("standalone") disk.
    pub standalone: bool,
    /// Media can be changed (`cdrom`).
    pub removable: bool,
    /// `params` after its first ':' (libxl's pdev_path), if present.
    pub pdev_path: Option<String>,
}

/// What `libxl__disk_from_xenstore` needs to succeed.
fn disk_from_xenstore(xs: &impl XsOps, p: &str) -> Result<XsDisk, ListError> {
    let bad = |what| ListError::Device(p.to_string(), what);
    let be = xs
        .try_read(&format!("{p}/backend"))?
        .ok_or(bad("no backend path"))?;
    backend_domid(&be).ok_or(bad("unparseable backend path"))?;
    let read = |k: &str| xs.try_read(&format!("{p}/{k}"));
    if read("colo-host")?.is_some() {
        for k in ["colo-port", "colo-export", "active-disk", "hidden-disk"] {
            read(k)?.ok_or(bad("incomplete colo settings"))?;
        }
    }
    let kind = read("type")?.ok_or(bad("no type"))?;
    let virtio = match read("specification")? {
        None => false,
        Some(s) if s.eq_ignore_ascii_case("xen") => false,
        Some(s) if s.eq_ignore_ascii_case("virtio") => true,
        Some(_) => return Err(bad("bad specification")),
    };
    if virtio {
        let t = read("transport")?.ok_or(bad("no transport"))?;
        if !t.eq_ignore_ascii_case("mmio") {
            return Err(bad("transport is not mmio"));
        }
        read("base")?.ok_or(bad("no base"))?;
        read("irq")?.ok_or(bad("no irq"))?;
    }
    let vdev = read("dev")?.ok_or(bad("no dev"))?;
    let removable = read("removable")?.ok_or(bad("missing node"))?;
    for k in ["mode", "device-type"] {
        read(k)?.ok_or(bad("missing node"))?;
    }
    let pdev_path = read("params")?.map(|p| match p.split_once(':') {
        Some((_, rest)) => rest.to_string(),
        None => p,
    });
    Ok(XsDisk {
        vdev,
        standalone: kind == "standalone",
        removable: atoi(&removable) != 0,
        pdev_path,
    })
}

/// The disks libxl's `libxl__device_list` reads back for a domain;
/// `Ok(None)` when that list fails as a whole.
pub fn xs_disks(xs: &impl XsOps, domid: u32) -> Result<Option<Vec<XsDisk>>, xenstore::Error> {
    let xen_dir = format!("/libxl/{domid}/device/vbd");
    let virtio_dir = format!("/libxl/{domid}/device/virtio_disk");
    // Listing a node tells whether it exists as reading it would, and
    // gives the devices too: two requests instead of three.
    let (dir, listed) = match (try_entries(xs, &xen_dir)?, try_entries(xs, &virtio_dir)?) {
        (Some(_), Some(_)) => return Ok(None),
        (None, Some(v)) => (virtio_dir, v),
        (x, None) => (xen_dir, x.unwrap_or_default()),
    };
    let mut found = Vec::new();
    for e in listed {
        match disk_from_xenstore(xs, &format!("{dir}/{}", atoi(&e))) {
            Ok(d) => found.push(d),
            Err(ListError::Xenstore(e)) => return Err(e),
            Err(ListError::Device(..)) => return Ok(None),
        }
    }
    Ok(Some(found))
}

/// `xl block-list` rows for one domain; `Ok(None)` when libxl's list
/// would fail (then xl prints nothing for the domain).
pub fn disks(xs: &impl XsOps, domid: u32) -> Result<Option<Vec<DiskInfo>>, xenstore::Error> {
    let Some(found) = xs_disks(xs, domid)? else {
        return Ok(None);
    };
    let mut rows = Vec::new();
    for XsDisk {
        vdev, standalone, ..
    } in found
    {
        let devid = disk_dev_number(&vdev);
        let kind = if standalone { "virtio_disk" } else { "vbd" };
        let fe = format!("/local/domain/{domid}/device/{kind}/{devid}");
        let Some(backend) =
            xs.try_read(&format!("/libxl/{domid}/device/{kind}/{devid}/backend"))?
        else {
            continue;
        };
        let Some(backend_id) = backend_domid(&backend) else {
            continue;
        };
        rows.push(DiskInfo {
            devid,
            backend_id,
            frontend_id: domid,
            state: fe_number(xs, &format!("{fe}/state"))?,
            evtch: fe_number(xs, &format!("{fe}/event-channel"))?,
            rref: fe_number(xs, &format!("{fe}/ring-ref"))?,
            backend,
        });
    }
    Ok(Some(rows))
}

/// libxl's MAC parser: six two-digit hex fields separated by ':'.
pub fn parse_mac(s: &str) -> Option<[u8; 6]> {
    let b = s.as_bytes();
    let mut mac = [0u8; 6];
    let mut at = 0;
    let mut i = 0;
    while at < b.len() && i < 6 {
        let (v, used, _) = strtol(&b[at..], 16);
        let end = at + used;
        if used != 2 || (end < b.len() && b[end] != b':') {
            return None;
        }
        mac[i] = v as u8;
        i += 1;
        at = if end < b.len() { end + 1 } else { end };
    }
    (i == 6).then_some(mac)
}

/// What `libxl__nic_from_xenstore` needs to succeed: the devid and MAC.
fn nic_from_xenstore(xs: &impl XsOps, p: &str) -> Result<(i32, [u8; 6]), ListError> {
    let bad = |what| ListError::Device(p.to_string(), what);
    let read = |k: &str| xs.try_read(&format!("{p}/{k}"));
    let devid = read("handle")?.map_or(0, |h| atoi(&h));
    let be = read("backend")?.ok_or(bad("no backend path"))?;
    backend_domid(&be).ok_or(bad("unparseable backend path"))?;
    if let Some(mtu) = read("mtu")? {
        let (_, used, _) = strtol(mtu.as_bytes(), 10);
        if used != mtu.len() {
            return Err(bad("bad mtu"));
        }
    }
    let mac = match read("mac")? {
        Some(m) => parse_mac(&m).ok_or(bad("bad mac"))?,
        None => [0; 6],
    };
    if let Some(t) = read("type")?
        && !["vif", "vif_ioemu", "unknown"]
            .iter()
            .any(|k| t.eq_ignore_ascii_case(k))
    {
        return Err(bad("bad type"));
    }
    Ok((devid, mac))
}

/// `xl network-list` rows for one domain; `Ok(None)` when libxl's list
/// would fail.
pub fn nics(xs: &impl XsOps, domid: u32) -> Result<Option<Vec<NicInfo>>, xenstore::Error> {
    let dir = format!("/libxl/{domid}/device/vif");
    let Some(found) = xs_nics(xs, domid)? else {
        return Ok(None);
    };
    let mut rows = Vec::new();
    for (devid, mac) in found {
        let fe = format!("/local/domain/{domid}/device/vif/{devid}");
        let Some(backend) = xs.try_read(&format!("{dir}/{devid}/backend"))? else {
            continue;
        };
        let Some(backend_id) = backend_domid(&backend) else {
            continue;
        };
        rows.push(NicInfo {
            devid,
            backend_id,
            mac,
            state: fe_number(xs, &format!("{fe}/state"))?,
            evtch: fe_number(xs, &format!("{fe}/event-channel"))?,
            rref_tx: fe_number(xs, &format!("{fe}/tx-ring-ref"))?,
            rref_rx: fe_number(xs, &format!("{fe}/rx-ring-ref"))?,
            backend,
        });
    }
    Ok(Some(rows))
}

/// A nic as libxl reads it back: (devid, MAC).
pub type XsNic = (i32, [u8; 6]);

/// The (devid, MAC) of each nic libxl's `libxl__device_list` reads back
/// for a domain; `Ok(None)` when that list fails as a whole.
pub fn xs_nics(xs: &impl XsOps, domid: u32) -> Result<Option<Vec<XsNic>>, xenstore::Error> {
    let dir = format!("/libxl/{domid}/device/vif");
    let mut found = Vec::new();
    for e in entries(xs, &dir)? {
        match nic_from_xenstore(xs, &format!("{dir}/{}", atoi(&e))) {
            Ok(n) => found.push(n),
            Err(ListError::Xenstore(e)) => return Err(e),
            Err(ListError::Device(..)) => return Ok(None),
        }
    }
    Ok(Some(found))
}

/// `xl block-list`'s header line.
pub fn block_list_header() -> String {
    format!(
        "{:<5} {:<3} {:<6} {:<5} {:<6} {:<8} {:<30}\n",
        "Vdev", "BE", "handle", "state", "evt-ch", "ring-ref", "BE-path"
    )
}

/// `xl network-list`'s header line.
pub fn network_list_header() -> String {
    format!(
        "{:<3} {:<2} {:<17} {:<6} {:<5} {:<6} {:>5}/{:<5} {:<30}\n",
        "Idx", "BE", "Mac Addr.", "handle", "state", "evt-ch", "tx-", "rx-ring-ref", "BE-path"
    )
}

/// One `xl block-list` line.
pub fn disk_row(d: &DiskInfo) -> String {
    format!(
        "{:<5} {:<3} {:<6} {:<5} {:<6} {:<8} {:<30}\n",
        d.devid, d.backend_id as i32, d.frontend_id as i32, d.state, d.evtch, d.rref, d.backend
    )
}

/// One `xl network-list` line.
pub fn nic_row(n: &NicInfo) -> String {
    let m = n.mac;
    format!(
        "{:<3} {:<2} {:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}{:>6} {:>5} {:>6} {:>5}/{:<11} {:<30}\n",
        n.devid,
        n.backend_id as i32,
        m[0],
        m[1],
        m[2],
        m[3],
        m[4],
        m[5],
        n.devid,
        n.state,
        n.evtch,
        n.rref_tx,
        n.rref_rx,
        n.backend
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use xenstore::{Daemon, Xs};

    fn store(nodes: &[(&str, &str)]) -> (Daemon, Xs) {
        let d = Daemon::new();
        let xs = Xs::new(d.connect_as(0).unwrap()).unwrap();
        for (k, v) in nodes {
            xs.write(k, v).unwrap();
        }
        (d, xs)
    }

    #[test]
    fn disk_numbers_like_libxl() {
        assert_eq!(disk_dev_number("xvda"), 51712);
        assert_eq!(disk_dev_number("xvdb1"), 51729);
        assert_eq!(disk_dev_number("xvdq"), (1 << 28) | (16 << 8));
        assert_eq!(disk_dev_number("xvdaa"), (1 << 28) | (26 << 8));
        assert_eq!(disk_dev_number("hda"), 768);
        assert_eq!(disk_dev_number("hdb"), 832);
        assert_eq!(disk_dev_number("hdc"), 5632);
        assert_eq!(disk_dev_number("hde"), -1);
        assert_eq!(disk_dev_number("sda"), 2048);
        assert_eq!(disk_dev_number("sdb2"), 2066);
        assert_eq!(disk_dev_number("d0p0"), 51712);
        assert_eq!(disk_dev_number("d16p1"), (1 << 28) | (16 << 8) | 1);
        assert_eq!(disk_dev_number("0x10"), 16);
        assert_eq!(disk_dev_number("768"), 768);
        assert_eq!(disk_dev_number("xvda01"), -1);
        // No letter at all decodes as disk -1 in libxl, too.
        assert_eq!(disk_dev_number("xvd"), -16);
        assert_eq!(disk_dev_number("vda"), -1);
        assert_eq!(disk_dev_number(""), -1);
    }

    #[test]
    fn headers_like_xl() {
        assert_eq!(
            block_list_header(),
            "Vdev  BE  handle state evt-ch ring-ref BE-path                       \n"
        );
        assert_eq!(
            network_list_header(),
            "Idx BE Mac Addr.         handle state evt-ch   tx-/rx-ring-ref BE-path                       \n"
        );
    }

    #[test]
    fn macs_like_libxl() {
        assert_eq!(
            parse_mac("00:16:3e:12:34:5f"),
            Some([0, 0x16, 0x3e, 0x12, 0x34, 0x5f])
        );
        assert_eq!(parse_mac("00:16:3e:12:34"), None);
        assert_eq!(parse_mac("0:16:3e:12:34:56"), None);
        assert_eq!(parse_mac("00-16-3e-12-34-56"), None);
        // libxl stops after six fields.
        assert_eq!(
            parse_mac("00:16:3e:12:34:56:77"),
            Some([0, 0x16, 0x3e, 0x12, 0x34, 0x56])
        );
    }

    #[test]
    fn backend_paths() {
        assert_eq!(backend_domid("/local/domain/0/backend/vbd/1/768"), Some(0));
        assert_eq!(backend_domid("/local/domain/12/x"), Some(12));
        assert_eq!(backend_domid("/local/domain/12"), None);
        assert_eq!(backend_domid("/local/domainx"), None);
    }

    const DISK: &[(&str, &str)] = &[
        (
            "/libxl/2/device/vbd/768/backend",
            "/local/domain/0/backend/qdisk/2/768",
        ),
        ("/libxl/2/device/vbd/768/type", "qdisk"),
        ("/libxl/2/device/vbd/768/dev", "hda"),
        ("/libxl/2/device/vbd/768/removable", "0"),
        ("/libxl/2/device/vbd/768/mode", "w"),
        ("/libxl/2/device/vbd/768/device-type", "disk"),
        ("/libxl/2/device/vbd/768/specification", "xen"),
        ("/local/domain/2/device/vbd/768/state", "4"),
        ("/local/domain/2/device/vbd/768/ring-ref", "8"),
    ];

    #[test]
    fn disks_read_back_as_libxl_does() {
        let (_d, xs) = store(DISK);
        let rows = disks(&xs, 2).unwrap().unwrap();
        assert_eq!(
            rows,
            vec![DiskInfo {
                devid: 768,
                backend_id: 0,
                frontend_id: 2,
                state: 4,
                evtch: -1,
                rref: 8,
                backend: "/local/domain/0/backend/qdisk/2/768".into()
            }]
        );
        assert_eq!(
            disk_row(&rows[0]),
            "768   0   2      4     -1     8        /local/domain/0/backend/qdisk/2/768\n"
        );
        assert_eq!(disks(&xs, 3).unwrap(), Some(vec![]));
        // One unreadable device fails the whole list.
        xs.write(
            "/libxl/2/device/vbd/832/backend",
            "/local/domain/0/backend/qdisk/2/832",
        )
        .unwrap();
        assert_eq!(disks(&xs, 2).unwrap(), None);
    }

    #[test]
    fn nics_read_back_as_libxl_does() {
        let (_d, xs) = store(&[
            (
                "/libxl/1/device/vif/0/backend",
                "/local/domain/0/backend/vif/1/0",
            ),
            ("/libxl/1/device/vif/0/handle", "0"),
            ("/libxl/1/device/vif/0/mac", "00:16:3e:12:34:56"),
            ("/libxl/1/device/vif/0/mtu", "1500"),
            ("/libxl/1/device/vif/0/type", "vif"),
            ("/local/domain/1/device/vif/0/state", "1"),
        ]);
        let rows = nics(&xs, 1).unwrap().unwrap();
        assert_eq!(
            nic_row(&rows[0]),
            "0   0  00:16:3e:12:34:56     0     1     -1    -1/-1          /local/domain/0/backend/vif/1/0\n"
        );
        xs.write("/libxl/1/device/vif/0/mtu", "15x").unwrap();
        assert_eq!(nics(&xs, 1).unwrap(), None);
    }
}
