//! `xl vkb-list`, `vtpm-list` and `channel-list`: a domain's keyboards,
//! vTPMs and channels read back from xenstore the way libxl lists them (its
//! private tree names the devices, the frontend tells their state).

use xenstore::XsOps;

use crate::devlist::{atoi, backend_domid, entries, fe_number};

/// Where libxl keeps its own record of a domain's devices of `kind`.
fn libxl_dir(domid: u32, kind: &str) -> String {
    format!("/libxl/{domid}/device/{kind}")
}

/// One row of `xl vkb-list`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VkbRow {
    /// The keyboard's devid.
    pub devid: i32,
    /// The backend's domain.
    pub backend_id: u32,
    /// The frontend's xenbus state (-1 when absent).
    pub state: i32,
    /// The frontend's event channel (-1 when absent).
    pub evtch: i32,
    /// The ring's grant reference (-1 when absent).
    pub rref: i32,
    /// The backend's `unique-id`; xl prints "(null)" without one.
    pub unique_id: Option<String>,
    /// "linux" for a `vinput` backend (the dom0 kernel), else "qemu".
    pub backend_type: &'static str,
    /// The backend's xenstore directory.
    pub backend: String,
}

/// A domain's keyboards; `None` when libxl's list fails (a device record
/// without its backend or frontend path), which xl passes over silently.
pub fn vkbs(xs: &impl XsOps, domid: u32) -> Result<Option<Vec<VkbRow>>, xenstore::Error> {
    let dir = libxl_dir(domid, "vkbd");
    let mut rows = Vec::new();
    for id in entries(xs, &dir)? {
        let devid = atoi(&id);
        let lp = format!("{dir}/{id}");
        let (Some(be), Some(_fe)) = (
            xs.try_read(&format!("{lp}/backend"))?,
            xs.try_read(&format!("{lp}/frontend"))?,
        ) else {
            return Ok(None);
        };
        let Some(backend_id) = backend_domid(&be) else {
            return Ok(None);
        };
        let kind = be.split('/').nth(5).unwrap_or_default();
        let fe = format!("/local/domain/{domid}/device/vkbd/{devid}");
        rows.push(VkbRow {
            devid,
            backend_id,
            state: fe_number(xs, &format!("{fe}/state"))?,
            evtch: fe_number(xs, &format!("{fe}/event-channel"))?,
            rref: fe_number(xs, &format!("{fe}/page-gref"))?,
            unique_id: xs.try_read(&format!("{be}/unique-id"))?,
            backend_type: if kind == "vinput" { "linux" } else { "qemu" },
            backend: be,
        });
    }
    Ok(Some(rows))
}

/// `xl vkb-list`'s header line.
pub fn vkb_list_header() -> String {
    format!(
        "{:<3} {:<2} {:<6} {:<5} {:<6} {:>6} {:<10} {:<10} {:<30}\n",
        "Idx", "BE", "handle", "state", "evt-ch", "ref", "ID", "BE-type", "BE-path"
    )
}

/// One `xl vkb-list` line.
pub fn vkb_row(r: &VkbRow) -> String {
    format!(
        "{:<3} {:<2} {:>6} {:>5} {:>6} {:>6} {:<10} {:<10} {:<30}\n",
        r.devid,
        r.backend_id,
        r.devid,
        r.state,
        r.evtch,
        r.rref,
        crate::printable(r.unique_id.as_deref().unwrap_or("(null)")),
        r.backend_type,
        crate::printable(&r.backend)
    )
}

/// One row of `xl vtpm-list`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VtpmRow {
    /// The vTPM's devid.
    pub devid: i32,
    /// The backend's domain.
    pub backend_id: u32,
    /// The vTPM's UUID, as text.
    pub uuid: String,
    /// The frontend's xenbus state (-1 when absent).
    pub state: i32,
    /// The frontend's event channel (-1 when absent).
    pub evtch: i32,
    /// The ring's grant reference (-1 when absent).
    pub rref: i32,
    /// The backend's xenstore directory.
    pub backend: String,
}

