//! Agents, their skills, digest secrets and registrations on SQLite and PostgreSQL.

mod support;

use std::time::Duration;

use hotline::crm::Db;
use hotline::crm::agents::{AgentError, NewAgent, Skill};
use hotline::crm::registrations::StoredRegistration;
use hotline::sip::digest::{Algorithm, ha1};
use support::databases;

const LIMIT: Duration = Duration::from_secs(5);

fn alice() -> NewAgent {
    NewAgent {
        login: "alice".into(),
        display_name: "Alice Moroz".into(),
        password: "secret".into(),
        skills: vec![
            "first_line=1".parse().unwrap(),
            "billing=2".parse().unwrap(),
        ],
    }
}

#[tokio::test]
async fn agents_are_added_listed_with_skills_and_logins_are_unique() {
    for database in databases::both().await {
        let db = Db::connect(&database.url).await.unwrap();
        let added = db.add_agent(&alice(), "hotline").await.unwrap();
        let bob = NewAgent {
            login: "bob".into(),
            display_name: "Bob".into(),
            password: "pw".into(),
            skills: Vec::new(),
        };
        db.add_agent(&bob, "hotline").await.unwrap();
        let agents = db.list_agents().await.unwrap();
        let logins: Vec<&str> = agents.iter().map(|a| a.login.as_str()).collect();
        assert_eq!(logins, ["alice", "bob"], "{}", database.kind);
        assert_eq!(agents[0], added);
        let skills: Vec<(&str, i32)> = agents[0]
            .skills
            .iter()
            .map(|s| (s.skill.as_str(), s.level))
            .collect();
        assert_eq!(
            skills,
            [("billing", 2), ("first_line", 1)],
            "{}",
            database.kind
        );

        let again = db.add_agent(&alice(), "hotline").await.unwrap_err();
        assert!(
            matches!(again, AgentError::Exists(_)),
            "{}: {again}",
            database.kind
        );
        let mut bad = alice();
        bad.login = "al ice".into();
        assert!(matches!(
            db.add_agent(&bad, "hotline").await.unwrap_err(),
            AgentError::InvalidLogin(_)
        ));
        assert_eq!(db.list_agents().await.unwrap().len(), 2);
    }
}

#[tokio::test]
async fn the_password_is_kept_only_as_ha1_for_the_realm_and_can_be_changed() {
    for database in databases::both().await {
        let db = Db::connect(&database.url).await.unwrap();
        db.add_agent(&alice(), "hotline").await.unwrap();
        let stored = db.agent_credentials("alice", LIMIT).await.unwrap().unwrap();
        assert_eq!(stored.realm, "hotline");
        assert_eq!(
            stored.ha1_md5,
            ha1(Algorithm::Md5, "alice", "hotline", "secret")
        );
        assert_eq!(
            stored.ha1_sha256,
            ha1(Algorithm::Sha256, "alice", "hotline", "secret")
        );
        assert_eq!(stored.ha1_md5.len(), 32, "{}", database.kind);
        assert_eq!(stored.ha1_sha256.len(), 64);

        db.set_agent_password("alice", "calls.example", "n3w")
            .await
            .unwrap();
        let changed = db.agent_credentials("alice", LIMIT).await.unwrap().unwrap();
        assert_eq!(changed.realm, "calls.example");
        assert_eq!(
            changed.ha1_md5,
            ha1(Algorithm::Md5, "alice", "calls.example", "n3w")
        );
        assert!(
            db.agent_credentials("nobody", LIMIT)
                .await
                .unwrap()
                .is_none()
        );
        assert!(matches!(
            db.set_agent_password("nobody", "hotline", "x").await,
            Err(AgentError::NotFound(_))
        ));
        assert!(matches!(
            db.set_agent_password("alice", "hotline", "").await,
            Err(AgentError::EmptyPassword)
        ));
    }
}

#[tokio::test]
async fn skills_are_replaced_and_checked() {
    for database in databases::both().await {
        let db = Db::connect(&database.url).await.unwrap();
        db.add_agent(&alice(), "hotline").await.unwrap();
        let second: Skill = "second_line=3".parse().unwrap();
        db.set_agent_skills("alice", std::slice::from_ref(&second))
            .await
            .unwrap();
        let agent = db.find_agent("alice").await.unwrap().unwrap();
        assert_eq!(
            agent.skills,
            std::slice::from_ref(&second),
            "{}",
            database.kind
        );
        let twice = db
            .set_agent_skills("alice", &[second.clone(), second])
            .await;
        assert!(matches!(twice, Err(AgentError::InvalidSkill(_))));
        assert_eq!(
            db.find_agent("alice").await.unwrap().unwrap().skills.len(),
            1,
            "a refused change changes nothing"
        );
        for text in ["first_line", "First=1", "x=101", "x=-1", "=1"] {
            assert!(text.parse::<Skill>().is_err(), "{text}");
        }
    }
}

fn registration(contact: &str, expires_at: i64) -> StoredRegistration {
    StoredRegistration {
        login: "alice".into(),
        contact: contact.into(),
        source: "127.0.0.1:5062".into(),
        transport: "UDP".into(),
        call_id: "c1".into(),
        cseq: 4,
        user_agent: Some("baresip".into()),
        expires_at,
        path: None,
    }
}

#[tokio::test]
async fn registrations_are_replaced_per_agent_and_expired_ones_dropped() {
    for database in databases::both().await {
        let db = Db::connect(&database.url).await.unwrap();
        db.add_agent(&alice(), "hotline").await.unwrap();
        let now = 1_000_000;
        // Registered through a proxy: its Path is kept with it.
        let desk = StoredRegistration {
            path: Some("<sip:127.0.0.1:5060;lr>".into()),
            ..registration("<sip:alice@127.0.0.1:5062;ob>", now + 60_000)
        };
        let old = registration("<sip:alice@127.0.0.1:5064>", now - 1);
        db.store_registrations("alice", &[desk.clone(), old])
            .await
            .unwrap();
        assert_eq!(
            db.live_registrations(now).await.unwrap(),
            std::slice::from_ref(&desk),
            "{}",
            database.kind
        );
        db.store_registrations("alice", &[]).await.unwrap();
        assert!(db.live_registrations(now).await.unwrap().is_empty());
        // An agent removed meanwhile is not an error.
        db.store_registrations("nobody", &[desk]).await.unwrap();
    }
}
