//! The lookup function over in-memory ports: the caller's account comes
//! from the signed context only, every route keeps accounts apart, and
//! hostile query strings are refused by name.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::sync::Arc;

use aws_lambda_events::event::lambda_function_urls::{
    LambdaFunctionUrlRequest, LambdaFunctionUrlRequestContextAuthorizerDescription,
    LambdaFunctionUrlRequestContextAuthorizerIamDescription,
};
use gate_app::lookup::Lookup;
use gate_app::memory::*;
use gate_app::ports::ServiceInfo;
use gate_app::record::Recorder;
use gate_core::*;
use gate_lambdas::lookup::LookupFn;

const SVC: &str = "vpce-svc-0abc1234def567890";
const A: &str = "222233334444";
const B: &str = "333344445555";
const PROVIDER: &str = "123456789012";

fn now() -> Timestamp {
    "2026-11-22T12:00:00Z".parse().expect("time")
}

fn endpoint(n: u32) -> EndpointId {
    format!("vpce-{n:017x}").parse().expect("endpoint")
}

async fn world() -> LookupFn {
    world_where(|n| format!("{}.vpce.example", endpoint(n)), &format!("com.amazonaws.vpce.us-east-1.{SVC}"))
        .await
}

/// Endpoints 1 (A's), 2 and 3 (B's) with DNS names `dns_name(n)`, of a
/// service whose catalogue name is `service_name`.
async fn world_where(dns_name: impl Fn(u32) -> String, service_name: &str) -> LookupFn {
    let conns = [(1, A), (2, B), (3, B)].map(|(n, owner)| Connection {
        service: SVC.parse().expect("svc"),
        endpoint: endpoint(n),
        owner: owner.parse().expect("owner"),
        state: ConnectionState::Available,
        dns_entries: vec![DnsEntry { dns_name: dns_name(n), hosted_zone_id: "Z1".into() }],
        created_at: None,
        region: (n == 1).then(|| "eu-west-1".parse().expect("region")),
    });
    let connections = Arc::new(InMemoryConnections::with(conns));
    let requests = Arc::new(InMemoryRequests::default());
    let registry = Arc::new(InMemoryRegistry::default());
    let recorder = Recorder {
        connections,
        requests: requests.clone(),
        registry: registry.clone(),
        audit: Arc::new(InMemoryAudit::default()),
        services: vec![],
        checkpoints: None,
        managed: None,
        together: None,
    };
    recorder.sweep(&|_, _| {}, now()).await.expect("sweeps");
    let lookup = Lookup {
        registry,
        requests,
        audit: Arc::new(InMemoryAudit::default()),
        catalogue: Arc::new(StaticCatalogue(vec![ServiceInfo {
            id: SVC.parse().expect("svc"),
            name: service_name.to_owned(),
            kind: "Interface".into(),
            acceptance_required: true,
            state: "Available".into(),
        }])),
        policies: Arc::new(InMemoryPolicies::default()),
        placements: None,
        services: vec![SVC.parse().expect("svc")],
        managed: None,
    };
    LookupFn { lookup, operators: vec![format!("arn:aws:iam::{PROVIDER}:role/NetOps")] }
}

fn get(path: &str, query: &str, signer: Option<(&str, &str)>) -> LambdaFunctionUrlRequest {
    let mut r = LambdaFunctionUrlRequest::default();
    r.raw_path = Some(path.into());
    r.raw_query_string = Some(query.into());
    r.request_context.http.method = Some("GET".into());
    if let Some((account, arn)) = signer {
        let mut iam = LambdaFunctionUrlRequestContextAuthorizerIamDescription::default();
        iam.account_id = Some(account.into());
        iam.user_arn = Some(arn.into());
        let mut authorizer = LambdaFunctionUrlRequestContextAuthorizerDescription::default();
        authorizer.iam = Some(iam);
        r.request_context.authorizer = Some(authorizer);
    }
    r
}

