//! The SAM template sets every variable each function's configuration
//! requires, and none it does not read: a deploy cannot start a function
//! that fails its cold start on configuration.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use gate_lambdas::config::{DecideConfig, LookupConfig, RecordConfig, RespondConfig};
use serde_norway::Value;

fn variables(template: &Value, function: &str) -> Option<Vec<String>> {
    let vars =
        template.get("Resources")?.get(function)?.get("Properties")?.get("Environment")?.get("Variables")?;
    Some(vars.as_mapping()?.keys().filter_map(|k| k.as_str().map(str::to_owned)).collect())
}

#[test]
fn template_environment_matches_what_each_function_reads() {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../infra/template.yaml"))
        .expect("template");
    let template: Value = serde_norway::from_str(&text).expect("the template is YAML");
    let functions: [(&str, &[&str], &[&str]); 4] = [
        ("DecideFunction", DecideConfig::REQUIRED, DecideConfig::OPTIONAL),
        ("RespondFunction", RespondConfig::REQUIRED, RespondConfig::OPTIONAL),
        ("RecordFunction", RecordConfig::REQUIRED, RecordConfig::OPTIONAL),
        ("LookupFunction", LookupConfig::REQUIRED, LookupConfig::OPTIONAL),
    ];
    let mut checked = 0;
    for (function, required, optional) in functions {
        let Some(set) = variables(&template, function) else {
            assert_ne!(function, "DecideFunction", "the template must define DecideFunction's environment");
            continue;
        };
        for name in required {
            assert!(set.iter().any(|v| v == name), "{function} lacks required {name}");
        }
        for name in &set {
            assert!(
                required.contains(&name.as_str()) || optional.contains(&name.as_str()),
                "{function} sets {name}, which its configuration never reads"
            );
        }
        checked += 1;
    }
    assert!(checked >= 1);
}

#[test]
fn every_documented_variable_is_read() {
    // Each optional variable changes the configuration when set.
    let base = [("TABLE_NAME", "t"), ("REVIEW_TOPIC_ARN", "arn:aws:sns:us-east-1:111122223333:r")];
    let values = [
        ("SERVICE_IDS", "vpce-svc-0abc1234"),
        ("CONSUMER_ROLE_TEMPLATE", "arn:aws:iam::{account}:role/Other"),
        ("CONSUMER_ROLE_EXTERNAL_ID", "x"),
        ("CONCURRENCY", "3"),
        ("ACTION_LEASE_SECS", "7"),
        ("LINK_TTL_SECS", "9"),
        ("ORGANIZATIONS_ROLE_ARN", "arn:aws:iam::111122223333:role/EndpointGateOrgReader"),
    ];
    let plain = DecideConfig::from_lookup(|k| base.iter().find(|(n, _)| *n == k).map(|(_, v)| v.to_string()))
        .unwrap();
    for (name, value) in values {
        let with = DecideConfig::from_lookup(|k| {
            base.iter()
                .chain(
                    [("RESPOND_URL", "https://r.example"), ("LINK_KEYS_SECRET_ARN", "arn:s")]
                        .iter()
                        .filter(|_| name == "LINK_TTL_SECS"),
                )
                .chain(std::iter::once(&(name, value)))
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        })
        .unwrap();
        assert_ne!(with, plain, "{name} is not read");
        assert!(DecideConfig::OPTIONAL.contains(&name));
    }
}

/// `[package.metadata.lambda.env]`: what `make watch` gives every function.
fn watch_environment() -> std::collections::HashMap<String, String> {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml")).expect("manifest");
    let section = text.split("[package.metadata.lambda.env]").nth(1).expect("the watch environment");
    section
        .lines()
        .take_while(|l| !l.trim_start().starts_with('['))
        .filter_map(|l| l.split_once('='))
        .filter(|(k, _)| !k.trim_start().starts_with('#'))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().trim_matches('"').to_owned()))
        .collect()
}

#[test]
fn make_watch_starts_every_function() {
    let env = watch_environment();
    let get = |k: &str| env.get(k).cloned();
    assert!(env.contains_key("TABLE_NAME"), "{env:?}");
    DecideConfig::from_lookup(get).unwrap_or_else(|e| panic!("decide under make watch: {e}"));
    RespondConfig::from_lookup(get).unwrap_or_else(|e| panic!("respond under make watch: {e}"));
    RecordConfig::from_lookup(get).unwrap_or_else(|e| panic!("record under make watch: {e}"));
    LookupConfig::from_lookup(get).unwrap_or_else(|e| panic!("lookup under make watch: {e}"));
}
