//! Snapshot sessions: their outputs, the naming of each record's directory
//! and the size rule of `snapshot record -m`, as lttng-sessiond 2.13 has
//! them (checked against captures, `tests/data/lttng_wire/snap_*`).

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::core::net_output::NetOutput;

/// lttng keeps one output per session ("until the tee feature").
pub const MAX_OUTPUTS: usize = 1;
/// `LTTNG_NAME_MAX` - 1.
const MAX_OUTPUT_NAME: usize = 254;

/// Where `snapshot record` writes, and the size bound it applies.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnapshotOutput {
    pub id: u32,
    pub name: String,
    /// Bytes; 0 = no bound.
    pub max_size: u64,
    /// The local directory; empty for a relayd output.
    pub path: PathBuf,
    /// A relayd output (`net://…`): each record is a trace chunk there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub net: Option<NetOutput>,
}

/// Where an output or a record goes: a local directory or an lttng-relayd.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Destination {
    Path(PathBuf),
    Net(NetOutput),
}

impl From<PathBuf> for Destination {
    fn from(p: PathBuf) -> Self {
        Destination::Path(p)
    }
}

impl Destination {
    /// Absolute paths only (lttng's rule); a relayd output is resolved.
    fn check(self) -> Result<(PathBuf, Option<NetOutput>), SnapshotError> {
        match self {
            Destination::Path(p) if !p.is_absolute() => Err(SnapshotError::InvalidOutput(format!(
                "`{}` is not an absolute path",
                p.display()
            ))),
            Destination::Path(p) => Ok((p, None)),
            Destination::Net(n) => Ok((PathBuf::new(), Some(n))),
        }
    }
}

impl SnapshotOutput {
    pub fn destination(&self) -> Destination {
        match &self.net {
            Some(n) => Destination::Net(n.clone()),
            None => Destination::Path(self.path.clone()),
        }
    }

    /// As lttng lists it: the path, or the relayd's URL text.
    pub fn describe(&self) -> String {
        match &self.net {
            Some(n) => n.describe(),
            None => self.path.display().to_string(),
        }
    }
}

/// A snapshot session's outputs and record counter.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnapshotState {
    pub outputs: Vec<SnapshotOutput>,
    next_id: u32,
    /// Records made so far: the `<N>` of the next record's directory.
    pub records: u64,
}

/// Why an output change or a record was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SnapshotError {
    #[error("session `{0}` is not a snapshot session")]
    NotSnapshotSession(String),
    #[error("a snapshot output already exists (lttng keeps one per session)")]
    OutputExists,
    #[error("no snapshot output `{0}`")]
    NoOutput(String),
    #[error("the session has no snapshot output and no URL was given")]
    NoOutputGiven,
    #[error("invalid snapshot output: {0}")]
    InvalidOutput(String),
    #[error("invalid snapshot size {0}: cannot fit at least one packet per stream")]
    MaxSizeInvalid(u64),
    #[error("the session has not been started")]
    NotStarted,
    #[error("snapshot record failed: {0}")]
    Record(String),
}

impl SnapshotState {
    /// A new snapshot session's state: with a local output, lttng makes it
    /// the default output `snapshot-1`.
    pub fn new(default_output: Option<PathBuf>) -> Self {
        Self::with_default(default_output.map(Destination::Path))
    }

    /// As [`SnapshotState::new`], the default output local or a relayd.
    pub fn with_default(default_output: Option<Destination>) -> Self {
        let mut s = SnapshotState {
            next_id: 1,
            ..Default::default()
        };
        if let Some(p) = default_output {
            // Cannot fail: no output exists yet and the name is generated.
            let _ = s.add(None, 0, p);
        }
        s
    }

    /// `snapshot add-output`: ids count from 1 and are never reused; the
    /// default name is `snapshot-<id>`.
    pub fn add(
        &mut self,
        name: Option<&str>,
        max_size: u64,
        dest: impl Into<Destination>,
    ) -> Result<SnapshotOutput, SnapshotError> {
        if self.outputs.len() >= MAX_OUTPUTS {
            return Err(SnapshotError::OutputExists);
        }
        let (path, net) = dest.into().check()?;
        let id = self.next_id.max(1);
        let name = match name.filter(|n| !n.is_empty()) {
            Some(n) if n.len() > MAX_OUTPUT_NAME || n.contains('/') => {
                return Err(SnapshotError::InvalidOutput(format!("bad name `{n}`")))
            }
            Some(n) => n.to_owned(),
            None => format!("snapshot-{id}"),
        };
        self.next_id = id + 1;
        let o = SnapshotOutput {
            id,
            name,
            max_size,
            path,
            net,
        };
        self.outputs.push(o.clone());
        Ok(o)
    }

    /// `snapshot del-output`: by id, or by name when `id` is 0.
    pub fn remove(&mut self, id: u32, name: &str) -> Result<SnapshotOutput, SnapshotError> {
        let pos = self
            .outputs
            .iter()
            .position(|o| if id != 0 { o.id == id } else { o.name == name })
            .ok_or_else(|| {
                SnapshotError::NoOutput(if id != 0 { id.to_string() } else { name.into() })
            })?;
        Ok(self.outputs.remove(pos))
    }

