//! Errors of the buffer layer.

use std::io;
use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum UstCtlError {
    /// The shared library (or one it needs) cannot be loaded.
    #[error("cannot load {path}: {detail}; tracing needs the `{package}` package")]
    LibMissing {
        package: &'static str,
        path: String,
        detail: String,
    },
    #[error("liblttng-ust-ctl has no symbol {0}")]
    SymbolMissing(&'static str),
    /// A library call returned an error code (negative errno or
    /// `-LTTNG_UST_ERR_*`) or NULL (`code` 0).
    #[error("lttng_ust_ctl_{op} failed (code {code})")]
    Call { op: &'static str, code: i64 },
    #[error("{op}: {source}")]
    Io {
        op: &'static str,
        #[source]
        source: io::Error,
    },
    #[error("{path}: {source}")]
    File {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("invalid channel attributes: {0}")]
    InvalidSpec(String),
    #[error("metadata fragment at offset {offset} leaves a gap after {have} bytes")]
    MetadataGap { offset: u64, have: u64 },
    #[error("unknown trace {0}")]
    UnknownTrace(u64),
    #[error("the consumer thread has stopped")]
    ConsumerGone,
}

impl UstCtlError {
    pub(crate) fn io(op: &'static str) -> impl FnOnce(io::Error) -> Self {
        move |source| Self::Io { op, source }
    }
    pub(crate) fn file(path: &std::path::Path) -> impl FnOnce(io::Error) -> Self + '_ {
        move |source| Self::File {
            path: path.to_owned(),
            source,
        }
    }
}

pub type UstCtlResult<T> = Result<T, UstCtlError>;
