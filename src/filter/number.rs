//! Values of numeric tokens, as lttng-tools reads them with glibc `sscanf`:
//! `%20llu`, `0%22llo`, `0x%17llx` (widths count digits; overflow saturates
//! to 2^64-1, as strtoull does) and `%4096lg` (the longest prefix strtod
//! takes, correctly rounded, hex floats included).

use super::lexer::IntKind;

/// The value of an integer token, or `None` where lttng's scanf fails
/// (`0X…` needs a lowercase `x`; `0u`, `0l` have no octal digit after `0`).
pub(crate) fn int_value(kind: IntKind, text: &[u8]) -> Option<u64> {
    let (digits, radix, width) = match kind {
        IntKind::Decimal => (text, 10, 20),
        IntKind::Octal if text == b"0" => return Some(0),
        IntKind::Octal => (text.strip_prefix(b"0")?, 8, 22),
        IntKind::Hex => (text.strip_prefix(b"0x")?, 16, 17),
    };
    let digits: Vec<u32> = digits
        .iter()
        .take(width)
        .map_while(|&b| char::from(b).to_digit(radix))
        .collect();
    if digits.is_empty() {
        return None;
    }
    Some(
        digits
            .iter()
            .try_fold(0u64, |acc, &d| {
                acc.checked_mul(u64::from(radix))?.checked_add(u64::from(d))
            })
            .unwrap_or(u64::MAX),
    )
}

/// The value of a float token (always a valid strtod prefix by construction).
pub(crate) fn float_value(text: &[u8]) -> f64 {
    let text = &text[..text.len().min(4096)];
    if text.len() > 2 && text[0] == b'0' && matches!(text[1], b'x' | b'X') {
        return hex_float(&text[2..]);
    }
    // Longest decimal prefix: digits, '.', digits, exponent with digits.
    let digits = |from: usize| {
        text[from.min(text.len())..]
            .iter()
            .take_while(|b| b.is_ascii_digit())
            .count()
    };
    let mut n = digits(0);
    if text.get(n) == Some(&b'.') {
        n += 1 + digits(n + 1);
    }
    if matches!(text.get(n), Some(b'e' | b'E')) {
        let sign = usize::from(matches!(text.get(n + 1), Some(b'+' | b'-')));
        let e = digits(n + 1 + sign);
        if e > 0 {
            n += 1 + sign + e;
        }
    }
    std::str::from_utf8(&text[..n])
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0.0)
}

/// A hex float body (after `0x`): hex digits, optional `.` and hex digits,
/// optional `p[+-]digits`; rounded to nearest, ties to even, like glibc.
fn hex_float(s: &[u8]) -> f64 {
    // Mantissa: the first 64 significant bits exactly, then a sticky bit.
    let mut mant: u64 = 0;
    let mut sticky = false;
    let mut exp: i64 = 0; // value = mant * 2^exp (before the p exponent)
    let mut seen_point = false;
    let mut i = 0;
    while i < s.len() {
        let b = s[i];
        if b == b'.' && !seen_point {
            seen_point = true;
        } else if let Some(d) = char::from(b).to_digit(16) {
            if mant >> 60 == 0 {
                mant = mant << 4 | u64::from(d);
                if seen_point {
                    exp -= 4;
                }
            } else {
                sticky |= d != 0;
                if !seen_point {
                    exp += 4;
                }
            }
        } else {
            break;
        }
        i += 1;
    }
    if matches!(s.get(i), Some(b'p' | b'P')) {
        let mut j = i + 1;
        let neg = match s.get(j) {
            Some(b'-') => {
                j += 1;
                true
            }
            Some(b'+') => {
                j += 1;
                false
            }
            _ => false,
        };
        let ds = &s[j.min(s.len())..];
        let n = ds.iter().take_while(|b| b.is_ascii_digit()).count();
        if n > 0 {
            // Saturate: anything past ±100,000 is zero or infinity anyway.
            let p = ds[..n].iter().fold(0i64, |acc, &b| {
                (acc * 10 + i64::from(b - b'0')).min(100_000)
            });
            exp += if neg { -p } else { p };
        }
    }
    compose(mant, sticky, exp)
}

