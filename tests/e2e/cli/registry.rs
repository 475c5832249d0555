//! The registry from a terminal against moto and DynamoDB Local: a backfill
//! of endpoints accepted before Endpoint Gate, then endpoints, one endpoint
//! and the catalogue, as tables and as JSON; and the same asked by consumers
//! through the lookup URL with their own signed requests.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::collections::HashMap;
use std::sync::Arc;

use super::common::{cli, cli_as};

use gate_app::ports::Checkpoints;
use gate_aws::wiring::Wiring;
use gate_core::{ConnectionState, RegistryEntry};
use gate_e2e::Local;
use gate_e2e::function_url::{FunctionUrl, Handler};
use gate_lambdas::config::LookupConfig;
use gate_lambdas::lookup::LookupFn;

#[tokio::test]
async fn backfill_then_look_up_endpoints_dns_names_and_services() {
    let local = Local::from_env().await;
    let service = local.service().await.expect("service");
    let store = local.table().await.expect("table");
    let table = store.table().to_owned();
    // Accepted by hand before Endpoint Gate existed.
    let a = local.consumer("280000000001", "10.0.0.0/16", &[], true).await.expect("consumer");
    let ea = local.request(&a, &service).await.expect("endpoint");
    let eb = local.request(&a, &service).await.expect("endpoint");
    local
        .ec2()
        .accept_vpc_endpoint_connections()
        .service_id(&service.id)
        .vpc_endpoint_ids(&ea)
        .send()
        .await
        .expect("accept");

    // The record function stopped mid-sweep earlier; its cursor is its own.
    let lambdas = r#"{"pass":"listed","ec2":"0:bGFtYmRh","services":[]}"#;
    store
        .save(gate_app::record::SWEEP_NAME, Some(lambdas), gate_core::Timestamp::from_unix(0))
        .await
        .expect("save");

    let (code, out, err) = cli(&table, &["backfill", "--service", &service.id]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("Backfill: 2 recorded"), "{out}");
    let kept = store.load(gate_app::record::SWEEP_NAME).await.expect("load");
    assert_eq!(kept.as_deref(), Some(lambdas), "a backfill neither resumes nor ends the function's sweep");
    assert!(err.contains("backfill: 2/2 connections"), "progress on stderr: {err}");
    let (code, out, _) = cli(&table, &["backfill", "--service", &service.id]);
    assert_eq!((code, out.contains("0 recorded, 2 already up to date")), (0, true), "{out}");

    let (code, out, err) = cli(&table, &["endpoints", "--account", "280000000001"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains(&ea) && out.contains(&eb) && out.contains(".vpce.amazonaws.com"), "{out}");
    let (_, out, _) = cli(&table, &["--output", "json", "endpoints", "--service", &service.id]);
    let rows: serde_json::Value = serde_json::from_str(&out).expect("JSON");
    assert_eq!(rows.as_array().map(Vec::len), Some(2), "{out}");

    let (code, out, _) = cli(&table, &["endpoint", &ea]);
    assert_eq!(code, 0);
    assert!(out.contains("state available") && out.contains("accepted") && out.contains("dns "), "{out}");
    let (code, _, err) = cli(&table, &["endpoint", "vpce-0000000000000dead"]);
    assert_eq!(code, 4, "{err}");

    let (code, out, err) = cli(&table, &["services", "--service", &service.id, "--account", "280000000001"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains(&service.name) && out.contains("for your account: reviewed"), "{out}");

    let (code, _, err) = cli(&table, &["endpoints"]);
    assert_eq!(code, 2, "an unfiltered listing is refused: {err}");
    let (code, _, err) = cli(&table, &["endpoints", "--account", "12345"]);
    assert_eq!(code, 2);
    assert!(err.contains("12345"), "{err}");
}

const A: &str = "280000000002";
const B: &str = "280000000003";

/// Consumer `account`'s access key, as the environment hands it to the CLI.
/// The lookup function of `service` behind a URL that verifies SigV4, for
/// the Developer role of each of `accounts` (key `AKIA<account>`, secret
/// `secret-<account>`).
async fn lookup_url(
    local: &Local,
    table: &str,
    service: &gate_e2e::Service,
    accounts: &[&str],
) -> FunctionUrl {
    let lookup = Arc::new(
        LookupFn::build(
            &LookupConfig {
                table_name: table.to_owned(),
                service_ids: vec![service.id.parse().expect("id")],
                operator_arns: vec![],
                organizations_role_arn: None,
            },
            &Wiring::new(&local.sdk, table),
        )
        .await,
    );
    let handler: Handler = Arc::new(move |event| {
        let lookup = lookup.clone();
        Box::pin(async move { lookup.handle(event).await })
    });
    let keys = accounts
        .iter()
        .map(|account| {
            let role = format!("arn:aws:sts::{account}:assumed-role/Developer/dev");
            (format!("AKIA{account}"), (format!("secret-{account}"), (*account).to_owned(), role))
        })
        .collect::<HashMap<_, _>>();
    FunctionUrl::serve_iam(handler, "us-east-1", keys).await.expect("lookup URL")
}

// The server runs while the test waits for the binary: two threads.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_consumer_with_more_endpoints_than_a_page_gets_every_one_a_page_at_a_time() {
    const C: &str = "280000000004";
    let local = Local::from_env().await;
    let service = local.service().await.expect("service");
    let store = local.table().await.expect("table");
    let table = store.table().to_owned();
    let id = |n: usize| format!("vpce-{n:017x}");
    let entry = |n: usize, owner: &str, state: ConnectionState| RegistryEntry {
        endpoint: id(n).parse().expect("id"),
        service: service.id.parse().expect("service"),
        owner: owner.parse().expect("owner"),
        state,
        dns_entries: vec![],
        accepted_at: None,
        accepted_by: None,
        why: "seeded".into(),
        first_seen: gate_e2e::now(),
        observed_at: gate_e2e::now(),
        version: 1,
        region: None,
    };
    // 1,203 of C's: three deleted (history), the rest available; and B's five.
    let deleted = [7, 407, 807];
    let state = |n| if deleted.contains(&n) { ConnectionState::Deleted } else { ConnectionState::Available };
    let mut entries: Vec<RegistryEntry> = (0..1_203).map(|n| entry(n, C, state(n))).collect();
    entries.extend((2_000..2_005).map(|n| entry(n, B, ConnectionState::Available)));
    store.seed_registry(&entries).await.expect("seeded");
    let url = lookup_url(&local, &table, &service, &[C]).await;
    let as_c: Vec<(&str, String)> = keys_of(C, &format!("secret-{C}")).into_iter().collect();
    let env_c: Vec<(&str, &str)> = as_c.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let ask = |args: &[&str]| {
        let mut all = args.to_vec();
        all.extend_from_slice(&["--lookup-url", url.url.as_str()]);
        cli_as("no-such-table", &all, &env_c)
    };

    let (code, out, err) = ask(&["--output", "json", "endpoints", "--history"]);
    assert_eq!(code, 0, "{err}");
    let listed: Vec<RegistryEntry> = serde_json::from_str(&out).expect("a JSON array");
    let listed: Vec<String> = listed.iter().map(|e| e.endpoint.to_string()).collect();
    let active = (0..1_203).filter(|n| !deleted.contains(n)).map(id);
    let expected: Vec<String> = active.chain(deleted.iter().map(|n| id(*n))).collect();
    assert_eq!(listed.len(), 1_203);
    assert!(listed == expected, "every endpoint once, active by id then history; none of B's");
    let (code, _, err) = ask(&["endpoints"]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("1000 so far, reading the next page"), "progress on a long list: {err}");

    // The page shows 100 and names the next; the CLI signs a link to it.
    let (code, link, err) = ask(&["open", "--print", "--after", &format!("active:{}", id(99))]);
    assert_eq!(code, 0, "{err}");
    let page = reqwest::get(link.trim()).await.expect("answers").text().await.expect("page");
    assert!(page.contains(&id(100)) && page.contains(&id(199)) && !page.contains(&id(99)), "{page}");
    assert!(!page.contains(&id(200)), "100 on a page: {page}");
    assert!(
        page.contains(&format!("endpoint-gate open --lookup-url &lt;URL&gt; --after active:{}", id(199))),
        "{page}"
    );
    let (code, _, err) = ask(&["open", "--print", "--after", "vpce-00000000000000001"]);
    assert_eq!(code, 2, "a position names its part: {err}");
}

/// A registry entry whose names carry escape sequences and a line of their
/// own (the table is shared, and a lookup URL may be anyone's): the
/// terminal gets them shown, not obeyed, each value on its line, as text
/// and as JSON that still reads back the same.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn names_with_escape_sequences_reach_the_terminal_shown_not_obeyed() {
    const D: &str = "280000000005";
    let local = Local::from_env().await;
    let service = local.service().await.expect("service");
    let store = local.table().await.expect("table");
    let table = store.table().to_owned();
    // Clear the screen and print a line of one's own; set the clipboard
    // (OSC 52); show a name reversed.
    let hostile_dns = "\u{1b}[2J\u{1b}[Hvpce-1.example\u{1b}]52;c;ZXZpbA==\u{7}";
    let hostile_by = "evil\u{202e}moc.elpmaxe\r";
    // A row of one's own below the real one.
    let forged = "a.example\nvpce-0000000000000ee02 svc-forged 280000000005 eu-west-1 available";
    store
        .seed_registry(&[RegistryEntry {
            endpoint: "vpce-0000000000000ee01".parse().expect("id"),
            service: service.id.parse().expect("service"),
            owner: D.parse().expect("owner"),
            state: ConnectionState::Available,
            dns_entries: vec![
                gate_core::DnsEntry { dns_name: hostile_dns.into(), hosted_zone_id: "Z1".into() },
                gate_core::DnsEntry { dns_name: forged.into(), hosted_zone_id: "Z1".into() },
            ],
            accepted_at: Some(gate_e2e::now()),
            accepted_by: Some(hostile_by.into()),
            why: "seeded".into(),
            first_seen: gate_e2e::now(),
            observed_at: gate_e2e::now(),
            version: 1,
            region: None,
        }])
        .await
        .expect("seeded");
    let url = lookup_url(&local, &table, &service, &[D]).await;
    let as_d: Vec<(&str, String)> = keys_of(D, &format!("secret-{D}")).into_iter().collect();
    let env_d: Vec<(&str, &str)> = as_d.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let ask = |args: &[&str]| {
        let mut all = args.to_vec();
        all.extend_from_slice(&["--lookup-url", url.url.as_str()]);
        cli_as("no-such-table", &all, &env_d)
    };
    let obeyed = |s: &str| s.chars().any(|c| matches!(c, '\u{1b}' | '\u{7}' | '\r' | '\u{202e}'));

    for args in [&["endpoints"][..], &["endpoint", "vpce-0000000000000ee01"]] {
        let (code, out, err) = ask(args);
        assert_eq!(code, 0, "{args:?}: {err}");
        assert!(!obeyed(&out), "{args:?} printed a control character: {out:?}");
        assert!(
            out.contains("\\u001b[2J\\u001b[Hvpce-1.example\\u001b]52;c;ZXZpbA==\\u0007"),
            "{args:?}: {out}"
        );
    }
    let (_, table, _) = ask(&["endpoints"]);
    assert_eq!(table.lines().filter(|l| l.starts_with("vpce-")).count(), 1, "one endpoint, one row: {table}");
    assert!(table.contains("    a.example\\u000avpce-0000000000000ee02 svc-forged"), "{table}");
    let (_, story, _) = ask(&["endpoint", "vpce-0000000000000ee01"]);
    assert!(!story.lines().any(|l| l.starts_with("vpce-0000000000000ee02")), "{story}");
    assert!(story.contains("by evil\\u202emoc.elpmaxe\\u000d"), "{story}");

    let (code, out, err) = ask(&["--output", "json", "endpoints"]);
    assert_eq!(code, 0, "{err}");
    assert!(!obeyed(&out), "{out:?}");
    let listed: Vec<RegistryEntry> = serde_json::from_str(&out).expect("still a JSON array");
    assert_eq!(listed[0].dns_entries[0].dns_name, hostile_dns, "and it means the same");
    assert_eq!(listed[0].dns_entries[1].dns_name, forged);
    assert_eq!(listed[0].accepted_by.as_deref(), Some(hostile_by));
}

