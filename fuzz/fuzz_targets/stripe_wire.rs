//! Stripe's API replies (payment intents, refunds, errors, connected accounts,
//! account links): reading never panics; what is accepted agrees field by field with
//! a plain JSON reading of the same bytes; a client secret never shows in `Debug`;
//! our answer to an error is a function of Stripe's codes alone (no Stripe-written
//! text reaches it); strict readers only accept what they promise.
#![no_main]
use libfuzzer_sys::fuzz_target;
use serde_json::{json, Value};
use shared::http::Outcome;
use shared::stripe::events::{reconcile_record, unknown_payments};
use shared::stripe::wire::{
    classify, error_to_api_error, parse_account, parse_account_link, parse_customer, parse_error,
    parse_payment_intent, parse_payment_intents, parse_payment_methods, parse_refund,
    parse_refunds, parse_setup_intent, Expandable, StripeIntentStatus, StripeRefundStatus,
};

/// Every string and key in a JSON document.
fn strings<'a>(v: &'a Value, out: &mut Vec<&'a str>) {
    match v {
        Value::String(s) => out.push(s),
        Value::Array(a) => a.iter().for_each(|x| strings(x, out)),
        Value::Object(m) => m.iter().for_each(|(k, x)| {
            out.push(k);
            strings(x, out)
        }),
        _ => {}
    }
}

fn int(v: &Value, k: &str) -> Option<i64> {
    v.get(k).and_then(Value::as_i64)
}

