//! What a front end asks the daemon: one request per command.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::core::session::{BufferScheme, ChannelAttrs, LoglevelSel};
use crate::core::tracker::TrackedAttr;

/// A network output as ustd's CLI gives it: `--set-url`, or `-C` and `-D`,
/// and `--live`. Resolved by the daemon.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetRequest {
    #[serde(default)]
    pub set_url: Option<String>,
    #[serde(default)]
    pub control_url: Option<String>,
    #[serde(default)]
    pub data_url: Option<String>,
    /// Live timer period in µs (`--live`), if a live session.
    #[serde(default)]
    pub live_timer_us: Option<u32>,
}

/// One command, as decoded by a front end. The JSON-lines control protocol
/// carries it as is (`{"request": "start", "session": …}`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "request", rename_all = "snake_case")]
pub enum Request {
    ListApps,
    ListSessions,
    ShowSession {
        name: String,
    },
    CreateSession {
        name: String,
        output: Option<PathBuf>,
        /// A snapshot session (its output becomes snapshot output 1).
        #[serde(default)]
        snapshot: bool,
        /// Stream to an lttng-relayd instead (issue 11).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        net: Option<NetRequest>,
    },
    DestroySession {
        name: Option<String>,
    },
    EnableChannel {
        session: Option<String>,
        name: String,
        attrs: ChannelOptions,
    },
    DisableChannel {
        session: Option<String>,
        names: Vec<String>,
    },
    EnableEvent {
        session: Option<String>,
        channel: Option<String>,
        patterns: Vec<String>,
        loglevel: LoglevelSel,
        /// Filter expression; the daemon compiles it (lttng 2.13 language).
        #[serde(default)]
        filter: Option<String>,
        /// Event names left out of the patterns (`-x`).
        #[serde(default)]
        exclusions: Vec<String>,
    },
    DisableEvent {
        session: Option<String>,
        channel: Option<String>,
        patterns: Vec<String>,
    },
    AddContext {
        session: Option<String>,
        channel: Option<String>,
        types: Vec<String>,
    },
    Start {
        session: Option<String>,
    },
    Stop {
        session: Option<String>,
    },
    ListTracepoints {
        fields: bool,
    },
    /// `values` None: every app (`--all`); else they join the inclusion set.
    Track {
        session: Option<String>,
        attr: TrackedAttr,
        values: Option<Vec<TrackInput>>,
    },
    /// `values` None: no app (`--all`); else they leave the inclusion set.
    Untrack {
        session: Option<String>,
        attr: TrackedAttr,
        values: Option<Vec<TrackInput>>,
    },
    /// Write a started per-UID session's metadata again, whole.
    RegenerateMetadata {
        session: Option<String>,
    },
    /// Ask every app of a started session for its statedump again.
    RegenerateStatedump {
        session: Option<String>,
    },
    /// Discard the recorded data and the buffers' content.
    Clear {
        session: Option<String>,
    },
    /// Close the current trace chunk into `<output>/archives/`.
    Rotate {
        session: Option<String>,
    },
    /// `timer_us` / `size`: the schedules to set (at least one).
    EnableRotation {
        session: Option<String>,
        #[serde(default)]
        timer_us: Option<u64>,
        #[serde(default)]
        size: Option<u64>,
    },
    /// Removes the named schedules (`timer`, `size`).
    DisableRotation {
        session: Option<String>,
        #[serde(default)]
        timer: bool,
        #[serde(default)]
        size: bool,
    },
    SnapshotAddOutput {
        session: Option<String>,
        name: Option<String>,
        /// Bytes; 0: no bound.
        #[serde(default)]
        max_size: u64,
        path: PathBuf,
    },
    /// By id, or by name when `id` is 0.
    SnapshotDelOutput {
        session: Option<String>,
        id: u32,
        #[serde(default)]
        name: String,
    },
    SnapshotListOutputs {
        session: Option<String>,
    },
    SnapshotRecord {
        session: Option<String>,
        name: Option<String>,
        max_size: Option<u64>,
        /// Instead of the session's outputs.
        path: Option<PathBuf>,
    },
}

/// `enable-channel` options; unset ones take lttng's defaults for the
/// buffer scheme.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ChannelOptions {
    pub subbuf_size: Option<u64>,
    pub num_subbuf: Option<u64>,
    pub overwrite: bool,
    /// Discard mode asked for explicitly: a snapshot session's channels
    /// are in overwrite mode unless this is set.
    #[serde(default)]
    pub discard: bool,
    pub switch_timer_us: Option<u32>,
    pub read_timer_us: Option<u32>,
    pub buffers: Option<BufferScheme>,
    #[serde(default)]
    pub tracefile_size: u64,
    #[serde(default)]
    pub tracefile_count: u64,
    #[serde(default)]
    pub monitor_timer_us: Option<u64>,
}

impl ChannelOptions {
    pub fn resolve(&self) -> ChannelAttrs {
        let d = ChannelAttrs::default_for(self.buffers.unwrap_or(BufferScheme::Uid));
        let subbuf_size = self.subbuf_size.unwrap_or(d.subbuf_size);
        ChannelAttrs {
            subbuf_size,
            num_subbuf: self.num_subbuf.unwrap_or(d.num_subbuf),
            overwrite: self.overwrite,
            switch_timer_us: self.switch_timer_us.unwrap_or(0),
            read_timer_us: self.read_timer_us.unwrap_or(0),
            buffers: d.buffers,
            // A file holds at least one packet: lttng's CLI rounds up so.
            tracefile_size: match self.tracefile_size {
                0 => 0,
                n => n.max(subbuf_size),
            },
            tracefile_count: self.tracefile_count,
            monitor_timer_us: self.monitor_timer_us.unwrap_or(d.monitor_timer_us),
        }
    }
}

/// A value as a user gives it: an id, or a user or group name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum TrackInput {
    Id(i64),
    Name(String),
}

impl std::str::FromStr for TrackInput {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(s.parse()
            .map_or_else(|_| Self::Name(s.to_owned()), Self::Id))
    }
}
