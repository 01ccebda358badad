//! A per-UID metadata registry and event registrations for the models.

use ustd::core::app::{AppId, AppInfo};
use ustd::core::metadata::{
    Abi, BufferingScheme, ByteOrder, ClockParams, HeaderType, MetadataError, MetadataRegistry,
    SessionParams, TracerVersion,
};
use ustd::core::notify::NotifyTarget;
use ustd::wire::field::{EnumEntry, Field};
use ustd::wire::notify::EventReg;

/// The channel key every model registers its events in.
pub const CHANNEL_KEY: u64 = 0;

/// The registry of one per-UID buffer set (uid 1000, 64-bit), its channel
/// created: what a started session holds before any app registers.
pub fn per_uid_registry() -> MetadataRegistry {
    let reg = MetadataRegistry::new(&SessionParams {
        uuid: [1; 16],
        abi: Abi {
            bits_per_long: 64,
            uint8_align: 8,
            uint16_align: 8,
            uint32_align: 8,
            uint64_align: 8,
            long_align: 8,
            byte_order: ByteOrder::Little,
        },
        tracer: TracerVersion {
            major: 2,
            minor: 13,
            patchlevel: 5,
        },
        scheme: BufferingScheme::PerUid { uid: 1000 },
        trace_name: "model".into(),
        creation_datetime: "19700101T000000+0000".into(),
        hostname: "model".into(),
        clock: ClockParams::monotonic(None, 0),
    });
    reg.add_channel(CHANNEL_KEY)
        .expect("a new registry accepts its channel");
    // Registered by the session's first app: the registry's close then adds
    // no stream block of its own (see `MetadataRegistry::request_close`),
    // so the text the model follows is the apps' registrations alone.
    reg.register_channel(CHANNEL_KEY, &[])
        .expect("a new channel registers");
    reg
}

/// An app's REGISTER_EVENT of `name` (no fields: the text is what matters).
pub fn event(name: &str) -> EventReg {
    EventReg {
        session_objd: 0,
        channel_objd: 0,
        name: name.into(),
        loglevel: 13,
        signature: String::new(),
        fields: Vec::new(),
        model_emf_uri: None,
    }
}

/// A started session's trace with one per-UID buffer set, for ustd's own
/// notify dispatch (`core::notify::dispatch`): what
/// `engine::trace::SessionTrace` is to the daemon, minus the buffers.
pub struct ModelTrace {
    pub registry: MetadataRegistry,
}

impl NotifyTarget for ModelTrace {
    type Error = MetadataError;

    fn ret_code(e: &MetadataError) -> i32 {
        e.ret_code()
    }

    fn register_channel(
        &self,
        _: &AppInfo,
        _: AppId,
        chan_key: u32,
        _gen: u32,
        ctx: &[Field],
    ) -> Result<(u32, HeaderType), MetadataError> {
        self.registry.register_channel(u64::from(chan_key), ctx)
    }

    fn register_event(
        &self,
        _: &AppInfo,
        _: AppId,
        chan_key: u32,
        _gen: u32,
        ev: &EventReg,
    ) -> Result<u32, MetadataError> {
        self.registry.register_event(u64::from(chan_key), ev)
    }

    fn register_enum(
        &self,
        _: &AppInfo,
        _: AppId,
        name: &str,
        entries: &[EnumEntry],
    ) -> Result<u64, MetadataError> {
        self.registry.register_enum(name, entries)
    }
}
