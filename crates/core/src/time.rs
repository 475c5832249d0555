//! Seconds since the Unix epoch, printed and parsed as RFC 3339 UTC. The
//! decision only ever compares instants and shows dates to people, which
//! does not justify a calendar crate.

use std::fmt;
use std::str::FromStr;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Deserializer, Serialize, Serializer};

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Timestamp(i64);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{input:?} is not a date (YYYY-MM-DD) or UTC time (YYYY-MM-DDTHH:MM:SSZ)")]
pub struct TimeError {
    pub input: String,
}

impl Timestamp {
    pub const fn from_unix(secs: i64) -> Self {
        Self(secs)
    }

    pub const fn unix(self) -> i64 {
        self.0
    }

    pub const fn plus_secs(self, secs: i64) -> Self {
        Self(self.0.saturating_add(secs))
    }

    /// The calendar date, `YYYY-MM-DD`.
    pub fn date(self) -> String {
        let (y, m, d) = civil_from_days(self.0.div_euclid(86_400));
        format!("{y:04}-{m:02}-{d:02}")
    }
}

/// The clock is read at the edge (a function's invocation, a command) and
/// the instant passed in, so every rule here is tested at chosen times.
/// Instants before the epoch are the epoch.
impl From<SystemTime> for Timestamp {
    fn from(t: SystemTime) -> Self {
        let secs = t.duration_since(UNIX_EPOCH).map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
        Self(secs)
    }
}

// Howard Hinnant's days_from_civil / civil_from_days, proleptic Gregorian.
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m as i64 + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        4 | 6 | 9 | 11 => 30,
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        _ => 31,
    }
}

impl FromStr for Timestamp {
    type Err = TimeError;
    fn from_str(s: &str) -> Result<Self, TimeError> {
        match Self::parse_exact(s) {
            Some(t) => Ok(t),
            None => Self::parse_general(s),
        }
    }
}

impl Timestamp {
    /// The form every stored instant takes, `YYYY-MM-DDTHH:MM:SSZ`, read
    /// byte by byte (lookup reads three per registry entry). Anything
    /// else, valid or not, is left to [`Self::parse_general`], which
    /// names the input in its error.
    fn parse_exact(s: &str) -> Option<Self> {
        let b: &[u8; 20] = s.as_bytes().try_into().ok()?;
        let separators = [(4, b'-'), (7, b'-'), (10, b'T'), (13, b':'), (16, b':'), (19, b'Z')];
        if separators.iter().any(|&(at, c)| b[at] != c) {
            return None;
        }
        let num = |from: usize, to: usize| {
            b[from..to]
                .iter()
                .try_fold(0u32, |n, &c| c.is_ascii_digit().then(|| n * 10 + u32::from(c - b'0')))
        };
        let (y, m, d) = (num(0, 4)?, num(5, 7)?, num(8, 10)?);
        let (h, mi, se) = (num(11, 13)?, num(14, 16)?, num(17, 19)?);
        let y = i64::from(y);
        if !(1..=12).contains(&m) || d == 0 || d > days_in_month(y, m) || h > 23 || mi > 59 || se > 60 {
            return None;
        }
        Some(Self(days_from_civil(y, m, d) * 86_400 + i64::from(h * 3600 + mi * 60 + se)))
    }

    /// A date, or a UTC time with or without fractional seconds.
    fn parse_general(s: &str) -> Result<Self, TimeError> {
        let err = || TimeError { input: s.chars().take(40).collect() };
        let num = |part: &str| -> Result<u32, TimeError> {
            if part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) {
                return Err(err());
            }
            part.parse().map_err(|_| err())
        };
        let (date, time) = match s.split_once('T') {
            Some((d, t)) => (d, Some(t.strip_suffix('Z').ok_or_else(err)?)),
            None => (s, None),
        };
        let mut parts = date.split('-');
        let (Some(y), Some(m), Some(d), None) = (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(err());
        };
        if y.len() != 4 || m.len() != 2 || d.len() != 2 {
            return Err(err());
        }
        let (y, m, d) = (i64::from(num(y)?), num(m)?, num(d)?);
        if !(1..=12).contains(&m) || d == 0 || d > days_in_month(y, m) {
            return Err(err());
        }
        let mut secs = days_from_civil(y, m, d) * 86_400;
        if let Some(t) = time {
            // Fractional seconds are accepted and dropped.
            let t = t.split('.').next().unwrap_or(t);
            let mut hms = t.split(':');
            let (Some(h), Some(mi), Some(se), None) = (hms.next(), hms.next(), hms.next(), hms.next()) else {
                return Err(err());
            };
            if h.len() != 2 || mi.len() != 2 || se.len() != 2 {
                return Err(err());
            }
            let (h, mi, se) = (num(h)?, num(mi)?, num(se)?);
            if h > 23 || mi > 59 || se > 60 {
                return Err(err());
            }
            secs += i64::from(h * 3600 + mi * 60 + se);
        }
        Ok(Self(secs))
    }

    /// `YYYY-MM-DDTHH:MM:SSZ` written digit by digit, for the years that
    /// have four digits (0 to 9999); `None` for the others. lookup writes
    /// three per registry entry, and `write!` with a `format!`ed date cost
    /// ten times as much.
    fn rfc3339(self) -> Option<Rfc3339> {
        let (y, m, d) = civil_from_days(self.0.div_euclid(86_400));
        let y = u32::try_from(y).ok().filter(|y| *y <= 9999)?;
        let secs = self.0.rem_euclid(86_400) as u32;
        let mut text = *b"0000-00-00T00:00:00Z";
        for (at, len, n) in [
            (0, 4, y),
            (5, 2, m),
            (8, 2, d),
            (11, 2, secs / 3600),
            (14, 2, secs / 60 % 60),
            (17, 2, secs % 60),
        ] {
            let mut n = n;
            for digit in text[at..at + len].iter_mut().rev() {
                *digit = b'0' + (n % 10) as u8;
                n /= 10;
            }
        }
        Some(Rfc3339(text))
    }

    /// Any instant, years of more or fewer than four digits included.
    fn write_general(self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let secs = self.0.rem_euclid(86_400);
        write!(f, "{}T{:02}:{:02}:{:02}Z", self.date(), secs / 3600, secs / 60 % 60, secs % 60)
    }
}

