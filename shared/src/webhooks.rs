//! Our webhooks to merchants' servers: which events exist and when an intent's move
//! makes one, the `Edge-Checkout-Signature` header, the retry schedule, and which
//! endpoint URLs we are willing to call at all.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::intent::{IntentState, IntentStatus, UnknownName};
use crate::secrets::Secret;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum EventType {
    #[serde(rename = "payment_intent.succeeded")]
    PaymentIntentSucceeded,
    #[serde(rename = "payment_intent.requires_capture")]
    PaymentIntentRequiresCapture,
    #[serde(rename = "payment_intent.payment_failed")]
    PaymentIntentPaymentFailed,
    #[serde(rename = "payment_intent.canceled")]
    PaymentIntentCanceled,
    #[serde(rename = "refund.succeeded")]
    RefundSucceeded,
    #[serde(rename = "refund.failed")]
    RefundFailed,
    #[serde(rename = "setup_intent.succeeded")]
    SetupIntentSucceeded,
    #[serde(rename = "customer.subscription.created")]
    SubscriptionCreated,
    #[serde(rename = "customer.subscription.updated")]
    SubscriptionUpdated,
    #[serde(rename = "customer.subscription.deleted")]
    SubscriptionDeleted,
    #[serde(rename = "invoice.paid")]
    InvoicePaid,
    #[serde(rename = "invoice.payment_failed")]
    InvoicePaymentFailed,
    #[serde(rename = "invoice.payment_action_required")]
    InvoicePaymentActionRequired,
    #[serde(rename = "reconciliation.mismatch")]
    ReconciliationMismatch,
}

wire_names!(EventType, "event type", {
    PaymentIntentSucceeded => "payment_intent.succeeded",
    PaymentIntentRequiresCapture => "payment_intent.requires_capture",
    PaymentIntentPaymentFailed => "payment_intent.payment_failed",
    PaymentIntentCanceled => "payment_intent.canceled",
    RefundSucceeded => "refund.succeeded",
    RefundFailed => "refund.failed",
    SetupIntentSucceeded => "setup_intent.succeeded",
    SubscriptionCreated => "customer.subscription.created",
    SubscriptionUpdated => "customer.subscription.updated",
    SubscriptionDeleted => "customer.subscription.deleted",
    InvoicePaid => "invoice.paid",
    InvoicePaymentFailed => "invoice.payment_failed",
    InvoicePaymentActionRequired => "invoice.payment_action_required",
    ReconciliationMismatch => "reconciliation.mismatch",
});

/// The event an intent's move from `from` to `to` tells the merchant of, if any.
/// A decline is `payment_failed` each time it happens (a second declined card
/// too), which is why the error, not only the status, is compared.
pub fn intent_event(from: &IntentState, to: &IntentState) -> Option<EventType> {
    use IntentStatus as S;
    match to.status {
        _ if to.status == from.status && to.last_error == from.last_error => None,
        S::Succeeded if from.status != S::Succeeded => Some(EventType::PaymentIntentSucceeded),
        S::RequiresCapture if from.status != S::RequiresCapture => {
            Some(EventType::PaymentIntentRequiresCapture)
        }
        S::Canceled if from.status != S::Canceled => Some(EventType::PaymentIntentCanceled),
        S::RequiresPaymentMethod if to.last_error.is_some() => {
            Some(EventType::PaymentIntentPaymentFailed)
        }
        _ => None,
    }
}

/// The header name on every delivery.
pub const SIGNATURE_HEADER: &str = "Edge-Checkout-Signature";

/// `t=<t>,v1=<hex>[,v1=<hex>]`: one `v1` per secret that is valid now (two while a
/// rolled secret overlaps), each the hex HMAC-SHA256 of `"<t>.<body>"`.
pub fn signature_header(t: i64, body: &[u8], secrets: &[&Secret]) -> String {
    let mut out = format!("t={t}");
    for s in secrets {
        out.push_str(",v1=");
        // Stripe's scheme exactly: one implementation, and merchants' Stripe-style
        // verifiers work unchanged.
        out.push_str(&crate::stripe::webhook::signature_hex(s, t, body));
    }
    out
}

