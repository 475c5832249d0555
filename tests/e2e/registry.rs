//! The registry end to end: decide's accept, a person's accept in the
//! console, a consumer's delete and a scrambled replay of 100 events, each
//! recorded from the emulator's truth, then read the way lookup reads.

use gate_app::ports::Registry;
use gate_core::{AccountId, ConnectionState};
use gate_e2e::{Local, PROVIDER, Result, Service, lambda_sns_event};
use gate_lambdas::decide::handle_at;
use gate_lambdas::record::handle;
use serde_json::{Value, json};

/// The DNS names the emulator reports for an endpoint's connection.
async fn dns_names(local: &Local, endpoint: &str) -> Result<Vec<String>> {
    let out = local
        .ec2()
        .describe_vpc_endpoint_connections()
        .filters(aws_sdk_ec2::types::Filter::builder().name("vpc-endpoint-id").values(endpoint).build())
        .send()
        .await?;
    let conn = out.vpc_endpoint_connections().first().ok_or("no connection")?;
    Ok(conn.dns_entries().iter().filter_map(|d| d.dns_name().map(str::to_owned)).collect())
}

async fn allow(store: &gate_aws::DynamoStore, account: &str) -> Result<()> {
    store.put_policy(&gate_core::ServicePolicy::cautious(gate_core::Scope::Any)).await?;
    store
        .put_entry(&gate_core::AllowEntry {
            scope: gate_core::Scope::Any,
            principal: account.parse()?,
            effect: gate_core::Effect::Allow,
            declared_cidrs: vec![],
            expires_at: None,
            owner: "team".into(),
            note: String::new(),
            added_by: "e2e".into(),
            added_at: None,
        })
        .await?;
    Ok(())
}

/// A registry entry held as active, as an earlier accept left it.
fn active_entry(
    endpoint: &gate_core::EndpointId,
    service: &Service,
    owner: &str,
) -> Result<gate_core::RegistryEntry> {
    let now = gate_e2e::now();
    Ok(gate_core::RegistryEntry {
        endpoint: endpoint.clone(),
        service: service.id.parse()?,
        owner: owner.parse()?,
        state: ConnectionState::Available,
        dns_entries: vec![],
        accepted_at: Some(now),
        accepted_by: Some("endpoint-gate".into()),
        why: "e2e".into(),
        first_seen: now,
        observed_at: now,
        version: 1,
        region: None,
    })
}

/// DynamoDB's pages of a view, small enough to start in every place: from
/// nothing, inside the active part, across into history and inside it; an
/// account's and a service's views agree with the order the port promises.
#[tokio::test]
async fn views_page_through_dynamodb_in_order_from_any_position() -> Result<()> {
    let local = Local::from_env().await;
    let service = local.service().await?;
    let store = local.table().await?;
    let owner = "270000000009";
    let mut entries = Vec::new();
    for n in 0..9u32 {
        let mut entry = active_entry(&format!("vpce-{n:017x}").parse()?, &service, owner)?;
        if n % 2 == 1 {
            entry.state = ConnectionState::Deleted;
        }
        entries.push(entry);
    }
    store.seed_registry(&entries).await?;
    let expected: Vec<String> =
        [0, 2, 4, 6, 8, 1, 3, 5, 7].iter().map(|n| format!("vpce-{n:017x}")).collect();

    for by_service in [false, true] {
        let mut page = gate_app::ports::PageAsk { after: None, limit: 2 };
        let mut seen = Vec::new();
        let mut positions = Vec::new();
        loop {
            let got = if by_service {
                service_page(&store, &service, &page).await?
            } else {
                store.by_account(owner.parse()?, true, &page).await?
            };
            assert!(got.entries.len() <= 2);
            seen.extend(got.entries.iter().map(|e| e.endpoint.to_string()));
            let Some(next) = got.next else { break };
            positions.push(next.to_string());
            page.after = Some(next);
        }
        assert_eq!(seen, expected, "by service: {by_service}");
        assert!(
            positions.iter().any(|p| p.starts_with("history:")),
            "a page began inside history: {positions:?}"
        );
        // The active view ends where history would begin.
        let past =
            gate_app::ports::PageAsk { after: Some(format!("history:{}", expected[5]).parse()?), limit: 2 };
        assert!(store.by_account(owner.parse()?, false, &past).await?.entries.is_empty());
    }
    Ok(())
}

