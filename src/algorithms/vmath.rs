//! exp, ln, tanh and the logistic pair (with e^x − 1 and ln1p inside them)
//! written as straight-line arithmetic (selects instead of branches, no
//! library calls), so a loop applying them over a block of rows compiles to
//! vector instructions (the standard library's versions are calls into libm,
//! one value at a time, and were most of the logistic, softmax and MLP step
//! time).
//!
//! Each is a range reduction plus a polynomial (evaluated by Estrin's
//! scheme: Taylor's for exp, fdlibm's minimax fit for ln) whose error is
//! below 2⁻⁵³ on the reduced interval: the
//! tests measure at most 2 ulps (tanh 4) against the standard library on
//! millions of arguments across the whole range. Integer conversions go
//! through the 1.5·2⁵² "magic number" (bit patterns, not `as` casts), which
//! vectorizes without AVX-512.
//!
//! The polynomials run on fused multiply-adds (`mul_add`, one rounding
//! each). [`wide`] runs a loop compiled for the widest vector instructions
//! the CPU has (AVX-512 or AVX2, both with FMA, detected at run time; SSE2
//! otherwise): the same IEEE operations on more lanes at once, so the
//! results are bit for bit those of the baseline build, where each fused
//! multiply-add is a call to libm's `fma` (same result, slower: keep hot
//! loops inside [`wide`]). Fused, tanh's step in the MLP took about a
//! quarter less time, the logistic pass about a tenth.

// Inlining is what lets the callers' loops vectorize; left to the
// compiler's judgement, a function used in several places stays a call.
#![allow(clippy::inline_always)]

/// ln 2 split (fdlibm's constants) so that k · `LN2_HI` is exact for |k| < 2¹¹.
const LN2_HI: f64 = f64::from_bits(0x3fe6_2e42_fee0_0000);
const LN2_LO: f64 = f64::from_bits(0x3dea_39ef_3579_3c76);
/// Adding this rounds a double of magnitude < 2⁵¹ to an integer held in the
/// low mantissa bits.
const SHIFT: f64 = 6_755_399_441_055_744.0;
/// Above this e^x overflows; below `EXP_MIN` it underflows to 0.
const EXP_MAX: f64 = 709.782_712_893_384;
const EXP_MIN: f64 = -745.133_219_101_941_1;

/// c₀ + c₁x + … + c₁₁x¹¹ by Estrin's scheme (pairs, then pairs of pairs
/// with x², x⁴, x⁸) on fused multiply-adds: the chain of dependent
/// operations is 4 deep rather than Horner's 11, so a loop over rows is
/// limited by throughput, not latency.
#[inline(always)]
fn estrin12(x: f64, c: &[f64; 12]) -> f64 {
    let x2 = x * x;
    let x4 = x2 * x2;
    let a0 = c[1].mul_add(x, c[0]);
    let a1 = c[3].mul_add(x, c[2]);
    let a2 = c[5].mul_add(x, c[4]);
    let a3 = c[7].mul_add(x, c[6]);
    let a4 = c[9].mul_add(x, c[8]);
    let a5 = c[11].mul_add(x, c[10]);
    let b0 = a1.mul_add(x2, a0);
    let b1 = a3.mul_add(x2, a2);
    let b2 = a5.mul_add(x2, a4);
    b2.mul_add(x4 * x4, b1.mul_add(x4, b0))
}

/// c₀ + c₁x + … + c₆x⁶ by Estrin's scheme, as [`estrin12`].
#[inline(always)]
fn estrin7(x: f64, c: &[f64; 7]) -> f64 {
    let x2 = x * x;
    let a0 = c[1].mul_add(x, c[0]);
    let a1 = c[3].mul_add(x, c[2]);
    let a2 = c[5].mul_add(x, c[4]);
    let b0 = a1.mul_add(x2, a0);
    let b1 = c[6].mul_add(x2, a2);
    b1.mul_add(x2 * x2, b0)
}

