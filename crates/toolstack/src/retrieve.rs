//! A running domain's configuration, as `xl list -l` prints it (libxl's
//! `libxl_retrieve_domain_configuration`): the configuration stored at
//! creation (`userdata-d.<domid>.<uuid>.libxl-json`) brought up to date
//! with what the host says now — the name in xenstore, the hypervisor's
//! uuid, the vCPUs online, the memory target and static maximum, the
//! scheduler parameters, and the devices still present in xenstore.
//!
//! The stored JSON is libxl's own output: read back in its order and
//! printed through the same yajl printer, it comes out byte for byte as
//! libxl's regeneration does. Updated fields keep their place; a field
//! that was at its default (so absent) is inserted where libxl's IDL puts
//! it, and one that becomes default is dropped, as libxl's generator skips
//! defaults.

use std::path::Path;

use serde_json::Value;
use xenstore::wire::Op;
use xenstore::{Xs, XsOps};
use xl_config::json::{Json, Obj};
use xl_config::value::strtoul;

use crate::devlist;
use crate::memory::MAXMEM_CONSTANT_KB;
use crate::names;
use crate::userdata;
use crate::{DomInfo, Error, Host, Hypervisor};

/// libxl's MemKB default (LIBXL_MEMKB_DEFAULT), never printed.
const MEMKB_DEFAULT: u64 = u64::MAX;

/// The fields of libxl_domain_create_info, in IDL order (where a field
/// that was absent is inserted).
pub(crate) const C_INFO_ORDER: &[&str] = &[
    "type",
    "hap",
    "oos",
    "ssidref",
    "ssid_label",
    "name",
    "domid",
    "uuid",
    "xsdata",
    "platformdata",
    "poolid",
    "pool_name",
    "run_hotplug_scripts",
    "driver_domain",
    "passthrough",
    "xend_suspend_evtchn_compat",
];

/// The leading fields of libxl_domain_build_info, in IDL order, up to
/// the last one this module updates and the one after it.
pub(crate) const B_INFO_ORDER: &[&str] = &[
    "max_vcpus",
    "avail_vcpus",
    "cpumap",
    "nodemap",
    "vcpu_hard_affinity",
    "vcpu_soft_affinity",
    "numa_placement",
    "tsc_mode",
    "max_memkb",
    "target_memkb",
    "video_memkb",
    "shadow_memkb",
    "iommu_memkb",
    "rtc_timeoffset",
    "exec_ssidref",
    "exec_ssid_label",
    "localtime",
    "disable_migrate",
    "cpuid",
    "blkdev_start",
    "vnuma_nodes",
    "max_grant_frames",
    "max_maptrack_frames",
    "max_grant_version",
    "device_model_version",
    "device_model_stubdomain",
    "stubdomain_memkb",
    "stubdomain_kernel",
    "stubdomain_cmdline",
    "stubdomain_ramdisk",
    "device_model",
    "device_model_ssidref",
    "device_model_ssid_label",
    "device_model_user",
    "extra",
    "extra_pv",
    "extra_hvm",
    "sched_params",
    "ioports",
];

/// Device lists libxl re-reads from xenstore that this module cannot
/// yet (libxl's device_type_tbl beyond disks and nics).
const UNMERGED_DEVICES: &[&str] = &["usbctrls", "usbdevs", "pcidevs", "dtdevs"];

/// Stored device lists libxl keeps by devid while xenstore lists the
/// device (their types have no merge of their own), with their kind.
const KEPT_BY_DEVID: [(&str, &str); 3] =
    [("vtpms", "vtpm"), ("vdispls", "vdispl"), ("vsnds", "vsnd")];

