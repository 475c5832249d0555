//! endpoint-gate: keep the allowlist and policies as reviewed code, explain
//! any decision, and answer reviews from a terminal.
//!
//! Exit codes: 0 success, 1 AWS or runtime failure, 2 invalid input (file or
//! flags; nothing written), 3 conflict (apply met a concurrent change) or,
//! with `plan --detailed-exitcode`, changes pending, 4 not found.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::SystemTime;

use anyhow::{Context, Result};
use aws_config::{BehaviorVersion, Region};
use clap::{CommandFactory, Parser};
use gate_app::Verdict;
use gate_app::consumer_topic::ConsumerTopic;
use gate_app::explain::explain;
use gate_app::lookup::Filter;
use gate_app::ports::LiveConfig;
use gate_app::ports::{Audit, ConfigStore, Connections, Requests};
use gate_app::subscriptions::ReviewTopic;
use gate_aws::wiring::Wiring;
use gate_aws::{DynamoStore, Ec2Connections, Ec2ServicePermissions, SnsConsumerTopic, SnsReviewTopic};
use gate_cli::answer::{Given, answer, caller};
use gate_cli::args::{Cli, Command, LookupArgs, Output, TopicArgs};
use gate_cli::consumer::{Asker, Source};
use gate_cli::failure::{Failure, invalid};
use gate_cli::file;
use gate_cli::plan::{self, Plan, SubscriptionPlan};
use gate_cli::print;
use gate_core::{EndpointId, ServiceId, Timestamp};

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli).await {
        Ok(code) => ExitCode::from(code),
        Err(f) => {
            eprintln!("error: {}", f.message);
            ExitCode::from(f.code)
        }
    }
}

fn read_file(path: &PathBuf, now: Timestamp) -> Result<file::Desired, Failure> {
    let name = path.display().to_string();
    let text = std::fs::read_to_string(path)
        .map_err(|e| Failure { code: 2, message: format!("{name}: cannot be read: {e}") })?;
    file::parse(&name, &text, now).map_err(invalid)
}

