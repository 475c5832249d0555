//! Signed approval links for email. A link names one request, one action,
//! who it was sent to and until when it is valid, and carries an
//! HMAC-SHA256 of exactly that, so no field can be changed without the key.
//!
//! A link is not a credential by itself: GET on it only shows a
//! confirmation page (mail scanners fetch every link), and the POST from
//! that page acts once, because the request can leave review only once.

use std::fmt;

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use crate::id::EndpointId;
use crate::time::Timestamp;

type HmacSha256 = Hmac<Sha256>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkAction {
    Approve,
    Reject,
}

impl LinkAction {
    pub fn as_str(self) -> &'static str {
        match self {
            LinkAction::Approve => "approve",
            LinkAction::Reject => "reject",
        }
    }
}

/// What a link says, before its signature is checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    pub endpoint: EndpointId,
    pub action: LinkAction,
    /// Who the link was sent to, recorded as the approver.
    pub approver: String,
    pub expires: Timestamp,
}

/// Why a link is refused. The words are safe to show: they never echo a
/// secret or the signature.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LinkError {
    #[error("the link is incomplete or malformed: {0}")]
    Malformed(String),
    #[error("the link's signature does not match: it was changed or not issued by Endpoint Gate")]
    Tampered,
    #[error("the link expired at {0}")]
    Expired(Timestamp),
}

/// Link fields longer than this are refused before anything else.
const MAX_FIELD: usize = 256;

impl Link {
    /// The exact bytes that are signed: versioned, one field per line.
    fn message(&self) -> String {
        format!("v1\n{}\n{}\n{}\n{}", self.endpoint, self.action.as_str(), self.approver, self.expires.unix())
    }

    /// The signature, as lowercase hex.
    pub fn sign(&self, key: &[u8]) -> String {
        let mut mac = mac(key);
        mac.update(self.message().as_bytes());
        hex(&mac.finalize().into_bytes())
    }

    /// Checks `signature` against each key (current first, then previous
    /// keys after a rotation) in constant time, then the expiry.
    pub fn verify(&self, keys: &[&[u8]], signature: &str, now: Timestamp) -> Result<(), LinkError> {
        let Some(given) = unhex(signature) else { return Err(LinkError::Tampered) };
        let valid = keys.iter().any(|key| {
            let mut mac = mac(key);
            mac.update(self.message().as_bytes());
            mac.verify_slice(&given).is_ok()
        });
        if !valid {
            return Err(LinkError::Tampered);
        }
        if self.expires <= now {
            return Err(LinkError::Expired(self.expires));
        }
        Ok(())
    }

    /// The query string of the link: `e=…&a=…&by=…&exp=…&sig=…`.
    pub fn query(&self, key: &[u8]) -> String {
        format!(
            "e={}&a={}&by={}&exp={}&sig={}",
            self.endpoint,
            self.action.as_str(),
            percent_encode(&self.approver),
            self.expires.unix(),
            self.sign(key)
        )
    }

    /// Parses a query string or a form body (same encoding) into the link
    /// and its signature.
    pub fn parse(query: &str) -> Result<(Link, String), LinkError> {
        let mut fields: [Option<String>; 5] = Default::default();
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let slot = match k {
                "e" => 0,
                "a" => 1,
                "by" => 2,
                "exp" => 3,
                "sig" => 4,
                _ => continue,
            };
            if v.len() > MAX_FIELD {
                return Err(LinkError::Malformed(format!("field {k} is too long")));
            }
            if fields[slot].is_some() {
                return Err(LinkError::Malformed(format!("field {k} appears twice")));
            }
            let value = percent_decode(v)
                .ok_or_else(|| LinkError::Malformed(format!("field {k} is badly encoded")))?;
            fields[slot] = Some(value);
        }
        let [Some(e), Some(a), Some(by), Some(exp), Some(sig)] = fields else {
            return Err(LinkError::Malformed("a field is missing (e, a, by, exp, sig)".into()));
        };
        let endpoint = e.parse().map_err(|err: crate::IdError| LinkError::Malformed(err.to_string()))?;
        let action = match a.as_str() {
            "approve" => LinkAction::Approve,
            "reject" => LinkAction::Reject,
            _ => return Err(LinkError::Malformed("unknown action".into())),
        };
        if by.is_empty() || by.chars().any(char::is_control) {
            return Err(LinkError::Malformed("approver is empty or has control characters".into()));
        }
        let expires = exp
            .parse::<i64>()
            .map(Timestamp::from_unix)
            .map_err(|_| LinkError::Malformed("expiry is not a number".into()))?;
        Ok((Link { endpoint, action, approver: by, expires }, sig))
    }
}

