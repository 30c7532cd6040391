//! libxl's per-domain "userdata" files in /var/lib/xen (the stored domain
//! configuration among them) and the lock that guards them.

use std::fs::{self, File, OpenOptions};
use std::path::{Path, PathBuf};

/// A lock file that could not be opened or locked (what failed, and the file).
#[derive(Debug, thiserror::Error)]
#[error("{what} {path}")]
pub struct LockError {
    what: &'static str,
    path: String,
    #[source]
    source: std::io::Error,
}

/// `userdata-<wh>.<domid>.<uuid>.<userid>` under the host's lib dir.
pub fn path(lib: &Path, domid: u32, uuid: &[u8; 16], wh: char, userid: &str) -> PathBuf {
    lib.join(format!(
        "userdata-{wh}.{domid}.{}.{userid}",
        xl_config::domain::uuid_string(uuid)
    ))
}

/// Take the lock libxl holds while it reads or changes a domain's userdata.
pub fn lock(lib: &Path, domid: u32, uuid: &[u8; 16]) -> Result<FileLock, LockError> {
    FileLock::take(&path(lib, domid, uuid, 'l', "domain-userdata-lock"))
}

/// A file's bytes: open, read to the end, close. Unlike `fs::read`, no
/// stat for a size hint: `xl list -l` reads one file per domain.
pub fn read_file(path: &Path) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let mut bytes = Vec::with_capacity(8192);
    // Through `take`: `File`'s own read_to_end stats the file first.
    fs::File::open(path)?
        .take(u64::MAX)
        .read_to_end(&mut bytes)?;
    Ok(bytes)
}

/// The domain type recorded in the stored configuration (c_info.type).
pub fn stored_type(lib: &Path, domid: u32, uuid: &[u8; 16]) -> Option<String> {
    type_of_stored_config(&fs::read_to_string(path(lib, domid, uuid, 'd', "libxl-json")).ok()?)
}

/// Stores a domain's configuration as libxl does: the JSON text with its
/// terminating NUL, written to a temporary file and renamed into place.
pub fn store_config(lib: &Path, domid: u32, uuid: &[u8; 16], json: &str) -> std::io::Result<()> {
    fs::create_dir_all(lib)?;
    let dest = path(lib, domid, uuid, 'd', "libxl-json");
    let tmp = dest.with_extension("libxl-json.tmp");
    let mut bytes = json.as_bytes().to_vec();
    bytes.push(0);
    // Private to root, as libxl writes it: the config may hold VNC and
    // SPICE passwords.
    {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        // A leftover of a killed write would keep its own mode: the file
        // written is always a new one, never a link to elsewhere.
        let _ = fs::remove_file(&tmp);
        let mut f = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32)
            .open(&tmp)?;
        f.write_all(&bytes)?;
    }
    fs::rename(&tmp, &dest)
}

/// libxl_userdata_store: `data` as the domain's `userid` userdata, under
/// the userdata lock, through a temporary file renamed into place; empty
/// data removes it, as libxl does.
pub fn store(
    lib: &Path,
    domid: u32,
    uuid: &[u8; 16],
    userid: &str,
    data: &[u8],
) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    fs::create_dir_all(lib)?;
    let _lock = lock(lib, domid, uuid).map_err(|e| e.source)?;
    let dest = path(lib, domid, uuid, 'd', userid);
    if data.is_empty() {
        return match fs::remove_file(&dest) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        };
    }
    let tmp = dest.with_extension(format!("{userid}.tmp"));
    let _ = fs::remove_file(&tmp);
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32)
        .open(&tmp)?;
    f.write_all(data)?;
    drop(f);
    fs::rename(&tmp, &dest)
}

#[cfg(test)]
mod store_tests {
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn stored_configs_are_private() {
        let dir = std::env::temp_dir().join(format!("xl-userdata-{}", std::process::id()));
        super::store_config(&dir, 5, &[7; 16], "{}").unwrap();
        let stored = std::fs::read_dir(&dir)
            .unwrap()
            .next()
            .unwrap()
            .unwrap()
            .path();
        let mode = std::fs::metadata(&stored).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "{}", stored.display());
        assert_eq!(std::fs::read(&stored).unwrap(), b"{}\0");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

/// c_info.type of a stored libxl-json config.
fn type_of_stored_config(text: &str) -> Option<String> {
    // libxl stores the string with its terminating NUL.
    let v: serde_json::Value = serde_json::from_str(text.trim_end_matches(['\0', '\n'])).ok()?;
    v.get("c_info")?.get("type")?.as_str().map(str::to_string)
}

/// An flock(2) on a lock file, as libxl takes them (compatible with xl's).
pub struct FileLock {
    path: PathBuf,
    _file: File,
}

impl FileLock {
    /// Take the lock on `path`, creating the file; waits while another holder has it.
    pub fn take(path: &Path) -> Result<Self, LockError> {
        let err = |what, source| LockError {
            what,
            path: path.display().to_string(),
            source,
        };
        loop {
            let file = OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .open(path)
                .map_err(|e| err("cannot open lock file", e))?;
            file.lock().map_err(|e| err("cannot lock", e))?;
            // Another holder may have unlinked the file between our open
            // and lock: only the file still at the path counts.
            let same = match (fs::metadata(path), file.metadata()) {
                (Ok(a), Ok(b)) => {
                    std::os::unix::fs::MetadataExt::ino(&a)
                        == std::os::unix::fs::MetadataExt::ino(&b)
                }
                _ => false,
            };
            if same {
                return Ok(FileLock {
                    path: path.to_path_buf(),
                    _file: file,
                });
            }
        }
    }
}

impl Drop for FileLock {
    fn drop(&mut self) {
        // Unlink before the descriptor closes (libxl's order).
        let _ = fs::remove_file(&self.path);
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn stored_config_type_despite_the_nul() {
        let text = "{\n    \"c_info\": {\n        \"type\": \"pvh\"\n    }\n}\n\0";
        assert_eq!(super::type_of_stored_config(text).as_deref(), Some("pvh"));
        assert_eq!(super::type_of_stored_config("{}\0"), None);
    }
}