/// A page of the service's whole view (history included).
async fn service_page(
    store: &gate_aws::DynamoStore,
    service: &Service,
    page: &gate_app::ports::PageAsk,
) -> Result<gate_app::ports::ViewPage> {
    Ok(store.by_service(&service.id.parse()?, true, page).await?)
}

struct World {
    local: Local,
    service: Service,
    store: gate_aws::DynamoStore,
    inbox: String,
    recorder: gate_app::record::Recorder,
}

async fn world() -> Result<World> {
    let local = Local::from_env().await;
    let service = local.service().await?;
    let store = local.table().await?;
    let (topic, inbox) = local.topic_with_queue("connections").await?;
    local.notify(&service, &topic).await?;
    let recorder = local.recorder(store.table(), &[&service]);
    Ok(World { local, service, store, inbox, recorder })
}

impl World {
    /// Every connection notification so far, as Lambda's SNS events.
    async fn notifications(&self) -> Result<Vec<Value>> {
        Ok(self.local.drain(&self.inbox).await?.iter().map(lambda_sns_event).collect())
    }
}

#[tokio::test]
async fn decides_accept_is_recorded_with_the_emulators_dns_names_and_a_delete_leaves_history() -> Result<()> {
    let w = world().await?;
    allow(&w.store, "270000000001").await?;
    let (review, _) = w.local.topic_with_queue("review").await?;
    let decider = w.local.decider(&w.local.decide_config(w.store.table(), &review, &[&w.service])).await;
    let consumer = w.local.consumer("270000000001", "10.0.0.0/16", &[], true).await?;
    let endpoint = w.local.request(&consumer, &w.service).await?;
    let sweep = json!({"detail-type": "Scheduled Event", "source": "aws.events", "detail": {}});
    handle_at(&decider, &sweep, gate_e2e::now()).await?;
    assert_eq!(w.local.state(&endpoint).await?, "available");

    for event in w.notifications().await? {
        handle(&w.recorder, &event, Some(&PROVIDER.parse()?), gate_e2e::now()).await?;
    }
    let entry = w.store.get(&endpoint.parse()?).await?.ok_or("not recorded")?;
    assert_eq!(entry.state, ConnectionState::Available);
    let mut recorded: Vec<String> = entry.dns_entries.iter().map(|d| d.dns_name.clone()).collect();
    let mut truth = dns_names(&w.local, &endpoint).await?;
    recorded.sort();
    truth.sort();
    assert!(!truth.is_empty());
    assert_eq!(recorded, truth);
    assert_eq!(entry.accepted_by.as_deref(), Some("endpoint-gate"));
    assert!(entry.why.contains("allowlisted"), "{}", entry.why);

    // The consumer deletes it: out of the active view, still in history.
    aws_sdk_ec2::Client::new(&consumer.sdk).delete_vpc_endpoints().vpc_endpoint_ids(&endpoint).send().await?;
    for event in w.notifications().await? {
        handle(&w.recorder, &event, Some(&PROVIDER.parse()?), gate_e2e::now()).await?;
    }
    let account: AccountId = "270000000001".parse()?;
    assert!(gate_e2e::whole_view(&w.store, Some(account), None, false).await?.is_empty());
    let history = gate_e2e::whole_view(&w.store, Some(account), None, true).await?;
    assert_eq!(history.len(), 1);
    assert_eq!(history[0].state, ConnectionState::Deleted);
    let states: Vec<String> =
        w.store.changes(&endpoint.parse()?).await?.iter().map(|c| c.state.to_string()).collect();
    assert_eq!(states.last().map(String::as_str), Some("deleted"), "{states:?}");
    Ok(())
}

