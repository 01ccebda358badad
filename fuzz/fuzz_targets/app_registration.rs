//! The 136-byte registration message every app sends first on each socket.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ustd::wire::reg::{RegMsg, REG_MSG_LEN};

fuzz_target!(|data: &[u8]| {
    if let Ok(m) = RegMsg::decode(data) {
        assert!(data.len() >= REG_MSG_LEN);
        // What was accepted re-encodes to a message that decodes the same
        // (the name may lose bytes that are not UTF-8, never gain any).
        let again = RegMsg::decode(&m.encode()).expect("an encoded message decodes");
        assert_eq!((again.major, again.pid, again.socket_type), (m.major, m.pid, m.socket_type));
        assert!(again.name.len() <= 16 * 3);
    }
});
