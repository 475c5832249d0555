//! A consumer's view of its endpoints, as lookup reads it: one Query
//! response of 60 registry entries, deserialized by the SDK and decoded
//! into the domain. The response comes from `aws-smithy-mocks` as the HTTP
//! body DynamoDB sends, cut to what the request projects, so the SDK's own
//! parsing is measured and the network is not. `make bench-view` (or
//! `cargo bench -p gate-aws --bench registry_view`).

// Fixed inputs that fail to parse should stop the benchmark at once.
#![allow(clippy::expect_used)]

use std::collections::HashSet;
use std::hint::black_box;
use std::sync::{Arc, OnceLock};

use aws_config::BehaviorVersion;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::config::{Credentials, Region};
use aws_sdk_dynamodb::operation::query::QueryInput;
use aws_smithy_mocks::{MockResponseInterceptor, RuleMode, create_mock_http_client, mock};
use aws_smithy_runtime_api::http::{Response, StatusCode};
use aws_smithy_types::body::SdkBody;
use criterion::{Criterion, criterion_group, criterion_main};
use gate_app::ports::{PageAsk, Registry};
use gate_aws::DynamoStore;
use gate_core::{AccountId, RegistryEntry};
use tokio::runtime::Runtime;

const ENTRIES: usize = 60;

/// A stored registry entry of the consumer, as DynamoDB's JSON has it
/// (`tests/golden/registry_entry_active.json`, with its own endpoint id).
fn item(n: usize) -> serde_json::Value {
    let golden = include_str!("../tests/golden/registry_entry_active.json");
    let endpoint = format!("vpce-{n:017x}");
    serde_json::from_str(&golden.replace("vpce-0123456789abcdef0", &endpoint)).expect("golden item")
}

/// The Query answer DynamoDB gives a request: each item holding only the
/// attributes its `ProjectionExpression` names, or all of them.
fn query_body(input: &QueryInput) -> String {
    let names = input.expression_attribute_names();
    let asked: Option<HashSet<&str>> = input.projection_expression().map(|expression| {
        expression
            .split(',')
            .map(str::trim)
            .map(|name| names.and_then(|n| n.get(name)).map_or(name, String::as_str))
            .collect()
    });
    let items: Vec<_> = (0..ENTRIES)
        .map(item)
        .map(|mut item| {
            if let (Some(asked), Some(attributes)) = (&asked, item.as_object_mut()) {
                attributes.retain(|name, _| asked.contains(name.as_str()));
            }
            item
        })
        .collect();
    serde_json::json!({ "Items": items, "Count": ENTRIES, "ScannedCount": ENTRIES }).to_string()
}

fn store() -> DynamoStore {
    // Built from the first request, then served to every request as it is.
    let body = Arc::new(OnceLock::new());
    let answer = body.clone();
    let rule = mock!(Client::query)
        .match_requests(move |input| {
            body.get_or_init(|| query_body(input));
            true
        })
        .sequence()
        .http_response(move || {
            let body = answer.get().cloned().unwrap_or_default();
            Response::new(StatusCode::try_from(200).expect("200"), SdkBody::from(body))
        })
        .repeatedly()
        .build();
    let config = aws_sdk_dynamodb::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("AKIDEXAMPLE", "not-a-secret", None, None, "bench"))
        .http_client(create_mock_http_client())
        .interceptor(MockResponseInterceptor::new().rule_mode(RuleMode::MatchAny).with_rule(&rule))
        .build();
    DynamoStore::new(Client::from_conf(config), "endpoint-gate")
}

fn bench(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let store = store();
    let account: AccountId = "222233334444".parse().expect("account");
    let view =
        runtime.block_on(store.by_account(account, false, &PageAsk::default())).expect("the view reads");
    assert_eq!(view.entries.len(), ENTRIES, "every entry decodes");

    c.bench_function("registry view of 60 entries (SDK parse and decode)", |b| {
        b.iter(|| one_view(&runtime, &store, black_box(account)))
    });
}

/// One measured view, by a name an instruction counter can be pointed at:
/// `valgrind --tool=callgrind --toggle-collect='registry_view::one_view'
/// <this benchmark> --test` counts exactly one (the README's figures).
#[inline(never)]
fn one_view(runtime: &Runtime, store: &DynamoStore, account: AccountId) -> Vec<RegistryEntry> {
    runtime.block_on(store.by_account(account, false, &PageAsk::default())).expect("view").entries
}

criterion_group!(benches, bench);
criterion_main!(benches);
