//! Intel's platform shared resources (`xl psr-*`): cache monitoring
//! (CMT) and cache/memory-bandwidth allocation (CAT, MBA), asked of Xen
//! as libxl 4.17 asks, with libxl's error texts.

use crate::{Error, Hypervisor};

/// XEN_SYSCTL_psr_cmt_op sub-commands.
pub const CMT_GET_TOTAL_RMID: u32 = 0;
/// The L3 upscaling factor (bytes per counter unit).
pub const CMT_GET_L3_UPSCALING_FACTOR: u32 = 1;
/// The L3 cache size, in KiB.
pub const CMT_GET_L3_CACHE_SIZE: u32 = 2;
/// Whether monitoring is on.
pub const CMT_ENABLED: u32 = 3;
/// Which L3 monitoring events Xen has.
pub const CMT_GET_L3_EVENT_MASK: u32 = 4;
/// XEN_DOMCTL_psr_cmt_op sub-commands.
pub const CMT_DETACH: u32 = 0;
/// Give the domain an RMID.
pub const CMT_ATTACH: u32 = 1;
/// The domain's RMID.
pub const CMT_QUERY_RMID: u32 = 2;

/// What an allocation feature's limits are asked for (XEN_SYSCTL_psr_alloc).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum AllocFeature {
    /// L3 cache allocation.
    L3Cat,
    /// L2 cache allocation.
    L2Cat,
    /// Memory bandwidth allocation.
    Mba,
}

/// One socket's limits of a feature, as Xen reports them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct AllocInfo {
    /// CAT: capacity bitmask length; MBA: the highest throttle.
    pub len_or_max: u32,
    /// The highest class of service.
    pub cos_max: u32,
    /// CAT: CDP on (L3 only); MBA: linear throttling.
    pub flag: bool,
}

/// A domain's value of one kind (libxl_psr_type).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum PsrType {
    /// L3 capacity bitmask (CAT, or both halves under CDP).
    L3Cbm,
    /// L3 code bitmask under CDP.
    L3Code,
    /// L3 data bitmask under CDP.
    L3Data,
    /// L2 capacity bitmask.
    L2Cbm,
    /// Memory bandwidth throttle.
    MbaThrtl,
}

impl PsrType {
    /// XEN_DOMCTL_PSR_SET_* / GET_* of this type.
    pub fn domctl(self, set: bool) -> u32 {
        let (s, g) = match self {
            PsrType::L3Cbm => (0, 1),
            PsrType::L3Code => (2, 4),
            PsrType::L3Data => (3, 5),
            PsrType::L2Cbm => (6, 7),
            PsrType::MbaThrtl => (8, 9),
        };
        if set { s } else { g }
    }

    /// The feature's name in libxl's messages.
    fn feature(self) -> &'static str {
        match self {
            PsrType::L3Cbm => "L3 CAT",
            PsrType::L3Code | PsrType::L3Data => "CDP",
            PsrType::L2Cbm => "L2 CAT",
            PsrType::MbaThrtl => "MBA",
        }
    }
}

/// A failure, worded as libxl logs it (the line after "libxl: error: ").
#[derive(Debug, thiserror::Error)]
pub enum PsrError {
    /// libxl__psr_cmt_log_err_msg (LOGE: errno text appended).
    #[error("{msg}: {}", crate::strerror(source))]
    Cmt {
        /// libxl's words for the operation.
        msg: &'static str,
        /// The OS error.
        source: std::io::Error,
    },
    /// libxl__psr_alloc_log_err_msg for an errno it has words for.
    #[error("{feature}: {msg}")]
    Alloc {
        /// The feature's name.
        feature: &'static str,
        /// libxl's words for the errno.
        msg: &'static str,
    },
    /// A failure libxl does not log (its caller may).
    #[error("{}", crate::strerror(.0))]
    Quiet(std::io::Error),
    /// The host's socket count could not be read.
    #[error("failed to get system socket count")]
    Sockets(#[source] Error),
}

impl PsrError {
    /// Whether libxl logs this failure itself.
    pub fn logged(&self) -> bool {
        !matches!(self, PsrError::Quiet(_))
    }
}

/// The errno in a backend error (EIO's number when there is none).
fn errno_of(e: &Error) -> i32 {
    e.errno().unwrap_or(5)
}

/// libxl__psr_log_err_msg's words for an errno.
fn generic_words(errno: i32) -> &'static str {
    match errno {
        38 | 95 => "unsupported operation",
        3 => "invalid domain ID",
        88 => "socket is not supported",
        14 => "failed to exchange data with Xen",
        _ => "unknown error",
    }
}

