//! What a registry needs to know about its trace before the first byte of
//! TSDL is written: ABI of the first app, tracer version, buffering scheme,
//! session identity and the trace clock. All values come in from the caller;
//! nothing here reads a clock or the host name.

use crate::wire::reg::RegMsg;

/// Byte order of the traced app (and so of the trace).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ByteOrder {
    Little,
    Big,
}

impl ByteOrder {
    /// The daemon's own order; the registration decoder rejects apps of the
    /// other order, so an accepted app always has this one.
    pub const fn native() -> Self {
        if cfg!(target_endian = "big") {
            Self::Big
        } else {
            Self::Little
        }
    }

    pub(super) fn tsdl(self) -> &'static str {
        match self {
            Self::Little => "le",
            Self::Big => "be",
        }
    }

    /// The explicit attribute printed for a field whose byte order is the
    /// reverse of the trace's.
    pub(super) fn reverse_attribute(self) -> &'static str {
        match self {
            Self::Little => " byte_order = be;",
            Self::Big => " byte_order = le;",
        }
    }
}

/// The ABI of the app that created the registry, as it described itself in
/// its registration message. Alignments are in bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Abi {
    pub bits_per_long: u32,
    pub uint8_align: u32,
    pub uint16_align: u32,
    pub uint32_align: u32,
    pub uint64_align: u32,
    pub long_align: u32,
    pub byte_order: ByteOrder,
}

impl Abi {
    pub fn from_reg_msg(msg: &RegMsg) -> Self {
        let [uint8_align, uint16_align, uint32_align, uint64_align, long_align] = msg.alignments;
        Self {
            bits_per_long: msg.bits_per_long,
            uint8_align,
            uint16_align,
            uint32_align,
            uint64_align,
            long_align,
            byte_order: ByteOrder::native(),
        }
    }
}

/// Tracer version of the app that created the registry (`TRACER_VERSION`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TracerVersion {
    pub major: u32,
    pub minor: u32,
    pub patchlevel: u32,
}

/// Who shares the registry, which decides the `tracer_buffering_*` env keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BufferingScheme {
    /// One registry per (session, uid, bitness), shared by all those apps.
    PerUid { uid: u32 },
    /// One registry per app session; the env block also describes the app.
    PerPid {
        pid: i32,
        procname: String,
        /// App registration time, formatted by [`format_ctf_datetime`].
        registration_datetime: String,
    },
}

/// The trace clock as the apps see it (the default is CLOCK_MONOTONIC in ns).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClockParams {
    pub name: String,
    /// Printed only when present (the default clock uses the boot id).
    pub uuid: Option<String>,
    pub description: String,
    pub freq: u64,
    /// Clock value of the Epoch, in clock cycles (may be negative); see
    /// [`clock_offset_from_samples`].
    pub offset: i64,
}

impl ClockParams {
    /// The default lttng-ust clock: `monotonic`, 1 GHz.
    pub fn monotonic(boot_id: Option<String>, offset: i64) -> Self {
        Self {
            name: "monotonic".into(),
            uuid: boot_id,
            description: "Monotonic Clock".into(),
            freq: 1_000_000_000,
            offset,
        }
    }
}

/// Everything the session statedump (the TSDL preamble) is made of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionParams {
    /// Trace UUID (random v4), also stamped in every packet header.
    pub uuid: [u8; 16],
    pub abi: Abi,
    pub tracer: TracerVersion,
    pub scheme: BufferingScheme,
    /// Session name (`"auto"` for generated names, as lttng does).
    pub trace_name: String,
    /// Session creation time, formatted by [`format_ctf_datetime`].
    pub creation_datetime: String,
    pub hostname: String,
    pub clock: ClockParams,
}

/// Formats a UUID the way TSDL expects it (lowercase 8-4-4-4-12).
pub fn format_uuid(uuid: &[u8; 16]) -> String {
    let mut s = String::with_capacity(36);
    for (i, b) in uuid.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            s.push('-');
        }
        s.push_str(&format!("{b:02x}"));
    }
    s
}

/// Formats a time as lttng's ISO 8601 basic form `YYYYmmddTHHMMSS±hhmm`, in
/// the local time given by `utc_offset_secs` (the caller reads the zone).
pub fn format_ctf_datetime(unix_secs: i64, utc_offset_secs: i32) -> String {
    use jiff::tz::{Offset, TimeZone};
    let ts = jiff::Timestamp::from_second(unix_secs).unwrap_or(jiff::Timestamp::UNIX_EPOCH);
    let off = Offset::from_seconds(utc_offset_secs).unwrap_or(Offset::UTC);
    ts.to_zoned(TimeZone::fixed(off))
        .strftime("%Y%m%dT%H%M%S%z")
        .to_string()
}

/// One reading of the realtime clock bracketed by two trace-clock readings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClockSample {
    pub clock_before: u64,
    /// Realtime already converted to clock cycles since the Epoch.
    pub realtime: u64,
    pub clock_after: u64,
}

/// The clock offset lttng computes: of all samples, keep the one read in the
/// shortest time (the later one wins a tie) and take realtime minus the
/// midpoint of its two clock readings. No samples gives 0.
pub fn clock_offset_from_samples(samples: &[ClockSample]) -> i64 {
    let mut best: Option<(u64, i64)> = None;
    for s in samples {
        let delta = s.clock_after.wrapping_sub(s.clock_before);
        if best.is_some_and(|(best_delta, _)| delta > best_delta) {
            continue;
        }
        let mid =
            s.clock_before / 2 + s.clock_after / 2 + (s.clock_before % 2 + s.clock_after % 2) / 2;
        best = Some((delta, s.realtime.wrapping_sub(mid) as i64));
    }
    best.map_or(0, |(_, offset)| offset)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuid_format() {
        let u = [
            0xd6, 0xb2, 0x08, 0xbb, 0xff, 0x37, 0x4b, 0x49, 0xb4, 0xa2, 0x50, 0x17, 0xe4, 0x0c,
            0x53, 0xec,
        ];
        assert_eq!(format_uuid(&u), "d6b208bb-ff37-4b49-b4a2-5017e40c53ec");
    }

    #[test]
    fn datetime_format() {
        // 2026-11-24 07:36:10 UTC, the fact sheet's sample.
        assert_eq!(
            format_ctf_datetime(1_795_505_770, 0),
            "20261124T073610+0000"
        );
        assert_eq!(format_ctf_datetime(0, 3600 + 1800), "19700101T013000+0130");
        assert_eq!(format_ctf_datetime(0, -5 * 3600), "19691231T190000-0500");
        // Leap day.
        assert_eq!(format_ctf_datetime(951_782_400, 0), "20000229T000000+0000");
    }

    #[test]
    fn clock_offset_keeps_tightest_sample() {
        let samples = [
            ClockSample {
                clock_before: 100,
                realtime: 10_000,
                clock_after: 140,
            },
            ClockSample {
                clock_before: 200,
                realtime: 10_150,
                clock_after: 210,
            },
            ClockSample {
                clock_before: 300,
                realtime: 10_400,
                clock_after: 400,
            },
        ];
        assert_eq!(clock_offset_from_samples(&samples), 10_150 - 205);
        assert_eq!(clock_offset_from_samples(&[]), 0);
        // Realtime behind the trace clock gives a negative offset.
        let neg = [ClockSample {
            clock_before: 1000,
            realtime: 10,
            clock_after: 1000,
        }];
        assert_eq!(clock_offset_from_samples(&neg), -990);
    }
}
