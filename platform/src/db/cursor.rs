//! Where a store's keyset page starts.

use uuid::Uuid;

/// A position in a list ordered by UUIDv7 id, newest first: rows strictly older than this id
/// come next. The HTTP layer decodes it from a page's `cursor` parameter.
#[derive(Debug, Clone, Copy)]
pub struct Cursor(pub Uuid);
