//! The app's view of a 612-byte daemon command: which fields it reads and
//! what travels after the message (payload bytes, fds, an ack first).
//!
//! The daemon-side codec (`ustd::wire::cmd`) builds these messages; this
//! module reads them the way lttng-ust 2.13 does, bounds included.

use ustd::wire::cmd::{op, CMD_MSG_LEN};

/// Commands the daemon-side codec has no constant for yet (lttng-sessiond
/// 2.13 sends the counter and group ones to every ABI-9 app).
pub mod op_ext {
    pub const EVENT_NOTIFIER_CREATE: u32 = 0xB0;
    pub const CAPTURE: u32 = 0xB6;
    pub const COUNTER: u32 = 0xC0;
    pub const COUNTER_GLOBAL: u32 = 0xD0;
    pub const COUNTER_CPU: u32 = 0xD1;
}

/// Offset of the command-specific union.
const U: usize = 40;
/// Largest channel blob an app accepts.
const MAX_CHANNEL_BLOB: u64 = 1 << 20;
/// Largest filter or capture bytecode an app accepts.
const MAX_BYTECODE: u32 = 65_536;
/// Largest counter configuration an app accepts.
const MAX_COUNTER_CONF: u64 = 4_096;
/// Longest app-context provider or context name (NUL included) an app accepts.
const MAX_APP_CTX_NAME: u32 = 256;
/// Size of one exclusion name.
pub const EXCLUSION_NAME_LEN: usize = 256;
/// `lttng_ust_abi_event_notifier`: the only length EVENT_NOTIFIER_CREATE accepts.
const EVENT_NOTIFIER_LEN: u32 = 612;
/// Context type of an application context, whose names follow the message.
const CTX_APP_CONTEXT: u32 = 7;

/// One 612-byte command, read field by field at fixed offsets.
pub struct Command {
    bytes: Box<[u8; CMD_MSG_LEN]>,
}

impl Command {
    pub fn new(bytes: Box<[u8; CMD_MSG_LEN]>) -> Self {
        Self { bytes }
    }

    pub fn handle(&self) -> u32 {
        self.u32_at(0)
    }

    pub fn op(&self) -> u32 {
        self.u32_at(4)
    }

    pub fn u32_at(&self, off: usize) -> u32 {
        let mut a = [0u8; 4];
        a.copy_from_slice(&self.bytes[off..off + 4]);
        u32::from_le_bytes(a)
    }

    pub fn i32_at(&self, off: usize) -> i32 {
        self.u32_at(off) as i32
    }

    fn u64_at(&self, off: usize) -> u64 {
        let mut a = [0u8; 8];
        a.copy_from_slice(&self.bytes[off..off + 8]);
        u64::from_le_bytes(a)
    }

    /// EVENT: (name, loglevel_type, loglevel).
    pub fn event_args(&self) -> (String, i32, i32) {
        (
            cstr(&self.bytes[U + 4..U + 260]),
            self.i32_at(U + 260),
            self.i32_at(U + 264),
        )
    }

    /// What follows this message and how the app answers it.
    pub fn framing(&self) -> Framing {
        let plain = Framing::Plain { payload: 0, fds: 0 };
        match self.op() {
            op::CHANNEL => {
                let len = self.u64_at(U);
                if len > MAX_CHANNEL_BLOB {
                    return Framing::Refused("channel blob larger than 1 MiB");
                }
                Framing::Plain {
                    payload: len as usize,
                    fds: 1,
                }
            }
            op::STREAM => Framing::Plain { payload: 0, fds: 2 },
            op::FILTER => {
                let (size, reloc) = (self.u32_at(U), self.u32_at(U + 4));
                if size > MAX_BYTECODE || reloc > size {
                    return Framing::Refused("filter bytecode out of bounds");
                }
                Framing::Plain {
                    payload: size as usize,
                    fds: 0,
                }
            }
            op::EXCLUSION => match self.u32_at(U) {
                // The app returns without reading or replying (lttng-ust 2.13.5).
                0 => Framing::Silent,
                count => Framing::Plain {
                    payload: count as usize * EXCLUSION_NAME_LEN,
                    fds: 0,
                },
            },
            op::CONTEXT if self.u32_at(U) == CTX_APP_CONTEXT => {
                let (provider, name) = (self.u32_at(U + 20), self.u32_at(U + 24));
                if provider >= MAX_APP_CTX_NAME || name >= MAX_APP_CTX_NAME {
                    return Framing::Refused("app context name too long");
                }
                Framing::Plain {
                    payload: (provider + name) as usize,
                    fds: 0,
                }
            }
            op::EVENT_NOTIFIER_GROUP_CREATE => Framing::AckFirst { payload: 0, fds: 1 },
            op_ext::EVENT_NOTIFIER_CREATE => {
                if self.u32_at(U) != EVENT_NOTIFIER_LEN {
                    return Framing::Refused("event notifier length is not 612");
                }
                Framing::AckFirst {
                    payload: EVENT_NOTIFIER_LEN as usize,
                    fds: 0,
                }
            }
            op_ext::CAPTURE => {
                let size = self.u32_at(U);
                if size > MAX_BYTECODE {
                    return Framing::Refused("capture bytecode too large");
                }
                Framing::AckFirst {
                    payload: size as usize,
                    fds: 0,
                }
            }
            op_ext::COUNTER => {
                let len = self.u64_at(U);
                if len > MAX_COUNTER_CONF {
                    return Framing::Refused("counter configuration too large");
                }
                Framing::AckFirst {
                    payload: len as usize,
                    fds: 0,
                }
            }
            op_ext::COUNTER_GLOBAL | op_ext::COUNTER_CPU => {
                Framing::AckFirst { payload: 0, fds: 1 }
            }
            _ => plain,
        }
    }
}

