//! Cross-checks against the real C tools (Debian's `xenstore-utils`, built
//! on libxenstore), pointed at our daemon with `XENSTORED_PATH`. Each test
//! is skipped, with a message, when the tools are not installed, and
//! fails instead when `XL_TEST_REQUIRE_ALL` is set (CI sets it).

mod common;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use common::Fixture;
use xenstore::{Access, Errno, Perm, XsOps};

fn find_tool(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}

/// The tools, or `None` (after saying so) when they are not installed.
fn tools() -> Option<()> {
    if find_tool("xenstore-read").is_none() {
        let why = "xenstore-read not found (install the xenstore-utils package)";
        assert!(
            std::env::var_os("XL_TEST_REQUIRE_ALL").is_none(),
            "XL_TEST_REQUIRE_ALL is set: {why}"
        );
        eprintln!("skipping: {why}");
        return None;
    }
    Some(())
}

fn spawn(socket: &Path, tool: &str, args: &[&str]) -> Child {
    Command::new(tool)
        .args(args)
        .env("XENSTORED_PATH", socket)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {tool}: {e}"))
}

/// Waits for `child`, killing it (and failing) after ten seconds so a
/// daemon bug cannot hang the test suite.
fn finish(mut child: Child, what: &str) -> Output {
    let deadline = Instant::now() + Duration::from_secs(10);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what} timed out");
        }
        thread::sleep(Duration::from_millis(5));
    }
    let mut out = Output {
        status: child.wait().unwrap(),
        stdout: Vec::new(),
        stderr: Vec::new(),
    };
    child
        .stdout
        .take()
        .unwrap()
        .read_to_end(&mut out.stdout)
        .unwrap();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_end(&mut out.stderr)
        .unwrap();
    out
}

