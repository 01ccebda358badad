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
}
