//! The admin API's tokens in the database, on SQLite and PostgreSQL.

mod support;

use hotline::api::access::Role;
use hotline::api::access::store::{self, TokenError};
use hotline::api::access::token::TokenHash;
use hotline::crm::Db;
use support::databases;

#[tokio::test]
async fn tokens_are_stored_hashed_listed_without_secrets_and_revoked() {
    for database in databases::both().await {
        let kind = database.kind;
        let db = Db::connect(&database.url).await.unwrap();
        let secret = store::add(&db, "wallboard", Role::Monitor).await.unwrap();
        store::add(&db, "admin", Role::Admin).await.unwrap();
        assert!(
            matches!(
                store::add(&db, "wallboard", Role::Admin).await,
                Err(TokenError::NameTaken(_))
            ),
            "{kind}: a name is taken once"
        );
        assert!(matches!(
            store::add(&db, "no spaces", Role::Admin).await,
            Err(TokenError::BadName)
        ));

        let active = store::active(&db).await.unwrap();
        let wallboard = active.iter().find(|t| t.name == "wallboard").unwrap();
        assert_eq!(wallboard.role, Role::Monitor, "{kind}");
        assert!(wallboard.hash.matches(&TokenHash::of(&secret)), "{kind}");

        let listed = serde_json::to_string(&store::list(&db).await.unwrap()).unwrap();
        assert!(!listed.contains(&secret), "{kind}: {listed}");
        assert!(!listed.contains(&TokenHash::of(&secret).to_hex()), "{kind}");

        store::revoke(&db, "wallboard").await.unwrap();
        assert!(matches!(
            store::revoke(&db, "wallboard").await,
            Err(TokenError::NotFound(_))
        ));
        let active = store::active(&db).await.unwrap();
        let names: Vec<&str> = active.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names, ["admin"], "{kind}");
        let listed = store::list(&db).await.unwrap();
        assert!(
            listed
                .iter()
                .any(|t| t.name == "wallboard" && t.revoked_at.is_some())
        );
    }
}
