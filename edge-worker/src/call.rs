//! One API call's path inside a Durable Object: authenticate against the keys the
//! object holds, gate the origin, read the body, honour `Idempotency-Key`, run the
//! handler, answer in the contract's shape. Every route goes through `serve`.

use std::future::Future;

use shared::error::ApiError;
use shared::keys::{constant_time_eq, key_lookup_hash, parse_api_key, KeyKind, Mode};
use shared::query::Query;
use worker::{Method, Request, Response, Result, RouteContext, Url};

use crate::ctx::Ctx;
use crate::http::{self, decode, ApiResult, Fail, Reply};
use crate::idempotency::{self, Begin};
use crate::merchant::store::Merchant;
use crate::merchant::Object;

/// Domain separation for key hashes. Keys carry 192 random bits, so a keyed
/// hash needs no secret pepper — and master-key rotation cannot orphan them.
pub const KEY_HASH_LABEL: &[u8] = b"edge-checkout/api-key/v1";

/// Who may call a route (the route table in lib.rs says it for each).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Need {
    Admin,
    Secret,
    /// The widget's routes: a publishable key (plus the intent's client secret,
    /// checked by the handler) or a secret key.
    SecretOrPublishable,
}

pub enum Principal {
    Admin,
    /// A merchant's key: which kind, and which mode it acts in (test or live).
    Merchant {
        merchant: Merchant,
        kind: KeyKind,
        livemode: bool,
    },
}

pub fn kind_str(kind: KeyKind) -> &'static str {
    match kind {
        KeyKind::Secret => "secret",
        KeyKind::Publishable => "publishable",
    }
}

/// The caller's key: `Authorization: Bearer <key>`, or on a GET `?key=pk_…` (a
/// publishable key only, as Stripe.js sends it). A cross-origin GET without an
/// `Authorization` header is a CORS "simple" request, which the browser sends without
/// a preflight: one round trip less before the widget can show. Secret keys and the
/// admin token never ride in a URL (URLs end up in logs and histories).
pub fn api_key(req: &Request) -> ApiResult<Option<String>> {
    let header = req
        .headers()
        .get("authorization")?
        .and_then(|h| h.strip_prefix("Bearer ").map(|t| t.trim().to_owned()));
    let url = req.url()?;
    let Some(query) = Query::parse(url.query().unwrap_or(""))
        .get("key")
        .filter(|k| !k.is_empty())
        .map(str::to_owned)
    else {
        return Ok(header);
    };
    let refuse = |message: &str| {
        Err(ApiError::invalid_request("invalid_key_param", message)
            .with_param("key")
            .into())
    };
    if header.is_some() {
        return refuse(
            "Send the API key once: in `Authorization: Bearer <key>` or in `?key=`, not both.",
        );
    }
    if req.method() != Method::Get {
        return refuse("`?key=` is read on GET requests only: send `Authorization: Bearer <key>`.");
    }
    if !query.starts_with("pk_") {
        return Err(ApiError::authentication(
            "Only a publishable key may be sent in `?key=`. Send a secret key in `Authorization: Bearer <key>`, from your server, and roll one that was put in a URL.",
        )
        .into());
    }
    Ok(Some(query))
}

pub fn admin_ok(env: &worker::Env, token: &str) -> bool {
    env.secret("ADMIN_TOKEN").ok().is_some_and(|admin| {
        let admin = admin.to_string();
        !admin.is_empty() && constant_time_eq(admin.as_bytes(), token.as_bytes())
    })
}

