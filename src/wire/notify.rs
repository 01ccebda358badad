//! Notify channel (app -> daemon requests, daemon -> app replies).
//!
//! A request is a 4-byte `notify_cmd` header, a fixed body, then variable
//! tails whose lengths the body announces. The socket layer reads it in three
//! steps driven by [`body_len`], [`tail_len`] and [`decode_request`], without
//! knowing any layout. Every length is bounded before anything is allocated.

use super::bytes::{tail_cstr, Reader, Writer};
use super::error::{WireError, WireResult};
use super::field::{
    decode_enum_entries, decode_fields, encode_enum_entries, encode_fields, EnumEntry, Field,
    ENUM_ENTRY_LEN, FIELD_LEN,
};

pub const HEADER_LEN: usize = 4;

/// `lttng_ust_ctl_notify_cmd` values.
pub mod notify_cmd {
    pub const EVENT: u32 = 0;
    pub const CHANNEL: u32 = 1;
    pub const ENUM: u32 = 2;
}

/// Channel header types a REGISTER_CHANNEL reply may carry.
pub mod header_type {
    pub const COMPACT: u32 = 1;
    pub const LARGE: u32 = 2;
}

/// Most 920-byte field entries accepted in one event or channel (about 15 MB).
pub const MAX_FIELDS: usize = 16_384;
/// Most enum entries accepted in one REGISTER_ENUM (about 5.5 MB).
pub const MAX_ENUM_ENTRIES: usize = 16_384;
/// Longest signature or model EMF URI, NUL included.
pub const MAX_STRING_TAIL: usize = 65_536;

pub const EVENT_REPLY_LEN: usize = 44;
pub const CHANNEL_REPLY_LEN: usize = 48;
pub const ENUM_REPLY_LEN: usize = 48;

/// Fixed body sizes (after the header).
const EVENT_BODY_LEN: usize = 312;
const CHANNEL_BODY_LEN: usize = 44;
const ENUM_BODY_LEN: usize = 296;

/// Body offsets (relative to the end of the header).
mod ev {
    pub(super) const SESSION: usize = 0;
    pub(super) const CHANNEL: usize = 4;
    pub(super) const NAME: usize = 8;
    pub(super) const LOGLEVEL: usize = 264;
    pub(super) const SIGNATURE_LEN: usize = 268;
    pub(super) const FIELDS_LEN: usize = 272;
    pub(super) const EMF_LEN: usize = 276;
}
mod ch {
    pub(super) const SESSION: usize = 0;
    pub(super) const CHANNEL: usize = 4;
    pub(super) const CTX_LEN: usize = 8;
}
mod en {
    pub(super) const SESSION: usize = 0;
    pub(super) const NAME: usize = 4;
    pub(super) const ENTRIES_LEN: usize = 260;
}
const NAME_LEN: usize = 256;

/// REGISTER_EVENT.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventReg {
    /// The app's session handle.
    pub session_objd: u32,
    /// The app's channel handle.
    pub channel_objd: u32,
    /// `provider:event`.
    pub name: String,
    pub loglevel: i32,
    /// The provider's argument list text, e.g. `int, i`.
    pub signature: String,
    pub fields: Vec<Field>,
    pub model_emf_uri: Option<String>,
}

/// REGISTER_CHANNEL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelReg {
    pub session_objd: u32,
    pub channel_objd: u32,
    pub ctx_fields: Vec<Field>,
}

/// REGISTER_ENUM.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnumReg {
    pub session_objd: u32,
    /// `<provider>_<enum>`.
    pub name: String,
    pub entries: Vec<EnumEntry>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotifyRequest {
    Event(EventReg),
    Channel(ChannelReg),
    Enum(EnumReg),
}

/// Decodes the 4-byte request header into a `notify_cmd`.
pub fn decode_header(buf: &[u8]) -> WireResult<u32> {
    Ok(Reader::new(buf, HEADER_LEN, "notify header")?.u32(0))
}

