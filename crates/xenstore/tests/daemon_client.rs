//! Our client against our daemon over real unix sockets.

mod common;

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::process::Command;
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::Duration;

use common::{Fixture, eventually};
use xenstore::wire::{Message, Op, PAYLOAD_MAX};
use xenstore::{Access, Daemon, Errno, Error, Perm, WatchEvent, Xs, XsOps};

const QUIET: Duration = Duration::from_millis(100);
const SOON: Duration = Duration::from_secs(5);

fn errno<T: std::fmt::Debug>(r: Result<T, Error>) -> Errno {
    r.unwrap_err()
        .errno()
        .cloned()
        .expect("an error from the daemon")
}

fn ev(path: &str, token: &str) -> Option<WatchEvent> {
    Some(WatchEvent {
        path: path.into(),
        token: token.into(),
    })
}

#[test]
fn read_write_mkdir_rm_directory() {
    let f = Fixture::new("basic");
    let xs = f.client();
    assert_eq!(xs.directory("/").unwrap(), ["tool"]);
    assert_eq!(xs.directory("/tool").unwrap(), ["xenstored"]);

    xs.write("/a/b/c", "hello").unwrap();
    assert_eq!(xs.read("/a/b/c").unwrap(), "hello");
    assert_eq!(xs.read("/a").unwrap(), "");
    assert_eq!(xs.read("/a/b").unwrap(), "");
    assert_eq!(xs.directory("/").unwrap(), ["tool", "a"]);

    xs.write("/a/b", "kept").unwrap();
    xs.mkdir("/a/b").unwrap();
    assert_eq!(xs.read("/a/b").unwrap(), "kept");
    xs.mkdir("/m/n/o").unwrap();
    assert_eq!(xs.directory("/m/n").unwrap(), ["o"]);
    assert!(xs.directory("/m/n/o").unwrap().is_empty());

    // Children are listed in creation order, not sorted.
    for k in ["z", "a", "m"] {
        xs.write(&format!("/order/{k}"), k).unwrap();
    }
    assert_eq!(xs.directory("/order").unwrap(), ["z", "a", "m"]);

    let value = b"bin\0ary\xff\n".to_vec();
    xs.write_bytes("/bin", &value).unwrap();
    assert_eq!(xs.read_bytes("/bin").unwrap(), value);
    xs.write("/empty", "").unwrap();
    assert_eq!(xs.read("/empty").unwrap(), "");

    xs.rm("/a").unwrap();
    assert_eq!(errno(xs.read("/a/b/c")), Errno::NotFound);
    assert!(!xs.exists("/a").unwrap());
    assert_eq!(xs.try_read("/a").unwrap(), None);
    xs.rm("/a").unwrap();
    assert_eq!(errno(xs.rm("/a/b")), Errno::NotFound);
    assert_eq!(errno(xs.rm("/")), Errno::InvalidArgument);

    let err = xs.read("/no/such").unwrap_err();
    assert_eq!(
        err.to_string(),
        "xenstore READ /no/such: ENOENT (no such node)"
    );
    for bad in ["", "/a/", "/a//b", "/sp ace", "/dot.ted"] {
        assert_eq!(errno(xs.read(bad)), Errno::InvalidArgument, "{bad:?}");
    }
    assert!(matches!(xs.read("/a\0b"), Err(Error::NulInArgument { .. })));
}

#[test]
fn relative_paths_are_under_the_callers_home() {
    let f = Fixture::new("relative");
    let xs = f.client();
    xs.write("data/x", "0").unwrap();
    assert_eq!(xs.read("/local/domain/0/data/x").unwrap(), "0");

    let guest = f.domain(7);
    xs.mkdir("/local/domain/7").unwrap();
    xs.set_perms("/local/domain/7", &[Perm::new(7, Access::None)])
        .unwrap();
    guest.write("data/y", "7").unwrap();
    assert_eq!(xs.read("/local/domain/7/data/y").unwrap(), "7");
    assert_eq!(guest.read("data/y").unwrap(), "7");
}

