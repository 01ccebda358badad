//! CTF 1.8 TSDL text, byte-compatible with what lttng-sessiond 2.13 writes
//! for the same registrations (tabs, blank lines, attribute order).
//!
//! Each function renders one whole top-level block into a fresh `String` so
//! that a failure leaves the registry's text untouched.

use std::fmt::Write as _;

use super::params::{format_uuid, BufferingScheme, ByteOrder, SessionParams};
use super::HeaderType;
use crate::wire::field::{EnumEntry, Field, FieldType, IntegerType, StringEncoding};

/// Deepest nesting of variants accepted (apps emit at most one level).
const MAX_DEPTH: usize = 32;

/// Why a field list cannot be turned into TSDL. The registration that
/// carried it is refused; nothing is appended.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TsdlError {
    #[error("field `{0}`: arrays and sequences may only hold integers")]
    NonIntegerElement(String),
    #[error("field `{0}`: only empty structures are supported")]
    NonEmptyStruct(String),
    #[error("field `{0}`: floating point type with zero mantissa digits")]
    ZeroMantissa(String),
    #[error("field `{field}`: enum `{name}` with id {id} is not registered")]
    UnknownEnum {
        field: String,
        name: String,
        id: u64,
    },
    #[error("name `{0}` contains characters that cannot appear in TSDL")]
    BadIdentifier(String),
    #[error("fields nested deeper than {MAX_DEPTH} levels")]
    TooDeep,
}

/// Looks up the entries of a registered enum by (name, id).
pub(super) trait EnumLookup {
    fn entries(&self, name: &str, id: u64) -> Option<&[EnumEntry]>;
}

/// The session statedump: everything before the first stream or event block.
pub(super) fn preamble(p: &SessionParams) -> String {
    let a = &p.abi;
    let mut s = String::with_capacity(3072);
    s.push_str("/* CTF 1.8 */\n\n");
    for (size, align, name) in [
        (8, a.uint8_align, "uint8_t"),
        (16, a.uint16_align, "uint16_t"),
        (32, a.uint32_align, "uint32_t"),
        (64, a.uint64_align, "uint64_t"),
        (a.bits_per_long, a.long_align, "unsigned long"),
        (5, 1, "uint5_t"),
        (27, 1, "uint27_t"),
    ] {
        let _ = writeln!(
            s,
            "typealias integer {{ size = {size}; align = {align}; signed = false; }} := {name};"
        );
    }
    let _ = write!(
        s,
        "\ntrace {{\n\tmajor = 1;\n\tminor = 8;\n\tuuid = \"{}\";\n\tbyte_order = {};\n\
         \tpacket.header := struct {{\n\t\tuint32_t magic;\n\t\tuint8_t  uuid[16];\n\
         \t\tuint32_t stream_id;\n\t\tuint64_t stream_instance_id;\n\t}};\n}};\n\n",
        format_uuid(&p.uuid),
        a.byte_order.tsdl(),
    );
    env_block(&mut s, p);
    clock_block(&mut s, p);
    clock_typealiases(&mut s, p);
    s.push_str(
        "struct packet_context {\n\
         \tuint64_clock_monotonic_t timestamp_begin;\n\
         \tuint64_clock_monotonic_t timestamp_end;\n\
         \tuint64_t content_size;\n\
         \tuint64_t packet_size;\n\
         \tuint64_t packet_seq_num;\n\
         \tunsigned long events_discarded;\n\
         \tuint32_t cpu_id;\n\
         };\n\n",
    );
    for (kind, id_type, max, ts, align) in [
        ("compact", "uint5_t", 31, "uint27", a.uint32_align),
        ("large", "uint16_t", 65535, "uint32", a.uint16_align),
    ] {
        let _ = write!(
            s,
            "struct event_header_{kind} {{\n\
             \tenum : {id_type} {{ compact = 0 ... {}, extended = {max} }} id;\n\
             \tvariant <id> {{\n\
             \t\tstruct {{\n\t\t\t{ts}_clock_monotonic_t timestamp;\n\t\t}} compact;\n\
             \t\tstruct {{\n\t\t\tuint32_t id;\n\t\t\tuint64_clock_monotonic_t timestamp;\n\t\t}} extended;\n\
             \t}} v;\n\
             }} align({align});\n\n",
            max - 1,
        );
    }
    s
}

