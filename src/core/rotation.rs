//! Trace chunks of a rotating session, as lttng-sessiond 2.13.9 has them:
//! chunk `N` (from 0) began at `begin`; until the first rotation it is
//! written straight under the session output, later under
//! `<output>/<begin>-<N>/`; a rotation archives it as
//! `<output>/archives/<begin>-<end>-<N>/` (times as `%Y%m%dT%H%M%S%z`,
//! local; captures `tests/data/lttng_wire/rot_*`, `rotate_tree.out`).
//! Pure state: the engine does the I/O between `begin` and `finish`.

use std::path::{Path, PathBuf};

use crate::core::metadata::format_ctf_datetime;

/// A wall-clock instant: Unix seconds and the local UTC offset then.
pub type Stamp = (i64, i32);

fn fmt(t: Stamp) -> String {
    format_ctf_datetime(t.0, t.1)
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RotationError {
    #[error("session `{0}` needs to be started once")]
    NeverStarted(String),
    #[error("session `{0}` is a snapshot session: it has no trace chunk to rotate")]
    SnapshotSession(String),
    #[error("a rotation of the session is already under way")]
    Ongoing,
    #[error("the session was already rotated once since it became inactive")]
    AlreadyRotatedWhileStopped,
    #[error("session `{0}` streams to a relayd: its rotation is not supported yet")]
    NetworkSession(String),
}

/// The session's current chunk (owned by its trace, under a short lock).
#[derive(Debug, Clone)]
pub struct Chunks {
    index: u64,
    begin: Stamp,
    rotating: bool,
    rotated_since_stop: bool,
    /// Archives written so far, oldest first.
    archives: Vec<PathBuf>,
}

/// One rotation, from [`Chunks::begin`] to [`Chunks::finish`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rotation {
    /// Index of the chunk being closed (lttng's rotation id).
    pub id: u64,
    /// Where the closed chunk is written now, relative to the output
    /// (empty: the output itself, whose `ust/` is the chunk).
    pub from: PathBuf,
    /// The next chunk's root, relative to the output.
    pub to: PathBuf,
    /// The closed chunk's archive, relative to the output.
    pub archive: PathBuf,
    pub end: Stamp,
}

impl Chunks {
    /// Chunk 0, begun at `begin` (the session's first start).
    pub fn new(begin: Stamp) -> Self {
        Self {
            index: 0,
            begin,
            rotating: false,
            rotated_since_stop: false,
            archives: Vec::new(),
        }
    }

    /// Where the current chunk is written, relative to the output.
    pub fn current_dir(&self) -> PathBuf {
        match self.index {
            0 => PathBuf::new(),
            n => PathBuf::from(format!("{}-{n}", fmt(self.begin))),
        }
    }

    /// Starts a rotation at `now` (`active`: the session is recording).
    pub fn begin(&mut self, now: Stamp, active: bool) -> Result<Rotation, RotationError> {
        if self.rotating {
            return Err(RotationError::Ongoing);
        }
        if !active && self.rotated_since_stop {
            return Err(RotationError::AlreadyRotatedWhileStopped);
        }
        self.rotating = true;
        let next = self.index + 1;
        Ok(Rotation {
            id: self.index,
            from: self.current_dir(),
            to: PathBuf::from(format!("{}-{next}", fmt(now))),
            archive: Path::new("archives").join(format!(
                "{}-{}-{}",
                fmt(self.begin),
                fmt(now),
                self.index
            )),
            end: now,
        })
    }

    /// Ends the rotation `r`: on success the next chunk is current.
    pub fn finish(&mut self, r: &Rotation, ok: bool, active: bool) {
        self.rotating = false;
        if ok {
            self.index += 1;
            self.begin = r.end;
            self.rotated_since_stop = !active;
            self.archives.push(r.archive.clone());
        }
    }

    /// A network session's archive is where the relayd says it put it.
    pub fn set_last_archive(&mut self, path: PathBuf) {
        if let Some(a) = self.archives.last_mut() {
            *a = path;
        }
    }

