//! The lookup function's query strings: `a=1&b=2`, each key at most once,
//! percent-decoded, no control characters, bounded length.

use gate_core::{AccountId, IdError, ServiceId};

use crate::form::percent_decode;

/// Query strings longer than this are refused.
pub const MAX_QUERY: usize = 1024;

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
}

/// A parsed query string: each key at most once.
#[derive(Debug, Default)]
pub struct Query(Vec<(String, String)>);

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
    Ok(Query(out))
}

fn short(s: &str) -> String {
    s.chars().take(40).collect()
}

impl Query {
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }

    pub fn only(&self, allowed: &[&str]) -> Result<(), QueryError> {
        match self.0.iter().find(|(k, _)| !allowed.contains(&k.as_str())) {
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
    fn parameters_decode_once_each() {
        let q = parse_query("account=210000000001&history=true").expect("valid");
        assert_eq!(q.account().expect("account").map(|a| a.to_string()).as_deref(), Some("210000000001"));
        assert!(q.history().expect("history"));
        assert!(q.only(&["account", "history"]).is_ok());
        assert!(q.only(&["account"]).is_err());
        for bad in ["a=1&a=2", "a=%zz", "a=%0d", &"a=".repeat(600)] {
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

    proptest! {
        #[test]
        fn never_panics(s in "\\PC{0,300}") {
            if let Ok(q) = parse_query(&s) {
                let _ = (q.account(), q.service(), q.history(), q.only(&["account"]));
            }
        }
    }
}
