#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use aws_sdk_dynamodb::types::AttributeValue;
use gate_app::PortError;

use super::golden::{self, Golden};
use super::{Item, SCHEMA_ATTRIBUTE, audit, config, contact, registry, request};

/// What the item decodes to, as its kind reads it.
fn read(kind: &Golden, item: Item) -> Result<Golden, PortError> {
    Ok(match kind {
        Golden::Policy(_) => Golden::Policy(config::policy_from(item)?),
        Golden::Entry(_) => Golden::Entry(config::entry_from(item)?),
        Golden::Request(_) => Golden::Request(request::request_from(item)?),
        Golden::Audit(_, nanos, seq) => Golden::Audit(audit::audit_from(item)?, *nanos, *seq),
        Golden::Registry(_) => Golden::Registry(registry::entry_from(item)?),
        Golden::Change(_) => Golden::Change(registry::entry_from(item)?),
        Golden::Contact(_) => Golden::Contact(contact::contact_from(item)?),
    })
}

/// The item this code writes for the value.
fn write(value: &Golden) -> Item {
    match value {
        Golden::Policy(p) => config::policy_item(&p.value, p.revision),
        Golden::Entry(e) => config::entry_item(&e.value, e.revision),
        Golden::Request(r) => request::request_item(r),
        Golden::Audit(e, nanos, seq) => audit::audit_item_at(e, *nanos, *seq),
        Golden::Registry(e) => registry::entry_item(e),
        Golden::Change(e) => registry::change_item(e),
        Golden::Contact(c) => contact::contact_item(&c.value, c.revision),
    }
    .expect("encodes")
}

#[test]
fn every_golden_item_reads_back_unchanged_and_is_written_the_same_way() {
    for (name, expected) in golden::all() {
        let stored = golden::load(name);
        let read = read(&expected, stored.clone()).unwrap_or_else(|e| panic!("{name}: {}", e.chain()));
        assert_eq!(read, expected, "{name} reads back as something else");
        let mut written = write(&expected);
        assert_eq!(written.remove(SCHEMA_ATTRIBUTE), Some(AttributeValue::N("1".into())), "{name}");
        assert_eq!(written, stored, "{name} is no longer written as it was");
    }
}

/// A query of entries asks only for what they read: each registry item,
/// cut to the projection as DynamoDB cuts it, reads back as the whole item
/// does, and all an entry item loses is its index keys.
#[test]
fn registry_items_read_the_same_through_their_projection() {
    let projection = registry::entry_projection().expect("a registry item is a plain struct");
    let asked = projection.attributes();
    let mut read_any = 0;
    for (name, expected) in golden::all() {
        if !matches!(expected, Golden::Registry(_) | Golden::Change(_)) {
            continue;
        }
        let projected: Item =
            write(&expected).into_iter().filter(|(a, _)| asked.contains(a.as_str())).collect();
        let read = read(&expected, projected).unwrap_or_else(|e| panic!("{name}: {}", e.chain()));
        assert_eq!(read, expected, "{name} reads otherwise through the projection");
        read_any += 1;
    }
    assert!(read_any >= 4, "the golden registry items were found");

    let Golden::Registry(entry) = &golden::all()["registry_entry_cross_region"] else { panic!("an entry") };
    let mut dropped: Vec<String> =
        write(&Golden::Registry(entry.clone())).into_keys().filter(|a| !asked.contains(a.as_str())).collect();
    dropped.sort();
    assert_eq!(dropped, ["gsi1pk", "gsi1sk", "gsi2pk", "gsi2sk"]);
}

