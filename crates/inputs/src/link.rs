//! Approval links as they come back: the query string of a GET, or the
//! confirmation form of a POST (the same fields, plus the approver's
//! reason). Parsing only; `gate_core::link` checks the signature and the
//! expiry.

use gate_core::link::{Link, LinkAction, MAX_FIELD};
use gate_core::slack::MAX_REASON_CHARS;
use gate_core::{IdError, Timestamp};

use crate::form::{percent_decode, raw_field};

/// Why a link's fields cannot be read, naming the field. The words are
/// safe to show: they never echo the signature.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LinkFormError {
    #[error("the link is incomplete or malformed: field {0} is too long")]
    TooLong(&'static str),
    #[error("the link is incomplete or malformed: field {0} appears twice")]
    Repeated(&'static str),
    #[error("the link is incomplete or malformed: field {0} is badly encoded")]
    BadlyEncoded(&'static str),
    #[error("the link is incomplete or malformed: a field is missing (e, a, by, exp, sig)")]
    Missing,
    #[error("the link is incomplete or malformed: {0}")]
    Endpoint(IdError),
    #[error("the link is incomplete or malformed: unknown action")]
    Action,
    #[error("the link is incomplete or malformed: approver is empty or has control characters")]
    Approver,
    #[error("the link is incomplete or malformed: expiry is not a number")]
    Expiry,
}

/// The fields of a link, in the order it writes them.
const FIELDS: [&str; 5] = ["e", "a", "by", "exp", "sig"];

/// Parses a query string or a form body (same encoding) into the link and
/// its signature. Other fields are ignored.
pub fn parse(query: &str) -> Result<(Link, String), LinkFormError> {
    let mut fields: [Option<String>; 5] = Default::default();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let Some(slot) = FIELDS.iter().position(|f| *f == k) else { continue };
        let name = FIELDS[slot];
        if v.len() > MAX_FIELD {
            return Err(LinkFormError::TooLong(name));
        }
        if fields[slot].is_some() {
            return Err(LinkFormError::Repeated(name));
        }
        fields[slot] = Some(percent_decode(v).ok_or(LinkFormError::BadlyEncoded(name))?);
    }
    let [Some(e), Some(a), Some(by), Some(exp), Some(sig)] = fields else {
        return Err(LinkFormError::Missing);
    };
    let endpoint = e.parse().map_err(LinkFormError::Endpoint)?;
    let action = action(&a).ok_or(LinkFormError::Action)?;
    if by.is_empty() || by.chars().any(char::is_control) {
        return Err(LinkFormError::Approver);
    }
    let expires = exp.parse::<i64>().map(Timestamp::from_unix).map_err(|_| LinkFormError::Expiry)?;
    Ok((Link { endpoint, action, approver: by, expires }, sig))
}

/// The reason typed in the confirmation form, cut to
/// [`MAX_REASON_CHARS`]; none when absent or badly encoded.
pub fn reason(form: &str) -> Option<String> {
    raw_field(form, "reason").and_then(percent_decode).map(|r| r.chars().take(MAX_REASON_CHARS).collect())
}

/// An action as links and Slack buttons name it.
pub(crate) fn action(name: &str) -> Option<LinkAction> {
    match name {
        "approve" => Some(LinkAction::Approve),
        "reject" => Some(LinkAction::Reject),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gate_core::link::LinkError;
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

    /// What a link comes to: parsed, then verified.
    fn check(q: &str) -> String {
        match parse(q) {
            Err(e) => format!("Malformed({e:?})"),
            Ok((l, s)) => format!("{:?}", l.verify(&[KEY], &s, now())),
        }
    }

    #[test]
    fn a_link_round_trips_and_verifies() {
        let q = link().query(KEY);
        let (parsed, sig) = parse(&q).expect("parses");
        assert_eq!(parsed, link());
        assert_eq!(parsed.verify(&[KEY], &sig, now()), Ok(()));
    }

    #[test]
    fn links_signed_with_the_previous_key_work_after_rotation() {
        let (parsed, sig) = parse(&link().query(OLD)).expect("parses");
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
            ("signature missing", good.replace(&format!("&sig={sig}"), ""), "Malformed(Missing)"),
            ("field twice", format!("{good}&a=reject"), "Malformed(Repeated(\"a\"))"),
            ("unknown action", good.replace("a=approve", "a=delete"), "Malformed(Action)"),
            ("bad endpoint", good.replace("e=vpce-0123456789abcdef0", "e=vpce-x"), "Malformed(Endpoint"),
            ("bad expiry", good.replace(&format!("exp={exp}"), "exp=soon"), "Malformed(Expiry)"),
            ("broken escape", good.replace("by=netops@", "by=netops%G0@"), "Malformed(BadlyEncoded(\"by\"))"),
            ("control characters", good.replace("by=netops@", "by=net%0Aops@"), "Malformed(Approver)"),
            ("not UTF-8", good.replace("by=netops@", "by=net%FFops@"), "Malformed(BadlyEncoded(\"by\"))"),
            (
                "huge field",
                good.replace("by=", &format!("by={}", "a".repeat(1000))),
                "Malformed(TooLong(\"by\"))",
            ),
            ("empty", String::new(), "Malformed(Missing)"),
        ];
        for (what, q, want) in cases {
            assert_ne!(q, good, "{what}: the case must change the link");
            let got = check(&q);
            assert!(got.contains(want), "{what}: {got}");
        }
    }

    #[test]
    fn errors_name_the_field_and_never_echo_the_signature() {
        let good = link().query(KEY);
        let sig = link().sign(KEY);
        let cases = [
            (good.replace("exp=", "exp=%zz"), "field exp is badly encoded"),
            (format!("{good}&sig={sig}"), "field sig appears twice"),
            (good.replace("e=vpce-0123456789abcdef0", "e=vpce-x"), "vpce-x"),
            (good.replace(&sig, &"f".repeat(300)), "field sig is too long"),
        ];
        for (q, want) in cases {
            let e = parse(&q).expect_err("refused").to_string();
            assert!(e.starts_with("the link is incomplete or malformed: "), "{e}");
            assert!(e.contains(want) && !e.contains(&sig), "{e}");
        }
    }

    #[test]
    fn an_expired_link_is_refused_even_when_genuine() {
        let old = Link { expires: now().plus_secs(-1), ..link() };
        let (parsed, sig) = parse(&old.query(KEY)).expect("parses");
        assert_eq!(parsed.verify(&[KEY], &sig, now()), Err(LinkError::Expired(old.expires)));
    }

    #[test]
    fn the_forms_reason_is_decoded_and_cut() {
        let q = link().query(KEY);
        assert_eq!(reason(&format!("{q}&reason=ticket+NET-42")).as_deref(), Some("ticket NET-42"));
        let long = format!("{q}&reason={}", "x".repeat(2 * MAX_REASON_CHARS));
        assert_eq!(reason(&long).map(|r| r.chars().count()), Some(MAX_REASON_CHARS));
        assert_eq!(reason(&format!("{q}&reason=%zz")), None);
        assert_eq!(reason(&q), None);
    }

    proptest! {
        #[test]
        fn parse_never_panics(q in "\\PC{0,300}") {
            let _ = parse(&q);
            let _ = reason(&q);
        }
    }
}
