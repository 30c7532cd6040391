//! An in-process xenstored serving the xenstore protocol on a unix socket.
//!
//! Socket clients are dom0, as with the real daemon; [`Daemon::connect_as`]
//! gives in-process connections acting as any domain, whose access is
//! checked against node permissions. State lives in memory only, but
//! [`Daemon::snapshot`] / [`Daemon::from_snapshot`] save and load it as
//! text.
//!
//! Each connection has a reader thread, which handles requests under one
//! global lock, and a writer thread fed by a channel, so a client that
//! stops reading never blocks the daemon.

mod snapshot;
mod store;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fs;
use std::io::{self, Write};
use std::os::unix::fs::FileTypeExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, Sender};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::{self, JoinHandle};
use std::time::Duration;

pub use snapshot::SnapshotError;

use crate::wire::{
    Access, DOMID_SELF, Errno, Message, Op, PAYLOAD_MAX, Perm, REL_PATH_MAX, join_args, split_args,
};
use store::{Caller, Event, Footprint, OWNER, READ, Store, Tree, WRITE, is_child, valid_path};

const SPECIAL_PATHS: [&str; 2] = ["@introduceDomain", "@releaseDomain"];

/// Everything that survives a snapshot.
#[derive(Clone, Debug)]
struct Db {
    tree: Tree,
    /// Introduced domains; dom0 is introduced from the start.
    domains: BTreeSet<u32>,
    /// SET_TARGET: domid -> the domain it may act for.
    targets: BTreeMap<u32, u32>,
    /// Permissions of the special watch paths.
    special: BTreeMap<String, Vec<Perm>>,
}

impl Db {
    fn new() -> Db {
        Db {
            tree: Tree::new(),
            domains: BTreeSet::from([0]),
            targets: BTreeMap::new(),
            special: default_special(),
        }
    }

    fn caller(&self, domid: u32) -> Caller {
        Caller {
            domid,
            target: self.targets.get(&domid).copied(),
        }
    }

    fn may_see(&self, caller: Caller, ev: &Event) -> bool {
        if caller.privileged() {
            return true;
        }
        if ev.path.starts_with('@') {
            return self
                .special
                .get(&ev.path)
                .is_some_and(|p| caller.rights(p) & READ != 0);
        }
        ev.readable.iter().any(|p| caller.rights(p) & READ != 0)
    }
}

fn default_special() -> BTreeMap<String, Vec<Perm>> {
    SPECIAL_PATHS
        .iter()
        .map(|p| (p.to_string(), vec![Perm::new(0, Access::None)]))
        .collect()
}

struct Watch {
    /// Canonical path, or a special `@...` name.
    path: String,
    token: Vec<u8>,
    /// Registered with a relative path: events are reported relative too.
    relative: bool,
}

struct Tx {
    tree: Tree,
    footprint: Footprint,
    /// Fired only if and when the transaction commits.
    events: Vec<Event>,
}

struct Conn {
    domid: u32,
    out: Sender<Vec<u8>>,
    /// For shutting the socket down from another thread.
    control: UnixStream,
    server: Option<u64>,
    watches: Vec<Watch>,
    txs: HashMap<u32, Tx>,
    next_tx: u32,
}

struct State {
    db: Db,
    conns: HashMap<u64, Conn>,
    next_conn: u64,
}

struct Inner {
    state: Mutex<State>,
    next_server: AtomicU64,
}

impl Inner {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while handling one request must not take the store down.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The store and its connections. Cheap to clone; clones share state.
#[derive(Clone)]
pub struct Daemon {
    inner: Arc<Inner>,
}

impl Default for Daemon {
    fn default() -> Daemon {
        Daemon::new()
    }
}

impl Daemon {
    /// A daemon holding what a fresh xenstored does: `/`, `/tool` and
    /// `/tool/xenstored`, all owned by dom0.
    pub fn new() -> Daemon {
        Daemon::with_db(Db::new())
    }

    fn with_db(db: Db) -> Daemon {
        let state = State {
            db,
            conns: HashMap::new(),
            next_conn: 1,
        };
        Daemon {
            inner: Arc::new(Inner {
                state: Mutex::new(state),
                next_server: AtomicU64::new(1),
            }),
        }
    }

    /// A daemon whose store is loaded from [`Daemon::snapshot`] text.
    pub fn from_snapshot(text: &str) -> Result<Daemon, SnapshotError> {
        snapshot::load(text).map(Daemon::with_db)
    }

