//! The synchronous, I/O-free core. Nothing here blocks on a socket or a
//! timer; the `io` layer drives it and loom models it.

pub mod admission;
pub mod app;
pub mod buffer_sets;
pub mod event_filter;
pub mod fd_budget;
pub mod handover;
pub mod job_queue;
pub mod map;
pub mod metadata;
pub mod net_output;
pub mod notify;
pub mod pairing;
pub mod push_gate;
pub mod registry;
pub mod room;
pub mod rotation;
pub mod session;
pub mod snapshot;
pub mod tracker;
