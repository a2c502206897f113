//! Sends a request that a provider module described, or an event to a merchant's
//! endpoint, and hands back what came back. The only place the Worker talks to the
//! outside; it never logs bodies or headers (they carry keys, and provider answers
//! may echo card details).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use futures_util::future::{select, Either};
use shared::stripe::HttpRequest;
use worker::{AbortController, Fetch, Headers, Method, Request, RequestInit};

/// A provider that has not answered (headers and whole body) by then is treated as
/// unavailable; the caller's retry is safe because every provider call carries an
/// idempotency key. 20 s unless `PROVIDER_TIMEOUT_SECONDS` says otherwise (the test
/// stack shortens it so a slow provider's case runs in seconds).
static TIMEOUT_SECONDS: AtomicU64 = AtomicU64::new(20);

/// Reads `PROVIDER_TIMEOUT_SECONDS` (1–60) once per request; anything else keeps 20.
pub fn configure(env: &worker::Env) {
    if let Some(s) = env
        .var("PROVIDER_TIMEOUT_SECONDS")
        .ok()
        .and_then(|v| v.to_string().parse::<u64>().ok())
        .filter(|s| (1..=60).contains(s))
    {
        TIMEOUT_SECONDS.store(s, Ordering::Relaxed);
    }
}

fn provider_timeout() -> Duration {
    Duration::from_secs(TIMEOUT_SECONDS.load(Ordering::Relaxed))
}

struct Outbound<'a> {
    method: &'a str,
    url: String,
    headers: &'a [(String, String)],
    body: Option<&'a str>,
    timeout: Duration,
    /// Merchants' endpoints: a redirect is an answer, never followed (it could
    /// point anywhere, a private address included).
    follow_redirects: bool,
}

pub enum Answer {
    /// The provider answered (any status).
    Http { status: u16, body: String },
    /// No answer: network failure or timeout. The outcome at the provider is unknown.
    Unreachable,
}

/// Sends a request a provider module described to `base` (the provider's base URL
/// from configuration) joined with its path.
pub async fn send_described(base: &str, req: &HttpRequest) -> worker::Result<Answer> {
    send(Outbound {
        method: req.method,
        url: format!(
            "{}/{}",
            base.trim_end_matches('/'),
            req.path.trim_start_matches('/')
        ),
        headers: &req.headers,
        body: (req.method != "GET").then_some(req.body.as_str()),
        timeout: provider_timeout(),
        follow_redirects: true,
    })
    .await
}

/// POSTs an event to a merchant's endpoint (a URL `shared::webhooks` allowed).
pub async fn post_event(
    url: &str,
    headers: &[(String, String)],
    body: &str,
    timeout: Duration,
) -> worker::Result<Answer> {
    send(Outbound {
        method: "POST",
        url: url.to_owned(),
        headers,
        body: Some(body),
        timeout,
        follow_redirects: false,
    })
    .await
}

async fn send(out: Outbound<'_>) -> worker::Result<Answer> {
    let headers = Headers::new();
    for (k, v) in out.headers {
        headers.set(k, v)?;
    }
    let mut init = RequestInit::new();
    init.with_method(Method::from(out.method.to_owned()))
        .with_headers(headers);
    if !out.follow_redirects {
        init.with_redirect(worker::RequestRedirect::Manual);
    }
    if let Some(b) = out.body {
        init.with_body(Some(b.into()));
    }
    let req = Request::new_with_init(&out.url, &init)?;
    let controller = AbortController::default();
    let signal = controller.signal();
    let fetch = Fetch::Request(req);
    // The body is read inside the timeout too: a provider that sends its headers and
    // then stalls, or drops the connection halfway through the body, has acted or not
    // — the outcome is unknown, never an error of ours.
    let outcome = {
        let call = Box::pin(async {
            let mut resp = fetch.send_with_signal(&signal).await?;
            let status = resp.status_code();
            let body = resp.text().await?;
            Ok::<_, worker::Error>((status, body))
        });
        let timer = Box::pin(worker::Delay::from(out.timeout));
        match select(call, timer).await {
            Either::Left((result, _)) => Some(result),
            Either::Right(_) => None,
        }
    };
    match outcome {
        Some(Ok((status, body))) => Ok(Answer::Http { status, body }),
        Some(Err(e)) => {
            worker::console_warn!("{} {}: unreachable ({e})", out.method, host(&out.url));
            Ok(Answer::Unreachable)
        }
        None => {
            controller.abort();
            worker::console_warn!("{} {}: timed out", out.method, host(&out.url));
            Ok(Answer::Unreachable)
        }
    }
}

/// Scheme and host only, for logs: paths and queries can carry references.
fn host(url: &str) -> &str {
    let after = url.find("://").map_or(0, |i| i + 3);
    url[after..].find('/').map_or(url, |i| &url[..after + i])
}
