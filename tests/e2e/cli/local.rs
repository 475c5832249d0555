//! The `endpoint-gate` binary against DynamoDB Local (and moto for STS):
//! plan, apply, drift, concurrent changes, bad files, explain.
//! Run inside the local AWS environment (`make test`).

#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::path::PathBuf;

use aws_config::BehaviorVersion;
use gate_app::ports::ConfigStore;
use gate_aws::DynamoStore;

struct Env {
    table: String,
    store: DynamoStore,
    dir: PathBuf,
}

async fn env(name: &str) -> Env {
    assert!(
        std::env::var("GATE_LOCAL_DYNAMODB_URL").is_ok(),
        "run inside the local AWS environment: `make test` (tests/localenv/local_aws.py)"
    );
    let sdk = aws_config::defaults(BehaviorVersion::latest()).load().await;
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos();
    let table = format!("cli-{name}-{}-{nanos}", std::process::id());
    let store = DynamoStore::new(aws_sdk_dynamodb::Client::new(&sdk), table.clone());
    store.ensure_table().await.expect("table");
    let dir = std::env::temp_dir().join(&table);
    std::fs::create_dir_all(&dir).expect("temp dir");
    Env { table, store, dir }
}

/// The policy files a test wrote go with it.
impl Drop for Env {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Env {
    fn file(&self, name: &str, text: &str) -> PathBuf {
        let path = self.dir.join(name);
        std::fs::write(&path, text).expect("write");
        path
    }

