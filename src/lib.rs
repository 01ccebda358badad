//! ustd: a session daemon for LTTng-UST 2.13 applications.
//!
//! The crate is split in three layers (see `ARCHITECTURE.md`):
//! - [`wire`]: a pure codec for the app <-> daemon protocol (no I/O);
//! - [`lttng_wire`]: a pure codec for the lttng CLI / liblttng-ctl client protocol;
//! - [`core`]: the synchronous, I/O-free heart (app registry, pairing, fd budget,
//!   teardown protocol) that unit tests and loom drive directly;
//! - [`io`]: sockets, fd passing, the wait shm, timers and the daemon's tasks.

#[cfg(not(ustd_loom))]
pub mod control;
pub mod core;
#[cfg(not(ustd_loom))]
pub mod io;
pub mod lttng_wire;
pub mod sync;
#[cfg(not(ustd_loom))]
pub mod ustctl;
pub mod wire;
