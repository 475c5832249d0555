//! endpoint-gate: keep the allowlist and policies as reviewed code, explain
//! any decision, and answer reviews from a terminal.
//!
//! Exit codes: 0 success, 1 AWS or runtime failure, 2 invalid input (file or
//! flags; nothing written), 3 conflict (apply met a concurrent change) or,
//! with `plan --detailed-exitcode`, changes pending, 4 not found, 141 the
//! reader of the output went away (`| head`) before anything was changed,
//! as when SIGPIPE ends a process.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::SystemTime;

use anyhow::{Context, Result};
use aws_config::{BehaviorVersion, Region};
use clap::{CommandFactory, Parser};
use gate_app::Verdict;
use gate_app::explain::explain;
use gate_app::lookup::Filter;
use gate_app::ports::{Audit, Connections, Requests};
use gate_aws::wiring::Wiring;
use gate_aws::{DynamoStore, Ec2Connections};
use gate_cli::answer::{Given, answer};
use gate_cli::args::{Cli, Command, LookupArgs, Output};
use gate_cli::consumer::{Asker, Source};
use gate_cli::failure::{Failure, invalid};
use gate_cli::file;
use gate_cli::output::{READER_GONE, unread};
use gate_cli::plan::Plan;
use gate_cli::policy_as_code::{self, Planner};
use gate_cli::print;
use gate_core::{EndpointId, ServiceId, Timestamp};

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli).await {
        Ok(code) => ExitCode::from(code),
        // Silent, as a process that SIGPIPE ended.
        Err(f) if f.code == READER_GONE => ExitCode::from(f.code),
        Err(f) => {
            gate_cli::output::note(&format!("error: {}", f.message));
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
            gate_cli::output::line(&format!(
                "{}: valid ({} policies, {} allow entries)",
                file.display(),
                d.policies.len(),
                d.entries.len()
            ))?;
            return Ok(0);
        }
        Command::Completions { shell } => {
            // Into memory first: clap_complete panics when its writer fails.
            let mut script = Vec::new();
            clap_complete::generate(*shell, &mut Cli::command(), "endpoint-gate", &mut script);
            gate_cli::output::bytes(&script)?;
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
    let planner = Planner { sdk: &sdk, store: &store, placements: placements.as_deref(), now };
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
            let plan = planner.plan(&desired, prune, &topic, true).await?;
            if let Some(out) = out {
                let text = serde_json::to_string_pretty(&plan).context("encoding the plan")?;
                std::fs::write(&out, text).with_context(|| format!("writing {}", out.display()))?;
            }
            print(json, &plan, || plan.to_string())?;
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
                (Some(file), None) => planner.plan(&read_file(&file, now)?, prune, &topic, false).await?,
                (None, None) => {
                    return Err(Failure { code: 2, message: "apply needs a policy file or --plan".into() });
                }
            };
            if !json {
                gate_cli::output::line(&plan.to_string())?;
            }
            match planner.apply(&plan).await {
                Ok(done) => {
                    unread(print(json, &done, || policy_as_code::applied_text(&done)))?;
                    Ok(if done.conflicts.is_empty() { 0 } else { 3 })
                }
                Err((done, e)) => Err(policy_as_code::apply_failure(&done, &e)),
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
            print(json, &d, || gate_cli::explain::render(account, region.as_ref(), &d))?;
            Ok(0)
        }
        Command::Pending { service } => {
            let ec2 = Ec2Connections::new(aws_sdk_ec2::Client::new(&sdk));
            let conns = ec2.pending(&service).await.context("reading pending connections")?;
            let ids: Vec<EndpointId> = conns.iter().map(|c| c.endpoint.clone()).collect();
            let records = store.get_many(&ids).await.context("reading requests")?;
            let rows = gate_cli::pending::rows(&conns, &records);
            print(json, &rows, || gate_cli::pending::text(&rows))?;
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
            })?;
            Ok(0)
        }
        Command::Report { since, service } => {
            let r = gate_cli::report::shadow_report(&store, &store, &service, since, now)
                .await
                .context("reading shadow verdicts")?;
            print(json, &r, || gate_cli::report::render(&r))?;
            Ok(0)
        }
        Command::Endpoints { account, service, history, remote } => {
            asker(remote, vec![]).endpoints(&Filter { account, service, history, ..Filter::default() }).await
        }
        Command::Endpoint { endpoint, remote } => asker(remote, vec![]).endpoint(&endpoint).await,
        Command::Services { service, account, remote } => {
            asker(remote, service.clone()).services(&service, account).await
        }
        Command::Open { endpoint, after, expires, print, remote } => {
            asker(remote, vec![]).open(endpoint.as_ref(), after.as_ref(), expires, print).await
        }
        Command::Backfill { service } => {
            // A backfill runs to its end in one go, perhaps for other
            // services: the record function's saved cursor is not its own.
            let mut recorder = wiring.recorder(service);
            recorder.checkpoints = None;
            let progress = |done: usize, total: usize| {
                gate_cli::output::note(&format!("backfill: {done}/{total} connections"))
            };
            let report = recorder.sweep(&progress, now).await.context("backfill")?;
            unread(print(json, &report, || {
                format!(
                    "Backfill: {} recorded, {} already up to date, {} failed.",
                    report.counts.written, report.unchanged, report.counts.failed
                )
            }))?;
            Ok(if report.counts.failed == 0 { 0 } else { 1 })
        }
        Command::Validate { .. } | Command::Completions { .. } => Ok(0),
    }
}
