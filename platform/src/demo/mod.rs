//! `lms serve --demo`: a demo tenant to click through, created if absent. Its users share one
//! password: `LMS_DEMO_PASSWORD`, or one generated on first use and kept in the data folder so
//! that every later run prints the same credentials.
//!
//! Users and courses are written in one transaction through the stores; assessments (quizzes and
//! their attempts, assignments and their submissions) through the services the API uses, as the
//! demo users, so they obey every rule of the API.

use std::io::Write;
use std::path::Path;

use anyhow::Context;
use lms_tenants::registry;
use lms_tenants::{Branding, Slug, Tenant, TenantSettings};
use secrecy::{ExposeSecret, SecretString};

mod assignments;
mod certificates;
mod courses;
mod quizzes;

use crate::auth::{Caller, Password};
use crate::operator::{CreateTenant, create_tenant};
use crate::state::AppState;
use crate::users::store::{self as users, NewUser};
use crate::users::{DisplayName, Email, Role, Roles, UserStatus};

pub const SLUG: &str = "demo";

pub const USERS: [(&str, &str, Role); 4] = [
    ("admin@demo.example", "Ada Admin", Role::TenantAdmin),
    (
        "instructor@demo.example",
        "Ivan Instructor",
        Role::Instructor,
    ),
    ("learner1@demo.example", "Lea Learner", Role::Learner),
    ("learner2@demo.example", "Leo Learner", Role::Learner),
];

/// The demo password: configured, else remembered in `data_dir`, else generated and remembered.
pub fn password(
    configured: Option<&SecretString>,
    data_dir: &Path,
) -> anyhow::Result<SecretString> {
    if let Some(password) = configured {
        return Ok(password.clone());
    }
    let file = data_dir.join("demo-password");
    if let Ok(saved) = std::fs::read_to_string(&file)
        && saved.trim().len() >= Password::MIN_CHARS
    {
        return Ok(SecretString::from(saved.trim().to_owned()));
    }
    std::fs::create_dir_all(data_dir)
        .with_context(|| format!("creating {}", data_dir.display()))?;
    let generated = crate::auth::tokens::OpaqueToken::generate().as_str()[..20].to_owned();
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options
        .open(&file)
        .and_then(|mut f| f.write_all(generated.as_bytes()))
        .with_context(|| format!("writing {}", file.display()))?;
    Ok(SecretString::from(generated))
}

