//! Event and context field types as sent in notify messages
//! (`lttng_ust_ctl_field`, 920 bytes per flattened entry).
//!
//! The app flattens compound types in pre-order; the decoder rebuilds the
//! tree below. The TSDL generator consumes this tree.

use serde::Serialize;

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
