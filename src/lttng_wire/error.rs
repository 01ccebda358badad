//! Typed decoding errors, and the lttng error codes replies carry.

/// `enum lttng_error_code` values (include/lttng/lttng-error.h, 2.13) that ustd answers with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u32)]
pub enum ErrorCode {
    Ok = 10,
    Unk = 11,
    Und = 12,
    SessionStarted = 13,
    NotSupported = 15,
    CreateDirFail = 17,
    SessNotFound = 23,
    BufferTypeMismatch = 24,
    Fatal = 25,
    ExistSess = 28,
    SnapshotOutputExist = 31,
    Eperm = 32,
    KernNa = 33,
    StartSessionOnce = 50,
    SnapshotFail = 51,
    UstSessFail = 56,
    UstChanExist = 57,
    UstChanNotFound = 59,
    NoChannel = 72,
    UstListFail = 74,
    UstEventExist = 75,
    UstEventNotFound = 76,
    UstContextExist = 77,
    UstContextInval = 78,
    TraceAlreadyStarted = 80,
    TraceAlreadyStopped = 81,
    NeedChannelName = 83,
    SaveFileExist = 85,
    SaveIoFail = 86,
    MaxSizeInvalid = 90,
    Invalid = 97,
    /// `LTTNG_ERR_RELAYD_CONNECT_FAIL`: "Unable to connect to lttng-relayd".
    RelaydConnectFail = 104,
    FilterInval = 106,
    ExclusionInval = 110,
    InvalidEventName = 112,
    InvalidChannelName = 113,
    ProcessAttrExists = 114,
    ProcessAttrMissing = 115,
    /// `LTTNG_ERR_SESSION_NOT_STARTED`.
    SessionNotStarted = 118,
    LiveSession = 119,
    /// `LTTNG_ERR_PER_PID_SESSION`: "Per-PID tracing sessions are not supported".
    PerPidSession = 120,
    RotationScheduleSet = 131,
    RotationScheduleNotSet = 132,
    SnapshotUnsupported = 147,
    RotationPending = 129,
    RotationNotAvailable = 130,
    RotationMultipleAfterStop = 133,
    NotSnapshotSession = 124,
    InvalidProtocol = 152,
    /// `LTTNG_ERR_PROCESS_ATTR_TRACKER_INVALID_TRACKING_POLICY`: the CLI prints "all" for it.
    TrackerInvalidPolicy = 163,
    /// `LTTNG_ERR_USER_NOT_FOUND`.
    UserNotFound = 160,
    /// `LTTNG_ERR_GROUP_NOT_FOUND`.
    GroupNotFound = 161,
}

impl ErrorCode {
    pub fn as_u32(self) -> u32 {
        self as u32
    }
}

/// Malformed or unsupported client input. Never a panic: every decoder
/// returns one of these, and [`WireError::reply_code`] says how to answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    #[error("truncated {what}: need {need} bytes, have {have}")]
    Truncated {
        what: &'static str,
        need: usize,
        have: usize,
    },
    #[error("{what} length {len} exceeds the bound {max}")]
    TooLong {
        what: &'static str,
        len: u64,
        max: u64,
    },
    #[error("unknown command id {0}")]
    UnknownCommand(u32),
    #[error("{0} is not NUL-terminated")]
    Unterminated(&'static str),
    #[error("{0} is not UTF-8")]
    NotUtf8(&'static str),
    #[error("invalid {what}: {value}")]
    Invalid { what: &'static str, value: i64 },
    #[error("bytecode record is {record} bytes but declares {declared} data bytes")]
    BytecodeMismatch { record: usize, declared: u32 },
    #[error("{0} trailing bytes after the record")]
    Trailing(usize),
}

impl WireError {
    /// The lttng error code to answer with. Framing errors (a length beyond
    /// its bound in the fixed header) are answered too, and the server then
    /// closes the connection instead of reading the rest.
    pub fn reply_code(&self) -> ErrorCode {
        match self {
            WireError::UnknownCommand(_) => ErrorCode::Und,
            WireError::BytecodeMismatch { .. } => ErrorCode::FilterInval,
            WireError::TooLong { what, .. }
                if *what == "filter bytecode" || *what == "filter expression" =>
            {
                ErrorCode::FilterInval
            }
            _ => ErrorCode::Invalid,
        }
    }
}

pub type WireResult<T> = Result<T, WireError>;
