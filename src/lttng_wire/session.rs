//! Sessions: the CREATE_SESSION_EXT descriptor and its URIs (request and
//! reply), and the native `lttng_session` / `lttng_domain` list records.

use super::cursor::{fixed_str, Cursor, Put};
use super::error::{WireError, WireResult};
use super::header::{
    BufferType, DomainType, DOMAIN_RECORD_LEN, NAME_MAX, PATH_MAX, SESSION_RECORD_LEN,
};

pub use super::header::URI_LEN;
const DESCRIPTOR_HEADER_LEN: usize = 7;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionKind {
    Regular,
    Snapshot,
    Live { timer_us: u64 },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputType {
    None,
    Local,
    Network,
}

/// `enum lttng_stream_type` in a network URI's `stype`.
pub const URI_STREAM_CONTROL: i32 = 0;
pub const URI_STREAM_DATA: i32 = 1;

/// `enum lttng_dst_type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UriDest {
    Ipv4,
    Ipv6,
    Path,
}

/// `struct lttng_uri`. `utype`, `stype` and `proto` stay raw: ustd only
/// writes local PATH URIs and refuses network ones.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Uri {
    pub dest: UriDest,
    pub utype: i32,
    pub stype: i32,
    pub proto: i32,
    pub port: u16,
    pub subdir: String,
    /// The path, or the host address for network URIs.
    pub dst: String,
}

impl Uri {
    pub fn path(path: &str) -> Self {
        Self {
            dest: UriDest::Path,
            utype: 0,
            stype: 0,
            proto: 0,
            port: 0,
            subdir: String::new(),
            dst: path.to_owned(),
        }
    }

    fn decode(c: &mut Cursor<'_>) -> WireResult<Self> {
        let b = c.bytes(URI_LEN, "URI")?;
        let mut r = Cursor::new(b);
        let dest = match r.i32("URI type")? {
            1 => UriDest::Ipv4,
            2 => UriDest::Ipv6,
            3 => UriDest::Path,
            v => {
                return Err(WireError::Invalid {
                    what: "URI destination type",
                    value: v.into(),
                })
            }
        };
        Ok(Self {
            dest,
            utype: r.i32("URI")?,
            stype: r.i32("URI")?,
            proto: r.i32("URI")?,
            port: r.u16("URI")?,
            subdir: fixed_str(r.bytes(PATH_MAX, "URI subdir")?, "URI subdir")?,
            dst: fixed_str(r.bytes(PATH_MAX, "URI destination")?, "URI destination")?,
        })
    }

    fn encode(&self, out: &mut Vec<u8>) {
        out.put_i32(match self.dest {
            UriDest::Ipv4 => 1,
            UriDest::Ipv6 => 2,
            UriDest::Path => 3,
        });
        out.put_i32(self.utype);
        out.put_i32(self.stype);
        out.put_i32(self.proto);
        out.put_u16(self.port);
        out.put_fixed(&self.subdir, PATH_MAX);
        out.put_fixed(&self.dst, PATH_MAX);
    }
}

/// A serialized `lttng_session_descriptor` (`session-descriptor.c`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionDescriptor {
    pub kind: SessionKind,
    pub output: OutputType,
    /// `None`: the daemon generates `auto-YYYYMMDD-HHMMSS`.
    pub name: Option<String>,
    pub uris: Vec<Uri>,
}

impl SessionDescriptor {
    pub fn decode(buf: &[u8]) -> WireResult<Self> {
        let mut c = Cursor::new(buf);
        let kind = c.u8("descriptor type")?;
        let output = match c.u8("descriptor output type")? {
            0 => OutputType::None,
            1 => OutputType::Local,
            2 => OutputType::Network,
            v => {
                return Err(WireError::Invalid {
                    what: "descriptor output type",
                    value: v.into(),
                })
            }
        };
        let name_len = c.u32("descriptor name length")?;
        let uri_count = c.u8("descriptor URI count")?;
        let kind = match kind {
            1 => SessionKind::Regular,
            2 => SessionKind::Snapshot,
            3 => SessionKind::Live {
                timer_us: c.u64("live timer")?,
            },
            v => {
                return Err(WireError::Invalid {
                    what: "descriptor type",
                    value: v.into(),
                })
            }
        };
        let name = c.lstr(name_len, NAME_MAX as u32, "session name")?;
        let uris = (0..uri_count)
            .map(|_| Uri::decode(&mut c))
            .collect::<WireResult<_>>()?;
        c.finish()?;
        Ok(Self {
            kind,
            output,
            name,
            uris,
        })
    }

    pub fn encode(&self, out: &mut Vec<u8>) {
        out.put_u8(match self.kind {
            SessionKind::Regular => 1,
            SessionKind::Snapshot => 2,
            SessionKind::Live { .. } => 3,
        });
        out.put_u8(match self.output {
            OutputType::None => 0,
            OutputType::Local => 1,
            OutputType::Network => 2,
        });
        out.put_u32(self.name.as_deref().map_or(0, super::cursor::clen));
        out.put_u8(self.uris.len() as u8);
        if let SessionKind::Live { timer_us } = self.kind {
            out.put_u64(timer_us);
        }
        if let Some(n) = &self.name {
            out.put_cstr(n);
        }
        for u in &self.uris {
            u.encode(out);
        }
    }

    /// Bytes before the name: to bound a descriptor before decoding it.
    pub const MIN_LEN: usize = DESCRIPTOR_HEADER_LEN;
}

/// One entry of the LIST_SESSIONS reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionInfo {
    pub name: String,
    /// "Trace output" as the CLI prints it.
    pub path: String,
    pub enabled: bool,
    pub snapshot_mode: bool,
    pub live_timer_interval: u32,
    /// Seconds since the epoch.
    pub creation_time: Option<u64>,
}

/// N native `struct lttng_session` records, then N packed
/// `lttng_session_extended` {u64 creation_time, u8 is_set}.
pub fn encode_sessions(sessions: &[SessionInfo]) -> Vec<u8> {
    let mut out = Vec::with_capacity(sessions.len() * (SESSION_RECORD_LEN + 9));
    for s in sessions {
        let start = out.len();
        out.put_fixed(&s.name, NAME_MAX);
        out.put_fixed(&s.path, PATH_MAX);
        out.put_u8(0); // padding
        out.put_u32(s.enabled.into());
        out.put_u32(s.snapshot_mode.into());
        out.put_u32(s.live_timer_interval);
        out.resize(start + SESSION_RECORD_LEN, 0); // alignment padding, `extended` pointer
    }
    for s in sessions {
        out.put_u64(s.creation_time.unwrap_or(0));
        out.put_u8(s.creation_time.is_some().into());
    }
    out
}

/// Native `struct lttng_domain` records for LIST_DOMAINS.
pub fn encode_domains(domains: &[(DomainType, BufferType)]) -> Vec<u8> {
    let mut out = Vec::with_capacity(domains.len() * DOMAIN_RECORD_LEN);
    for (kind, buf) in domains {
        let start = out.len();
        out.put_i32(kind.raw());
        out.put_i32(buf.raw());
        out.resize(start + DOMAIN_RECORD_LEN, 0);
    }
    out
}
