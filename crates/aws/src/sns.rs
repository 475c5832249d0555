//! Review notifications on the approvers' SNS topic: a subject and body a
//! person reads in email, and attributes that subscriptions filter on.
//!
//! A signed link is a bearer token for its approver, and SNS delivers a
//! message to every subscription whose filter policy matches (a subscription
//! without one gets everything):
//! <https://docs.aws.amazon.com/sns/latest/dg/sns-message-filtering.html>.
//! So every email is published once per approver, carries only that
//! approver's links, and is tagged `approver = <address>`; each approver's
//! subscription filters on its own address (`endpoint-gate apply` makes
//! them so), and a subscription that filters on nothing is an alarm.

use async_trait::async_trait;
use aws_sdk_sns::Client;
use aws_sdk_sns::types::MessageAttributeValue;
use gate_app::PortError;
use gate_app::ports::{Audience, Notifier, Nudge, Posted};
use gate_core::link::{Link, LinkAction};
use gate_core::{EndpointId, RequestRecord, Timestamp};

use crate::OnFirstUse;
use crate::error::port_error;
use crate::secrets::LinkKeys;

#[derive(Debug, Clone)]
pub struct SnsNotifier {
    client: OnFirstUse<Client>,
    topic_arn: String,
    links: Option<EmailLinks>,
}

/// Where approval links point and how they are signed.
#[derive(Debug, Clone)]
pub struct EmailLinks {
    /// The respond function's URL.
    pub base_url: String,
    pub keys: LinkKeys,
    /// How long a link stays valid after the review was requested.
    pub ttl_secs: i64,
}

impl EmailLinks {
    /// Approve and reject links for one approver.
    pub fn for_approver(&self, endpoint: &EndpointId, approver: &str, now: Timestamp) -> [String; 2] {
        [LinkAction::Approve, LinkAction::Reject].map(|action| {
            let link = Link {
                endpoint: endpoint.clone(),
                action,
                approver: approver.to_owned(),
                expires: now.plus_secs(self.ttl_secs),
            };
            format!("{}/link?{}", self.base_url.trim_end_matches('/'), link.query(&self.keys.current))
        })
    }
}

/// The message attribute every approver's subscription filters on.
pub const APPROVER_ATTRIBUTE: &str = "approver";

impl SnsNotifier {
    /// One message to one approver: only their subscription receives it.
    async fn publish(
        &self,
        rec: &RequestRecord,
        approver: &str,
        (subject, body): (String, String),
        event: &str,
    ) -> Result<(), PortError> {
        self.client
            .get()
            .publish()
            .topic_arn(&self.topic_arn)
            .subject(subject)
            .message(body)
            .message_attributes(APPROVER_ATTRIBUTE, attr(approver)?)
            .message_attributes("event", attr(event)?)
            .message_attributes("service_id", attr(rec.service.as_str())?)
            .message_attributes("endpoint_id", attr(rec.endpoint.as_str())?)
            .message_attributes("account_id", attr(rec.owner.as_str())?)
            .send()
            .await
            .map_err(|e| port_error(format!("publishing the {event} of {} failed", rec.endpoint), e))?;
        Ok(())
    }

    pub fn new(client: impl Into<OnFirstUse<Client>>, topic_arn: String) -> Self {
        Self { client: client.into(), topic_arn, links: None }
    }

    /// Adds each approver's own Approve/Reject links to their email.
    pub fn with_links(mut self, links: EmailLinks) -> Self {
        self.links = Some(links);
        self
    }
}