/// Size of the fixed body that follows the header of `notify_cmd`.
pub fn body_len(notify_cmd: u32) -> WireResult<usize> {
    match notify_cmd {
        notify_cmd::EVENT => Ok(EVENT_BODY_LEN),
        notify_cmd::CHANNEL => Ok(CHANNEL_BODY_LEN),
        notify_cmd::ENUM => Ok(ENUM_BODY_LEN),
        c => Err(WireError::BadNotifyCmd(c)),
    }
}

/// Variable tail lengths announced by a body, each checked against its bound.
struct Tails {
    /// (signature, fields, model EMF URI) for events; (0, ctx fields, 0) for
    /// channels; (0, entries, 0) for enums.
    lens: [usize; 3],
}

impl Tails {
    fn total(&self) -> usize {
        // Each part is bounded well below usize::MAX / 3.
        self.lens.iter().sum()
    }
}

fn tails(notify_cmd: u32, body: &[u8]) -> WireResult<Tails> {
    let r = Reader::new(body, body_len(notify_cmd)?, "notify body")?;
    let lens = match notify_cmd {
        notify_cmd::EVENT => [
            bounded(r.u32(ev::SIGNATURE_LEN), "signature", MAX_STRING_TAIL)?,
            unit_bounded(r.u32(ev::FIELDS_LEN), "event fields", FIELD_LEN, MAX_FIELDS)?,
            bounded(r.u32(ev::EMF_LEN), "model EMF URI", MAX_STRING_TAIL)?,
        ],
        notify_cmd::CHANNEL => [
            0,
            unit_bounded(r.u32(ch::CTX_LEN), "context fields", FIELD_LEN, MAX_FIELDS)?,
            0,
        ],
        _ => [
            0,
            unit_bounded(
                r.u32(en::ENTRIES_LEN),
                "enum entries",
                ENUM_ENTRY_LEN,
                MAX_ENUM_ENTRIES,
            )?,
            0,
        ],
    };
    Ok(Tails { lens })
}

fn bounded(len: u32, what: &'static str, max: usize) -> WireResult<usize> {
    let len = len as usize;
    if len > max {
        return Err(WireError::TooLong { what, len, max });
    }
    Ok(len)
}

fn unit_bounded(len: u32, what: &'static str, unit: usize, max_units: usize) -> WireResult<usize> {
    let len = bounded(len, what, unit * max_units)?;
    if len % unit != 0 {
        return Err(WireError::Misaligned { what, len, unit });
    }
    Ok(len)
}

/// Total size of the variable tails that follow `body`, after bounds checks
/// (field lists multiples of 920 and at most [`MAX_FIELDS`] entries, enum
/// entries multiples of 336 and at most [`MAX_ENUM_ENTRIES`], strings at most
/// [`MAX_STRING_TAIL`]). A failure here means the stream cannot be resynchronised.
pub fn tail_len(notify_cmd: u32, body: &[u8]) -> WireResult<usize> {
    Ok(tails(notify_cmd, body)?.total())
}

/// Decodes a request from its body (exactly [`body_len`] bytes) and tails
/// (exactly [`tail_len`] bytes).
pub fn decode_request(notify_cmd: u32, body: &[u8], tail: &[u8]) -> WireResult<NotifyRequest> {
    let want_body = body_len(notify_cmd)?;
    exact(body, want_body, "notify body")?;
    let t = tails(notify_cmd, body)?;
    exact(tail, t.total(), "notify tail")?;
    let r = Reader::new(body, want_body, "notify body")?;
    let (sig, rest) = tail.split_at(t.lens[0]);
    let (list, emf) = rest.split_at(t.lens[1]);
    Ok(match notify_cmd {
        notify_cmd::EVENT => NotifyRequest::Event(EventReg {
            session_objd: r.u32(ev::SESSION),
            channel_objd: r.u32(ev::CHANNEL),
            name: r.cstr(ev::NAME, NAME_LEN, "event name")?,
            loglevel: r.i32(ev::LOGLEVEL),
            signature: tail_cstr(sig, "signature")?,
            fields: decode_fields(list, MAX_FIELDS)?,
            model_emf_uri: if emf.is_empty() {
                None
            } else {
                Some(tail_cstr(emf, "model EMF URI")?)
            },
        }),
        notify_cmd::CHANNEL => NotifyRequest::Channel(ChannelReg {
            session_objd: r.u32(ch::SESSION),
            channel_objd: r.u32(ch::CHANNEL),
            ctx_fields: decode_fields(list, MAX_FIELDS)?,
        }),
        _ => NotifyRequest::Enum(EnumReg {
            session_objd: r.u32(en::SESSION),
            name: r.cstr(en::NAME, NAME_LEN, "enum name")?,
            entries: decode_enum_entries(list)?,
        }),
    })
}

