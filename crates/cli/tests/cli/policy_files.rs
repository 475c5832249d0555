//! Hostile and mistaken policy files: each is refused with the line and the
//! value that is wrong.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use gate_cli::file::parse;
use gate_core::Timestamp;

fn now() -> Timestamp {
    "2026-11-22T12:00:00Z".parse().expect("time")
}

const POLICY: &str = "policies:\n  - service: \"*\"\n";

#[test]
fn bad_files_are_refused_with_their_location() {
    // (what, file text, expected line, text the message must contain)
    let cases: Vec<(&str, String, Option<usize>, &str)> = vec![
        ("account too short", format!("{POLICY}allow:\n  - account: \"12345\"\n    owner: a\n"), Some(4), "12345"),
        ("account with letters", format!("{POLICY}allow:\n  - account: \"21000000000x\"\n    owner: a\n"), Some(4), "21000000000x"),
        ("account as a short number", format!("{POLICY}allow:\n  - account: 21000000001\n    owner: a\n"), Some(4), "write account ids in quotes"),
        ("bad CIDR", format!("{POLICY}allow:\n  - account: \"210000000001\"\n    cidrs: [10.0.0.300/16]\n    owner: a\n"), Some(5), "10.0.0.300/16"),
        ("host bits set", format!("{POLICY}allow:\n  - account: \"210000000001\"\n    cidrs: [10.0.0.1/8]\n    owner: a\n"), Some(5), "did you mean 10.0.0.0/8"),
        ("bad protected CIDR", "policies:\n  - service: \"*\"\n    protected_cidrs:\n      - cidr: fd00::/129\n".into(), Some(4), "fd00::/129"),
        ("bad service id", "policies:\n  - service: vpce-svc-XYZ\n".into(), Some(2), "vpce-svc-XYZ"),
        ("endpoint id as service", "policies:\n  - service: vpce-0123456789abcdef0\n".into(), Some(2), "vpce-0123456789abcdef0"),
        ("unknown top-level field", "policies: []\nallowlist: []\n".into(), Some(2), "allowlist"),
        ("unknown policy field", "policies:\n  - service: \"*\"\n    overlapp: reject\n".into(), Some(3), "overlapp"),
        ("unknown entry field", format!("{POLICY}allow:\n  - account: \"210000000001\"\n    owner: a\n    expiry: 2027-01-01\n"), Some(6), "expiry"),
        ("bad overlap mode", "policies:\n  - service: \"*\"\n    overlap: maybe\n".into(), Some(3), "maybe"),
        ("bad effect", format!("{POLICY}allow:\n  - account: \"210000000001\"\n    effect: permit\n    owner: a\n"), Some(5), "permit"),
        ("bad duration", "policies:\n  - service: \"*\"\n    approval_ttl: 3 weeks\n".into(), Some(3), "3 weeks"),
        ("bad date", format!("{POLICY}allow:\n  - account: \"210000000001\"\n    expires: 2027-02-30\n    owner: a\n"), Some(5), "2027-02-30"),
        ("past expiry", format!("{POLICY}allow:\n  - account: \"210000000001\"\n    expires: 2026-01-01\n    owner: a\n"), Some(4), "2026-01-01 is in the past"),
        ("duplicate entry", format!("{POLICY}allow:\n  - account: \"210000000001\"\n    owner: a\n  - account: \"210000000001\"\n    owner: b\n"), Some(6), "listed twice"),
        ("allow and deny", format!("{POLICY}allow:\n  - account: \"210000000001\"\n    owner: a\n  - account: \"210000000001\"\n    effect: deny\n    owner: b\n"), Some(6), "both allow and deny"),
        ("duplicate policy", "policies:\n  - service: \"*\"\n  - service: \"*\"\n".into(), Some(3), "a second policy"),
        ("missing owner", format!("{POLICY}allow:\n  - account: \"210000000001\"\n"), Some(4), "owner is required"),
        ("missing account", format!("{POLICY}allow:\n  - owner: a\n"), Some(4), "account"),
        ("wrong version", "version: 2\npolicies: []\n".into(), Some(1), "version 2"),
        ("contact bad email", format!("{POLICY}allow:\n  - account: \"210000000001\"\n    owner: a\ncontacts:\n  - {{ account: \"210000000001\", email: nope }}\n"), Some(7), "email \"nope\" is not an email address"),
        ("contact bad channel", format!("{POLICY}allow:\n  - account: \"210000000001\"\n    owner: a\ncontacts:\n  - {{ account: \"210000000001\", slack_channel: \"#Ops Room\" }}\n"), Some(7), "\"#Ops Room\""),
        ("contact for an unknown account", format!("{POLICY}allow:\n  - account: \"210000000001\"\n    owner: a\ncontacts:\n  - {{ account: \"299999999999\", email: x@example.com }}\n"), Some(7), "account 299999999999 is on no allow entry"),
        ("contact with a bad account", format!("{POLICY}allow:\n  - account: \"210000000001\"\n    owner: a\ncontacts:\n  - {{ account: \"2100\", email: x@example.com }}\n"), Some(7), "2100"),
        ("entry contact bad email", format!("{POLICY}allow:\n  - account: \"210000000001\"\n    owner: a\n    contact: {{ email: \"a@b.com\\nBcc: evil@x.com\" }}\n"), Some(4), "allow[0] (account 210000000001 on *): contact: email"),
        ("not YAML", "policies: [\n  - service: \"*\"\n".into(), Some(2), ""),
        ("a list at the top", "- service: \"*\"\n".into(), Some(1), ""),
        ("tabs for indentation", "policies:\n\t- service: \"*\"\n".into(), Some(2), ""),
        ("approver that is neither", "policies:\n  - service: \"*\"\n    approvers: [netops]\n".into(), Some(2), "approver \"netops\" is neither"),
        ("slack approver without an id", "policies:\n  - service: \"*\"\n    approvers: [\"slack:@alice\"]\n".into(), Some(2), "slack:@alice"),
        ("slack channel with markup", "policies:\n  - service: \"*\"\n    slack_channel: \"<!channel>\"\n".into(), Some(2), "<!channel>"),
        ("empty file", "".into(), None, "is empty"),
        ("a YAML bomb of aliases", "a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: [*c, *c, *c, *c, *c, *c, *c, *c, *c]\n".into(), None, ""),
    ];
    assert!(cases.len() >= 20);
    let mut failures = Vec::new();
    for (what, text, line, needle) in &cases {
        match parse("policy.yaml", text, now()) {
            Ok(_) => failures.push(format!("{what}: accepted")),
            Err(errors) => {
                let first = &errors[0];
                let shown = first.to_string();
                if line.is_some() && first.line != *line {
                    failures.push(format!("{what}: line {:?}, expected {line:?}: {shown}", first.line));
                }
                if !shown.contains(needle) || !shown.starts_with("policy.yaml") {
                    failures.push(format!("{what}: {shown:?} lacks {needle:?}"));
                }
            }
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

#[test]
fn every_problem_is_reported_not_just_the_first() {
    let text = format!(
        "{POLICY}allow:\n  - account: \"210000000001\"\n    expires: 2020-01-01\n    owner: a\n  - account: \"210000000002\"\n"
    );
    let errors = parse("p.yaml", &text, now()).expect_err("invalid");
    assert_eq!(errors.len(), 2, "{errors:?}");
}

#[test]
fn parser_survives_arbitrary_bytes() {
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    for _ in 0..2000 {
        let len = (seed % 200) as usize;
        let text: String = (0..len)
            .map(|_| {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                b"ab:- \n\"'[]{}*&!|>#%@`0123456789.\t/"[(seed % 34) as usize] as char
            })
            .collect();
        let _ = parse("fuzz.yaml", &text, now());
    }
}
