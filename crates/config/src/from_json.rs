//! The inverse of [`DomainConfig::to_json`]: a `libxl_domain_config` as
//! libxl's JSON (a save file's config, a stored config) back into the
//! typed config, as `libxl_domain_config_from_json` does for xl restore.
//!
//! Every key is either read or refused: a key this reader does not know
//! would otherwise be dropped silently and the restored domain would
//! differ from the saved one.

use serde_json::{Map, Value};

use crate::domain::Disk;
use crate::domain::{
    Action, BuildInfo, Channel, ChannelConnection, CreateInfo, DomainConfig, GuestKind, HvmInfo,
    NIC_COLO_FIELDS, Nic, P9, Pci, PvInfo, PvhInfo, SchedParams, Sdl, Spice, TypeInfo, Vfb, Vnc,
    Vtpm, parse_uuid,
};
use crate::vdev::{
    Connector, PCM_FORMATS, Pvcallsif, USBCTRL_TYPES, Usbctrl, Usbdev, VKB_BACKENDS, Vdispl, Vkb,
    Vsnd, VsndParams, VsndPcm, VsndStream,
};

/// Why a JSON domain config cannot be read back.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum JsonConfigError {
    /// The text is not JSON, or not a JSON object; the parser's message.
    #[error("the config is not JSON: {0}")]
    Syntax(String),
    /// A known key whose value has the wrong type or range.
    #[error("config key {path}: {why}")]
    Key {
        /// The key's dotted path, e.g. `b_info.max_memkb`.
        path: String,
        /// What is wrong with its value.
        why: String,
    },
    /// Keys this reader does not know, as a comma-separated list of paths.
    #[error("config keys this xl cannot read yet: {0}")]
    Unknown(String),
}

type Result<T> = std::result::Result<T, JsonConfigError>;

impl DomainConfig {
    /// Reads libxl's JSON form of a domain config (trailing NULs, as a
    /// save file stores them, are ignored).
    pub fn from_json(text: &str) -> Result<DomainConfig> {
        let value: Value = serde_json::from_str(text.trim_end_matches('\0'))
            .map_err(|e| JsonConfigError::Syntax(e.to_string()))?;
        let Value::Object(map) = &value else {
            return Err(JsonConfigError::Syntax("not a JSON object".into()));
        };
        let mut unknown = Vec::new();
        let cfg = read_object(String::new(), map, &mut unknown, read_domain)?;
        if unknown.is_empty() {
            Ok(cfg)
        } else {
            Err(JsonConfigError::Unknown(unknown.join(", ")))
        }
    }
}

/// One JSON object being read: the keys taken so far are remembered, and
/// those never taken are reported when it is done.
struct Obj<'a, 'u> {
    path: String,
    map: &'a Map<String, Value>,
    taken: Vec<&'a str>,
    unknown: &'u mut Vec<String>,
}

fn key_error(path: &str, k: &str, why: impl Into<String>) -> JsonConfigError {
    JsonConfigError::Key {
        path: format!("{path}{k}"),
        why: why.into(),
    }
}

impl<'a, 'u> Obj<'a, 'u> {
    fn get(&mut self, k: &'a str) -> Option<&'a Value> {
        let (key, v) = self.map.get_key_value(k)?;
        self.taken.push(key.as_str());
        // libxl's generator writes null for nothing it reads back.
        (!v.is_null()).then_some(v)
    }

    fn err(&self, k: &str, why: impl Into<String>) -> JsonConfigError {
        key_error(&self.path, k, why)
    }

    fn string(&mut self, k: &'a str) -> Result<Option<String>> {
        match self.get(k) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(self.err(k, "not a string")),
        }
    }

    /// libxl's defbool: "True", "False" or "<default>".
    fn defbool(&mut self, k: &'a str) -> Result<Option<bool>> {
        match self.get(k) {
            None => Ok(None),
            Some(Value::String(s)) if s == "True" => Ok(Some(true)),
            Some(Value::String(s)) if s == "False" => Ok(Some(false)),
            Some(Value::String(s)) if s == "<default>" || s == "default" => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(_) => Err(self.err(k, "not a defbool (\"True\" or \"False\")")),
        }
    }

    fn boolean(&mut self, k: &'a str) -> Result<bool> {
        match self.get(k) {
            None => Ok(false),
            Some(Value::Bool(b)) => Ok(*b),
            Some(_) => Err(self.err(k, "not true or false")),
        }
    }

    fn opt_i64(&mut self, k: &'a str) -> Result<Option<i64>> {
        match self.get(k) {
            None => Ok(None),
            Some(v) => v
                .as_i64()
                .map(Some)
                .ok_or_else(|| self.err(k, "not an integer")),
        }
    }

    fn opt_u64(&mut self, k: &'a str) -> Result<Option<u64>> {
        match self.get(k) {
            None => Ok(None),
            Some(v) => v
                .as_u64()
                .map(Some)
                .ok_or_else(|| self.err(k, "not an unsigned integer")),
        }
    }

    fn i64(&mut self, k: &'a str) -> Result<i64> {
        Ok(self.opt_i64(k)?.unwrap_or(0))
    }

