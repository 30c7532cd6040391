//! The less common virtual devices of xl.cfg: keyboards (`vkb`), PV calls
//! (`pvcalls`), displays (`vdispl`), sound cards (`vsnd`) and USB
//! (`usbctrl`, `usbdev`): their spec grammars as xl 4.17 parses them, and
//! their libxl JSON.

use crate::json::{Json, Obj};
use crate::report::Report;
use crate::value::{strtol, strtoul};

/// A spec was refused; the message is in the report and xl exits 1.
#[derive(Debug, PartialEq, Eq)]
pub struct Refused;

/// xl's `MATCH_OPTION`: the value after `name=`.
fn option<'a>(name: &str, token: &'a str) -> Option<&'a str> {
    token.strip_prefix(name)?.strip_prefix('=')
}

/// C `strtoul(s, NULL, 0)` as the unsigned 32-bit field it lands in.
fn c_u32(s: &str) -> u32 {
    strtoul(s.as_bytes(), 0).0 as u32
}

/// C `atoi`.
fn c_atoi(s: &str) -> i64 {
    i64::from(strtol(s.as_bytes(), 10).0 as i32)
}

/// The tokens of a comma-separated spec as xl's strtok loop sees them:
/// empty ones vanish, leading spaces go.
fn tokens(spec: &str) -> impl Iterator<Item = &str> {
    spec.split(',')
        .filter(|t| !t.is_empty())
        .map(|t| t.trim_start_matches(' '))
}

/// Bits of `libxl_vkb_backend`.
pub(crate) const VKB_BACKENDS: [&str; 3] = ["unknown", "qemu", "linux"];

/// `vkb=[...]`: a PV keyboard/pointer.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Vkb {
    /// `backend=`: the domain serving the device (dom0 when `None`).
    pub backend_domname: Option<String>,
    /// Device number: its position among the domain's keyboards, those
    /// of framebuffers first.
    pub devid: i64,
    /// `backend-type=`: 1 for `qemu`, 2 for `linux` (`libxl_vkb_backend`); 0 (unknown) is
    /// refused by xl.
    pub backend_type: usize,
    /// `unique-id=`: an id the backend uses to find its configuration.
    pub unique_id: Option<String>,
    /// `feature-disable-keyboard=`: pointer only, no keyboard.
    pub feature_disable_keyboard: bool,
    /// `feature-disable-pointer=`: keyboard only, no pointer.
    pub feature_disable_pointer: bool,
    /// `feature-abs-pointer=`: the pointer reports absolute coordinates.
    pub feature_abs_pointer: bool,
    /// `feature-raw-pointer=`: the pointer reports raw (unscaled) values.
    pub feature_raw_pointer: bool,
    /// `feature-multi-touch=` (implied by the `multi-touch-*` sizes): a multi-touch device.
    pub feature_multi_touch: bool,
    /// `width=`: width of the absolute pointer's area, in pixels; 0 when unset.
    pub width: u32,
    /// `height=`: height of the absolute pointer's area, in pixels; 0 when unset.
    pub height: u32,
    /// `multi-touch-width=`: width of the touch area, in pixels.
    pub multi_touch_width: u32,
    /// `multi-touch-height=`: height of the touch area, in pixels.
    pub multi_touch_height: u32,
    /// `multi-touch-num-contacts=`: how many contacts it tracks at once.
    pub multi_touch_num_contacts: u32,
}

impl Vkb {
    /// A vkb with only its devid, as a vfb brings.
    pub fn with_devid(devid: i64) -> Vkb {
        Vkb {
            devid,
            ..Vkb::default()
        }
    }

