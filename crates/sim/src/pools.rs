//! The simulated host's cpupools, with the rules and errno values of Xen's
//! XEN_SYSCTL_cpupool_op: Pool-0 starts with every CPU; a CPU is in one
//! pool or free; a pool with domains keeps its last CPU.

use std::collections::{BTreeMap, BTreeSet};

use xl_toolstack::CpupoolInfo;

/// Errno texts Xen's answers turn into on the caller's side.
pub const ENOENT: &str = "No such file or directory";
/// Bad argument, e.g. a CPU number beyond the host's.
pub const EINVAL: &str = "Invalid argument";
/// Pool still in use: it has CPUs or domains, or would lose the last CPU
/// its domains run on.
pub const EBUSY: &str = "Device or resource busy";
/// CPU already in a pool.
pub const ENODEV: &str = "No such device";
/// Operation refused, e.g. dom0 moving itself.
pub const EPERM: &str = "Operation not permitted";
/// No such domain.
pub const ESRCH: &str = "No such process";
/// CPU not in the pool it is removed from.
pub const EADDRNOTAVAIL: &str = "Cannot assign requested address";
/// Pool limit reached (twice as many pools as CPUs).
pub const ENOSPC: &str = "No space left on device";

/// A cpupool: its scheduler and the CPUs it owns.
#[derive(Clone, Debug)]
pub struct Pool {
    /// Scheduler name (`credit2`, `credit`, `rtds`, ...).
    pub sched: String,
    /// CPU numbers in the pool.
    pub cpus: BTreeSet<u32>,
}

/// The host's cpupools and which CPU belongs to which.
#[derive(Clone, Debug)]
pub struct Pools {
    ncpus: u32,
    pools: BTreeMap<u32, Pool>,
}

impl Pools {
    /// Pool-0 (id 0) with all `ncpus` CPUs, running `sched`.
    pub fn new(ncpus: u32, sched: &str) -> Pools {
        let mut pools = BTreeMap::new();
        pools.insert(
            0,
            Pool {
                sched: sched.to_string(),
                cpus: (0..ncpus).collect(),
            },
        );
        Pools { ncpus, pools }
    }

    /// Whether a pool with this id exists.
    pub fn exists(&self, poolid: u32) -> bool {
        self.pools.contains_key(&poolid)
    }

    /// A pool by id.
    pub fn get(&self, poolid: u32) -> Option<&Pool> {
        self.pools.get(&poolid)
    }

    /// Every pool, its domain count from `n_dom`.
    pub fn info(&self, n_dom: impl Fn(u32) -> u32) -> Vec<CpupoolInfo> {
        self.pools
            .iter()
            .map(|(id, p)| CpupoolInfo {
                poolid: *id,
                sched: p.sched.clone(),
                n_dom: n_dom(*id),
                cpumap: self.bitmap(p.cpus.iter().copied()),
            })
            .collect()
    }

    /// CPUs in no pool.
    pub fn free(&self) -> Vec<u8> {
        let used: BTreeSet<u32> = self.pools.values().flat_map(|p| p.cpus.clone()).collect();
        self.bitmap((0..self.ncpus).filter(|c| !used.contains(c)))
    }

    fn bitmap(&self, cpus: impl Iterator<Item = u32>) -> Vec<u8> {
        let mut map = vec![0u8; self.ncpus.div_ceil(8) as usize];
        for c in cpus {
            map[c as usize / 8] |= 1 << (c % 8);
        }
        map
    }

