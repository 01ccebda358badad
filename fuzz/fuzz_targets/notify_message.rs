//! Notify requests (REGISTER_EVENT / CHANNEL / ENUM with their field trees)
//! as the daemon reads them from a socket: header, bounded body, bounded
//! tail, then the request; and the contiguous-buffer decoder.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ustd::wire::notify::{self, HEADER_LEN};

fuzz_target!(|data: &[u8]| {
    if let Ok((_, used)) = notify::decode_message(data) {
        assert!(used <= data.len(), "decode_message used bytes it was not given");
    }
    // The socket layer's three steps, each on the bytes that follow.
    let Some(hdr) = data.get(..HEADER_LEN) else {
        return;
    };
    let Ok(cmd) = notify::decode_header(hdr) else {
        return;
    };
    let Ok(body_len) = notify::body_len(cmd) else {
        return;
    };
    let Some(body) = data.get(HEADER_LEN..HEADER_LEN + body_len) else {
        return;
    };
    let Ok(tail_len) = notify::tail_len(cmd, body) else {
        return;
    };
    let start = HEADER_LEN + body_len;
    if let Some(tail) = data.get(start..start + tail_len) {
        let _ = notify::decode_request(cmd, body, tail);
    }
    // The daemon's own reply to the request, as the load generator reads it.
    let _ = notify::decode_reply(cmd, &data[start..]);
});
