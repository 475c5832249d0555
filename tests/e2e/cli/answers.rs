//! pending, approve, reject and audit from a terminal, against moto with
//! the connection lifecycle and DynamoDB Local: an operator answers a
//! review, the connection follows, and the audit names the operator.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use super::common::cli;

use gate_core::ServicePolicy;
use gate_e2e::Local;
use gate_lambdas::decide::handle_at;
use serde_json::json;

#[tokio::test]
async fn operator_approves_and_rejects_reviews_once() {
    let local = Local::from_env().await;
    let service = local.service().await.expect("service");
    let store = local.table().await.expect("table");
    store.put_policy(&ServicePolicy::cautious(service.id.parse().expect("scope"))).await.expect("policy");
    let (topic, _) = local.topic_with_queue("review").await.expect("topic");
    let decider = local.decider(&local.decide_config(store.table(), &topic, &[&service])).await;
    let a = local.consumer("230000000001", "172.31.0.0/16", &[], true).await.expect("consumer");
    let b = local.consumer("230000000002", "172.30.0.0/16", &[], true).await.expect("consumer");
    let ea = local.request(&a, &service).await.expect("endpoint");
    let eb = local.request(&b, &service).await.expect("endpoint");
    let sweep = json!({"detail-type": "Scheduled Event", "source": "aws.events", "detail": {}});
    handle_at(&decider, &sweep, gate_e2e::now()).await.expect("sweeps");

    let (code, out, err) = cli(store.table(), &["pending", "--service", &service.id]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains(&ea) && out.contains(&eb) && out.contains("review"), "{out}");
    assert!(out.contains("not on the allowlist"), "{out}");

    let (code, out, err) = cli(store.table(), &["approve", &ea, "--reason", "ticket NET-42"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("approved by arn:aws:"), "{out}");
    assert_eq!(local.state(&ea).await.expect("state"), "available");

    // A second answer, either way, changes nothing and says who decided.
    let (code, out, _) = cli(store.table(), &["reject", &ea, "--reason", "too late"]);
    assert_eq!(code, 3, "{out}");
    assert!(out.contains("already approved by arn:aws:"), "{out}");
    assert_eq!(local.state(&ea).await.expect("state"), "available");

    let (code, _, _) = cli(store.table(), &["reject", &eb, "--reason", "unknown team"]);
    assert_eq!(code, 0);
    assert_eq!(local.state(&eb).await.expect("state"), "rejected");

    let (code, out, _) = cli(store.table(), &["audit", &ea]);
    assert_eq!(code, 0);
    // The answer is audited; EC2's state (checked above) says the Accept happened.
    assert!(out.contains("Decided") && out.contains("ticket NET-42"), "{out}");
    let (_, out, _) = cli(store.table(), &["approve", "vpce-0000000000000000f"]);
    assert!(out.contains("no request for this endpoint"), "{out}");
}

#[tokio::test]
async fn an_answer_from_the_terminal_shows_on_the_slack_message() {
    let local = Local::from_env().await;
    let service = local.service().await.expect("service");
    let store = local.table().await.expect("table");
    let mut policy = ServicePolicy::cautious(service.id.parse().expect("scope"));
    policy.slack_channel = Some("#netops-cli".into());
    store.put_policy(&policy).await.expect("policy");
    let (topic, _) = local.topic_with_queue("review").await.expect("topic");
    let secret = local.slack_secret().await.expect("slack secret");
    let mut config = local.decide_config(store.table(), &topic, &[&service]);
    config.slack = Some(local.slack_config(&secret));
    let decider = local.decider(&config).await;
    let a = local.consumer("230000000003", "172.31.0.0/16", &[], true).await.expect("consumer");
    let endpoint = local.request(&a, &service).await.expect("endpoint");
    let sweep = json!({"detail-type": "Scheduled Event", "source": "aws.events", "detail": {}});
    handle_at(&decider, &sweep, gate_e2e::now()).await.expect("sweeps");
    let log = local.slack_log().expect("slack log");
    let message = log
        .iter()
        .find(|m| m["kind"] == "message" && m["body"].to_string().contains(&endpoint))
        .expect("review posted to Slack");

    let api = format!("{}/api", local.slack_url);
    let bad =
        ["approve", &endpoint, "--slack-secret-arn", &secret, "--slack-api-url", "http://slack.example/api"];
    let (code, _, err) = cli(store.table(), &bad);
    assert_eq!((code, err.contains("--slack-api-url")), (2, true), "{err}");
    assert_eq!(local.state(&endpoint).await.expect("state"), "pendingAcceptance", "refused before acting");

    let args =
        ["approve", &endpoint, "--reason", "NET-7", "--slack-secret-arn", &secret, "--slack-api-url", &api];
    let (code, out, err) = cli(store.table(), &args);
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(local.state(&endpoint).await.expect("state"), "available");
    let log = local.slack_log().expect("slack log");
    let updates: Vec<_> = log.iter().filter(|m| m["kind"] == "update" && m["ts"] == message["ts"]).collect();
    assert_eq!(updates.len(), 1, "{log:?}");
    let shown = updates[0]["body"].to_string();
    assert!(
        shown.contains("*Approved* by arn:aws:")
            && shown.contains("Reason: NET-7")
            && !shown.contains("\"actions\""),
        "{shown}"
    );
}

#[tokio::test]
async fn an_answer_from_the_terminal_tells_the_consumers_contact_without_naming_an_arn() {
    let local = Local::from_env().await;
    let service = local.service().await.expect("service");
    let store = local.table().await.expect("table");
    store.put_policy(&ServicePolicy::cautious(service.id.parse().expect("scope"))).await.expect("policy");
    let account = "230000000007";
    let contact = gate_core::Contact {
        account: account.parse().expect("account"),
        email: Some("team-g@example.com".into()),
        slack_channel: None,
    };
    gate_app::ports::ConfigStore::write_contact(&store, &contact, None).await.expect("contact");
    let (topic, _) = local.topic_with_queue("review").await.expect("topic");
    let (consumers, _) = local.topic_with_queue("consumers").await.expect("topic");
    let mailbox = local.contact_inbox(&consumers, &[account]).await.expect("mailbox");
    let decider = local.decider(&local.decide_config(store.table(), &topic, &[&service])).await;
    let g = local.consumer(account, "172.31.0.0/16", &[], true).await.expect("consumer");
    let endpoint = local.request(&g, &service).await.expect("endpoint");
    let sweep = json!({"detail-type": "Scheduled Event", "source": "aws.events", "detail": {}});
    handle_at(&decider, &sweep, gate_e2e::now()).await.expect("sweeps");

    let (code, _, err) = cli(store.table(), &["reject", &endpoint, "--consumer-topic-arn", "team-g"]);
    assert_eq!((code, err.contains("--consumer-topic-arn")), (2, true), "{err}");
    let args = ["reject", &endpoint, "--reason", "use the shared VPC", "--consumer-topic-arn", &consumers];
    let (code, out, err) = cli(store.table(), &args);
    assert_eq!(code, 0, "{out}{err}");
    let mail = local.drain(&mailbox).await.expect("mail");
    assert_eq!(mail.len(), 1, "{mail:?}");
    let body = mail[0]["Message"].as_str().unwrap_or_default();
    assert!(body.contains("was rejected by a reviewer") && body.contains(": use the shared VPC"), "{body}");
    assert!(body.contains("Rejected by an operator") && !body.contains("arn:aws:"), "{body}");
}
