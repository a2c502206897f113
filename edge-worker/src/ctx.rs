//! What every handler needs from the environment: the database, the clock,
//! randomness and the key material. Read once per request.

use shared::secrets::{Keyring, MasterKey};
use worker::{D1Database, Env};

pub struct Ctx {
    pub db: D1Database,
    pub env: Env,
    /// Unix seconds, read once so one request sees one instant.
    pub now: i64,
}

impl Ctx {
    pub fn new(env: Env) -> worker::Result<Ctx> {
        Ok(Ctx {
            db: env.d1("DB")?,
            now: (worker::Date::now().as_millis() / 1000) as i64,
            env,
        })
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

    pub fn admin_token(&self) -> Option<String> {
        self.env.secret("ADMIN_TOKEN").ok().map(|s| s.to_string())
    }
}

/// Fresh random bytes from the runtime's CSPRNG (crypto.getRandomValues).
pub fn random<const N: usize>() -> [u8; N] {
    let mut b = [0u8; N];
    getrandom::fill(&mut b).expect("the runtime provides crypto.getRandomValues");
    b
}
