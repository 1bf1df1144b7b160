//! The short path of the decimal parser with the digits after the point
//! read sixteen at a time in an SSSE3 vector, on x86-64 CPUs that have it
//! (every one since about 2008). It gives the same values as the word-wise
//! path in [`super::table`], which it falls back to (through the full
//! parser) for anything it declines.

use super::table::{POW10, ShortPath, leading_digits, word};
use pulp::x86::V2;
use std::arch::x86_64::__m128i;

/// The CPU's SSSE3 (with SSE2 and SSE4): a token that this CPU has them.
/// Only code inlined into a function compiled for them (see
/// [`Sse::vectorize`]) runs the instructions in place; elsewhere each is a
/// call, correct but slow.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Sse(V2);

/// 10ᵏ for k ≤ 16 digits.
const POW10_16: [u64; 17] = {
    let mut table = [1u64; 17];
    let mut k = 1;
    while k < 17 {
        table[k] = table[k - 1] * 10;
        k += 1;
    }
    table
};

impl Sse {
    /// The token, if this CPU has the instructions.
    pub(crate) fn new() -> Option<Self> {
        V2::try_new().map(Self)
    }

    /// Runs `f` compiled for these instructions: only what is inlined into
    /// it (`#[inline(always)]`) gets them.
    pub(crate) fn vectorize<R>(self, f: impl FnOnce() -> R) -> R {
        struct Op<F>(F);
        impl<R, F: FnOnce() -> R> pulp::WithSimd for Op<F> {
            type Output = R;
            #[inline(always)]
            #[allow(clippy::inline_always)]
            fn with_simd<S: pulp::Simd>(self, _: S) -> R {
                (self.0)()
            }
        }
        pulp::Simd::vectorize(self.0, Op(f))
    }

    /// The value of the digit run at the start of `window` when it has at
    /// least one and at most `places` (≤ 16) digits, as the integer with
    /// `places` digits it makes padded with zeros on the right, and the
    /// run's length (16 means it may go on past the window).
    ///
    /// The digits' mask gives the run's length; one shuffle moves the run
    /// to the right of `places` positions (zeros elsewhere), and three
    /// multiply-adds combine pairs, fours and eights of digits.
    #[inline(always)]
    #[allow(
        clippy::inline_always,
        clippy::cast_possible_truncation, // places, len ≤ 16
        clippy::cast_possible_wrap,
        clippy::cast_sign_loss
    )]
    fn fraction(self, window: [u8; 16], places: usize) -> Option<(u64, usize)> {
        let Self(simd) = self;
        let (sse2, ssse3, sse41) = (simd.sse2, simd.ssse3, simd.sse4_1);
        let v: __m128i = pulp::cast(window);
        let digits = sse2._mm_sub_epi8(v, sse2._mm_set1_epi8(b'0' as i8));
        // A byte is a digit when, less '0', it is at most 9 unsigned.
        let is_digit =
            sse2._mm_cmpeq_epi8(sse2._mm_min_epu8(digits, sse2._mm_set1_epi8(9)), digits);
        let mask = sse2._mm_movemask_epi8(is_digit) as u32;
        let len = (!mask).trailing_zeros() as usize;
        if len == 0 || len > places {
            return None;
        }
        // Position p takes digit p − (16 − places) when that is in the run;
        // an index with its high bit set gives zero.
        let iota = sse2._mm_setr_epi8(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
        let from = sse2._mm_add_epi8(iota, sse2._mm_set1_epi8(places as i8 - 16));
        let outside = sse2._mm_or_si128(
            sse2._mm_cmplt_epi8(from, sse2._mm_setzero_si128()),
            sse2._mm_cmpgt_epi8(from, sse2._mm_set1_epi8(len as i8 - 1)),
        );
        let aligned = ssse3._mm_shuffle_epi8(digits, sse2._mm_or_si128(from, outside));
        // Pairs (10a + b), fours (100·pair + pair), eights (10⁴·four + four).
        let pairs = ssse3._mm_maddubs_epi16(aligned, sse2._mm_set1_epi16(0x010a));
        let fours = sse2._mm_madd_epi16(pairs, sse2._mm_set1_epi32(0x0001_0064));
        let fours = sse41._mm_packus_epi32(fours, fours);
        let eights = sse2._mm_madd_epi16(fours, sse2._mm_set1_epi32(0x0001_2710));
        let [both, _]: [u64; 2] = pulp::cast(eights);
        Some(((both & 0xffff_ffff) * 100_000_000 + (both >> 32), len))
    }
}

