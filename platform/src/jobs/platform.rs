//! Every kind of job the platform runs, and its recurring schedules.

use futures::FutureExt;
use futures::future::BoxFuture;
use sqlx::PgConnection;

use super::queue;
use super::registry::Registry;
use super::schedule::Schedule;
use crate::state::AppState;

/// The platform's job kinds with their code.
pub fn registry() -> Registry {
    Registry::new()
        .handle(crate::email::deliver)
        .handle(crate::quizzes::sweep::close_expired)
        .handle(crate::quizzes::sweep::release_stuck)
        .handle(crate::webhooks::deliver)
        .handle(crate::notifications::from_event)
        .handle(crate::notifications::digest::send)
        .handle(crate::notifications::due_soon::remind)
        .handle(crate::imports::run)
        .handle(crate::plugins::deliver_event)
}

/// The platform's recurring work.
pub fn schedules() -> Vec<Schedule> {
    vec![
        Schedule {
            name: "jobs.rescue_expired_leases",
            cron: "*/5 * * * * *",
            task: rescue_expired_leases,
        },
        Schedule {
            name: "jobs.prune_finished",
            cron: "17 * * * *",
            task: prune_finished,
        },
        Schedule {
            name: "webhooks.prune_deliveries",
            cron: "41 3 * * *",
            task: crate::webhooks::prune_deliveries,
        },
        Schedule {
            name: "notifications.daily_digest",
            cron: "0 7 * * *",
            task: crate::notifications::digest::enqueue_due,
        },
        Schedule {
            name: "notifications.due_soon",
            cron: "*/10 * * * *",
            task: crate::notifications::due_soon::enqueue_due,
        },
        Schedule {
            name: "quizzes.deadline_sweep",
            cron: "*/5 * * * * *",
            task: crate::quizzes::sweep::enqueue_due,
        },
    ]
}

fn rescue_expired_leases<'a>(
    _: &'a AppState,
    conn: &'a mut PgConnection,
) -> BoxFuture<'a, anyhow::Result<()>> {
    async move {
        let rescued = queue::rescue_expired(conn).await?;
        if rescued > 0 {
            tracing::warn!(
                rescued,
                "took back jobs whose workers stopped renewing their leases"
            );
        }
        Ok(())
    }
    .boxed()
}

fn prune_finished<'a>(
    _: &'a AppState,
    conn: &'a mut PgConnection,
) -> BoxFuture<'a, anyhow::Result<()>> {
    async move {
        let pruned = queue::prune(conn).await?;
        tracing::info!(pruned, "pruned finished jobs");
        Ok(())
    }
    .boxed()
}