/// A domain's vTPMs; `None` when libxl's list fails. A vTPM whose record
/// lacks its uuid is left out, as libxl's getinfo fails on it.
pub fn vtpms(xs: &impl XsOps, domid: u32) -> Result<Option<Vec<VtpmRow>>, xenstore::Error> {
    let dir = libxl_dir(domid, "vtpm");
    let mut rows = Vec::new();
    for id in entries(xs, &dir)? {
        let devid = atoi(&id);
        let lp = format!("{dir}/{id}");
        let Some(be) = xs.try_read(&format!("{lp}/backend"))? else {
            return Ok(None);
        };
        let Some(backend_id) = backend_domid(&be) else {
            return Ok(None);
        };
        if let Some(u) = xs.try_read(&format!("{be}/uuid"))?
            && xl_config::domain::parse_uuid(&u).is_none()
        {
            return Ok(None);
        }
        let Some(uuid) = xs
            .try_read(&format!("{lp}/uuid"))?
            .and_then(|u| xl_config::domain::parse_uuid(&u))
        else {
            continue;
        };
        let fe = format!("/local/domain/{domid}/device/vtpm/{devid}");
        rows.push(VtpmRow {
            devid,
            backend_id,
            uuid: xl_config::domain::uuid_string(&uuid),
            state: fe_number(xs, &format!("{fe}/state"))?,
            evtch: fe_number(xs, &format!("{fe}/event-channel"))?,
            rref: fe_number(xs, &format!("{fe}/ring-ref"))?,
            backend: be,
        });
    }
    Ok(Some(rows))
}

/// `xl vtpm-list`'s header line.
pub fn vtpm_list_header() -> String {
    format!(
        "{:<3} {:<2} {:<36} {:<6} {:<5} {:<6} {:<5} {:<10}\n",
        "Idx", "BE", "Uuid", "handle", "state", "evt-ch", "ring-ref", "BE-path"
    )
}

/// One `xl vtpm-list` line.
pub fn vtpm_row(r: &VtpmRow) -> String {
    format!(
        "{:<3} {:<2} {} {:>6} {:>5} {:>6} {:>8} {:<30}\n",
        r.devid,
        r.backend_id,
        r.uuid,
        r.devid,
        r.state,
        r.evtch,
        r.rref,
        crate::printable(&r.backend)
    )
}

/// One row of `xl channel-list`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChannelRow {
    /// The channel's devid (its console number).
    pub devid: i32,
    /// The backend's domain.
    pub backend_id: u32,
    /// The frontend's xenbus state (-1 when absent).
    pub state: i32,
    /// The frontend's event channel (-1 when absent).
    pub evtch: i32,
    /// The ring's grant reference (-1 when absent).
    pub rref: i32,
    /// "pty" or "socket".
    pub connection: &'static str,
    /// A pty channel's device path.
    pub pty: Option<String>,
}

/// A domain's channels: the consoles that have a name, numbered in order
/// from 0 (console N+1 in xenstore). `None` when libxl's list fails.
pub fn channels(xs: &impl XsOps, domid: u32) -> Result<Option<Vec<ChannelRow>>, xenstore::Error> {
    let dir = libxl_dir(domid, "console");
    let mut found = Vec::new();
    for id in entries(xs, &dir)? {
        let lp = format!("{dir}/{id}");
        if xs.try_read(&format!("{lp}/name"))?.is_none() {
            continue;
        }
        let connection = match xs.try_read(&format!("{lp}/connection"))?.as_deref() {
            Some("pty") => "pty",
            Some("socket") => "socket",
            _ => return Ok(None),
        };
        found.push(connection);
    }
    let mut rows = Vec::new();
    for (devid, connection) in found.into_iter().enumerate() {
        let devid = devid as i32;
        let lp = format!("{dir}/{}", devid + 1);
        let Some(be) = xs.try_read(&format!("{lp}/backend"))? else {
            continue;
        };
        let Some(backend_id) = backend_domid(&be) else {
            continue;
        };
        let fe = format!("/local/domain/{domid}/device/console/{}", devid + 1);
        let pty = if connection == "pty" {
            Some(
                xs.try_read(&format!("{fe}/tty"))?
                    .unwrap_or_else(|| "/NO-SUCH-PATH".into()),
            )
        } else {
            None
        };
        rows.push(ChannelRow {
            devid,
            backend_id,
            state: fe_number(xs, &format!("{fe}/state"))?,
            evtch: fe_number(xs, &format!("{fe}/port"))?,
            rref: fe_number(xs, &format!("{fe}/ring-ref"))?,
            connection,
            pty,
        });
    }
    Ok(Some(rows))
}

