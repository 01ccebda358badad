//! `snapshot record`: writes the current content of a snapshot session's
//! buffers, set by set, as a trace of its own under one record directory.
//!
//! Runs on the caller's (blocking) thread and holds no lock across the
//! consumer round trips: the consumer thread copies the sub-buffers while
//! the apps keep writing (overwrite mode), so tracing goes on.

use std::path::PathBuf;

use crate::core::net_output::NetOutput;
use crate::core::session::ChannelConfig;
use crate::core::snapshot::{packets_per_stream, SnapshotError, StreamGroup};
use crate::engine::net_output::{send_snapshot, NetSession};
use crate::engine::trace::SessionTrace;
use crate::io::host::{hostname, random_uuid};

/// Where one record goes.
pub enum RecordDest<'a> {
    /// The record's local directory.
    Dir(PathBuf),
    /// A relayd: the record is trace chunk `n` named `chunk` there.
    Relayd {
        out: &'a NetOutput,
        session_id: u64,
        n: u64,
        chunk: &'a str,
    },
}

/// Writes every buffer set of `trace` to `<record>/<set dir>` (metadata
/// pushed first, so each record describes all it holds), keeping per stream
/// at most the sub-buffers that lttng's `-m` rule lets fit in `max_size`
/// (0: everything). The size is checked before anything is written.
/// Returns where the record is (at a relayd: `relayd:<chunk path>`).
pub fn record(
    trace: &SessionTrace,
    channels: &[ChannelConfig],
    dest: &RecordDest<'_>,
    max_size: u64,
) -> Result<PathBuf, SnapshotError> {
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
    let (out, session_id, n, chunk) = match dest {
        RecordDest::Dir(dir) => {
            for set in &sets {
                trace
                    .consumer()
                    .snapshot_bounded(set.key, &dir.join(&set.rel_dir), max_subbufs)
                    .map_err(|e| err(&e))?;
            }
            return Ok(dir.clone());
        }
        RecordDest::Relayd {
            out,
            session_id,
            n,
            chunk,
        } => (out, *session_id, *n, chunk),
    };
    // Copied set by set (each bounded by its buffers), then sent off the
    // consumer thread: the consumer never waits for the network.
    let mut copies = Vec::with_capacity(sets.len());
    for set in &sets {
        let c = trace
            .consumer()
            .snapshot_copy(set.key, max_subbufs)
            .map_err(|e| err(&e))?;
        copies.push((set.rel_dir.to_string_lossy().into_owned(), c));
    }
    let (name, created) = trace.relayd_name();
    let path = send_snapshot(
        out,
        &NetSession {
            name,
            hostname: &hostname(),
            id: session_id,
            created,
            daemon_uuid: random_uuid(),
        },
        n,
        chunk,
        &copies,
    )
    .map_err(|e| err(&e))?;
    Ok(PathBuf::from(format!("relayd:{path}")))
}
