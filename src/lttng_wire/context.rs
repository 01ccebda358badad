//! ADD_CONTEXT payload: `lttng_event_context_comm` {u32 type} and its optional sub-record.

use super::cursor::Cursor;
use super::error::{WireError, WireResult};
use super::header::{PATH_MAX, SYMBOL_NAME_LEN};

/// `LTTNG_EVENT_CONTEXT_APP_CONTEXT`.
pub const CTX_APP: u32 = 15;
/// Perf counters: PERF_COUNTER 1 (deprecated), PERF_CPU_COUNTER 13, PERF_THREAD_COUNTER 14.
const CTX_PERF: [u32; 3] = [1, 13, 14];

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Context {
    /// A plain context by its `enum lttng_event_context_type` value (VPID 5, PROCNAME 2, ...).
    Simple(u32),
    /// `$app.provider:ctx`.
    App { provider: String, name: String },
    Perf {
        kind: u32,
        counter_type: u32,
        config: u64,
        name: String,
    },
}

impl Context {
    pub fn decode(buf: &[u8]) -> WireResult<Self> {
        let mut c = Cursor::new(buf);
        let kind = c.u32("context type")?;
        let ctx = if kind == CTX_APP {
            let plen = c.u32("app context")?;
            let nlen = c.u32("app context")?;
            let provider = c.lstr(plen, PATH_MAX as u32, "app context provider")?;
            let name = c.lstr(nlen, PATH_MAX as u32, "app context name")?;
            match (provider, name) {
                (Some(provider), Some(name)) => Context::App { provider, name },
                _ => {
                    return Err(WireError::Invalid {
                        what: "app context name length",
                        value: 0,
                    })
                }
            }
        } else if CTX_PERF.contains(&kind) {
            let counter_type = c.u32("perf context")?;
            let config = c.u64("perf context")?;
            let nlen = c.u32("perf context")?;
            let name = c
                .lstr(nlen, SYMBOL_NAME_LEN as u32, "perf counter name")?
                .unwrap_or_default();
            Context::Perf {
                kind,
                counter_type,
                config,
                name,
            }
        } else {
            Context::Simple(kind)
        };
        c.finish()?;
        Ok(ctx)
    }
}
