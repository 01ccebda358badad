//! Harness for the loom models of ustd's core (see `tests/` and `run.sh`).
//!
//! Everything here is built only with `--cfg ustd_loom`; the models then run
//! ustd's own registry, app/lease teardown and metadata code, whose shared
//! state comes from `ustd::sync` and so is loom's. What this crate adds is
//! the *world* around that code: a model kernel (an fd table and sockets
//! whose state lives in loom cells, so loom reports any access that is not
//! ordered after the socket's close), connection resources that close their
//! sockets when dropped, the reaper thread's driver around ustd's own
//! `core::app::reap` (with a checking app-gone hook), and a model trace for
//! ustd's own notify dispatch (`core::notify`).
//!
//! Runs: `run.sh` at this crate's root, or by hand
//! `RUSTFLAGS="--cfg ustd_loom" LOOM_MAX_PREEMPTIONS=2 CARGO_TARGET_DIR=target/loom
//!  cargo test --release -p ustd-loom-tests -- --nocapture`.

#[cfg(ustd_loom)]
mod harness;
#[cfg(ustd_loom)]
pub mod metadata;
#[cfg(ustd_loom)]
mod world;

#[cfg(ustd_loom)]
pub use harness::{expect_failure, explore, Outcome};
#[cfg(ustd_loom)]
pub use world::{Gone, Kernel, ModelConn, Socket, World, GONE_TOO_EARLY};

/// Keeps items (the correct models' tests) out of mutant builds: a mutant
/// breaks ustd on purpose, so only the model it targets is meant to run, and
/// that model then expects loom to fail.
#[macro_export]
macro_rules! without_mutants {
    ($($item:item)*) => {
        $(
            #[cfg(not(any(
                ustd_mutant = "teardown_early",
                ustd_mutant = "push_advance_early",
                ustd_mutant = "pid_only",
                ustd_mutant = "publish_early",
                ustd_mutant = "start_unchecked",
                ustd_mutant = "attach_records_current",
                ustd_mutant = "push_gate_load",
                ustd_mutant = "close_drain_first",
                ustd_mutant = "create_unchecked",
                ustd_mutant = "destroy_unserialized",
                ustd_mutant = "push_unserialized",
                ustd_mutant = "room_blind_want",
            )))]
            $item
        )*
    };
}