fn authenticate(req: &Request, ctx: &Ctx, need: Need) -> ApiResult<Principal> {
    let token = api_key(req)?.ok_or_else(|| {
        ApiError::authentication("No API key provided. Send `Authorization: Bearer <key>`.")
    })?;
    if need == Need::Admin {
        return if admin_ok(&ctx.env, &token) {
            Ok(Principal::Admin)
        } else {
            Err(ApiError::authentication("Invalid admin token.").into())
        };
    }
    let invalid = || Fail::Api(ApiError::authentication("Invalid API key provided."));
    let info = parse_api_key(&token).ok_or_else(invalid)?;
    let merchant = ctx.store.merchant()?.ok_or_else(invalid)?;
    let hash = key_lookup_hash(KEY_HASH_LABEL, &token);
    if info.merchant_id != merchant.id || !ctx.store.key_exists(&hash, kind_str(info.kind))? {
        return Err(invalid());
    }
    match (need, info.kind) {
        (Need::Secret, KeyKind::Publishable) => Err(ApiError::permission(
            "A publishable key cannot make this request: use your secret key, from your server.",
        )
        .into()),
        _ => Ok(Principal::Merchant {
            merchant,
            kind: info.kind,
            livemode: info.mode == Mode::Live,
        }),
    }
}

pub struct Call {
    pub ctx: Ctx,
    pub principal: Principal,
    pub body: Vec<u8>,
    /// The caller's `Idempotency-Key`, for deriving ids that a retry must reuse.
    pub idempotency_key: Option<String>,
    route: RouteContext<Object>,
    url: Url,
}

impl Call {
    /// The calling merchant (routes that need one never accept the admin).
    pub fn merchant(&self) -> ApiResult<&Merchant> {
        match &self.principal {
            Principal::Merchant { merchant, .. } => Ok(merchant),
            Principal::Admin => {
                Err(ApiError::permission("This route needs a merchant key.").into())
            }
        }
    }

    /// The mode of the caller's key: the mode of everything it makes, and the only
    /// mode it sees (objects of the other mode are as missing as none).
    pub fn livemode(&self) -> bool {
        matches!(self.principal, Principal::Merchant { livemode: true, .. })
    }

    pub fn is_publishable(&self) -> bool {
        matches!(
            self.principal,
            Principal::Merchant {
                kind: KeyKind::Publishable,
                ..
            }
        )
    }

    /// This Worker's own origin, as the caller reached it (for callback URLs).
    pub fn origin(&self) -> String {
        self.url.origin().ascii_serialization()
    }

    pub fn param(&self, name: &str) -> &str {
        self.route.param(name).map(String::as_str).unwrap_or("")
    }

    /// The request's query string, read by `shared::query` (the fuzzed reader).
    pub fn query_string(&self) -> Query {
        Query::parse(self.url.query().unwrap_or(""))
    }

    pub fn query(&self, name: &str) -> Option<String> {
        self.query_string().get(name).map(str::to_owned)
    }

    /// A list's `?limit=`: 1 to 100, default 10 (the subscriptions' and invoices'
    /// lists; the others read it through `shared::query`).
    pub fn page_limit(&self) -> ApiResult<u32> {
        Ok(self.query_string().limit()?)
    }

    pub fn json<T: serde::de::DeserializeOwned>(&self) -> ApiResult<T> {
        decode(&self.body)
    }
}

