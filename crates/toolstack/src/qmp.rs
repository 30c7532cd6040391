//! A QMP client for the device model (QEMU) libxl starts for a domain:
//! the control socket `/var/run/xen/qmp-libxl-<domid>`, taken under the
//! same lock libxl holds while it talks to it.

use std::io::{BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

use serde_json::{Value, json};

use crate::GuestKind;
use crate::userdata::{self, FileLock};

/// How talking to a device model over QMP failed.
#[derive(Debug, thiserror::Error)]
pub enum QmpError {
    /// The QMP socket could not be connected to.
    #[error("cannot connect to the device model's QMP socket {path}")]
    Connect {
        /// The socket's path.
        path: String,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// Reading or writing the socket failed.
    #[error("QMP I/O")]
    Io(#[from] std::io::Error),
    /// The device model sent something that is not JSON.
    #[error("QMP: malformed reply: {0}")]
    Json(#[from] serde_json::Error),
    /// The device model closed the connection.
    #[error("QMP: the device model closed the connection")]
    Closed,
    /// The device model answered a command with an error.
    #[error("QMP command {cmd} failed: {class}: {desc}")]
    Command {
        /// The command.
        cmd: String,
        /// QMP's error class (`GenericError`, `DeviceNotFound`, ...).
        class: String,
        /// QMP's description.
        desc: String,
    },
    /// An answer without what the command promises (libxl's
    /// ERROR_QEMU_API).
    #[error("QMP {cmd}: the answer has no {what}: {answer}")]
    Api {
        /// The command.
        cmd: &'static str,
        /// What the answer lacks.
        what: &'static str,
        /// The answer, as JSON.
        answer: String,
    },
    /// libxl's QMP socket lock could not be taken.
    #[error(transparent)]
    Lock(#[from] userdata::LockError),
}

impl QmpError {
    /// libxl's rc for this failure (libxl_types.idl's ERROR_QMP_* and
    /// friends, as libxl__ev_qmp reports them).
    pub fn rc(&self) -> i32 {
        match self {
            QmpError::Connect { .. } | QmpError::Lock(_) => -3,
            QmpError::Api { .. } => -32,
            // A socket read timeout is EAGAIN.
            QmpError::Io(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock
                ) =>
            {
                -9
            }
            QmpError::Io(_) | QmpError::Json(_) | QmpError::Closed => -26,
            QmpError::Command { class, .. } => match class.as_str() {
                "GenericError" => -28,
                "CommandNotFound" => -29,
                "DeviceNotActive" => -30,
                "DeviceNotFound" => -31,
                _ => -27,
            },
        }
    }
}

/// A QMP connection to one domain's device model, holding libxl's lock on it.
pub struct Qmp {
    out: UnixStream,
    replies: serde_json::StreamDeserializer<
        'static,
        serde_json::de::IoRead<BufReader<UnixStream>>,
        Value,
    >,
    next_id: u64,
    _lock: Option<FileLock>,
}

impl Qmp {
    /// Connect to `domid`'s device model (`uuid` names libxl's lock file)
    /// and leave capability negotiation.
    pub fn connect(
        paths: &crate::HostPaths,
        domid: u32,
        uuid: &[u8; 16],
        timeout: Duration,
    ) -> Result<Qmp, QmpError> {
        Qmp::connect_at(
            &paths.run.join(format!("qmp-libxl-{domid}")),
            &userdata::path(&paths.lib, domid, uuid, 'l', "qmp-socket-lock"),
            timeout,
        )
    }

    /// The same with explicit socket and lock-file paths.
    pub fn connect_at(path: &Path, lock: &Path, timeout: Duration) -> Result<Qmp, QmpError> {
        let lock = FileLock::take(lock)?;
        Qmp::open(path, Some(lock), timeout)
    }

    /// A socket nobody else shares, so no lock (libxenstat's
    /// `qmp-libxenstat-<domid>`).
    pub fn connect_unlocked(path: &Path, timeout: Duration) -> Result<Qmp, QmpError> {
        Qmp::open(path, None, timeout)
    }

    fn open(path: &Path, lock: Option<FileLock>, timeout: Duration) -> Result<Qmp, QmpError> {
        let stream = UnixStream::connect(path).map_err(|source| QmpError::Connect {
            path: path.display().to_string(),
            source,
        })?;
        stream.set_read_timeout(Some(timeout))?;
        stream.set_write_timeout(Some(timeout))?;
        let reader = BufReader::new(stream.try_clone()?);
        let mut q = Qmp {
            out: stream,
            replies: serde_json::Deserializer::from_reader(reader).into_iter(),
            next_id: 1,
            _lock: lock,
        };
        // The greeting, then capabilities negotiation.
        q.next()?;
        q.execute("qmp_capabilities", None)?;
        Ok(q)
    }

    fn next(&mut self) -> Result<Value, QmpError> {
        match self.replies.next() {
            Some(v) => Ok(v?),
            None => Err(QmpError::Closed),
        }
    }

    /// Run one command and return its `return` value; events in between
    /// are skipped.
    pub fn execute(&mut self, cmd: &str, args: Option<Value>) -> Result<Value, QmpError> {
        let (id, line) = self.message(cmd, args)?;
        self.out.write_all(&line)?;
        self.reply(cmd, id)
    }

    /// `add-fd`: hand QEMU an open file (libxl passes media this way, so
    /// that QEMU never parses a path); returns the fd set's id.
    pub fn add_fd(&mut self, file: &std::fs::File, opaque: &str) -> Result<i64, QmpError> {
        use rustix::net::{SendAncillaryBuffer, SendAncillaryMessage, SendFlags};
        use std::os::fd::AsFd;
        let (id, line) = self.message("add-fd", Some(json!({ "opaque": opaque })))?;
        let mut space = [std::mem::MaybeUninit::<u8>::uninit(); rustix::cmsg_space!(ScmRights(1))];
        let mut control = SendAncillaryBuffer::new(&mut space);
        let fds = [file.as_fd()];
        control.push(SendAncillaryMessage::ScmRights(&fds));
        let sent = rustix::net::sendmsg(
            &self.out,
            &[std::io::IoSlice::new(&line)],
            &mut control,
            SendFlags::empty(),
        )
        .map_err(std::io::Error::from)?;
        // The descriptor went with the first byte; the rest is plain.
        self.out.write_all(&line[sent..])?;
        let r = self.reply("add-fd", id)?;
        r.get("fdset-id")
            .and_then(Value::as_i64)
            .ok_or_else(|| QmpError::Command {
                cmd: "add-fd".into(),
                class: "?".into(),
                desc: format!("no fdset-id in {r}"),
            })
    }

    fn message(&mut self, cmd: &str, args: Option<Value>) -> Result<(u64, Vec<u8>), QmpError> {
        let id = self.next_id;
        self.next_id += 1;
        let mut msg = json!({ "execute": cmd, "id": id });
        if let Some(a) = args {
            msg["arguments"] = a;
        }
        let mut line = serde_json::to_vec(&msg)?;
        line.extend_from_slice(b"\r\n");
        Ok((id, line))
    }

    fn reply(&mut self, cmd: &str, id: u64) -> Result<Value, QmpError> {
        loop {
            let v = self.next()?;
            if v.get("id").and_then(Value::as_u64) != Some(id) {
                continue;
            }
            return match (v.get("return"), v.get("error")) {
                (Some(r), _) => Ok(r.clone()),
                (None, Some(e)) => Err(command_error(cmd, e)),
                (None, None) => Err(QmpError::Command {
                    cmd: cmd.to_string(),
                    class: "?".into(),
                    desc: v.to_string(),
                }),
            };
        }
    }
}

/// The CPU indices in a `query-cpus-fast` (`key` = "cpu-index") or
/// `query-cpus` ("CPU") answer; an entry without one is QEMU breaking
/// the API, as libxl sees it.
pub fn cpu_indices(v: &Value, key: &'static str) -> Result<Vec<u32>, QmpError> {
    let bad = || QmpError::Api {
        cmd: "query-cpus",
        what: key,
        answer: v.to_string(),
    };
    v.as_array()
        .ok_or_else(bad)?
        .iter()
        .map(|c| {
            c.get(key)
                .and_then(Value::as_u64)
                .and_then(|i| u32::try_from(i).ok())
                .ok_or_else(bad)
        })
        .collect()
}

fn command_error(cmd: &str, e: &Value) -> QmpError {
    let s = |k: &str| e.get(k).and_then(Value::as_str).unwrap_or("").to_string();
    QmpError::Command {
        cmd: cmd.to_string(),
        class: s("class"),
        desc: s("desc"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::BufRead;
    use std::os::unix::net::UnixListener;

    /// A QEMU that greets, accepts capabilities, answers `cont` after an
    /// event, and fails anything else.
    #[test]
    fn talks_like_qemu_expects() {
        let dir = std::env::temp_dir().join(format!("xl-qmp-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let sock = dir.join("qmp");
        let listener = UnixListener::bind(&sock).unwrap();
        let server = std::thread::spawn(move || {
            let (s, _) = listener.accept().unwrap();
            let mut w = s.try_clone().unwrap();
            let mut seen = Vec::new();
            w.write_all(b"{\"QMP\": {\"version\": {}, \"capabilities\": []}}\r\n")
                .unwrap();
            for line in BufReader::new(s).lines() {
                let v: Value = serde_json::from_str(&line.unwrap()).unwrap();
                let id = v["id"].clone();
                let cmd = v["execute"].as_str().unwrap().to_string();
                seen.push(cmd.clone());
                let reply = match cmd.as_str() {
                    "qmp_capabilities" => json!({"return": {}, "id": id}),
                    "cont" => {
                        w.write_all(b"{\"event\": \"RESUME\"}\r\n").unwrap();
                        json!({"return": {}, "id": id})
                    }
                    _ => json!({"error": {"class": "CommandNotFound", "desc": "no"}, "id": id}),
                };
                w.write_all(format!("{reply}\r\n").as_bytes()).unwrap();
            }
            seen
        });
        let mut q = Qmp::connect_at(&sock, &dir.join("lock"), Duration::from_secs(5)).unwrap();
        assert_eq!(q.execute("cont", None).unwrap(), json!({}));
        assert!(matches!(
            q.execute("bogus", None),
            Err(QmpError::Command { class, .. }) if class == "CommandNotFound"
        ));
        drop(q);
        assert_eq!(
            server.join().unwrap(),
            ["qmp_capabilities", "cont", "bogus"]
        );
        assert!(!dir.join("lock").exists(), "lock released");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn command_errors_carry_qemu_text() {
        let e = command_error(
            "cont",
            &json!({"class": "GenericError", "desc": "Resetting the Virtual Machine is required"}),
        );
        assert_eq!(
            e.to_string(),
            "QMP command cont failed: GenericError: Resetting the Virtual Machine is required"
        );
    }
}

/// Why `xl unpause` could not resume a domain's device model.
#[derive(Debug, thiserror::Error)]
pub enum UnpauseError {
    /// No domain has this id.
    #[error("domain {0} does not exist")]
    NoSuchDomain(u32),
    /// The domain's device model is not qemu-xen (its version named).
    #[error("resuming a device model of version {0} is not implemented (only qemu_xen)")]
    DeviceModel(String),
    /// The device model did not resume.
    #[error("resuming the device model failed")]
    Qmp(#[source] crate::Error),
    /// The hypervisor or xenstore failed.
    #[error(transparent)]
    Toolstack(#[from] crate::Error),
}

/// Unpause a domain as libxl does: an HVM guest's device model is told to
/// continue (QMP `cont`) before its vCPUs run again.
pub fn unpause(
    host: &crate::Host,
    xs: &impl xenstore::XsOps,
    domid: u32,
) -> Result<(), UnpauseError> {
    let hv = host.hv.as_ref();
    let info = hv.domain(domid)?.ok_or(UnpauseError::NoSuchDomain(domid))?;
    if crate::lifecycle::guest_kind(xs, &info) == GuestKind::Hvm {
        let dm = xs
            .try_read(&format!("/libxl/{domid}/dm-version"))
            .map_err(crate::Error::from)?
            .unwrap_or_else(|| "qemu_xen_traditional".into());
        if dm != "qemu_xen" {
            return Err(UnpauseError::DeviceModel(dm));
        }
        host.dom0
            .resume_device_model(domid, &info.uuid)
            .map_err(UnpauseError::Qmp)?;
    }
    Ok(hv.unpause(domid)?)
}