fn as_a() -> Option<(&'static str, &'static str)> {
    Some((A, "arn:aws:sts::222233334444:assumed-role/Dev/alice"))
}

#[tokio::test]
async fn account_a_never_sees_account_b_through_any_route() {
    let f = world().await;
    let b_ids = [endpoint(2).to_string(), endpoint(3).to_string()];
    let routes: Vec<(&str, String, i64)> = vec![
        ("/", String::new(), 200),
        ("/", format!("account={B}"), 403),
        ("/api/endpoints", String::new(), 200),
        ("/api/endpoints", format!("account={B}"), 403),
        ("/api/endpoints", format!("service={SVC}"), 200),
        ("/api/endpoints", format!("service={SVC}&history=true"), 200),
        ("/api/endpoints", format!("account={A}"), 200),
        ("/api/endpoints/x", String::new(), 400),
        ("/api/services", String::new(), 200),
        ("/api/services", format!("account={B}"), 403),
        ("/endpoints/x", String::new(), 400),
    ];
    let mut routes = routes;
    for id in &b_ids {
        routes.push((Box::leak(format!("/api/endpoints/{id}").into_boxed_str()), String::new(), 404));
        routes.push((Box::leak(format!("/endpoints/{id}").into_boxed_str()), String::new(), 404));
    }
    for (path, query, status) in routes {
        let r = f.handle(get(path, &query, as_a())).await;
        assert_eq!(r.status_code, status, "{path}?{query}: {:?}", r.body);
        let body = r.body.unwrap_or_default();
        for id in &b_ids {
            // A 404 may repeat the id the caller typed; nothing else about it.
            assert!(!body.contains(&format!("{id}.vpce.example")), "{path}?{query} shows B's DNS name");
            assert!(
                path.ends_with(id.as_str()) || !body.contains(id.as_str()),
                "{path}?{query} shows B's {id}"
            );
        }
        assert!(!body.contains(B), "{path}?{query} shows account B");
    }
    let mine = f.handle(get("/api/endpoints", "", as_a())).await.body.unwrap_or_default();
    assert!(mine.contains(&endpoint(1).to_string()) && mine.contains(".vpce.example"), "{mine}");
}

#[tokio::test]
async fn operators_see_every_account_but_not_by_scanning() {
    let f = world().await;
    let ops = Some((PROVIDER, "arn:aws:sts::123456789012:assumed-role/NetOps/bob"));
    let r = f.handle(get("/api/endpoints", &format!("account={B}"), ops)).await;
    assert_eq!(r.status_code, 200);
    assert!(r.body.unwrap_or_default().contains(&endpoint(3).to_string()));
    assert_eq!(f.handle(get("/api/endpoints", "", ops)).await.status_code, 400, "no unfiltered listing");
    // The provider account itself, outside the operator role, is just a caller.
    let other = Some((PROVIDER, "arn:aws:sts::123456789012:assumed-role/NetOpsReadOnly/eve"));
    assert_eq!(f.handle(get("/api/endpoints", &format!("account={B}"), other)).await.status_code, 403);
}

#[tokio::test]
async fn a_long_list_comes_a_page_at_a_time_with_a_link_to_the_next() {
    let f = world().await;
    let ops = Some((PROVIDER, "arn:aws:sts::123456789012:assumed-role/NetOps/bob"));
    let first = f.handle(get("/api/endpoints", &format!("service={SVC}&limit=2"), ops)).await;
    assert_eq!(first.status_code, 200, "{:?}", first.body);
    let ids = |body: Option<String>| -> Vec<String> {
        let entries: Vec<serde_json::Value> =
            serde_json::from_str(&body.unwrap_or_default()).expect("an array");
        entries.iter().map(|e| e["endpoint"].as_str().unwrap_or_default().to_owned()).collect()
    };
    let link = first.headers.get("link").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    let after = format!("after=active:{}", endpoint(2));
    assert_eq!(link, format!("</api/endpoints?service={SVC}&limit=2&{after}>; rel=\"next\""));
    assert_eq!(ids(first.body), [endpoint(1).to_string(), endpoint(2).to_string()]);

    let query = link.trim_start_matches("</api/endpoints?").trim_end_matches(">; rel=\"next\"");
    let last = f.handle(get("/api/endpoints", query, ops)).await;
    assert_eq!(ids(last.body), [endpoint(3).to_string()]);
    assert!(last.headers.get("link").is_none(), "the last page links nowhere");
}

