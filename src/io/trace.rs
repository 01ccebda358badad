//! TEMPORARY interface sketch (not committed).
use crate::core::app::AppInfo;
use crate::core::session::{ChannelConfig, SessionConfig};
use crate::wire::field::{EnumEntry, Field};
use crate::wire::notify::EventReg;
use std::os::fd::OwnedFd;
use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum TraceError {
    #[error("x")]
    X,
}
pub struct StreamObj {
    pub cpu: u32,
    pub shm_len: u64,
    pub shm: OwnedFd,
    pub wakeup: OwnedFd,
}
pub struct AppChannelObjects {
    pub blob: Vec<u8>,
    pub wakeup: OwnedFd,
    pub streams: Vec<StreamObj>,
}
pub struct SessionTrace;
impl SessionTrace {
    pub fn check_library() -> Result<(), TraceError> {
        todo!()
    }
    pub fn new(_id: u64, _cfg: &SessionConfig) -> Result<Self, TraceError> {
        todo!()
    }
    pub fn channel_for_app(
        &self,
        _a: &AppInfo,
        _c: &ChannelConfig,
    ) -> Result<AppChannelObjects, TraceError> {
        todo!()
    }
    pub fn register_channel(
        &self,
        _a: &AppInfo,
        _k: u32,
        _f: &[Field],
    ) -> Result<(u32, crate::core::metadata::HeaderType), TraceError> {
        todo!()
    }
    pub fn register_event(&self, _a: &AppInfo, _k: u32, _e: &EventReg) -> Result<u32, TraceError> {
        todo!()
    }
    pub fn register_enum(
        &self,
        _a: &AppInfo,
        _n: &str,
        _e: &[EnumEntry],
    ) -> Result<u64, TraceError> {
        todo!()
    }
    pub fn stop(&self) -> Result<(), TraceError> {
        todo!()
    }
    pub fn destroy(&self) -> Result<(), TraceError> {
        todo!()
    }
    pub fn output_dir(&self) -> PathBuf {
        todo!()
    }
}