    /// Xen gives the lowest unused id above 0; at most twice as many
    /// pools as CPUs.
    pub fn create(&mut self, sched: &str) -> Result<u32, &'static str> {
        if self.pools.len() as u64 >= 2 * u64::from(self.ncpus) {
            return Err(ENOSPC);
        }
        let id = (1..).find(|i| !self.pools.contains_key(i)).ok_or(ENOSPC)?;
        self.pools.insert(
            id,
            Pool {
                sched: sched.to_string(),
                cpus: BTreeSet::new(),
            },
        );
        Ok(id)
    }

    /// Remove a pool; refused (EBUSY) while it has CPUs or domains.
    pub fn destroy(&mut self, poolid: u32, n_dom: u32) -> Result<(), &'static str> {
        let p = self.pools.get(&poolid).ok_or(ENOENT)?;
        if n_dom != 0 || !p.cpus.is_empty() {
            return Err(EBUSY);
        }
        self.pools.remove(&poolid);
        Ok(())
    }

    /// Move a free CPU into a pool.
    pub fn add_cpu(&mut self, poolid: u32, cpu: u32) -> Result<(), &'static str> {
        if !self.pools.contains_key(&poolid) {
            return Err(ENOENT);
        }
        if cpu >= self.ncpus {
            return Err(EINVAL);
        }
        if self.pools.values().any(|p| p.cpus.contains(&cpu)) {
            return Err(ENODEV);
        }
        self.pools.get_mut(&poolid).ok_or(ENOENT)?.cpus.insert(cpu);
        Ok(())
    }

    /// Take a CPU out of a pool; `n_dom` is the pool's domain count (a pool
    /// with domains keeps its last CPU).
    pub fn remove_cpu(&mut self, poolid: u32, cpu: u32, n_dom: u32) -> Result<(), &'static str> {
        let p = self.pools.get_mut(&poolid).ok_or(ENOENT)?;
        if cpu >= self.ncpus {
            return Err(EINVAL);
        }
        if !p.cpus.contains(&cpu) {
            return Err(EADDRNOTAVAIL);
        }
        if n_dom > 0 && p.cpus.len() == 1 {
            return Err(EBUSY);
        }
        p.cpus.remove(&cpu);
        Ok(())
    }

    /// Whether a domain may move into `poolid`: the pool must exist and
    /// have CPUs to run it.
    pub fn can_host(&self, poolid: u32) -> Result<(), &'static str> {
        match self.pools.get(&poolid) {
            Some(p) if !p.cpus.is_empty() => Ok(()),
            _ => Err(ENOENT),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpus_move_between_pool0_a_new_pool_and_the_free_set() {
        let mut p = Pools::new(4, "credit2");
        assert_eq!(p.free(), vec![0]);
        assert_eq!(p.add_cpu(0, 1), Err(ENODEV));
        assert_eq!(p.remove_cpu(0, 3, 1), Ok(()));
        assert_eq!(p.free(), vec![0b1000]);
        let id = p.create("credit").unwrap();
        assert_eq!(id, 1);
        assert_eq!(p.can_host(id), Err(ENOENT));
        assert_eq!(p.add_cpu(id, 3), Ok(()));
        assert_eq!(p.can_host(id), Ok(()));
        assert_eq!(p.remove_cpu(id, 2, 0), Err(EADDRNOTAVAIL));
        assert_eq!(p.remove_cpu(id, 3, 1), Err(EBUSY));
        assert_eq!(p.destroy(id, 0), Err(EBUSY));
        assert_eq!(p.remove_cpu(id, 3, 0), Ok(()));
        assert_eq!(p.destroy(id, 1), Err(EBUSY));
        assert_eq!(p.destroy(id, 0), Ok(()));
        assert_eq!(p.destroy(id, 0), Err(ENOENT));
        assert_eq!(p.add_cpu(0, 4), Err(EINVAL));
        assert_eq!(p.add_cpu(0, 3), Ok(()));
        assert_eq!(p.info(|_| 1)[0].cpumap, vec![0b1111]);
    }

    #[test]
    fn new_pools_take_the_lowest_free_id_and_are_bounded() {
        let mut p = Pools::new(1, "credit2");
        assert_eq!(p.create("credit2"), Ok(1));
        assert_eq!(p.create("credit2"), Err(ENOSPC));
        p.destroy(1, 0).unwrap();
        assert_eq!(p.create("credit2"), Ok(1));
    }
}