fn keys_of(account: &str, secret: &str) -> [(&'static str, String); 2] {
    [("AWS_ACCESS_KEY_ID", format!("AKIA{account}")), ("AWS_SECRET_ACCESS_KEY", secret.to_owned())]
}

// The server runs while the test waits for the binary: two threads.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consumers_ask_the_lookup_url_with_their_own_signed_requests() {
    let local = Local::from_env().await;
    let service = local.service().await.expect("service");
    let store = local.table().await.expect("table");
    let table = store.table().to_owned();
    let a = local.consumer(A, "10.0.0.0/16", &[], true).await.expect("consumer");
    let b = local.consumer(B, "10.0.0.0/16", &[], true).await.expect("consumer");
    let ea = local.request(&a, &service).await.expect("endpoint");
    let eb = local.request(&b, &service).await.expect("endpoint");
    let accept = local.ec2().accept_vpc_endpoint_connections().service_id(&service.id).vpc_endpoint_ids(&ea);
    accept.send().await.expect("accept");
    assert_eq!(cli(&table, &["backfill", "--service", &service.id]).0, 0);

    let url = lookup_url(&local, &table, &service, &[A, B]).await;
    let as_a: Vec<(&str, String)> = keys_of(A, &format!("secret-{A}")).into_iter().collect();
    let env_a: Vec<(&str, &str)> = as_a.iter().map(|(k, v)| (*k, v.as_str())).collect();
    // The table name is wrong on purpose: a consumer never reads the table.
    let ask = |args: &[&str], env: &[(&str, &str)]| {
        let mut all = args.to_vec();
        all.extend_from_slice(&["--lookup-url", url.url.as_str()]);
        cli_as("no-such-table", &all, env)
    };

    let (code, out, err) = ask(&["endpoints"], &env_a);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains(&ea) && out.contains(".vpce.amazonaws.com") && !out.contains(&eb),
        "A sees its own only: {out}"
    );
    let (code, out, err) = ask(&["--output", "json", "endpoint", &ea], &env_a);
    assert_eq!(code, 0, "{err}");
    let view: serde_json::Value = serde_json::from_str(&out).expect("JSON");
    assert_eq!(view["entry"]["state"], "available", "{out}");
    let (code, out, _) = ask(&["services"], &env_a);
    assert!(code == 0 && out.contains(&service.name), "{out}");
    assert!(out.contains("for your account: reviewed by the provider's approvers"), "{out}");
    let (code, out, _) = ask(&["--output", "json", "services"], &env_a);
    let offers: serde_json::Value = serde_json::from_str(&out).expect("JSON");
    assert_eq!((code, &offers[0]["for_account"]), (0, &serde_json::json!("review")), "{out}");

    // The browser's way in: a link signed in its query string, no headers.
    let (code, link, err) = ask(&["open", "--print", "--expires", "5m"], &env_a);
    assert_eq!(code, 0, "{err}");
    let link = link.trim();
    assert!(link.contains("X-Amz-Expires=300") && err.contains("works until"), "{link} {err}");
    let http = reqwest::Client::new();
    let get = |url: String| {
        let http = http.clone();
        async move {
            let r = http.get(url).send().await.expect("answers");
            (r.status().as_u16(), r.text().await.expect("body"))
        }
    };
    let (status, page) = get(link.to_owned()).await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains(&ea) && page.contains(".vpce.amazonaws.com") && !page.contains(&eb), "{page}");
    assert!(page.contains(&service.name) && page.contains("This link works until"), "{page}");
    // The signature covers the path and every parameter: a changed link is refused before lookup runs.
    let tampered = [
        link.replace("/?", &format!("/endpoints/{eb}?")),
        format!("{link}&account={B}"),
        link.replace("X-Amz-Signature=", "X-Amz-Signature=0"),
        link.replace(&format!("AKIA{A}"), &format!("AKIA{B}")),
    ];
    for url in tampered {
        let (status, body) = get(url.clone()).await;
        assert_eq!(status, 403, "{url}: {body}");
        assert!(!body.contains(&eb), "{body}");
    }
    // A signed link to B's endpoint shows nothing of it.
    let (code, link, err) = ask(&["open", "--print", "--endpoint", &eb], &env_a);
    assert_eq!(code, 0, "{err}");
    let (status, page) = get(link.trim().to_owned()).await;
    assert_eq!(status, 404, "{page}");
    assert!(page.contains("no endpoint") && !page.contains(B), "{page}");
    let (code, _, err) = ask(&["open", "--print", "--expires", "2h"], &env_a);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("\"2h\"") && err.contains("1h"), "{err}");

    // Another account's data, through every route: refused, never shown.
    let (code, out, err) = ask(&["endpoints", "--account", B], &env_a);
    assert_eq!(code, 2, "{out}{err}");
    assert!(!out.contains(&eb) && err.contains("403"), "{err}");
    let (code, out, err) = ask(&["endpoint", &eb], &env_a);
    assert_eq!(code, 4, "{out}{err}");
    assert!(out.is_empty() && err.contains("404"), "{out}{err}");
    let (code, out, _) = ask(&["endpoints", "--service", &service.id], &env_a);
    assert!(!out.contains(&eb), "a service listing shows another account: {code} {out}");

    // A wrong secret or an unknown key is refused by the URL, before lookup runs.
    let forged: Vec<(&str, String)> = keys_of(A, "not-the-secret").into_iter().collect();
    let forged: Vec<(&str, &str)> = forged.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let (code, out, err) = ask(&["endpoints"], &forged);
    assert_eq!(code, 2, "{out}{err}");
    assert!(err.contains("refused the signature") && out.is_empty(), "{err}");
    let (code, _, err) = cli_as(&table, &["endpoints", "--lookup-url", "http://lookup.example"], &env_a);
    assert_eq!(code, 2);
    assert!(err.contains("https"), "{err}");
}
