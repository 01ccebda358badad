//! A session's network output (an lttng-relayd) and the URL forms lttng
//! accepts for it: `net://HOST[:CTRL[:DATA]][/SUBDIR]` (`net6://` for IPv6),
//! or a control and a data URL `tcp://HOST:PORT` (`tcp6://`). Parsing is
//! pure; resolving HOST is the caller's (I/O) business.

use std::net::{IpAddr, SocketAddr};

use serde::{Deserialize, Serialize};

/// lttng's `DEFAULT_NETWORK_CONTROL_PORT` / `DEFAULT_NETWORK_DATA_PORT`.
pub const DEFAULT_CONTROL_PORT: u16 = 5342;
pub const DEFAULT_DATA_PORT: u16 = 5343;
/// lttng's default live timer (`DEFAULT_LTTNG_LIVE_TIMER`, µs).
pub const DEFAULT_LIVE_TIMER_US: u32 = 1_000_000;

/// Where a network session streams: the relayd's two ports, resolved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetOutput {
    pub control: SocketAddr,
    pub data: SocketAddr,
    /// Sub-directory under the relayd's output (the URL's path), "" if none.
    #[serde(default)]
    pub subdir: String,
    /// Live timer period in µs; 0 = not a live session.
    #[serde(default)]
    pub live_timer_us: u32,
}

impl NetOutput {
    /// The "Trace output" text lttng-sessiond 2.13 lists for it, e.g.
    /// `tcp4://127.0.0.1:5342/ [data: 5343]`.
    pub fn describe(&self) -> String {
        let (proto, host) = match self.control.ip() {
            IpAddr::V4(a) => ("tcp4", a.to_string()),
            IpAddr::V6(a) => ("tcp6", format!("[{a}]")),
        };
        format!(
            "{proto}://{host}:{}/{} [data: {}]",
            self.control.port(),
            self.subdir,
            self.data.port()
        )
    }
}

/// What the network output did so far.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetStats {
    pub packets_sent: u64,
    pub bytes_sent: u64,
    /// Data packets that never reached the relayd (queue full, relayd gone).
    pub packets_lost: u64,
    /// Metadata bytes that never reached the relayd (relayd gone).
    pub metadata_bytes_lost: u64,
    /// Why the relayd connection ended, if it did before `destroy`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// One parsed network URL, host not yet resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetUrl {
    pub host: String,
    pub ipv6: bool,
    pub control_port: Option<u16>,
    pub data_port: Option<u16>,
    pub subdir: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UrlError {
    #[error("invalid URL `{0}`: {1}")]
    Invalid(String, &'static str),
    #[error("--set-url and -C/-D cannot be combined; -C and -D go together")]
    Combination,
}

/// Parses `net[6]://HOST[:CTRL[:DATA]][/SUBDIR]` (`data_allowed`) or
/// `tcp[6]://HOST[:PORT][/SUBDIR]` (the port is the control one).
pub fn parse_url(url: &str) -> Result<NetUrl, UrlError> {
    let bad = |why| UrlError::Invalid(url.to_owned(), why);
    let (scheme, rest) = url.split_once("://").ok_or_else(|| bad("no scheme"))?;
    let (net, ipv6) = match scheme {
        "net" => (true, false),
        "net6" => (true, true),
        "tcp" => (false, false),
        "tcp6" => (false, true),
        _ => return Err(bad("scheme must be net, net6, tcp or tcp6")),
    };
    let (hostport, subdir) = match rest.split_once('/') {
        Some((h, s)) => (h, s.trim_matches('/')),
        None => (rest, ""),
    };
    // `[v6]:port` or `host:port[:port]`.
    let (host, ports) = if let Some(r) = hostport.strip_prefix('[') {
        let (h, p) = r.split_once(']').ok_or_else(|| bad("unclosed `[`"))?;
        (h, p.strip_prefix(':').unwrap_or(p))
    } else {
        hostport.split_once(':').unwrap_or((hostport, ""))
    };
    if host.is_empty() {
        return Err(bad("no host"));
    }
    let mut nums = Vec::new();
    if !ports.is_empty() {
        for p in ports.split(':') {
            nums.push(
                p.parse::<u16>()
                    .ok()
                    .filter(|&p| p != 0)
                    .ok_or_else(|| bad("bad port"))?,
            );
        }
    }
    if nums.len() > if net { 2 } else { 1 } {
        return Err(bad("too many ports"));
    }
    Ok(NetUrl {
        host: host.to_owned(),
        ipv6,
        control_port: nums.first().copied(),
        data_port: nums.get(1).copied(),
        subdir: subdir.to_owned(),
    })
}

/// The two endpoints a session streams to, from `--set-url` or `-C`/`-D`:
/// (control host, port, data host, port, subdir, ipv6).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoints {
    pub control: (String, u16),
    pub data: (String, u16),
    pub ipv6: bool,
    pub subdir: String,
}

