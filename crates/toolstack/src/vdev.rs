//! Keyboards, vTPMs, displays and sound cards added to and removed from a
//! running domain, as libxl 4.17's `libxl_device_{vkb,vtpm,vdispl,vsnd}_add`
//! and `_remove` do.
//!
//! A keyboard is written to xenstore and nothing more (libxl's synchronous
//! `libxl__device_add`: no stored configuration, no wait: QEMU or the
//! dom0 kernel picks it up). vTPMs, displays and sound cards go the
//! asynchronous way: the stored configuration gains the device in the
//! same step as its nodes, then the backend gets 10 s to reach InitWait.
//! When it does not (no backend serves the kind), the add fails and, as
//! with libxl, the device stays: a backend domain started later can still
//! connect it, and `*-detach` removes it. Removal is libxl's generic one
//! with force on timeout (offline, Closing, wait for Closed, again with
//! the frontend gone, then the nodes); the stored configuration keeps the
//! device, as libxl keeps it.

use xenstore::{Xs, XsOps};
use xl_config::domain::{Vdispl, Vkb, Vsnd, Vtpm, uuid_string, vtpm_json};
use xl_config::json::Json;

use crate::destroy::Device;
use crate::devices::{self, NewDevice, STATE_INIT_WAIT};
use crate::hotplug::{self, Force, HotplugError};
use crate::retrieve;
use crate::{Error, Host, names, userdata};

/// The backend domain a device names (`backend=`), dom0 without one.
fn backend_domid(host: &Host, xs: &Xs, name: Option<&str>) -> Result<u32, HotplugError> {
    let Some(name) = name else { return Ok(0) };
    names::qualifier_to_domid(host.hv.as_ref(), xs, name)?
        .ok_or_else(|| HotplugError::NoBackendDomain(name.to_string()))
}

/// The devid asked for, or libxl's next free one of `kind`.
fn devid_or_next(xs: &Xs, domid: u32, kind: &str, devid: i64) -> Result<u32, HotplugError> {
    match u32::try_from(devid) {
        Ok(d) => Ok(d),
        Err(_) => hotplug::next_devid(xs, domid, kind),
    }
}

/// A keyboard's backend keys (libxl__set_xenstore_vkb).
fn vkb_back(vkb: &Vkb) -> Vec<(String, String)> {
    let mut back = Vec::new();
    let mut put = |k: &str, v: String| back.push((k.to_string(), v));
    if let Some(id) = &vkb.unique_id {
        put("unique-id", id.clone());
    }
    let flags = [
        ("feature-disable-keyboard", vkb.feature_disable_keyboard),
        ("feature-disable-pointer", vkb.feature_disable_pointer),
        ("feature-abs-pointer", vkb.feature_abs_pointer),
        ("feature-raw-pointer", vkb.feature_raw_pointer),
    ];
    for (k, on) in flags {
        if on {
            put(k, "1".into());
        }
    }
    if vkb.feature_multi_touch {
        put("feature-multi-touch", "1".into());
        put("multi-touch-width", vkb.multi_touch_width.to_string());
        put("multi-touch-height", vkb.multi_touch_height.to_string());
        put(
            "multi-touch-num-contacts",
            vkb.multi_touch_num_contacts.to_string(),
        );
    }
    if vkb.width != 0 {
        put("width", vkb.width.to_string());
    }
    if vkb.height != 0 {
        put("height", vkb.height.to_string());
    }
    back
}

/// The keyboard as a device: a `vinput` backend for the dom0 kernel
/// (`backend-type=linux`), else `vkbd` for QEMU.
pub(crate) fn vkb_device(vkb: &Vkb, domid: u32, devid: u32, backend_domid: u32) -> NewDevice {
    NewDevice {
        kind: "vkbd".into(),
        backend_kind: if vkb.backend_type == 2 {
            "vinput"
        } else {
            "vkbd"
        }
        .into(),
        domid,
        devid,
        backend_domid,
        back: vkb_back(vkb),
        ..NewDevice::default()
    }
}

