//! What apply last set as a service's allowed principals: a digest and a
//! count, not the list (it may hold thousands of ARNs). All of them sit
//! under one `gsi1pk`, so the sweep reads them in one query.

use gate_app::ports::AppliedPrincipals;
use serde::{Deserialize, Serialize};

use super::{BadAttribute, Item, Stored, key, parse, s};

pub(crate) const APPLIED_PRINCIPALS: &str = "PRINCIPALS";

pub(crate) fn principals_key(service: &gate_core::ServiceId) -> Item {
    key(format!("PRINCIPALS#{service}"), "APPLIED")
}

/// The key and the index entry of a service's record.
pub(crate) fn principals_item_keys(service: &gate_core::ServiceId) -> Item {
    let mut item = principals_key(service);
    item.insert("gsi1pk".into(), s(APPLIED_PRINCIPALS));
    item.insert("gsi1sk".into(), s(service.as_str()));
    item
}

#[derive(Serialize, Deserialize)]
pub(crate) struct AppliedItem {
    service: String,
    digest: String,
    count: u64,
    applied_at: String,
}

impl Stored for AppliedItem {
    type Domain = AppliedPrincipals;

    fn from_domain(a: &AppliedPrincipals) -> Self {
        Self {
            service: a.service.to_string(),
            digest: a.digest.clone(),
            count: a.count as u64,
            applied_at: a.applied_at.to_string(),
        }
    }

    fn into_domain(self) -> Result<AppliedPrincipals, BadAttribute> {
        Ok(AppliedPrincipals {
            service: parse("service", &self.service)?,
            digest: self.digest,
            count: usize::try_from(self.count).unwrap_or(usize::MAX),
            applied_at: parse("applied_at", &self.applied_at)?,
        })
    }
}
