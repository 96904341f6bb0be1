//! The runbook allow-list (`[runbooks] allowed_hosts`): which host and port an action may
//! call, which addresses it may connect to, and the resolution that pins the connection to the
//! addresses that were checked.
//!
//! An entry is `"host[:port]"` (no port: the default port of the URL's scheme), or a table
//! `{ host = "host[:port]", private = true, secrets_over_http = true }`. A name is resolved
//! when the action is sent; every address it resolves to must be public unless the entry says
//! `private = true`, and the cloud metadata addresses are never allowed. The request then
//! connects to exactly those addresses (no second lookup, no proxy, no redirects), so a name
//! cannot be re-pointed between the check and the connection.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::str::FromStr as _;

use async_trait::async_trait;
use ipnet::{Ipv4Net, Ipv6Net};
use serde::Deserialize;
use url::{Host, Url};

/// One allow-list entry.
#[derive(Clone, PartialEq, Eq)]
pub struct AllowedHost {
    host: Host<String>,
    /// `None`: the default port of the URL's scheme (443 for https, 80 for http).
    port: Option<u16>,
    /// Loopback, private, link-local, CGNAT and unique-local addresses are allowed.
    pub private: bool,
    /// Secret headers may be sent over plain `http://` (meant for a sidecar on loopback).
    pub secrets_over_http: bool,
}

impl fmt::Debug for AllowedHost {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self}")?;
        if self.private {
            f.write_str(" (private)")?;
        }
        if self.secrets_over_http {
            f.write_str(" (secrets over http)")?;
        }
        Ok(())
    }
}

impl fmt::Display for AllowedHost {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.host)?;
        if let Some(port) = self.port {
            write!(f, ":{port}")?;
        }
        Ok(())
    }
}

impl AllowedHost {
    /// Parses `host[:port]`: a DNS name, an IPv4 address or a bracketed IPv6 address.
    pub fn parse(text: &str) -> Result<Self, String> {
        let bad = |why: &str| format!("allowed_hosts entry `{text}` {why}");
        let authority = axum::http::uri::Authority::from_str(text.trim())
            .map_err(|_| bad("is not host[:port]"))?;
        if authority.as_str().contains('@') {
            return Err(bad("must not carry a user name or password"));
        }
        // What follows the host is nothing or a port number.
        let rest = &authority.as_str()[authority.host().len()..];
        if !(rest.is_empty()
            || authority
                .port_u16()
                .is_some_and(|p| rest == format!(":{p}")))
        {
            return Err(bad("is not host[:port]"));
        }
        let host =
            Host::parse(authority.host()).map_err(|e| bad(&format!("has a bad host: {e}")))?;
        let host = match host {
            Host::Domain(d) => Host::Domain(d.trim_end_matches('.').to_ascii_lowercase()),
            other => other,
        };
        Ok(Self {
            host,
            port: authority.port_u16(),
            private: false,
            secrets_over_http: false,
        })
    }

    /// Whether a URL's host and port are this entry's.
    pub fn matches(&self, url: &Url) -> bool {
        let host = match url.host() {
            Some(Host::Domain(d)) => Host::Domain(d.trim_end_matches('.').to_ascii_lowercase()),
            Some(Host::Ipv4(a)) => Host::Ipv4(a),
            Some(Host::Ipv6(a)) => Host::Ipv6(a),
            None => return false,
        };
        let default = match url.scheme() {
            "https" => 443,
            "http" => 80,
            _ => return false,
        };
        host == self.host && url.port_or_known_default() == Some(self.port.unwrap_or(default))
    }

    /// The first entry that allows `url`.
    pub fn find<'a>(entries: &'a [Self], url: &Url) -> Option<&'a Self> {
        entries.iter().find(|e| e.matches(url))
    }
}

impl<'de> Deserialize<'de> for AllowedHost {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        /// The table form.
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Table {
            host: String,
            #[serde(default)]
            private: bool,
            #[serde(default)]
            secrets_over_http: bool,
        }
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = AllowedHost;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(r#""host[:port]" or { host = "host[:port]", private = true }"#)
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<AllowedHost, E> {
                AllowedHost::parse(v).map_err(E::custom)
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                map: A,
            ) -> Result<AllowedHost, A::Error> {
                let t = Table::deserialize(serde::de::value::MapAccessDeserializer::new(map))?;
                let mut entry = AllowedHost::parse(&t.host).map_err(serde::de::Error::custom)?;
                entry.private = t.private;
                entry.secrets_over_http = t.secrets_over_http;
                Ok(entry)
            }
        }
        d.deserialize_any(Visitor)
    }
}

/// Why an address may not be connected to, or `None` when it may. `private` is the entry's
/// `private = true`.
pub fn refusal(addr: IpAddr, private: bool) -> Option<&'static str> {
    match addr {
        IpAddr::V4(a) => refusal_v4(a, private),
        IpAddr::V6(a) => refusal_v6(a, private),
    }
}

