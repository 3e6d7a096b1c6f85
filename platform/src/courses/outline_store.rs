//! All SQL on `course_modules` and `course_items`. Callers hold the course's row lock
//! ([`super::store::by_id_for_update`]) for every write, which keeps positions contiguous.

use lms_tenants::TenantTx;
use uuid::Uuid;

use super::model::{CourseId, Item, ItemContent, ItemId, ItemKind, Module, ModuleId};

#[derive(sqlx::FromRow)]
pub struct ModuleRow {
    pub id: ModuleId,
    pub position: i32,
    pub title: String,
    pub summary: String,
}

impl ModuleRow {
    pub fn to_module(&self, items: Vec<Item>) -> Module {
        Module {
            id: self.id,
            position: self.position,
            title: self.title.clone(),
            summary: self.summary.clone(),
            items,
        }
    }
}

#[derive(sqlx::FromRow)]
pub struct ItemRow {
    pub id: ItemId,
    pub module_id: ModuleId,
    pub position: i32,
    pub kind: ItemKind,
    pub title: String,
    pub required: bool,
    pub body: Option<String>,
    pub url: Option<String>,
    pub duration_seconds: Option<i32>,
}

impl ItemRow {
    pub fn to_item(&self) -> Item {
        Item {
            id: self.id,
            module_id: self.module_id,
            position: self.position,
            kind: self.kind,
            title: self.title.clone(),
            required: self.required,
            body: self.body.clone(),
            url: self.url.clone(),
            duration_seconds: self.duration_seconds,
        }
    }
}

const MODULE_COLUMNS: &str = "id, position, title, summary";
const ITEM_COLUMNS: &str =
    "id, module_id, position, kind, title, required, body, url, duration_seconds";

pub async fn modules(tx: &mut TenantTx, course: CourseId) -> Result<Vec<ModuleRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "select {MODULE_COLUMNS} from course_modules
         where tenant_id = $1 and course_id = $2 order by position"
    ))
    .bind(tx.tenant_id())
    .bind(course)
    .fetch_all(&mut **tx)
    .await
}

/// Every item of the course, in module then item order.
pub async fn items(tx: &mut TenantTx, course: CourseId) -> Result<Vec<ItemRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "select {ITEM_COLUMNS} from course_items
         where tenant_id = $1 and course_id = $2 order by module_id, position"
    ))
    .bind(tx.tenant_id())
    .bind(course)
    .fetch_all(&mut **tx)
    .await
}

pub async fn module(
    tx: &mut TenantTx,
    course: CourseId,
    id: ModuleId,
) -> Result<Option<ModuleRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "select {MODULE_COLUMNS} from course_modules
         where tenant_id = $1 and course_id = $2 and id = $3"
    ))
    .bind(tx.tenant_id())
    .bind(course)
    .bind(id)
    .fetch_optional(&mut **tx)
    .await
}

/// Appends a module at the end of the course.
pub async fn insert_module(
    tx: &mut TenantTx,
    course: CourseId,
    id: ModuleId,
    title: &str,
    summary: &str,
) -> Result<ModuleRow, sqlx::Error> {
    sqlx::query_as(&format!(
        "insert into course_modules (tenant_id, id, course_id, position, title, summary)
         select $1, $3, $2, count(*), $4, $5 from course_modules where tenant_id = $1 and course_id = $2
         returning {MODULE_COLUMNS}"
    ))
    .bind(tx.tenant_id())
    .bind(course)
    .bind(id)
    .bind(title)
    .bind(summary)
    .fetch_one(&mut **tx)
    .await
}

pub async fn update_module(
    tx: &mut TenantTx,
    id: ModuleId,
    title: &str,
    summary: &str,
) -> Result<ModuleRow, sqlx::Error> {
    sqlx::query_as(&format!(
        "update course_modules set title = $3, summary = $4
         where tenant_id = $1 and id = $2 returning {MODULE_COLUMNS}"
    ))
    .bind(tx.tenant_id())
    .bind(id)
    .bind(title)
    .bind(summary)
    .fetch_one(&mut **tx)
    .await
}

