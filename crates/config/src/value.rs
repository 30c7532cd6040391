//! Parsed settings and the typed lookups xl makes on them (libxlu's
//! `xlu_cfg_get_*`), with the same warnings and the same quirks.

use crate::report::Report;

/// A configuration value: every atom is text, lists nest.
///
/// Nesting is as deep as the parser's stack allows (thousands of levels),
/// so dropping, cloning and comparing walk the tree with a heap stack
/// instead of recursing, which could overflow a thread's stack.
#[derive(Debug, Eq)]
pub enum Value {
    /// A string or number, kept as its text.
    Str(String),
    /// A `[...]` list.
    List(Vec<Value>),
}

impl Drop for Value {
    fn drop(&mut self) {
        let Value::List(items) = self else { return };
        if items.iter().all(|v| matches!(v, Value::Str(_))) {
            return;
        }
        // Children are moved out before each value is dropped, so every
        // drop below sees at most an empty list.
        let mut pending = std::mem::take(items);
        while let Some(mut v) = pending.pop() {
            if let Value::List(inner) = &mut v {
                pending.append(inner);
            }
        }
    }
}

impl Clone for Value {
    fn clone(&self) -> Self {
        let items = match self {
            Value::Str(s) => return Value::Str(s.clone()),
            Value::List(items) => items,
        };
        // One frame per list being copied: what is left of the original
        // and the copy so far.
        let mut frames = vec![(items.iter(), Vec::with_capacity(items.len()))];
        loop {
            let (rest, copy) = frames.last_mut().expect("a list is being copied");
            match rest.next() {
                Some(Value::Str(s)) => copy.push(Value::Str(s.clone())),
                Some(Value::List(inner)) => {
                    frames.push((inner.iter(), Vec::with_capacity(inner.len())));
                }
                None => {
                    let (_, done) = frames.pop().expect("a list is being copied");
                    match frames.last_mut() {
                        Some((_, parent)) => parent.push(Value::List(done)),
                        None => return Value::List(done),
                    }
                }
            }
        }
    }
}

impl PartialEq for Value {
    fn eq(&self, other: &Self) -> bool {
        let mut pending = vec![(self, other)];
        while let Some(pair) = pending.pop() {
            match pair {
                (Value::Str(a), Value::Str(b)) if a == b => {}
                (Value::List(a), Value::List(b)) if a.len() == b.len() => {
                    pending.extend(a.iter().zip(b));
                }
                _ => return false,
            }
        }
        true
    }
}

impl Value {
    /// The text of an atom; `None` for a list.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            Value::List(_) => None,
        }
    }
}

/// How a setting was written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    /// `key = value`.
    Assign,
    /// `key += value`: appended to an earlier value of the key.
    Add,
}

/// One `key = value` (or `key += value`) statement that was stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Setting {
    /// The key.
    pub name: String,
    /// The value (after any `+=` was applied).
    pub value: Value,
    /// Whether it was `=` or `+=`; numbers refuse `+=`.
    pub op: Op,
    /// Line of the value (of its `[` for lists), used in warnings.
    pub line: u32,
}

/// Why a lookup gave nothing, as libxlu's errno values.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lookup {
    /// ESRCH: the key is absent.
    Absent,
    /// EINVAL/ERANGE: present but unusable (a warning may have been printed).
    Invalid,
}

/// Settings of one parsed source plus the name xl reports them under.
#[derive(Clone, Debug)]
pub struct Config {
    /// The file name (or "command line") warnings are prefixed with.
    pub source: String,
    /// The settings in the order stored; later ones win.
    pub settings: Vec<Setting>,
}

impl Config {
    /// Settings read from `source`.
    pub fn new(source: impl Into<String>, settings: Vec<Setting>) -> Self {
        Self {
            source: source.into(),
            settings,
        }
    }

    /// The setting that wins: the last one stored under that name.
    pub fn find(&self, name: &str) -> Option<&Setting> {
        self.settings.iter().rev().find(|s| s.name == name)
    }

