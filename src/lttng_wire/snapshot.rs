//! Snapshot commands: `struct lttng_snapshot_output` (packed, 8459 bytes:
//! u32 id, u64 max_size, name[255], ctrl_url[4096], data_url[4096]) in the
//! request union (after a u32 `wait` for SNAPSHOT_RECORD), and the replies:
//! ADD_OUTPUT answers the new id (u32), LIST_OUTPUT the outputs as records.

use super::cursor::{fixed_str, Put};
use super::error::WireResult;
use super::header::{le_u64, NAME_MAX, PATH_MAX};

pub const SNAPSHOT_OUTPUT_LEN: usize = 4 + 8 + NAME_MAX + 2 * PATH_MAX;

/// `max_size` meaning "not given" (the CLI's default).
const UNSET: u64 = u64::MAX;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotOutput {
    /// 0 in requests that do not name an output by id.
    pub id: u32,
    /// None when not given (the CLI sends `u64::MAX`).
    pub max_size: Option<u64>,
    /// Empty: not given.
    pub name: String,
    /// A path or URL; empty: not given.
    pub ctrl_url: String,
    pub data_url: String,
}

impl SnapshotOutput {
    /// Decodes the record at the start of `b` (the request union).
    pub fn decode(b: &[u8]) -> WireResult<Self> {
        let id = u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
        let max = le_u64(b, 4);
        let mut at = 12;
        let mut field = |len: usize, what: &'static str| {
            let s = fixed_str(&b[at..at + len], what);
            at += len;
            s
        };
        Ok(SnapshotOutput {
            id,
            max_size: (max != UNSET).then_some(max),
            name: field(NAME_MAX, "snapshot output name")?,
            ctrl_url: field(PATH_MAX, "snapshot control URL")?,
            data_url: field(PATH_MAX, "snapshot data URL")?,
        })
    }

    pub fn encode(&self, out: &mut Vec<u8>) {
        out.put_u32(self.id);
        out.put_u64(self.max_size.unwrap_or(0));
        out.put_fixed(&self.name, NAME_MAX);
        out.put_fixed(&self.ctrl_url, PATH_MAX);
        out.put_fixed(&self.data_url, PATH_MAX);
    }
}

/// SNAPSHOT_LIST_OUTPUT's data: the records back to back.
pub fn encode_outputs(outputs: &[SnapshotOutput]) -> Vec<u8> {
    let mut out = Vec::with_capacity(outputs.len() * SNAPSHOT_OUTPUT_LEN);
    for o in outputs {
        o.encode(&mut out);
    }
    out
}

/// SNAPSHOT_ADD_OUTPUT's data: the id given to the output.
pub fn encode_output_id(id: u32) -> Vec<u8> {
    id.to_le_bytes().to_vec()
}
