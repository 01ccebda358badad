//! Where apps look for a session daemon, and where ustd puts its files.

use std::path::{Path, PathBuf};

/// The rundir lttng-ust 2.13 (Debian build) has compiled in for the global
/// (root) daemon.
pub const SYSTEM_RUNDIR: &str = "/var/run/lttng";
/// The app socket name: the "8" is the oldest compatible ABI major.
pub const APP_SOCKET: &str = "lttng-ust-sock-8";
pub const CONTROL_SOCKET: &str = "ustd-ctl.sock";
pub const LOCK_FILE: &str = "ustd.lock";

#[derive(Debug, Clone)]
pub struct Paths {
    pub rundir: PathBuf,
    /// POSIX shm name (with leading '/') of the wait page apps futex-wait on.
    pub wait_shm: String,
    /// Whether this is the system-wide (root) daemon.
    pub global: bool,
}

impl Paths {
    /// Resolves the rundir as apps would: `/var/run/lttng` for root, else
    /// `$LTTNG_HOME/.lttng` or `$HOME/.lttng`. An explicit `rundir`
    /// overrides both; the wait shm then follows the per-user naming unless
    /// the directory is the system one.
    pub fn resolve(rundir: Option<&Path>) -> Result<Self, String> {
        let uid = rustix::process::getuid().as_raw();
        let rundir = match rundir {
            Some(d) => d.to_path_buf(),
            None if uid == 0 => PathBuf::from(SYSTEM_RUNDIR),
            None => {
                let home = std::env::var_os("LTTNG_HOME")
                    .or_else(|| std::env::var_os("HOME"))
                    .ok_or("neither LTTNG_HOME nor HOME is set; pass --rundir")?;
                PathBuf::from(home).join(".lttng")
            }
        };
        let global = is_system_rundir(&rundir);
        let wait_shm = if global {
            "/lttng-ust-wait-8".to_owned()
        } else {
            format!("/lttng-ust-wait-8-{uid}")
        };
        Ok(Self {
            rundir,
            wait_shm,
            global,
        })
    }

    pub fn app_socket(&self) -> PathBuf {
        self.rundir.join(APP_SOCKET)
    }
    pub fn control_socket(&self) -> PathBuf {
        self.rundir.join(CONTROL_SOCKET)
    }
    pub fn lock_file(&self) -> PathBuf {
        self.rundir.join(LOCK_FILE)
    }
}

fn is_system_rundir(d: &Path) -> bool {
    let canon = |p: &Path| std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf());
    canon(d) == canon(Path::new(SYSTEM_RUNDIR))
}