/// libxl__psr_cmt_log_err_msg.
fn cmt_error(e: &Error) -> PsrError {
    let n = errno_of(e);
    let msg = match n {
        19 => "CMT is not supported in this system",
        17 => "CMT is already attached to this domain",
        2 => "CMT is not attached to this domain",
        75 => "no free RMID available",
        _ => generic_words(n),
    };
    PsrError::Cmt {
        msg,
        source: std::io::Error::from_raw_os_error(n),
    }
}

/// libxl__psr_alloc_log_err_msg.
fn alloc_error(e: &Error, ty: PsrType) -> PsrError {
    let n = errno_of(e);
    let msg = match n {
        19 => "is not supported in this system",
        2 => "is not enabled on the socket",
        75 => "no free COS available",
        17 => "The same CBM is already set to this domain",
        6 => "Unable to set code or data CBM when CDP is disabled",
        22 => "Invalid input or some internal values are not expected",
        34 => "Socket number is wrong",
        28 => "Value array exceeds the range",
        _ => {
            return PsrError::Cmt {
                msg: generic_words(n),
                source: std::io::Error::from_raw_os_error(n),
            };
        }
    };
    PsrError::Alloc {
        feature: ty.feature(),
        msg,
    }
}

/// libxl_psr_cmt_attach / detach.
pub fn cmt_attach(hv: &dyn Hypervisor, domid: u32, attach: bool) -> Result<(), PsrError> {
    let cmd = if attach { CMT_ATTACH } else { CMT_DETACH };
    hv.psr_cmt_domain(domid, cmd)
        .map(drop)
        .map_err(|e| cmt_error(&e))
}

/// libxl_psr_cmt_domain_attached: a domain with an RMID.
pub fn cmt_domain_attached(hv: &dyn Hypervisor, domid: u32) -> bool {
    hv.psr_cmt_domain(domid, CMT_QUERY_RMID)
        .is_ok_and(|rmid| rmid != 0)
}

/// libxl_psr_cmt_enabled: false when Xen cannot say.
pub fn cmt_enabled(hv: &dyn Hypervisor) -> bool {
    hv.psr_cmt_sysctl(CMT_ENABLED, 0).is_ok_and(|v| v != 0)
}

/// libxl_psr_cmt_get_total_rmid.
pub fn cmt_total_rmid(hv: &dyn Hypervisor) -> Result<u32, PsrError> {
    hv.psr_cmt_sysctl(CMT_GET_TOTAL_RMID, 0)
        .map(|v| v as u32)
        .map_err(|e| cmt_error(&e))
}

/// libxl_psr_cmt_type_supported for monitor type `ty` (1: cache
/// occupancy, 2: total, 3: local memory bandwidth); a failure to ask is
/// logged and counts as unsupported.
pub fn cmt_type_supported(hv: &dyn Hypervisor, ty: u32) -> Result<bool, PsrError> {
    let mask = hv
        .psr_cmt_sysctl(CMT_GET_L3_EVENT_MASK, 0)
        .map_err(|e| cmt_error(&e))?;
    Ok(mask & (1 << (ty - 1)) != 0)
}