/// Subject and body of the review email to one approver, with only that
/// approver's links. Kept apart from the SNS call so the words can be read
/// and tested. Links are signed from when this notice goes out (a reminder
/// carries fresh ones).
pub fn review_message(
    rec: &RequestRecord,
    to: &Audience,
    approver: &str,
    links: Option<&EmailLinks>,
) -> (String, String) {
    // SNS subjects are limited to 100 characters.
    let subject: String = format!("Endpoint Gate: review {} from account {}", rec.endpoint, rec.owner)
        .chars()
        .take(100)
        .collect();
    let mut body = String::new();
    body.push_str(&format!(
        "Account {} asks to connect endpoint {} to your endpoint service {}.\n\n",
        rec.owner, rec.endpoint, rec.service
    ));
    body.push_str("Endpoint Gate did not accept it automatically because:\n");
    for reason in &rec.reasons {
        body.push_str(&format!("  - {reason}\n"));
    }
    if let Some(region) = &rec.region {
        body.push_str(&format!("\nConsumer region: {region}\n"));
    }
    if !rec.consumer_cidrs.is_empty() {
        let cidrs: Vec<String> = rec.consumer_cidrs.iter().map(ToString::to_string).collect();
        let gap = if rec.region.is_some() { "" } else { "\n" };
        body.push_str(&format!("{gap}Consumer VPC CIDRs: {}\n", cidrs.join(", ")));
    }
    body.push_str(&format!("\nDecided at {} by {}.\n", rec.decided_at, rec.actor));
    if !to.approvers.is_empty() {
        body.push_str(&format!("Approvers for this service: {}.\n", to.approvers.join(", ")));
    }
    if let Some(links) = links {
        let signed_at = rec.notified_at.unwrap_or(rec.decided_at);
        let [approve, reject] = links.for_approver(&rec.endpoint, approver, signed_at);
        body.push_str(&format!(
            "\nYour links ({approver}; they are yours alone, do not forward them):\n  Approve: {approve}\n  \
             Reject:  {reject}\n"
        ));
        body.push_str("Each link opens a page that asks you to confirm; nothing happens until you do.\n");
    }
    body.push_str(
        "\nWhat happens next: the connection stays pending until an approver accepts or rejects it \
         (Endpoint Gate approval link or Slack, the CLI `endpoint-gate approve`, or the VPC console). \
         The consumer can see that it awaits review, and why.\n",
    );
    (subject, body)
}

fn nudge_word(nudge: Nudge) -> &'static str {
    match nudge {
        Nudge::Reminder(_) => "review_reminder",
        Nudge::ExpiredRejected => "review_expired_rejected",
        Nudge::ExpiredKeptPending => "review_expired_pending",
        Nudge::Revoked => "revoked",
    }
}

/// Subject and body of a reminder or an expiry notice.
pub fn nudge_message(
    rec: &RequestRecord,
    to: &Audience,
    approver: &str,
    nudge: Nudge,
    links: Option<&EmailLinks>,
) -> (String, String) {
    match nudge {
        Nudge::Reminder(n) => {
            let (subject, body) = review_message(rec, to, approver, links);
            let subject: String = format!("Reminder {n}: {subject}").chars().take(100).collect();
            (subject, format!("Reminder {n}: this request still waits for an answer.\n\n{body}"))
        }
        Nudge::ExpiredRejected => (
            format!("Endpoint Gate: {} rejected, no answer in time", rec.endpoint)
                .chars()
                .take(100)
                .collect(),
            format!(
                "Nobody answered the review of endpoint {} (account {}, service {}) in time, so Endpoint Gate \
                 rejected the connection as the service's policy says. The consumer can request again.\n",
                rec.endpoint, rec.owner, rec.service
            ),
        ),
        Nudge::ExpiredKeptPending => (
            format!("Endpoint Gate: {} still pending, review time is over", rec.endpoint)
                .chars()
                .take(100)
                .collect(),
            format!(
                "Nobody answered the review of endpoint {} (account {}, service {}) in time. As the service's \
                 policy says, the connection stays pending and no more reminders are sent; an answer still counts.\n",
                rec.endpoint, rec.owner, rec.service
            ),
        ),
        Nudge::Revoked => {
            let mut body = format!(
                "Endpoint Gate revoked endpoint {} of account {}: its connection to your endpoint service {} was \
                 available, and the service's policy (revoke: reject) rejects connections whose allowance is \
                 gone.\n\nWhy:\n",
                rec.endpoint, rec.owner, rec.service
            );
            for reason in &rec.reasons {
                body.push_str(&format!("  - {reason}\n"));
            }
            body.push_str(&format!(
                "\nRevoked at {} by {}. The consumer's contact is told. Nothing to answer; to admit the account \
                 again, change the policy file and apply it.\n",
                rec.decided_at, rec.actor
            ));
            let subject = format!("Endpoint Gate: {} of account {} revoked", rec.endpoint, rec.owner);
            (subject.chars().take(100).collect(), body)
        }
    }
}

/// A string message attribute, as subscription filter policies match them.
pub(crate) fn attr(value: &str) -> Result<MessageAttributeValue, PortError> {
    MessageAttributeValue::builder()
        .data_type("String")
        .string_value(value)
        .build()
        .map_err(|e| PortError::permanent("building an SNS message attribute failed", e))
}

/// Sends to every email approver; an approver left out by a failure is
/// retried with the others (a second copy beats a missing one).
#[async_trait]
impl Notifier for SnsNotifier {
    async fn review_needed(&self, rec: &RequestRecord, to: &Audience) -> Result<Posted, PortError> {
        for approver in &to.email {
            let message = review_message(rec, to, approver, self.links.as_ref());
            self.publish(rec, approver, message, "review_needed").await?;
        }
        Ok(Posted::default())
    }

