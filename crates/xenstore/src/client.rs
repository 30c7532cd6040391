//! A xenstore client over a unix socket, the xenbus device, or any
//! byte stream.
//!
//! Until the first watch, a caller waiting for a reply reads the
//! connection itself (most commands never watch, and a thread and a
//! wake-up per reply cost more than the round trip). From the first
//! watch on, a background thread reads every incoming message. Either
//! way replies are matched to requests by `req_id` and watch events are
//! queued, so an [`Xs`] can be shared between threads and watch events are
//! never lost while a request is in flight.

use std::collections::{HashMap, VecDeque};
use std::env;
use std::ffi::OsString;
use std::fs::{File, OpenOptions};
use std::hash::{BuildHasherDefault, DefaultHasher};
use std::io::{self, BufReader, Read, Write};
use std::os::unix::fs::FileTypeExt;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread;
use std::time::{Duration, Instant};

use crate::wire::{Errno, Message, Op, PAYLOAD_MAX, Perm, WireError, join_args, split_args};

/// How many times [`Xs::transaction`] runs the closure before giving up
/// on `EAGAIN`.
pub const TRANSACTION_ATTEMPTS: u32 = 16;

/// Client errors.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Opening the socket or xenbus device failed.
    #[error("cannot connect to xenstored at {}: {source} (is xenstored running?)", path.display())]
    Connect {
        /// The socket or device that was tried.
        path: PathBuf,
        /// Why it could not be opened.
        #[source]
        source: io::Error,
    },
    /// The daemon answered with an error. `target` is the path (or domid)
    /// the request was about.
    #[error("xenstore {op} {target}: {errno} ({})", errno.description())]
    Xs {
        /// The request's operation.
        op: Op,
        /// The path or domid the request was about.
        target: String,
        /// The errno name the daemon sent.
        errno: Errno,
    },
    /// A request whose payload would exceed [`PAYLOAD_MAX`]; refused
    /// before anything is sent.
    #[error("xenstore {op} {target}: request of {len} bytes exceeds the {PAYLOAD_MAX}-byte limit")]
    TooLarge {
        /// The request's operation.
        op: Op,
        /// The path the request was about.
        target: String,
        /// The payload length in bytes.
        len: usize,
    },
    /// A path, value or token that would contain a NUL byte, which the
    /// wire format uses as separator; refused before anything is sent.
    #[error("xenstore {op}: argument {arg:?} contains a NUL byte")]
    NulInArgument {
        /// The request's operation.
        op: Op,
        /// The offending argument.
        arg: String,
    },
    /// A reply that does not fit the request (wrong type or malformed
    /// payload), or a request the client cannot make this way.
    #[error("xenstore {op} {target}: unexpected reply: {detail}")]
    Protocol {
        /// The request's operation.
        op: Op,
        /// The path the request was about.
        target: String,
        /// What was wrong.
        detail: String,
    },
    /// The connection broke (I/O error, EOF, reader thread gone); the
    /// text says why. The client is unusable afterwards.
    #[error("xenstore connection lost: {0}")]
    Disconnected(String),
}

impl Error {
    /// The daemon's errno, if this error came from the daemon.
    pub fn errno(&self) -> Option<&Errno> {
        match self {
            Error::Xs { errno, .. } => Some(errno),
            _ => None,
        }
    }

    /// Whether the daemon answered `ENOENT` (no such node).
    pub fn is_not_found(&self) -> bool {
        self.errno() == Some(&Errno::NotFound)
    }
}

/// A byte stream a client can run over. Reads and writes go through
/// shared references, so the caller, the writer and the reader thread
/// share one handle: no duplicate descriptors to make and close.
pub trait Transport: Send + Sync + Sized + 'static
where
    for<'a> &'a Self: Read + Write,
{
    /// Unblocks the reader thread when the client is dropped, if possible.
    fn close(&self) {}
    /// Whether several messages may go in one write (a byte stream), so
    /// pipelined requests cost one system call instead of one each.
    fn is_stream(&self) -> bool {
        false
    }
}

impl Transport for UnixStream {
    fn is_stream(&self) -> bool {
        true
    }

    fn close(&self) {
        let _ = self.shutdown(std::net::Shutdown::Both);
    }
}

/// The xenbus character device. Its reader thread stays blocked until the
/// next message arrives or the process exits, as std offers no way to
/// interrupt a blocking device read.
impl Transport for File {}

/// One shared transport handle, read or written through `&T`.
struct SharedHandle<T>(Arc<T>);

impl<T> Read for SharedHandle<T>
where
    for<'a> &'a T: Read,
{
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        (&*self.0).read(buf)
    }
}

impl<T> Write for SharedHandle<T>
where
    for<'a> &'a T: Write,
{
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        (&*self.0).write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        (&*self.0).flush()
    }
}

/// A watch firing: the path that changed and the token given to `watch`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WatchEvent {
    /// The node that changed (or `@introduceDomain` / `@releaseDomain`).
    pub path: String,
    /// The token the watch was registered with.
    pub token: String,
}

/// Maps keyed by our own request ids and paths: nothing to randomise
/// against, and std's random keys cost a getrandom call at start.
type Map<K, V> = HashMap<K, V, BuildHasherDefault<DefaultHasher>>;

#[derive(Default)]
struct Inbox {
    replies: Map<u32, Message>,
    events: VecDeque<WatchEvent>,
    closed: Option<String>,
}

#[derive(Default)]
struct Shared {
    inbox: Mutex<Inbox>,
    arrived: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Inbox> {
        self.inbox.lock().unwrap_or_else(|e| e.into_inner())
    }
}

type Closer = Box<dyn FnOnce() + Send>;

type Reader = BufReader<Box<dyn Read + Send>>;

