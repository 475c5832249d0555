#![allow(clippy::expect_used, clippy::unwrap_used)]

use serde_norway::Value;

use super::{Keys, TABLE};

const TEMPLATE: &str = include_str!("../../../infra/template.yaml");

/// The template's tables (resources of type `AWS::DynamoDB::Table`), by
/// logical id. Tags such as `!Ref` parse as tagged values and are ignored.
fn tables(template: &Value) -> Vec<(String, Value)> {
    let resources =
        template.get("Resources").and_then(Value::as_mapping).expect("the template has Resources");
    resources
        .iter()
        .filter(|(_, r)| r.get("Type").and_then(Value::as_str) == Some("AWS::DynamoDB::Table"))
        .map(|(id, r)| (id.as_str().unwrap_or_default().to_owned(), r.clone()))
        .collect()
}

fn text(v: Option<&Value>) -> String {
    v.and_then(Value::as_str).unwrap_or("<missing>").to_owned()
}

fn keys_of(schema: Option<&Value>) -> Vec<(String, String)> {
    let list = schema.and_then(Value::as_sequence).cloned().unwrap_or_default();
    list.iter().map(|k| (text(k.get("AttributeName")), text(k.get("KeyType")))).collect()
}

fn expected_keys(keys: Keys) -> Vec<(String, String)> {
    vec![(keys.hash.to_owned(), "HASH".to_owned()), (keys.range.to_owned(), "RANGE".to_owned())]
}

/// Where a table's definition in the template differs from [`TABLE`].
fn disagreements(table: &Value) -> Vec<String> {
    let mut out = Vec::new();
    let props = table.get("Properties").cloned().unwrap_or(Value::Null);
    let mut check = |what: &str, template: String, adapter: String| {
        if template != adapter {
            out.push(format!("{what}: the template says {template}, the adapter {adapter}"));
        }
    };
    check("BillingMode", text(props.get("BillingMode")), TABLE.billing_mode.to_owned());
    check(
        "KeySchema",
        format!("{:?}", keys_of(props.get("KeySchema"))),
        format!("{:?}", expected_keys(TABLE.keys)),
    );
    let mut defined: Vec<(String, String)> = props
        .get("AttributeDefinitions")
        .and_then(Value::as_sequence)
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|a| (text(a.get("AttributeName")), text(a.get("AttributeType"))))
        .collect();
    defined.sort();
    let mut wanted: Vec<(String, String)> =
        TABLE.key_attributes().into_iter().map(|n| (n.to_owned(), "S".to_owned())).collect();
    wanted.sort();
    check("AttributeDefinitions", format!("{defined:?}"), format!("{wanted:?}"));
    let mut indexes: Vec<String> = props
        .get("GlobalSecondaryIndexes")
        .and_then(Value::as_sequence)
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|i| {
            let projection = text(i.get("Projection").and_then(|p| p.get("ProjectionType")));
            format!("{} {:?} {projection}", text(i.get("IndexName")), keys_of(i.get("KeySchema")))
        })
        .collect();
    indexes.sort();
    let mut ours: Vec<String> = TABLE
        .indexes
        .iter()
        .map(|i| format!("{} {:?} {}", i.name, expected_keys(i.keys), TABLE.projection))
        .collect();
    ours.sort();
    check("GlobalSecondaryIndexes", format!("{indexes:?}"), format!("{ours:?}"));
    let ttl = props.get("TimeToLiveSpecification");
    let enabled = ttl.and_then(|t| t.get("Enabled")).and_then(Value::as_bool) == Some(true);
    check(
        "TimeToLiveSpecification",
        format!("{} enabled={enabled}", text(ttl.and_then(|t| t.get("AttributeName")))),
        format!("{} enabled=true", TABLE.ttl_attribute),
    );
    out
}

fn template() -> Value {
    serde_norway::from_str(TEMPLATE).expect("the template is YAML")
}

#[test]
fn the_template_defines_the_table_the_adapter_reads() {
    let tables = tables(&template());
    assert_eq!(
        tables.len(),
        1,
        "one table in the template: {:?}",
        tables.iter().map(|t| &t.0).collect::<Vec<_>>()
    );
    let (id, table) = &tables[0];
    let differences = disagreements(table);
    assert!(differences.is_empty(), "{id} disagrees with the adapter's table:\n{}", differences.join("\n"));
}

#[test]
fn any_drift_in_keys_indexes_or_ttl_is_caught() {
    let (_, table) = tables(&template()).remove(0);
    let edits: [(&str, &str, &str); 6] = [
        ("KeySchema", "{AttributeName: sk, KeyType: RANGE}", "{AttributeName: sort, KeyType: RANGE}"),
        (
            "AttributeDefinitions",
            "{AttributeName: gsi2sk, AttributeType: S}",
            "{AttributeName: gsi2sk, AttributeType: N}",
        ),
        ("GlobalSecondaryIndexes", "- IndexName: gsi2", "- IndexName: by-account"),
        (
            "GlobalSecondaryIndexes",
            "Projection: {ProjectionType: ALL}",
            "Projection: {ProjectionType: KEYS_ONLY}",
        ),
        ("TimeToLiveSpecification", "AttributeName: expires_at_epoch", "AttributeName: ttl"),
        ("BillingMode", "BillingMode: PAY_PER_REQUEST", "BillingMode: PROVISIONED"),
    ];
    let original = serde_norway::to_string(&table).expect("serialises");
    assert!(disagreements(&table).is_empty());
    for (what, from, to) in edits {
        // Each edit is applied to the template's own text, once.
        assert!(TEMPLATE.contains(from), "{from} not in the template");
        let edited: Value = serde_norway::from_str(&TEMPLATE.replacen(from, to, 1)).expect("still YAML");
        let (_, edited) = tables(&edited).remove(0);
        assert_ne!(serde_norway::to_string(&edited).expect("serialises"), original, "{what}: no edit");
        let found = disagreements(&edited);
        assert!(found.iter().any(|d| d.starts_with(what)), "{what} drift not caught: {found:?}");
    }
}
