//! Facts about the host the daemon runs on: local date and UTC offset,
//! hostname, boot id, the realtime clock's offset, fresh uuids, user and group ids. A leaf: it
//! imports nothing of the daemon but the metadata clock arithmetic.

use std::time::SystemTime;

use jiff::tz::TimeZone;
use jiff::Timestamp;

use crate::core::metadata::ClockSample;

fn timestamp(t: SystemTime) -> Timestamp {
    Timestamp::try_from(t).unwrap_or(Timestamp::UNIX_EPOCH)
}

/// `YYYYmmdd-HHMMSS` in local time, as lttng names trace directories.
pub fn local_datetime(t: SystemTime) -> String {
    timestamp(t)
        .to_zoned(TimeZone::system())
        .strftime("%Y%m%d-%H%M%S")
        .to_string()
}

/// Whole seconds since the epoch and the local UTC offset at that instant.
pub fn unix_and_offset(t: SystemTime) -> (i64, i32) {
    let ts = timestamp(t);
    (ts.as_second(), TimeZone::system().to_offset(ts).seconds())
}

/// A random (version 4) uuid.
pub fn random_uuid() -> [u8; 16] {
    let mut u = [0u8; 16];
    if rustix::rand::getrandom(&mut u, rustix::rand::GetRandomFlags::empty()).is_err() {
        // Unique enough as a fallback: time and pid.
        let t = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        u.copy_from_slice(&(t ^ (u128::from(std::process::id()) << 64)).to_le_bytes());
    }
    u[6] = (u[6] & 0x0f) | 0x40;
    u[8] = (u[8] & 0x3f) | 0x80;
    u
}

pub fn hostname() -> String {
    rustix::system::uname()
        .nodename()
        .to_string_lossy()
        .into_owned()
}

pub fn boot_id() -> Option<String> {
    std::fs::read_to_string("/proc/sys/kernel/random/boot_id")
        .ok()
        .map(|s| s.trim().to_owned())
}

/// CLOCK_REALTIME minus CLOCK_MONOTONIC in ns, as lttng measures it (the
/// tightest of several bracketed readings).
pub fn measure_clock_offset() -> i64 {
    use rustix::time::{clock_gettime, ClockId};
    let ns = |c| {
        let t = clock_gettime(c);
        (t.tv_sec as u64)
            .wrapping_mul(1_000_000_000)
            .wrapping_add(t.tv_nsec as u64)
    };
    let samples: Vec<ClockSample> = (0..10)
        .map(|_| {
            let clock_before = ns(ClockId::Monotonic);
            let realtime = ns(ClockId::Realtime);
            let clock_after = ns(ClockId::Monotonic);
            ClockSample {
                clock_before,
                realtime,
                clock_after,
            }
        })
        .collect();
    crate::core::metadata::clock_offset_from_samples(&samples)
}

/// Whether the process is stopped (SIGSTOP) or stopped by a tracer: it may
/// be in the middle of something and resume.
pub(crate) fn process_stopped(pid: i32) -> bool {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return false;
    };
    // The state follows the command name, which may hold ')'.
    let state = stat
        .rsplit_once(')')
        .and_then(|(_, r)| r.split_whitespace().next());
    matches!(state, Some("T" | "t"))
}

/// The uid of a user name, through the system's name service (as
/// lttng-sessiond resolves `track --vuid NAME`).
pub(crate) fn user_id(name: &str) -> Option<u32> {
    let name = std::ffi::CString::new(name).ok()?;
    let mut buf = vec![0 as libc::c_char; 16 * 1024];
    // SAFETY: all-zero is a valid `passwd` (null pointers, zero ids); it is only an out-parameter.
    let mut pw: libc::passwd = unsafe { std::mem::zeroed() };
    let mut found: *mut libc::passwd = std::ptr::null_mut();
    // SAFETY: `name` is NUL-terminated, `buf` outlives the call and its length is passed;
    // the strings written into `pw` are not read after `buf` is dropped.
    let rc = unsafe {
        libc::getpwnam_r(
            name.as_ptr(),
            &mut pw,
            buf.as_mut_ptr(),
            buf.len(),
            &mut found,
        )
    };
    (rc == 0 && !found.is_null()).then_some(pw.pw_uid)
}

/// The gid of a group name, through the system's name service.
pub(crate) fn group_id(name: &str) -> Option<u32> {
    let name = std::ffi::CString::new(name).ok()?;
    let mut buf = vec![0 as libc::c_char; 64 * 1024];
    // SAFETY: all-zero is a valid `group` (null pointers, zero id); it is only an out-parameter.
    let mut gr: libc::group = unsafe { std::mem::zeroed() };
    let mut found: *mut libc::group = std::ptr::null_mut();
    // SAFETY: `name` is NUL-terminated, `buf` outlives the call and its length is passed;
    // the strings written into `gr` are not read after `buf` is dropped.
    let rc = unsafe {
        libc::getgrnam_r(
            name.as_ptr(),
            &mut gr,
            buf.as_mut_ptr(),
            buf.len(),
            &mut found,
        )
    };
    (rc == 0 && !found.is_null()).then_some(gr.gr_gid)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_resolve_through_the_name_service() {
        assert_eq!(user_id("root"), Some(0));
        assert_eq!(group_id("root"), Some(0));
        assert_eq!(user_id("no-such-user-ustd"), None);
        assert_eq!(group_id("no-such-group-ustd"), None);
    }

    #[test]
    fn local_datetime_agrees_with_the_local_offset() {
        // 2021-03-04 05:06:07 UTC, shown in local time.
        let t = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_614_834_367);
        let (secs, off) = unix_and_offset(t);
        assert_eq!(secs, 1_614_834_367);
        let ctf = crate::core::metadata::format_ctf_datetime(secs, off);
        let local = ctf[..15].replace('T', "-");
        assert_eq!(local_datetime(t), local);
    }

    #[test]
    fn uuids_are_version_4_and_differ() {
        let (a, b) = (random_uuid(), random_uuid());
        assert_ne!(a, b);
        assert_eq!(a[6] >> 4, 4);
        assert_eq!(a[8] >> 6, 0b10);
    }
}
