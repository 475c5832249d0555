//! Request records: one item per endpoint, in `gsi1` by service and state
//! so that a service's accepted consumers are one query per state.

use gate_app::PortError;
use gate_core::{EndpointId, Reason, RequestRecord, RequestState, ServiceId, SlackMessage};
use serde::{Deserialize, Serialize};

use super::names::{Named, named, named_opt};
use super::{BadAttribute, Item, Stored, decode, encode, key, parse, parse_all, parse_opt, s};

/// Whether an item is a request (its partition is `REQUEST#…`).
pub(crate) fn is_request(item: &Item) -> bool {
    item.get("pk").and_then(|v| v.as_s().ok()).is_some_and(|pk| pk.starts_with(REQUEST_PREFIX))
}

const REQUEST_PREFIX: &str = "REQUEST#";

/// Written out (not from `REQUEST_PREFIX`): tests/infra reads the template's
/// key prefixes from these formats; a unit test keeps the two the same.
pub(crate) fn request_key(endpoint: &EndpointId) -> Item {
    key(format!("REQUEST#{endpoint}"), "REQUEST")
}

/// The `gsi1` partition of a service's requests.
pub(crate) fn service_partition(service: &ServiceId) -> String {
    format!("SERVICE#{service}")
}

/// The `gsi1sk` prefix of a service's requests in `state`.
pub(crate) fn state_prefix(state: RequestState) -> String {
    format!("{}#", state.name())
}

#[derive(Serialize, Deserialize)]
pub(crate) struct RequestItem {
    service: String,
    endpoint: String,
    owner: String,
    state: String,
    reasons: Vec<ReasonItem>,
    consumer_cidrs: Vec<String>,
    /// Absent in records written before cross-region consumers: they keep their bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    region: Option<String>,
    actor: String,
    decided_at: String,
    acted_at: Option<String>,
    notified_at: Option<String>,
    /// Absent in records written before reminders.
    #[serde(default)]
    reminders: u32,
    #[serde(default)]
    expired_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    slack_message: Option<SlackItem>,
    version: u64,
}

#[derive(Serialize, Deserialize)]
struct ReasonItem {
    rule: String,
    pushes: Option<String>,
    text: String,
    /// Absent in records written before reasons had a consumer wording.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    consumer: Option<String>,
}

#[derive(Serialize, Deserialize)]
struct SlackItem {
    channel: String,
    ts: String,
}

impl Stored for RequestItem {
    type Domain = RequestRecord;

    fn from_domain(r: &RequestRecord) -> Self {
        let time = |t: Option<gate_core::Timestamp>| t.map(|t| t.to_string());
        Self {
            service: r.service.to_string(),
            endpoint: r.endpoint.to_string(),
            owner: r.owner.to_string(),
            state: r.state.name().to_owned(),
            reasons: r
                .reasons
                .iter()
                .map(|x| ReasonItem {
                    rule: x.rule.name().to_owned(),
                    pushes: x.pushes.map(|o| o.name().to_owned()),
                    text: x.text.clone(),
                    consumer: x.consumer.clone(),
                })
                .collect(),
            consumer_cidrs: r.consumer_cidrs.iter().map(ToString::to_string).collect(),
            region: r.region.as_ref().map(ToString::to_string),
            actor: r.actor.clone(),
            decided_at: r.decided_at.to_string(),
            acted_at: time(r.acted_at),
            notified_at: time(r.notified_at),
            reminders: r.reminders,
            expired_at: time(r.expired_at),
            slack_message: r
                .slack_message
                .as_ref()
                .map(|m| SlackItem { channel: m.channel.clone(), ts: m.ts.clone() }),
            version: r.version,
        }
    }

    fn into_domain(self) -> Result<RequestRecord, BadAttribute> {
        let reasons = self
            .reasons
            .into_iter()
            .map(|x| {
                Ok(Reason {
                    rule: named("reasons.rule", &x.rule)?,
                    pushes: named_opt("reasons.pushes", x.pushes.as_deref())?,
                    text: x.text,
                    consumer: x.consumer,
                })
            })
            .collect::<Result<_, BadAttribute>>()?;
        Ok(RequestRecord {
            service: parse("service", &self.service)?,
            endpoint: parse("endpoint", &self.endpoint)?,
            owner: parse("owner", &self.owner)?,
            state: named("state", &self.state)?,
            reasons,
            consumer_cidrs: parse_all("consumer_cidrs", &self.consumer_cidrs)?,
            region: parse_opt("region", self.region.as_deref())?,
            actor: self.actor,
            decided_at: parse("decided_at", &self.decided_at)?,
            acted_at: parse_opt("acted_at", self.acted_at.as_deref())?,
            notified_at: parse_opt("notified_at", self.notified_at.as_deref())?,
            reminders: self.reminders,
            expired_at: parse_opt("expired_at", self.expired_at.as_deref())?,
            slack_message: self.slack_message.map(|m| SlackMessage { channel: m.channel, ts: m.ts }),
            version: self.version,
        })
    }
}

pub(crate) fn request_item(record: &RequestRecord) -> Result<Item, PortError> {
    let mut item = encode::<RequestItem>(record, request_key(&record.endpoint))?;
    item.insert("gsi1pk".into(), s(service_partition(&record.service)));
    item.insert("gsi1sk".into(), s(format!("{}{}", state_prefix(record.state), record.endpoint)));
    Ok(item)
}

pub(crate) fn request_from(item: Item) -> Result<RequestRecord, PortError> {
    decode::<RequestItem>(item)
}