    /// The outputs one `snapshot record` writes to: a given URL replaces
    /// the session's outputs for this record (named `name`, or
    /// `snapshot-0`); otherwise each output, its name and size bound
    /// overridden by the command's when given.
    pub fn targets(
        &self,
        name: Option<&str>,
        max_size: Option<u64>,
        url: Option<Destination>,
    ) -> Result<Vec<SnapshotOutput>, SnapshotError> {
        let name = name.filter(|n| !n.is_empty());
        if let Some(dest) = url {
            let (path, net) = dest.check()?;
            return Ok(vec![SnapshotOutput {
                id: 0,
                name: name.map_or_else(|| "snapshot-0".to_owned(), str::to_owned),
                max_size: max_size.unwrap_or(0),
                path,
                net,
            }]);
        }
        if self.outputs.is_empty() {
            return Err(SnapshotError::NoOutputGiven);
        }
        Ok(self
            .outputs
            .iter()
            .map(|o| SnapshotOutput {
                id: o.id,
                name: name.map_or_else(|| o.name.clone(), str::to_owned),
                max_size: max_size.unwrap_or(o.max_size),
                path: o.path.clone(),
                net: o.net.clone(),
            })
            .collect())
    }
}

/// A record's directory under its output: `<name>-<YYYYmmdd-HHMMSS>-<N>`,
/// `N` counting the session's records from 0.
pub fn record_dir_name(name: &str, datetime: &str, n: u64) -> String {
    format!("{name}-{datetime}-{n}")
}

/// One channel's buffers, as the size rule sees them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamGroup {
    pub subbuf_size: u64,
    pub num_subbuf: u64,
    /// Streams of these buffers (one per possible CPU).
    pub streams: u64,
}

/// lttng's size rule for `-m`: the largest number of sub-buffers per
/// stream (the same for all) whose total fits in `max_size`, each round
/// adding one sub-buffer of every stream that still has one left.
/// `Ok(0)` means no bound (`max_size` 0); an error when not even one
/// sub-buffer of every stream fits.
pub fn packets_per_stream(max_size: u64, groups: &[StreamGroup]) -> Result<u64, SnapshotError> {
    if max_size == 0 {
        return Ok(0);
    }
    let round = |n: u64| -> u64 {
        groups
            .iter()
            .filter(|g| n < g.num_subbuf)
            .map(|g| g.subbuf_size.saturating_mul(g.streams))
            .fold(0u64, u64::saturating_add)
    };
    let mut left = max_size;
    let mut n = 0u64;
    while round(n) != 0 && round(n) <= left {
        left -= round(n);
        n += 1;
    }
    // Buffers exist but not one sub-buffer of each fits. (No buffers at
    // all: nothing to bound.)
    if n == 0 && round(0) != 0 {
        return Err(SnapshotError::MaxSizeInvalid(max_size));
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn g(subbuf_size: u64, num_subbuf: u64, streams: u64) -> StreamGroup {
        StreamGroup {
            subbuf_size,
            num_subbuf,
            streams,
        }
    }

    #[test]
    fn default_output_is_snapshot_1_and_only_one_is_kept() {
        let mut s = SnapshotState::new(Some(PathBuf::from("/o")));
        assert_eq!(s.outputs[0].name, "snapshot-1");
        assert_eq!(s.outputs[0].id, 1);
        assert_eq!(
            s.add(Some("x"), 0, PathBuf::from("/p")),
            Err(SnapshotError::OutputExists)
        );
        s.remove(1, "").unwrap();
        let o = s.add(None, 0, PathBuf::from("/p")).unwrap();
        assert_eq!((o.id, o.name.as_str()), (2, "snapshot-2"));
        assert!(s.remove(0, "snapshot-2").is_ok());
        assert_eq!(
            s.remove(0, "snapshot-2"),
            Err(SnapshotError::NoOutput("snapshot-2".into()))
        );
        assert_eq!(
            s.targets(None, None, None),
            Err(SnapshotError::NoOutputGiven)
        );
    }

    #[test]
    fn record_overrides_name_and_size() {
        let mut s = SnapshotState::new(None);
        s.add(Some("o"), 100, PathBuf::from("/o")).unwrap();
        let t = s.targets(Some("n"), None, None).unwrap();
        assert_eq!((t[0].name.as_str(), t[0].max_size), ("n", 100));
        let t = s
            .targets(None, Some(5), Some(PathBuf::from("/u").into()))
            .unwrap();
        assert_eq!((t[0].name.as_str(), t[0].max_size), ("snapshot-0", 5));
        assert_eq!(
            record_dir_name("n", "20261201-154000", 3),
            "n-20261201-154000-3"
        );
    }

    #[test]
    fn size_rule_rounds_down_to_whole_rounds() {
        // Two channels of 2 streams: 4 KiB x 4 and 8 KiB x 2.
        let gs = [g(4096, 4, 2), g(8192, 2, 2)];
        assert_eq!(packets_per_stream(0, &gs), Ok(0));
        assert_eq!(
            packets_per_stream(16384, &gs),
            Err(SnapshotError::MaxSizeInvalid(16384))
        );
        assert_eq!(packets_per_stream(24576, &gs), Ok(1));
        assert_eq!(packets_per_stream(49151, &gs), Ok(1));
        assert_eq!(packets_per_stream(49152, &gs), Ok(2));
        // Past the 8 KiB channel's 2 sub-buffers only the 4 KiB one counts.
        assert_eq!(packets_per_stream(49152 + 8192, &gs), Ok(3));
        assert_eq!(packets_per_stream(1 << 30, &gs), Ok(4));
    }
}
