//! The `Host` and `Origin` checks that keep a rebound name out.
//!
//! A page on `attacker.example` can rebind its name to 127.0.0.1 and talk to
//! a UI that trusts loopback clients: the browser then sends
//! `Host: attacker.example`. Answering loopback names only (or the names the
//! operator configured) shuts that door; the `Origin` check keeps another
//! site's forms from posting even when the name is right.

use std::net::{IpAddr, Ipv4Addr};

/// Whether a request naming `host` may be answered: a loopback host or a
/// configured one when hosts are configured; a loopback host when the
/// permission trusts the client's address; anything otherwise.
pub(crate) fn allowed(host: Option<&str>, configured: &[String], trusts_address: bool) -> bool {
    if configured.is_empty() && !trusts_address {
        return true;
    }
    let Some(host) = host.map(str::trim) else { return false };
    is_loopback_host(host) || configured.iter().any(|c| matches_configured(host, c))
}

/// Splits `name[:port]` / `[v6][:port]` into the name (without brackets)
/// and the port text.
fn split_port(host: &str) -> (&str, Option<&str>) {
    if let Some(rest) = host.strip_prefix('[') {
        return match rest.split_once(']') {
            Some((name, "")) => (name, None),
            Some((name, port)) => (name, port.strip_prefix(':').or(Some(port))),
            None => (host, None),
        };
    }
    match host.rsplit_once(':') {
        Some((name, port)) if !name.contains(':') => (name, Some(port)),
        _ => (host, None),
    }
}

fn valid_port(port: Option<&str>) -> bool {
    port.is_none_or(|p| !p.is_empty() && p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit()))
}

/// `localhost`, `127.0.0.0/8` or `[::1]`, with or without a port.
pub(crate) fn is_loopback_host(host: &str) -> bool {
    let (name, port) = split_port(host);
    if !valid_port(port) {
        return false;
    }
    let name = name.strip_suffix('.').unwrap_or(name);
    if name.eq_ignore_ascii_case("localhost") {
        return true;
    }
    if host.starts_with('[') {
        return name.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback());
    }
    // Only the dotted-quad form: `2130706433` or `0x7f.1` are loopback to
    // some resolvers but no browser sends them as a host of a real page.
    name.parse::<Ipv4Addr>().is_ok_and(|ip| ip.is_loopback())
}

/// A configured `name` matches that name on any port; `name:port` that port only.
fn matches_configured(host: &str, configured: &str) -> bool {
    let (name, port) = split_port(host);
    let (c_name, c_port) = split_port(configured);
    valid_port(port)
        && name.trim_end_matches('.').eq_ignore_ascii_case(c_name.trim_end_matches('.'))
        && (c_port.is_none() || c_port == port)
}

/// Whether an `Origin` header (`scheme://host[:port]`) names the same host
/// and port as the `Host` header. `Origin: null` matches nothing.
pub(crate) fn origin_matches(origin: &str, host: Option<&str>) -> bool {
    let Some(host) = host.map(str::trim) else { return false };
    let Some((scheme, authority)) = origin.trim().split_once("://") else { return false };
    if authority.is_empty() || authority.contains('/') {
        return false;
    }
    if authority.eq_ignore_ascii_case(host) {
        return true;
    }
    // `Origin: https://x` and `Host: x:443` are the same place.
    let default_port = match scheme.to_ascii_lowercase().as_str() {
        "http" => "80",
        "https" => "443",
        _ => return false,
    };
    let (o_name, o_port) = split_port(authority);
    let (h_name, h_port) = split_port(host);
    o_name.eq_ignore_ascii_case(h_name) && o_port.unwrap_or(default_port) == h_port.unwrap_or(default_port)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_hosts() {
        for h in ["localhost", "LOCALHOST:8080", "localhost.", "127.0.0.1", "127.1.2.3:80", "[::1]", "[::1]:8080"] {
            assert!(is_loopback_host(h), "{h}");
        }
        for h in [
            "attacker.example",
            "localhost.attacker.example",
            "127.0.0.1.nip.io",
            "10.0.0.1",
            "[::2]:80",
            "::1",
            "localhost:80x",
            "localhost:",
            "2130706433",
            "",
        ] {
            assert!(!is_loopback_host(h), "{h}");
        }
    }

    #[test]
    fn configured_hosts_and_modes() {
        let conf = vec!["errors.internal".to_owned(), "ops.example:8443".to_owned()];
        assert!(allowed(Some("errors.internal:9000"), &conf, true));
        assert!(allowed(Some("Errors.Internal"), &conf, false));
        assert!(allowed(Some("ops.example:8443"), &conf, false));
        assert!(!allowed(Some("ops.example:8080"), &conf, false));
        assert!(!allowed(Some("attacker.example"), &conf, false));
        assert!(allowed(Some("localhost:1"), &conf, false));
        assert!(!allowed(None, &conf, false));
        assert!(!allowed(Some("attacker.example"), &[], true));
        assert!(!allowed(None, &[], true));
        assert!(allowed(Some("attacker.example"), &[], false), "credentials protect this mode");
    }

    #[test]
    fn origins() {
        assert!(origin_matches("http://127.0.0.1:8080", Some("127.0.0.1:8080")));
        assert!(origin_matches("https://Errors.Example", Some("errors.example:443")));
        assert!(origin_matches("http://[::1]:80", Some("[::1]")));
        assert!(!origin_matches("http://attacker.example", Some("127.0.0.1:8080")));
        assert!(!origin_matches("http://127.0.0.1:9", Some("127.0.0.1:8080")));
        assert!(!origin_matches("null", Some("127.0.0.1")));
        assert!(!origin_matches("http://127.0.0.1", None));
    }
}
