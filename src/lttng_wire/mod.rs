//! Pure codec of the lttng CLI / liblttng-ctl client protocol (clients
//! 2.13.5 and later, x86_64): the 13,156-byte request header, every payload
//! a user space drop-in serves, and every reply shape the CLI parses.
//! No I/O: [`crate::io::lttng_client`] reads and writes the bytes.
//!
//! Decoders return a typed [`WireError`] on anything malformed (truncation,
//! lengths beyond their bounds, bytecode over 65,536 bytes, unknown command
//! ids) and never panic; [`WireError::reply_code`] is the lttng error code to
//! answer with.

pub mod channel;
pub mod context;
mod cursor;
pub mod error;
pub mod event;
pub mod header;
pub mod reply;
pub mod request;
pub mod rotation;
pub mod session;
pub mod session_file;
pub mod snapshot;
pub mod tracker;

pub use error::{ErrorCode, WireError, WireResult};
pub use header::{Command, Domain, DomainType, Header, HEADER_LEN};
pub use reply::Reply;
pub use request::{Request, Target};

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_support;
