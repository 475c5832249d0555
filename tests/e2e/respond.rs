use aws_lambda_events::event::lambda_function_urls::LambdaFunctionUrlRequest;
use gate_app::Decide;
use gate_app::ports::{Audit, AuditKind};
use gate_aws::DynamoStore;
use gate_core::ServicePolicy;
use gate_e2e::{Local, Result, Service};
use gate_lambdas::config::RespondConfig;
use gate_lambdas::decide::handle_at;
use gate_lambdas::respond::Responder;
use serde_json::json;

fn http(method: &str, query: &str, body: Option<&str>) -> LambdaFunctionUrlRequest {
    let mut r = LambdaFunctionUrlRequest::default();
    r.raw_path = Some("/link".into());
    r.raw_query_string = Some(query.into());
    r.request_context.http.method = Some(method.into());
    r.body = body.map(str::to_owned);
    r
}

/// The review email's approve link for `approver`, as the query string.
fn approve_link(email: &str, approver: &str) -> Option<String> {
    let block = email.split(&format!("Your links ({approver};")).nth(1)?;
    let line = block.lines().find(|l| l.trim_start().starts_with("Approve:"))?;
    Some(line.split("/link?").nth(1)?.trim().to_owned())
}

/// A service whose reviews email links to `approvers`, each with an inbox
/// subscribed the way `endpoint-gate apply` does, and the decide and
/// respond functions over it.
struct Reviewed {
    service: Service,
    store: DynamoStore,
    inboxes: Vec<String>,
    decider: Decide,
    responder: Responder,
}

async fn reviewed(
    local: &Local,
    approvers: &[&str],
    policy: impl FnOnce(&mut ServicePolicy),
) -> Result<Reviewed> {
    let service = local.service().await?;
    let store = local.table().await?;
    let mut written = ServicePolicy::cautious(service.id.parse()?);
    written.approvers = approvers.iter().map(|a| (*a).into()).collect();
    policy(&mut written);
    store.put_policy(&written).await?;
    let (topic, _) = local.topic_with_queue("review").await?;
    let mut inboxes = Vec::new();
    for approver in approvers {
        inboxes.push(local.approver_inbox(&topic, approver).await?);
    }
    let secret = local.link_secret().await?;
    let decider =
        local.decider(&local.decide_config_with_links(store.table(), &topic, &[&service], &secret)).await;
    let responder = local
        .responder(&RespondConfig {
            table_name: store.table().to_owned(),
            keys_secret_arn: secret,
            slack: None,
            consumer_topic_arn: None,
            organizations_role_arn: None,
        })
        .await?;
    Ok(Reviewed { service, store, inboxes, decider, responder })
}

#[tokio::test]
async fn an_approver_answers_from_the_email_link_and_the_connection_follows() -> Result<()> {
    let local = Local::from_env().await;
    let Reviewed { service, store, inboxes, decider, responder } =
        reviewed(&local, &["netops@example.com", "oncall@example.com"], |_| {}).await?;
    let [netops_inbox, oncall_inbox] = inboxes.as_slice() else { return Err("two inboxes".into()) };

    let consumer = local.consumer("240000000001", "172.31.0.0/16", &[], true).await?;
    let endpoint = local.request(&consumer, &service).await?;
    let sweep = json!({"detail-type": "Scheduled Event", "source": "aws.events", "detail": {}});
    handle_at(&decider, &sweep, gate_e2e::now()).await?;

    // Each approver receives one email, with their own links and no one else's.
    let netops_mail = local.drain(netops_inbox).await?;
    let oncall_mail = local.drain(oncall_inbox).await?;
    assert_eq!((netops_mail.len(), oncall_mail.len()), (1, 1), "one email each");
    let netops_body = netops_mail[0]["Message"].as_str().unwrap_or_default().to_owned();
    let body = oncall_mail[0]["Message"].as_str().unwrap_or_default().to_owned();
    assert!(body.contains("https://respond.example.invalid/link?"), "{body}");
    assert!(approve_link(&netops_body, "netops@example.com").is_some(), "{netops_body}");
    assert!(!netops_body.contains("by=oncall"), "netops's email carries oncall's links: {netops_body}");
    assert!(!body.contains("by=netops"), "oncall's email carries netops's links: {body}");
    assert_eq!(body.matches("/link?").count(), 2, "one approve and one reject link: {body}");
    let link = approve_link(&body, "oncall@example.com").ok_or("no approve link for oncall")?;

    // The mail scanner's GET: a page, nothing decided.
    let page = responder.handle(http("GET", &link, None)).await;
    assert_eq!(page.status_code, 200);
    assert!(page.body.unwrap_or_default().contains(&endpoint));
    assert_eq!(local.state(&endpoint).await?, "pendingAcceptance");

    // The approver's POST from that page.
    let done = responder.handle(http("POST", "", Some(&format!("{link}&reason=checked+with+team")))).await;
    assert_eq!(done.status_code, 200, "{:?}", done.body);
    assert_eq!(local.state(&endpoint).await?, "available");
    let history = store.history(&endpoint.parse()?).await?;
    let answer = history.iter().rfind(|e| e.kind == AuditKind::Decided).ok_or("no decision")?;
    assert_eq!(answer.actor, "email:oncall@example.com");
    assert!(answer.detail.contains("checked with team"), "{}", answer.detail);

    // Clicking again: already decided, no second Accept.
    let again = responder.handle(http("POST", "", Some(&link))).await;
    assert_eq!(again.status_code, 409);
    assert_eq!(local.calls(Some(&service.id))?.get("AcceptVpcEndpointConnections").copied(), Some(1));
    Ok(())
}

