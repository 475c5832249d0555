//! Identifiers that validate on parse, so that nothing downstream has to
//! wonder whether an account id has twelve digits.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Why a string is not a valid identifier. Names the kind and the input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{input:?} is not a valid {kind}: {why}")]
pub struct IdError {
    pub kind: &'static str,
    pub input: String,
    pub why: &'static str,
}

impl IdError {
    pub(crate) fn new(kind: &'static str, input: &str, why: &'static str) -> Self {
        // Hostile input can be huge; the message keeps a readable prefix.
        let input: String = input.chars().take(80).collect();
        Self { kind, input, why }
    }
}

/// A 12-digit AWS account id.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AccountId([u8; 12]);

impl AccountId {
    pub fn as_str(&self) -> &str {
        // Only ASCII digits are ever stored.
        std::str::from_utf8(&self.0).unwrap_or("????????????")
    }
}

impl FromStr for AccountId {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, IdError> {
        let bytes = s.as_bytes();
        if bytes.len() != 12 {
            return Err(IdError::new("account id", s, "must be exactly 12 digits"));
        }
        if !bytes.iter().all(u8::is_ascii_digit) {
            return Err(IdError::new("account id", s, "must contain only digits"));
        }
        let mut out = [0u8; 12];
        out.copy_from_slice(bytes);
        Ok(Self(out))
    }
}

/// Validates `prefix` followed by 8 or 17 lowercase hex digits, the two
/// lengths AWS has used for resource ids.
fn check_hex_id(kind: &'static str, prefix: &str, s: &str) -> Result<(), IdError> {
    let Some(rest) = s.strip_prefix(prefix) else {
        return Err(IdError::new(kind, s, "has the wrong prefix"));
    };
    if rest.len() != 8 && rest.len() != 17 {
        return Err(IdError::new(kind, s, "must end in 8 or 17 hex digits"));
    }
    if !rest.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
        return Err(IdError::new(kind, s, "must end in lowercase hex digits"));
    }
    Ok(())
}

