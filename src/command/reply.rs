//! What the daemon answers: one typed reply per command. Front ends render
//! these (the CLI as text or JSON, the lttng front end as lttng records);
//! the JSON field names are the documented `--json` contract.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::core::net_output::NetStats;
use crate::core::rotation::Schedules;
use crate::core::session::{ChannelConfig, Session};
use crate::core::tracker::Trackers;

/// The answer to a [`Request`](super::Request), one variant per kind of
/// command. The JSON-lines control protocol carries it adjacently tagged
/// (`"reply": "created", "body": {…}`), so the body alone is what `--json`
/// prints.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "reply", content = "body", rename_all = "snake_case")]
pub enum Reply {
    /// `list_apps`.
    Apps(AppList),
    /// `list_sessions`.
    Sessions(SessionList),
    /// `show_session`.
    Session(SessionView),
    /// `create_session`: the session as created.
    Created(SessionView),
    /// `enable_channel`, `enable_event`, `disable_event`, `add_context`.
    Changed(Applied),
    Started(Applied),
    Stopped(Stopped),
    Destroyed(Destroyed),
    /// `list_tracepoints`.
    Tracepoints(TracepointListing),
    Cleared(Cleared),
    Rotated(Rotated),
    /// `enable_rotation`, `disable_rotation`: the schedules now.
    ScheduleChanged(ScheduleChanged),
    /// `snapshot_add_output`, `snapshot_del_output`: the output.
    SnapshotOutput(crate::core::snapshot::SnapshotOutput),
    SnapshotOutputs(SnapshotOutputs),
    SnapshotRecorded(Recorded),
}

/// Outcome of applying a change to every registered app: never a silent
/// success, each failing app is named with its reason.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FanOutReport {
    pub applied: usize,
    pub failed: Vec<AppFailure>,
    /// Apps that exited (or were killed) while the command ran: reported,
    /// but not a failure, as lttng-sessiond skips a dead app.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub gone: Vec<AppFailure>,
}

impl FanOutReport {
    /// Whether some app did not carry the command out.
    pub fn some_failed(&self) -> bool {
        !self.failed.is_empty()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppFailure {
    pub app_id: u64,
    pub pid: i32,
    pub name: String,
    pub reason: String,
}

/// A session with its configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionView {
    pub id: u64,
    pub name: String,
    pub output: PathBuf,
    pub active: bool,
    pub channels: Vec<ChannelConfig>,
    /// Which apps the session traces; left out when it traces every app.
    #[serde(default, skip_serializing_if = "Trackers::is_default")]
    pub trackers: Trackers,
    /// What each channel lost so far, once the session has a trace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub buffers: Option<LossView>,
    /// A network session's relayd figures (sent, lost), once started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub relay: Option<NetStats>,
    /// Automatic rotations; left out when none is set.
    #[serde(default, skip_serializing_if = "Schedules::is_empty")]
    pub rotation: Schedules,
}

/// What a session channel lost, over every buffer set and generation.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChannelLossView {
    /// Events the writers dropped (buffer full).
    pub discarded_events: u64,
    /// Gaps in the sequence numbers of the packets written.
    pub lost_packets: u64,
    /// Sub-buffers that could not be read (a writer died mid-event).
    pub unreadable_subbufs: u64,
    /// Streams stalled now.
    pub stalled_streams: u64,
    /// Wedged buffer generations retired (apps moved to fresh buffers).
    pub recoveries: u64,
}

impl ChannelLossView {
    /// One line for the CLI.
    pub fn line(&self) -> String {
        format!(
            "lost: {} events discarded, {} packets lost, {} sub-buffers unreadable; {} stalled streams, {} wedged buffer sets replaced",
            self.discarded_events, self.lost_packets, self.unreadable_subbufs, self.stalled_streams, self.recoveries
        )
    }
}

/// Loss by session channel name.
pub type LossView = BTreeMap<String, ChannelLossView>;

