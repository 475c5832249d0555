//! Decision notices to the requesting team: who a consumer account's
//! contact is, and the short text it is sent when Endpoint Gate decides.
//!
//! A notice goes to one account and carries only what that account may
//! see: its own endpoint, service and CIDRs, reasons in their consumer
//! wording ([`Reason::for_consumer`]), and the provider's approvers. Never
//! another tenant's account, endpoint, CIDRs or allowlist note.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::decision::Reason;
use crate::id::{AccountId, EndpointId, ServiceId};
use crate::policy::{Approver, check_slack_channel};
use crate::request::{RequestRecord, RequestState};
use crate::time::Timestamp;

/// Where a consumer account's team hears about its requests: an email
/// address (through the consumer topic), a Slack channel, or both.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Contact {
    pub account: AccountId,
    pub email: Option<String>,
    pub slack_channel: Option<String>,
}

impl Contact {
    /// Every problem with the addresses, in words naming the value.
    pub fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        if self.email.is_none() && self.slack_channel.is_none() {
            out.push("names neither an email nor a slack_channel".to_owned());
        }
        if let Some(email) = &self.email {
            match Approver::parse(email) {
                Ok(Approver::Email(_)) => {}
                _ => out.push(format!("email {email:?} is not an email address")),
            }
        }
        if let Some(Err(e)) = self.slack_channel.as_deref().map(check_slack_channel) {
            out.push(format!("slack_channel {e}"));
        }
        out
    }
}

/// What a notice tells. Each is sent at most once per endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NoticeKind {
    Accepted,
    InReview,
    Rejected,
    /// A person approved the review.
    Approved,
    /// A person rejected the review.
    Denied,
    /// The connection was accepted once and its allowance is gone: the
    /// sweep rejected it under `revoke: reject`.
    Revoked,
}

impl NoticeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Accepted => "accepted",
            Self::InReview => "in_review",
            Self::Rejected => "rejected",
            Self::Approved => "approved",
            Self::Denied => "denied",
            Self::Revoked => "revoked",
        }
    }

    /// The notice a request's state calls for once the provider acted on it.
    pub fn after_action(state: RequestState) -> Self {
        match state {
            RequestState::Accepted => Self::Accepted,
            RequestState::Approved => Self::Approved,
            RequestState::Denied => Self::Denied,
            RequestState::Rejected | RequestState::Expired => Self::Rejected,
            RequestState::Review => Self::InReview,
            RequestState::Revoked => Self::Revoked,
        }
    }
}

impl fmt::Display for NoticeKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One notice to one consumer account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notice {
    pub kind: NoticeKind,
    pub account: AccountId,
    pub endpoint: EndpointId,
    pub service: ServiceId,
    /// In their consumer wording.
    pub reasons: Vec<String>,
    /// Who was asked to review: the provider's approvers.
    pub asked: Vec<String>,
    /// When an unanswered review runs out, and what happens then.
    pub review_ends: Option<(Timestamp, String)>,
    /// The person who approved or rejected, and their reason.
    pub by: Option<String>,
    pub note: Option<String>,
    /// The endpoint's DNS names, when known as the notice is sent.
    pub dns_names: Vec<String>,
    pub at: Timestamp,
}

impl Notice {
    /// The notice of `kind` about a request, with the reasons in the
    /// consumer's wording only.
    pub fn about(rec: &RequestRecord, kind: NoticeKind, at: Timestamp) -> Self {
        let mut reasons: Vec<String> = rec.reasons.iter().map(Reason::for_consumer).collect();
        if rec.state == RequestState::Expired {
            reasons.push("nobody answered the review in time, so it was rejected as the policy says".into());
        }
        let by = matches!(kind, NoticeKind::Approved | NoticeKind::Denied).then(|| person(&rec.actor));
        Self {
            kind,
            account: rec.owner,
            endpoint: rec.endpoint.clone(),
            service: rec.service.clone(),
            reasons,
            asked: Vec::new(),
            review_ends: None,
            by,
            note: None,
            dns_names: Vec::new(),
            at,
        }
    }

