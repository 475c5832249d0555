//! The endpoint services the policy file manages: one item, written by
//! `apply`, read once per invocation by the functions.

use gate_core::ServiceId;
use serde::{Deserialize, Serialize};

use super::{BadAttribute, Item, Stored, key, parse};

const LIST: &str = "managed";

pub(crate) fn managed_services_key() -> Item {
    key(format!("SERVICES#{LIST}"), "SERVICES")
}

#[derive(Serialize, Deserialize)]
pub(crate) struct ManagedServicesItem {
    services: Vec<String>,
}

impl Stored for ManagedServicesItem {
    type Domain = Vec<ServiceId>;

    fn from_domain(services: &Vec<ServiceId>) -> Self {
        Self { services: services.iter().map(ToString::to_string).collect() }
    }

    /// A bad id fails the whole read: the caller then decides none of them.
    fn into_domain(self) -> Result<Vec<ServiceId>, BadAttribute> {
        self.services.iter().map(|s| parse("services", s)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::items::{decode, encode, s};

    #[test]
    fn the_list_round_trips_and_a_bad_id_fails_the_read() {
        let list: Vec<ServiceId> = vec!["vpce-svc-0abc1234".parse().expect("id")];
        let item = encode::<ManagedServicesItem>(&list, managed_services_key()).expect("encode");
        assert_eq!(item.get("pk"), Some(&s("SERVICES#managed")));
        assert_eq!(decode::<ManagedServicesItem>(item.clone()).expect("decode"), list);
        let mut bad = item;
        bad.insert(
            "services".into(),
            aws_sdk_dynamodb::types::AttributeValue::L(vec![s("vpce-svc-0abc1234"), s("*")]),
        );
        assert!(decode::<ManagedServicesItem>(bad).is_err());
    }
}