#[test]
fn oversized_requests_and_big_directories() {
    let f = Fixture::new("sizes");
    let xs = f.client();
    let max_value = "v".repeat(PAYLOAD_MAX - "/big\0".len());
    xs.write("/big", &max_value).unwrap();
    assert_eq!(xs.read("/big").unwrap(), max_value);
    let err = xs.write("/big", &format!("{max_value}v")).unwrap_err();
    assert!(matches!(err, Error::TooLarge { .. }), "{err}");

    // A listing longer than one reply: DIRECTORY fails with E2BIG and the
    // client falls back to DIRECTORY_PART.
    let names: Vec<String> = (0..600).map(|i| format!("entry-number-{i:04}")).collect();
    xs.transaction(|tx| {
        for n in &names {
            tx.mkdir(&format!("/many/{n}"))?;
        }
        Ok::<_, Error>(())
    })
    .unwrap();
    assert_eq!(xs.directory("/many").unwrap(), names);
}

#[test]
fn permissions_are_enforced_for_unprivileged_domains() {
    let f = Fixture::new("perms");
    let xs = f.client();
    xs.write("/p/node", "secret").unwrap();
    assert_eq!(
        xs.get_perms("/p/node").unwrap(),
        [Perm::new(0, Access::None)]
    );

    let five = f.domain(5);
    let six = f.domain(6);
    assert_eq!(errno(five.read("/p/node")), Errno::PermissionDenied);

    let perms = [Perm::new(0, Access::None), Perm::new(5, Access::Read)];
    xs.set_perms("/p/node", &perms).unwrap();
    assert_eq!(xs.get_perms("/p/node").unwrap(), perms);
    assert_eq!(five.read("/p/node").unwrap(), "secret");
    assert_eq!(errno(five.write("/p/node", "x")), Errno::PermissionDenied);
    assert_eq!(errno(six.read("/p/node")), Errno::PermissionDenied);
    assert_eq!(
        errno(five.set_perms("/p/node", &perms)),
        Errno::PermissionDenied
    );

    // A writable directory: what a domain creates there, it owns.
    xs.mkdir("/p/inbox").unwrap();
    xs.set_perms(
        "/p/inbox",
        &[Perm::new(0, Access::None), Perm::new(5, Access::Write)],
    )
    .unwrap();
    assert_eq!(
        errno(six.write("/p/inbox/msg", "x")),
        Errno::PermissionDenied
    );
    five.write("/p/inbox/msg", "hi").unwrap();
    assert_eq!(
        xs.get_perms("/p/inbox/msg").unwrap(),
        [Perm::new(5, Access::None), Perm::new(5, Access::Write)]
    );
    assert_eq!(
        errno(six.write("/p/inbox/msg", "x")),
        Errno::PermissionDenied
    );
    // Owners may change access but not give the node away.
    five.set_perms(
        "/p/inbox/msg",
        &[Perm::new(5, Access::None), Perm::new(6, Access::Read)],
    )
    .unwrap();
    assert_eq!(six.read("/p/inbox/msg").unwrap(), "hi");
    assert_eq!(
        errno(five.set_perms("/p/inbox/msg", &[Perm::new(6, Access::None)])),
        Errno::NotPermitted
    );

    // dom0-only operations.
    assert_eq!(
        errno(five.introduce_domain(9, 1, 1)),
        Errno::PermissionDenied
    );
    assert_eq!(errno(five.is_domain_introduced(0)), Errno::PermissionDenied);
}

#[test]
fn transactions_are_isolated_and_atomic() {
    let f = Fixture::new("tx");
    let xs = f.client();
    let other = f.client();
    xs.write("/t/a", "1").unwrap();
    xs.write("/t/b", "before").unwrap();

    let tx = xs.transaction_start().unwrap();
    other.write("/t/b", "outside").unwrap();
    other.write("/t/c", "new").unwrap();
    assert_eq!(tx.read("/t/b").unwrap(), "before", "snapshot at start");
    assert_eq!(errno(tx.read("/t/c")), Errno::NotFound);
    tx.abort().unwrap();

    let tx = xs.transaction_start().unwrap();
    tx.write("/t/a", "2").unwrap();
    tx.write("/t/new/deep", "3").unwrap();
    tx.rm("/t/a").unwrap();
    tx.write("/t/a", "4").unwrap();
    assert_eq!(tx.read("/t/a").unwrap(), "4");
    assert_eq!(other.read("/t/a").unwrap(), "1", "invisible until commit");
    assert_eq!(errno(other.read("/t/new")), Errno::NotFound);
    tx.commit().unwrap();
    assert_eq!(other.read("/t/a").unwrap(), "4");
    assert_eq!(other.read("/t/new/deep").unwrap(), "3");
    assert_eq!(other.directory("/t").unwrap(), ["b", "c", "new", "a"]);

    let tx = xs.transaction_start().unwrap();
    tx.write("/t/a", "aborted").unwrap();
    tx.abort().unwrap();
    {
        let tx = xs.transaction_start().unwrap();
        tx.write("/t/a", "dropped").unwrap();
    }
    assert_eq!(xs.read("/t/a").unwrap(), "4");

    // Two transactions per connection, on unrelated nodes: both commit.
    let t1 = xs.transaction_start().unwrap();
    let t2 = xs.transaction_start().unwrap();
    assert_ne!(t1.id(), t2.id());
    t1.write("/t/a", "5").unwrap();
    t2.write("/t/new/deep", "6").unwrap();
    t1.commit().unwrap();
    t2.commit().unwrap();
    assert_eq!(xs.read("/t/a").unwrap(), "5");
    assert_eq!(xs.read("/t/new/deep").unwrap(), "6");
}

