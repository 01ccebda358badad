//! The fixed 13,156-byte request header (`struct lttcomm_session_msg`, x86_64)
//! and the payload length each command declares in it.

use super::cursor::fixed_str;
use super::error::{WireError, WireResult};

pub const HEADER_LEN: usize = 13156;
/// Native `struct lttng_session` / `struct lttng_domain` sizes (unpacked x86_64 layouts).
pub const SESSION_RECORD_LEN: usize = 4376;
pub const DOMAIN_RECORD_LEN: usize = 308;
/// `LTTNG_NAME_MAX`, `PATH_MAX`, `LTTNG_SYMBOL_NAME_LEN`.
pub const NAME_MAX: usize = 255;
pub const PATH_MAX: usize = 4096;
pub const SYMBOL_NAME_LEN: usize = 256;
/// `LTTNG_FILTER_MAX_LEN`: bound on a filter expression and its bytecode.
pub const FILTER_MAX_LEN: usize = 65536;

const OFF_SESSION: usize = 4;
const OFF_DOMAIN: usize = OFF_SESSION + SESSION_RECORD_LEN;
pub(crate) const OFF_U: usize = OFF_DOMAIN + DOMAIN_RECORD_LEN;
const OFF_FD_COUNT: usize = 13152;

/// Bounds on declared payloads: a client never makes the daemon read more.
/// Packed `struct lttng_uri`.
pub const URI_LEN: usize = 8210;
/// Packed `lttng_channel_comm`.
pub const CHANNEL_COMM_LEN: usize = 83;
const CREATE_PAYLOAD_MAX: u64 = (PATH_MAX + 15 + NAME_MAX + 2 * URI_LEN) as u64;
const CHANNEL_PAYLOAD_MAX: u64 = (CHANNEL_COMM_LEN + SYMBOL_NAME_LEN) as u64;
/// Name, filter, bytecode (+ its header), and up to a few thousand exclusions.
pub const EVENT_PAYLOAD_MAX: u64 = 1 << 20;
const CONTEXT_PAYLOAD_MAX: u64 = 3 * PATH_MAX as u64;
const TRACKER_NAME_MAX: u64 = PATH_MAX as u64;

/// `enum lttcomm_sessiond_command` (2.13).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u32)]
pub enum Command {
    AddContext = 0,
    DisableChannel = 2,
    DisableEvent = 3,
    ListSyscalls = 4,
    EnableChannel = 5,
    EnableEvent = 6,
    DestroySession = 9,
    ListChannels = 10,
    ListDomains = 11,
    ListEvents = 12,
    ListSessions = 13,
    ListTracepoints = 14,
    RegisterConsumer = 15,
    StartTrace = 16,
    StopTrace = 17,
    ListTracepointFields = 18,
    DisableConsumer = 19,
    EnableConsumer = 20,
    SetConsumerUri = 21,
    DataPending = 24,
    SnapshotAddOutput = 25,
    SnapshotDelOutput = 26,
    SnapshotListOutput = 27,
    SnapshotRecord = 28,
    SaveSession = 31,
    TrackerAddIncludeValue = 32,
    TrackerRemoveIncludeValue = 33,
    TrackerGetPolicy = 34,
    TrackerSetPolicy = 35,
    TrackerGetInclusionSet = 36,
    SetSessionShmPath = 40,
    RegenerateMetadata = 41,
    RegenerateStatedump = 42,
    RegisterTrigger = 43,
    UnregisterTrigger = 44,
    RotateSession = 45,
    RotationGetInfo = 46,
    RotationSetSchedule = 47,
    SessionListRotationSchedules = 48,
    CreateSessionExt = 49,
    ClearSession = 50,
    ListTriggers = 51,
    ExecuteErrorQuery = 52,
}

impl Command {
    pub fn from_id(id: u32) -> Option<Self> {
        use Command::*;
        Some(match id {
            0 => AddContext,
            2 => DisableChannel,
            3 => DisableEvent,
            4 => ListSyscalls,
            5 => EnableChannel,
            6 => EnableEvent,
            9 => DestroySession,
            10 => ListChannels,
            11 => ListDomains,
            12 => ListEvents,
            13 => ListSessions,
            14 => ListTracepoints,
            15 => RegisterConsumer,
            16 => StartTrace,
            17 => StopTrace,
            18 => ListTracepointFields,
            19 => DisableConsumer,
            20 => EnableConsumer,
            21 => SetConsumerUri,
            24 => DataPending,
            25 => SnapshotAddOutput,
            26 => SnapshotDelOutput,
            27 => SnapshotListOutput,
            28 => SnapshotRecord,
            31 => SaveSession,
            32 => TrackerAddIncludeValue,
            33 => TrackerRemoveIncludeValue,
            34 => TrackerGetPolicy,
            35 => TrackerSetPolicy,
            36 => TrackerGetInclusionSet,
            40 => SetSessionShmPath,
            41 => RegenerateMetadata,
            42 => RegenerateStatedump,
            43 => RegisterTrigger,
            44 => UnregisterTrigger,
            45 => RotateSession,
            46 => RotationGetInfo,
            47 => RotationSetSchedule,
            48 => SessionListRotationSchedules,
            49 => CreateSessionExt,
            50 => ClearSession,
            51 => ListTriggers,
            52 => ExecuteErrorQuery,
            _ => return None,
        })
    }
}

/// `enum lttng_domain_type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DomainType {
    None,
    Kernel,
    Ust,
    Jul,
    Log4j,
    Python,
    Other(i32),
}