    /// The whole store (nodes, permissions, introduced domains) as text.
    /// Open transactions and watches are connection state, not included.
    pub fn snapshot(&self) -> String {
        snapshot::save(&self.inner.lock().db)
    }

    /// Replaces the store of a running daemon. Connections and watches
    /// stay (no events fire for the swap); transactions open across it
    /// fail to commit with `EAGAIN`.
    pub fn restore(&self, text: &str) -> Result<(), SnapshotError> {
        let mut db = snapshot::load(text)?;
        let mut state = self.inner.lock();
        db.tree.renumber_after(&state.db.tree);
        state.db = db;
        Ok(())
    }

    /// Listens on a unix socket at `path` (replacing a stale socket file)
    /// and serves each client, as dom0, on its own threads.
    pub fn serve(&self, path: impl AsRef<Path>) -> io::Result<Server> {
        let path = path.as_ref().to_owned();
        let listener = bind(&path)?;
        let id = self.inner.next_server.fetch_add(1, Ordering::Relaxed);
        let stopping = Arc::new(AtomicBool::new(false));
        let daemon = self.clone();
        let stop = Arc::clone(&stopping);
        let accept = thread::Builder::new()
            .name("xenstored-accept".into())
            .spawn(move || daemon.accept_loop(&listener, id, &stop))?;
        Ok(Server {
            daemon: self.clone(),
            id,
            path,
            stopping,
            accept: Some(accept),
        })
    }

    /// An in-process connection acting as `domid`: unprivileged unless 0,
    /// relative paths under `/local/domain/<domid>`. It closes when the
    /// returned stream is dropped, or when the domain is released.
    pub fn connect_as(&self, domid: u32) -> io::Result<UnixStream> {
        let (client, server) = UnixStream::pair()?;
        self.spawn_conn(server, domid, None)?;
        Ok(client)
    }

    /// What xenstored does on VIRQ_DOM_EXC (a domain shut down or died):
    /// fire `@releaseDomain` so toolstacks look at their domains again.
    pub fn domain_exception(&self) {
        self.inner.lock().fire(&[Event::special("@releaseDomain")]);
    }

    /// Number of open client connections.
    pub fn connections(&self) -> usize {
        self.inner.lock().conns.len()
    }

    fn accept_loop(
        &self,
        listener: &UnixListener,
        id: u64,
        stopping: &AtomicBool,
    ) -> Vec<JoinHandle<()>> {
        let mut handles: Vec<JoinHandle<()>> = Vec::new();
        for stream in listener.incoming() {
            if stopping.load(Ordering::SeqCst) {
                break;
            }
            match stream {
                Ok(s) => {
                    handles.retain(|h| !h.is_finished());
                    if let Ok(h) = self.spawn_conn(s, 0, Some(id)) {
                        handles.push(h);
                    }
                }
                // E.g. out of file descriptors: do not spin.
                Err(_) => thread::sleep(Duration::from_millis(10)),
            }
        }
        handles
    }

    fn spawn_conn(
        &self,
        stream: UnixStream,
        domid: u32,
        server: Option<u64>,
    ) -> io::Result<JoinHandle<()>> {
        let mut writer = stream.try_clone()?;
        let control = stream.try_clone()?;
        let (out, queue) = mpsc::channel::<Vec<u8>>();
        let id = {
            let mut st = self.inner.lock();
            let id = st.next_conn;
            st.next_conn += 1;
            let conn = Conn {
                domid,
                out,
                control,
                server,
                watches: Vec::new(),
                txs: HashMap::new(),
                next_tx: 1,
            };
            st.conns.insert(id, conn);
            id
        };
        let inner = Arc::clone(&self.inner);
        let spawned = thread::Builder::new()
            .name(format!("xenstored-conn-{id}"))
            .spawn(move || {
                let writer = thread::spawn(move || {
                    for buf in queue {
                        if writer.write_all(&buf).is_err() {
                            break;
                        }
                    }
                    // Unblocks the reader if the client went away mid-write.
                    let _ = writer.shutdown(std::net::Shutdown::Both);
                });
                let mut stream = stream;
                // Any read error, including an oversized message, ends the
                // connection, as with the real daemon.
                while let Ok(msg) = Message::read_from(&mut stream) {
                    inner.lock().handle(id, &msg);
                }
                // Dropping the Conn drops the last sender, ending the writer.
                inner.lock().conns.remove(&id);
                let _ = writer.join();
            });
        if spawned.is_err() {
            self.inner.lock().conns.remove(&id);
        }
        spawned
    }
}

fn bind(path: &Path) -> io::Result<UnixListener> {
    match UnixListener::bind(path) {
        Err(e) if e.kind() == io::ErrorKind::AddrInUse => {
            let is_socket = fs::symlink_metadata(path)?.file_type().is_socket();
            if !is_socket || UnixStream::connect(path).is_ok() {
                return Err(io::Error::new(
                    io::ErrorKind::AddrInUse,
                    format!("{} is in use", path.display()),
                ));
            }
            fs::remove_file(path)?;
            UnixListener::bind(path)
        }
        other => other,
    }
}

/// A listening socket. Stopping it (or dropping it) closes its clients,
/// joins their threads and removes the socket file.
pub struct Server {
    daemon: Daemon,
    id: u64,
    path: PathBuf,
    stopping: Arc<AtomicBool>,
    accept: Option<JoinHandle<Vec<JoinHandle<()>>>>,
}

impl Server {
    /// The socket file clients connect to.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The daemon this socket serves.
    pub fn daemon(&self) -> &Daemon {
        &self.daemon
    }

