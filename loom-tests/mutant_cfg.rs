// Shared by ustd's and ustd-loom-tests' build scripts (through `include!`),
// so a model and the code it checks always agree on which mutant is built.
//
// Lets a mutant build of the loom models (`loom-tests/run.sh`) set
// `--cfg ustd_mutant="..."` through the `USTD_MUTANT` environment variable.
// Switching mutants that way rebuilds only the two crates that read the cfg,
// where a RUSTFLAGS change would rebuild every dependency. Passing the cfg
// in RUSTFLAGS works too.

/// The historical bugs the loom models must catch (see `loom-tests/`).
const MUTANTS: [&str; 12] = [
    "push_gate_load",
    "room_blind_want",
    "attach_records_current",
    "teardown_early",
    "push_advance_early",
    "pid_only",
    "publish_early",
    "start_unchecked",
    "close_drain_first",
    "create_unchecked",
    "destroy_unserialized",
    "push_unserialized",
];

fn emit_mutant_cfg() {
    println!("cargo:rerun-if-env-changed=USTD_MUTANT");
    let Some(mutant) = std::env::var("USTD_MUTANT").ok().filter(|m| !m.is_empty()) else {
        return;
    };
    assert!(
        MUTANTS.contains(&mutant.as_str()),
        "USTD_MUTANT={mutant} is not one of {MUTANTS:?}"
    );
    println!("cargo:rustc-cfg=ustd_mutant=\"{mutant}\"");
}
