//! Decodes bytes captured from a real LTTng-UST 2.13.5 app talking to a real
//! lttng-sessiond 2.13.9 (see `tests/data/README.md`), and fuzzes the notify
//! decoder with mutations of them.

use super::cmd::{op, CmdMsg, Reply, ROOT_HANDLE};
use super::error::WireError;
use super::field::test_util::{int, Rng};
use super::field::{
    encode_fields, EnumEntry, EnumValue, Field, FieldType, FloatType, IntegerType, StringEncoding,
};
use super::list::{field_kind, FieldIterEntry, FIELD_ITER_LEN};
use super::notify::*;
use super::reg::{RegMsg, SocketType};

const REG_CMD: &[u8] = include_bytes!("../../tests/data/reg_cmd.bin");
const REG_NOTIFY: &[u8] = include_bytes!("../../tests/data/reg_notify.bin");
const TRACER_VERSION_REPLY: &[u8] = include_bytes!("../../tests/data/tracer_version_reply.bin");
const FIELD_LIST: &[u8] = include_bytes!("../../tests/data/field_list_rich.bin");
const CHANNEL: &[u8] = include_bytes!("../../tests/data/notify_channel_ctx.bin");
const EVENT_SIMPLE: &[u8] = include_bytes!("../../tests/data/notify_event_rich_simple.bin");
const EVENT_ALL: &[u8] = include_bytes!("../../tests/data/notify_event_rich_all.bin");
const ENUM: &[u8] = include_bytes!("../../tests/data/notify_enum_rich_color.bin");
const REPLIES: &[u8] = include_bytes!("../../tests/data/notify_replies.bin");

fn decode_whole(bytes: &[u8]) -> NotifyRequest {
    let (req, used) = decode_message(bytes).expect("captured message decodes");
    assert_eq!(used, bytes.len(), "the capture holds exactly one message");
    req
}

fn named(name: &str, ty: FieldType) -> Field {
    Field {
        name: name.into(),
        ty,
    }
}

#[test]
fn registration_messages() {
    let cmd = RegMsg::decode(REG_CMD).unwrap();
    let notify = RegMsg::decode(REG_NOTIFY).unwrap();
    assert_eq!(cmd.socket_type, SocketType::Cmd);
    assert_eq!(notify.socket_type, SocketType::Notify);
    for m in [&cmd, &notify] {
        assert_eq!((m.major, m.minor, m.bits_per_long), (9, 0, 64));
        assert_eq!(m.alignments, [8; 5]);
        assert_eq!(m.name, "rapp");
        assert_eq!((m.pid, m.ppid), (cmd.pid, cmd.ppid));
        assert_eq!(m.uid, 0);
    }
    assert!(cmd.pid > 0 && cmd.ppid > 0);
    // The encoder reproduces the app's bytes exactly.
    assert_eq!(&cmd.encode()[..], REG_CMD);
}

#[test]
fn tracer_version_reply() {
    let req = CmdMsg::simple(ROOT_HANDLE, op::TRACER_VERSION);
    let reply = Reply::decode_for(TRACER_VERSION_REPLY, &req).unwrap();
    assert_eq!((reply.ret_code, reply.ret_val), (0, 0));
    assert_eq!(reply.tracer_version(), (2, 13, 5));
}

#[test]
fn register_event_simple() {
    let NotifyRequest::Event(e) = decode_whole(EVENT_SIMPLE) else {
        panic!("not an event")
    };
    assert_eq!((e.session_objd, e.channel_objd), (3, 4));
    assert_eq!(e.name, "rich:simple");
    assert_eq!(e.loglevel, 13);
    assert_eq!(e.signature, "int, i");
    assert_eq!(e.model_emf_uri, None);
    assert_eq!(
        e.fields,
        vec![named("i", FieldType::Integer(int(32, true)))]
    );
}

fn rich_all_fields() -> Vec<Field> {
    let u8t = || Box::new(FieldType::Integer(int(8, false)));
    vec![
        named("i", FieldType::Integer(int(32, true))),
        named(
            "x",
            FieldType::Integer(IntegerType {
                base: 16,
                ..int(64, false)
            }),
        ),
        named(
            "net",
            FieldType::Integer(IntegerType {
                reverse_byte_order: true,
                ..int(16, false)
            }),
        ),
        named(
            "d",
            FieldType::Float(FloatType {
                exp_dig: 11,
                mant_dig: 53,
                reverse_byte_order: false,
                alignment_bits: 8,
            }),
        ),
        named(
            "f",
            FieldType::Float(FloatType {
                exp_dig: 8,
                mant_dig: 24,
                reverse_byte_order: false,
                alignment_bits: 8,
            }),
        ),
        named("s", FieldType::String(StringEncoding::Utf8)),
        named(
            "arr",
            FieldType::Array {
                length: 4,
                alignment: 0,
                elem: u8t(),
            },
        ),
        named(
            "txt",
            FieldType::Array {
                length: 2,
                alignment: 0,
                elem: Box::new(FieldType::Integer(IntegerType {
                    encoding: StringEncoding::Utf8,
                    ..int(8, true)
                })),
            },
        ),
        named("_seq_length", FieldType::Integer(int(32, false))),
        named(
            "seq",
            FieldType::Sequence {
                length_name: "_seq_length".into(),
                alignment: 0,
                elem: u8t(),
            },
        ),
        named(
            "col",
            FieldType::Enum {
                name: "rich_color".into(),
                id: 0,
                container: int(32, true),
            },
        ),
    ]
}

