//! A service's claim guard, for `unique_consumer_cidrs`: one item per
//! service (gate_app::cidr_claims says why).

use gate_app::cidr_claims::{CidrClaims, ClaimedCidrs};
use gate_core::ServiceId;
use serde::{Deserialize, Serialize};

use super::{BadAttribute, Item, Stored, key, parse, parse_all};

/// Written out: tests/infra reads the key prefixes from these formats.
pub(crate) fn cidr_claims_key(service: &ServiceId) -> Item {
    key(format!("CIDRS#{service}"), "CLAIMS")
}

#[derive(Serialize, Deserialize)]
pub(crate) struct CidrClaimsItem {
    version: u64,
    recent: Vec<ClaimItem>,
}

#[derive(Serialize, Deserialize)]
struct ClaimItem {
    endpoint: String,
    owner: String,
    cidrs: Vec<String>,
    at: String,
}

impl Stored for CidrClaimsItem {
    type Domain = CidrClaims;

    fn from_domain(c: &CidrClaims) -> Self {
        let recent = c
            .recent
            .iter()
            .map(|r| ClaimItem {
                endpoint: r.endpoint.to_string(),
                owner: r.owner.to_string(),
                cidrs: r.cidrs.iter().map(ToString::to_string).collect(),
                at: r.at.to_string(),
            })
            .collect();
        Self { version: c.version, recent }
    }

    fn into_domain(self) -> Result<CidrClaims, BadAttribute> {
        let recent = self
            .recent
            .into_iter()
            .map(|r| {
                Ok(ClaimedCidrs {
                    endpoint: parse("recent.endpoint", &r.endpoint)?,
                    owner: parse("recent.owner", &r.owner)?,
                    cidrs: parse_all("recent.cidrs", &r.cidrs)?,
                    at: parse("recent.at", &r.at)?,
                })
            })
            .collect::<Result<_, BadAttribute>>()?;
        Ok(CidrClaims { version: self.version, recent })
    }
}

#[cfg(test)]
mod tests {
    use aws_sdk_dynamodb::types::AttributeValue;
    use gate_core::Timestamp;

    use super::*;
    use crate::items::{decode, encode};

    fn claims() -> CidrClaims {
        CidrClaims::default().after(ClaimedCidrs {
            endpoint: "vpce-0123456789abcdef0".parse().expect("endpoint"),
            owner: "111122223333".parse().expect("account"),
            cidrs: vec!["10.0.0.0/16".parse().expect("cidr"), "192.168.4.0/24".parse().expect("cidr")],
            at: Timestamp::from_unix(1_800_000_000),
        })
    }

    #[test]
    fn a_guard_reads_back_as_written() {
        let service: ServiceId = "vpce-svc-0abc1234def567890".parse().expect("service");
        let item = encode::<CidrClaimsItem>(&claims(), cidr_claims_key(&service)).expect("encodes");
        assert_eq!(decode::<CidrClaimsItem>(item).expect("decodes"), claims());
    }

    #[test]
    fn a_bad_claim_is_named_not_read_as_no_claim() {
        let service: ServiceId = "vpce-svc-0abc1234def567890".parse().expect("service");
        let mut item = encode::<CidrClaimsItem>(&claims(), cidr_claims_key(&service)).expect("encodes");
        // A hand edit: the first claim's CIDRs, one no parser accepts.
        let recent = item.get_mut("recent").expect("recent");
        let mut list = recent.as_l().expect("a list").clone();
        let mut first = list[0].as_m().expect("a map").clone();
        first.insert("cidrs".into(), AttributeValue::L(vec![AttributeValue::S("10.0.0.0/33".into())]));
        list[0] = AttributeValue::M(first);
        *recent = AttributeValue::L(list);
        let err = decode::<CidrClaimsItem>(item).expect_err("a CIDR of /33 is refused");
        let text = err.chain();
        assert!(text.contains("CIDRS#vpce-svc-0abc1234def567890"), "{text}");
        assert!(text.contains("recent.cidrs"), "{text}");
    }
}