    /// The session stopped: one rotation is allowed while it is inactive.
    pub fn stopped(&mut self) {
        self.rotated_since_stop = false;
    }

    /// Archive of rotation `id`, once finished.
    pub fn archive(&self, id: u64) -> Option<&Path> {
        self.archives.get(id as usize).map(PathBuf::as_path)
    }

    /// Chunks closed so far.
    pub fn rotations(&self) -> u64 {
        self.index
    }
}

/// What a rotation schedule is driven by (lttng's
/// `lttng_rotation_schedule_type`: 0 size threshold, 1 periodic).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ScheduleKind {
    Size,
    Timer,
}

impl ScheduleKind {
    pub fn from_wire(t: u8) -> Option<Self> {
        match t {
            0 => Some(Self::Size),
            1 => Some(Self::Timer),
            _ => None,
        }
    }

    /// The word lttng's CLI uses for it.
    pub fn name(self) -> &'static str {
        match self {
            Self::Size => "size-based",
            Self::Timer => "periodic",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScheduleError {
    #[error("session `{0}` cannot rotate (snapshot or live session)")]
    NotAvailable(String),
    #[error("a {} rotation schedule is already set", .0.name())]
    AlreadySet(ScheduleKind),
    #[error("no {} rotation schedule set", .0.name())]
    NotSet(ScheduleKind),
    #[error("invalid {} rotation schedule value {value}", .0.name(), value = .1)]
    Invalid(ScheduleKind, u64),
}

/// A session's rotation schedules (lttng-sessiond's `rotate_timer_period`
/// and `rotate_size`): part of its configuration, listed and saved.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Schedules {
    /// Period in microseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timer_us: Option<u64>,
    /// Bytes consumed since the last rotation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
}

impl Schedules {
    fn slot(&mut self, kind: ScheduleKind) -> &mut Option<u64> {
        match kind {
            ScheduleKind::Size => &mut self.size,
            ScheduleKind::Timer => &mut self.timer_us,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.timer_us.is_none() && self.size.is_none()
    }

    /// lttng's rules: one schedule of each kind; 0 and -1 are no value; a
    /// period fits a u32 (it arms a timer in µs).
    pub fn set(&mut self, kind: ScheduleKind, value: u64) -> Result<(), ScheduleError> {
        let too_big = kind == ScheduleKind::Timer && value >= u64::from(u32::MAX);
        if value == 0 || value == u64::MAX || too_big {
            return Err(ScheduleError::Invalid(kind, value));
        }
        let slot = self.slot(kind);
        if slot.is_some() {
            return Err(ScheduleError::AlreadySet(kind));
        }
        *slot = Some(value);
        Ok(())
    }

    /// Removes the schedule of `kind`, which must have `value` (lttng's
    /// client sends the value it listed).
    pub fn unset(&mut self, kind: ScheduleKind, value: u64) -> Result<(), ScheduleError> {
        let slot = self.slot(kind);
        if *slot != Some(value) {
            return Err(ScheduleError::NotSet(kind));
        }
        *slot = None;
        Ok(())
    }
}

/// The size schedule's trigger, as lttng-sessiond has it: a rotation when
/// the session's consumed bytes reach the threshold, the next threshold
/// being the consumed bytes then plus the size (so the size counts from
/// each rotation; bytes consumed while a rotation runs count for the next).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SizeTrigger {
    pub size: u64,
    pub threshold: u64,
}

impl SizeTrigger {
    /// Armed at `consumed` (when the schedule is set or the trace begins).
    pub fn armed(size: u64, consumed: u64) -> Self {
        Self {
            size,
            threshold: consumed.saturating_add(size),
        }
    }

