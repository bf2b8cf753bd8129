//! `LSPS0.datetime`: a UTC instant, written `YYYY-MM-DDThh:mm:ss.mmmZ`.
//!
//! Output is strict (always `Z`, always at least three fractional digits). Input is tolerant:
//! any RFC 3339 timestamp, with or without fractional seconds (up to nanoseconds), with `Z`
//! or a numeric offset. Instants before 1970 or after 9999 are refused, as are leap seconds,
//! so arithmetic on the result can never panic.

use std::fmt;
use std::str::FromStr;

use super::{serde_via_str, SchemaError};

/// Seconds from 1970-01-01T00:00:00Z to 9999-12-31T23:59:59Z.
const MAX_UNIX_SECS: u64 = 253_402_300_799;

/// Longest input accepted: "9999-12-31T23:59:59.123456789+00:00" is 35 characters; extra
/// fractional digits beyond nanoseconds are read but ignored, up to this cap.
const MAX_INPUT_LEN: usize = 64;

/// A UTC instant between 1970-01-01 and 9999-12-31, with nanosecond precision.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DateTime {
    unix_secs: u64,
    nanos: u32,
}

impl DateTime {
    /// 1970-01-01T00:00:00.000Z.
    pub const UNIX_EPOCH: DateTime = DateTime { unix_secs: 0, nanos: 0 };

    /// The instant `unix_secs` seconds after the epoch; `None` after 9999.
    pub fn from_unix_secs(unix_secs: u64) -> Option<DateTime> {
        (unix_secs <= MAX_UNIX_SECS).then_some(DateTime { unix_secs, nanos: 0 })
    }

    /// The instant `unix_millis` milliseconds after the epoch; `None` after 9999.
    pub fn from_unix_millis(unix_millis: u64) -> Option<DateTime> {
        let unix_secs = unix_millis / 1000;
        // The remainder is below 1000, so the product is below 10^9.
        let nanos = (unix_millis % 1000) as u32 * 1_000_000;
        (unix_secs <= MAX_UNIX_SECS).then_some(DateTime { unix_secs, nanos })
    }

    /// Whole seconds since the epoch.
    pub fn unix_secs(&self) -> u64 {
        self.unix_secs
    }

    /// Milliseconds since the epoch, sub-millisecond precision dropped.
    pub fn unix_millis(&self) -> u64 {
        // At most 253_402_300_799_999, far below u64::MAX.
        self.unix_secs * 1000 + u64::from(self.nanos / 1_000_000)
    }

    /// Nanoseconds within the second.
    pub fn subsec_nanos(&self) -> u32 {
        self.nanos
    }

    /// The same instant truncated to whole milliseconds, the precision LSPS0 writes.
    pub fn truncated_to_millis(&self) -> DateTime {
        DateTime { unix_secs: self.unix_secs, nanos: self.nanos - self.nanos % 1_000_000 }
    }

    /// This instant plus `secs` seconds; `None` past 9999.
    pub fn checked_add_secs(&self, secs: u64) -> Option<DateTime> {
        let unix_secs = self.unix_secs.checked_add(secs)?;
        (unix_secs <= MAX_UNIX_SECS).then_some(DateTime { unix_secs, nanos: self.nanos })
    }

    /// Whole seconds from `earlier` to `self`, or 0 if `earlier` is later.
    pub fn secs_since(&self, earlier: &DateTime) -> u64 {
        self.unix_secs.saturating_sub(earlier.unix_secs)
    }

    /// The format `chrono::DateTime<Utc>::to_rfc3339()` produces (`+00:00` offset, 0/3/6/9
    /// fractional digits). LDK hashes and signs this form, so interop needs it bit for bit.
    pub fn to_rfc3339_plus_offset(&self) -> String {
        let mut text = self.format_without_zone(FractionStyle::AutoSi);
        text.push_str("+00:00");
        text
    }

    fn format_without_zone(&self, style: FractionStyle) -> String {
        let days = self.unix_secs / 86_400;
        let secs_of_day = self.unix_secs % 86_400;
        let (year, month, day) = civil_from_days(days);
        let mut text = format!(
            "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}",
            secs_of_day / 3600,
            secs_of_day / 60 % 60,
            secs_of_day % 60
        );
        let nanos = self.nanos;
        let digits = match style {
            FractionStyle::AtLeastMillis if nanos % 1_000_000 == 0 => 3,
            FractionStyle::AutoSi if nanos == 0 => 0,
            _ if nanos % 1_000_000 == 0 => 3,
            _ if nanos % 1_000 == 0 => 6,
            _ => 9,
        };
        if digits > 0 {
            let fraction = format!("{nanos:09}");
            text.push('.');
            text.push_str(&fraction[..digits]);
        }
        text
    }
}