/// A connection to xenstored.
pub struct Xs {
    shared: Arc<Shared>,
    writer: Mutex<Box<dyn Write + Send>>,
    /// The read half while no reader thread runs (before the first watch).
    reader: Mutex<Option<Reader>>,
    closer: Mutex<Option<Closer>>,
    next_req: AtomicU32,
    /// Replies to reads asked for ahead of time ([`Xs::prefetch`]), by
    /// operation and payload; each answers one later identical request.
    prefetched: Mutex<Map<(Op, Vec<u8>), Message>>,
    /// The writer is a byte stream: pipelined messages share one write.
    stream: bool,
}

/// Room for a whole reply and the next header, so pipelined replies are
/// read in few system calls.
const READ_BUFFER: usize = 2 * (PAYLOAD_MAX + 16);

/// Where libxenstore would look, in order: `$XENSTORED_PATH` alone if set;
/// otherwise the daemon socket (under `$XENSTORED_RUNDIR` if set, else
/// `/run/xenstored` then `/var/run/xenstored`) followed by the xenbus device.
pub fn default_paths() -> Vec<PathBuf> {
    paths_from(|k| env::var_os(k))
}

fn paths_from(var: impl Fn(&str) -> Option<OsString>) -> Vec<PathBuf> {
    if let Some(p) = var("XENSTORED_PATH") {
        return vec![PathBuf::from(p)];
    }
    let mut paths = match var("XENSTORED_RUNDIR") {
        Some(dir) => vec![Path::new(&dir).join("socket")],
        None => vec![
            PathBuf::from("/run/xenstored/socket"),
            PathBuf::from("/var/run/xenstored/socket"),
        ],
    };
    paths.push(PathBuf::from("/dev/xen/xenbus"));
    paths.push(PathBuf::from("/proc/xen/xenbus"));
    paths
}

impl Xs {
    /// Connects the way libxenstore's `xs_open` does (see [`default_paths`]):
    /// the first candidate that works wins. Otherwise the error reported is
    /// the first that is not "no such file", as that one says most.
    pub fn open() -> Result<Xs, Error> {
        let (mut missing, mut failed) = (None, None);
        for p in default_paths() {
            match Xs::open_path(p) {
                Ok(xs) => return Ok(xs),
                Err(Error::Connect { path, source })
                    if source.kind() == io::ErrorKind::NotFound =>
                {
                    missing.get_or_insert(Error::Connect { path, source });
                }
                Err(e) => {
                    failed.get_or_insert(e);
                }
            }
        }
        Err(failed.or(missing).expect("default_paths is never empty"))
    }

    /// Connects to a socket, or opens a device, at `path` (decided by the
    /// file type, as libxenstore does).
    pub fn open_path(path: impl AsRef<Path>) -> Result<Xs, Error> {
        let started = tracing();
        let r = Xs::open_path_untraced(path.as_ref());
        if let (Some(t), Ok(_)) = (started, &r) {
            trace_done(t, format_args!("connected ({})", path.as_ref().display()));
        }
        r
    }

    fn open_path_untraced(path: &Path) -> Result<Xs, Error> {
        let fail = |source| Error::Connect {
            path: path.to_owned(),
            source,
        };
        // A socket, as on most hosts, takes one connect; only if that
        // fails does the file's type decide (libxenstore stats first).
        let refused = match UnixStream::connect(path) {
            Ok(s) => return Xs::new(s).map_err(fail),
            Err(e) => e,
        };
        let meta = std::fs::metadata(path).map_err(fail)?;
        if meta.file_type().is_socket() {
            Err(fail(refused))
        } else {
            let dev = OpenOptions::new()
                .read(true)
                .write(true)
                .open(path)
                .map_err(fail)?;
            Xs::new(dev).map_err(fail)
        }
    }

    /// Runs a client over `transport`.
    pub fn new<T: Transport>(transport: T) -> io::Result<Xs>
    where
        for<'a> &'a T: Read + Write,
    {
        let transport = Arc::new(transport);
        let stream = transport.is_stream();
        let mut xs = Xs::from_parts(
            SharedHandle(Arc::clone(&transport)),
            SharedHandle(Arc::clone(&transport)),
        )?;
        xs.closer = Mutex::new(Some(Box::new(move || transport.close())));
        xs.stream = stream;
        Ok(xs)
    }

    /// Runs a client over separate read and write halves. Once a watch
    /// started the reader thread, dropping the client does not stop it
    /// until `reader` hits EOF.
    pub fn from_parts<R, W>(reader: R, writer: W) -> io::Result<Xs>
    where
        R: Read + Send + 'static,
        W: Write + Send + 'static,
    {
        let reader: Box<dyn Read + Send> = Box::new(reader);
        Ok(Xs {
            shared: Arc::new(Shared::default()),
            writer: Mutex::new(Box::new(writer)),
            reader: Mutex::new(Some(BufReader::with_capacity(READ_BUFFER, reader))),
            closer: Mutex::new(None),
            next_req: AtomicU32::new(1),
            prefetched: Mutex::new(Map::default()),
            stream: false,
        })
    }

    /// Sends these reads and directory listings (outside any transaction)
    /// in one pipelined round trip and keeps the replies: each answers the
    /// next identical request. For commands that walk many domains the
    /// same way (`xl list -l`): their reads are issued together instead of
    /// one round trip each. Any change this client makes outside a
    /// transaction, or any transaction's end, drops what is kept, so a
    /// kept reply never hides a change of ours.
    pub fn prefetch(&self, requests: &[(Op, &str)]) -> Result<(), Error> {
        let started = tracing();
        let mut asked = Vec::with_capacity(requests.len());
        for &(op, path) in requests {
            if !matches!(op, Op::Read | Op::Directory) {
                return Err(Error::Protocol {
                    op,
                    target: path.to_owned(),
                    detail: "only reads can be prefetched".into(),
                });
            }
            asked.push((op, path, join_args([arg(op, path)?])));
        }
        let ids = self.send_pipelined(0, &asked)?;
        let keys = ids
            .into_iter()
            .zip(asked)
            .map(|(req_id, (op, _, payload))| (req_id, (op, payload)));
        let mut kept = Map::with_capacity_and_hasher(requests.len(), Default::default());
        for (req_id, key) in keys {
            kept.insert(key, self.await_reply(req_id)?);
        }
        self.prefetched
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend(kept);
        if let Some(t) = started {
            let first = requests.first().map_or("", |r| r.1);
            trace_done(
                t,
                format_args!("{} reads prefetched ({first}, ...)", requests.len()),
            );
        }
        Ok(())
    }

