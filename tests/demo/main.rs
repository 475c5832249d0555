//! `make demo`: the whole story on the local AWS environment, told as it
//! happens. Each connection request travels the real path: the consumer's
//! CreateVpcEndpoint, the endpoint service's connection notification on SNS,
//! the decide handler, EC2's connection state.

use std::time::{Duration, Instant};

use aws_lambda_events::event::lambda_function_urls::LambdaFunctionUrlRequest;
use gate_app::ports::ConfigStore;
use gate_core::caller::Caller;
use gate_e2e::{Local, Result, lambda_sns_event};
use gate_lambdas::config::RespondConfig;
use gate_lambdas::decide::handle_at;
use serde_json::Value;

const TEAM_A: &str = "210000000001";
const TEAM_B: &str = "210000000002";
const PARTNER_C: &str = "210000000003";

fn step(n: u32, text: &str) {
    println!("\n[{n}/5] {text}");
}

fn say(text: &str) {
    println!("      {text}");
}

#[tokio::main]
async fn main() -> Result<()> {
    let started = Instant::now();
    println!("Endpoint Gate demo: a provider account, three consumers, one policy.");
    println!("Everything runs on this machine (moto + DynamoDB Local on 127.0.0.1).");
    let local = Local::from_env().await;

    step(1, "The provider publishes two endpoint services, acceptance required");
    let payments = local.service().await?;
    let ledger = local.service().await?;
    say(&format!("payments  {}  ({})", payments.id, payments.name));
    say(&format!("ledger    {}  ({})", ledger.id, ledger.name));
    let store = local.table().await?;
    let (review_topic, review_inbox) = local.topic_with_queue("approvers").await?;
    let (connect_topic, connect_inbox) = local.topic_with_queue("connections").await?;
    let (registry_topic, registry_inbox) = local.topic_with_queue("registry").await?;
    for svc in [&payments, &ledger] {
        local.notify(svc, &registry_topic).await?;
        local
            .ec2()
            .create_vpc_endpoint_connection_notification()
            .service_id(&svc.id)
            .connection_notification_arn(&connect_topic)
            .connection_events("Connect")
            .send()
            .await?;
    }
    say("connection notifications: Connect → the decide function; all events → the record function");

    // The allowlist as code: the same parse, plan and apply as `endpoint-gate apply`.
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/demo-policy.yaml");
    let text = std::fs::read_to_string(path)?;
    let desired = gate_cli::file::parse("examples/demo-policy.yaml", &text, gate_e2e::now())
        .map_err(|errors| errors.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"))?;
    let live = ConfigStore::load_all(&store).await?;
    let plan = gate_cli::plan::plan(&desired, &live, false, "demo", gate_e2e::now());
    let applied = gate_cli::plan::apply(&plan, &store).await.map_err(|(_, e)| e.chain())?;
    say(&format!(
        "endpoint-gate apply examples/demo-policy.yaml: {} change(s) applied",
        applied.applied.len()
    ));
    say("policy for all services: unlisted → review, overlap with protected → reject");
    say("  protected: 192.168.0.0/16 (on-premises), 100.64.0.0/10 (transit)");
    say(&format!(
        "allowlist: {TEAM_A} (team-a), {TEAM_B} (team-b, VPC 172.20.0.0/16), {PARTNER_C} (partners), \
         all until 2027-12-31"
    ));
    say(&format!(
        "contacts: {TEAM_B} team-b@example.com; {PARTNER_C} partner-c@example.com and Slack #partner-c"
    ));
    // Each contact's mailbox: a queue with the filter policy `endpoint-gate
    // apply --consumer-topic-arn` gives the contact's email subscription.
    let (consumer_topic, _) = local.topic_with_queue("consumers").await?;
    let b_mail = local.contact_inbox(&consumer_topic, &[TEAM_B]).await?;
    let c_mail = local.contact_inbox(&consumer_topic, &[PARTNER_C]).await?;

    let secret = local.link_secret().await?;
    let slack = local.slack_secret().await?;
    let mut config =
        local.decide_config_with_links(store.table(), &review_topic, &[&payments, &ledger], &secret);
    config.slack = Some(local.slack_config(&slack));
    config.consumer_topic_arn = Some(consumer_topic.clone());
    let decider = local.decider(&config).await;
    let responder = local
        .responder(&RespondConfig {
            table_name: store.table().to_owned(),
            keys_secret_arn: secret,
            slack: Some(local.respond_slack(&slack)),
            consumer_topic_arn: Some(consumer_topic.clone()),
            organizations_role_arn: None,
        })
        .await?;
    say("approval links are signed with a key from Secrets Manager");
    say("reviews also go to Slack #netops-approvals (here: a local recorder in Slack's place)");

    step(2, &format!("Consumer A ({TEAM_A}, VPC 10.0.0.0/16, like every other VPC) asks for payments"));
    let a = local.consumer(TEAM_A, "10.0.0.0/16", &[], true).await?;
    let ea = local.request(&a, &payments).await?;
    request_and_decide(&local, &decider, &connect_inbox, &ea).await?;

    step(
        3,
        &format!(
            "Consumer B ({TEAM_B}, allowlisted for VPC 172.20.0.0/16) asks for ledger from VPC 10.0.0.0/16"
        ),
    );
    let b = local.consumer(TEAM_B, "10.0.0.0/16", &[], true).await?;
    let eb = local.request(&b, &ledger).await?;
    request_and_decide(&local, &decider, &connect_inbox, &eb).await?;
    let mut approve = None;
    for mail in local.drain(&review_inbox).await? {
        say("the approvers receive this email (SNS):");
        say(&format!("  Subject: {}", mail["Subject"].as_str().unwrap_or_default()));
        for line in mail["Message"].as_str().unwrap_or_default().lines() {
            say(&format!("  | {line}"));
            if let Some(q) = line.trim().strip_prefix("Approve: ").and_then(|l| l.split("/link?").nth(1)) {
                approve.get_or_insert(q.to_owned());
            }
        }
    }
    // The recorder is shared (tests run beside the demo): only this review's message.
    let ours = |m: &&Value| {
        m["kind"] == "message"
            && m["channel"] == "#netops-approvals"
            && m["body"].to_string().contains(eb.as_str())
    };
    for message in local.slack_log()?.iter().filter(ours) {
        say(&format!("and this message in Slack {}:", message["channel"].as_str().unwrap_or_default()));
        for line in slack_text(&message["body"]) {
            say(&format!("  | {line}"));
        }
    }
    notices(&local, "B's team", &b_mail).await?;
    let link = approve.ok_or("the email has no approve link")?;
    let page = responder.handle(link_request("GET", &link, None)).await;
    say(&format!(
        "netops opens the Approve link: HTTP {} confirmation page; connection still {}",
        page.status_code,
        local.state(&eb).await?
    ));
    let done = responder
        .handle(link_request("POST", "", Some(&format!("{link}&reason=known+team%2C+ticket+NET-42"))))
        .await;
    let text = done.body.unwrap_or_default();
    let result =
        text.split("<p id=\"result\">").nth(1).and_then(|t| t.split("</p>").next()).unwrap_or_default();
    say(&format!("netops presses Approve: HTTP {}: {result}", done.status_code));
    let updated = |m: &&Value| m["kind"] == "update" && m["body"].to_string().contains(eb.as_str());
    for update in local.slack_log()?.iter().filter(updated) {
        say("the Slack message now reads (chat.update, no more buttons):");
        for line in slack_text(&update["body"]) {
            say(&format!("  | {line}"));
        }
    }
    say(&format!("connection state: {}", local.state(&eb).await?));
    notices(&local, "B's team", &b_mail).await?;

    step(4, &format!("Consumer C ({PARTNER_C}, allowlisted, VPC 192.168.50.0/24) asks for payments"));
    let c = local.consumer(PARTNER_C, "192.168.50.0/24", &[], true).await?;
    let ec = local.request(&c, &payments).await?;
    request_and_decide(&local, &decider, &connect_inbox, &ec).await?;
    notices(&local, "C's team", &c_mail).await?;
    // The recorder is shared: only this run's notice.
    let to_c = |m: &&Value| {
        m["kind"] == "message" && m["channel"] == "#partner-c" && m["body"].to_string().contains(ec.as_str())
    };
    for message in local.slack_log()?.iter().filter(to_c) {
        say("and in its Slack channel #partner-c:");
        for line in slack_text(&message["body"]) {
            say(&format!("  | {line}"));
        }
    }

    step(5, "What consumers see: the registry, kept by the record function");
    let recorder = local.recorder(store.table(), &[&payments, &ledger]);
    let events = local.drain(&registry_inbox).await?;
    for event in &events {
        gate_lambdas::record::handle(&recorder, &lambda_sns_event(event), None, gate_e2e::now()).await?;
    }
    say(&format!("record: {} connection notifications → registry", events.len()));
    for (who, endpoint) in [("A", &ea), ("B", &eb), ("C", &ec)] {
        say(&format!("EC2: consumer {who}  {endpoint}  {}", local.state(endpoint).await?));
    }
    let wiring = gate_aws::wiring::Wiring::new(&local.sdk, store.table());
    let lookup = wiring.lookup(vec![payments.id.parse()?, ledger.id.parse()?], None);
    let consumer = |account: &str| -> Result<Caller> {
        Ok(Caller {
            account: account.parse()?,
            arn: format!("arn:aws:sts::{account}:assumed-role/Developer/dev"),
            operator: false,
        })
    };

    // The lookup function behind an AWS_IAM Function URL, as deployed.
    let function =
        std::sync::Arc::new(gate_lambdas::lookup::LookupFn { lookup: lookup.clone(), operators: vec![] });
    let handler: gate_e2e::function_url::Handler = std::sync::Arc::new(move |event| {
        let function = function.clone();
        Box::pin(async move { function.handle(event).await })
    });
    let key = format!("AKIA{TEAM_A}");
    let keys = std::collections::HashMap::from([(
        key.clone(),
        ("demo-secret".to_owned(), TEAM_A.to_owned(), consumer(TEAM_A)?.arn),
    )]);
    let url = gate_e2e::function_url::FunctionUrl::serve_iam(handler, "us-east-1", keys).await?;
    let as_a = local
        .sdk
        .to_builder()
        .credentials_provider(aws_credential_types::provider::SharedCredentialsProvider::new(
            aws_credential_types::Credentials::new(key, "demo-secret", None, None, "demo"),
        ))
        .build();
    let api = gate_cli::remote::LookupApi::new(&as_a, &url.url).map_err(|e| e.message)?;
    say(&format!("consumer A runs `endpoint-gate open` ({TEAM_A}'s own credentials sign a 15-minute link):"));
    let link = api.presign("/", &[], Duration::from_secs(900)).await.map_err(|e| e.message)?;
    let page = reqwest::get(&link.url).await?;
    say(&format!("the browser gets HTTP {} and shows:", page.status().as_u16()));
    for line in page_text(&page.text().await?) {
        say(&format!("  | {line}"));
    }
    let theirs = api
        .presign(&format!("/endpoints/{eb}"), &[], Duration::from_secs(900))
        .await
        .map_err(|e| e.message)?;
    let page = reqwest::get(&theirs.url).await?;
    let status = page.status().as_u16();
    say(&format!(
        "A opens a link to B's endpoint: HTTP {status}: {}",
        page_text(&page.text().await?).join(" ")
    ));
    let tampered = reqwest::get(format!("{}&account={TEAM_B}", link.url)).await?;
    say(&format!(
        "A edits its link to ask for B's account: HTTP {} (the signature no longer matches)",
        tampered.status().as_u16()
    ));
    say(&format!("lookup, signed in as consumer B ({TEAM_B}): its request's history"));
    let view = lookup
        .endpoint(&consumer(TEAM_B)?, &eb.parse()?, gate_e2e::now())
        .await
        .map_err(|e| e.to_string())?;
    if let Some(r) = &view.request {
        say(&format!("  request {} by {} at {}", r.state, r.decided_by, r.decided_at));
        for n in &r.notified {
            say(&format!("  notified: {n}"));
        }
    }
    if let Some(e) = &view.entry {
        say(&format!(
            "  registry: {}, accepted by {} ({})",
            e.state,
            e.accepted_by.as_deref().unwrap_or("-"),
            e.why
        ));
    }
    let history = gate_app::ports::Audit::history(&store, &eb.parse()?).await?;
    say("  audit:");
    for e in &history {
        say(&format!("    {}  {:?} by {}: {}", e.at, e.kind, e.actor, e.detail));
    }
    println!(
        "\nDone in {:.1}s. The local AWS environment is stopped when this command exits.",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// A page as a person reads it, a line per block, for a terminal.
fn page_text(html: &str) -> Vec<String> {
    let body = html.split("<body>").nth(1).unwrap_or(html);
    let (mut text, mut tag, mut in_tag) = (String::new(), String::new(), false);
    for c in body.chars() {
        match (in_tag, c) {
            (false, '<') => {
                in_tag = true;
                tag.clear();
            }
            (true, '>') => {
                in_tag = false;
                let closing = tag.starts_with('/');
                let name = tag.trim_start_matches('/').split_whitespace().next().unwrap_or_default();
                match (name, closing) {
                    ("li", false) => text.push_str("\n- "),
                    ("h1" | "h2" | "h3" | "p" | "tr" | "ul" | "table" | "dt", _) => text.push('\n'),
                    ("br", _) => text.push_str("\n    "),
                    ("td" | "th" | "dd", false) => text.push_str("  "),
                    _ => {}
                }
            }
            (true, c) => tag.push(c),
            (false, c) => text.push(c),
        }
    }
    let text = text.replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", "\"").replace("&#39;", "'");
    text.replace("&amp;", "&")
        .lines()
        .map(str::trim_end)
        .filter(|l| !l.trim().is_empty())
        .map(str::to_owned)
        .collect()
}

/// Prints the decision notices waiting in a contact's mailbox.
async fn notices(local: &Local, team: &str, mailbox: &str) -> Result<()> {
    for mail in local.drain(mailbox).await? {
        let account = mail["MessageAttributes"]["account"]["Value"].as_str().unwrap_or_default();
        say(&format!("{team} receives this notice (SNS, filtered on account {account}):"));
        say(&format!("  Subject: {}", mail["Subject"].as_str().unwrap_or_default()));
        for line in mail["Message"].as_str().unwrap_or_default().lines() {
            say(&format!("  | {line}"));
        }
    }
    Ok(())
}

/// Waits for the connection notification of `endpoint`, hands it to the
/// decide handler as Lambda would, and prints the decision.
async fn request_and_decide(
    local: &Local,
    decider: &gate_app::Decide,
    inbox: &str,
    endpoint: &str,
) -> Result<()> {
    say(&format!("CreateVpcEndpoint → {endpoint}: {}", local.state(endpoint).await?));
    let notification = wait_for_notification(local, inbox, endpoint).await?;
    say(&format!("SNS connection notification: {}", notification["Message"].as_str().unwrap_or_default()));
    let out = handle_at(decider, &lambda_sns_event(&notification), gate_e2e::now()).await?;
    for d in &out.report.decided {
        say(&format!("decide → {}", d.outcome.as_str().to_uppercase()));
        for reason in d.reasons.split("; ") {
            say(&format!("  - {reason}"));
        }
    }
    say(&format!("connection state: {}", local.state(endpoint).await?));
    Ok(())
}

async fn wait_for_notification(local: &Local, inbox: &str, endpoint: &str) -> Result<Value> {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        for envelope in local.drain(inbox).await? {
            if envelope["Message"].as_str().unwrap_or_default().contains(endpoint) {
                return Ok(envelope);
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Err(format!("no connection notification for {endpoint} within 10 s").into())
}

/// A Block Kit message as a person sees it, roughly: one line per element.
fn slack_text(message: &Value) -> Vec<String> {
    let mut lines = Vec::new();
    let text = |v: &Value| {
        let t = v["text"].as_str().unwrap_or_default().replace("*", "");
        t.replace("&gt;", ">").replace("&lt;", "<").replace("&amp;", "&")
    };
    for block in message["blocks"].as_array().into_iter().flatten() {
        match block["type"].as_str().unwrap_or_default() {
            "header" => lines.push(text(&block["text"]).to_uppercase()),
            "section" => {
                for field in block["fields"].as_array().into_iter().flatten() {
                    lines.push(text(field).replacen('\n', ": ", 1));
                }
                lines.extend(text(&block["text"]).lines().filter(|l| !l.is_empty()).map(str::to_owned));
            }
            "input" => lines.push(format!("{}: [ ]", text(&block["label"]))),
            "actions" => lines.push(
                block["elements"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|b| format!("[ {} ]", text(&b["text"])))
                    .collect::<Vec<_>>()
                    .join(" "),
            ),
            "context" => lines.extend(block["elements"].as_array().into_iter().flatten().map(text)),
            _ => {}
        }
    }
    lines
}

/// A request to the respond function's URL, as a Function URL delivers it.
fn link_request(method: &str, query: &str, body: Option<&str>) -> LambdaFunctionUrlRequest {
    let mut r = LambdaFunctionUrlRequest::default();
    r.raw_path = Some("/link".into());
    r.raw_query_string = Some(query.into());
    r.request_context.http.method = Some(method.into());
    r.body = body.map(str::to_owned);
    r
}
