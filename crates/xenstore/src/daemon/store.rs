//! The daemon's data model: the node tree, permission checks, and the node
//! operations, which run either on the live tree or on a transaction's
//! private copy (recording what they touched for conflict detection).

use std::collections::{BTreeSet, HashMap};

// A persistent map: a transaction snapshot is an O(1) clone sharing
// structure with the live tree, not a copy of every node.
type NodeMap = imbl::HashMap<String, Node>;

use crate::wire::{Access, Errno, PAYLOAD_MAX, Perm, REL_PATH_MAX, join_args};

pub(crate) const READ: u8 = 1;
pub(crate) const WRITE: u8 = 2;
pub(crate) const OWNER: u8 = 4;

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Node {
    pub value: Vec<u8>,
    /// Never empty: the first entry is the owner and default access.
    pub perms: Vec<Perm>,
    /// Child names in creation order, which is what DIRECTORY reports.
    pub children: Vec<String>,
    /// Bumped on every change, including to `children`.
    pub generation: u64,
}

#[derive(Clone, Debug)]
pub(crate) struct Tree {
    nodes: NodeMap,
    generation: u64,
}

impl Tree {
    /// What a freshly started xenstored holds.
    pub fn new() -> Tree {
        let mut t = Tree::with_root(vec![Perm::new(0, Access::None)]);
        for path in ["/tool", "/tool/xenstored"] {
            t.restore(path, b"", vec![Perm::new(0, Access::None)])
                .expect("parent exists");
        }
        t
    }

    pub fn with_root(perms: Vec<Perm>) -> Tree {
        let root = Node {
            value: Vec::new(),
            perms,
            children: Vec::new(),
            generation: 0,
        };
        Tree {
            nodes: NodeMap::from(vec![("/".to_owned(), root)]),
            generation: 0,
        }
    }

    pub fn get(&self, path: &str) -> Option<&Node> {
        self.nodes.get(path)
    }

    fn bump(&mut self) -> u64 {
        self.generation += 1;
        self.generation
    }

    /// Adds a node below an existing parent without any checks or events;
    /// used to build the initial tree and to load snapshots.
    pub fn restore(&mut self, path: &str, value: &[u8], perms: Vec<Perm>) -> Result<(), String> {
        if path == "/" {
            let root = self.nodes.get_mut("/").expect("root exists");
            root.value = value.to_vec();
            root.perms = perms;
            return Ok(());
        }
        if !valid_path(path) {
            return Err(format!("invalid path {path}"));
        }
        if perms.is_empty() {
            return Err(format!("{path} has no permissions"));
        }
        if self.nodes.contains_key(path) {
            return Err(format!("{path} appears twice"));
        }
        let parent = self
            .nodes
            .get_mut(parent(path))
            .ok_or_else(|| format!("{path} comes before its parent"))?;
        parent.children.push(basename(path).to_owned());
        let node = Node {
            value: value.to_vec(),
            perms,
            children: Vec::new(),
            generation: 0,
        };
        self.nodes.insert(path.to_owned(), node);
        Ok(())
    }

    /// Gives every node a generation newer than anything in `old`, so a
    /// transaction that started on `old` cannot commit onto this tree.
    pub fn renumber_after(&mut self, old: &Tree) {
        let generation = old.generation.max(self.generation) + 1;
        for (_, n) in self.nodes.iter_mut() {
            n.generation = generation;
        }
        self.generation = generation;
    }

    /// All nodes, parents before children, children in order.
    pub fn preorder(&self) -> Vec<(&str, &Node)> {
        let mut out = Vec::with_capacity(self.nodes.len());
        let mut stack = vec!["/".to_owned()];
        while let Some(path) = stack.pop() {
            let (key, node) = self.nodes.get_key_value(&path).expect("child exists");
            out.push((key.as_str(), node));
            for c in node.children.iter().rev() {
                stack.push(join(&path, c));
            }
        }
        out
    }