    fn u64(&mut self, k: &'a str) -> Result<u64> {
        Ok(self.opt_u64(k)?.unwrap_or(0))
    }

    fn u32(&mut self, k: &'a str) -> Result<u32> {
        let v = self.u64(k)?;
        u32::try_from(v).map_err(|_| self.err(k, "out of range"))
    }

    fn opt_u32(&mut self, k: &'a str) -> Result<Option<u32>> {
        match self.opt_u64(k)? {
            None => Ok(None),
            Some(v) => u32::try_from(v)
                .map(Some)
                .map_err(|_| self.err(k, "out of range")),
        }
    }

    /// An enum field: one of libxl's names for it.
    fn enum_(&mut self, k: &'a str, names: &[&'static str]) -> Result<Option<&'static str>> {
        match self.string(k)? {
            None => Ok(None),
            Some(s) => names
                .iter()
                .find(|n| **n == s)
                .copied()
                .map(Some)
                .ok_or_else(|| self.err(k, format!("unknown value \"{s}\""))),
        }
    }

    fn strings(&mut self, k: &'a str) -> Result<Vec<String>> {
        self.array(k)?
            .iter()
            .map(|v| {
                v.as_str()
                    .map(str::to_string)
                    .ok_or_else(|| self.err(k, "not a list of strings"))
            })
            .collect()
    }

    fn bitmap(&mut self, k: &'a str) -> Result<Vec<u32>> {
        let items = self.array(k)?;
        bits(items).ok_or_else(|| self.err(k, "not a list of bit numbers"))
    }

    fn array(&mut self, k: &'a str) -> Result<&'a [Value]> {
        match self.get(k) {
            None => Ok(&[]),
            Some(Value::Array(a)) => Ok(a),
            Some(_) => Err(self.err(k, "not a list")),
        }
    }

    fn action(&mut self, k: &'a str) -> Result<Action> {
        match self.string(k)? {
            None => Ok(Action::Destroy),
            Some(s) => Action::ALL
                .into_iter()
                .find(|a| a.json_name() == s)
                .ok_or_else(|| self.err(k, format!("unknown action \"{s}\""))),
        }
    }

    fn uuid(&mut self, k: &'a str) -> Result<[u8; 16]> {
        match self.string(k)? {
            None => Ok([0; 16]),
            Some(s) => parse_uuid(&s).ok_or_else(|| self.err(k, "not a UUID")),
        }
    }

    /// A nested object, read by `f`; an absent one reads as empty.
    fn with<T>(&mut self, k: &'a str, f: impl FnOnce(&mut Obj<'a, '_>) -> Result<T>) -> Result<T> {
        static EMPTY: std::sync::OnceLock<Map<String, Value>> = std::sync::OnceLock::new();
        let path = format!("{}{k}.", self.path);
        let map = match self.get(k) {
            None => EMPTY.get_or_init(Map::new),
            Some(Value::Object(m)) => m,
            Some(_) => return Err(self.err(k, "not an object")),
        };
        read_object(path, map, self.unknown, f)
    }

    /// Every element of a list of objects, each read by `f`.
    fn each<T>(
        &mut self,
        k: &'a str,
        mut f: impl FnMut(&mut Obj<'a, '_>) -> Result<T>,
    ) -> Result<Vec<T>> {
        let items = self.array(k)?;
        let mut out = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            let path = format!("{}{k}[{i}].", self.path);
            let Value::Object(map) = item else {
                return Err(key_error(
                    &self.path,
                    k,
                    format!("item {i} is not an object"),
                ));
            };
            out.push(read_object(path, map, self.unknown, &mut f)?);
        }
        Ok(out)
    }

    /// Keys never taken are recorded as unknown.
    fn finish(self) {
        for k in self.map.keys() {
            if !self.taken.contains(&k.as_str()) {
                self.unknown.push(format!("{}{k}", self.path));
            }
        }
    }
}

fn read_object<'a, T>(
    path: String,
    map: &'a Map<String, Value>,
    unknown: &mut Vec<String>,
    f: impl FnOnce(&mut Obj<'a, '_>) -> Result<T>,
) -> Result<T> {
    let mut o = Obj {
        path,
        map,
        taken: Vec::new(),
        unknown,
    };
    let v = f(&mut o)?;
    o.finish();
    Ok(v)
}

fn bits(items: &[Value]) -> Option<Vec<u32>> {
    items
        .iter()
        .map(|v| v.as_u64().and_then(|n| u32::try_from(n).ok()))
        .collect()
}