/// 1/2!, 1/3!, …, 1/13!: e^r − 1 − r = r² Σ rᵏ/(k + 2)!.
const EXP_TAIL: [f64; 12] = [
    1.0 / 2.0,
    1.0 / 6.0,
    1.0 / 24.0,
    1.0 / 120.0,
    1.0 / 720.0,
    1.0 / 5_040.0,
    1.0 / 40_320.0,
    1.0 / 362_880.0,
    1.0 / 3_628_800.0,
    1.0 / 39_916_800.0,
    1.0 / 479_001_600.0,
    1.0 / 6_227_020_800.0,
];

/// fdlibm's Lg1, …, Lg7 (e_log.c): 2 atanh s − 2s ≈ s · z Σ Lgₖ₊₁ zᵏ,
/// z = s², a minimax fit on |s| ≤ 0.1716 with error below 2⁻⁵⁸·⁴⁵ (the
/// Taylor series 2/3, 2/5, … needs twelve terms for the same bound).
const ATANH_TAIL: [f64; 7] = [
    f64::from_bits(0x3fe5_5555_5555_5593),
    f64::from_bits(0x3fd9_9999_9997_fa04),
    f64::from_bits(0x3fd2_4924_9422_9359),
    f64::from_bits(0x3fcc_71c5_1d8e_78af),
    f64::from_bits(0x3fc7_4664_96cb_03de),
    f64::from_bits(0x3fc3_9a09_d078_c69f),
    f64::from_bits(0x3fc2_f112_df3e_5244),
];

/// x = k ln 2 + r with |r| ≤ ½ ln 2: returns (a, b, e^r − 1) with a·b = 2^k,
/// a and b normal doubles (2^k alone is not one at either end of the range).
#[inline(always)]
fn reduce(x: f64) -> (f64, f64, f64) {
    // Clamped so that k stays in range; callers select the overflow and
    // underflow results themselves. NaN passes through.
    let x = x.clamp(EXP_MIN, EXP_MAX);
    let shifted = x * std::f64::consts::LOG2_E + SHIFT;
    let k = shifted - SHIFT;
    let r = (x - k * LN2_HI) - k * LN2_LO;
    // k + 2048 as an unsigned integer (in 973 ..= 3072), split in halves.
    let kk = shifted
        .to_bits()
        .wrapping_sub(SHIFT.to_bits())
        .wrapping_add(2048);
    let half = kk >> 1;
    let a = f64::from_bits((half - 1) << 52); // 2^(half − 1024)
    let b = f64::from_bits((kk - half - 1) << 52); // 2^(kk − half − 1024)
    // e^r − 1 = r + r² (1/2! + r/3! + … + r¹¹/13!); |r| ≤ 0.347, so the
    // first omitted term is below 4.2e-18 · e^r.
    let p = r + r * r * estrin12(r, &EXP_TAIL);
    (a, b, p)
}

/// e^x.
#[inline(always)]
#[must_use]
pub fn exp(x: f64) -> f64 {
    let (a, b, p) = reduce(x);
    let e = a * (b + b * p);
    if x > EXP_MAX {
        f64::INFINITY
    } else if x < EXP_MIN {
        0.0
    } else {
        e
    }
}

/// ln(1 + f) for f in [√½ − 1, √2 − 1]. With s = f/(2 + f), ln(1 + f) =
/// 2 atanh s = 2s + R·s where R = Σ 2s²ᵏ/(2k + 1); since f = 2s + s·f this is
/// f − (f²/2 − s(f²/2 + R)), whose leading term f is exact (fdlibm's form).
/// |s| ≤ 0.1716, where fdlibm's minimax polynomial for R is within 2⁻⁵⁸·⁴⁵.
#[inline(always)]
fn ln_1p_small(f: f64) -> f64 {
    let s = f / (2.0 + f);
    let z = s * s;
    let r = estrin7(z, &ATANH_TAIL);
    let half_square = 0.5 * f * f;
    f - (half_square - s * (half_square + r * z))
}