    /// How many prefetched replies no request has used yet.
    pub fn prefetched_unused(&self) -> usize {
        self.prefetched
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .len()
    }

    /// The kept reply for this request, if any. A change (in a
    /// transaction or not) drops the kept replies it could make stale: the
    /// changed node's, its ancestors' (their listings) and its
    /// descendants'; operations whose effect is not a path drop them all.
    fn take_prefetched(&self, op: Op, tx_id: u32, payload: &[u8]) -> Option<Message> {
        let mut kept = self.prefetched.lock().unwrap_or_else(|e| e.into_inner());
        if kept.is_empty() {
            return None;
        }
        match op {
            Op::Read | Op::Directory if tx_id == 0 => kept.remove(&(op, payload.to_vec())),
            Op::Read
            | Op::Directory
            | Op::DirectoryPart
            | Op::GetPerms
            | Op::TransactionStart
            | Op::TransactionEnd
            | Op::Watch
            | Op::Unwatch
            | Op::GetDomainPath
            | Op::IsDomainIntroduced => None,
            Op::Write | Op::Mkdir | Op::Rm | Op::SetPerms => {
                let changed = first_string(payload);
                kept.retain(|(_, p), _| !related(&first_string(p), &changed));
                None
            }
            _ => {
                kept.clear();
                None
            }
        }
    }

    /// Hands the read half to a background thread, so watch events are
    /// queued while no one waits for a reply.
    fn start_reader_thread(&self) -> Result<(), Error> {
        let mut slot = self.reader.lock().unwrap_or_else(|e| e.into_inner());
        let Some(mut reader) = slot.take() else {
            return Ok(());
        };
        let inbox = Arc::clone(&self.shared);
        let spawned = thread::Builder::new()
            .name("xenstore-reader".into())
            .spawn(move || {
                let why = loop {
                    if let Err(why) = receive(&mut reader, &inbox, true) {
                        break why;
                    }
                };
                inbox.lock().closed = Some(why);
                inbox.arrived.notify_all();
            });
        spawned
            .map(drop)
            .map_err(|e| Error::Disconnected(format!("cannot start the reader thread: {e}")))
    }

    /// Sends a request and waits for its reply. `target` labels errors
    /// and `-vvv` trace lines.
    fn call(&self, op: Op, tx_id: u32, target: &str, payload: Vec<u8>) -> Result<Vec<u8>, Error> {
        let started = tracing();
        let r = self.call_untraced(op, tx_id, target, payload);
        if let Some(t) = started {
            let outcome = match &r {
                Ok(reply) => format!("{} bytes", reply.len()),
                Err(Error::Xs { errno, .. }) => format!("{errno} ({})", errno.description()),
                Err(e) => e.to_string(),
            };
            trace_done(t, format_args!("{op} {target}: {outcome}"));
        }
        r
    }

    fn call_untraced(
        &self,
        op: Op,
        tx_id: u32,
        target: &str,
        payload: Vec<u8>,
    ) -> Result<Vec<u8>, Error> {
        if payload.len() > PAYLOAD_MAX {
            return Err(Error::TooLarge {
                op,
                target: target.to_owned(),
                len: payload.len(),
            });
        }
        let reply = match self.take_prefetched(op, tx_id, &payload) {
            Some(kept) => kept,
            None => {
                let req_id = self.next_req.fetch_add(1, Ordering::Relaxed);
                let buf = Message::new(op, req_id, tx_id, payload)
                    .encode()
                    .expect("size checked above");
                {
                    let mut w = self.writer.lock().unwrap_or_else(|e| e.into_inner());
                    w.write_all(&buf)
                        .and_then(|()| w.flush())
                        .map_err(|e| Error::Disconnected(e.to_string()))?;
                }
                self.await_reply(req_id)?
            }
        };
        if reply.op == Op::Error {
            return Err(Error::Xs {
                op,
                target: target.to_owned(),
                errno: Errno::from_payload(&reply.payload),
            });
        }
        if reply.op != op {
            return Err(Error::Protocol {
                op,
                target: target.to_owned(),
                detail: format!("reply type {}", reply.op),
            });
        }
        Ok(reply.payload)
    }

    /// Waits for the reply to `req_id`. Replies are filed by request id
    /// (by whoever reads them), so pipelined requests may be collected in
    /// any order.
    fn await_reply(&self, req_id: u32) -> Result<Message, Error> {
        loop {
            {
                let mut inbox = self.shared.lock();
                if let Some(m) = inbox.replies.remove(&req_id) {
                    return Ok(m);
                }
                if let Some(why) = &inbox.closed {
                    return Err(Error::Disconnected(why.clone()));
                }
            }
            let mut reader = self.reader.lock().unwrap_or_else(|e| e.into_inner());
            let Some(r) = reader.as_mut() else {
                drop(reader);
                return self.await_reply_from_thread(req_id);
            };
            // Another caller may have filed our reply while we waited for
            // the read half; the loop looks again before reading more.
            if self.shared.lock().replies.contains_key(&req_id) {
                continue;
            }
            // Only a reader thread's callers wait on the condition
            // variable; waking it per reply would be a system call each.
            if let Err(why) = receive(r, &self.shared, false) {
                self.shared.lock().closed = Some(why);
                self.shared.arrived.notify_all();
            }
        }
    }