pub fn endpoints(
    set_url: Option<&str>,
    control: Option<&str>,
    data: Option<&str>,
) -> Result<Endpoints, UrlError> {
    match (set_url, control, data) {
        (Some(u), None, None) => {
            let u = parse_url(u)?;
            Ok(Endpoints {
                control: (
                    u.host.clone(),
                    u.control_port.unwrap_or(DEFAULT_CONTROL_PORT),
                ),
                data: (u.host, u.data_port.unwrap_or(DEFAULT_DATA_PORT)),
                ipv6: u.ipv6,
                subdir: u.subdir,
            })
        }
        (None, Some(c), Some(d)) => {
            let (c, d) = (parse_url(c)?, parse_url(d)?);
            Ok(Endpoints {
                control: (c.host, c.control_port.unwrap_or(DEFAULT_CONTROL_PORT)),
                data: (d.host, d.control_port.unwrap_or(DEFAULT_DATA_PORT)),
                ipv6: c.ipv6,
                subdir: c.subdir,
            })
        }
        (None, None, None) => Ok(Endpoints {
            control: ("127.0.0.1".into(), DEFAULT_CONTROL_PORT),
            data: ("127.0.0.1".into(), DEFAULT_DATA_PORT),
            ipv6: false,
            subdir: String::new(),
        }),
        _ => Err(UrlError::Combination),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_forms() {
        let u = parse_url("net://h:1:2/a/b/").unwrap();
        assert_eq!(
            (
                u.host.as_str(),
                u.control_port,
                u.data_port,
                u.subdir.as_str()
            ),
            ("h", Some(1), Some(2), "a/b")
        );
        let u = parse_url("net6://[::1]:7").unwrap();
        assert_eq!(
            (u.host.as_str(), u.ipv6, u.control_port),
            ("::1", true, Some(7))
        );
        assert!(parse_url("tcp://h:1:2").is_err());
        assert!(parse_url("file:///tmp").is_err());
        assert!(parse_url("net://:1").is_err());
        assert!(parse_url("net://h:0").is_err());
        let e = endpoints(Some("net://localhost"), None, None).unwrap();
        assert_eq!(e.control, ("localhost".into(), 5342));
        assert_eq!(e.data, ("localhost".into(), 5343));
        let e = endpoints(None, Some("tcp://a:10"), Some("tcp://b:11")).unwrap();
        assert_eq!((e.control, e.data), (("a".into(), 10), ("b".into(), 11)));
        assert_eq!(
            endpoints(Some("net://a"), Some("tcp://a"), None),
            Err(UrlError::Combination)
        );
    }

    #[test]
    fn listed_like_lttng() {
        let n = NetOutput {
            control: "127.0.0.1:21111".parse().unwrap(),
            data: "127.0.0.1:21112".parse().unwrap(),
            subdir: String::new(),
            live_timer_us: 0,
        };
        assert_eq!(n.describe(), "tcp4://127.0.0.1:21111/ [data: 21112]");
    }
}