const METADATA_V4: Ipv4Addr = Ipv4Addr::new(169, 254, 169, 254);
const METADATA_V6: Ipv6Addr = Ipv6Addr::new(0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254);

/// Never unicast destinations: "this network", multicast, reserved and broadcast.
const NOT_UNICAST_V4: &[Ipv4Net] = &[
    Ipv4Net::new_assert(Ipv4Addr::new(0, 0, 0, 0), 8),
    Ipv4Net::new_assert(Ipv4Addr::new(224, 0, 0, 0), 4),
    Ipv4Net::new_assert(Ipv4Addr::new(240, 0, 0, 0), 4),
];

/// Addresses inside a network (RFC 6890's special-purpose registry): allowed only with
/// `private = true`.
const INTERNAL_V4: &[(Ipv4Net, &str)] = &[
    (
        Ipv4Net::new_assert(Ipv4Addr::new(127, 0, 0, 0), 8),
        "a loopback address",
    ),
    (
        Ipv4Net::new_assert(Ipv4Addr::new(10, 0, 0, 0), 8),
        "a private address",
    ),
    (
        Ipv4Net::new_assert(Ipv4Addr::new(172, 16, 0, 0), 12),
        "a private address",
    ),
    (
        Ipv4Net::new_assert(Ipv4Addr::new(192, 168, 0, 0), 16),
        "a private address",
    ),
    (
        Ipv4Net::new_assert(Ipv4Addr::new(169, 254, 0, 0), 16),
        "a link-local address",
    ),
    (
        Ipv4Net::new_assert(Ipv4Addr::new(100, 64, 0, 0), 10),
        "a carrier-grade NAT address",
    ),
    (
        Ipv4Net::new_assert(Ipv4Addr::new(192, 0, 0, 0), 24),
        "a reserved address",
    ),
    (
        Ipv4Net::new_assert(Ipv4Addr::new(192, 0, 2, 0), 24),
        "a documentation address",
    ),
    (
        Ipv4Net::new_assert(Ipv4Addr::new(198, 51, 100, 0), 24),
        "a documentation address",
    ),
    (
        Ipv4Net::new_assert(Ipv4Addr::new(203, 0, 113, 0), 24),
        "a documentation address",
    ),
    (
        Ipv4Net::new_assert(Ipv4Addr::new(198, 18, 0, 0), 15),
        "a benchmarking address",
    ),
];

const NOT_UNICAST_V6: &[Ipv6Net] = &[
    Ipv6Net::new_assert(Ipv6Addr::UNSPECIFIED, 128),
    Ipv6Net::new_assert(Ipv6Addr::new(0xff00, 0, 0, 0, 0, 0, 0, 0), 8),
];

const INTERNAL_V6: &[(Ipv6Net, &str)] = &[
    (
        Ipv6Net::new_assert(Ipv6Addr::LOCALHOST, 128),
        "a loopback address",
    ),
    (
        Ipv6Net::new_assert(Ipv6Addr::new(0xfc00, 0, 0, 0, 0, 0, 0, 0), 7),
        "a unique-local address",
    ),
    (
        Ipv6Net::new_assert(Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 0), 10),
        "a link-local address",
    ),
    (
        Ipv6Net::new_assert(Ipv6Addr::new(0xfec0, 0, 0, 0, 0, 0, 0, 0), 10),
        "a site-local address",
    ),
    (
        Ipv6Net::new_assert(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0), 32),
        "a documentation address",
    ),
    (
        Ipv6Net::new_assert(Ipv6Addr::new(0x100, 0, 0, 0, 0, 0, 0, 0), 64),
        "a discard address",
    ),
    (
        Ipv6Net::new_assert(Ipv6Addr::new(0x2001, 0, 0, 0, 0, 0, 0, 0), 32),
        "a Teredo address",
    ),
];

/// IPv6 prefixes that carry an IPv4 address in their last 32 bits (IPv4-mapped, the
/// deprecated IPv4-compatible form, NAT64): judged by that address.
const EMBEDS_V4: &[Ipv6Net] = &[
    Ipv6Net::new_assert(Ipv6Addr::new(0, 0, 0, 0, 0, 0xffff, 0, 0), 96),
    Ipv6Net::new_assert(Ipv6Addr::new(0, 0, 0, 0, 0, 0, 0, 0), 96),
    Ipv6Net::new_assert(Ipv6Addr::new(0x64, 0xff9b, 0, 0, 0, 0, 0, 0), 96),
];

fn refusal_v4(a: Ipv4Addr, private: bool) -> Option<&'static str> {
    if a == METADATA_V4 {
        return Some("the cloud metadata address");
    }
    if a.is_broadcast() || NOT_UNICAST_V4.iter().any(|n| n.contains(&a)) {
        return Some("not a unicast address");
    }
    if private {
        return None;
    }
    INTERNAL_V4
        .iter()
        .find(|(n, _)| n.contains(&a))
        .map(|(_, why)| *why)
}

