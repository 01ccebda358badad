//! The filter compiler (`filter::compile`: expression text -> bytecode) on
//! any text a client may send: it must refuse or compile, never panic nor
//! overflow its stack (every phase is iterative; nesting is bounded where
//! lttng's parser bounds it), and what it emits stays within lttng-ust's
//! bounds.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ustd::filter::{compile, BYTECODE_HEADER_LEN, MAX_BYTECODE_LEN, MAX_EXPRESSION_LEN};

fuzz_target!(|data: &[u8]| {
    // The CLI's text is a C string; ustd's own CLI sends UTF-8.
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match compile(text) {
        Ok(b) => {
            assert!(
                text.len() <= MAX_EXPRESSION_LEN,
                "an over-long expression compiled"
            );
            assert!(
                b.data.len() + BYTECODE_HEADER_LEN <= MAX_BYTECODE_LEN,
                "bytecode of {} bytes exceeds lttng-ust's bound",
                b.data.len()
            );
            let reloc = b.reloc_offset as usize;
            assert!(reloc <= b.data.len(), "relocation table past the bytecode");
            for (at, name) in b.relocations() {
                assert!(
                    usize::from(at) < reloc,
                    "relocation at {at} outside the instructions"
                );
                assert!(!name.is_empty(), "relocation without a field name");
            }
        }
        Err(e) => {
            let _ = e.to_string();
        }
    }
});
