//! vif specifications (`vif=[...]`, `xl network-attach`) and vif rates.

use crate::domain::{NIC_COLO_FIELDS, Nic};
use crate::report::Report;
use crate::value::strtoul;

/// Why a vif token was refused.
#[derive(Debug, PartialEq, Eq)]
pub enum NicError {
    /// Not fatal in a config file, fatal for network-attach.
    Unrecognized,
    /// Bad value for a known key (xl prints and carries on, or exits for rate).
    Invalid,
    /// A rate error: xl exits 1 at once.
    Rate,
}

/// xl's `parse_ulong`: decimal, the whole number or a failure message.
pub(crate) fn parse_ulong(s: &str, r: &mut Report) -> Result<u64, ()> {
    let (v, used, overflow) = strtoul(s.as_bytes(), 10);
    if used == 0 || overflow || v == u64::MAX {
        r.line(format!("xl: failed to convert \"{s}\" to number"));
        return Err(());
    }
    Ok(v)
}

/// Apply one `key=value` token of a vif spec, as xl's `parse_nic_config`.
/// `Err(())` from parse_ulong means xl exits 1; that is `NicError::Rate`.
pub fn parse_nic_token(
    nic: &mut Nic,
    source: &str,
    token: &str,
    r: &mut Report,
) -> Result<(), NicError> {
    let (key, val) = match token.split_once('=') {
        Some((k, v)) => (k, Some(v)),
        None => (token, None),
    };
    let set = |slot: &mut Option<String>, v: &str| *slot = Some(v.to_string());
    match (key, val) {
        ("type", Some(v)) => match v {
            "vif" => nic.nictype = Some("vif"),
            "ioemu" => nic.nictype = Some("vif_ioemu"),
            _ => {
                r.line("Invalid parameter `type'.");
                return Err(NicError::Invalid);
            }
        },
        ("mac", Some(v)) => {
            let mut rest = v.as_bytes();
            for i in 0..6 {
                let (b, used, _) = strtoul(rest, 16);
                if used == 0 || b > 255 {
                    r.line("Invalid parameter `mac'.");
                    return Err(NicError::Invalid);
                }
                nic.mac[i] = b as u8;
                rest = rest.get(used + 1..).unwrap_or(&[]);
            }
        }
        ("bridge", Some(v)) => set(&mut nic.bridge, v),
        ("netdev", Some(v)) => {
            r.line("the netdev parameter is deprecated, please use gatewaydev instead");
            set(&mut nic.gatewaydev, v)
        }
        ("gatewaydev", Some(v)) => set(&mut nic.gatewaydev, v),
        ("ip", Some(v)) => set(&mut nic.ip, v),
        ("script", Some(v)) => set(&mut nic.script, v),
        ("backend", Some(v)) => set(&mut nic.backend_domname, v),
        ("vifname", Some(v)) => set(&mut nic.ifname, v),
        ("model", Some(v)) => set(&mut nic.model, v),
        ("rate", Some(v)) => {
            let (bytes, usecs) = parse_rate(source, v, r).ok_or(NicError::Rate)?;
            nic.rate_bytes_per_interval = bytes;
            nic.rate_interval_usecs = usecs;
        }
        ("accel", Some(_)) => r.line("the accel parameter for vifs is currently not supported"),
        ("devid", Some(v)) => {
            nic.devid = Some(parse_ulong(v, r).map_err(|_| NicError::Rate)? as i64)
        }
        ("mtu", Some(v)) => nic.mtu = parse_ulong(v, r).map_err(|_| NicError::Rate)? as i64,
        ("trusted", None) => nic.trusted = Some(true),
        ("untrusted", None) => nic.trusted = Some(false),
        (k, Some(v)) if colo_key(k).is_some() => {
            let f = colo_key(k).expect("checked");
            nic.colo.retain(|(name, _)| *name != f);
            nic.colo.push((f, v.to_string()));
        }
        _ => {
            r.line(format!("unrecognized argument `{token}'"));
            return Err(NicError::Unrecognized);
        }
    }
    Ok(())
}

/// xl.cfg key for a COLO field: `forwarddev` for coloft_forwarddev, else the
/// field name itself.
fn colo_key(k: &str) -> Option<&'static str> {
    if k == "forwarddev" {
        return Some("coloft_forwarddev");
    }
    NIC_COLO_FIELDS
        .iter()
        .copied()
        .find(|f| *f == k && *f != "coloft_forwarddev")
}

