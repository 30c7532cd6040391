//! A record of each create in progress, so that a create killed together
//! with its guard (one kill of a whole cgroup, the OOM killer, a crash of
//! both) is still undone: the next `xl create` or `xl list` destroys the
//! half-made domain. A create writes `<run>/xl-create/<uuid>` before the
//! domain exists, naming the processes that answer for it (itself and its
//! guard, each with its start time so a reused pid does not count), and
//! removes it once the domain is complete or destroyed again. A record
//! whose processes are all gone belongs to a create that died; its domain
//! is found by the uuid, which is fresh for each create.

use std::fs::{self, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use xenstore::Xs;

use crate::userdata::FileLock;
use crate::{Host, destroy};

/// The folder of records below the host's run directory.
pub fn dir(run: &Path) -> PathBuf {
    run.join("xl-create")
}

/// A record's name: the uuid as libxl prints it (36 characters).
fn record_path(run: &Path, uuid: &[u8; 16]) -> PathBuf {
    dir(run).join(xl_config::domain::uuid_string(uuid))
}

/// A process's start time in clock ticks since boot (`/proc/<pid>/stat`
/// field 22); `None` when the process is gone or a zombie.
fn start_time(pid: u32) -> Option<u64> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces and parentheses: fields count from
    // the last ')'.
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    if fields.first() == Some(&"Z") {
        return None;
    }
    fields.get(19)?.parse().ok()
}

/// A create in progress: dropped or `finish`ed, the record goes.
#[derive(Debug)]
pub struct Record {
    path: PathBuf,
}

impl Record {
    /// Records the create of `uuid`, answered for by `pids`. The folder and
    /// file are private and never reached through a symlink.
    pub fn begin(run: &Path, uuid: &[u8; 16], pids: &[u32]) -> io::Result<Record> {
        let d = dir(run);
        match fs::DirBuilder::new().mode(0o700).create(&d) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists && d.is_dir() => {}
            Err(e) => return Err(e),
        }
        let path = record_path(run, uuid);
        let mut text = String::new();
        for &pid in pids {
            let start = start_time(pid).ok_or_else(|| io::Error::other("no such process"))?;
            text.push_str(&format!("{pid} {start}\n"));
        }
        // A monitor's restart reuses the uuid: a record left by a create of
        // that uuid that died is replaced, its domain being gone already
        // (the restart destroyed it first).
        let _ = fs::remove_file(&path);
        let open = || {
            OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .custom_flags(libc_nofollow())
                .open(&path)
        };
        // Another create's finish may remove the directory, empty, between
        // the two steps: make it again once.
        let mut f = match open() {
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                fs::DirBuilder::new().mode(0o700).create(&d)?;
                open()?
            }
            r => r?,
        };
        // No fsync: the record only has to outlive processes, not the
        // machine (the domains go with it, and the run directory too).
        if let Err(e) = f.write_all(text.as_bytes()) {
            let _ = fs::remove_file(&path);
            return Err(e);
        }
        Ok(Record { path })
    }

    /// The domain is complete, or destroyed again: nothing to undo.
    pub fn finish(self) {}
}

impl Drop for Record {
    fn drop(&mut self) {
        remove_record(&self.path);
    }
}

/// Removes a record, and its directory once empty: a finished or undone
/// create leaves no trace on the host.
fn remove_record(path: &Path) {
    let _ = fs::remove_file(path);
    if let Some(d) = path.parent() {
        let _ = fs::remove_dir(d);
    }
}

fn libc_nofollow() -> i32 {
    rustix::fs::OFlags::NOFOLLOW.bits() as i32
}

/// Removes the record of `uuid` (its guard has undone the create).
pub fn forget(run: &Path, uuid: &[u8; 16]) {
    remove_record(&record_path(run, uuid));
}

/// A record's uuid and whether any process it names still runs.
fn read_record(path: &Path) -> Option<([u8; 16], bool)> {
    let name = path.file_name()?.to_str()?;
    let uuid = xl_config::domain::parse_uuid(name)?;
    if name.len() != 36 {
        return None;
    }
    let mut text = String::new();
    let f = OpenOptions::new()
        .read(true)
        .custom_flags(libc_nofollow())
        .open(path)
        .ok()?;
    // A few lines of our own; anything longer is not ours to act on.
    f.take(4096).read_to_string(&mut text).ok()?;
    let mut any_alive = false;
    for line in text.lines() {
        let (pid, start) = line.split_once(' ')?;
        let (pid, start): (u32, u64) = (pid.parse().ok()?, start.parse().ok()?);
        any_alive |= start_time(pid) == Some(start);
    }
    Some((uuid, any_alive))
}