/// Deliveries are retried for this long after the event (API.md: 3 days).
pub const RETRY_FOR_SECONDS: i64 = 3 * 24 * 3600;
/// An endpoint that has not answered within this long has failed this attempt.
pub const DELIVERY_TIMEOUT_SECONDS: u64 = 10;
const FIRST_RETRY_SECONDS: i64 = 60;
const LONGEST_GAP_SECONDS: i64 = 6 * 3600;

/// When to try again after `failed` attempts have failed (1 = the first one), or
/// `None` once that would fall past the event's 3 days. Gaps double from a minute
/// up to six hours: 1, 2, 4 … 256 minutes, then every 6 h.
pub fn next_attempt(event_created: i64, failed: u32, now: i64) -> Option<i64> {
    let exp = failed.saturating_sub(1).min(20);
    let gap = (FIRST_RETRY_SECONDS << exp).min(LONGEST_GAP_SECONDS);
    let at = now + gap;
    (at <= event_created + RETRY_FOR_SECONDS).then_some(at)
}

/// Why an endpoint URL is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UrlRefusal {
    NotAUrl,
    TooLong,
    /// Only `https` (and `http` to loopback in the local stack).
    Scheme,
    Credentials,
    /// A private, loopback, link-local or otherwise internal address or name.
    Internal,
}

impl fmt::Display for UrlRefusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            UrlRefusal::NotAUrl => "url must be an absolute https URL.",
            UrlRefusal::TooLong => "url must be at most 2048 characters.",
            UrlRefusal::Scheme => "url must use https.",
            UrlRefusal::Credentials => "url must not carry a user name or password.",
            UrlRefusal::Internal => {
                "url must point at a public address, not a private, loopback or link-local one."
            }
        })
    }
}

/// Whether we may send events to `url`. `allow_loopback` is the local stack's
/// setting (a test receiver on 127.0.0.1); production never sets it. Hosts are
/// judged as the URL standard parses them, so `http://0x7f.1/` is loopback too.
/// A public name that resolves to a private address is the runtime's to refuse
/// (Workers cannot reach private networks); names that are internal by
/// definition are refused here.
pub fn check_endpoint_url(url: &str, allow_loopback: bool) -> Result<(), UrlRefusal> {
    if url.len() > 2048 {
        return Err(UrlRefusal::TooLong);
    }
    let parsed = url::Url::parse(url).map_err(|_| UrlRefusal::NotAUrl)?;
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(UrlRefusal::Credentials);
    }
    let loopback = match parsed.host() {
        Some(url::Host::Ipv4(ip)) => match classify(IpAddr::V4(ip)) {
            Reach::Public => false,
            Reach::Loopback => true,
            Reach::Internal => return Err(UrlRefusal::Internal),
        },
        Some(url::Host::Ipv6(ip)) => match classify(IpAddr::V6(ip)) {
            Reach::Public => false,
            Reach::Loopback => true,
            Reach::Internal => return Err(UrlRefusal::Internal),
        },
        Some(url::Host::Domain(name)) => {
            let name = name.trim_end_matches('.').to_ascii_lowercase();
            let is = |suffix: &str| name == suffix || name.ends_with(&format!(".{suffix}"));
            if is("localhost") {
                true
            } else if !name.contains('.')
                || ["local", "internal", "lan", "home.arpa", "intranet", "corp"]
                    .iter()
                    .any(|s| is(s))
            {
                return Err(UrlRefusal::Internal);
            } else {
                false
            }
        }
        None => return Err(UrlRefusal::NotAUrl),
    };
    match (parsed.scheme(), loopback) {
        (_, true) if !allow_loopback => Err(UrlRefusal::Internal),
        ("https", _) => Ok(()),
        ("http", true) => Ok(()),
        _ => Err(UrlRefusal::Scheme),
    }
}

enum Reach {
    Public,
    Loopback,
    Internal,
}

fn classify(ip: IpAddr) -> Reach {
    match ip {
        IpAddr::V4(v4) => classify_v4(v4),
        IpAddr::V6(v6) => {
            if v6.is_loopback() {
                return Reach::Loopback;
            }
            if let Some(v4) = v6.to_ipv4_mapped() {
                return classify_v4(v4);
            }
            let first = v6.segments()[0];
            let internal = v6.is_unspecified()
                || v6.is_multicast()
                || (first & 0xfe00) == 0xfc00 // unique local fc00::/7
                || (first & 0xffc0) == 0xfe80 // link-local fe80::/10
                || (first & 0xffc0) == 0xfec0 // site-local fec0::/10
                || v6.segments()[..6] == [0, 0, 0, 0, 0, 0] // IPv4-compatible ::a.b.c.d
                || (first == 0x64 && v6.segments()[1] == 0xff9b) // NAT64 64:ff9b::/96
                || first == 0x2002 // 6to4: wraps an IPv4 address
                || (first == 0x2001 && v6.segments()[1] == 0x0db8); // documentation
            if internal || v6 == Ipv6Addr::UNSPECIFIED {
                Reach::Internal
            } else {
                Reach::Public
            }
        }
    }
}