    /// SNS subjects are limited to 100 characters.
    pub fn subject(&self) -> String {
        let what = match self.kind {
            NoticeKind::Accepted => "accepted",
            NoticeKind::InReview => "waits for review",
            NoticeKind::Rejected => "rejected",
            NoticeKind::Approved => "approved",
            NoticeKind::Denied => "rejected by a reviewer",
            NoticeKind::Revoked => "revoked",
        };
        format!("Endpoint Gate: your endpoint {} {what}", self.endpoint).chars().take(100).collect()
    }

    /// The text a person reads, in email or Slack.
    pub fn body(&self) -> String {
        let mut b = String::new();
        let head = match self.kind {
            NoticeKind::Accepted => "was accepted",
            NoticeKind::InReview => "was not accepted automatically: it waits for a person to review it",
            NoticeKind::Rejected => "was rejected",
            NoticeKind::Approved => "was approved",
            NoticeKind::Denied => "was rejected by a reviewer",
            NoticeKind::Revoked => "was revoked: its connection no longer has an allowance",
        };
        b.push_str(&format!(
            "Your endpoint {} (account {}) to the endpoint service {} {head}.\n",
            self.endpoint, self.account, self.service
        ));
        if let Some(by) = &self.by {
            let verb = if self.kind == NoticeKind::Approved { "Approved" } else { "Rejected" };
            match self.note.as_deref().map(str::trim).filter(|n| !n.is_empty()) {
                Some(note) => b.push_str(&format!("{verb} by {by}: {note}\n")),
                None => b.push_str(&format!("{verb} by {by}.\n")),
            }
        }
        if !self.reasons.is_empty() {
            let why = if self.by.is_some() { "Why it went to review" } else { "Why" };
            b.push_str(&format!("\n{why}:\n"));
            for r in &self.reasons {
                b.push_str(&format!("  - {r}\n"));
            }
        }
        if self.kind == NoticeKind::InReview {
            let asked = if self.asked.is_empty() {
                "the provider's operators (no approvers are named for this service)".to_owned()
            } else {
                self.asked.iter().map(|a| person(a)).collect::<Vec<_>>().join(", ")
            };
            b.push_str(&format!("\nAsked to review: {asked}\n"));
            if let Some((when, then)) = &self.review_ends {
                b.push_str(&format!("Without an answer by {when}, {then}.\n"));
            }
        }
        if self.kind == NoticeKind::Revoked {
            b.push_str(
                "\nThe endpoint no longer reaches the service. If you still need it, ask the service's \
                 provider to allow your account again.\n",
            );
        }
        if matches!(self.kind, NoticeKind::Accepted | NoticeKind::Approved) {
            if self.dns_names.is_empty() {
                b.push_str("\nIts DNS names appear in lookup once EC2 reports them.\n");
            } else {
                b.push_str("\nDNS names:\n");
                for name in &self.dns_names {
                    b.push_str(&format!("  {name}\n"));
                }
            }
        }
        b.push_str(&format!(
            "\nFollow it: endpoint-gate endpoint {} --lookup-url <your Endpoint Gate lookup URL>\n",
            self.endpoint
        ));
        b
    }
}