fn exact(buf: &[u8], want: usize, what: &'static str) -> WireResult<()> {
    if buf.len() < want {
        return Err(WireError::Truncated {
            what,
            need: want,
            have: buf.len(),
        });
    }
    if buf.len() > want {
        return Err(WireError::TooLong {
            what,
            len: buf.len(),
            max: want,
        });
    }
    Ok(())
}

/// Decodes one whole request from the start of `buf` and returns it with the
/// number of bytes it used. For contiguous buffers (captures, tests, load
/// generator); the socket layer uses the three-step API instead.
pub fn decode_message(buf: &[u8]) -> WireResult<(NotifyRequest, usize)> {
    let cmd = decode_header(buf)?;
    let body_end = HEADER_LEN + body_len(cmd)?;
    let body = buf.get(HEADER_LEN..body_end).ok_or(WireError::Truncated {
        what: "notify body",
        need: body_end,
        have: buf.len(),
    })?;
    let end = body_end + tail_len(cmd, body)?;
    let tail = buf.get(body_end..end).ok_or(WireError::Truncated {
        what: "notify tail",
        need: end,
        have: buf.len(),
    })?;
    Ok((decode_request(cmd, body, tail)?, end))
}

impl NotifyRequest {
    pub fn notify_cmd(&self) -> u32 {
        match self {
            Self::Event(_) => notify_cmd::EVENT,
            Self::Channel(_) => notify_cmd::CHANNEL,
            Self::Enum(_) => notify_cmd::ENUM,
        }
    }

    /// Encodes header, body and tails as one buffer, as an app sends them
    /// (used by tests and the load generator). Strings longer than their
    /// fixed areas are truncated.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = self.notify_cmd().to_le_bytes().to_vec();
        match self {
            Self::Event(e) => {
                let sig = nul_terminated(&e.signature);
                let fields = encode_fields(&e.fields);
                let emf = e
                    .model_emf_uri
                    .as_deref()
                    .map(nul_terminated)
                    .unwrap_or_default();
                let mut w = Writer::<EVENT_BODY_LEN>::new();
                w.u32(ev::SESSION, e.session_objd)
                    .u32(ev::CHANNEL, e.channel_objd)
                    .cstr(ev::NAME, NAME_LEN, &e.name)
                    .i32(ev::LOGLEVEL, e.loglevel)
                    .u32(ev::SIGNATURE_LEN, wire_len(&sig))
                    .u32(ev::FIELDS_LEN, wire_len(&fields))
                    .u32(ev::EMF_LEN, wire_len(&emf));
                for part in [&w.buf[..], &sig, &fields, &emf] {
                    out.extend_from_slice(part);
                }
            }
            Self::Channel(c) => {
                let fields = encode_fields(&c.ctx_fields);
                let mut w = Writer::<CHANNEL_BODY_LEN>::new();
                w.u32(ch::SESSION, c.session_objd)
                    .u32(ch::CHANNEL, c.channel_objd)
                    .u32(ch::CTX_LEN, wire_len(&fields));
                out.extend_from_slice(&w.buf);
                out.extend_from_slice(&fields);
            }
            Self::Enum(e) => {
                let entries = encode_enum_entries(&e.entries);
                let mut w = Writer::<ENUM_BODY_LEN>::new();
                w.u32(en::SESSION, e.session_objd)
                    .cstr(en::NAME, NAME_LEN, &e.name)
                    .u32(en::ENTRIES_LEN, wire_len(&entries));
                out.extend_from_slice(&w.buf);
                out.extend_from_slice(&entries);
            }
        }
        out
    }
}

