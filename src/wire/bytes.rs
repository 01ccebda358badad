//! Little helpers for packed little-endian layouts.

use super::error::{WireError, WireResult};

/// Reads fixed offsets out of a slice whose length was checked once up front.
#[derive(Clone, Copy)]
pub(crate) struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    /// Checks that `buf` holds at least `need` bytes, so later reads inside
    /// `need` cannot fail.
    pub(crate) fn new(buf: &'a [u8], need: usize, what: &'static str) -> WireResult<Self> {
        if buf.len() < need {
            return Err(WireError::Truncated {
                what,
                need,
                have: buf.len(),
            });
        }
        Ok(Self { buf })
    }

    fn array<const N: usize>(&self, off: usize) -> [u8; N] {
        let mut a = [0u8; N];
        a.copy_from_slice(&self.buf[off..off + N]);
        a
    }

    pub(crate) fn u8(&self, off: usize) -> u8 {
        self.buf[off]
    }
    pub(crate) fn u16(&self, off: usize) -> u16 {
        u16::from_le_bytes(self.array(off))
    }
    pub(crate) fn u32(&self, off: usize) -> u32 {
        u32::from_le_bytes(self.array(off))
    }
    pub(crate) fn i32(&self, off: usize) -> i32 {
        i32::from_le_bytes(self.array(off))
    }
    pub(crate) fn u64(&self, off: usize) -> u64 {
        u64::from_le_bytes(self.array(off))
    }

    /// A NUL-terminated string stored in a fixed `len`-byte area.
    pub(crate) fn cstr(&self, off: usize, len: usize, what: &'static str) -> WireResult<String> {
        let area = &self.buf[off..off + len];
        let end = area
            .iter()
            .position(|&b| b == 0)
            .ok_or(WireError::Unterminated(what))?;
        std::str::from_utf8(&area[..end])
            .map(str::to_owned)
            .map_err(|_| WireError::NotUtf8(what))
    }
}

/// Decodes a variable-length NUL-terminated tail (e.g. a signature) of exactly `buf.len()` bytes.
pub(crate) fn tail_cstr(buf: &[u8], what: &'static str) -> WireResult<String> {
    match buf.split_last() {
        Some((0, body)) if !body.contains(&0) => std::str::from_utf8(body)
            .map(str::to_owned)
            .map_err(|_| WireError::NotUtf8(what)),
        _ => Err(WireError::Unterminated(what)),
    }
}

/// Writes fixed offsets into a zeroed buffer of known size.
pub(crate) struct Writer<const N: usize> {
    pub(crate) buf: [u8; N],
}

impl<const N: usize> Writer<N> {
    pub(crate) fn new() -> Self {
        Self { buf: [0u8; N] }
    }
    pub(crate) fn u16(&mut self, off: usize, v: u16) -> &mut Self {
        self.buf[off..off + 2].copy_from_slice(&v.to_le_bytes());
        self
    }
    pub(crate) fn u32(&mut self, off: usize, v: u32) -> &mut Self {
        self.buf[off..off + 4].copy_from_slice(&v.to_le_bytes());
        self
    }
    pub(crate) fn i32(&mut self, off: usize, v: i32) -> &mut Self {
        self.buf[off..off + 4].copy_from_slice(&v.to_le_bytes());
        self
    }
    pub(crate) fn u64(&mut self, off: usize, v: u64) -> &mut Self {
        self.buf[off..off + 8].copy_from_slice(&v.to_le_bytes());
        self
    }
    pub(crate) fn u8(&mut self, off: usize, v: u8) -> &mut Self {
        self.buf[off] = v;
        self
    }
    /// Copies `s` into a `len`-byte area, truncating so a NUL always fits.
    pub(crate) fn cstr(&mut self, off: usize, len: usize, s: &str) -> &mut Self {
        let n = s.len().min(len - 1);
        self.buf[off..off + n].copy_from_slice(&s.as_bytes()[..n]);
        self
    }
}