fn refusal_v6(a: Ipv6Addr, private: bool) -> Option<&'static str> {
    if a == METADATA_V6 {
        return Some("the cloud metadata address");
    }
    if NOT_UNICAST_V6.iter().any(|n| n.contains(&a)) {
        return Some("not a unicast address");
    }
    if a == Ipv6Addr::LOCALHOST {
        return (!private).then_some("a loopback address");
    }
    if EMBEDS_V4.iter().any(|n| n.contains(&a)) {
        let [.., a, b, c, d] = a.octets();
        return refusal_v4(Ipv4Addr::new(a, b, c, d), private);
    }
    // 6to4 (2002::/16) carries an IPv4 address in bits 16..48.
    if a.segments()[0] == 0x2002 {
        let [_, _, a, b, c, d, ..] = a.octets();
        return refusal_v4(Ipv4Addr::new(a, b, c, d), private);
    }
    if private {
        return None;
    }
    INTERNAL_V6
        .iter()
        .find(|(n, _)| n.contains(&a))
        .map(|(_, why)| *why)
}

/// How names are resolved: the system resolver in production, a table in tests.
#[async_trait]
pub trait Resolve: Send + Sync {
    async fn lookup(&self, host: &str, port: u16) -> std::io::Result<Vec<SocketAddr>>;
}

/// The system resolver (`getaddrinfo`, through Tokio).
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemResolver;

#[async_trait]
impl Resolve for SystemResolver {
    async fn lookup(&self, host: &str, port: u16) -> std::io::Result<Vec<SocketAddr>> {
        Ok(tokio::net::lookup_host((host, port)).await?.collect())
    }
}

/// The addresses `url` may be connected to under `entry`: its IP literal, or every address
/// its name resolves to, each checked. A refusal is a sentence naming the address.
pub async fn addresses(
    resolver: &dyn Resolve,
    entry: &AllowedHost,
    url: &Url,
) -> Result<Vec<SocketAddr>, String> {
    let port = url.port_or_known_default().unwrap_or(443);
    let addrs = match url.host() {
        Some(Host::Ipv4(a)) => vec![SocketAddr::new(IpAddr::V4(a), port)],
        Some(Host::Ipv6(a)) => vec![SocketAddr::new(IpAddr::V6(a), port)],
        Some(Host::Domain(name)) => {
            let found = resolver
                .lookup(name, port)
                .await
                .map_err(|_| format!("{name} could not be resolved"))?;
            if found.is_empty() {
                return Err(format!("{name} resolves to no address"));
            }
            found
        }
        None => return Err("the URL has no host".to_owned()),
    };
    let host = url.host_str().unwrap_or("");
    for a in &addrs {
        if let Some(why) = refusal(a.ip(), entry.private) {
            let hint = if why.contains("metadata") || why.contains("unicast") {
                String::new()
            } else {
                format!(" (allow it with {{ host = \"{entry}\", private = true }})")
            };
            return Err(format!("{host} resolves to {}, {why}{hint}", a.ip()));
        }
    }
    Ok(addrs)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("an address")
    }

    #[test]
    fn entries_are_host_and_optional_port() {
        let e = AllowedHost::parse("API.example.com").expect("valid");
        let url = |s: &str| Url::parse(s).expect("url");
        assert!(e.matches(&url("https://api.example.com/x")));
        assert!(e.matches(&url("http://api.example.com/x")));
        assert!(!e.matches(&url("https://api.example.com:8443/x")));
        assert!(!e.matches(&url("https://api.example.com.evil.net/x")));
        let p = AllowedHost::parse("api.example.com:8443").expect("valid");
        assert!(p.matches(&url("https://api.example.com:8443/x")));
        assert!(!p.matches(&url("https://api.example.com/x")));
        let v6 = AllowedHost::parse("[::1]:9000").expect("valid");
        assert!(v6.matches(&url("http://[::1]:9000/")));
        // Other spellings of an address are the same address.
        let v4 = AllowedHost::parse("127.0.0.1:80").expect("valid");
        assert!(v4.matches(&url("http://2130706433/")));
        for bad in ["", "user:pw@host", "host:port", "a b", "http://host"] {
            assert!(AllowedHost::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn internal_and_metadata_addresses_are_refused() {
        for a in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.1.1",
            "100.64.0.1",
            "::1",
            "fd12::1",
            "fe80::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "64:ff9b::a00:1",
            "2002:7f00:1::",
        ] {
            assert!(refusal(ip(a), false).is_some(), "{a}");
            assert_eq!(refusal(ip(a), true), None, "{a} with private = true");
        }
        for a in [
            "169.254.169.254",
            "fd00:ec2::254",
            "::ffff:169.254.169.254",
            "0.0.0.0",
            "::",
            "224.0.0.1",
            "255.255.255.255",
        ] {
            assert!(
                refusal(ip(a), true).is_some(),
                "{a} even with private = true"
            );
        }
        for a in ["93.184.216.34", "2606:4700::1111", "8.8.8.8"] {
            assert_eq!(refusal(ip(a), false), None, "{a}");
        }
    }
}