impl SessionView {
    pub(crate) fn of<T>(s: &Session<T>) -> Self {
        let c = s.config();
        Self {
            id: s.id,
            name: c.name,
            output: c.output,
            active: c.active,
            channels: c.channels,
            trackers: c.trackers,
            buffers: None,
            relay: None,
            rotation: c.rotation,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionList {
    pub sessions: Vec<SessionView>,
}

/// A change to a session's configuration (or its start), and how the apps
/// took it (empty before the session was first started: apps get the
/// configuration at `start`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Applied {
    pub session: String,
    pub report: FanOutReport,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stopped {
    pub session: String,
    pub report: FanOutReport,
    /// `None` when the session never ran (no trace to flush).
    pub flushed: Option<Flush>,
}

/// How `stop` left the trace. On the wire: `true`, or the failure's text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(into = "FlushRepr", try_from = "FlushRepr")]
pub enum Flush {
    /// Buffers flushed and drained to the trace files.
    Done,
    Failed(String),
}

#[derive(Serialize, Deserialize)]
#[serde(untagged)]
enum FlushRepr {
    Done(bool),
    Failed(String),
}

impl From<Flush> for FlushRepr {
    fn from(f: Flush) -> Self {
        match f {
            Flush::Done => Self::Done(true),
            Flush::Failed(why) => Self::Failed(why),
        }
    }
}

impl TryFrom<FlushRepr> for Flush {
    type Error = &'static str;
    fn try_from(r: FlushRepr) -> Result<Self, Self::Error> {
        match r {
            FlushRepr::Done(true) => Ok(Self::Done),
            FlushRepr::Done(false) => Err("`flushed` is true or a reason, never false"),
            FlushRepr::Failed(why) => Ok(Self::Failed(why)),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Destroyed {
    pub session: String,
    pub report: FanOutReport,
    /// Where the trace was written; `None` if the session never ran.
    pub trace: Option<PathBuf>,
    /// What each channel lost, over the whole trace.
    pub buffers: Option<LossView>,
    /// After rotations: the last chunk's archive, as lttng reports it.
    #[serde(default)]
    pub archive: Option<PathBuf>,
}

/// Every registered app.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppList {
    pub apps: Vec<AppView>,
}

/// One registered app as shown by `ustd list`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct AppView {
    pub app_id: u64,
    pub pid: i32,
    pub ppid: i32,
    pub uid: u32,
    pub gid: u32,
    pub vpid: i32,
    pub vuid: u32,
    pub vgid: u32,
    pub name: String,
    pub bits_per_long: u32,
    pub abi_major: u32,
    pub abi_minor: u32,
    pub tracer_version: String,
    pub state: String,
    pub registered_at: String,
    /// Ids of the sessions this app has objects in (from the daemon's own
    /// per-app state, no round trip).
    #[serde(default)]
    pub sessions: Vec<u64>,
}

/// The tracepoints of every app that answered, and the apps that did not.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TracepointListing {
    pub apps: Vec<AppTracepoints>,
    pub report: FanOutReport,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppTracepoints {
    pub app_id: u64,
    pub pid: i32,
    pub name: String,
    pub tracepoints: Vec<TracepointInfo>,
}

/// One tracepoint of an app, with its fields when asked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TracepointInfo {
    pub name: String,
    pub loglevel: i32,
    pub fields: Vec<TracepointField>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TracepointField {
    pub name: String,
    pub kind: String,
    pub nowrite: bool,
}

/// `clear`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cleared {
    pub session: String,
}

/// `rotate`: the closed chunk's archive.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rotated {
    pub session: String,
    /// lttng's rotation id: the index of the chunk closed.
    pub id: u64,
    pub archive: std::path::PathBuf,
}

/// A session's rotation schedules after `enable_rotation` or
/// `disable_rotation`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScheduleChanged {
    pub session: String,
    pub schedules: Schedules,
}

/// What one `snapshot record` wrote.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Recorded {
    pub session: String,
    /// One record directory per output written.
    pub dirs: Vec<PathBuf>,
}

/// A session's snapshot outputs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnapshotOutputs {
    pub session: String,
    pub outputs: Vec<crate::core::snapshot::SnapshotOutput>,
}
