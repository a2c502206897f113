//! The SQL of reconciliation: which intents a day touched, and the runs kept.

use serde::Deserialize;

use super::Store;

/// The tables, appended to the store's schema.
pub const SCHEMA: &[&str] = &[
    // One row per run (newest last in rowid order); `body` is the run as GET returns it. `daily`: the alarm's run
    // of that day (at most one per day and mode), else one a merchant asked for.
    "CREATE TABLE IF NOT EXISTS reconciliations (
       id TEXT PRIMARY KEY, day TEXT NOT NULL, livemode INTEGER NOT NULL,
       daily INTEGER NOT NULL, created INTEGER NOT NULL, body TEXT NOT NULL)",
    "CREATE UNIQUE INDEX IF NOT EXISTS reconciliations_daily ON reconciliations(day, livemode)
       WHERE daily = 1",
    "CREATE INDEX IF NOT EXISTS reconciliations_list ON reconciliations(created DESC, id DESC)",
    "CREATE INDEX IF NOT EXISTS ledger_created ON ledger(created)",
];

#[derive(Deserialize)]
struct Id {
    id: String,
}

#[derive(Deserialize)]
pub struct ReconciliationRow {
    pub body: String,
}

impl Store {
    /// Intents of a mode created in `[start, end)` or with a ledger entry then, by
    /// id after `after`, `limit` at a time.
    pub fn intents_touched(
        &self,
        livemode: bool,
        start: i64,
        end: i64,
        after: &str,
        limit: i64,
    ) -> worker::Result<Vec<String>> {
        Ok(self
            .all::<Id>(
                "SELECT id FROM payment_intents p WHERE livemode = ? AND id > ? AND \
                 ((created >= ? AND created < ?) OR EXISTS (SELECT 1 FROM ledger l \
                   WHERE l.payment_intent = p.id AND l.created >= ? AND l.created < ?)) \
                 ORDER BY id LIMIT ?",
                vec![
                    i64::from(livemode).into(),
                    after.into(),
                    start.into(),
                    end.into(),
                    start.into(),
                    end.into(),
                    limit.into(),
                ],
            )?
            .into_iter()
            .map(|r| r.id)
            .collect())
    }

    /// When the mode's first intent was created, if it has one.
    pub fn first_intent_at(&self, livemode: bool) -> worker::Result<Option<i64>> {
        #[derive(Deserialize)]
        struct At {
            at: Option<i64>,
        }
        Ok(self
            .first::<At>(
                "SELECT MIN(created) AS at FROM payment_intents WHERE livemode = ?",
                vec![i64::from(livemode).into()],
            )?
            .and_then(|r| r.at))
    }

    /// The newest day the alarm reconciled in a mode.
    pub fn last_daily_reconciliation(&self, livemode: bool) -> worker::Result<Option<String>> {
        #[derive(Deserialize)]
        struct Day {
            day: Option<String>,
        }
        Ok(self
            .first::<Day>(
                "SELECT MAX(day) AS day FROM reconciliations WHERE daily = 1 AND livemode = ?",
                vec![i64::from(livemode).into()],
            )?
            .and_then(|r| r.day))
    }

    /// Keeps a run; a second daily run of the same day and mode is not kept (`false`).
    pub fn insert_reconciliation(
        &self,
        id: &str,
        day: &str,
        livemode: bool,
        daily: bool,
        created: i64,
        body: &str,
    ) -> worker::Result<bool> {
        Ok(self.run(
            "INSERT OR IGNORE INTO reconciliations (id, day, livemode, daily, created, body) \
             VALUES (?, ?, ?, ?, ?, ?)",
            vec![
                id.into(),
                day.into(),
                i64::from(livemode).into(),
                i64::from(daily).into(),
                created.into(),
                body.into(),
            ],
        )? > 0)
    }

    /// Runs newest first; `livemode: None` for both modes (the admin).
    pub fn reconciliations(
        &self,
        livemode: Option<bool>,
        limit: i64,
    ) -> worker::Result<Vec<ReconciliationRow>> {
        let (filter, mut args) = match livemode {
            Some(l) => ("WHERE livemode = ?", vec![i64::from(l).into()]),
            None => ("", Vec::new()),
        };
        args.push(limit.into());
        self.all(
            &format!(
                "SELECT body FROM reconciliations {filter} \
                 ORDER BY created DESC, rowid DESC LIMIT ?"
            ),
            args,
        )
    }

    pub fn reconciliation(
        &self,
        id: &str,
        livemode: bool,
    ) -> worker::Result<Option<ReconciliationRow>> {
        self.first(
            "SELECT body FROM reconciliations WHERE id = ? AND livemode = ?",
            vec![id.into(), i64::from(livemode).into()],
        )
    }
}