/// `xl channel-list`'s header line.
pub fn channel_list_header() -> String {
    format!(
        "{:<3} {:<2} {:<5} {:<6} {:>8} {:<10} {:<30}\n",
        "Idx", "BE", "state", "evt-ch", "ring-ref", "connection", ""
    )
}

/// One `xl channel-list` line.
pub fn channel_row(r: &ChannelRow) -> String {
    let mut s = format!(
        "{:<3} {:<2} {:<5} {:<6} {:<8} {:<10} ",
        r.devid, r.backend_id, r.state, r.evtch, r.rref, r.connection
    );
    if let Some(p) = &r.pty {
        s.push_str(&format!("{:<30} ", crate::printable(p)));
    }
    s.push('\n');
    s
}

/// The most numbered subdirectories (connectors, PCM devices, streams)
/// read back for one device: libxl counts until one is missing.
const MAX_PARTS: usize = 1024;

/// How many of `dir/0`, `dir/1`, ... exist, in a row.
fn count_parts(xs: &impl XsOps, dir: &str) -> Result<usize, xenstore::Error> {
    let mut n = 0;
    while n < MAX_PARTS && xs.try_read(&format!("{dir}/{n}"))?.is_some() {
        n += 1;
    }
    Ok(n)
}

/// One connector of a display, as `xl vdispl-list` shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConnectorInfo {
    /// The connector's `unique-id`.
    pub unique_id: String,
    /// Its width, in pixels.
    pub width: u32,
    /// Its height, in pixels.
    pub height: u32,
    /// The request ring's grant reference (-1 when absent).
    pub req_rref: i32,
    /// The request ring's event channel (-1 when absent).
    pub req_evtch: i32,
    /// The event ring's grant reference (-1 when absent).
    pub evt_rref: i32,
    /// The event ring's event channel (-1 when absent).
    pub evt_evtch: i32,
}

/// One display of `xl vdispl-list` (libxl_vdisplinfo).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VdisplInfo {
    /// The display's devid.
    pub devid: i32,
    /// The backend's domain.
    pub backend_id: u32,
    /// The frontend's domain.
    pub frontend_id: u32,
    /// The frontend's xenbus state (-1 when absent).
    pub state: i32,
    /// Whether the backend allocates the display buffers (`be-alloc`, 0 or 1).
    pub be_alloc: i32,
    /// The backend's xenstore directory.
    pub backend: String,
    /// The frontend's xenstore directory, as libxl recorded it.
    pub frontend: Option<String>,
    /// Its connectors, in order.
    pub connectors: Vec<ConnectorInfo>,
}

/// `sscanf(s, "%ux%u")` needing both numbers.
fn resolution(s: &str) -> Option<(u32, u32)> {
    let (w, used, _) = xl_config::value::strtoul(s.as_bytes(), 10);
    let rest = s.get(used..)?.strip_prefix('x').filter(|_| used > 0)?;
    let (h, used, _) = xl_config::value::strtoul(rest.as_bytes(), 10);
    (used > 0).then_some((w as u32, h as u32))
}

