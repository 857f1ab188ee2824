//! Where paylink may send requests on a merchant's behalf: http(s) URLs whose addresses are
//! public, or private when configuration allows (tests, local development). Link-local and
//! cloud-metadata addresses are never allowed. A URL is checked when it is configured and again
//! at send time on the very addresses the connection uses (the client's resolver filters
//! them), so a name cannot be re-pointed at a forbidden address after the check.

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use thiserror::Error;
use url::Url;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum Refusal {
    #[error("not an http(s) URL with a host")]
    NotHttp,
    #[error("{0} is a link-local or metadata address")]
    Forbidden(IpAddr),
    #[error("{0} is a loopback or private address (allowed only with allow_private_receivers)")]
    Private(IpAddr),
}

/// Whether paylink may connect to `ip`. An IPv6 address that carries an IPv4 one (mapped,
/// compatible, NAT64, 6to4, Teredo) is judged by that one too, since a translator or tunnel on
/// the way may deliver it there.
pub fn check_ip(ip: IpAddr, allow_private: bool) -> Result<(), Refusal> {
    let ip = match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    };
    let (forbidden, private) = match ip {
        IpAddr::V4(a) => (forbidden_v4(a), private_v4(a)),
        IpAddr::V6(a) => match carried_v4(a) {
            Some(v4) => (
                forbidden_v6(a) || forbidden_v4(v4),
                private_v6(a) || private_v4(v4),
            ),
            None => (forbidden_v6(a), private_v6(a)),
        },
    };
    if forbidden {
        Err(Refusal::Forbidden(ip))
    } else if private && !allow_private {
        Err(Refusal::Private(ip))
    } else {
        Ok(())
    }
}

fn forbidden_v4(a: Ipv4Addr) -> bool {
    let o = a.octets();
    a.is_link_local() // 169.254.0.0/16, the cloud metadata services among them
        || a.is_unspecified()
        || a.is_broadcast()
        || a.is_multicast()
        || o[0] == 0
        || a == Ipv4Addr::new(100, 100, 100, 200) // Alibaba Cloud metadata
}

fn private_v4(a: Ipv4Addr) -> bool {
    let o = a.octets();
    a.is_loopback()
        || a.is_private()
        || (o[0] == 100 && (64..128).contains(&o[1])) // carrier-grade NAT
        || (o[0] == 198 && (18..20).contains(&o[1])) // benchmarking
}

fn forbidden_v6(a: Ipv6Addr) -> bool {
    let s = a.segments();
    a.is_unspecified()
        || a.is_multicast()
        || (s[0] & 0xffc0) == 0xfe80 // link-local
        || a == Ipv6Addr::new(0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254) // AWS metadata
}

/// The IPv4 address an IPv6 one carries: IPv4-compatible `::a.b.c.d` (not `::` or `::1`),
/// NAT64 `64:ff9b::/96` and `64:ff9b:1::/48`, 6to4 `2002::/16`, Teredo `2001::/32` (its client,
/// stored inverted).
fn carried_v4(a: Ipv6Addr) -> Option<Ipv4Addr> {
    let s = a.segments();
    let v4 = |hi: u16, lo: u16| Ipv4Addr::from((u32::from(hi) << 16) | u32::from(lo));
    match s {
        [0, 0, 0, 0, 0, 0, hi, lo] if hi != 0 => Some(v4(hi, lo)),
        [0x64, 0xff9b, 0, 0, 0, 0, hi, lo] | [0x64, 0xff9b, 1, _, _, _, hi, lo] => Some(v4(hi, lo)),
        [0x2002, hi, lo, ..] => Some(v4(hi, lo)),
        [0x2001, 0, _, _, _, _, hi, lo] => Some(v4(!hi, !lo)),
        _ => None,
    }
}

fn private_v6(a: Ipv6Addr) -> bool {
    a.is_loopback() || (a.segments()[0] & 0xfe00) == 0xfc00 // unique local
}

/// An http(s) URL with a host; an IP-literal host must be allowed.
pub fn check_url(text: &str, allow_private: bool) -> Result<Url, Refusal> {
    let url = Url::parse(text).map_err(|_| Refusal::NotHttp)?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(Refusal::NotHttp);
    }
    match url.host() {
        Some(url::Host::Ipv4(a)) => check_ip(IpAddr::V4(a), allow_private)?,
        Some(url::Host::Ipv6(a)) => check_ip(IpAddr::V6(a), allow_private)?,
        Some(url::Host::Domain(_)) => {}
        None => return Err(Refusal::NotHttp),
    }
    Ok(url)
}