#[test]
fn conflicting_transactions_get_eagain() {
    let f = Fixture::new("conflict");
    let (a, b) = (f.client(), f.client());
    a.write("/counter", "0").unwrap();

    let ta = a.transaction_start().unwrap();
    let tb = b.transaction_start().unwrap();
    for t in [&ta, &tb] {
        let n: u32 = t.read("/counter").unwrap().parse().unwrap();
        t.write("/counter", &(n + 1).to_string()).unwrap();
    }
    ta.commit().unwrap();
    let err = tb.commit().unwrap_err();
    assert_eq!(err.errno(), Some(&Errno::Again), "{err}");
    assert_eq!(a.read("/counter").unwrap(), "1");

    // Reading alone is enough to conflict; so is a new child.
    let t = a.transaction_start().unwrap();
    t.directory("/counter").unwrap();
    b.write("/counter/child", "").unwrap();
    assert_eq!(errno(t.commit()), Errno::Again);

    // A plain write racing a transaction on the same node wins.
    let t = a.transaction_start().unwrap();
    t.write("/counter", "tx").unwrap();
    b.write("/counter", "plain").unwrap();
    assert_eq!(errno(t.commit()), Errno::Again);
    assert_eq!(a.read("/counter").unwrap(), "plain");
}

#[test]
fn transaction_helper_retries_until_it_wins() {
    let f = Fixture::new("retry");
    f.client().write("/counter", "0").unwrap();
    const THREADS: usize = 4;
    const ROUNDS: usize = 25;
    let start = Arc::new(Barrier::new(THREADS));
    let workers: Vec<_> = (0..THREADS)
        .map(|_| {
            let xs = f.client();
            let start = Arc::clone(&start);
            thread::spawn(move || {
                start.wait();
                let mut runs = 0;
                for _ in 0..ROUNDS {
                    xs.transaction(|tx| {
                        runs += 1;
                        let n: u32 = tx.read("/counter")?.parse().unwrap();
                        // Widen the race window so retries really happen.
                        thread::sleep(Duration::from_micros(200));
                        tx.write("/counter", &(n + 1).to_string())
                    })
                    .unwrap();
                }
                runs
            })
        })
        .collect();
    let runs: usize = workers.into_iter().map(|w| w.join().unwrap()).sum();
    assert!(runs >= THREADS * ROUNDS);
    assert_eq!(
        f.client().read("/counter").unwrap(),
        (THREADS * ROUNDS).to_string()
    );
}

#[test]
fn transaction_helper_aborts_on_error_and_bounds_retries() {
    let f = Fixture::new("retry-bounds");
    let xs = f.client();
    let r: Result<(), Error> = xs.transaction(|tx| {
        tx.write("/half", "done")?;
        tx.read("/missing").map(drop)
    });
    assert_eq!(errno(r), Errno::NotFound);
    assert!(!xs.exists("/half").unwrap());

    // Spoiled once: the second run commits.
    let spoiler = f.client();
    xs.write("/once", "0").unwrap();
    let mut runs = 0;
    let r: Result<u32, Error> = xs.transaction(|tx| {
        runs += 1;
        let n: u32 = tx.read("/once")?.parse().unwrap();
        if runs == 1 {
            spoiler.write("/once", "10")?;
        }
        tx.write("/once", &(n + 1).to_string())?;
        Ok(n + 1)
    });
    assert_eq!(r.unwrap(), 11);
    assert_eq!(runs, 2);
    assert_eq!(xs.read("/once").unwrap(), "11");

    // Always conflicting: gives up after the bound with EAGAIN.
    xs.write("/hot", "0").unwrap();
    let mut runs = 0;
    let r: Result<(), Error> = xs.transaction(|tx| {
        runs += 1;
        tx.read("/hot")?;
        spoiler.write("/hot", &runs.to_string())
    });
    assert_eq!(errno(r), Errno::Again);
    assert_eq!(runs, xenstore::client::TRANSACTION_ATTEMPTS);
}

