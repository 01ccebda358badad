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
    pub(super) const NAME: usize = 0;
    pub(super) const ATYPE: usize = 256;
    /// Start of the type union.
    pub(super) const U: usize = 260;
    /// Second basic type of a legacy sequence (element) and length of a legacy array.
    pub(super) const LEGACY_SECOND: usize = 576;
    /// Size of every name area (`LTTNG_UST_ABI_SYM_NAME_LEN`).
    pub(super) const SYM_LEN: usize = 256;
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

/// Builders shared by the codec's tests.
#[cfg(test)]
pub(crate) mod test_util {
    use super::*;

    pub(crate) fn int(size_bits: u32, signed: bool) -> IntegerType {
        IntegerType {
            size_bits,
            signed,
            reverse_byte_order: false,
            base: 10,
            encoding: StringEncoding::None,
            alignment_bits: 8,
        }
    }

    pub(crate) fn field(name: &str, ty: FieldType) -> Field {
        Field {
            name: name.into(),
            ty,
        }
    }

    /// A small deterministic generator (xorshift64*) for fuzz loops.
    pub(crate) struct Rng(pub(crate) u64);

    impl Rng {
        pub(crate) fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
        }
        pub(crate) fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }
    }
}

#[cfg(test)]
mod tests {
    use super::test_util::{field, int, Rng};
    use super::*;

    fn double() -> FieldType {
        FieldType::Float(FloatType {
            exp_dig: 11,
            mant_dig: 53,
            reverse_byte_order: false,
            alignment_bits: 8,
        })
    }

    fn color(container: IntegerType) -> FieldType {
        FieldType::Enum {
            name: "rich_color".into(),
            id: 7,
            container,
        }
    }

    /// Every type kind 2.13 can describe, including nested forms.
    fn every_kind() -> Vec<Field> {
        let hex = IntegerType {
            base: 16,
            ..int(64, false)
        };
        let net = IntegerType {
            reverse_byte_order: true,
            alignment_bits: 16,
            ..int(16, false)
        };
        let text = IntegerType {
            encoding: StringEncoding::Utf8,
            ..int(8, true)
        };
        let point = FieldType::Struct {
            alignment: 4,
            fields: vec![
                field("px", FieldType::Integer(int(32, true))),
                field("py", double()),
            ],
        };
        vec![
            field("i", FieldType::Integer(int(32, true))),
            field("x", FieldType::Integer(hex)),
            field("net", FieldType::Integer(net)),
            field("d", double()),
            field("s", FieldType::String(StringEncoding::Utf8)),
            field("a", FieldType::String(StringEncoding::Ascii)),
            field(
                "arr",
                FieldType::Array {
                    length: 4,
                    alignment: 0,
                    elem: Box::new(FieldType::Integer(int(8, false))),
                },
            ),
            field(
                "txt",
                FieldType::Array {
                    length: 2,
                    alignment: 0,
                    elem: Box::new(FieldType::Integer(text)),
                },
            ),
            field("_seq_length", FieldType::Integer(int(32, false))),
            field(
                "seq",
                FieldType::Sequence {
                    length_name: "_seq_length".into(),
                    alignment: 8,
                    elem: Box::new(FieldType::Integer(int(8, false))),
                },
            ),
            field("scol", color(int(32, true))),
            field("ucol", color(int(8, false))),
            field(
                "points",
                FieldType::Array {
                    length: 3,
                    alignment: 8,
                    elem: Box::new(point.clone()),
                },
            ),
            field(
                "grid",
                FieldType::Array {
                    length: 2,
                    alignment: 0,
                    elem: Box::new(FieldType::Array {
                        length: 3,
                        alignment: 0,
                        elem: Box::new(FieldType::Integer(int(16, true))),
                    }),
                },
            ),
            field("v_tag", color(int(8, false))),
            field(
                "v",
                FieldType::Variant {
                    tag_name: "v_tag".into(),
                    alignment: 8,
                    choices: vec![
                        field("RED", FieldType::Integer(int(32, true))),
                        field("GREENISH", FieldType::String(StringEncoding::Utf8)),
                        field("AUTO", point.clone()),
                    ],
                },
            ),
            field(
                "outer",
                FieldType::Struct {
                    alignment: 0,
                    fields: vec![
                        field("inner", point),
                        field(
                            "tags",
                            FieldType::Array {
                                length: 2,
                                alignment: 0,
                                elem: Box::new(color(int(16, true))),
                            },
                        ),
                    ],
                },
            ),
        ]
    }

    fn atypes(buf: &[u8]) -> Vec<i32> {
        buf.chunks(FIELD_LEN)
            .map(|e| i32::from_le_bytes(e[256..260].try_into().unwrap()))
            .collect()
    }