/// ln x for x > 0 (normal), with ln 0 = −∞, ln ∞ = ∞ and NaN for x < 0.
#[inline(always)]
#[must_use]
pub fn ln(x: f64) -> f64 {
    let bits = x.to_bits();
    // x = 2^e · m with m in [1, 2), moved to [√½, √2).
    let m = f64::from_bits((bits & 0x000f_ffff_ffff_ffff) | 0x3ff0_0000_0000_0000);
    // The biased exponent as a double: (2⁵² + e_biased) − (2⁵² + 1023).
    let e =
        f64::from_bits((bits >> 52) | 0x4330_0000_0000_0000) - (4_503_599_627_370_496.0 + 1023.0);
    let high = m > std::f64::consts::SQRT_2;
    let m = if high { 0.5 * m } else { m };
    let e = if high { e + 1.0 } else { e };
    let r = e * LN2_HI + (ln_1p_small(m - 1.0) + e * LN2_LO);
    if x > 0.0 && x < f64::INFINITY {
        r
    } else if x == 0.0 {
        f64::NEG_INFINITY
    } else if x > 0.0 {
        x
    } else {
        f64::NAN
    }
}

/// ln(1 + e) for e in [0, 1] (the softplus of a score: e = e^{−|s|}).
#[inline(always)]
fn ln_1p_unit(e: f64) -> f64 {
    // Above √2 − 1, 1 + e = 2(1 + f) with f = (e − 1)/2, exact. The two
    // cases are blended by a bit mask: written as selects, the compiler
    // evaluated the series for both (ln(1 + e) took 3.8 ns instead of 2.4).
    let high = u64::from(e > std::f64::consts::SQRT_2 - 1.0).wrapping_neg();
    let f = f64::from_bits(((0.5 * (e - 1.0)).to_bits() & high) | (e.to_bits() & !high));
    let l = ln_1p_small(f);
    // Adds ln 2 when high, and exactly +0 otherwise.
    let (hi, lo) = (LN2_HI.to_bits() & high, LN2_LO.to_bits() & high);
    f64::from_bits(hi) + (l + f64::from_bits(lo))
}

/// tanh x.
#[inline(always)]
#[must_use]
pub fn tanh(x: f64) -> f64 {
    // tanh|x| = −m / (2 + m) with m = e^t − 1 in (−1, 0], t = −2|x|. Below
    // t = −40, e^t is under half an ulp of 1 and m rounds to −1, so t is
    // raised to −40 (NaN passes), and [`reduce`]'s range checks and split
    // scale are not needed: k ≤ 0 and 2^k is a normal double (k ≥ −58).
    let t = -2.0 * x.abs();
    let t = if t < -40.0 { -40.0 } else { t };
    // t = k ln 2 + r, |r| ≤ ½ ln 2 (k · LN2_HI and t − k · LN2_HI exact).
    let shifted = t.mul_add(std::f64::consts::LOG2_E, SHIFT);
    let k = shifted - SHIFT;
    let r = (-k).mul_add(LN2_LO, (-k).mul_add(LN2_HI, t));
    // 2^k: k is the low bits of `shifted`, plus the exponent bias.
    let scale = f64::from_bits(
        shifted
            .to_bits()
            .wrapping_sub(SHIFT.to_bits())
            .wrapping_add(1023)
            << 52,
    );
    // e^r − 1 = r + r² (1/2! + r/3! + … + r¹¹/13!), as in [`reduce`]; then
    // e^t − 1 = 2^k (e^r − 1) + (2^k − 1), which is e^r − 1 itself for
    // k = 0 and has no cancellation otherwise (|e^t − 1| ≥ 0.29).
    let p = (r * r).mul_add(estrin12(r, &EXP_TAIL), r);
    let m = scale.mul_add(p, scale - 1.0);
    (-m / (2.0 + m)).copysign(x)
}

/// σ(s) = 1/(1 + e^{−s}) from e = e^{−|s|}, without overflow.
#[inline(always)]
fn sigmoid_from(s: f64, e: f64) -> f64 {
    let inv = 1.0 / (1.0 + e);
    if s >= 0.0 { inv } else { e * inv }
}

/// σ(s) = 1/(1 + e^{−s}).
#[inline(always)]
#[must_use]
pub fn sigmoid(s: f64) -> f64 {
    sigmoid_from(s, exp(-s.abs()))
}

/// softplus(s) = ln(1 + e^s) = max(s, 0) + ln(1 + e^{−|s|}).
#[inline(always)]
#[must_use]
pub fn softplus(s: f64) -> f64 {
    s.max(0.0) + ln_1p_unit(exp(-s.abs()))
}