#[test]
fn unknown_transaction_ids_are_refused() {
    let f = Fixture::new("txid");
    let mut raw = UnixStream::connect(f.socket()).unwrap();
    let read = Message::new(Op::Read, 9, 1234, b"/tool\0".to_vec());
    raw.write_all(&read.encode().unwrap()).unwrap();
    let reply = Message::read_from(&mut raw).unwrap();
    assert_eq!((reply.op, reply.req_id, reply.tx_id), (Op::Error, 9, 1234));
    assert_eq!(reply.payload, b"ENOENT\0");
}

#[test]
fn watches_fire_initially_and_for_subtree_changes() {
    let f = Fixture::new("watch");
    let xs = f.client();
    let writer = f.client();
    xs.watch("/w", "tok").unwrap();
    assert_eq!(
        xs.wait_watch(SOON).unwrap(),
        ev("/w", "tok"),
        "initial event"
    );
    assert_eq!(xs.wait_watch(QUIET).unwrap(), None);

    writer.write("/w/x/y", "1").unwrap();
    assert_eq!(xs.wait_watch(SOON).unwrap(), ev("/w/x/y", "tok"));
    writer.write("/w", "2").unwrap();
    assert_eq!(xs.wait_watch(SOON).unwrap(), ev("/w", "tok"));
    writer.write("/wx", "no").unwrap();
    writer.write("/", "root").unwrap();
    writer.mkdir("/w/x").unwrap(); // exists: no event
    assert_eq!(xs.wait_watch(QUIET).unwrap(), None);
    writer
        .set_perms("/w/x", &[Perm::new(0, Access::Read)])
        .unwrap();
    assert_eq!(xs.wait_watch(SOON).unwrap(), ev("/w/x", "tok"));

    // A watch below a removed node fires once, with its own path.
    xs.watch("/w/x/y/z", "deep").unwrap();
    assert_eq!(xs.wait_watch(SOON).unwrap(), ev("/w/x/y/z", "deep"));
    xs.watch("/w/x/y", "mid").unwrap();
    assert_eq!(xs.wait_watch(SOON).unwrap(), ev("/w/x/y", "mid"));
    writer.rm("/w/x").unwrap();
    let mut got = vec![
        xs.wait_watch(SOON).unwrap().unwrap(),
        xs.wait_watch(SOON).unwrap().unwrap(),
    ];
    got.sort_by(|a, b| a.token.cmp(&b.token));
    assert_eq!(
        got,
        [
            WatchEvent {
                path: "/w/x/y".into(),
                token: "mid".into()
            },
            WatchEvent {
                path: "/w/x".into(),
                token: "tok".into()
            },
        ]
    );
    assert_eq!(xs.wait_watch(QUIET).unwrap(), None, "nothing for /w/x/y/z");

    // Transactions fire on commit only, and not at all when aborted.
    let tx = writer.transaction_start().unwrap();
    tx.write("/w/t", "1").unwrap();
    assert_eq!(xs.wait_watch(QUIET).unwrap(), None);
    tx.commit().unwrap();
    assert_eq!(xs.wait_watch(SOON).unwrap(), ev("/w/t", "tok"));
    let tx = writer.transaction_start().unwrap();
    tx.write("/w/t", "2").unwrap();
    tx.abort().unwrap();
    assert_eq!(xs.wait_watch(QUIET).unwrap(), None);

    assert_eq!(errno(xs.watch("/w", "tok")), Errno::Exists);
    xs.watch("/w", "second").unwrap();
    assert_eq!(xs.wait_watch(SOON).unwrap(), ev("/w", "second"));
    xs.unwatch("/w", "tok").unwrap();
    assert_eq!(errno(xs.unwatch("/w", "tok")), Errno::NotFound);
    writer.write("/w", "3").unwrap();
    assert_eq!(xs.wait_watch(SOON).unwrap(), ev("/w", "second"));
    assert_eq!(xs.wait_watch(QUIET).unwrap(), None);
}