/// A display's connectors from its frontend; `None` when one lacks its
/// id or a readable resolution (libxl's getinfo fails then).
fn connectors(xs: &impl XsOps, fe: &str) -> Result<Option<Vec<ConnectorInfo>>, xenstore::Error> {
    let mut out = Vec::new();
    for i in 0..count_parts(xs, fe)? {
        let c = format!("{fe}/{i}");
        let (Some(unique_id), Some(res)) = (
            xs.try_read(&format!("{c}/unique-id"))?,
            xs.try_read(&format!("{c}/resolution"))?,
        ) else {
            return Ok(None);
        };
        let Some((width, height)) = resolution(&res) else {
            return Ok(None);
        };
        out.push(ConnectorInfo {
            unique_id,
            width,
            height,
            req_rref: fe_number(xs, &format!("{c}/req-ring-ref"))?,
            req_evtch: fe_number(xs, &format!("{c}/req-event-channel"))?,
            evt_rref: fe_number(xs, &format!("{c}/evt-ring-ref"))?,
            evt_evtch: fe_number(xs, &format!("{c}/evt-event-channel"))?,
        });
    }
    Ok(Some(out))
}

/// A domain's displays; `None` when libxl's list fails. A display whose
/// info cannot be read is left out.
pub fn vdispls(xs: &impl XsOps, domid: u32) -> Result<Option<Vec<VdisplInfo>>, xenstore::Error> {
    let dir = libxl_dir(domid, "vdispl");
    let ids = entries(xs, &dir)?;
    for id in &ids {
        let be = xs.try_read(&format!("{dir}/{id}/backend"))?;
        if be.as_deref().and_then(backend_domid).is_none() {
            return Ok(None);
        }
    }
    let mut rows = Vec::new();
    for id in ids {
        let devid = atoi(&id);
        let lp = format!("{dir}/{devid}");
        let Some(backend) = xs.try_read(&format!("{lp}/backend"))? else {
            continue;
        };
        let Some(backend_id) = backend_domid(&backend) else {
            continue;
        };
        let fe = format!("/local/domain/{domid}/device/vdispl/{devid}");
        let Some(connectors) = connectors(xs, &fe)? else {
            continue;
        };
        rows.push(VdisplInfo {
            devid,
            backend_id,
            frontend_id: domid,
            state: fe_number(xs, &format!("{fe}/state"))?,
            be_alloc: xs
                .try_read(&format!("{fe}/be-alloc"))?
                .map_or(0, |v| xl_config::value::strtoul(v.as_bytes(), 10).0 as i32),
            backend,
            frontend: xs.try_read(&format!("{lp}/frontend"))?,
            connectors,
        });
    }
    Ok(Some(rows))
}

/// A display's lines in `xl vdispl-list`.
pub fn vdispl_row(d: &VdisplInfo) -> String {
    let mut s = format!(
        "DevId: {}, BE: {}, handle: {}, state: {}, be-alloc: {}, BE-path: {}, FE-path: {}\n",
        d.devid,
        d.backend_id,
        d.frontend_id,
        d.state,
        d.be_alloc,
        crate::printable(&d.backend),
        crate::printable(d.frontend.as_deref().unwrap_or("(null)"))
    );
    for (j, c) in d.connectors.iter().enumerate() {
        s.push_str(&format!(
            "\tConnector: {j}, id: {}, width: {}, height: {}, req-rref: {}, req-evtch: {}, evt-rref: {}, evt-evtch: {}\n",
            crate::printable(&c.unique_id),
            c.width as i32,
            c.height as i32,
            c.req_rref,
            c.req_evtch,
            c.evt_rref,
            c.evt_evtch
        ));
    }
    s
}

/// Stream parameters as libxl reads them back from a frontend directory.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SndParams {
    /// Sample rates, in Hz.
    pub sample_rates: Vec<u32>,
    /// Sample formats (`s16_le`, ...).
    pub sample_formats: Vec<String>,
    /// Fewest channels.
    pub channels_min: u32,
    /// Most channels.
    pub channels_max: u32,
    /// Buffer size, in bytes.
    pub buffer_size: u32,
}

/// One stream of a PCM device, with its ring.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SndStream {
    /// The stream's `unique-id`.
    pub unique_id: Option<String>,
    /// `p` for playback, `c` for capture; None when unrecognised.
    pub kind: Option<&'static str>,
    /// Its own parameters.
    pub params: SndParams,
    /// Its event channel (-1 when absent).
    pub evtch: i32,
    /// Its ring's grant reference (-1 when absent).
    pub rref: i32,
}