    fn token(&mut self, token: &str, r: &mut Report) -> Result<(), Refused> {
        if let Some(v) = option("backend", token) {
            self.backend_domname = Some(v.to_string());
        } else if let Some(v) = option("backend-type", token) {
            let Some(t) = VKB_BACKENDS.iter().position(|b| b.eq_ignore_ascii_case(v)) else {
                r.line(format!("Unknown backend_type \"{v}\" in vkb spec"));
                return Err(Refused);
            };
            self.backend_type = t;
        } else if let Some(v) = option("unique-id", token) {
            self.unique_id = Some(v.to_string());
        } else if let Some(v) = option("feature-disable-keyboard", token) {
            self.feature_disable_keyboard = strtoul(v.as_bytes(), 0).0 != 0;
        } else if let Some(v) = option("feature-disable-pointer", token) {
            self.feature_disable_pointer = strtoul(v.as_bytes(), 0).0 != 0;
        } else if let Some(v) = option("feature-abs-pointer", token) {
            self.feature_abs_pointer = strtoul(v.as_bytes(), 0).0 != 0;
        } else if let Some(v) = option("feature-raw-pointer", token) {
            self.feature_raw_pointer = strtoul(v.as_bytes(), 0).0 != 0;
        } else if let Some(v) = option("feature-multi-touch", token) {
            self.feature_multi_touch = strtoul(v.as_bytes(), 0).0 != 0;
        } else if let Some(v) = option("multi-touch-width", token) {
            self.multi_touch_width = c_u32(v);
        } else if let Some(v) = option("multi-touch-height", token) {
            self.multi_touch_height = c_u32(v);
        } else if let Some(v) = option("multi-touch-num-contacts", token) {
            self.multi_touch_num_contacts = c_u32(v);
        } else if let Some(v) = option("width", token) {
            self.width = c_u32(v);
        } else if let Some(v) = option("height", token) {
            self.height = c_u32(v);
        } else {
            r.line(format!("Unknown string \"{token}\" in vkb spec"));
            return Err(Refused);
        }
        Ok(())
    }

    /// One argument of `xl vkb-attach` (the whole word is one token).
    pub fn attach_token(&mut self, token: &str, r: &mut Report) -> Result<(), Refused> {
        self.token(token, r)
    }

    /// `xl vkb-attach`'s checks once all its arguments are read: the
    /// backend type is required, and multi-touch needs its sizes.
    pub fn attach_check(&mut self, r: &mut Report) -> Result<(), Refused> {
        if self.backend_type == 0 {
            r.line("backend-type should be set");
            return Err(Refused);
        }
        let sized = self.multi_touch_height != 0
            || self.multi_touch_width != 0
            || self.multi_touch_num_contacts != 0;
        if sized {
            self.feature_multi_touch = true;
        }
        if self.feature_multi_touch && !sized {
            r.line("multi-touch-width, multi-touch-height, multi-touch-num-contacts should be set");
            return Err(Refused);
        }
        Ok(())
    }

    /// One `vkb` list item, numbered `devid`.
    pub fn parse(spec: &str, devid: i64, r: &mut Report) -> Result<Vkb, Refused> {
        let mut vkb = Vkb::with_devid(devid);
        for t in tokens(spec) {
            vkb.token(t, r)?;
        }
        if vkb.backend_type == 0 {
            r.line("backend-type should be set in vkb spec");
            return Err(Refused);
        }
        let sized = vkb.multi_touch_height != 0
            || vkb.multi_touch_width != 0
            || vkb.multi_touch_num_contacts != 0;
        if sized {
            vkb.feature_multi_touch = true;
        }
        if vkb.feature_multi_touch && !sized {
            r.line(
                "multi-touch-width, multi-touch-height, multi-touch-num-contacts should be set for multi touch in vkb spec",
            );
            return Err(Refused);
        }
        Ok(vkb)
    }

    /// The device as libxl's JSON generator prints it.
    pub fn to_json(&self) -> Json {
        let o = Obj::new()
            .string("backend_domname", &self.backend_domname)
            .int("devid", devid(self.devid))
            .enum_(
                "backend_type",
                (self.backend_type != 0).then(|| VKB_BACKENDS[self.backend_type]),
            )
            .string("unique_id", &self.unique_id);
        let o = flag(o, "feature_disable_keyboard", self.feature_disable_keyboard);
        let o = flag(o, "feature_disable_pointer", self.feature_disable_pointer);
        let o = flag(o, "feature_abs_pointer", self.feature_abs_pointer);
        let o = flag(o, "feature_raw_pointer", self.feature_raw_pointer);
        let o = flag(o, "feature_multi_touch", self.feature_multi_touch);
        o.nonzero_u("width", u64::from(self.width))
            .nonzero_u("height", u64::from(self.height))
            .nonzero_u("multi_touch_width", u64::from(self.multi_touch_width))
            .nonzero_u("multi_touch_height", u64::from(self.multi_touch_height))
            .nonzero_u(
                "multi_touch_num_contacts",
                u64::from(self.multi_touch_num_contacts),
            )
            .build()
    }
}