macro_rules! hex_id {
    ($(#[$doc:meta])* $name:ident, $kind:literal, $prefix:literal) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(String);

        impl $name {
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl FromStr for $name {
            type Err = IdError;
            fn from_str(s: &str) -> Result<Self, IdError> {
                check_hex_id($kind, $prefix, s)?;
                Ok(Self(s.to_owned()))
            }
        }
    };
}

hex_id!(
    /// An endpoint service id, `vpce-svc-…`.
    ServiceId,
    "endpoint service id",
    "vpce-svc-"
);
hex_id!(
    /// A VPC endpoint id, `vpce-…` (never a service id).
    EndpointId,
    "endpoint id",
    "vpce-"
);

/// Checks `prefix` followed by `min..=max` lowercase letters or digits.
fn check_alnum(s: &str, prefix: &str, min: usize, max: usize) -> bool {
    s.strip_prefix(prefix).is_some_and(|rest| {
        (min..=max).contains(&rest.len())
            && rest.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
    })
}

/// An organizational unit id, `ou-<root part>-<unit part>`: the pattern
/// `^ou-[0-9a-z]{4,32}-[a-z0-9]{8,32}$` from the Organizations API
/// reference (`OrganizationalUnit.Id`).
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct OuId(String);

impl OuId {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for OuId {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, IdError> {
        let valid = s
            .strip_prefix("ou-")
            .and_then(|rest| rest.split_once('-'))
            .is_some_and(|(root, unit)| check_alnum(root, "", 4, 32) && check_alnum(unit, "", 8, 32));
        if valid {
            Ok(Self(s.to_owned()))
        } else {
            Err(IdError::new("OU id", s, "must look like ou-ab12-cd34ef56 (lowercase letters and digits)"))
        }
    }
}

/// An organization id, `o-` and 10 to 32 lowercase letters or digits
/// (`^o-[a-z0-9]{10,32}$`, Organizations API reference, `Organization.Id`).
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct OrgId(String);

impl OrgId {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for OrgId {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, IdError> {
        if check_alnum(s, "o-", 10, 32) {
            Ok(Self(s.to_owned()))
        } else {
            Err(IdError::new("organization id", s, "must be o- and 10 to 32 lowercase letters or digits"))
        }
    }
}

/// An AWS Region name such as `eu-west-1` or `us-gov-west-1`. A region
/// reaches the gate as data (EC2's `VpcEndpointRegion`, a policy file) and
/// becomes part of an endpoint URL, so only the shape AWS uses passes: a
/// two-letter prefix, one to three lowercase words, and a number.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Region(String);

impl Region {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for Region {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, IdError> {
        let parts: Vec<&str> = s.split('-').collect();
        let valid = s.len() <= 32
            && (3..=5).contains(&parts.len())
            && parts.first().is_some_and(|p| p.len() == 2 && p.bytes().all(|b| b.is_ascii_lowercase()))
            && parts
                .last()
                .is_some_and(|p| (1..=2).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_digit()))
            && parts[1..parts.len() - 1]
                .iter()
                .all(|p| (2..=12).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_lowercase()));
        if valid {
            Ok(Self(s.to_owned()))
        } else {
            Err(IdError::new("region", s, "must look like eu-west-1 (lowercase words and a number)"))
        }
    }
}

/// Who an allow entry names: one account, every account in an OU and the
/// OUs below it, or every account in the organization. Serialized as
/// `{"account": "…"}`, `{"ou": "…"}` or `{"organization": "…"}`, so that
/// flattened into an entry it reads as the policy file writes it.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Principal {
    Account(AccountId),
    Ou(OuId),
    Organization(OrgId),
}

impl Principal {
    pub fn as_str(&self) -> &str {
        match self {
            Principal::Account(a) => a.as_str(),
            Principal::Ou(o) => o.as_str(),
            Principal::Organization(o) => o.as_str(),
        }
    }

    /// The account, when the entry names one.
    pub fn account(&self) -> Option<AccountId> {
        match self {
            Principal::Account(a) => Some(*a),
            _ => None,
        }
    }

    /// "account 2100…", "OU ou-…", "organization o-…".
    pub fn words(&self) -> String {
        match self {
            Principal::Account(a) => format!("account {a}"),
            Principal::Ou(o) => format!("OU {o}"),
            Principal::Organization(o) => format!("organization {o}"),
        }
    }
}

impl From<AccountId> for Principal {
    fn from(a: AccountId) -> Self {
        Principal::Account(a)
    }
}

/// Told apart by their shapes: 12 digits, `ou-…` or `o-…`.
impl FromStr for Principal {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, IdError> {
        if s.starts_with("ou-") {
            s.parse().map(Principal::Ou)
        } else if s.starts_with("o-") {
            s.parse().map(Principal::Organization)
        } else {
            s.parse().map(Principal::Account).map_err(|mut e: IdError| {
                e.kind = "principal (an account id, ou-… or o-…)";
                e
            })
        }
    }
}

/// Where a policy or an allow entry applies: one service, or all of them.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Scope {
    Any,
    Service(ServiceId),
}

impl Scope {
    pub fn as_str(&self) -> &str {
        match self {
            Scope::Any => "*",
            Scope::Service(s) => s.as_str(),
        }
    }

    /// Whether an entry of this scope applies to `service`.
    pub fn covers(&self, service: &ServiceId) -> bool {
        match self {
            Scope::Any => true,
            Scope::Service(s) => s == service,
        }
    }
}

impl FromStr for Scope {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, IdError> {
        if s == "*" {
            Ok(Scope::Any)
        } else {
            s.parse().map(Scope::Service).map_err(|mut e: IdError| {
                e.kind = "scope (\"*\" or an endpoint service id)";
                e
            })
        }
    }
}

macro_rules! string_like {
    ($($name:ident),*) => {$(
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), self.as_str())
            }
        }
        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }
        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                s.parse().map_err(serde::de::Error::custom)
            }
        }
    )*};
}
string_like!(ServiceId, EndpointId, Scope, OuId, OrgId, Region);

impl fmt::Display for Principal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for Principal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Principal({})", self.as_str())
    }
}

impl fmt::Display for AccountId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for AccountId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AccountId({})", self.as_str())
    }
}