/// One PCM device of a sound card.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SndPcm {
    /// The PCM device's name.
    pub name: Option<String>,
    /// Its parameters.
    pub params: SndParams,
    /// Its streams, in order.
    pub streams: Vec<SndStream>,
}

/// One sound card of `xl vsnd-list` (libxl_device_vsnd read back, with
/// libxl_vsndinfo).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VsndInfo {
    /// The card's devid.
    pub devid: i32,
    /// The backend's domain.
    pub backend_id: u32,
    /// The frontend's domain.
    pub frontend_id: u32,
    /// The frontend's xenbus state (-1 when absent).
    pub state: i32,
    /// The backend's xenstore directory.
    pub backend: String,
    /// The frontend's xenstore directory.
    pub frontend: String,
    /// The card's short name.
    pub short_name: Option<String>,
    /// The card's long name.
    pub long_name: Option<String>,
    /// Its parameters.
    pub params: SndParams,
    /// Its PCM devices, in order.
    pub pcms: Vec<SndPcm>,
}

/// The items of a list node libxl splits at spaces and commas.
fn list_items(s: &str) -> impl Iterator<Item = &str> {
    s.split([' ', ',']).filter(|i| !i.is_empty())
}

/// libxl__params_from_xenstore; `None` when a sample format is unknown.
fn snd_params(xs: &impl XsOps, dir: &str) -> Result<Option<SndParams>, xenstore::Error> {
    let mut p = SndParams::default();
    let num = |v: &str| xl_config::value::strtoul(v.as_bytes(), 0).0 as u32;
    if let Some(v) = xs.try_read(&format!("{dir}/sample-rates"))? {
        p.sample_rates = list_items(&v).map(num).collect();
    }
    if let Some(v) = xs.try_read(&format!("{dir}/sample-formats"))? {
        for f in list_items(&v) {
            let Some(name) = xl_config::vdev::pcm_format(f) else {
                return Ok(None);
            };
            p.sample_formats.push(name.to_string());
        }
    }
    let read = |k: &str| xs.try_read(&format!("{dir}/{k}"));
    p.channels_min = read("channels-min")?.map_or(0, |v| num(&v));
    p.channels_max = read("channels-max")?.map_or(0, |v| num(&v));
    p.buffer_size = read("buffer-size")?.map_or(0, |v| num(&v));
    Ok(Some(p))
}

/// A stream's type as libxl parses it back; an unknown one fails the list.
fn stream_kind(v: &str) -> Option<&'static str> {
    match v.to_ascii_lowercase().as_str() {
        "p" => Some("p"),
        "c" => Some("c"),
        _ => None,
    }
}

/// One PCM device read back from `dir`; `None` when libxl's read fails.
fn snd_pcm(xs: &impl XsOps, dir: &str) -> Result<Option<SndPcm>, xenstore::Error> {
    let Some(params) = snd_params(xs, dir)? else {
        return Ok(None);
    };
    let mut streams = Vec::new();
    for j in 0..count_parts(xs, dir)? {
        let sd = format!("{dir}/{j}");
        let kind = match xs.try_read(&format!("{sd}/type"))? {
            Some(t) => match stream_kind(&t) {
                Some(k) => Some(k),
                None => return Ok(None),
            },
            None => None,
        };
        let Some(params) = snd_params(xs, &sd)? else {
            return Ok(None);
        };
        streams.push(SndStream {
            unique_id: xs.try_read(&format!("{sd}/unique-id"))?,
            kind,
            params,
            rref: fe_number(xs, &format!("{sd}/ring-ref"))?,
            evtch: fe_number(xs, &format!("{sd}/event-channel"))?,
        });
    }
    Ok(Some(SndPcm {
        name: xs.try_read(&format!("{dir}/name"))?,
        params,
        streams,
    }))
}