/// A key rotation while respond is warm: links signed with the new key are
/// verified once the keys held are a minute old, without a restart.
#[tokio::test]
async fn a_warm_respond_reads_the_link_keys_again_after_a_rotation() -> Result<()> {
    let local = Local::from_env().await;
    let service = local.service().await?;
    let store = local.table().await?;
    let mut policy = ServicePolicy::cautious(service.id.parse()?);
    policy.approvers = vec!["oncall@example.com".into()];
    store.put_policy(&policy).await?;
    let (topic, inbox) = local.topic_with_queue("review").await?;
    let secret = local.link_secret().await?;
    let config = RespondConfig {
        table_name: store.table().to_owned(),
        keys_secret_arn: secret.clone(),
        slack: None,
        consumer_topic_arn: None,
        organizations_role_arn: None,
    };
    let responder = local.responder(&config).await?;

    // The documented rotation: current moves to previous, a new current.
    let secrets = aws_sdk_secretsmanager::Client::new(&local.sdk);
    let held = secrets.get_secret_value().secret_id(&secret).send().await?;
    let held: serde_json::Value = serde_json::from_str(held.secret_string().unwrap_or_default())?;
    let rotated = json!({"current": gate_e2e::unique("rotated-key-0123456789abcdefghijkl"), "previous": held["current"]});
    secrets.put_secret_value().secret_id(&secret).secret_string(rotated.to_string()).send().await?;

    // A decide started after the rotation signs with the new key.
    let decider =
        local.decider(&local.decide_config_with_links(store.table(), &topic, &[&service], &secret)).await;
    let consumer = local.consumer("240000000002", "172.31.0.0/16", &[], true).await?;
    let endpoint = local.request(&consumer, &service).await?;
    let sweep = json!({"detail-type": "Scheduled Event", "source": "aws.events", "detail": {}});
    handle_at(&decider, &sweep, gate_e2e::now()).await?;
    let mail = local.drain(&inbox).await?;
    let body = mail[0]["Message"].as_str().unwrap_or_default().to_owned();
    let link = approve_link(&body, "oncall@example.com").ok_or("no approve link")?;

    // Keys read under a minute ago are not read again: a flood of bad links
    // costs Secrets Manager nothing.
    let now = gate_e2e::now();
    assert_eq!(responder.handle_at(http("GET", &link, None), now).await.status_code, 403);
    let later = now.plus_secs(61);
    let page = responder.handle_at(http("GET", &link, None), later).await;
    assert_eq!(page.status_code, 200, "{:?}", page.body);
    assert!(page.body.unwrap_or_default().contains(&endpoint));
    let done = responder.handle_at(http("POST", "", Some(&link)), later).await;
    assert_eq!(done.status_code, 200, "{:?}", done.body);
    assert_eq!(local.state(&endpoint).await?, "available");

    // A forged link is still refused after the keys were read again.
    let forged =
        link.rsplit_once("sig=").map(|(head, _)| format!("{head}sig={}", "0".repeat(64))).ok_or("no sig")?;
    assert_eq!(responder.handle_at(http("GET", &forged, None), later.plus_secs(120)).await.status_code, 403);
    Ok(())
}

/// Where consumer CIDRs must be unique, a consumer accepted while another
/// waits for review from the same range makes that approval impossible:
/// the link's page says why, and nothing is accepted.
#[tokio::test]
async fn an_approval_link_for_a_consumer_overlapping_one_accepted_since_is_refused() -> Result<()> {
    let local = Local::from_env().await;
    let Reviewed { service, store, inboxes, decider, responder } =
        reviewed(&local, &["netops@example.com"], |p| p.unique_consumer_cidrs = true).await?;
    let sweep = json!({"detail-type": "Scheduled Event", "source": "aws.events", "detail": {}});

    // The first asks and waits for review; then an allowlisted one asks
    // from the same 172.24.0.0/16 and is accepted.
    let waiting = local.consumer("342000000001", "172.24.0.0/16", &[], true).await?;
    let waiting_endpoint = local.request(&waiting, &service).await?;
    handle_at(&decider, &sweep, gate_e2e::now()).await?;
    store.put_entry(&gate_e2e::allow_entry("*", "342000000002", gate_core::Effect::Allow, &[])?).await?;
    let allowed = local.consumer("342000000002", "172.24.0.0/16", &[], true).await?;
    let allowed_endpoint = local.request(&allowed, &service).await?;
    handle_at(&decider, &sweep, gate_e2e::now()).await?;
    assert_eq!(local.state(&allowed_endpoint).await?, "available");

    let mail = local.drain(&inboxes[0]).await?;
    let body = mail.first().and_then(|m| m["Message"].as_str()).ok_or("no review email")?;
    let link = approve_link(body, "netops@example.com").ok_or("no approve link")?;
    for (method, query, body) in [("GET", link.as_str(), None), ("POST", "", Some(link.as_str()))] {
        let page = responder.handle(http(method, query, body)).await;
        let text = page.body.unwrap_or_default();
        assert_eq!(page.status_code, 403, "{method}: {text}");
        assert!(
            text.contains("Refused by policy") && text.contains("172.24.0.0/16 overlaps"),
            "{method}: {text}"
        );
        assert!(text.contains(&allowed_endpoint), "{method}: the page names the other consumer: {text}");
    }
    assert_eq!(local.state(&waiting_endpoint).await?, "pendingAcceptance");
    Ok(())
}
