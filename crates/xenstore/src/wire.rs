//! The xenstore wire format: a 16-byte header of four host-endian `u32`s
//! (type, request id, transaction id, payload length) followed by at most
//! [`PAYLOAD_MAX`] bytes of payload, usually NUL-terminated strings.

use std::fmt;
use std::io::{self, Read, Write};
use std::str::FromStr;

/// Size of the message header.
pub const HEADER_LEN: usize = 16;
/// Largest payload either side may send (`XENSTORE_PAYLOAD_MAX`).
pub const PAYLOAD_MAX: usize = 4096;
/// Longest absolute path xenstored accepts (`XENSTORE_ABS_PATH_MAX`).
pub const ABS_PATH_MAX: usize = 3072;
/// Longest path below a domain's home (`XENSTORE_REL_PATH_MAX`).
pub const REL_PATH_MAX: usize = 2048;
/// `DOMID_SELF`, which `IS_DOMAIN_INTRODUCED` always answers with "T".
pub const DOMID_SELF: u32 = 0x7ff0;

/// Message types (`enum xsd_sockmsg_type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Op {
    /// `XS_CONTROL` (0): daemon control commands; our daemon answers `ENOSYS`.
    Control,
    /// `XS_DIRECTORY` (1): list a node's children.
    Directory,
    /// `XS_READ` (2): read a node's value.
    Read,
    /// `XS_GET_PERMS` (3): read a node's permission list.
    GetPerms,
    /// `XS_WATCH` (4): register a watch on a path with a token.
    Watch,
    /// `XS_UNWATCH` (5): remove a watch (path and token).
    Unwatch,
    /// `XS_TRANSACTION_START` (6): open a transaction; the reply is its id.
    TransactionStart,
    /// `XS_TRANSACTION_END` (7): commit (`T`) or abort (`F`) a transaction.
    TransactionEnd,
    /// `XS_INTRODUCE` (8): tell xenstored about a new domain (domid, ring page frame, event
    /// channel).
    Introduce,
    /// `XS_RELEASE` (9): forget a domain's connection.
    Release,
    /// `XS_GET_DOMAIN_PATH` (10): a domain's home, `/local/domain/<domid>`.
    GetDomainPath,
    /// `XS_WRITE` (11): set a node's value, creating it if needed.
    Write,
    /// `XS_MKDIR` (12): create a node with an empty value.
    Mkdir,
    /// `XS_RM` (13): remove a node and its subtree.
    Rm,
    /// `XS_SET_PERMS` (14): replace a node's permission list.
    SetPerms,
    /// `XS_WATCH_EVENT` (15): unsolicited message carrying a fired watch's path and token.
    WatchEvent,
    /// `XS_ERROR` (16): reply carrying an errno name instead of a result.
    Error,
    /// `XS_IS_DOMAIN_INTRODUCED` (17): whether xenstored knows a domain (`T`/`F`).
    IsDomainIntroduced,
    /// `XS_RESUME` (18): clear a domain's shutdown state after a resume.
    Resume,
    /// `XS_SET_TARGET` (19): let a domain (a stub device model) act on another's nodes.
    SetTarget,
    /// `XS_RESET_WATCHES` (21): drop all of the connection's watches and transactions.
    ResetWatches,
    /// `XS_DIRECTORY_PART` (22): one chunk of a directory listing too large for one reply.
    DirectoryPart,
    /// A type this crate does not know (20 was `RESTRICT`, since removed).
    Unknown(u32),
}

impl Op {
    /// Decodes a wire type code.
    pub fn from_code(code: u32) -> Op {
        match code {
            0 => Op::Control,
            1 => Op::Directory,
            2 => Op::Read,
            3 => Op::GetPerms,
            4 => Op::Watch,
            5 => Op::Unwatch,
            6 => Op::TransactionStart,
            7 => Op::TransactionEnd,
            8 => Op::Introduce,
            9 => Op::Release,
            10 => Op::GetDomainPath,
            11 => Op::Write,
            12 => Op::Mkdir,
            13 => Op::Rm,
            14 => Op::SetPerms,
            15 => Op::WatchEvent,
            16 => Op::Error,
            17 => Op::IsDomainIntroduced,
            18 => Op::Resume,
            19 => Op::SetTarget,
            21 => Op::ResetWatches,
            22 => Op::DirectoryPart,
            other => Op::Unknown(other),
        }
    }