// libxl's enum names (libxl_types.idl, Xen 4.17).
const TSC_MODES: &[&str] = &[
    "default",
    "always_emulate",
    "native",
    "native_paravirt",
    "pvrdtscp",
];
const TIMER_MODES: &[&str] = &[
    "unknown",
    "delay_for_missed_ticks",
    "no_delay_for_missed_ticks",
    "no_missed_ticks_pending",
    "one_missed_tick_pending",
    "default",
];
const DM_VERSIONS: &[&str] = &["unknown", "qemu_xen_traditional", "qemu_xen"];
const BIOSES: &[&str] = &["unknown", "rombios", "seabios", "ovmf"];
const HDTYPES: &[&str] = &["ide", "ahci"];
const VGAS: &[&str] = &["unknown", "cirrus", "std", "none", "qxl"];
const GFX_KINDS: &[&str] = &["default", "igd"];
const VENDOR_DEVICES: &[&str] = &["none", "xenserver"];
const RDM_STRATEGIES: &[&str] = &["ignore", "host"];
const RDM_POLICIES: &[&str] = &["strict", "relaxed", "invalid"];
const PASSTHROUGH: &[&str] = &["default", "disabled", "enabled", "sync_pt", "share_pt"];
const ALTP2M: &[&str] = &["disabled", "mixed", "external", "limited"];
const TEES: &[&str] = &["none", "optee", "ffa"];
const GIC_VERSIONS: &[&str] = &["default", "v2", "v3"];
const VUARTS: &[&str] = &["unknown", "sbsa_uart"];
const DISK_BACKENDS: &[&str] = &["unknown", "phy", "tap", "qdisk", "standalone"];
const DISK_FORMATS: &[&str] = &["unknown", "qcow", "qcow2", "vhd", "raw", "empty", "qed"];
const DISK_SPECS: &[&str] = &["unknown", "xen", "virtio"];
const NIC_TYPES: &[&str] = &["unknown", "vif_ioemu", "vif"];
const SCHEDULERS: &[&str] = &[
    "unknown", "sedf", "credit", "credit2", "arinc653", "rtds", "null",
];
const DOMAIN_TYPES: &[&str] = &["hvm", "pv", "pvh"];

fn read_domain(o: &mut Obj<'_, '_>) -> Result<DomainConfig> {
    let (c_info, dtype) = o.with("c_info", read_c_info)?;
    let b_info = o.with("b_info", |b| read_b_info(b, dtype))?;
    let cfg = DomainConfig {
        c_info,
        b_info,
        disks: o.each("disks", read_disk)?,
        nics: o.each("nics", read_nic)?,
        pcidevs: o.each("pcidevs", read_pci)?,
        dtdevs: o.each("dtdevs", |d| Ok(d.string("path")?.unwrap_or_default()))?,
        vfbs: o.each("vfbs", |v| {
            Ok(Vfb {
                devid: v.i64("devid")?,
                vnc: v.with("vnc", read_vnc)?,
                sdl: v.with("sdl", read_sdl)?,
                keymap: v.string("keymap")?,
            })
        })?,
        vkbs: o.each("vkbs", read_vkb)?,
        vtpms: o.each("vtpms", |v| {
            Ok(Vtpm {
                backend_domname: v.string("backend_domname")?,
                devid: v.i64("devid")?,
                uuid: v.uuid("uuid")?,
            })
        })?,
        p9s: o.each("p9s", |p| {
            Ok(P9 {
                backend_domname: p.string("backend_domname")?,
                tag: p.string("tag")?,
                path: p.string("path")?,
                security_model: p.string("security_model")?,
                devid: p.opt_i64("devid")?,
            })
        })?,
        pvcallsifs: o.each("pvcallsifs", |v| {
            Ok(Pvcallsif {
                backend_domname: v.string("backend_domname")?,
                devid: v.i64("devid")?,
            })
        })?,
        vdispls: o.each("vdispls", read_vdispl)?,
        vsnds: o.each("vsnds", read_vsnd)?,
        channels: o.each("channels", read_channel)?,
        usbctrls: o.each("usbctrls", |u| {
            let kind = u.enum_("type", &USBCTRL_TYPES)?;
            Ok(Usbctrl {
                kind: USBCTRL_TYPES
                    .iter()
                    .position(|t| Some(*t) == kind)
                    .unwrap_or(0),
                devid: u.i64("devid")?,
                version: u.i64("version")?,
                ports: u.i64("ports")?,
            })
        })?,
        usbdevs: o.each("usbdevs", |u| {
            let hostdev = u.map.contains_key("type.hostdev");
            let (hostbus, hostaddr) = u.with("type.hostdev", |h| {
                let byte = |h: &mut Obj<'_, '_>, k| {
                    let v = h.u64(k)?;
                    u8::try_from(v).map_err(|_| h.err(k, "out of range"))
                };
                Ok((byte(h, "hostbus")?, byte(h, "hostaddr")?))
            })?;
            Ok(Usbdev {
                ctrl: u.opt_i64("ctrl")?,
                port: u.i64("port")?,
                hostdev,
                hostbus,
                hostaddr,
            })
        })?,
        on_poweroff: o.action("on_poweroff")?,
        on_reboot: o.action("on_reboot")?,
        on_watchdog: o.action("on_watchdog")?,
        on_crash: o.action("on_crash")?,
        on_soft_reset: o.action("on_soft_reset")?,
    };
    Ok(cfg)
}