fn env_block(s: &mut String, p: &SessionParams) {
    let (scheme, id) = match &p.scheme {
        BufferingScheme::PerUid { uid } => ("uid", *uid),
        // lttng prints the pid through `%u`.
        BufferingScheme::PerPid { pid, .. } => ("pid", *pid as u32),
    };
    let _ = write!(
        s,
        "env {{\n\tdomain = \"ust\";\n\ttracer_name = \"lttng-ust\";\n\
         \ttracer_major = {};\n\ttracer_minor = {};\n\
         \ttracer_buffering_scheme = \"{scheme}\";\n\ttracer_buffering_id = {id};\n\
         \tarchitecture_bit_width = {};\n\ttrace_name = \"{}\";\n\
         \ttrace_creation_datetime = \"{}\";\n\thostname = \"{}\";\n",
        p.tracer.major,
        p.tracer.minor,
        p.abi.bits_per_long,
        escape(&p.trace_name),
        escape(&p.creation_datetime),
        escape(&p.hostname),
    );
    if let BufferingScheme::PerPid {
        pid,
        procname,
        registration_datetime,
    } = &p.scheme
    {
        let _ = write!(
            s,
            "\ttracer_patchlevel = {};\n\tvpid = {pid};\n\tprocname = \"{}\";\n\tvpid_datetime = \"{}\";\n",
            p.tracer.patchlevel,
            escape(procname),
            escape(registration_datetime),
        );
    }
    s.push_str("};\n\n");
}

fn clock_block(s: &mut String, p: &SessionParams) {
    let c = &p.clock;
    let _ = writeln!(s, "clock {{\n\tname = \"{}\";", escape(&c.name));
    if let Some(uuid) = &c.uuid {
        let _ = writeln!(s, "\tuuid = \"{}\";", escape(uuid));
    }
    let _ = write!(
        s,
        "\tdescription = \"{}\";\n\tfreq = {}; /* Frequency, in Hz */\n\
         \t/* clock value offset from Epoch is: offset * (1/freq) */\n\
         \toffset = {};\n}};\n\n",
        escape(&c.description),
        c.freq,
        c.offset,
    );
}

fn clock_typealiases(s: &mut String, p: &SessionParams) {
    // The clock name becomes part of a TSDL path; keep it an identifier.
    let clock = sanitize(&p.clock.name);
    for (size, align) in [(27, 1), (32, p.abi.uint32_align), (64, p.abi.uint64_align)] {
        let _ = write!(
            s,
            "typealias integer {{\n\tsize = {size}; align = {align}; signed = false;\n\
             \tmap = clock.{clock}.value;\n}} := uint{size}_clock_monotonic_t;\n\n",
        );
    }
}

/// The `stream` block of a channel, with its context fields if any.
pub(super) fn stream_block(
    chan_id: u32,
    header: HeaderType,
    ctx_fields: &[Field],
    byte_order: ByteOrder,
    enums: &dyn EnumLookup,
) -> Result<String, TsdlError> {
    let header = match header {
        HeaderType::Compact => "struct event_header_compact",
        HeaderType::Large => "struct event_header_large",
    };
    let mut s = format!(
        "stream {{\n\tid = {chan_id};\n\tevent.header := {header};\n\tpacket.context := struct packet_context;\n"
    );
    if !ctx_fields.is_empty() {
        s.push_str("\tevent.context := struct {\n");
        Fields {
            out: &mut s,
            byte_order,
            enums,
        }
        .all(ctx_fields)?;
        s.push_str("\t};\n");
    }
    s.push_str("};\n\n");
    Ok(s)
}

/// What an `event` block is made of.
pub(super) struct EventBlock<'a> {
    pub name: &'a str,
    pub id: u32,
    pub chan_id: u32,
    pub loglevel: i32,
    pub model_emf_uri: Option<&'a str>,
    pub fields: &'a [Field],
}

