//! Bringing a guest's vCPUs online and offline (`xl vcpu-set`), as libxl
//! does: the guest kernel watches `cpu/<n>/availability` and follows it;
//! an HVM guest's vCPUs are first plugged into its device model.

use xenstore::{Xs, XsOps};

use crate::{Dom0, DomInfo, GuestKind};

/// Why `xl vcpu-set` failed, in xl's words.
#[derive(Debug, thiserror::Error)]
pub enum VcpuError {
    /// Zero vCPUs asked for.
    #[error("Requested 0 VCPUs!")]
    Zero,
    /// More vCPUs asked for (first) than the domain's maximum (second).
    #[error("Requested {0} VCPUs, however maxcpus is {1}!")]
    TooMany(u32, u32),
    /// The HVM guest's device model did not take the new vCPUs.
    #[error("Setting CPU online in QEMU failed")]
    DeviceModel(#[source] crate::Error),
    /// A xenstore read or write failed.
    #[error(transparent)]
    Xenstore(#[from] xenstore::Error),
}

impl VcpuError {
    /// libxl's rc as xl prints it.
    pub fn rc(&self) -> i32 {
        match self {
            VcpuError::DeviceModel(crate::Error::Qmp(e)) => e.rc(),
            _ => -3,
        }
    }
}

/// The availability value of each vCPU 0..=max_id when `count` are wanted.
pub fn availability(max_id: u32, count: u32) -> Vec<(u32, &'static str)> {
    (0..=max_id)
        .map(|i| (i, if i < count { "online" } else { "offline" }))
        .collect()
}

/// Ask `info`'s guest to run `count` vCPUs: an HVM guest's device model
/// gets the missing ones first (`dom0`), then every guest is told through
/// xenstore, as libxl_set_vcpuonline does.
pub fn set_online(
    dom0: &dyn Dom0,
    xs: &Xs,
    kind: GuestKind,
    info: &DomInfo,
    count: u32,
) -> Result<(), VcpuError> {
    if count == 0 {
        return Err(VcpuError::Zero);
    }
    if count > info.vcpu_max_id.wrapping_add(1) {
        return Err(VcpuError::TooMany(count, info.vcpu_max_id.wrapping_add(1)));
    }
    if kind == GuestKind::Hvm {
        dom0.plug_device_model_cpus(info.domid, &info.uuid, count)
            .map_err(VcpuError::DeviceModel)?;
    }
    let base = format!("/local/domain/{}/cpu", info.domid);
    xs.transaction(|t| -> Result<(), VcpuError> {
        for (i, v) in availability(info.vcpu_max_id, count) {
            t.write(&format!("{base}/{i}/availability"), v)?;
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fake::FakeDom0;
    use xenstore::Daemon;

    #[test]
    fn online_then_offline() {
        let d = Daemon::new();
        let xs = Xs::new(d.connect_as(0).unwrap()).unwrap();
        let info = DomInfo {
            domid: 3,
            vcpu_max_id: 2,
            ..Default::default()
        };
        let dom0 = FakeDom0::default();
        set_online(&dom0, &xs, GuestKind::Pv, &info, 2).unwrap();
        let av = |i| {
            xs.read(&format!("/local/domain/3/cpu/{i}/availability"))
                .unwrap()
        };
        assert_eq!(
            (av(0), av(1), av(2)),
            ("online".into(), "online".into(), "offline".into())
        );
        assert!(matches!(
            set_online(&dom0, &xs, GuestKind::Pv, &info, 0),
            Err(VcpuError::Zero)
        ));
        assert!(matches!(
            set_online(&dom0, &xs, GuestKind::Pvh, &info, 4),
            Err(VcpuError::TooMany(4, 3))
        ));
        // An HVM guest whose device model refuses: xenstore is left as it was.
        let e = set_online(&dom0, &xs, GuestKind::Hvm, &info, 3).unwrap_err();
        assert!(matches!(e, VcpuError::DeviceModel(_)), "{e:?}");
        assert_eq!(av(2), "offline");
    }
}
