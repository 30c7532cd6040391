//! Cpupools as libxl keeps them: the hypervisor holds the pools, their CPUs
//! and domains; xenstore holds each pool's name and uuid under
//! `/local/pool/<id>`, which is what makes a pool known to the toolstack.

use xenstore::{Xs, XsOps};

use crate::{CpupoolInfo, Error, Hypervisor, names};

/// A pool as `xl cpupool-list` shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NamedPool {
    /// The pool's id, scheduler and CPUs.
    pub info: CpupoolInfo,
    /// Its name (`/local/pool/<id>/name`).
    pub name: String,
}

/// Why a cpupool operation did not happen.
#[derive(Debug, thiserror::Error)]
pub enum PoolError {
    /// The hypervisor refused to make the pool.
    #[error("Could not create cpupool")]
    Create(#[source] Error),
    /// A CPU could not be moved into the pool.
    #[error("Error moving cpu {cpu} to cpupool")]
    AddCpu {
        /// The CPU.
        cpu: u32,
        /// Why it could not be moved.
        #[source]
        source: Error,
    },
    /// A CPU could not be removed from the pool.
    #[error("Error removing cpu {cpu} from cpupool")]
    RemoveCpu {
        /// The CPU.
        cpu: u32,
        /// Why it could not be removed.
        #[source]
        source: Error,
    },
    /// Giving the new pool its CPUs (libxl names no CPU here).
    #[error("Error moving cpu to cpupool")]
    CreateAddCpu(#[source] Error),
    /// Freeing the CPUs of a pool being destroyed.
    #[error("Error removing cpu from cpupool")]
    DestroyRemoveCpu(#[source] Error),
    /// The hypervisor refused to destroy the pool.
    #[error("Could not destroy cpupool")]
    Destroy(#[source] Error),
    /// The pool still runs domains.
    #[error("cpupool {0} still has domains")]
    HasDomains(u32),
    /// No pool has this id.
    #[error("cpupool {0} does not exist")]
    NoSuchPool(u32),
    /// The hypervisor refused to move the domain.
    #[error("Error moving domain to cpupool")]
    MoveDomain(#[source] Error),
    /// Any other hypervisor or xenstore failure.
    #[error(transparent)]
    Other(#[from] Error),
}

impl PoolError {
    /// Whether libxl's log line for it ends with the errno's text (LOGE);
    /// the others pass libxc's -1, which libxl does not print.
    pub fn logs_errno(&self) -> bool {
        matches!(self, PoolError::AddCpu { .. } | PoolError::RemoveCpu { .. })
    }
}

impl From<xenstore::Error> for PoolError {
    fn from(e: xenstore::Error) -> Self {
        PoolError::Other(e.into())
    }
}

fn pool_path(poolid: u32) -> String {
    // libxl prints the id with %d.
    format!("/local/pool/{}", poolid as i32)
}

/// libxl_list_cpupool: the pools in id order, each with its name; the
/// listing ends at the first pool without a name, as libxl's does.
pub fn list(hv: &dyn Hypervisor, xs: &Xs) -> Result<Vec<NamedPool>, Error> {
    let mut out = Vec::new();
    for info in hv.cpupools()? {
        let Some(name) = names::cpupool_name(xs, info.poolid)? else {
            break;
        };
        out.push(NamedPool { info, name });
    }
    Ok(out)
}

/// libxl_name_to_cpupoolid: the first pool with that name.
pub fn name_to_poolid(hv: &dyn Hypervisor, xs: &Xs, name: &str) -> Result<Option<u32>, Error> {
    for p in hv.cpupools()? {
        if names::cpupool_name(xs, p.poolid)?.as_deref() == Some(name) {
            return Ok(Some(p.poolid));
        }
    }
    Ok(None)
}

/// libxl_cpupool_qualifier_to_cpupoolid followed by
/// libxl_cpupoolid_is_valid: an all-digit qualifier is an id, anything
/// else a name; either way the pool must have a name in xenstore.
pub fn qualifier_to_poolid(hv: &dyn Hypervisor, xs: &Xs, q: &str) -> Result<Option<u32>, Error> {
    let id = if !q.is_empty() && q.bytes().all(|b| b.is_ascii_digit()) {
        // strtoul kept in libxl's uint32_t.
        xl_config::value::strtoul(q.as_bytes(), 10).0 as u32
    } else {
        match name_to_poolid(hv, xs, q)? {
            Some(id) => id,
            None => return Ok(None),
        }
    };
    Ok(names::cpupool_name(xs, id)?.map(|_| id))
}

/// libxl_cpupool_create: a pool running `sched` with `cpus`, named in
/// xenstore. A failure takes the pool (and its CPUs) back.
pub fn create(
    hv: &dyn Hypervisor,
    xs: &Xs,
    name: &str,
    sched: &str,
    cpus: &[u32],
    uuid: &[u8; 16],
) -> Result<u32, PoolError> {
    let poolid = hv.cpupool_create(sched).map_err(PoolError::Create)?;
    let named = add_cpus(hv, poolid, cpus).and_then(|()| {
        let path = pool_path(poolid);
        xs.transaction(|t| {
            t.mkdir(&path)?;
            t.write(
                &format!("{path}/uuid"),
                &xl_config::domain::uuid_string(uuid),
            )?;
            t.write(&format!("{path}/name"), name)
        })
        .map_err(PoolError::from)
    });
    match named {
        Ok(()) => Ok(poolid),
        Err(e) => {
            let _ = undo_create(hv, xs, poolid);
            Err(e)
        }
    }
}

fn add_cpus(hv: &dyn Hypervisor, poolid: u32, cpus: &[u32]) -> Result<(), PoolError> {
    for &cpu in cpus {
        hv.cpupool_add_cpu(poolid, cpu)
            .map_err(PoolError::CreateAddCpu)?;
    }
    Ok(())
}

fn undo_create(hv: &dyn Hypervisor, xs: &Xs, poolid: u32) -> Result<(), PoolError> {
    let _ = xs.rm(&pool_path(poolid));
    destroy(hv, xs, poolid)
}

fn pool_info(hv: &dyn Hypervisor, poolid: u32) -> Result<CpupoolInfo, PoolError> {
    hv.cpupools()?
        .into_iter()
        .find(|p| p.poolid == poolid)
        .ok_or(PoolError::NoSuchPool(poolid))
}

/// The CPUs set in a bitmap.
pub fn cpus_of(map: &[u8]) -> Vec<u32> {
    (0..map.len() as u32 * 8)
        .filter(|c| map[*c as usize / 8] & (1 << (c % 8)) != 0)
        .collect()
}

/// libxl_cpupool_destroy: refused while domains are in the pool; its
/// CPUs are freed first, then the pool and its xenstore entry go.
pub fn destroy(hv: &dyn Hypervisor, xs: &Xs, poolid: u32) -> Result<(), PoolError> {
    let info = pool_info(hv, poolid)?;
    if info.n_dom != 0 {
        return Err(PoolError::HasDomains(poolid));
    }
    for cpu in cpus_of(&info.cpumap) {
        hv.cpupool_remove_cpu(poolid, cpu)
            .map_err(PoolError::DestroyRemoveCpu)?;
    }
    hv.cpupool_destroy(poolid).map_err(PoolError::Destroy)?;
    xs.rm(&pool_path(poolid))?;
    Ok(())
}

/// libxl_cpupool_rename: the pool must exist; only its name changes.
pub fn rename(hv: &dyn Hypervisor, xs: &Xs, poolid: u32, name: &str) -> Result<(), PoolError> {
    pool_info(hv, poolid)?;
    xs.write(&format!("{}/name", pool_path(poolid)), name)?;
    Ok(())
}

/// Add or remove each CPU in turn, as libxl's *_cpumap calls do: every
/// CPU is tried; the errors of those that failed are returned.
pub fn change_cpus(hv: &dyn Hypervisor, poolid: u32, cpus: &[u32], add: bool) -> Vec<PoolError> {
    cpus.iter()
        .filter_map(|&cpu| {
            if add {
                hv.cpupool_add_cpu(poolid, cpu)
                    .err()
                    .map(|source| PoolError::AddCpu { cpu, source })
            } else {
                hv.cpupool_remove_cpu(poolid, cpu)
                    .err()
                    .map(|source| PoolError::RemoveCpu { cpu, source })
            }
        })
        .collect()
}

/// libxl_cpupool_movedomain.
pub fn move_domain(hv: &dyn Hypervisor, poolid: u32, domid: u32) -> Result<(), PoolError> {
    hv.cpupool_move_domain(poolid, domid)
        .map_err(PoolError::MoveDomain)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bitmaps_list_their_cpus() {
        assert_eq!(cpus_of(&[0b1010_0001, 0b1]), vec![0, 5, 7, 8]);
        assert!(cpus_of(&[]).is_empty());
    }
}