impl DomainType {
    pub fn from_raw(v: i32) -> Self {
        match v {
            0 => Self::None,
            1 => Self::Kernel,
            2 => Self::Ust,
            3 => Self::Jul,
            4 => Self::Log4j,
            5 => Self::Python,
            v => Self::Other(v),
        }
    }
    pub fn raw(self) -> i32 {
        match self {
            Self::None => 0,
            Self::Kernel => 1,
            Self::Ust => 2,
            Self::Jul => 3,
            Self::Log4j => 4,
            Self::Python => 5,
            Self::Other(v) => v,
        }
    }
}

/// `enum lttng_buffer_type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BufferType {
    PerPid,
    PerUid,
    Global,
}

impl BufferType {
    pub fn from_raw(v: i32) -> WireResult<Self> {
        match v {
            0 => Ok(Self::PerPid),
            1 => Ok(Self::PerUid),
            2 => Ok(Self::Global),
            v => Err(WireError::Invalid {
                what: "buffer type",
                value: v.into(),
            }),
        }
    }
    pub fn raw(self) -> i32 {
        match self {
            Self::PerPid => 0,
            Self::PerUid => 1,
            Self::Global => 2,
        }
    }
}

/// The request's `struct lttng_domain`: type, buffer scheme and the `attr.pid` the reply echoes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Domain {
    pub kind: DomainType,
    /// Raw: only meaningful for commands that create channels.
    pub buf_type: i32,
    pub pid: i32,
}

/// The decoded fixed header. `u` keeps the command union for [`super::request`].
#[derive(Clone)]
pub struct Header {
    pub cmd_id: u32,
    session: Box<[u8]>,
    pub domain: Domain,
    pub fd_count: u32,
    pub(crate) u: Box<[u8]>,
}

impl std::fmt::Debug for Header {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Header")
            .field("cmd_id", &self.cmd_id)
            .field("session_name", &self.session_name())
            .field("domain", &self.domain)
            .finish_non_exhaustive()
    }
}

fn le_u32(b: &[u8], off: usize) -> u32 {
    u32::from_le_bytes(b[off..off + 4].try_into().expect("4 bytes"))
}
fn le_i32(b: &[u8], off: usize) -> i32 {
    le_u32(b, off) as i32
}
pub(crate) fn le_u64(b: &[u8], off: usize) -> u64 {
    u64::from_le_bytes(b[off..off + 8].try_into().expect("8 bytes"))
}

impl Header {
    /// Fails only on a wrong size: every 13,156-byte header can be answered.
    pub fn decode(buf: &[u8]) -> WireResult<Self> {
        if buf.len() != HEADER_LEN {
            return Err(WireError::Truncated {
                what: "request header",
                need: HEADER_LEN,
                have: buf.len(),
            });
        }
        let domain = Domain {
            kind: DomainType::from_raw(le_i32(buf, OFF_DOMAIN)),
            buf_type: le_i32(buf, OFF_DOMAIN + 4),
            pid: le_i32(buf, OFF_DOMAIN + 20),
        };
        Ok(Self {
            cmd_id: le_u32(buf, 0),
            session: buf[OFF_SESSION..OFF_SESSION + NAME_MAX].into(),
            domain,
            fd_count: le_u32(buf, OFF_FD_COUNT),
            u: buf[OFF_U..OFF_FD_COUNT].into(),
        })
    }

    /// `session.name`: checked here, not in [`Header::decode`], so a bad name is still answered.
    pub fn session_name(&self) -> WireResult<String> {
        fixed_str(&self.session, "session name")
    }

    pub fn command(&self) -> WireResult<Command> {
        Command::from_id(self.cmd_id).ok_or(WireError::UnknownCommand(self.cmd_id))
    }

    pub(crate) fn u_u32(&self, off: usize) -> u32 {
        le_u32(&self.u, off)
    }
    pub(crate) fn u_i32(&self, off: usize) -> i32 {
        le_i32(&self.u, off)
    }
    pub(crate) fn u_str(&self, off: usize, len: usize, what: &'static str) -> WireResult<String> {
        fixed_str(&self.u[off..off + len], what)
    }

    /// How many payload bytes follow the header, checked against the command's bound.
    /// Commands ustd does not serve declare none: their payload is never read.
    pub fn payload_len(&self) -> WireResult<usize> {
        let (len, max, what) = match self.command()? {
            Command::CreateSessionExt => {
                let home = u64::from(u16::from_le_bytes([self.u[0], self.u[1]]));
                let desc = le_u64(&self.u, 2);
                (
                    home.saturating_add(desc),
                    CREATE_PAYLOAD_MAX,
                    "session descriptor",
                )
            }
            Command::EnableChannel => (self.u_u32(0).into(), CHANNEL_PAYLOAD_MAX, "channel record"),
            Command::EnableEvent | Command::DisableEvent => (
                self.u_u32(SYMBOL_NAME_LEN).into(),
                EVENT_PAYLOAD_MAX,
                "event record",
            ),
            Command::AddContext => (
                self.u_u32(SYMBOL_NAME_LEN).into(),
                CONTEXT_PAYLOAD_MAX,
                "context record",
            ),
            Command::TrackerAddIncludeValue | Command::TrackerRemoveIncludeValue => (
                self.u_u32(16).into(),
                TRACKER_NAME_MAX,
                "process attribute name",
            ),
            _ => (0, 0, "payload"),
        };
        if len > max {
            return Err(WireError::TooLong { what, len, max });
        }
        Ok(len as usize)
    }
}