    /// [`Xs::await_reply`] once the reader thread owns the read half.
    fn await_reply_from_thread(&self, req_id: u32) -> Result<Message, Error> {
        let mut inbox = self.shared.lock();
        loop {
            if let Some(m) = inbox.replies.remove(&req_id) {
                return Ok(m);
            }
            if let Some(why) = &inbox.closed {
                return Err(Error::Disconnected(why.clone()));
            }
            inbox = self
                .shared
                .arrived
                .wait(inbox)
                .unwrap_or_else(|e| e.into_inner());
        }
    }

    /// Encodes requests (operation, target for errors, payload) within
    /// transaction `tx_id` (0 for none) and sends them back to back;
    /// returns their request ids, in order.
    fn send_pipelined(&self, tx_id: u32, reqs: &[(Op, &str, Vec<u8>)]) -> Result<Vec<u32>, Error> {
        let mut ids = Vec::with_capacity(reqs.len());
        let mut msgs = Vec::with_capacity(reqs.len());
        for (op, target, payload) in reqs {
            if payload.len() > PAYLOAD_MAX {
                return Err(Error::TooLarge {
                    op: *op,
                    target: (*target).to_owned(),
                    len: payload.len(),
                });
            }
            let req_id = self.next_req.fetch_add(1, Ordering::Relaxed);
            let msg = Message::new(*op, req_id, tx_id, payload.clone());
            msgs.push(msg.encode().expect("size checked above"));
            ids.push(req_id);
        }
        self.write_messages(&msgs)?;
        Ok(ids)
    }

    /// Sends encoded requests back to back: in one write over a socket,
    /// one write each otherwise (the kernel's /dev/xen/xenbus takes one
    /// message per write and drops the rest of a longer one).
    fn write_messages(&self, msgs: &[Vec<u8>]) -> Result<(), Error> {
        let mut w = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        let lost = |e: io::Error| Error::Disconnected(e.to_string());
        if self.stream && msgs.len() > 1 {
            w.write_all(&msgs.concat()).map_err(lost)?;
        } else {
            for m in msgs {
                w.write_all(m).map_err(lost)?;
            }
        }
        w.flush().map_err(lost)
    }

    /// Reads many nodes with the requests pipelined (xenstored answers
    /// each connection in order), so N reads cost one round trip rather
    /// than N. Missing nodes are `None`.
    pub fn read_many(&self, paths: &[String]) -> Result<Vec<Option<String>>, Error> {
        self.read_many_in(0, paths)
    }

    /// [`Xs::read_many`] within transaction `tx_id` (0: none).
    fn read_many_in(&self, tx_id: u32, paths: &[String]) -> Result<Vec<Option<String>>, Error> {
        let started = tracing();
        let r = self.read_many_untraced(tx_id, paths);
        if let Some(t) = started {
            let first = paths.first().map_or("", String::as_str);
            trace_done(
                t,
                format_args!("{} reads pipelined ({first}, ...)", paths.len()),
            );
        }
        r
    }

    fn read_many_untraced(
        &self,
        tx_id: u32,
        paths: &[String],
    ) -> Result<Vec<Option<String>>, Error> {
        let payloads = paths
            .iter()
            .map(|p| Ok(join_args([arg(Op::Read, p)?])))
            .collect::<Result<Vec<_>, Error>>()?;
        // Each path's reply: kept from a prefetch (outside transactions),
        // or asked for now.
        let kept: Vec<Option<Message>> = payloads
            .iter()
            .map(|payload| {
                (tx_id == 0)
                    .then(|| self.take_prefetched(Op::Read, 0, payload))
                    .flatten()
            })
            .collect();
        let asked: Vec<(Op, &str, Vec<u8>)> = kept
            .iter()
            .zip(paths)
            .zip(payloads)
            .filter(|((k, _), _)| k.is_none())
            .map(|((_, p), payload)| (Op::Read, p.as_str(), payload))
            .collect();
        let mut ids = self.send_pipelined(tx_id, &asked)?.into_iter();
        let mut out = Vec::with_capacity(paths.len());
        for (kept, path) in kept.into_iter().zip(paths) {
            let reply = match kept {
                Some(m) => m,
                None => self.await_reply(ids.next().expect("one id per request sent"))?,
            };
            match reply.op {
                Op::Read => out.push(Some(String::from_utf8_lossy(&reply.payload).into_owned())),
                Op::Error => {
                    let errno = Errno::from_payload(&reply.payload);
                    if errno == Errno::NotFound {
                        out.push(None);
                    } else {
                        return Err(Error::Xs {
                            op: Op::Read,
                            target: path.clone(),
                            errno,
                        });
                    }
                }
                other => {
                    return Err(Error::Protocol {
                        op: Op::Read,
                        target: path.clone(),
                        detail: format!("reply type {other}"),
                    });
                }
            }
        }
        Ok(out)
    }

    /// Sends every request of `batch` at once (within transaction `tx_id`,
    /// 0 for none) and then collects the replies: N changes cost one round
    /// trip rather than N. The first failure is returned, after all replies
    /// are in, so none is left behind for a later request.
    fn send_batch(&self, tx_id: u32, batch: Batch) -> Result<(), Error> {
        let reqs = batch.reqs.into_inner();
        let started = tracing();
        let r = self.send_requests(tx_id, &reqs);
        if let Some(t) = started {
            let first = reqs.first().map_or("", |r| r.target.as_str());
            trace_done(
                t,
                format_args!("{} changes pipelined ({first}, ...)", reqs.len()),
            );
        }
        r
    }

