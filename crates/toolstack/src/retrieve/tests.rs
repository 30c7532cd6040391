//! Recorded on Xen 4.17 in the lab: the real xl created a PV guest, a PV
//! guest with two vifs and a qdisk disk, a paused PVH guest and a paused
//! HVM guest (qemu-xen); the stored configurations, `xenstore-ls -f` and
//! the real `xl list -l` output were saved. Given the same stored files
//! and xenstore, ours must print the same bytes.

use std::collections::HashMap;
use std::path::Path;

use xenstore::{Daemon, Xs, XsOps};
use xl_config::json::Json;

use super::*;
use crate::fake::{self, FakeDom0, FakeHv};
use crate::{CpupoolInfo, HostPaths, SchedParams};

const DATA: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../tests/golden/retrieve/xen-4.17"
);

/// `xenstore-ls -f` lines (`/path = "value"`) into a fresh xenstored.
fn store(dump: &str) -> (Daemon, Xs) {
    let d = Daemon::new();
    let xs = Xs::new(d.connect_as(0).unwrap()).unwrap();
    for line in dump.lines() {
        let (path, value) = line.split_once(" = ").unwrap();
        let value = value.strip_prefix('"').unwrap().strip_suffix('"').unwrap();
        xs.write(path, value).unwrap();
    }
    (d, xs)
}

fn uuid_of(s: &str) -> [u8; 16] {
    let hex: String = s.chars().filter(|c| *c != '-').collect();
    let mut u = [0; 16];
    for (i, b) in u.iter_mut().enumerate() {
        *b = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).unwrap();
    }
    u
}

struct Recorded {
    _d: Daemon,
    xs: Xs,
    hv: FakeHv,
    dom0: FakeDom0,
    paths: HostPaths,
    _dir: TempDir,
}

impl Recorded {
    /// The host as it is now (the parts are changed between retrievals).
    fn host(&self) -> crate::Host {
        fake::host(self.hv.clone(), self.dom0.clone(), self.paths.clone())
    }
}

