//! Process-attribute trackers of a session (vpid, vuid, vgid): which apps
//! the session traces at all. Pure data with lttng-sessiond's rules; the
//! `io` layer resolves user and group names and applies the verdict to apps
//! (`io::app_sync`).
//!
//! Rules, as lttng-sessiond 2.13 keeps them: a tracker's policy is "all"
//! (the default), "none", or an inclusion set. Values are added to or
//! removed from the set only under the inclusion-set policy; changing the
//! policy empties the set. A name is kept as given (listings and session
//! files show it) with the id it resolved to when added, which is what apps
//! are matched on. An app is traced when all three trackers include it.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TrackedAttr {
    Vpid,
    Vuid,
    Vgid,
}

impl TrackedAttr {
    pub const ALL: [TrackedAttr; 3] = [Self::Vpid, Self::Vuid, Self::Vgid];

    /// As lttng names it in messages.
    pub fn label(self) -> &'static str {
        match self {
            Self::Vpid => "virtual process ID",
            Self::Vuid => "virtual user ID",
            Self::Vgid => "virtual group ID",
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TrackingPolicy {
    /// Every app (lttng's "include all").
    #[default]
    All,
    /// No app (lttng's "exclude all").
    None,
    /// The apps whose attribute is in the inclusion set.
    Set,
}

/// One inclusion-set entry: an id, or a name with the id it resolved to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum TrackedValue {
    Id(i64),
    Name { name: String, id: i64 },
}

impl TrackedValue {
    pub fn id(&self) -> i64 {
        match self {
            Self::Id(id) | Self::Name { id, .. } => *id,
        }
    }
}

impl std::fmt::Display for TrackedValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Id(id) => write!(f, "{id}"),
            Self::Name { name, .. } => write!(f, "`{name}`"),
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tracker {
    pub policy: TrackingPolicy,
    /// The inclusion set, in the order the values were added.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub values: Vec<TrackedValue>,
}

impl Tracker {
    fn includes(&self, id: i64) -> bool {
        match self.policy {
            TrackingPolicy::All => true,
            TrackingPolicy::None => false,
            TrackingPolicy::Set => self.values.iter().any(|v| v.id() == id),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TrackerError {
    #[error("{v} is already in the {a} inclusion set", v = .1, a = .0.label())]
    Exists(TrackedAttr, TrackedValue),
    #[error("{v} is not in the {a} inclusion set", v = .1, a = .0.label())]
    Missing(TrackedAttr, TrackedValue),
    #[error("the {a} tracker has no inclusion set (policy: {p:?})", a = .0.label(), p = .1)]
    NotASet(TrackedAttr, TrackingPolicy),
}

/// The three trackers of a session.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Trackers {
    #[serde(default)]
    pub vpid: Tracker,
    #[serde(default)]
    pub vuid: Tracker,
    #[serde(default)]
    pub vgid: Tracker,
}

impl Trackers {
    pub fn get(&self, attr: TrackedAttr) -> &Tracker {
        match attr {
            TrackedAttr::Vpid => &self.vpid,
            TrackedAttr::Vuid => &self.vuid,
            TrackedAttr::Vgid => &self.vgid,
        }
    }

    fn get_mut(&mut self, attr: TrackedAttr) -> &mut Tracker {
        match attr {
            TrackedAttr::Vpid => &mut self.vpid,
            TrackedAttr::Vuid => &mut self.vuid,
            TrackedAttr::Vgid => &mut self.vgid,
        }
    }

    /// Sets a policy; a different one empties the inclusion set.
    pub fn set_policy(&mut self, attr: TrackedAttr, policy: TrackingPolicy) {
        let t = self.get_mut(attr);
        if t.policy != policy {
            t.policy = policy;
            t.values.clear();
        }
    }

    /// Adds a value to the inclusion set (an equal value, id or name, is
    /// refused; an id and a name of the same id are two values, as in lttng).
    pub fn add(&mut self, attr: TrackedAttr, value: TrackedValue) -> Result<(), TrackerError> {
        let t = self.get_mut(attr);
        if t.policy != TrackingPolicy::Set {
            return Err(TrackerError::NotASet(attr, t.policy));
        }
        if t.values.iter().any(|v| same(v, &value)) {
            return Err(TrackerError::Exists(attr, value));
        }
        t.values.push(value);
        Ok(())
    }

    pub fn remove(&mut self, attr: TrackedAttr, value: &TrackedValue) -> Result<(), TrackerError> {
        let t = self.get_mut(attr);
        if t.policy != TrackingPolicy::Set {
            return Err(TrackerError::NotASet(attr, t.policy));
        }
        match t.values.iter().position(|v| same(v, value)) {
            Some(i) => {
                t.values.remove(i);
                Ok(())
            }
            None => Err(TrackerError::Missing(attr, value.clone())),
        }
    }

    /// Whether an app with these (virtual, as it registered them) ids is traced.
    pub fn tracks(&self, vpid: i32, vuid: u32, vgid: u32) -> bool {
        self.vpid.includes(vpid.into())
            && self.vuid.includes(vuid.into())
            && self.vgid.includes(vgid.into())
    }

    /// Every tracker includes all (nothing to show or save).
    pub fn is_default(&self) -> bool {
        *self == Self::default()
    }
}

/// Values are matched as lttng matches them: ids by id, names by name.
fn same(a: &TrackedValue, b: &TrackedValue) -> bool {
    match (a, b) {
        (TrackedValue::Id(x), TrackedValue::Id(y)) => x == y,
        (TrackedValue::Name { name: x, .. }, TrackedValue::Name { name: y, .. }) => x == y,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use TrackedAttr::*;

    fn name(n: &str, id: i64) -> TrackedValue {
        TrackedValue::Name { name: n.into(), id }
    }

    #[test]
    fn default_tracks_every_app() {
        let t = Trackers::default();
        assert!(t.is_default());
        assert!(t.tracks(1, 0, 0) && t.tracks(42, 1000, 1000));
    }

    #[test]
    fn values_only_under_the_inclusion_set_policy() {
        let mut t = Trackers::default();
        assert_eq!(
            t.add(Vpid, TrackedValue::Id(5)),
            Err(TrackerError::NotASet(Vpid, TrackingPolicy::All))
        );
        assert!(matches!(
            t.remove(Vuid, &TrackedValue::Id(5)),
            Err(TrackerError::NotASet(Vuid, _))
        ));
        t.set_policy(Vpid, TrackingPolicy::Set);
        t.add(Vpid, TrackedValue::Id(5)).unwrap();
        assert_eq!(
            t.add(Vpid, TrackedValue::Id(5)),
            Err(TrackerError::Exists(Vpid, TrackedValue::Id(5)))
        );
        assert!(t.tracks(5, 0, 0));
        assert!(!t.tracks(6, 0, 0));
        // Same policy again: the set stays; another policy empties it.
        t.set_policy(Vpid, TrackingPolicy::Set);
        assert_eq!(t.vpid.values, [TrackedValue::Id(5)]);
        t.set_policy(Vpid, TrackingPolicy::None);
        assert!(t.vpid.values.is_empty());
        assert!(!t.tracks(5, 0, 0));
        t.set_policy(Vpid, TrackingPolicy::All);
        assert!(t.is_default());
    }

    #[test]
    fn removing_the_last_value_tracks_nothing() {
        // As lttng-sessiond: `untrack --vpid P` after `track --vpid P` leaves an
        // empty inclusion set ("none"), not "all".
        let mut t = Trackers::default();
        t.set_policy(Vpid, TrackingPolicy::Set);
        t.add(Vpid, TrackedValue::Id(7)).unwrap();
        t.remove(Vpid, &TrackedValue::Id(7)).unwrap();
        assert_eq!(
            t.remove(Vpid, &TrackedValue::Id(7)),
            Err(TrackerError::Missing(Vpid, TrackedValue::Id(7)))
        );
        assert_eq!(t.vpid.policy, TrackingPolicy::Set);
        assert!(!t.tracks(7, 0, 0));
    }

    #[test]
    fn names_match_by_name_and_apps_by_resolved_id() {
        let mut t = Trackers::default();
        t.set_policy(Vuid, TrackingPolicy::Set);
        t.add(Vuid, name("root", 0)).unwrap();
        // The id of a tracked name is another value.
        t.add(Vuid, TrackedValue::Id(0)).unwrap();
        assert!(matches!(
            t.add(Vuid, name("root", 0)),
            Err(TrackerError::Exists(..))
        ));
        t.remove(Vuid, &TrackedValue::Id(0)).unwrap();
        assert!(t.tracks(9, 0, 50));
        assert!(!t.tracks(9, 1000, 50));
        assert_eq!(t.vuid.values[0].to_string(), "`root`");
    }

    #[test]
    fn an_app_must_be_in_all_three() {
        let mut t = Trackers::default();
        t.set_policy(Vuid, TrackingPolicy::Set);
        t.add(Vuid, TrackedValue::Id(1000)).unwrap();
        t.set_policy(Vgid, TrackingPolicy::Set);
        t.add(Vgid, TrackedValue::Id(100)).unwrap();
        assert!(t.tracks(1, 1000, 100));
        assert!(!t.tracks(1, 1000, 101));
        assert!(!t.tracks(1, 0, 100));
    }

    #[test]
    fn serde_round_trip() {
        let mut t = Trackers::default();
        t.set_policy(Vgid, TrackingPolicy::Set);
        t.add(Vgid, name("daemon", 1)).unwrap();
        t.add(Vgid, TrackedValue::Id(7)).unwrap();
        let s = serde_json::to_string(&t).unwrap();
        assert_eq!(serde_json::from_str::<Trackers>(&s).unwrap(), t);
    }
}
