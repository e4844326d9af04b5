//! Fresh databases for tests: the same test code runs on SQLite and PostgreSQL.

use sqlx::Connection;

/// A fresh, empty database, removed when dropped.
pub struct TestDatabase {
    pub kind: &'static str,
    pub url: String,
    _dir: Option<tempfile::TempDir>,
    pg_name: Option<String>,
}

/// The PostgreSQL server tests use (scripts/test starts it when it is down).
fn pg_admin_url() -> String {
    std::env::var("HOTLINE_TEST_PG")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

/// One fresh SQLite file and one fresh PostgreSQL database. PostgreSQL being
/// unreachable fails the test loudly: the production database is not optional.
pub async fn both() -> Vec<TestDatabase> {
    vec![sqlite(), postgres().await]
}

pub fn sqlite() -> TestDatabase {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}", dir.path().join("hotline.db").display());
    TestDatabase {
        kind: "sqlite",
        url,
        _dir: Some(dir),
        pg_name: None,
    }
}

pub async fn postgres() -> TestDatabase {
    use rand::Rng;
    let admin = pg_admin_url();
    let mut connection = sqlx::PgConnection::connect(&admin)
        .await
        .unwrap_or_else(|e| panic!("PostgreSQL at {admin} is required for the tests: {e}"));
    let name = format!("hotline_t_{:016x}", rand::rng().random::<u64>());
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut connection)
        .await
        .expect("create test database");
    let base = admin
        .rsplit_once('/')
        .map(|(b, _)| b)
        .unwrap_or(&admin)
        .to_owned();
    TestDatabase {
        kind: "postgres",
        url: format!("{base}/{name}"),
        _dir: None,
        pg_name: Some(name),
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let Some(name) = self.pg_name.take() else {
            return;
        };
        let admin = pg_admin_url();
        // Dropped outside any runtime: a small one of its own.
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
            runtime.block_on(async {
                let mut connection = sqlx::PgConnection::connect(&admin).await.ok()?;
                sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .execute(&mut connection)
                    .await
                    .ok()
            })
        })
        .join();
    }
}

/// The MariaDB server tests use as a company's CRM (scripts/test starts it).
const MARIADB_ADMIN: &str = "mysql://root@127.0.0.1:3306/test";

/// A fresh, empty MariaDB database, dropped when dropped.
pub struct MariaDb {
    pub url: String,
    name: String,
}

/// A new MariaDB database; MariaDB being unreachable fails the test loudly.
pub async fn mariadb() -> MariaDb {
    use rand::Rng;
    let mut admin = sqlx::MySqlConnection::connect(MARIADB_ADMIN)
        .await
        .unwrap_or_else(|e| panic!("MariaDB at {MARIADB_ADMIN} is required: {e}"));
    let name = format!("hotline_crm_{:012x}", rand::rng().random::<u64>() >> 16);
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut admin)
        .await
        .expect("create MariaDB test database");
    MariaDb {
        url: format!("mysql://root@127.0.0.1:3306/{name}"),
        name,
    }
}

impl Drop for MariaDb {
    fn drop(&mut self) {
        let name = self.name.clone();
        // Dropped outside any runtime: a small one of its own.
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Runtime::new().ok()?;
            runtime.block_on(async {
                let mut admin = sqlx::MySqlConnection::connect(MARIADB_ADMIN).await.ok()?;
                sqlx::query(&format!("DROP DATABASE IF EXISTS {name}"))
                    .execute(&mut admin)
                    .await
                    .ok()
            })
        })
        .join();
    }
}

/// A company CRM's SQLite database in `dir`, unlike hotline's: one client,
/// `K-7781` (Olena, Ukrainian, account 100200300). Its `sqlite://` URL.
pub async fn sqlite_crm(dir: &std::path::Path) -> String {
    let url = format!("sqlite://{}", dir.join("crm.db").display());
    let mut db = sqlx::SqliteConnection::connect(&format!("{url}?mode=rwc"))
        .await
        .unwrap();
    for statement in [
        "CREATE TABLE clients (client_no TEXT PRIMARY KEY, full_name TEXT, lang TEXT, acct TEXT)",
        "INSERT INTO clients VALUES ('K-7781', 'Olena Kovalenko', 'uk', '100200300')",
    ] {
        sqlx::query(statement).execute(&mut db).await.unwrap();
    }
    url
}