/// A devid as libxl prints it: -1 (its "to be chosen") is left out.
pub(crate) fn devid(d: i64) -> Option<i64> {
    (d != -1).then_some(d)
}

/// libxl prints a plain bool only when true.
fn flag(o: Obj, k: &str, v: bool) -> Obj {
    if v { o.field(k, Json::Bool(true)) } else { o }
}

/// `pvcalls=[...]`: a PV calls interface, with its backend domain.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Pvcallsif {
    /// `backend=`: the domain serving the calls (dom0 when `None`).
    pub backend_domname: Option<String>,
    /// Device number, the entry's position in the list.
    pub devid: i64,
}

impl Pvcallsif {
    /// One `pvcalls` list item: `backend=DOM` tokens; the first token
    /// without `=` ends the spec.
    pub fn parse(spec: &str, devid: i64, r: &mut Report) -> Result<Pvcallsif, Refused> {
        let mut backend = None;
        for t in tokens(spec) {
            let Some((k, v)) = t.split_once('=') else {
                break;
            };
            if k != "backend" {
                r.line(format!("Unknown string `{k}' in pvcalls spec"));
                return Err(Refused);
            }
            backend = Some(v.to_string());
        }
        Ok(Pvcallsif {
            backend_domname: backend,
            devid,
        })
    }

    /// The device as libxl's JSON generator prints it.
    pub fn to_json(&self) -> Json {
        Obj::new()
            .string("backend_domname", &self.backend_domname)
            .int("devid", devid(self.devid))
            .build()
    }
}

/// One output of a virtual display: `unique-id:WIDTHxHEIGHT`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Connector {
    /// The id before the colon, which the backend knows the output by.
    pub unique_id: Option<String>,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
}

/// `vdispl=[...]`: a PV display with its connectors.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Vdispl {
    /// `backend=`: the domain serving the display (dom0 when `None`).
    pub backend_domname: Option<String>,
    /// Device number, the entry's position in the list.
    pub devid: i64,
    /// `be-alloc=`: the backend allocates the display buffers, not the guest.
    pub be_alloc: bool,
    /// `connectors=`: the outputs, `id:WxH` separated by `;`.
    pub connectors: Vec<Connector>,
}

/// C `sscanf(s, "%ux%u", ...)`: how many of the two numbers were read.
fn scan_resolution(s: &str) -> (usize, u32, u32) {
    let (w, used, _) = strtoul(s.as_bytes(), 10);
    if used == 0 {
        return (0, 0, 0);
    }
    let Some(rest) = s[used..].strip_prefix('x') else {
        return (1, w as u32, 0);
    };
    let (h, used, _) = strtoul(rest.as_bytes(), 10);
    if used == 0 {
        return (1, w as u32, 0);
    }
    (2, w as u32, h as u32)
}

impl Vdispl {
    fn connectors(&mut self, list: &str, r: &mut Report) -> Result<(), Refused> {
        let items: Vec<&str> = list.split(';').filter(|c| !c.is_empty()).collect();
        for (n, item) in items.iter().enumerate() {
            let mut parts = item.split(':').filter(|p| !p.is_empty());
            let (Some(id), Some(resolution)) = (parts.next(), parts.next()) else {
                // xl reads an unset pointer here; refuse instead.
                r.line("Can't parse connector resolution");
                return Err(Refused);
            };
            let (read, width, height) = scan_resolution(resolution);
            self.connectors.push(Connector {
                unique_id: Some(id.to_string()),
                width,
                height,
            });
            match read {
                2 => {}
                // xl stops at the message and goes on: sscanf's 0 becomes
                // its "success", and the connectors not reached stay empty.
                0 => {
                    r.line("Can't parse connector resolution");
                    let rest = items.len() - n - 1;
                    self.connectors
                        .extend(std::iter::repeat_n(Connector::default(), rest));
                    return Ok(());
                }
                _ => {
                    r.line("Can't parse connector resolution");
                    return Err(Refused);
                }
            }
        }
        if self.connectors.is_empty() {
            // xl crashes on an empty list.
            r.line("Can't parse connector resolution");
            return Err(Refused);
        }
        Ok(())
    }

