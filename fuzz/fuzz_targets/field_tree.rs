//! Field trees (920-byte entries: structs, arrays, sequences, variants,
//! enums, nested) and enum entry lists, on their own so the fuzzer need
//! not first build a valid notify header and body.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ustd::wire::field::{decode_enum_entries, decode_fields};

fuzz_target!(|data: &[u8]| {
    if let Ok(fields) = decode_fields(data, 64) {
        assert!(fields.len() <= 64);
    }
    let _ = decode_enum_entries(data);
});
