//! An app's replies to the daemon's commands: the 324-byte reply (checked
//! against the request it answers) and the field-list entries of
//! TRACEPOINT_FIELD_LIST_GET.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ustd::wire::cmd::{op, CmdMsg, Reply, ROOT_HANDLE};
use ustd::wire::list::FieldIterEntry;

fuzz_target!(|data: &[u8]| {
    // The first byte picks the request, so replies to each are explored.
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    let cmds = [op::TRACER_VERSION, op::REGISTER_DONE, op::TRACEPOINT_FIELD_LIST_GET];
    let req = CmdMsg::simple(ROOT_HANDLE, cmds[usize::from(pick) % cmds.len()]);
    if let Ok(reply) = Reply::decode_for(rest, &req) {
        let _ = reply.tracer_version();
    }
    let _ = FieldIterEntry::decode(rest);
});
