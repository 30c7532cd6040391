//! Renaming a domain as libxl does: in one xenstore transaction, check the
//! new name is free, check the old name is still what the caller saw, then
//! write `/local/domain/<id>/name` and `/vm/<uuid>/name`; a stub domain
//! serving the guest is renamed along (`<name>-dm`).

use xenstore::{Transaction, Xs, XsOps};

use crate::{Error, Hypervisor, names};

/// Why `xl rename` failed, in xl's words.
#[derive(Debug, thiserror::Error)]
pub enum RenameError {
    /// Another domain has the new name.
    #[error("Domain with name \"{0}\" already exists.")]
    Exists(String),
    /// The domain has no name in xenstore.
    #[error("Check old name for domain allegedly named `{0}': no name")]
    NoOldName(String),
    /// The domain's name changed while renaming (another toolstack raced us).
    #[error("Allegedly named `{alleged}' is actually named `{actual}' - racing ?")]
    Raced {
        /// The name the caller gave.
        alleged: String,
        /// The name xenstore holds now.
        actual: String,
    },
    /// No domain has this id.
    #[error("domain {0} does not exist")]
    NoSuchDomain(u32),
    /// The hypervisor could not be asked.
    #[error(transparent)]
    Toolstack(#[from] Error),
    /// A xenstore read or write failed.
    #[error(transparent)]
    Xenstore(#[from] xenstore::Error),
}

/// The stub domain running a guest's device model, 0 when there is none
/// (libxl_get_stubdom_id: atoi of image/device-model-domid).
pub fn stubdom_id(xs: &impl XsOps, domid: u32) -> Result<u32, xenstore::Error> {
    Ok(xs
        .try_read(&format!("/local/domain/{domid}/image/device-model-domid"))?
        .map_or(0, |s| xl_config::value::strtol(s.as_bytes(), 10).0 as u32))
}

/// Rename `domid` from `old` (what the caller resolved, None when it had
/// no name) to `new`.
pub fn rename(
    hv: &dyn Hypervisor,
    xs: &Xs,
    domid: u32,
    old: Option<&str>,
    new: &str,
) -> Result<(), RenameError> {
    xs.transaction(|t| rename_in(hv, t, domid, old, new))
}

/// Everything is read through the transaction, the other domains' names
/// too: a rename to the same name committed meanwhile makes this one
/// retry (and find the name taken) instead of both succeeding.
fn rename_in(
    hv: &dyn Hypervisor,
    t: &Transaction<'_>,
    domid: u32,
    old: Option<&str>,
    new: &str,
) -> Result<(), RenameError> {
    let stub = stubdom_id(t, domid)?;
    // glibc prints a NULL old name as "(null)" in the stub's name.
    let stub_names = (
        format!("{}-dm", old.unwrap_or("(null)")),
        format!("{new}-dm"),
    );
    if !new.is_empty()
        && let Some(other) = names::name_to_domid_in(hv, t, new)?
        && other != domid
    {
        return Err(RenameError::Exists(new.to_string()));
    }
    let name_path = format!("/local/domain/{domid}/name");
    if let Some(old) = old {
        let Some(actual) = t.try_read(&name_path)? else {
            return Err(RenameError::NoOldName(old.to_string()));
        };
        if actual != old {
            return Err(RenameError::Raced {
                alleged: old.to_string(),
                actual,
            });
        }
    }
    t.write(&name_path, new)?;
    let info = hv.domain(domid)?.ok_or(RenameError::NoSuchDomain(domid))?;
    let uuid = xl_config::domain::uuid_string(&info.uuid);
    t.write(&format!("/vm/{uuid}/name"), new)?;
    if stub != 0 {
        rename_in(hv, t, stub, Some(&stub_names.0), &stub_names.1)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fake::FakeHv;
    use xenstore::Daemon;

    fn setup() -> (Daemon, Xs, FakeHv) {
        let d = Daemon::new();
        let xs = Xs::new(d.connect_as(0).unwrap()).unwrap();
        for (k, v) in [
            ("/local/domain/0/name", "Domain-0"),
            ("/local/domain/1/name", "a"),
            ("/local/domain/2/name", "b"),
            ("/vm/01010101-0101-0101-0101-010101010101/name", "a"),
        ] {
            xs.write(k, v).unwrap();
        }
        (d, xs, FakeHv::with(&[(0, 0), (1, 1), (2, 2)]))
    }

    #[test]
    fn renames_both_name_nodes() {
        let (_d, xs, hv) = setup();
        rename(&hv, &xs, 1, Some("a"), "c").unwrap();
        assert_eq!(xs.read("/local/domain/1/name").unwrap(), "c");
        assert_eq!(
            xs.read("/vm/01010101-0101-0101-0101-010101010101/name")
                .unwrap(),
            "c"
        );
        // Its own name again is fine.
        rename(&hv, &xs, 1, Some("c"), "c").unwrap();
    }

    #[test]
    fn refuses_taken_names_and_races_untouched() {
        let (_d, xs, hv) = setup();
        assert!(matches!(
            rename(&hv, &xs, 1, Some("a"), "b"),
            Err(RenameError::Exists(n)) if n == "b"
        ));
        assert!(matches!(
            rename(&hv, &xs, 1, Some("x"), "c"),
            Err(RenameError::Raced { .. })
        ));
        assert!(matches!(
            rename(&hv, &xs, 7, None, "c"),
            Err(RenameError::NoSuchDomain(7))
        ));
        // The aborted transactions changed nothing.
        assert_eq!(xs.read("/local/domain/1/name").unwrap(), "a");
        assert!(xs.try_read("/local/domain/7/name").unwrap().is_none());
    }

    #[test]
    fn stub_domains_follow() {
        let (_d, xs, hv) = setup();
        xs.write("/local/domain/1/image/device-model-domid", "2")
            .unwrap();
        xs.write("/local/domain/2/name", "a-dm").unwrap();
        rename(&hv, &xs, 1, Some("a"), "z").unwrap();
        assert_eq!(xs.read("/local/domain/2/name").unwrap(), "z-dm");
        assert_eq!(
            xs.read("/vm/02020202-0202-0202-0202-020202020202/name")
                .unwrap(),
            "z-dm"
        );
    }

    /// Delays each thread's first name check until every thread has
    /// started its transaction, so the renames overlap.
    struct Gate {
        hv: FakeHv,
        barrier: std::sync::Arc<std::sync::Barrier>,
        waited: std::cell::Cell<bool>,
    }

    impl Hypervisor for Gate {
        fn domains(&self) -> Result<Vec<crate::DomInfo>, Error> {
            if !self.waited.replace(true) {
                self.barrier.wait();
            }
            self.hv.domains()
        }
        fn physinfo(&self) -> Result<crate::PhysInfo, Error> {
            self.hv.physinfo()
        }
        fn create_domain(&self, spec: &crate::CreateSpec) -> Result<u32, Error> {
            self.hv.create_domain(spec)
        }
        fn build(&self, domid: u32, spec: &crate::BuildSpec) -> Result<crate::Built, Error> {
            self.hv.build(domid, spec)
        }
        fn pause(&self, domid: u32) -> Result<(), Error> {
            self.hv.pause(domid)
        }
        fn unpause(&self, domid: u32) -> Result<(), Error> {
            self.hv.unpause(domid)
        }
        fn destroy(&self, domid: u32, patience: std::time::Duration) -> Result<(), Error> {
            self.hv.destroy(domid, patience)
        }
    }

    #[test]
    fn concurrent_renames_to_one_name_leave_one_domain_with_it() {
        const N: u32 = 4;
        let d = Daemon::new();
        let xs = Xs::new(d.connect_as(0).unwrap()).unwrap();
        let doms: Vec<(u32, u8)> = (0..=N).map(|i| (i, i as u8)).collect();
        for i in 1..=N {
            xs.write(&format!("/local/domain/{i}/name"), &format!("d{i}"))
                .unwrap();
            // Existing /vm nodes: the renames share no node they write.
            let uuid = xl_config::domain::uuid_string(&[i as u8; 16]);
            xs.write(&format!("/vm/{uuid}/name"), &format!("d{i}"))
                .unwrap();
        }
        let barrier = std::sync::Arc::new(std::sync::Barrier::new(N as usize));
        let threads: Vec<_> = (1..=N)
            .map(|i| {
                let (d, doms, barrier) = (d.clone(), doms.clone(), barrier.clone());
                std::thread::spawn(move || {
                    let xs = Xs::new(d.connect_as(0).unwrap()).unwrap();
                    let hv = Gate {
                        hv: FakeHv::with(&doms),
                        barrier,
                        waited: std::cell::Cell::new(false),
                    };
                    rename(&hv, &xs, i, Some(&format!("d{i}")), "same")
                })
            })
            .collect();
        let results: Vec<_> = threads.into_iter().map(|t| t.join().unwrap()).collect();
        let named: Vec<u32> = (1..=N)
            .filter(|i| xs.read(&format!("/local/domain/{i}/name")).unwrap() == "same")
            .collect();
        assert_eq!(named.len(), 1, "{named:?} all named \"same\"");
        assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 1);
        assert!(
            results
                .iter()
                .filter_map(|r| r.as_ref().err())
                .all(|e| matches!(e, RenameError::Exists(n) if n == "same")),
            "{results:?}"
        );
    }
}
