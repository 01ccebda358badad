//! Daemon -> app commands (612 bytes) and app -> daemon replies (324 bytes).

use super::bytes::{Reader, Writer};
use super::error::{WireError, WireResult};

pub const CMD_MSG_LEN: usize = 612;
pub const REPLY_LEN: usize = 324;
pub const ROOT_HANDLE: u32 = 0;
/// Offset of the command-specific union inside the 612-byte message.
const U: usize = 40;

/// Command numbers (`LTTNG_UST_ABI_*`).
pub mod op {
    pub const RELEASE: u32 = 0x01;
    pub const SESSION: u32 = 0x40;
    pub const TRACER_VERSION: u32 = 0x41;
    pub const TRACEPOINT_LIST: u32 = 0x42;
    pub const WAIT_QUIESCENT: u32 = 0x43;
    pub const REGISTER_DONE: u32 = 0x44;
    pub const TRACEPOINT_FIELD_LIST: u32 = 0x45;
    pub const EVENT_NOTIFIER_GROUP_CREATE: u32 = 0x46;
    pub const CHANNEL: u32 = 0x51;
    pub const SESSION_START: u32 = 0x52;
    pub const SESSION_STOP: u32 = 0x53;
    pub const SESSION_STATEDUMP: u32 = 0x54;
    pub const STREAM: u32 = 0x60;
    pub const EVENT: u32 = 0x61;
    pub const CONTEXT: u32 = 0x70;
    pub const FLUSH_BUFFER: u32 = 0x71;
    pub const ENABLE: u32 = 0x80;
    pub const DISABLE: u32 = 0x81;
    pub const TRACEPOINT_LIST_GET: u32 = 0x90;
    pub const TRACEPOINT_FIELD_LIST_GET: u32 = 0x91;
    pub const FILTER: u32 = 0xA0;
    pub const EXCLUSION: u32 = 0xA1;
}

/// `lttng_ust_error_code` values (negated on the wire).
pub mod ust_err {
    pub const ERR: i32 = 1024;
    pub const NOENT: i32 = 1025;
    pub const EXIST: i32 = 1026;
    pub const INVAL: i32 = 1027;
    pub const PERM: i32 = 1028;
    pub const NOSYS: i32 = 1029;
    pub const EXITING: i32 = 1030;
}

/// Loglevel selection of an EVENT command.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LoglevelType {
    All = 0,
    Range = 1,
    Single = 2,
}

/// A 612-byte command. Built through the constructors below so every
/// command-specific layout lives in one place.
#[derive(Clone, PartialEq, Eq)]
pub struct CmdMsg {
    pub bytes: [u8; CMD_MSG_LEN],
}

impl std::fmt::Debug for CmdMsg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "CmdMsg(handle={}, cmd={:#x})", self.handle(), self.cmd())
    }
}

impl CmdMsg {
    fn writer(handle: u32, cmd: u32) -> Writer<CMD_MSG_LEN> {
        let mut w = Writer::new();
        w.u32(0, handle).u32(4, cmd);
        w
    }

    /// A command with no arguments (TRACER_VERSION, REGISTER_DONE, ENABLE, RELEASE, ...).
    pub fn simple(handle: u32, cmd: u32) -> Self {
        Self {
            bytes: Self::writer(handle, cmd).buf,
        }
    }

    /// CHANNEL: `len` bytes of channel data follow, then one fd.
    pub fn channel(session: u32, len: u64, metadata: bool) -> Self {
        let mut w = Self::writer(session, op::CHANNEL);
        w.u64(U, len).i32(U + 8, metadata as i32);
        Self { bytes: w.buf }
    }

    /// STREAM: two fds follow (shm, wakeup).
    pub fn stream(channel: u32, shm_len: u64, cpu: u32) -> Self {
        let mut w = Self::writer(channel, op::STREAM);
        w.u64(U, shm_len).u32(U + 8, cpu);
        Self { bytes: w.buf }
    }

    /// EVENT: create a (disabled) enabler for `name` (may contain `*`).
    pub fn event(channel: u32, name: &str, lt: LoglevelType, loglevel: i32) -> Self {
        let mut w = Self::writer(channel, op::EVENT);
        w.i32(U, 0)
            .cstr(U + 4, 256, name)
            .i32(U + 260, lt as i32)
            .i32(U + 264, loglevel);
        Self { bytes: w.buf }
    }

