//! Text forms shared with the C library: `%lld`, glibc's `%.2f`, and
//! `lc_real_escape_string`. `%.2f` is computed exactly here rather than
//! trusting `format!("{:.2}")`, whose tie rounding changed between Rust
//! releases; glibc rounds the exact binary value, ties to even.

use num_bigint::BigUint;
use std::cmp::Ordering;

/// `LC_DOUBLE_BUF_SIZE`: a DOUBLE in a result row is formatted into a buffer
/// of this many bytes, NUL included (expanded SQL is never cut).
pub const DOUBLE_BUF_SIZE: usize = 32;

/// INT as C's `"%lld"`.
pub fn format_int(value: i64) -> String {
    value.to_string()
}

/// DOUBLE as glibc's `"%.2f"`: exact value rounded half-to-even at the
/// hundredths; "-" whenever the sign bit is set (so "-0.00");
/// "inf"/"nan" spelled as glibc does.
pub fn format_double(value: f64) -> String {
    let sign = if value.is_sign_negative() { "-" } else { "" };
    if value.is_nan() {
        return format!("{sign}nan");
    }
    if value.is_infinite() {
        return format!("{sign}inf");
    }
    let digits = format!("{:0>3}", hundredths(value.abs()));
    let (whole, fraction) = digits.split_at(digits.len() - 2);
    format!("{sign}{whole}.{fraction}")
}

/// `value * 100`, rounded to the nearest integer, ties to even, computed
/// on the exact binary value (finite, non-negative `value`).
fn hundredths(value: f64) -> BigUint {
    let (mantissa, exponent) = decompose(value);
    let scaled = BigUint::from(mantissa) * 100u32;
    if exponent >= 0 {
        return scaled << exponent.unsigned_abs();
    }
    let shift = exponent.unsigned_abs();
    let quotient = &scaled >> shift;
    let remainder = scaled - (&quotient << shift);
    let half = BigUint::from(1u32) << (shift - 1);
    let round_up = match remainder.cmp(&half) {
        Ordering::Greater => true,
        Ordering::Equal => quotient.bit(0),
        Ordering::Less => false,
    };
    if round_up { quotient + 1u32 } else { quotient }
}

/// `value == mantissa * 2^exponent` exactly (finite, non-negative `value`).
fn decompose(value: f64) -> (u64, i32) {
    let bits = value.to_bits();
    let biased = i32::try_from((bits >> 52) & 0x7ff).unwrap_or_default();
    let fraction = bits & ((1 << 52) - 1);
    if biased == 0 {
        (fraction, -1074)
    } else {
        (fraction | (1 << 52), biased - 1075)
    }
}

/// `lc_real_escape_string`: NUL, '\n', '\r', '\\', '\'', '"' and 0x1a become
/// a backslash and 0, n, r, \, ', " and Z; every other byte is copied.
pub fn escape(input: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(input.len() * 2);
    for &byte in input {
        match escaped(byte) {
            Some(code) => out.extend_from_slice(&[b'\\', code]),
            None => out.push(byte),
        }
    }
    out
}

/// The letter after the backslash for bytes that need escaping.
fn escaped(byte: u8) -> Option<u8> {
    match byte {
        0 => Some(b'0'),
        b'\n' => Some(b'n'),
        b'\r' => Some(b'r'),
        b'\\' => Some(b'\\'),
        b'\'' => Some(b'\''),
        b'"' => Some(b'"'),
        0x1a => Some(b'Z'),
        _ => None,
    }
}

/// A TEXT value as a literal: quoted and escaped (expanded SQL).
pub fn quote_text(value: &[u8]) -> Vec<u8> {
    let mut out = vec![b'\''];
    out.extend(escape(value));
    out.push(b'\'');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ties_round_to_even_on_the_exact_value() {
        // Exact binary ties: glibc rounds half to even.
        assert_eq!(format_double(0.125), "0.12");
        assert_eq!(format_double(0.375), "0.38");
        assert_eq!(format_double(0.625), "0.62");
        assert_eq!(format_double(0.875), "0.88");
        assert_eq!(format_double(-0.125), "-0.12");
        assert_eq!(format_double(2.5), "2.50");
        // Not ties: the stored binary value is below or above the midpoint.
        assert_eq!(format_double(2.675), "2.67");
        assert_eq!(format_double(1.005), "1.00");
        assert_eq!(format_double(0.015), "0.01");
        assert_eq!(format_double(0.025), "0.03");
        assert_eq!(format_double(0.005), "0.01");
    }

    #[test]
    fn signs_zero_and_specials() {
        assert_eq!(format_double(0.0), "0.00");
        assert_eq!(format_double(-0.0), "-0.00");
        assert_eq!(format_double(-0.001), "-0.00");
        assert_eq!(format_double(73.1), "73.10");
        assert_eq!(format_double(-12.345), "-12.35");
        assert_eq!(format_double(f64::INFINITY), "inf");
        assert_eq!(format_double(f64::NEG_INFINITY), "-inf");
        assert_eq!(format_double(f64::NAN), "nan");
        assert_eq!(format_double(-f64::NAN), "-nan");
        assert_eq!(format_double(f64::MIN_POSITIVE / 4.0), "0.00");
    }

    #[test]
    fn large_values_print_every_digit() {
        assert_eq!(format_double(9007199254740993.0), "9007199254740992.00");
        let big = format_double(1e300);
        assert!(big.starts_with("1000000000000000052504760255204420248704468581108159154915854115511802457988908195786371375080447864043704443832883878176942523235360430575644792184786706982848387200926575803737830233794788090059368953234970799945081119038967640880074652742780142494579258788820056842838115669472196386865459400540160"));
        assert!(big.ends_with(".00"));
    }

    #[test]
    fn ints() {
        assert_eq!(format_int(i64::MIN), "-9223372036854775808");
        assert_eq!(format_int(0), "0");
    }

    #[test]
    fn escapes_every_special_byte() {
        assert_eq!(
            escape(b"a\0b\nc\rd\\e'f\"g\x1ah\t"),
            b"a\\0b\\nc\\rd\\\\e\\'f\\\"g\\Zh\t".to_vec()
        );
        assert_eq!(quote_text(b"it's"), b"'it\\'s'".to_vec());
    }
}
