//! Sequential little-endian reads over a received payload, and the matching
//! appends for replies. Every read checks its bound and fails typed.

use super::error::{WireError, WireResult};

pub(crate) struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    pub(crate) fn new(buf: &'a [u8]) -> Self {
        Self { buf, pos: 0 }
    }

    pub(crate) fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    pub(crate) fn bytes(&mut self, n: usize, what: &'static str) -> WireResult<&'a [u8]> {
        if self.remaining() < n {
            return Err(WireError::Truncated {
                what,
                need: n,
                have: self.remaining(),
            });
        }
        let s = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    fn array<const N: usize>(&mut self, what: &'static str) -> WireResult<[u8; N]> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.bytes(N, what)?);
        Ok(a)
    }

    pub(crate) fn u8(&mut self, what: &'static str) -> WireResult<u8> {
        Ok(self.array::<1>(what)?[0])
    }
    pub(crate) fn i8(&mut self, what: &'static str) -> WireResult<i8> {
        Ok(self.u8(what)? as i8)
    }
    pub(crate) fn u16(&mut self, what: &'static str) -> WireResult<u16> {
        Ok(u16::from_le_bytes(self.array(what)?))
    }
    pub(crate) fn u32(&mut self, what: &'static str) -> WireResult<u32> {
        Ok(u32::from_le_bytes(self.array(what)?))
    }
    pub(crate) fn i32(&mut self, what: &'static str) -> WireResult<i32> {
        Ok(i32::from_le_bytes(self.array(what)?))
    }
    pub(crate) fn u64(&mut self, what: &'static str) -> WireResult<u64> {
        Ok(u64::from_le_bytes(self.array(what)?))
    }
    pub(crate) fn i64(&mut self, what: &'static str) -> WireResult<i64> {
        Ok(i64::from_le_bytes(self.array(what)?))
    }

    /// A length-delimited string whose `len` includes the NUL; `len` 0 is `None`.
    pub(crate) fn lstr(
        &mut self,
        len: u32,
        max: u32,
        what: &'static str,
    ) -> WireResult<Option<String>> {
        if len == 0 {
            return Ok(None);
        }
        if len > max {
            return Err(WireError::TooLong {
                what,
                len: len.into(),
                max: max.into(),
            });
        }
        nul_str(self.bytes(len as usize, what)?, what).map(Some)
    }

    pub(crate) fn finish(&self) -> WireResult<()> {
        match self.remaining() {
            0 => Ok(()),
            n => Err(WireError::Trailing(n)),
        }
    }
}

/// `buf` must be exactly one string and its NUL.
pub(crate) fn nul_str(buf: &[u8], what: &'static str) -> WireResult<String> {
    match buf.split_last() {
        Some((0, body)) if !body.contains(&0) => std::str::from_utf8(body)
            .map(str::to_owned)
            .map_err(|_| WireError::NotUtf8(what)),
        _ => Err(WireError::Unterminated(what)),
    }
}

/// A string in a fixed-size, NUL-padded area.
pub(crate) fn fixed_str(area: &[u8], what: &'static str) -> WireResult<String> {
    let end = area
        .iter()
        .position(|&b| b == 0)
        .ok_or(WireError::Unterminated(what))?;
    std::str::from_utf8(&area[..end])
        .map(str::to_owned)
        .map_err(|_| WireError::NotUtf8(what))
}

/// Appends for reply encoding.
pub(crate) trait Put {
    fn put_u8(&mut self, v: u8);
    fn put_u16(&mut self, v: u16);
    fn put_u32(&mut self, v: u32);
    fn put_i32(&mut self, v: i32);
    fn put_u64(&mut self, v: u64);
    fn put_i64(&mut self, v: i64);
    /// `s` NUL-padded into `len` bytes; truncated so the NUL always fits.
    fn put_fixed(&mut self, s: &str, len: usize);
    /// `s` and its NUL.
    fn put_cstr(&mut self, s: &str);
}

impl Put for Vec<u8> {
    fn put_u8(&mut self, v: u8) {
        self.push(v)
    }
    fn put_u16(&mut self, v: u16) {
        self.extend_from_slice(&v.to_le_bytes())
    }
    fn put_u32(&mut self, v: u32) {
        self.extend_from_slice(&v.to_le_bytes())
    }
    fn put_i32(&mut self, v: i32) {
        self.extend_from_slice(&v.to_le_bytes())
    }
    fn put_u64(&mut self, v: u64) {
        self.extend_from_slice(&v.to_le_bytes())
    }
    fn put_i64(&mut self, v: i64) {
        self.extend_from_slice(&v.to_le_bytes())
    }
    fn put_fixed(&mut self, s: &str, len: usize) {
        let n = s.len().min(len - 1);
        self.extend_from_slice(&s.as_bytes()[..n]);
        self.resize(self.len() + len - n, 0);
    }
    fn put_cstr(&mut self, s: &str) {
        self.extend_from_slice(s.as_bytes());
        self.push(0);
    }
}

/// Length of `s` with its NUL, as the records count it.
pub(crate) fn clen(s: &str) -> u32 {
    s.len() as u32 + 1
}

/// The 4-byte count of list replies; the count is bounded by the data that must follow.
pub(crate) fn list_count(cmd_header: &[u8]) -> WireResult<u32> {
    let mut c = Cursor::new(cmd_header);
    let n = c.u32("list count")?;
    c.finish()?;
    Ok(n)
}
