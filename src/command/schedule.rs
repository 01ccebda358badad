//! The per-session task that rotates a started session on its schedules
//! (`enable-rotation`): every period of the timer schedule, and when the
//! consumer's byte count crosses the size schedule's threshold.
//!
//! One task per session trace, started with the trace and stopped (and
//! awaited) by destroy before the trace closes. It re-reads the schedules
//! each time they change. Each rotation is the same one `lttng rotate`
//! does (`command::rotate_session`), so the chunk state's `rotating` flag
//! keeps it to one at a time; a refusal (one under way, one already done
//! since the session stopped) is skipped, as lttng-sessiond does.

use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::command::CommandError;
use crate::core::rotation::SizeTrigger;
use crate::core::session::Session;
use crate::engine::rotation::RotateError;
use crate::engine::trace::SessionTrace;

pub(crate) async fn run(
    s: Arc<Session<SessionTrace>>,
    trace: Arc<SessionTrace>,
    shutdown: CancellationToken,
) {
    let room = &trace.schedule;
    let size = trace.consumer().size_watch().clone();
    let mut trigger: Option<SizeTrigger> = None;
    // (period, next tick)
    let mut timer: Option<(Duration, Instant)> = None;
    loop {
        let want = s.config().rotation;
        if trigger.map(|t| t.size) != want.size {
            trigger = want.size.map(|n| SizeTrigger::armed(n, size.consumed()));
            size.arm(trigger.map(|t| t.threshold));
        }
        // As lttng-sessiond's rotation timer, the period runs only while
        // the session is started: `start` and `stop` wake this task, and a
        // restart counts a whole period from the start.
        let period = want
            .timer_us
            .filter(|_| s.config().active)
            .map(Duration::from_micros);
        if timer.map(|t| t.0) != period {
            timer = period.map(|p| (p, Instant::now() + p));
        }
        let tick = async move {
            match timer {
                Some((_, at)) => tokio::time::sleep_until(at).await,
                None => std::future::pending().await,
            }
        };
        let why = tokio::select! {
            _ = room.stopping().cancelled() => return,
            _ = shutdown.cancelled() => return,
            _ = room.changed.notified() => continue,
            _ = size.crossed() => {
                let Some(t) = &mut trigger else { continue };
                if !t.fire(size.consumed()) {
                    continue;
                }
                size.arm(Some(t.threshold));
                "size"
            }
            _ = tick => {
                if let Some((p, at)) = &mut timer {
                    // Ticks missed while a rotation ran are not made up.
                    *at = (*at + *p).max(Instant::now());
                }
                "timer"
            }
        };
        match crate::command::rotate_session(&s).await {
            Ok(r) => {
                tracing::info!(session = %r.session, schedule = why, archive = %r.archive.display(), "scheduled rotation")
            }
            Err(CommandError::Rotate(RotateError::Refused(e))) => {
                tracing::debug!(schedule = why, error = %e, "scheduled rotation skipped")
            }
            Err(e) => tracing::warn!(schedule = why, error = %e, "scheduled rotation failed"),
        }
    }
}