/// Why `xl list -l` (or a command needing the stored config) could not
/// rebuild a domain's configuration.
#[derive(Debug, thiserror::Error)]
pub enum RetrieveError {
    /// No domain has this id.
    #[error("domain {0} does not exist")]
    NoSuchDomain(u32),
    /// libxl's ERROR_JSON_CONFIG_EMPTY: the domain was not made by libxl.
    #[error("domain {0} has no stored configuration")]
    NoConfig(u32),
    /// The stored configuration could not be read.
    #[error("cannot read the stored configuration {path}")]
    Read {
        /// The file.
        path: String,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The stored configuration is not JSON.
    #[error("the stored configuration {path} is not JSON")]
    Parse {
        /// The file.
        path: String,
        /// The parse error.
        #[source]
        source: serde_json::Error,
    },
    /// The stored configuration's JSON is not shaped as libxl writes it.
    #[error("the stored configuration {path}: {what}")]
    Shape {
        /// The file.
        path: String,
        /// What is wrong.
        what: String,
    },
    /// The domain's `memory/target` node is missing (its path).
    #[error("Cannot get target memory info from {0}")]
    MemoryMissing(String),
    /// A memory node that holds no number.
    #[error("Invalid memory {what} {value} from {path}")]
    MemoryInvalid {
        /// Which memory value.
        what: &'static str,
        /// What the node holds.
        value: String,
        /// The node.
        path: String,
    },
    /// The domain's scheduler is none libxl knows.
    #[error("Unknown scheduler")]
    UnknownScheduler,
    /// A scheduler whose parameters this toolstack cannot read yet.
    #[error("reading a domain's {0} scheduler parameters is not implemented")]
    UnsupportedScheduler(String),
    /// A device kind this toolstack cannot merge yet.
    #[error("merging the stored {0} with xenstore is not implemented")]
    UnsupportedDevices(&'static str),
    /// The stored `type` is none libxl knows.
    #[error("domain type {0} unknown")]
    UnknownType(String),
    /// The stored device model version is none libxl knows.
    #[error("device model version {0} unknown")]
    UnknownDeviceModel(String),
    /// The device model could not say which vCPUs are online.
    #[error("Failed to retrieve CPU index from the device model")]
    DeviceModel(#[source] Error),
    /// The hypervisor failed.
    #[error(transparent)]
    Toolstack(#[from] Error),
    /// A xenstore read failed.
    #[error(transparent)]
    Xenstore(#[from] xenstore::Error),
    /// The domain's userdata lock could not be taken.
    #[error(transparent)]
    Lock(#[from] userdata::LockError),
}

/// One line libxl would log on the way (xl prints it on stderr).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogLine {
    /// "error" or "warning".
    pub level: &'static str,
    /// The domain it is about.
    pub domid: u32,
    /// The message.
    pub message: String,
}

/// The configuration, and what libxl would have logged.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Retrieved {
    /// The configuration as libxl's JSON.
    pub config: Json,
    /// What libxl would have logged, in order.
    pub log: Vec<LogLine>,
}

/// What retrieving several domains' configurations looks up once: the
/// host's cpupools (each domain's scheduler is its pool's).
#[derive(Default)]
pub struct HostFacts {
    pools: std::cell::OnceCell<Vec<crate::CpupoolInfo>>,
}

impl HostFacts {
    fn pools(&self, hv: &dyn Hypervisor) -> Result<&[crate::CpupoolInfo], RetrieveError> {
        if let Some(p) = self.pools.get() {
            return Ok(p);
        }
        let listed = hv.cpupools()?;
        Ok(self.pools.get_or_init(|| listed))
    }
}

/// A domain's configuration as it is now.
pub fn retrieve(host: &Host, xs: &Xs, domid: u32) -> Result<Retrieved, RetrieveError> {
    retrieve_with(host, xs, domid, &HostFacts::default())
}

/// [`retrieve`], with what was already looked up for other domains.
pub fn retrieve_with(
    host: &Host,
    xs: &Xs,
    domid: u32,
    facts: &HostFacts,
) -> Result<Retrieved, RetrieveError> {
    let hv = host.hv.as_ref();
    let info = hv
        .domain(domid)?
        .ok_or(RetrieveError::NoSuchDomain(domid))?;
    let lib = &host.paths.lib;
    // libxl holds the domain's device-changes lock throughout, so no
    // device comes or goes between reading the file and xenstore.
    let _devlock = userdata::FileLock::take(&userdata::path(
        lib,
        domid,
        &info.uuid,
        'l',
        "libxl-device-changes-lock",
    ))?;
    let stored_lock = userdata::lock(lib, domid, &info.uuid)?;
    let mut config = read_stored(lib, domid, &info.uuid)?;
    let kind = build_type(&config).ok_or_else(|| RetrieveError::Shape {
        path: stored_path(lib, domid, &info.uuid),
        what: "no domain type".into(),
    })?;
    let max_vcpus = b_info(&config)
        .and_then(|b| b.get("max_vcpus"))
        .and_then(json_u64)
        .unwrap_or(0);
    for k in UNMERGED_DEVICES {
        if matches!(config.get(k), Some(Json::Arr(a)) if !a.is_empty()) {
            return Err(RetrieveError::UnsupportedDevices(k));
        }
    }

    // QEMU's CPUs first, outside the lock (libxl: it may take a while).
    // Other guests keep the lock: releasing and retaking it at once
    // would look no different to anyone waiting for it, and costs six
    // system calls.
    let dm = if kind == "hvm" {
        Some(dm_version(xs, domid)?)
    } else {
        None
    };
    let (dm_cpus, _lock) = match dm.as_deref() {
        Some("qemu_xen") => {
            drop(stored_lock);
            let cpus = host
                .dom0
                .device_model_cpus(domid, &info.uuid)
                .map_err(RetrieveError::DeviceModel)?;
            (Some(cpus), userdata::lock(lib, domid, &info.uuid)?)
        }
        _ => (None, stored_lock),
    };
    let mut log = Vec::new();
    let Some(name) = names::domid_to_name(xs, domid)? else {
        // libxl logs this and hands back the stored configuration as is.
        log.push(LogLine {
            level: "error",
            domid,
            message: "Fail to get domain name".into(),
        });
        return Ok(Retrieved { config, log });
    };
    let info = hv
        .domain(domid)?
        .ok_or(RetrieveError::NoSuchDomain(domid))?;

    let online = online_vcpus(xs, domid, &kind, dm.as_deref(), dm_cpus, max_vcpus)?;

    let (target, max) = memory_target(xs, &info)?;
    let sched = sched_params(hv, &info, facts)?;

    // The name and uuid.
    let c = obj_field(&mut config, "c_info", TOP_ORDER);
    set(c, C_INFO_ORDER, "name", Some(Json::str(name)));
    let uuid =
        (info.uuid != [0; 16]).then(|| Json::str(xl_config::domain::uuid_string(&info.uuid)));
    set(c, C_INFO_ORDER, "uuid", uuid);

    let b = obj_field(&mut config, "b_info", TOP_ORDER);
    let bits = (!online.is_empty())
        .then(|| Json::Arr(online.iter().map(|i| Json::Int(*i as i64)).collect()));
    set(b, B_INFO_ORDER, "avail_vcpus", bits);

    merge_memory(b, &kind, target, max);
    set(b, B_INFO_ORDER, "sched_params", Some(sched));

    merge_devices(&mut config, xs, domid, &mut log)?;
    Ok(Retrieved { config, log })
}

/// The vCPUs online now, as indices below max_vcpus rounded up to whole
/// bytes (the width of libxl's bitmap): QEMU's for an HVM guest of
/// qemu-xen, xenstore's otherwise.
fn online_vcpus(
    xs: &Xs,
    domid: u32,
    kind: &str,
    dm: Option<&str>,
    dm_cpus: Option<Vec<u32>>,
    max_vcpus: u64,
) -> Result<Vec<u64>, RetrieveError> {
    let width = max_vcpus.div_ceil(8) * 8;
    Ok(match (kind, dm) {
        ("hvm", Some("qemu_xen")) => {
            let mut v: Vec<u64> = dm_cpus
                .unwrap_or_default()
                .into_iter()
                .map(u64::from)
                .filter(|i| *i < width)
                .collect();
            v.sort_unstable();
            v.dedup();
            v
        }
        ("hvm", Some("qemu_xen_traditional")) | ("pv" | "pvh", _) => {
            online_from_xenstore(xs, domid, max_vcpus)?
        }
        ("hvm", Some(other)) => return Err(RetrieveError::UnknownDeviceModel(other.into())),
        (other, _) => return Err(RetrieveError::UnknownType(other.into())),
    })
}

/// Memory: xenstore's target lacks the video memory (and, for HVM guests
/// with maxmem above memory, libxl's fixed allowance); both are added back
/// from the stored values, defaults included, as libxl does.
fn merge_memory(b: &mut Vec<(String, Json)>, kind: &str, target: u64, max: u64) {
    let stored = |k: &str, b: &Vec<(String, Json)>| {
        b.iter()
            .find(|(n, _)| n == k)
            .and_then(|(_, v)| json_u64(v))
            .unwrap_or(MEMKB_DEFAULT)
    };
    let fudge_hvm = kind == "hvm" && stored("max_memkb", b) > stored("target_memkb", b);
    let fudge =
        stored("video_memkb", b).wrapping_add(if fudge_hvm { MAXMEM_CONSTANT_KB } else { 0 });
    set(
        b,
        B_INFO_ORDER,
        "target_memkb",
        memkb(target.wrapping_add(fudge)),
    );
    set(b, B_INFO_ORDER, "max_memkb", memkb(max));
}

/// Devices: the stored ones still in xenstore stay (disks take xenstore's
/// media), the others go with a warning.
fn merge_devices(
    config: &mut Json,
    xs: &Xs,
    domid: u32,
    log: &mut Vec<LogLine>,
) -> Result<(), RetrieveError> {
    let warn = |log: &mut Vec<LogLine>| {
        log.push(LogLine {
            level: "warning",
            domid,
            message: "Device present in JSON but not in xenstore, ignored".into(),
        })
    };
    // Only devices of the stored configuration are looked up in xenstore:
    // without any, its device trees would change nothing.
    let xs_disks = if has_devices(config, "disks") {
        devlist::xs_disks(xs, domid)?.unwrap_or_default()
    } else {
        Vec::new()
    };
    filter_devices(config, "disks", |d| {
        let vdev = d.get("vdev").and_then(json_str);
        let found = xs_disks.iter().find(|x| Some(x.vdev.as_str()) == vdev);
        match found {
            Some(x) => {
                merge_disk(d, x);
                true
            }
            None => {
                warn(log);
                false
            }
        }
    });
    let xs_nics = if has_devices(config, "nics") {
        devlist::xs_nics(xs, domid)?.unwrap_or_default()
    } else {
        Vec::new()
    };
    filter_devices(config, "nics", |n| {
        // An absent devid is libxl's default, -1.
        let devid = n.get("devid").and_then(json_i64).unwrap_or(-1);
        let keep = xs_nics.iter().any(|(d, _)| i64::from(*d) == devid);
        if !keep {
            warn(log);
        }
        keep
    });
    for (key, kind) in KEPT_BY_DEVID {
        let listed = if has_devices(config, key) {
            crate::vdevlist::listed_devids(xs, domid, kind)?
        } else {
            Vec::new()
        };
        filter_devices(config, key, |d| {
            let devid = d.get("devid").and_then(json_i64).unwrap_or(-1);
            let keep = listed.contains(&devid);
            if !keep {
                warn(log);
            }
            keep
        });
    }
    Ok(())
}

/// Whether the configuration lists any device of this kind.
fn has_devices(config: &Json, key: &str) -> bool {
    matches!(config.get(key), Some(Json::Arr(a)) if !a.is_empty())
}

/// Which device kinds (disks, nics) a domain's stored configuration
/// names, from its text: a hint for [`prefetch`], read without the lock
/// (retrieve reads the file again under it). Unreadable: both.
fn stored_devices(lib: &Path, d: &DomInfo) -> (bool, bool) {
    let path = userdata::path(lib, d.domid, &d.uuid, 'd', "libxl-json");
    match userdata::read_file(&path) {
        Ok(text) => {
            let names = |key: &[u8]| text.windows(key.len()).any(|w| w == key);
            (names(b"\"disks\""), names(b"\"nics\""))
        }
        Err(_) => (true, true),
    }
}

/// The most vCPUs per domain whose availability [`prefetch`] asks for.
const PREFETCH_VCPUS: u32 = 128;

/// Asks xenstored at once for what [`retrieve`] will read of each of
/// these domains (names, vCPU availability, memory, device trees), so that
/// `xl list -l` of N domains waits for one round trip instead of about ten
/// per domain. Only a speed-up: what is not kept is read as usual.
pub fn prefetch(xs: &Xs, lib: &Path, domains: &[DomInfo]) -> Result<(), RetrieveError> {
    let mut paths: Vec<(Op, String)> = Vec::new();
    for d in domains {
        let (disks, nics) = stored_devices(lib, d);
        let (id, dom) = (d.domid, format!("/local/domain/{}", d.domid));
        paths.push((Op::Read, format!("{dom}/name")));
        if d.hvm {
            paths.push((Op::Read, format!("/libxl/{id}/dm-version")));
        }
        // PV and PVH guests' online vCPUs (HVM ones' come from QEMU, but
        // the flag does not tell PVH from HVM). Dom0's stored config
        // names no vCPUs, so none of its are read.
        if id != 0 {
            let vcpus = d.vcpu_max_id.saturating_add(1).min(PREFETCH_VCPUS);
            paths.extend((0..vcpus).map(|i| (Op::Read, format!("{dom}/cpu/{i}/availability"))));
        }
        paths.push((Op::Read, format!("{dom}/memory/target")));
        paths.push((Op::Read, format!("{dom}/memory/static-max")));
        if disks {
            paths.push((Op::Directory, format!("/libxl/{id}/device/vbd")));
            paths.push((Op::Directory, format!("/libxl/{id}/device/virtio_disk")));
        }
        if nics {
            paths.push((Op::Directory, format!("/libxl/{id}/device/vif")));
        }
    }
    let requests: Vec<(Op, &str)> = paths.iter().map(|(op, p)| (*op, p.as_str())).collect();
    Ok(xs.prefetch(&requests)?)
}

/// `xl list -l`'s document: `{"domid": N, "config": {...}}` per domain.
pub fn list_entry(domid: u32, config: Json) -> Json {
    Obj::new()
        .field("domid", Json::Int(i64::from(domid)))
        .field("config", config)
        .build()
}

fn stored_path(lib: &Path, domid: u32, uuid: &[u8; 16]) -> String {
    userdata::path(lib, domid, uuid, 'd', "libxl-json")
        .display()
        .to_string()
}

/// The stored configuration: libxl's text up to its terminating NUL.
pub(crate) fn read_stored(lib: &Path, domid: u32, uuid: &[u8; 16]) -> Result<Json, RetrieveError> {
    let path = userdata::path(lib, domid, uuid, 'd', "libxl-json");
    let shown = || path.display().to_string();
    let bytes = match userdata::read_file(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(RetrieveError::NoConfig(domid));
        }
        Err(source) => {
            return Err(RetrieveError::Read {
                path: shown(),
                source,
            });
        }
    };
    if bytes.is_empty() {
        return Err(RetrieveError::NoConfig(domid));
    }
    let text = bytes.split(|b| *b == 0).next().unwrap_or_default();
    let value: Value = serde_json::from_slice(text).map_err(|source| RetrieveError::Parse {
        path: shown(),
        source,
    })?;
    let json = to_json(&value).map_err(|what| RetrieveError::Shape {
        path: shown(),
        what,
    })?;
    if !matches!(json, Json::Obj(_)) {
        return Err(RetrieveError::Shape {
            path: shown(),
            what: "not an object".into(),
        });
    }
    Ok(json)
}

/// serde's value in our ordered tree (serde_json keeps the order).
fn to_json(v: &Value) -> Result<Json, String> {
    Ok(match v {
        Value::Null => Json::Null,
        Value::Bool(b) => Json::Bool(*b),
        Value::Number(n) => match (n.as_i64(), n.as_u64()) {
            (Some(i), _) => Json::Int(i),
            (None, Some(u)) => Json::UInt(u),
            _ => return Err(format!("number {n} is not an integer")),
        },
        Value::String(s) => Json::Str(s.clone()),
        Value::Array(a) => Json::Arr(a.iter().map(to_json).collect::<Result<_, _>>()?),
        Value::Object(o) => Json::Obj(
            o.iter()
                .map(|(k, v)| Ok((k.clone(), to_json(v)?)))
                .collect::<Result<_, String>>()?,
        ),
    })
}

fn json_u64(v: &Json) -> Option<u64> {
    match v {
        Json::Int(i) => u64::try_from(*i).ok(),
        Json::UInt(u) => Some(*u),
        _ => None,
    }
}

fn json_i64(v: &Json) -> Option<i64> {
    match v {
        Json::Int(i) => Some(*i),
        Json::UInt(u) => i64::try_from(*u).ok(),
        _ => None,
    }
}

fn json_str(v: &Json) -> Option<&str> {
    match v {
        Json::Str(s) => Some(s),
        _ => None,
    }
}

fn b_info(config: &Json) -> Option<&Json> {
    config.get("b_info")
}

/// b_info's type (the key of its `type.*` union member), else c_info's.
fn build_type(config: &Json) -> Option<String> {
    if let Some(Json::Obj(fields)) = b_info(config)
        && let Some(t) = fields.iter().find_map(|(k, _)| k.strip_prefix("type."))
    {
        return Some(t.to_string());
    }
    config
        .get("c_info")
        .and_then(|c| c.get("type"))
        .and_then(json_str)
        .map(str::to_string)
}

/// The device model libxl recorded for a domain (traditional when none).
fn dm_version(xs: &Xs, domid: u32) -> Result<String, RetrieveError> {
    Ok(xs
        .try_read(&format!("/libxl/{domid}/dm-version"))?
        .unwrap_or_else(|| "qemu_xen_traditional".into()))
}

/// The vCPUs below `max` whose `cpu/<i>/availability` says online.
fn online_from_xenstore(xs: &Xs, domid: u32, max: u64) -> Result<Vec<u64>, RetrieveError> {
    let paths: Vec<String> = (0..max)
        .map(|i| format!("/local/domain/{domid}/cpu/{i}/availability"))
        .collect();
    Ok(xs
        .read_many(&paths)?
        .into_iter()
        .enumerate()
        .filter(|(_, v)| v.as_deref() == Some("online"))
        .map(|(i, _)| i as u64)
        .collect())
}

fn memkb(v: u64) -> Option<Json> {
    (v != MEMKB_DEFAULT).then_some(Json::UInt(v))
}

/// A number the way libxl reads memory values (strtoull, nothing after).
fn parse_kb(value: &str) -> Option<u64> {
    let (v, used, _) = strtoul(value.as_bytes(), 10);
    (used == value.len()).then_some(v)
}

/// (target, static-max) in KiB from xenstore; dom0's are filled in from
/// the hypervisor when missing, and written back, as libxl does.
fn memory_target(xs: &Xs, info: &DomInfo) -> Result<(u64, u64), RetrieveError> {
    let domid = info.domid;
    let dom = format!("/local/domain/{domid}");
    let target_path = format!("{dom}/memory/target");
    let max_path = format!("{dom}/memory/static-max");
    let target = xs.try_read(&target_path)?;
    let max = xs.try_read(&max_path)?;
    let parse = |what, value: String, path: &str| {
        parse_kb(&value).ok_or(RetrieveError::MemoryInvalid {
            what,
            value,
            path: path.to_string(),
        })
    };
    match (target, max) {
        (Some(t), Some(m)) => Ok((
            parse("target", t, &target_path)?,
            parse("static-max", m, &max_path)?,
        )),
        _ if domid == 0 => xs.transaction(|t| -> Result<(u64, u64), RetrieveError> {
            let target = match t.try_read(&target_path)? {
                Some(v) => parse("target", v, &target_path)?,
                None => {
                    t.write(&target_path, &info.current_memkb.to_string())?;
                    info.current_memkb
                }
            };
            let max = match t.try_read(&max_path)? {
                Some(v) => parse("static-max", v, &max_path)?,
                None => {
                    t.write(&max_path, &info.max_memkb.to_string())?;
                    info.max_memkb
                }
            };
            Ok((target, max))
        }),
        (None, _) => Err(RetrieveError::MemoryMissing(target_path)),
        (_, None) => Err(RetrieveError::MemoryMissing(max_path)),
    }
}

/// libxl_domain_sched_params as libxl reads it back: the scheduler of the
/// domain's cpupool and, for credit and credit2, weight and cap.
fn sched_params(
    hv: &dyn Hypervisor,
    info: &DomInfo,
    facts: &HostFacts,
) -> Result<Json, RetrieveError> {
    let pools = facts.pools(hv)?;
    let sched = pools
        .iter()
        .find(|p| p.poolid == info.cpupool)
        .map(|p| p.sched.clone())
        .ok_or(RetrieveError::UnknownScheduler)?;
    match sched.as_str() {
        "credit" | "credit2" => {
            let p = hv.domain_sched(info.domid, &sched)?;
            Ok(Obj::new()
                .field("sched", Json::str(sched))
                .field("weight", Json::Int(i64::from(p.weight)))
                .field("cap", Json::Int(i64::from(p.cap)))
                .build())
        }
        _ => Err(RetrieveError::UnsupportedScheduler(sched)),
    }
}

/// The fields of object `key` in `config`, made (at its IDL place) if
/// missing.
pub(crate) fn obj_field<'a>(
    config: &'a mut Json,
    key: &str,
    order: &[&str],
) -> &'a mut Vec<(String, Json)> {
    let Json::Obj(top) = config else {
        unreachable!("read_stored only returns objects")
    };
    if !top.iter().any(|(k, _)| k == key) {
        set(top, order, key, Some(Json::Obj(Vec::new())));
    }
    let slot = top
        .iter_mut()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v)
        .expect("just inserted");
    if !matches!(slot, Json::Obj(_)) {
        *slot = Json::Obj(Vec::new());
    }
    match slot {
        Json::Obj(f) => f,
        _ => unreachable!(),
    }
}

