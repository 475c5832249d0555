//! Shadow verdicts: one item per endpoint (the latest verdict of a
//! `mode: shadow` service), all in `gsi1` under `SHADOW` by service, so
//! the report is one query.

use gate_app::PortError;
use gate_core::{EndpointId, ServiceId, ShadowVerdict};
use serde::{Deserialize, Serialize};

use super::names::{Named, named};
use super::{BadAttribute, Item, Stored, decode, encode, key, parse, s};

/// The `gsi1` partition of every shadow verdict.
pub(crate) const SHADOW_PARTITION: &str = "SHADOW";

/// Written out: tests/infra reads the key prefixes from these formats.
pub(crate) fn shadow_key(endpoint: &EndpointId) -> Item {
    key(format!("SHADOW#{endpoint}"), "VERDICT")
}

/// The `gsi1sk` prefix of one service's verdicts.
pub(crate) fn shadow_service_prefix(service: &ServiceId) -> String {
    format!("{service}#")
}

#[derive(Serialize, Deserialize)]
pub(crate) struct ShadowItem {
    endpoint: String,
    service: String,
    owner: String,
    would: String,
    reasons: String,
    at: String,
}

impl Stored for ShadowItem {
    type Domain = ShadowVerdict;

    fn from_domain(v: &ShadowVerdict) -> Self {
        Self {
            endpoint: v.endpoint.to_string(),
            service: v.service.to_string(),
            owner: v.owner.to_string(),
            would: v.would.name().to_owned(),
            reasons: v.reasons.clone(),
            at: v.at.to_string(),
        }
    }

    fn into_domain(self) -> Result<ShadowVerdict, BadAttribute> {
        Ok(ShadowVerdict {
            endpoint: parse("endpoint", &self.endpoint)?,
            service: parse("service", &self.service)?,
            owner: parse("owner", &self.owner)?,
            would: named("would", &self.would)?,
            reasons: self.reasons,
            at: parse("at", &self.at)?,
        })
    }
}

pub(crate) fn shadow_item(v: &ShadowVerdict) -> Result<Item, PortError> {
    let mut item = encode::<ShadowItem>(v, shadow_key(&v.endpoint))?;
    item.insert("gsi1pk".into(), s(SHADOW_PARTITION));
    item.insert("gsi1sk".into(), s(format!("{}{}", shadow_service_prefix(&v.service), v.endpoint)));
    Ok(item)
}

pub(crate) fn shadow_from(item: Item) -> Result<ShadowVerdict, PortError> {
    decode::<ShadowItem>(item)
}

#[cfg(test)]
mod tests {
    use super::*;
    use gate_core::{Timestamp, Would};

    fn verdict() -> ShadowVerdict {
        ShadowVerdict {
            endpoint: "vpce-0123456789abcdef0".parse().expect("endpoint"),
            service: "vpce-svc-0abc1234def567890".parse().expect("service"),
            owner: "210000000001".parse().expect("account"),
            would: Would::Revoke,
            reasons: "account 210000000001 denied".into(),
            at: Timestamp::from_unix(1_800_000_000),
        }
    }

    #[test]
    fn a_verdict_reads_back_and_sits_under_its_service() {
        let item = shadow_item(&verdict()).expect("encodes");
        assert_eq!(item["pk"].as_s().ok().map(String::as_str), Some("SHADOW#vpce-0123456789abcdef0"));
        assert_eq!(
            item["gsi1sk"].as_s().ok().map(String::as_str),
            Some("vpce-svc-0abc1234def567890#vpce-0123456789abcdef0")
        );
        assert_eq!(shadow_from(item).expect("decodes"), verdict());
    }

    /// The store's "same verdict" condition compares with `as_str`.
    #[test]
    fn stored_names_are_the_domain_words() {
        for w in [Would::Accept, Would::Reject, Would::Review, Would::Revoke] {
            assert_eq!(w.name(), w.as_str());
        }
    }

    #[test]
    fn a_hand_edited_verdict_is_refused_by_attribute() {
        let mut item = shadow_item(&verdict()).expect("encodes");
        item.insert("would".into(), s("accept!"));
        let err = shadow_from(item).expect_err("refused");
        assert!(err.chain().contains("would"), "{}", err.chain());
    }
}