    fn atom(&self, name: &str, quiet: bool, r: &mut Report) -> Result<&Setting, Lookup> {
        let s = self.find(name).ok_or(Lookup::Absent)?;
        if matches!(s.value, Value::List(_)) {
            if !quiet {
                r.line(format!(
                    "{}:{}: warning: parameter `{}' is a list but should be a single value",
                    self.source, s.line, name
                ));
            }
            return Err(Lookup::Invalid);
        }
        Ok(s)
    }

    /// `xlu_cfg_get_string`: the text of a single-valued key; a list is
    /// [`Lookup::Invalid`], with a warning unless `quiet`.
    pub fn string(&self, name: &str, quiet: bool, r: &mut Report) -> Result<&str, Lookup> {
        self.atom(name, quiet, r)
            .map(|s| s.value.as_str().unwrap_or_default())
    }

    /// `xlu_cfg_get_string` for optional keys: `Some` only when usable.
    pub fn opt_string(&self, name: &str, r: &mut Report) -> Option<String> {
        self.string(name, false, r).ok().map(str::to_string)
    }

    /// `xlu_cfg_get_bounded_long`: a number as C's `strtol` reads it (base
    /// prefixes included), whole text only, within `min..=max`; otherwise
    /// [`Lookup::Invalid`], with libxlu's warning unless `quiet`.
    pub fn bounded_long(
        &self,
        name: &str,
        min: i64,
        max: i64,
        quiet: bool,
        r: &mut Report,
    ) -> Result<i64, Lookup> {
        let s = self.atom(name, quiet, r)?;
        let text = s.value.as_str().unwrap_or_default();
        if s.op == Op::Add {
            if !quiet {
                r.line(format!(
                    "{}:{}: warning: can't use += with numbers for parameter `{}'",
                    self.source, s.line, name
                ));
            }
            return Err(Lookup::Invalid);
        }
        let (v, used, overflow) = strtol(text.as_bytes(), 0);
        if overflow {
            if !quiet {
                r.line(format!(
                    "{}:{}: warning: parameter `{}' could not be parsed as a number: Numerical result out of range",
                    self.source, s.line, name
                ));
            }
            return Err(Lookup::Invalid);
        }
        if used == 0 || used != text.len() {
            if !quiet {
                r.line(format!(
                    "{}:{}: warning: parameter `{}' is not a valid number",
                    self.source, s.line, name
                ));
            }
            return Err(Lookup::Invalid);
        }
        if v < min {
            if !quiet {
                r.line(format!(
                    "{}:{}: warning: value `{}' is smaller than minimum bound '{}'",
                    self.source, s.line, v, min
                ));
            }
            return Err(Lookup::Invalid);
        }
        if v > max {
            if !quiet {
                r.line(format!(
                    "{}:{}: warning: value `{}' is greater than maximum bound '{}'",
                    self.source, s.line, v, max
                ));
            }
            return Err(Lookup::Invalid);
        }
        Ok(v)
    }

    /// `xlu_cfg_get_long`: [`Config::bounded_long`] over the whole `i64` range.
    pub fn long(&self, name: &str, quiet: bool, r: &mut Report) -> Result<i64, Lookup> {
        self.bounded_long(name, i64::MIN, i64::MAX, quiet, r)
    }

    /// `Some(v)` when the key holds a usable number.
    pub fn opt_long(&self, name: &str, r: &mut Report) -> Option<i64> {
        self.long(name, false, r).ok()
    }

    /// libxl defbool: any usable number, non-zero meaning true.
    pub fn defbool(&self, name: &str, quiet: bool, r: &mut Report) -> Option<bool> {
        self.long(name, quiet, r).ok().map(|v| v != 0)
    }