#[test]
fn unwatch_drops_queued_events() {
    let f = Fixture::new("unwatch");
    let xs = f.client();
    xs.watch("/q", "t").unwrap();
    f.client().write("/q/a", "1").unwrap();
    eventually("events queued", || {
        xs.wait_watch(Duration::ZERO).ok().flatten().is_some()
    });
    // The initial event is consumed; now queue one more and unwatch.
    f.client().write("/q/b", "1").unwrap();
    thread::sleep(QUIET);
    xs.unwatch("/q", "t").unwrap();
    assert_eq!(xs.try_watch(), None);
}

#[test]
fn relative_watches_report_relative_paths() {
    let f = Fixture::new("relwatch");
    let xs = f.client();
    xs.mkdir("/local/domain/4").unwrap();
    xs.set_perms("/local/domain/4", &[Perm::new(4, Access::None)])
        .unwrap();
    let guest = f.domain(4);
    guest.watch("control", "c").unwrap();
    assert_eq!(guest.wait_watch(SOON).unwrap(), ev("control", "c"));
    xs.write("/local/domain/4/control/shutdown", "poweroff")
        .unwrap();
    assert_eq!(guest.wait_watch(SOON).unwrap(), ev("control/shutdown", "c"));
}

#[test]
fn watch_events_respect_read_permission() {
    let f = Fixture::new("watchperm");
    let xs = f.client();
    xs.mkdir("/s").unwrap();
    let guest = f.domain(3);
    guest.watch("/s", "g").unwrap();
    assert_eq!(guest.wait_watch(SOON).unwrap(), ev("/s", "g"));
    xs.write("/s/hidden", "x").unwrap();
    assert_eq!(guest.wait_watch(QUIET).unwrap(), None);
    xs.write("/s/shown", "x").unwrap();
    xs.set_perms(
        "/s/shown",
        &[Perm::new(0, Access::None), Perm::new(3, Access::Read)],
    )
    .unwrap();
    assert_eq!(guest.wait_watch(SOON).unwrap(), ev("/s/shown", "g"));
}

#[test]
fn domains_introduce_and_release() {
    let f = Fixture::new("domains");
    let xs = f.client();
    let watcher = f.client();
    watcher.watch("@introduceDomain", "in").unwrap();
    watcher.watch("@releaseDomain", "out").unwrap();
    assert_eq!(
        watcher.wait_watch(SOON).unwrap(),
        ev("@introduceDomain", "in")
    );
    assert_eq!(
        watcher.wait_watch(SOON).unwrap(),
        ev("@releaseDomain", "out")
    );

    assert!(xs.is_domain_introduced(0).unwrap());
    assert!(!xs.is_domain_introduced(5).unwrap());
    assert!(xs.is_domain_introduced(xenstore::wire::DOMID_SELF).unwrap());
    assert_eq!(xs.get_domain_path(5).unwrap(), "/local/domain/5");

    xs.introduce_domain(5, 0xfeff0, 3).unwrap();
    assert!(xs.is_domain_introduced(5).unwrap());
    assert_eq!(
        watcher.wait_watch(SOON).unwrap(),
        ev("@introduceDomain", "in")
    );
    // Again: fine, but no second event.
    xs.introduce_domain(5, 0xfeff0, 3).unwrap();
    assert_eq!(errno(xs.introduce_domain(6, 1, 0)), Errno::InvalidArgument);

    // Nodes the domain owns go with it; dom0's stay.
    xs.write("/local/domain/5/name", "guest").unwrap();
    xs.set_perms("/local/domain/5/name", &[Perm::new(5, Access::None)])
        .unwrap();
    xs.write("/local/domain/5/vm", "kept").unwrap();
    let guest = f.domain(5);
    assert_eq!(guest.read("name").unwrap(), "guest");
    xs.resume_domain(5).unwrap();

    xs.release_domain(5).unwrap();
    assert!(!xs.is_domain_introduced(5).unwrap());
    assert_eq!(
        watcher.wait_watch(SOON).unwrap(),
        ev("@releaseDomain", "out")
    );
    assert_eq!(watcher.wait_watch(QUIET).unwrap(), None);
    assert_eq!(errno(xs.read("/local/domain/5/name")), Errno::NotFound);
    assert_eq!(xs.read("/local/domain/5/vm").unwrap(), "kept");
    assert!(matches!(guest.read("name"), Err(Error::Disconnected(_))));

    assert_eq!(errno(xs.release_domain(5)), Errno::NotFound);
    assert_eq!(errno(xs.release_domain(0)), Errno::InvalidArgument);
    assert_eq!(errno(xs.resume_domain(5)), Errno::NotFound);
}