    /// The subtree at `path` depth-first, each node after its children
    /// (the order xenstored deletes, and fires watches, in).
    fn postorder(&self, path: &str) -> Vec<String> {
        let mut out = Vec::new();
        let mut stack = vec![(path.to_owned(), false)];
        while let Some((p, expanded)) = stack.pop() {
            if expanded {
                out.push(p);
                continue;
            }
            let children = &self.nodes[&p].children;
            let below: Vec<_> = children
                .iter()
                .rev()
                .map(|c| (join(&p, c), false))
                .collect();
            stack.push((p, true));
            stack.extend(below);
        }
        out
    }
}

/// Who is asking: a domain id, plus the domain it may act for (SET_TARGET).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Caller {
    pub domid: u32,
    pub target: Option<u32>,
}

impl Caller {
    pub fn privileged(&self) -> bool {
        self.domid == 0
    }

    /// Home for relative paths.
    pub fn home(&self) -> String {
        format!("/local/domain/{}", self.domid)
    }

    /// READ/WRITE/OWNER bits `perms` grant this caller: everything for
    /// dom0 and the owner, else the first matching later entry, else the
    /// owner entry's default.
    pub fn rights(&self, perms: &[Perm]) -> u8 {
        const ALL: u8 = READ | WRITE | OWNER;
        let me = |id: u32| id == self.domid || Some(id) == self.target;
        let Some(owner) = perms.first() else {
            return if self.privileged() { ALL } else { 0 };
        };
        if self.privileged() || me(owner.domid) {
            return ALL;
        }
        let entry = perms[1..].iter().find(|p| me(p.domid)).unwrap_or(owner);
        let mut bits = 0;
        if entry.access.can_read() {
            bits |= READ;
        }
        if entry.access.can_write() {
            bits |= WRITE;
        }
        bits
    }
}

/// What a transaction touched: the generation each node had when first
/// seen (`None` = absent), and which nodes it changed.
#[derive(Clone, Debug, Default)]
pub(crate) struct Footprint {
    seen: HashMap<String, Option<u64>>,
    changed: BTreeSet<String>,
}

impl Footprint {
    /// Whether anything seen has changed in `live` since.
    pub fn conflicts(&self, live: &Tree) -> bool {
        self.seen
            .iter()
            .any(|(path, g)| live.get(path).map(|n| n.generation) != *g)
    }

    /// Copies the changed nodes from the transaction's tree into `live`.
    pub fn apply(&self, from: &Tree, live: &mut Tree) {
        for path in &self.changed {
            match from.get(path) {
                Some(node) => {
                    let mut node = node.clone();
                    node.generation = live.bump();
                    live.nodes.insert(path.clone(), node);
                }
                None => {
                    live.nodes.remove(path);
                }
            }
        }
    }
}

/// A change for watches to match. `readable` lists permission sets of
/// which any granting READ lets an unprivileged watcher see the event.
#[derive(Clone, Debug)]
pub(crate) struct Event {
    pub path: String,
    /// Match only watches on exactly this path (descendants of a removed
    /// node), rather than on it or any ancestor.
    pub exact: bool,
    pub readable: Vec<Vec<Perm>>,
}

impl Event {
    pub fn special(name: &str) -> Event {
        Event {
            path: name.to_owned(),
            exact: true,
            readable: Vec::new(),
        }
    }
}

/// The node operations, bound to one tree and caller.
pub(crate) struct Store<'a> {
    pub tree: &'a mut Tree,
    pub caller: Caller,
    pub footprint: Option<&'a mut Footprint>,
    pub events: &'a mut Vec<Event>,
}

