//! Where a kernel image is read from: bytes in memory, or anything that can read at an
//! offset (the toolstack wraps a file). The builder reads a plain ELF kernel only as it
//! needs it, so a large `vmlinux` is never held in memory: under a PV dom0 every fresh
//! page of memory costs a hypercall, and copying the file once more costs more than
//! building the rest of the guest.

use std::io;

/// Random-access reads of a fixed-length source. Implementations need not be thread-safe
/// or seekable; the builder never reads past [`ReadAt::len`].
pub trait ReadAt {
    /// The length in bytes.
    fn len(&self) -> u64;

    /// Whether the source is empty.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Fill `buf` with the bytes at `offset`; an error (e.g. `UnexpectedEof` if the source
    /// shrank) if they cannot all be read.
    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()>;
}

impl ReadAt for [u8] {
    fn len(&self) -> u64 {
        <[u8]>::len(self) as u64
    }

    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()> {
        let src = usize::try_from(offset)
            .ok()
            .and_then(|start| self.get(start..start.checked_add(buf.len())?))
            .ok_or_else(|| {
                io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    format!(
                        "{} bytes at offset {offset:#x} are past the end of {} bytes",
                        buf.len(),
                        <[u8]>::len(self)
                    ),
                )
            })?;
        buf.copy_from_slice(src);
        Ok(())
    }
}

impl ReadAt for Vec<u8> {
    fn len(&self) -> u64 {
        self.as_slice().len() as u64
    }

    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()> {
        self.as_slice().read_exact_at(buf, offset)
    }
}