fn mac(key: &[u8]) -> HmacSha256 {
    // HMAC takes keys of any length; this cannot fail.
    <HmacSha256 as KeyInit>::new_from_slice(key)
        .unwrap_or_else(|_| unreachable!("HMAC accepts any key length"))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    if text.len() != 64 || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    (0..text.len()).step_by(2).map(|i| u8::from_str_radix(&text[i..i + 2], 16).ok()).collect()
}

/// Form/query encoding: unreserved characters stay, everything else is %XX.
pub fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~@".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Decodes `%XX` and `+`; `None` on a broken escape or invalid UTF-8.
pub fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = text.get(i + 1..i + 3)?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

impl fmt::Display for LinkAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const KEY: &[u8] = b"current-key-0123456789";
    const OLD: &[u8] = b"previous-key-9876543210";

    fn now() -> Timestamp {
        Timestamp::from_unix(1_800_000_000)
    }

    fn link() -> Link {
        Link {
            endpoint: "vpce-0123456789abcdef0".parse().expect("id"),
            action: LinkAction::Approve,
            approver: "netops@example.com".into(),
            expires: now().plus_secs(3600),
        }
    }

    #[test]
    fn a_link_round_trips_and_verifies() {
        let q = link().query(KEY);
        let (parsed, sig) = Link::parse(&q).expect("parses");
        assert_eq!(parsed, link());
        assert_eq!(parsed.verify(&[KEY], &sig, now()), Ok(()));
    }

    #[test]
    fn links_signed_with_the_previous_key_work_after_rotation() {
        let (parsed, sig) = Link::parse(&link().query(OLD)).expect("parses");
        assert_eq!(parsed.verify(&[KEY, OLD], &sig, now()), Ok(()));
        assert_eq!(parsed.verify(&[KEY], &sig, now()), Err(LinkError::Tampered));
    }

    #[test]
    fn hostile_links_are_refused() {
        let good = link().query(KEY);
        let sig = link().sign(KEY);
        let other_sig = Link { action: LinkAction::Reject, ..link() }.sign(KEY);
        let exp = now().plus_secs(3600).unix();
        let cases: Vec<(&str, String, &str)> = vec![
            ("action swapped", good.replace("a=approve", "a=reject"), "Tampered"),
            (
                "endpoint swapped",
                good.replace("vpce-0123456789abcdef0", "vpce-0123456789abcdef1"),
                "Tampered",
            ),
            ("approver swapped", good.replace("by=netops@", "by=mallory@"), "Tampered"),
            ("expiry extended", good.replace(&exp.to_string(), &(exp + 86_400).to_string()), "Tampered"),
            ("another link's signature", good.replace(&sig, &other_sig), "Tampered"),
            ("signature truncated", good.replace(&sig, &sig[..40]), "Tampered"),
            ("signature not hex", good.replace(&sig, &"z".repeat(64)), "Tampered"),
            ("signature missing", good.replace(&format!("&sig={sig}"), ""), "Malformed"),
            ("field twice", format!("{good}&a=reject"), "Malformed"),
            ("unknown action", good.replace("a=approve", "a=delete"), "Malformed"),
            ("bad endpoint", good.replace("e=vpce-0123456789abcdef0", "e=vpce-x"), "Malformed"),
            ("bad expiry", good.replace(&format!("exp={exp}"), "exp=soon"), "Malformed"),
            ("broken escape", good.replace("by=netops@", "by=netops%G0@"), "Malformed"),
            ("control characters", good.replace("by=netops@", "by=net%0Aops@"), "Malformed"),
            ("not UTF-8", good.replace("by=netops@", "by=net%FFops@"), "Malformed"),
            ("huge field", good.replace("by=", &format!("by={}", "a".repeat(1000))), "Malformed"),
            ("empty", String::new(), "Malformed"),
        ];
        for (what, q, want) in cases {
            assert_ne!(q, good, "{what}: the case must change the link");
            let got = Link::parse(&q).and_then(|(l, s)| l.verify(&[KEY], &s, now()));
            let got = format!("{got:?}");
            assert!(got.contains(want), "{what}: {got}");
        }
    }

    #[test]
    fn an_expired_link_is_refused_even_when_genuine() {
        let old = Link { expires: now().plus_secs(-1), ..link() };
        let (parsed, sig) = Link::parse(&old.query(KEY)).expect("parses");
        assert_eq!(parsed.verify(&[KEY], &sig, now()), Err(LinkError::Expired(old.expires)));
    }

    proptest! {
        #[test]
        fn parse_never_panics(q in "\\PC{0,300}") {
            let _ = Link::parse(&q);
        }

        #[test]
        fn encoding_round_trips(s in "\\PC{0,64}") {
            prop_assert_eq!(percent_decode(&percent_encode(&s)), Some(s));
        }
    }
}