    fn send_requests(&self, tx_id: u32, reqs: &[BatchedRequest]) -> Result<(), Error> {
        for r in reqs {
            self.take_prefetched(r.op, tx_id, &r.payload);
        }
        let asked: Vec<(Op, &str, Vec<u8>)> = reqs
            .iter()
            .map(|r| (r.op, r.target.as_str(), r.payload.clone()))
            .collect();
        let ids = self.send_pipelined(tx_id, &asked)?;
        let mut first_error = None;
        for (req_id, r) in ids.into_iter().zip(reqs) {
            let reply = self.await_reply(req_id)?;
            let failure = match reply.op {
                Op::Error => {
                    let errno = Errno::from_payload(&reply.payload);
                    (!(r.missing_ok && errno == Errno::NotFound)).then(|| Error::Xs {
                        op: r.op,
                        target: r.target.clone(),
                        errno,
                    })
                }
                op if op == r.op => None,
                other => Some(Error::Protocol {
                    op: r.op,
                    target: r.target.clone(),
                    detail: format!("reply type {other}"),
                }),
            };
            if first_error.is_none() {
                first_error = failure;
            }
        }
        first_error.map_or(Ok(()), Err)
    }

    /// Changes made together outside a transaction (see [`Batch`]).
    pub fn batch(&self, f: impl FnOnce(&Batch) -> Result<(), Error>) -> Result<(), Error> {
        let b = Batch::default();
        f(&b)?;
        self.send_batch(0, b)
    }

    /// Registers a watch. xenstored fires it once straight away, then for
    /// every change at or below `path` (or for the special `@introduceDomain`
    /// and `@releaseDomain` events).
    pub fn watch(&self, path: &str, token: &str) -> Result<(), Error> {
        self.start_reader_thread()?;
        let payload = join_args([arg(Op::Watch, path)?, arg(Op::Watch, token)?]);
        self.call(Op::Watch, 0, path, payload).map(drop)
    }

    /// Removes a watch and drops its still-queued events.
    pub fn unwatch(&self, path: &str, token: &str) -> Result<(), Error> {
        let payload = join_args([arg(Op::Unwatch, path)?, arg(Op::Unwatch, token)?]);
        self.call(Op::Unwatch, 0, path, payload)?;
        self.shared
            .lock()
            .events
            .retain(|e| e.token != token || !is_child(&e.path, path));
        Ok(())
    }

    /// Waits up to `timeout` for a watch event; `Ok(None)` on timeout.
    pub fn wait_watch(&self, timeout: Duration) -> Result<Option<WatchEvent>, Error> {
        self.next_event(Some(Instant::now() + timeout))
    }

    /// Blocks until a watch event arrives.
    pub fn next_watch(&self) -> Result<WatchEvent, Error> {
        self.next_event(None)
            .map(|e| e.expect("no deadline, so no timeout"))
    }

    /// Returns a queued watch event without waiting.
    pub fn try_watch(&self) -> Option<WatchEvent> {
        self.shared.lock().events.pop_front()
    }

    fn next_event(&self, deadline: Option<Instant>) -> Result<Option<WatchEvent>, Error> {
        let mut inbox = self.shared.lock();
        loop {
            if let Some(e) = inbox.events.pop_front() {
                return Ok(Some(e));
            }
            if let Some(why) = &inbox.closed {
                return Err(Error::Disconnected(why.clone()));
            }
            let cond = &self.shared.arrived;
            inbox = match deadline {
                None => cond.wait(inbox).unwrap_or_else(|e| e.into_inner()),
                Some(d) => {
                    let Some(left) = d.checked_duration_since(Instant::now()) else {
                        return Ok(None);
                    };
                    cond.wait_timeout(inbox, left)
                        .unwrap_or_else(|e| e.into_inner())
                        .0
                }
            };
        }
    }