#[derive(Clone, Copy)]
enum FractionStyle {
    /// LSPS0: always `.mmm`, more digits only when the value has them.
    AtLeastMillis,
    /// chrono's `SecondsFormat::AutoSi`: none, 3, 6 or 9 digits.
    AutoSi,
}

impl fmt::Display for DateTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.format_without_zone(FractionStyle::AtLeastMillis))?;
        f.write_str("Z")
    }
}

impl FromStr for DateTime {
    type Err = SchemaError;

    fn from_str(text: &str) -> Result<DateTime, SchemaError> {
        if text.len() > MAX_INPUT_LEN || !text.is_ascii() {
            return Err(SchemaError::DateTime("not an RFC 3339 timestamp"));
        }
        let mut cursor = Cursor { bytes: text.as_bytes(), position: 0 };
        let year = cursor.number(4)?;
        cursor.expect(b'-')?;
        let month = cursor.number(2)?;
        cursor.expect(b'-')?;
        let day = cursor.number(2)?;
        cursor.expect_one_of(b"Tt")?;
        let hour = cursor.number(2)?;
        cursor.expect(b':')?;
        let minute = cursor.number(2)?;
        cursor.expect(b':')?;
        let second = cursor.number(2)?;
        let mut nanos = 0u32;
        if cursor.peek() == Some(b'.') {
            cursor.position += 1;
            let mut digits = 0;
            while let Some(digit) = cursor.peek().filter(u8::is_ascii_digit) {
                if digits < 9 {
                    nanos = nanos * 10 + u32::from(digit - b'0');
                }
                digits += 1;
                cursor.position += 1;
            }
            if digits == 0 {
                return Err(SchemaError::DateTime("empty fractional seconds"));
            }
            for _ in digits..9 {
                nanos *= 10;
            }
        }
        let offset_secs: i64 = match cursor.next() {
            Some(b'Z' | b'z') => 0,
            Some(sign @ (b'+' | b'-')) => {
                let hours = cursor.number(2)?;
                cursor.expect(b':')?;
                let minutes = cursor.number(2)?;
                if hours > 23 || minutes > 59 {
                    return Err(SchemaError::DateTime("offset out of range"));
                }
                let magnitude = i64::from(hours * 3600 + minutes * 60);
                if sign == b'+' {
                    magnitude
                } else {
                    -magnitude
                }
            }
            _ => return Err(SchemaError::DateTime("missing time zone (Z or ±hh:mm)")),
        };
        if cursor.position != cursor.bytes.len() {
            return Err(SchemaError::DateTime("trailing characters"));
        }
        if !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) {
            return Err(SchemaError::DateTime("no such date"));
        }
        if hour > 23 || minute > 59 {
            return Err(SchemaError::DateTime("no such time"));
        }
        if second > 59 {
            return Err(SchemaError::DateTime("leap seconds are not supported"));
        }
        // Years are at most 9999 (four digits), so these fit easily in i64.
        let local_secs = days_from_civil(year, month, day) * 86_400 + i64::from(hour * 3600 + minute * 60 + second);
        let unix_secs = local_secs - offset_secs;
        if unix_secs < 0 {
            return Err(SchemaError::DateTime("before 1970-01-01"));
        }
        let unix_secs = unix_secs as u64;
        if unix_secs > MAX_UNIX_SECS {
            return Err(SchemaError::DateTime("after 9999-12-31"));
        }
        Ok(DateTime { unix_secs, nanos })
    }
}

serde_via_str!(DateTime, "an RFC 3339 datetime string");

struct Cursor<'a> {
    bytes: &'a [u8],
    position: usize,
}

impl Cursor<'_> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.position).copied()
    }

    fn next(&mut self) -> Option<u8> {
        let byte = self.peek()?;
        self.position += 1;
        Some(byte)
    }

    fn expect(&mut self, wanted: u8) -> Result<(), SchemaError> {
        self.expect_one_of(&[wanted])
    }

    fn expect_one_of(&mut self, wanted: &[u8]) -> Result<(), SchemaError> {
        match self.next() {
            Some(byte) if wanted.contains(&byte) => Ok(()),
            _ => Err(SchemaError::DateTime("not an RFC 3339 timestamp")),
        }
    }

    /// Exactly `digits` ASCII digits (at most 4, so the value fits in u32).
    fn number(&mut self, digits: usize) -> Result<u32, SchemaError> {
        let mut value = 0u32;
        for _ in 0..digits {
            match self.next() {
                Some(digit) if digit.is_ascii_digit() => value = value * 10 + u32::from(digit - b'0'),
                _ => return Err(SchemaError::DateTime("not an RFC 3339 timestamp")),
            }
        }
        Ok(value)
    }
}

fn is_leap_year(year: u32) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