#[test]
fn set_target_lets_a_domain_act_for_another() {
    let f = Fixture::new("target");
    let xs = f.client();
    xs.introduce_domain(2, 1, 1).unwrap();
    xs.introduce_domain(3, 1, 1).unwrap();
    xs.write("/local/domain/2/disk", "x").unwrap();
    xs.set_perms("/local/domain/2/disk", &[Perm::new(2, Access::None)])
        .unwrap();
    let stubdom = f.domain(3);
    assert_eq!(
        errno(stubdom.read("/local/domain/2/disk")),
        Errno::PermissionDenied
    );
    assert_eq!(errno(xs.set_target(3, 9)), Errno::NotFound);
    xs.set_target(3, 2).unwrap();
    assert_eq!(stubdom.read("/local/domain/2/disk").unwrap(), "x");
}

#[test]
fn concurrent_clients() {
    let f = Fixture::new("concurrent");
    const CLIENTS: usize = 8;
    const KEYS: usize = 40;
    let workers: Vec<_> = (0..CLIENTS)
        .map(|c| {
            let xs = f.client();
            thread::spawn(move || {
                for k in 0..KEYS {
                    let path = format!("/c/{c}/{k}");
                    xs.write(&path, &format!("{c}-{k}")).unwrap();
                    assert_eq!(xs.read(&path).unwrap(), format!("{c}-{k}"));
                }
            })
        })
        .collect();
    // One client shared by several threads, too.
    let shared = Arc::new(f.client());
    let readers: Vec<_> = (0..4)
        .map(|_| {
            let xs = Arc::clone(&shared);
            thread::spawn(move || {
                for _ in 0..50 {
                    assert_eq!(xs.directory("/tool").unwrap(), ["xenstored"]);
                }
            })
        })
        .collect();
    for w in workers.into_iter().chain(readers) {
        w.join().unwrap();
    }
    let xs = f.client();
    assert_eq!(xs.directory("/c").unwrap().len(), CLIENTS);
    for c in 0..CLIENTS {
        assert_eq!(xs.directory(&format!("/c/{c}")).unwrap().len(), KEYS);
    }
}

#[test]
fn raw_protocol_edge_cases() {
    let f = Fixture::new("raw");
    let mut s = UnixStream::connect(f.socket()).unwrap();
    let send = |s: &mut UnixStream, m: Message| s.write_all(&m.encode().unwrap()).unwrap();

    // Pipelined requests come back in order with their own ids.
    send(&mut s, Message::new(Op::Write, 40, 0, b"/k\0v".to_vec()));
    send(&mut s, Message::new(Op::Read, 41, 0, b"/k\0".to_vec()));
    send(&mut s, Message::new(Op::Unknown(99), 42, 0, vec![]));
    send(&mut s, Message::new(Op::Write, 43, 0, b"/no-nul".to_vec()));
    send(
        &mut s,
        Message::new(Op::Read, 44, 0, b"/k\0extra\0".to_vec()),
    );
    send(
        &mut s,
        Message::new(Op::TransactionEnd, 45, 0, b"T\0".to_vec()),
    );
    let replies: Vec<_> = (0..6)
        .map(|_| Message::read_from(&mut s).unwrap())
        .collect();
    let summary: Vec<_> = replies
        .iter()
        .map(|m| (m.op, m.req_id, m.payload.as_slice()))
        .collect();
    assert_eq!(
        summary,
        [
            (Op::Write, 40, &b"OK\0"[..]),
            (Op::Read, 41, b"v"),
            (Op::Error, 42, b"ENOSYS\0"),
            (Op::Error, 43, b"EINVAL\0"),
            (Op::Error, 44, b"EINVAL\0"),
            (Op::Error, 45, b"ENOENT\0"),
        ]
    );

    // An oversized header gets the connection dropped, as xenstored does.
    let mut header = Vec::new();
    for w in [Op::Write.code(), 1, 0, (PAYLOAD_MAX + 1) as u32] {
        header.extend_from_slice(&w.to_ne_bytes());
    }
    s.write_all(&header).unwrap();
    let mut buf = [0u8; 1];
    assert_eq!(s.read(&mut buf).unwrap(), 0, "connection closed");
    assert!(f.client().exists("/k").unwrap(), "daemon still serving");
}

