//! Link flags every ustd executable needs to load liblttng-ust-ctl.so.5 at
//! run time: the library references the initial-exec TLS variable
//! `lttng_ust_sigbus_state`, which must be defined by the executable and
//! visible in its dynamic symbol table (see `src/ustctl/tls.rs`).

include!("loom-tests/mutant_cfg.rs");

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=loom-tests/mutant_cfg.rs");
    emit_mutant_cfg();
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    if os == "linux" {
        // Pull the rlib member defining the symbol in, keep it through
        // --gc-sections, and export it to dlopen'ed libraries.
        println!("cargo:rustc-link-arg=-Wl,-u,lttng_ust_sigbus_state");
        println!("cargo:rustc-link-arg=-Wl,--export-dynamic-symbol=lttng_ust_sigbus_state");
    }
}
