//! The 808-byte entry (`lttng_ust_abi_field_iter`) an app sends after each
//! successful TRACEPOINT_FIELD_LIST_GET reply.

use super::bytes::{Reader, Writer};
use super::error::WireResult;

pub const FIELD_ITER_LEN: usize = 808;

/// Coarse field kinds of a field-list entry (`lttng_ust_abi_field_type`).
pub mod field_kind {
    pub const OTHER: i32 = 0;
    pub const INTEGER: i32 = 1;
    pub const ENUM: i32 = 2;
    pub const FLOAT: i32 = 3;
    pub const STRING: i32 = 4;
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct FieldIterEntry {
    pub event_name: String,
    pub field_name: String,
    /// One of [`field_kind`]; kept raw so newer kinds still list.
    pub ty: i32,
    pub loglevel: i32,
    pub nowrite: bool,
}

impl FieldIterEntry {
    pub fn decode(buf: &[u8]) -> WireResult<Self> {
        let r = Reader::new(buf, FIELD_ITER_LEN, "field list entry")?;
        Ok(Self {
            event_name: r.cstr(0, 256, "field list event name")?,
            field_name: r.cstr(256, 256, "field list field name")?,
            ty: r.i32(512),
            loglevel: r.i32(516),
            nowrite: r.i32(520) != 0,
        })
    }

    /// Encodes an entry as an app does (tests and the load generator).
    pub fn encode(&self) -> [u8; FIELD_ITER_LEN] {
        let mut w = Writer::<FIELD_ITER_LEN>::new();
        w.cstr(0, 256, &self.event_name)
            .cstr(256, 256, &self.field_name)
            .i32(512, self.ty)
            .i32(516, self.loglevel)
            .i32(520, self.nowrite as i32);
        w.buf
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::WireError;

    #[test]
    fn round_trip_and_errors() {
        let e = FieldIterEntry {
            event_name: "rich:all".into(),
            field_name: "hidden".into(),
            ty: field_kind::INTEGER,
            loglevel: 6,
            nowrite: true,
        };
        let b = e.encode();
        assert_eq!(FieldIterEntry::decode(&b).unwrap(), e);
        assert!(matches!(
            FieldIterEntry::decode(&b[..807]),
            Err(WireError::Truncated { .. })
        ));
        let mut bad = b;
        bad[256..512].fill(b'a');
        assert_eq!(
            FieldIterEntry::decode(&bad),
            Err(WireError::Unterminated("field list field name"))
        );
        let mut bad = b;
        bad[0] = 0xff;
        assert_eq!(
            FieldIterEntry::decode(&bad),
            Err(WireError::NotUtf8("field list event name"))
        );
    }
}