    /// `xlu_cfg_get_list`: the items of a list key; a single value is
    /// [`Lookup::Invalid`], with a warning unless `quiet`.
    pub fn list(&self, name: &str, quiet: bool, r: &mut Report) -> Result<&[Value], Lookup> {
        let s = self.find(name).ok_or(Lookup::Absent)?;
        match &s.value {
            Value::List(l) => Ok(l),
            Value::Str(_) => {
                if !quiet {
                    r.line(format!(
                        "{}:{}: warning: parameter `{}' is a single value but should be a list",
                        self.source, s.line, name
                    ));
                }
                Err(Lookup::Invalid)
            }
        }
    }

    /// The string items of a list up to the first non-string one, which is
    /// how xl walks device lists.
    pub fn string_items(list: &[Value]) -> impl Iterator<Item = &str> {
        list.iter().map_while(Value::as_str)
    }
}

/// Length of the prefix `strtoul` would consume (leading blanks, sign,
/// digits), 0 when it converts nothing.
pub(crate) fn strtoul_len(s: &[u8], base: u32) -> usize {
    let (_, used, _) = strtol(s, base);
    used
}

/// What C's strto* functions share: blanks, sign, base prefix, then the
/// digits. Returns (negative, magnitude saturated at 2^64, end of digits),
/// or `None` when no digit was converted.
fn scan_c_number(s: &[u8], base: u32) -> Option<(bool, u128, usize)> {
    let mut i = 0;
    while i < s.len() && matches!(s[i], b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c) {
        i += 1;
    }
    let mut neg = false;
    if i < s.len() && (s[i] == b'+' || s[i] == b'-') {
        neg = s[i] == b'-';
        i += 1;
    }
    let mut base = base;
    // "0x" counts as a prefix only when a hex digit follows it.
    let hex_prefix = i + 2 < s.len()
        && s[i] == b'0'
        && (s[i + 1] | 0x20) == b'x'
        && s[i + 2].is_ascii_hexdigit();
    if (base == 0 || base == 16) && hex_prefix {
        i += 2;
        base = 16;
    } else if base == 0 {
        base = if i < s.len() && s[i] == b'0' { 8 } else { 10 };
    }
    let start = i;
    let cap = u128::from(u64::MAX) + 1;
    let mut acc: u128 = 0;
    while let Some(d) = s.get(i).and_then(|c| (*c as char).to_digit(base)) {
        acc = (acc * u128::from(base) + u128::from(d)).min(cap);
        i += 1;
    }
    (i > start).then_some((neg, acc, i))
}

/// C `strtol`: returns (value, bytes consumed, overflowed). Base 0 picks
/// 16 for `0x`, 8 for a leading `0`, else 10.
pub fn strtol(s: &[u8], base: u32) -> (i64, usize, bool) {
    let Some((neg, acc, end)) = scan_c_number(s, base) else {
        return (0, 0, false);
    };
    let v = if neg { -(acc as i128) } else { acc as i128 };
    if v > i128::from(i64::MAX) {
        (i64::MAX, end, true)
    } else if v < i128::from(i64::MIN) {
        (i64::MIN, end, true)
    } else {
        (v as i64, end, false)
    }
}

/// C `strtoul` on the unsigned long range (wrapping negation, as C does).
pub fn strtoul(s: &[u8], base: u32) -> (u64, usize, bool) {
    let Some((neg, acc, end)) = scan_c_number(s, base) else {
        return (0, 0, false);
    };
    if acc > u128::from(u64::MAX) {
        return (u64::MAX, end, true);
    }
    let v = acc as u64;
    (if neg { v.wrapping_neg() } else { v }, end, false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strtol_bases() {
        assert_eq!(strtol(b"0x100", 0), (256, 5, false));
        assert_eq!(strtol(b"010", 0), (8, 3, false));
        assert_eq!(strtol(b"08", 0), (0, 1, false));
        assert_eq!(strtol(b"1e5", 0), (1, 1, false));
        assert_eq!(strtol(b" -12", 0), (-12, 4, false));
        assert_eq!(strtol(b"0x", 0), (0, 1, false));
        assert_eq!(strtol(b"abc", 0), (0, 0, false));
        assert!(strtol(b"99999999999999999999", 0).2);
    }
}