fn read_vkb(k: &mut Obj<'_, '_>) -> Result<Vkb> {
    let backend = k.enum_("backend_type", &VKB_BACKENDS)?;
    Ok(Vkb {
        backend_domname: k.string("backend_domname")?,
        devid: k.i64("devid")?,
        backend_type: VKB_BACKENDS
            .iter()
            .position(|b| Some(*b) == backend)
            .unwrap_or(0),
        unique_id: k.string("unique_id")?,
        feature_disable_keyboard: k.boolean("feature_disable_keyboard")?,
        feature_disable_pointer: k.boolean("feature_disable_pointer")?,
        feature_abs_pointer: k.boolean("feature_abs_pointer")?,
        feature_raw_pointer: k.boolean("feature_raw_pointer")?,
        feature_multi_touch: k.boolean("feature_multi_touch")?,
        width: k.u32("width")?,
        height: k.u32("height")?,
        multi_touch_width: k.u32("multi_touch_width")?,
        multi_touch_height: k.u32("multi_touch_height")?,
        multi_touch_num_contacts: k.u32("multi_touch_num_contacts")?,
    })
}

fn read_vdispl(d: &mut Obj<'_, '_>) -> Result<Vdispl> {
    Ok(Vdispl {
        backend_domname: d.string("backend_domname")?,
        devid: d.i64("devid")?,
        be_alloc: d.boolean("be_alloc")?,
        connectors: d.each("connectors", |c| {
            Ok(Connector {
                unique_id: c.string("unique_id")?,
                width: c.u32("width")?,
                height: c.u32("height")?,
            })
        })?,
    })
}

fn read_vsnd_params(p: &mut Obj<'_, '_>) -> Result<VsndParams> {
    let rates = p.array("sample_rates")?;
    let sample_rates = rates
        .iter()
        .map(|v| v.as_u64().and_then(|r| u32::try_from(r).ok()))
        .collect::<Option<Vec<u32>>>()
        .ok_or_else(|| p.err("sample_rates", "not a list of rates"))?;
    let formats = p.array("sample_formats")?;
    let sample_formats = formats
        .iter()
        .map(|v| {
            let s = v.as_str()?;
            PCM_FORMATS.iter().find(|f| **f == s).copied()
        })
        .collect::<Option<Vec<&'static str>>>()
        .ok_or_else(|| p.err("sample_formats", "not a list of PCM formats"))?;
    Ok(VsndParams {
        sample_rates,
        sample_formats,
        channels_min: p.u32("channels_min")?,
        channels_max: p.u32("channels_max")?,
        buffer_size: p.u32("buffer_size")?,
    })
}

fn read_vsnd(v: &mut Obj<'_, '_>) -> Result<Vsnd> {
    Ok(Vsnd {
        backend_domname: v.string("backend_domname")?,
        devid: v.i64("devid")?,
        short_name: v.string("short_name")?,
        long_name: v.string("long_name")?,
        params: v.with("params", read_vsnd_params)?,
        pcms: v.each("pcms", |p| {
            Ok(VsndPcm {
                name: p.string("name")?,
                params: p.with("params", read_vsnd_params)?,
                streams: p.each("streams", |s| {
                    Ok(VsndStream {
                        unique_id: s.string("unique_id")?,
                        kind: s.enum_("type", &["p", "c"])?,
                        params: s.with("params", read_vsnd_params)?,
                    })
                })?,
            })
        })?,
    })
}

/// `b_info.cpuid`: `{"cpuid": [leaves], "msr": [MSRs]}`, or absent.
fn read_cpuid(b: &mut Obj<'_, '_>) -> Result<Option<crate::cpuid::CpuidPolicy>> {
    use crate::cpuid::{CpuidLeaf, CpuidPolicy, MsrPolicy};
    if !b.map.contains_key("cpuid") {
        return Ok(None);
    }
    b.with("cpuid", |c| {
        let leaves = c.each("cpuid", |l| {
            Ok(CpuidLeaf {
                leaf: l.u32("leaf")?,
                subleaf: l.opt_u32("subleaf")?,
                regs: [
                    l.string("eax")?,
                    l.string("ebx")?,
                    l.string("ecx")?,
                    l.string("edx")?,
                ],
            })
        })?;
        let msrs = c.each("msr", |m| {
            Ok(MsrPolicy {
                index: m.u32("index")?,
                policy: m.string("policy")?.unwrap_or_default(),
            })
        })?;
        Ok(Some(CpuidPolicy { leaves, msrs }))
    })
}

fn read_c_info(c: &mut Obj<'_, '_>) -> Result<(CreateInfo, GuestKind)> {
    let dtype = match c.enum_("type", DOMAIN_TYPES)? {
        Some("hvm") => GuestKind::Hvm,
        Some("pvh") => GuestKind::Pvh,
        Some(_) => GuestKind::Pv,
        None => return Err(c.err("type", "missing: the domain type is needed")),
    };
    // The domid a config carries (`xl save -D`) is the caller's to use.
    let _ = c.get("domid");
    let info = CreateInfo {
        hap: c.defbool("hap")?,
        oos: c.defbool("oos")?,
        ssid_label: c.string("ssid_label")?,
        name: c.string("name")?.unwrap_or_default(),
        uuid: c.uuid("uuid")?,
        pool_name: c.string("pool_name")?,
        run_hotplug_scripts: c.defbool("run_hotplug_scripts")?,
        driver_domain: c.defbool("driver_domain")?,
        passthrough: c.enum_("passthrough", PASSTHROUGH)?,
        xend_suspend_evtchn_compat: c.defbool("xend_suspend_evtchn_compat")?,
    };
    Ok((info, dtype))
}

