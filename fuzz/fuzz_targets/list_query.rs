//! Our API's list query strings (intents, events, refunds, the ledger): reading never
//! panics; an accepted page size is 1 to 100; accepted parameters written back as a
//! query string are plain ASCII and read back to the same parameters.
#![no_main]
use libfuzzer_sys::fuzz_target;
use shared::query::{EventListParams, IntentListParams, LedgerListParams, Query, RefundListParams};

macro_rules! round_trip {
    ($q:expr, $ty:ty) => {
        if let Ok(p) = <$ty>::parse($q) {
            assert!((1..=100).contains(&p.limit), "{}", p.limit);
            let text = p.to_query();
            assert!(text.bytes().all(|b| b.is_ascii_graphic()), "{text}");
            let again = <$ty>::parse(&Query::parse(&text)).expect("written parameters parse");
            assert_eq!(again, p, "{text}");
        }
    };
}

fuzz_target!(|data: &[u8]| {
    let Ok(raw) = std::str::from_utf8(data) else {
        return;
    };
    let q = Query::parse(raw);
    if let Ok(l) = q.limit() {
        assert!((1..=100).contains(&l));
    }
    round_trip!(&q, IntentListParams);
    round_trip!(&q, EventListParams);
    round_trip!(&q, RefundListParams);
    round_trip!(&q, LedgerListParams);
});