impl Serialize for AccountId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// Accepts a string, or a number written without quotes in YAML, as long
/// as it still has twelve digits (a number has lost any leading zeros).
impl<'de> Deserialize<'de> for AccountId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = AccountId;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a 12-digit account id")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<AccountId, E> {
                v.parse().map_err(E::custom)
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<AccountId, E> {
                if (100_000_000_000..=999_999_999_999).contains(&v) {
                    v.to_string().parse().map_err(E::custom)
                } else {
                    Err(E::custom(format!(
                        "\"{v}\" is not a 12-digit account id; write account ids in quotes"
                    )))
                }
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<AccountId, E> {
                match u64::try_from(v) {
                    Ok(u) => self.visit_u64(u),
                    Err(_) => Err(E::custom(format!("\"{v}\" is not an account id"))),
                }
            }
        }
        d.deserialize_any(Visitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn account_ids_are_twelve_digits() {
        assert_eq!("222233334444".parse::<AccountId>().map(|a| a.to_string()), Ok("222233334444".into()));
        for bad in
            ["", "22223333444", "2222333344445", "22223333444a", "２２２２３３３３４４４４", " 222233334444"]
        {
            let err = bad.parse::<AccountId>().expect_err(bad);
            assert_eq!(err.kind, "account id");
        }
    }

    #[test]
    fn service_and_endpoint_ids_check_prefix_and_hex() {
        assert!("vpce-svc-0abc1234def567890".parse::<ServiceId>().is_ok());
        assert!("vpce-svc-0abc1234".parse::<ServiceId>().is_ok());
        assert!("vpce-0abc1234def567890".parse::<EndpointId>().is_ok());
        // A service id is not an endpoint id, whatever its hex.
        assert!("vpce-svc-0abc1234".parse::<EndpointId>().is_err());
        for bad in
            ["vpce-svc-0ABC1234", "vpce-svc-0abc123", "vpce-svc-", "svc-0abc1234", "vpce-svc-0abc1234;drop"]
        {
            assert!(bad.parse::<ServiceId>().is_err(), "{bad}");
        }
    }

    #[test]
    fn regions_have_the_shape_aws_uses_and_nothing_else() {
        for good in
            ["us-east-1", "eu-west-1", "ap-southeast-2", "us-gov-west-1", "us-isob-east-1", "il-central-1"]
        {
            assert_eq!(good.parse::<Region>().map(|r| r.to_string()), Ok(good.to_owned()), "{good}");
        }
        for bad in [
            "",
            "us-east",
            "US-EAST-1",
            "us-east-1 ",
            "us-east-1/",
            "us-east-1.evil.example",
            "127.0.0.1",
            "eu-west-1a",
            "x-west-1",
            "us--east-1",
            "us-east-123",
            "us-east-1-",
            "us-a-b-c-d-1",
            "us-east-1\n",
            "localhost",
        ] {
            let err = bad.parse::<Region>().expect_err(bad);
            assert_eq!(err.kind, "region", "{bad}");
        }
    }

    #[test]
    fn errors_name_the_input_but_stay_short() {
        let long = "x".repeat(10_000);
        let err = long.parse::<EndpointId>().expect_err("invalid");
        assert!(err.to_string().len() < 200);
        assert!(err.to_string().contains("endpoint id"));
    }

    #[test]
    fn scope_is_star_or_a_service() {
        assert_eq!("*".parse::<Scope>(), Ok(Scope::Any));
        assert!(matches!("vpce-svc-0abc1234".parse::<Scope>(), Ok(Scope::Service(_))));
        assert!("**".parse::<Scope>().is_err());
    }

    #[test]
    fn ids_round_trip_through_serde_and_refuse_bad_input() {
        let id: EndpointId = serde_json::from_str("\"vpce-0abc1234\"").expect("valid");
        assert_eq!(serde_json::to_string(&id).expect("serializes"), "\"vpce-0abc1234\"");
        let err = serde_json::from_str::<EndpointId>("\"vpce-nothex!\"").expect_err("invalid");
        assert!(err.to_string().contains("endpoint id"), "{err}");
    }
    #[test]
    fn ou_and_organization_ids_follow_the_organizations_patterns() {
        assert!("ou-ab12-cd34ef56".parse::<OuId>().is_ok());
        assert!("ou-r00t-0123456789abcdef0123456789abcdef".parse::<OuId>().is_ok());
        assert!("o-abcdef1234".parse::<OrgId>().is_ok());
        for bad in [
            "",
            "ou-",
            "ou-ab1-cd34ef56",
            "ou-ab12-cd34ef5",
            "ou-AB12-cd34ef56",
            "ou-ab12cd34ef56",
            "ou-ab12-cd34ef56-",
            "ou-ab12-cd34-ef56",
            " ou-ab12-cd34ef56",
            "o-abcdef1234",
            "r-ab12",
        ] {
            let err = bad.parse::<OuId>().expect_err(bad);
            assert_eq!(err.kind, "OU id", "{bad}");
        }
        for bad in [
            "",
            "o-",
            "o-abc",
            "o-ABCDEF1234",
            "o-abcdef1234!",
            "ou-ab12-cd34ef56",
            &format!("o-{}", "a".repeat(33)),
        ] {
            assert!(bad.parse::<OrgId>().is_err(), "{bad}");
        }
    }

    #[test]
    fn principals_are_told_apart_by_shape() {
        assert!(matches!("222233334444".parse::<Principal>(), Ok(Principal::Account(_))));
        assert!(matches!("ou-ab12-cd34ef56".parse::<Principal>(), Ok(Principal::Ou(_))));
        assert!(matches!("o-abcdef1234".parse::<Principal>(), Ok(Principal::Organization(_))));
        assert_eq!("ou-x".parse::<Principal>().expect_err("bad").kind, "OU id");
        assert_eq!("o-x".parse::<Principal>().expect_err("bad").kind, "organization id");
        assert!("r-ab12".parse::<Principal>().expect_err("bad").kind.starts_with("principal"));
    }
}