    /// Stops listening, closes this socket's clients, joins their threads
    /// and removes the socket file (as dropping does).
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        let Some(accept) = self.accept.take() else {
            return;
        };
        self.stopping.store(true, Ordering::SeqCst);
        // accept() only returns for a connection; make one. If that fails
        // (socket file removed behind our back) the accept thread is left
        // blocked rather than joined.
        let woke = UnixStream::connect(&self.path).is_ok();
        let handles = if woke {
            accept.join().unwrap_or_default()
        } else {
            Vec::new()
        };
        for conn in self.daemon.inner.lock().conns.values() {
            if conn.server == Some(self.id) {
                let _ = conn.control.shutdown(std::net::Shutdown::Both);
            }
        }
        for h in handles {
            let _ = h.join();
        }
        let _ = fs::remove_file(&self.path);
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// A successful reply, plus a message to send right after it (the first
/// event of a new watch, which must follow the acknowledgement).
struct Reply {
    payload: Vec<u8>,
    then: Option<Message>,
}

impl Reply {
    fn ok() -> Result<Reply, Errno> {
        Reply::data(b"OK\0".to_vec())
    }

    fn data(payload: Vec<u8>) -> Result<Reply, Errno> {
        Ok(Reply {
            payload,
            then: None,
        })
    }
}

impl State {
    fn handle(&mut self, id: u64, msg: &Message) {
        let Some(domid) = self.conns.get(&id).map(|c| c.domid) else {
            return;
        };
        let reply = match self.dispatch(id, domid, msg) {
            Ok(r) if r.payload.len() > PAYLOAD_MAX => Err(Errno::TooBig),
            other => other,
        };
        let (answer, then) = match reply {
            Ok(r) => (
                Message::new(msg.op, msg.req_id, msg.tx_id, r.payload),
                r.then,
            ),
            Err(e) => (
                Message::new(Op::Error, msg.req_id, msg.tx_id, e.to_payload()),
                None,
            ),
        };
        self.send(id, &answer);
        if let Some(m) = then {
            self.send(id, &m);
        }
    }

    fn send(&self, id: u64, msg: &Message) {
        if let (Some(conn), Ok(buf)) = (self.conns.get(&id), msg.encode()) {
            // A closed queue means the connection is going away anyway.
            let _ = conn.out.send(buf);
        }
    }

