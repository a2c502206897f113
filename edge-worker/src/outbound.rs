//! Sends a request that a provider module described, or an event to a merchant's
//! endpoint, and hands back what came back. The only place the Worker talks to the
//! outside; it never logs bodies or headers (they carry keys, and provider answers
//! may echo card details).

use std::time::Duration;

use futures_util::future::{select, Either};
use shared::stripe::HttpRequest;
use worker::{AbortController, Fetch, Headers, Method, Request, RequestInit};

/// A provider that has not answered by then is treated as unavailable; the caller's
/// retry is safe because every provider call carries an idempotency key.
const TIMEOUT: Duration = Duration::from_secs(20);

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
        timeout: TIMEOUT,
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
    let outcome = {
        let call = Box::pin(fetch.send_with_signal(&signal));
        let timer = Box::pin(worker::Delay::from(out.timeout));
        match select(call, timer).await {
            Either::Left((result, _)) => Some(result),
            Either::Right(_) => None,
        }
    };
    match outcome {
        Some(Ok(mut resp)) => Ok(Answer::Http {
            status: resp.status_code(),
            body: resp.text().await?,
        }),
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
