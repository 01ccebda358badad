//! ustd: a session daemon for LTTng-UST 2.13 applications.
//!
//! The crate is split in three layers (see `ARCHITECTURE.md`):
//! - [`wire`]: a pure codec for the app <-> daemon protocol (no I/O);
//! - [`core`]: the synchronous, I/O-free heart (app registry, pairing, fd budget,
//!   teardown protocol) that unit tests and loom drive directly;
//! - [`io`]: sockets, fd passing, the wait shm, timers and the daemon's tasks.

#[cfg(not(ustd_loom))]
pub mod control;
pub mod core;
pub mod filter;
#[cfg(not(ustd_loom))]
pub mod io;
pub mod sync;
#[cfg(not(ustd_loom))]
pub mod ustctl;
pub mod wire;
