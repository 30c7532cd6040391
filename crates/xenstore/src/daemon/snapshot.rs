//! Text form of the store, one record per line:
//!
//! ```text
//! xenstore-snapshot v1
//! domain 0
//! target 7 3
//! special @releaseDomain n0
//! node / n0 ""
//! node /local/domain/3/name n3,r0 "guest\x01"
//! ```
//!
//! Nodes come parents first, siblings in creation order. Values are quoted
//! with `\\`, `\"`, `\n`, `\t`, `\r` and `\xNN` escapes, so any bytes
//! survive. Blank lines and `#` comments are ignored.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use super::store::Tree;
use super::{Db, default_special};
use crate::wire::Perm;

const HEADER: &str = "xenstore-snapshot v1";

/// A snapshot that could not be loaded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("xenstore snapshot line {line}: {msg}")]
pub struct SnapshotError {
    /// 1-based line number of the offending record.
    pub line: usize,
    /// What is wrong with it.
    pub msg: String,
}

pub(super) fn save(db: &Db) -> String {
    let mut out = format!("{HEADER}\n");
    for d in &db.domains {
        let _ = writeln!(out, "domain {d}");
    }
    for (d, t) in &db.targets {
        let _ = writeln!(out, "target {d} {t}");
    }
    for (name, perms) in &db.special {
        let _ = writeln!(out, "special {name} {}", perms_text(perms));
    }
    for (path, node) in db.tree.preorder() {
        let _ = writeln!(
            out,
            "node {path} {} \"{}\"",
            perms_text(&node.perms),
            escape(&node.value)
        );
    }
    out
}

pub(super) fn load(text: &str) -> Result<Db, SnapshotError> {
    let mut lines = text.lines().enumerate().map(|(i, l)| (i + 1, l));
    match lines.next() {
        Some((_, l)) if l.trim_end() == HEADER => {}
        _ => {
            return Err(SnapshotError {
                line: 1,
                msg: format!("expected {HEADER:?}"),
            });
        }
    }
    let mut tree: Option<Tree> = None;
    let mut domains = BTreeSet::new();
    let mut targets = BTreeMap::new();
    let mut special = default_special();
    for (n, line) in lines {
        let err = |msg: String| SnapshotError { line: n, msg };
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        let (kind, rest) = line.split_once(' ').unwrap_or((line, ""));
        match kind {
            "domain" => {
                domains.insert(num(rest).map_err(err)?);
            }
            "target" => {
                let (d, t) = rest
                    .split_once(' ')
                    .ok_or_else(|| err("expected: target <domid> <domid>".into()))?;
                targets.insert(num(d).map_err(err)?, num(t).map_err(err)?);
            }
            "special" => {
                let (name, perms) = rest
                    .split_once(' ')
                    .ok_or_else(|| err("expected: special <name> <perms>".into()))?;
                if !special.contains_key(name) {
                    return Err(err(format!("unknown special path {name}")));
                }
                special.insert(name.to_owned(), parse_perms(perms).map_err(err)?);
            }
            "node" => {
                let mut f = rest.splitn(3, ' ');
                let (Some(path), Some(perms), Some(value)) = (f.next(), f.next(), f.next()) else {
                    return Err(err("expected: node <path> <perms> \"<value>\"".into()));
                };
                let perms = parse_perms(perms).map_err(err)?;
                let value = unquote(value).map_err(err)?;
                match &mut tree {
                    None if path == "/" => {
                        let mut t = Tree::with_root(perms.clone());
                        t.restore("/", &value, perms).map_err(err)?;
                        tree = Some(t);
                    }
                    None => return Err(err("the first node must be /".into())),
                    Some(t) => t.restore(path, &value, perms).map_err(err)?,
                }
            }
            other => return Err(err(format!("unknown record {other:?}"))),
        }
    }
    let tree = tree.ok_or_else(|| SnapshotError {
        line: text.lines().count(),
        msg: "no nodes (at least / is required)".into(),
    })?;
    Ok(Db {
        tree,
        domains,
        targets,
        special,
    })
}

fn num(s: &str) -> Result<u32, String> {
    s.parse().map_err(|_| format!("bad domid {s:?}"))
}

