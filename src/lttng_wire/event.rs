//! Event rules (`lttng_event_comm`, packed 43 bytes, then name, exclusions,
//! filter expression, bytecode) and tracepoint fields (`lttng_event_field_comm`).

use super::cursor::{clen, Cursor, Put};
use super::error::{WireError, WireResult};
use super::header::{FILTER_MAX_LEN, SYMBOL_NAME_LEN};

pub const EVENT_COMM_LEN: usize = 43;
/// `struct lttng_bytecode` header before the instructions.
pub const BYTECODE_HEADER_LEN: usize = 48;

/// `enum lttng_loglevel_type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoglevelType {
    All,
    Range,
    Single,
}

/// Filter bytecode as liblttng-ctl compiled it: the app gets `data`
/// (instructions, then the relocation table at `reloc_offset`) unchanged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bytecode {
    pub reloc_offset: u32,
    pub seqnum: u64,
    pub data: Vec<u8>,
}

/// A filter: the expression (kept for listing and saving) and its bytecode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Filter {
    pub expression: String,
    /// `None` only in list replies, which never carry bytecode.
    pub bytecode: Option<Bytecode>,
}

/// An event rule as ENABLE_EVENT / DISABLE_EVENT carry it, and LIST_EVENTS /
/// LIST_TRACEPOINTS answer it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventRule {
    /// ALL -1, TRACEPOINT 0, ... (`enum lttng_event_type`).
    pub event_type: i8,
    pub loglevel_type: LoglevelType,
    pub loglevel: i32,
    /// -1 in tracepoint listings ("not applicable").
    pub enabled: i8,
    pub pid: i32,
    pub flags: u32,
    pub name: String,
    pub exclusions: Vec<String>,
    pub filter: Option<Filter>,
}

impl EventRule {
    /// Exactly one record, as ENABLE_EVENT / DISABLE_EVENT carry it.
    pub fn decode(buf: &[u8]) -> WireResult<Self> {
        let mut c = Cursor::new(buf);
        let e = Self::read(&mut c)?;
        c.finish()?;
        Ok(e)
    }

    pub(crate) fn read(c: &mut Cursor<'_>) -> WireResult<Self> {
        let event_type = c.i8("event type")?;
        let loglevel_type = match c.i8("loglevel type")? {
            0 => LoglevelType::All,
            1 => LoglevelType::Range,
            2 => LoglevelType::Single,
            v => {
                return Err(WireError::Invalid {
                    what: "loglevel type",
                    value: v.into(),
                })
            }
        };
        let loglevel = c.i32("event")?;
        let enabled = c.i8("event")?;
        let pid = c.i32("event")?;
        let flags = c.u32("event")?;
        let name_len = c.u32("event")?;
        let exclusion_count = c.u32("event")?;
        let filter_len = c.u32("event")?;
        let bytecode_len = c.u32("event")?;
        let uprobe_len = c.u32("event")?;
        let probe_len = c.u32("event")?;
        let function_len = c.u32("event")?;
        if uprobe_len != 0 || probe_len != 0 || function_len != 0 {
            // Kernel probes and uprobes: never valid in the UST domain.
            return Err(WireError::Invalid {
                what: "probe attributes on a user space event",
                value: 1,
            });
        }
        let name = c
            .lstr(name_len, SYMBOL_NAME_LEN as u32, "event name")?
            .ok_or(WireError::Invalid {
                what: "event name length",
                value: 0,
            })?;
        // Each exclusion costs at least 5 bytes, so the count is bounded by what is left.
        if exclusion_count as usize > c.remaining() / 5 {
            return Err(WireError::TooLong {
                what: "exclusion count",
                len: exclusion_count.into(),
                max: (c.remaining() / 5) as u64,
            });
        }
        let mut exclusions = Vec::with_capacity(exclusion_count as usize);
        for _ in 0..exclusion_count {
            let len = c.u32("exclusion length")?;
            let ex =
                c.lstr(len, SYMBOL_NAME_LEN as u32, "exclusion")?
                    .ok_or(WireError::Invalid {
                        what: "exclusion length",
                        value: 0,
                    })?;
            exclusions.push(ex);
        }
        let expression = c.lstr(filter_len, FILTER_MAX_LEN as u32, "filter expression")?;
        let bytecode = match bytecode_len {
            0 => None,
            n => Some(decode_bytecode(c.bytes(n as usize, "filter bytecode")?)?),
        };
        let filter = match (expression, bytecode) {
            (None, None) => None,
            (Some(expression), bytecode) => Some(Filter {
                expression,
                bytecode,
            }),
            (None, Some(_)) => {
                return Err(WireError::Invalid {
                    what: "bytecode without a filter expression",
                    value: 0,
                })
            }
        };
        Ok(Self {
            event_type,
            loglevel_type,
            loglevel,
            enabled,
            pid,
            flags,
            name,
            exclusions,
            filter,
        })
    }