    async fn nudge(&self, rec: &RequestRecord, to: &Audience, nudge: Nudge) -> Result<(), PortError> {
        for approver in &to.email {
            let message = nudge_message(rec, to, approver, nudge, self.links.as_ref());
            self.publish(rec, approver, message, nudge_word(nudge)).await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gate_core::{RequestState, Scope, ServicePolicy};

    const KEY: &[u8] = b"link-key-for-the-tests-0123456789";

    fn links() -> EmailLinks {
        EmailLinks {
            base_url: "https://respond.example.invalid".into(),
            keys: LinkKeys { current: KEY.to_vec(), previous: None },
            ttl_secs: 86_400,
        }
    }

    fn review() -> RequestRecord {
        RequestRecord {
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
        let mut p = ServicePolicy::cautious(Scope::Any);
        p.approvers = vec!["ana@example.com".into(), "bo@example.com".into(), "slack:U0123ABCD".into()];
        Audience::of(Some(&p))
    }

    /// The approve link of a message, verified as respond would at `at`.
    fn verify_approve(body: &str, at: Timestamp) -> Result<Link, String> {
        let query = body
            .lines()
            .find_map(|l| l.trim().strip_prefix("Approve: "))
            .and_then(|url| url.split_once("/link?"))
            .map(|(_, q)| q.to_owned())
            .unwrap_or_default();
        let (link, sig) = gate_inputs::link::parse(&query).map_err(|e| e.to_string())?;
        link.verify(&[KEY], &sig, at).map_err(|e| e.to_string())?;
        Ok(link)
    }

    #[test]
    fn each_email_carries_its_own_approvers_links_only() {
        let (rec, to) = (review(), audience());
        for (me, other) in [("ana@example.com", "bo@example.com"), ("bo@example.com", "ana@example.com")] {
            let (_, body) = review_message(&rec, &to, me, Some(&links()));
            assert_eq!(body.matches("/link?").count(), 2, "{body}");
            assert!(body.contains(&format!("by={me}")), "{body}");
            assert!(!body.contains(&format!("by={other}")), "{me}'s email holds {other}'s link: {body}");
            assert!(!body.contains("by=slack"), "{body}");
            let link = verify_approve(&body, rec.decided_at).expect("verifies");
            assert_eq!(link.approver, me);
        }
    }

    #[test]
    fn the_review_names_the_consumers_region_when_it_is_known() {
        let (rec, to) = (review(), audience());
        let (_, body) = review_message(&rec, &to, "ana@example.com", None);
        assert!(body.contains("Consumer region: eu-west-1\n"), "{body}");
        let before = RequestRecord { region: None, ..rec };
        let (_, body) = review_message(&before, &to, "ana@example.com", None);
        assert!(!body.contains("region"), "a record from before regions says nothing of one: {body}");
    }

    #[test]
    fn a_reminders_links_are_signed_when_it_is_sent() {
        let mut rec = review();
        // Two days after the review, the third reminder: the first links expired.
        let later = rec.decided_at.plus_secs(2 * 86_400);
        let (_, first) = review_message(&rec, &audience(), "ana@example.com", Some(&links()));
        assert!(verify_approve(&first, later).is_err(), "the first email's links expired");
        rec.notified_at = Some(later);
        rec.reminders = 3;
        let (subject, body) =
            nudge_message(&rec, &audience(), "ana@example.com", Nudge::Reminder(3), Some(&links()));
        assert!(subject.starts_with("Reminder 3:"), "{subject}");
        let link = verify_approve(&body, later.plus_secs(3600)).expect("a reminder's link verifies");
        assert_eq!(link.expires, later.plus_secs(86_400));
    }

    #[test]
    fn a_revocation_tells_the_approvers_why_and_carries_no_links() {
        let mut rec = review();
        rec.state = RequestState::Revoked;
        rec.reasons = vec![gate_core::Reason {
            rule: gate_core::Rule::Denied,
            pushes: None,
            text: "account 210000000001 is denied for all services by secops (off-boarded)".into(),
            consumer: None,
        }];
        let (subject, body) =
            nudge_message(&rec, &audience(), "ana@example.com", Nudge::Revoked, Some(&links()));
        assert_eq!(subject, "Endpoint Gate: vpce-0123456789abcdef0 of account 210000000001 revoked");
        assert!(body.contains("revoke: reject"), "{body}");
        assert!(
            body.contains("  - account 210000000001 is denied for all services by secops (off-boarded)"),
            "{body}"
        );
        assert!(!body.contains("/link?"), "nothing to answer: {body}");
    }
}
