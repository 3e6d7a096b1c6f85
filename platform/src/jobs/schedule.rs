//! Recurring platform work on cron expressions (six fields when seconds matter). Each firing runs
//! in one operator transaction that holds the schedule's row lock, so one process runs it however
//! many are running workers; a firing that fails rolls back and is tried on the next tick. A
//! schedule's task is short: it finds what is due and enqueues tenant jobs (with unique keys),
//! which do the work with retries.

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use croner::Cron;
use futures::future::BoxFuture;
use sqlx::PgConnection;

use crate::state::AppState;

/// What a schedule runs: given the platform and the firing's operator transaction.
pub type Task = for<'a> fn(&'a AppState, &'a mut PgConnection) -> BoxFuture<'a, anyhow::Result<()>>;

pub struct Schedule {
    /// Unique; the row in `job_schedules`.
    pub name: &'static str,
    /// E.g. `*/5 * * * * *` (every 5 seconds) or `0 3 * * *` (daily at 03:00 UTC).
    pub cron: &'static str,
    pub task: Task,
}

impl Schedule {
    fn parsed(&self) -> anyhow::Result<Cron> {
        Cron::from_str(self.cron).map_err(|err| {
            anyhow::anyhow!("schedule {}: bad cron {:?}: {err}", self.name, self.cron)
        })
    }

    /// The first firing strictly after `after`.
    fn next_after(&self, after: DateTime<Utc>) -> anyhow::Result<DateTime<Utc>> {
        Ok(self.parsed()?.find_next_occurrence(&after, false)?)
    }
}

/// How often a worker looks for due firings.
const TICK: Duration = Duration::from_secs(1);

/// Registers the schedules (a changed cron takes effect at once), then fires them when due
/// until the task is aborted.
pub async fn run(state: AppState, schedules: Arc<[Schedule]>) {
    loop {
        match register(&state, &schedules).await {
            Ok(()) => break,
            Err(err) => tracing::warn!(error = ?err, "registering job schedules; retrying"),
        }
        tokio::time::sleep(Duration::from_secs(5)).await;
    }
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if let Err(err) = fire_due(&state, &schedules).await {
            tracing::warn!(error = ?err, "firing job schedules");
        }
    }
}

/// Records the schedules; a changed cron expression takes effect at once.
pub async fn register(state: &AppState, schedules: &[Schedule]) -> anyhow::Result<()> {
    let now = Utc::now();
    for schedule in schedules {
        let next = schedule.next_after(now)?;
        sqlx::query(
            "insert into job_schedules (name, cron, next_run_at) values ($1, $2, $3)
             on conflict (name) do update
             set cron = excluded.cron,
                 next_run_at = case when job_schedules.cron = excluded.cron
                                    then job_schedules.next_run_at
                                    else excluded.next_run_at end",
        )
        .bind(schedule.name)
        .bind(schedule.cron)
        .bind(next)
        .execute(state.operator_db.pool())
        .await?;
    }
    Ok(())
}

/// Runs every due firing of the known schedules once; returns how many ran.
pub async fn fire_due(state: &AppState, schedules: &[Schedule]) -> anyhow::Result<usize> {
    let names: Vec<&str> = schedules.iter().map(|s| s.name).collect();
    let mut fired = 0;
    loop {
        let mut tx = state.operator_db.begin().await?;
        let due: Option<String> = sqlx::query_scalar(
            "select name from job_schedules
             where name = any($1) and next_run_at <= now()
             order by next_run_at limit 1 for update skip locked",
        )
        .bind(&names)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(name) = due else { return Ok(fired) };
        let Some(schedule) = schedules.iter().find(|s| s.name == name) else {
            return Ok(fired);
        };
        // From now, not from the missed time: a process that was down does not fire a backlog.
        let next = schedule.next_after(Utc::now())?;
        if let Err(err) = (schedule.task)(state, &mut tx).await {
            tracing::warn!(schedule = schedule.name, error = ?err, "scheduled task failed");
            drop(tx);
            // Not again before its next time, so a failing task does not spin.
            sqlx::query("update job_schedules set next_run_at = $2 where name = $1")
                .bind(schedule.name)
                .bind(next)
                .execute(state.operator_db.pool())
                .await?;
            continue;
        }
        sqlx::query(
            "update job_schedules set next_run_at = $2, last_run_at = now() where name = $1",
        )
        .bind(schedule.name)
        .bind(next)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        fired += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn noop<'a>(_: &'a AppState, _: &'a mut PgConnection) -> BoxFuture<'a, anyhow::Result<()>> {
        Box::pin(async { Ok(()) })
    }

    #[test]
    fn six_fields_fire_on_seconds_and_five_on_minutes() {
        let at: DateTime<Utc> = "2026-12-05T10:00:03Z".parse().expect("time");
        let every_five = Schedule {
            name: "a",
            cron: "*/5 * * * * *",
            task: noop,
        };
        assert_eq!(
            every_five.next_after(at).expect("next").to_rfc3339(),
            "2026-12-05T10:00:05+00:00"
        );
        let hourly = Schedule {
            name: "b",
            cron: "17 * * * *",
            task: noop,
        };
        assert_eq!(
            hourly.next_after(at).expect("next").to_rfc3339(),
            "2026-12-05T10:17:00+00:00"
        );
        let bad = Schedule {
            name: "c",
            cron: "every day",
            task: noop,
        };
        assert!(bad.next_after(at).is_err());
    }
}