/// Registry entries are read by hand (`registry::entry_from`); the derive
/// is the definition. Over every golden registry item, a spread of entries
/// and hand edits, the two read the same value or both refuse.
#[test]
fn the_entry_reader_reads_what_the_derive_reads() {
    use gate_core::{ConnectionState as C, DnsEntry, RegistryEntry};
    let by_derive = |item: Item| super::decode::<registry::RegistryItem>(item).map_err(|e| e.chain());
    let by_hand = |item: Item| registry::entry_from(item).map_err(|e| e.chain());

    let Golden::Registry(base) = &golden::all()["registry_entry_active"] else { panic!("an entry") };
    let mut entries: Vec<RegistryEntry> = golden::all()
        .into_values()
        .filter_map(|g| match g {
            Golden::Registry(e) | Golden::Change(e) => Some(e),
            _ => None,
        })
        .collect();
    let states = [C::PendingAcceptance, C::Pending, C::Available, C::Deleting, C::Deleted, C::Rejected];
    for (n, state) in states.into_iter().chain([C::Failed, C::Expired, C::Other("née".into())]).enumerate() {
        entries.push(RegistryEntry {
            state,
            dns_entries: (0..n % 4)
                .map(|i| DnsEntry { dns_name: format!("n{i}.example"), hosted_zone_id: format!("Z{i}") })
                .collect(),
            accepted_at: (n % 2 == 0).then(|| base.first_seen.plus_secs(n as i64)),
            accepted_by: (n % 3 == 0).then(|| format!("slack:U{n} \"quoted\"")),
            why: "✓ allowlisted".repeat(n),
            region: (n % 2 == 1).then(|| "ap-southeast-2".parse().expect("region")),
            version: u64::MAX - n as u64,
            ..base.clone()
        });
    }
    for entry in &entries {
        for item in [registry::entry_item(entry), registry::change_item(entry)] {
            let item = item.expect("encodes");
            assert_eq!(by_hand(item.clone()), Ok(entry.clone()));
            assert_eq!(by_derive(item), Ok(entry.clone()));
        }
    }

    let s = |v: &str| AttributeValue::S(v.into());
    let n = |v: &str| AttributeValue::N(v.into());
    let map = |pairs: &[(&str, AttributeValue)]| {
        AttributeValue::M(pairs.iter().map(|(k, v)| ((*k).to_owned(), v.clone())).collect())
    };
    let zone = map(&[("dns_name", s("a.example")), ("hosted_zone_id", s("Z1"))]);
    let accepted: Vec<(&str, Option<AttributeValue>)> = vec![
        ("accepted_at", Some(AttributeValue::Null(true))),
        ("accepted_by", None),
        ("region", Some(AttributeValue::Null(true))),
        ("dns_entries", Some(AttributeValue::L(vec![]))),
        (
            "dns_entries",
            Some(AttributeValue::L(vec![map(&[
                ("extra", n("1")),
                ("dns_name", s("a")),
                ("hosted_zone_id", s("")),
            ])])),
        ),
        ("state", Some(map(&[("other", s("partiallyAvailable"))]))),
        ("unknown_later_attribute", Some(s("ignored"))),
    ];
    let refused: Vec<(&str, Option<AttributeValue>)> = vec![
        ("endpoint", Some(n("1"))),
        ("endpoint", Some(s("vpce-svc-0abc1234def567890"))),
        ("owner", Some(s("12345"))),
        ("owner", None),
        ("why", None),
        ("why", Some(AttributeValue::Null(true))),
        ("version", Some(n("-1"))),
        ("version", Some(n("1.5"))),
        ("version", Some(s("3"))),
        ("version", None),
        ("state", Some(s("Available"))),
        ("state", Some(map(&[]))),
        ("state", Some(map(&[("other", n("3"))]))),
        ("state", Some(AttributeValue::L(vec![]))),
        ("dns_entries", None),
        ("dns_entries", Some(s("a.example"))),
        ("dns_entries", Some(AttributeValue::L(vec![s("a.example")]))),
        ("dns_entries", Some(AttributeValue::L(vec![zone.clone(), map(&[("dns_name", s("b.example"))])]))),
        (
            "dns_entries",
            Some(AttributeValue::L(vec![map(&[("dns_name", n("1")), ("hosted_zone_id", s("Z"))])])),
        ),
        ("accepted_at", Some(s("yesterday"))),
        ("accepted_at", Some(n("1767323046"))),
        ("first_seen", Some(s("2026-02-30T00:00:00Z"))),
        ("region", Some(s("eu-west-1.evil.example"))),
    ];
    for (edits, ok) in [(accepted, true), (refused, false)] {
        for (attribute, value) in edits {
            let mut item = golden::load("registry_entry_active");
            match &value {
                Some(v) => item.insert(attribute.to_owned(), v.clone()),
                None => item.remove(attribute),
            };
            let (hand, derive) = (by_hand(item.clone()), by_derive(item));
            assert_eq!(hand.is_ok(), ok, "{attribute} = {value:?}: {hand:?}");
            match (hand, derive) {
                (Ok(h), Ok(d)) => assert_eq!(h, d, "{attribute} = {value:?}"),
                (Err(h), Err(_)) => {
                    assert!(h.contains("ENDPOINT#vpce-0123456789abcdef0 / ENTRY"), "{h}");
                    assert!(h.contains(attribute), "{attribute} = {value:?}: {h}");
                }
                (h, d) => panic!("{attribute} = {value:?}: by hand {h:?}, by the derive {d:?}"),
            }
        }
    }
}