fn classify_v4(ip: Ipv4Addr) -> Reach {
    let o = ip.octets();
    if ip.is_loopback() {
        return Reach::Loopback;
    }
    let internal = ip.is_private()
        || ip.is_link_local() // 169.254/16: cloud metadata lives here
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || o[0] == 0
        || (o[0] == 100 && (o[1] & 0xc0) == 64) // carrier-grade NAT 100.64/10
        || (o[0] == 192 && o[1] == 0 && o[2] == 0) // IETF protocol assignments
        || (o[0] == 198 && (o[1] & 0xfe) == 18) // benchmarking 198.18/15
        || o[0] >= 240; // reserved
    if internal {
        Reach::Internal
    } else {
        Reach::Public
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::intent::CaptureMethod;
    use crate::money::{Currency, Money};
    use proptest::prelude::*;

    #[test]
    fn event_names_round_trip() {
        for t in EventType::ALL {
            assert_eq!(EventType::from_str(t.as_str()).unwrap(), *t);
            assert_eq!(
                serde_json::to_string(t).unwrap(),
                format!("\"{}\"", t.as_str())
            );
        }
        assert!(EventType::from_str("payment_intent.created").is_err());
    }

    fn state(status: IntentStatus, err: Option<&str>) -> IntentState {
        let amount = Money::from_minor_units(1000, Currency::from_str("CHF").unwrap()).unwrap();
        IntentState {
            status,
            last_error: err.map(str::to_owned),
            ..IntentState::new(amount, CaptureMethod::Automatic)
        }
    }

    #[test]
    fn intent_moves_name_their_event() {
        use IntentStatus as S;
        let ev = |a, ea, b, eb| intent_event(&state(a, ea), &state(b, eb));
        assert_eq!(
            ev(S::Processing, None, S::Succeeded, None),
            Some(EventType::PaymentIntentSucceeded)
        );
        assert_eq!(
            ev(S::RequiresAction, None, S::RequiresCapture, None),
            Some(EventType::PaymentIntentRequiresCapture)
        );
        assert_eq!(
            ev(S::RequiresCapture, None, S::Canceled, None),
            Some(EventType::PaymentIntentCanceled)
        );
        assert_eq!(
            ev(
                S::Processing,
                None,
                S::RequiresPaymentMethod,
                Some("card_declined")
            ),
            Some(EventType::PaymentIntentPaymentFailed)
        );
        // A second decline after the first is a second failure.
        assert_eq!(
            ev(
                S::RequiresPaymentMethod,
                Some("card_declined"),
                S::RequiresPaymentMethod,
                Some("insufficient_funds")
            ),
            Some(EventType::PaymentIntentPaymentFailed)
        );
        // Nothing moved, or a move the merchant is not told of.
        assert_eq!(ev(S::Succeeded, None, S::Succeeded, None), None);
        assert_eq!(
            ev(S::RequiresPaymentMethod, None, S::Processing, None),
            None
        );
        assert_eq!(ev(S::Processing, None, S::RequiresAction, None), None);
    }

    #[test]
    fn signature_has_one_v1_per_secret_and_verifies_as_stripe_does() {
        let (a, b) = (Secret::new("whsec_a"), Secret::new("whsec_b"));
        let body = br#"{"id":"evt_1"}"#;
        let h = signature_header(1_700_000_000, body, &[&a, &b]);
        assert_eq!(h.matches(",v1=").count(), 2);
        assert!(h.starts_with("t=1700000000,v1="));
        // Same scheme as Stripe-Signature: Stripe's verifier accepts it under either secret.
        for s in [&a, &b] {
            crate::stripe::webhook::verify(&h, body, s, 1_700_000_000, 300).unwrap();
        }
        assert!(crate::stripe::webhook::verify(
            &h,
            body,
            &Secret::new("whsec_c"),
            1_700_000_000,
            300
        )
        .is_err());
    }

    #[test]
    fn retries_double_then_stop_after_three_days() {
        let created = 1_000_000;
        let mut now = created;
        let mut gaps = Vec::new();
        let mut failed = 1;
        while let Some(at) = next_attempt(created, failed, now) {
            gaps.push(at - now);
            now = at;
            failed += 1;
        }
        assert_eq!(&gaps[..4], &[60, 120, 240, 480]);
        assert!(gaps.windows(2).all(|w| w[1] >= w[0]), "{gaps:?}");
        assert_eq!(*gaps.last().unwrap(), 6 * 3600);
        assert!(now <= created + RETRY_FOR_SECONDS);
        assert!(now + 6 * 3600 > created + RETRY_FOR_SECONDS);
        assert_eq!(next_attempt(created, 1, created + RETRY_FOR_SECONDS), None);
    }

    #[test]
    fn endpoint_urls() {
        let ok = |u: &str| check_endpoint_url(u, false);
        assert_eq!(ok("https://shop.example.com/hooks"), Ok(()));
        assert_eq!(ok("https://93.184.216.34:8443/x"), Ok(()));
        for (u, why) in [
            ("http://shop.example.com/hooks", UrlRefusal::Scheme),
            ("file:///etc/passwd", UrlRefusal::NotAUrl),
            ("ftp://shop.example.com/", UrlRefusal::Scheme),
            ("http://10.0.0.1/", UrlRefusal::Internal),
            ("https://10.0.0.1/", UrlRefusal::Internal),
            (
                "http://169.254.169.254/latest/meta-data",
                UrlRefusal::Internal,
            ),
            ("https://172.16.5.4/", UrlRefusal::Internal),
            ("https://192.168.1.1/", UrlRefusal::Internal),
            ("https://100.64.0.1/", UrlRefusal::Internal),
            ("https://0.0.0.0/", UrlRefusal::Internal),
            ("https://[::ffff:10.0.0.1]/", UrlRefusal::Internal),
            ("https://[fd00::1]/", UrlRefusal::Internal),
            ("https://[fe80::1]/", UrlRefusal::Internal),
            ("https://127.0.0.1/", UrlRefusal::Internal),
            ("https://0x7f.1/", UrlRefusal::Internal),
            ("https://2130706433/", UrlRefusal::Internal),
            ("https://[::1]/", UrlRefusal::Internal),
            ("https://localhost/", UrlRefusal::Internal),
            ("https://metadata.google.internal/", UrlRefusal::Internal),
            ("https://printer.local/", UrlRefusal::Internal),
            ("https://intranet/", UrlRefusal::Internal),
            ("https://user:pw@shop.example.com/", UrlRefusal::Credentials),
            ("not a url", UrlRefusal::NotAUrl),
            ("/relative", UrlRefusal::NotAUrl),
        ] {
            assert_eq!(ok(u), Err(why), "{u}");
        }
        assert_eq!(
            ok(&format!("https://a.example.com/{}", "x".repeat(2048))),
            Err(UrlRefusal::TooLong)
        );
        // The local stack's receiver: loopback over http, only when allowed.
        let local = |u: &str| check_endpoint_url(u, true);
        assert_eq!(local("http://127.0.0.1:9000/hook"), Ok(()));
        assert_eq!(local("http://localhost:9000/hook"), Ok(()));
        assert_eq!(local("http://[::1]:9000/hook"), Ok(()));
        assert_eq!(local("http://10.0.0.1/"), Err(UrlRefusal::Internal));
        assert_eq!(local("http://169.254.169.254/"), Err(UrlRefusal::Internal));
        assert_eq!(local("http://shop.example.com/"), Err(UrlRefusal::Scheme));
    }

    proptest! {
        /// No IPv4 address in a private, loopback or link-local range is accepted,
        /// however it is written in the URL.
        #[test]
        fn no_private_ipv4_gets_through(a in any::<u32>()) {
            let ip = Ipv4Addr::from(a);
            let internal = ip.is_private() || ip.is_loopback() || ip.is_link_local();
            for url in [format!("https://{ip}/"), format!("https://{a}/"), format!("https://[::ffff:{ip}]/")] {
                if internal {
                    prop_assert!(check_endpoint_url(&url, false).is_err(), "{}", url);
                }
            }
        }
    }
}