    #[test]
    fn round_trip_every_kind() {
        let fields = every_kind();
        let bytes = encode_fields(&fields);
        assert_eq!(decode_fields(&bytes, 1000).unwrap(), fields);
        // Re-encoding the decoded tree is byte-identical.
        assert_eq!(encode_fields(&decode_fields(&bytes, 1000).unwrap()), bytes);
    }

    #[test]
    fn flattening_is_pre_order() {
        use atype::*;
        let bytes = encode_fields(&every_kind());
        let want = [
            INTEGER,
            INTEGER,
            INTEGER,
            FLOAT,
            STRING,
            STRING, // scalars
            ARRAY_NESTABLE,
            INTEGER, // arr
            ARRAY_NESTABLE,
            INTEGER, // txt
            INTEGER,
            SEQUENCE_NESTABLE,
            INTEGER, // _seq_length, seq
            ENUM_NESTABLE,
            INTEGER,
            ENUM_NESTABLE,
            INTEGER, // scol, ucol
            ARRAY_NESTABLE,
            STRUCT_NESTABLE,
            INTEGER,
            FLOAT, // points
            ARRAY_NESTABLE,
            ARRAY_NESTABLE,
            INTEGER, // grid
            ENUM_NESTABLE,
            INTEGER, // v_tag
            VARIANT_NESTABLE,
            INTEGER,
            STRING,
            STRUCT_NESTABLE,
            INTEGER,
            FLOAT, // v
            STRUCT_NESTABLE,
            STRUCT_NESTABLE,
            INTEGER,
            FLOAT,
            ARRAY_NESTABLE,
            ENUM_NESTABLE,
            INTEGER, // outer
        ];
        assert_eq!(atypes(&bytes), want);
        // Element and container entries are unnamed.
        assert_eq!(bytes[7 * FIELD_LEN], 0);
        assert_eq!(&bytes[6 * FIELD_LEN..6 * FIELD_LEN + 4], b"arr\0");
    }

    /// Writes one raw 920-byte entry for the legacy-form tests.
    fn raw(name: &str, atype: i32, fill: impl FnOnce(&mut Writer<FIELD_LEN>)) -> Vec<u8> {
        let mut w = Writer::<FIELD_LEN>::new();
        w.cstr(0, 256, name).i32(256, atype);
        fill(&mut w);
        w.buf.to_vec()
    }

    fn legacy_int(w: &mut Writer<FIELD_LEN>, at: usize, t: &IntegerType) {
        w.i32(at, atype::INTEGER);
        write_integer(w, at + 4, t);
    }

    #[test]
    fn legacy_forms_map_onto_the_nestable_tree() {
        let u8t = int(8, false);
        let mut buf = Vec::new();
        // atype 1: name 260, container 516, id 564.
        buf.extend(raw("e", atype::ENUM, |w| {
            w.cstr(260, 256, "prov_e").u64(564, 3);
            write_integer(w, 516, &int(32, true));
        }));
        // atype 2: element basic type at 260, length at 576.
        buf.extend(raw("a", atype::ARRAY, |w| {
            legacy_int(w, 260, &u8t);
            w.u32(576, 5);
        }));
        // atype 3: length basic type at 260, element basic type at 576.
        buf.extend(raw("q", atype::SEQUENCE, |w| {
            legacy_int(w, 260, &int(32, false));
            w.i32(576, atype::STRING).i32(580, 1);
        }));
        // atype 7 with 2 fields, one of them an atype 6 variant with 1 choice.
        buf.extend(raw("st", atype::STRUCT, |w| {
            w.u32(260, 2);
        }));
        buf.extend(raw("f", atype::FLOAT, |w| {
            write_float(
                w,
                260,
                &FloatType {
                    exp_dig: 8,
                    mant_dig: 24,
                    reverse_byte_order: false,
                    alignment_bits: 8,
                },
            )
        }));
        buf.extend(raw("var", atype::VARIANT, |w| {
            w.u32(260, 1).cstr(264, 256, "var_tag");
        }));
        buf.extend(raw("none", atype::INTEGER, |w| write_integer(w, 260, &u8t)));

        let got = decode_fields(&buf, 100).unwrap();
        let want = vec![
            field(
                "e",
                FieldType::Enum {
                    name: "prov_e".into(),
                    id: 3,
                    container: int(32, true),
                },
            ),
            field(
                "a",
                FieldType::Array {
                    length: 5,
                    alignment: 0,
                    elem: Box::new(FieldType::Integer(u8t.clone())),
                },
            ),
            field("_q_length", FieldType::Integer(int(32, false))),
            field(
                "q",
                FieldType::Sequence {
                    length_name: "_q_length".into(),
                    alignment: 0,
                    elem: Box::new(FieldType::String(StringEncoding::Utf8)),
                },
            ),
            field(
                "st",
                FieldType::Struct {
                    alignment: 0,
                    fields: vec![
                        field(
                            "f",
                            FieldType::Float(FloatType {
                                exp_dig: 8,
                                mant_dig: 24,
                                reverse_byte_order: false,
                                alignment_bits: 8,
                            }),
                        ),
                        field(
                            "var",
                            FieldType::Variant {
                                tag_name: "var_tag".into(),
                                alignment: 0,
                                choices: vec![field("none", FieldType::Integer(u8t))],
                            },
                        ),
                    ],
                },
            ),
        ];
        assert_eq!(got, want);
    }