/// `xl vkb-attach`: the keyboard's nodes, no stored configuration, no
/// wait (libxl's `libxl__device_add`).
pub fn attach_vkb(host: &Host, xs: &Xs, domid: u32, vkb: &Vkb) -> Result<u32, HotplugError> {
    hotplug::domain(host, domid)?;
    let backend = backend_domid(host, xs, vkb.backend_domname.as_deref())?;
    let devid = devid_or_next(xs, domid, "vkbd", vkb.devid)?;
    devices::write(xs, &vkb_device(vkb, domid, devid, backend))?;
    Ok(devid)
}

/// A vTPM as a device (libxl__set_xenstore_vtpm).
pub(crate) fn vtpm_device(uuid: &[u8; 16], domid: u32, devid: u32, backend: u32) -> NewDevice {
    NewDevice {
        kind: "vtpm".into(),
        backend_kind: "vtpm".into(),
        domid,
        devid,
        backend_domid: backend,
        front: vec![("handle".into(), devid.to_string())],
        back: vec![
            ("handle".into(), devid.to_string()),
            ("uuid".into(), uuid_string(uuid)),
            ("resume".into(), "False".into()),
        ],
        ..NewDevice::default()
    }
}

/// `xl vtpm-attach`: a vTPM with the given uuid, or a fresh one.
pub fn attach_vtpm(host: &Host, xs: &Xs, domid: u32, vtpm: &Vtpm) -> Result<(), HotplugError> {
    let info = hotplug::domain(host, domid)?;
    let backend = backend_domid(host, xs, vtpm.backend_domname.as_deref())?;
    let devid = devid_or_next(xs, domid, "vtpm", vtpm.devid)?;
    let uuid = if vtpm.uuid == [0; 16] {
        xl_config::random_uuid().into_bytes()
    } else {
        vtpm.uuid
    };
    // The stored copy is the device as given, with the devid and uuid
    // libxl settled.
    let entry = vtpm_json(&Vtpm {
        devid: i64::from(devid),
        uuid,
        ..vtpm.clone()
    });
    let dev = vtpm_device(&uuid, domid, devid, backend);
    add_recorded(host, xs, &info, &dev, "vtpms", entry)
}

/// A display's frontend keys, which the guest may only read
/// (libxl__set_xenstore_vdispl).
pub(crate) fn vdispl_device(d: &Vdispl, domid: u32, devid: u32, backend: u32) -> NewDevice {
    let mut ro = vec![("be-alloc".to_string(), u8::from(d.be_alloc).to_string())];
    for (i, c) in d.connectors.iter().enumerate() {
        ro.push((
            format!("{i}/resolution"),
            format!("{}x{}", c.width, c.height),
        ));
        if let Some(id) = &c.unique_id {
            ro.push((format!("{i}/unique-id"), id.clone()));
        }
    }
    NewDevice {
        kind: "vdispl".into(),
        backend_kind: "vdispl".into(),
        domid,
        devid,
        backend_domid: backend,
        ro_front: ro,
        ..NewDevice::default()
    }
}

/// `xl vdispl-attach`.
pub fn attach_vdispl(host: &Host, xs: &Xs, domid: u32, d: &Vdispl) -> Result<(), HotplugError> {
    let info = hotplug::domain(host, domid)?;
    let backend = backend_domid(host, xs, d.backend_domname.as_deref())?;
    let devid = devid_or_next(xs, domid, "vdispl", d.devid)?;
    let entry = Vdispl {
        devid: i64::from(devid),
        ..d.clone()
    }
    .to_json();
    let dev = vdispl_device(d, domid, devid, backend);
    add_recorded(host, xs, &info, &dev, "vdispls", entry)
}

