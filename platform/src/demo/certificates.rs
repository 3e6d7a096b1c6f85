//! The demo certificate: the tenant's default certificate template, and the first demo learner
//! completing Leading Remote Teams (its video and its text; the team charter's released, passing
//! grade completed the assignment), which earns them its certificate as any completion does.
//!
//! Through the services the API uses, as the demo's admin and learner. The completion queues
//! the issuing job; the seed also issues for that completion at once (the job then finds it
//! done), so the demo holds its certificate as soon as the seed returns. Each run adds only
//! what is missing.

use std::net::{IpAddr, Ipv4Addr};

use anyhow::Context;
use lms_tenants::Tenant;

use super::Seeding;
use crate::certificates::{self, Cause, NotIssued};
use crate::courses::ItemKind;
use crate::events::EventId;
use crate::progress::ProgressReport;
use crate::state::AppState;
use crate::users::Role;

const SEED_IP: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

/// The course the first learner completes, and the items they complete by studying them.
const COURSE: &str = "leading-remote-teams";
const STUDIED: [(ItemKind, &str); 2] = [
    (ItemKind::Video, "Rituals that scale"),
    (ItemKind::Text, "Writing things down"),
];

pub async fn seed(state: &AppState, tenant: &Tenant) -> anyhow::Result<()> {
    let admin = super::signed_in(state, tenant, Role::TenantAdmin).await?;
    let instructor = super::signed_in(state, tenant, Role::Instructor).await?;
    let learner = super::signed_in(state, tenant, Role::Learner).await?;
    let templates = certificates::service::templates(state, &admin)
        .await
        .seeding("reading the demo certificate templates")?;
    if templates.is_empty() {
        certificates::service::save_template(
            state,
            &admin,
            SEED_IP,
            None,
            certificates::service::TemplateInput {
                title: "Certificate of Completion".into(),
                description: Some("Awarded for completing a Demo Academy course.".into()),
                criteria: "Completed every required item of the course.".into(),
                signatory_name: Some("Ada Admin".into()),
                signatory_title: Some("Head of Learning, Demo Academy".into()),
                credit_hours: Some(1.5),
                credits: vec![certificates::Credit {
                    body: "PMI".into(),
                    credits: 1.5,
                }],
                min_grade_percent: None,
                valid_days: None,
                design: certificates::Design::Classic,
            },
        )
        .await
        .seeding("saving the demo certificate template")?;
    }
    let mut course = None;
    for (kind, title) in STUDIED {
        let Some((id, item)) = super::course_item(state, &instructor, COURSE, kind, title).await?
        else {
            continue;
        };
        course = Some(id);
        crate::progress::report(
            state,
            &learner,
            id,
            item,
            ProgressReport {
                complete: true,
                ..ProgressReport::default()
            },
        )
        .await
        .seeding("completing a demo lesson")?;
    }
    let Some(course) = course else {
        return Ok(());
    };
    let mut tx = state.db.begin(tenant.id).await?;
    let completion: Option<EventId> = sqlx::query_scalar(
        "select id from domain_events
         where tenant_id = $1 and kind = 'course.completed'
           and payload->>'course_id' = $2::text and payload->>'user_id' = $3::text
         order by id desc limit 1",
    )
    .bind(tenant.id)
    .bind(course)
    .bind(learner.user)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(completion) = completion else {
        return Ok(());
    };
    match certificates::issue(
        state,
        &mut tx,
        course,
        learner.user,
        Cause::Completion(completion),
    )
    .await
    {
        Ok(_) => tx.commit().await.context("issuing the demo certificate")?,
        Err(NotIssued::Failed(err)) => return Err(err.context("issuing the demo certificate")),
        // Issued already (by the job, or an earlier run).
        Err(_) => {}
    }
    Ok(())
}
