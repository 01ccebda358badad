//! Process-attribute trackers: the request fields and the replies (policy, inclusion set).

use super::cursor::Put;
use super::error::{WireError, WireResult};

/// `enum lttng_process_attr`; user space has the virtual ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ProcessAttr {
    Pid,
    Vpid,
    Uid,
    Vuid,
    Gid,
    Vgid,
}

impl ProcessAttr {
    pub fn from_raw(v: i32) -> WireResult<Self> {
        Ok(match v {
            0 => Self::Pid,
            1 => Self::Vpid,
            2 => Self::Uid,
            3 => Self::Vuid,
            4 => Self::Gid,
            5 => Self::Vgid,
            v => {
                return Err(WireError::Invalid {
                    what: "process attribute",
                    value: v.into(),
                })
            }
        })
    }
    /// Whether the user space domain has this tracker.
    pub fn is_ust(self) -> bool {
        matches!(self, Self::Vpid | Self::Vuid | Self::Vgid)
    }
}

/// `enum lttng_tracking_policy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrackingPolicy {
    IncludeAll,
    ExcludeAll,
    IncludeSet,
}

impl TrackingPolicy {
    pub fn from_raw(v: i32) -> WireResult<Self> {
        Ok(match v {
            0 => Self::IncludeAll,
            1 => Self::ExcludeAll,
            2 => Self::IncludeSet,
            v => {
                return Err(WireError::Invalid {
                    what: "tracking policy",
                    value: v.into(),
                })
            }
        })
    }
    pub fn raw(self) -> u32 {
        match self {
            Self::IncludeAll => 0,
            Self::ExcludeAll => 1,
            Self::IncludeSet => 2,
        }
    }
}

/// A tracked value (`enum lttng_process_attr_value_type`): ids, or names the daemon resolves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttrValue {
    Pid(i32),
    Uid(u32),
    UserName(String),
    Gid(u32),
    GroupName(String),
}

impl AttrValue {
    /// From the add/remove request: `value_type`, the 8-byte integral value, and the name payload.
    pub(crate) fn decode(value_type: i32, integral: u64, name: Option<String>) -> WireResult<Self> {
        let need_name = |n: Option<String>| {
            n.ok_or(WireError::Invalid {
                what: "empty process attribute name",
                value: 0,
            })
        };
        Ok(match value_type {
            0 => Self::Pid(integral as u32 as i32),
            1 => Self::Uid(integral as u32),
            2 => Self::UserName(need_name(name)?),
            3 => Self::Gid(integral as u32),
            4 => Self::GroupName(need_name(name)?),
            v => {
                return Err(WireError::Invalid {
                    what: "process attribute value type",
                    value: v.into(),
                })
            }
        })
    }
}

/// GET_POLICY reply: exactly 4 bytes.
pub fn encode_policy(p: TrackingPolicy) -> Vec<u8> {
    p.raw().to_le_bytes().to_vec()
}

/// GET_INCLUSION_SET reply: u32 count, then {i32 value type, u64 value} per integral entry.
/// (The daemon resolves names when they are added, so the set holds ids only.)
pub fn encode_inclusion_set(attr: ProcessAttr, ids: &[u64]) -> Vec<u8> {
    let value_type = match attr {
        ProcessAttr::Pid | ProcessAttr::Vpid => 0,
        ProcessAttr::Uid | ProcessAttr::Vuid => 1,
        ProcessAttr::Gid | ProcessAttr::Vgid => 3,
    };
    let mut out = Vec::with_capacity(4 + 12 * ids.len());
    out.put_u32(ids.len() as u32);
    for &v in ids {
        out.put_i32(value_type);
        out.put_u64(v);
    }
    out
}
