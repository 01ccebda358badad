//! ustd: a session daemon for LTTng-UST 2.13 applications.
//!
//! The rooms and their floors (see `ARCHITECTURE.md`; `tests/layering.rs`
//! enforces them):
//! - [`wire`]: a pure codec for the app <-> daemon protocol (no I/O);
//! - [`lttng_wire`]: a pure codec for the lttng CLI / liblttng-ctl client protocol;
//! - [`core`]: the synchronous, I/O-free heart (app registry, pairing, fd budget,
//!   sessions, metadata) that unit tests and loom drive directly;
//! - [`ustctl`]: FFI bindings to liblttng-ust-ctl;
//! - [`engine`]: buffers, the consumer thread and the trace output;
//! - [`io`]: sockets, fd passing, the wait shm, timers and the daemon's tasks;
//! - [`command`]: the typed command layer every front end calls (one request
//!   in, one typed reply out); [`control`] is its JSON-lines encoding.

// What the code already does, enforced (crate roots only, so the tests'
// shared helper modules are not held to it): unsafe only in FFI and fd
// passing, each block with its SAFETY line; no `pub` that cannot be reached.
#![warn(
    unsafe_op_in_unsafe_fn,
    unreachable_pub,
    clippy::undocumented_unsafe_blocks
)]

#[cfg(not(ustd_loom))]
pub mod command;
#[cfg(not(ustd_loom))]
pub mod control;
pub mod core;
#[cfg(not(ustd_loom))]
pub mod engine;
pub mod filter;
#[cfg(not(ustd_loom))]
pub mod io;
pub mod lttng_wire;
#[cfg(not(ustd_loom))]
pub mod relayd;
pub mod relayd_wire;
pub mod sync;
#[cfg(not(ustd_loom))]
pub mod ustctl;
pub mod wire;
