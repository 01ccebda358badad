//! The 136-byte registration message (`lttng_ust_ctl_reg_msg`) each app sends
//! first on both of its sockets.

use super::bytes::{Reader, Writer};
use super::error::{WireError, WireResult};

pub const REG_MSG_LEN: usize = 136;
pub const REG_MAGIC: u32 = 0xC57C_57C5;
/// Oldest and newest ABI majors a 2.13 daemon accepts.
pub const MAJOR_RANGE: std::ops::RangeInclusive<u32> = 8..=9;

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SocketType {
    Cmd,
    Notify,
}

/// What the app says about itself. pid/ppid/uid/gid are the app's *claims*
/// (its view inside its namespaces); the kernel's peer credentials are the
/// authority and live elsewhere.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegMsg {
    pub major: u32,
    pub minor: u32,
    pub pid: i32,
    pub ppid: i32,
    pub uid: u32,
    pub gid: u32,
    pub bits_per_long: u32,
    /// Alignments in bits: u8, u16, u32, u64, long.
    pub alignments: [u32; 5],
    pub socket_type: SocketType,
    pub name: String,
}

impl RegMsg {
    /// Decodes and validates magic, socket type, major and bitness, in the
    /// order lttng-ust-ctl checks them.
    pub fn decode(buf: &[u8]) -> WireResult<Self> {
        let r = Reader::new(buf, REG_MSG_LEN, "registration message")?;
        match r.u32(0) {
            REG_MAGIC => {}
            m if m.swap_bytes() == REG_MAGIC => return Err(WireError::CrossEndian),
            m => return Err(WireError::BadMagic(m)),
        }
        let socket_type = match r.u32(52) {
            0 => SocketType::Cmd,
            1 => SocketType::Notify,
            t => return Err(WireError::BadSocketType(t)),
        };
        let major = r.u32(4);
        if !MAJOR_RANGE.contains(&major) {
            return Err(WireError::UnsupportedMajor(major));
        }
        let bits_per_long = r.u32(28);
        if bits_per_long != 32 && bits_per_long != 64 {
            return Err(WireError::BadBitness(bits_per_long));
        }
        // The name is at most 15 chars + NUL in a 16-byte area; a missing NUL
        // is tolerated by reading the whole area (comm names always fit).
        let name_area = &buf[56..72];
        let end = name_area.iter().position(|&b| b == 0).unwrap_or(16);
        let name = String::from_utf8_lossy(&name_area[..end]).into_owned();
        Ok(Self {
            major,
            minor: r.u32(8),
            pid: r.i32(12),
            ppid: r.i32(16),
            uid: r.u32(20),
            gid: r.u32(24),
            bits_per_long,
            alignments: [r.u32(32), r.u32(36), r.u32(40), r.u32(44), r.u32(48)],
            socket_type,
            name,
        })
    }

    pub fn encode(&self) -> [u8; REG_MSG_LEN] {
        let mut w = Writer::<REG_MSG_LEN>::new();
        w.u32(0, REG_MAGIC)
            .u32(4, self.major)
            .u32(8, self.minor)
            .i32(12, self.pid)
            .i32(16, self.ppid)
            .u32(20, self.uid)
            .u32(24, self.gid)
            .u32(28, self.bits_per_long);
        for (i, a) in self.alignments.iter().enumerate() {
            w.u32(32 + 4 * i, *a);
        }
        w.u32(52, matches!(self.socket_type, SocketType::Notify) as u32)
            .cstr(56, 16, &self.name);
        w.buf
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(t: SocketType) -> RegMsg {
        RegMsg {
            major: 9,
            minor: 0,
            pid: 1234,
            ppid: 1,
            uid: 1000,
            gid: 1000,
            bits_per_long: 64,
            alignments: [8; 5],
            socket_type: t,
            name: "rapp".into(),
        }
    }

    #[test]
    fn round_trip() {
        for t in [SocketType::Cmd, SocketType::Notify] {
            let m = sample(t);
            assert_eq!(RegMsg::decode(&m.encode()).unwrap(), m);
        }
    }

    #[test]
    fn rejects_bad_input() {
        let good = sample(SocketType::Cmd).encode();
        assert!(matches!(
            RegMsg::decode(&good[..100]),
            Err(WireError::Truncated { .. })
        ));
        let mut b = good;
        b[0] = 0;
        assert!(matches!(RegMsg::decode(&b), Err(WireError::BadMagic(_))));
        let mut b = good;
        b[0..4].copy_from_slice(&REG_MAGIC.to_be_bytes());
        assert_eq!(RegMsg::decode(&b), Err(WireError::CrossEndian));
        let mut b = good;
        b[52] = 5;
        assert_eq!(RegMsg::decode(&b), Err(WireError::BadSocketType(5)));
        for major in [7u32, 10] {
            let mut b = good;
            b[4..8].copy_from_slice(&major.to_le_bytes());
            assert_eq!(RegMsg::decode(&b), Err(WireError::UnsupportedMajor(major)));
        }
        let mut b = good;
        b[28] = 16;
        assert_eq!(RegMsg::decode(&b), Err(WireError::BadBitness(16)));
    }

    /// Bytes of a real registration: what lttng-ust 2.13.5 (x86_64, app
    /// `rapp`) sent lttng-sessiond 2.13.9 on each socket, captured with
    /// strace by `tests/data/capture/capture.py` (see `tests/data/README.md`).
    #[test]
    fn decodes_captured_bytes() {
        let cmd = RegMsg::decode(include_bytes!("../../tests/data/reg_cmd.bin")).unwrap();
        let notify = RegMsg::decode(include_bytes!("../../tests/data/reg_notify.bin")).unwrap();
        // The capture's process: pid 7069, child of 7066, as root.
        for (m, t) in [(&cmd, SocketType::Cmd), (&notify, SocketType::Notify)] {
            assert_eq!(m.socket_type, t);
            assert_eq!(
                (m.major, m.minor, m.pid, m.ppid, m.uid, m.gid),
                (9, 0, 7069, 7066, 0, 0)
            );
            assert_eq!((m.bits_per_long, m.alignments), (64, [8; 5]));
            assert_eq!(m.name, "rapp");
        }
    }
}