pub(super) fn event_block(
    ev: &EventBlock<'_>,
    byte_order: ByteOrder,
    enums: &dyn EnumLookup,
) -> Result<String, TsdlError> {
    // lttng prints the name and URI raw; escaping changes nothing for valid
    // names and keeps a stray quote from breaking the whole trace.
    let mut s = format!(
        "event {{\n\tname = \"{}\";\n\tid = {};\n\tstream_id = {};\n\tloglevel = {};\n",
        escape(ev.name),
        ev.id,
        ev.chan_id,
        ev.loglevel,
    );
    if let Some(uri) = ev.model_emf_uri {
        let _ = writeln!(s, "\tmodel.emf.uri = \"{}\";", escape(uri));
    }
    s.push_str("\tfields := struct {\n");
    Fields {
        out: &mut s,
        byte_order,
        enums,
    }
    .all(ev.fields)?;
    s.push_str("\t};\n};\n\n");
    Ok(s)
}

/// Renders field declarations (event payload or stream context) at nesting 2.
struct Fields<'a> {
    out: &'a mut String,
    byte_order: ByteOrder,
    enums: &'a dyn EnumLookup,
}

impl Fields<'_> {
    fn all(&mut self, fields: &[Field]) -> Result<(), TsdlError> {
        fields.iter().try_for_each(|f| self.field(f, 2))
    }

    fn tabs(&mut self, nesting: usize) {
        self.out.extend(std::iter::repeat('\t').take(nesting));
    }

    fn field(&mut self, field: &Field, nesting: usize) -> Result<(), TsdlError> {
        if nesting > MAX_DEPTH {
            return Err(TsdlError::TooDeep);
        }
        let name = identifier(&field.name)?;
        match &field.ty {
            FieldType::Integer(t) => {
                self.tabs(nesting);
                let _ = writeln!(self.out, "{} _{name};", self.integer(t));
            }
            FieldType::Float(t) => {
                if t.mant_dig == 0 {
                    return Err(TsdlError::ZeroMantissa(field.name.clone()));
                }
                self.tabs(nesting);
                let _ = writeln!(
                    self.out,
                    "floating_point {{ exp_dig = {}; mant_dig = {}; align = {};{} }} _{name};",
                    t.exp_dig,
                    t.mant_dig,
                    t.alignment_bits,
                    self.order(t.reverse_byte_order),
                );
            }
            FieldType::String(enc) => {
                self.tabs(nesting);
                let attr = if *enc == StringEncoding::Ascii {
                    " { encoding = ASCII; }"
                } else {
                    ""
                };
                let _ = writeln!(self.out, "string{attr} _{name};");
            }
            FieldType::Enum {
                name: enum_name,
                id,
                container,
            } => {
                let entries =
                    self.enums
                        .entries(enum_name, *id)
                        .ok_or_else(|| TsdlError::UnknownEnum {
                            field: field.name.clone(),
                            name: enum_name.clone(),
                            id: *id,
                        })?;
                self.enumeration(container, entries, &name, nesting);
            }
            FieldType::Array {
                length,
                alignment,
                elem,
            } => {
                let elem = integer_element(field, elem)?;
                self.padding(*alignment, &name, nesting);
                self.tabs(nesting);
                let _ = writeln!(self.out, "{} _{name}[{length}];", self.integer(elem));
            }
            FieldType::Sequence {
                length_name,
                alignment,
                elem,
            } => {
                let elem = integer_element(field, elem)?;
                let length_name = identifier(length_name)?;
                self.padding(*alignment, &name, nesting);
                self.tabs(nesting);
                let _ = writeln!(
                    self.out,
                    "{} _{name}[ _{length_name} ];",
                    self.integer(elem)
                );
            }
            FieldType::Struct { alignment, fields } => {
                if !fields.is_empty() {
                    return Err(TsdlError::NonEmptyStruct(field.name.clone()));
                }
                self.tabs(nesting);
                if *alignment != 0 {
                    let _ = writeln!(self.out, "struct {{}} align({}) _{name};", bits(*alignment));
                } else {
                    let _ = writeln!(self.out, "struct {{}} _{name};");
                }
            }
            FieldType::Variant {
                tag_name,
                alignment,
                choices,
            } => {
                let tag = identifier(tag_name)?;
                self.padding(*alignment, &name, nesting);
                self.tabs(nesting);
                let _ = writeln!(self.out, "variant <_{tag}> {{");
                for choice in choices {
                    self.field(choice, nesting + 1)?;
                }
                self.tabs(nesting);
                let _ = writeln!(self.out, "}} _{name};");
            }
        }
        Ok(())
    }

    fn enumeration(
        &mut self,
        container: &IntegerType,
        entries: &[EnumEntry],
        name: &str,
        nesting: usize,
    ) {
        // The container line carries no byte order attribute in lttng's text.
        self.tabs(nesting);
        let _ = writeln!(
            self.out,
            "enum : integer {{ size = {}; align = {}; signed = {}; encoding = {}; base = {}; }} {{",
            container.size_bits,
            container.alignment_bits,
            u8::from(container.signed),
            encoding(container.encoding),
            container.base,
        );
        for e in entries {
            self.tabs(nesting + 1);
            // lttng escapes only backslash and quote in labels; escaping a
            // newline too keeps such a label valid TSDL.
            let _ = write!(self.out, "\"{}\"", escape(&e.label));
            if e.is_auto {
                self.out.push_str(",\n");
                continue;
            }
            let _ = write!(self.out, " = {}", enum_value(e.start.value, e.start.signed));
            if e.start == e.end {
                self.out.push_str(",\n");
            } else {
                let _ = writeln!(self.out, " ... {},", enum_value(e.end.value, e.end.signed));
            }
        }
        self.tabs(nesting);
        let _ = writeln!(self.out, "}} _{name};");
    }

    /// The empty aligned struct lttng puts before an aligned compound field.
    fn padding(&mut self, alignment: u32, name: &str, nesting: usize) {
        if alignment != 0 {
            self.tabs(nesting);
            let _ = writeln!(
                self.out,
                "struct {{ }} align({}) _{name}_padding;",
                bits(alignment)
            );
        }
    }

    fn integer(&self, t: &IntegerType) -> String {
        format!(
            "integer {{ size = {}; align = {}; signed = {}; encoding = {}; base = {};{} }}",
            t.size_bits,
            t.alignment_bits,
            u8::from(t.signed),
            encoding(t.encoding),
            t.base,
            self.order(t.reverse_byte_order),
        )
    }

    fn order(&self, reverse: bool) -> &'static str {
        if reverse {
            self.byte_order.reverse_attribute()
        } else {
            ""
        }
    }
}