    fn dispatch(&mut self, id: u64, domid: u32, msg: &Message) -> Result<Reply, Errno> {
        let caller = self.db.caller(domid);
        let op = msg.op;
        let tx = self.admit(id, caller, msg)?;
        let p = &msg.payload[..];
        match op {
            Op::Read => {
                let path = path_arg(caller, one_arg(p)?)?;
                Reply::data(self.with_store(id, tx, caller, |s| s.read(&path))?)
            }
            Op::Directory => {
                let path = path_arg(caller, one_arg(p)?)?;
                Reply::data(self.with_store(id, tx, caller, |s| s.directory(&path))?)
            }
            Op::DirectoryPart => {
                let a = args(p, 2)?;
                let path = path_arg(caller, a[0])?;
                let offset = number(a[1])? as usize;
                Reply::data(self.with_store(id, tx, caller, |s| s.directory_part(&path, offset))?)
            }
            Op::GetPerms => {
                let path = path_arg(caller, one_arg(p)?)?;
                let perms = self.with_store(id, tx, caller, |s| s.get_perms(&path))?;
                Reply::data(join_args(perms.iter().map(Perm::to_string)))
            }
            Op::Write => {
                let nul = p
                    .iter()
                    .position(|&b| b == 0)
                    .ok_or(Errno::InvalidArgument)?;
                let path = path_arg(caller, &p[..nul])?;
                self.with_store(id, tx, caller, |s| s.write(&path, &p[nul + 1..]))?;
                Reply::ok()
            }
            Op::Mkdir => {
                let path = path_arg(caller, one_arg(p)?)?;
                self.with_store(id, tx, caller, |s| s.mkdir(&path))?;
                Reply::ok()
            }
            Op::Rm => {
                let path = path_arg(caller, one_arg(p)?)?;
                self.with_store(id, tx, caller, |s| s.rm(&path))?;
                Reply::ok()
            }
            Op::SetPerms => self.set_perms(id, tx, caller, p),
            Op::Watch => self.watch(id, caller, p),
            Op::Unwatch => self.unwatch(id, caller, p),
            Op::TransactionStart => self.transaction_start(id, tx),
            Op::TransactionEnd => self.transaction_end(id, tx, p),
            Op::Introduce => self.introduce(p),
            Op::Release => {
                let d = self.introduced(one_arg(p)?)?;
                self.release(d);
                Reply::ok()
            }
            Op::Resume => {
                self.introduced(one_arg(p)?)?;
                Reply::ok()
            }
            Op::GetDomainPath => {
                let d = number(one_arg(p)?)?;
                Reply::data(join_args([format!("/local/domain/{d}")]))
            }
            Op::IsDomainIntroduced => {
                let d = number(one_arg(p)?)?;
                let yes = d == DOMID_SELF || self.db.domains.contains(&d);
                Reply::data(join_args([if yes { "T" } else { "F" }]))
            }
            Op::SetTarget => {
                let a = args(p, 2)?;
                let (d, t) = (number(a[0])?, number(a[1])?);
                if !self.db.domains.contains(&d) || !self.db.domains.contains(&t) {
                    return Err(Errno::NotFound);
                }
                self.db.targets.insert(d, t);
                Reply::ok()
            }
            Op::ResetWatches => {
                if let Some(c) = self.conns.get_mut(&id) {
                    c.watches.clear();
                    c.txs.clear();
                }
                Reply::ok()
            }
            Op::Control | Op::WatchEvent | Op::Error | Op::Unknown(_) => Err(Errno::NotSupported),
        }
    }

    /// Whether `caller` may send `msg` on connection `id`; the transaction
    /// it runs in (0: none).
    fn admit(&self, id: u64, caller: Caller, msg: &Message) -> Result<u32, Errno> {
        let op = msg.op;
        let privileged_only = matches!(
            op,
            Op::Control
                | Op::Introduce
                | Op::Release
                | Op::IsDomainIntroduced
                | Op::Resume
                | Op::SetTarget
        );
        if privileged_only && !caller.privileged() {
            return Err(Errno::PermissionDenied);
        }
        // WATCH and UNWATCH ignore the transaction id; all else must name
        // an open transaction of this connection, or none.
        let tx = if matches!(op, Op::Watch | Op::Unwatch) {
            0
        } else {
            msg.tx_id
        };
        if tx != 0 && !self.conns.get(&id).is_some_and(|c| c.txs.contains_key(&tx)) {
            return Err(Errno::NotFound);
        }
        Ok(tx)
    }

    fn unwatch(&mut self, id: u64, caller: Caller, p: &[u8]) -> Result<Reply, Errno> {
        let a = args(p, 2)?;
        let path = canonical(caller, text(a[0])?);
        let conn = self.conns.get_mut(&id).ok_or(Errno::InvalidArgument)?;
        let at = conn
            .watches
            .iter()
            .position(|w| w.path == path && w.token == a[1])
            .ok_or(Errno::NotFound)?;
        conn.watches.remove(at);
        Reply::ok()
    }