fn days_in_month(year: u32, month: u32) -> u32 {
    match month {
        2 if is_leap_year(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days from 1970-01-01 to the given proleptic Gregorian date (negative before 1970).
/// Howard Hinnant's `days_from_civil`.
fn days_from_civil(year: u32, month: u32, day: u32) -> i64 {
    let year = i64::from(year) - i64::from(month <= 2);
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month = i64::from(month);
    let day_of_year = (153 * (if month > 2 { month - 3 } else { month + 9 }) + 2) / 5 + i64::from(day) - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// The inverse of [`days_from_civil`] for days on or after 1970-01-01.
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let day_of_era = z - era * 146_097;
    let year_of_era = (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_index + 2) / 5 + 1;
    let month = if month_index < 10 { month_index + 3 } else { month_index - 9 };
    let year = year_of_era + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<DateTime, SchemaError> {
        text.parse()
    }

    #[test]
    fn strict_output_tolerant_input() {
        let instant = parse("2025-06-01T12:00:00Z").unwrap();
        assert_eq!(instant.to_string(), "2025-06-01T12:00:00.000Z");
        assert_eq!(instant.unix_secs(), 1_748_779_200);
        assert_eq!(parse("2025-06-01T14:00:00+02:00").unwrap(), instant);
        assert_eq!(parse("2025-06-01t12:00:00z").unwrap(), instant);
        let precise = parse("2025-06-01T13:00:00.511123456Z").unwrap();
        assert_eq!(precise.to_string(), "2025-06-01T13:00:00.511123456Z");
        assert_eq!(precise.truncated_to_millis().to_string(), "2025-06-01T13:00:00.511Z");
        assert_eq!(parse("2025-06-01T13:00:00.5Z").unwrap().to_string(), "2025-06-01T13:00:00.500Z");
        assert_eq!(parse("2025-06-01T13:00:00.511Z").unwrap().unix_millis(), 1_748_782_800_511);
    }

    #[test]
    fn chrono_style_for_ldk() {
        assert_eq!(
            parse("2025-06-01T13:00:00.511Z").unwrap().to_rfc3339_plus_offset(),
            "2025-06-01T13:00:00.511+00:00"
        );
        assert_eq!(parse("2025-06-01T13:00:00Z").unwrap().to_rfc3339_plus_offset(), "2025-06-01T13:00:00+00:00");
        assert_eq!(
            parse("2025-06-01T13:00:00.000001Z").unwrap().to_rfc3339_plus_offset(),
            "2025-06-01T13:00:00.000001+00:00"
        );
    }

    #[test]
    fn hostile_values_are_errors() {
        for bad in [
            "1969-12-31T23:59:59Z",
            "1970-01-01T00:59:59+01:00",
            "10000-01-01T00:00:00Z",
            "9999-12-31T23:59:59-00:01",
            "2025-02-29T00:00:00Z",
            "2025-13-01T00:00:00Z",
            "2025-00-10T00:00:00Z",
            "2025-06-01T24:00:00Z",
            "2025-06-01T23:60:00Z",
            "2016-12-31T23:59:60Z",
            "2025-06-01T12:00:00",
            "2025-06-01T12:00:00.Z",
            "2025-06-01T12:00:00+24:00",
            "2025-06-01 12:00:00Z",
            "2025-06-01T12:00:00Zjunk",
            "",
            "٢٠٢٥-06-01T12:00:00Z",
        ] {
            assert!(parse(bad).is_err(), "{bad:?} should be refused");
        }
        assert!(parse(&format!("2025-06-01T12:00:00.{}Z", "1".repeat(100))).is_err());
        assert_eq!(parse("9999-12-31T23:59:59.999Z").unwrap().unix_secs(), MAX_UNIX_SECS);
        assert_eq!(parse("1970-01-01T00:00:00Z").unwrap(), DateTime::UNIX_EPOCH);
        assert_eq!(parse("2024-02-29T00:00:00Z").unwrap().to_string(), "2024-02-29T00:00:00.000Z");
    }

    #[test]
    fn arithmetic_is_checked() {
        let last = DateTime::from_unix_secs(MAX_UNIX_SECS).unwrap();
        assert_eq!(last.checked_add_secs(1), None);
        assert_eq!(DateTime::from_unix_secs(MAX_UNIX_SECS + 1), None);
        assert_eq!(DateTime::from_unix_millis(u64::MAX), None);
        assert_eq!(DateTime::UNIX_EPOCH.secs_since(&last), 0);
    }

    #[test]
    fn calendar_round_trips_every_day() {
        for days in (0..2_932_896u64).step_by(97) {
            let (year, month, day) = civil_from_days(days);
            assert_eq!(days_from_civil(year as u32, month as u32, day as u32), days as i64);
        }
    }
}
