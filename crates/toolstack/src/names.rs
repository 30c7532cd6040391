//! Domain names and ids, resolved the way libxl does: names live in
//! xenstore at /local/domain/<id>/name; an all-digit argument is a domid
//! and is not checked.

use xenstore::{Xs, XsOps};

use crate::{Error, Hypervisor};

/// libxl's ERROR_INVAL, which xl prints as "(rc=-6)".
pub const ERROR_INVAL: i32 = -6;

pub fn domid_to_name(xs: &impl XsOps, domid: u32) -> Result<Option<String>, Error> {
    Ok(xs.try_read(&format!("/local/domain/{domid}/name"))?)
}

/// The xenstore names of these domains (None: being destroyed), read in
/// one pipelined round trip.
pub fn names_of(xs: &Xs, domains: &[crate::DomInfo]) -> Result<Vec<Option<String>>, Error> {
    let paths: Vec<String> = domains
        .iter()
        .map(|d| format!("/local/domain/{}/name", d.domid))
        .collect();
    Ok(xs.read_many(&paths)?)
}

/// The first listed domain with that name (names read in one pipelined
/// round trip).
pub fn name_to_domid(hv: &dyn Hypervisor, xs: &Xs, name: &str) -> Result<Option<u32>, Error> {
    let domains = hv.domains()?;
    let names = names_of(xs, &domains)?;
    Ok(domains
        .iter()
        .zip(names)
        .find(|(_, n)| n.as_deref() == Some(name))
        .map(|(d, _)| d.domid))
}

/// The first listed domain with that name, its name read through `ops`
/// (a transaction, so the names read are part of what it checks).
pub fn name_to_domid_in(
    hv: &dyn Hypervisor,
    ops: &impl XsOps,
    name: &str,
) -> Result<Option<u32>, Error> {
    for d in hv.domains()? {
        if domid_to_name(ops, d.domid)?.as_deref() == Some(name) {
            return Ok(Some(d.domid));
        }
    }
    Ok(None)
}

/// An xl domain argument: digits are a domid (even ""), anything else a name.
pub fn qualifier_to_domid(hv: &dyn Hypervisor, xs: &Xs, q: &str) -> Result<Option<u32>, Error> {
    if q.bytes().all(|b| b.is_ascii_digit()) {
        // strtoul: overflow saturates, and uint32_t keeps the low bits.
        let v = q
            .parse::<u64>()
            .unwrap_or(if q.is_empty() { 0 } else { u64::MAX });
        return Ok(Some(v as u32));
    }
    name_to_domid(hv, xs, q)
}

/// `/vm/<uuid>/start_time` of a domain (seconds since the epoch), found
/// through `/local/domain/<id>/vm` as libxl does.
pub fn vm_start_time(xs: &impl XsOps, domid: u32) -> Result<Option<u32>, Error> {
    let Some(vm) = xs.try_read(&format!("/local/domain/{domid}/vm"))? else {
        return Ok(None);
    };
    let Some(t) = xs.try_read(&format!("{vm}/start_time"))? else {
        return Ok(None);
    };
    // strtoul, kept in 32 bits as libxl does.
    let digits: String = t
        .trim_start()
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    Ok(Some(digits.parse::<u64>().unwrap_or(0) as u32))
}

/// A stub domain serves another (its `target`); xl hides those as VMs.
pub fn is_stubdom(xs: &impl XsOps, domid: u32) -> Result<bool, Error> {
    Ok(xs
        .try_read(&format!("/local/domain/{domid}/target"))?
        .is_some())
}

/// A cpupool's name, from `/local/pool/<id>/name` (libxl_cpupoolid_to_name).
pub fn cpupool_name(xs: &impl XsOps, poolid: u32) -> Result<Option<String>, Error> {
    Ok(xs.try_read(&format!("/local/pool/{}/name", poolid as i32))?)
}