/// How a command is framed on the wire after its 612 bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// `payload` bytes, then a 1-byte message carrying `fds` fds, then the reply.
    Plain { payload: usize, fds: usize },
    /// A zero reply first, then the payload and fds, then the real reply.
    AckFirst { payload: usize, fds: usize },
    /// The app reads nothing more and sends no reply.
    Silent,
    /// The app leaves the payload unread, sends nothing and drops the
    /// connection.
    Refused(&'static str),
}

/// Reads a NUL-terminated string from a fixed area (lossy: names are ASCII).
pub fn cstr(area: &[u8]) -> String {
    let end = area.iter().position(|&b| b == 0).unwrap_or(area.len());
    String::from_utf8_lossy(&area[..end]).into_owned()
}

/// Human name of a command, for the statistics.
pub fn op_name(cmd: u32) -> &'static str {
    match cmd {
        op::RELEASE => "RELEASE",
        op::SESSION => "SESSION",
        op::TRACER_VERSION => "TRACER_VERSION",
        op::TRACEPOINT_LIST => "TRACEPOINT_LIST",
        op::WAIT_QUIESCENT => "WAIT_QUIESCENT",
        op::REGISTER_DONE => "REGISTER_DONE",
        op::TRACEPOINT_FIELD_LIST => "TRACEPOINT_FIELD_LIST",
        op::EVENT_NOTIFIER_GROUP_CREATE => "EVENT_NOTIFIER_GROUP_CREATE",
        op::CHANNEL => "CHANNEL",
        op::SESSION_START => "SESSION_START",
        op::SESSION_STOP => "SESSION_STOP",
        op::SESSION_STATEDUMP => "SESSION_STATEDUMP",
        op::STREAM => "STREAM",
        op::EVENT => "EVENT",
        op::CONTEXT => "CONTEXT",
        op::FLUSH_BUFFER => "FLUSH_BUFFER",
        op::ENABLE => "ENABLE",
        op::DISABLE => "DISABLE",
        op::TRACEPOINT_LIST_GET => "TRACEPOINT_LIST_GET",
        op::TRACEPOINT_FIELD_LIST_GET => "TRACEPOINT_FIELD_LIST_GET",
        op::FILTER => "FILTER",
        op::EXCLUSION => "EXCLUSION",
        op_ext::EVENT_NOTIFIER_CREATE => "EVENT_NOTIFIER_CREATE",
        op_ext::CAPTURE => "CAPTURE",
        op_ext::COUNTER => "COUNTER",
        op_ext::COUNTER_GLOBAL => "COUNTER_GLOBAL",
        op_ext::COUNTER_CPU => "COUNTER_CPU",
        _ => "UNKNOWN",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ustd::wire::cmd::{CmdMsg, LoglevelType};

    fn view(m: CmdMsg) -> Command {
        Command::new(Box::new(m.bytes))
    }

    #[test]
    fn framing_follows_the_app() {
        assert_eq!(
            view(CmdMsg::channel(3, 920, false)).framing(),
            Framing::Plain {
                payload: 920,
                fds: 1
            }
        );
        assert_eq!(
            view(CmdMsg::stream(4, 4096, 1)).framing(),
            Framing::Plain { payload: 0, fds: 2 }
        );
        assert_eq!(
            view(CmdMsg::filter(5, 18, 14, 0)).framing(),
            Framing::Plain {
                payload: 18,
                fds: 0
            }
        );
        assert!(matches!(
            view(CmdMsg::filter(5, 18, 19, 0)).framing(),
            Framing::Refused(_)
        ));
        assert_eq!(
            view(CmdMsg::exclusion(5, 2)).framing(),
            Framing::Plain {
                payload: 512,
                fds: 0
            }
        );
        assert_eq!(view(CmdMsg::exclusion(5, 0)).framing(), Framing::Silent);
        assert!(matches!(
            view(CmdMsg::channel(3, (1 << 20) + 1, false)).framing(),
            Framing::Refused(_)
        ));
        assert_eq!(
            view(CmdMsg::simple(0, op::EVENT_NOTIFIER_GROUP_CREATE)).framing(),
            Framing::AckFirst { payload: 0, fds: 1 }
        );
        assert_eq!(
            view(CmdMsg::simple(0, op::TRACER_VERSION)).framing(),
            Framing::Plain { payload: 0, fds: 0 }
        );
    }

    #[test]
    fn event_args_round_trip() {
        let c = view(CmdMsg::event(4, "ustd_bench:*", LoglevelType::Range, 6));
        assert_eq!((c.handle(), c.op()), (4, op::EVENT));
        assert_eq!(c.event_args(), ("ustd_bench:*".to_string(), 1, 6));
    }
}
