//! Typed decoding errors. Each one means "disconnect this app", never "panic".

use thiserror::Error;

#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum WireError {
    #[error("truncated {what}: need {need} bytes, have {have}")]
    Truncated {
        what: &'static str,
        need: usize,
        have: usize,
    },
    #[error("bad registration magic {0:#010x}")]
    BadMagic(u32),
    #[error("byte-swapped registration magic (cross-endian app) is not supported")]
    CrossEndian,
    #[error("unknown socket type {0}")]
    BadSocketType(u32),
    #[error("unsupported ABI major version {0} (need 8..=9)")]
    UnsupportedMajor(u32),
    #[error("unsupported bits_per_long {0}")]
    BadBitness(u32),
    #[error("string field `{0}` has no NUL terminator")]
    Unterminated(&'static str),
    #[error("string field `{0}` is not valid UTF-8")]
    NotUtf8(&'static str),
    #[error("{what} length {len} exceeds the bound {max}")]
    TooLong {
        what: &'static str,
        len: usize,
        max: usize,
    },
    #[error("{what} length {len} is not a multiple of {unit}")]
    Misaligned {
        what: &'static str,
        len: usize,
        unit: usize,
    },
    #[error(
        "reply echoes handle {got_handle}/cmd {got_cmd:#x}, expected {want_handle}/{want_cmd:#x}"
    )]
    ReplyMismatch {
        want_handle: u32,
        want_cmd: u32,
        got_handle: u32,
        got_cmd: u32,
    },
    #[error("unknown notify command {0}")]
    BadNotifyCmd(u32),
    #[error("unknown field type atype {0}")]
    BadAtype(i32),
    #[error("malformed field list: {0}")]
    BadFields(&'static str),
}

pub type WireResult<T> = Result<T, WireError>;
