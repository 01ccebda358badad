//! The session commands under their former path, for front ends written
//! against it; they live in [`crate::command`].

pub use crate::command::{
    add_context, create, create_with, destroy, disable_event, enable_channel, enable_event,
    list_sessions, list_tracepoints, show_session, start, stop, CommandError,
};
pub use crate::io::host::local_datetime;
