//! Editing a course's outline: modules and their items, each kept in a contiguous 0..n order.
//! Every change runs under the course's row lock (see [`Authoring`]), so concurrent edits and
//! reorders apply one after another and a reorder always sees the current set.

use std::collections::HashSet;
use std::net::IpAddr;

use serde_json::json;

use super::model::{CourseId, Item, ItemContent, ItemId, Module, ModuleId, RawContent};
use super::outline_store::{self as outline, ItemRow, ModuleRow};
use super::service::{Access, Authoring};
use super::values::{Summary, Title};
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use crate::validation::Fields;

fn stale_order(what: &str) -> ApiError {
    ApiError::Conflict {
        code: "stale_order",
        detail: format!(
            "the order must list every current {what} exactly once; reload and try again"
        ),
    }
}

/// Whether `ids` is exactly `current` (same members, no repeats).
fn same_set<T: Eq + std::hash::Hash + Copy>(ids: &[T], current: &[T]) -> bool {
    let given: HashSet<T> = ids.iter().copied().collect();
    given.len() == ids.len()
        && ids.len() == current.len()
        && current.iter().all(|id| given.contains(id))
}

async fn module_of(authoring: &mut Authoring, id: ModuleId) -> ApiResult<ModuleRow> {
    let course = authoring.course.id;
    outline::module(&mut authoring.tx, course, id)
        .await?
        .ok_or(ApiError::NotFound)
}

async fn with_items(authoring: &mut Authoring, module: &ModuleRow) -> ApiResult<Module> {
    let items = outline::module_items(&mut authoring.tx, module.id).await?;
    Ok(module.to_module(items.iter().map(ItemRow::to_item).collect()))
}

pub async fn create_module(
    state: &AppState,
    caller: &Caller,
    ip: IpAddr,
    course: CourseId,
    title: Title,
    summary: Summary,
) -> ApiResult<Module> {
    let mut authoring = Authoring::begin(state, caller, course, Access::Edit).await?;
    let id = ModuleId::default();
    let module = outline::insert_module(
        &mut authoring.tx,
        course,
        id,
        title.as_str(),
        summary.as_str(),
    )
    .await?;
    authoring
        .audit(ip, "course.module_created", course)
        .details(json!({ "module_id": id }))
        .record(&mut authoring.tx)
        .await?;
    authoring.tx.commit().await?;
    Ok(module.to_module(Vec::new()))
}

pub async fn update_module(
    state: &AppState,
    caller: &Caller,
    ip: IpAddr,
    (course, id): (CourseId, ModuleId),
    title: Option<Title>,
    summary: Option<Summary>,
) -> ApiResult<Module> {
    let mut authoring = Authoring::begin(state, caller, course, Access::Edit).await?;
    let current = module_of(&mut authoring, id).await?;
    let updated = outline::update_module(
        &mut authoring.tx,
        id,
        title.as_ref().map_or(current.title.as_str(), Title::as_str),
        summary
            .as_ref()
            .map_or(current.summary.as_str(), Summary::as_str),
    )
    .await?;
    let module = with_items(&mut authoring, &updated).await?;
    authoring
        .audit(ip, "course.module_updated", course)
        .details(json!({ "module_id": id }))
        .record(&mut authoring.tx)
        .await?;
    authoring.tx.commit().await?;
    Ok(module)
}

/// Deletes a module with its items; the modules after it move up.
pub async fn delete_module(
    state: &AppState,
    caller: &Caller,
    ip: IpAddr,
    (course, id): (CourseId, ModuleId),
) -> ApiResult<()> {
    let mut authoring = Authoring::begin(state, caller, course, Access::Edit).await?;
    module_of(&mut authoring, id).await?;
    outline::delete_module(&mut authoring.tx, course, id).await?;
    authoring
        .audit(ip, "course.module_deleted", course)
        .details(json!({ "module_id": id }))
        .record(&mut authoring.tx)
        .await?;
    authoring.tx.commit().await?;
    Ok(())
}

/// Puts the modules in the given order; `ids` must be exactly the course's current modules.
pub async fn reorder_modules(
    state: &AppState,
    caller: &Caller,
    ip: IpAddr,
    course: CourseId,
    ids: Vec<ModuleId>,
) -> ApiResult<Vec<Module>> {
    let mut authoring = Authoring::begin(state, caller, course, Access::Edit).await?;
    let current: Vec<ModuleId> = outline::modules(&mut authoring.tx, course)
        .await?
        .iter()
        .map(|m| m.id)
        .collect();
    if !same_set(&ids, &current) {
        return Err(stale_order("module"));
    }
    outline::reorder_modules(&mut authoring.tx, course, &ids).await?;
    authoring
        .audit(ip, "course.modules_reordered", course)
        .details(json!({ "module_ids": ids }))
        .record(&mut authoring.tx)
        .await?;
    Ok(authoring.finish().await?.modules)
}