    fn transaction_start(&mut self, id: u64, tx: u32) -> Result<Reply, Errno> {
        if tx != 0 {
            return Err(Errno::Busy);
        }
        let snapshot = self.db.tree.clone();
        let conn = self.conns.get_mut(&id).ok_or(Errno::InvalidArgument)?;
        let mut tid = conn.next_tx;
        while tid == 0 || conn.txs.contains_key(&tid) {
            tid = tid.wrapping_add(1);
        }
        conn.next_tx = tid.wrapping_add(1);
        let t = Tx {
            tree: snapshot,
            footprint: Footprint::default(),
            events: Vec::new(),
        };
        conn.txs.insert(tid, t);
        Reply::data(join_args([tid.to_string()]))
    }

    fn transaction_end(&mut self, id: u64, tx: u32, p: &[u8]) -> Result<Reply, Errno> {
        let commit = match one_arg(p)? {
            b"T" => true,
            b"F" => false,
            _ => return Err(Errno::InvalidArgument),
        };
        let t = self
            .conns
            .get_mut(&id)
            .and_then(|c| c.txs.remove(&tx))
            .ok_or(Errno::NotFound)?;
        if commit {
            if t.footprint.conflicts(&self.db.tree) {
                return Err(Errno::Again);
            }
            t.footprint.apply(&t.tree, &mut self.db.tree);
            self.fire(&t.events);
        }
        Reply::ok()
    }

    fn introduce(&mut self, p: &[u8]) -> Result<Reply, Errno> {
        let a = args(p, 3)?;
        let d = number(a[0])?;
        // The ring page (a[1]) means nothing here, but the event
        // channel must look valid.
        if number(a[2])? == 0 {
            return Err(Errno::InvalidArgument);
        }
        if self.db.domains.insert(d) && d != 0 {
            self.fire(&[Event::special("@introduceDomain")]);
        }
        Reply::ok()
    }

