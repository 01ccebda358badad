//! `lttng_channel_comm` (packed, 83 bytes) + name: the ENABLE_CHANNEL
//! payload and the LIST_CHANNELS entries.

use super::cursor::{clen, Cursor, Put};
use super::error::WireResult;
use super::header::SYMBOL_NAME_LEN;

pub use super::header::CHANNEL_COMM_LEN;

/// The channel attributes, including the extended statistics the list reply carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelAttr {
    pub name: String,
    pub enabled: bool,
    /// -1 (the CLI's "default") means discard, as 0 does.
    pub overwrite: i8,
    pub subbuf_size: u64,
    pub num_subbuf: u64,
    pub switch_timer_us: u32,
    pub read_timer_us: u32,
    /// SPLICE 0, MMAP 1.
    pub output: u8,
    pub tracefile_size: u64,
    pub tracefile_count: u64,
    pub live_timer_us: u32,
    pub discarded_events: u64,
    pub lost_packets: u64,
    pub monitor_timer_us: u64,
    /// -1: block forever; 0: never block.
    pub blocking_timeout_us: i64,
}

impl ChannelAttr {
    /// Exactly one record, as ENABLE_CHANNEL carries it.
    pub fn decode(buf: &[u8]) -> WireResult<Self> {
        let mut c = Cursor::new(buf);
        let ch = Self::read(&mut c)?;
        c.finish()?;
        Ok(ch)
    }

    pub(crate) fn read(c: &mut Cursor<'_>) -> WireResult<Self> {
        let name_len = c.u32("channel name length")?;
        let enabled = c.u8("channel")? != 0;
        let overwrite = c.i8("channel")?;
        let subbuf_size = c.u64("channel")?;
        let num_subbuf = c.u64("channel")?;
        let switch_timer_us = c.u32("channel")?;
        let read_timer_us = c.u32("channel")?;
        let output = c.u8("channel")?;
        let tracefile_size = c.u64("channel")?;
        let tracefile_count = c.u64("channel")?;
        let live_timer_us = c.u32("channel")?;
        let discarded_events = c.u64("channel")?;
        let lost_packets = c.u64("channel")?;
        let monitor_timer_us = c.u64("channel")?;
        let blocking_timeout_us = c.i64("channel")?;
        let name = c
            .lstr(name_len, SYMBOL_NAME_LEN as u32, "channel name")?
            .unwrap_or_default();
        Ok(Self {
            name,
            enabled,
            overwrite,
            subbuf_size,
            num_subbuf,
            switch_timer_us,
            read_timer_us,
            output,
            tracefile_size,
            tracefile_count,
            live_timer_us,
            discarded_events,
            lost_packets,
            monitor_timer_us,
            blocking_timeout_us,
        })
    }

    pub fn encode(&self, out: &mut Vec<u8>) {
        out.put_u32(clen(&self.name));
        out.put_u8(self.enabled.into());
        out.put_u8(self.overwrite as u8);
        out.put_u64(self.subbuf_size);
        out.put_u64(self.num_subbuf);
        out.put_u32(self.switch_timer_us);
        out.put_u32(self.read_timer_us);
        out.put_u8(self.output);
        out.put_u64(self.tracefile_size);
        out.put_u64(self.tracefile_count);
        out.put_u32(self.live_timer_us);
        out.put_u64(self.discarded_events);
        out.put_u64(self.lost_packets);
        out.put_u64(self.monitor_timer_us);
        out.put_i64(self.blocking_timeout_us);
        out.put_cstr(&self.name);
    }
}

/// Decodes a LIST_CHANNELS reply.
pub fn decode_channels(cmd_header: &[u8], data: &[u8]) -> WireResult<Vec<ChannelAttr>> {
    let count = super::cursor::list_count(cmd_header)?;
    let mut c = Cursor::new(data);
    let out = (0..count)
        .map(|_| ChannelAttr::read(&mut c))
        .collect::<WireResult<Vec<_>>>()?;
    c.finish()?;
    Ok(out)
}

/// LIST_CHANNELS: the 4-byte count (command header) and the entries.
pub fn encode_channels(channels: &[ChannelAttr]) -> (Vec<u8>, Vec<u8>) {
    let mut data = Vec::new();
    for ch in channels {
        ch.encode(&mut data);
    }
    ((channels.len() as u32).to_le_bytes().to_vec(), data)
}
