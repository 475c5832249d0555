//! A consumer's view of its endpoints, as lookup reads it: one Query
//! response of 60 registry entries, deserialized by the SDK and decoded
//! into the domain. The response comes from `aws-smithy-mocks` as the HTTP
//! body DynamoDB sends, so the SDK's own parsing is measured and the
//! network is not. `make bench` (or `cargo bench -p gate-aws --bench
//! registry_view`).

// Fixed inputs that fail to parse should stop the benchmark at once.
#![allow(clippy::expect_used)]

use std::hint::black_box;

use aws_config::BehaviorVersion;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::config::{Credentials, Region};
use aws_smithy_mocks::{MockResponseInterceptor, RuleMode, create_mock_http_client, mock};
use aws_smithy_runtime_api::http::{Response, StatusCode};
use aws_smithy_types::body::SdkBody;
use criterion::{Criterion, criterion_group, criterion_main};
use gate_app::ports::Registry;
use gate_aws::DynamoStore;
use gate_core::AccountId;

const ENTRIES: usize = 60;

/// A stored registry entry of the consumer, as DynamoDB's JSON has it
/// (`tests/golden/registry_entry_active.json`, with its own endpoint id).
fn item(n: usize) -> serde_json::Value {
    let golden = include_str!("../tests/golden/registry_entry_active.json");
    let endpoint = format!("vpce-{n:017x}");
    serde_json::from_str(&golden.replace("vpce-0123456789abcdef0", &endpoint)).expect("golden item")
}

fn query_body() -> String {
    let items: Vec<_> = (0..ENTRIES).map(item).collect();
    serde_json::json!({ "Items": items, "Count": ENTRIES, "ScannedCount": ENTRIES }).to_string()
}

fn store() -> DynamoStore {
    let body = query_body();
    let rule = mock!(Client::query)
        .sequence()
        .http_response(move || {
            Response::new(StatusCode::try_from(200).expect("200"), SdkBody::from(body.clone()))
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
    let view = runtime.block_on(store.by_account(account, false)).expect("the view reads");
    assert_eq!(view.len(), ENTRIES, "every entry decodes");

    c.bench_function("registry view of 60 entries (SDK parse and decode)", |b| {
        b.iter(|| runtime.block_on(store.by_account(black_box(account), false)).expect("view"))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