    /// The wire type code.
    pub fn code(self) -> u32 {
        match self {
            Op::Control => 0,
            Op::Directory => 1,
            Op::Read => 2,
            Op::GetPerms => 3,
            Op::Watch => 4,
            Op::Unwatch => 5,
            Op::TransactionStart => 6,
            Op::TransactionEnd => 7,
            Op::Introduce => 8,
            Op::Release => 9,
            Op::GetDomainPath => 10,
            Op::Write => 11,
            Op::Mkdir => 12,
            Op::Rm => 13,
            Op::SetPerms => 14,
            Op::WatchEvent => 15,
            Op::Error => 16,
            Op::IsDomainIntroduced => 17,
            Op::Resume => 18,
            Op::SetTarget => 19,
            Op::ResetWatches => 21,
            Op::DirectoryPart => 22,
            Op::Unknown(code) => code,
        }
    }

    /// The name xenstored uses in its logs, e.g. `"READ"`.
    pub fn name(self) -> &'static str {
        match self {
            Op::Control => "CONTROL",
            Op::Directory => "DIRECTORY",
            Op::Read => "READ",
            Op::GetPerms => "GET_PERMS",
            Op::Watch => "WATCH",
            Op::Unwatch => "UNWATCH",
            Op::TransactionStart => "TRANSACTION_START",
            Op::TransactionEnd => "TRANSACTION_END",
            Op::Introduce => "INTRODUCE",
            Op::Release => "RELEASE",
            Op::GetDomainPath => "GET_DOMAIN_PATH",
            Op::Write => "WRITE",
            Op::Mkdir => "MKDIR",
            Op::Rm => "RM",
            Op::SetPerms => "SET_PERMS",
            Op::WatchEvent => "WATCH_EVENT",
            Op::Error => "ERROR",
            Op::IsDomainIntroduced => "IS_DOMAIN_INTRODUCED",
            Op::Resume => "RESUME",
            Op::SetTarget => "SET_TARGET",
            Op::ResetWatches => "RESET_WATCHES",
            Op::DirectoryPart => "DIRECTORY_PART",
            Op::Unknown(_) => "UNKNOWN",
        }
    }
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Op::Unknown(code) => write!(f, "UNKNOWN({code})"),
            op => f.write_str(op.name()),
        }
    }
}

/// Errors xenstored reports, by the errno name it sends on the wire.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Errno {
    /// `EINVAL`: malformed request or path.
    InvalidArgument,
    /// `EACCES`: the node's permissions forbid the access.
    PermissionDenied,
    /// `EEXIST`: the watch, node or domain already exists.
    Exists,
    /// `EISDIR` (errno 21): is a directory.
    IsDirectory,
    /// `ENOENT`: no such node, watch or transaction.
    NotFound,
    /// `ENOMEM`: the daemon ran out of memory.
    OutOfMemory,
    /// `ENOSPC`: a quota of C xenstored is exhausted.
    NoSpace,
    /// `EIO`: I/O error inside the daemon.
    Io,
    /// `ENOTEMPTY`: the node still has children.
    NotEmpty,
    /// `ENOSYS`: the operation is not implemented.
    NotSupported,
    /// `EROFS`: a write over a read-only connection.
    ReadOnly,
    /// `EBUSY`: e.g. a transaction started inside another one.
    Busy,
    /// `EAGAIN`: a transaction conflicted with another change; retry it.
    Again,
    /// `EISCONN` (errno 106): already connected.
    IsConnected,
    /// `E2BIG`: a request or reply would exceed the payload limit.
    TooBig,
    /// `EPERM`: e.g. an unprivileged owner handing its node to another domain.
    NotPermitted,
    /// oxenstored's quota error; it has no errno number.
    Quota,
    /// Any other name a daemon sent.
    Other(String),
}