fn read_b_info(b: &mut Obj<'_, '_>, dtype: GuestKind) -> Result<BuildInfo> {
    let mut bi = BuildInfo::new(dtype);
    bi.max_vcpus = b.i64("max_vcpus")?;
    bi.avail_vcpus = b.bitmap("avail_vcpus")?;
    for (k, slot) in [
        ("vcpu_hard_affinity", &mut bi.vcpu_hard_affinity),
        ("vcpu_soft_affinity", &mut bi.vcpu_soft_affinity),
    ] {
        *slot = b
            .array(k)?
            .iter()
            .map(|m| m.as_array().and_then(|a| bits(a)))
            .collect::<Option<_>>()
            .ok_or_else(|| b.err(k, "not a list of bitmaps"))?;
    }
    bi.numa_placement = b.defbool("numa_placement")?;
    bi.tsc_mode = b.enum_("tsc_mode", TSC_MODES)?;
    bi.max_memkb = b.opt_u64("max_memkb")?;
    bi.target_memkb = b.opt_u64("target_memkb")?;
    bi.video_memkb = b.opt_u64("video_memkb")?;
    bi.shadow_memkb = b.opt_u64("shadow_memkb")?;
    bi.rtc_timeoffset = b.u32("rtc_timeoffset")?;
    bi.exec_ssid_label = b.string("exec_ssid_label")?;
    bi.localtime = b.defbool("localtime")?;
    bi.disable_migrate = b.defbool("disable_migrate")?;
    bi.blkdev_start = b.string("blkdev_start")?;
    bi.cpuid = read_cpuid(b)?;
    bi.vnuma_nodes = b.each("vnuma_nodes", |n| {
        let distances = n.array("distances")?;
        let distances = distances
            .iter()
            .map(|d| d.as_u64().and_then(|d| u32::try_from(d).ok()))
            .collect::<Option<Vec<u32>>>()
            .ok_or_else(|| n.err("distances", "not a list of distances"))?;
        Ok(crate::vnuma::VnodeInfo {
            memkb: n.opt_u64("memkb")?.unwrap_or(u64::MAX),
            distances,
            pnode: n.u32("pnode")?,
            vcpus: n.bitmap("vcpus")?,
        })
    })?;
    bi.max_grant_frames = b.opt_u32("max_grant_frames")?;
    bi.max_maptrack_frames = b.opt_u32("max_maptrack_frames")?;
    bi.max_grant_version = b.opt_i64("max_grant_version")?;
    bi.device_model_version = b.enum_("device_model_version", DM_VERSIONS)?;
    bi.device_model_stubdomain = b.defbool("device_model_stubdomain")?;
    bi.stubdomain_memkb = b.opt_u64("stubdomain_memkb")?;
    bi.stubdomain_kernel = b.string("stubdomain_kernel")?;
    bi.stubdomain_cmdline = b.string("stubdomain_cmdline")?;
    bi.stubdomain_ramdisk = b.string("stubdomain_ramdisk")?;
    bi.device_model = b.string("device_model")?;
    bi.device_model_ssid_label = b.string("device_model_ssid_label")?;
    bi.device_model_user = b.string("device_model_user")?;
    bi.extra = b.strings("extra")?;
    bi.extra_pv = b.strings("extra_pv")?;
    bi.extra_hvm = b.strings("extra_hvm")?;
    bi.sched_params = b.with("sched_params", |s| {
        Ok(SchedParams {
            sched: s.enum_("sched", SCHEDULERS)?,
            weight: s.opt_i64("weight")?,
            cap: s.opt_i64("cap")?,
            period: s.opt_i64("period")?,
            budget: s.opt_i64("budget")?,
            extratime: s.opt_i64("extratime")?,
            slice: s.opt_i64("slice")?,
            latency: s.opt_i64("latency")?,
        })
    })?;
    bi.ioports = b.each("ioports", |p| Ok((p.u32("first")?, p.u32("number")?)))?;
    bi.irqs = b.bitmap("irqs")?;
    bi.iomem = b.each("iomem", |m| {
        Ok((m.u64("start")?, m.u64("number")?, m.opt_u64("gfn")?))
    })?;
    bi.claim_mode = b.defbool("claim_mode")?;
    bi.event_channels = b.u32("event_channels")?;
    bi.kernel = b.string("kernel")?;
    bi.cmdline = b.string("cmdline")?;
    bi.ramdisk = b.string("ramdisk")?;
    bi.device_tree = b.string("device_tree")?;
    bi.acpi = b.defbool("acpi")?;
    bi.bootloader = b.string("bootloader")?;
    bi.bootloader_args = b.strings("bootloader_args")?;
    bi.timer_mode = b.enum_("timer_mode", TIMER_MODES)?;
    bi.nested_hvm = b.defbool("nested_hvm")?;
    bi.apic = b.defbool("apic")?;
    bi.dm_restrict = b.defbool("dm_restrict")?;
    bi.tee = b.enum_("tee", TEES)?;
    bi.u = match dtype {
        GuestKind::Hvm => TypeInfo::Hvm(Box::new(b.with("type.hvm", read_hvm)?)),
        GuestKind::Pv => TypeInfo::Pv(b.with("type.pv", |p| {
            Ok(PvInfo {
                e820_host: p.defbool("e820_host")?,
            })
        })?),
        GuestKind::Pvh => TypeInfo::Pvh(b.with("type.pvh", |p| {
            Ok(PvhInfo {
                pvshim: p.defbool("pvshim")?,
                pvshim_path: p.string("pvshim_path")?,
                pvshim_cmdline: p.string("pvshim_cmdline")?,
                pvshim_extra: p.string("pvshim_extra")?,
            })
        })?),
    };
    (bi.gic_version, bi.vuart) = b.with("arch_arm", |a| {
        Ok((
            a.enum_("gic_version", GIC_VERSIONS)?,
            a.enum_("vuart", VUARTS)?,
        ))
    })?;
    bi.msr_relaxed = b.with("arch_x86", |a| a.defbool("msr_relaxed"))?;
    bi.altp2m = b.enum_("altp2m", ALTP2M)?;
    bi.vmtrace_buf_kb = b.i64("vmtrace_buf_kb")?;
    bi.vpmu = b.defbool("vpmu")?;
    Ok(bi)
}