impl ShortPath for Sse {
    /// The decimals as `places` = min(16, 19 − integer digits) digits
    /// padded with zeros (m·10ᵏ / 10^(d+k) is the same number, and
    /// Eisel–Lemire rounds it exactly for any mantissa below 2⁶⁴ and 27
    /// decimals at most); a run of 16 or more goes on in one more word.
    #[inline(always)]
    #[allow(clippy::inline_always)]
    fn decimals(
        self,
        s: &[u8; 40],
        point: usize,
        (int_len, int): (usize, u64),
    ) -> Option<(u64, usize, usize)> {
        let window = *s[point + 1..].first_chunk::<16>()?;
        let places = 16.min(19 - int_len);
        let (fraction, len) = self.fraction(window, places)?;
        // Past 16 decimals: one more word, up to 19 digits in all.
        let (len_c, c) = leading_digits(word(s, point + 17));
        let (len_c, c) = std::hint::select_unpredictable(len == 16, (len_c, c), (0, 0));
        if int_len + places + len_c > 19 {
            return None;
        }
        let mantissa = (int * POW10_16[places] + fraction) * POW10[len_c] + c;
        Some((mantissa, places + len_c, point + 1 + len + len_c))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::cast_possible_truncation)]
    use super::*;
    use crate::data::table::{Swar, short_decimal};

    /// Fields as tools write them (shortest round-trip forms, fixed
    /// decimals, numpy's `%.18e`, every integer and decimal count up to 19
    /// digits), each before the rest of a row.
    fn fields(mut next: impl FnMut() -> u64) -> impl Iterator<Item = String> {
        std::iter::repeat_with(move || {
            let r = next();
            #[allow(clippy::cast_precision_loss)]
            let unit = (next() >> 11) as f64 / (1u64 << 53) as f64;
            let v =
                unit * 10f64.powi((r % 12) as i32 - 4) * if r & 1 << 8 == 0 { 1.0 } else { -1.0 };
            let decimals = (r >> 16) as usize % 20;
            let digits: String = (0..=(r >> 24) % 19)
                .map(|_| char::from(b'0' + (next() % 10) as u8))
                .collect();
            let point = (r >> 32) as usize % (digits.len() + 1);
            [
                format!("{v}"),
                format!("{v:.decimals$}"),
                format!("{v:.18e}"),
                format!("{}.{}", &digits[..point], &digits[point..]),
            ]
        })
        .flatten()
    }

    #[test]
    fn the_vector_path_takes_every_field_the_word_path_does_with_the_same_value() {
        let Some(sse) = Sse::new() else {
            return;
        };
        let mut state = 0x5DEE_CE66_D1CE_5EED_u64;
        let next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let (mut taken, mut words) = (0, 0);
        for field in fields(next).take(400_000) {
            let expected = field.parse::<f64>().map(f64::to_bits).ok();
            for rest in [
                ",0.25,-1.5,3,4.75,99,100,7.125,8",
                "\n-12345.678901234567,0",
            ] {
                let row = format!("{field}{rest}");
                for (word, vector) in [
                    (
                        short_decimal::<false, false, _>(row.as_bytes(), Swar),
                        short_decimal::<false, false, _>(row.as_bytes(), sse),
                    ),
                    (
                        short_decimal::<false, true, _>(row.as_bytes(), Swar),
                        short_decimal::<false, true, _>(row.as_bytes(), sse),
                    ),
                ] {
                    words += usize::from(word.is_some());
                    if let Some((v, used)) = vector {
                        assert_eq!((Some(v.to_bits()), used), (expected, field.len()), "{row}");
                        taken += 1;
                    } else {
                        assert_eq!(word, None, "declined {row}");
                    }
                }
            }
        }
        // Fields with exponents (without `EXP`) and over 19 digits are declined.
        assert!(
            taken >= words && taken > 700_000,
            "taken {taken} times, by words {words}"
        );
    }

    #[test]
    fn sixteen_digits_at_once_read_as_the_digits_say() {
        let Some(sse) = Sse::new() else {
            return;
        };
        let window = |text: &str| {
            let mut w = [b','; 16];
            w[..text.len()].copy_from_slice(text.as_bytes());
            w
        };
        assert_eq!(
            sse.fraction(window("1234567890123456"), 16),
            Some((1_234_567_890_123_456, 16))
        );
        assert_eq!(
            sse.fraction(window("25"), 16),
            Some((2_500_000_000_000_000, 2))
        );
        assert_eq!(sse.fraction(window("25"), 3), Some((250, 2)));
        assert_eq!(sse.fraction(window("0000000000000009"), 16), Some((9, 16)));
        assert_eq!(sse.fraction(window("123"), 2), None);
        assert_eq!(sse.fraction(window(""), 16), None);
        // Every run length, in every number of places it fits.
        for places in 1..=16 {
            for len in 1..=places {
                let digits: String = (0..len).map(|k| char::from(b"123456789"[k % 9])).collect();
                let expected: u64 = format!("{digits:0<places$}").parse().unwrap();
                assert_eq!(
                    sse.fraction(window(&digits), places),
                    Some((expected, len)),
                    "{digits} in {places}"
                );
            }
        }
    }
}