const ERRNOS: [(Errno, &str, Option<i32>, &str); 17] = [
    (
        Errno::InvalidArgument,
        "EINVAL",
        Some(22),
        "invalid argument",
    ),
    (
        Errno::PermissionDenied,
        "EACCES",
        Some(13),
        "permission denied",
    ),
    (Errno::Exists, "EEXIST", Some(17), "already exists"),
    (Errno::IsDirectory, "EISDIR", Some(21), "is a directory"),
    (Errno::NotFound, "ENOENT", Some(2), "no such node"),
    (Errno::OutOfMemory, "ENOMEM", Some(12), "out of memory"),
    (Errno::NoSpace, "ENOSPC", Some(28), "no space left (quota)"),
    (Errno::Io, "EIO", Some(5), "I/O error"),
    (Errno::NotEmpty, "ENOTEMPTY", Some(39), "not empty"),
    (Errno::NotSupported, "ENOSYS", Some(38), "not supported"),
    (Errno::ReadOnly, "EROFS", Some(30), "read-only"),
    (Errno::Busy, "EBUSY", Some(16), "busy"),
    (Errno::Again, "EAGAIN", Some(11), "try again"),
    (
        Errno::IsConnected,
        "EISCONN",
        Some(106),
        "already connected",
    ),
    (Errno::TooBig, "E2BIG", Some(7), "too big"),
    (
        Errno::NotPermitted,
        "EPERM",
        Some(1),
        "operation not permitted",
    ),
    (Errno::Quota, "EQUOTA", None, "quota exceeded"),
];

impl Errno {
    fn entry(&self) -> Option<&'static (Errno, &'static str, Option<i32>, &'static str)> {
        ERRNOS.iter().find(|e| e.0 == *self)
    }

    /// The wire name, e.g. `"ENOENT"`.
    pub fn name(&self) -> &str {
        match self {
            Errno::Other(name) => name,
            known => known.entry().map_or("EINVAL", |e| e.1),
        }
    }

    /// Maps a wire name back; unknown names are kept verbatim.
    pub fn from_name(name: &str) -> Errno {
        ERRNOS
            .iter()
            .find(|e| e.1 == name)
            .map_or_else(|| Errno::Other(name.to_owned()), |e| e.0.clone())
    }

    /// Short human description.
    pub fn description(&self) -> &'static str {
        self.entry().map_or("unknown error", |e| e.3)
    }

    /// The Linux errno number, for callers that want `strerror` text.
    pub fn raw_os_error(&self) -> Option<i32> {
        self.entry().and_then(|e| e.2)
    }

    /// An `ERROR` reply payload: the name plus NUL.
    pub fn to_payload(&self) -> Vec<u8> {
        let mut p = self.name().as_bytes().to_vec();
        p.push(0);
        p
    }

    /// Parses an `ERROR` reply payload.
    pub fn from_payload(payload: &[u8]) -> Errno {
        let name = payload.split(|&b| b == 0).next().unwrap_or_default();
        Errno::from_name(&String::from_utf8_lossy(name))
    }
}