    /// One token of a spec, or one argument of `xl vdispl-attach`.
    pub fn token(&mut self, t: &str, r: &mut Report) -> Result<(), Refused> {
        if let Some(v) = option("backend", t) {
            self.backend_domname = Some(v.to_string());
        } else if let Some(v) = option("be-alloc", t) {
            self.be_alloc = strtoul(v.as_bytes(), 0).0 != 0;
        } else if let Some(v) = option("connectors", t) {
            self.connectors.clear();
            self.connectors(v, r)?;
        } else {
            r.line(format!("Unknown string \"{t}\" in vdispl spec"));
            return Err(Refused);
        }
        Ok(())
    }

    /// One `vdispl` list item, numbered `devid`.
    pub fn parse(spec: &str, devid: i64, r: &mut Report) -> Result<Vdispl, Refused> {
        let mut d = Vdispl {
            devid,
            ..Vdispl::default()
        };
        for t in tokens(spec) {
            d.token(t, r)?;
        }
        if d.connectors.is_empty() {
            r.line("At least one connector should be specified.");
            return Err(Refused);
        }
        Ok(d)
    }

    /// The device as libxl's JSON generator prints it.
    pub fn to_json(&self) -> Json {
        let o = Obj::new()
            .string("backend_domname", &self.backend_domname)
            .int("devid", devid(self.devid));
        flag(o, "be_alloc", self.be_alloc)
            .array(
                "connectors",
                self.connectors
                    .iter()
                    .map(|c| {
                        Obj::new()
                            .string("unique_id", &c.unique_id)
                            .nonzero_u("width", u64::from(c.width))
                            .nonzero_u("height", u64::from(c.height))
                            .build()
                    })
                    .collect(),
            )
            .build()
    }
}

/// `libxl_usbctrl_type`, lowercase.
pub(crate) const USBCTRL_TYPES: [&str; 4] = ["auto", "pv", "devicemodel", "qusb"];

/// `usbctrl=[...]`: a USB controller.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Usbctrl {
    /// `type=`: 0 `auto`, 1 `pv`, 2 `devicemodel`, 3 `qusb` (`libxl_usbctrl_type`).
    pub kind: usize,
    /// Device number, the entry's position in the list.
    pub devid: i64,
    /// `version=`: the USB version the controller speaks (1, 2 or 3); 0 lets libxl choose.
    pub version: i64,
    /// `ports=`: how many ports it has; 0 lets libxl choose.
    pub ports: i64,
}

impl Usbctrl {
    /// One `usbctrl` list item, numbered `devid`.
    pub fn parse(spec: &str, devid: i64, r: &mut Report) -> Result<Usbctrl, Refused> {
        let mut c = Usbctrl {
            devid,
            ..Usbctrl::default()
        };
        for t in tokens(spec) {
            if let Some(v) = option("type", t) {
                let Some(k) = USBCTRL_TYPES.iter().position(|x| x.eq_ignore_ascii_case(v)) else {
                    r.line(format!("Invalid usb controller type '{v}'"));
                    return Err(Refused);
                };
                c.kind = k;
            } else if let Some(v) = option("version", t) {
                c.version = c_atoi(v);
            } else if let Some(v) = option("ports", t) {
                c.ports = c_atoi(v);
            } else {
                r.line(format!("Unknown string `{t}' in usbctrl spec"));
                return Err(Refused);
            }
        }
        Ok(c)
    }

    /// The device as libxl's JSON generator prints it.
    pub fn to_json(&self) -> Json {
        Obj::new()
            .enum_("type", (self.kind != 0).then(|| USBCTRL_TYPES[self.kind]))
            .int("devid", devid(self.devid))
            .nonzero("version", self.version)
            .nonzero("ports", self.ports)
            .build()
    }
}