#[test]
fn clients_are_cleaned_up_and_stop_is_clean() {
    let f = Fixture::new("stop");
    let xs = f.client();
    {
        let extra = f.client();
        extra.watch("/x", "t").unwrap();
        let _tx = extra.transaction_start().unwrap();
        eventually("two connections", || f.daemon.connections() == 2);
    }
    eventually("one connection", || f.daemon.connections() == 1);

    let path = f.socket().to_owned();
    let common::Fixture {
        server,
        daemon,
        dir,
    } = f;
    server.stop();
    assert!(!path.exists(), "socket removed");
    assert!(matches!(xs.read("/tool"), Err(Error::Disconnected(_))));
    assert_eq!(daemon.connections(), 0);
    let err = Xs::open_path(&path).err().unwrap();
    assert!(matches!(err, Error::Connect { .. }));
    assert!(err.to_string().contains("(is xenstored running?)"), "{err}");

    // The same path can be served again, e.g. after a stale socket.
    let again = daemon.serve(&path).unwrap();
    assert_eq!(Xs::open_path(&path).unwrap().read("/tool").unwrap(), "");
    drop(again);
    drop(dir);
}

#[test]
fn snapshots_round_trip_through_a_new_daemon() {
    let f = Fixture::new("snap");
    let xs = f.client();
    xs.write("/local/domain/3/name", "vm \"three\"\n").unwrap();
    xs.write_bytes("/bin", b"\0\x01\xfe").unwrap();
    xs.set_perms(
        "/local/domain/3/name",
        &[Perm::new(3, Access::None), Perm::new(0, Access::Read)],
    )
    .unwrap();
    xs.introduce_domain(3, 1, 1).unwrap();
    let text = f.daemon.snapshot();
    assert!(text.starts_with("xenstore-snapshot v1\n"), "{text}");

    let g = Fixture::with("snap2", Daemon::from_snapshot(&text).unwrap());
    let ys = g.client();
    assert_eq!(ys.read("/local/domain/3/name").unwrap(), "vm \"three\"\n");
    assert_eq!(ys.read_bytes("/bin").unwrap(), b"\0\x01\xfe");
    assert_eq!(
        ys.get_perms("/local/domain/3/name").unwrap(),
        [Perm::new(3, Access::None), Perm::new(0, Access::Read)]
    );
    assert!(ys.is_domain_introduced(3).unwrap());
    assert_eq!(ys.directory("/").unwrap(), xs.directory("/").unwrap());
    assert_eq!(g.daemon.snapshot(), text);

    // Restoring under an open transaction makes it conflict.
    let tx = ys.transaction_start().unwrap();
    tx.read("/bin").unwrap();
    g.daemon.restore(&Daemon::new().snapshot()).unwrap();
    assert_eq!(errno(tx.commit()), Errno::Again);
    assert_eq!(errno(ys.read("/bin")), Errno::NotFound);

    assert!(Daemon::from_snapshot("garbage").is_err());
}

/// `Xs::open` reads the environment, which a test may not change in its
/// own process, so this test re-runs itself as a child with
/// `XENSTORED_PATH` set.
#[test]
fn open_honours_xenstored_path() {
    if let Some(expect) = std::env::var_os("XS_CHILD_EXPECT") {
        let path = std::env::var("XENSTORED_PATH").unwrap();
        match Xs::open() {
            Ok(xs) => {
                assert_eq!(expect, "ok");
                assert_eq!(xs.read("/tool").unwrap(), "");
            }
            Err(e) => {
                assert_eq!(expect, "missing");
                assert_eq!(
                    e.to_string(),
                    format!(
                        "cannot connect to xenstored at {path}: No such file or directory \
                         (os error 2) (is xenstored running?)"
                    )
                );
            }
        }
        return;
    }
    let f = Fixture::new("env");
    let cases = [
        (f.socket().to_owned(), "ok"),
        (f.dir.path().join("absent"), "missing"),
    ];
    for (path, expect) in cases {
        let out = Command::new(std::env::current_exe().unwrap())
            .args(["open_honours_xenstored_path", "--exact", "--nocapture"])
            .env("XENSTORED_PATH", &path)
            .env("XS_CHILD_EXPECT", expect)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{expect}: {stdout}{stderr}");
        assert!(stdout.contains("1 passed"), "{stdout}");
    }
}