impl Store<'_> {
    fn seen(&mut self, path: &str) {
        if let Some(fp) = self.footprint.as_deref_mut()
            && !fp.seen.contains_key(path)
        {
            let g = self.tree.get(path).map(|n| n.generation);
            fp.seen.insert(path.to_owned(), g);
        }
    }

    fn changed(&mut self, path: &str) {
        self.seen(path);
        if let Some(fp) = self.footprint.as_deref_mut() {
            fp.changed.insert(path.to_owned());
        }
    }

    /// Checks `path` exists and the caller has all of `want` on it. For a
    /// missing node, EACCES instead of ENOENT if the nearest existing
    /// ancestor grants none of `want`, so existence does not leak.
    fn check(&mut self, path: &str, want: u8) -> Result<&Node, Errno> {
        self.seen(path);
        let caller = self.caller;
        match self.tree.get(path) {
            Some(n) if caller.rights(&n.perms) & want == want => Ok(n),
            Some(_) => Err(Errno::PermissionDenied),
            None => {
                let mut p = path;
                while p != "/" {
                    p = parent(p);
                    if let Some(n) = self.tree.get(p) {
                        return Err(if caller.rights(&n.perms) & want != 0 {
                            Errno::NotFound
                        } else {
                            Errno::PermissionDenied
                        });
                    }
                }
                Err(Errno::NotFound)
            }
        }
    }

    fn event(&mut self, path: &str, exact: bool, old_perms: Option<Vec<Perm>>) {
        let mut readable: Vec<Vec<Perm>> = old_perms.into_iter().collect();
        for p in [path, parent(path)] {
            if let Some(n) = self.tree.get(p) {
                readable.push(n.perms.clone());
            }
        }
        self.events.push(Event {
            path: path.to_owned(),
            exact,
            readable,
        });
    }

    pub fn read(&mut self, path: &str) -> Result<Vec<u8>, Errno> {
        Ok(self.check(path, READ)?.value.clone())
    }

    pub fn directory(&mut self, path: &str) -> Result<Vec<u8>, Errno> {
        Ok(join_args(&self.check(path, READ)?.children))
    }

    /// One chunk of the child list: `<generation>\0` then whole names from
    /// byte `offset`, with an extra NUL once the list is complete.
    pub fn directory_part(&mut self, path: &str, offset: usize) -> Result<Vec<u8>, Errno> {
        let node = self.check(path, READ)?;
        let list = join_args(&node.children);
        let mut reply = join_args([node.generation.to_string()]);
        let room = PAYLOAD_MAX - reply.len() - 1;
        let mut end = offset.min(list.len());
        while let Some(nul) = list[end..].iter().position(|&b| b == 0) {
            if end + nul + 1 - offset > room {
                break;
            }
            end += nul + 1;
        }
        if offset < list.len() {
            reply.extend_from_slice(&list[offset..end]);
        }
        if end >= list.len() {
            reply.push(0);
        }
        Ok(reply)
    }

    pub fn get_perms(&mut self, path: &str) -> Result<Vec<Perm>, Errno> {
        Ok(self.check(path, READ)?.perms.clone())
    }

    pub fn write(&mut self, path: &str, value: &[u8]) -> Result<(), Errno> {
        match self.check(path, WRITE) {
            Ok(_) => {
                self.changed(path);
                let generation = self.tree.bump();
                let node = self.tree.nodes.get_mut(path).expect("checked");
                node.value = value.to_vec();
                node.generation = generation;
            }
            Err(Errno::NotFound) => self.create(path, value),
            Err(e) => return Err(e),
        }
        self.event(path, false, None);
        Ok(())
    }

    pub fn mkdir(&mut self, path: &str) -> Result<(), Errno> {
        match self.check(path, WRITE) {
            Ok(_) => Ok(()),
            Err(Errno::NotFound) => {
                self.create(path, b"");
                self.event(path, false, None);
                Ok(())
            }
            Err(e) => Err(e),
        }
    }

    /// Creates `path` and any missing ancestors (with empty values). New
    /// nodes inherit their parent's permissions, but an unprivileged
    /// creator becomes the owner.
    fn create(&mut self, path: &str, value: &[u8]) {
        let mut missing = vec![path.to_owned()];
        let mut existing = parent(path);
        while !self.tree.nodes.contains_key(existing) {
            missing.push(existing.to_owned());
            existing = parent(existing);
        }
        let mut parent_path = existing.to_owned();
        for new in missing.iter().rev() {
            self.changed(&parent_path);
            self.changed(new);
            let generation = self.tree.bump();
            let parent = self.tree.nodes.get_mut(&parent_path).expect("exists");
            parent.children.push(basename(new).to_owned());
            parent.generation = generation;
            let mut perms = parent.perms.clone();
            if !self.caller.privileged() {
                perms[0].domid = self.caller.domid;
            }
            let node = Node {
                value: if new == path {
                    value.to_vec()
                } else {
                    Vec::new()
                },
                perms,
                children: Vec::new(),
                generation,
            };
            self.tree.nodes.insert(new.clone(), node);
            parent_path.clone_from(new);
        }
    }

    pub fn rm(&mut self, path: &str) -> Result<(), Errno> {
        match self.check(path, WRITE) {
            Ok(_) if path == "/" => Err(Errno::InvalidArgument),
            Ok(_) => {
                self.remove(path);
                Ok(())
            }
            Err(Errno::NotFound) => {
                // Already gone is fine, as long as the parent exists.
                let p = parent(path);
                self.seen(p);
                match self.tree.get(p) {
                    Some(_) => Ok(()),
                    None => Err(Errno::NotFound),
                }
            }
            Err(e) => Err(e),
        }
    }

    /// Removes a subtree, without permission checks. Descendants fire only
    /// watches set exactly on them; the top node fires its own and its
    /// ancestors' watches.
    pub fn remove(&mut self, path: &str) {
        let doomed = self.tree.postorder(path);
        for p in &doomed {
            self.changed(p);
            self.event(p, p != path, None);
        }
        for p in &doomed {
            self.tree.nodes.remove(p);
        }
        let parent_path = parent(path);
        self.changed(parent_path);
        let generation = self.tree.bump();
        let parent = self.tree.nodes.get_mut(parent_path).expect("parent exists");
        let name = basename(path);
        parent.children.retain(|c| c != name);
        parent.generation = generation;
    }

    pub fn set_perms(&mut self, path: &str, perms: Vec<Perm>) -> Result<(), Errno> {
        let caller = self.caller;
        let node = self.check(path, WRITE | OWNER)?;
        if !caller.privileged() && perms[0].domid != node.perms[0].domid {
            return Err(Errno::NotPermitted);
        }
        let old = node.perms.clone();
        self.changed(path);
        let generation = self.tree.bump();
        let node = self.tree.nodes.get_mut(path).expect("checked");
        node.perms = perms;
        node.generation = generation;
        self.event(path, false, Some(old));
        Ok(())
    }
}