/// Runs a tool, returning (exit code, stdout, stderr).
fn run(f: &Fixture, tool: &str, args: &[&str]) -> (i32, String, String) {
    let out = finish(spawn(f.socket(), tool, args), tool);
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Runs a tool that must succeed; returns its stdout.
fn ok(f: &Fixture, tool: &str, args: &[&str]) -> String {
    let (code, out, err) = run(f, tool, args);
    assert_eq!(code, 0, "{tool} {args:?} failed: {err}");
    out
}

#[test]
fn values_cross_between_our_client_and_theirs() {
    let Some(()) = tools() else { return };
    let f = Fixture::new("c-values");
    let xs = f.client();

    xs.write("/ours/greeting", "hello world").unwrap();
    assert_eq!(
        ok(&f, "xenstore-read", &["/ours/greeting"]),
        "hello world\n"
    );
    assert_eq!(ok(&f, "xenstore-read", &["/ours"]), "\n");
    // Several keys: the tool reads them inside one transaction.
    assert_eq!(
        ok(&f, "xenstore-read", &["-p", "/ours/greeting", "/tool"]),
        "/ours/greeting: hello world\n/tool: \n"
    );
    xs.write_bytes("/ours/raw", b"tab\there\x01").unwrap();
    assert_eq!(ok(&f, "xenstore-read", &["/ours/raw"]), "tab\\there\\001\n");
    assert_eq!(
        ok(&f, "xenstore-read", &["-R", "/ours/raw"]),
        "tab\there\x01"
    );

    ok(&f, "xenstore-write", &["/theirs/a/b", "from C"]);
    assert_eq!(xs.read("/theirs/a/b").unwrap(), "from C");
    assert_eq!(xs.read("/theirs/a").unwrap(), "", "parents created empty");
    ok(&f, "xenstore-write", &["/theirs/x", "1", "/theirs/y", "2"]);
    assert_eq!(xs.directory("/theirs").unwrap(), ["a", "x", "y"]);
    // The tool unescapes its argument; we must store the bytes it sends.
    ok(&f, "xenstore-write", &["/theirs/esc", "a\\x41\\t\\\\"]);
    assert_eq!(xs.read_bytes("/theirs/esc").unwrap(), b"aA\t\\");

    let (code, out, err) = run(&f, "xenstore-read", &["/theirs/missing"]);
    assert_eq!((code, out.as_str()), (1, ""));
    assert!(err.contains("couldn't read path /theirs/missing"), "{err}");
    assert_eq!(run(&f, "xenstore-exists", &["/theirs/x"]).0, 0);
    assert_eq!(run(&f, "xenstore-exists", &["/theirs/nope"]).0, 1);
}

#[test]
fn listings_have_the_real_tools_shape() {
    let Some(()) = tools() else { return };
    let f = Fixture::new("c-ls");
    let xs = f.client();
    xs.write("/local/domain/1/name", "guest1").unwrap();
    xs.write("/local/domain/1/memory/target", "524288").unwrap();
    xs.set_perms(
        "/local/domain/1/name",
        &[Perm::new(1, Access::None), Perm::new(0, Access::Read)],
    )
    .unwrap();

    let expected = "\
tool = \"\"  . . . . . . . . . . . . . . . . . . . . . . . . .  (n0)
 xenstored = \"\"  . . . . . . . . . . . . . . . . . . . . . .  (n0)
local = \"\" . . . . . . . . . . . . . . . . . . . . . . . . .  (n0)
 domain = \"\" . . . . . . . . . . . . . . . . . . . . . . . .  (n0)
  1 = \"\" . . . . . . . . . . . . . . . . . . . . . . . . . .  (n0)
   name = \"guest1\" . . . . . . . . . . . . . . . . . . . . .  (n1,r0)
   memory = \"\" . . . . . . . . . . . . . . . . . . . . . . .  (n0)
    target = \"524288\"  . . . . . . . . . . . . . . . . . . .  (n0)
";
    assert_eq!(ok(&f, "xenstore-ls", &["-p"]), expected);
    assert_eq!(
        ok(&f, "xenstore-ls", &["-f", "/local/domain/1"]),
        "/local/domain/1/name = \"guest1\"\n\
         /local/domain/1/memory = \"\"\n\
         /local/domain/1/memory/target = \"524288\"\n"
    );
    assert_eq!(
        ok(&f, "xenstore-list", &["-p", "/local/domain/1"]),
        "/local/domain/1/name\n/local/domain/1/memory\n"
    );
    let (code, _, err) = run(&f, "xenstore-ls", &["/nope"]);
    assert_eq!(code, 1);
    assert!(err.contains("xs_directory (/nope)"), "{err}");
}

#[test]
fn long_listings_go_through_directory_part() {
    let Some(()) = tools() else { return };
    let f = Fixture::new("c-big");
    let xs = f.client();
    let names: Vec<String> = (0..600).map(|i| format!("entry-number-{i:04}")).collect();
    for n in &names {
        xs.mkdir(&format!("/many/{n}")).unwrap();
    }
    let listed = ok(&f, "xenstore-list", &["/many"]);
    assert_eq!(listed.lines().collect::<Vec<_>>(), names);
}

#[test]
fn permissions_cross_both_ways() {
    let Some(()) = tools() else { return };
    let f = Fixture::new("c-perms");
    let xs = f.client();
    xs.write("/p/a/b", "x").unwrap();

    ok(&f, "xenstore-chmod", &["/p/a", "n3", "r0", "b7"]);
    assert_eq!(
        xs.get_perms("/p/a").unwrap(),
        [
            Perm::new(3, Access::None),
            Perm::new(0, Access::Read),
            Perm::new(7, Access::Both)
        ]
    );
    assert_eq!(
        xs.get_perms("/p/a/b").unwrap(),
        [Perm::new(0, Access::None)]
    );
    ok(&f, "xenstore-chmod", &["-r", "/p", "w2"]);
    for p in ["/p", "/p/a", "/p/a/b"] {
        assert_eq!(
            xs.get_perms(p).unwrap(),
            [Perm::new(2, Access::Write)],
            "{p}"
        );
    }

    xs.set_perms(
        "/p/a/b",
        &[Perm::new(3, Access::Both), Perm::new(0, Access::Read)],
    )
    .unwrap();
    let listing = ok(&f, "xenstore-ls", &["-p", "/p/a"]);
    assert!(listing.starts_with("b = \"x\" "), "{listing}");
    assert!(listing.ends_with("  (b3,r0)\n"), "{listing}");
}

#[test]
fn removal_crosses_both_ways() {
    let Some(()) = tools() else { return };
    let f = Fixture::new("c-rm");
    let xs = f.client();
    xs.write("/r/a/b/c", "1").unwrap();
    xs.write("/r/keep", "1").unwrap();
    ok(&f, "xenstore-rm", &["/r/a"]);
    assert_eq!(xs.directory("/r").unwrap(), ["keep"]);
    // Removing what is already gone is not an error...
    ok(&f, "xenstore-rm", &["/r/a"]);
    // ...unless its parent is gone too.
    let (code, _, err) = run(&f, "xenstore-rm", &["/r/a/b"]);
    assert_eq!(code, 1);
    assert!(err.contains("could not remove path /r/a/b"), "{err}");

    // -t also removes parents left empty and valueless.
    xs.write("/t/x/y/z", "1").unwrap();
    xs.write("/t/v", "").unwrap();
    ok(&f, "xenstore-rm", &["-t", "/t/x/y/z"]);
    assert_eq!(xs.directory("/t").unwrap(), ["v"]);

    ok(&f, "xenstore-write", &["/gone", "soon"]);
    xs.rm("/gone").unwrap();
    assert_eq!(run(&f, "xenstore-exists", &["/gone"]).0, 1);
    assert_eq!(
        xs.read("/gone").unwrap_err().errno(),
        Some(&Errno::NotFound)
    );
}

#[test]
fn their_watch_sees_our_writes() {
    let Some(()) = tools() else { return };
    let f = Fixture::new("c-watch");
    let xs = f.client();
    xs.mkdir("/w").unwrap();
    let child = spawn(f.socket(), "xenstore-watch", &["-n", "2", "/w"]);
    // The watch registers asynchronously; keep changing the node until the
    // tool has seen its initial event and one change, and exits.
    let writer = thread::spawn({
        let xs = f.client();
        move || {
            for i in 0..200 {
                if xs.write("/w/x", &i.to_string()).is_err() {
                    break;
                }
                thread::sleep(Duration::from_millis(25));
            }
        }
    });
    let out = finish(child, "xenstore-watch");
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stdout), "/w\n/w/x\n");
    drop(xs);
    drop(f);
    writer.join().unwrap();
}