    /// Whether `consumed` crossed the threshold; if so the trigger re-arms
    /// from there and the caller rotates.
    pub fn fire(&mut self, consumed: u64) -> bool {
        if consumed < self.threshold {
            return false;
        }
        *self = Self::armed(self.size, consumed);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // 2026-12-01 16:59:19 UTC.
    const T0: Stamp = (1_796_144_359, 0);
    const T1: Stamp = (1_796_144_360, 0);

    #[test]
    fn names_are_lttngs() {
        let mut c = Chunks::new(T0);
        let r = c.begin(T1, true).unwrap();
        assert_eq!(r.id, 0);
        assert_eq!(r.from, PathBuf::new());
        assert_eq!(r.to, PathBuf::from("20261201T165920+0000-1"));
        assert_eq!(
            r.archive,
            PathBuf::from("archives/20261201T165919+0000-20261201T165920+0000-0")
        );
        c.finish(&r, true, true);
        assert_eq!(c.current_dir(), PathBuf::from("20261201T165920+0000-1"));
        let r2 = c.begin((T1.0 + 3, 3600), true).unwrap();
        assert_eq!(r2.id, 1);
        assert_eq!(
            r2.archive,
            PathBuf::from("archives/20261201T165920+0000-20261201T175923+0100-1")
        );
        assert_eq!(c.archive(0), Some(r.archive.as_path()));
        assert_eq!(c.archive(1), None);
    }

    #[test]
    fn one_rotation_at_a_time_and_one_while_stopped() {
        let mut c = Chunks::new(T0);
        let r = c.begin(T1, true).unwrap();
        assert_eq!(c.begin(T1, true), Err(RotationError::Ongoing));
        c.finish(&r, false, true);
        assert_eq!(c.rotations(), 0, "a failed rotation closes nothing");
        c.stopped();
        let r = c.begin(T1, false).unwrap();
        c.finish(&r, true, false);
        assert_eq!(
            c.begin(T1, false),
            Err(RotationError::AlreadyRotatedWhileStopped)
        );
        c.stopped();
        assert!(c.begin(T1, false).is_ok());
    }
    #[test]
    fn one_schedule_of_each_kind() {
        let mut s = Schedules::default();
        s.set(ScheduleKind::Timer, 500_000).unwrap();
        assert_eq!(
            s.set(ScheduleKind::Timer, 1),
            Err(ScheduleError::AlreadySet(ScheduleKind::Timer))
        );
        s.set(ScheduleKind::Size, 4096).unwrap();
        assert_eq!(s.timer_us, Some(500_000));
        assert_eq!(s.size, Some(4096));
        assert_eq!(
            s.unset(ScheduleKind::Size, 4095),
            Err(ScheduleError::NotSet(ScheduleKind::Size)),
            "a value other than the set one removes nothing"
        );
        s.unset(ScheduleKind::Size, 4096).unwrap();
        assert_eq!(
            s.unset(ScheduleKind::Size, 4096),
            Err(ScheduleError::NotSet(ScheduleKind::Size))
        );
        s.unset(ScheduleKind::Timer, 500_000).unwrap();
        assert!(s.is_empty());
    }

    #[test]
    fn schedule_values_lttng_refuses() {
        let mut s = Schedules::default();
        for (k, v) in [
            (ScheduleKind::Size, 0),
            (ScheduleKind::Size, u64::MAX),
            (ScheduleKind::Timer, 0),
            (ScheduleKind::Timer, u64::from(u32::MAX)),
        ] {
            assert_eq!(s.set(k, v), Err(ScheduleError::Invalid(k, v)));
        }
        assert!(s.is_empty());
        assert_eq!(ScheduleKind::from_wire(0), Some(ScheduleKind::Size));
        assert_eq!(ScheduleKind::from_wire(1), Some(ScheduleKind::Timer));
        assert_eq!(ScheduleKind::from_wire(2), None);
    }

    #[test]
    fn size_trigger_counts_from_each_rotation() {
        let mut t = SizeTrigger::armed(100, 30);
        assert!(!t.fire(129));
        assert!(t.fire(130), "fires when the threshold is reached");
        assert_eq!(t.threshold, 230);
        assert!(!t.fire(130), "fires once per crossing");
        assert!(t.fire(500), "a big jump fires once...");
        assert_eq!(t.threshold, 600, "...and re-arms from where it was seen");
        assert!(!t.fire(599));
    }
}
