//! Who is asking: the address a request comes from, as the card-testing limits count it. An
//! extractor of every surface that takes payments (the payer pages, the sandbox, the API).

use crate::state::AppState;
use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::HeaderMap;
use std::net::{IpAddr, SocketAddr};

/// The address a payment attempt comes from: the connection's peer, or, from a trusted proxy,
/// the nearest untrusted address of `X-Forwarded-For`. IPv6 addresses count by their /64
/// (one host usually has a whole /64). `None` when the server does not know its peers.
#[derive(Debug, Clone, Default)]
pub struct ClientAddr(pub Option<String>);

impl FromRequestParts<AppState> for ClientAddr {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, st: &AppState) -> Result<Self, Self::Rejection> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip());
        let ip = peer.map(|p| client_ip(p, &parts.headers, &st.settings.checkout.trusted_proxies));
        Ok(ClientAddr(ip.map(address_key)))
    }
}

/// Walks `X-Forwarded-For` from the nearest hop while the hop it came through is trusted.
fn client_ip(peer: IpAddr, headers: &HeaderMap, trusted: &[IpAddr]) -> IpAddr {
    let mut client = peer;
    if !trusted.contains(&peer) {
        return client;
    }
    let hops = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .collect::<Vec<_>>();
    for hop in hops.iter().rev() {
        match hop.trim().parse::<IpAddr>() {
            Ok(ip) => {
                client = ip;
                if !trusted.contains(&ip) {
                    break;
                }
            }
            // Garbage: the last hop we could read is as far as anyone vouches for.
            Err(_) => break,
        }
    }
    client
}

fn address_key(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let s = v6.segments();
                let net = std::net::Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0);
                format!("{net}/64")
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn forwarded(v: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("x-forwarded-for", v.parse().unwrap());
        h
    }

    #[test]
    fn forwarded_for_counts_only_from_trusted_proxies() {
        let proxy = ip("10.0.0.1");
        let h = forwarded("198.51.100.1, 203.0.113.7");
        // An untrusted peer is the client, whatever it claims.
        assert_eq!(client_ip(ip("192.0.2.9"), &h, &[proxy]), ip("192.0.2.9"));
        // Through the trusted proxy: the nearest hop it did not add itself.
        assert_eq!(client_ip(proxy, &h, &[proxy]), ip("203.0.113.7"));
        // Through two trusted proxies.
        let inner = ip("10.0.0.2");
        let h = forwarded("203.0.113.7, 10.0.0.2");
        assert_eq!(client_ip(proxy, &h, &[proxy, inner]), ip("203.0.113.7"));
        // Garbage stops the walk at the last hop that could be read.
        let h = forwarded("203.0.113.7, nonsense");
        assert_eq!(client_ip(proxy, &h, &[proxy]), proxy);
        assert_eq!(client_ip(proxy, &HeaderMap::new(), &[proxy]), proxy);
    }

    #[test]
    fn ipv6_clients_count_by_their_64() {
        assert_eq!(address_key(ip("203.0.113.7")), "203.0.113.7");
        assert_eq!(address_key(ip("::ffff:203.0.113.7")), "203.0.113.7");
        assert_eq!(
            address_key(ip("2001:db8:1:2:aaaa:bbbb:cccc:dddd")),
            "2001:db8:1:2::/64"
        );
        assert_eq!(
            address_key(ip("2001:db8:1:2::1")),
            address_key(ip("2001:db8:1:2:ffff::9"))
        );
    }
}