#[tokio::test]
async fn unsigned_and_hostile_requests_are_refused_by_name() {
    let f = world().await;
    let long = "a=".to_owned() + &"x".repeat(9000);
    let cases: Vec<(LambdaFunctionUrlRequest, i64, &str)> = vec![
        (get("/api/endpoints", "", None), 401, "not signed"),
        (get("/api/endpoints", "", Some(("", "arn:aws:iam::1:user/x"))), 401, "not signed by an AWS account"),
        (get("/api/endpoints", "", Some(("anonymous", ""))), 401, "not signed by an AWS account"),
        (get("/api/endpoints", "account=12345", as_a()), 400, "12345"),
        (get("/api/endpoints", "service=vpce-svc-XYZ", as_a()), 400, "vpce-svc-XYZ"),
        (get("/api/endpoints", "history=maybe", as_a()), 400, "history"),
        (get("/api/endpoints", "account=%ZZ", as_a()), 400, "badly encoded"),
        (get("/api/endpoints", "account=%0A", as_a()), 400, "badly encoded"),
        (get("/api/endpoints", &format!("account={A}&account={B}"), as_a()), 400, "given twice"),
        (get("/api/endpoints", "owner=1", as_a()), 400, "unknown query parameter"),
        (get("/api/endpoints", "limit=0", as_a()), 400, "whole number from 1 to 1000"),
        (get("/api/endpoints", "limit=1001", as_a()), 400, "from 1 to 1000"),
        (get("/api/endpoints", "limit=-5", as_a()), 400, "limit"),
        (get("/api/endpoints", "after=vpce-00000000000000001", as_a()), 400, "page position"),
        (get("/api/endpoints", "after=active%3Avpce-svc-0abc1234", as_a()), 400, "page position"),
        (get("/", "after=history%3A..%2F..", as_a()), 400, "page position"),
        (get("/", "limit=5", as_a()), 400, "unknown query parameter"),
        (get("/api/endpoints", &long, as_a()), 400, "longer than"),
        (get("/api/endpoints/vpce-../../etc", "", as_a()), 400, ""),
        (get("/admin", "", as_a()), 404, "no route"),
        (get("/api/services", "x=1", as_a()), 400, "unknown query parameter"),
        (get("/", "X-Amz-Date=20261301T000000Z&X-Amz-Expires=60", as_a()), 400, "X-Amz-Date"),
        (get("/", "x-amz-signature=1", as_a()), 400, "unknown query parameter"),
        (get("/", "", None), 401, "not signed"),
        (
            {
                let mut r = get("/api/endpoints", "", as_a());
                r.request_context.http.method = Some("POST".into());
                r
            },
            405,
            "GET",
        ),
    ];
    assert!(cases.len() >= 15);
    for (req, status, needle) in cases {
        let what = format!("{:?}?{:?}", req.raw_path, req.raw_query_string);
        let api = req.raw_path.as_deref().is_some_and(|p| p.starts_with("/api/"));
        let r = f.handle(req).await;
        assert_eq!(r.status_code, status, "{what}: {:?}", r.body);
        let body = r.body.unwrap_or_default();
        assert!(body.contains(needle), "{what}: {body}");
        if api {
            assert!(serde_json::from_str::<serde_json::Value>(&body).is_ok(), "{what}: API errors are JSON");
        } else {
            assert!(body.starts_with("<!doctype html>"), "{what}: a browser gets a page: {body}");
        }
    }
}

