//! Offset pagination shared by every list port and endpoint.

use serde::Serialize;

/// A page request. `limit` is clamped to [`Page::MAX_LIMIT`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    pub limit: u32,
    pub offset: u64,
}

impl Page {
    pub const DEFAULT_LIMIT: u32 = 50;
    pub const MAX_LIMIT: u32 = 500;

    pub fn new(limit: Option<u32>, offset: Option<u64>) -> Self {
        Self {
            limit: limit
                .unwrap_or(Self::DEFAULT_LIMIT)
                .clamp(1, Self::MAX_LIMIT),
            offset: offset.unwrap_or(0),
        }
    }

    /// Fetch one row more than the page so that callers know whether a next
    /// page exists without a COUNT query.
    pub fn fetch_limit(&self) -> u32 {
        self.limit + 1
    }
}

impl Default for Page {
    fn default() -> Self {
        Self::new(None, None)
    }
}

/// One page of results and the offset of the next page, if there is one.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Paged<T> {
    pub items: Vec<T>,
    pub next_offset: Option<u64>,
}

impl<T> Paged<T> {
    /// Builds a page from rows fetched with [`Page::fetch_limit`].
    pub fn from_overfetch(mut rows: Vec<T>, page: Page) -> Self {
        let has_more = rows.len() > page.limit as usize;
        rows.truncate(page.limit as usize);
        Self {
            next_offset: has_more.then(|| page.offset + u64::from(page.limit)),
            items: rows,
        }
    }
}
