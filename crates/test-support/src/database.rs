//! A real store in a temporary folder, removed when the test ends: what
//! every test that runs on the real store opens first.

use std::sync::Arc;

use joule_domain::ports::store::Store;
use joule_store::{Database, StoreOptions};

/// A fresh SQLite database in a temporary folder. The folder lives as long
/// as this value: keep it until the test ends.
pub struct TempDatabase {
    pub db: Database,
    pub store: Arc<dyn Store>,
    dir: tempfile::TempDir,
}

impl std::fmt::Debug for TempDatabase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TempDatabase")
            .field("dir", &self.dir.path())
            .finish_non_exhaustive()
    }
}

impl TempDatabase {
    /// A migrated SQLite database named `file` in a new temporary folder.
    pub async fn sqlite(file: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join(file).display());
        let db = joule_store::connect(&url, StoreOptions::default())
            .await
            .unwrap();
        let store = db.store();
        Self { db, store, dir }
    }

    /// The folder the database file is in.
    pub fn dir(&self) -> &std::path::Path {
        self.dir.path()
    }

    /// Takes the parts apart, for a test that keeps them in its own fields.
    pub fn into_parts(self) -> (tempfile::TempDir, Database, Arc<dyn Store>) {
        (self.dir, self.db, self.store)
    }
}