/// `usbdev=[...]`: a host USB device passed to a controller.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Usbdev {
    /// `controller=`: the devid of the controller to plug into; `None` lets libxl pick.
    pub ctrl: Option<i64>,
    /// `port=`: the port on that controller; 0 lets libxl pick.
    pub port: i64,
    /// `type=hostdev` was given (the only type); libxl prints the host
    /// address only then, and uses it either way.
    pub hostdev: bool,
    /// `hostbus=`: the host USB bus of the device.
    pub hostbus: u8,
    /// `hostaddr=`: the device's address on that bus.
    pub hostaddr: u8,
}

impl Usbdev {
    /// One `usbdev` list item.
    pub fn parse(spec: &str, r: &mut Report) -> Result<Usbdev, Refused> {
        let mut d = Usbdev::default();
        for t in tokens(spec) {
            if let Some(v) = option("type", t) {
                if !v.eq_ignore_ascii_case("hostdev") {
                    // xl prints getopt's optarg, not the value.
                    r.line("Invalid usb device type: (null)");
                    return Err(Refused);
                }
                d.hostdev = true;
            } else if let Some(v) = option("hostbus", t) {
                d.hostbus = strtoul(v.as_bytes(), 0).0 as u8;
            } else if let Some(v) = option("hostaddr", t) {
                d.hostaddr = strtoul(v.as_bytes(), 0).0 as u8;
            } else if let Some(v) = option("controller", t) {
                d.ctrl = Some(c_atoi(v));
            } else if let Some(v) = option("port", t) {
                d.port = c_atoi(v);
            } else {
                r.line(format!("Unknown string `{t}' in usbdev spec"));
                return Err(Refused);
            }
        }
        // Without its type libxl's JSON leaves the host address out, but
        // libxl still plugs the device it names (the type defaults to
        // hostdev and the address stays in the union).
        Ok(d)
    }

    /// The device as libxl's JSON generator prints it.
    pub fn to_json(&self) -> Json {
        let o = Obj::new().int("ctrl", self.ctrl).nonzero("port", self.port);
        if !self.hostdev {
            return o.build();
        }
        o.field(
            "type.hostdev",
            Obj::new()
                .nonzero_u("hostbus", u64::from(self.hostbus))
                .nonzero_u("hostaddr", u64::from(self.hostaddr))
                .build(),
        )
        .build()
    }
}

/// `libxl_vsnd_pcm_format`, lowercase, from 1.
pub(crate) const PCM_FORMATS: [&str; 25] = [
    "s8",
    "u8",
    "s16_le",
    "s16_be",
    "u16_le",
    "u16_be",
    "s24_le",
    "s24_be",
    "u24_le",
    "u24_be",
    "s32_le",
    "s32_be",
    "u32_le",
    "u32_be",
    "f32_le",
    "f32_be",
    "f64_le",
    "f64_be",
    "iec958_subframe_le",
    "iec958_subframe_be",
    "mu_law",
    "a_law",
    "ima_adpcm",
    "mpeg",
    "gsm",
];

/// libxl's name of a PCM format, matched without regard to case.
pub fn pcm_format(name: &str) -> Option<&'static str> {
    PCM_FORMATS
        .iter()
        .find(|n| n.eq_ignore_ascii_case(name))
        .copied()
}

/// Stream parameters a card, a PCM device or a stream may set.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct VsndParams {
    /// `sample-rates=`: supported rates in Hz, `;`-separated in the spec.
    pub sample_rates: Vec<u32>,
    /// `sample-formats=`: `libxl_vsnd_pcm_format` names such as `s16_le`.
    pub sample_formats: Vec<&'static str>,
    /// `channels-min=`: the fewest channels; 0 when unset.
    pub channels_min: u32,
    /// `channels-max=`: the most channels; 0 when unset.
    pub channels_max: u32,
    /// `buffer-size=`: the buffer size in bytes; 0 when unset.
    pub buffer_size: u32,
}

/// What a parameter token was.
enum Param {
    Taken,
    NotAParam,
}