impl fmt::Display for Errno {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Problems reading or writing framed messages.
#[derive(Debug, thiserror::Error)]
pub enum WireError {
    /// A payload longer than [`PAYLOAD_MAX`], on either side.
    #[error("xenstore payload of {len} bytes exceeds the {PAYLOAD_MAX}-byte limit")]
    TooLarge {
        /// The announced or attempted payload length in bytes.
        len: usize,
    },
    /// The peer closed the connection before a new message began.
    #[error("xenstore connection closed")]
    Closed,
    /// Reading or writing the connection failed, including a truncated message.
    #[error("xenstore connection: {0}")]
    Io(#[from] io::Error),
}

/// One message, request or reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// The message type.
    pub op: Op,
    /// Request id chosen by the client and echoed in the reply.
    pub req_id: u32,
    /// Transaction id, 0 outside a transaction.
    pub tx_id: u32,
    /// The body, at most [`PAYLOAD_MAX`] bytes.
    pub payload: Vec<u8>,
}

impl Message {
    /// A message from its four parts; the length is not checked until encoding.
    pub fn new(op: Op, req_id: u32, tx_id: u32, payload: Vec<u8>) -> Message {
        Message {
            op,
            req_id,
            tx_id,
            payload,
        }
    }

    /// Header plus payload in one buffer, so a device transport sees one write.
    pub fn encode(&self) -> Result<Vec<u8>, WireError> {
        let len = self.payload.len();
        if len > PAYLOAD_MAX {
            return Err(WireError::TooLarge { len });
        }
        let mut buf = Vec::with_capacity(HEADER_LEN + len);
        for word in [self.op.code(), self.req_id, self.tx_id, len as u32] {
            buf.extend_from_slice(&word.to_ne_bytes());
        }
        buf.extend_from_slice(&self.payload);
        Ok(buf)
    }

    /// Decodes one message from the front of `buf`. `Ok(None)` means more
    /// bytes are needed; on success also returns the bytes consumed.
    pub fn decode(buf: &[u8]) -> Result<Option<(Message, usize)>, WireError> {
        let Some(header) = buf.get(..HEADER_LEN) else {
            return Ok(None);
        };
        let (op, req_id, tx_id, len) = parse_header(header.try_into().expect("16 bytes"))?;
        let Some(payload) = buf.get(HEADER_LEN..HEADER_LEN + len) else {
            return Ok(None);
        };
        let msg = Message::new(op, req_id, tx_id, payload.to_vec());
        Ok(Some((msg, HEADER_LEN + len)))
    }

    /// Reads exactly one message. A clean EOF before the header is
    /// [`WireError::Closed`]; an oversized length is rejected before the
    /// payload is read, as the stream cannot be trusted afterwards.
    pub fn read_from<R: Read + ?Sized>(r: &mut R) -> Result<Message, WireError> {
        let mut header = [0u8; HEADER_LEN];
        let mut got = 0;
        while got < HEADER_LEN {
            match r.read(&mut header[got..]) {
                Ok(0) if got == 0 => return Err(WireError::Closed),
                Ok(0) => return Err(io::Error::from(io::ErrorKind::UnexpectedEof).into()),
                Ok(n) => got += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e.into()),
            }
        }
        let (op, req_id, tx_id, len) = parse_header(&header)?;
        let mut payload = vec![0; len];
        r.read_exact(&mut payload)?;
        Ok(Message::new(op, req_id, tx_id, payload))
    }

    /// Writes the message with a single `write_all`.
    pub fn write_to<W: Write + ?Sized>(&self, w: &mut W) -> Result<(), WireError> {
        w.write_all(&self.encode()?)?;
        Ok(())
    }
}

fn parse_header(h: &[u8; HEADER_LEN]) -> Result<(Op, u32, u32, usize), WireError> {
    let word = |i: usize| u32::from_ne_bytes(h[i * 4..i * 4 + 4].try_into().expect("4 bytes"));
    let len = word(3) as usize;
    if len > PAYLOAD_MAX {
        return Err(WireError::TooLarge { len });
    }
    Ok((Op::from_code(word(0)), word(1), word(2), len))
}

/// Concatenates arguments, each followed by NUL.
pub fn join_args<I, A>(args: I) -> Vec<u8>
where
    I: IntoIterator<Item = A>,
    A: AsRef<[u8]>,
{
    let mut out = Vec::new();
    for a in args {
        out.extend_from_slice(a.as_ref());
        out.push(0);
    }
    out
}

