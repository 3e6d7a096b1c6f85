//! Running a tenant's grader on one request: the enabled plugin's active version, the config
//! checked against the plugin's schema first, every call recorded (metrics and the tenant's
//! bounded invocation log) whatever its outcome.

use std::sync::Arc;

use lms_plugin_host::{Grade, GradeRequest, Invocation, Outcome};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use super::model::{Capability, Manifest, PluginName};
use super::{config_schema, host_id, host_version, invocations, service, store};
use crate::auth::{Actor, Caller};
use crate::error::{ApiError, ApiResult, codes};
use crate::state::AppState;
use crate::users::Role;

/// One response to grade, as a question would send it.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
// Qualified: assignments have a `GradeInput` of their own.
#[schema(as = plugins::GradeInput)]
pub struct GradeInput {
    /// The question kind, e.g. `lab-flag` or `numeric`.
    pub question_kind: String,
    /// The question's prompt as the learner saw it.
    #[serde(default)]
    pub prompt: String,
    /// The question's plugin configuration; must satisfy the plugin's `config_schema`.
    #[schema(value_type = Object)]
    pub config: Value,
    /// The most points the response can earn (finite, >= 0).
    pub max_points: f64,
    /// A free-text response.
    pub response_text: Option<String>,
    /// A structured response.
    #[schema(value_type = Option<Object>)]
    pub response_json: Option<Value>,
}

/// The score on one criterion.
#[derive(Debug, Serialize, ToSchema)]
pub struct CriterionView {
    pub name: String,
    pub points: f64,
    pub max_points: f64,
    pub message: String,
}

/// A grade, checked by the host (0 <= points <= max_points).
#[derive(Debug, Serialize, ToSchema)]
pub struct GradeView {
    pub plugin: String,
    pub version: String,
    pub points: f64,
    pub max_points: f64,
    pub passed: bool,
    pub feedback: Vec<CriterionView>,
}

fn may_grade(actor: &Actor) -> bool {
    actor.roles.contains(Role::TenantAdmin) || actor.roles.contains(Role::Instructor)
}

/// The grading endpoint: instructors and tenant admins run a grader on a request.
pub async fn grade(
    state: &AppState,
    caller: &Caller,
    name: &PluginName,
    input: GradeInput,
) -> ApiResult<GradeView> {
    let (tx, actor) = caller.begin(state).await?;
    tx.commit().await?;
    if !may_grade(&actor) {
        return Err(ApiError::Forbidden {
            code: codes::FORBIDDEN,
            detail: "only instructors and tenant admins run graders",
        });
    }
    run(state, caller.tenant.id, actor.user_id, name, input).await
}

/// The enabled plugin's active version with its manifest, read in the caller's transaction.
async fn active_version(
    tx: &mut lms_tenants::TenantTx,
    name: &PluginName,
) -> ApiResult<(store::PluginRow, store::VersionRow, Manifest)> {
    let plugin = store::plugin_by_name(tx, name, false)
        .await?
        .ok_or(ApiError::NotFound)?;
    let Some(active) = plugin.active_version_id else {
        return Err(ApiError::Conflict {
            code: codes::NOT_INSTALLED,
            detail: format!("{name} has no installed version"),
        });
    };
    if !plugin.enabled {
        return Err(ApiError::Conflict {
            code: "plugin_disabled",
            detail: format!("{name} is disabled"),
        });
    }
    let version = store::version_by_id(tx, active)
        .await?
        .ok_or(ApiError::NotFound)?;
    let manifest: Manifest = serde_json::from_value(version.manifest.clone())
        .map_err(|e| ApiError::Internal(anyhow::anyhow!("stored manifest unreadable: {e}")))?;
    Ok((plugin, version, manifest))
}