/// How an approver or answerer reads to a consumer: an address or a Slack
/// user, never an ARN (it names the provider's account and role).
pub fn person(actor: &str) -> String {
    if let Some(email) = actor.strip_prefix("email:") {
        return email.to_owned();
    }
    if let Some(slack) = actor.strip_prefix("slack:") {
        return format!("Slack user {slack}");
    }
    if actor.starts_with("arn:") {
        let session = actor.rsplit('/').next().filter(|s| !s.is_empty() && !s.contains(':'));
        return match session {
            Some(s) => format!("an operator ({s})"),
            None => "an operator".to_owned(),
        };
    }
    actor.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decision::{Outcome, Rule};

    fn record(state: RequestState, reasons: Vec<Reason>) -> RequestRecord {
        RequestRecord {
            reasons,
            ..RequestRecord::new(
                "vpce-svc-0123456789abcdef0".parse().expect("service"),
                "vpce-0bbbbbbbbbbbbbbbb".parse().expect("endpoint"),
                "222222222222".parse().expect("account"),
                state,
                "endpoint-gate",
                Timestamp::from_unix(1_800_000_000),
            )
        }
    }

    fn contact(email: Option<&str>, channel: Option<&str>) -> Contact {
        Contact {
            account: "222222222222".parse().expect("account"),
            email: email.map(str::to_owned),
            slack_channel: channel.map(str::to_owned),
        }
    }

    #[test]
    fn a_contact_needs_a_valid_address() {
        assert!(contact(Some("team-b@example.com"), None).problems().is_empty());
        assert!(contact(None, Some("#team-b")).problems().is_empty());
        assert!(contact(None, None).problems()[0].contains("neither"));
        for bad in ["slack:U0123ABCD", "team-b", "a@b", "<x@example.com>", "x@example.com\n"] {
            let p = contact(Some(bad), None).problems();
            assert_eq!(p.len(), 1, "{bad:?} accepted");
            assert!(p[0].contains(&format!("{bad:?}")), "{p:?}");
        }
        let p = contact(None, Some("#Team B")).problems();
        assert!(p[0].starts_with("slack_channel") && p[0].contains("#Team B"), "{p:?}");
    }

    #[test]
    fn a_rejection_notice_holds_only_the_consumer_wording() {
        let other = Reason {
            rule: Rule::ConsumerOverlap,
            pushes: Some(Outcome::Reject),
            text: "consumer VPC 10.0.0.0/16 overlaps 10.0.0.0/16 of 333333333333 (vpce-0ccc) ".into(),
            consumer: Some("consumer VPC 10.0.0.0/16 overlaps another consumer's CIDR".into()),
        };
        // A record written before consumer wordings existed.
        let old = Reason {
            rule: Rule::Denied,
            pushes: Some(Outcome::Reject),
            text: "account 222222222222 is denied for all services by secops (offboarded with 444444444444)"
                .into(),
            consumer: None,
        };
        let n = Notice::about(&record(RequestState::Rejected, vec![other, old]), NoticeKind::Rejected, {
            Timestamp::from_unix(1_800_000_100)
        });
        let text = format!("{}\n{}", n.subject(), n.body());
        for secret in ["333333333333", "444444444444", "vpce-0ccc", "secops"] {
            assert!(!text.contains(secret), "{secret} leaked: {text}");
        }
        assert!(text.contains("overlaps another consumer's CIDR → reject"), "{text}");
        assert!(text.contains("was rejected"), "{text}");
    }

    #[test]
    fn a_review_notice_says_who_was_asked_until_when_and_how_to_follow() {
        let mut n = Notice::about(&record(RequestState::Review, vec![]), NoticeKind::InReview, {
            Timestamp::from_unix(1_800_000_000)
        });
        n.asked = vec!["netops@example.com".into(), "slack:U0123ABCD".into()];
        n.review_ends = Some((Timestamp::from_unix(1_800_259_200), "it stays pending".into()));
        let body = n.body();
        assert!(body.contains("Asked to review: netops@example.com, Slack user U0123ABCD"), "{body}");
        assert!(body.contains("Without an answer by 2027-01-18"), "{body}");
        assert!(body.contains("endpoint-gate endpoint vpce-0bbbbbbbbbbbbbbbb"), "{body}");
        assert!(!body.contains("DNS"), "{body}");
    }

    #[test]
    fn an_approval_names_the_person_their_reason_and_the_dns_names() {
        let mut rec = record(RequestState::Approved, vec![]);
        rec.actor = "email:ana@example.com".into();
        let mut n = Notice::about(&rec, NoticeKind::Approved, rec.decided_at);
        n.note = Some("payments onboarding, ticket 42".into());
        n.dns_names = vec!["vpce-0bbb-x.vpce-svc-0123.us-east-1.vpce.amazonaws.com".into()];
        let body = n.body();
        assert!(body.contains("Approved by ana@example.com: payments onboarding, ticket 42"), "{body}");
        assert!(body.contains("  vpce-0bbb-x.vpce-svc-0123.us-east-1.vpce.amazonaws.com"), "{body}");
        n.dns_names.clear();
        assert!(n.body().contains("appear in lookup"), "{}", n.body());
    }

    #[test]
    fn an_operator_is_named_by_session_never_by_arn() {
        assert_eq!(person("arn:aws:sts::111122223333:assumed-role/netops/ana"), "an operator (ana)");
        assert_eq!(person("arn:aws:iam::111122223333:root"), "an operator");
        assert_eq!(person("slack:U0123ABCD (ana)"), "Slack user U0123ABCD (ana)");
        assert_eq!(person("email:bo@example.com"), "bo@example.com");
    }
}