/// Deletes a module (and its items) and closes the gap it leaves.
pub async fn delete_module(
    tx: &mut TenantTx,
    course: CourseId,
    id: ModuleId,
) -> Result<(), sqlx::Error> {
    sqlx::query("delete from course_modules where tenant_id = $1 and course_id = $2 and id = $3")
        .bind(tx.tenant_id())
        .bind(course)
        .bind(id)
        .execute(&mut **tx)
        .await?;
    Siblings::Modules.close_gaps(tx, course.0).await
}

/// Gives the modules positions 0..n in the order of `ids` (which the caller checked is exactly
/// the course's set).
pub async fn reorder_modules(
    tx: &mut TenantTx,
    course: CourseId,
    ids: &[ModuleId],
) -> Result<(), sqlx::Error> {
    let ids: Vec<Uuid> = ids.iter().map(|id| id.0).collect();
    Siblings::Modules.apply_order(tx, course.0, &ids).await
}

pub async fn module_items(
    tx: &mut TenantTx,
    module: ModuleId,
) -> Result<Vec<ItemRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "select {ITEM_COLUMNS} from course_items
         where tenant_id = $1 and module_id = $2 order by position"
    ))
    .bind(tx.tenant_id())
    .bind(module)
    .fetch_all(&mut **tx)
    .await
}

pub async fn item(
    tx: &mut TenantTx,
    module: ModuleId,
    id: ItemId,
) -> Result<Option<ItemRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "select {ITEM_COLUMNS} from course_items
         where tenant_id = $1 and module_id = $2 and id = $3"
    ))
    .bind(tx.tenant_id())
    .bind(module)
    .bind(id)
    .fetch_optional(&mut **tx)
    .await
}

/// Appends an item at the end of the module.
pub async fn insert_item(
    tx: &mut TenantTx,
    course: CourseId,
    module: ModuleId,
    id: ItemId,
    title: &str,
    required: bool,
    content: &ItemContent,
) -> Result<ItemRow, sqlx::Error> {
    sqlx::query_as(&format!(
        "insert into course_items (tenant_id, id, course_id, module_id, position, kind, title,
                                   required, body, url, duration_seconds)
         select $1, $4, $2, $3, count(*), $5, $6, $7, $8, $9, $10
         from course_items where tenant_id = $1 and module_id = $3
         returning {ITEM_COLUMNS}"
    ))
    .bind(tx.tenant_id())
    .bind(course)
    .bind(module)
    .bind(id)
    .bind(content.kind().as_str())
    .bind(title)
    .bind(required)
    .bind(content.body())
    .bind(content.url())
    .bind(content.duration_seconds())
    .fetch_one(&mut **tx)
    .await
}

pub async fn update_item(
    tx: &mut TenantTx,
    id: ItemId,
    title: &str,
    required: bool,
    content: &ItemContent,
) -> Result<ItemRow, sqlx::Error> {
    sqlx::query_as(&format!(
        "update course_items set title = $3, required = $4, body = $5, url = $6, duration_seconds = $7
         where tenant_id = $1 and id = $2 returning {ITEM_COLUMNS}"
    ))
    .bind(tx.tenant_id())
    .bind(id)
    .bind(title)
    .bind(required)
    .bind(content.body())
    .bind(content.url())
    .bind(content.duration_seconds())
    .fetch_one(&mut **tx)
    .await
}

/// Deletes an item and closes the gap it leaves.
pub async fn delete_item(
    tx: &mut TenantTx,
    module: ModuleId,
    id: ItemId,
) -> Result<(), sqlx::Error> {
    sqlx::query("delete from course_items where tenant_id = $1 and module_id = $2 and id = $3")
        .bind(tx.tenant_id())
        .bind(module)
        .bind(id)
        .execute(&mut **tx)
        .await?;
    Siblings::Items.close_gaps(tx, module.0).await
}

