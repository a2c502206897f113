//! Abuse limits on the public routes: the widget's (and their CORS preflights) and the
//! providers' callbacks. Each request counts against two limits, its caller's IP and
//! its key (the merchant and key kind on a widget route; the merchant of a callback's
//! path). Over a limit → 429 `rate_limit_error` with `Retry-After`, answered by the
//! Worker itself: no object is woken, no provider is asked.
//!
//! Counting is Cloudflare's rate-limiting binding (`[[ratelimits]]` in wrangler.toml,
//! `Env::rate_limiter`), which wrangler dev simulates too. Where a limit is set by a var
//! (`RATE_LIMIT_WIDGET_PER_IP = "600/60"`: 600 requests per 60 s, or `off`), or the
//! binding is absent, this isolate counts in fixed windows in its own memory: the
//! binding's limits are fixed at deploy time, and tests need a low one to see a 429.
//! Like the binding, the count is per location, not global: a guard against floods, not
//! a quota.

use std::cell::RefCell;
use std::collections::HashMap;

use shared::error::ApiError;
use worker::{Env, Headers, Response, Result};

/// One limit: its binding, the var that overrides it, and the default where neither
/// is there (the binding's own figures in wrangler.toml).
pub struct Rule {
    pub binding: &'static str,
    pub var: &'static str,
    pub default: Limit,
}

pub const WIDGET_PER_IP: Rule = Rule {
    binding: "RL_WIDGET_IP",
    var: "RATE_LIMIT_WIDGET_PER_IP",
    default: Limit {
        requests: 600,
        seconds: 60,
    },
};
pub const WIDGET_PER_KEY: Rule = Rule {
    binding: "RL_WIDGET_KEY",
    var: "RATE_LIMIT_WIDGET_PER_KEY",
    default: Limit {
        requests: 6000,
        seconds: 60,
    },
};
pub const WEBHOOK_PER_IP: Rule = Rule {
    binding: "RL_WEBHOOK_IP",
    var: "RATE_LIMIT_WEBHOOK_PER_IP",
    default: Limit {
        requests: 3000,
        seconds: 60,
    },
};
pub const WEBHOOK_PER_MERCHANT: Rule = Rule {
    binding: "RL_WEBHOOK_MERCHANT",
    var: "RATE_LIMIT_WEBHOOK_PER_MERCHANT",
    default: Limit {
        requests: 1200,
        seconds: 60,
    },
};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    pub requests: u32,
    pub seconds: u32,
}

/// A var's value: `"<requests>/<seconds>"`, or `off`. Anything else is refused
/// (and the Worker keeps the default rather than running unlimited).
pub fn parse_limit(s: &str) -> Option<Option<Limit>> {
    let s = s.trim();
    if s.eq_ignore_ascii_case("off") {
        return Some(None);
    }
    let (n, p) = s.split_once('/')?;
    let requests = n.trim().parse().ok().filter(|n| *n > 0)?;
    let seconds = p.trim().parse().ok().filter(|p| *p > 0)?;
    Some(Some(Limit { requests, seconds }))
}

/// Fixed-window counters: `key` → (window number, requests seen in it).
#[derive(Default)]
pub struct Windows {
    counts: HashMap<String, (u64, u32)>,
}

/// Past this many keys, the counters of ended windows are dropped.
const MAX_KEYS: usize = 10_000;

impl Windows {
    /// Counts a request at `now_ms`: `Ok` if within the limit, else `Err(seconds)` until
    /// the window ends (at least 1).
    pub fn hit(&mut self, key: &str, limit: Limit, now_ms: u64) -> std::result::Result<(), u32> {
        let period_ms = u64::from(limit.seconds) * 1000;
        let window = now_ms / period_ms;
        if self.counts.len() >= MAX_KEYS {
            self.counts.retain(|_, (w, _)| *w == window);
        }
        let slot = self.counts.entry(key.to_owned()).or_insert((window, 0));
        if slot.0 != window {
            *slot = (window, 0);
        }
        if slot.1 >= limit.requests {
            let left_ms = (window + 1) * period_ms - now_ms;
            return Err(left_ms.div_ceil(1000).max(1) as u32);
        }
        slot.1 += 1;
        Ok(())
    }
}