fn perms_text(perms: &[Perm]) -> String {
    perms
        .iter()
        .map(Perm::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

fn parse_perms(s: &str) -> Result<Vec<Perm>, String> {
    s.split(',')
        .map(|p| {
            p.parse()
                .map_err(|e: crate::wire::ParsePermError| e.to_string())
        })
        .collect()
}

fn escape(value: &[u8]) -> String {
    let mut s = String::with_capacity(value.len());
    for &b in value {
        match b {
            b'\\' => s.push_str("\\\\"),
            b'"' => s.push_str("\\\""),
            b'\n' => s.push_str("\\n"),
            b'\t' => s.push_str("\\t"),
            b'\r' => s.push_str("\\r"),
            0x20..=0x7e => s.push(b as char),
            _ => {
                let _ = write!(s, "\\x{b:02x}");
            }
        }
    }
    s
}

fn unquote(s: &str) -> Result<Vec<u8>, String> {
    let inner = s
        .strip_prefix('"')
        .and_then(|s| s.strip_suffix('"'))
        .ok_or_else(|| format!("value must be quoted: {s}"))?;
    let mut out = Vec::with_capacity(inner.len());
    let mut bytes = inner.bytes();
    while let Some(b) = bytes.next() {
        if b != b'\\' {
            out.push(b);
            continue;
        }
        match bytes.next() {
            Some(b'\\') => out.push(b'\\'),
            Some(b'"') => out.push(b'"'),
            Some(b'n') => out.push(b'\n'),
            Some(b't') => out.push(b'\t'),
            Some(b'r') => out.push(b'\r'),
            Some(b'x') => {
                let hex = [bytes.next(), bytes.next()];
                let [Some(h), Some(l)] = hex else {
                    return Err("truncated \\x escape".into());
                };
                let digits = std::str::from_utf8(&[h, l])
                    .map_err(|_| "bad \\x escape")?
                    .to_owned();
                out.push(u8::from_str_radix(&digits, 16).map_err(|_| format!("bad \\x{digits}"))?);
            }
            other => return Err(format!("bad escape \\{}", other.map_or('?', char::from))),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::Access;

    #[test]
    fn escapes_round_trip_every_byte() {
        let all: Vec<u8> = (0..=255).collect();
        let text = format!("\"{}\"", escape(&all));
        assert!(text.is_ascii() && !text.contains('\n'));
        assert_eq!(unquote(&text).unwrap(), all);
    }

    #[test]
    fn save_load_round_trip() {
        let mut db = Db::new();
        db.tree
            .restore("/local", b"", vec![Perm::new(0, Access::Read)])
            .unwrap();
        db.tree
            .restore(
                "/local/x",
                b"a \"q\" \\ \0 \xff",
                vec![Perm::new(3, Access::None), Perm::new(0, Access::Both)],
            )
            .unwrap();
        db.domains.insert(3);
        db.targets.insert(7, 3);
        let text = save(&db);
        let back = load(&text).unwrap();
        assert_eq!(save(&back), text);
        assert_eq!(
            back.tree.get("/local/x").unwrap().value,
            b"a \"q\" \\ \0 \xff"
        );
        assert_eq!(back.domains, BTreeSet::from([0, 3]));
    }

    #[test]
    fn load_reports_the_bad_line() {
        let cases = [
            ("", 1),
            ("nope\n", 1),
            ("xenstore-snapshot v1\nnode /a n0 \"\"\n", 2),
            (
                "xenstore-snapshot v1\nnode / n0 \"\"\nnode /a/b n0 \"\"\n",
                3,
            ),
            ("xenstore-snapshot v1\nnode / n0 \"\"\nnode /a x0 \"\"\n", 3),
            (
                "xenstore-snapshot v1\nnode / n0 \"\"\nnode /a n0 unquoted\n",
                3,
            ),
            (
                "xenstore-snapshot v1\nnode / n0 \"\"\nnode /a n0 \"\\q\"\n",
                3,
            ),
            ("xenstore-snapshot v1\n# comment\n\nbogus\n", 4),
            ("xenstore-snapshot v1\ndomain\n", 2),
            ("xenstore-snapshot v1\nspecial @other n0\n", 2),
        ];
        for (text, line) in cases {
            let e = load(text).unwrap_err();
            assert_eq!(e.line, line, "{text:?}: {e}");
        }
    }
}