/// libxl_psr_cmt_get_l3_cache_size of a socket, in KiB.
pub fn cmt_l3_cache_size(hv: &dyn Hypervisor, socket: u32) -> Result<u32, PsrError> {
    let cpu = socket_cpu(hv, socket).ok_or_else(|| PsrError::Cmt {
        msg: "failed to get socket cpu",
        source: std::io::Error::from_raw_os_error(0),
    })?;
    hv.psr_cmt_sysctl(CMT_GET_L3_CACHE_SIZE, cpu)
        .map(|v| v as u32)
        .map_err(|e| cmt_error(&e))
}

/// The first CPU of a socket (libxl__pick_socket_cpu).
fn socket_cpu(hv: &dyn Hypervisor, socket: u32) -> Option<u32> {
    let topo = hv.cpu_topology().ok()?;
    topo.iter()
        .position(|t| t.socket == Some(socket))
        .map(|i| i as u32)
}

/// libxl__count_physical_sockets.
pub fn physical_sockets(hv: &dyn Hypervisor) -> Result<u32, PsrError> {
    let p = hv.physinfo().map_err(PsrError::Sockets)?;
    Ok(p.nr_cpus / p.threads_per_core.max(1) / p.cores_per_socket.max(1))
}

/// libxl_get_online_socketmap: the sockets that have CPUs, ascending.
pub fn online_sockets(hv: &dyn Hypervisor) -> Result<Vec<u32>, PsrError> {
    let topo = hv
        .cpu_topology()
        .map_err(|e| PsrError::Quiet(std::io::Error::from_raw_os_error(errno_of(&e))))?;
    let mut s: Vec<u32> = topo.iter().filter_map(|t| t.socket).collect();
    s.sort_unstable();
    s.dedup();
    Ok(s)
}

/// libxl_psr_get_hw_info: each online socket's limits of `feature`; the
/// first socket Xen refuses ends it (libxl logs nothing then).
pub fn hw_info(
    hv: &dyn Hypervisor,
    feature: AllocFeature,
) -> Result<Vec<(u32, AllocInfo)>, PsrError> {
    physical_sockets(hv)?;
    let mut out = Vec::new();
    for socket in online_sockets(hv)? {
        let info = hv
            .psr_alloc_info(feature, socket)
            .map_err(|e| PsrError::Quiet(std::io::Error::from_raw_os_error(errno_of(&e))))?;
        out.push((socket, info));
    }
    Ok(out)
}

/// libxl_psr_set_val: `val` on each socket of `sockets` (ascending) below
/// the host's socket count; every failing socket is logged, the rest
/// still set.
pub fn set_val(
    hv: &dyn Hypervisor,
    domid: u32,
    ty: PsrType,
    sockets: &[u32],
    val: u64,
) -> Result<(), Vec<PsrError>> {
    let n = physical_sockets(hv).map_err(|e| vec![e])?;
    let mut errors = Vec::new();
    for &socket in sockets {
        if socket >= n {
            break;
        }
        if let Err(e) = hv.psr_alloc_domain(domid, ty.domctl(true), socket, val) {
            errors.push(alloc_error(&e, ty));
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}

/// libxl_psr_get_val on one socket.
pub fn get_val(hv: &dyn Hypervisor, domid: u32, ty: PsrType, socket: u32) -> Result<u64, PsrError> {
    hv.psr_alloc_domain(domid, ty.domctl(false), socket, 0)
        .map_err(|e| alloc_error(&e, ty))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn libxl_words_for_errnos() {
        let nodev = Error::Os(std::io::Error::from_raw_os_error(19));
        assert_eq!(
            cmt_error(&nodev).to_string(),
            "CMT is not supported in this system: No such device"
        );
        assert_eq!(
            alloc_error(&nodev, PsrType::L3Cbm).to_string(),
            "L3 CAT: is not supported in this system"
        );
        assert_eq!(
            alloc_error(&nodev, PsrType::MbaThrtl).to_string(),
            "MBA: is not supported in this system"
        );
        let srch = Error::Os(std::io::Error::from_raw_os_error(3));
        assert_eq!(
            alloc_error(&srch, PsrType::L2Cbm).to_string(),
            "invalid domain ID: No such process"
        );
    }
}