pub(crate) fn parent(path: &str) -> &str {
    match path.rfind('/') {
        Some(0) | None => "/",
        Some(i) => &path[..i],
    }
}

pub(crate) fn basename(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

pub(crate) fn join(parent: &str, name: &str) -> String {
    if parent == "/" {
        format!("/{name}")
    } else {
        format!("{parent}/{name}")
    }
}

/// `child` equals `parent` or lies below it; everything is below `/`.
pub(crate) fn is_child(child: &str, parent: &str) -> bool {
    parent == "/"
        || child == parent
        || child
            .strip_prefix(parent)
            .is_some_and(|rest| rest.starts_with('/'))
}

/// xenstored's node name rules: absolute, no empty components or trailing
/// slash, only `[A-Za-z0-9-/_@]`, and at most [`REL_PATH_MAX`] bytes beyond
/// a `/local/domain/<domid>/` prefix.
pub(crate) fn valid_path(path: &str) -> bool {
    let chars_ok = path
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"-/_@".contains(&b));
    chars_ok
        && path.starts_with('/')
        && (path == "/" || !path.ends_with('/'))
        && !path.contains("//")
        && path.len() <= domain_prefix_len(path) + REL_PATH_MAX
}

fn domain_prefix_len(path: &str) -> usize {
    const PREFIX: &str = "/local/domain/";
    let Some(rest) = path.strip_prefix(PREFIX) else {
        return 0;
    };
    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    if (1..=5).contains(&digits) && rest.as_bytes().get(digits) == Some(&b'/') {
        PREFIX.len() + digits + 1
    } else {
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dom0() -> Caller {
        Caller {
            domid: 0,
            target: None,
        }
    }

    fn dom(domid: u32) -> Caller {
        Caller {
            domid,
            target: None,
        }
    }

    fn run<R>(
        tree: &mut Tree,
        caller: Caller,
        f: impl FnOnce(&mut Store<'_>) -> R,
    ) -> (R, Vec<Event>) {
        let mut events = Vec::new();
        let r = f(&mut Store {
            tree,
            caller,
            footprint: None,
            events: &mut events,
        });
        (r, events)
    }

    fn paths(events: &[Event]) -> Vec<(&str, bool)> {
        events.iter().map(|e| (e.path.as_str(), e.exact)).collect()
    }

    #[test]
    fn path_rules() {
        for ok in ["/", "/a", "/a/b-c_d@e", "/local/domain/1/x"] {
            assert!(valid_path(ok), "{ok}");
        }
        for bad in ["", "a", "/a/", "/a//b", "/a b", "/a\0", "/ä"] {
            assert!(!valid_path(bad), "{bad:?}");
        }
        let long = format!("/{}", "x".repeat(REL_PATH_MAX));
        assert!(!valid_path(&long));
        assert!(valid_path(&long[..REL_PATH_MAX]));
        let under_domain = format!("/local/domain/12345/{}", "x".repeat(REL_PATH_MAX));
        assert!(valid_path(&under_domain));
        assert_eq!(parent("/a/b"), "/a");
        assert_eq!(parent("/a"), "/");
        assert_eq!(parent("/"), "/");
        assert_eq!(basename("/a/b"), "b");
    }

    #[test]
    fn write_creates_parents_in_order_with_one_event() {
        let mut t = Tree::new();
        let (r, ev) = run(&mut t, dom0(), |s| s.write("/a/b/c", b"v"));
        r.unwrap();
        assert_eq!(paths(&ev), [("/a/b/c", false)]);
        assert_eq!(t.get("/a").unwrap().value, b"");
        assert_eq!(t.get("/a/b").unwrap().children, ["c"]);
        assert_eq!(t.get("/a/b/c").unwrap().value, b"v");
        assert_eq!(t.get("/").unwrap().children, ["tool", "a"]);
        run(&mut t, dom0(), |s| s.write("/a/0", b"")).0.unwrap();
        assert_eq!(t.get("/a").unwrap().children, ["b", "0"]);
    }

    #[test]
    fn rm_fires_exact_events_below_and_one_for_the_top() {
        let mut t = Tree::new();
        run(&mut t, dom0(), |s| {
            s.write("/a/b/c", b"1").unwrap();
            s.write("/a/d", b"2").unwrap();
        });
        let (r, ev) = run(&mut t, dom0(), |s| s.rm("/a"));
        r.unwrap();
        assert_eq!(
            paths(&ev),
            [
                ("/a/b/c", true),
                ("/a/b", true),
                ("/a/d", true),
                ("/a", false)
            ]
        );
        assert!(t.get("/a/b").is_none());
        assert_eq!(t.get("/").unwrap().children, ["tool"]);
        // Gone already: fine. Parent gone too: ENOENT. Root: EINVAL.
        assert_eq!(run(&mut t, dom0(), |s| s.rm("/a")).0, Ok(()));
        assert_eq!(
            run(&mut t, dom0(), |s| s.rm("/a/b")).0,
            Err(Errno::NotFound)
        );
        assert_eq!(
            run(&mut t, dom0(), |s| s.rm("/")).0,
            Err(Errno::InvalidArgument)
        );
    }

    #[test]
    fn unprivileged_access_follows_perms() {
        let mut t = Tree::new();
        run(&mut t, dom0(), |s| {
            s.write("/d/pub", b"p").unwrap();
            s.set_perms("/d/pub", vec![Perm::new(0, Access::Read)])
                .unwrap();
            s.write("/d/mine", b"m").unwrap();
            s.set_perms("/d/mine", vec![Perm::new(3, Access::None)])
                .unwrap();
            s.write("/d/shared", b"s").unwrap();
            s.set_perms(
                "/d/shared",
                vec![Perm::new(0, Access::None), Perm::new(3, Access::Both)],
            )
            .unwrap();
        });
        let (r, _) = run(&mut t, dom(3), |s| {
            assert_eq!(s.read("/d/pub").unwrap(), b"p");
            assert_eq!(s.write("/d/pub", b"x"), Err(Errno::PermissionDenied));
            assert_eq!(s.read("/d/mine").unwrap(), b"m");
            s.write("/d/mine/child", b"c").unwrap();
            s.write("/d/shared", b"S").unwrap();
            // Hidden parent: EACCES rather than ENOENT for a missing node.
            assert_eq!(s.read("/d/nothere"), Err(Errno::PermissionDenied));
            assert_eq!(s.read("/d/mine/nothere"), Err(Errno::NotFound));
            // Only the owner may change perms, and not hand the node away.
            assert_eq!(
                s.set_perms("/d/shared", vec![Perm::new(3, Access::None)]),
                Err(Errno::PermissionDenied)
            );
            assert_eq!(
                s.set_perms("/d/mine", vec![Perm::new(4, Access::None)]),
                Err(Errno::NotPermitted)
            );
            Ok::<_, Errno>(())
        });
        r.unwrap();
        assert_eq!(t.get("/d/mine/child").unwrap().perms[0].domid, 3);
        assert_eq!(
            run(&mut t, dom(4), |s| s.read("/d/mine")).0,
            Err(Errno::PermissionDenied)
        );
        let target = Caller {
            domid: 4,
            target: Some(3),
        };
        assert_eq!(
            run(&mut t, target, |s| s.read("/d/mine")).0,
            Ok(b"m".to_vec())
        );
    }

    #[test]
    fn footprint_detects_conflicts_on_touched_nodes_only() {
        let mut live = Tree::new();
        run(&mut live, dom0(), |s| {
            s.write("/x", b"1").unwrap();
            s.write("/y", b"1").unwrap();
        });
        let mut copy = live.clone();
        let mut fp = Footprint::default();
        let mut events = Vec::new();
        let mut tx = Store {
            tree: &mut copy,
            caller: dom0(),
            footprint: Some(&mut fp),
            events: &mut events,
        };
        tx.write("/x", b"2").unwrap();
        run(&mut live, dom0(), |s| s.write("/y", b"3")).0.unwrap();
        assert!(!fp.conflicts(&live));
        run(&mut live, dom0(), |s| s.write("/x", b"3")).0.unwrap();
        assert!(fp.conflicts(&live));
    }

    #[test]
    fn directory_part_chunks_reassemble() {
        let mut t = Tree::new();
        let names: Vec<String> = (0..700).map(|i| format!("child-number-{i}")).collect();
        run(&mut t, dom0(), |s| {
            for n in &names {
                s.mkdir(&format!("/big/{n}")).unwrap();
            }
        });
        let full = run(&mut t, dom0(), |s| s.directory("/big")).0.unwrap();
        assert!(full.len() > PAYLOAD_MAX);
        let mut got = Vec::new();
        loop {
            let chunk = run(&mut t, dom0(), |s| s.directory_part("/big", got.len()))
                .0
                .unwrap();
            assert!(chunk.len() <= PAYLOAD_MAX);
            let nul = chunk.iter().position(|&b| b == 0).unwrap();
            got.extend_from_slice(&chunk[nul + 1..]);
            if got.ends_with(&[0, 0]) {
                break;
            }
        }
        got.pop();
        assert_eq!(got, full);
    }
}
