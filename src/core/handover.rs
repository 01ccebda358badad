//! Generations of a per-UID buffer set: retiring buffers wedged by a dead
//! writer and handing the UID's apps over to fresh ones.
//!
//! A set starts at generation 0. Every app that maps the set's channels
//! *attaches* and is recorded with the generation whose buffers it got.
//! When a stream of the current generation stalls after a writer of the set
//! left, [`Handover::retire`] moves the set to the next generation: apps
//! attaching from then on get new buffers, and every app recorded at an
//! older generation is [`Handover::lagging`] until its next sync moves it
//! (and attaches it again). The watcher re-syncs lagging apps on every tick,
//! so an app that attached concurrently with a retirement (a sync already
//! past its generation check, a new app not yet published when the
//! retirement's fan-out ran) is still moved: the invariant is that an app
//! holding buffers older than the current generation is always lagging.

use std::collections::HashMap;

use crate::core::app::AppId;
use crate::sync::{lock, Mutex};

/// Why a retirement did not happen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retire {
    /// The set moved to this generation.
    Retired(u32),
    /// The stall is on an already retired generation.
    Stale,
    /// No app of the set left since the last retirement (or creation): the
    /// missing commit cannot be a dead writer's.
    NoDeadWriter,
    /// A live app of the set is stopped (SIGSTOP, ptrace): it may hold the
    /// reservation and resume, so the stall proves nothing.
    Inconclusive,
}

#[derive(Default)]
struct State {
    gen: u32,
    /// Live apps and the generation of the buffers each one maps.
    attached: HashMap<AppId, u32>,
    /// Apps that left the set, ever / as of the last retirement.
    departures: u64,
    departures_at_retire: u64,
}

#[derive(Default)]
pub struct Handover {
    state: Mutex<State>,
}

impl Handover {
    pub fn new() -> Self {
        Self::default()
    }

    /// The generation new buffers are created for.
    pub fn current(&self) -> u32 {
        lock(&self.state).gen
    }

    /// Records that `app` maps the set's buffers of the returned
    /// generation, which the caller must use.
    pub fn attach(&self, app: AppId) -> u32 {
        #[cfg(not(ustd_mutant = "attach_records_current"))]
        {
            let mut g = lock(&self.state);
            let gen = g.gen;
            g.attached.insert(app, gen);
            gen
        }
        #[cfg(ustd_mutant = "attach_records_current")]
        {
            // Bug: the generation used and the one recorded are read
            // separately, so a retirement in between is never caught up.
            let gen = lock(&self.state).gen;
            let mut g = lock(&self.state);
            let now = g.gen;
            g.attached.insert(app, now);
            gen
        }
    }

    /// The app left the set (its sockets closed).
    pub fn detach(&self, app: AppId) {
        let mut g = lock(&self.state);
        if g.attached.remove(&app).is_some() {
            g.departures += 1;
        }
    }

    /// Live apps of the set.
    pub fn apps(&self) -> Vec<AppId> {
        lock(&self.state).attached.keys().copied().collect()
    }

    /// Retires generation `stalled` after one of its streams stalled.
    /// `any_stopped` says whether a live app of the set is stopped.
    pub fn retire(&self, stalled: u32, any_stopped: bool) -> Retire {
        let mut g = lock(&self.state);
        if stalled != g.gen {
            return Retire::Stale;
        }
        if g.departures == g.departures_at_retire {
            return Retire::NoDeadWriter;
        }
        if any_stopped {
            return Retire::Inconclusive;
        }
        g.gen += 1;
        g.departures_at_retire = g.departures;
        Retire::Retired(g.gen)
    }

    /// Apps still mapping buffers of a retired generation.
    pub fn lagging(&self) -> Vec<AppId> {
        let g = lock(&self.state);
        g.attached
            .iter()
            .filter(|(_, gen)| **gen < g.gen)
            .map(|(a, _)| *a)
            .collect()
    }
}

#[cfg(all(test, not(ustd_loom)))]
mod tests {
    use super::*;

    #[test]
    fn retire_needs_a_departure_and_no_stopped_app() {
        let h = Handover::new();
        assert_eq!(h.attach(AppId(1)), 0);
        assert_eq!(h.attach(AppId(2)), 0);
        assert_eq!(h.retire(0, false), Retire::NoDeadWriter);
        h.detach(AppId(2));
        assert_eq!(h.retire(0, true), Retire::Inconclusive);
        assert_eq!(h.retire(0, false), Retire::Retired(1));
        assert_eq!(h.retire(0, false), Retire::Stale);
        assert_eq!(h.retire(1, false), Retire::NoDeadWriter);
        assert_eq!(h.lagging(), vec![AppId(1)]);
        assert_eq!(h.attach(AppId(1)), 1);
        assert!(h.lagging().is_empty());
    }
}