    /// The list form: no bytecode.
    pub fn encode(&self, out: &mut Vec<u8>) {
        let expr = self.filter.as_ref().map(|f| f.expression.as_str());
        out.put_u8(self.event_type as u8);
        out.put_u8(match self.loglevel_type {
            LoglevelType::All => 0,
            LoglevelType::Range => 1,
            LoglevelType::Single => 2,
        });
        out.put_i32(self.loglevel);
        out.put_u8(self.enabled as u8);
        out.put_i32(self.pid);
        out.put_u32(self.flags);
        out.put_u32(clen(&self.name));
        out.put_u32(self.exclusions.len() as u32);
        out.put_u32(expr.map_or(0, clen));
        out.put_u32(0); // bytecode
        out.put_u32(0); // uprobe location
        out.put_u32(0); // probe attr
        out.put_u32(0); // function attr
        out.put_cstr(&self.name);
        for ex in &self.exclusions {
            out.put_u32(clen(ex));
            out.put_cstr(ex);
        }
        if let Some(e) = expr {
            out.put_cstr(e);
        }
    }
}

/// Decodes a LIST_EVENTS / LIST_TRACEPOINTS reply (what liblttng-ctl does with ours).
pub fn decode_events(cmd_header: &[u8], data: &[u8]) -> WireResult<Vec<EventRule>> {
    let count = super::cursor::list_count(cmd_header)?;
    let mut c = Cursor::new(data);
    let out = (0..count)
        .map(|_| EventRule::read(&mut c))
        .collect::<WireResult<Vec<_>>>()?;
    c.finish()?;
    Ok(out)
}

fn decode_bytecode(rec: &[u8]) -> WireResult<Bytecode> {
    if rec.len() > BYTECODE_HEADER_LEN + FILTER_MAX_LEN {
        return Err(WireError::TooLong {
            what: "filter bytecode",
            len: rec.len() as u64,
            max: (BYTECODE_HEADER_LEN + FILTER_MAX_LEN) as u64,
        });
    }
    let mut c = Cursor::new(rec);
    let len = c.u32("bytecode header")?;
    let reloc_offset = c.u32("bytecode header")?;
    let seqnum = c.u64("bytecode header")?;
    c.bytes(32, "bytecode header")?;
    if len as usize != c.remaining() {
        return Err(WireError::BytecodeMismatch {
            record: rec.len(),
            declared: len,
        });
    }
    if reloc_offset > len {
        return Err(WireError::Invalid {
            what: "bytecode relocation offset",
            value: reloc_offset.into(),
        });
    }
    Ok(Bytecode {
        reloc_offset,
        seqnum,
        data: c.bytes(len as usize, "bytecode")?.to_vec(),
    })
}

/// LIST_EVENTS / LIST_TRACEPOINTS: the 4-byte count and the entries.
pub fn encode_events(events: &[EventRule]) -> (Vec<u8>, Vec<u8>) {
    let mut data = Vec::new();
    for e in events {
        e.encode(&mut data);
    }
    ((events.len() as u32).to_le_bytes().to_vec(), data)
}

/// `enum lttng_event_field_type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldType {
    Other = 0,
    Integer = 1,
    Enum = 2,
    Float = 3,
    String = 4,
}

/// One LIST_TRACEPOINT_FIELDS entry: a field and the tracepoint it belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventField {
    pub name: String,
    pub kind: FieldType,
    pub nowrite: bool,
    pub event: EventRule,
}

impl EventField {
    pub(crate) fn read(c: &mut Cursor<'_>) -> WireResult<Self> {
        let kind = match c.u8("field type")? {
            0 => FieldType::Other,
            1 => FieldType::Integer,
            2 => FieldType::Enum,
            3 => FieldType::Float,
            4 => FieldType::String,
            v => {
                return Err(WireError::Invalid {
                    what: "field type",
                    value: v.into(),
                })
            }
        };
        let nowrite = c.u8("field")? != 0;
        let name_len = c.u32("field")?;
        let event_len = c.u32("field")?;
        let name = c
            .lstr(name_len, SYMBOL_NAME_LEN as u32, "field name")?
            .unwrap_or_default();
        let event = EventRule::decode(c.bytes(event_len as usize, "field event")?)?;
        Ok(Self {
            name,
            kind,
            nowrite,
            event,
        })
    }
}

/// Decodes a LIST_TRACEPOINT_FIELDS reply.
pub fn decode_fields(cmd_header: &[u8], data: &[u8]) -> WireResult<Vec<EventField>> {
    let count = super::cursor::list_count(cmd_header)?;
    let mut c = Cursor::new(data);
    let out = (0..count)
        .map(|_| EventField::read(&mut c))
        .collect::<WireResult<Vec<_>>>()?;
    c.finish()?;
    Ok(out)
}

/// `lttng_event_field_comm` {u8 type, u8 nowrite, u32 name_len, u32 event_len}, name, serialized event.
pub fn encode_fields(fields: &[EventField]) -> (Vec<u8>, Vec<u8>) {
    let mut data = Vec::new();
    let mut ev = Vec::new();
    for f in fields {
        ev.clear();
        f.event.encode(&mut ev);
        data.put_u8(f.kind as u8);
        data.put_u8(f.nowrite.into());
        data.put_u32(clen(&f.name));
        data.put_u32(ev.len() as u32);
        data.put_cstr(&f.name);
        data.extend_from_slice(&ev);
    }
    ((fields.len() as u32).to_le_bytes().to_vec(), data)
}