struct TempDir(std::path::PathBuf);
impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The recorded host: its domains (from the stored files' names), their
/// stored configurations, xenstore, credit2 with the default weight.
fn host(tag: &str) -> Recorded {
    let dir = std::env::temp_dir().join(format!("xl-retrieve-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let paths = HostPaths::under(&dir);
    std::fs::create_dir_all(&paths.lib).unwrap();
    let mut doms = Vec::new();
    let mut sched = HashMap::new();
    for e in std::fs::read_dir(DATA).unwrap() {
        let name = e.unwrap().file_name().into_string().unwrap();
        let Some(rest) = name.strip_prefix("userdata-d.") else {
            continue;
        };
        let (domid, rest) = rest.split_once('.').unwrap();
        let uuid = rest.strip_suffix(".libxl-json").unwrap();
        std::fs::copy(Path::new(DATA).join(&name), paths.lib.join(&name)).unwrap();
        let domid: u32 = domid.parse().unwrap();
        doms.push(DomInfo {
            domid,
            uuid: uuid_of(uuid),
            hvm: domid >= 3,
            current_memkb: 1_048_576,
            max_memkb: 1_048_576,
            ..Default::default()
        });
        sched.insert(
            domid,
            SchedParams {
                weight: 256,
                cap: 0,
            },
        );
    }
    doms.sort_by_key(|d| d.domid);
    let (d, xs) = store(&std::fs::read_to_string(Path::new(DATA).join("xenstore-ls.txt")).unwrap());
    let hv = FakeHv {
        doms: doms.into(),
        pools: vec![CpupoolInfo {
            poolid: 0,
            sched: "credit2".into(),
            n_dom: 5,
            cpumap: vec![3],
        }],
        sched,
        ..FakeHv::default()
    };
    let dom0 = FakeDom0 {
        dm_cpus: HashMap::from([(4, vec![0])]),
    };
    Recorded {
        _d: d,
        xs,
        hv,
        dom0,
        paths,
        _dir: TempDir(dir),
    }
}

fn list_l(h: &Recorded, domids: &[u32]) -> (String, Vec<LogLine>) {
    let mut entries = Vec::new();
    let mut log = Vec::new();
    for &domid in domids {
        let r = retrieve(&h.host(), &h.xs, domid).unwrap();
        entries.push(list_entry(domid, r.config));
        log.extend(r.log);
    }
    (Json::Arr(entries).to_yajl() + "\n", log)
}

fn recorded(name: &str) -> String {
    std::fs::read_to_string(Path::new(DATA).join(name)).unwrap()
}

#[test]
fn every_guest_as_the_real_xl_prints_it() {
    let h = host("all");
    let (out, log) = list_l(&h, &[0, 1, 2, 3, 4]);
    assert_eq!(out, recorded("list-l.out"));
    assert!(log.is_empty(), "{log:?}");
    // The userdata and device-changes locks are gone again, as libxl's.
    let locks: Vec<_> = std::fs::read_dir(&h.paths.lib)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.starts_with("userdata-l."))
        .collect();
    assert!(locks.is_empty(), "{locks:?}");
}

#[test]
fn prefetched_reads_give_the_same_document_and_are_all_used() {
    let h = host("prefetch");
    let domains = h.hv.doms.borrow().clone();
    prefetch(&h.xs, &h.paths.lib, &domains).unwrap();
    let (out, log) = list_l(&h, &[0, 1, 2, 3, 4]);
    assert_eq!(out, recorded("list-l.out"));
    assert!(log.is_empty(), "{log:?}");
    // All but two, as the domain flags do not tell PVH from HVM: the PVH
    // guest's device-model version and the qemu-xen HVM guest's vCPU
    // availability (its vCPUs come from QEMU).
    assert_eq!(h.xs.prefetched_unused(), 2);
}

#[test]
fn live_state_wins_over_the_stored_config() {
    // What the real xl printed after: rename lab-pvdev lab-ren, vcpu-set 1,
    // mem-set 200, sched-credit2 -w 100 -c 20, network-detach 1 and
    // block-detach xvda (the stored file kept both devices).
    let mut h = host("changed");
    h.xs.write("/local/domain/2/name", "lab-ren").unwrap();
    h.xs.write("/local/domain/2/cpu/1/availability", "offline")
        .unwrap();
    h.xs.write("/local/domain/2/memory/target", "204800")
        .unwrap();
    h.xs.rm("/libxl/2/device/vif/1").unwrap();
    h.xs.rm("/libxl/2/device/vbd").unwrap();
    h.hv.sched.insert(
        2,
        SchedParams {
            weight: 100,
            cap: 20,
        },
    );
    let (out, log) = list_l(&h, &[2]);
    assert_eq!(out, recorded("list-l-pvdev-changed.out"));
    assert_eq!(log.len(), 2);
    assert!(log.iter().all(|l| l.level == "warning"
        && l.domid == 2
        && l.message == "Device present in JSON but not in xenstore, ignored"));
}

#[test]
fn the_disk_stays_while_xenstore_has_it() {
    let h = host("disk");
    let r = retrieve(&h.host(), &h.xs, 4).unwrap();
    let disks = r.config.get("disks").unwrap();
    assert!(matches!(disks, Json::Arr(d) if d.len() == 1));
    h.xs.rm("/libxl/4/device/vbd/768").unwrap();
    let r = retrieve(&h.host(), &h.xs, 4).unwrap();
    assert_eq!(r.config.get("disks"), None);
    assert_eq!(r.log.len(), 1);
}

#[test]
fn dom0_memory_is_filled_in_when_missing() {
    let h = host("dom0");
    h.xs.rm("/local/domain/0/memory/target").unwrap();
    h.xs.rm("/local/domain/0/memory/static-max").unwrap();
    {
        let mut doms = h.hv.doms.borrow_mut();
        doms[0].current_memkb = 1_000_000;
        doms[0].max_memkb = 2_000_000;
    }
    let r = retrieve(&h.host(), &h.xs, 0).unwrap();
    let b = r.config.get("b_info").unwrap();
    assert_eq!(b.get("max_memkb"), Some(&Json::UInt(2_000_000)));
    // dom0's video_memkb is at its default (all ones): libxl adds it anyway.
    assert_eq!(b.get("target_memkb"), Some(&Json::UInt(999_999)));
    assert_eq!(
        h.xs.try_read("/local/domain/0/memory/target")
            .unwrap()
            .as_deref(),
        Some("1000000")
    );
    assert_eq!(
        h.xs.try_read("/local/domain/0/memory/static-max")
            .unwrap()
            .as_deref(),
        Some("2000000")
    );
}

#[test]
fn hvm_vcpus_come_from_the_device_model() {
    let mut h = host("hvm");
    h.dom0.dm_cpus.insert(4, vec![]);
    let r = retrieve(&h.host(), &h.xs, 4).unwrap();
    assert_eq!(r.config.get("b_info").unwrap().get("avail_vcpus"), None);
    h.dom0.dm_cpus.remove(&4);
    assert!(matches!(
        retrieve(&h.host(), &h.xs, 4),
        Err(RetrieveError::DeviceModel(_))
    ));
}

#[test]
fn domains_without_a_stored_config_are_refused() {
    let h = host("none");
    h.hv.doms.borrow_mut().push(DomInfo {
        domid: 7,
        ..Default::default()
    });
    assert!(matches!(
        retrieve(&h.host(), &h.xs, 7),
        Err(RetrieveError::NoConfig(7))
    ));
    assert!(matches!(
        retrieve(&h.host(), &h.xs, 9),
        Err(RetrieveError::NoSuchDomain(9))
    ));
}

#[test]
fn new_fields_go_to_their_idl_place() {
    let mut f = vec![
        ("type".to_string(), Json::str("pv")),
        ("run_hotplug_scripts".to_string(), Json::str("True")),
    ];
    set(&mut f, C_INFO_ORDER, "uuid", Some(Json::str("u")));
    set(&mut f, C_INFO_ORDER, "name", Some(Json::str("n")));
    set(&mut f, C_INFO_ORDER, "unknown", Some(Json::Int(1)));
    let keys: Vec<&str> = f.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        keys,
        ["type", "name", "uuid", "run_hotplug_scripts", "unknown"]
    );
    set(&mut f, C_INFO_ORDER, "name", None);
    assert_eq!(f.len(), 4);
}
