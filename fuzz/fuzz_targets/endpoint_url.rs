//! Webhook endpoint URLs: an accepted URL is https (or http to loopback when the local
//! stack allows it) and never names a private, loopback or link-local address,
//! however it is written — checked against the URL standard's own parse.
#![no_main]
use libfuzzer_sys::fuzz_target;
use shared::webhooks::check_endpoint_url;
use std::net::IpAddr;

fn internal(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            v4.is_private() || v4.is_loopback() || v4.is_link_local() || v4.is_unspecified()
        }
        IpAddr::V6(v6) => {
            v6.is_loopback()
                || v6.is_unspecified()
                || v6
                    .to_ipv4_mapped()
                    .is_some_and(|v4| v4.is_private() || v4.is_loopback() || v4.is_link_local())
                || (v6.segments()[0] & 0xfe00) == 0xfc00
                || (v6.segments()[0] & 0xffc0) == 0xfe80
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    for allow_loopback in [false, true] {
        if check_endpoint_url(s, allow_loopback).is_ok() {
            let u = url::Url::parse(s).expect("an accepted URL parses");
            let ip = match u.host() {
                Some(url::Host::Ipv4(v4)) => Some(IpAddr::V4(v4)),
                Some(url::Host::Ipv6(v6)) => Some(IpAddr::V6(v6)),
                _ => None,
            };
            if !allow_loopback {
                assert_eq!(u.scheme(), "https", "{s}");
                assert!(!ip.is_some_and(internal), "{s}");
            } else {
                assert!(
                    !ip.is_some_and(|ip| internal(ip) && !ip.is_loopback()),
                    "{s}"
                );
            }
            assert!(u.username().is_empty() && u.password().is_none());
        }
    }
});