#[tokio::test]
async fn the_page_escapes_and_lists_dns_names() {
    // Names from EC2 and the service catalogue are text on the page, never markup.
    let hostile = "<script>alert(1)</script>\"'&";
    let escaped = "&lt;script&gt;alert(1)&lt;/script&gt;&quot;&#39;&amp;";
    let f = world_where(
        |n| format!("{}.vpce.example{hostile}", endpoint(n)),
        &format!("com.amazonaws.vpce.us-east-1.{SVC}{hostile}"),
    )
    .await;
    let r = f.handle(get("/", "", as_a())).await;
    assert_eq!(r.status_code, 200);
    let html = r.body.unwrap_or_default();
    assert!(
        html.contains(&format!("{}.vpce.example{escaped}", endpoint(1))),
        "A's DNS name, escaped: {html}"
    );
    assert!(
        html.contains(&format!("com.amazonaws.vpce.us-east-1.{SVC}{escaped}")),
        "the service, escaped: {html}"
    );
    assert!(!html.contains("<script") && !html.contains(hostile), "markup from the data: {html}");
    assert_eq!(
        r.headers
            .get("content-security-policy")
            .map(|v| v.to_str().unwrap_or_default().starts_with("default-src 'none'")),
        Some(true)
    );
}

#[tokio::test]
async fn the_pages_show_where_each_consumers_vpc_lives() {
    let f = world().await;
    let html = f.handle(get("/", "", as_a())).await.body.unwrap_or_default();
    assert!(html.contains("<th>Region</th>"), "{html}");
    assert!(html.contains("<td class=\"region\">eu-west-1</td>"), "A's endpoint lives in eu-west-1: {html}");
    let one = f.handle(get(&format!("/endpoints/{}", endpoint(1)), "", as_a())).await;
    let html = one.body.unwrap_or_default();
    assert!(html.contains("<dt>Region</dt><dd>eu-west-1</dd>"), "{html}");
    // B's endpoints were recorded before regions: the page says it does not know.
    let operator = Some((PROVIDER, "arn:aws:sts::123456789012:assumed-role/NetOps/bob"));
    let html = f.handle(get("/", &format!("account={B}"), operator)).await.body.unwrap_or_default();
    assert!(html.contains("<td class=\"region\">unknown</td>"), "{html}");
}

/// Every sample in `events/lookup/`, as a Function URL delivers it, with
/// the answer it must get. A sample without an expectation fails the test.
#[tokio::test]
async fn every_lookup_sample_event_gets_its_answer() {
    let f = world().await;
    let expected = [
        ("signed-my-endpoints.json", 200, "vpce-00000000000000001"),
        ("signed-one-endpoint.json", 200, "vpce-00000000000000001"),
        ("signed-services.json", 200, "com.amazonaws.vpce"),
        ("signed-another-account.json", 403, "your own account"),
        ("malformed-query.json", 400, "account"),
        ("presigned-page.json", 200, "This link works until 2026-11-22T12:15:00Z"),
        ("unsigned.json", 401, "not signed"),
    ];
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../events/lookup");
    let mut seen = 0;
    for file in std::fs::read_dir(dir).expect("events/lookup") {
        let path = file.expect("entry").path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_owned();
        let (_, status, needle) = expected
            .iter()
            .find(|(n, _, _)| *n == name)
            .unwrap_or_else(|| panic!("no expectation for {name}"));
        let text = std::fs::read_to_string(&path).expect("sample");
        let event: LambdaFunctionUrlRequest = serde_json::from_str(&text).expect("a Function URL event");
        let r = f.handle(event).await;
        let body = r.body.unwrap_or_default();
        assert_eq!(r.status_code, i64::from(*status), "{name}: {body}");
        assert!(body.contains(needle), "{name}: {body}");
        if *status == 200 {
            assert!(!body.contains("333344445555"), "{name} shows another account: {body}");
        }
        seen += 1;
    }
    assert_eq!(seen, expected.len(), "every expectation has its sample");
}