/// Creates the demo tenant and its users if absent; makes their password the given one.
pub async fn seed(state: &AppState, password: &SecretString) -> anyhow::Result<Tenant> {
    let slug = Slug::parse(SLUG).map_err(|e| anyhow::anyhow!("{e}"))?;
    let existing = {
        let mut conn = state.operator_db.pool().acquire().await?;
        registry::by_slug(&mut conn, &slug).await?
    };
    let tenant = match existing {
        Some(tenant) => tenant,
        None => create_tenant(
            state,
            None,
            CreateTenant {
                slug,
                display_name: "Demo Academy".into(),
                branding: Branding {
                    logo_url: Some("https://demo.example/logo.svg".into()),
                    primary_color: Some("#1f6feb".into()),
                    accent_color: Some("#f0883e".into()),
                    support_email: Some("support@demo.example".into()),
                    theme: [
                        ("radius".to_owned(), "8px".to_owned()),
                        ("font-family".to_owned(), "Inter, sans-serif".to_owned()),
                    ]
                    .into_iter()
                    .collect(),
                },
                settings: TenantSettings {
                    self_registration: true,
                },
            },
        )
        .await
        .map_err(|e| anyhow::anyhow!("creating the demo tenant: {e}"))?,
    };
    let password = Password::parse(password.expose_secret().to_owned(), "LMS_DEMO_PASSWORD")
        .map_err(|e| anyhow::anyhow!("LMS_DEMO_PASSWORD: {e}"))?;
    let hash = state.passwords.hash(&password).await?;
    let mut tx = state.db.begin(tenant.id).await?;
    let mut instructor = None;
    let mut learners = Vec::new();
    for (email, name, role) in USERS {
        let email = Email::parse(email).map_err(|e| anyhow::anyhow!("{e}"))?;
        let id = match users::by_email(&mut tx, &email).await? {
            Some(row) => {
                if !state
                    .passwords
                    .verify(&password, row.password_hash.as_deref())
                    .await?
                {
                    users::set_password(&mut tx, row.id, &hash).await?;
                }
                row.id
            }
            None => {
                let display_name = DisplayName::parse(name).map_err(|e| anyhow::anyhow!("{e}"))?;
                users::insert(
                    &mut tx,
                    &NewUser {
                        email: &email,
                        display_name: &display_name,
                        password_hash: Some(&hash),
                        roles: &Roles::one(role),
                        status: UserStatus::Active,
                    },
                )
                .await?
                .id
            }
        };
        match role {
            Role::Instructor => instructor = Some(id),
            Role::Learner => learners.push(id),
            _ => {}
        }
    }
    if let Some(instructor) = instructor {
        courses::seed(&mut tx, instructor, &learners).await?;
    }
    tx.commit().await?;
    quizzes::seed(state, &tenant)
        .await
        .context("seeding the demo quizzes")?;
    assignments::seed(state, &tenant)
        .await
        .context("seeding the demo assignments")?;
    certificates::seed(state, &tenant)
        .await
        .context("seeding the demo certificate")?;
    Ok(tenant)
}

/// The first demo user with the role as a caller of the services: they check the user's roles,
/// status and session epoch as they do for a request's.
async fn signed_in(state: &AppState, tenant: &Tenant, role: Role) -> anyhow::Result<Caller> {
    let (email, _, _) = USERS
        .iter()
        .find(|(_, _, r)| *r == role)
        .with_context(|| format!("no demo user is {}", role.as_str()))?;
    let email = Email::parse(email).map_err(|e| anyhow::anyhow!("{e}"))?;
    let mut tx = state.db.begin(tenant.id).await?;
    let user = users::by_email(&mut tx, &email)
        .await?
        .with_context(|| format!("the demo user {}", role.as_str()))?;
    tx.commit().await?;
    Ok(Caller::for_user(
        tenant.clone(),
        user.id,
        user.session_epoch,
    ))
}

/// A service's refusal as a seed error, with the fields a validation names.
pub(super) trait Seeding<T> {
    fn seeding(self, what: &str) -> anyhow::Result<T>;
}

impl<T> Seeding<T> for crate::error::ApiResult<T> {
    fn seeding(self, what: &str) -> anyhow::Result<T> {
        self.map_err(|err| match err {
            crate::error::ApiError::Validation(fields) => {
                anyhow::anyhow!("{what}: invalid {fields:?}")
            }
            other => anyhow::Error::new(other).context(what.to_owned()),
        })
    }
}

/// A course item of the instructor's demo course by kind and title, unless an instructor
/// deleted them.
pub(super) async fn course_item(
    state: &AppState,
    instructor: &Caller,
    course_slug: &str,
    kind: crate::courses::ItemKind,
    title: &str,
) -> anyhow::Result<Option<(crate::courses::CourseId, crate::courses::ItemId)>> {
    let mut tx = state.db.begin(instructor.tenant.id).await?;
    let taught =
        crate::courses::store::list(&mut tx, Some(instructor.user), None, None, 200).await?;
    let Some(course) = taught.iter().find(|c| c.slug == course_slug).map(|c| c.id) else {
        return Ok(None);
    };
    let item = crate::courses::outline_store::items(&mut tx, course)
        .await?
        .into_iter()
        .find(|i| i.kind == kind && i.title == title)
        .map(|i| i.id);
    tx.commit().await?;
    Ok(item.map(|item| (course, item)))
}
