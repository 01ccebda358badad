//! The session commands under their former path, for front ends written
//! against it; they live in [`crate::command`].

pub use crate::command::{
    add_context, create, create_with, destroy, disable_channel, disable_event, enable_channel,
    enable_event, list_sessions, list_tracepoints, set_tracker_policy, show_session, start, stop,
    tracker_add, tracker_remove, CommandError,
};
pub use crate::io::host::local_datetime;
