//! The I/O layer: sockets, fd passing, the wait shm, timers and the
//! daemon's tasks, around the synchronous `core`.

pub mod app_conn;
pub mod app_sync;
pub mod cmd_actor;
pub mod commands;
pub mod control_server;
pub mod daemon;
pub mod daemonize;
pub mod fan_out;
pub mod fdpass;
pub mod host;
pub mod job_queue;
pub mod lttng_client;
pub mod lttng_front;
pub mod notify;
pub mod paths;
pub mod reaper;
pub mod registration;
pub mod stall_watch;
pub mod state;
pub mod stream;
pub mod sys;
pub mod wait_shm;