/// Stream parameters as frontend keys under `prefix`
/// (libxl__set_params_vsnd: lists joined by commas).
fn vsnd_params(out: &mut Vec<(String, String)>, prefix: &str, p: &xl_config::domain::VsndParams) {
    let join = |v: Vec<String>| v.join(",");
    if !p.sample_rates.is_empty() {
        let rates = p.sample_rates.iter().map(u32::to_string).collect();
        out.push((format!("{prefix}sample-rates"), join(rates)));
    }
    if !p.sample_formats.is_empty() {
        let formats = p.sample_formats.iter().map(|f| (*f).to_string()).collect();
        out.push((format!("{prefix}sample-formats"), join(formats)));
    }
    let numbers = [
        ("channels-min", p.channels_min),
        ("channels-max", p.channels_max),
        ("buffer-size", p.buffer_size),
    ];
    for (k, v) in numbers {
        if v != 0 {
            out.push((format!("{prefix}{k}"), v.to_string()));
        }
    }
}

/// A sound card's frontend keys (libxl__set_xenstore_vsnd): names and
/// parameters of the card, then of each PCM device and its streams.
pub(crate) fn vsnd_device(card: &Vsnd, domid: u32, devid: u32, backend: u32) -> NewDevice {
    let mut front = Vec::new();
    if let Some(n) = &card.long_name {
        front.push(("long-name".to_string(), n.clone()));
    }
    if let Some(n) = &card.short_name {
        front.push(("short-name".to_string(), n.clone()));
    }
    vsnd_params(&mut front, "", &card.params);
    for (i, pcm) in card.pcms.iter().enumerate() {
        if let Some(n) = &pcm.name {
            front.push((format!("{i}/name"), n.clone()));
        }
        vsnd_params(&mut front, &format!("{i}/"), &pcm.params);
        for (j, s) in pcm.streams.iter().enumerate() {
            if let Some(id) = &s.unique_id {
                front.push((format!("{i}/{j}/unique-id"), id.clone()));
            }
            if let Some(t) = s.kind {
                front.push((format!("{i}/{j}/type"), t.to_string()));
            }
            vsnd_params(&mut front, &format!("{i}/{j}/"), &s.params);
        }
    }
    NewDevice {
        kind: "vsnd".into(),
        backend_kind: "vsnd".into(),
        domid,
        devid,
        backend_domid: backend,
        front,
        ..NewDevice::default()
    }
}

/// `xl vsnd-attach`.
pub fn attach_vsnd(host: &Host, xs: &Xs, domid: u32, card: &Vsnd) -> Result<(), HotplugError> {
    let info = hotplug::domain(host, domid)?;
    let backend = backend_domid(host, xs, card.backend_domname.as_deref())?;
    let devid = devid_or_next(xs, domid, "vsnd", card.devid)?;
    let entry = Vsnd {
        devid: i64::from(devid),
        ..card.clone()
    }
    .to_json();
    let dev = vsnd_device(card, domid, devid, backend);
    add_recorded(host, xs, &info, &dev, "vsnds", entry)
}

/// libxl__device_add_async: under the userdata lock the device must be
/// new, the stored configuration gains it (replacing an entry with its
/// devid) and its nodes are written; then the wait for InitWait. A
/// backend that does not answer fails the add and leaves the device.
fn add_recorded(
    host: &Host,
    xs: &Xs,
    info: &crate::DomInfo,
    dev: &NewDevice,
    list: &str,
    entry: Json,
) -> Result<(), HotplugError> {
    let lib = &host.paths.lib;
    let (domid, uuid) = (info.domid, &info.uuid);
    {
        let _lock = userdata::lock(lib, domid, uuid)?;
        let libxl_path = format!("/libxl/{domid}/device/{}/{}", dev.kind, dev.devid);
        if xs.try_read(&libxl_path)?.is_some() {
            return Err(HotplugError::Exists);
        }
        let before = hotplug::stored_text(lib, domid, uuid)?;
        let mut config = retrieve::read_stored(lib, domid, uuid)?;
        hotplug::with_device(&mut config, list, entry, |a, b| {
            a.get("devid") == b.get("devid")
        });
        hotplug::store(lib, domid, uuid, &config.to_yajl())?;
        if let Err(e) = devices::write(xs, dev) {
            let _ = hotplug::store(lib, domid, uuid, &before);
            return Err(e.into());
        }
    }
    wait_init_wait(xs, dev)
}