#[test]
fn every_golden_file_has_an_expected_value() {
    let mut files: Vec<String> = std::fs::read_dir(golden::DIR)
        .expect("the golden directory")
        .map(|e| e.expect("an entry").file_name().to_string_lossy().trim_end_matches(".json").to_owned())
        .collect();
    let mut known: Vec<String> = golden::all().keys().map(|k| (*k).to_owned()).collect();
    files.sort();
    known.sort();
    assert_eq!(files, known);
}

/// What older code wrote before these attributes existed still reads,
/// with the defaults those attributes stand for.
#[test]
fn items_older_than_later_attributes_read_with_defaults() {
    let all = golden::all();
    let mut policy = golden::load("policy_service");
    policy.remove("declared_cidrs");
    policy.remove("slack_channel");
    let read = config::policy_from(policy).expect("reads").value;
    let Golden::Policy(expected) = &all["policy_service"] else { panic!("a policy") };
    assert_eq!(read.declared_cidrs, gate_core::DeclaredCidrs::Verify);
    assert_eq!(read.slack_channel, None);
    assert_eq!(read.approvers, expected.value.approvers);

    let mut request = golden::load("request_review_slack");
    for attribute in ["reminders", "expired_at", "slack_message"] {
        request.remove(attribute);
    }
    let read = request::request_from(request).expect("reads");
    assert_eq!((read.reminders, read.expired_at, read.slack_message), (0, None, None));
    assert_eq!(read.reasons[0].consumer.as_deref(), Some("your account is not on the allowlist"));
    assert_eq!(read.reasons[1].consumer, None);

    // A hand-written entry: keys, scope, account and effect only.
    let mut entry = golden::load("entry_any_deny");
    entry.retain(|k, _| ["pk", "sk", "scope", "account", "effect"].contains(&k.as_str()));
    let read = config::entry_from(entry).expect("reads");
    let Golden::Entry(expected) = &all["entry_any_deny"] else { panic!("an entry") };
    assert_eq!(read, gate_app::ports::Versioned { value: expected.value.clone(), revision: 0 });
}

fn decode_error(item: Item, kind: &str) -> String {
    let err = match kind {
        "policy" => config::policy_from(item).map(|_| ()),
        "entry" => config::entry_from(item).map(|_| ()),
        "request" => request::request_from(item).map(|_| ()),
        "audit" => audit::audit_from(item).map(|_| ()),
        _ => registry::entry_from(item).map(|_| ()),
    }
    .expect_err("refused");
    assert!(!err.transient, "a bad item does not get better by retrying");
    err.chain()
}