#[test]
fn our_watch_sees_their_writes() {
    let Some(()) = tools() else { return };
    let f = Fixture::new("c-watch2");
    let xs = f.client();
    xs.watch("/from-c", "tok").unwrap();
    let first = xs.wait_watch(Duration::from_secs(5)).unwrap().unwrap();
    assert_eq!(first.path, "/from-c");
    ok(&f, "xenstore-write", &["/from-c/k", "v"]);
    let ev = xs.wait_watch(Duration::from_secs(5)).unwrap().unwrap();
    assert_eq!((ev.path.as_str(), ev.token.as_str()), ("/from-c/k", "tok"));
    ok(&f, "xenstore-rm", &["/from-c"]);
    let ev = xs.wait_watch(Duration::from_secs(5)).unwrap().unwrap();
    assert_eq!(ev.path, "/from-c");
}

#[test]
fn many_tools_at_once() {
    let Some(()) = tools() else { return };
    let f = Fixture::new("c-parallel");
    let children: Vec<Child> = (0..12)
        .map(|i| {
            let key = format!("/par/{i}");
            let value = format!("v{i}");
            spawn(
                f.socket(),
                "xenstore-write",
                &[&key, &value, "/par/shared", &value],
            )
        })
        .collect();
    for c in children {
        assert!(finish(c, "xenstore-write").status.success());
    }
    let xs = f.client();
    for i in 0..12 {
        assert_eq!(xs.read(&format!("/par/{i}")).unwrap(), format!("v{i}"));
    }
    assert!(xs.read("/par/shared").unwrap().starts_with('v'));
    common::eventually("tool connections closed", || f.daemon.connections() == 1);
}