/// Below this, e = e^{−|s|} adds ln(1 + e) to [`sigmoid_log_loss_split`]'s
/// row part from its series, above it its factor; and a row's probability
/// of the other classes gives its cross-entropy by [`neg_ln_1m_or`]'s series.
pub const SERIES_BELOW: f64 = 1.0 / 1024.0;

/// (σ(s), a, f) with the log-loss softplus(s) − y·s = a + ln f, from one
/// exponential and no logarithm, for sums over many rows that take one
/// logarithm of the product of their f (`pass::LnProduct`) instead of one
/// a row. With e = e^{−|s|}: f = 1 + e and a = max(s, 0) − y·s when
/// e > 2⁻¹⁰; otherwise f = 1 and a also takes ln(1 + e) from four terms
/// of its series (relative error below 2⁻⁴²), since a product of factors
/// that close to 1 would lose their logarithms' digits to its rounding.
/// max(s, 0) − y·s is exact for y = 0 or 1 (0 or max(−s, 0)), so a row
/// the model fits well keeps its tiny ln(1 + e) rather than losing it to
/// the rounding of s + ln(1 + e) − s.
#[inline(always)]
#[must_use]
pub fn sigmoid_log_loss_split(s: f64, y: f64) -> (f64, f64, f64) {
    let e = exp(-s.abs());
    let series = e * (1.0 - e * (0.5 - e * (1.0 / 3.0 - 0.25 * e)));
    let margin = s.max(0.0) - y * s;
    let (a, f) = if e > SERIES_BELOW {
        (margin, 1.0 + e)
    } else {
        (margin + series, 1.0)
    };
    (sigmoid_from(s, e), a, f)
}

/// −ln(1 − r) for a row's probabilities r of the classes other than its
/// own, when r ≤ [`SERIES_BELOW`]: r + r²/2 + r³/3 + r⁴/4 (relative error
/// below 2⁻⁴²). A row the model fits well has a probability 1 − r that
/// rounds toward 1, and ln Σ e^{z} − z_y loses its loss r to cancellation.
/// Above, it returns `otherwise`: the loss is then above 2⁻¹⁰, and the
/// cancellation costs it at most about 2⁻⁴² times the scores' size,
/// relatively.
#[inline(always)]
#[must_use]
pub fn neg_ln_1m_or(r: f64, otherwise: f64) -> f64 {
    let series = r * (1.0 + r * (0.5 + r * (1.0 / 3.0 + 0.25 * r)));
    if r <= SERIES_BELOW { series } else { otherwise }
}

/// (σ(s), softplus(s) − y·s) from one exponential: the log-loss of score
/// s against y = 0 or 1, added up as in [`sigmoid_log_loss_split`].
#[inline(always)]
#[must_use]
pub fn sigmoid_log_loss(s: f64, y: f64) -> (f64, f64) {
    let e = exp(-s.abs());
    (sigmoid_from(s, e), (s.max(0.0) - y * s) + ln_1p_unit(e))
}

/// The closure handed to [`pulp::Arch::dispatch`], called through `FnMut`
/// so that an `#[inline(always)]` closure is inlined into the function
/// compiled for the detected instruction set.
struct Wide<F>(F);

impl<R, F: FnMut() -> R> pulp::WithSimd for Wide<F> {
    type Output = R;
    #[inline(always)]
    fn with_simd<S: pulp::Simd>(mut self, _: S) -> R {
        (self.0)()
    }
}

/// Runs `f` compiled for the widest vector instructions this CPU has. Only
/// code inlined into `f` gets them: mark the closure `#[inline(always)]`,
/// and the functions it calls on the hot path too, and write its loops as
/// `for` loops (iterator adapters such as `for_each` or `sum` stay calls,
/// compiled for the baseline).
pub fn wide<R>(f: impl FnMut() -> R) -> R {
    pulp::Arch::new().dispatch(Wide(f))
}

#[cfg(test)]
#[allow(clippy::float_cmp)] // exact special values
mod tests {
    use super::*;