/// Set (or, with None, remove) a field, keeping its place; a new field
/// goes before the first present field that the IDL puts after it.
pub(crate) fn set(
    fields: &mut Vec<(String, Json)>,
    order: &[&str],
    key: &str,
    value: Option<Json>,
) {
    let at = fields.iter().position(|(k, _)| k == key);
    match (at, value) {
        (Some(i), Some(v)) => fields[i].1 = v,
        (Some(i), None) => {
            fields.remove(i);
        }
        (None, Some(v)) => {
            let rank = |k: &str| order.iter().position(|o| *o == k);
            let mine = rank(key).unwrap_or(usize::MAX);
            let pos = fields
                .iter()
                .position(|(k, _)| rank(k).is_some_and(|r| r > mine))
                .unwrap_or(fields.len());
            fields.insert(pos, (key.to_string(), v));
        }
        (None, None) => {}
    }
}

/// Keep the elements of `config[key]` for which `keep` says so; an array
/// left empty is dropped, as libxl prints no empty device list.
fn filter_devices(config: &mut Json, key: &str, mut keep: impl FnMut(&mut Json) -> bool) {
    let Json::Obj(top) = config else { return };
    let Some(i) = top.iter().position(|(k, _)| k == key) else {
        return;
    };
    if let Json::Arr(items) = &mut top[i].1 {
        items.retain_mut(|d| keep(d));
        if items.is_empty() {
            top.remove(i);
        }
    }
}