    /// Starts a transaction. Dropping it without `commit` aborts it.
    pub fn transaction_start(&self) -> Result<Transaction<'_>, Error> {
        let reply = self.call(Op::TransactionStart, 0, "", vec![0])?;
        let id = first_string(&reply).parse().map_err(|_| Error::Protocol {
            op: Op::TransactionStart,
            target: String::new(),
            detail: format!("bad transaction id {:?}", String::from_utf8_lossy(&reply)),
        })?;
        Ok(Transaction {
            xs: self,
            id,
            done: false,
        })
    }

    /// Runs `f` in a transaction and commits, rerunning everything when
    /// the commit reports `EAGAIN` (up to [`TRANSACTION_ATTEMPTS`] times).
    /// If `f` fails the transaction is aborted and the error returned.
    pub fn transaction<T, E, F>(&self, mut f: F) -> Result<T, E>
    where
        F: FnMut(&Transaction<'_>) -> Result<T, E>,
        E: From<Error>,
    {
        let mut attempt = 1;
        loop {
            let tx = self.transaction_start()?;
            let value = f(&tx)?;
            match tx.commit() {
                Ok(()) => return Ok(value),
                Err(e) if e.errno() == Some(&Errno::Again) && attempt < TRANSACTION_ATTEMPTS => {
                    // Brief backoff so competing writers interleave less.
                    thread::sleep(Duration::from_millis(u64::from(attempt.min(10))));
                    attempt += 1;
                }
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Tells xenstored about a new domain's ring page and event channel.
    pub fn introduce_domain(&self, domid: u32, gfn: u64, evtchn: u32) -> Result<(), Error> {
        let payload = join_args([domid.to_string(), gfn.to_string(), evtchn.to_string()]);
        self.call(Op::Introduce, 0, &domid.to_string(), payload)
            .map(drop)
    }

    /// Makes xenstored forget a domain (firing `@releaseDomain`).
    pub fn release_domain(&self, domid: u32) -> Result<(), Error> {
        self.domid_call(Op::Release, domid).map(drop)
    }

    /// Re-arms `@releaseDomain` for a domain that was shut down and resumed.
    pub fn resume_domain(&self, domid: u32) -> Result<(), Error> {
        self.domid_call(Op::Resume, domid).map(drop)
    }

    /// `/local/domain/<domid>`, as the daemon computes it.
    pub fn get_domain_path(&self, domid: u32) -> Result<String, Error> {
        self.domid_call(Op::GetDomainPath, domid)
            .map(|r| first_string(&r))
    }

    /// Whether xenstored knows domain `domid` (`IS_DOMAIN_INTRODUCED`).
    pub fn is_domain_introduced(&self, domid: u32) -> Result<bool, Error> {
        let reply = self.domid_call(Op::IsDomainIntroduced, domid)?;
        Ok(first_string(&reply) == "T")
    }

    /// Lets `domid` act on `target`'s nodes as if it owned them.
    pub fn set_target(&self, domid: u32, target: u32) -> Result<(), Error> {
        let payload = join_args([domid.to_string(), target.to_string()]);
        self.call(Op::SetTarget, 0, &domid.to_string(), payload)
            .map(drop)
    }

    fn domid_call(&self, op: Op, domid: u32) -> Result<Vec<u8>, Error> {
        let d = domid.to_string();
        self.call(op, 0, &d, join_args([&d]))
    }
}

impl Drop for Xs {
    fn drop(&mut self) {
        // With no reader thread, nothing is blocked on the connection:
        // dropping the handle closes it, one system call fewer.
        let no_thread = self
            .reader
            .get_mut()
            .unwrap_or_else(|e| e.into_inner())
            .is_some();
        if no_thread {
            return;
        }
        let close = self
            .closer
            .get_mut()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        if let Some(close) = close {
            close();
        }
    }
}

/// The start time of a request, when `-vvv` asked for trace lines.
fn tracing() -> Option<Instant> {
    log::log_enabled!(log::Level::Trace).then(Instant::now)
}

fn trace_done(started: Instant, what: std::fmt::Arguments<'_>) {
    let ms = started.elapsed().as_secs_f64() * 1e3;
    log::trace!("xenstore {what} ({ms:.3} ms)");
}

/// Reads one message and files it: a reply by its request id, a watch
/// event in the event queue. Errors say why the connection is unusable.
/// `wake` wakes callers waiting on the reader thread for a reply (watch
/// events always wake).
fn receive(reader: &mut Reader, shared: &Shared, wake: bool) -> Result<(), String> {
    match Message::read_from(reader) {
        Ok(msg) if msg.op == Op::WatchEvent => {
            let (args, _) = split_args(&msg.payload);
            if let [path, token, ..] = args[..] {
                let event = WatchEvent {
                    path: String::from_utf8_lossy(path).into_owned(),
                    token: String::from_utf8_lossy(token).into_owned(),
                };
                shared.lock().events.push_back(event);
                shared.arrived.notify_all();
            }
            Ok(())
        }
        Ok(msg) => {
            shared.lock().replies.insert(msg.req_id, msg);
            if wake {
                shared.arrived.notify_all();
            }
            Ok(())
        }
        Err(WireError::Closed) => Err("closed by xenstored".to_owned()),
        Err(e) => Err(e.to_string()),
    }
}

fn arg(op: Op, s: &str) -> Result<&str, Error> {
    if s.contains('\0') {
        return Err(Error::NulInArgument {
            op,
            arg: s.to_owned(),
        });
    }
    Ok(s)
}

fn first_string(payload: &[u8]) -> String {
    let s = payload.split(|&b| b == 0).next().unwrap_or_default();
    String::from_utf8_lossy(s).into_owned()
}

/// Whether a change at one of these paths can change what is read at the
/// other (relative paths: assume so).
fn related(a: &str, b: &str) -> bool {
    !a.starts_with('/') || !b.starts_with('/') || is_child(a, b) || is_child(b, a)
}

fn is_child(path: &str, parent: &str) -> bool {
    parent == "/"
        || path == parent
        || path
            .strip_prefix(parent)
            .is_some_and(|rest| rest.starts_with('/'))
}

/// Node operations, available on [`Xs`] directly and inside a
/// [`Transaction`].
pub trait XsOps {
    /// Sends one raw request (within this handle's transaction, if any)
    /// and returns the reply payload. `target` only labels errors.
    fn request(&self, op: Op, target: &str, payload: Vec<u8>) -> Result<Vec<u8>, Error>;

    /// The value at `path`, as bytes.
    fn read_bytes(&self, path: &str) -> Result<Vec<u8>, Error> {
        self.request(Op::Read, path, join_args([arg(Op::Read, path)?]))
    }

    /// The value at `path`; bytes that are not UTF-8 are replaced, since
    /// well-formed xenstore values are ASCII.
    fn read(&self, path: &str) -> Result<String, Error> {
        self.read_bytes(path)
            .map(|v| String::from_utf8_lossy(&v).into_owned())
    }

    /// The value at `path`, or `None` if the node does not exist.
    fn try_read(&self, path: &str) -> Result<Option<String>, Error> {
        match self.read(path) {
            Ok(v) => Ok(Some(v)),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Whether a node exists at `path`.
    fn exists(&self, path: &str) -> Result<bool, Error> {
        self.try_read(path).map(|v| v.is_some())
    }

    /// Writes `value`, creating missing parents with empty values.
    fn write(&self, path: &str, value: &str) -> Result<(), Error> {
        self.write_bytes(path, value.as_bytes())
    }

    /// Writes raw bytes as the value at `path`, like [`write`](Self::write).
    fn write_bytes(&self, path: &str, value: &[u8]) -> Result<(), Error> {
        let mut payload = arg(Op::Write, path)?.as_bytes().to_vec();
        payload.push(0);
        payload.extend_from_slice(value);
        self.request(Op::Write, path, payload).map(drop)
    }

    /// Creates `path` (and parents) if missing; existing values are kept.
    fn mkdir(&self, path: &str) -> Result<(), Error> {
        self.request(Op::Mkdir, path, join_args([arg(Op::Mkdir, path)?]))
            .map(drop)
    }

    /// Removes `path` and everything below it. Not an error if `path` is
    /// already gone, but it is if its parent is too.
    fn rm(&self, path: &str) -> Result<(), Error> {
        self.request(Op::Rm, path, join_args([arg(Op::Rm, path)?]))
            .map(drop)
    }

    /// Names of the immediate children of `path`, in creation order.
    fn directory(&self, path: &str) -> Result<Vec<String>, Error> {
        let reply = match self.request(Op::Directory, path, join_args([arg(Op::Directory, path)?]))
        {
            Err(e) if e.errno() == Some(&Errno::TooBig) => return directory_part(self, path),
            r => r?,
        };
        let (names, _) = split_args(&reply);
        Ok(names
            .into_iter()
            .map(|n| String::from_utf8_lossy(n).into_owned())
            .collect())
    }

    /// Permissions of `path`; the first entry is the owner.
    fn get_perms(&self, path: &str) -> Result<Vec<Perm>, Error> {
        let reply = self.request(Op::GetPerms, path, join_args([arg(Op::GetPerms, path)?]))?;
        let (strings, _) = split_args(&reply);
        strings
            .into_iter()
            .map(|s| {
                String::from_utf8_lossy(s)
                    .parse()
                    .map_err(|e: crate::wire::ParsePermError| Error::Protocol {
                        op: Op::GetPerms,
                        target: path.to_owned(),
                        detail: e.to_string(),
                    })
            })
            .collect()
    }

    /// Replaces the permissions of `path`; `perms[0]` is the owner.
    fn set_perms(&self, path: &str, perms: &[Perm]) -> Result<(), Error> {
        let mut args = vec![arg(Op::SetPerms, path)?.to_owned()];
        args.extend(perms.iter().map(Perm::to_string));
        self.request(Op::SetPerms, path, join_args(args)).map(drop)
    }
}

/// Changes recorded to be sent together: writes, mkdirs, removals and
/// permissions, whose replies decide nothing but success. Reads cannot be
/// batched (their answer would come too late), and say so.
#[derive(Default)]
pub struct Batch {
    reqs: std::cell::RefCell<Vec<BatchedRequest>>,
}

struct BatchedRequest {
    op: Op,
    target: String,
    payload: Vec<u8>,
    /// A missing node is not a failure (removing what may not exist).
    missing_ok: bool,
}

impl Batch {
    /// Removes `path` if it exists; a missing node (or parent) is fine.
    pub fn rm_if_present(&self, path: &str) -> Result<(), Error> {
        self.reqs.borrow_mut().push(BatchedRequest {
            op: Op::Rm,
            target: path.to_owned(),
            payload: join_args([arg(Op::Rm, path)?]),
            missing_ok: true,
        });
        Ok(())
    }

    /// How many requests are recorded.
    pub fn len(&self) -> usize {
        self.reqs.borrow().len()
    }

    /// Whether no request is recorded.
    pub fn is_empty(&self) -> bool {
        self.reqs.borrow().is_empty()
    }
}

impl XsOps for Batch {
    fn request(&self, op: Op, target: &str, payload: Vec<u8>) -> Result<Vec<u8>, Error> {
        if matches!(op, Op::Write | Op::Mkdir | Op::Rm | Op::SetPerms) {
            self.reqs.borrow_mut().push(BatchedRequest {
                op,
                target: target.to_owned(),
                payload,
                missing_ok: false,
            });
            Ok(Vec::new())
        } else {
            Err(Error::Protocol {
                op,
                target: target.to_owned(),
                detail: "only changes can be batched".into(),
            })
        }
    }
}

/// Lists a directory too large for one reply, chunk by chunk; restarts if
/// the node's generation changes between chunks.
fn directory_part<O: XsOps + ?Sized>(ops: &O, path: &str) -> Result<Vec<String>, Error> {
    'restart: loop {
        let mut list: Vec<u8> = Vec::new();
        let mut generation: Option<Vec<u8>> = None;
        loop {
            let off = list.len().to_string();
            let reply = ops.request(Op::DirectoryPart, path, join_args([path, off.as_str()]))?;
            let nul = reply
                .iter()
                .position(|&b| b == 0)
                .ok_or_else(|| Error::Protocol {
                    op: Op::DirectoryPart,
                    target: path.to_owned(),
                    detail: "missing generation".into(),
                })?;
            let (gen_here, chunk) = (&reply[..nul], &reply[nul + 1..]);
            match &generation {
                Some(g) if g != gen_here => continue 'restart,
                Some(_) => {}
                None => generation = Some(gen_here.to_vec()),
            }
            list.extend_from_slice(chunk);
            // The full list ends with an empty name, i.e. a double NUL.
            if chunk.is_empty() || list.len() <= 1 || list.ends_with(&[0, 0]) {
                break;
            }
        }
        let (names, _) = split_args(&list);
        return Ok(names
            .into_iter()
            .filter(|n| !n.is_empty())
            .map(|n| String::from_utf8_lossy(n).into_owned())
            .collect());
    }
}

impl XsOps for Xs {
    fn request(&self, op: Op, target: &str, payload: Vec<u8>) -> Result<Vec<u8>, Error> {
        self.call(op, 0, target, payload)
    }
}

/// An open transaction. Operations through it see a snapshot of the
/// store; nothing is visible to others until [`commit`](Self::commit).
pub struct Transaction<'a> {
    xs: &'a Xs,
    id: u32,
    done: bool,
}

impl Transaction<'_> {
    /// The transaction id the daemon assigned, sent as `tx_id` on each request.
    pub fn id(&self) -> u32 {
        self.id
    }

    /// Changes made together within this transaction (see [`Batch`]).
    pub fn batch(&self, f: impl FnOnce(&Batch) -> Result<(), Error>) -> Result<(), Error> {
        let b = Batch::default();
        f(&b)?;
        self.xs.send_batch(self.id, b)
    }

    /// Reads many nodes in one round trip within this transaction (see
    /// [`Xs::read_many`]).
    pub fn read_many(&self, paths: &[String]) -> Result<Vec<Option<String>>, Error> {
        self.xs.read_many_in(self.id, paths)
    }

    /// Commits. `EAGAIN` (see [`Error::errno`]) means another client
    /// changed something this transaction used: start over.
    pub fn commit(self) -> Result<(), Error> {
        self.end(true)
    }

    /// Aborts: all changes made through this transaction are discarded.
    pub fn abort(self) -> Result<(), Error> {
        self.end(false)
    }

    /// Ends the transaction, committing if `commit`.
    pub fn end(mut self, commit: bool) -> Result<(), Error> {
        self.done = true;
        self.send_end(commit)
    }

    fn send_end(&self, commit: bool) -> Result<(), Error> {
        let flag = if commit { "T" } else { "F" };
        self.xs
            .call(Op::TransactionEnd, self.id, "", join_args([flag]))
            .map(drop)
    }
}

impl Drop for Transaction<'_> {
    fn drop(&mut self) {
        if !self.done {
            let _ = self.send_end(false);
        }
    }
}

impl XsOps for Transaction<'_> {
    fn request(&self, op: Op, target: &str, payload: Vec<u8>) -> Result<Vec<u8>, Error> {
        self.xs.call(op, self.id, target, payload)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn children_match_like_xenstored() {
        assert!(is_child("/a/b", "/a"));
        assert!(is_child("/a", "/a"));
        assert!(is_child("/anything", "/"));
        assert!(!is_child("/ab", "/a"));
        assert!(!is_child("/a", "/a/b"));
    }

    #[test]
    fn connection_paths_follow_libxenstore() {
        let none = |_: &str| None;
        assert_eq!(
            paths_from(none),
            [
                "/run/xenstored/socket",
                "/var/run/xenstored/socket",
                "/dev/xen/xenbus",
                "/proc/xen/xenbus"
            ]
            .map(PathBuf::from)
        );
        let rundir = |k: &str| (k == "XENSTORED_RUNDIR").then(|| OsString::from("/tmp/xs"));
        assert_eq!(paths_from(rundir)[0], PathBuf::from("/tmp/xs/socket"));
        assert_eq!(paths_from(rundir).len(), 3);
        // XENSTORED_PATH replaces both the socket and the device.
        let path = |k: &str| (k != "XENSTORED_PATH_X").then(|| OsString::from("/s"));
        assert_eq!(paths_from(path), [PathBuf::from("/s")]);
    }

    #[test]
    fn nul_in_arguments_is_refused_before_sending() {
        assert!(matches!(
            arg(Op::Read, "/a\0b"),
            Err(Error::NulInArgument { op: Op::Read, .. })
        ));
    }

    #[test]
    fn error_messages_name_op_path_and_errno() {
        let e = Error::Xs {
            op: Op::Read,
            target: "/local/domain/7/name".into(),
            errno: Errno::NotFound,
        };
        assert_eq!(
            e.to_string(),
            "xenstore READ /local/domain/7/name: ENOENT (no such node)"
        );
        let e = Error::Connect {
            path: "/run/xenstored/socket".into(),
            source: io::Error::from(io::ErrorKind::NotFound),
        };
        assert!(
            e.to_string()
                .starts_with("cannot connect to xenstored at /run/xenstored/socket: ")
        );
        assert!(e.to_string().ends_with("(is xenstored running?)"));
    }

    /// A scripted daemon over a socketpair: replies out of order and
    /// interleaves watch events, which the client must sort out.
    #[test]
    fn replies_are_matched_by_req_id_and_events_queued() {
        let (client, mut server) = UnixStream::pair().unwrap();
        let xs = Xs::new(client).unwrap();
        let daemon = thread::spawn(move || {
            let a = Message::read_from(&mut server).unwrap();
            let ev = Message::new(Op::WatchEvent, 0, 0, join_args(["/w", "tok"]));
            server.write_all(&ev.encode().unwrap()).unwrap();
            let reply = Message::new(Op::Read, a.req_id, 0, b"value".to_vec());
            server.write_all(&reply.encode().unwrap()).unwrap();
            let b = Message::read_from(&mut server).unwrap();
            let reply = Message::new(Op::Error, b.req_id, 0, b"EACCES\0".to_vec());
            server.write_all(&reply.encode().unwrap()).unwrap();
        });
        assert_eq!(xs.read("/a").unwrap(), "value");
        let err = xs.read("/b").unwrap_err();
        assert_eq!(err.errno(), Some(&Errno::PermissionDenied));
        daemon.join().unwrap();
        assert_eq!(
            xs.wait_watch(Duration::from_secs(5)).unwrap(),
            Some(WatchEvent {
                path: "/w".into(),
                token: "tok".into()
            })
        );
        // The scripted daemon has hung up by now.
        assert!(matches!(xs.read("/c"), Err(Error::Disconnected(_))));
    }

    #[test]
    fn oversized_requests_fail_locally() {
        let (client, _server) = UnixStream::pair().unwrap();
        let xs = Xs::new(client).unwrap();
        let big = "x".repeat(PAYLOAD_MAX);
        let err = xs.write("/a", &big).unwrap_err();
        assert!(
            matches!(err, Error::TooLarge { op: Op::Write, .. }),
            "{err}"
        );
        assert!(err.to_string().contains("4096"));
    }
}
