//! The snapshot commands: snapshot sessions, their outputs, and
//! `snapshot record` (lttng-sessiond 2.13's rules, see `core::snapshot`).

use std::path::PathBuf;
use std::time::SystemTime;

use crate::command::reply::{Recorded, SessionView, SnapshotOutputs};
use crate::command::request::NetRequest;
use crate::command::CommandError;
use crate::core::session::Session;
use crate::core::snapshot::{
    record_dir_name, Destination, SnapshotError, SnapshotOutput, SnapshotState,
};
use crate::engine::snapshot::RecordDest;
use crate::engine::trace::SessionTrace;
use crate::io::host::local_datetime;
use crate::io::state::Daemon;

/// A snapshot output as the front ends give it: a directory, a `file://`
/// URL, or a relayd (`net[6]://…`, or a `tcp[6]://` control URL with
/// its `data` URL), resolved here.
pub async fn destination(url: &str, data: Option<&str>) -> Result<Destination, CommandError> {
    let data = data.filter(|d| !d.is_empty());
    if data.is_none() && (!url.contains("://") || url.starts_with("file://")) {
        let p = url.strip_prefix("file://").unwrap_or(url);
        return Ok(Destination::Path(PathBuf::from(p)));
    }
    let req = match data {
        Some(d) => NetRequest {
            control_url: Some(url.to_owned()),
            data_url: Some(d.to_owned()),
            ..Default::default()
        },
        None => NetRequest {
            set_url: Some(url.to_owned()),
            ..Default::default()
        },
    };
    Ok(Destination::Net(super::session::resolve_net(req).await?))
}

/// Creates a snapshot session; its output (given, or lttng's default
/// `$HOME/lttng-traces/NAME-DATE`) becomes the output `snapshot-1`.
pub async fn create_snapshot_session(
    d: &Daemon,
    name: String,
    output: Option<Destination>,
    owner: (u32, u32),
) -> Result<SessionView, CommandError> {
    SessionTrace::check_library().map_err(|e| CommandError::Trace(e.to_string()))?;
    if let Some(Destination::Net(n)) = &output {
        super::session::probe_relayd(n).await?;
    }
    let dest = output.unwrap_or_else(|| Destination::Path(super::session::default_output(&name)));
    // A relayd output lists as its URL text; nothing is written locally.
    let output = match &dest {
        Destination::Path(p) => p.clone(),
        Destination::Net(n) => PathBuf::from(n.describe()),
    };
    let state = SnapshotState::with_default(Some(dest));
    let s = d
        .sessions
        .create_with(&name, output, owner, Some(state), None)?;
    Ok(SessionView::of(&s))
}

fn snapshot_session(
    d: &Daemon,
    session: Option<&str>,
) -> Result<std::sync::Arc<Session<SessionTrace>>, CommandError> {
    let s = d.sessions.resolve(session)?;
    let c = s.config();
    if c.snapshot.is_none() {
        return Err(SnapshotError::NotSnapshotSession(c.name).into());
    }
    Ok(s)
}

/// Applies `f` to the session's snapshot state (under the session's lock).
fn with_state<R>(
    d: &Daemon,
    s: &Session<SessionTrace>,
    f: impl FnOnce(&mut SnapshotState) -> Result<R, SnapshotError>,
) -> Result<R, CommandError> {
    let mut out = None;
    d.sessions.update(s, |c| {
        let name = c.name.clone();
        let st = c.snapshot.as_mut();
        out = Some(match st {
            Some(st) => f(st),
            None => Err(SnapshotError::NotSnapshotSession(name)),
        });
        Ok(())
    })?;
    out.expect("update ran").map_err(CommandError::from)
}

pub fn add_output(
    d: &Daemon,
    session: Option<String>,
    name: Option<String>,
    max_size: u64,
    dest: Destination,
) -> Result<SnapshotOutput, CommandError> {
    let s = snapshot_session(d, session.as_deref())?;
    with_state(d, &s, |st| st.add(name.as_deref(), max_size, dest))
}

/// By id, or by name when `id` is 0.
pub fn del_output(
    d: &Daemon,
    session: Option<String>,
    id: u32,
    name: &str,
) -> Result<SnapshotOutput, CommandError> {
    let s = snapshot_session(d, session.as_deref())?;
    with_state(d, &s, |st| st.remove(id, name))
}

pub fn list_outputs(d: &Daemon, session: Option<String>) -> Result<SnapshotOutputs, CommandError> {
    let s = snapshot_session(d, session.as_deref())?;
    let c = s.config();
    Ok(SnapshotOutputs {
        session: c.name,
        outputs: c.snapshot.map(|st| st.outputs).unwrap_or_default(),
    })
}

/// `snapshot record [-n NAME] [-m MAX_SIZE] [URL]`: one record directory
/// `<output>/<name>-<YYYYmmdd-HHMMSS>-<N>` per output (the URL, when
/// given, instead of the session's outputs); at a relayd, a trace chunk of
/// that name under the session's directory there. Tracing goes on; a
/// stopped session is recorded as it stopped.
pub async fn record(
    d: &Daemon,
    session: Option<String>,
    name: Option<String>,
    max_size: Option<u64>,
    url: Option<Destination>,
) -> Result<Recorded, CommandError> {
    let s = snapshot_session(d, session.as_deref())?;
    let trace = s.trace().ok_or(SnapshotError::NotStarted)?;
    let cfg = s.config();
    let targets = cfg
        .snapshot
        .as_ref()
        .map(|st| st.targets(name.as_deref(), max_size, url))
        .transpose()?
        .unwrap_or_default();
    // The record number is taken now, so concurrent records never share a
    // directory; a record that fails after this leaves its number unused.
    let n = with_state(d, &s, |st| {
        st.records += 1;
        Ok(st.records - 1)
    })?;
    let stamp = local_datetime(SystemTime::now());
    let channels = cfg.channels.clone();
    let session_id = s.id;
    let done = tokio::task::spawn_blocking(move || -> Result<Vec<PathBuf>, SnapshotError> {
        let mut dirs = Vec::new();
        for o in &targets {
            let chunk = record_dir_name(&o.name, &stamp, n);
            let dest = match &o.net {
                None => RecordDest::Dir(o.path.join(&chunk)),
                Some(out) => RecordDest::Relayd {
                    out,
                    session_id,
                    n,
                    chunk: &chunk,
                },
            };
            let r = crate::engine::snapshot::record(&trace, &channels, &dest, o.max_size);
            dirs.push(r?);
        }
        Ok(dirs)
    })
    .await
    .map_err(|e| CommandError::Trace(e.to_string()))?;
    let dirs = match done {
        Ok(dirs) => dirs,
        Err(e) => {
            if matches!(e, SnapshotError::MaxSizeInvalid(_)) {
                // Refused before anything was written: lttng does not count it.
                let _ = with_state(d, &s, |st| {
                    if st.records == n + 1 {
                        st.records = n;
                    }
                    Ok(())
                });
            }
            return Err(e.into());
        }
    };
    Ok(Recorded {
        session: cfg.name,
        dirs,
    })
}