    /// CONTEXT of a built-in type (see [`crate::wire::cmd::ctx`]).
    pub fn context(handle: u32, ctx: u32) -> Self {
        let mut w = Self::writer(handle, op::CONTEXT);
        w.u32(U, ctx);
        Self { bytes: w.buf }
    }

    /// FILTER: `data_size` bytecode bytes follow.
    pub fn filter(event: u32, data_size: u32, reloc_offset: u32, seqnum: u64) -> Self {
        let mut w = Self::writer(event, op::FILTER);
        w.u32(U, data_size)
            .u32(U + 4, reloc_offset)
            .u64(U + 8, seqnum);
        Self { bytes: w.buf }
    }

    /// EXCLUSION: `count` (> 0) 256-byte names follow.
    pub fn exclusion(event: u32, count: u32) -> Self {
        let mut w = Self::writer(event, op::EXCLUSION);
        w.u32(U, count);
        Self { bytes: w.buf }
    }

    /// The payload after EXCLUSION: each name NUL-padded to 256 bytes
    /// (names longer than 255 bytes are cut; the session layer refuses them).
    pub fn exclusion_names(names: &[String]) -> Vec<u8> {
        let mut out = vec![0u8; names.len() * 256];
        for (slot, name) in out.chunks_mut(256).zip(names) {
            let n = name.len().min(255);
            slot[..n].copy_from_slice(&name.as_bytes()[..n]);
        }
        out
    }

    pub fn handle(&self) -> u32 {
        u32::from_le_bytes(self.bytes[0..4].try_into().expect("4 bytes"))
    }
    pub fn cmd(&self) -> u32 {
        u32::from_le_bytes(self.bytes[4..8].try_into().expect("4 bytes"))
    }
}

/// Context type values (`lttng_ust_abi_context_type`).
pub mod ctx {
    pub const VTID: u32 = 0;
    pub const VPID: u32 = 1;
    pub const PTHREAD_ID: u32 = 2;
    pub const PROCNAME: u32 = 3;
    pub const IP: u32 = 4;
    pub const CPU_ID: u32 = 6;
    pub const VUID: u32 = 15;
    pub const VGID: u32 = 18;

    /// lttng's `add-context -t` names and their context type values.
    const NAMES: [(&str, u32); 8] = [
        ("vtid", VTID),
        ("vpid", VPID),
        ("pthread_id", PTHREAD_ID),
        ("procname", PROCNAME),
        ("ip", IP),
        ("cpu_id", CPU_ID),
        ("vuid", VUID),
        ("vgid", VGID),
    ];

    pub fn from_name(name: &str) -> Option<u32> {
        NAMES.iter().find(|(n, _)| *n == name).map(|(_, v)| *v)
    }

    pub fn name(value: u32) -> Option<&'static str> {
        NAMES.iter().find(|(_, v)| *v == value).map(|(n, _)| *n)
    }
}

/// A 324-byte reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub handle: u32,
    pub cmd: u32,
    pub ret_code: i32,
    pub ret_val: u32,
    /// The 276-byte union (tracer version, tracepoint list entry, ...).
    pub body: Box<[u8; REPLY_LEN - 48]>,
}

impl Reply {
    /// Decodes a reply and checks that it answers `req`.
    pub fn decode_for(buf: &[u8], req: &CmdMsg) -> WireResult<Self> {
        let r = Reader::new(buf, REPLY_LEN, "command reply")?;
        let (handle, cmd) = (r.u32(0), r.u32(4));
        if handle != req.handle() || cmd != req.cmd() {
            return Err(WireError::ReplyMismatch {
                want_handle: req.handle(),
                want_cmd: req.cmd(),
                got_handle: handle,
                got_cmd: cmd,
            });
        }
        let mut body = Box::new([0u8; REPLY_LEN - 48]);
        body.copy_from_slice(&buf[48..REPLY_LEN]);
        Ok(Self {
            handle,
            cmd,
            ret_code: r.i32(8),
            ret_val: r.u32(12),
            body,
        })
    }

    /// Tracer version (major, minor, patchlevel) of a TRACER_VERSION reply.
    pub fn tracer_version(&self) -> (u32, u32, u32) {
        let r = Reader::new(&self.body[..], 12, "tracer version").expect("body is 276 bytes");
        (r.u32(0), r.u32(4), r.u32(8))
    }

