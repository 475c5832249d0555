//! Consumer contacts and the claims of decision notices.
//!
//! | item          | pk                  | sk        | gsi1pk     | gsi1sk               |
//! |---------------|---------------------|-----------|------------|----------------------|
//! | contact       | `CONTACT#<account>` | `CONTACT` | `CONTACTS` | `CONTACT#<account>`  |
//! | notice claim  | `NOTICE#<vpce>`     | `<kind>`  |            |                      |
//!
//! Contacts sit under their own `gsi1pk`, not `CONFIG`, so code from before
//! contacts existed never reads one as an allow entry. A notice claim
//! carries the table's TTL attribute: it only has to outlive the
//! redeliveries of one event. A claim whose notice could not be sent is
//! marked `released` rather than deleted: nothing in the table is deleted
//! by the functions (the audit is append-only, and IAM says so).

use aws_sdk_dynamodb::types::AttributeValue;
use gate_app::PortError;
use gate_app::ports::Versioned;
use gate_core::{AccountId, Contact, EndpointId, NoticeKind, Timestamp};
use serde::{Deserialize, Serialize};

use super::{BadAttribute, Item, Stored, decode, encode, key, parse, s};
use crate::table::TABLE;

pub(crate) const CONTACTS: &str = "CONTACTS";

/// How long a notice's claim is kept: longer than any redelivery.
pub(crate) const NOTICE_CLAIM_SECS: i64 = 7 * 86_400;

pub(crate) fn contact_key(account: AccountId) -> Item {
    key(format!("CONTACT#{account}"), "CONTACT")
}

pub(crate) fn notice_key(endpoint: &EndpointId, kind: NoticeKind) -> Item {
    key(format!("NOTICE#{endpoint}"), kind.as_str())
}

#[derive(Serialize, Deserialize)]
pub(crate) struct ContactItem {
    account: String,
    #[serde(default)]
    email: Option<String>,
    #[serde(default)]
    slack_channel: Option<String>,
    #[serde(default)]
    revision: u64,
}

impl Stored for ContactItem {
    type Domain = Versioned<Contact>;

    fn from_domain(v: &Versioned<Contact>) -> Self {
        Self {
            account: v.value.account.to_string(),
            email: v.value.email.clone(),
            slack_channel: v.value.slack_channel.clone(),
            revision: v.revision,
        }
    }

    fn into_domain(self) -> Result<Versioned<Contact>, BadAttribute> {
        let value = Contact {
            account: parse("account", &self.account)?,
            email: self.email,
            slack_channel: self.slack_channel,
        };
        // A hand-edited address is checked as the policy file checks it:
        // a notice must never go to something that is not an address.
        if let Some(problem) = value.problems().into_iter().next() {
            return Err(BadAttribute { attribute: String::new(), why: problem });
        }
        Ok(Versioned { value, revision: self.revision })
    }
}

pub(crate) fn contact_item(contact: &Contact, revision: u64) -> Result<Item, PortError> {
    let versioned = Versioned { value: contact.clone(), revision };
    let mut item = encode::<ContactItem>(&versioned, contact_key(contact.account))?;
    item.insert("gsi1pk".into(), s(CONTACTS));
    item.insert("gsi1sk".into(), s(format!("CONTACT#{}", contact.account)));
    Ok(item)
}

pub(crate) fn contact_from(item: Item) -> Result<Versioned<Contact>, PortError> {
    decode::<ContactItem>(item)
}

/// The claim that this endpoint's notice of this kind goes out (or, when
/// `released`, that it may be claimed again), expiring through the TTL.
pub(crate) fn notice_item(endpoint: &EndpointId, kind: NoticeKind, now: Timestamp, released: bool) -> Item {
    let mut item = notice_key(endpoint, kind);
    item.insert("claimed_at".into(), s(now.to_string()));
    item.insert("released".into(), AttributeValue::Bool(released));
    let expires = now.plus_secs(NOTICE_CLAIM_SECS).unix();
    item.insert(TABLE.ttl_attribute.into(), AttributeValue::N(expires.to_string()));
    item
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hand_edited_contact_that_is_not_an_address_is_refused_naming_the_item() {
        let contact = Contact {
            account: "220000000002".parse().expect("account"),
            email: Some("team-b@example.com".into()),
            slack_channel: None,
        };
        let mut item = contact_item(&contact, 1).expect("encodes");
        assert_eq!(contact_from(item.clone()).expect("reads").value, contact);
        item.insert("email".into(), s("team-b@example.com, mallory@evil.example"));
        let err = contact_from(item).expect_err("refused");
        assert!(err.chain().contains("CONTACT#220000000002"), "{}", err.chain());
        assert!(err.chain().contains("mallory@evil.example"), "{}", err.chain());
    }

    #[test]
    fn a_notice_claim_expires_through_the_tables_ttl() {
        let endpoint: EndpointId = "vpce-0123456789abcdef0".parse().expect("endpoint");
        let now = Timestamp::from_unix(1_800_000_000);
        let item = notice_item(&endpoint, NoticeKind::InReview, now, false);
        assert_eq!(item["pk"], s("NOTICE#vpce-0123456789abcdef0"));
        assert_eq!(item["sk"], s("in_review"));
        let ttl = item[TABLE.ttl_attribute].as_n().expect("a number");
        assert_eq!(ttl, &(1_800_000_000 + NOTICE_CLAIM_SECS).to_string());
    }
}
