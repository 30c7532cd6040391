//! The simulator's state directory: sockets, locks and the host's log.
//! Its default is a fixed name in `/tmp` that anyone could create first,
//! so a directory is used only when it is ours and nobody else can write
//! it, and files in it are never opened through a symbolic link.

use std::fs::{DirBuilder, File, OpenOptions};
use std::io;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

use rustix::fs::OFlags;

/// Creates `dir` private (0700) if it is missing; refuses it unless it is
/// a real directory owned by this user that neither group nor others can
/// write; makes it private if it is readable by others.
pub fn prepare(dir: &Path) -> Result<(), String> {
    let shown = dir.display();
    let fix = format!("remove {shown}, or set XL_SIM_DIR to a directory of your own");
    if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|e| format!("cannot create {shown}: {e}"))?;
    }
    match DirBuilder::new().mode(0o700).create(dir) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(format!("cannot create {shown}: {e}")),
    }
    let meta = std::fs::symlink_metadata(dir).map_err(|e| format!("cannot read {shown}: {e}"))?;
    if meta.file_type().is_symlink() {
        return Err(format!(
            "simulator state directory {shown} is a symbolic link: {fix}"
        ));
    }
    if !meta.is_dir() {
        return Err(format!(
            "simulator state directory {shown} is not a directory: {fix}"
        ));
    }
    let me = rustix::process::geteuid().as_raw();
    if meta.uid() != me {
        return Err(format!(
            "simulator state directory {shown} belongs to uid {}, not to you (uid {me}): {fix}",
            meta.uid()
        ));
    }
    let mode = meta.mode() & 0o7777;
    if mode & 0o022 != 0 {
        return Err(format!(
            "simulator state directory {shown} can be written by others (mode {mode:04o}): {fix}"
        ));
    }
    if mode != 0o700 {
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
            .map_err(|e| format!("cannot make {shown} private (chmod 700): {e}"))?;
    }
    Ok(())
}

/// Opens (creating 0600 if missing) a lock file or log in the state
/// directory, refusing a symbolic link in its place.
pub fn open(path: &Path, append: bool) -> io::Result<File> {
    let mut o = OpenOptions::new();
    if append {
        o.append(true);
    } else {
        o.read(true).write(true);
    }
    o.create(true)
        .mode(0o600)
        .custom_flags(nofollow())
        .open(path)
}

fn nofollow() -> i32 {
    (OFlags::NOFOLLOW | OFlags::CLOEXEC).bits() as i32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_directory_is_made_private() {
        let t = tempfile::tempdir().unwrap();
        let dir = t.path().join("a/b");
        prepare(&dir).unwrap();
        let mode = std::fs::metadata(&dir).unwrap().mode() & 0o777;
        assert_eq!(mode, 0o700);
    }

    #[test]
    fn a_directory_others_can_write_is_refused_and_left_alone() {
        let t = tempfile::tempdir().unwrap();
        let dir = t.path().join("sim");
        std::fs::create_dir(&dir).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).unwrap();
        let e = prepare(&dir).unwrap_err();
        assert!(e.contains(&dir.display().to_string()), "{e}");
        assert!(e.contains("written by others"), "{e}");
        assert!(e.contains("XL_SIM_DIR"), "{e}");
        let mode = std::fs::metadata(&dir).unwrap().mode() & 0o777;
        assert_eq!(mode, 0o777);
    }

    #[test]
    fn a_directory_of_someone_else_is_refused() {
        let t = tempfile::tempdir().unwrap();
        let dir = if rustix::process::geteuid().is_root() {
            let d = t.path().join("sim");
            std::fs::create_dir(&d).unwrap();
            std::os::unix::fs::chown(&d, Some(65534), Some(65534)).unwrap();
            std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o700)).unwrap();
            d
        } else {
            // root's, and this user is not root.
            std::path::PathBuf::from("/")
        };
        let e = prepare(&dir).unwrap_err();
        assert!(e.contains("belongs to uid"), "{e}");
        assert!(e.contains(&dir.display().to_string()), "{e}");
    }

    #[test]
    fn a_readable_directory_is_made_private() {
        let t = tempfile::tempdir().unwrap();
        let dir = t.path().join("sim");
        std::fs::create_dir(&dir).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        prepare(&dir).unwrap();
        assert_eq!(std::fs::metadata(&dir).unwrap().mode() & 0o777, 0o700);
    }

    #[test]
    fn a_symlink_is_refused_in_place_of_the_directory_or_a_file() {
        let t = tempfile::tempdir().unwrap();
        let real = t.path().join("real");
        std::fs::create_dir(&real).unwrap();
        let link = t.path().join("link");
        std::os::unix::fs::symlink(&real, &link).unwrap();
        assert!(prepare(&link).unwrap_err().contains("symbolic link"));

        let victim = t.path().join("victim");
        std::fs::write(&victim, "precious").unwrap();
        let lock = real.join("start.lock");
        std::os::unix::fs::symlink(&victim, &lock).unwrap();
        assert!(open(&lock, false).is_err());
        assert!(open(&lock, true).is_err());
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");
    }

    #[test]
    fn files_are_created_private() {
        let t = tempfile::tempdir().unwrap();
        let p = t.path().join("host.log");
        open(&p, true).unwrap();
        assert_eq!(std::fs::metadata(&p).unwrap().mode() & 0o777, 0o600);
    }
}