    fn run(&self, args: &[&str]) -> (i32, String, String) {
        super::common::cli(&self.table, args)
    }
}

const V1: &str = r#"
version: 1
policies:
  - service: "*"
    overlap: reject
    protected_cidrs:
      - { cidr: 192.168.0.0/16, label: on-premises }
    approvers: [netops@example.com]
allow:
  - account: "210000000001"
    cidrs: [10.0.0.0/16]
    expires: 2027-12-31
    owner: team-a
  - account: "210000000009"
    effect: deny
    owner: secops
    note: off-boarded
"#;

#[tokio::test]
async fn plan_apply_then_nothing_left_to_change() {
    let e = env("cycle").await;
    let f = e.file("policy.yaml", V1);
    let f = f.to_str().unwrap();

    let (code, out, err) = e.run(&["plan", f]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("+ policy *") && out.contains("+ entry 210000000001 on *"), "{out}");
    assert!(out.contains("Plan: 3 to add, 0 to change, 0 to remove."), "{out}");

    let (code, out, err) = e.run(&["apply", f]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("Applied 3 change(s)."), "{out}");
    let live = e.store.load_all().await.expect("reads");
    assert_eq!((live.policies.len(), live.entries.len()), (1, 2));
    let added = live.entries.iter().find(|v| v.value.principal.as_str() == "210000000001").expect("entry");
    assert!(
        added.value.added_by.contains("arn:aws"),
        "the operator's identity is recorded: {}",
        added.value.added_by
    );

    let (code, out, _) = e.run(&["plan", f, "--detailed-exitcode"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("No changes"), "{out}");
    // Applying again is a no-op.
    let (code, out, _) = e.run(&["apply", f]);
    assert_eq!(code, 0);
    assert!(out.contains("Applied 0 change(s)."), "{out}");
}

/// `| head` closes the pipe once it has its lines. The command then stops
/// quietly with 141, as a shell reports a process SIGPIPE ended (it used to
/// panic), and an apply whose plan could not be shown writes nothing. An
/// apply that wrote (JSON shows no plan first) keeps its own code, and a
/// closed standard error loses the messages, not the exit code.
#[tokio::test]
async fn a_reader_gone_ends_a_command_quietly_and_an_apply_before_it_writes() {
    let e = env("reader-gone").await;
    let f = e.file("policy.yaml", V1);
    let f = f.to_str().unwrap();
    for args in [
        vec!["validate", f],
        vec!["completions", "bash"],
        vec!["plan", f],
        vec!["endpoints", "--account", "210000000001"],
        vec!["apply", f],
    ] {
        let (code, err) = super::common::cli_reader_gone(&e.table, &args);
        assert_eq!(code, 141, "{args:?}: {err}");
        assert!(!err.contains("panicked") && !err.contains("error"), "{args:?}: {err}");
    }
    let live = e.store.load_all().await.expect("reads");
    assert!(live.policies.is_empty() && live.entries.is_empty(), "nothing applied: {live:?}");

    let (code, err) = super::common::cli_reader_gone(&e.table, &["--output", "json", "apply", f]);
    assert_eq!(code, 0, "applied, and says so by its code: {err}");
    let live = e.store.load_all().await.expect("reads");
    assert_eq!((live.policies.len(), live.entries.len()), (1, 2));

    assert_eq!(super::common::cli_stderr_gone(&e.table, &["validate", "/nonexistent/policy.yaml"]), 2);
}

#[tokio::test]
async fn an_edit_plans_exactly_its_diff_and_prune_removes_what_is_gone() {
    let e = env("edit").await;
    let f1 = e.file("v1.yaml", V1);
    assert_eq!(e.run(&["apply", f1.to_str().unwrap()]).0, 0);
    let v2 = V1.replace("cidrs: [10.0.0.0/16]", "cidrs: [10.1.0.0/16]").replace(
        "  - account: \"210000000009\"\n    effect: deny\n    owner: secops\n    note: off-boarded\n",
        "",
    );
    let f2 = e.file("v2.yaml", &v2);
    let (code, out, _) = e.run(&["plan", f2.to_str().unwrap(), "--detailed-exitcode"]);
    assert_eq!(code, 3, "changes pending: {out}");
    assert!(out.contains("~ entry 210000000001 on *\n    cidrs: 10.0.0.0/16 → 10.1.0.0/16\n"), "{out}");
    assert!(out.contains("Live but not in the file"), "{out}");
    assert!(out.contains("Plan: 0 to add, 1 to change, 0 to remove."), "{out}");

    let (code, out, _) = e.run(&["apply", f2.to_str().unwrap(), "--prune"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("- entry 210000000009 on *"), "{out}");
    let live = e.store.load_all().await.expect("reads");
    assert_eq!(live.entries.len(), 1);
    assert_eq!(live.entries[0].value.declared_cidrs[0].to_string(), "10.1.0.0/16");
    assert_eq!(live.entries[0].revision, 2);
}

#[tokio::test]
async fn a_change_made_since_the_plan_is_reported_not_overwritten() {
    let e = env("race").await;
    let f1 = e.file("v1.yaml", V1);
    assert_eq!(e.run(&["apply", f1.to_str().unwrap()]).0, 0);
    let v2 = V1.replace("owner: team-a", "owner: team-a-payments");
    let f2 = e.file("v2.yaml", &v2);
    let plan = e.dir.join("plan.json");
    let (code, _, err) = e.run(&["plan", f2.to_str().unwrap(), "--out", plan.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");

    // Someone changes the same entry in the meantime.
    let live = e.store.load_all().await.expect("reads");
    let theirs = live.entries.iter().find(|v| v.value.principal.as_str() == "210000000001").expect("entry");
    let mut changed = theirs.value.clone();
    changed.note = "changed by hand".into();
    assert!(e.store.write_entry(&changed, Some(theirs.revision)).await.expect("writes"));

    let (code, out, _) = e.run(&["apply", "--plan", plan.to_str().unwrap()]);
    assert_eq!(code, 3, "{out}");
    assert!(out.contains("conflict: entry 210000000001 on * changed since the plan"), "{out}");
    let after = e.store.load_all().await.expect("reads");
    let kept = after.entries.iter().find(|v| v.value.principal.as_str() == "210000000001").expect("entry");
    assert_eq!(kept.value.note, "changed by hand");
    assert_eq!(kept.value.owner, "team-a");
}

#[tokio::test]
async fn a_bad_file_exits_2_and_writes_nothing() {
    let e = env("bad").await;
    let bad = V1.replace("10.0.0.0/16", "10.0.0.0/33");
    let f = e.file("bad.yaml", &bad);
    for cmd in ["validate", "plan", "apply"] {
        let (code, out, err) = e.run(&[cmd, f.to_str().unwrap()]);
        assert_eq!(code, 2, "{cmd}: {out}{err}");
        assert!(err.contains("bad.yaml:11:") && err.contains("10.0.0.0/33"), "{cmd}: {err}");
    }
    let live = e.store.load_all().await.expect("reads");
    assert!(live.policies.is_empty() && live.entries.is_empty());
    let (code, _, err) = e.run(&["explain", "--service", "vpce-svc-nothex", "--account", "210000000001"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("vpce-svc-nothex"), "{err}");
}

#[tokio::test]
async fn explain_reads_the_live_policy() {
    let e = env("explain").await;
    let f = e.file("policy.yaml", V1);
    assert_eq!(e.run(&["apply", f.to_str().unwrap()]).0, 0);
    let svc = "vpce-svc-0abc1234def567890";
    let (code, out, _) =
        e.run(&["explain", "--service", svc, "--account", "210000000001", "--cidr", "192.168.10.0/24"]);
    assert_eq!(code, 0);
    assert!(out.starts_with("210000000001 (us-east-1) → REJECT"), "{out}");
    assert!(out.contains("overlaps protected 192.168.0.0/16 (on-premises) → reject"), "{out}");
    // Declared CIDRs check the VPC; they do not stand in for it.
    let (_, out, _) = e.run(&["explain", "--service", svc, "--account", "210000000001"]);
    assert!(out.contains("declared CIDRs are not trusted by the policy → review"), "{out}");
    assert!(out.starts_with("210000000001 (us-east-1) → REVIEW"), "{out}");
    let (_, out, _) =
        e.run(&["explain", "--service", svc, "--account", "210000000001", "--cidr", "10.0.4.0/22"]);
    assert!(out.starts_with("210000000001 (us-east-1) → ACCEPT"), "{out}");
    let (_, out, _) =
        e.run(&["explain", "--service", svc, "--account", "210000000001", "--cidr", "10.1.0.0/16"]);
    assert!(out.contains("10.1.0.0/16 outside the declared 10.0.0.0/16 → review"), "{out}");
    let (_, out, _) = e.run(&["--output", "json", "explain", "--service", svc, "--account", "210000000009"]);
    let v: serde_json::Value = serde_json::from_str(&out).expect("json");
    assert_eq!(v["outcome"], "reject");
}

/// Approvers' subscriptions follow the policy file: `plan` shows the ones
/// to add and any subscription no policy names, `apply` makes each with a
/// filter on its own address, and `--prune` removes the unknown ones.
#[tokio::test]
async fn plan_and_apply_keep_the_review_topic_to_the_approvers() {
    let e = env("topic").await;
    let sdk = aws_config::defaults(BehaviorVersion::latest()).load().await;
    let sns = aws_sdk_sns::Client::new(&sdk);
    let topic = sns.create_topic().name(e.table.clone()).send().await.expect("topic");
    let topic = topic.topic_arn().expect("arn").to_owned();
    // Someone subscribed themselves, unfiltered: they would read every approver's links.
    let eavesdropper = sns
        .subscribe()
        .topic_arn(&topic)
        .protocol("email")
        .endpoint("eve@evil.example")
        .return_subscription_arn(true)
        .send()
        .await
        .expect("subscribes");
    let eavesdropper = eavesdropper.subscription_arn().expect("arn").to_owned();
    let f = e.file(
        "policy.yaml",
        r#"
version: 1
policies:
  - service: "*"
    approvers: [netops@example.com, "slack:U0123ABCD"]
  - service: vpce-svc-0abc1234def567890
    approvers: [payments-owners@example.com, netops@example.com]
"#,
    );
    let path = f.to_str().unwrap();
    let (code, out, err) = e.run(&["plan", path, "--review-topic-arn", &topic]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("+ subscription netops@example.com (pending confirmation)"), "{out}");
    assert!(out.contains("+ subscription payments-owners@example.com (pending confirmation)"), "{out}");
    assert!(!out.contains("subscription slack:"), "Slack approvers get no email subscription: {out}");
    assert!(
        out.contains(&format!(
            "! subscription {eavesdropper} (email eve@evil.example) is named by no policy"
        ))
    );
    assert!(out.contains("2 subscription(s) to add, 0 to remove"), "{out}");

    let (code, out, err) = e.run(&["apply", path, "--review-topic-arn", &topic]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("subscribed payments-owners@example.com"), "{out}");
    let listed = sns.list_subscriptions_by_topic().topic_arn(&topic).send().await.expect("lists");
    let mut filters = Vec::new();
    for s in listed.subscriptions() {
        let arn = s.subscription_arn().expect("arn");
        let attrs = sns.get_subscription_attributes().subscription_arn(arn).send().await.expect("reads");
        let filter = attrs.attributes().and_then(|a| a.get("FilterPolicy")).cloned().unwrap_or_default();
        filters.push((s.endpoint().unwrap_or_default().to_owned(), filter));
    }
    filters.sort();
    assert_eq!(
        filters,
        vec![
            ("eve@evil.example".to_owned(), String::new()),
            ("netops@example.com".to_owned(), r#"{"approver":["netops@example.com"]}"#.to_owned()),
            (
                "payments-owners@example.com".to_owned(),
                r#"{"approver":["payments-owners@example.com"]}"#.to_owned()
            ),
        ]
    );

    // Nothing left to add; the unknown one is still reported, and pruned.
    let (code, out, _) = e.run(&["plan", path, "--review-topic-arn", &topic, "--detailed-exitcode"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("eve@evil.example") && !out.contains("+ subscription"), "{out}");
    let (code, out, err) = e.run(&["apply", path, "--prune", "--review-topic-arn", &topic]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains(&format!("- subscription {eavesdropper} (email eve@evil.example)")), "{out}");
    let left = sns.list_subscriptions_by_topic().topic_arn(&topic).send().await.expect("lists");
    assert_eq!(left.subscriptions().len(), 2);
    assert!(left.subscriptions().iter().all(|s| s.endpoint() != Some("eve@evil.example")));

    let (code, _, err) = e.run(&["plan", path, "--review-topic-arn", "not-an-arn"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--review-topic-arn \"not-an-arn\" is not an SNS topic ARN"), "{err}");
}