/// One card read back as libxl__vsnd_from_xenstore does; `None` when
/// that fails (and with it the whole list).
fn vsnd(xs: &impl XsOps, domid: u32, id: &str) -> Result<Option<VsndInfo>, xenstore::Error> {
    let devid = atoi(id);
    let lp = format!("{}/{id}", libxl_dir(domid, "vsnd"));
    let (Some(backend), Some(frontend)) = (
        xs.try_read(&format!("{lp}/backend"))?,
        xs.try_read(&format!("{lp}/frontend"))?,
    ) else {
        return Ok(None);
    };
    let Some(backend_id) = backend_domid(&backend) else {
        return Ok(None);
    };
    let Some(params) = snd_params(xs, &frontend)? else {
        return Ok(None);
    };
    let mut pcms = Vec::new();
    for i in 0..count_parts(xs, &frontend)? {
        let Some(pcm) = snd_pcm(xs, &format!("{frontend}/{i}"))? else {
            return Ok(None);
        };
        pcms.push(pcm);
    }
    let fe = format!("/local/domain/{domid}/device/vsnd/{devid}");
    Ok(Some(VsndInfo {
        devid,
        backend_id,
        frontend_id: domid,
        state: fe_number(xs, &format!("{fe}/state"))?,
        short_name: xs.try_read(&format!("{frontend}/short-name"))?,
        long_name: xs.try_read(&format!("{frontend}/long-name"))?,
        backend,
        frontend,
        params,
        pcms,
    }))
}

/// A domain's sound cards; `None` when libxl's list fails.
pub fn vsnds(xs: &impl XsOps, domid: u32) -> Result<Option<Vec<VsndInfo>>, xenstore::Error> {
    let mut rows = Vec::new();
    for id in entries(xs, &libxl_dir(domid, "vsnd"))? {
        match vsnd(xs, domid, &id)? {
            Some(card) => rows.push(card),
            None => return Ok(None),
        }
    }
    Ok(Some(rows))
}

/// xl's print_params: the set parameters, then the end of the line. (xl
/// labels the sample formats "sample-rates" too.)
fn snd_params_text(p: &SndParams) -> String {
    let mut s = String::new();
    if p.channels_min != 0 {
        s.push_str(&format!(", channels-min: {}", p.channels_min));
    }
    if p.channels_max != 0 {
        s.push_str(&format!(", channels-max: {}", p.channels_max));
    }
    if p.buffer_size != 0 {
        s.push_str(&format!(", buffer-size: {}", p.buffer_size));
    }
    if !p.sample_rates.is_empty() {
        let r: Vec<String> = p.sample_rates.iter().map(u32::to_string).collect();
        s.push_str(&format!(", sample-rates: {}", r.join(";")));
    }
    if !p.sample_formats.is_empty() {
        s.push_str(&format!(", sample-rates: {}", p.sample_formats.join(";")));
    }
    s.push('\n');
    s
}

fn quoted(s: &Option<String>) -> String {
    crate::printable(s.as_deref().unwrap_or("(null)"))
}

/// A card's lines in `xl vsnd-list`.
pub fn vsnd_row(c: &VsndInfo) -> String {
    let mut s = format!(
        "\ndevid: {}, be-domid: {}, handle: {}, state: {}, be-path: {}, fe-path: {}\n",
        c.devid,
        c.backend_id,
        c.frontend_id,
        c.state,
        crate::printable(&c.backend),
        crate::printable(&c.frontend)
    );
    s.push_str(&format!(
        "short-name: \"{}\", long-name: \"{}\"",
        quoted(&c.short_name),
        quoted(&c.long_name)
    ));
    s.push_str(&snd_params_text(&c.params));
    for (j, pcm) in c.pcms.iter().enumerate() {
        s.push_str(&format!("\tpcm: {j}, name: \"{}\"", quoted(&pcm.name)));
        s.push_str(&snd_params_text(&pcm.params));
        for (k, st) in pcm.streams.iter().enumerate() {
            s.push_str(&format!(
                "\t\tstream: {k}, unique-id: \"{}\", type: {}",
                quoted(&st.unique_id),
                st.kind.unwrap_or("(null)")
            ));
            s.push_str(&snd_params_text(&st.params));
            s.push_str(&format!(
                "\t\t\tevent-channel: {}, ring-ref: {}\n",
                st.evtch, st.rref
            ));
        }
    }
    s
}

