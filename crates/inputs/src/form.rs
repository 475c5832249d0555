//! Form and query encoding (`application/x-www-form-urlencoded`), the
//! reading side: links, the confirmation form, Slack's POST and the lookup
//! API's query strings all arrive in it. Writing it is
//! `gate_core::link::percent_encode`.

/// Decodes `%XX` and `+`; `None` on a broken escape or invalid UTF-8.
pub fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = text.get(i + 1..i + 3)?;
                // from_str_radix takes a leading sign: `%+1` is no escape.
                if !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                    return None;
                }
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

/// The raw (still encoded) value of the first `name=` field of a form.
pub fn raw_field<'a>(form: &'a str, name: &str) -> Option<&'a str> {
    form.split('&').find_map(|pair| pair.strip_prefix(name)?.strip_prefix('='))
}

#[cfg(test)]
mod tests {
    use super::*;
    use gate_core::link::percent_encode;
    use proptest::prelude::*;

    #[test]
    fn escapes_and_plus_decode() {
        assert_eq!(percent_decode("net+ops%40example.com%0A").as_deref(), Some("net ops@example.com\n"));
        for broken in ["%", "%4", "%zz", "%+1", "%-1", "%FF", "%C3"] {
            assert_eq!(percent_decode(broken), None, "{broken}");
        }
    }

    #[test]
    fn a_field_is_found_by_its_whole_name() {
        let form = "reasonable=no&reason=ticket+42&reason=second";
        assert_eq!(raw_field(form, "reason"), Some("ticket+42"));
        assert_eq!(raw_field(form, "reas"), None);
        assert_eq!(raw_field("", "reason"), None);
    }

    proptest! {
        #[test]
        fn encoding_round_trips(s in "\\PC{0,64}") {
            prop_assert_eq!(percent_decode(&percent_encode(&s)), Some(s));
        }

        #[test]
        fn decoding_never_panics(s in "\\PC{0,200}") {
            let _ = percent_decode(&s);
        }
    }
}
