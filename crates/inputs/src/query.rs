//! The lookup function's query strings: `a=1&b=2`, each key at most once,
//! percent-decoded, no control characters, bounded length. A link opened
//! in a browser also carries its SigV4 query-string signature, which AWS
//! checked before the function ran: those parameters are kept apart, and
//! only the link's lifetime is read from them.

use gate_core::{AccountId, IdError, ServiceId, Timestamp, ViewPosition};

use crate::form::percent_decode;

/// Query strings longer than this are refused. A signed link carries a
/// session token of a kilobyte or more.
pub const MAX_QUERY: usize = 8192;

/// The parameters of a SigV4 query-string signature (IAM User Guide,
/// "Authentication methods": query string parameters).
const SIGNATURE_PARAMS: [&str; 7] = [
    "X-Amz-Algorithm",
    "X-Amz-Credential",
    "X-Amz-Date",
    "X-Amz-Expires",
    "X-Amz-SignedHeaders",
    "X-Amz-Signature",
    "X-Amz-Security-Token",
];

/// SigV4 allows a signature to last at most seven days.
const MAX_EXPIRES_SECS: i64 = 7 * 86_400;

/// Why a query string is refused, naming the parameter (cut to 40
/// characters).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QueryError {
    #[error("the query string is longer than {MAX_QUERY} characters")]
    TooLong,
    #[error("query parameter {0:?} is badly encoded")]
    BadlyEncoded(String),
    #[error("query parameter {0:?} is given twice")]
    Repeated(String),
    #[error("unknown query parameter {0:?}")]
    Unknown(String),
    /// `account` or `service` is not an id; the error names the value.
    #[error(transparent)]
    Id(#[from] IdError),
    #[error("history={0:?}: use true or false")]
    History(String),
    #[error("limit={given:?}: use a whole number from 1 to {max}")]
    Limit { given: String, max: usize },
    #[error("the link's signature parameter {0} is not what SigV4 writes")]
    Signature(&'static str),
}

/// A parsed query string: each key at most once, the signature's
/// parameters apart from the rest.
#[derive(Debug, Default)]
pub struct Query {
    params: Vec<(String, String)>,
    signature: Vec<(String, String)>,
}

/// Parses `a=1&b=2`; refuses long, badly escaped or repeated parameters.
pub fn parse_query(raw: &str) -> Result<Query, QueryError> {
    if raw.len() > MAX_QUERY {
        return Err(QueryError::TooLong);
    }
    let mut out: Vec<(String, String)> = Vec::new();
    for part in raw.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = part.split_once('=').unwrap_or((part, ""));
        let decode = |s: &str| percent_decode(s).filter(|d| !d.chars().any(char::is_control));
        let (Some(k), Some(v)) = (decode(k), decode(v)) else {
            return Err(QueryError::BadlyEncoded(short(part)));
        };
        if out.iter().any(|(seen, _)| *seen == k) {
            return Err(QueryError::Repeated(short(&k)));
        }
        out.push((k, v));
    }
    let (signature, params) = out.into_iter().partition(|(k, _)| SIGNATURE_PARAMS.contains(&k.as_str()));
    Ok(Query { params, signature })
}

/// SigV4's basic ISO 8601 time, `20261201T120000Z`.
fn sigv4_time(s: &str) -> Option<Timestamp> {
    let digits = |r: std::ops::Range<usize>| s.get(r).filter(|d| d.bytes().all(|b| b.is_ascii_digit()));
    if s.len() != 16 || s.as_bytes()[8] != b'T' || !s.ends_with('Z') {
        return None;
    }
    let (y, mo, d) = (digits(0..4)?, digits(4..6)?, digits(6..8)?);
    let (h, mi, sec) = (digits(9..11)?, digits(11..13)?, digits(13..15)?);
    format!("{y}-{mo}-{d}T{h}:{mi}:{sec}Z").parse().ok()
}

fn short(s: &str) -> String {
    s.chars().take(40).collect()
}

impl Query {
    pub fn get(&self, key: &str) -> Option<&str> {
        self.params.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }

    /// Refuses parameters other than `allowed`; a signature's are always allowed.
    pub fn only(&self, allowed: &[&str]) -> Result<(), QueryError> {
        match self.params.iter().find(|(k, _)| !allowed.contains(&k.as_str())) {
            Some((k, _)) => Err(QueryError::Unknown(short(k))),
            None => Ok(()),
        }
    }

    pub fn account(&self) -> Result<Option<AccountId>, QueryError> {
        Ok(self.get("account").map(str::parse).transpose()?)
    }

    pub fn service(&self) -> Result<Option<ServiceId>, QueryError> {
        Ok(self.get("service").map(str::parse).transpose()?)
    }

    /// When a link signed in its query string stops working: `X-Amz-Date`
    /// (`20261201T120000Z`) plus `X-Amz-Expires` seconds. `None` for a
    /// request signed in its headers.
    pub fn link_expires(&self) -> Result<Option<Timestamp>, QueryError> {
        let param = |name| self.signature.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
        let (Some(date), Some(expires)) = (param("X-Amz-Date"), param("X-Amz-Expires")) else {
            return Ok(None);
        };
        let signed = sigv4_time(date).ok_or(QueryError::Signature("X-Amz-Date"))?;
        let secs = expires
            .parse::<i64>()
            .ok()
            .filter(|s| (1..=MAX_EXPIRES_SECS).contains(s))
            .ok_or(QueryError::Signature("X-Amz-Expires"))?;
        Ok(Some(signed.plus_secs(secs)))
    }

    /// Where the page starts: after the position the last page ended at.
    pub fn after(&self) -> Result<Option<ViewPosition>, QueryError> {
        Ok(self.get("after").map(str::parse).transpose()?)
    }

    /// How many entries a page may hold, from 1 to `max`.
    pub fn limit(&self, max: usize) -> Result<Option<usize>, QueryError> {
        let Some(given) = self.get("limit") else { return Ok(None) };
        match given.parse::<usize>() {
            Ok(n) if (1..=max).contains(&n) && !given.starts_with('+') => Ok(Some(n)),
            _ => Err(QueryError::Limit { given: short(given), max }),
        }
    }

