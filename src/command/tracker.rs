//! The tracker commands: policy, inclusion-set add and remove (what
//! liblttng-ctl sends one by one), and `track`/`untrack` as users type them
//! (what the `lttng` and `ustd` CLIs do with those). Names are resolved
//! here, when added, as lttng-sessiond does; the session keeps them.

use crate::command::reply::Applied;
use crate::command::request::TrackInput;
use crate::command::session::change;
use crate::command::CommandError;
use crate::core::tracker::{TrackedAttr, TrackedValue, TrackingPolicy};
use crate::io::host::{group_id, user_id};
use crate::io::state::Daemon;

/// The value as the session keeps it (a name with the id it resolves to now).
fn resolve(attr: TrackedAttr, v: TrackInput) -> Result<TrackedValue, CommandError> {
    let name = match v {
        TrackInput::Id(id) if id >= 0 && id <= u32::MAX.into() => {
            return Ok(TrackedValue::Id(id));
        }
        TrackInput::Id(id) => return Err(CommandError::BadTrackerValue(id.to_string())),
        TrackInput::Name(n) => n,
    };
    let id = match attr {
        TrackedAttr::Vpid => return Err(CommandError::BadTrackerValue(name)),
        TrackedAttr::Vuid => user_id(&name).ok_or_else(|| CommandError::UserNotFound(name.clone())),
        TrackedAttr::Vgid => {
            group_id(&name).ok_or_else(|| CommandError::GroupNotFound(name.clone()))
        }
    }?;
    Ok(TrackedValue::Name {
        name,
        id: id.into(),
    })
}

/// A value to remove: names are matched as names, with no lookup.
fn removal(attr: TrackedAttr, v: TrackInput) -> Result<TrackedValue, CommandError> {
    match v {
        TrackInput::Name(name) => Ok(TrackedValue::Name { name, id: -1 }),
        id => resolve(attr, id),
    }
}

/// Sets a tracker's policy (a different one empties its inclusion set).
pub async fn set_tracker_policy(
    d: &Daemon,
    session: Option<String>,
    attr: TrackedAttr,
    policy: TrackingPolicy,
) -> Result<Applied, CommandError> {
    change(d, session, |c| {
        c.trackers.set_policy(attr, policy);
        Ok(())
    })
    .await
}

/// Adds one value to an inclusion set.
pub async fn tracker_add(
    d: &Daemon,
    session: Option<String>,
    attr: TrackedAttr,
    value: TrackInput,
) -> Result<Applied, CommandError> {
    let v = resolve(attr, value)?;
    change(d, session, |c| Ok(c.trackers.add(attr, v)?)).await
}

/// Removes one value from an inclusion set.
pub async fn tracker_remove(
    d: &Daemon,
    session: Option<String>,
    attr: TrackedAttr,
    value: TrackInput,
) -> Result<Applied, CommandError> {
    let v = removal(attr, value)?;
    change(d, session, |c| Ok(c.trackers.remove(attr, &v)?)).await
}

/// `track`: `None` includes every app; values join the inclusion set (the
/// policy becomes the inclusion set first if needed). All or nothing.
pub async fn track(
    d: &Daemon,
    session: Option<String>,
    attr: TrackedAttr,
    values: Option<Vec<TrackInput>>,
) -> Result<Applied, CommandError> {
    let Some(values) = values else {
        return set_tracker_policy(d, session, attr, TrackingPolicy::All).await;
    };
    let values = values
        .into_iter()
        .map(|v| resolve(attr, v))
        .collect::<Result<Vec<_>, _>>()?;
    change(d, session, |c| {
        if c.trackers.get(attr).policy != TrackingPolicy::Set {
            c.trackers.set_policy(attr, TrackingPolicy::Set);
        }
        values
            .into_iter()
            .try_for_each(|v| Ok(c.trackers.add(attr, v)?))
    })
    .await
}

/// `untrack`: `None` includes no app; values leave the inclusion set.
pub async fn untrack(
    d: &Daemon,
    session: Option<String>,
    attr: TrackedAttr,
    values: Option<Vec<TrackInput>>,
) -> Result<Applied, CommandError> {
    let Some(values) = values else {
        return set_tracker_policy(d, session, attr, TrackingPolicy::None).await;
    };
    let values: Vec<TrackedValue> = values
        .into_iter()
        .map(|v| removal(attr, v))
        .collect::<Result<_, _>>()?;
    change(d, session, |c| {
        values
            .iter()
            .try_for_each(|v| Ok(c.trackers.remove(attr, v)?))
    })
    .await
}
