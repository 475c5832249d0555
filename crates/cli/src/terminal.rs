//! What the command prints comes partly from elsewhere: the lookup URL's
//! answers (which a user may point at any host), the table, AWS's error
//! messages. A terminal obeys the control characters in what it is given:
//! an escape sequence in a DNS name could move the cursor and rewrite
//! lines already printed, retitle the window or set the clipboard (OSC 52),
//! a carriage return could overwrite the start of its line, and the
//! bidirectional overrides could show a name reversed. So every character
//! of that kind is printed as its JSON escape (`\u001b`), which a person
//! reads and which leaves JSON output valid and meaning the same.

use std::borrow::Cow;
use std::fmt::Write;

/// `text` with every control character but newline and tab, and every
/// bidirectional formatting character, written as `\uXXXX`.
pub fn shown(text: &str) -> Cow<'_, str> {
    escaped(text, obeyed)
}

/// One value inside a line of text output: [`shown`], and its newlines and
/// tabs escaped too, so that a value cannot end its line and print one of
/// its own below (a DNS name ending in `\nvpce-… available`).
pub fn field(text: &str) -> Cow<'_, str> {
    escaped(text, |c| c == '\n' || c == '\t' || obeyed(c))
}

fn escaped(text: &str, escape: impl Fn(char) -> bool) -> Cow<'_, str> {
    if !text.chars().any(&escape) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        if escape(c) {
            // Every such character is in the Basic Multilingual Plane.
            let _ = write!(out, "\\u{:04x}", u32::from(c));
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// C0 and C1 controls and DEL (`char::is_control`), and the bidirectional
/// marks, embeddings, overrides and isolates (Unicode's Bidi_Control).
fn obeyed(c: char) -> bool {
    (c.is_control() && c != '\n' && c != '\t')
        || matches!(c, '\u{061c}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn escape_sequences_and_overrides_are_shown_not_obeyed() {
        for (hostile, seen) in [
            // Clear the screen, then a line of one's own.
            ("\u{1b}[2J\u{1b}[Hvpce-1 accepted", "\\u001b[2J\\u001b[Hvpce-1 accepted"),
            // OSC 52: set the clipboard.
            ("\u{1b}]52;c;Y3VybCBldmlsIHwgc2g=\u{7}", "\\u001b]52;c;Y3VybCBldmlsIHwgc2g=\\u0007"),
            // The single-byte CSI of C1, a carriage return, DEL.
            ("a\u{9b}2Kb\rc\u{7f}", "a\\u009b2Kb\\u000dc\\u007f"),
            // A name shown reversed.
            ("evil\u{202e}moc.elpmaxe", "evil\\u202emoc.elpmaxe"),
            ("\u{2066}x\u{2069}", "\\u2066x\\u2069"),
        ] {
            assert_eq!(shown(hostile), seen);
        }
    }

    #[test]
    fn ordinary_text_lines_and_tabs_pass_untouched() {
        let text = "vpce-0a1b\tdns vpce-0a1b.vpce-svc.us-east-1.vpce.amazonaws.com\n  Zürich 東京 ✓";
        assert!(matches!(shown(text), Cow::Borrowed(t) if t == text));
    }

    #[test]
    fn a_field_stays_on_its_line() {
        let forged = "a.example\nvpce-0000000000000ee02 svc 111111111111 eu-west-1 available\tx";
        assert_eq!(
            field(forged),
            "a.example\\u000avpce-0000000000000ee02 svc 111111111111 eu-west-1 available\\u0009x"
        );
        assert_eq!(field("\u{1b}[2J"), "\\u001b[2J", "and shown as `shown` shows it");
        assert!(matches!(field("vpce-1.example"), Cow::Borrowed(_)));
    }

    proptest! {
        /// JSON output stays JSON and means the same, and what reaches the
        /// terminal holds nothing it would obey.
        #[test]
        fn json_output_keeps_its_meaning(value in "\\PC*|[\\x00-\\x1f\\x7f-\\u{9f}\\u{202a}-\\u{202e}\\u{2066}-\\u{2069}a-z]{0,40}") {
            let printed = serde_json::to_string_pretty(&serde_json::json!({ "dns_name": value })).unwrap();
            let seen = shown(&printed);
            prop_assert!(!seen.chars().any(obeyed));
            let back: serde_json::Value = serde_json::from_str(&seen).unwrap();
            prop_assert_eq!(back["dns_name"].as_str(), Some(value.as_str()));
        }
    }
}