/// An item's settings and content, checked against its kind.
pub struct NewItem {
    pub title: Title,
    pub required: bool,
    pub content: ItemContent,
}

pub async fn create_item(
    state: &AppState,
    caller: &Caller,
    ip: IpAddr,
    (course, module): (CourseId, ModuleId),
    new: NewItem,
) -> ApiResult<Item> {
    let mut authoring = Authoring::begin(state, caller, course, Access::Edit).await?;
    module_of(&mut authoring, module).await?;
    let id = ItemId::default();
    let item = outline::insert_item(
        &mut authoring.tx,
        course,
        module,
        id,
        new.title.as_str(),
        new.required,
        &new.content,
    )
    .await?;
    authoring
        .audit(ip, "course.item_created", course)
        .details(json!({ "module_id": module, "item_id": id, "kind": new.content.kind() }))
        .record(&mut authoring.tx)
        .await?;
    authoring.tx.commit().await?;
    Ok(item.to_item())
}

/// Changes to an item; the content (when given) was parsed against the item's kind.
pub struct ItemChanges {
    pub title: Option<Title>,
    pub required: Option<bool>,
    pub content: Option<ItemContent>,
}

/// Loads an item for an update, so the caller can parse content against its kind.
pub async fn item_for_update(
    state: &AppState,
    caller: &Caller,
    (course, module, id): (CourseId, ModuleId, ItemId),
) -> ApiResult<(Authoring, ItemRow)> {
    let mut authoring = Authoring::begin(state, caller, course, Access::Edit).await?;
    module_of(&mut authoring, module).await?;
    let item = outline::item(&mut authoring.tx, module, id)
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok((authoring, item))
}

pub async fn update_item(
    mut authoring: Authoring,
    ip: IpAddr,
    current: ItemRow,
    changes: ItemChanges,
) -> ApiResult<Item> {
    let content = match changes.content {
        Some(content) => content,
        None => current_content(&current)?,
    };
    let item = outline::update_item(
        &mut authoring.tx,
        current.id,
        changes
            .title
            .as_ref()
            .map_or(current.title.as_str(), Title::as_str),
        changes.required.unwrap_or(current.required),
        &content,
    )
    .await?;
    let course = authoring.course.id;
    authoring
        .audit(ip, "course.item_updated", course)
        .details(json!({ "module_id": current.module_id, "item_id": current.id }))
        .record(&mut authoring.tx)
        .await?;
    authoring.tx.commit().await?;
    Ok(item.to_item())
}

/// The stored content, re-parsed (it was valid when written).
fn current_content(row: &ItemRow) -> ApiResult<ItemContent> {
    let raw = RawContent {
        body: row.body.clone(),
        url: row.url.clone(),
        duration_seconds: row.duration_seconds.map(i64::from),
    };
    let mut fields = Fields::default();
    let content = ItemContent::parse(row.kind, &raw, &mut fields);
    fields.finish(|| content)
}

pub async fn delete_item(
    state: &AppState,
    caller: &Caller,
    ip: IpAddr,
    (course, module, id): (CourseId, ModuleId, ItemId),
) -> ApiResult<()> {
    let mut authoring = Authoring::begin(state, caller, course, Access::Edit).await?;
    module_of(&mut authoring, module).await?;
    outline::item(&mut authoring.tx, module, id)
        .await?
        .ok_or(ApiError::NotFound)?;
    outline::delete_item(&mut authoring.tx, module, id).await?;
    authoring
        .audit(ip, "course.item_deleted", course)
        .details(json!({ "module_id": module, "item_id": id }))
        .record(&mut authoring.tx)
        .await?;
    authoring.tx.commit().await?;
    Ok(())
}

/// Puts a module's items in the given order; `ids` must be exactly its current items.
pub async fn reorder_items(
    state: &AppState,
    caller: &Caller,
    ip: IpAddr,
    (course, module): (CourseId, ModuleId),
    ids: Vec<ItemId>,
) -> ApiResult<Module> {
    let mut authoring = Authoring::begin(state, caller, course, Access::Edit).await?;
    let row = module_of(&mut authoring, module).await?;
    let current: Vec<ItemId> = outline::module_items(&mut authoring.tx, module)
        .await?
        .iter()
        .map(|i| i.id)
        .collect();
    if !same_set(&ids, &current) {
        return Err(stale_order("item of the module"));
    }
    outline::reorder_items(&mut authoring.tx, module, &ids).await?;
    let updated = with_items(&mut authoring, &row).await?;
    authoring
        .audit(ip, "course.items_reordered", course)
        .details(json!({ "module_id": module, "item_ids": ids }))
        .record(&mut authoring.tx)
        .await?;
    authoring.tx.commit().await?;
    Ok(updated)
}
