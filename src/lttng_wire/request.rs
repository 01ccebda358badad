//! A whole request (header + payload) decoded into one typed value.

use super::channel::ChannelAttr;
use super::context::Context;
use super::cursor::{nul_str, Cursor};
use super::error::{WireError, WireResult};
use super::event::EventRule;
use super::header::{le_u64, Command, Domain, Header, NAME_MAX, PATH_MAX, SYMBOL_NAME_LEN};
use super::session::SessionDescriptor;
use super::snapshot::SnapshotOutput;
use super::tracker::{AttrValue, ProcessAttr, TrackingPolicy};

/// `struct lttng_save_session_attr` inside the union.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SaveAttr {
    /// Empty: every session the caller may access.
    pub session_name: String,
    /// Empty: the default directory (`$LTTNG_HOME/.lttng/sessions` of the caller).
    pub config_url: String,
    pub overwrite: bool,
    pub omit_name: bool,
    pub omit_output: bool,
}

/// Session name + domain, the target most commands share.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub session: String,
    pub domain: Domain,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Request {
    CreateSession {
        home_dir: Option<String>,
        descriptor: SessionDescriptor,
    },
    ListSessions,
    DestroySession(Target),
    Start(Target),
    Stop(Target),
    DataPending(Target),
    ListDomains(Target),
    ListChannels(Target),
    ListEvents {
        target: Target,
        channel: String,
    },
    ListTracepoints(Target),
    ListTracepointFields(Target),
    ListRotationSchedules(Target),
    EnableChannel {
        target: Target,
        channel: ChannelAttr,
    },
    DisableChannel {
        target: Target,
        channel: String,
    },
    /// `channel` empty: the default channel (`channel0`).
    EnableEvent {
        target: Target,
        channel: String,
        event: EventRule,
    },
    DisableEvent {
        target: Target,
        channel: String,
        event: EventRule,
    },
    /// `channel` empty: every channel of the domain.
    AddContext {
        target: Target,
        channel: String,
        context: Context,
    },
    TrackerGetPolicy {
        target: Target,
        attr: ProcessAttr,
    },
    TrackerSetPolicy {
        target: Target,
        attr: ProcessAttr,
        policy: TrackingPolicy,
    },
    TrackerGetInclusionSet {
        target: Target,
        attr: ProcessAttr,
    },
    TrackerAdd {
        target: Target,
        attr: ProcessAttr,
        value: AttrValue,
    },
    TrackerRemove {
        target: Target,
        attr: ProcessAttr,
        value: AttrValue,
    },
    SaveSession(SaveAttr),
    SetShmPath {
        target: Target,
        path: String,
    },
    RegenerateMetadata(Target),
    RegenerateStatedump(Target),
    SnapshotAddOutput {
        target: Target,
        output: SnapshotOutput,
    },
    /// By `output.id`, or by `output.name` when the id is 0.
    SnapshotDelOutput {
        target: Target,
        output: SnapshotOutput,
    },
    SnapshotListOutput(Target),
    /// CLEAR_SESSION: the reply (no data) tells the CLI the clear is done.
    ClearSession(Target),
    /// Fields left empty are not overridden.
    SnapshotRecord {
        target: Target,
        output: SnapshotOutput,
    },
    RotateSession(Target),
    /// `id`: what ROTATE_SESSION answered.
    RotationGetInfo {
        target: Target,
        id: u64,
    },
    /// ROTATION_SET_SCHEDULE: `kind` is lttng's schedule type (0 size,
    /// 1 periodic), `set` false removes the schedule having `value`.
    RotationSetSchedule {
        target: Target,
        kind: u8,
        set: bool,
        value: u64,
    },
    /// A known command ustd does not serve (kernel, snapshot, rotation, triggers, ...).
    Unsupported {
        command: Command,
        target: Target,
    },
}

impl Request {
    /// The session a request acts on, if any.
    pub fn target(&self) -> Option<&Target> {
        use Request::*;
        match self {
            CreateSession { .. } | ListSessions | SaveSession(_) => None,
            DestroySession(t)
            | Start(t)
            | Stop(t)
            | DataPending(t)
            | ListDomains(t)
            | ListChannels(t)
            | ListTracepoints(t)
            | ListTracepointFields(t)
            | ListRotationSchedules(t)
            | RegenerateMetadata(t)
            | RegenerateStatedump(t)
            | SnapshotListOutput(t)
            | RotateSession(t)
            | ClearSession(t) => Some(t),
            RotationGetInfo { target, .. } | RotationSetSchedule { target, .. } => Some(target),
            ListEvents { target, .. }
            | EnableChannel { target, .. }
            | DisableChannel { target, .. }
            | EnableEvent { target, .. }
            | DisableEvent { target, .. }
            | AddContext { target, .. }
            | TrackerGetPolicy { target, .. }
            | TrackerSetPolicy { target, .. }
            | TrackerGetInclusionSet { target, .. }
            | TrackerAdd { target, .. }
            | TrackerRemove { target, .. }
            | SetShmPath { target, .. }
            | SnapshotAddOutput { target, .. }
            | SnapshotDelOutput { target, .. }
            | SnapshotRecord { target, .. }
            | Unsupported { target, .. } => Some(target),
        }
    }