fn read_vnc(v: &mut Obj<'_, '_>) -> Result<Vnc> {
    Ok(Vnc {
        enable: v.defbool("enable")?,
        listen: v.string("listen")?,
        passwd: v.string("passwd")?,
        display: v.i64("display")?,
        findunused: v.defbool("findunused")?,
    })
}

fn read_sdl(s: &mut Obj<'_, '_>) -> Result<Sdl> {
    Ok(Sdl {
        enable: s.defbool("enable")?,
        opengl: s.defbool("opengl")?,
        display: s.string("display")?,
        xauthority: s.string("xauthority")?,
    })
}

fn read_hvm(h: &mut Obj<'_, '_>) -> Result<HvmInfo> {
    // libxl 4.19+ records whether the guest sees XENFEAT_hvm_pirqs. Off is
    // what ours gives an HVM guest on those releases; on cannot be asked
    // of this xl.
    if h.defbool("pirq")? == Some(true) {
        return Err(h.err(
            "pirq",
            "PIRQs for HVM guests (hvm_pirq) are not supported by this xl",
        ));
    }
    Ok(HvmInfo {
        firmware: h.string("firmware")?,
        bios: h.enum_("bios", BIOSES)?,
        pae: h.defbool("pae")?,
        acpi_s3: h.defbool("acpi_s3")?,
        acpi_s4: h.defbool("acpi_s4")?,
        acpi_laptop_slate: h.defbool("acpi_laptop_slate")?,
        nx: h.defbool("nx")?,
        viridian: h.defbool("viridian")?,
        viridian_enable: h.bitmap("viridian_enable")?,
        viridian_disable: h.bitmap("viridian_disable")?,
        hpet: h.defbool("hpet")?,
        vpt_align: h.defbool("vpt_align")?,
        mmio_hole_memkb: h.opt_u64("mmio_hole_memkb")?,
        altp2m: h.defbool("altp2m")?,
        system_firmware: h.string("system_firmware")?,
        smbios_firmware: h.string("smbios_firmware")?,
        acpi_firmware: h.string("acpi_firmware")?,
        hdtype: h.enum_("hdtype", HDTYPES)?,
        nographic: h.defbool("nographic")?,
        vga: h.with("vga", |v| v.enum_("kind", VGAS))?,
        vnc: h.with("vnc", read_vnc)?,
        keymap: h.string("keymap")?,
        sdl: h.with("sdl", read_sdl)?,
        spice: h.with("spice", |s| {
            Ok(Spice {
                enable: s.defbool("enable")?,
                port: s.i64("port")?,
                tls_port: s.i64("tls_port")?,
                host: s.string("host")?,
                disable_ticketing: s.defbool("disable_ticketing")?,
                passwd: s.string("passwd")?,
                agent_mouse: s.defbool("agent_mouse")?,
                vdagent: s.defbool("vdagent")?,
                clipboard_sharing: s.defbool("clipboard_sharing")?,
                usbredirection: s.i64("usbredirection")?,
                image_compression: s.string("image_compression")?,
                streaming_video: s.string("streaming_video")?,
            })
        })?,
        gfx_passthru: h.defbool("gfx_passthru")?,
        gfx_passthru_kind: h.enum_("gfx_passthru_kind", GFX_KINDS)?,
        serial: h.string("serial")?,
        boot: h.string("boot")?,
        usb: h.defbool("usb")?,
        usbversion: h.i64("usbversion")?,
        usbdevice: h.string("usbdevice")?,
        vkb_device: h.defbool("vkb_device")?,
        soundhw: h.string("soundhw")?,
        xen_platform_pci: h.defbool("xen_platform_pci")?,
        usbdevice_list: h.strings("usbdevice_list")?,
        vendor_device: h.enum_("vendor_device", VENDOR_DEVICES)?,
        ms_vm_genid: match h.array("ms_vm_genid")? {
            [] => None,
            bytes => {
                let v: Option<Vec<u8>> = bytes
                    .iter()
                    .map(|b| b.as_u64().and_then(|n| u8::try_from(n).ok()))
                    .collect();
                Some(
                    v.and_then(|v| <[u8; 16]>::try_from(v).ok())
                        .ok_or_else(|| h.err("ms_vm_genid", "not 16 bytes"))?,
                )
            }
        },
        serial_list: h.strings("serial_list")?,
        rdm_strategy: None,
        rdm_policy: None,
        rdm_mem_boundary_memkb: h.opt_u64("rdm_mem_boundary_memkb")?,
        mca_caps: h.u64("mca_caps")?,
    })
    .and_then(|mut hvm| {
        (hvm.rdm_strategy, hvm.rdm_policy) = h.with("rdm", |r| {
            Ok((
                r.enum_("strategy", RDM_STRATEGIES)?,
                r.enum_("policy", RDM_POLICIES)?,
            ))
        })?;
        Ok(hvm)
    })
}