    /// Name and loglevel of a TRACEPOINT_LIST_GET reply.
    pub fn tracepoint_entry(&self) -> WireResult<(String, i32)> {
        let r = Reader::new(&self.body[..], 260, "tracepoint entry")?;
        Ok((r.cstr(0, 256, "tracepoint name")?, r.i32(256)))
    }

    /// Encodes a reply the way an app does (used by tests and the load generator).
    pub fn encode(
        handle: u32,
        cmd: u32,
        ret_code: i32,
        ret_val: u32,
        body: &[u8],
    ) -> [u8; REPLY_LEN] {
        let mut w = Writer::<REPLY_LEN>::new();
        w.u32(0, handle)
            .u32(4, cmd)
            .i32(8, ret_code)
            .u32(12, ret_val);
        let n = body.len().min(REPLY_LEN - 48);
        w.buf[48..48 + n].copy_from_slice(&body[..n]);
        w.buf
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn context_names_round_trip() {
        for n in [
            "vtid",
            "vpid",
            "pthread_id",
            "procname",
            "ip",
            "cpu_id",
            "vuid",
            "vgid",
        ] {
            let v = ctx::from_name(n).unwrap();
            assert_eq!(ctx::name(v), Some(n));
        }
        assert_eq!(ctx::from_name("perf:cpu:cycles"), None);
        assert_eq!(ctx::name(99), None);
    }

    #[test]
    fn event_layout() {
        let m = CmdMsg::event(4, "rich:simple", LoglevelType::All, -1);
        assert_eq!((m.handle(), m.cmd()), (4, op::EVENT));
        assert_eq!(&m.bytes[44..55], b"rich:simple");
        assert_eq!(m.bytes[55], 0);
        assert_eq!(
            i32::from_le_bytes(m.bytes[304..308].try_into().unwrap()),
            -1
        );
    }

    #[test]
    fn filter_and_exclusion_layout() {
        // As lttng-sessiond sent them for `a == 1`-sized bytecode (18 bytes,
        // relocation table at 14, seqnum 0) and `-x rich:skipme`.
        let f = CmdMsg::filter(5, 18, 14, 0);
        assert_eq!((f.handle(), f.cmd()), (5, op::FILTER));
        assert_eq!(u32::from_le_bytes(f.bytes[40..44].try_into().unwrap()), 18);
        assert_eq!(u32::from_le_bytes(f.bytes[44..48].try_into().unwrap()), 14);
        assert_eq!(u64::from_le_bytes(f.bytes[48..56].try_into().unwrap()), 0);
        let x = CmdMsg::exclusion(5, 1);
        assert_eq!(u32::from_le_bytes(x.bytes[40..44].try_into().unwrap()), 1);
        let names = CmdMsg::exclusion_names(&["rich:skipme".into(), "b".into()]);
        assert_eq!(names.len(), 512);
        assert_eq!(&names[..11], b"rich:skipme");
        assert!(names[11..256].iter().all(|&b| b == 0));
        assert_eq!(names[256], b'b');
    }

    #[test]
    fn stream_and_channel_layout() {
        let s = CmdMsg::stream(4, 2625920, 1);
        assert_eq!(
            u64::from_le_bytes(s.bytes[40..48].try_into().unwrap()),
            2625920
        );
        assert_eq!(u32::from_le_bytes(s.bytes[48..52].try_into().unwrap()), 1);
        let c = CmdMsg::channel(3, 920, false);
        assert_eq!(u64::from_le_bytes(c.bytes[40..48].try_into().unwrap()), 920);
    }

    #[test]
    fn reply_round_trip_and_mismatch() {
        let req = CmdMsg::simple(ROOT_HANDLE, op::TRACER_VERSION);
        let mut ver = [0u8; 12];
        ver[0..4].copy_from_slice(&2u32.to_le_bytes());
        ver[4..8].copy_from_slice(&13u32.to_le_bytes());
        ver[8..12].copy_from_slice(&5u32.to_le_bytes());
        let bytes = Reply::encode(0, op::TRACER_VERSION, 0, 0, &ver);
        let r = Reply::decode_for(&bytes, &req).unwrap();
        assert_eq!(r.tracer_version(), (2, 13, 5));
        let other = CmdMsg::simple(ROOT_HANDLE, op::REGISTER_DONE);
        assert!(matches!(
            Reply::decode_for(&bytes, &other),
            Err(WireError::ReplyMismatch { .. })
        ));
        assert!(matches!(
            Reply::decode_for(&bytes[..10], &req),
            Err(WireError::Truncated { .. })
        ));
    }
}