fn vif_err(source: &str, msg: &str, what: &str, r: &mut Report) {
    r.line(format!(
        "{source}: config parsing error in vif: {msg} in `{what}'"
    ));
}

/// `RATE[@INTERVAL]` into (bytes per interval, interval µs).
pub fn parse_rate(source: &str, rate: &str, r: &mut Report) -> Option<(u64, u32)> {
    let (bps, interval) = match rate.split_once('@') {
        Some((a, b)) => (a, Some(b)),
        None => (rate, None),
    };
    if bps.is_empty() {
        vif_err(source, "no rate specified", rate, r);
        return None;
    }
    // ^[0-9]+[GMK]?[Bb]/s$
    let num_len = bps.bytes().take_while(u8::is_ascii_digit).count();
    let unit = &bps[num_len..];
    let unit_ok = matches!(
        unit,
        "B/s" | "b/s" | "GB/s" | "Gb/s" | "MB/s" | "Mb/s" | "KB/s" | "Kb/s"
    );
    if num_len == 0 || !unit_ok {
        vif_err(source, "invalid rate", bps, r);
        return None;
    }
    let (mut v, _, overflow) = strtoul(bps.as_bytes(), 0);
    if v == 0 || v > u64::from(u32::MAX) || overflow {
        vif_err(source, "rate overflow", bps, r);
        return None;
    }
    match unit.as_bytes()[0] {
        b'G' => v *= 1_000_000_000,
        b'M' => v *= 1_000_000,
        b'K' => v *= 1000,
        _ => {}
    }
    if unit.as_bytes()[0] == b'b' || unit.as_bytes().get(1) == Some(&b'b') {
        v /= 8;
    }
    let mut usecs: u64 = 50_000;
    if let Some(iv) = interval {
        // ^[0-9]+[mu]?s?$
        let n = iv.bytes().take_while(u8::is_ascii_digit).count();
        let suffix = &iv[n..];
        if n == 0 || !matches!(suffix, "" | "s" | "m" | "u" | "ms" | "us") {
            vif_err(source, "invalid replenishment interval", iv, r);
            return None;
        }
        let (mut t, _, overflow) = strtoul(iv.as_bytes(), 0);
        if t == 0 || t > u64::from(u32::MAX) || overflow {
            vif_err(source, "replenishment interval overflow", iv, r);
            return None;
        }
        match suffix.bytes().next() {
            None | Some(b's') => t *= 1_000_000,
            Some(b'm') => t *= 1000,
            _ => {}
        }
        if t > u64::from(u32::MAX) {
            vif_err(source, "replenishment interval overflow", iv, r);
            return None;
        }
        usecs = t;
    }
    if usecs != 0 && v > u64::MAX / usecs {
        vif_err(source, "rate overflow", rate, r);
        return None;
    }
    Some((v * usecs / 1_000_000, usecs as u32))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates() {
        let mut r = Report::new();
        assert_eq!(parse_rate("c", "10Mb/s", &mut r), Some((62500, 50000)));
        assert_eq!(parse_rate("c", "1MB/s@20ms", &mut r), Some((20000, 20000)));
        assert_eq!(
            parse_rate("c", "10Mb/s@1s", &mut r),
            Some((1_250_000, 1_000_000))
        );
        assert!(r.is_empty());
        assert_eq!(parse_rate("c", "10xb/s", &mut r), None);
        assert_eq!(
            r.take(),
            "c: config parsing error in vif: invalid rate in `10xb/s'\n"
        );
        assert_eq!(parse_rate("c", "@1s", &mut r), None);
        assert_eq!(
            r.take(),
            "c: config parsing error in vif: no rate specified in `@1s'\n"
        );
    }

    #[test]
    fn mac() {
        let mut r = Report::new();
        let mut n = Nic::default();
        parse_nic_token(&mut n, "c", "mac=00:16:3E:74:3d:76", &mut r).unwrap();
        assert_eq!(n.mac, [0, 0x16, 0x3e, 0x74, 0x3d, 0x76]);
        assert_eq!(
            parse_nic_token(&mut n, "c", "bogus", &mut r),
            Err(NicError::Unrecognized)
        );
    }
}
