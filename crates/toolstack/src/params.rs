//! Xen's runtime parameters (`xl set-parameters`), set as libxl 4.17
//! does: each word of the string names a node under hypfs's `/params`
//! and its new value, converted to the node's type as libxenhypfs does.

use crate::{Error, Hypervisor};

/// A hypfs node's header, as XEN_HYPFS_OP_read gives it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct HypfsEntry {
    /// The node's type.
    pub kind: HypfsKind,
    /// Whether the contents are stored plain (not gzip).
    pub plain: bool,
    /// The contents' length, in bytes.
    pub content_len: u32,
    /// 0 for a read-only node.
    pub max_write_len: u32,
}

/// XEN_HYPFS_TYPE_*.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum HypfsKind {
    /// A directory.
    Dir,
    /// Raw bytes.
    Blob,
    /// A NUL-terminated string.
    String,
    /// An unsigned integer.
    Uint,
    /// A signed integer.
    Int,
    /// A boolean.
    Bool,
}

/// Longest hypfs path, NUL included (XEN_HYPFS_MAX_PATHLEN).
pub const HYPFS_MAX_PATHLEN: usize = 1024;

/// Why a parameter was not set; the errno is what libxl's message ends
/// with (0 where libxenhypfs fails without setting one).
#[derive(Debug, thiserror::Error)]
pub enum ParamsError {
    /// The hypervisor has no hypfs (or refuses it).
    #[error("opening Xen hypfs")]
    Open(#[source] Error),
    /// The hypervisor refused the new value.
    #[error("setting parameters")]
    Set(#[source] std::io::Error),
    /// A word that names an existing parameter without `=VALUE` or a
    /// `no` prefix (libxl reads through a null pointer there).
    #[error("parameter \"{0}\" has no value: use NAME=VALUE or noNAME")]
    NoValue(String),
}

/// One word of the string: the node's path and the text to write (None
/// for a bare NAME, which libxl does not handle).
#[derive(Debug, PartialEq, Eq)]
struct Assignment {
    path: String,
    value: Option<String>,
}

/// The words of `params` as libxl splits them: at single spaces, blanks
/// skipped after each word; `noNAME` without `=` sets NAME to "no".
fn assignments(params: &str) -> Vec<Assignment> {
    let blank = |c: char| c == ' ' || c == '\t';
    let mut rest = params.trim_start_matches(blank);
    let mut out = Vec::new();
    while !rest.is_empty() {
        let end = rest.find(' ').unwrap_or(rest.len());
        let word = &rest[..end];
        let a = match word.split_once('=') {
            Some((name, value)) => Assignment {
                path: format!("/params/{name}"),
                value: Some(value.to_string()),
            },
            None => match word.strip_prefix("no") {
                Some(name) => Assignment {
                    path: format!("/params/{name}"),
                    value: Some("no".into()),
                },
                None => Assignment {
                    path: format!("/params/{word}"),
                    value: None,
                },
            },
        };
        out.push(a);
        rest = rest[end..].trim_start_matches(blank);
    }
    out
}

/// `libxl_set_parameters`: the words in order, stopping at the first
/// that fails (those before it stay set, as with libxl).
pub fn set_parameters(hv: &dyn Hypervisor, params: &str) -> Result<(), ParamsError> {
    hv.hypfs_open().map_err(ParamsError::Open)?;
    for a in assignments(params) {
        let Some(value) = a.value else {
            // libxl reads through a null pointer here; an unknown name
            // fails as it did in the lab (ENOENT), a known one is refused.
            hv.hypfs_entry(&a.path)
                .map_err(|e| ParamsError::Set(os_error(&e)))?;
            let name = a.path.trim_start_matches("/params/").to_string();
            return Err(ParamsError::NoValue(name));
        };
        write_node(hv, &a.path, &value).map_err(ParamsError::Set)?;
    }
    Ok(())
}

fn errno(n: i32) -> std::io::Error {
    std::io::Error::from_raw_os_error(n)
}

const EACCES: i32 = 13;
const ERANGE: i32 = 34;
const EDOM: i32 = 33;
const ENAMETOOLONG: i32 = 36;

/// The OS error inside a backend error, else the error's own words.
fn os_error(e: &Error) -> std::io::Error {
    match e.errno() {
        Some(n) => errno(n),
        None => std::io::Error::other(crate::error_chain(e)),
    }
}

/// `xenhypfs_write`: the node's header first, then its new contents in
/// its own type.
fn write_node(hv: &dyn Hypervisor, path: &str, value: &str) -> Result<(), std::io::Error> {
    if path.len() + 1 > HYPFS_MAX_PATHLEN {
        return Err(errno(ENAMETOOLONG));
    }
    let entry = hv.hypfs_entry(path).map_err(|e| os_error(&e))?;
    if entry.max_write_len == 0 {
        return Err(errno(EACCES));
    }
    if !entry.plain {
        return Err(errno(EDOM));
    }
    let data = contents(&entry, value)?;
    hv.hypfs_write(path, &data).map_err(|e| os_error(&e))
}

/// A value as the bytes a node of `entry`'s type takes.
fn contents(entry: &HypfsEntry, value: &str) -> Result<Vec<u8>, std::io::Error> {
    let width = entry.content_len.min(8) as usize;
    match entry.kind {
        HypfsKind::String => {
            let mut b = value.as_bytes().to_vec();
            b.push(0);
            Ok(b)
        }
        HypfsKind::Uint | HypfsKind::Int => {
            let n = number(value, entry.kind == HypfsKind::Int)?;
            // Bits above the node's width must be all clear or all set.
            let mask = if width >= 8 { 0 } else { !0u64 << (8 * width) };
            if n & mask != 0 && n & mask != mask {
                return Err(errno(ERANGE));
            }
            Ok(n.to_le_bytes()[..width].to_vec())
        }
        HypfsKind::Bool => {
            let v: u64 = match value {
                "1" | "on" | "yes" | "true" | "enable" => 1,
                "0" | "no" | "off" | "false" | "disable" => 0,
                _ => return Err(errno(EDOM)),
            };
            Ok(v.to_le_bytes()[..width].to_vec())
        }
        HypfsKind::Dir | HypfsKind::Blob => Err(errno(EDOM)),
    }
}

/// strtoull/strtoll with base 0 over the whole text; a text that is not
/// all number fails without an errno, as libxenhypfs's check does.
fn number(value: &str, signed: bool) -> Result<u64, std::io::Error> {
    let b = value.as_bytes();
    let (n, used, overflow) = if signed {
        let (v, used, o) = xl_config::value::strtol(b, 0);
        (v as u64, used, o)
    } else {
        xl_config::value::strtoul(b, 0)
    };
    if overflow {
        return Err(errno(ERANGE));
    }
    if b.is_empty() || used != b.len() {
        return Err(errno(0));
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a(path: &str, value: &str) -> Assignment {
        Assignment {
            path: path.into(),
            value: Some(value.into()),
        }
    }

    #[test]
    fn words_as_libxl_splits_them() {
        assert_eq!(
            assignments("  loglvl=all  guest_loglvl=warning"),
            vec![
                a("/params/loglvl", "all"),
                a("/params/guest_loglvl", "warning")
            ]
        );
        assert_eq!(
            assignments("noglobal-pages"),
            vec![a("/params/global-pages", "no")]
        );
        assert_eq!(assignments("x=a=b"), vec![a("/params/x", "a=b")]);
        assert_eq!(assignments("loglvl="), vec![a("/params/loglvl", "")]);
        assert_eq!(assignments("=1"), vec![a("/params/", "1")]);
        assert!(assignments("").is_empty());
        assert!(assignments(" \t ").is_empty());
        let bare = assignments("a b=1");
        assert_eq!(bare[0].value, None);
        assert_eq!(bare[0].path, "/params/a");
    }

    fn entry(kind: HypfsKind, len: u32) -> HypfsEntry {
        HypfsEntry {
            kind,
            plain: true,
            content_len: len,
            max_write_len: len.max(1),
        }
    }

    #[test]
    fn values_in_the_node_type() {
        assert_eq!(
            contents(&entry(HypfsKind::String, 8), "all").unwrap(),
            b"all\0"
        );
        assert_eq!(
            contents(&entry(HypfsKind::Bool, 1), "yes").unwrap(),
            vec![1]
        );
        assert_eq!(
            contents(&entry(HypfsKind::Bool, 1), "off").unwrap(),
            vec![0]
        );
        let bad = contents(&entry(HypfsKind::Bool, 1), "maybe").unwrap_err();
        assert_eq!(bad.raw_os_error(), Some(EDOM));
        assert_eq!(
            contents(&entry(HypfsKind::Uint, 4), "0x10").unwrap(),
            vec![16, 0, 0, 0]
        );
        let big = contents(&entry(HypfsKind::Uint, 1), "256").unwrap_err();
        assert_eq!(big.raw_os_error(), Some(ERANGE));
        assert_eq!(
            contents(&entry(HypfsKind::Int, 1), "-1").unwrap(),
            vec![0xff]
        );
        let junk = contents(&entry(HypfsKind::Uint, 4), "12x").unwrap_err();
        assert_eq!(junk.raw_os_error(), Some(0));
        let dir = contents(&entry(HypfsKind::Dir, 0), "1").unwrap_err();
        assert_eq!(dir.raw_os_error(), Some(EDOM));
    }
}