#[tokio::test]
async fn a_console_accept_is_recorded_with_the_person_who_clicked() -> Result<()> {
    let w = world().await?;
    let consumer = w.local.consumer("270000000002", "10.0.0.0/16", &[], true).await?;
    let endpoint = w.local.request(&consumer, &w.service).await?;
    // The person in the console:
    w.local
        .ec2()
        .accept_vpc_endpoint_connections()
        .service_id(&w.service.id)
        .vpc_endpoint_ids(&endpoint)
        .send()
        .await?;
    // ...and the CloudTrail event EventBridge delivers for it (the sample, with this run's ids).
    let sample = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../events/record/cloudtrail-console-accept.json"
    ))?;
    let event: Value = serde_json::from_str(
        &sample
            .replace("vpce-svc-0a1b2c3d4e5f60718", &w.service.id)
            .replace("vpce-0f1e2d3c4b5a69788", &endpoint)
            .replace("\"account\": \"111122223333\"", &format!("\"account\": \"{PROVIDER}\"")),
    )?;
    handle(&w.recorder, &event, Some(&PROVIDER.parse()?), gate_e2e::now()).await?;
    let entry = w.store.get(&endpoint.parse()?).await?.ok_or("not recorded")?;
    assert_eq!(entry.state, ConnectionState::Available);
    assert_eq!(
        entry.accepted_by.as_deref(),
        Some("arn:aws:sts::111122223333:assumed-role/NetworkAdmin/alice")
    );
    assert!(entry.why.contains("outside Endpoint Gate"), "{}", entry.why);
    Ok(())
}

#[tokio::test]
async fn a_scrambled_replay_of_100_events_ends_at_the_emulators_truth() -> Result<()> {
    let w = world().await?;
    let mut endpoints = Vec::new();
    for n in 0..8 {
        let consumer = w.local.consumer(&format!("27000000010{n}"), "10.0.0.0/16", &[], true).await?;
        endpoints.push((consumer.clone(), w.local.request(&consumer, &w.service).await?));
    }
    let ec2 = w.local.ec2();
    for (n, (consumer, endpoint)) in endpoints.iter().enumerate() {
        match n % 4 {
            0 => {}
            1 => {
                ec2.accept_vpc_endpoint_connections()
                    .service_id(&w.service.id)
                    .vpc_endpoint_ids(endpoint)
                    .send()
                    .await?;
            }
            2 => {
                ec2.reject_vpc_endpoint_connections()
                    .service_id(&w.service.id)
                    .vpc_endpoint_ids(endpoint)
                    .send()
                    .await?;
            }
            _ => {
                ec2.accept_vpc_endpoint_connections()
                    .service_id(&w.service.id)
                    .vpc_endpoint_ids(endpoint)
                    .send()
                    .await?;
                aws_sdk_ec2::Client::new(&consumer.sdk)
                    .delete_vpc_endpoints()
                    .vpc_endpoint_ids(endpoint)
                    .send()
                    .await?;
            }
        }
    }
    let events = w.notifications().await?;
    assert!(events.len() >= 16, "{} notifications", events.len());
    // 100 deliveries: each notification several times, in a scrambled order.
    let mut replay: Vec<Value> = (0..100).map(|i| events[(i * 7 + 3) % events.len()].clone()).collect();
    replay.reverse();
    let runs = replay.chunks(20).map(|chunk| {
        let recorder = w.recorder.clone();
        let chunk = chunk.to_vec();
        async move {
            for event in chunk {
                handle(&recorder, &event, None, gate_e2e::now()).await?;
            }
            Ok::<_, gate_lambdas::invocation::InvocationError>(())
        }
    });
    for run in futures_util::future::join_all(runs).await {
        run?;
    }
    for (_, endpoint) in &endpoints {
        let entry = w.store.get(&endpoint.parse()?).await?.ok_or("not recorded")?;
        assert_eq!(entry.state.to_string(), w.local.state(endpoint).await?, "{endpoint}");
    }
    Ok(())
}

/// 1,500 available connections: record's sweep reads EC2's pages one at a
/// time, answers in counts, and still notices the entry EC2 no longer lists
/// (read from the registry by key only).
#[tokio::test]
async fn a_large_registry_sweep_pages_through_ec2_and_finds_what_vanished() -> Result<()> {
    let w = world().await?;
    let owner = "270000000020";
    let body =
        json!({"service_id": w.service.id, "owner": owner, "count": 1500, "state": "available"}).to_string();
    gate_e2e::http_post(&w.local.moto_url, "/_gate/seed", &body)?;
    // An endpoint the registry holds as active, which EC2 no longer lists.
    let gone: gate_core::EndpointId = "vpce-0000000000000dead".parse()?;
    w.store.seed_registry(&[active_entry(&gone, &w.service, owner)?]).await?;

    let sweep = json!({"detail-type": "Scheduled Event", "source": "aws.events", "detail": {}});
    let report = handle(&w.recorder, &sweep, None, gate_e2e::now()).await?;
    assert_eq!(report.counts.pages, 2, "EC2's pages: {:?}", report.counts);
    assert_eq!(report.counts.written, 1501, "1,500 recorded and one marked deleted");
    assert_eq!(report.written.len(), gate_app::report::REPORT_DETAILS);
    assert!(serde_json::to_string(&report)?.len() < 64 * 1024);
    let entry = w.store.get(&gone).await?.ok_or("kept in history")?;
    assert_eq!(entry.state, ConnectionState::Deleted);
    let active = gate_e2e::whole_view(&w.store, Some(owner.parse()?), None, false).await?;
    assert_eq!(active.len(), 1500);
    Ok(())
}

