//! The Durable Objects: one per merchant (its money: intents, refunds, ledger,
//! idempotency records, provider events) and one for the platform (the admin's
//! registry of merchants). Each is the only writer of its data; `store` holds every
//! SQL statement.

pub mod accounts;
pub mod outbox;
pub mod store;

use std::rc::Rc;

use worker::{durable_object, DurableObject, Env, Request, Response, Result, State, Storage};

use crate::ctx::Ctx;

/// What a route handler inside an object gets as its router data.
pub struct Object {
    pub state: Rc<State>,
}

impl Object {
    pub fn storage(&self) -> Storage {
        self.state.storage()
    }
}

#[durable_object]
pub struct MerchantObject {
    state: Rc<State>,
    env: Env,
}

impl DurableObject for MerchantObject {
    fn new(state: State, env: Env) -> Self {
        migrate(&state, "merchant");
        Self {
            state: Rc::new(state),
            env,
        }
    }

    async fn fetch(&self, req: Request) -> Result<Response> {
        serve(&self.state, &self.env, req, crate::merchant_router).await
    }

    /// Resolves what was left open — provider calls whose answer never came, wallet
    /// requests past their expiry, refunds the provider has not settled yet — runs
    /// the billing that is due (subscription periods, retries, the platform's bill),
    /// reconciles the days that ended, and delivers the events that are due to the
    /// merchant's endpoints.
    async fn alarm(&self) -> Result<Response> {
        let ctx = Ctx::new(self.state.storage(), self.env.clone());
        if let Err(e) = crate::providers::resolve_open(&ctx).await {
            let e = e.into_api("ALARM", "resolve_open");
            worker::console_error!("alarm: {}", e.code);
        }
        if let Err(e) = crate::billing::on_alarm(&ctx).await {
            let e = e.into_api("ALARM", "billing");
            worker::console_error!("alarm: {}", e.code);
        }
        if let Some(m) = ctx.store.merchant()? {
            if let Err(e) = crate::reconcile::run_due(&ctx, &m).await {
                let e = e.into_api("ALARM", "reconcile");
                worker::console_error!("alarm: {}", e.code);
            }
        }
        if let Err(e) = outbox::deliver_due(&ctx).await {
            let e = e.into_api("ALARM", "deliver_due");
            worker::console_error!("alarm: {}", e.code);
        }
        Response::ok("")
    }
}

#[durable_object]
pub struct PlatformObject {
    state: Rc<State>,
    env: Env,
}

impl DurableObject for PlatformObject {
    fn new(state: State, env: Env) -> Self {
        migrate(&state, "platform");
        Self {
            state: Rc::new(state),
            env,
        }
    }

    async fn fetch(&self, req: Request) -> Result<Response> {
        serve(&self.state, &self.env, req, crate::platform_router).await
    }
}

/// Runs an object's router on a request the Worker forwarded.
async fn serve(
    state: &Rc<State>,
    env: &Env,
    req: Request,
    router: fn(Object) -> worker::Router<'static, Object>,
) -> Result<Response> {
    let (method, path) = (req.method().to_string(), req.path());
    let started = worker::Date::now().as_millis();
    let data = Object {
        state: state.clone(),
    };
    let resp = router(data).run(req, env.clone()).await;
    // Whatever the request wrote to the outbox is sent by the alarm: make sure one is
    // set before answering (the platform's object never has deliveries).
    let ctx = Ctx::new(state.storage(), env.clone());
    if let Err(e) = outbox::schedule(&ctx).await {
        let e = e.into_api(&method, &path);
        worker::console_error!("outbox schedule: {}", e.code);
    }
    let mut resp = crate::http::finish(resp, &method, &path)?;
    // One entry per object a call went through: the storage round trips a client
    // (and `make bench`) can count. The SQL inside the object is local.
    let spent = worker::Date::now().as_millis().saturating_sub(started);
    resp.headers_mut()
        .append("server-timing", &format!("object;dur={spent}"))?;
    Ok(resp)
}

fn migrate(state: &State, what: &str) {
    if let Err(e) = store::Store::of(&state.storage()).migrate() {
        worker::console_error!("{what} object schema: {e}");
    }
}

/// The merchant's object: named by the merchant id, so any request that names the
/// merchant (in its key, an object id or a callback path) reaches it in one hop.
pub fn merchant_stub(env: &Env, merchant_id: &str) -> Result<worker::Stub> {
    env.durable_object("MERCHANT")?.get_by_name(merchant_id)
}

/// The admin's call (in the platform's object) on one merchant: the id must be a
/// registered merchant (else 404, `param: id`), and the merchant's object answers on an
/// internal path, which is never routed from outside. Its 200 body, as text.
pub async fn admin_forward(
    ctx: &Ctx,
    merchant_id: &str,
    method: worker::Method,
    path: &str,
    body: Option<String>,
) -> crate::http::ApiResult<String> {
    if !shared::keys::is_id("acct_", merchant_id) || !ctx.store.is_registered(merchant_id)? {
        return Err(shared::error::ApiError::not_found("merchant")
            .with_param("id")
            .into());
    }
    let mut init = worker::RequestInit::new();
    init.with_method(method).with_body(body.map(Into::into));
    let req = Request::new_with_init(&format!("https://merchant{path}"), &init)?;
    let mut resp = merchant_stub(&ctx.env, merchant_id)?
        .fetch_with_request(req)
        .await?;
    if resp.status_code() != 200 {
        return Err(crate::http::Fail::Internal(worker::Error::RustError(
            format!("merchant object {path}: {}", resp.status_code()),
        )));
    }
    Ok(resp.text().await?)
}

pub fn platform_stub(env: &Env) -> Result<worker::Stub> {
    env.durable_object("PLATFORM")?.get_by_name("platform")
}
