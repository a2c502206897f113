//! What every handler needs inside a Durable Object: its storage (the only SQL), the
//! environment, the clock and randomness. Read once per request.

use shared::secrets::{Keyring, MasterKey};
use worker::{Env, Storage};

use crate::merchant::store::Store;

pub struct Ctx {
    pub store: Store,
    /// For alarms.
    pub storage: Storage,
    pub env: Env,
    /// Unix seconds, read once so one request sees one instant.
    pub now: i64,
}

pub fn now() -> i64 {
    (worker::Date::now().as_millis() / 1000) as i64
}

impl Ctx {
    pub fn new(storage: Storage, env: Env) -> Ctx {
        crate::outbound::configure(&env);
        Ctx {
            store: Store::of(&storage),
            storage,
            env,
            now: now(),
        }
    }

    /// Wakes the object at `at` (unix seconds) unless an earlier alarm is set, to
    /// resolve what is still open (unknown outcomes, expiries, pending refunds).
    pub async fn wake_at(&self, at: i64) -> worker::Result<()> {
        let at_ms = at.max(self.now) * 1000;
        match self.storage.get_alarm().await? {
            Some(existing) if existing <= at_ms => Ok(()),
            _ => {
                let date = js_sys::Date::new(&(at_ms as f64).into());
                self.storage
                    .set_alarm(worker::ScheduledTime::new(date))
                    .await
            }
        }
    }

    /// The master key for sealing provider secrets: `MASTER_KEY` (version 1), or,
    /// while rotating, `MASTER_KEY` with `MASTER_KEY_VERSION` and the previous one in
    /// `MASTER_KEY_PREVIOUS` (`<version>:<base64>`).
    pub fn keyring(&self) -> worker::Result<Keyring> {
        let bad =
            |what: &str| worker::Error::RustError(format!("{what} is not configured correctly"));
        let current = MasterKey::from_base64(&self.env.secret("MASTER_KEY")?.to_string())
            .map_err(|_| bad("MASTER_KEY"))?;
        let version = match self.env.var("MASTER_KEY_VERSION") {
            Ok(v) => v
                .to_string()
                .parse::<u8>()
                .map_err(|_| bad("MASTER_KEY_VERSION"))?,
            Err(_) => 1,
        };
        let mut ring = Keyring::new(version, current);
        if let Ok(prev) = self.env.secret("MASTER_KEY_PREVIOUS") {
            let prev = prev.to_string();
            let (v, key) = prev
                .split_once(':')
                .ok_or_else(|| bad("MASTER_KEY_PREVIOUS"))?;
            let v = v.parse::<u8>().map_err(|_| bad("MASTER_KEY_PREVIOUS"))?;
            let key = MasterKey::from_base64(key).map_err(|_| bad("MASTER_KEY_PREVIOUS"))?;
            ring = ring
                .with_previous(v, key)
                .map_err(|_| bad("MASTER_KEY_PREVIOUS"))?;
        }
        Ok(ring)
    }
}

pub use crate::entropy::random;