#[test]
fn register_event_rich_all() {
    let NotifyRequest::Event(e) = decode_whole(EVENT_ALL) else {
        panic!("not an event")
    };
    assert_eq!((e.session_objd, e.channel_objd), (3, 4));
    assert_eq!(e.name, "rich:all");
    assert_eq!(e.loglevel, 6);
    assert!(
        e.signature.starts_with("int, i, uint64_t, x,")
            && e.signature.ends_with("unsigned int, seqlen")
    );
    assert_eq!(e.model_emf_uri.as_deref(), Some("http://example.com/model"));
    // The nowrite field `hidden` is not serialized.
    assert_eq!(e.fields, rich_all_fields());
    // Our flattening and whole-message encoding are byte-identical to the app's.
    let fields_at = 316 + e.signature.len() + 1;
    assert_eq!(
        encode_fields(&e.fields),
        &EVENT_ALL[fields_at..fields_at + 15 * 920]
    );
    assert_eq!(NotifyRequest::Event(e).encode(), EVENT_ALL);
}

#[test]
fn register_channel_with_contexts() {
    let req = decode_whole(CHANNEL);
    let NotifyRequest::Channel(c) = &req else {
        panic!("not a channel")
    };
    assert_eq!((c.session_objd, c.channel_objd), (3, 4));
    let procname_char = IntegerType {
        encoding: StringEncoding::Utf8,
        ..int(8, true)
    };
    assert_eq!(
        c.ctx_fields,
        vec![
            named("vpid", FieldType::Integer(int(32, true))),
            named(
                "procname",
                FieldType::Array {
                    length: 17,
                    alignment: 0,
                    elem: Box::new(FieldType::Integer(procname_char))
                }
            ),
        ]
    );
    assert_eq!(req.encode(), CHANNEL);
}

#[test]
fn register_enum() {
    let req = decode_whole(ENUM);
    let NotifyRequest::Enum(e) = &req else {
        panic!("not an enum")
    };
    assert_eq!((e.session_objd, e.name.as_str()), (3, "rich_color"));
    let v = |value, signed| EnumValue { value, signed };
    assert_eq!(
        e.entries,
        vec![
            EnumEntry {
                start: v(0, true),
                end: v(0, true),
                label: "RED".into(),
                is_auto: false
            },
            EnumEntry {
                start: v(5, true),
                end: v(9, true),
                label: "GREENISH".into(),
                is_auto: false
            },
            EnumEntry {
                start: v(u64::MAX, false),
                end: v(u64::MAX, false),
                label: "AUTO".into(),
                is_auto: true
            },
        ]
    );
    assert_eq!(req.encode(), ENUM);
}

#[test]
fn daemon_replies() {
    // lttng-sessiond answered channel, rich:simple, the enum, then rich:all.
    let (ch, rest) = REPLIES.split_at(CHANNEL_REPLY_LEN);
    let (ev0, rest) = rest.split_at(EVENT_REPLY_LEN);
    let (en, ev1) = rest.split_at(ENUM_REPLY_LEN);
    assert_eq!(
        decode_reply(notify_cmd::CHANNEL, ch),
        Ok(NotifyReply::Channel {
            ret_code: 0,
            chan_id: 0,
            header_type: header_type::LARGE
        })
    );
    assert_eq!(
        decode_reply(notify_cmd::EVENT, ev0),
        Ok(NotifyReply::Event {
            ret_code: 0,
            event_id: 0
        })
    );
    assert_eq!(
        decode_reply(notify_cmd::ENUM, en),
        Ok(NotifyReply::Enum {
            ret_code: 0,
            enum_id: 0
        })
    );
    assert_eq!(
        decode_reply(notify_cmd::EVENT, ev1),
        Ok(NotifyReply::Event {
            ret_code: 0,
            event_id: 1
        })
    );
    // Our encoders produce the daemon's exact bytes.
    assert_eq!(&encode_channel_reply(0, 0, header_type::LARGE)[..], ch);
    assert_eq!(&encode_event_reply(0, 0)[..], ev0);
    assert_eq!(&encode_enum_reply(0, 0)[..], en);
    assert_eq!(&encode_event_reply(0, 1)[..], ev1);
}

