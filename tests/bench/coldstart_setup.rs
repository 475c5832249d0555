//! `make bench-coldstart`: the world one function is measured in.
//!
//!     coldstart-setup <count> <decide|record|respond|lookup|sweep-decide|sweep-record>
//!
//! One endpoint service with `count` pending connections from an
//! allowlisted account without a reader role (declared CIDRs apply), a
//! table with the `*` policy and the allow entry, a review topic and a
//! link-keys secret. Per function, one event per invocation, each doing the
//! function's everyday work on its own connection:
//! - decide: the Connect notification; the connection is accepted;
//! - record: the same notification; the endpoint is recorded;
//! - respond: the GET of an Approve link to a request decide put in review
//!   (this world's consumer is not allowlisted); the page shows it;
//! - lookup: the consumer's signed GET of its endpoints, all 60 recorded
//!   (however many events are asked for); `lookup-page`: the same with a
//!   whole page of them (1,000), lookup's largest answer.
//!
//! `sweep-decide` and `sweep-record` seed `count` connections (pending, or
//! available for record) and give one scheduled event.
//!
//! Prints one JSON line: {table, topic, service, link_secret, events: [...]}.

use aws_lambda_events::event::lambda_function_urls::{
    LambdaFunctionUrlRequest, LambdaFunctionUrlRequestContextAuthorizerDescription,
    LambdaFunctionUrlRequestContextAuthorizerIamDescription,
};
use gate_app::ports::PageAsk;
use gate_aws::{DynamoStore, LinkKeys};
use gate_core::link::{Link, LinkAction};
use gate_core::{Effect, Scope, ServicePolicy};
use gate_e2e::{Local, Result, allow_entry, connect_event, http_post};
use serde_json::{Value, json};

const OWNER: &str = "222222222222";

/// The endpoints lookup's consumer has, whatever the number of events: its
/// work grows with them, so every run must list as many (the README's and
/// the view benchmark's 60).
const LOOKUP_ENTRIES: usize = 60;

#[tokio::main]
async fn main() -> Result<()> {
    let mut args = std::env::args().skip(1);
    let count: usize = args.next().and_then(|n| n.parse().ok()).unwrap_or(60);
    let function = args.next().unwrap_or_else(|| "decide".into());
    let local = Local::from_env().await;
    let service = local.service().await?;
    // record's sweep finds connections already accepted, as in production.
    let state = if function == "sweep-record" { "available" } else { "pendingAcceptance" };
    let seeds = match function.as_str() {
        "lookup" => LOOKUP_ENTRIES,
        "lookup-page" => PageAsk::MAX,
        _ => count,
    };
    let seeded = http_post(
        &local.moto_url,
        "/_gate/seed",
        &json!({"service_id": service.id, "owner": OWNER, "count": seeds, "state": state}).to_string(),
    )?;
    let seeded: Value = serde_json::from_str(&seeded)?;
    let endpoints: Vec<String> = seeded["endpoint_ids"]
        .as_array()
        .ok_or("no endpoints seeded")?
        .iter()
        .filter_map(|e| e.as_str().map(str::to_owned))
        .collect();
    let store = DynamoStore::new(aws_sdk_dynamodb::Client::new(&local.sdk), gate_e2e::unique("coldstart"));
    store.ensure_table().await?;
    let mut policy = ServicePolicy::cautious(Scope::Any);
    // The consumer has no reader role: its declared CIDRs stand in (as the
    // boto3 peer does), which the policy must opt in to, so that decide
    // measures accepts.
    if function == "decide" || function == "sweep-decide" {
        policy.declared_cidrs = gate_core::DeclaredCidrs::Trust;
    }
    // Only a service's current approvers may answer: respond's link is theirs.
    policy.approvers = vec!["netops@example.com".into()];
    store.put_policy(&policy).await?;
    // respond's requests wait for review: their consumer is not on the allowlist.
    if function != "respond" {
        store.put_entry(&allow_entry("*", OWNER, Effect::Allow, &["172.20.0.0/16"])?).await?;
    }
    let (topic, _) = local.topic_with_queue("review").await?;
    let link_secret = local.link_secret().await?;

    let events: Vec<Value> = match function.as_str() {
        "decide" | "record" => endpoints.iter().map(|e| connect_event(&service.id, e, OWNER)).collect(),
        "respond" => {
            let secrets = aws_sdk_secretsmanager::Client::new(&local.sdk);
            let key = LinkKeys::load(&secrets, &link_secret).await.map_err(|e| e.chain())?.current;
            // decide puts every request in review, as it does in production.
            let decider = local.decider(&local.decide_config(store.table(), &topic, &[&service])).await;
            let sweep = json!({"detail-type": "Scheduled Event", "source": "aws.events", "detail": {}});
            gate_lambdas::decide::handle_at(&decider, &sweep, gate_e2e::now()).await?;
            let mut events = Vec::new();
            for endpoint in &endpoints {
                let link = Link {
                    endpoint: endpoint.parse()?,
                    action: LinkAction::Approve,
                    approver: "netops@example.com".into(),
                    expires: gate_e2e::now().plus_secs(86_400),
                };
                events.push(serde_json::to_value(request("/link", &link.query(&key), None))?);
            }
            events
        }
        "lookup" | "lookup-page" => {
            let recorder = local.recorder(store.table(), &[&service]);
            recorder.sweep(&|_, _| {}, gate_e2e::now()).await.map_err(|e| e.chain())?;
            let caller = (OWNER, format!("arn:aws:sts::{OWNER}:assumed-role/Developer/dev"));
            let event = serde_json::to_value(request("/api/endpoints", "", Some(caller)))?;
            vec![event; count]
        }
        // One scheduled event, which the bench hands out until the sweep is done.
        "sweep-decide" | "sweep-record" => {
            vec![json!({"detail-type": "Scheduled Event", "source": "aws.events", "detail": {}})]
        }
        other => {
            return Err(format!(
                "unknown function {other:?}: decide, record, respond, lookup, lookup-page, sweep-decide or sweep-record"
            )
            .into());
        }
    };
    println!(
        "{}",
        json!({"table": store.table(), "topic": topic, "service": service.id,
               "link_secret": link_secret, "events": events})
    );
    Ok(())
}

/// A GET as the Function URL delivers it, signed by `caller` (account, ARN)
/// when the URL uses IAM auth.
fn request(path: &str, query: &str, caller: Option<(&str, String)>) -> LambdaFunctionUrlRequest {
    let mut r = LambdaFunctionUrlRequest::default();
    r.raw_path = Some(path.into());
    r.raw_query_string = Some(query.into());
    r.request_context.http.method = Some("GET".into());
    r.request_context.http.path = Some(path.into());
    if let Some((account, arn)) = caller {
        let mut iam = LambdaFunctionUrlRequestContextAuthorizerIamDescription::default();
        iam.account_id = Some(account.into());
        iam.user_arn = Some(arn);
        let mut authorizer = LambdaFunctionUrlRequestContextAuthorizerDescription::default();
        authorizer.iam = Some(iam);
        r.request_context.authorizer = Some(authorizer);
    }
    r
}
