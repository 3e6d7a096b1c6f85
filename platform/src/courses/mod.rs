//! Course authoring: courses and their settings, the draft -> published -> archived workflow,
//! co-instructors, prerequisites, cloning, and the outline of ordered modules and items.

mod model;
mod outline;
mod outline_routes;
pub(crate) mod outline_store;
mod routes;
pub mod service;
mod staff;
pub mod store;
pub(crate) mod values;

pub use model::{
    Course, CourseDetail, CourseId, CourseStatus, Difficulty, InstructorRole, Item, ItemContent,
    ItemId, ItemKind, Module, ModuleId, RawContent,
};
pub use routes::router;
pub use staff::{course_reader, is_course_staff};
