//! An lttng client's request (liblttng-ctl's `lttcomm_session_msg` header
//! and its payload) as `io::lttng_client` reads it: the 13,156-byte header,
//! the payload length it declares checked against the command's bound, then
//! exactly that many bytes decoded into a `Request`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ustd::lttng_wire::{Header, Request, HEADER_LEN};

fuzz_target!(|data: &[u8]| {
    let (head, rest) = data.split_at(data.len().min(HEADER_LEN));
    // Short inputs still reach the decoders: the header's tail is zeros (the
    // captured headers are mostly zeros too).
    let mut buf = [0u8; HEADER_LEN];
    buf[..head.len()].copy_from_slice(head);
    let h = Header::decode(&buf).expect("a full-size header always decodes");
    let Ok(len) = h.payload_len() else {
        // Answered with the error's code, payload never read.
        return;
    };
    // The socket layer reads exactly `len` bytes (or fails on a short read).
    if let Some(payload) = rest.get(..len) {
        if let Err(e) = Request::decode(&h, payload) {
            let _ = e.reply_code();
        }
    }
    // A payload of the wrong length is refused, never decoded.
    if rest.len() != len {
        assert!(
            Request::decode(&h, rest).is_err(),
            "a payload of {} bytes for a declared {len} was decoded",
            rest.len()
        );
    }
});
