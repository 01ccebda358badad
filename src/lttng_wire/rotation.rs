//! Rotation commands (lttng-sessiond 2.13.9, captures `rot_*`):
//! ROTATE_SESSION answers the rotation id (u64: the index of the chunk
//! closed); ROTATION_GET_INFO takes that id (u64 at the start of the
//! request union) and answers a 4,362-byte record: i32 state, u8 location
//! type (1: local), then the archive's absolute path, NUL-padded (the
//! room of the relay location, which is larger).

use super::cursor::Put;
use super::header::PATH_MAX;

/// `struct lttng_rotation_get_info_return` on the wire.
pub const ROTATION_INFO_LEN: usize = 4362;

/// lttng's rotation states as sent (captured: 1 while under way, 2 done).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(i32)]
pub enum RotationState {
    Ongoing = 1,
    Completed = 2,
}

const LOCATION_LOCAL: u8 = 1;
const LOCATION_RELAY: u8 = 2;
/// `LTTNG_HOST_NAME_MAX`.
const HOST_NAME_MAX: usize = 256;

/// An archive at a relayd, as lttng reports it.
#[derive(Debug, Clone)]
pub struct RelayArchive<'a> {
    pub host: String,
    pub control_port: u16,
    pub data_port: u16,
    /// Relative to the relayd's output directory.
    pub path: &'a str,
}

/// GET_INFO's record for a completed rotation of a network session: u8
/// type 2, host[256], u8 protocol (0: TCP), u16 control and data ports,
/// relative path[4096] (what fills the 4,362 bytes).
pub fn encode_rotation_info_relay(a: &RelayArchive<'_>) -> Vec<u8> {
    let mut out = Vec::with_capacity(ROTATION_INFO_LEN);
    out.put_i32(RotationState::Completed as i32);
    out.push(LOCATION_RELAY);
    out.put_fixed(&a.host, HOST_NAME_MAX);
    out.push(0);
    out.put_u16(a.control_port);
    out.put_u16(a.data_port);
    out.put_fixed(a.path, PATH_MAX);
    out.resize(ROTATION_INFO_LEN, 0);
    out
}

pub fn encode_rotation_id(id: u64) -> Vec<u8> {
    id.to_le_bytes().to_vec()
}

/// GET_INFO's record; `archive` only when completed.
pub fn encode_rotation_info(state: RotationState, archive: Option<&str>) -> Vec<u8> {
    let mut out = Vec::with_capacity(ROTATION_INFO_LEN);
    out.put_i32(state as i32);
    if let Some(path) = archive {
        out.push(LOCATION_LOCAL);
        out.put_fixed(path, PATH_MAX);
    }
    out.resize(ROTATION_INFO_LEN, 0);
    out
}
