//! Course authoring: courses and their settings, the draft -> published -> archived workflow,
//! co-instructors, prerequisites, cloning, and the outline of ordered modules and items.

mod model;
mod outline;
mod outline_routes;
mod outline_store;
mod routes;
pub mod service;
pub mod store;
mod values;

pub use model::{
    Course, CourseDetail, CourseId, CourseStatus, Difficulty, InstructorRole, Item, ItemId,
    ItemKind, Module, ModuleId,
};
pub use routes::router;