/// libxl's disk merge: a removable disk whose drive xenstore shows empty
/// is reported with no media.
fn merge_disk(d: &mut Json, x: &devlist::XsDisk) {
    if !x.removable || x.pdev_path.as_deref().is_some_and(|p| !p.is_empty()) {
        return;
    }
    if let Json::Obj(fields) = d {
        set(fields, DISK_ORDER, "pdev_path", Some(Json::str("")));
        set(fields, DISK_ORDER, "format", Some(Json::str("empty")));
    }
}

/// The fields of libxl_device_disk, in IDL order.
pub(crate) const DISK_ORDER: &[&str] = &[
    "backend_domid",
    "backend_domname",
    "pdev_path",
    "vdev",
    "backend",
    "format",
    "script",
    "removable",
    "readwrite",
    "is_cdrom",
    "direct_io_safe",
    "discard_enable",
    "specification",
    "transport",
    "irq",
    "base",
    "colo_enable",
    "colo_restore_enable",
    "colo_host",
];

/// The leading fields of libxl_device_nic, in IDL order.
pub(crate) const NIC_ORDER: &[&str] = &[
    "backend_domid",
    "backend_domname",
    "devid",
    "mtu",
    "model",
    "mac",
    "ip",
    "bridge",
    "ifname",
    "script",
    "nictype",
    "rate_bytes_per_interval",
];

/// libxl_domain_config's fields, in IDL order.
pub(crate) const TOP_ORDER: &[&str] = &[
    "c_info",
    "b_info",
    "disks",
    "nics",
    "pcidevs",
    "rdms",
    "dtdevs",
    "vfbs",
    "vkbs",
    "vtpms",
    "p9s",
    "pvcallsifs",
    "vdispls",
    "vsnds",
    "channels",
    "usbctrls",
    "usbdevs",
    "on_poweroff",
    "on_reboot",
    "on_watchdog",
    "on_crash",
    "on_soft_reset",
];

#[cfg(test)]
mod tests;
