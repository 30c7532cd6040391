//! `mem-max` and `mem-set`, as libxl's `libxl_domain_setmaxmem` and
//! `libxl_set_memory_target` do them: the hypervisor limit, the xenstore
//! targets the guest's balloon driver follows, and the PoD target for
//! non-PV guests.

use xenstore::{Xs, XsOps};

use crate::userdata;
use crate::{Error, Host};

/// x86's fixed extra allowance over a domain's memory (LIBXL_MAXMEM_CONSTANT).
pub const MAXMEM_CONSTANT_KB: u64 = 1024;

/// Why `mem-max` or `mem-set` failed.
#[derive(Debug, thiserror::Error)]
pub enum MemError {
    /// No domain has this id.
    #[error("domain {0} does not exist")]
    NotFound(u32),
    /// A xenstore node the domain should have is missing.
    #[error("cannot read {0}")]
    Missing(String),
    /// A memory node holds no number.
    #[error("invalid value `{value}' in {path}")]
    Invalid {
        /// The xenstore node.
        path: String,
        /// What it holds.
        value: String,
    },
    /// `mem-max` below the domain's current target.
    #[error("memory_static_max must be greater than or equal to memory_dynamic_max")]
    BelowTarget,
    /// `mem-set` above the domain's maximum.
    #[error("memory_dynamic_max must be less than or equal to memory_static_max")]
    AboveMax,
    /// The domain has no stored config to update.
    #[error("no stored configuration for domain {0} (was it created by xl?)")]
    NoConfig(u32),
    /// The hypervisor failed.
    #[error(transparent)]
    Toolstack(#[from] Error),
    /// A xenstore read or write failed.
    #[error(transparent)]
    Xenstore(#[from] xenstore::Error),
    /// The domain's userdata lock could not be taken.
    #[error(transparent)]
    Lock(#[from] userdata::LockError),
}

fn read_kb(xs: &Xs, path: &str) -> Result<u64, MemError> {
    let v = xs
        .try_read(path)?
        .ok_or_else(|| MemError::Missing(path.to_string()))?;
    v.parse().map_err(|_| MemError::Invalid {
        path: path.to_string(),
        value: v,
    })
}

/// `xl mem-max`: raise or lower the static maximum.
pub fn set_max(host: &Host, xs: &Xs, domid: u32, max_kb: u64) -> Result<(), MemError> {
    let (hv, lib) = (host.hv.as_ref(), &host.paths.lib);
    let info = hv.domain(domid)?.ok_or(MemError::NotFound(domid))?;
    let _lock = userdata::lock(lib, domid, &info.uuid)?;
    let dom = format!("/local/domain/{domid}");
    let target = read_kb(xs, &format!("{dom}/memory/target"))?;
    if max_kb < target {
        return Err(MemError::BelowTarget);
    }
    userdata::stored_type(lib, domid, &info.uuid).ok_or(MemError::NoConfig(domid))?;
    hv.set_max_mem(domid, max_kb + MAXMEM_CONSTANT_KB)?;
    xs.write(&format!("{dom}/memory/static-max"), &max_kb.to_string())?;
    Ok(())
}

/// `xl mem-set`: a new balloon target (absolute), enforced as the
/// hypervisor limit too, as xl asks.
pub fn set_target(host: &Host, xs: &Xs, domid: u32, target_kb: u64) -> Result<(), MemError> {
    let (hv, lib) = (host.hv.as_ref(), &host.paths.lib);
    let info = hv.domain(domid)?.ok_or(MemError::NotFound(domid))?;
    let _lock = userdata::lock(lib, domid, &info.uuid)?;
    let kind = userdata::stored_type(lib, domid, &info.uuid).ok_or(MemError::NoConfig(domid))?;
    let dom = format!("/local/domain/{domid}");
    let uuid = xl_config::domain::uuid_string(&info.uuid);
    let paths = [
        format!("{dom}/memory/target"),
        format!("{dom}/memory/static-max"),
        format!("{dom}/memory/videoram"),
    ];
    xs.transaction(|t| -> Result<(), MemError> {
        // One round trip for the three reads, one for the two writes.
        let [target, max, videoram] =
            <[Option<String>; 3]>::try_from(t.read_many(&paths)?).expect("one answer per path");
        let number = |p: &String, v: Option<String>| -> Result<u64, MemError> {
            let v = v.ok_or_else(|| MemError::Missing(p.clone()))?;
            v.parse().map_err(|_| MemError::Invalid {
                path: p.clone(),
                value: v,
            })
        };
        number(&paths[0], target)?;
        let max = number(&paths[1], max)?;
        let videoram: u64 = videoram
            .and_then(|v| v.trim().parse::<i64>().ok())
            .map_or(0, |v| v.max(0) as u64);
        let new_target = target_kb.saturating_sub(videoram);
        if new_target > max {
            return Err(MemError::AboveMax);
        }
        hv.set_max_mem(domid, new_target + videoram + MAXMEM_CONSTANT_KB)?;
        if kind != "pv" {
            hv.set_pod_target(domid, (new_target + MAXMEM_CONSTANT_KB) / 4)?;
        }
        t.batch(|b| {
            b.write(&paths[0], &new_target.to_string())?;
            b.write(
                &format!("/vm/{uuid}/memory"),
                &(new_target / 1024).to_string(),
            )
        })?;
        Ok(())
    })
}

/// xl's memory sizes: an integer with an optional b/k/m/g/t suffix, MiB
/// when bare; KiB out, `None` for anything else.
pub fn parse_size_kb(s: &str) -> Option<i64> {
    let digits_end = s
        .char_indices()
        .find(|&(i, c)| !(c.is_ascii_digit() || (i == 0 && (c == '-' || c == '+'))))
        .map_or(s.len(), |(i, _)| i);
    let (num, suffix) = s.split_at(digits_end);
    if suffix.chars().count() > 1 {
        return None;
    }
    let n: i64 = if num.is_empty() || num == "-" || num == "+" {
        0
    } else {
        num.parse().ok()?
    };
    Some(match suffix.to_ascii_lowercase().as_str() {
        "t" => n << 30,
        "g" => n << 20,
        "" | "m" => n << 10,
        "k" => n,
        "b" => n >> 10,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::parse_size_kb;

    #[test]
    fn sizes_like_xl() {
        assert_eq!(parse_size_kb("512"), Some(512 * 1024));
        assert_eq!(parse_size_kb("512m"), Some(512 * 1024));
        assert_eq!(parse_size_kb("1G"), Some(1 << 20));
        assert_eq!(parse_size_kb("2048k"), Some(2048));
        assert_eq!(parse_size_kb("1048576b"), Some(1024));
        assert_eq!(parse_size_kb("12x"), None);
        assert_eq!(parse_size_kb("12mb"), None);
    }
}
