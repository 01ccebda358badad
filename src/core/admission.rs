//! The end of an app's registration, in the order that keeps it from
//! missing a configuration change (see `core::session`, Concurrency): read
//! the configuration generation *before* the global update, publish the app
//! once its setup (global update, REGISTER_DONE) is done, then compare. A
//! change the global update may have missed bumped the generation before
//! its fan-out took the registry snapshot this app was not yet in, so the
//! app catches up with a sync of its own. `io::registration` and the loom
//! models `publication` and `session_owner` run these same steps.

use crate::core::app::App;
use crate::core::registry::{AppRegistry, PublishError};
use crate::core::session::Sessions;
use crate::sync::Arc;

/// An app's registration between its handshake and its publication.
#[must_use = "an admission ends with `publish`"]
pub struct Admission {
    generation: u64,
}

/// A published app: up to date, or one sync behind the configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admitted {
    UpToDate,
    CatchUp,
}

impl Admission {
    /// Before the global update.
    pub fn begin<T>(sessions: &Sessions<T>) -> Self {
        Self {
            generation: sessions.generation(),
        }
    }

    /// After the app's setup: makes it visible, then says whether a change
    /// raced the global update. Fails if the app hung up meanwhile.
    pub fn publish<T, C: Send + Sync + 'static>(
        self,
        sessions: &Sessions<T>,
        registry: &AppRegistry<C>,
        app: &Arc<App<C>>,
    ) -> Result<Admitted, PublishError> {
        registry.publish(app)?;
        Ok(if sessions.generation() == self.generation {
            Admitted::UpToDate
        } else {
            Admitted::CatchUp
        })
    }
}
