//! `rotate`: closes a session's current trace chunk into
//! `<output>/archives/<begin>-<end>-<N>/` while recording goes on into the
//! next chunk (naming and rules in `core::rotation`).
//!
//! Order: the chunk state is claimed (a flag, no lock kept); every set's
//! metadata is pushed (the closed chunk describes all it holds); the
//! consumer switches and drains every stream, then reopens every file under
//! the next chunk's root with the metadata written whole (one request, so a
//! set created meanwhile lands in one chunk or the other, whole); the closed
//! chunk's directory is renamed into `archives/`; the state is released.
//! Runs on the caller's (blocking) thread.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use crate::core::rotation::{Rotation, RotationError};
use crate::engine::net_output::rotation_answer;
use crate::engine::output::{create_dir, FileOwner};
use crate::engine::trace::{SessionTrace, TraceError};
use crate::io::host::unix_and_offset;
use crate::sync::lock;

#[derive(Debug, thiserror::Error)]
pub enum RotateError {
    #[error(transparent)]
    Refused(#[from] RotationError),
    #[error(transparent)]
    Trace(#[from] TraceError),
    #[error("archiving {path}: {source}")]
    Archive {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Rotates `trace` (`active`: the session is recording). Returns the
/// rotation id and the archive's absolute path.
pub fn rotate(trace: &SessionTrace, active: bool) -> Result<(u64, PathBuf), RotateError> {
    let now = unix_and_offset(SystemTime::now());
    let r = lock(&trace.chunks).begin(now, active)?;
    if trace.net().is_some() {
        return rotate_net(trace, active, &r);
    }
    let out = trace.output_dir().to_owned();
    let done = switch_chunk(trace, &out, &r);
    lock(&trace.chunks).finish(&r, done.is_ok(), active);
    done?;
    tracing::info!(archive = %r.archive.display(), "trace chunk archived");
    Ok((r.id, out.join(&r.archive)))
}

/// A network session: the relayd names and moves the chunks (see
/// `engine::net_output`); the archive is the path it answers.
fn rotate_net(
    trace: &SessionTrace,
    active: bool,
    r: &Rotation,
) -> Result<(u64, PathBuf), RotateError> {
    let done = trace.push_all().and_then(|_| {
        let answer = trace.consumer().net_chunk(false)?;
        rotation_answer(&answer).map_err(TraceError::Net)
    });
    let mut chunks = lock(&trace.chunks);
    chunks.finish(r, done.is_ok(), active);
    let path = PathBuf::from(done?);
    chunks.set_last_archive(path.clone());
    drop(chunks);
    tracing::info!(archive = %path.display(), "trace chunk archived at the relayd");
    Ok((r.id, path))
}

fn switch_chunk(trace: &SessionTrace, out: &Path, r: &Rotation) -> Result<(), RotateError> {
    trace.push_all()?;
    trace
        .consumer()
        .rotate(out, &out.join(&r.to))
        .map_err(TraceError::from)?;
    archive(out, &r.from, &r.archive, trace.owner())
}

/// Destroy, once every file is closed: a session that rotated archives its
/// last chunk too, unless it rotated since it stopped (that chunk never
/// recorded). Failures are logged: the session is gone either way.
pub fn archive_last(trace: &SessionTrace) -> Option<PathBuf> {
    if let Some(n) = trace.net() {
        return n.last_archive().map(PathBuf::from);
    }
    let now = unix_and_offset(SystemTime::now());
    let out = trace.output_dir();
    let r = {
        let mut c = lock(&trace.chunks);
        if c.rotations() == 0 {
            return None;
        }
        match c.begin(now, false) {
            Ok(r) => r,
            Err(RotationError::AlreadyRotatedWhileStopped) => {
                // Opened by a rotation after the stop, never recorded:
                // lttng would not have created it.
                let dir = out.join(c.current_dir());
                drop(c);
                if let Err(e) = std::fs::remove_dir_all(&dir) {
                    tracing::warn!(dir = %dir.display(), error = %e, "removing the unrecorded last chunk failed");
                }
                return None;
            }
            Err(_) => return None,
        }
    };
    let done = archive(out, &r.from, &r.archive, trace.owner());
    lock(&trace.chunks).finish(&r, done.is_ok(), false);
    match done {
        Ok(()) => Some(out.join(&r.archive)),
        Err(e) => {
            tracing::warn!(error = %e, "archiving the last trace chunk failed");
            None
        }
    }
}

/// Moves a closed chunk (`from`, relative to `out`; empty: `out/ust`) to
/// `out/<archive>`. A chunk that never held a buffer set becomes an empty
/// `ust/`, as lttng leaves it.
pub(crate) fn archive(
    out: &Path,
    from: &Path,
    archive: &Path,
    owner: Option<FileOwner>,
) -> Result<(), RotateError> {
    let err = |path: &Path| {
        let path = path.to_owned();
        move |source| RotateError::Archive { path, source }
    };
    let dest = out.join(archive);
    let parent = dest.parent().unwrap_or(out);
    create_dir(parent, owner).map_err(|e| RotateError::Trace(e.into()))?;
    let (src, dest_ust) = if from.as_os_str().is_empty() {
        create_dir(&dest, owner).map_err(|e| RotateError::Trace(e.into()))?;
        (out.join("ust"), dest.join("ust"))
    } else {
        (out.join(from), dest.clone())
    };
    match std::fs::rename(&src, &dest_ust) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            create_dir(&dest.join("ust"), owner).map_err(|e| RotateError::Trace(e.into()))
        }
        Err(e) => Err(err(&src)(e)),
    }
}
