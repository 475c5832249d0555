//! The Block Kit messages Endpoint Gate posts to Slack. Kept apart from the
//! HTTP calls so the words can be read and tested.

use gate_app::ports::{Audience, Nudge};
use gate_core::slack::{MAX_REASON_CHARS, REASON_INPUT};
use gate_core::{RequestRecord, RequestState};
use serde_json::{Value, json};

/// Slack's limit for a section's text.
const MAX_SECTION: usize = 3000;

/// Escapes the three characters Slack's mrkdwn treats as markup, so text
/// from a policy can never mention `@channel` or forge a link.
pub fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

fn cut(text: String, max: usize) -> String {
    if text.chars().count() <= max {
        return text;
    }
    let mut out: String = text.chars().take(max - 1).collect();
    out.push('…');
    out
}

/// How an actor reads in Slack: a Slack user is mentioned, others shown as text.
pub fn actor(actor: &str) -> String {
    match actor
        .strip_prefix("slack:")
        .and_then(|rest| rest.split(|c: char| !c.is_ascii_alphanumeric()).next())
    {
        Some(id) if gate_core::policy::is_slack_id(id) => format!("<@{id}>"),
        _ => escape(actor.strip_prefix("email:").unwrap_or(actor)),
    }
}

fn facts(rec: &RequestRecord) -> Value {
    let cidrs = if rec.consumer_cidrs.is_empty() {
        "unknown".to_owned()
    } else {
        rec.consumer_cidrs.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
    };
    let region = rec.region.as_ref().map_or_else(|| "unknown".to_owned(), ToString::to_string);
    json!({
        "type": "section",
        "fields": [
            {"type": "mrkdwn", "text": format!("*Account*\n{}", rec.owner)},
            {"type": "mrkdwn", "text": format!("*Endpoint*\n{}", rec.endpoint)},
            {"type": "mrkdwn", "text": format!("*Service*\n{}", rec.service)},
            {"type": "mrkdwn", "text": format!("*Consumer region*\n{region}")},
            {"type": "mrkdwn", "text": cut(format!("*Consumer VPC CIDRs*\n{cidrs}"), 2000)},
        ]
    })
}

fn reasons(rec: &RequestRecord) -> Value {
    let lines: Vec<String> = rec.reasons.iter().map(|r| format!("• {}", escape(&r.to_string()))).collect();
    let text = format!("*Why it was not accepted automatically*\n{}", lines.join("\n"));
    json!({"type": "section", "text": {"type": "mrkdwn", "text": cut(text, MAX_SECTION)}})
}

fn header(text: &str) -> Value {
    json!({"type": "header", "text": {"type": "plain_text", "text": cut(text.to_owned(), 150)}})
}

/// The review message: the request, the reasons, a reason box and the buttons.
pub fn review(rec: &RequestRecord, to: &Audience, title: &str) -> Value {
    let endpoint = rec.endpoint.as_str();
    let approvers: Vec<String> = to.approvers.iter().map(|a| actor(a)).collect();
    let who = if approvers.is_empty() { "none listed".to_owned() } else { approvers.join(", ") };
    json!({
        "text": format!("{title}: endpoint {endpoint} from account {}", rec.owner),
        "blocks": [
            header(title),
            facts(rec),
            reasons(rec),
            {
                "type": "input",
                "block_id": "answer_reason",
                "optional": true,
                "label": {"type": "plain_text", "text": "Reason (optional, kept in the audit)"},
                "element": {"type": "plain_text_input", "action_id": REASON_INPUT, "max_length": MAX_REASON_CHARS}
            },
            {
                "type": "actions",
                "block_id": "answer",
                "elements": [
                    {"type": "button", "action_id": "approve", "style": "primary", "value": endpoint,
                     "text": {"type": "plain_text", "text": "Approve"}},
                    {"type": "button", "action_id": "reject", "style": "danger", "value": endpoint,
                     "text": {"type": "plain_text", "text": "Reject"},
                     "confirm": {
                        "title": {"type": "plain_text", "text": "Reject this endpoint?"},
                        "text": {"type": "plain_text", "text": format!("{endpoint} will be rejected; the consumer must request again.")},
                        "confirm": {"type": "plain_text", "text": "Reject"},
                        "deny": {"type": "plain_text", "text": "Cancel"}
                     }}
                ]
            },
            {"type": "context", "elements": [{"type": "mrkdwn", "text": cut(format!(
                "Sent for review at {} by {}. Approvers: {who}.", rec.decided_at, escape(&rec.actor)), MAX_SECTION)}]}
        ]
    })
}

