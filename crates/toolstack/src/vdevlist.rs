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
    pub devid: i32,
    pub backend_id: u32,
    pub state: i32,
    pub evtch: i32,
    pub rref: i32,
    /// The backend's `unique-id`; xl prints "(null)" without one.
    pub unique_id: Option<String>,
    /// "linux" for a `vinput` backend (the dom0 kernel), else "qemu".
    pub backend_type: &'static str,
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

pub fn vkb_list_header() -> String {
    format!(
        "{:<3} {:<2} {:<6} {:<5} {:<6} {:>6} {:<10} {:<10} {:<30}\n",
        "Idx", "BE", "handle", "state", "evt-ch", "ref", "ID", "BE-type", "BE-path"
    )
}

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
    pub devid: i32,
    pub backend_id: u32,
    pub uuid: String,
    pub state: i32,
    pub evtch: i32,
    pub rref: i32,
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

pub fn vtpm_list_header() -> String {
    format!(
        "{:<3} {:<2} {:<36} {:<6} {:<5} {:<6} {:<5} {:<10}\n",
        "Idx", "BE", "Uuid", "handle", "state", "evt-ch", "ring-ref", "BE-path"
    )
}

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
    pub devid: i32,
    pub backend_id: u32,
    pub state: i32,
    pub evtch: i32,
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

pub fn channel_list_header() -> String {
    format!(
        "{:<3} {:<2} {:<5} {:<6} {:>8} {:<10} {:<30}\n",
        "Idx", "BE", "state", "evt-ch", "ring-ref", "connection", ""
    )
}

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
