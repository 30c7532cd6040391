//! The simulated host's cpupools, with the rules and errno values of Xen's
//! XEN_SYSCTL_cpupool_op: Pool-0 starts with every CPU; a CPU is in one
//! pool or free (adding a CPU in a pool is ENODEV, removing one a pool
//! lacks EADDRNOTAVAIL); a pool with domains keeps its last CPU (EBUSY);
//! there are at most twice as many pools as CPUs (ENOSPC).

use std::collections::{BTreeMap, BTreeSet};

use rustix::io::Errno;
use xl_toolstack::CpupoolInfo;

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
    pub fn create(&mut self, sched: &str) -> Result<u32, Errno> {
        if self.pools.len() as u64 >= 2 * u64::from(self.ncpus) {
            return Err(Errno::NOSPC);
        }
        let id = (1..)
            .find(|i| !self.pools.contains_key(i))
            .ok_or(Errno::NOSPC)?;
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
    pub fn destroy(&mut self, poolid: u32, n_dom: u32) -> Result<(), Errno> {
        let p = self.pools.get(&poolid).ok_or(Errno::NOENT)?;
        if n_dom != 0 || !p.cpus.is_empty() {
            return Err(Errno::BUSY);
        }
        self.pools.remove(&poolid);
        Ok(())
    }

    /// Move a free CPU into a pool.
    pub fn add_cpu(&mut self, poolid: u32, cpu: u32) -> Result<(), Errno> {
        if !self.pools.contains_key(&poolid) {
            return Err(Errno::NOENT);
        }
        if cpu >= self.ncpus {
            return Err(Errno::INVAL);
        }
        if self.pools.values().any(|p| p.cpus.contains(&cpu)) {
            return Err(Errno::NODEV);
        }
        self.pools
            .get_mut(&poolid)
            .ok_or(Errno::NOENT)?
            .cpus
            .insert(cpu);
        Ok(())
    }

    /// Take a CPU out of a pool; `n_dom` is the pool's domain count (a pool
    /// with domains keeps its last CPU).
    pub fn remove_cpu(&mut self, poolid: u32, cpu: u32, n_dom: u32) -> Result<(), Errno> {
        let p = self.pools.get_mut(&poolid).ok_or(Errno::NOENT)?;
        if cpu >= self.ncpus {
            return Err(Errno::INVAL);
        }
        if !p.cpus.contains(&cpu) {
            return Err(Errno::ADDRNOTAVAIL);
        }
        if n_dom > 0 && p.cpus.len() == 1 {
            return Err(Errno::BUSY);
        }
        p.cpus.remove(&cpu);
        Ok(())
    }

    /// Whether a domain may move into `poolid`: the pool must exist and
    /// have CPUs to run it.
    pub fn can_host(&self, poolid: u32) -> Result<(), Errno> {
        match self.pools.get(&poolid) {
            Some(p) if !p.cpus.is_empty() => Ok(()),
            _ => Err(Errno::NOENT),
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
        assert_eq!(p.add_cpu(0, 1), Err(Errno::NODEV));
        assert_eq!(p.remove_cpu(0, 3, 1), Ok(()));
        assert_eq!(p.free(), vec![0b1000]);
        let id = p.create("credit").unwrap();
        assert_eq!(id, 1);
        assert_eq!(p.can_host(id), Err(Errno::NOENT));
        assert_eq!(p.add_cpu(id, 3), Ok(()));
        assert_eq!(p.can_host(id), Ok(()));
        assert_eq!(p.remove_cpu(id, 2, 0), Err(Errno::ADDRNOTAVAIL));
        assert_eq!(p.remove_cpu(id, 3, 1), Err(Errno::BUSY));
        assert_eq!(p.destroy(id, 0), Err(Errno::BUSY));
        assert_eq!(p.remove_cpu(id, 3, 0), Ok(()));
        assert_eq!(p.destroy(id, 1), Err(Errno::BUSY));
        assert_eq!(p.destroy(id, 0), Ok(()));
        assert_eq!(p.destroy(id, 0), Err(Errno::NOENT));
        assert_eq!(p.add_cpu(0, 4), Err(Errno::INVAL));
        assert_eq!(p.add_cpu(0, 3), Ok(()));
        assert_eq!(p.info(|_| 1)[0].cpumap, vec![0b1111]);
    }

    #[test]
    fn new_pools_take_the_lowest_free_id_and_are_bounded() {
        let mut p = Pools::new(1, "credit2");
        assert_eq!(p.create("credit2"), Ok(1));
        assert_eq!(p.create("credit2"), Err(Errno::NOSPC));
        p.destroy(1, 0).unwrap();
        assert_eq!(p.create("credit2"), Ok(1));
    }
}
