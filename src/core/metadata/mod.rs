//! The metadata registry and its CTF 1.8 TSDL generator.
//!
//! One [`MetadataRegistry`] per per-UID registry (session, uid, bitness) or per
//! per-PID app session. It allocates channel, event and enum ids the way
//! lttng-sessiond 2.13 does, appends the TSDL text in registration order
//! (preamble at creation, a `stream` block at a channel's first
//! registration, an `event` block per new event), and hands the text to the
//! consumer through the push protocol described in [`registry`].
//!
//! Synchronous and I/O free; shared state uses the `crate::sync` facade so
//! loom can model it.

mod params;
pub mod registry;
mod tsdl;

pub use params::{
    clock_offset_from_samples, format_ctf_datetime, format_uuid, Abi, BufferingScheme, ByteOrder,
    ClockParams, ClockSample, SessionParams, TracerVersion,
};
pub use registry::{
    Fragment, Lifecycle, MetadataRegistry, MetadataSink, PushError, PushFailure, PushStep,
};
pub use tsdl::TsdlError;

use crate::wire::notify::header_type;

/// Event header layout of a channel's stream, chosen at its first
/// registration. lttng-sessiond 2.13 always answers [`HeaderType::Large`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeaderType {
    Compact,
    Large,
}

impl HeaderType {
    /// The value carried by a REGISTER_CHANNEL reply.
    pub fn wire_value(self) -> u32 {
        match self {
            Self::Compact => header_type::COMPACT,
            Self::Large => header_type::LARGE,
        }
    }
}

/// Why a registration or push was refused. Registrations map this to the
/// reply's `ret_code` with [`MetadataError::ret_code`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MetadataError {
    #[error("metadata registry is closed or closing")]
    Closed,
    #[error("unknown channel key {0}")]
    UnknownChannel(u64),
    #[error("no channel id left in this registry")]
    ChannelIdsExhausted,
    #[error("no event id left in channel {0}")]
    EventIdsExhausted(u32),
    #[error("no enum id left in this registry")]
    EnumIdsExhausted,
    #[error("context fields differ from the channel's first registration")]
    ContextMismatch,
    #[error(transparent)]
    Tsdl(#[from] TsdlError),
    #[error("metadata text would exceed {0} bytes")]
    TooLarge(usize),
    #[error("push protocol misuse: {0}")]
    PushProtocol(&'static str),
}

impl MetadataError {
    /// Negative errno for a notify reply, following lttng-sessiond's codes
    /// where it has one.
    pub fn ret_code(&self) -> i32 {
        -match self {
            Self::Closed => libc::EPIPE,
            Self::UnknownChannel(_) | Self::EventIdsExhausted(_) => libc::ENOENT,
            Self::ChannelIdsExhausted => libc::ENOSPC,
            Self::EnumIdsExhausted => libc::EOVERFLOW,
            Self::Tsdl(TsdlError::UnknownEnum { .. }) => libc::ENOENT,
            Self::ContextMismatch | Self::Tsdl(_) | Self::TooLarge(_) | Self::PushProtocol(_) => {
                libc::EINVAL
            }
        }
    }
}
