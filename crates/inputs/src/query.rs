//! The lookup function's query strings: `a=1&b=2`, each key at most once,
//! percent-decoded, no control characters, bounded length.

use gate_core::link::percent_decode;
use gate_core::{AccountId, IdError, ServiceId};

/// Query strings longer than this are refused.
pub const MAX_QUERY: usize = 1024;

/// A parsed query string: each key at most once.
#[derive(Debug, Default)]
pub struct Query(Vec<(String, String)>);

/// Parses `a=1&b=2`; refuses long, badly escaped or repeated parameters.
pub fn parse_query(raw: &str) -> Result<Query, String> {
    if raw.len() > MAX_QUERY {
        return Err(format!("the query string is longer than {MAX_QUERY} characters"));
    }
    let mut out: Vec<(String, String)> = Vec::new();
    for part in raw.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = part.split_once('=').unwrap_or((part, ""));
        let decode = |s: &str| percent_decode(s).filter(|d| !d.chars().any(char::is_control));
        let (Some(k), Some(v)) = (decode(k), decode(v)) else {
            return Err(format!("query parameter {:?} is badly encoded", short(part)));
        };
        if out.iter().any(|(seen, _)| *seen == k) {
            return Err(format!("query parameter {:?} is given twice", short(&k)));
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

    pub fn only(&self, allowed: &[&str]) -> Result<(), String> {
        match self.0.iter().find(|(k, _)| !allowed.contains(&k.as_str())) {
            Some((k, _)) => Err(format!("unknown query parameter {:?}", short(k))),
            None => Ok(()),
        }
    }

    pub fn account(&self) -> Result<Option<AccountId>, String> {
        self.get("account").map(|v| v.parse().map_err(|e: IdError| e.to_string())).transpose()
    }

    pub fn service(&self) -> Result<Option<ServiceId>, String> {
        self.get("service").map(|v| v.parse().map_err(|e: IdError| e.to_string())).transpose()
    }

    pub fn history(&self) -> Result<bool, String> {
        match self.get("history") {
            None | Some("false") => Ok(false),
            Some("true") => Ok(true),
            Some(other) => Err(format!("history={:?}: use true or false", short(other))),
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

    proptest! {
        #[test]
        fn never_panics(s in "\\PC{0,300}") {
            if let Ok(q) = parse_query(&s) {
                let _ = (q.account(), q.service(), q.history(), q.only(&["account"]));
            }
        }
    }
}