/// The wait for a new device's backend to reach InitWait.
fn wait_init_wait(xs: &Xs, dev: &NewDevice) -> Result<(), HotplugError> {
    let be = dev.backend_path();
    match devices::wait_state(xs, &be, STATE_INIT_WAIT, false, devices::BACKEND_TIMEOUT)? {
        Ok(()) => Ok(()),
        Err(state) => Err(HotplugError::Add {
            path: be.clone(),
            source: Error::NotInitWait(devices::NotInitWait { path: be, state }),
        }),
    }
}

/// A device added while creating the domain (libxl's add without
/// `update_json`: the stored configuration is written with the rest of
/// the create): its nodes, then the wait for its backend.
fn add_at_create(
    host: &Host,
    xs: &Xs,
    backend: Option<&str>,
    make: impl FnOnce(u32) -> NewDevice,
) -> Result<(), Error> {
    let step = || -> Result<(), HotplugError> {
        let dev = make(backend_domid(host, xs, backend)?);
        devices::write(xs, &dev)?;
        wait_init_wait(xs, &dev)
    };
    step().map_err(|e| Error::Backend(crate::error_chain(&e).into()))
}

/// A vTPM of `vtpm=` at create (a fresh uuid when it names none).
pub(crate) fn create_vtpm(host: &Host, xs: &Xs, domid: u32, vtpm: &Vtpm) -> Result<(), Error> {
    let devid = u32::try_from(vtpm.devid).unwrap_or(0);
    let uuid = if vtpm.uuid == [0; 16] {
        xl_config::random_uuid().into_bytes()
    } else {
        vtpm.uuid
    };
    add_at_create(host, xs, vtpm.backend_domname.as_deref(), |be| {
        vtpm_device(&uuid, domid, devid, be)
    })
}

/// A display of `vdispl=` at create.
pub(crate) fn create_vdispl(host: &Host, xs: &Xs, domid: u32, d: &Vdispl) -> Result<(), Error> {
    let devid = u32::try_from(d.devid).unwrap_or(0);
    add_at_create(host, xs, d.backend_domname.as_deref(), |be| {
        vdispl_device(d, domid, devid, be)
    })
}

/// A sound card of `vsnd=` at create.
pub(crate) fn create_vsnd(host: &Host, xs: &Xs, domid: u32, card: &Vsnd) -> Result<(), Error> {
    let devid = u32::try_from(card.devid).unwrap_or(0);
    add_at_create(host, xs, card.backend_domname.as_deref(), |be| {
        vsnd_device(card, domid, devid, be)
    })
}

/// The device of `kind` numbered `devid` that libxl lists for the domain.
pub fn find(xs: &Xs, domid: u32, kind: &str, devid: i64) -> Result<Option<Device>, HotplugError> {
    let Ok(devid) = u32::try_from(devid) else {
        return Ok(None);
    };
    let lp = format!("/libxl/{domid}/device/{kind}/{devid}");
    let Some(backend_path) = xs.try_read(&format!("{lp}/backend"))? else {
        return Ok(None);
    };
    let backend_kind = backend_path
        .split('/')
        .nth(5)
        .unwrap_or_default()
        .to_string();
    Ok(Some(Device {
        kind: kind.to_string(),
        devid,
        backend_path,
        backend_kind,
    }))
}

/// The vTPM whose backend names this uuid (libxl_uuid_to_device_vtpm).
pub fn find_vtpm_by_uuid(
    xs: &Xs,
    domid: u32,
    uuid: &[u8; 16],
) -> Result<Option<Device>, HotplugError> {
    for id in crate::devlist::entries(xs, &format!("/libxl/{domid}/device/vtpm"))? {
        let devid = i64::from(crate::devlist::atoi(&id));
        let Some(dev) = find(xs, domid, "vtpm", devid)? else {
            continue;
        };
        let theirs = xs
            .try_read(&format!("{}/uuid", dev.backend_path))?
            .and_then(|u| xl_config::domain::parse_uuid(&u));
        if theirs.as_ref() == Some(uuid) {
            return Ok(Some(dev));
        }
    }
    Ok(None)
}

