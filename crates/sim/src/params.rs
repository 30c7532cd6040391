//! The simulated hypervisor's runtime parameters: hypfs's `/params`
//! nodes that Xen 4.17 lets `xl set-parameters` change, with Xen's checks
//! on writes.

use std::collections::BTreeMap;

use rustix::io::Errno;
use xl_toolstack::params::{HypfsEntry, HypfsKind};

/// One writable node.
#[derive(Debug, Clone)]
struct Param {
    kind: HypfsKind,
    /// Contents as Xen stores them (strings with their NUL).
    value: Vec<u8>,
    max_write_len: u32,
    /// Values a custom parameter's parser accepts (None: any).
    accepts: Option<fn(&str) -> bool>,
}

/// Xen's log level words, alone or as `lower/upper` (empty: unchanged).
fn log_levels(s: &str) -> bool {
    if s.is_empty() {
        return true;
    }
    let level = |w: &str| matches!(w, "none" | "error" | "warning" | "info" | "debug" | "all");
    match s.split_once('/') {
        Some((lo, hi)) => level(lo) && level(hi),
        None => level(s),
    }
}

fn decimal(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

fn string(value: &str, max: u32, accepts: Option<fn(&str) -> bool>) -> Param {
    let mut v = value.as_bytes().to_vec();
    v.push(0);
    Param {
        kind: HypfsKind::String,
        value: v,
        max_write_len: max,
        accepts,
    }
}

/// The runtime parameters, by hypfs path.
#[derive(Debug, Clone)]
pub struct Params(BTreeMap<String, Param>);

impl Default for Params {
    fn default() -> Self {
        let mut m = BTreeMap::new();
        let mut add = |name: &str, p: Param| m.insert(format!("/params/{name}"), p);
        add("loglvl", string("warning", 64, Some(log_levels)));
        add("guest_loglvl", string("none/warning", 64, Some(log_levels)));
        add("gnttab_max_frames", string("64", 64, Some(decimal)));
        add(
            "gnttab_max_maptrack_frames",
            string("1024", 64, Some(decimal)),
        );
        add("conswitch", string("a", 4, None));
        add(
            "global-pages",
            Param {
                kind: HypfsKind::Bool,
                value: vec![0],
                max_write_len: 1,
                accepts: None,
            },
        );
        Params(m)
    }
}

impl Params {
    /// A node's header; ENOENT for a path that names none.
    pub fn entry(&self, path: &str) -> Result<HypfsEntry, Errno> {
        if path == "/params" || path == "/params/" || path == "/" {
            return Ok(HypfsEntry {
                kind: HypfsKind::Dir,
                plain: true,
                content_len: 0,
                max_write_len: 0,
            });
        }
        let p = self.0.get(path).ok_or(Errno::NOENT)?;
        Ok(HypfsEntry {
            kind: p.kind,
            plain: true,
            content_len: p.value.len() as u32,
            max_write_len: p.max_write_len,
        })
    }

    /// A write as Xen checks it: too long (ENOSPC), a string without its
    /// NUL or a value the parameter's parser refuses (EINVAL).
    pub fn write(&mut self, path: &str, data: &[u8]) -> Result<(), Errno> {
        self.entry(path)?;
        let p = self.0.get_mut(path).ok_or(Errno::ACCESS)?;
        if data.len() > p.max_write_len as usize {
            return Err(Errno::NOSPC);
        }
        match p.kind {
            HypfsKind::String => {
                let Some((0, text)) = data.split_last() else {
                    return Err(Errno::INVAL);
                };
                let text = std::str::from_utf8(text).map_err(|_| Errno::INVAL)?;
                if p.accepts.is_some_and(|ok| !ok(text)) {
                    return Err(Errno::INVAL);
                }
            }
            _ if data.len() != p.value.len() => return Err(Errno::INVAL),
            _ => {}
        }
        p.value = data.to_vec();
        Ok(())
    }

    /// Whether `loglvl` lets no console message through (its lower
    /// threshold is "none").
    pub fn console_silent(&self) -> bool {
        self.show("/params/loglvl")
            .is_some_and(|l| l.split('/').next() == Some("none"))
    }

    /// A node's contents as text (strings without their NUL, numbers in
    /// decimal), for the host's log and tests.
    pub fn show(&self, path: &str) -> Option<String> {
        let p = self.0.get(path)?;
        Some(match p.kind {
            HypfsKind::String => {
                String::from_utf8_lossy(p.value.strip_suffix(&[0]).unwrap_or(&p.value)).into_owned()
            }
            _ => {
                let mut b = [0u8; 8];
                let n = p.value.len().min(8);
                b[..n].copy_from_slice(&p.value[..n]);
                u64::from_le_bytes(b).to_string()
            }
        })
    }
}
