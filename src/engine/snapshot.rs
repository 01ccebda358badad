//! `snapshot record`: writes the current content of a snapshot session's
//! buffers, set by set, as a trace of its own under one record directory.
//!
//! Runs on the caller's (blocking) thread and holds no lock across the
//! consumer round trips: the consumer thread copies the sub-buffers while
//! the apps keep writing (overwrite mode), so tracing goes on.

use std::path::Path;

use crate::core::session::ChannelConfig;
use crate::core::snapshot::{packets_per_stream, SnapshotError, StreamGroup};
use crate::engine::trace::SessionTrace;

/// Writes every buffer set of `trace` to `dest/<set dir>` (metadata
/// pushed first, so each record describes all it holds), keeping per stream
/// at most the sub-buffers that lttng's `-m` rule lets fit in `max_size`
/// (0: everything). The size is checked before anything is written.
pub fn record(
    trace: &SessionTrace,
    channels: &[ChannelConfig],
    dest: &Path,
    max_size: u64,
) -> Result<(), SnapshotError> {
    let err = |e: &dyn std::fmt::Display| SnapshotError::Record(e.to_string());
    let sets = trace.snapshot_sets().map_err(|e| err(&e))?;
    let streams = trace.streams_per_channel();
    let groups: Vec<StreamGroup> = sets
        .iter()
        .flat_map(|s| s.channels.iter())
        .filter_map(|name| channels.iter().find(|c| c.name == *name))
        .map(|c| StreamGroup {
            subbuf_size: c.attrs.subbuf_size,
            num_subbuf: c.attrs.num_subbuf,
            streams,
        })
        .collect();
    let max_subbufs = packets_per_stream(max_size, &groups)?;
    for set in &sets {
        trace
            .consumer()
            .snapshot_bounded(set.key, &dest.join(&set.rel_dir), max_subbufs)
            .map_err(|e| err(&e))?;
    }
    Ok(())
}
