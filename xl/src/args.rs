//! Command-line words as text, without losing bytes.
//!
//! xl's arguments are C strings: any bytes. The option parsing here works
//! on `String`s, so each byte that is not part of valid UTF-8 is carried as
//! a private-use code point (U+10FF80 + byte - 0x80) and turned back into
//! that byte where the word is used as bytes: a file to open, config text.
//! A word that really holds one of those code points has its UTF-8 bytes
//! carried the same way, so the round trip is exact for every word.

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::{OsStrExt, OsStringExt};

const FIRST: u32 = 0x10FF80;

fn carry(out: &mut String, bytes: &[u8]) {
    for &b in bytes {
        // b >= 0x80: ASCII is always valid UTF-8.
        let c = char::from_u32(FIRST + u32::from(b) - 0x80).unwrap_or(char::REPLACEMENT_CHARACTER);
        out.push(c);
    }
}

/// An argument as text (see the module documentation).
pub fn to_text(arg: &OsStr) -> String {
    let mut out = String::with_capacity(arg.len());
    for chunk in arg.as_bytes().utf8_chunks() {
        for c in chunk.valid().chars() {
            if u32::from(c) >= FIRST {
                carry(&mut out, c.encode_utf8(&mut [0; 4]).as_bytes());
            } else {
                out.push(c);
            }
        }
        carry(&mut out, chunk.invalid());
    }
    out
}

/// The bytes a word from [`to_text`] stands for.
pub fn to_bytes(text: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len());
    for c in text.chars() {
        match u32::from(c).checked_sub(FIRST) {
            Some(b) => out.push(0x80 + b as u8),
            None => out.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes()),
        }
    }
    out
}

/// A word from [`to_text`] as the path or string the user gave.
pub fn to_os(text: &str) -> OsString {
    OsString::from_vec(to_bytes(text))
}

/// A word from [`to_text`] for messages: invalid UTF-8 shown as U+FFFD.
pub fn display(text: &str) -> String {
    String::from_utf8_lossy(&to_bytes(text)).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_word_survives_the_round_trip() {
        let words: [&[u8]; 6] = [
            b"plain",
            b"caf\xe9.cfg",
            b"\xff\xfe\x80",
            "caf\u{e9} \u{10ff80}\u{10ffff}".as_bytes(),
            b"\xf4\x8f\xbe",
            b"",
        ];
        for w in words {
            let text = to_text(OsStr::from_bytes(w));
            assert_eq!(to_bytes(&text), w, "{text:?}");
            assert_eq!(to_os(&text).as_bytes(), w);
        }
        assert_eq!(to_text(OsStr::new("extra=x")), "extra=x");
        assert_eq!(display(&to_text(OsStr::from_bytes(b"a\xe9"))), "a\u{fffd}");
    }
}