#[test]
fn a_newer_schema_version_is_refused_by_name() {
    let mut item = golden::load("request_review_slack");
    item.insert(SCHEMA_ATTRIBUTE.into(), AttributeValue::N("4".into()));
    let text = decode_error(item, "request");
    assert!(text.contains("REQUEST#vpce-0123456789abcdef0 / REQUEST"), "{text}");
    assert!(text.contains("schema version 4; this build reads 1 to 3"), "{text}");
    for odd in [AttributeValue::N("0".into()), AttributeValue::N("1.5".into()), AttributeValue::S("1".into())]
    {
        let mut item = golden::load("policy_service");
        item.insert(SCHEMA_ATTRIBUTE.into(), odd.clone());
        let text = decode_error(item, "policy");
        assert!(text.contains("POLICY#vpce-svc-0abc1234def567890 / POLICY"), "{odd:?}: {text}");
    }
}

/// Hand edits and hostile writes: each is refused with the item's key and
/// the attribute at fault, never read as something else.
#[test]
fn a_malformed_item_is_an_error_naming_the_item_and_attribute() {
    let s = |v: &str| AttributeValue::S(v.into());
    let huge = "x".repeat(100_000);
    let cases: Vec<(&str, &str, &str, AttributeValue, &str)> = vec![
        (
            "entry_service_allow",
            "entry",
            "declared_cidrs",
            AttributeValue::L(vec![s("10.0.0.300/8")]),
            "10.0.0.300/8",
        ),
        ("entry_service_allow", "entry", "account", s("2222"), "account"),
        ("entry_service_allow", "entry", "effect", s("Allow"), "effect"),
        ("policy_service", "policy", "on_expiry", s(&huge), "on_expiry"),
        ("policy_service", "policy", "approval_ttl_secs", s("two days"), "approval_ttl_secs"),
        ("policy_service", "policy", "scope", s("vpce-svc-NOTHEX"), "scope"),
        (
            "policy_consumer_regions",
            "policy",
            "consumer_regions",
            AttributeValue::L(vec![s("eu-west-1.evil.example")]),
            "consumer_regions",
        ),
        ("request_review_slack", "request", "state", AttributeValue::N("3".into()), "state"),
        ("request_review_slack", "request", "decided_at", s("yesterday"), "decided_at"),
        ("request_review_slack", "request", "endpoint", s("vpce-svc-0abc1234"), "endpoint"),
        ("request_review_slack", "request", "version", AttributeValue::N("-1".into()), "version"),
        ("audit_decided", "audit", "kind", s("deleted"), "kind"),
        ("audit_decided", "audit", "outcome", s("maybe"), "outcome"),
        ("registry_entry_active", "registry", "state", s("Available"), "state"),
        ("registry_entry_active", "registry", "state", AttributeValue::M(Default::default()), "state"),
        ("registry_entry_active", "registry", "dns_entries", AttributeValue::L(vec![s("x")]), "dns_entries"),
    ];
    for (golden, kind, attribute, value, mentioned) in cases {
        let mut item = golden::load(golden);
        let key = super::key_name(item.get("pk"), item.get("sk"));
        item.insert(attribute.into(), value);
        let text = decode_error(item, kind);
        assert!(text.contains(&key), "{golden}.{attribute}: {text}");
        assert!(text.contains(mentioned), "{golden}.{attribute}: {text}");
        assert!(text.len() < 600, "{golden}.{attribute}: the message stays readable ({} bytes)", text.len());
    }
    // A required attribute that is missing.
    let mut item = golden::load("request_accepted_acted");
    item.remove("owner");
    let text = decode_error(item, "request");
    assert!(text.contains("REQUEST#") && text.contains("owner"), "{text}");
}