fn nul_terminated(s: &str) -> Vec<u8> {
    let mut v = Vec::with_capacity(s.len() + 1);
    v.extend_from_slice(s.as_bytes());
    v.push(0);
    v
}

/// Lengths are u32 on the wire; oversize in-memory requests (tests only)
/// saturate and are then rejected by the decoder's bounds.
fn wire_len(b: &[u8]) -> u32 {
    u32::try_from(b.len()).unwrap_or(u32::MAX)
}

/// REGISTER_EVENT reply.
pub fn encode_event_reply(ret_code: i32, event_id: u32) -> [u8; EVENT_REPLY_LEN] {
    let mut w = Writer::<EVENT_REPLY_LEN>::new();
    w.u32(0, notify_cmd::EVENT)
        .i32(4, ret_code)
        .u32(8, event_id);
    w.buf
}

/// REGISTER_CHANNEL reply. `chan_id` must equal the id inside the channel
/// blob; `header_type` must be [`header_type::COMPACT`] or [`header_type::LARGE`].
pub fn encode_channel_reply(
    ret_code: i32,
    chan_id: u32,
    header_type: u32,
) -> [u8; CHANNEL_REPLY_LEN] {
    let mut w = Writer::<CHANNEL_REPLY_LEN>::new();
    w.u32(0, notify_cmd::CHANNEL)
        .i32(4, ret_code)
        .u32(8, chan_id)
        .u32(12, header_type);
    w.buf
}

/// REGISTER_ENUM reply.
pub fn encode_enum_reply(ret_code: i32, enum_id: u64) -> [u8; ENUM_REPLY_LEN] {
    let mut w = Writer::<ENUM_REPLY_LEN>::new();
    w.u32(0, notify_cmd::ENUM).i32(4, ret_code).u64(8, enum_id);
    w.buf
}

/// Size of the reply to `notify_cmd`.
pub fn reply_len(notify_cmd: u32) -> WireResult<usize> {
    match notify_cmd {
        notify_cmd::EVENT => Ok(EVENT_REPLY_LEN),
        notify_cmd::CHANNEL => Ok(CHANNEL_REPLY_LEN),
        notify_cmd::ENUM => Ok(ENUM_REPLY_LEN),
        c => Err(WireError::BadNotifyCmd(c)),
    }
}

/// A well-formed error reply (negative `ret_code`, zero ids) of the right
/// size for `notify_cmd`. Replying on error spares the app a timeout.
pub fn error_reply(notify_cmd: u32, ret_code: i32) -> WireResult<Vec<u8>> {
    Ok(match notify_cmd {
        notify_cmd::EVENT => encode_event_reply(ret_code, 0).to_vec(),
        notify_cmd::CHANNEL => encode_channel_reply(ret_code, 0, 0).to_vec(),
        notify_cmd::ENUM => encode_enum_reply(ret_code, 0).to_vec(),
        c => return Err(WireError::BadNotifyCmd(c)),
    })
}

/// A decoded notify reply (app side; for tests and the load generator).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotifyReply {
    Event {
        ret_code: i32,
        event_id: u32,
    },
    Channel {
        ret_code: i32,
        chan_id: u32,
        header_type: u32,
    },
    Enum {
        ret_code: i32,
        enum_id: u64,
    },
}