/// Records of creates that died, by uuid.
fn dead(run: &Path) -> Vec<(PathBuf, [u8; 16])> {
    let Ok(entries) = fs::read_dir(dir(run)) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for e in entries.flatten() {
        let path = e.path();
        if let Some((uuid, false)) = read_record(&path) {
            out.push((path, uuid));
        }
    }
    out
}

/// Undoes the creates that died, taking the create lock at `lockfile`
/// only when there is one (a create in progress holds it, so no record is
/// judged while its create may still write it). Returns what was done and
/// what failed, for stderr.
pub fn reap(host: &Host, xs: &Xs) -> Vec<String> {
    if dead(&host.paths.run).is_empty() {
        return Vec::new();
    }
    let _lock = match FileLock::take(&host.paths.lockfile) {
        Ok(l) => l,
        Err(e) => return vec![format!("cannot undo interrupted creates: {e}")],
    };
    reap_locked(host, xs)
}

/// [`reap`] for a caller that holds the create lock.
pub fn reap_locked(host: &Host, xs: &Xs) -> Vec<String> {
    let mut said = Vec::new();
    for (path, uuid) in dead(&host.paths.run) {
        let (notes, undone) = destroy_created(host, xs, &uuid);
        said.extend(notes);
        if undone {
            remove_record(&path);
        }
    }
    said
}

/// Destroys every domain with `uuid`, however far its create got, and the
/// bootloader's files; true when nothing is left.
pub fn destroy_created(host: &Host, xs: &Xs, uuid: &[u8; 16]) -> (Vec<String>, bool) {
    let ours: Vec<u32> = match host.hv.domains() {
        Ok(all) => all
            .into_iter()
            .filter(|d| &d.uuid == uuid)
            .map(|d| d.domid)
            .collect(),
        Err(e) => return (vec![crate::error_chain(&e)], false),
    };
    let mut said = Vec::new();
    let mut undone = true;
    for domid in ours {
        said.push(format!("create was interrupted: destroying domain {domid}"));
        if let Err(e) = destroy::destroy(host, xs, domid) {
            said.push(format!(
                "cannot destroy domain {domid}: {}",
                crate::error_chain(&e)
            ));
            undone = false;
        }
        crate::bootloader::remove_leftovers(&host.paths, domid);
    }
    (said, undone)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_names_live_processes_and_goes_when_dropped() {
        let run = tempfile_dir();
        let uuid = [7u8; 16];
        let me = std::process::id();
        let r = Record::begin(&run, &uuid, &[me]).unwrap();
        let path = record_path(&run, &uuid);
        assert_eq!(read_record(&path), Some((uuid, true)));
        assert!(dead(&run).is_empty());
        // Two creates at once: the directory stays while one is left.
        let other = Record::begin(&run, &[8u8; 16], &[me]).unwrap();
        r.finish();
        assert!(!path.exists());
        assert!(dir(&run).is_dir());
        other.finish();
        assert!(
            !dir(&run).exists(),
            "the last record takes its directory along"
        );
        fs::remove_dir_all(run).unwrap();
    }

    #[test]
    fn a_record_of_dead_or_reused_pids_is_dead() {
        let run = tempfile_dir();
        fs::create_dir_all(dir(&run)).unwrap();
        let uuid = [9u8; 16];
        let path = record_path(&run, &uuid);
        let me = std::process::id();
        // Our pid with another start time: a reused pid.
        let start = start_time(me).unwrap();
        fs::write(&path, format!("{me} {}\n", start + 1)).unwrap();
        assert_eq!(dead(&run), vec![(path.clone(), uuid)]);
        // Names that are no uuid, and garbage, are left alone.
        fs::write(dir(&run).join("not-a-uuid"), "1 1\n").unwrap();
        fs::write(&path, "garbage").unwrap();
        assert!(dead(&run).is_empty());
        fs::remove_dir_all(run).unwrap();
    }

    fn tempfile_dir() -> PathBuf {
        let d = std::env::temp_dir().join(format!(
            "xl-inflight-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        let _ = fs::remove_dir_all(&d);
        fs::create_dir_all(&d).unwrap();
        d
    }
}