    /// Decodes `payload` (exactly [`Header::payload_len`] bytes) under `h`.
    pub fn decode(h: &Header, payload: &[u8]) -> WireResult<Self> {
        let session = h.session_name()?;
        let target = || Target {
            session: session.clone(),
            domain: h.domain,
        };
        let chan_name = || h.u_str(0, SYMBOL_NAME_LEN, "channel name");
        let attr = || ProcessAttr::from_raw(h.u_i32(0));
        let cmd = h.command()?;
        if payload.len() != h.payload_len()? {
            return Err(WireError::Truncated {
                what: "payload",
                need: h.payload_len()?,
                have: payload.len(),
            });
        }
        Ok(match cmd {
            Command::CreateSessionExt => {
                let home_len = u16::from_le_bytes([h.u[0], h.u[1]]) as usize;
                let home_dir = match home_len {
                    0 => None,
                    n if n > PATH_MAX => {
                        return Err(WireError::TooLong {
                            what: "home directory",
                            len: n as u64,
                            max: PATH_MAX as u64,
                        })
                    }
                    n => Some(nul_str(&payload[..n], "home directory")?),
                };
                let descriptor = SessionDescriptor::decode(&payload[home_len..])?;
                debug_assert_eq!(le_u64(&h.u, 2) as usize, payload.len() - home_len);
                Request::CreateSession {
                    home_dir,
                    descriptor,
                }
            }
            Command::ListSessions => Request::ListSessions,
            Command::DestroySession => Request::DestroySession(target()),
            Command::StartTrace => Request::Start(target()),
            Command::StopTrace => Request::Stop(target()),
            Command::DataPending => Request::DataPending(target()),
            Command::ListDomains => Request::ListDomains(target()),
            Command::ListChannels => Request::ListChannels(target()),
            Command::ListEvents => Request::ListEvents {
                target: target(),
                channel: chan_name()?,
            },
            Command::ListTracepoints => Request::ListTracepoints(target()),
            Command::ListTracepointFields => Request::ListTracepointFields(target()),
            Command::SessionListRotationSchedules => Request::ListRotationSchedules(target()),
            Command::RotateSession => Request::RotateSession(target()),
            Command::RotationGetInfo => Request::RotationGetInfo {
                target: target(),
                id: le_u64(&h.u, 0),
            },
            // `u.rotation_set_schedule`: packed {u8 type, u8 set, u64 value}.
            Command::RotationSetSchedule => Request::RotationSetSchedule {
                target: target(),
                kind: h.u[0],
                set: h.u[1] == 1,
                value: le_u64(&h.u, 2),
            },
            Command::EnableChannel => Request::EnableChannel {
                target: target(),
                channel: ChannelAttr::decode(payload)?,
            },
            Command::DisableChannel => Request::DisableChannel {
                target: target(),
                channel: chan_name()?,
            },
            Command::EnableEvent | Command::DisableEvent if h.fd_count != 0 => {
                // Only kernel uprobes pass fds.
                return Err(WireError::Invalid {
                    what: "fd count",
                    value: h.fd_count.into(),
                });
            }
            Command::EnableEvent => Request::EnableEvent {
                target: target(),
                channel: chan_name()?,
                event: EventRule::decode(payload)?,
            },
            Command::DisableEvent => Request::DisableEvent {
                target: target(),
                channel: chan_name()?,
                event: EventRule::decode(payload)?,
            },
            Command::AddContext => Request::AddContext {
                target: target(),
                channel: chan_name()?,
                context: Context::decode(payload)?,
            },
            Command::TrackerGetPolicy => Request::TrackerGetPolicy {
                target: target(),
                attr: attr()?,
            },
            Command::TrackerSetPolicy => Request::TrackerSetPolicy {
                target: target(),
                attr: attr()?,
                policy: TrackingPolicy::from_raw(h.u_i32(4))?,
            },
            Command::TrackerGetInclusionSet => Request::TrackerGetInclusionSet {
                target: target(),
                attr: attr()?,
            },
            Command::TrackerAddIncludeValue | Command::TrackerRemoveIncludeValue => {
                let name = match payload.len() {
                    0 => None,
                    _ => Some(nul_str(payload, "process attribute name")?),
                };
                let value = AttrValue::decode(h.u_i32(4), le_u64(&h.u, 8), name)?;
                if cmd == Command::TrackerAddIncludeValue {
                    Request::TrackerAdd {
                        target: target(),
                        attr: attr()?,
                        value,
                    }
                } else {
                    Request::TrackerRemove {
                        target: target(),
                        attr: attr()?,
                        value,
                    }
                }
            }
            Command::SaveSession => {
                let mut c = Cursor::new(&h.u);
                let session_name =
                    super::cursor::fixed_str(c.bytes(NAME_MAX, "save attr")?, "session name")?;
                let config_url =
                    super::cursor::fixed_str(c.bytes(PATH_MAX, "save attr")?, "configuration URL")?;
                Request::SaveSession(SaveAttr {
                    session_name,
                    config_url,
                    overwrite: c.u8("save attr")? != 0,
                    omit_name: c.u8("save attr")? != 0,
                    omit_output: c.u8("save attr")? != 0,
                })
            }
            Command::SetSessionShmPath => Request::SetShmPath {
                target: target(),
                path: h.u_str(0, PATH_MAX, "shm path")?,
            },
            Command::RegenerateMetadata => Request::RegenerateMetadata(target()),
            Command::RegenerateStatedump => Request::RegenerateStatedump(target()),
            Command::SnapshotAddOutput => Request::SnapshotAddOutput {
                target: target(),
                output: SnapshotOutput::decode(&h.u)?,
            },
            Command::SnapshotDelOutput => Request::SnapshotDelOutput {
                target: target(),
                output: SnapshotOutput::decode(&h.u)?,
            },
            Command::SnapshotListOutput => Request::SnapshotListOutput(target()),
            Command::ClearSession => Request::ClearSession(target()),
            // After the u32 `wait` (ignored by lttng-sessiond 2.13 too).
            Command::SnapshotRecord => Request::SnapshotRecord {
                target: target(),
                output: SnapshotOutput::decode(&h.u[4..])?,
            },
            command => Request::Unsupported {
                command,
                target: target(),
            },
        })
    }
}
