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
    pub const SESSION: usize = 0;
    pub const CHANNEL: usize = 4;
    pub const NAME: usize = 8;
    pub const LOGLEVEL: usize = 264;
    pub const SIGNATURE_LEN: usize = 268;
    pub const FIELDS_LEN: usize = 272;
    pub const EMF_LEN: usize = 276;
}
mod ch {
    pub const SESSION: usize = 0;
    pub const CHANNEL: usize = 4;
    pub const CTX_LEN: usize = 8;
}
mod en {
    pub const SESSION: usize = 0;
    pub const NAME: usize = 4;
    pub const ENTRIES_LEN: usize = 260;
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