/// Runs `handler` for a route that accepts `need`.
pub async fn serve<F, Fut>(
    mut req: Request,
    rc: RouteContext<Object>,
    need: Need,
    handler: F,
) -> Result<Response>
where
    F: FnOnce(Call) -> Fut,
    Fut: Future<Output = ApiResult<Reply>>,
{
    let method = req.method();
    let path = req.path();
    let origin = req.headers().get("origin")?;
    let mut cors_origin = None;
    let outcome: ApiResult<Reply> = async {
        let url = req.url()?;
        let ctx = Ctx::new(rc.data.storage(), rc.env.clone());
        let principal = authenticate(&req, &ctx, need)?;
        cors_origin = gate_origin(&principal, origin.as_deref(), &url)?;
        let body = match method {
            Method::Post | Method::Put | Method::Patch => http::read_body(&mut req).await?,
            _ => Vec::new(),
        };
        let idem_key = match method {
            Method::Post => req.headers().get("idempotency-key")?,
            _ => None,
        };
        let scope = match &principal {
            Principal::Admin => "admin".to_owned(),
            Principal::Merchant {
                merchant,
                kind,
                livemode,
            } => format!(
                "{}:{}:{}",
                merchant.id,
                kind_str(*kind),
                if *livemode { "live" } else { "test" }
            ),
        };
        let store = crate::merchant::store::Store::of(&rc.data.storage());
        let call = Call {
            ctx,
            principal,
            body,
            idempotency_key: idem_key.clone(),
            route: rc,
            url,
        };
        let Some(key) = idem_key else {
            return handler(call).await;
        };
        let hash = idempotency::request_hash(method.as_ref(), &path, &call.body);
        match idempotency::begin(&store, &scope, &key, &hash).await? {
            Begin::Replay(reply) => Ok(reply),
            Begin::Fresh => {
                let reply = match handler(call).await {
                    Ok(r) => r,
                    Err(f) => Reply::error(&f.into_api(method.as_ref(), &path)),
                };
                idempotency::finish(&store, &scope, &key, &reply)?;
                Ok(reply)
            }
        }
    }
    .await;
    let reply = outcome.unwrap_or_else(|f| Reply::error(&f.into_api(method.as_ref(), &path)));
    let mut resp = reply.into_response()?;
    if let Some(o) = cors_origin {
        let h = resp.headers_mut();
        h.set("access-control-allow-origin", &o)?;
        h.set("vary", "Origin")?;
    }
    Ok(resp)
}

/// Which origin may read the answer. Publishable keys: only the merchant's
/// `allowed_origins` (anything else is refused before it can act). Secret keys and
/// the admin token: only our own pages; a browser on any other origin gets a 403,
/// not merely an unreadable answer.
fn gate_origin(
    principal: &Principal,
    origin: Option<&str>,
    url: &Url,
) -> ApiResult<Option<String>> {
    let Some(origin) = origin else {
        return Ok(None); // not a browser's cross-origin call
    };
    let own = url.origin().ascii_serialization();
    match principal {
        Principal::Merchant {
            merchant,
            kind: KeyKind::Publishable,
            ..
        } => {
            if merchant.allows_origin(origin) {
                Ok(Some(origin.to_owned()))
            } else if origin == own {
                Ok(None)
            } else {
                Err(ApiError::permission(format!(
                    "The origin {origin} is not in this merchant's allowed_origins."
                ))
                .into())
            }
        }
        _ if origin == own => Ok(None),
        _ => Err(ApiError::permission(
            "Secret keys are for servers: this request came from a browser on another origin.",
        )
        .into()),
    }
}

/// A CORS preflight for a widget route: answered only for the origins of the
/// merchant who owns the intent named in the path.
pub async fn preflight(req: Request, rc: RouteContext<Object>) -> Result<Response> {
    let origin = req.headers().get("origin")?;
    let id = rc.param("id").cloned().unwrap_or_default();
    let ctx = Ctx::new(rc.data.storage(), rc.env.clone());
    let known = match ctx.store.find_intent(&id) {
        Ok(Some(_)) => true,
        _ => ctx.store.setup_intent_exists(&id)?,
    };
    let merchant = if known { ctx.store.merchant()? } else { None };
    let allowed = match (&origin, &merchant) {
        (Some(o), Some(m)) => m.allows_origin(o),
        _ => false,
    };
    if !allowed {
        return http::error(&ApiError::permission(
            "This origin may not call this endpoint.",
        ));
    }
    let mut resp = Response::empty()?.with_status(204);
    let h = resp.headers_mut();
    h.set(
        "access-control-allow-origin",
        origin.as_deref().unwrap_or_default(),
    )?;
    h.set("access-control-allow-methods", "GET, POST")?;
    h.set(
        "access-control-allow-headers",
        "authorization, content-type, idempotency-key",
    )?;
    h.set("access-control-max-age", "600")?;
    h.set("vary", "Origin")?;
    Ok(resp)
}