thread_local! {
    // The isolate's own counters (wasm runs one thread per isolate).
    static LOCAL: RefCell<Windows> = RefCell::new(Windows::default());
}

/// Counts one request against `rule` under `key`; `Some(retry_after)` when over.
pub async fn check(env: &Env, rule: &Rule, key: &str) -> Result<Option<u32>> {
    let now_ms = worker::Date::now().as_millis();
    let configured = env
        .var(rule.var)
        .ok()
        .and_then(|v| parse_limit(&v.to_string()));
    let limit = match configured {
        Some(None) => return Ok(None),
        Some(Some(l)) => l,
        None => match env.rate_limiter(rule.binding) {
            Ok(binding) => {
                if binding.limit(key.to_owned()).await?.success {
                    return Ok(None);
                }
                // The binding does not say when its window ends: until the end of the
                // current period is the most it can be.
                let period_ms = u64::from(rule.default.seconds) * 1000;
                let left = period_ms - now_ms % period_ms;
                return Ok(Some(left.div_ceil(1000).max(1) as u32));
            }
            Err(_) => rule.default,
        },
    };
    let scoped = format!("{}:{key}", rule.binding);
    Ok(LOCAL
        .with(|w| w.borrow_mut().hit(&scoped, limit, now_ms))
        .err())
}

/// The caller's address as Cloudflare (and wrangler dev) gives it.
pub fn client_ip(headers: &Headers) -> String {
    headers
        .get("cf-connecting-ip")
        .ok()
        .flatten()
        .unwrap_or_else(|| "unknown".to_owned())
}

/// 429 in the API's error shape with `Retry-After`. Readable cross-origin, so the
/// widget can say why instead of seeing a network error.
pub fn too_many(retry_after: u32) -> Result<Response> {
    let e = ApiError::rate_limit(format!(
        "Too many requests. Try again in {retry_after} seconds."
    ));
    let mut resp = crate::http::error(&e)?;
    let h = resp.headers_mut();
    h.set("retry-after", &retry_after.to_string())?;
    h.set("access-control-allow-origin", "*")?;
    h.set("access-control-expose-headers", "Retry-After")?;
    Ok(resp)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_read_from_vars() {
        assert_eq!(
            parse_limit("600/60"),
            Some(Some(Limit {
                requests: 600,
                seconds: 60
            }))
        );
        assert_eq!(
            parse_limit(" 3 / 10 "),
            Some(Some(Limit {
                requests: 3,
                seconds: 10
            }))
        );
        assert_eq!(parse_limit("off"), Some(None));
        for bad in ["", "600", "0/60", "5/0", "-1/60", "a/b", "5/60/1"] {
            assert_eq!(parse_limit(bad), None, "{bad}");
        }
    }

    #[test]
    fn a_window_allows_its_limit_then_says_when_to_come_back() {
        let mut w = Windows::default();
        let l = Limit {
            requests: 3,
            seconds: 10,
        };
        let t0 = 1_000_000; // a window starts here (1,000 s)
        for i in 0..3 {
            assert_eq!(w.hit("ip:1", l, t0 + i), Ok(()));
        }
        assert_eq!(w.hit("ip:1", l, t0 + 2_500), Err(8));
        assert_eq!(w.hit("ip:1", l, t0 + 9_999), Err(1));
        // Another key has its own count; the next window starts afresh.
        assert_eq!(w.hit("ip:2", l, t0 + 9_999), Ok(()));
        assert_eq!(w.hit("ip:1", l, t0 + 10_000), Ok(()));
    }

    #[test]
    fn ended_windows_are_dropped_when_the_table_is_full() {
        let mut w = Windows::default();
        let l = Limit {
            requests: 1,
            seconds: 1,
        };
        for i in 0..MAX_KEYS {
            w.hit(&format!("k{i}"), l, 0).unwrap();
        }
        w.hit("new", l, 5_000).unwrap();
        assert_eq!(w.counts.len(), 1);
    }
}
