//! Configuration: the TOML tables an integrator writes, and the mistakes caught.

use super::*;

fn compile(toml: &str) -> Result<Acd, ConfigError> {
    let config: AcdConfig = toml::from_str(toml).expect("parses");
    Acd::new(config, Instant::now())
}

fn queue_fault(toml: &str) -> String {
    match compile(toml) {
        Err(ConfigError::Queue { message, .. }) => message,
        other => panic!("expected a queue error, got {other:?}"),
    }
}

#[test]
fn queues_parse_from_a_toml_queues_table_with_defaults() {
    let config: AcdConfig = toml::from_str(
        r#"
        wrap_up_seconds = 5
        [[agents]]
        id = "anna"
        skills = { first_line = 1, second_line = 2 }

        [[queues]]
        name = "support"
        strategy = "skill_level"
        skills = ["first_line"]
        escalation = [{ after_seconds = 0, max_level = 1 }, { after_seconds = 30, max_level = 2 }]
        announce_every_seconds = 45
        max_wait_seconds = 600
        max_length = 20
        on_max_wait = "callback"
        on_full = { queue = "general" }

        [[queues]]
        name = "general"
        strategy = "round_robin"
        "#,
    )
    .unwrap();
    let support = &config.queues[0];
    assert_eq!(support.strategy, Strategy::SkillLevel);
    assert_eq!(support.ring_timeout_seconds, 15);
    assert_eq!(support.on_full, LimitAction::Queue("general".into()));
    assert_eq!(support.on_no_agents, LimitAction::Goodbye);
    assert!(support.pause_on_no_answer);
    assert_eq!(config.agents[0].skills["second_line"], 2);
    assert!(Acd::new(config, Instant::now()).is_ok());
}

#[test]
fn unknown_keys_are_rejected() {
    let result: Result<AcdConfig, _> = toml::from_str(
        r#"
        [[queues]]
        name = "support"
        strategy = "ring_all"
        ring_seconds = 10
        "#,
    );
    let message = result.unwrap_err().to_string();
    assert!(message.contains("ring_seconds"), "{message}");
}

#[test]
fn overflow_to_an_unknown_queue_or_to_itself_is_rejected() {
    let unknown = queue_fault(
        r#"
        [[queues]]
        name = "support"
        strategy = "ring_all"
        on_full = { queue = "nowhere" }
        "#,
    );
    assert_eq!(unknown, "on_full names unknown queue `nowhere`");
    let itself = queue_fault(
        r#"
        [[queues]]
        name = "support"
        strategy = "ring_all"
        on_max_wait = { queue = "support" }
        "#,
    );
    assert_eq!(itself, "on_max_wait overflows to the queue itself");
    let instant = queue_fault(
        r#"
        [[queues]]
        name = "support"
        strategy = "ring_all"
        max_wait_seconds = 0
        "#,
    );
    assert_eq!(instant, "max_wait_seconds must be above zero");
}

#[test]
fn escalation_must_start_at_zero_and_widen() {
    let late_start = queue_fault(
        r#"
        [[queues]]
        name = "support"
        strategy = "skill_level"
        escalation = [{ after_seconds = 10, max_level = 1 }]
        "#,
    );
    assert!(late_start.contains("after_seconds = 0"), "{late_start}");
    let narrowing = queue_fault(
        r#"
        [[queues]]
        name = "support"
        strategy = "skill_level"
        escalation = [{ after_seconds = 0, max_level = 2 }, { after_seconds = 30, max_level = 1 }]
        "#,
    );
    assert!(narrowing.contains("grow"), "{narrowing}");
}

#[test]
fn duplicate_queues_and_agents_are_rejected() {
    let twice = queue_fault(
        r#"
        [[queues]]
        name = "support"
        strategy = "ring_all"
        [[queues]]
        name = "support"
        strategy = "round_robin"
        "#,
    );
    assert!(twice.contains("unique"), "{twice}");
    let agents = compile(
        r#"
        queues = []
        [[agents]]
        id = "anna"
        [[agents]]
        id = "anna"
        "#,
    );
    assert!(matches!(agents, Err(ConfigError::Agent { .. })));
}

#[test]
fn joining_an_unknown_queue_is_refused() {
    let mut acd = compile("queues = []").unwrap();
    let join = Join {
        caller: CallerId(1),
        queue: "nowhere".into(),
        priority: 0,
        waited_before: Duration::ZERO,
        skills: Vec::new(),
    };
    assert_eq!(
        acd.handle_join(Instant::now(), join),
        Err(AcdError::UnknownQueue("nowhere".into()))
    );
}

#[test]
fn a_service_level_target_is_80_in_20_unless_set_and_must_make_sense() {
    let queue = |target: &str| {
        format!("[[queues]]\nname = \"support\"\nstrategy = \"round_robin\"\n{target}")
    };
    let config: AcdConfig = toml::from_str(&queue("")).expect("parses");
    let target = config.queues[0].service_level;
    assert_eq!((target.percent, target.seconds), (80, 20));
    let config: AcdConfig =
        toml::from_str(&queue("service_level = { percent = 90, seconds = 15 }")).expect("parses");
    assert_eq!(config.queues[0].service_level.seconds, 15);
    for wrong in [
        "service_level = { percent = 101, seconds = 20 }",
        "service_level = { percent = 80, seconds = 0 }",
    ] {
        assert!(
            queue_fault(&queue(wrong)).contains("service_level"),
            "{wrong}"
        );
    }
}