/// Splits a payload of NUL-terminated strings. Bytes after the last NUL
/// (an unterminated tail) are returned separately so callers can decide
/// whether that is an error.
pub fn split_args(payload: &[u8]) -> (Vec<&[u8]>, &[u8]) {
    let mut args = Vec::new();
    let mut rest = payload;
    while let Some(nul) = rest.iter().position(|&b| b == 0) {
        args.push(&rest[..nul]);
        rest = &rest[nul + 1..];
    }
    (args, rest)
}

/// Access a permission entry grants.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Access {
    /// `n`
    None,
    /// `r`
    Read,
    /// `w`
    Write,
    /// `b`: read and write
    Both,
}

impl Access {
    /// Whether this grants reading (`r` or `b`).
    pub fn can_read(self) -> bool {
        matches!(self, Access::Read | Access::Both)
    }

    /// Whether this grants writing (`w` or `b`).
    pub fn can_write(self) -> bool {
        matches!(self, Access::Write | Access::Both)
    }

    /// The letter used in permission strings: `n`, `r`, `w` or `b`.
    pub fn letter(self) -> char {
        match self {
            Access::None => 'n',
            Access::Read => 'r',
            Access::Write => 'w',
            Access::Both => 'b',
        }
    }
}

/// One permission entry such as `r5`. In a node's list the first entry
/// names the owner and the access everyone not listed later gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Perm {
    /// The domain the entry is about.
    pub domid: u32,
    /// What that domain may do.
    pub access: Access,
}

impl Perm {
    /// The entry granting `access` to `domid`.
    pub fn new(domid: u32, access: Access) -> Perm {
        Perm { domid, access }
    }
}

impl fmt::Display for Perm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}", self.access.letter(), self.domid)
    }
}

/// A permission string that is not `[nrwb]<decimal domid>`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid xenstore permission {0:?} (expected n, r, w or b followed by a domid)")]
pub struct ParsePermError(pub String);

impl FromStr for Perm {
    type Err = ParsePermError;