/// OU and organization entries are schema 2 under their own sort keys, so
/// a build that reads only schema 1 refuses them by version; account
/// entries are still written exactly as before (the golden test above).
#[test]
fn ou_and_organization_entries_are_schema_two_and_read_back() {
    let Golden::Entry(account) = &golden::all()["entry_service_allow"] else { panic!("an entry") };
    for (principal, sort, attribute) in [
        ("ou-ab12-cd34ef56", "OU#ou-ab12-cd34ef56", "ou"),
        ("o-abcdef1234", "ORG#o-abcdef1234", "organization"),
    ] {
        let mut entry = account.value.clone();
        entry.principal = principal.parse().expect("principal");
        let item = config::entry_item(&entry, 3).expect("encodes");
        assert_eq!(item[SCHEMA_ATTRIBUTE], AttributeValue::N("2".into()), "{principal}");
        assert_eq!(item["sk"], AttributeValue::S(sort.into()));
        assert_eq!(item[attribute], AttributeValue::S(principal.into()));
        assert!(!item.contains_key("account"), "{principal}");
        assert_eq!(
            item["gsi1sk"],
            AttributeValue::S(format!("ALLOW#vpce-svc-0abc1234def567890#{principal}"))
        );
        let read = config::entry_from(item).expect("reads");
        assert_eq!(read, gate_app::ports::Versioned { value: entry, revision: 3 });
    }
}

#[test]
fn a_shadow_policy_is_schema_three_and_an_enforce_one_keeps_its_bytes() {
    let Golden::Policy(golden) = &golden::all()["policy_service"] else { panic!("a policy") };
    let enforce = config::policy_item(&golden.value, 1).expect("encodes");
    assert_eq!(enforce[SCHEMA_ATTRIBUTE], AttributeValue::N("1".into()));
    assert!(!enforce.contains_key("mode"), "enforce is left out");
    let mut shadow = golden.value.clone();
    shadow.mode = gate_core::Mode::Shadow;
    let item = config::policy_item(&shadow, 1).expect("encodes");
    // A build that reads only 1 and 2 refuses it rather than enforce it.
    assert_eq!(item[SCHEMA_ATTRIBUTE], AttributeValue::N("3".into()));
    assert_eq!(item["mode"], AttributeValue::S("shadow".into()));
    assert_eq!(config::policy_from(item.clone()).expect("reads").value, shadow);
    let mut hand_edited = item;
    hand_edited.insert("mode".into(), AttributeValue::S("Shadow".into()));
    assert!(decode_error(hand_edited, "policy").contains("mode"));
}

#[test]
fn an_entry_naming_no_principal_or_two_is_refused_by_name() {
    let s = |v: &str| AttributeValue::S(v.into());
    let mut two = golden::load("entry_service_allow");
    two.insert("ou".into(), s("ou-ab12-cd34ef56"));
    let text = decode_error(two, "entry");
    assert!(
        text.contains("ALLOW#vpce-svc-0abc1234def567890") && text.contains("exactly one of account, ou"),
        "{text}"
    );
    let mut none = golden::load("entry_service_allow");
    none.remove("account");
    assert!(decode_error(none, "entry").contains("exactly one of account, ou"));
    let mut bad = golden::load("entry_service_allow");
    bad.remove("account");
    bad.insert("ou".into(), s("ou-NOPE"));
    let text = decode_error(bad, "entry");
    assert!(text.contains("attribute ou") && text.contains("ou-NOPE"), "{text}");
}

/// decide's joint read tells requests from configuration by key alone.
#[test]
fn a_request_key_is_recognised_and_nothing_else_is() {
    let endpoint = "vpce-0123456789abcdef0".parse().expect("endpoint");
    assert!(request::is_request(&request::request_key(&endpoint)));
    let scope = gate_core::Scope::Any;
    let account = gate_core::Principal::Account("210000000001".parse().expect("account"));
    assert!(!request::is_request(&config::policy_key(&scope)));
    assert!(!request::is_request(&config::entry_key(&scope, &account)));
}