/// The devids libxl's list of `kind` (`vtpm`, `vdispl`, `vsnd`) gives:
/// none when any device's record cannot be read back (libxl's list then
/// fails as a whole).
pub fn listed_devids(xs: &impl XsOps, domid: u32, kind: &str) -> Result<Vec<i64>, xenstore::Error> {
    let dir = libxl_dir(domid, kind);
    let mut ids = Vec::new();
    for id in entries(xs, &dir)? {
        let lp = format!("{dir}/{id}");
        let Some(be) = xs.try_read(&format!("{lp}/backend"))? else {
            return Ok(Vec::new());
        };
        if backend_domid(&be).is_none() {
            return Ok(Vec::new());
        }
        let readable = match kind {
            "vtpm" => xs
                .try_read(&format!("{be}/uuid"))?
                .is_none_or(|u| xl_config::domain::parse_uuid(&u).is_some()),
            "vsnd" => xs.try_read(&format!("{lp}/frontend"))?.is_some(),
            _ => true,
        };
        if !readable {
            return Ok(Vec::new());
        }
        ids.push(i64::from(atoi(&id)));
    }
    Ok(ids)
}

#[cfg(test)]
mod tests {
    use super::*;
    use xenstore::{Daemon, Xs};

    fn store(nodes: &[(&str, &str)]) -> (Daemon, Xs) {
        let d = Daemon::new();
        let xs = Xs::new(d.connect_as(0).unwrap()).unwrap();
        for (p, v) in nodes {
            xs.write(p, v).unwrap();
        }
        (d, xs)
    }

    #[test]
    fn headers_like_xl() {
        assert_eq!(
            vkb_list_header(),
            "Idx BE handle state evt-ch    ref ID         BE-type    BE-path                       \n"
        );
        assert_eq!(
            vtpm_list_header(),
            "Idx BE Uuid                                 handle state evt-ch ring-ref BE-path   \n"
        );
        assert_eq!(
            channel_list_header(),
            "Idx BE state evt-ch ring-ref connection                               \n"
        );
    }

    #[test]
    fn an_hvm_guests_qemu_keyboard() {
        let be = "/local/domain/0/backend/vkbd/7/0";
        let (_d, xs) = store(&[
            ("/libxl/7/device/vkbd/0/backend", be),
            (
                "/libxl/7/device/vkbd/0/frontend",
                "/local/domain/7/device/vkbd/0",
            ),
            ("/local/domain/7/device/vkbd/0/state", "1"),
        ]);
        let rows = vkbs(&xs, 7).unwrap().unwrap();
        assert_eq!(
            vkb_row(&rows[0]),
            "0   0       0     1     -1     -1 (null)     qemu       /local/domain/0/backend/vkbd/7/0\n"
        );
        assert_eq!(vkbs(&xs, 8).unwrap(), Some(vec![]));
    }

    #[test]
    fn a_record_without_its_frontend_fails_the_list() {
        let (_d, xs) = store(&[(
            "/libxl/7/device/vkbd/0/backend",
            "/local/domain/0/backend/vkbd/7/0",
        )]);
        assert_eq!(vkbs(&xs, 7).unwrap(), None);
    }

    #[test]
    fn channels_are_named_consoles() {
        let (_d, xs) = store(&[
            (
                "/libxl/3/device/console/0/backend",
                "/local/domain/0/backend/console/3/0",
            ),
            ("/libxl/3/device/console/1/name", "org.qemu.guest_agent.0"),
            ("/libxl/3/device/console/1/connection", "pty"),
            (
                "/libxl/3/device/console/1/backend",
                "/local/domain/0/backend/console/3/1",
            ),
            ("/local/domain/3/device/console/1/state", "4"),
            ("/local/domain/3/device/console/1/tty", "/dev/pts/5"),
        ]);
        let rows = channels(&xs, 3).unwrap().unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!(
            channel_row(&rows[0]),
            "0   0  4     -1     -1       pty        /dev/pts/5                     \n"
        );
    }
}