    pub fn history(&self) -> Result<bool, QueryError> {
        match self.get("history") {
            None | Some("false") => Ok(false),
            Some("true") => Ok(true),
            Some(other) => Err(QueryError::History(short(other))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_page_is_asked_by_position_and_limit_and_hostile_ones_are_named() {
        let q = parse_query("after=history%3Avpce-0123456789abcdef0&limit=50").expect("valid");
        assert_eq!(
            q.after().expect("after").map(|a| a.to_string()).as_deref(),
            Some("history:vpce-0123456789abcdef0")
        );
        assert_eq!(q.limit(1000).expect("limit"), Some(50));
        assert_eq!(parse_query("").expect("empty").limit(1000).expect("none"), None);
        for limit in ["0", "1001", "-1", "%2B5", "+5", "5.0", "1e3", "", "99999999999999999999999"] {
            let q = parse_query(&format!("limit={limit}")).expect("encoded");
            let err = q.limit(1000).expect_err(limit);
            assert!(
                err.to_string().starts_with("limit=") && err.to_string().ends_with("from 1 to 1000"),
                "{err}"
            );
        }
        for after in ["vpce-0123456789abcdef0", "active:", "active:vpce-svc-0123456789abcdef0"] {
            let q = parse_query(&format!("after={after}")).expect("encoded");
            let err = q.after().expect_err(after);
            assert!(err.to_string().contains("page position"), "{err}");
        }
    }

    #[test]
    fn parameters_decode_once_each() {
        let q = parse_query("account=210000000001&history=true").expect("valid");
        assert_eq!(q.account().expect("account").map(|a| a.to_string()).as_deref(), Some("210000000001"));
        assert!(q.history().expect("history"));
        assert!(q.only(&["account", "history"]).is_ok());
        assert!(q.only(&["account"]).is_err());
        for bad in ["a=1&a=2", "a=%zz", "a=%0d", &"a=".repeat(MAX_QUERY)] {
            assert!(parse_query(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn errors_name_the_parameter() {
        let cases = [
            ("a=1&a=2", "query parameter \"a\" is given twice"),
            ("acc%zz=1", "query parameter \"acc%zz=1\" is badly encoded"),
            ("account=12", "12"),
        ];
        for (raw, want) in cases {
            let q = parse_query(raw);
            let got = match &q {
                Err(e) => e.to_string(),
                Ok(q) => q.account().map(|_| String::new()).unwrap_or_else(|e| e.to_string()),
            };
            assert!(got.contains(want), "{raw}: {got}");
        }
        let q = parse_query("history=maybe&colour=red").expect("valid");
        assert_eq!(q.history(), Err(QueryError::History("maybe".into())));
        assert_eq!(q.only(&["history"]), Err(QueryError::Unknown("colour".into())));
        assert!(matches!(q.service(), Ok(None)));
        let long = parse_query(&"a".repeat(MAX_QUERY + 1)).map(|_| ());
        assert_eq!(long, Err(QueryError::TooLong));
    }

    const SIGNED: &str = "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=ASIAEXAMPLE%2F20261201%2Fus-east-1%2Flambda%2Faws4_request\
        &X-Amz-Date=20261201T120000Z&X-Amz-Expires=900&X-Amz-SignedHeaders=host&X-Amz-Security-Token=IQoJb3JpZ2luX2VjE%2B%2F%3D\
        &X-Amz-Signature=0f1e2d";

    #[test]
    fn a_signed_link_keeps_its_signature_apart_and_says_when_it_ends() {
        let q = parse_query(&format!("history=true&{SIGNED}")).expect("valid");
        assert!(q.only(&["history"]).is_ok(), "the signature's parameters are not the route's");
        assert_eq!(q.get("X-Amz-Signature"), None, "the signature is never read as a parameter");
        let ends = q.link_expires().expect("valid").expect("signed in the query");
        assert_eq!(ends.to_string(), "2026-12-01T12:15:00Z");
        assert_eq!(parse_query("history=true").expect("valid").link_expires(), Ok(None));
    }

    #[test]
    fn a_forged_lifetime_is_refused_by_name() {
        let cases = [
            ("X-Amz-Date=2026-12-01T12:00:00Z&X-Amz-Expires=900", "X-Amz-Date"),
            ("X-Amz-Date=20261301T120000Z&X-Amz-Expires=900", "X-Amz-Date"),
            ("X-Amz-Date=2026120１T12000Z&X-Amz-Expires=900", "X-Amz-Date"),
            ("X-Amz-Date=20261201T120000Z&X-Amz-Expires=604801", "X-Amz-Expires"),
            ("X-Amz-Date=20261201T120000Z&X-Amz-Expires=-5", "X-Amz-Expires"),
            ("X-Amz-Date=20261201T120000Z&X-Amz-Expires=9e9", "X-Amz-Expires"),
        ];
        for (raw, named) in cases {
            let q = parse_query(raw).expect("well encoded");
            assert_eq!(q.link_expires(), Err(QueryError::Signature(named)), "{raw}");
        }
        let twice = parse_query("X-Amz-Signature=a&X-Amz-Signature=b").map(|_| ());
        assert_eq!(twice, Err(QueryError::Repeated("X-Amz-Signature".into())));
        let lookalike = parse_query("x-amz-signature=a").expect("valid");
        assert_eq!(lookalike.only(&[]), Err(QueryError::Unknown("x-amz-signature".into())));
    }

    proptest! {
        #[test]
        fn never_panics(s in "\\PC{0,300}") {
            if let Ok(q) = parse_query(&s) {
                let _ = (q.account(), q.service(), q.history(), q.only(&["account"]), q.link_expires());
            }
        }

        #[test]
        fn a_signature_time_never_panics(date in "\\PC{0,20}", expires in "\\PC{0,8}") {
            let enc = |s: &str| s.bytes().map(|b| format!("%{b:02X}")).collect::<String>();
            let raw = format!("X-Amz-Date={}&X-Amz-Expires={}", enc(&date), enc(&expires));
            if let Ok(q) = parse_query(&raw) {
                let _ = q.link_expires();
            }
        }
    }
}