/// EC2 whose listing fails once on a page after the first: an invocation
/// that dies part way through the registry's sweep.
struct DiesOnce {
    ec2: gate_aws::Ec2Connections,
    died: std::sync::atomic::AtomicBool,
}

#[async_trait::async_trait]
impl gate_app::ports::Connections for DiesOnce {
    async fn get(
        &self,
        endpoint: &gate_core::EndpointId,
    ) -> std::result::Result<Option<gate_core::Connection>, gate_app::PortError> {
        self.ec2.get(endpoint).await
    }
    async fn pending(
        &self,
        services: &[gate_core::ServiceId],
    ) -> std::result::Result<Vec<gate_core::Connection>, gate_app::PortError> {
        self.ec2.pending(services).await
    }
    async fn all(
        &self,
        services: &[gate_core::ServiceId],
    ) -> std::result::Result<Vec<gate_core::Connection>, gate_app::PortError> {
        self.ec2.all(services).await
    }
    async fn all_page(
        &self,
        services: &[gate_core::ServiceId],
        cursor: Option<String>,
    ) -> std::result::Result<gate_app::ports::Page, gate_app::PortError> {
        if cursor.is_some() && !self.died.swap(true, std::sync::atomic::Ordering::SeqCst) {
            return Err(gate_app::PortError::plain("the invocation timed out", true));
        }
        self.ec2.all_page(services, cursor).await
    }
    async fn act(
        &self,
        action: gate_core::Action,
        service: &gate_core::ServiceId,
        endpoints: &[gate_core::EndpointId],
    ) -> std::result::Result<Vec<gate_app::ports::Refused>, gate_app::PortError> {
        self.ec2.act(action, service, endpoints).await
    }
}

#[tokio::test]
async fn a_registry_sweep_cut_short_goes_on_from_its_saved_cursor() -> Result<()> {
    use gate_app::ports::Checkpoints;
    let w = world().await?;
    let owner = "270000000021";
    let body =
        json!({"service_id": w.service.id, "owner": owner, "count": 1200, "state": "available"}).to_string();
    gate_e2e::http_post(&w.local.moto_url, "/_gate/seed", &body)?;

    let dying = gate_app::record::Recorder {
        connections: std::sync::Arc::new(DiesOnce {
            ec2: gate_aws::Ec2Connections::new(w.local.ec2()),
            died: false.into(),
        }),
        ..w.recorder.clone()
    };
    dying.sweep(&|_, _| {}, gate_e2e::now()).await.err().ok_or("the second page fails")?;
    let saved = w.store.load(gate_app::record::SWEEP_NAME).await?.ok_or("a cursor in the table")?;
    assert_eq!(
        gate_e2e::whole_view(&w.store, Some(owner.parse()?), None, false).await?.len(),
        1000,
        "the first page is recorded"
    );

    // Meanwhile an endpoint the registry holds as active stops being listed.
    let deleted: gate_core::EndpointId = "vpce-0000000000000beef".parse()?;
    w.store.seed_registry(&[active_entry(&deleted, &w.service, owner)?]).await?;

    let report = w.recorder.sweep(&|_, _| {}, gate_e2e::now()).await?;
    assert!(report.resumed, "went on from {saved}");
    assert_eq!(report.counts.pages, 1, "only EC2's second page was read again");
    assert_eq!(report.counts.written, 201, "200 new, and the deleted one: {:?}", report.counts);
    assert_eq!(w.store.get(&deleted).await?.ok_or("kept")?.state, ConnectionState::Deleted);
    assert_eq!(gate_e2e::whole_view(&w.store, Some(owner.parse()?), None, false).await?.len(), 1200);
    assert_eq!(w.store.load(gate_app::record::SWEEP_NAME).await?, None, "finished: cursor forgotten");
    Ok(())
}