    /// Distance in units in the last place (0 for equal values, both NaN or
    /// the same infinity).
    fn ulps(a: f64, b: f64) -> u64 {
        if a == b || (a.is_nan() && b.is_nan()) {
            return 0;
        }
        if a.is_nan() || b.is_nan() || a.is_infinite() || b.is_infinite() {
            return u64::MAX;
        }
        let key = |v: f64| {
            let bits = v.to_bits().cast_signed();
            if bits < 0 { i64::MIN - bits } else { bits }
        };
        key(a).abs_diff(key(b))
    }

    /// Arguments spread evenly over [lo, hi] plus random ones in it.
    fn args(lo: f64, hi: f64, n: usize) -> Vec<f64> {
        let mut rng = crate::rng::Rng::new(7);
        (0..=n)
            .map(|i| lo + (hi - lo) * i as f64 / n as f64)
            .chain((0..n).map(|_| lo + (hi - lo) * rng.uniform()))
            .collect()
    }

    fn worst(f: impl Fn(f64) -> f64, reference: impl Fn(f64) -> f64, xs: &[f64]) -> (u64, f64) {
        xs.iter()
            .map(|&x| (ulps(f(x), reference(x)), x))
            .max_by_key(|&(u, _)| u)
            .unwrap_or((0, 0.0))
    }

    #[test]
    fn exp_is_within_two_ulps_over_its_whole_range() {
        for (lo, hi) in [
            (-745.0, 709.78),
            (-1.0, 1.0),
            (-1e-6, 1e-6),
            (-40.0, 0.0),
            (-745.0, -700.0),
        ] {
            let (u, x) = worst(exp, f64::exp, &args(lo, hi, 500_000));
            assert!(u <= 2, "exp({x}) is {u} ulps off");
        }
        assert_eq!(exp(0.0), 1.0);
        assert_eq!(exp(710.0), f64::INFINITY);
        assert_eq!(exp(f64::INFINITY), f64::INFINITY);
        assert_eq!(exp(-750.0), 0.0);
        assert_eq!(exp(709.78).to_bits(), 709.78f64.exp().to_bits());
        assert_eq!(exp(f64::NEG_INFINITY), 0.0);
        assert!(exp(f64::NAN).is_nan());
    }

    #[test]
    fn ln_is_within_two_ulps_from_tiny_to_huge() {
        let mut xs = args(1e-300, 1e300, 200_000);
        xs.extend(args(0.5, 2.0, 500_000));
        xs.extend(args(1.0, 10.0, 500_000));
        xs.extend((-1000..=1000).map(|k| 1.37f64.powi(k)));
        let (u, x) = worst(ln, f64::ln, &xs);
        assert!(u <= 2, "ln({x}) is {u} ulps off");
        assert_eq!(ln(1.0), 0.0);
        assert_eq!(ln(0.0), f64::NEG_INFINITY);
        assert_eq!(ln(f64::INFINITY), f64::INFINITY);
        assert!(ln(-1.0).is_nan() && ln(f64::NAN).is_nan());
    }

    #[test]
    fn ln_1p_unit_is_within_two_ulps_on_its_interval() {
        let mut xs = args(0.0, 1.0, 1_000_000);
        xs.extend((0..1000).map(|k| 0.93f64.powi(k * 10)));
        let (u, x) = worst(ln_1p_unit, f64::ln_1p, &xs);
        assert!(u <= 2, "ln_1p_unit({x}) is {u} ulps off");
    }

    #[test]
    fn tanh_is_within_four_ulps_and_odd() {
        for (lo, hi) in [(-30.0, 30.0), (-1.0, 1.0), (-1e-8, 1e-8), (-800.0, 800.0)] {
            let (u, x) = worst(tanh, f64::tanh, &args(lo, hi, 500_000));
            assert!(u <= 4, "tanh({x}) is {u} ulps off");
        }
        assert_eq!(tanh(0.0), 0.0);
        assert_eq!(tanh(-0.0).to_bits(), (-0.0f64).to_bits());
        assert_eq!(tanh(f64::INFINITY), 1.0);
        assert_eq!(tanh(f64::NEG_INFINITY), -1.0);
        assert!(tanh(f64::NAN).is_nan());
    }

    /// The log-loss of score s against y from the standard library, with
    /// max(s, 0) − y·s (exact) added to ln(1 + e^{−|s|}) last.
    fn log_loss_reference(s: f64, y: f64) -> f64 {
        (s.max(0.0) - y * s) + (-s.abs()).exp().ln_1p()
    }

