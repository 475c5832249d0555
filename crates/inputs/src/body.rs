//! The body of a Function URL request as text: decoded from base64 when
//! the Function URL sent it so, bounded before and after decoding.

use base64::Engine;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};

/// Request bodies larger than this are refused: the forms that reach the
/// functions have a handful of fields.
pub const MAX_BODY: usize = 16 * 1024;

/// Why a request body cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BodyError {
    #[error("the body is larger than {MAX_BODY} bytes")]
    TooLarge,
    #[error("the body is not valid base64")]
    NotBase64,
    #[error("the body is not UTF-8")]
    NotUtf8,
}

/// Standard alphabet; padding optional and loose trailing bits allowed,
/// as the decoder respond had before took them.
const BASE64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_decode_padding_mode(DecodePaddingMode::Indifferent)
        .with_decode_allow_trailing_bits(true),
);

/// The body as text. `raw` is the body as the event carries it.
pub fn text(raw: Option<&str>, base64_encoded: bool) -> Result<String, BodyError> {
    let raw = raw.unwrap_or_default();
    // Base64 is 4/3 of the bytes: anything longer than twice the limit is
    // refused before decoding.
    if raw.len() > MAX_BODY * 2 {
        return Err(BodyError::TooLarge);
    }
    let bytes = if base64_encoded {
        BASE64.decode(raw).map_err(|_| BodyError::NotBase64)?
    } else {
        raw.as_bytes().to_vec()
    };
    if bytes.len() > MAX_BODY {
        return Err(BodyError::TooLarge);
    }
    String::from_utf8(bytes).map_err(|_| BodyError::NotUtf8)
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::engine::general_purpose::STANDARD;
    use proptest::prelude::*;

    #[test]
    fn plain_and_base64_bodies_read_the_same() {
        assert_eq!(text(Some("e=vpce-1&a=approve"), false).as_deref(), Ok("e=vpce-1&a=approve"));
        assert_eq!(text(Some("ZT12cGNlLTEmYT1hcHByb3Zl"), true).as_deref(), Ok("e=vpce-1&a=approve"));
        assert_eq!(text(Some("YQ=="), true).as_deref(), Ok("a"));
        assert_eq!(text(Some("YQ"), true).as_deref(), Ok("a"), "padding is optional");
        assert_eq!(text(None, false).as_deref(), Ok(""));
        assert_eq!(text(None, true).as_deref(), Ok(""));
    }

    #[test]
    fn hostile_bodies_are_refused_with_the_reason() {
        let big = "a".repeat(MAX_BODY + 1);
        let cases = [
            ("too large", text(Some(&big), false), BodyError::TooLarge),
            ("too large once decoded", text(Some(&STANDARD.encode(&big)), true), BodyError::TooLarge),
            ("far too large to decode", text(Some(&"A".repeat(MAX_BODY * 2 + 4)), true), BodyError::TooLarge),
            ("not base64", text(Some("!!!notbase64"), true), BodyError::NotBase64),
            ("padding inside", text(Some("YQ==YQ=="), true), BodyError::NotBase64),
            ("binary", text(Some(&STANDARD.encode([0xff, 0xfe, 0x00])), true), BodyError::NotUtf8),
        ];
        for (what, got, want) in cases {
            assert_eq!(got, Err(want.clone()), "{what}");
        }
        assert_eq!(BodyError::TooLarge.to_string(), format!("the body is larger than {MAX_BODY} bytes"));
    }

    proptest! {
        #[test]
        fn base64_round_trips(s in "\\PC{0,200}") {
            prop_assert_eq!(text(Some(&STANDARD.encode(&s)), true), Ok(s));
        }

        #[test]
        fn never_panics(s in "\\PC{0,200}", encoded: bool) {
            let _ = text(Some(&s), encoded);
        }
    }
}
