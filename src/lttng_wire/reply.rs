//! Reply framing: `struct lttcomm_lttng_msg` (packed, 24 bytes), the optional
//! command header, then the data. Every reply shape the CLI parses.

use super::error::ErrorCode;
use super::rotation::RelayArchive;

pub const REPLY_HEADER_LEN: usize = 24;

/// One reply, ready to encode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub code: ErrorCode,
    pub cmd_header: Vec<u8>,
    pub data: Vec<u8>,
}

impl Reply {
    pub fn ok(data: Vec<u8>) -> Self {
        Self {
            code: ErrorCode::Ok,
            cmd_header: Vec::new(),
            data,
        }
    }
    pub fn ok_with_header(cmd_header: Vec<u8>, data: Vec<u8>) -> Self {
        Self {
            code: ErrorCode::Ok,
            cmd_header,
            data,
        }
    }
    pub fn error(code: ErrorCode) -> Self {
        Self {
            code,
            cmd_header: Vec::new(),
            data: Vec::new(),
        }
    }

    /// DESTROY_SESSION: the 4-byte `rotation_state` header (0 = no rotation), no data.
    pub fn destroyed() -> Self {
        Self::ok_with_header(0i32.to_le_bytes().to_vec(), Vec::new())
    }
    /// DESTROY_SESSION after rotations: `rotation_state` 2 (completed) and
    /// the last archive as a serialized location: u8 type (1: local), a
    /// 13-byte union whose local member is the u32 path length (with NUL),
    /// then the path and its NUL.
    pub fn destroyed_with_archive(path: &str) -> Self {
        let mut data = vec![1u8];
        data.extend_from_slice(&(path.len() as u32 + 1).to_le_bytes());
        data.resize(1 + 13, 0);
        data.extend_from_slice(path.as_bytes());
        data.push(0);
        Self::ok_with_header(2i32.to_le_bytes().to_vec(), data)
    }
    /// DESTROY of a network session that rotated: the last archive at the
    /// relayd (`lttng_trace_archive_location` type 2: host, TCP, ports,
    /// path relative to the relayd's output).
    pub fn destroyed_with_relay_archive(a: &RelayArchive<'_>) -> Self {
        let mut data = vec![2u8];
        data.extend_from_slice(&(a.host.len() as u32 + 1).to_le_bytes());
        data.push(0);
        data.extend_from_slice(&a.control_port.to_le_bytes());
        data.extend_from_slice(&a.data_port.to_le_bytes());
        data.extend_from_slice(&(a.path.len() as u32 + 1).to_le_bytes());
        for s in [a.host.as_str(), a.path] {
            data.extend_from_slice(s.as_bytes());
            data.push(0);
        }
        Self::ok_with_header(2i32.to_le_bytes().to_vec(), data)
    }
    /// DATA_PENDING: exactly one byte.
    pub fn data_pending(pending: bool) -> Self {
        Self::ok(vec![pending.into()])
    }
    /// SESSION_LIST_ROTATION_SCHEDULES with no schedule: {u8 set, u64 value} for the
    /// periodic and the size schedule, 18 bytes (an empty reply crashes the 2.13 CLI).
    pub fn no_rotation_schedules() -> Self {
        Self::rotation_schedules(None, None)
    }
    /// SESSION_LIST_ROTATION_SCHEDULES: the periodic (µs), then the size
    /// (bytes) schedule, each packed {u8 set, u64 value}.
    pub fn rotation_schedules(timer_us: Option<u64>, size: Option<u64>) -> Self {
        let mut data = Vec::with_capacity(18);
        for v in [timer_us, size] {
            data.push(u8::from(v.is_some()));
            data.extend_from_slice(&v.unwrap_or(0).to_le_bytes());
        }
        Self::ok(data)
    }

    /// The bytes on the wire. `cmd` echoes the request's id and `pid` its `domain.attr.pid`.
    pub fn encode(&self, cmd: u32, pid: i32) -> Vec<u8> {
        let mut out =
            Vec::with_capacity(REPLY_HEADER_LEN + self.cmd_header.len() + self.data.len());
        for v in [
            cmd,
            self.code.as_u32(),
            pid as u32,
            self.cmd_header.len() as u32,
            self.data.len() as u32,
            0, // fd count
        ] {
            out.extend_from_slice(&v.to_le_bytes());
        }
        out.extend_from_slice(&self.cmd_header);
        out.extend_from_slice(&self.data);
        out
    }
}