impl VsndParams {
    fn token(&mut self, t: &str, r: &mut Report) -> Result<Param, Refused> {
        if let Some(v) = option("sample-rates", t) {
            self.sample_rates = split_list(v, r)?.into_iter().map(c_u32).collect();
        } else if let Some(v) = option("sample-formats", t) {
            self.sample_formats.clear();
            for f in split_list(v, r)? {
                let Some(name) = PCM_FORMATS.iter().find(|n| n.eq_ignore_ascii_case(f)) else {
                    r.line(format!("Invalid pcm format: {f}"));
                    return Err(Refused);
                };
                self.sample_formats.push(name);
            }
        } else if let Some(v) = option("channels-min", t) {
            self.channels_min = c_u32(v);
        } else if let Some(v) = option("channels-max", t) {
            self.channels_max = c_u32(v);
        } else if let Some(v) = option("buffer-size", t) {
            self.buffer_size = c_u32(v);
        } else {
            return Ok(Param::NotAParam);
        }
        Ok(Param::Taken)
    }

    fn to_json(&self) -> Json {
        let mut o = Obj::new();
        if !self.sample_rates.is_empty() {
            o = o.field(
                "sample_rates",
                Json::Arr(
                    self.sample_rates
                        .iter()
                        .map(|r| Json::UInt(u64::from(*r)))
                        .collect(),
                ),
            );
        }
        if !self.sample_formats.is_empty() {
            o = o.field(
                "sample_formats",
                Json::Arr(self.sample_formats.iter().map(|f| Json::str(*f)).collect()),
            );
        }
        o.nonzero_u("channels_min", u64::from(self.channels_min))
            .nonzero_u("channels_max", u64::from(self.channels_max))
            .nonzero_u("buffer_size", u64::from(self.buffer_size))
            .build()
    }
}

/// xl's `split_string_into_string_list(s, ";")`: empty items vanish; an
/// empty list crashes xl, so it is refused here.
fn split_list<'a>(s: &'a str, r: &mut Report) -> Result<Vec<&'a str>, Refused> {
    let items: Vec<&str> = s.split(';').filter(|i| !i.is_empty()).collect();
    if items.is_empty() {
        r.line(format!("Invalid parameter: empty list `{s}'"));
        return Err(Refused);
    }
    Ok(items)
}

/// A stream of a PCM device: playback (`p`) or capture (`c`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct VsndStream {
    /// `unique-id=`: the id the backend knows the stream by.
    pub unique_id: Option<String>,
    /// "p" or "c"; `None` when not given.
    pub kind: Option<&'static str>,
    /// Its own parameters, overriding the PCM device's.
    pub params: VsndParams,
}

/// A PCM device of a sound card.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct VsndPcm {
    /// `name=`: the device's name.
    pub name: Option<String>,
    /// Its own parameters, overriding the card's.
    pub params: VsndParams,
    /// Its streams, from the `stream` items after it.
    pub streams: Vec<VsndStream>,
}

/// `vsnd=[[...], ...]`: a PV sound card, one list of `card`/`pcm`/`stream`
/// items per card.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Vsnd {
    /// `backend=`: the domain serving the card (dom0 when `None`).
    pub backend_domname: Option<String>,
    /// Device number, the card's position in the list.
    pub devid: i64,
    /// `short-name=`: the card's short name.
    pub short_name: Option<String>,
    /// `long-name=`: the card's long name.
    pub long_name: Option<String>,
    /// The card-wide parameters (on the `card` item).
    pub params: VsndParams,
    /// Its PCM devices, from the `pcm` items.
    pub pcms: Vec<VsndPcm>,
}

/// Which part of the card an item's parameters go to.
#[derive(Clone, Copy)]
enum VsndPart {
    Card,
    Pcm,
    Stream,
}

impl Vsnd {
    /// One card from its items, numbered `devid`.
    pub fn parse(items: &[String], devid: i64, r: &mut Report) -> Result<Vsnd, Refused> {
        let mut card = Vsnd {
            devid,
            ..Vsnd::default()
        };
        for item in items {
            card.item(item, r)?;
        }
        Ok(card)
    }