/// [`check_url`], and every address the host resolves to now must be allowed. A name that
/// does not resolve yet passes: it is checked again at send time.
pub async fn check_configured_url(text: &str, allow_private: bool) -> Result<(), Refusal> {
    let url = check_url(text, allow_private)?;
    if let Some(url::Host::Domain(name)) = url.host() {
        let port = url.port_or_known_default().unwrap_or(80);
        if let Ok(addrs) = tokio::net::lookup_host((name, port)).await {
            for a in addrs {
                check_ip(a.ip(), allow_private)?;
            }
        }
    }
    Ok(())
}

/// The postback client's resolver: answers only allowed addresses, and refuses a name that
/// has none.
pub struct GuardedResolver {
    pub allow_private: bool,
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let allow_private = self.allow_private;
        Box::pin(async move {
            let found: Vec<SocketAddr> =
                tokio::net::lookup_host((name.as_str(), 0)).await?.collect();
            let mut refusal = None;
            let allowed: Vec<SocketAddr> = found
                .into_iter()
                .filter(|a| match check_ip(a.ip(), allow_private) {
                    Ok(()) => true,
                    Err(r) => {
                        refusal = Some(r);
                        false
                    }
                })
                .collect();
            if allowed.is_empty() {
                let why = refusal.map_or_else(
                    || format!("{} does not resolve", name.as_str()),
                    |r| format!("{} refused: {r}", name.as_str()),
                );
                return Err(why.into());
            }
            Ok(Box::new(allowed.into_iter()) as Addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn metadata_and_link_local_are_never_allowed() {
        for a in [
            "169.254.169.254",
            "169.254.1.1",
            "fe80::1",
            "fd00:ec2::254",
            "0.0.0.0",
            "::",
            "::ffff:169.254.169.254",
            "::169.254.169.254",
            "64:ff9b::a9fe:a9fe",
            "2002:a9fe:a9fe::1",
            "2001:0:4136:e378:8000:63bf:5601:5601", // Teredo, client 169.254.169.254
            "100.100.100.200",
            "224.0.0.1",
        ] {
            assert!(
                matches!(check_ip(ip(a), true), Err(Refusal::Forbidden(_))),
                "{a}"
            );
        }
    }

    #[test]
    fn loopback_and_private_only_when_allowed() {
        for a in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "100.64.0.1",
            "::1",
            "fd12::1",
            "::ffff:10.0.0.1",
            "::10.0.0.1",
            "64:ff9b::7f00:1",
            "64:ff9b:1::a00:1",
            "2002:c0a8:101::1",
            "2001:0:4136:e378:8000:63bf:f5ff:fffe", // Teredo, client 10.0.0.1
        ] {
            assert!(
                matches!(check_ip(ip(a), false), Err(Refusal::Private(_))),
                "{a}"
            );
            assert_eq!(check_ip(ip(a), true), Ok(()), "{a}");
        }
        assert_eq!(check_ip(ip("93.184.216.34"), false), Ok(()));
        assert_eq!(check_ip(ip("2606:4700::1111"), false), Ok(()));
        assert_eq!(check_ip(ip("64:ff9b::5db8:d822"), false), Ok(()));
        assert_eq!(check_ip(ip("2002:5db8:d822::1"), false), Ok(()));
    }

    #[test]
    fn urls_must_be_http_with_an_allowed_literal_host() {
        assert!(check_url("https://merchant.example/cb", false).is_ok());
        assert_eq!(
            check_url("ftp://merchant.example/cb", true).unwrap_err(),
            Refusal::NotHttp
        );
        assert_eq!(check_url("not a url", true).unwrap_err(), Refusal::NotHttp);
        assert!(matches!(
            check_url("http://169.254.169.254/latest/meta-data", true),
            Err(Refusal::Forbidden(_))
        ));
        assert!(matches!(
            check_url("http://[::1]:8080/cb", false),
            Err(Refusal::Private(_))
        ));
        assert!(check_url("http://127.0.0.1:8080/cb", true).is_ok());
    }

    #[tokio::test]
    async fn a_name_resolving_to_loopback_is_refused_unless_allowed() {
        assert!(matches!(
            check_configured_url("http://localhost:9/cb", false).await,
            Err(Refusal::Private(_))
        ));
        assert!(check_configured_url("http://localhost:9/cb", true)
            .await
            .is_ok());
    }
}
