//! Domain names and ids, resolved the way libxl does: names live in
//! xenstore at `/local/domain/<id>/name`; an all-digit argument is a domid
//! and is not checked.

use xenstore::{Xs, XsOps};

use crate::{Error, Hypervisor};

/// libxl's ERROR_INVAL, which xl prints as "(rc=-6)".
pub const ERROR_INVAL: i32 = -6;

/// The domain's name from xenstore; None when it has none.
pub fn domid_to_name(xs: &impl XsOps, domid: u32) -> Result<Option<String>, Error> {
    Ok(xs.try_read(&format!("/local/domain/{domid}/name"))?)
}

/// The xenstore names of these domains (None: being destroyed), read in
/// one pipelined round trip.
pub fn names_of(xs: &Xs, domains: &[crate::DomInfo]) -> Result<Vec<Option<String>>, Error> {
    let ids: Vec<u32> = domains.iter().map(|d| d.domid).collect();
    names_of_ids(xs, &ids)
}

/// [`names_of`] for bare domids.
pub fn names_of_ids(xs: &Xs, domids: &[u32]) -> Result<Vec<Option<String>>, Error> {
    let paths: Vec<String> = domids
        .iter()
        .map(|d| format!("/local/domain/{d}/name"))
        .collect();
    Ok(xs.read_many(&paths)?)
}

/// The first listed domain with that name. Names are read in pipelined
/// batches that double in size (4, 8, 16, ...), stopping at the first
/// match: xenstored answers each read in turn, so a name early in the list
/// costs a few reads, and one late in it a few round trips.
pub fn name_to_domid(hv: &dyn Hypervisor, xs: &Xs, name: &str) -> Result<Option<u32>, Error> {
    let domains = hv.domains()?;
    let mut rest = &domains[..];
    let mut batch = FIRST_NAME_BATCH;
    while !rest.is_empty() {
        let (now, later) = rest.split_at(batch.min(rest.len()));
        let names = names_of(xs, now)?;
        if let Some((d, _)) = now
            .iter()
            .zip(names)
            .find(|(_, n)| n.as_deref() == Some(name))
        {
            return Ok(Some(d.domid));
        }
        rest = later;
        batch = batch.saturating_mul(2);
    }
    Ok(None)
}

/// The domain already called `name`, for a name expected to be free
/// (create's check): every name is read then, so all in one round trip
/// rather than [`name_to_domid`]'s growing batches.
pub fn name_in_use(hv: &dyn Hypervisor, xs: &Xs, name: &str) -> Result<Option<u32>, Error> {
    let domains = hv.domains()?;
    let names = names_of(xs, &domains)?;
    Ok(domains
        .iter()
        .zip(names)
        .find(|(_, n)| n.as_deref() == Some(name))
        .map(|(d, _)| d.domid))
}

/// How many names [`name_to_domid`] reads in its first round trip.
const FIRST_NAME_BATCH: usize = 4;

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

/// Xen's first reserved domid (DOMID_FIRST_RESERVED): no domain has it or
/// a higher one.
pub const DOMID_FIRST_RESERVED: u32 = 0x7ff0;

/// An xl domain argument: digits are a domid (even ""), anything else a
/// name. Digits past the last possible domid are refused
/// ([`Error::NoSuchDomid`]): libxl keeps the low 32 bits and Xen the low
/// 16, so 65537 would be domain 1 to them.
pub fn qualifier_to_domid(hv: &dyn Hypervisor, xs: &Xs, q: &str) -> Result<Option<u32>, Error> {
    if q.bytes().all(|b| b.is_ascii_digit()) {
        let digits = q.trim_start_matches('0');
        return match digits.parse::<u32>() {
            _ if digits.is_empty() => Ok(Some(0)),
            Ok(d) if d < DOMID_FIRST_RESERVED => Ok(Some(d)),
            _ => Err(Error::NoSuchDomid(digits.to_string())),
        };
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domids_no_domain_can_have_are_refused_not_wrapped() {
        let d = xenstore::Daemon::new();
        let xs = Xs::new(d.connect_as(0).unwrap()).unwrap();
        let hv = crate::fake::FakeHv::with(&[(0, 0), (1, 1)]);
        let q = |s: &str| qualifier_to_domid(&hv, &xs, s);
        assert_eq!(q("").unwrap(), Some(0));
        assert_eq!(q("000").unwrap(), Some(0));
        assert_eq!(q("0001").unwrap(), Some(1));
        assert_eq!(q("32751").unwrap(), Some(32751));
        for (arg, shown) in [
            ("32752", "32752"),
            ("65537", "65537"),
            ("4294967297", "4294967297"),
            ("0099999999999999999999999", "99999999999999999999999"),
        ] {
            match q(arg) {
                Err(e @ Error::NoSuchDomid(_)) => {
                    assert_eq!(e.to_string(), format!("Domain {shown} does not exist."))
                }
                other => panic!("{arg}: {other:?}"),
            }
        }
    }

    #[test]
    fn names_resolve_to_the_first_listed_domain_across_batches() {
        let d = xenstore::Daemon::new();
        let xs = Xs::new(d.connect_as(0).unwrap()).unwrap();
        let doms: Vec<(u32, u8)> = (0..20).map(|i| (i, i as u8)).collect();
        let hv = crate::fake::FakeHv::with(&doms);
        // 17 and 19 share a name: the earlier listed one wins; 5 has none
        // (a domain being destroyed).
        for i in (0..20).filter(|i| *i != 5) {
            let name = match i {
                19 => "twin".to_string(),
                17 => "twin".to_string(),
                _ => format!("d{i}"),
            };
            xs.write(&format!("/local/domain/{i}/name"), &name).unwrap();
        }
        let find = |n: &str| name_to_domid(&hv, &xs, n).unwrap();
        for i in [0, 3, 4, 11, 12, 16, 18] {
            assert_eq!(find(&format!("d{i}")), Some(i), "d{i}");
        }
        assert_eq!(find("twin"), Some(17));
        assert_eq!(find("d5"), None);
        assert_eq!(find("nobody"), None);
    }
}