#[test]
fn batched_changes_apply_in_order_and_report_the_first_failure() {
    let f = Fixture::new("batch");
    let xs = f.client();
    xs.write("/old/x", "1").unwrap();
    xs.transaction(|tx| -> Result<(), Error> {
        tx.batch(|b| {
            b.rm_if_present("/old")?;
            b.rm_if_present("/never/there")?;
            b.mkdir("/new")?;
            b.set_perms("/new", &[Perm::new(0, Access::None)])?;
            for i in 0..50 {
                b.write(&format!("/new/k{i}"), &i.to_string())?;
            }
            assert_eq!(b.len(), 54);
            Ok(())
        })
    })
    .unwrap();
    assert!(xs.try_read("/old").unwrap().is_none());
    assert_eq!(xs.directory("/new").unwrap().len(), 50);
    assert_eq!(xs.read("/new/k49").unwrap(), "49");

    // Reads cannot be batched; a failing change is reported after the
    // others were answered, and the connection stays usable.
    let refused = xs.batch(|b| b.read("/new/k1").map(drop));
    assert!(refused.is_err());
    let failed = xs.batch(|b| {
        b.write("/ok/a", "a")?;
        b.write("/bad path", "bad")?;
        b.write("/ok/b", "b")
    });
    assert_eq!(errno(failed), Errno::InvalidArgument);
    assert_eq!(xs.read("/ok/b").unwrap(), "b");
}

#[test]
fn prefetched_reads_answer_once_and_never_hide_our_changes() {
    let f = Fixture::new("prefetch");
    let xs = f.client();
    let other = f.client();
    xs.write("/p/a", "1").unwrap();
    xs.write("/p/b", "2").unwrap();
    xs.prefetch(&[
        (Op::Read, "/p/a"),
        (Op::Read, "/p/none"),
        (Op::Directory, "/p"),
    ])
    .unwrap();
    assert_eq!(xs.prefetched_unused(), 3);
    // Another client's change after the prefetch: the kept reply is what
    // was true when it was asked for, as any earlier read would be.
    other.write("/p/a", "changed").unwrap();
    assert_eq!(xs.read("/p/a").unwrap(), "1");
    assert_eq!(
        xs.read("/p/a").unwrap(),
        "changed",
        "a kept reply answers once"
    );
    assert_eq!(errno(xs.read("/p/none")), Errno::NotFound);
    assert_eq!(xs.prefetched_unused(), 1);
    // Our own change drops what is kept.
    xs.write("/p/c", "3").unwrap();
    assert_eq!(xs.prefetched_unused(), 0);
    assert_eq!(xs.directory("/p").unwrap(), ["a", "b", "c"]);

    // Pipelined reads use kept replies too.
    xs.prefetch(&[(Op::Read, "/p/b")]).unwrap();
    other.write("/p/b", "later").unwrap();
    let got = xs
        .read_many(&["/p/a".to_string(), "/p/b".to_string()])
        .unwrap();
    assert_eq!(got, [Some("changed".to_string()), Some("2".to_string())]);
    assert_eq!(xs.prefetched_unused(), 0);

    // A change drops the replies it touches, in a transaction or not,
    // and keeps unrelated ones.
    xs.prefetch(&[(Op::Read, "/p/b"), (Op::Directory, "/p"), (Op::Read, "/q")])
        .unwrap();
    xs.transaction(|t| t.write("/p/d", "4")).unwrap();
    assert_eq!(xs.prefetched_unused(), 2, "/p's listing is dropped");
    xs.rm("/p").unwrap();
    assert_eq!(xs.prefetched_unused(), 1, "and /p/b with its parent");
    assert_eq!(errno(xs.read("/q")), Errno::NotFound);
    assert!(xs.prefetch(&[(Op::Write, "/p/e")]).is_err());
}