fn read_disk(d: &mut Obj<'_, '_>) -> Result<Disk> {
    Ok(Disk {
        backend_domname: d.string("backend_domname")?,
        pdev_path: d.string("pdev_path")?,
        vdev: d.string("vdev")?,
        backend: d.enum_("backend", DISK_BACKENDS)?,
        format: d.enum_("format", DISK_FORMATS)?,
        script: d.string("script")?,
        removable: d.i64("removable")?,
        readwrite: d.i64("readwrite")?,
        is_cdrom: d.i64("is_cdrom")?,
        direct_io_safe: d.boolean("direct_io_safe")?,
        discard_enable: d.defbool("discard_enable")?,
        specification: d.enum_("specification", DISK_SPECS)?,
        colo_enable: d.defbool("colo_enable")?,
        colo_restore_enable: d.defbool("colo_restore_enable")?,
        colo_host: d.string("colo_host")?,
        colo_port: d.i64("colo_port")?,
        colo_export: d.string("colo_export")?,
        active_disk: d.string("active_disk")?,
        hidden_disk: d.string("hidden_disk")?,
        trusted: d.defbool("trusted")?,
    })
}

fn read_nic(n: &mut Obj<'_, '_>) -> Result<Nic> {
    let mac = match n.string("mac")? {
        None => [0; 6],
        Some(s) => parse_mac(&s).ok_or_else(|| n.err("mac", "not a MAC address"))?,
    };
    let mut nic = Nic {
        backend_domname: n.string("backend_domname")?,
        devid: n.opt_i64("devid")?,
        mtu: n.i64("mtu")?,
        model: n.string("model")?,
        mac,
        ip: n.string("ip")?,
        bridge: n.string("bridge")?,
        ifname: n.string("ifname")?,
        script: n.string("script")?,
        nictype: n.enum_("nictype", NIC_TYPES)?,
        rate_bytes_per_interval: n.u64("rate_bytes_per_interval")?,
        rate_interval_usecs: n.u32("rate_interval_usecs")?,
        gatewaydev: n.string("gatewaydev")?,
        colo: Vec::new(),
        trusted: n.defbool("trusted")?,
    };
    for f in NIC_COLO_FIELDS {
        if let Some(v) = n.string(f)? {
            nic.colo.push((f, v));
        }
    }
    Ok(nic)
}

fn parse_mac(s: &str) -> Option<[u8; 6]> {
    let v: Vec<u8> = s
        .split(':')
        .map(|p| {
            (p.len() == 2)
                .then(|| u8::from_str_radix(p, 16).ok())
                .flatten()
        })
        .collect::<Option<_>>()?;
    v.try_into().ok()
}

fn read_pci(p: &mut Obj<'_, '_>) -> Result<Pci> {
    let small = |p: &mut Obj<'_, '_>, k| -> Result<u8> {
        let v = p.u64(k)?;
        u8::try_from(v).map_err(|_| p.err(k, "out of range"))
    };
    Ok(Pci {
        func: small(p, "func")?,
        dev: small(p, "dev")?,
        bus: small(p, "bus")?,
        domain: p.i64("domain")?,
        vdevfn: p.u32("vdevfn")?,
        vfunc_mask: p.u32("vfunc_mask")?,
        msitranslate: p.boolean("msitranslate")?,
        power_mgmt: p.boolean("power_mgmt")?,
        permissive: p.boolean("permissive")?,
        seize: p.boolean("seize")?,
        rdm_policy: p.enum_("rdm_policy", RDM_POLICIES)?,
        name: p.string("name")?,
    })
}

