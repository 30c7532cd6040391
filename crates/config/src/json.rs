//! libxl's JSON: an ordered value tree and the yajl "beautify" printer that
//! xl 4.17 output is made with (4-space indent, `"key": value`, an empty
//! line inside empty containers, a final newline).

/// A JSON value whose objects keep insertion order (libxl's IDL order).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Json {
    /// `null`.
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// A signed integer.
    Int(i64),
    /// An unsigned integer (libxl's `uint64` fields such as memory sizes).
    UInt(u64),
    /// A string.
    Str(String),
    /// An array.
    Arr(Vec<Json>),
    /// An object, its keys in the order given.
    Obj(Vec<(String, Json)>),
}

impl Json {
    /// A string value.
    pub fn str(s: impl Into<String>) -> Self {
        Json::Str(s.into())
    }

    /// Render as yajl with beautify on, as libxl does.
    pub fn to_yajl(&self) -> String {
        let mut out = String::new();
        write_value(&mut out, self, 0);
        out.push('\n');
        out
    }

    /// Look a key up in an object.
    pub fn get(&self, key: &str) -> Option<&Json> {
        match self {
            Json::Obj(fields) => fields.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }
}

fn indent(out: &mut String, depth: usize) {
    for _ in 0..depth {
        out.push_str("    ");
    }
}

fn write_value(out: &mut String, v: &Json, depth: usize) {
    match v {
        Json::Null => out.push_str("null"),
        Json::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Json::Int(i) => out.push_str(&i.to_string()),
        Json::UInt(u) => out.push_str(&u.to_string()),
        Json::Str(s) => write_string(out, s),
        Json::Arr(items) => {
            out.push_str("[\n");
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(",\n");
                }
                indent(out, depth + 1);
                write_value(out, item, depth + 1);
            }
            out.push('\n');
            indent(out, depth);
            out.push(']');
        }
        Json::Obj(fields) => {
            out.push_str("{\n");
            for (i, (k, item)) in fields.iter().enumerate() {
                if i > 0 {
                    out.push_str(",\n");
                }
                indent(out, depth + 1);
                write_string(out, k);
                out.push_str(": ");
                write_value(out, item, depth + 1);
            }
            out.push('\n');
            indent(out, depth);
            out.push('}');
        }
    }
}

/// yajl's string escaping: `/` is left alone, control bytes become \uXXXX.
fn write_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Builds one libxl struct, skipping fields at their IDL default the way
/// the generated `*_gen_json` functions do.
#[derive(Default)]
pub struct Obj(Vec<(String, Json)>);

impl Obj {
    /// An object with no fields yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends a field, whatever its value.
    pub fn field(mut self, k: &str, v: Json) -> Self {
        self.0.push((k.to_string(), v));
        self
    }

    /// String fields are printed unless NULL.
    pub fn string(self, k: &str, v: &Option<String>) -> Self {
        match v {
            Some(s) => self.field(k, Json::str(s.clone())),
            None => self,
        }
    }

    /// Defbools print "True"/"False" unless left at default.
    pub fn defbool(self, k: &str, v: Option<bool>) -> Self {
        match v {
            Some(b) => self.field(k, Json::str(if b { "True" } else { "False" })),
            None => self,
        }
    }

    /// Integers without an explicit init value print when non-zero.
    pub fn nonzero(self, k: &str, v: i64) -> Self {
        if v != 0 {
            self.field(k, Json::Int(v))
        } else {
            self
        }
    }

    /// Unsigned integers without an explicit init value print when non-zero.
    pub fn nonzero_u(self, k: &str, v: u64) -> Self {
        if v != 0 {
            self.field(k, Json::UInt(v))
        } else {
            self
        }
    }

    /// Values with an init value print when set (`None` = at init value).
    pub fn int(self, k: &str, v: Option<i64>) -> Self {
        match v {
            Some(i) => self.field(k, Json::Int(i)),
            None => self,
        }
    }

    /// Unsigned values with an init value print when set (`None` = at init value).
    pub fn uint(self, k: &str, v: Option<u64>) -> Self {
        match v {
            Some(i) => self.field(k, Json::UInt(i)),
            None => self,
        }
    }

    /// Enum fields print their lowercase name unless at the init value.
    pub fn enum_(self, k: &str, v: Option<&str>) -> Self {
        match v {
            Some(s) => self.field(k, Json::str(s)),
            None => self,
        }
    }

    /// String lists (`libxl_string_list`) print unless empty.
    pub fn strings(self, k: &str, v: &[String]) -> Self {
        if v.is_empty() {
            self
        } else {
            self.field(
                k,
                Json::Arr(v.iter().map(|s| Json::str(s.clone())).collect()),
            )
        }
    }

    /// Bitmaps print as the list of set bits, unless empty.
    pub fn bitmap(self, k: &str, bits: &[u32]) -> Self {
        if bits.is_empty() {
            self
        } else {
            self.field(
                k,
                Json::Arr(bits.iter().map(|b| Json::Int(i64::from(*b))).collect()),
            )
        }
    }

    /// Arrays of structs print unless empty.
    pub fn array(self, k: &str, items: Vec<Json>) -> Self {
        if items.is_empty() {
            self
        } else {
            self.field(k, Json::Arr(items))
        }
    }

    /// The finished object.
    pub fn build(self) -> Json {
        Json::Obj(self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yajl_layout() {
        let j = Obj::new()
            .field("a", Json::Int(1))
            .field("empty", Obj::new().build())
            .field("list", Json::Arr(vec![Json::Int(0), Json::Int(1)]))
            .field("s", Json::str("x/\"y\"\n"))
            .build();
        assert_eq!(
            j.to_yajl(),
            "{\n    \"a\": 1,\n    \"empty\": {\n\n    },\n    \"list\": [\n        0,\n        1\n    ],\n    \"s\": \"x/\\\"y\\\"\\n\"\n}\n"
        );
    }
}
