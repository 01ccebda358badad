//! The LTTng-UST 2.13 wire codec: byte layouts only, no I/O.
//!
//! Every structure is packed and in the app's byte order (little-endian on the
//! platforms we accept). Decoders take a byte slice and return a typed
//! [`WireError`] on anything malformed; they never panic.

mod bytes;
#[cfg(test)]
mod captured;
pub mod cmd;
pub mod error;
pub mod field;
pub mod list;
pub mod notify;
pub mod reg;

pub use error::WireError;
