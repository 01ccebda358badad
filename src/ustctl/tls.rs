//! The thread-local `lttng_ust_sigbus_state` that liblttng-ust-ctl.so.5
//! expects its host executable to define.
//!
//! The library declares it `extern __thread` with the initial-exec model
//! and leaves it undefined, so `dlopen` fails unless the executable (or a
//! library loaded RTLD_GLOBAL before it) provides it. Stable Rust has no
//! `#[thread_local]` statics, so the definition is written in assembly: a
//! zero-filled 224-byte object (the size of the C struct on 64-bit Linux)
//! in `.tbss`. `build.rs` adds the link flags that keep it and export it.
//! The library initialises the content itself on first use.

#[cfg(all(target_os = "linux", target_pointer_width = "64"))]
std::arch::global_asm!(
    ".pushsection .tbss,\"awT\",%nobits",
    ".globl lttng_ust_sigbus_state",
    ".type lttng_ust_sigbus_state, %object",
    ".size lttng_ust_sigbus_state, 224",
    ".balign 32",
    "lttng_ust_sigbus_state:",
    ".zero 224",
    ".popsection",
);