/// Every endpoint and service id mentioned anywhere in `text`, in order of
/// first appearance and without repeats. Used on messages whose format AWS
/// does not document: look for the ids, then read the truth back.
pub fn scan_ids(text: &str) -> (Vec<ServiceId>, Vec<EndpointId>) {
    let (mut services, mut endpoints) = (Vec::new(), Vec::new());
    let bytes = text.as_bytes();
    let mut from = 0;
    while let Some(pos) = text[from..].find("vpce-") {
        let start = from + pos;
        // An id starts at a word boundary: "xvpce-…" is not one.
        let bounded = start == 0 || !(bytes[start - 1].is_ascii_alphanumeric() || bytes[start - 1] == b'-');
        let len = bytes[start..].iter().take_while(|b| b.is_ascii_alphanumeric() || **b == b'-').count();
        let token = &text[start..start + len];
        if bounded {
            if let Ok(s) = token.parse::<ServiceId>() {
                if !services.contains(&s) {
                    services.push(s);
                }
            } else if let Ok(e) = token.parse::<EndpointId>()
                && !endpoints.contains(&e)
            {
                endpoints.push(e);
            }
        }
        from = start + len.max(1);
    }
    (services, endpoints)
}

#[cfg(test)]
mod scan_tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn finds_ids_in_json_text_and_service_names() {
        let msg = r#"{"Event":"Connect","ServiceId":"vpce-svc-0abc1234def567890","EndpointId":"vpce-0123456789abcdef0",
                     "ServiceName":"com.amazonaws.vpce.us-east-1.vpce-svc-0abc1234def567890"}"#;
        let (s, e) = scan_ids(msg);
        assert_eq!(s.iter().map(ToString::to_string).collect::<Vec<_>>(), ["vpce-svc-0abc1234def567890"]);
        assert_eq!(e.iter().map(ToString::to_string).collect::<Vec<_>>(), ["vpce-0123456789abcdef0"]);
    }

    #[test]
    fn ignores_lookalikes() {
        let (s, e) =
            scan_ids("xvpce-01234567 vpce-0123456Z vpce-svc- vpce-0123456789abcdef01 vpce-vpce-01234567");
        assert!(s.is_empty() && e.is_empty(), "{s:?} {e:?}");
    }

    proptest! {
        #[test]
        fn never_panics_on_any_text(t in "\\PC{0,200}") {
            let _ = scan_ids(&t);
        }

        #[test]
        fn finds_an_id_wherever_it_is_embedded(pre in "[ {\":,]{0,5}[a-z ]{0,10}[ \":,]", hex in "[0-9a-f]{17}", post in "[ \"}:,.]{0,5}") {
            let id = format!("vpce-{hex}");
            let (_, e) = scan_ids(&format!("{pre}{id}{post}"));
            prop_assert_eq!(e.iter().map(ToString::to_string).collect::<Vec<_>>(), vec![id]);
        }
    }
}

#[cfg(test)]
mod principal_serde_tests {
    use super::*;

    /// Flattened into an entry or a plan, a principal is the key the
    /// policy file uses, so plans saved before OUs existed still read.
    #[test]
    fn principals_serialize_as_their_policy_file_key() {
        for (text, json) in [
            ("210000000001", r#"{"account":"210000000001"}"#),
            ("ou-ab12-cd34ef56", r#"{"ou":"ou-ab12-cd34ef56"}"#),
            ("o-abcdef1234", r#"{"organization":"o-abcdef1234"}"#),
        ] {
            let p: Principal = text.parse().expect(text);
            assert_eq!(serde_json::to_string(&p).expect("serializes"), json);
            assert_eq!(serde_json::from_str::<Principal>(json).expect("reads"), p);
        }
        assert!(serde_json::from_str::<Principal>(r#"{"ou":"o-abcdef1234"}"#).is_err());
    }
}