    #[test]
    fn logistic_pair_matches_the_direct_forms() {
        for &s in &args(-800.0, 800.0, 200_000) {
            // The standard library's σ, overflow-free on each side.
            let s0 = if s >= 0.0 {
                1.0 / (1.0 + (-s).exp())
            } else {
                s.exp() / (1.0 + s.exp())
            };
            for y in [0.0, 1.0] {
                let (sigma, loss) = sigmoid_log_loss(s, y);
                assert!(
                    ulps(sigma, s0) <= 3 || (sigma - s0).abs() < 1e-300,
                    "σ({s})"
                );
                // Rows fitted well too: at s = 40, y = 1 the loss is
                // e^{−40} ≈ 4.2e-18, not 0 (40 + 4.2e-18 − 40).
                let reference = log_loss_reference(s, y);
                assert!(
                    ulps(loss, reference) <= 3,
                    "loss({s}, {y}): {loss} vs {reference}"
                );
            }
            assert_eq!(sigmoid_log_loss(s, 0.0), (sigmoid(s), softplus(s)));
        }
    }

    #[test]
    fn log_loss_split_into_a_part_and_a_factor_adds_up_to_the_loss() {
        // Around |s| = 10 ln 2, where e^{−|s|} crosses 2⁻¹⁰, too.
        let near = 10.0 * std::f64::consts::LN_2;
        let xs = [
            args(-800.0, 800.0, 200_000),
            args(near - 0.01, near + 0.01, 20_000),
        ];
        for s in xs.iter().flatten().flat_map(|&s| [s, -s]) {
            for y in [0.0, 1.0] {
                let (sigma, part, factor) = sigmoid_log_loss_split(s, y);
                assert_eq!(sigma.to_bits(), sigmoid(s).to_bits(), "σ({s})");
                assert!((1.0..=2.0).contains(&factor), "f({s}) = {factor}");
                // ln(1 + e^{−|s|}) to about 2⁻⁴² of itself, less the
                // rounding of a where it is the larger part.
                let reference = log_loss_reference(s, y);
                let ln1p = (-s.abs()).exp().ln_1p();
                let split = part + factor.ln();
                let rounding = f64::EPSILON * (s.max(0.0) - y * s);
                assert!(
                    (split - reference).abs() <= ln1p * 2f64.powi(-41) + rounding + 1e-300,
                    "loss({s}, {y}): {split} vs {reference}"
                );
            }
        }
        let (sigma, part, factor) = sigmoid_log_loss_split(f64::NAN, 1.0);
        assert!(sigma.is_nan() && part.is_nan() && factor.is_finite());
    }

    /// `f` over `xs` in a loop run by [`wide`], against `f` one value at a time.
    fn same_as_one_at_a_time(name: &str, xs: &[f64], f: impl Fn(f64) -> f64 + Copy) {
        let mut out = vec![0.0; xs.len()];
        wide(
            #[inline(always)]
            || {
                for (o, &x) in out.iter_mut().zip(xs) {
                    *o = f(x);
                }
            },
        );
        for (&x, &w) in xs.iter().zip(&out) {
            let one = std::hint::black_box(f)(std::hint::black_box(x));
            assert_eq!(w.to_bits(), one.to_bits(), "{name}({x}): {w} vs {one}");
        }
    }

    #[test]
    fn wide_loops_give_the_one_at_a_time_results_bit_for_bit() {
        let mut xs = args(-800.0, 800.0, 100_000);
        xs.extend(args(-3.0, 3.0, 100_000));
        xs.extend([
            0.0,
            -0.0,
            1e-310,
            -1e-310,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::NAN,
        ]);
        same_as_one_at_a_time("exp", &xs, exp);
        same_as_one_at_a_time("ln", &xs, |x| ln(x.abs()));
        same_as_one_at_a_time("tanh", &xs, tanh);
        same_as_one_at_a_time("sigmoid", &xs, sigmoid);
        same_as_one_at_a_time("softplus", &xs, softplus);
        same_as_one_at_a_time("σ − log-loss", &xs, |x| {
            let (a, b) = sigmoid_log_loss(x, 1.0);
            a - b
        });
    }
}