/// A reminder or an expiry notice.
pub fn nudge(rec: &RequestRecord, to: &Audience, nudge: Nudge) -> Value {
    match nudge {
        Nudge::Reminder(n) => review(rec, to, &format!("Reminder {n}: endpoint connection needs review")),
        Nudge::ExpiredRejected => notice(
            rec,
            "Review expired: connection rejected",
            "Nobody answered in time, so Endpoint Gate rejected the connection as the policy says. \
             The consumer can request again.",
        ),
        Nudge::ExpiredKeptPending => notice(
            rec,
            "Review expired: connection still pending",
            "Nobody answered in time. As the policy says, the connection stays pending and no more \
             reminders are sent; an answer still counts.",
        ),
        Nudge::Revoked => {
            let mut text = "The connection was available; its allowance is gone and the service's policy \
                            (`revoke: reject`) rejects it. Why:"
                .to_owned();
            for reason in &rec.reasons {
                text.push_str(&format!("\n• {}", escape(&reason.to_string())));
            }
            notice(rec, "Endpoint connection revoked", &cut(text, MAX_SECTION))
        }
    }
}

fn notice(rec: &RequestRecord, title: &str, text: &str) -> Value {
    json!({
        "text": format!("{title}: endpoint {}", rec.endpoint),
        "blocks": [header(title), facts(rec), {"type": "section", "text": {"type": "mrkdwn", "text": text}}]
    })
}

/// What replaces the review message once it is answered; `note` says what
/// followed (the reason given, whether EC2 acted).
pub fn outcome(rec: &RequestRecord, note: &str) -> Value {
    let verb = match rec.state {
        RequestState::Approved | RequestState::Accepted => "approved",
        RequestState::Denied | RequestState::Rejected => "rejected",
        RequestState::Expired => "expired",
        RequestState::Revoked => "revoked",
        RequestState::Review => "still in review",
    };
    let title = format!("Endpoint connection {verb}");
    let mut text = format!("*{}* by {} at {}.", capitalise(verb), actor(&rec.actor), rec.decided_at);
    if !note.is_empty() {
        text.push_str(&format!("\n{}", escape(note)));
    }
    json!({
        "replace_original": true,
        "text": format!("{title}: endpoint {} by {}", rec.endpoint, actor(&rec.actor)),
        "blocks": [
            header(&title),
            facts(rec),
            {"type": "section", "text": {"type": "mrkdwn", "text": cut(text, MAX_SECTION)}}
        ]
    })
}

/// Seen only by the person who clicked.
pub fn ephemeral(text: &str) -> Value {
    json!({"response_type": "ephemeral", "replace_original": false, "text": escape(text)})
}

/// A decision notice to a consumer's channel: the same words as the
/// email, escaped so nothing in them is markup.
pub fn consumer_notice(notice: &gate_core::Notice) -> Value {
    let text = cut(format!("*{}*\n{}", escape(&notice.subject()), escape(&notice.body())), MAX_SECTION);
    json!({
        "text": escape(&notice.subject()),
        "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": text}}],
    })
}