fn integer_element<'a>(field: &Field, elem: &'a FieldType) -> Result<&'a IntegerType, TsdlError> {
    match elem {
        FieldType::Integer(t) => Ok(t),
        _ => Err(TsdlError::NonIntegerElement(field.name.clone())),
    }
}

fn encoding(e: StringEncoding) -> &'static str {
    match e {
        StringEncoding::None => "none",
        StringEncoding::Utf8 => "UTF8",
        StringEncoding::Ascii => "ASCII",
    }
}

/// Byte alignments of compound types become bit alignments in TSDL.
fn bits(alignment_bytes: u32) -> u64 {
    u64::from(alignment_bytes) * 8
}

fn enum_value(value: u64, signed: bool) -> String {
    if signed {
        (value as i64).to_string()
    } else {
        value.to_string()
    }
}

/// A field name as a TSDL identifier suffix. lttng replaces `.`, `$` and
/// `:` (app-context names) for enums and variants only; doing it everywhere
/// gives the same text for every name lttng renders validly. Anything else
/// outside `[A-Za-z0-9_]` would break the syntax for every reader of the
/// trace, so it is refused.
fn identifier(name: &str) -> Result<String, TsdlError> {
    if !name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'$' | b':'))
    {
        return Err(TsdlError::BadIdentifier(name.to_owned()));
    }
    Ok(sanitize(name))
}

fn sanitize(name: &str) -> String {
    name.chars()
        .map(|c| if matches!(c, '.' | '$' | ':') { '_' } else { c })
        .collect()
}