#[test]
fn field_list_entries() {
    assert_eq!(FIELD_LIST.len() % FIELD_ITER_LEN, 0);
    let entries: Vec<_> = FIELD_LIST
        .chunks(FIELD_ITER_LEN)
        .map(|c| FieldIterEntry::decode(c).unwrap())
        .collect();
    let find = |ev: &str, f: &str| {
        entries
            .iter()
            .find(|e| e.event_name == ev && e.field_name == f)
            .unwrap_or_else(|| panic!("{ev}/{f}"))
    };
    assert_eq!(entries.len(), 13);
    let hidden = find("rich:all", "hidden");
    assert_eq!(
        (hidden.ty, hidden.loglevel, hidden.nowrite),
        (field_kind::INTEGER, 6, true)
    );
    assert_eq!(find("rich:all", "col").ty, field_kind::ENUM);
    assert_eq!(find("rich:all", "seq").ty, field_kind::OTHER);
    assert_eq!(find("rich:all", "arr").ty, field_kind::OTHER);
    assert_eq!(find("rich:all", "txt").ty, field_kind::STRING);
    assert_eq!(find("rich:all", "d").ty, field_kind::FLOAT);
    assert_eq!(find("rich:all", "s").ty, field_kind::STRING);
    let simple = find("rich:simple", "i");
    assert_eq!(
        (simple.ty, simple.loglevel, simple.nowrite),
        (field_kind::INTEGER, 13, false)
    );
    assert_eq!(entries.iter().filter(|e| e.nowrite).count(), 1);
    for (e, raw) in entries.iter().zip(FIELD_LIST.chunks(FIELD_ITER_LEN)) {
        assert_eq!(&e.encode()[..], raw);
    }
}

/// Offsets where a mutation is most likely to reach decoder logic: the
/// header, lengths, names, and the atype/union of the first field entries.
fn hot_offset(rng: &mut Rng, len: usize, tails_at: usize) -> usize {
    match rng.below(4) {
        0 => rng.below(tails_at.min(len)),
        1 if len > tails_at => {
            let entry = rng.below((len - tails_at) / 920 + 1);
            (tails_at + entry * 920 + 250 + rng.below(40)).min(len - 1)
        }
        _ => rng.below(len),
    }
}

#[test]
fn mutated_captures_never_panic() {
    let mut rng = Rng(0xC57C_57C5);
    let captures = [
        (EVENT_ALL, 316),
        (EVENT_SIMPLE, 316),
        (CHANNEL, 48),
        (ENUM, 300),
    ];
    let (mut ok, mut err) = (0usize, 0usize);
    for round in 0..20_000 {
        let (orig, tails_at) = captures[round % captures.len()];
        let mut buf = orig.to_vec();
        for _ in 0..1 + rng.below(6) {
            let at = hot_offset(&mut rng, buf.len(), tails_at);
            buf[at] = match rng.below(3) {
                0 => rng.next() as u8,
                1 => buf[at] ^ (1 << rng.below(8)),
                _ => 0xff,
            };
        }
        if rng.below(4) == 0 {
            buf.truncate(rng.below(buf.len()));
        }
        match decode_message(&buf) {
            Ok((_, used)) => {
                assert!(used <= buf.len());
                ok += 1;
            }
            Err(_) => err += 1,
        }
    }
    // Both outcomes occur, so the loop exercises decoding, not only rejection.
    assert!(ok > 1000 && err > 1000, "ok {ok}, err {err}");
}

#[test]
fn captured_mutations_are_typed_errors() {
    let mut b = REG_CMD.to_vec();
    b[0] ^= 0xff;
    assert!(matches!(RegMsg::decode(&b), Err(WireError::BadMagic(_))));
    let mut b = REG_NOTIFY.to_vec();
    b[52] = 2;
    assert_eq!(RegMsg::decode(&b), Err(WireError::BadSocketType(2)));
    let mut b = EVENT_ALL.to_vec();
    let sig_len = u32::from_le_bytes(EVENT_ALL[272..276].try_into().unwrap()) as usize;
    b[316 + sig_len + 920 + 256] = 77; // atype of field `x`, the second entry
    assert_eq!(decode_message(&b).map(|_| ()), Err(WireError::BadAtype(77)));
    assert!(matches!(
        decode_message(&EVENT_ALL[..EVENT_ALL.len() - 1]),
        Err(WireError::Truncated { .. })
    ));
}