fn read_channel(c: &mut Obj<'_, '_>) -> Result<Channel> {
    let backend_domname = c.string("backend_domname")?;
    let devid = c.i64("devid")?;
    let name = c.string("name")?;
    let connection = if c.map.contains_key("connection.socket") {
        ChannelConnection::Socket(c.with("connection.socket", |s| {
            Ok(s.string("path")?.unwrap_or_default())
        })?)
    } else {
        c.with("connection.pty", |_| Ok(()))?;
        ChannelConnection::Pty
    };
    Ok(Channel {
        backend_domname,
        devid,
        name,
        connection,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Globals, Host, Report, parse_config_data};

    fn parse(text: &str) -> Option<DomainConfig> {
        let host = Host {
            max_cpus: 8,
            node_cpus: vec![(0..8).collect()],
            firmware_dir: "/usr/lib/xen/boot".into(),
        };
        parse_config_data(
            "t.cfg",
            text,
            &Globals::default(),
            &host,
            &mut Report::new(),
        )
        .ok()
    }

    fn round_trip(cfg: &DomainConfig) -> DomainConfig {
        DomainConfig::from_json(&cfg.to_json().to_yajl()).unwrap()
    }

    /// Every config of the conformance corpus that xl accepts reads back
    /// from its JSON as the same config.
    #[test]
    fn corpus_configs_round_trip_through_json() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/corpus/cfg");
        let mut n = 0;
        for e in std::fs::read_dir(dir).unwrap() {
            let path = e.unwrap().path();
            if path.extension().is_none_or(|x| x != "cfg") {
                continue;
            }
            let text = String::from_utf8_lossy(&std::fs::read(&path).unwrap()).into_owned();
            let Some(mut cfg) = parse(&text) else {
                continue;
            };
            // libxl's JSON carries a USB device's host address only with
            // its type (xl.cfg's address is used at create all the same).
            for d in cfg.usbdevs.iter_mut().filter(|d| !d.hostdev) {
                (d.hostbus, d.hostaddr) = (0, 0);
            }
            assert_eq!(round_trip(&cfg), cfg, "{}", path.display());
            n += 1;
        }
        assert!(n > 40, "only {n} corpus configs parsed");
    }

    #[test]
    fn a_stored_config_of_the_real_xl_reads() {
        let text = "{\n \"c_info\": {\"type\": \"pv\", \"name\": \"lab-pvdev\", \"domid\": 4294967295,\
            \"uuid\": \"6b179a80-e714-11f1-9536-91e7d22a0bab\", \"run_hotplug_scripts\": \"True\"},\
            \"b_info\": {\"max_vcpus\": 2, \"avail_vcpus\": [0, 1], \"max_memkb\": 262144,\
            \"target_memkb\": 262144, \"video_memkb\": 0, \"claim_mode\": \"True\",\
            \"kernel\": \"/lab/guest/vmlinux\", \"arch_x86\": {\"msr_relaxed\": \"False\"}},\
            \"disks\": [{\"pdev_path\": \"/lab/boot.img\", \"vdev\": \"xvda\", \"backend\": \"qdisk\",\
            \"format\": \"raw\", \"readwrite\": 1, \"colo_restore_enable\": \"False\"}],\
            \"nics\": [{\"devid\": 0, \"mac\": \"00:16:3e:12:34:56\", \"bridge\": \"xenbr0\", \"nictype\": \"vif\"}],\
            \"on_crash\": \"preserve\", \"on_soft_reset\": \"soft_reset\"}\n\0";
        let c = DomainConfig::from_json(text).unwrap();
        assert_eq!(c.c_info.name, "lab-pvdev");
        assert_eq!(c.guest_kind(), GuestKind::Pv);
        assert_eq!(c.b_info.avail_vcpus, vec![0, 1]);
        assert_eq!(c.b_info.max_memkb, Some(262144));
        assert_eq!(c.b_info.msr_relaxed, Some(false));
        assert_eq!(c.disks[0].backend, Some("qdisk"));
        assert_eq!(c.nics[0].mac, [0, 0x16, 0x3e, 0x12, 0x34, 0x56]);
        assert_eq!(c.on_crash, Action::Preserve);
        assert_eq!(c.on_soft_reset, Action::SoftReset);
        assert_eq!(c.on_reboot, Action::Destroy);
    }

    /// libxl 4.20 writes whether an HVM guest sees PIRQs; off (its
    /// default) is what ours does on such releases.
    #[test]
    fn hvm_pirq_off_reads_and_on_is_refused() {
        let cfg = |v: &str| {
            format!(
                r#"{{"c_info": {{"type": "hvm", "name": "t"}}, "b_info": {{"type.hvm": {{"pirq": "{v}"}}}}}}"#
            )
        };
        assert!(DomainConfig::from_json(&cfg("False")).is_ok());
        let e = DomainConfig::from_json(&cfg("True")).unwrap_err();
        assert!(e.to_string().contains("b_info.type.hvm.pirq"), "{e}");
    }

    #[test]
    fn unknown_keys_and_bad_values_are_named() {
        let e = DomainConfig::from_json(
            r#"{"c_info": {"type": "pv", "name": "x", "colour": "red"}, "b_info": {"vnuma_zones": []}}"#,
        )
        .unwrap_err();
        assert_eq!(
            e,
            JsonConfigError::Unknown("c_info.colour, b_info.vnuma_zones".into())
        );
        let e = DomainConfig::from_json(
            r#"{"c_info": {"type": "pv"}, "b_info": {"tsc_mode": "fast"}}"#,
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "config key b_info.tsc_mode: unknown value \"fast\""
        );
        let e = DomainConfig::from_json(r#"{"c_info": {"name": "x"}}"#).unwrap_err();
        assert!(e.to_string().contains("c_info.type"), "{e}");
        assert!(matches!(
            DomainConfig::from_json("name = \"x\""),
            Err(JsonConfigError::Syntax(_))
        ));
    }
}
