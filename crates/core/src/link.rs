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

/// Why a well-formed link is refused (`gate_inputs::link` refuses the
/// malformed ones). The words are safe to show: they never echo a secret
/// or the signature.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LinkError {
    #[error("the link's signature does not match: it was changed or not issued by Endpoint Gate")]
    Tampered,
    #[error("the link expired at {0}")]
    Expired(Timestamp),
}

/// Link fields longer than this are refused before anything else.
pub const MAX_FIELD: usize = 256;

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
    fn a_signed_link_verifies() {
        assert_eq!(link().verify(&[KEY], &link().sign(KEY), now()), Ok(()));
    }

    #[test]
    fn links_signed_with_the_previous_key_work_after_rotation() {
        let sig = link().sign(OLD);
        assert_eq!(link().verify(&[KEY, OLD], &sig, now()), Ok(()));
        assert_eq!(link().verify(&[KEY], &sig, now()), Err(LinkError::Tampered));
    }

    #[test]
    fn a_changed_field_or_signature_is_tampering() {
        let sig = link().sign(KEY);
        let changed = [
            ("action swapped", Link { action: LinkAction::Reject, ..link() }),
            ("endpoint swapped", Link { endpoint: "vpce-0123456789abcdef1".parse().expect("id"), ..link() }),
            ("approver swapped", Link { approver: "mallory@example.com".into(), ..link() }),
            ("expiry extended", Link { expires: now().plus_secs(90_000), ..link() }),
        ];
        for (what, l) in changed {
            assert_eq!(l.verify(&[KEY], &sig, now()), Err(LinkError::Tampered), "{what}");
        }
        let other = Link { action: LinkAction::Reject, ..link() }.sign(KEY);
        for (what, s) in [
            ("another link's signature", other),
            ("truncated", sig[..40].to_owned()),
            ("not hex", "z".repeat(64)),
            ("empty", String::new()),
        ] {
            assert_eq!(link().verify(&[KEY], &s, now()), Err(LinkError::Tampered), "{what}");
        }
    }

    #[test]
    fn an_expired_link_is_refused_even_when_genuine() {
        let old = Link { expires: now().plus_secs(-1), ..link() };
        assert_eq!(old.verify(&[KEY], &old.sign(KEY), now()), Err(LinkError::Expired(old.expires)));
    }

    #[test]
    fn the_query_carries_every_field_and_the_signature() {
        let q = Link { approver: "net ops@example.com".into(), ..link() }.query(KEY);
        assert!(
            q.starts_with("e=vpce-0123456789abcdef0&a=approve&by=net%20ops@example.com&exp=1800003600&sig=")
        );
    }

    proptest! {
        #[test]
        fn encoding_leaves_only_unreserved_characters(s in "\\PC{0,64}") {
            let e = percent_encode(&s);
            prop_assert!(e.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._~@%".contains(&b)));
        }
    }
}