async fn run(cli: Cli) -> Result<u8, Failure> {
    // The clock is read once: every step of a command agrees on the time.
    let now = Timestamp::from(SystemTime::now());
    let json = cli.output == Output::Json;
    match &cli.command {
        Command::Validate { file } => {
            let d = read_file(file, now)?;
            println!(
                "{}: valid ({} policies, {} allow entries)",
                file.display(),
                d.policies.len(),
                d.entries.len()
            );
            return Ok(0);
        }
        Command::Completions { shell } => {
            clap_complete::generate(*shell, &mut Cli::command(), "endpoint-gate", &mut std::io::stdout());
            return Ok(0);
        }
        _ => {}
    }

    let mut loader = aws_config::defaults(BehaviorVersion::latest());
    if let Some(p) = &cli.profile {
        loader = loader.profile_name(p);
    }
    if let Some(r) = &cli.region {
        loader = loader.region(Region::new(r.clone()));
    }
    let sdk = loader.load().await;
    let wiring = Wiring::new(&sdk, &cli.table);
    let placements = match &cli.organizations_role_arn {
        Some(arn) => Some(wiring.placements(arn).await),
        None => None,
    };
    let store = DynamoStore::clone(wiring.store());
    let asker = |remote: LookupArgs, services: Vec<ServiceId>| Asker {
        sdk: &sdk,
        source: match remote.lookup_url {
            Some(url) => Source::Url(url),
            None => Source::Table(wiring.lookup(services, placements.clone())),
        },
        json,
        now,
    };

    match cli.command {
        Command::Plan { file, prune, out, detailed_exitcode, topic } => {
            let desired = read_file(&file, now)?;
            let live = store.load_all().await.context("reading the live configuration")?;
            let mut plan = plan::plan(&desired, &live, prune, &caller(&sdk).await?, now);
            plan.subscriptions = plan_topic(&sdk, &topic, &desired, &live, prune).await?;
            plan.consumer_subscriptions = plan_consumer_topic(&sdk, &topic, &desired, &live, prune).await?;
            plan.principals =
                plan_principals(&sdk, &desired, cli.organizations_role_arn.as_deref(), now).await;
            if let Some(arn) = &cli.organizations_role_arn {
                let orgs = gate_aws::AwsOrganizations::assuming(&sdk, arn).await;
                plan.coverage = plan::coverage(&desired, &orgs).await;
            }
            let ec2 = Ec2Connections::new(aws_sdk_ec2::Client::new(&sdk));
            plan.revocations = plan::revocations(&desired, &live, prune, &ec2, placements.as_deref(), now)
                .await
                .context("listing the available connections an edit may revoke")?;
            if let Some(out) = out {
                let text = serde_json::to_string_pretty(&plan).context("encoding the plan")?;
                std::fs::write(&out, text).with_context(|| format!("writing {}", out.display()))?;
            }
            print(json, &plan, || plan.to_string());
            Ok(if detailed_exitcode && !plan.is_empty() { 3 } else { 0 })
        }
        Command::Apply { file, prune, plan: saved, topic } => {
            let plan: Plan = match (file, saved) {
                (_, Some(path)) => {
                    let text = std::fs::read_to_string(&path).map_err(|e| Failure {
                        code: 2,
                        message: format!("{}: cannot be read: {e}", path.display()),
                    })?;
                    serde_json::from_str(&text).map_err(|e| Failure {
                        code: 2,
                        message: format!("{}: not a plan saved by `plan --out`: {e}", path.display()),
                    })?
                }
                (Some(file), None) => {
                    let desired = read_file(&file, now)?;
                    let live = store.load_all().await.context("reading the live configuration")?;
                    let mut plan = plan::plan(&desired, &live, prune, &caller(&sdk).await?, now);
                    plan.subscriptions = plan_topic(&sdk, &topic, &desired, &live, prune).await?;
                    plan.consumer_subscriptions =
                        plan_consumer_topic(&sdk, &topic, &desired, &live, prune).await?;
                    plan.principals =
                        plan_principals(&sdk, &desired, cli.organizations_role_arn.as_deref(), now).await;
                    plan
                }
                (None, None) => {
                    return Err(Failure { code: 2, message: "apply needs a policy file or --plan".into() });
                }
            };
            if !json {
                println!("{plan}");
            }
            let applied = match plan::apply(&plan, &store).await {
                Ok(mut done) => match &plan.subscriptions {
                    Some(subs) => {
                        let topic = SnsReviewTopic::new(aws_sdk_sns::Client::new(&sdk), subs.topic.clone());
                        match plan::apply_subscriptions(subs, &topic, &mut done).await {
                            Ok(()) => Ok(done),
                            Err(e) => Err((done, e)),
                        }
                    }
                    None => Ok(done),
                },
                Err(failed) => Err(failed),
            };
            let applied = match (applied, &plan.consumer_subscriptions) {
                (Ok(mut done), Some(subs)) => {
                    let topic = SnsConsumerTopic::new(aws_sdk_sns::Client::new(&sdk), subs.topic.clone());
                    match plan::apply_consumer_subscriptions(subs, &topic, &mut done).await {
                        Ok(()) => Ok(done),
                        Err(e) => Err((done, e)),
                    }
                }
                (applied, _) => applied,
            };
            let applied = match applied {
                Ok(mut done) if !plan.principals.is_empty() => {
                    let permissions = Ec2ServicePermissions::new(aws_sdk_ec2::Client::new(&sdk));
                    match gate_app::principals::apply(&plan.principals, &permissions).await {
                        Ok(services) => {
                            done.principals = services;
                            Ok(done)
                        }
                        Err((services, e)) => {
                            done.principals = services;
                            Err((done, e))
                        }
                    }
                }
                applied => applied,
            };
            match applied {
                Ok(done) => {
                    print(json, &done, || {
                        let mut s = format!("Applied {} change(s).", done.applied.len());
                        for email in &done.subscribed {
                            s.push_str(&format!("\nsubscribed {email}: SNS asks the address to confirm"));
                        }
                        for arn in &done.unsubscribed {
                            s.push_str(&format!("\nremoved the subscription {arn}"));
                        }
                        for email in &done.refiltered {
                            s.push_str(&format!("\n{email}'s subscription now filters on its own accounts"));
                        }
                        for service in &done.principals {
                            s.push_str(&format!("\n{service}: allowed principals set"));
                        }
                        for c in &done.conflicts {
                            s.push_str(&format!(
                                "\nconflict: {c} changed since the plan; not overwritten (plan again)"
                            ));
                        }
                        s
                    });
                    Ok(if done.conflicts.is_empty() { 0 } else { 3 })
                }
                Err((done, e)) => {
                    let mut applied: Vec<String> = done.applied.iter().map(ToString::to_string).collect();
                    applied.extend(done.subscribed.iter().map(|a| format!("subscription {a}")));
                    applied.extend(done.unsubscribed.iter().map(|a| format!("removal of {a}")));
                    applied.extend(done.principals.iter().map(|s| format!("principals of {s}")));
                    // The stack's topic policy refuses Subscribe to all but its OperatorArns.
                    let hint = if e.chain().contains("AuthorizationError") {
                        "\nthe review topic admits subscriptions only from the stack's OperatorArns: \
                         run apply as one of them"
                    } else {
                        ""
                    };
                    Err(Failure {
                        code: 1,
                        message: format!(
                            "{}{hint}\napplied before the failure: {}",
                            e.chain(),
                            if applied.is_empty() { "nothing".into() } else { applied.join(", ") }
                        ),
                    })
                }
            }
        }
        Command::Explain { service, account, cidrs, consumer_region } => {
            let (region, found) = gate_cli::explain::facts(consumer_region, sdk.region(), cidrs);
            let d = explain(
                &store,
                &store,
                placements.as_deref(),
                &service,
                account,
                region.as_ref(),
                &found,
                now,
            )
            .await
            .context("reading the live policy")?;
            print(json, &d, || gate_cli::explain::render(account, region.as_ref(), &d));
            Ok(0)
        }
        Command::Pending { service } => {
            let ec2 = Ec2Connections::new(aws_sdk_ec2::Client::new(&sdk));
            let conns = ec2.pending(&service).await.context("reading pending connections")?;
            let ids: Vec<EndpointId> = conns.iter().map(|c| c.endpoint.clone()).collect();
            let records = store.get_many(&ids).await.context("reading requests")?;
            let rows: Vec<serde_json::Value> = conns
                .iter()
                .map(|c| {
                    let r = records.get(&c.endpoint);
                    serde_json::json!({
                        "endpoint": c.endpoint, "service": c.service, "owner": c.owner,
                        "state": r.map_or("undecided".to_owned(), |r| r.state.to_string()),
                        "since": r.map(|r| r.decided_at.to_string()),
                        "reasons": r.map(|r| r.reasons.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ")),
                    })
                })
                .collect();
            print(json, &rows, || {
                if rows.is_empty() {
                    return "No connection awaits acceptance.".into();
                }
                let mut s =
                    format!("{:<24} {:<26} {:<13} {:<10} reasons", "endpoint", "service", "owner", "state");
                for r in &rows {
                    let f = |k: &str| r[k].as_str().unwrap_or("").to_owned();
                    s.push_str(&format!(
                        "\n{:<24} {:<26} {:<13} {:<10} {}",
                        f("endpoint"),
                        f("service"),
                        f("owner"),
                        f("state"),
                        f("reasons")
                    ));
                }
                s
            });
            Ok(0)
        }
        Command::Approve { endpoint, reason, slack } => {
            let given = Given { endpoint: &endpoint, verdict: Verdict::Approve, reason: reason.as_deref() };
            answer(&sdk, &wiring, &slack, given, now, json).await
        }
        Command::Reject { endpoint, reason, slack } => {
            let given = Given { endpoint: &endpoint, verdict: Verdict::Deny, reason: Some(&reason) };
            answer(&sdk, &wiring, &slack, given, now, json).await
        }
        Command::Audit { endpoint } => {
            let events = store.history(&endpoint).await.context("reading the audit")?;
            print(json, &events, || {
                if events.is_empty() {
                    return format!("No audit entries for {endpoint}.");
                }
                let lines: Vec<String> = events
                    .iter()
                    .map(|e| {
                        format!("{}  {:<14} {:<40} {}", e.at, format!("{:?}", e.kind), e.actor, e.detail)
                    })
                    .collect();
                lines.join("\n")
            });
            Ok(0)
        }
        Command::Endpoints { account, service, history, remote } => {
            asker(remote, vec![]).endpoints(&Filter { account, service, history }).await
        }
        Command::Endpoint { endpoint, remote } => asker(remote, vec![]).endpoint(&endpoint).await,
        Command::Services { service, account, remote } => {
            asker(remote, service.clone()).services(&service, account).await
        }
        Command::Open { endpoint, expires, print, remote } => {
            asker(remote, vec![]).open(endpoint.as_ref(), expires, print).await
        }
        Command::Backfill { service } => {
            let recorder = wiring.recorder(service);
            let progress = |done: usize, total: usize| eprintln!("backfill: {done}/{total} connections");
            let report = recorder.sweep(&progress, now).await.context("backfill")?;
            print(json, &report, || {
                format!(
                    "Backfill: {} recorded, {} already up to date, {} failed.",
                    report.counts.written, report.unchanged, report.counts.failed
                )
            });
            Ok(if report.counts.failed == 0 { 0 } else { 1 })
        }
        Command::Validate { .. } | Command::Completions { .. } => Ok(0),
    }
}

/// The allowed principals of the services whose policy names them, read
/// from EC2 (and Organizations for OU entries, through the role when given).
async fn plan_principals(
    sdk: &aws_config::SdkConfig,
    desired: &file::Desired,
    organizations_role: Option<&str>,
    now: Timestamp,
) -> Vec<plan::PrincipalsPlan> {
    if desired.principals.is_empty() {
        return Vec::new();
    }
    let orgs = match organizations_role {
        Some(arn) => Some(gate_aws::AwsOrganizations::assuming(sdk, arn).await),
        None => None,
    };
    let orgs = orgs.as_ref().map(|o| o as &dyn gate_app::ports::Organizations);
    let permissions = Ec2ServicePermissions::new(aws_sdk_ec2::Client::new(sdk));
    gate_app::principals::plan(&desired.principals, &desired.entries, orgs, &permissions, now).await
}

/// The consumer topic's subscriptions against the contacts, when the
/// topic is given.
async fn plan_consumer_topic(
    sdk: &aws_config::SdkConfig,
    topic: &TopicArgs,
    desired: &file::Desired,
    live: &LiveConfig,
    prune: bool,
) -> Result<Option<plan::ConsumerSubscriptionPlan>, Failure> {
    let Some(arn) = &topic.consumer_topic_arn else { return Ok(None) };
    if !arn.starts_with("arn:") || !arn.contains(":sns:") {
        return Err(Failure {
            code: 2,
            message: format!("--consumer-topic-arn {arn:?} is not an SNS topic ARN"),
        });
    }
    let topic = SnsConsumerTopic::new(aws_sdk_sns::Client::new(sdk), arn.clone());
    let live_subs = topic.subscriptions().await.context("reading the consumer topic's subscriptions")?;
    Ok(Some(plan::plan_consumer_subscriptions(desired, live, arn, &live_subs, prune)))
}

/// The review topic's subscriptions against the approvers, when the topic
/// is given.
async fn plan_topic(
    sdk: &aws_config::SdkConfig,
    topic: &TopicArgs,
    desired: &file::Desired,
    live: &LiveConfig,
    prune: bool,
) -> Result<Option<SubscriptionPlan>, Failure> {
    let Some(arn) = &topic.review_topic_arn else { return Ok(None) };
    if !arn.starts_with("arn:") || !arn.contains(":sns:") {
        return Err(Failure {
            code: 2,
            message: format!("--review-topic-arn {arn:?} is not an SNS topic ARN"),
        });
    }
    let topic = SnsReviewTopic::new(aws_sdk_sns::Client::new(sdk), arn.clone());
    let live_subs = topic.subscriptions().await.context("reading the review topic's subscriptions")?;
    Ok(Some(plan::plan_subscriptions(desired, live, arn, &live_subs, prune)))
}