fuzz_target!(|data: &[u8]| {
    // serde skips unknown fields without checking their escapes (a lone surrogate
    // `\ud800` there is accepted), so a plain reading may refuse what the typed one
    // read; only ignored fields can hold such text, so compare where both read.
    let plain: Option<Value> = serde_json::from_slice(data).ok();
    if let (Ok(pi), Some(v)) = (parse_payment_intent(data), &plain) {
        assert_eq!(v["id"].as_str(), Some(pi.id.as_str()));
        assert_eq!(v["currency"].as_str(), Some(pi.currency.as_str()));
        assert_eq!(int(v, "amount"), pi.amount);
        assert_eq!(int(v, "amount_capturable"), pi.amount_capturable);
        assert_eq!(int(v, "amount_received"), pi.amount_received);
        let status = v["status"].as_str().expect("a status is text");
        let known = [
            "requires_payment_method",
            "requires_source",
            "requires_confirmation",
            "requires_action",
            "requires_source_action",
            "processing",
            "requires_capture",
            "succeeded",
            "canceled",
        ];
        assert_eq!(
            pi.status == StripeIntentStatus::Unknown,
            !known.contains(&status),
            "{status:?}"
        );
        match v.get("metadata") {
            Some(Value::Object(m)) => {
                assert_eq!(pi.metadata.len(), m.len());
                for (k, x) in m {
                    assert_eq!(pi.metadata.get(k), Some(x));
                }
            }
            _ => assert!(pi.metadata.is_empty()),
        }
        if let Some((fee, currency)) = pi.fee() {
            let t = &v["latest_charge"]["balance_transaction"];
            assert_eq!(int(t, "fee"), Some(fee));
            assert_eq!(t["currency"].as_str(), Some(currency));
        }
        if let Some(Expandable::Id(id)) = &pi.latest_charge {
            assert_eq!(v["latest_charge"].as_str(), Some(id.as_str()));
        }
        // The client secret is a credential: Debug never prints it (unless the same
        // text is also another, printable field).
        if let Some(secret) = v["client_secret"].as_str() {
            let mut all = Vec::new();
            strings(v, &mut all);
            let elsewhere = all.iter().filter(|s| s.contains(secret)).count() > 1;
            let shaped = secret.contains("_secret_")
                && secret
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_');
            if shaped && !elsewhere {
                assert!(
                    !format!("{pi:?}").contains(secret),
                    "Debug shows the secret"
                );
            }
        }
    }

    if let (Ok(r), Some(v)) = (parse_refund(data), &plain) {
        assert_eq!(v["id"].as_str(), Some(r.id.as_str()));
        assert_eq!(int(v, "amount"), Some(r.amount));
        if let Some(p) = &r.payment_intent {
            let id = v["payment_intent"]
                .as_str()
                .or_else(|| v["payment_intent"]["id"].as_str());
            assert_eq!(id, Some(p.0.as_str()));
        }
    }

    // A refund list (reconciliation): every refund as `parse_refund` reads it alone; the
    // reconciled refund total is the succeeded ones' sum, less a partial capture's
    // release, and never depends on the list's order.
    if let (Ok((list, more)), Some(v)) = (parse_refunds(data), &plain) {
        let items = v["data"].as_array().expect("a list has data");
        assert_eq!(items.len(), list.len());
        assert_eq!(v["has_more"].as_bool().unwrap_or(false), more);
        for (r, x) in list.iter().zip(items) {
            assert_eq!(x["id"].as_str(), Some(r.id.as_str()));
            assert_eq!(int(x, "amount"), Some(r.amount));
        }
        if let Ok(pi) =
            parse_payment_intent(br#"{"id":"pi_1","status":"succeeded","currency":"chf"}"#)
        {
            let a = reconcile_record(&pi, &list);
            let mut rev = list.clone();
            rev.reverse();
            assert_eq!(a, reconcile_record(&pi, &rev));
            let succeeded: i64 = list
                .iter()
                .filter(|r| r.status == StripeRefundStatus::Succeeded)
                .map(|r| r.amount)
                .fold(0i64, i64::saturating_add);
            assert_eq!(a.refunded, Some(succeeded));
        }
    }

    // A day's PaymentIntent list (reconciliation): each as `parse_payment_intent` reads it
    // alone; the unknown payments are listed ones, never the one we hold, and only
    // those naming an intent of the merchant asked about.
    if let (Ok((list, more)), Some(v)) = (parse_payment_intents(data), &plain) {
        let items = v["data"].as_array().expect("a list has data");
        assert_eq!(items.len(), list.len());
        assert_eq!(v["has_more"].as_bool().unwrap_or(false), more);
        for (pi, x) in list.iter().zip(items) {
            assert_eq!(x["id"].as_str(), Some(pi.id.as_str()));
            assert_eq!(int(x, "amount_received"), pi.amount_received);
        }
        let held = list.first().map(|p| p.id.clone());
        for merchant in ["acct_0000000000000000000001", "acct_"] {
            let found = unknown_payments(&list, merchant, &|r| Some(r) == held.as_deref());
            for t in &found {
                assert!(Some(&t.reference) != held.as_ref());
                assert!(list.iter().any(|p| p.id == t.reference));
                let ours = t.payment_intent.as_deref().expect("names our intent");
                assert_eq!(
                    shared::keys::scoped_id_merchant("pi_", ours).as_deref(),
                    Some(merchant)
                );
            }
        }
    }

    if let Ok(e) = parse_error(data) {
        // Our answer depends on Stripe's type and codes only, never on its words.
        let codes_only = json!({"error": {
            "type": e.kind, "code": e.code, "decline_code": e.decline_code,
        }});
        let again = parse_error(codes_only.to_string().as_bytes()).expect("codes parse");
        for status in [400, 401, 402, 404, 409, 429, 500, 503] {
            let ours = error_to_api_error(status, &e);
            assert!((400..=599).contains(&ours.status));
            assert_eq!(ours, error_to_api_error(status, &again));
        }
    }
    // A 2xx is success, a 5xx unknown, whatever the body says; a 4xx is final
    // unless it names an idempotency clash or a lock.
    for status in [200, 400, 402, 409, 500] {
        match classify(Some(status), data) {
            Outcome::Success(b) => assert!(status == 200 && b == data),
            Outcome::Final { status: s, .. } => assert!(s == status && (400..500).contains(&s)),
            Outcome::Unknown { .. } => assert!(status != 200),
        }
    }

    if let Ok(a) = parse_account(data) {
        assert!(a.id.starts_with("acct_"));
        assert!(a.id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'));
    }
    if let Ok(l) = parse_account_link(data) {
        assert!(l.url.starts_with("https://") || l.url.starts_with("http://"));
    }

    // Saved cards: ids that go into paths are only prefix + [A-Za-z0-9_]; a setup
    // intent's client secret never shows in Debug.
    let clean = |prefix: &str, id: &str| {
        id.strip_prefix(prefix).is_some_and(|r| {
            !r.is_empty() && r.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        })
    };
    if let Ok(c) = parse_customer(data) {
        assert!(clean("cus_", &c.id));
    }
    if let Ok(list) = parse_payment_methods(data) {
        assert!(list.iter().all(|pm| clean("pm_", &pm.id)));
    }
    if let Ok(si) = parse_setup_intent(data) {
        if let Some(secret) = &si.client_secret {
            let shown = format!("{si:?}");
            let s = secret.expose();
            let mut bare = si.clone();
            bare.client_secret = None;
            // Shown only where another field carries the same text.
            assert!(
                !shown.contains(s) || format!("{bare:?}").contains(s),
                "a client secret in Debug"
            );
        }
    }
});