/// Rounds `mant * 2^exp` (+ sticky bits below it) to the nearest f64.
fn compose(mant: u64, sticky: bool, exp: i64) -> f64 {
    if mant == 0 {
        return 0.0;
    }
    let top = 63 - i64::from(mant.leading_zeros()); // bit index of the MSB
    let e = top + exp; // value in [2^e, 2^(e+1))
    if e > 1023 {
        return f64::INFINITY;
    }
    // Bits kept: 53 for normal numbers, fewer below 2^-1022.
    let keep = if e >= -1022 { 53 } else { 53 - (-1022 - e) };
    if keep <= 0 {
        // Below half the smallest subnormal, or exactly half: ties to even (0).
        let half = keep == 0 && (mant.count_ones() > 1 || sticky);
        return if half { f64::from_bits(1) } else { 0.0 };
    }
    let drop = top + 1 - keep; // low bits of `mant` to round away
    let (mut m, round_up) = if drop <= 0 {
        (mant << (-drop), false)
    } else {
        let d = drop as u32;
        let kept = mant >> d;
        let rest = mant & ((1u64 << d) - 1);
        let half = 1u64 << (d - 1);
        let up = rest > half || (rest == half && (sticky || kept & 1 == 1));
        (kept, up)
    };
    let mut e = e;
    if round_up {
        m += 1;
        if m >> keep != 0 {
            // Carried into a new bit: renormalize.
            if e >= -1022 {
                m >>= 1;
                e += 1;
            }
        }
    }
    if e > 1023 {
        return f64::INFINITY;
    }
    if e >= -1022 && m >> 52 != 0 {
        let bits = ((e + 1023) as u64) << 52 | (m & ((1u64 << 52) - 1));
        f64::from_bits(bits)
    } else {
        // Subnormal (m counts units of 2^-1074); may have rounded up to 2^-1022.
        f64::from_bits(m)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scanf_integers() {
        assert_eq!(
            int_value(IntKind::Decimal, b"99999999999999999999"),
            Some(u64::MAX)
        );
        assert_eq!(
            int_value(IntKind::Decimal, b"123456789012345678901234"),
            Some(12345678901234567890)
        );
        assert_eq!(int_value(IntKind::Hex, b"0X1F"), None);
        assert_eq!(int_value(IntKind::Hex, b"0x1fULL"), Some(0x1f));
        assert_eq!(int_value(IntKind::Octal, b"0u"), None);
        assert_eq!(int_value(IntKind::Octal, b"017l"), Some(15));
        assert_eq!(
            int_value(IntKind::Octal, b"02000000000000000000000"),
            Some(u64::MAX)
        );
    }

    #[test]
    fn hex_floats_round_like_glibc() {
        assert_eq!(float_value(b"0x1.8p1"), 3.0);
        assert_eq!(float_value(b"0x1.8f"), 1.0 + 143.0 / 256.0);
        assert_eq!(float_value(b"0x1.fffffffffffff8p0"), 2.0);
        assert_eq!(float_value(b"0x1.00000000000008p0"), 1.0);
        assert_eq!(
            float_value(b"0x1.000000000000081p0").to_bits(),
            1.0f64.to_bits() + 1
        );
        assert_eq!(float_value(b"0x1p-1074").to_bits(), 1);
        assert_eq!(float_value(b"0x1p-1075").to_bits(), 0);
        assert_eq!(float_value(b"0x1.8p-1074").to_bits(), 2);
        assert_eq!(float_value(b"0x1p1024"), f64::INFINITY);
        assert_eq!(float_value(b"0XAP-2L"), 2.5);
        assert_eq!(float_value(b"1.e5"), 100000.0);
    }
}