/// Gives the module's items positions 0..n in the order of `ids` (checked by the caller).
pub async fn reorder_items(
    tx: &mut TenantTx,
    module: ModuleId,
    ids: &[ItemId],
) -> Result<(), sqlx::Error> {
    let ids: Vec<Uuid> = ids.iter().map(|id| id.0).collect();
    Siblings::Items.apply_order(tx, module.0, &ids).await
}

/// The two ordered lists of an outline: a course's modules and a module's items. Positions are
/// contiguous 0..n within their parent.
#[derive(Clone, Copy)]
enum Siblings {
    Modules,
    Items,
}

impl Siblings {
    /// (table, parent column); fixed strings, never input.
    fn table_and_parent(self) -> (&'static str, &'static str) {
        match self {
            Self::Modules => ("course_modules", "course_id"),
            Self::Items => ("course_items", "module_id"),
        }
    }

    /// Renumbers the parent's rows 0..n keeping their order (after a delete).
    async fn close_gaps(self, tx: &mut TenantTx, parent: Uuid) -> Result<(), sqlx::Error> {
        let (table, parent_column) = self.table_and_parent();
        sqlx::query(&format!(
            "update {table} s set position = r.rn - 1
             from (select id, row_number() over (order by position) as rn from {table}
                   where tenant_id = $1 and {parent_column} = $2) r
             where s.tenant_id = $1 and s.id = r.id and s.position <> r.rn - 1"
        ))
        .bind(tx.tenant_id())
        .bind(parent)
        .execute(&mut **tx)
        .await
        .map(|_| ())
    }

    /// Sets positions 0..n in the order of `ids`.
    async fn apply_order(
        self,
        tx: &mut TenantTx,
        parent: Uuid,
        ids: &[Uuid],
    ) -> Result<(), sqlx::Error> {
        let (table, parent_column) = self.table_and_parent();
        sqlx::query(&format!(
            "update {table} s set position = o.ord - 1
             from unnest($3::uuid[]) with ordinality as o(id, ord)
             where s.tenant_id = $1 and s.{parent_column} = $2 and s.id = o.id and s.position <> o.ord - 1"
        ))
        .bind(tx.tenant_id())
        .bind(parent)
        .bind(ids)
        .execute(&mut **tx)
        .await
        .map(|_| ())
    }
}

/// Copies the outline of `from` into the new course `to` with fresh ids.
pub async fn copy_outline(
    tx: &mut TenantTx,
    from: CourseId,
    to: CourseId,
) -> Result<(), sqlx::Error> {
    let modules = modules(tx, from).await?;
    let items = items(tx, from).await?;
    for module in &modules {
        let new_module = ModuleId::default();
        sqlx::query(
            "insert into course_modules (tenant_id, id, course_id, position, title, summary)
             values ($1, $2, $3, $4, $5, $6)",
        )
        .bind(tx.tenant_id())
        .bind(new_module)
        .bind(to)
        .bind(module.position)
        .bind(&module.title)
        .bind(&module.summary)
        .execute(&mut **tx)
        .await?;
        for item in items.iter().filter(|i| i.module_id == module.id) {
            sqlx::query(
                "insert into course_items (tenant_id, id, course_id, module_id, position, kind,
                                           title, required, body, url, duration_seconds)
                 values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
            )
            .bind(tx.tenant_id())
            .bind(ItemId::default())
            .bind(to)
            .bind(new_module)
            .bind(item.position)
            .bind(item.kind)
            .bind(&item.title)
            .bind(item.required)
            .bind(&item.body)
            .bind(&item.url)
            .bind(item.duration_seconds)
            .execute(&mut **tx)
            .await?;
        }
    }
    Ok(())
}
