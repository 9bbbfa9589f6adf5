//! Embedded migrations and the list both backends must agree on.
//!
//! Migrations are numbered `NNNN_name.sql`, one directory per backend, with
//! the same numbers and names on both sides; once landed they are never
//! edited. The runner (in each backend) records applied ones in
//! `schema_migrations(version, name, applied_at)` and refuses to start on a
//! database that has a migration this binary does not know (a newer Joule
//! migrated it).

/// One embedded migration.
#[derive(Debug, Clone, Copy)]
pub struct Migration {
    pub version: i64,
    pub name: &'static str,
    pub sql: &'static str,
}

pub const SQLITE: &[Migration] = &[
    Migration {
        version: 1,
        name: "initial",
        sql: include_str!("../migrations/sqlite/0001_initial.sql"),
    },
    Migration {
        version: 2,
        name: "tariffs",
        sql: include_str!("../migrations/sqlite/0002_tariffs.sql"),
    },
    Migration {
        version: 3,
        name: "user_groups",
        sql: include_str!("../migrations/sqlite/0003_user_groups.sql"),
    },
    Migration {
        version: 4,
        name: "session_tariffs",
        sql: include_str!("../migrations/sqlite/0004_session_tariffs.sql"),
    },
];

pub const POSTGRES: &[Migration] = &[
    Migration {
        version: 1,
        name: "initial",
        sql: include_str!("../migrations/postgres/0001_initial.sql"),
    },
    Migration {
        version: 2,
        name: "tariffs",
        sql: include_str!("../migrations/postgres/0002_tariffs.sql"),
    },
    Migration {
        version: 3,
        name: "user_groups",
        sql: include_str!("../migrations/postgres/0003_user_groups.sql"),
    },
    Migration {
        version: 4,
        name: "session_tariffs",
        sql: include_str!("../migrations/postgres/0004_session_tariffs.sql"),
    },
];

/// What an applied-version check found wrong.
pub(crate) fn unknown_versions(applied: &[i64], known: &[Migration]) -> Option<String> {
    let unknown: Vec<String> = applied
        .iter()
        .filter(|v| !known.iter().any(|m| m.version == **v))
        .map(i64::to_string)
        .collect();
    (!unknown.is_empty()).then(|| {
        format!(
            "the database has migration(s) {} that this Joule does not know; run a newer Joule",
            unknown.join(", ")
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir_list(backend: &str) -> Vec<(i64, String)> {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("migrations")
            .join(backend);
        let mut list: Vec<(i64, String)> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .filter(|n| n.ends_with(".sql"))
            .map(|n| {
                let stem = n.trim_end_matches(".sql");
                let (num, name) = stem.split_once('_').expect("NNNN_name.sql");
                (num.parse().expect("numeric prefix"), name.to_owned())
            })
            .collect();
        list.sort();
        list
    }

    fn embedded(list: &[Migration]) -> Vec<(i64, String)> {
        list.iter()
            .map(|m| (m.version, m.name.to_owned()))
            .collect()
    }

    #[test]
    fn both_backends_have_the_same_migrations() {
        assert_eq!(dir_list("sqlite"), dir_list("postgres"));
    }

    #[test]
    fn embedded_lists_match_the_directories() {
        assert_eq!(embedded(SQLITE), dir_list("sqlite"));
        assert_eq!(embedded(POSTGRES), dir_list("postgres"));
    }

    #[test]
    fn embedded_versions_increase() {
        for list in [SQLITE, POSTGRES] {
            assert!(list.windows(2).all(|w| w[0].version < w[1].version));
        }
    }

    #[test]
    fn unknown_applied_version_is_refused() {
        assert!(unknown_versions(&[1], SQLITE).is_none());
        assert!(unknown_versions(&[1, 99], SQLITE).unwrap().contains("99"));
    }
}