/// `xl *-detach`: libxl's generic remove, forced when the backend does
/// not close in time.
pub fn detach(host: &Host, xs: &Xs, domid: u32, dev: &Device) -> Result<(), HotplugError> {
    hotplug::remove(host, xs, domid, dev, Force::Auto)
}

#[cfg(test)]
mod tests {
    use super::*;
    use xl_config::Report;

    fn keys(list: &[(String, String)]) -> Vec<String> {
        list.iter().map(|(k, v)| format!("{k}={v}")).collect()
    }

    // Expected keys as the real xl 4.17 wrote them for the same devices
    // (lab, vsnd-attach / vdispl-attach / vkb-attach on a PV guest).
    #[test]
    fn sound_card_keys_like_libxl() {
        let mut card = Vsnd::default();
        let mut r = Report::new();
        for item in [
            "card, short-name=Card0, long-name=Long card, sample-rates=8000;44100, buffer-size=1024",
            "pcm, name=dev0",
            "stream, unique-id=s0, type=p",
            "stream, unique-id=s1, type=c, channels-max=2",
        ] {
            card.item(item, &mut r).unwrap();
        }
        let dev = vsnd_device(&card, 1, 0, 0);
        assert_eq!(
            keys(&dev.front),
            [
                "long-name=Long card",
                "short-name=Card0",
                "sample-rates=8000,44100",
                "buffer-size=1024",
                "0/name=dev0",
                "0/0/unique-id=s0",
                "0/0/type=p",
                "0/1/unique-id=s1",
                "0/1/type=c",
                "0/1/channels-max=2",
            ]
        );
        assert!(dev.ro_front.is_empty() && dev.back.is_empty());
        assert_eq!(dev.backend_path(), "/local/domain/0/backend/vsnd/1/0");
    }

    #[test]
    fn display_connectors_are_read_only_frontend_keys() {
        let mut d = Vdispl::default();
        let mut r = Report::new();
        d.token("connectors=id0:800x600;id1:1024x768", &mut r)
            .unwrap();
        d.token("be-alloc=1", &mut r).unwrap();
        let dev = vdispl_device(&d, 1, 0, 0);
        assert_eq!(
            keys(&dev.ro_front),
            [
                "be-alloc=1",
                "0/resolution=800x600",
                "0/unique-id=id0",
                "1/resolution=1024x768",
                "1/unique-id=id1",
            ]
        );
        assert!(dev.front.is_empty());
    }

    #[test]
    fn keyboard_backend_keys_and_kinds() {
        let mut k = Vkb::with_devid(-1);
        let mut r = Report::new();
        for t in [
            "backend-type=qemu",
            "unique-id=k1",
            "feature-abs-pointer=1",
            "width=640",
            "height=480",
        ] {
            k.attach_token(t, &mut r).unwrap();
        }
        k.attach_check(&mut r).unwrap();
        let dev = vkb_device(&k, 1, 0, 0);
        assert_eq!(
            keys(&dev.back),
            [
                "unique-id=k1",
                "feature-abs-pointer=1",
                "width=640",
                "height=480"
            ]
        );
        assert_eq!(dev.backend_path(), "/local/domain/0/backend/vkbd/1/0");
        let linux = Vkb {
            backend_type: 2,
            ..Vkb::default()
        };
        assert_eq!(
            vkb_device(&linux, 1, 1, 0).backend_path(),
            "/local/domain/0/backend/vinput/1/1"
        );
        let vtpm = vtpm_device(&[0x11; 16], 1, 0, 0);
        assert_eq!(
            keys(&vtpm.back),
            [
                "handle=0",
                "uuid=11111111-1111-1111-1111-111111111111",
                "resume=False"
            ]
        );
        assert_eq!(keys(&vtpm.front), ["handle=0"]);
    }
}