    /// Runs a node operation on the live tree (firing its events now) or
    /// on the transaction's copy (queueing them for commit).
    fn with_store<R>(
        &mut self,
        id: u64,
        tx: u32,
        caller: Caller,
        f: impl FnOnce(&mut Store<'_>) -> Result<R, Errno>,
    ) -> Result<R, Errno> {
        if tx == 0 {
            let mut events = Vec::new();
            let r = f(&mut Store {
                tree: &mut self.db.tree,
                caller,
                footprint: None,
                events: &mut events,
            });
            self.fire(&events);
            return r;
        }
        let t = self
            .conns
            .get_mut(&id)
            .and_then(|c| c.txs.get_mut(&tx))
            .ok_or(Errno::NotFound)?;
        f(&mut Store {
            tree: &mut t.tree,
            caller,
            footprint: Some(&mut t.footprint),
            events: &mut t.events,
        })
    }

    fn set_perms(&mut self, id: u64, tx: u32, caller: Caller, p: &[u8]) -> Result<Reply, Errno> {
        let a = args(p, 2)?;
        let perms = a[1..]
            .iter()
            .map(|s| text(s)?.parse::<Perm>().map_err(|_| Errno::InvalidArgument))
            .collect::<Result<Vec<_>, _>>()?;
        let raw = text(a[0])?;
        if raw.starts_with('@') {
            let current = self.db.special.get(raw).ok_or(Errno::InvalidArgument)?;
            if caller.rights(current) & (WRITE | OWNER) != WRITE | OWNER {
                return Err(Errno::PermissionDenied);
            }
            self.db.special.insert(raw.to_owned(), perms);
            return Reply::ok();
        }
        let path = path_arg(caller, a[0])?;
        self.with_store(id, tx, caller, |s| s.set_perms(&path, perms))?;
        Reply::ok()
    }

    fn watch(&mut self, id: u64, caller: Caller, p: &[u8]) -> Result<Reply, Errno> {
        let a = args(p, 2)?;
        let raw = text(a[0])?;
        let (path, relative) = if raw.starts_with('@') {
            if raw.len() > REL_PATH_MAX {
                return Err(Errno::InvalidArgument);
            }
            (raw.to_owned(), false)
        } else {
            let full = canonical(caller, raw);
            if !valid_path(&full) {
                return Err(Errno::InvalidArgument);
            }
            (full, !raw.starts_with('/'))
        };
        let token = a[1].to_vec();
        let conn = self.conns.get_mut(&id).ok_or(Errno::InvalidArgument)?;
        if conn
            .watches
            .iter()
            .any(|w| w.path == path && w.token == token)
        {
            return Err(Errno::Exists);
        }
        // The first event names the watch as given, so a relative watch
        // starts with its relative path.
        let first = Message::new(Op::WatchEvent, 0, 0, join_args([raw.as_bytes(), &token]));
        conn.watches.push(Watch {
            path,
            token,
            relative,
        });
        Ok(Reply {
            payload: b"OK\0".to_vec(),
            then: Some(first),
        })
    }

    /// An introduced, non-dom0 domid argument.
    fn introduced(&self, raw: &[u8]) -> Result<u32, Errno> {
        let d = number(raw)?;
        if d == 0 {
            return Err(Errno::InvalidArgument);
        }
        if !self.db.domains.contains(&d) {
            return Err(Errno::NotFound);
        }
        Ok(d)
    }

    /// Forgets a domain like xenstored does when one goes away: its nodes
    /// are deleted, `@releaseDomain` fires and its connections close.
    fn release(&mut self, d: u32) {
        self.db.domains.remove(&d);
        self.db.targets.retain(|k, v| *k != d && *v != d);
        let owned: Vec<String> = self
            .db
            .tree
            .preorder()
            .into_iter()
            .filter(|(p, n)| *p != "/" && n.perms[0].domid == d)
            .map(|(p, _)| p.to_owned())
            .collect();
        let mut events = Vec::new();
        let caller = self.db.caller(0);
        let mut store = Store {
            tree: &mut self.db.tree,
            caller,
            footprint: None,
            events: &mut events,
        };
        for path in owned {
            // Skip nodes already removed with an owned ancestor.
            if store.tree.get(&path).is_some() {
                store.remove(&path);
            }
        }
        events.push(Event::special("@releaseDomain"));
        self.fire(&events);
        for conn in self.conns.values().filter(|c| c.domid == d) {
            let _ = conn.control.shutdown(std::net::Shutdown::Both);
        }
    }

    /// Sends a WATCH_EVENT for every matching watch the owner may see.
    fn fire(&self, events: &[Event]) {
        for ev in events {
            for conn in self.conns.values() {
                let caller = self.db.caller(conn.domid);
                if !self.db.may_see(caller, ev) {
                    continue;
                }
                for w in &conn.watches {
                    let hit = if ev.exact {
                        ev.path == w.path
                    } else {
                        is_child(&ev.path, &w.path)
                    };
                    if !hit {
                        continue;
                    }
                    let home = caller.home();
                    let shown = if w.relative {
                        relative_to(&ev.path, &home)
                    } else {
                        &ev.path
                    };
                    let payload = join_args([shown.as_bytes(), &w.token]);
                    // An event too big for the wire is dropped, not fatal.
                    if let Ok(buf) = Message::new(Op::WatchEvent, 0, 0, payload).encode() {
                        let _ = conn.out.send(buf);
                    }
                }
            }
        }
    }
}

fn relative_to<'a>(path: &'a str, home: &str) -> &'a str {
    match path.strip_prefix(home) {
        Some(rest) => rest.strip_prefix('/').unwrap_or(rest),
        None => path,
    }
}

/// The single NUL-terminated argument that makes up the whole payload.
fn one_arg(p: &[u8]) -> Result<&[u8], Errno> {
    match p.iter().position(|&b| b == 0) {
        Some(i) if i + 1 == p.len() => Ok(&p[..i]),
        _ => Err(Errno::InvalidArgument),
    }
}

/// At least `n` NUL-terminated arguments.
fn args(p: &[u8], n: usize) -> Result<Vec<&[u8]>, Errno> {
    let (a, _) = split_args(p);
    if a.len() < n {
        return Err(Errno::InvalidArgument);
    }
    Ok(a)
}

fn text(raw: &[u8]) -> Result<&str, Errno> {
    std::str::from_utf8(raw).map_err(|_| Errno::InvalidArgument)
}

fn number(raw: &[u8]) -> Result<u32, Errno> {
    text(raw)?.parse().map_err(|_| Errno::InvalidArgument)
}

/// Relative paths are below the caller's home, as in xenstored (which
/// applies this to socket clients too, as dom0).
fn canonical(caller: Caller, raw: &str) -> String {
    if raw.starts_with('/') || raw.starts_with('@') {
        raw.to_owned()
    } else {
        format!("{}/{raw}", caller.home())
    }
}

fn path_arg(caller: Caller, raw: &[u8]) -> Result<String, Errno> {
    let full = canonical(caller, text(raw)?);
    if valid_path(&full) {
        Ok(full)
    } else {
        Err(Errno::InvalidArgument)
    }
}
