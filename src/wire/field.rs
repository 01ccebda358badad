//! Event and context field types as sent in notify messages
//! (`lttng_ust_ctl_field`, 920 bytes per flattened entry).
//!
//! The app flattens compound types in pre-order; the decoder rebuilds the
//! tree below. The TSDL generator consumes this tree.

use serde::Serialize;

use super::bytes::{Reader, Writer};
use super::error::{WireError, WireResult};

/// Size of one serialized field entry.
pub const FIELD_LEN: usize = 920;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Field {
    /// Empty for unnamed element/container entries.
    pub name: String,
    pub ty: FieldType,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum StringEncoding {
    None,
    Utf8,
    Ascii,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct IntegerType {
    pub size_bits: u32,
    pub signed: bool,
    pub reverse_byte_order: bool,
    pub base: u32,
    pub encoding: StringEncoding,
    pub alignment_bits: u16,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct FloatType {
    pub exp_dig: u32,
    pub mant_dig: u32,
    pub reverse_byte_order: bool,
    pub alignment_bits: u16,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum FieldType {
    Integer(IntegerType),
    Float(FloatType),
    String(StringEncoding),
    /// `enum_nestable` (and legacy enum): name, session enum id, container.
    Enum {
        name: String,
        id: u64,
        container: IntegerType,
    },
    /// `array_nestable`: element count, alignment in bytes (0 = none).
    Array {
        length: u32,
        alignment: u32,
        elem: Box<FieldType>,
    },
    /// `sequence_nestable`: length taken from an earlier field named `length_name`.
    Sequence {
        length_name: String,
        alignment: u32,
        elem: Box<FieldType>,
    },
    /// `struct_nestable`.
    Struct {
        alignment: u32,
        fields: Vec<Field>,
    },
    /// `variant_nestable` (and legacy variant): tag field name and choices.
    Variant {
        tag_name: String,
        alignment: u32,
        choices: Vec<Field>,
    },
}

/// One entry of a registered enum (`lttng_ust_ctl_enum_entry`, 336 bytes).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct EnumEntry {
    pub start: EnumValue,
    pub end: EnumValue,
    pub label: String,
    /// `options` bit 0: the entry was auto-assigned.
    pub is_auto: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub struct EnumValue {
    pub value: u64,
    pub signed: bool,
}

/// Size of one serialized enum entry.
pub const ENUM_ENTRY_LEN: usize = 336;

/// Deepest compound nesting the decoder follows. 2.13 providers nest at most
/// a few levels; the bound keeps hostile input from exhausting the stack.
pub const MAX_NESTING: usize = 32;

/// `lttng_ust_ctl_abstract_types` values.
pub mod atype {
    pub const INTEGER: i32 = 0;
    pub const ENUM: i32 = 1;
    pub const ARRAY: i32 = 2;
    pub const SEQUENCE: i32 = 3;
    pub const STRING: i32 = 4;
    pub const FLOAT: i32 = 5;
    pub const VARIANT: i32 = 6;
    pub const STRUCT: i32 = 7;
    pub const ENUM_NESTABLE: i32 = 8;
    pub const ARRAY_NESTABLE: i32 = 9;
    pub const SEQUENCE_NESTABLE: i32 = 10;
    pub const STRUCT_NESTABLE: i32 = 11;
    pub const VARIANT_NESTABLE: i32 = 12;
}

/// Offsets inside one 920-byte entry.
mod off {
    pub const NAME: usize = 0;
    pub const ATYPE: usize = 256;
    /// Start of the type union.
    pub const U: usize = 260;
    /// Second basic type of a legacy sequence (element) and length of a legacy array.
    pub const LEGACY_SECOND: usize = 576;
    /// Size of every name area (`LTTNG_UST_ABI_SYM_NAME_LEN`).
    pub const SYM_LEN: usize = 256;
}

impl StringEncoding {
    fn from_wire(v: i32) -> WireResult<Self> {
        match v {
            0 => Ok(Self::None),
            1 => Ok(Self::Utf8),
            2 => Ok(Self::Ascii),
            _ => Err(WireError::BadFields("unknown string encoding")),
        }
    }

    fn to_wire(self) -> i32 {
        match self {
            Self::None => 0,
            Self::Utf8 => 1,
            Self::Ascii => 2,
        }
    }
}

/// Integer layout: size, signedness, reverse_byte_order, base, encoding, alignment.
fn read_integer(r: &Reader, at: usize) -> WireResult<IntegerType> {
    let size_bits = r.u32(at);
    if !(1..=64).contains(&size_bits) {
        return Err(WireError::BadFields("integer size out of 1..=64 bits"));
    }
    let base = r.u32(at + 12);
    if ![2, 8, 10, 16].contains(&base) {
        return Err(WireError::BadFields("integer base not 2, 8, 10 or 16"));
    }
    Ok(IntegerType {
        size_bits,
        signed: r.u32(at + 4) != 0,
        reverse_byte_order: r.u32(at + 8) != 0,
        base,
        encoding: StringEncoding::from_wire(r.i32(at + 16))?,
        alignment_bits: r.u16(at + 20),
    })
}

fn write_integer(w: &mut Writer<FIELD_LEN>, at: usize, t: &IntegerType) {
    w.u32(at, t.size_bits)
        .u32(at + 4, t.signed as u32)
        .u32(at + 8, t.reverse_byte_order as u32)
        .u32(at + 12, t.base)
        .i32(at + 16, t.encoding.to_wire())
        .u16(at + 20, t.alignment_bits);
}

/// Float layout: exp_dig, mant_dig, reverse_byte_order, alignment.
fn read_float(r: &Reader, at: usize) -> WireResult<FloatType> {
    let (exp_dig, mant_dig) = (r.u32(at), r.u32(at + 4));
    // lttng-sessiond rejects mant_dig 0; CTF floats are at most 128 bits wide.
    if exp_dig == 0 || mant_dig == 0 || exp_dig.saturating_add(mant_dig) > 128 {
        return Err(WireError::BadFields(
            "float exponent/mantissa digits out of range",
        ));
    }
    Ok(FloatType {
        exp_dig,
        mant_dig,
        reverse_byte_order: r.u32(at + 8) != 0,
        alignment_bits: r.u16(at + 12),
    })
}

fn write_float(w: &mut Writer<FIELD_LEN>, at: usize, t: &FloatType) {
    w.u32(at, t.exp_dig)
        .u32(at + 4, t.mant_dig)
        .u32(at + 8, t.reverse_byte_order as u32)
        .u16(at + 12, t.alignment_bits);
}

/// A legacy basic type (atype + union) at `at`, as found inside legacy
/// arrays and sequences: only scalars and enums.
fn read_legacy_basic(r: &Reader, at: usize) -> WireResult<FieldType> {
    let u = at + 4;
    match r.i32(at) {
        atype::INTEGER => Ok(FieldType::Integer(read_integer(r, u)?)),
        atype::STRING => Ok(FieldType::String(StringEncoding::from_wire(r.i32(u))?)),
        atype::FLOAT => Ok(FieldType::Float(read_float(r, u)?)),
        // The legacy enum struct is not packed: its u64 id is 8-aligned (offset 304).
        atype::ENUM => Ok(FieldType::Enum {
            name: r.cstr(u, off::SYM_LEN, "legacy enum name")?,
            container: read_integer(r, u + off::SYM_LEN)?,
            id: r.u64(u + 304),
        }),
        a if (0..=atype::VARIANT_NESTABLE).contains(&a) => Err(WireError::BadFields(
            "compound type inside a legacy array or sequence",
        )),
        a => Err(WireError::BadAtype(a)),
    }
}

/// Walks the flattened entries in order.
struct Entries<'a> {
    chunks: std::slice::ChunksExact<'a, u8>,
}

impl<'a> Entries<'a> {
    fn remaining(&self) -> usize {
        self.chunks.len()
    }

    fn next(&mut self) -> WireResult<Reader<'a>> {
        let chunk = self.chunks.next().ok_or(WireError::BadFields(
            "compound type needs more entries than remain",
        ))?;
        Reader::new(chunk, FIELD_LEN, "field entry")
    }

    /// Checks a child count from the wire before looping on it.
    fn check_count(&self, n: u32) -> WireResult<usize> {
        let n = n as usize;
        if n > self.remaining() {
            return Err(WireError::BadFields(
                "child count exceeds the remaining entries",
            ));
        }
        Ok(n)
    }
}

/// Decodes a concatenation of 920-byte field entries into a field tree.
///
/// `max_fields` bounds the number of entries (not top-level fields).
pub fn decode_fields(buf: &[u8], max_fields: usize) -> WireResult<Vec<Field>> {
    if buf.len() % FIELD_LEN != 0 {
        return Err(WireError::Misaligned {
            what: "field list",
            len: buf.len(),
            unit: FIELD_LEN,
        });
    }
    let count = buf.len() / FIELD_LEN;
    if count > max_fields {
        return Err(WireError::TooLong {
            what: "field list (entries)",
            len: count,
            max: max_fields,
        });
    }
    let mut entries = Entries {
        chunks: buf.chunks_exact(FIELD_LEN),
    };
    let mut fields = Vec::new();
    while entries.remaining() > 0 {
        decode_member(&mut entries, 0, &mut fields)?;
    }
    Ok(fields)
}

/// Decodes one named member of a field list (top level or struct) into `out`.
/// A legacy sequence becomes two members: its length integer, then the
/// sequence referring to it, the form 2.13 apps emit.
fn decode_member(e: &mut Entries, depth: usize, out: &mut Vec<Field>) -> WireResult<()> {
    let r = e.next()?;
    let name = r.cstr(off::NAME, off::SYM_LEN, "field name")?;
    if r.i32(off::ATYPE) == atype::SEQUENCE {
        let length = match read_legacy_basic(&r, off::U)? {
            FieldType::Integer(t) => t,
            _ => {
                return Err(WireError::BadFields(
                    "legacy sequence length is not an integer",
                ))
            }
        };
        let elem = read_legacy_basic(&r, off::LEGACY_SECOND)?;
        let length_name = format!("_{name}_length");
        out.push(Field {
            name: length_name.clone(),
            ty: FieldType::Integer(length),
        });
        out.push(Field {
            name,
            ty: FieldType::Sequence {
                length_name,
                alignment: 0,
                elem: Box::new(elem),
            },
        });
        return Ok(());
    }
    let ty = decode_type(&r, e, depth)?;
    out.push(Field { name, ty });
    Ok(())
}

/// Decodes a single entry that must stand for exactly one field or type
/// (element, container, variant choice).
fn decode_single(e: &mut Entries, depth: usize) -> WireResult<Field> {
    let r = e.next()?;
    let name = r.cstr(off::NAME, off::SYM_LEN, "field name")?;
    if r.i32(off::ATYPE) == atype::SEQUENCE {
        return Err(WireError::BadFields("legacy sequence outside a field list"));
    }
    Ok(Field {
        name,
        ty: decode_type(&r, e, depth)?,
    })
}

/// Decodes the type of entry `r`, consuming its sub-entries from `e`.
fn decode_type(r: &Reader, e: &mut Entries, depth: usize) -> WireResult<FieldType> {
    if depth >= MAX_NESTING {
        return Err(WireError::BadFields("types nested too deeply"));
    }
    let u = off::U;
    let child = |e: &mut Entries| decode_single(e, depth + 1).map(|f| Box::new(f.ty));
    Ok(match r.i32(off::ATYPE) {
        atype::INTEGER => FieldType::Integer(read_integer(r, u)?),
        atype::STRING => FieldType::String(StringEncoding::from_wire(r.i32(u))?),
        atype::FLOAT => FieldType::Float(read_float(r, u)?),
        atype::ENUM => read_legacy_basic(r, off::ATYPE)?,
        atype::ARRAY => FieldType::Array {
            length: r.u32(off::LEGACY_SECOND),
            alignment: 0,
            elem: Box::new(read_legacy_basic(r, u)?),
        },
        atype::ENUM_NESTABLE => {
            let name = r.cstr(u, off::SYM_LEN, "enum name")?;
            let id = r.u64(u + off::SYM_LEN);
            match *child(e)? {
                FieldType::Integer(container) => FieldType::Enum {
                    name,
                    id,
                    container,
                },
                _ => return Err(WireError::BadFields("enum container is not an integer")),
            }
        }
        atype::ARRAY_NESTABLE => {
            let (length, alignment) = (r.u32(u), r.u32(u + 4));
            FieldType::Array {
                length,
                alignment,
                elem: child(e)?,
            }
        }
        atype::SEQUENCE_NESTABLE => {
            let length_name = r.cstr(u, off::SYM_LEN, "sequence length name")?;
            let alignment = r.u32(u + off::SYM_LEN);
            FieldType::Sequence {
                length_name,
                alignment,
                elem: child(e)?,
            }
        }
        atype::STRUCT | atype::STRUCT_NESTABLE => {
            let n = e.check_count(r.u32(u))?;
            let alignment = if r.i32(off::ATYPE) == atype::STRUCT {
                0
            } else {
                r.u32(u + 4)
            };
            let mut fields = Vec::with_capacity(n);
            for _ in 0..n {
                decode_member(e, depth + 1, &mut fields)?;
            }
            FieldType::Struct { alignment, fields }
        }
        // 2.13 writes dynamic-type variants as atype 6 with the nestable
        // layout; the legacy layout matches it except for the alignment,
        // which lttng-sessiond ignores for atype 6.
        atype::VARIANT | atype::VARIANT_NESTABLE => {
            let n = e.check_count(r.u32(u))?;
            let tag_name = r.cstr(u + 4, off::SYM_LEN, "variant tag name")?;
            let alignment = if r.i32(off::ATYPE) == atype::VARIANT {
                0
            } else {
                r.u32(u + 4 + off::SYM_LEN)
            };
            let mut choices = Vec::with_capacity(n);
            for _ in 0..n {
                choices.push(decode_single(e, depth + 1)?);
            }
            FieldType::Variant {
                tag_name,
                alignment,
                choices,
            }
        }
        a => return Err(WireError::BadAtype(a)),
    })
}

/// Flattens fields into 920-byte entries in pre-order, nestable forms only,
/// as a 2.13 app does.
pub fn encode_fields(fields: &[Field]) -> Vec<u8> {
    let mut out = Vec::new();
    for f in fields {
        encode_entry(&f.name, &f.ty, &mut out);
    }
    out
}

fn encode_entry(name: &str, ty: &FieldType, out: &mut Vec<u8>) {
    let mut w = Writer::<FIELD_LEN>::new();
    w.cstr(off::NAME, off::SYM_LEN, name);
    let u = off::U;
    let atype = match ty {
        FieldType::Integer(t) => {
            write_integer(&mut w, u, t);
            atype::INTEGER
        }
        FieldType::Float(t) => {
            write_float(&mut w, u, t);
            atype::FLOAT
        }
        FieldType::String(enc) => {
            w.i32(u, enc.to_wire());
            atype::STRING
        }
        FieldType::Enum { name, id, .. } => {
            w.cstr(u, off::SYM_LEN, name).u64(u + off::SYM_LEN, *id);
            atype::ENUM_NESTABLE
        }
        FieldType::Array {
            length, alignment, ..
        } => {
            w.u32(u, *length).u32(u + 4, *alignment);
            atype::ARRAY_NESTABLE
        }
        FieldType::Sequence {
            length_name,
            alignment,
            ..
        } => {
            w.cstr(u, off::SYM_LEN, length_name)
                .u32(u + off::SYM_LEN, *alignment);
            atype::SEQUENCE_NESTABLE
        }
        FieldType::Struct { alignment, fields } => {
            w.u32(u, len_u32(fields.len())).u32(u + 4, *alignment);
            atype::STRUCT_NESTABLE
        }
        FieldType::Variant {
            tag_name,
            alignment,
            choices,
        } => {
            w.u32(u, len_u32(choices.len()))
                .cstr(u + 4, off::SYM_LEN, tag_name)
                .u32(u + 4 + off::SYM_LEN, *alignment);
            atype::VARIANT_NESTABLE
        }
    };
    w.i32(off::ATYPE, atype);
    out.extend_from_slice(&w.buf);
    match ty {
        FieldType::Enum { container, .. } => {
            encode_entry("", &FieldType::Integer(container.clone()), out)
        }
        FieldType::Array { elem, .. } | FieldType::Sequence { elem, .. } => {
            encode_entry("", elem, out)
        }
        FieldType::Struct {
            fields: children, ..
        }
        | FieldType::Variant {
            choices: children, ..
        } => {
            for c in children {
                encode_entry(&c.name, &c.ty, out);
            }
        }
        FieldType::Integer(_) | FieldType::Float(_) | FieldType::String(_) => {}
    }
}

/// Child counts are u32 on the wire; in-memory trees come from decoded
/// (hence u32-bounded) input or from tests.
fn len_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// Decodes a concatenation of 336-byte enum entries.
pub fn decode_enum_entries(buf: &[u8]) -> WireResult<Vec<EnumEntry>> {
    if buf.len() % ENUM_ENTRY_LEN != 0 {
        return Err(WireError::Misaligned {
            what: "enum entries",
            len: buf.len(),
            unit: ENUM_ENTRY_LEN,
        });
    }
    buf.chunks_exact(ENUM_ENTRY_LEN)
        .map(|chunk| {
            let r = Reader::new(chunk, ENUM_ENTRY_LEN, "enum entry")?;
            Ok(EnumEntry {
                start: EnumValue {
                    value: r.u64(0),
                    signed: r.u8(8) != 0,
                },
                end: EnumValue {
                    value: r.u64(24),
                    signed: r.u8(32) != 0,
                },
                label: r.cstr(48, off::SYM_LEN, "enum entry label")?,
                is_auto: r.u32(304) & 1 != 0,
            })
        })
        .collect()
}

pub fn encode_enum_entries(entries: &[EnumEntry]) -> Vec<u8> {
    let mut out = Vec::with_capacity(entries.len() * ENUM_ENTRY_LEN);
    for e in entries {
        let mut w = Writer::<ENUM_ENTRY_LEN>::new();
        w.u64(0, e.start.value)
            .u8(8, e.start.signed as u8)
            .u64(24, e.end.value)
            .u8(32, e.end.signed as u8)
            .cstr(48, off::SYM_LEN, &e.label)
            .u32(304, e.is_auto as u32);
        out.extend_from_slice(&w.buf);
    }
    out
}