/// Escaping for quoted env/name strings: backslash, quote and newline.
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\\' | '"' => {
                out.push('\\');
                out.push(c);
            }
            _ => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::field::EnumValue;

    struct NoEnums;
    impl EnumLookup for NoEnums {
        fn entries(&self, _: &str, _: u64) -> Option<&[EnumEntry]> {
            None
        }
    }

    struct OneEnum(Vec<EnumEntry>);
    impl EnumLookup for OneEnum {
        fn entries(&self, name: &str, id: u64) -> Option<&[EnumEntry]> {
            (name == "p_e" && id == 7).then_some(&self.0[..])
        }
    }

    use crate::wire::field::test_util::int;

    fn f(name: &str, ty: FieldType) -> Field {
        Field {
            name: name.into(),
            ty,
        }
    }

    fn render(fields: &[Field], enums: &dyn EnumLookup) -> Result<String, TsdlError> {
        let mut s = String::new();
        Fields {
            out: &mut s,
            byte_order: ByteOrder::Little,
            enums,
        }
        .all(fields)?;
        Ok(s)
    }

    #[test]
    fn aligned_compounds_get_padding() {
        let elem = Box::new(FieldType::Integer(int(16, false)));
        let s = render(
            &[
                f(
                    "a",
                    FieldType::Array {
                        length: 3,
                        alignment: 4,
                        elem: elem.clone(),
                    },
                ),
                f(
                    "s",
                    FieldType::Sequence {
                        length_name: "_s_length".into(),
                        alignment: 2,
                        elem,
                    },
                ),
                f(
                    "st",
                    FieldType::Struct {
                        alignment: 8,
                        fields: vec![],
                    },
                ),
                f(
                    "e",
                    FieldType::Struct {
                        alignment: 0,
                        fields: vec![],
                    },
                ),
            ],
            &NoEnums,
        )
        .unwrap();
        let int16 = "integer { size = 16; align = 8; signed = 0; encoding = none; base = 10; }";
        assert_eq!(
            s,
            format!(
                "\t\tstruct {{ }} align(32) _a_padding;\n\t\t{int16} _a[3];\n\
                 \t\tstruct {{ }} align(16) _s_padding;\n\t\t{int16} _s[ __s_length ];\n\
                 \t\tstruct {{}} align(64) _st;\n\t\tstruct {{}} _e;\n"
            )
        );
    }

    #[test]
    fn variant_with_tag_and_sanitized_names() {
        let s = render(
            &[f(
                "$app.p:v",
                FieldType::Variant {
                    tag_name: "$app.p:v_tag".into(),
                    alignment: 0,
                    choices: vec![
                        f(
                            "none",
                            FieldType::Struct {
                                alignment: 0,
                                fields: vec![],
                            },
                        ),
                        f("s", FieldType::String(StringEncoding::Ascii)),
                        f(
                            "d",
                            FieldType::Float(crate::wire::field::FloatType {
                                exp_dig: 11,
                                mant_dig: 53,
                                reverse_byte_order: true,
                                alignment_bits: 8,
                            }),
                        ),
                    ],
                },
            )],
            &NoEnums,
        )
        .unwrap();
        assert_eq!(
            s,
            "\t\tvariant <__app_p_v_tag> {\n\t\t\tstruct {} _none;\n\
             \t\t\tstring { encoding = ASCII; } _s;\n\
             \t\t\tfloating_point { exp_dig = 11; mant_dig = 53; align = 8; byte_order = be; } _d;\n\
             \t\t} __app_p_v;\n"
        );
    }

    #[test]
    fn enum_entries_and_bad_enums() {
        let v = |value: u64, signed| EnumValue { value, signed };
        let e = |label: &str, start, end, is_auto| EnumEntry {
            label: label.into(),
            start,
            end,
            is_auto,
        };
        let enums = OneEnum(vec![
            e("A", v(0, false), v(0, false), false),
            e("N", v(-3i64 as u64, true), v(-3i64 as u64, true), false),
            e("R", v(1, true), v(5, false), false),
            e("Q\"\\", v(9, false), v(9, true), false),
            e("X", v(u64::MAX, false), v(u64::MAX, false), true),
        ]);
        let field = |id| {
            f(
                "c",
                FieldType::Enum {
                    name: "p_e".into(),
                    id,
                    container: int(8, true),
                },
            )
        };
        let s = render(&[field(7)], &enums).unwrap();
        assert_eq!(
            s,
            "\t\tenum : integer { size = 8; align = 8; signed = 1; encoding = none; base = 10; } {\n\
             \t\t\t\"A\" = 0,\n\t\t\t\"N\" = -3,\n\t\t\t\"R\" = 1 ... 5,\n\
             \t\t\t\"Q\\\"\\\\\" = 9 ... 9,\n\t\t\t\"X\",\n\t\t} _c;\n"
        );
        assert!(matches!(
            render(&[field(8)], &enums),
            Err(TsdlError::UnknownEnum { id: 8, .. })
        ));
    }

    #[test]
    fn refuses_what_lttng_refuses_or_cannot_print() {
        let string = Box::new(FieldType::String(StringEncoding::Utf8));
        let cases = [
            (
                f(
                    "a",
                    FieldType::Array {
                        length: 1,
                        alignment: 0,
                        elem: string,
                    },
                ),
                "NonIntegerElement",
            ),
            (
                f(
                    "s",
                    FieldType::Struct {
                        alignment: 0,
                        fields: vec![f("x", FieldType::Integer(int(8, false)))],
                    },
                ),
                "NonEmptyStruct",
            ),
            (
                f(
                    "fl",
                    FieldType::Float(crate::wire::field::FloatType {
                        exp_dig: 8,
                        mant_dig: 0,
                        reverse_byte_order: false,
                        alignment_bits: 8,
                    }),
                ),
                "ZeroMantissa",
            ),
            (f("a;b", FieldType::Integer(int(8, false))), "BadIdentifier"),
            (
                f("a\n}", FieldType::Integer(int(8, false))),
                "BadIdentifier",
            ),
        ];
        for (field, want) in cases {
            let err = render(&[field], &NoEnums).unwrap_err();
            assert!(
                format!("{err:?}").starts_with(want),
                "{err:?} is not {want}"
            );
        }
        let mut deep = f("leaf", FieldType::Integer(int(8, false)));
        for _ in 0..40 {
            deep = f(
                "v",
                FieldType::Variant {
                    tag_name: "t".into(),
                    alignment: 0,
                    choices: vec![deep],
                },
            );
        }
        assert_eq!(render(&[deep], &NoEnums), Err(TsdlError::TooDeep));
    }

    #[test]
    fn stream_without_context_and_compact_header() {
        let s = stream_block(3, HeaderType::Compact, &[], ByteOrder::Big, &NoEnums).unwrap();
        assert_eq!(
            s,
            "stream {\n\tid = 3;\n\tevent.header := struct event_header_compact;\n\
             \tpacket.context := struct packet_context;\n};\n\n"
        );
    }

    #[test]
    fn big_endian_trace_marks_little_endian_fields() {
        let mut t = int(32, false);
        t.reverse_byte_order = true;
        let mut s = String::new();
        Fields {
            out: &mut s,
            byte_order: ByteOrder::Big,
            enums: &NoEnums,
        }
        .all(&[f("x", FieldType::Integer(t))])
        .unwrap();
        assert!(s.contains("base = 10; byte_order = le; } _x;"), "{s}");
    }

    #[test]
    fn quoted_strings_are_escaped() {
        let ev = EventBlock {
            name: "p:\"e\"",
            id: 1,
            chan_id: 2,
            loglevel: -1,
            model_emf_uri: Some("http://x/\\"),
            fields: &[],
        };
        let s = event_block(&ev, ByteOrder::Little, &NoEnums).unwrap();
        assert_eq!(
            s,
            "event {\n\tname = \"p:\\\"e\\\"\";\n\tid = 1;\n\tstream_id = 2;\n\tloglevel = -1;\n\
             \tmodel.emf.uri = \"http://x/\\\\\";\n\tfields := struct {\n\t};\n};\n\n"
        );
    }
}