/// Decodes the reply to a `want_cmd` request. A header naming another
/// command is a [`WireError::ReplyMismatch`] (handles are 0: notify replies
/// have none).
pub fn decode_reply(want_cmd: u32, buf: &[u8]) -> WireResult<NotifyReply> {
    let r = Reader::new(buf, reply_len(want_cmd)?, "notify reply")?;
    let got = r.u32(0);
    if got != want_cmd {
        return Err(WireError::ReplyMismatch {
            want_handle: 0,
            want_cmd,
            got_handle: 0,
            got_cmd: got,
        });
    }
    let ret_code = r.i32(4);
    Ok(match want_cmd {
        notify_cmd::EVENT => NotifyReply::Event {
            ret_code,
            event_id: r.u32(8),
        },
        notify_cmd::CHANNEL => NotifyReply::Channel {
            ret_code,
            chan_id: r.u32(8),
            header_type: r.u32(12),
        },
        _ => NotifyReply::Enum {
            ret_code,
            enum_id: r.u64(8),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::field::test_util::{field, int};
    use crate::wire::field::{EnumValue, FieldType, StringEncoding};

    fn event(emf: Option<&str>) -> NotifyRequest {
        NotifyRequest::Event(EventReg {
            session_objd: 3,
            channel_objd: 4,
            name: "rich:all".into(),
            loglevel: 6,
            signature: "int, i, const char *, s".into(),
            fields: vec![
                field("i", FieldType::Integer(int(32, true))),
                field("s", FieldType::String(StringEncoding::Utf8)),
                field(
                    "col",
                    FieldType::Enum {
                        name: "rich_color".into(),
                        id: u64::MAX,
                        container: int(32, true),
                    },
                ),
            ],
            model_emf_uri: emf.map(str::to_owned),
        })
    }

    fn channel() -> NotifyRequest {
        NotifyRequest::Channel(ChannelReg {
            session_objd: 3,
            channel_objd: 4,
            ctx_fields: vec![
                field("vpid", FieldType::Integer(int(32, true))),
                field(
                    "procname",
                    FieldType::Array {
                        length: 17,
                        alignment: 0,
                        elem: Box::new(FieldType::Integer(crate::wire::field::IntegerType {
                            encoding: StringEncoding::Utf8,
                            ..int(8, true)
                        })),
                    },
                ),
            ],
        })
    }

    fn enumeration() -> NotifyRequest {
        let v = |value, signed| EnumValue { value, signed };
        NotifyRequest::Enum(EnumReg {
            session_objd: 3,
            name: "rich_color".into(),
            entries: vec![
                EnumEntry {
                    start: v(0, true),
                    end: v(0, true),
                    label: "RED".into(),
                    is_auto: false,
                },
                EnumEntry {
                    start: v(5, true),
                    end: v(9, true),
                    label: "GREENISH".into(),
                    is_auto: false,
                },
            ],
        })
    }

    fn all_requests() -> Vec<NotifyRequest> {
        vec![
            event(Some("http://example.com/model")),
            event(None),
            channel(),
            NotifyRequest::Channel(ChannelReg {
                session_objd: 1,
                channel_objd: 2,
                ctx_fields: vec![],
            }),
            enumeration(),
        ]
    }

    /// Drives the three-step API the way the socket layer does.
    fn read_incrementally(bytes: &[u8]) -> WireResult<NotifyRequest> {
        let cmd = decode_header(&bytes[..HEADER_LEN])?;
        let body_end = HEADER_LEN + body_len(cmd)?;
        let body = &bytes[HEADER_LEN..body_end];
        let tail = &bytes[body_end..body_end + tail_len(cmd, body)?];
        decode_request(cmd, body, tail)
    }

    #[test]
    fn requests_round_trip() {
        for req in all_requests() {
            let bytes = req.encode();
            assert_eq!(decode_message(&bytes).unwrap(), (req.clone(), bytes.len()));
            assert_eq!(read_incrementally(&bytes).unwrap(), req);
        }
    }

    #[test]
    fn request_sizes_match_the_protocol() {
        let e = event(Some("http://example.com/model")).encode();
        let sig = "int, i, const char *, s".len() + 1;
        assert_eq!(e.len(), 316 + sig + 4 * FIELD_LEN + 25);
        assert_eq!(
            u32::from_le_bytes(e[272..276].try_into().unwrap()) as usize,
            sig
        );
        assert_eq!(
            u32::from_le_bytes(e[276..280].try_into().unwrap()) as usize,
            4 * FIELD_LEN
        );
        assert_eq!(channel().encode().len(), 48 + 3 * FIELD_LEN);
        assert_eq!(enumeration().encode().len(), 300 + 2 * ENUM_ENTRY_LEN);
        assert_eq!(body_len(3), Err(WireError::BadNotifyCmd(3)));
    }

    #[test]
    fn every_prefix_is_truncated() {
        for req in all_requests() {
            let bytes = req.encode();
            for cut in 0..bytes.len() {
                assert!(
                    matches!(
                        decode_message(&bytes[..cut]),
                        Err(WireError::Truncated { .. })
                    ),
                    "{:?} cut at {cut}",
                    req.notify_cmd()
                );
            }
        }
    }

    fn set_u32(buf: &mut [u8], at: usize, v: u32) {
        buf[at..at + 4].copy_from_slice(&v.to_le_bytes());
    }

    #[test]
    fn tail_lengths_are_bounded() {
        let ev = event(None).encode();
        let body = |b: &[u8]| b[HEADER_LEN..HEADER_LEN + EVENT_BODY_LEN].to_vec();
        let with = |at: usize, v: u32| {
            let mut b = ev.clone();
            set_u32(&mut b, at, v);
            tail_len(notify_cmd::EVENT, &body(&b))
        };
        assert!(matches!(with(276, 921), Err(WireError::Misaligned { .. })));
        assert!(matches!(
            with(276, ((MAX_FIELDS + 1) * FIELD_LEN) as u32),
            Err(WireError::TooLong { .. })
        ));
        assert_eq!(
            with(276, (MAX_FIELDS * FIELD_LEN) as u32).unwrap(),
            24 + MAX_FIELDS * FIELD_LEN
        );
        assert!(matches!(
            with(272, u32::MAX),
            Err(WireError::TooLong {
                what: "signature",
                ..
            })
        ));
        assert!(matches!(
            with(280, 65_537),
            Err(WireError::TooLong {
                what: "model EMF URI",
                ..
            })
        ));
        assert!(matches!(
            tail_len(notify_cmd::EVENT, &body(&ev)[..100]),
            Err(WireError::Truncated { .. })
        ));

        let mut ch = channel().encode();
        set_u32(&mut ch, 12, 100);
        assert!(matches!(
            decode_message(&ch),
            Err(WireError::Misaligned {
                what: "context fields",
                ..
            })
        ));
        let mut en = enumeration().encode();
        set_u32(&mut en, 264, 337);
        assert!(matches!(
            decode_message(&en),
            Err(WireError::Misaligned {
                what: "enum entries",
                ..
            })
        ));
        set_u32(
            &mut en,
            264,
            ((MAX_ENUM_ENTRIES + 1) * ENUM_ENTRY_LEN) as u32,
        );
        assert!(matches!(
            decode_message(&en),
            Err(WireError::TooLong {
                what: "enum entries",
                ..
            })
        ));
    }

    #[test]
    fn rejects_malformed_requests() {
        assert_eq!(
            decode_message(&7u32.to_le_bytes()),
            Err(WireError::BadNotifyCmd(7))
        );

        let ev = event(Some("u")).encode();
        let sig_at = 316;
        let sig_len = "int, i, const char *, s".len() + 1;
        let mut b = ev.clone();
        b[sig_at + sig_len - 1] = b'x';
        assert_eq!(
            decode_message(&b).map(|_| ()),
            Err(WireError::Unterminated("signature"))
        );
        let mut b = ev.clone();
        b[sig_at + 3] = 0; // NUL inside the announced length
        assert_eq!(
            decode_message(&b).map(|_| ()),
            Err(WireError::Unterminated("signature"))
        );
        let mut b = ev.clone();
        *b.last_mut().unwrap() = b'!';
        assert_eq!(
            decode_message(&b).map(|_| ()),
            Err(WireError::Unterminated("model EMF URI"))
        );
        let mut b = ev.clone();
        b[12..268].fill(b'n');
        assert_eq!(
            decode_message(&b).map(|_| ()),
            Err(WireError::Unterminated("event name"))
        );
        let mut b = ev.clone();
        set_u32(&mut b, 272, 0); // signature_len 0: no terminator at all
        let (cmd, body) = (notify_cmd::EVENT, &b[4..316]);
        let tail = &b[316 + sig_len..];
        assert_eq!(
            decode_request(cmd, body, tail).map(|_| ()),
            Err(WireError::Unterminated("signature"))
        );

        let mut b = enumeration().encode();
        b[8..264].fill(b'e');
        assert_eq!(
            decode_message(&b).map(|_| ()),
            Err(WireError::Unterminated("enum name"))
        );

        // Bodies and tails must have exactly the announced sizes.
        let ch = channel().encode();
        let body = &ch[4..48];
        assert!(matches!(
            decode_request(1, &ch[4..47], &ch[48..]),
            Err(WireError::Truncated { .. })
        ));
        assert!(matches!(
            decode_request(1, &ch[4..49], &ch[49..]),
            Err(WireError::TooLong { .. })
        ));
        assert!(matches!(
            decode_request(1, body, &ch[48..ch.len() - 1]),
            Err(WireError::Truncated { .. })
        ));
        let mut long_tail = ch[48..].to_vec();
        long_tail.push(0);
        assert!(matches!(
            decode_request(1, body, &long_tail),
            Err(WireError::TooLong { .. })
        ));
    }

    #[test]
    fn replies_round_trip() {
        let e = encode_event_reply(0, 17);
        assert_eq!(
            decode_reply(notify_cmd::EVENT, &e),
            Ok(NotifyReply::Event {
                ret_code: 0,
                event_id: 17
            })
        );
        let c = encode_channel_reply(0, 5, header_type::LARGE);
        assert_eq!(
            decode_reply(notify_cmd::CHANNEL, &c),
            Ok(NotifyReply::Channel {
                ret_code: 0,
                chan_id: 5,
                header_type: 2
            })
        );
        let n = encode_enum_reply(0, 1 << 40);
        assert_eq!(
            decode_reply(notify_cmd::ENUM, &n),
            Ok(NotifyReply::Enum {
                ret_code: 0,
                enum_id: 1 << 40
            })
        );
        assert!(matches!(
            decode_reply(notify_cmd::ENUM, &c),
            Err(WireError::ReplyMismatch { got_cmd: 1, .. })
        ));
        assert!(matches!(
            decode_reply(notify_cmd::EVENT, &e[..43]),
            Err(WireError::Truncated { .. })
        ));
        assert_eq!(decode_reply(9, &c), Err(WireError::BadNotifyCmd(9)));
    }

    #[test]
    fn error_replies_are_well_formed() {
        for cmd in [notify_cmd::EVENT, notify_cmd::CHANNEL, notify_cmd::ENUM] {
            let r = error_reply(cmd, -1027).unwrap();
            assert_eq!(r.len(), reply_len(cmd).unwrap());
            let ret_code = match decode_reply(cmd, &r).unwrap() {
                NotifyReply::Event { ret_code, .. }
                | NotifyReply::Channel { ret_code, .. }
                | NotifyReply::Enum { ret_code, .. } => ret_code,
            };
            assert_eq!(ret_code, -1027);
            assert!(r[8..].iter().all(|&b| b == 0));
        }
        assert_eq!(error_reply(3, -1027), Err(WireError::BadNotifyCmd(3)));
    }
}