/// An instant's text, all ASCII digits and separators.
struct Rfc3339([u8; 20]);

impl Rfc3339 {
    fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).unwrap_or_default()
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.rfc3339() {
            Some(text) => f.write_str(text.as_str()),
            None => self.write_general(f),
        }
    }
}

impl fmt::Debug for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Timestamp({self})")
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.rfc3339() {
            Some(text) => s.serialize_str(text.as_str()),
            None => s.collect_str(self),
        }
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_str(TimestampVisitor)
    }
}

/// Reads the text where it is, without a `String` of its own.
struct TimestampVisitor;

impl serde::de::Visitor<'_> for TimestampVisitor {
    type Value = Timestamp;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a date (YYYY-MM-DD) or UTC time (YYYY-MM-DDTHH:MM:SSZ)")
    }

    fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<Timestamp, E> {
        text.parse().map_err(E::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn known_instants() {
        assert_eq!(Timestamp::from_unix(0).to_string(), "1970-01-01T00:00:00Z");
        assert_eq!("2027-01-01".parse::<Timestamp>().map(|t| t.unix()), Ok(1_798_761_600));
        assert_eq!(
            "2024-02-29T12:30:05Z".parse::<Timestamp>().map(|t| t.to_string()),
            Ok("2024-02-29T12:30:05Z".into())
        );
        assert_eq!("2026-11-22T03:25:00.123Z".parse::<Timestamp>().map(|t| t.unix()), Ok(1_795_317_900));
    }

    #[test]
    fn refuses_impossible_dates() {
        for bad in [
            "2023-02-29",
            "2027-13-01",
            "2027-00-10",
            "2027-1-1",
            "27-01-01",
            "2027-01-01T25:00:00Z",
            "2027-01-01T10:00:00",
            "yesterday",
            "",
            "2027-01-01T10:00Z",
            "+027-01-01",
        ] {
            assert!(bad.parse::<Timestamp>().is_err(), "{bad}");
        }
    }

    /// The general writer, for comparing.
    struct General(Timestamp);

    impl fmt::Display for General {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            self.0.write_general(f)
        }
    }

    #[test]
    fn serde_reads_and_writes_the_text() {
        let t: Timestamp = "2026-12-03T07:30:59Z".parse().expect("a time");
        assert_eq!(serde_json::to_string(&t).expect("json"), "\"2026-12-03T07:30:59Z\"");
        assert_eq!(serde_json::from_str::<Timestamp>("\"2026-12-03T07:30:59Z\"").expect("reads"), t);
        assert_eq!(
            serde_json::from_str::<Timestamp>("\"2026-12-03\"").expect("a date"),
            t.plus_secs(-27_059)
        );
        let err = serde_json::from_str::<Timestamp>("\"2026-02-30T00:00:00Z\"").expect_err("no such day");
        assert!(err.to_string().contains("\"2026-02-30T00:00:00Z\" is not a date"), "{err}");
        let err = serde_json::from_str::<Timestamp>("17").expect_err("not text");
        assert!(err.to_string().contains("a date (YYYY-MM-DD)"), "{err}");
        // Years outside four digits take the general path both ways.
        let far = Timestamp::from_unix(400_000_000_000);
        assert_eq!(serde_json::to_string(&far).expect("json"), format!("\"{far}\""));
        assert!(far.to_string().starts_with("14645-"), "{far}");
    }

    #[test]
    fn system_times_convert_to_whole_seconds() {
        let t = UNIX_EPOCH + std::time::Duration::from_millis(1_800_000_000_999);
        assert_eq!(Timestamp::from(t), Timestamp::from_unix(1_800_000_000));
        let before = UNIX_EPOCH - std::time::Duration::from_secs(5);
        assert_eq!(Timestamp::from(before), Timestamp::from_unix(0));
    }

    proptest! {
        #[test]
        fn display_parses_back(secs in -62_000_000_000i64..250_000_000_000) {
            let t = Timestamp::from_unix(secs);
            prop_assume!(t.date().len() == 10);
            prop_assert_eq!(t.to_string().parse::<Timestamp>(), Ok(t));
        }

        /// The digit-by-digit writer says what the general one says, at
        /// every instant it takes; the others fall back to it.
        #[test]
        fn the_fast_text_is_the_general_text(secs in -62_000_000_000i64..400_000_000_000) {
            let t = Timestamp::from_unix(secs);
            let general = General(t).to_string();
            match t.rfc3339() {
                Some(text) => prop_assert_eq!(text.as_str(), general),
                None => prop_assert_eq!(t.to_string(), general),
            }
        }

        /// Every twenty-character string reads the same through the fast
        /// reader as through the general one, impossible dates included.
        #[test]
        fn the_fast_reader_agrees_with_the_general_one(
            text in "[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z|[0-9:TZ-]{20}",
        ) {
            let fast = Timestamp::parse_exact(&text);
            let general = Timestamp::parse_general(&text).ok();
            // Twenty characters hold no other form the general reader
            // takes, so the fast one must take exactly what it takes.
            prop_assert_eq!(fast, general, "{}", text);
            prop_assert_eq!(text.parse::<Timestamp>().ok(), general);
        }
    }
}