fn capitalise(word: &str) -> String {
    let mut chars = word.chars();
    chars.next().map(|c| c.to_uppercase().chain(chars).collect()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use gate_core::{Outcome, Reason, Rule, Timestamp};

    fn record() -> RequestRecord {
        RequestRecord {
            reasons: vec![Reason {
                rule: Rule::Unlisted,
                pushes: Some(Outcome::Review),
                text: "account 210000000001 is not on the allowlist <!channel> & co".into(),
                consumer: None,
            }],
            consumer_cidrs: vec!["10.0.0.0/16".parse().expect("cidr")],
            region: Some("eu-west-1".parse().expect("region")),
            ..RequestRecord::new(
                "vpce-svc-0123456789abcdef0".parse().expect("service"),
                "vpce-0123456789abcdef0".parse().expect("endpoint"),
                "210000000001".parse().expect("account"),
                RequestState::Review,
                "endpoint-gate",
                Timestamp::from_unix(1_800_000_000),
            )
        }
    }

    fn audience() -> Audience {
        Audience {
            approvers: vec!["netops@example.com".into(), "slack:U024BE7LH".into()],
            email: vec!["netops@example.com".into()],
            slack_channel: Some("#netops".into()),
        }
    }

    #[test]
    fn a_revocation_shows_why_escaped_and_offers_no_buttons() {
        let rec = RequestRecord { state: RequestState::Revoked, ..record() };
        let m = nudge(&rec, &audience(), Nudge::Revoked);
        let text = m.to_string();
        assert!(text.contains("Endpoint connection revoked"), "{text}");
        assert!(text.contains("revoke: reject"), "{text}");
        assert!(text.contains("&lt;!channel&gt; &amp; co"), "reasons are escaped: {text}");
        assert!(!text.contains("<!channel>"), "{text}");
        let blocks = m["blocks"].as_array().expect("blocks");
        assert!(blocks.iter().all(|b| b["type"] != "actions"), "nothing to answer: {text}");
    }

    #[test]
    fn review_has_the_facts_the_reasons_a_reason_box_and_both_buttons() {
        let m = review(&record(), &audience(), "Endpoint connection needs review");
        let text = m.to_string();
        for needle in [
            "210000000001",
            "vpce-0123456789abcdef0",
            "vpce-svc-0123456789abcdef0",
            "*Consumer region*\\neu-west-1",
            "10.0.0.0/16",
        ] {
            assert!(text.contains(needle), "{needle} missing from {text}");
        }
        let blocks = m["blocks"].as_array().expect("blocks");
        let input = blocks.iter().find(|b| b["type"] == "input").expect("reason box");
        assert_eq!(input["element"]["action_id"], REASON_INPUT);
        let buttons = blocks.iter().find(|b| b["type"] == "actions").expect("buttons")["elements"].clone();
        let ids: Vec<&str> =
            buttons.as_array().expect("list").iter().filter_map(|b| b["action_id"].as_str()).collect();
        assert_eq!(ids, ["approve", "reject"]);
        assert!(buttons.as_array().expect("list").iter().all(|b| b["value"] == "vpce-0123456789abcdef0"));
        assert!(text.contains("<@U024BE7LH>"), "Slack approvers are mentioned: {text}");
    }

    #[test]
    fn policy_text_cannot_ping_the_channel_or_forge_links() {
        let text = review(&record(), &audience(), "t").to_string();
        assert!(!text.contains("<!channel>"), "{text}");
        assert!(text.contains("&lt;!channel&gt; &amp; co"), "{text}");
        assert_eq!(actor("slack:<!here>"), "slack:&lt;!here&gt;");
        assert_eq!(actor("email:a@example.com"), "a@example.com");
    }

    #[test]
    fn the_outcome_replaces_the_buttons_with_who_decided_and_when() {
        let mut rec = record();
        rec.state = RequestState::Approved;
        rec.actor = "slack:U024BE7LH (alice)".into();
        let m = outcome(&rec, "Reason: known team. The connection is accepted.");
        assert_eq!(m["replace_original"], true);
        let text = m.to_string();
        assert!(text.contains("*Approved* by <@U024BE7LH> at 2027-01-15T08:00:00Z"), "{text}");
        assert!(text.contains("known team"), "{text}");
        assert!(!text.contains("\"actions\""), "no buttons left: {text}");
    }

    #[test]
    fn long_reasons_are_cut_to_slacks_limits() {
        let mut rec = record();
        rec.reasons[0].text = "x".repeat(10_000);
        let m = review(&rec, &audience(), "t");
        let longest = m["blocks"]
            .as_array()
            .expect("blocks")
            .iter()
            .filter_map(|b| b["text"]["text"].as_str())
            .map(|t| t.chars().count())
            .max()
            .unwrap_or(0);
        assert!(longest <= MAX_SECTION, "{longest}");
    }

    #[test]
    fn a_consumer_notice_in_slack_is_plain_text_whatever_an_approver_wrote() {
        let mut rec = record();
        rec.state = RequestState::Approved;
        rec.actor = "email:ana@example.com".into();
        let mut notice = gate_core::Notice::about(&rec, gate_core::NoticeKind::Approved, rec.decided_at);
        notice.note = Some("<!channel> see <https://evil.example|the wiki>".into());
        let message = consumer_notice(&notice).to_string();
        assert!(!message.contains("<!channel>") && !message.contains("<https://"), "{message}");
        assert!(message.contains("&lt;!channel&gt;"), "{message}");
        assert!(message.contains("Approved by ana@example.com"), "{message}");
    }
}