    fn from_str(s: &str) -> Result<Perm, ParsePermError> {
        let bad = || ParsePermError(s.to_owned());
        let mut chars = s.chars();
        let access = match chars.next() {
            Some('n') => Access::None,
            Some('r') => Access::Read,
            Some('w') => Access::Write,
            Some('b') => Access::Both,
            _ => return Err(bad()),
        };
        let id = chars.as_str();
        if id.is_empty() || !id.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        let domid = id.parse().map_err(|_| bad())?;
        Ok(Perm { domid, access })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn op_codes_round_trip() {
        for code in 0..30 {
            assert_eq!(Op::from_code(code).code(), code);
        }
        assert_eq!(Op::from_code(20), Op::Unknown(20));
        assert_eq!(Op::Write.code(), 11);
        assert_eq!(Op::DirectoryPart.code(), 22);
        assert_eq!(Op::ResetWatches.code(), 21);
        assert_eq!(Op::Read.to_string(), "READ");
        assert_eq!(Op::Unknown(99).to_string(), "UNKNOWN(99)");
    }

    #[test]
    fn encode_layout_is_four_native_words_then_payload() {
        let m = Message::new(Op::Write, 7, 3, b"/a\0v".to_vec());
        let buf = m.encode().unwrap();
        assert_eq!(buf.len(), 20);
        assert_eq!(&buf[0..4], &11u32.to_ne_bytes());
        assert_eq!(&buf[4..8], &7u32.to_ne_bytes());
        assert_eq!(&buf[8..12], &3u32.to_ne_bytes());
        assert_eq!(&buf[12..16], &4u32.to_ne_bytes());
        assert_eq!(&buf[16..], b"/a\0v");
        assert_eq!(Message::decode(&buf).unwrap(), Some((m, 20)));
    }

    #[test]
    fn decode_needs_whole_message() {
        let buf = Message::new(Op::Read, 1, 0, b"/x\0".to_vec())
            .encode()
            .unwrap();
        for cut in 0..buf.len() {
            assert_eq!(Message::decode(&buf[..cut]).unwrap(), None, "cut {cut}");
        }
        let mut two = buf.clone();
        two.extend_from_slice(&buf);
        let (_, used) = Message::decode(&two).unwrap().unwrap();
        assert_eq!(used, buf.len());
    }

    #[test]
    fn oversized_payloads_are_rejected_both_ways() {
        let ok = Message::new(Op::Write, 1, 0, vec![b'x'; PAYLOAD_MAX]);
        assert!(ok.encode().is_ok());
        let big = Message::new(Op::Write, 1, 0, vec![b'x'; PAYLOAD_MAX + 1]);
        assert!(matches!(
            big.encode(),
            Err(WireError::TooLarge { len }) if len == PAYLOAD_MAX + 1
        ));

        let mut header = Vec::new();
        for w in [2u32, 1, 0, u32::MAX] {
            header.extend_from_slice(&w.to_ne_bytes());
        }
        assert!(matches!(
            Message::decode(&header),
            Err(WireError::TooLarge { .. })
        ));
        assert!(matches!(
            Message::read_from(&mut &header[..]),
            Err(WireError::TooLarge { .. })
        ));
    }

    #[test]
    fn read_from_distinguishes_clean_eof_from_truncation() {
        assert!(matches!(
            Message::read_from(&mut &b""[..]),
            Err(WireError::Closed)
        ));
        assert!(matches!(
            Message::read_from(&mut &[1u8, 2, 3][..]),
            Err(WireError::Io(e)) if e.kind() == io::ErrorKind::UnexpectedEof
        ));
        let buf = Message::new(Op::Read, 1, 0, b"/abc\0".to_vec())
            .encode()
            .unwrap();
        assert!(matches!(
            Message::read_from(&mut &buf[..buf.len() - 1]),
            Err(WireError::Io(e)) if e.kind() == io::ErrorKind::UnexpectedEof
        ));
        let mut r = &buf[..];
        let m = Message::read_from(&mut r).unwrap();
        assert_eq!(m.payload, b"/abc\0");
        assert!(r.is_empty());
    }

    #[test]
    fn args_split_and_join() {
        assert_eq!(join_args(["/a", "tok"]), b"/a\0tok\0");
        let (args, rest) = split_args(b"a\0bc\0\0tail");
        assert_eq!(args, vec![&b"a"[..], b"bc", b""]);
        assert_eq!(rest, b"tail");
        let (args, rest) = split_args(b"");
        assert!(args.is_empty() && rest.is_empty());
    }

    #[test]
    fn errno_names() {
        for (e, name, _, _) in ERRNOS.iter() {
            assert_eq!(e.name(), *name);
            assert_eq!(Errno::from_name(name), *e);
        }
        assert_eq!(Errno::from_payload(b"EAGAIN\0"), Errno::Again);
        assert_eq!(Errno::from_payload(b"ENOENT"), Errno::NotFound);
        assert_eq!(
            Errno::from_payload(b"EWHAT\0"),
            Errno::Other("EWHAT".into())
        );
        assert_eq!(Errno::from_payload(b""), Errno::Other(String::new()));
        assert_eq!(Errno::TooBig.to_payload(), b"E2BIG\0");
        assert_eq!(Errno::NotFound.raw_os_error(), Some(2));
        assert_eq!(Errno::Quota.raw_os_error(), None);
    }

    #[test]
    fn perms_parse_and_print() {
        for s in ["n0", "r5", "w12", "b65535"] {
            assert_eq!(s.parse::<Perm>().unwrap().to_string(), s);
        }
        assert_eq!("r7".parse::<Perm>().unwrap(), Perm::new(7, Access::Read));
        for bad in ["", "x1", "r", "r-1", "r1a", "R1", "r 1", "r99999999999"] {
            assert!(bad.parse::<Perm>().is_err(), "{bad:?}");
        }
    }
}
