//! A site's claim of who its web caller is, looked up where callers are
//! identified: the company CRM's `customer_by_id` lookup when it has one
//! (an SQL CRM here, SQLite), the claim as it is when the CRM identifies
//! callers by number only, and hotline's own customers when no CRM does.

mod support;

use std::time::Duration;

use hotline::config::Config;
use hotline::crm::Db;
use hotline::crm::sources::Crm;

const WAIT: Duration = Duration::from_secs(5);

/// hotline's own database, with the demo customers.
async fn own_database(dir: &std::path::Path) -> Db {
    let db = Db::connect(&format!(
        "sqlite://{}?mode=rwc",
        dir.join("hotline.db").display()
    ))
    .await
    .unwrap();
    db.seed_demo().await.unwrap();
    db
}

fn crm(config: &str, db: Db) -> Crm {
    let config = Config::from_toml(config).unwrap();
    config.check().unwrap();
    config.crm(db).unwrap()
}

const SOURCE: &str = "[[crm.sources]]\nname = \"billing\"\nkind = \"sql\"\nurl = \"URL\"\n";

#[tokio::test]
async fn the_crms_customer_by_id_lookup_finds_the_claimed_customer() {
    let dir = tempfile::tempdir().unwrap();
    let url = support::databases::sqlite_crm(dir.path()).await;
    let lookup = r#"
[[lookups]]
name = "customer_by_id"
source = "billing"
sql = "SELECT client_no, full_name, lang, acct FROM clients WHERE client_no = $1"
params = ["customer"]
fields = { customer = { type = "text", from = "client_no" }, name = { type = "text", from = "full_name" }, language = { type = "text", from = "lang" }, account = { type = "text", from = "acct" } }
"#;
    let config = format!("{}{lookup}", SOURCE.replace("URL", &url));
    let crm = crm(&config, own_database(dir.path()).await);
    let olena = crm.find_customer("K-7781", WAIT).await.unwrap().unwrap();
    assert_eq!(olena.id, "K-7781");
    assert_eq!(olena.name, "Olena Kovalenko");
    assert_eq!(olena.language, "uk");
    assert_eq!(olena.account_number, "100200300");
    assert!(crm.identifies_externally());
    assert_eq!(crm.find_customer("K-0000", WAIT).await.unwrap(), None);
}

#[tokio::test]
async fn a_crm_that_identifies_by_number_only_takes_the_signed_claim_as_it_is() {
    let dir = tempfile::tempdir().unwrap();
    let url = support::databases::sqlite_crm(dir.path()).await;
    let lookup = r#"
[[lookups]]
name = "caller_by_number"
source = "billing"
sql = "SELECT client_no FROM clients WHERE acct = $1"
params = ["phone"]
fields = { customer = { type = "text", from = "client_no" } }
"#;
    let config = format!("{}{lookup}", SOURCE.replace("URL", &url));
    let crm = crm(&config, own_database(dir.path()).await);
    let claimed = crm.find_customer("K-9999", WAIT).await.unwrap().unwrap();
    assert_eq!(claimed.id, "K-9999");
    assert_eq!(claimed.language, "en", "the default language");
}

#[tokio::test]
async fn without_a_crm_the_claim_is_found_among_hotlines_own_customers() {
    let dir = tempfile::tempdir().unwrap();
    let db = own_database(dir.path()).await;
    let olena = db
        .find_customer_by_phone("+380441234567", WAIT)
        .await
        .unwrap()
        .unwrap();
    let crm = crm("", db);
    assert!(!crm.identifies_externally());
    let found = crm.find_customer(&olena.id, WAIT).await.unwrap().unwrap();
    assert_eq!(found.name, olena.name);
    assert_eq!(crm.find_customer("K-7781", WAIT).await.unwrap(), None);
}