    fn one_int(name: &str) -> Vec<u8> {
        encode_fields(&[field(name, FieldType::Integer(int(32, true)))])
    }

    fn set_u32(buf: &mut [u8], at: usize, v: u32) {
        buf[at..at + 4].copy_from_slice(&v.to_le_bytes());
    }

    #[test]
    fn rejects_malformed_lists() {
        let good = one_int("i");
        assert!(matches!(
            decode_fields(&good[..919], 10),
            Err(WireError::Misaligned { .. })
        ));
        let two = [good.clone(), good.clone()].concat();
        assert!(matches!(
            decode_fields(&two, 1),
            Err(WireError::TooLong { .. })
        ));
        assert_eq!(decode_fields(&[], 0).unwrap(), vec![]);

        for bad_atype in [-1, 13, 99] {
            let mut b = good.clone();
            set_u32(&mut b, 256, bad_atype as u32);
            assert_eq!(decode_fields(&b, 10), Err(WireError::BadAtype(bad_atype)));
        }
        let mut b = good.clone();
        b[0..256].fill(b'n');
        assert_eq!(
            decode_fields(&b, 10),
            Err(WireError::Unterminated("field name"))
        );
        let mut b = good.clone();
        b[0] = 0xc3; // lone UTF-8 lead byte
        assert_eq!(decode_fields(&b, 10), Err(WireError::NotUtf8("field name")));

        // Bad scalar parameters.
        for (at, v) in [(260, 0), (260, 65), (272, 7), (276, 3)] {
            let mut b = good.clone();
            set_u32(&mut b, at, v);
            assert!(
                matches!(decode_fields(&b, 10), Err(WireError::BadFields(_))),
                "offset {at} value {v}"
            );
        }
        let float = |e, m| {
            encode_fields(&[field(
                "f",
                FieldType::Float(FloatType {
                    exp_dig: e,
                    mant_dig: m,
                    reverse_byte_order: false,
                    alignment_bits: 8,
                }),
            )])
        };
        assert!(decode_fields(&float(11, 53), 10).is_ok());
        for (e, m) in [(0, 24), (8, 0), (100, 100)] {
            assert!(matches!(
                decode_fields(&float(e, m), 10),
                Err(WireError::BadFields(_))
            ));
        }
    }

    #[test]
    fn rejects_inconsistent_compounds() {
        let elem = Box::new(FieldType::Integer(int(8, false)));
        let arr = encode_fields(&[field(
            "arr",
            FieldType::Array {
                length: 1,
                alignment: 0,
                elem,
            },
        )]);
        // The element entry is missing.
        assert!(matches!(
            decode_fields(&arr[..FIELD_LEN], 10),
            Err(WireError::BadFields(_))
        ));

        let st = FieldType::Struct {
            alignment: 0,
            fields: vec![field("a", FieldType::Integer(int(8, false)))],
        };
        let mut b = encode_fields(&[field("st", st)]);
        set_u32(&mut b, 260, 2); // claims 2 fields, 1 remains
        assert!(matches!(
            decode_fields(&b, 10),
            Err(WireError::BadFields(_))
        ));
        set_u32(&mut b, 260, u32::MAX);
        assert!(matches!(
            decode_fields(&b, 10),
            Err(WireError::BadFields(_))
        ));

        let var = FieldType::Variant {
            tag_name: "t".into(),
            alignment: 0,
            choices: vec![],
        };
        let mut b = encode_fields(&[field("v", var)]);
        b[264..520].fill(b't');
        assert_eq!(
            decode_fields(&b, 10),
            Err(WireError::Unterminated("variant tag name"))
        );

        // Enum container must be an integer.
        let mut b = encode_fields(&[field("c", color(int(32, true)))]);
        b[FIELD_LEN + 256] = atype::STRING as u8;
        assert!(matches!(
            decode_fields(&b, 10),
            Err(WireError::BadFields(_))
        ));
        let mut b = encode_fields(&[field("c", color(int(32, true)))]);
        b[260..516].fill(b'c');
        assert_eq!(
            decode_fields(&b, 10),
            Err(WireError::Unterminated("enum name"))
        );

        // A legacy array may not hold a compound; a legacy sequence may not be a variant choice.
        let b = raw("a", atype::ARRAY, |w| {
            w.i32(260, atype::STRUCT_NESTABLE);
        });
        assert!(matches!(
            decode_fields(&b, 10),
            Err(WireError::BadFields(_))
        ));
        let b = raw("a", atype::ARRAY, |w| {
            w.i32(260, 42);
        });
        assert_eq!(decode_fields(&b, 10), Err(WireError::BadAtype(42)));
        let mut b = raw("v", atype::VARIANT_NESTABLE, |w| {
            w.u32(260, 1);
        });
        b.extend(raw("q", atype::SEQUENCE, |w| {
            legacy_int(w, 260, &int(32, false))
        }));
        assert!(matches!(
            decode_fields(&b, 10),
            Err(WireError::BadFields(_))
        ));
    }

