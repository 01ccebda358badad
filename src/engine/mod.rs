//! The buffer engine: a started session's buffer sets, their metadata
//! registries and output directories ([`trace`]), the consumer thread that
//! drains streams into them ([`consumer`]) and the on-disk CTF layout
//! ([`output`]). Built on the FFI of [`crate::ustctl`]; a second output kind
//! (a relay daemon) is another sink beside [`output`].

pub mod consumer;
pub mod net_output;
pub mod output;
pub mod rotation;
pub mod schedule;
pub mod snapshot;
pub mod trace;

pub use consumer::{ChannelLoss, Consumer, TraceKey, TraceLoss, STALL_AFTER};
pub use output::{pid_trace_dir, uid_trace_dir, PacketIndex, INDEX_ENTRY_LEN, INDEX_HEADER_LEN};