    /// `KEY, param=value, ...`: the key adds a part, the params fill it
    /// (one item of a card, or one argument of `xl vsnd-attach`).
    pub fn item(&mut self, item: &str, r: &mut Report) -> Result<(), Refused> {
        let mut toks = tokens(item);
        let Some(key) = toks.next() else {
            return Ok(());
        };
        let part = self.add_part(key, r)?;
        for t in toks {
            match part {
                VsndPart::Card => self.card_param(t, r)?,
                VsndPart::Pcm => self.pcm_param(t, r)?,
                VsndPart::Stream => self.stream_param(t, r)?,
            }
        }
        Ok(())
    }

    fn add_part(&mut self, key: &str, r: &mut Report) -> Result<VsndPart, Refused> {
        if key.eq_ignore_ascii_case("card") {
            Ok(VsndPart::Card)
        } else if key.eq_ignore_ascii_case("pcm") {
            self.pcms.push(VsndPcm::default());
            Ok(VsndPart::Pcm)
        } else if key.eq_ignore_ascii_case("stream") {
            if self.pcms.is_empty() {
                self.pcms.push(VsndPcm::default());
            }
            let pcm = self.pcms.last_mut().expect("a pcm was just ensured");
            pcm.streams.push(VsndStream::default());
            Ok(VsndPart::Stream)
        } else {
            r.line(format!("Invalid key: {key}"));
            Err(Refused)
        }
    }

    fn card_param(&mut self, t: &str, r: &mut Report) -> Result<(), Refused> {
        if let Param::Taken = self.params.token(t, r)? {
            return Ok(());
        }
        if let Some(v) = option("backend", t) {
            self.backend_domname = Some(v.to_string());
        } else if let Some(v) = option("short-name", t) {
            self.short_name = Some(v.to_string());
        } else if let Some(v) = option("long-name", t) {
            self.long_name = Some(v.to_string());
        } else {
            r.line(format!("Invalid parameter: {t}"));
            return Err(Refused);
        }
        Ok(())
    }

    fn pcm_param(&mut self, t: &str, r: &mut Report) -> Result<(), Refused> {
        let pcm = self.pcms.last_mut().expect("pcm items add a pcm");
        if let Param::Taken = pcm.params.token(t, r)? {
            return Ok(());
        }
        match option("name", t) {
            Some(v) => pcm.name = Some(v.to_string()),
            None => {
                r.line(format!("Invalid parameter: {t}"));
                return Err(Refused);
            }
        }
        Ok(())
    }

    fn stream_param(&mut self, t: &str, r: &mut Report) -> Result<(), Refused> {
        let pcm = self.pcms.last_mut().expect("stream items add a pcm");
        let stream = pcm.streams.last_mut().expect("stream items add a stream");
        if let Param::Taken = stream.params.token(t, r)? {
            return Ok(());
        }
        if let Some(v) = option("unique-id", t) {
            stream.unique_id = Some(v.to_string());
        } else if let Some(v) = option("type", t) {
            stream.kind = Some(match v.to_ascii_lowercase().as_str() {
                "p" => "p",
                "c" => "c",
                _ => {
                    r.line(format!("Invalid stream type: {v}"));
                    return Err(Refused);
                }
            });
        } else {
            r.line(format!("Invalid parameter: {t}"));
            return Err(Refused);
        }
        Ok(())
    }

    /// The device as libxl's JSON generator prints it.
    pub fn to_json(&self) -> Json {
        let pcms = self
            .pcms
            .iter()
            .map(|p| {
                let streams = p
                    .streams
                    .iter()
                    .map(|s| {
                        Obj::new()
                            .string("unique_id", &s.unique_id)
                            .enum_("type", s.kind)
                            .field("params", s.params.to_json())
                            .build()
                    })
                    .collect();
                Obj::new()
                    .string("name", &p.name)
                    .field("params", p.params.to_json())
                    .array("streams", streams)
                    .build()
            })
            .collect();
        Obj::new()
            .string("backend_domname", &self.backend_domname)
            .int("devid", devid(self.devid))
            .string("short_name", &self.short_name)
            .string("long_name", &self.long_name)
            .field("params", self.params.to_json())
            .array("pcms", pcms)
            .build()
    }
}
