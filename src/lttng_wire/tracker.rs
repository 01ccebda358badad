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

/// GET_INCLUSION_SET reply: u32 count, then {i32 value type, u64 value} per
/// entry; a name's entry carries its length with the NUL, and the names
/// follow all entries, in order (lttng-sessiond 2.13.9 keeps names as given).
pub fn encode_inclusion_set(values: &[AttrValue]) -> Vec<u8> {
    let mut out = Vec::with_capacity(4 + 12 * values.len());
    let mut names = Vec::new();
    out.put_u32(values.len() as u32);
    for v in values {
        let (ty, val) = match v {
            AttrValue::Pid(p) => (0, *p as u32 as u64),
            AttrValue::Uid(u) => (1, (*u).into()),
            AttrValue::UserName(n) => (2, n.len() as u64 + 1),
            AttrValue::Gid(g) => (3, (*g).into()),
            AttrValue::GroupName(n) => (4, n.len() as u64 + 1),
        };
        out.put_i32(ty);
        out.put_u64(val);
        if let AttrValue::UserName(n) | AttrValue::GroupName(n) = v {
            names.extend_from_slice(n.as_bytes());
            names.push(0);
        }
    }
    out.extend_from_slice(&names);
    out
}