/// Checks a question's grader and its configuration as an author sets them: the plugin must be
/// installed and enabled, a grader, and the configuration must satisfy its `config_schema`.
/// Errors name fields under `prefix` (e.g. `spec.plugin`, `spec.config.answer`).
pub async fn check_grader_config(
    tx: &mut lms_tenants::TenantTx,
    name: &str,
    config: &Value,
    prefix: &str,
) -> ApiResult<()> {
    let unknown = || {
        ApiError::validation(
            &format!("{prefix}.plugin"),
            "unknown_plugin",
            "no installed and enabled grader plugin of the organisation has this name",
        )
    };
    let name = PluginName::parse(name).map_err(|_| unknown())?;
    let (_, _, manifest) = active_version(tx, &name).await.map_err(|e| match e {
        ApiError::NotFound | ApiError::Conflict { .. } => unknown(),
        other => other,
    })?;
    if manifest.world != super::model::World::Grader {
        return Err(unknown());
    }
    let validator = config_schema::compile(&manifest.config_schema)
        .map_err(|e| ApiError::Internal(anyhow::anyhow!("stored config schema: {e}")))?;
    let errors: Vec<_> = config_schema::violations(&validator, config)
        .into_iter()
        .map(|mut e| {
            e.field = format!("{prefix}.{}", e.field);
            e
        })
        .collect();
    if errors.is_empty() {
        Ok(())
    } else {
        Err(ApiError::Validation(errors))
    }
}

/// Runs the tenant's enabled grader `name` on `input` for `caller`, recording the invocation
/// whatever its outcome. Plugin failures are [`ApiError::Plugin`].
pub async fn run(
    state: &AppState,
    tenant: lms_tenants::TenantId,
    caller: crate::users::UserId,
    name: &PluginName,
    input: GradeInput,
) -> ApiResult<GradeView> {
    let mut tx = state.db.begin(tenant).await?;
    let (plugin, version, manifest) = active_version(&mut tx, name).await?;
    if manifest.world != super::model::World::Grader {
        return Err(ApiError::Conflict {
            code: "not_a_grader",
            detail: format!("{name} is a {} plugin, not a grader", manifest.world),
        });
    }
    let validator = config_schema::compile(&manifest.config_schema)
        .map_err(|e| ApiError::Internal(anyhow::anyhow!("stored config schema: {e}")))?;
    let errors = config_schema::violations(&validator, &input.config);
    if !errors.is_empty() {
        return Err(ApiError::Validation(errors));
    }
    let (id, host_ver) = (
        host_id(tenant, name.as_str()),
        host_version(&version.version),
    );
    // After a restart the host starts empty: compile the stored component on first use.
    let missing = state
        .plugins
        .host
        .installed_grader(&id, &host_ver)
        .is_none();
    let component = if missing {
        store::component(&mut tx, &version.sha256).await?
    } else {
        None
    };
    tx.commit().await?;
    if let Some(bytes) = component {
        // The active version was installed with its grant.
        let granted = super::model::capabilities_from_db(
            version.granted_capabilities.as_deref().unwrap_or_default(),
        );
        service::load_into_host(
            &state.plugins.host,
            tenant,
            manifest.world,
            name.as_str(),
            &version.version,
            Arc::new(bytes),
            &service::host_capabilities(&granted),
        )
        .await?;
    }

    let request = GradeRequest {
        question_kind: input.question_kind,
        prompt: input.prompt,
        config: input.config.to_string(),
        max_points: input.max_points,
        response_text: input.response_text,
        response_json: input.response_json.map(|v| v.to_string()),
        // An opaque id, never personal data.
        learner: caller.to_string(),
    };
    let log_granted = version
        .granted_capabilities
        .as_deref()
        .is_some_and(|g| g.contains(&Capability::Log));
    let Invocation { result, record } = state
        .plugins
        .host
        .grade_with_log(
            &id,
            &host_ver,
            &lms_plugin_host::TenantId(tenant.to_string()),
            &request,
            log_granted,
        )
        .await;
    let outcome = match record.outcome {
        Outcome::Success => "success",
        Outcome::Failure(code) => code,
    };
    invocations::observe(name.as_str(), outcome, &record);
    invocations::record(
        state,
        tenant,
        plugin.id,
        name.as_str(),
        outcome,
        Some(caller),
        &record,
    )
    .await?;
    let grade: Grade = result.map_err(ApiError::Plugin)?;
    Ok(GradeView {
        plugin: name.to_string(),
        version: version.version,
        points: grade.points,
        max_points: request.max_points,
        passed: grade.passed,
        feedback: grade
            .feedback
            .into_iter()
            .map(|c| CriterionView {
                name: c.name,
                points: c.points,
                max_points: c.max_points,
                message: c.message,
            })
            .collect(),
    })
}