    #[test]
    fn nesting_depth_is_bounded() {
        // MAX_NESTING levels of arrays decode; one more is refused, and a
        // hostile chain of 100k arrays fails without overflowing the stack.
        let chain = |levels: usize| {
            let mut ty = FieldType::Integer(int(8, false));
            for _ in 0..levels {
                ty = FieldType::Array {
                    length: 1,
                    alignment: 0,
                    elem: Box::new(ty),
                };
            }
            encode_fields(&[field("deep", ty)])
        };
        assert!(decode_fields(&chain(MAX_NESTING - 1), 1000).is_ok());
        assert!(matches!(
            decode_fields(&chain(MAX_NESTING), 1000),
            Err(WireError::BadFields(_))
        ));
        let entry = raw("", atype::ARRAY_NESTABLE, |w| {
            w.u32(260, 1);
        });
        let hostile = entry.repeat(100_000);
        assert!(matches!(
            decode_fields(&hostile, 100_000),
            Err(WireError::BadFields(_))
        ));
    }

    #[test]
    fn random_entries_never_panic() {
        // Random bytes with plausible atypes and small counts reach every branch.
        let mut rng = Rng(0x5eed_f1e1d);
        let mut ok = 0;
        for _ in 0..3000 {
            let n = 1 + rng.below(8);
            let mut buf = vec![0u8; n * FIELD_LEN];
            for e in buf.chunks_mut(FIELD_LEN) {
                for b in e.iter_mut().take(300) {
                    *b = if rng.below(4) == 0 {
                        rng.next() as u8
                    } else {
                        0
                    };
                }
                e[0] = b'a' + rng.below(26) as u8;
                e[256..260].copy_from_slice(&(rng.below(14) as i32).to_le_bytes());
                let params: [u32; 4] = [rng.below(4) as u32, 8, 0, [2, 10, 16][rng.below(3)]];
                for (k, p) in params.iter().enumerate() {
                    if rng.below(2) == 0 {
                        e[260 + 4 * k..264 + 4 * k].copy_from_slice(&p.to_le_bytes());
                    }
                }
            }
            ok += decode_fields(&buf, 100).is_ok() as usize;
        }
        // The generator must reach the success paths too, not only errors.
        assert!(ok > 0);
    }

    #[test]
    fn enum_entries_round_trip_and_errors() {
        let entries = vec![
            EnumEntry {
                start: EnumValue {
                    value: (-3i64) as u64,
                    signed: true,
                },
                end: EnumValue {
                    value: 0,
                    signed: true,
                },
                label: "NEG".into(),
                is_auto: false,
            },
            EnumEntry {
                start: EnumValue {
                    value: u64::MAX,
                    signed: false,
                },
                end: EnumValue {
                    value: u64::MAX,
                    signed: false,
                },
                label: "AUTO".into(),
                is_auto: true,
            },
        ];
        let b = encode_enum_entries(&entries);
        assert_eq!(b.len(), 2 * ENUM_ENTRY_LEN);
        assert_eq!(decode_enum_entries(&b).unwrap(), entries);
        assert!(matches!(
            decode_enum_entries(&b[..400]),
            Err(WireError::Misaligned { .. })
        ));
        let mut bad = b.clone();
        bad[48..304].fill(b'L');
        assert_eq!(
            decode_enum_entries(&bad),
            Err(WireError::Unterminated("enum entry label"))
        );
    }
}
