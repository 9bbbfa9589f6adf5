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

/// Every migration, listed once: each `(version, name)` pair names
/// `migrations/{sqlite,postgres}/{version:04}_{name}.sql`, so the two
/// backends cannot get different lists (the directory test checks the files).
macro_rules! migrations {
    ($($version:literal $file:literal $name:literal),+ $(,)?) => {
        pub const SQLITE: &[Migration] = &[$(Migration {
            version: $version,
            name: $name,
            sql: include_str!(concat!("../migrations/sqlite/", $file, ".sql")),
        }),+];
        pub const POSTGRES: &[Migration] = &[$(Migration {
            version: $version,
            name: $name,
            sql: include_str!(concat!("../migrations/postgres/", $file, ".sql")),
        }),+];
    };
}

migrations! {
    1 "0001_initial" "initial",
    2 "0002_tariffs" "tariffs",
    3 "0003_user_groups" "user_groups",
    4 "0004_session_tariffs" "session_tariffs",
    5 "0005_sites_tariff_assignments" "sites_tariff_assignments",
    6 "0006_token_language" "token_language",
    7 "0007_payments" "payments",
    8 "0008_payment_service" "payment_service",
    9 "0009_terminals" "terminals",
    10 "0010_accounts" "accounts",
    11 "0011_hold_limits_receipt_emails" "hold_limits_receipt_emails",
    12 "0012_payment_claims" "payment_claims",
    13 "0013_token_types" "token_types",
}

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
