//! Passes over the rows of X, split across the cores: the fused pass of
//! the linear classifiers (scores, per-row loss and gradient in one sweep),
//! the column moments behind linear regression's O(d²) steps, the
//! row-range splitting the other algorithms' passes use, and the dense-layer
//! kernels (a layer's outputs, its gradient sums) that the MLP, softmax and
//! the perceptron share.
//!
//! X is column-major, so a block of rows is processed column by column twice
//! (scores, then gradient); the block stays in cache between the two, so X is
//! read from memory once per step. The fused pass does both for each group
//! of 32 rows in turn, on explicit vector registers (`FusedPass`).

// Inlined into the loops `vmath::wide` compiles for wider vector units.
#![allow(clippy::inline_always)]

use super::vmath;
use nalgebra::{DMatrix, DVector};
use std::sync::atomic::{AtomicU64, Ordering};

/// Rows per block: 256 rows × 8 bytes × d columns stays in the first-level
/// cache for d ≲ 20 between the block's two sweeps (2048 rows, in L2, took
/// 5–20% longer per logistic and SVM step at 1M × 10, when those swept
/// whole blocks). The fused pass hands its record's rows to `finish` a block
/// at a time.
const BLOCK: usize = 256;

/// Below this many rows a second thread costs more than it saves.
const PARALLEL_MIN_ROWS: usize = 32_768;

/// The per-row loss of a score s against a target y.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowLoss {
    /// softplus(s) − y·s (log-loss with p = σ(s)), derivative σ(s) − y.
    Logistic,
    /// max(0, 1 − y·s) for y = ±1, subgradient −y where y·s < 1, else 0.
    Hinge,
}

impl RowLoss {
    /// The loss and its derivative with respect to the score.
    #[inline(always)]
    #[must_use]
    pub fn eval(self, s: f64, y: f64) -> (f64, f64) {
        match self {
            Self::Logistic => {
                let (sigma, loss) = super::vmath::sigmoid_log_loss(s, y);
                (loss, sigma - y)
            }
            Self::Hinge => {
                let margin = y * s;
                if margin < 1.0 {
                    (1.0 - margin, -y)
                } else {
                    (0.0, 0.0)
                }
            }
        }
    }

    /// [`Self::eval`] over a block of rows, each loss as a part in
    /// `losses` and a factor in `factors` whose logarithm is the rest (the
    /// logistic loss's ln(1 + e^{−|s|}), mostly, summed as the logarithm
    /// of a product, [`LnProduct`]; 1 for the hinge), and the derivatives
    /// in `derivs`: one branch-free loop per loss, so it runs on vector
    /// instructions.
    #[inline(always)]
    fn eval_rows(self, s: &[f64], y: &[f64], (losses, factors, derivs): RowsOut) {
        let rows = s
            .iter()
            .zip(y)
            .zip(losses.iter_mut().zip(factors).zip(derivs));
        match self {
            Self::Logistic => {
                for ((&s, &y), ((l, f), d)) in rows {
                    let (sigma, part, factor) = super::vmath::sigmoid_log_loss_split(s, y);
                    (*l, *f, *d) = (part, factor, sigma - y);
                }
            }
            Self::Hinge => {
                for ((&s, &y), ((l, f), d)) in rows {
                    ((*l, *d), *f) = (Self::Hinge.eval(s, y), 1.0);
                }
            }
        }
    }
}

/// Where [`RowLoss::eval_rows`] writes: the losses' parts, their factors
/// and the derivatives.
type RowsOut<'a> = (&'a mut [f64], &'a mut [f64], &'a mut [f64]);

/// Σ ln fᵢ over many rows as the logarithm of their product, one product
/// per lane, with one logarithm a lane at the end instead of one a row.
/// Each lane's factors multiply in row order (lane l takes the rows
/// [`add_chunks`] gives it), and its exponent is taken out after each
/// block, so that every CPU gets the same bits and the product never
/// overflows (a block multiplies at most 32 factors of at most 2 into a
/// lane).
struct LnProduct {
    /// Each lane's product so far, in [1, 2) after [`Self::renormalize`].
    mantissas: [f64; 8],
    /// The powers of 2 taken out of each lane's product.
    exponents: [f64; 8],
}

impl LnProduct {
    fn new() -> Self {
        Self {
            mantissas: [1.0; 8],
            exponents: [0.0; 8],
        }
    }

    /// Multiplies the factors of rows that no group took: row i into lane
    /// i mod 8.
    fn multiply(&mut self, factors: &[f64]) {
        for (i, f) in factors.iter().enumerate() {
            self.mantissas[i % 8] *= f;
        }
    }

    /// Takes each finite lane's power of 2 out into its exponent (a NaN
    /// stays, and makes the logarithm NaN).
    #[allow(clippy::cast_possible_wrap, clippy::cast_precision_loss)]
    fn renormalize(&mut self) {
        const MANTISSA: u64 = (1 << 52) - 1;
        for (m, e) in self.mantissas.iter_mut().zip(&mut self.exponents) {
            if m.is_finite() && *m > 0.0 {
                let bits = m.to_bits();
                *e += ((bits >> 52) as i64 - 1023) as f64;
                *m = f64::from_bits((bits & MANTISSA) | (1023 << 52));
            }
        }
    }

    /// Σ ln fᵢ: each lane's ln m + e ln 2, added in the fixed order.
    fn ln(mut self) -> f64 {
        self.renormalize();
        let mut lanes = [0.0; 8];
        for ((l, &m), &e) in lanes.iter_mut().zip(&self.mantissas).zip(&self.exponents) {
            *l = e.mul_add(std::f64::consts::LN_2, vmath::ln(m));
        }
        lane_total(&lanes)
    }
}

/// Sums over the rows of one pass.
#[derive(Debug, Clone, PartialEq)]
pub struct PassSums {
    /// Σ loss(sᵢ, yᵢ).
    pub loss: f64,
    /// Σ dᵢ xᵢ (per feature), dᵢ the loss derivative at row i.
    pub grad_w: Vec<f64>,
    /// Σ dᵢ.
    pub grad_b: f64,
    /// The sum of what the pass's `finish` returned for each block.
    pub tally: f64,
}

/// One block of rows at the end of the fused pass, handed to its `finish`
/// while it is still in cache: the scores and loss derivatives (which
/// `finish` may overwrite with the record's form of them), the per-row
/// losses, the targets and the rows of a third output (empty without one).
pub struct FinishRows<'a> {
    /// sᵢ = w·xᵢ + b.
    pub scores: &'a mut [f64],
    /// dᵢ, the derivative of the loss with respect to sᵢ.
    pub derivs: &'a mut [f64],
    /// The part of loss(sᵢ, yᵢ) summed row by row: the whole hinge loss;
    /// the logistic loss less ln(1 + e^{−|sᵢ|}) where e^{−|sᵢ|} > 2⁻¹⁰
    /// (summed as the logarithm of a product, `LnProduct`).
    pub losses: &'a [f64],
    /// yᵢ.
    pub y: &'a [f64],
    /// The third output's rows.
    pub extra: &'a mut [f64],
    /// The row of X the block starts at.
    pub first: usize,
}

/// `Q` per-row quantities kept only at rows 0, `every`, 2·`every`, … (the
/// rows the plots draw, [`super::Value::Sampled`]), taken from the blocks
/// of a fused pass by its `finish` on whichever thread holds them: each
/// kept row is written once, by the block it lies in.
pub struct Samples<const Q: usize> {
    rows: usize,
    every: usize,
    values: [Vec<AtomicU64>; Q],
}

impl<const Q: usize> Samples<Q> {
    /// What a record of `rows` rows keeps of its per-row values: nothing
    /// (`keep` false), the rows drawn (`sampled`, on data with more rows
    /// than are drawn: the samples to take), or every row. Returns the
    /// samples and the length of the whole per-row vectors to fill (0
    /// unless every row is kept).
    #[must_use]
    pub fn choose(keep: bool, sampled: bool, rows: usize) -> (Option<Self>, usize) {
        let every = super::drawn_every(rows);
        if keep && sampled && every > 1 {
            (Some(Self::new(rows, every)), 0)
        } else {
            (None, if keep { rows } else { 0 })
        }
    }

    /// Room for the rows kept of `rows` rows, one in `every`.
    fn new(rows: usize, every: usize) -> Self {
        let every = every.max(1);
        let kept = rows.div_ceil(every);
        Self {
            rows,
            every,
            values: std::array::from_fn(|_| (0..kept).map(|_| AtomicU64::new(0)).collect()),
        }
    }

    /// Keeps the kept rows among the `len` rows starting at `first`:
    /// `row(r)` gives the quantities of row `first + r`.
    pub fn keep(&self, first: usize, len: usize, row: impl Fn(usize) -> [f64; Q]) {
        for i in (first.next_multiple_of(self.every)..first + len).step_by(self.every) {
            for (values, v) in self.values.iter().zip(row(i - first)) {
                values[i / self.every].store(v.to_bits(), Ordering::Relaxed);
            }
        }
    }

    /// The kept values of each quantity.
    #[must_use]
    pub fn into_values(self) -> [super::Value; Q] {
        let Self {
            rows,
            every,
            values,
        } = self;
        values.map(|v| super::Value::Sampled {
            rows,
            every,
            values: v
                .into_iter()
                .map(|a| f64::from_bits(a.into_inner()))
                .collect(),
        })
    }
}

/// One fused pass: writes sᵢ = w·xᵢ + b into `outs[0]` and dᵢ into
/// `outs[1]`, hands every block to `finish` (which may turn them into the
/// record's per-row quantities, with an optional `outs[2]`, and returns a
/// number to add up), and returns the sums of the loss, dᵢxᵢ, dᵢ and
/// `finish`'s numbers. With empty `outs` (a record without per-row values:
/// none, or outputs of length 0), sᵢ and dᵢ live in one block's scratch and
/// `finish` gets an empty `extra`.
///
/// # Panics
/// Never for consistent shapes; callers pass `y`, two or three outputs of
/// length n (or of length 0), and `w` of length d.
#[must_use]
pub fn linear_pass(
    x: &DMatrix<f64>,
    y: &[f64],
    (w, b): (&[f64], f64),
    loss: RowLoss,
    outs: &mut [&mut [f64]],
    finish: impl Fn(FinishRows) -> f64 + Sync,
) -> PassSums {
    let n = x.nrows();
    let outs = if outs.iter().any(|o| o.is_empty()) {
        &mut []
    } else {
        outs
    };
    if threads_for(n) <= 1 {
        return chunk_pass(x, y, (w, b), loss, (0, n), outs, &finish);
    }
    let results = over_row_ranges_into(n, outs, |start, end, pieces| {
        let mut columns: Vec<&mut [f64]> = pieces.iter_mut().map(|p| &mut *p[0]).collect();
        chunk_pass(x, y, (w, b), loss, (start, end), &mut columns, &finish)
    });
    let mut total = PassSums {
        loss: 0.0,
        grad_w: vec![0.0; w.len()],
        grad_b: 0.0,
        tally: 0.0,
    };
    for r in results {
        total.loss += r.loss;
        total.grad_b += r.grad_b;
        total.tally += r.tally;
        for (t, g) in total.grad_w.iter_mut().zip(&r.grad_w) {
            *t += g;
        }
    }
    total
}

/// Rows per group of the explicit-vector kernels: four chunks of eight.
pub const GROUP: usize = 32;

/// The pass over rows `start..end`, on the widest vector unit.
fn chunk_pass(
    x: &DMatrix<f64>,
    y: &[f64],
    wb: (&[f64], f64),
    loss: RowLoss,
    range: (usize, usize),
    outs: &mut [&mut [f64]],
    finish: &impl Fn(FinishRows) -> f64,
) -> PassSums {
    chunk_pass_on(
        |pass| pulp::Arch::new().dispatch(pass),
        (x, y, wb, loss),
        range,
        outs,
        finish,
    )
}

/// The operands of a fused pass: X, y, (w, b) and the loss.
type PassInput<'a> = (&'a DMatrix<f64>, &'a [f64], (&'a [f64], f64), RowLoss);

/// [`chunk_pass`], run by `run` (which picks the instruction set).
fn chunk_pass_on<F: Fn(FinishRows) -> f64, R>(
    run: impl FnOnce(FusedPass<F>) -> R,
    (x, y, (w, b), loss): PassInput,
    (start, end): (usize, usize),
    outs: &mut [&mut [f64]],
    finish: &F,
) -> R {
    let len = end - start;
    let kept = outs.len() >= 2;
    let scratch = |size: usize| vec![0.0; size.min(len)];
    let (mut block_scores, mut block_derivs) = if kept {
        (Vec::new(), Vec::new())
    } else {
        (scratch(BLOCK), scratch(BLOCK))
    };
    let (scores, derivs, extra): (&mut [f64], &mut [f64], &mut [f64]) = match outs {
        [s, d, e, ..] => (s, d, e),
        [s, d] => (s, d, &mut []),
        _ => (&mut block_scores, &mut block_derivs, &mut []),
    };
    run(FusedPass {
        x,
        y,
        w,
        b,
        loss,
        start,
        len,
        kept,
        scores,
        derivs,
        extra,
        losses: &mut scratch(BLOCK),
        factors: &mut scratch(BLOCK),
        finish,
    })
}

/// [`chunk_pass`] on explicit vector registers. X is read once, in groups
/// of [`GROUP`] rows: their scores (all columns, in registers), their loss
/// derivatives, then their share of the gradient, while the group's columns
/// are still in the first-level cache. Interleaving the three at this grain
/// keeps memory busy while the loss is evaluated; in blocks of 256 rows,
/// sweep after sweep, memory idled during the evaluation (the logistic
/// step went from 1.38–1.60 to 1.08–1.43 times a read pass, the SVM's from
/// 1.12–1.28 to 0.94–1.11). Written in scalar Rust, the compiler kept the
/// group's scores in memory, one lane at a time.
///
/// The sums are kept as eight lanes whatever the vector width (one AVX-512
/// register, two AVX2 ones, eight scalars), each lane adding the same rows
/// in the same order, so every CPU gets the same bits.
struct FusedPass<'a, F> {
    x: &'a DMatrix<f64>,
    y: &'a [f64],
    w: &'a [f64],
    b: f64,
    loss: RowLoss,
    start: usize,
    len: usize,
    kept: bool,
    scores: &'a mut [f64],
    derivs: &'a mut [f64],
    extra: &'a mut [f64],
    losses: &'a mut [f64],
    factors: &'a mut [f64],
    finish: &'a F,
}

impl<F: Fn(FinishRows) -> f64> pulp::WithSimd for FusedPass<'_, F> {
    type Output = PassSums;

    #[inline(always)]
    #[allow(clippy::too_many_lines)] // Each block's groups, its last rows and its finish, in order.
    fn with_simd<S: pulp::Simd>(self, simd: S) -> PassSums {
        let Self {
            x,
            y,
            w,
            b,
            loss,
            start,
            len,
            kept,
            scores,
            derivs,
            extra,
            losses,
            factors,
            finish,
        } = self;
        let (n, d) = x.shape();
        let data = x.as_slice();
        // Eight lanes (in `per8` vectors) for each weight's gradient, then
        // the bias's, then the loss's.
        let per8 = 8 / S::F64_LANES;
        let mut lanes = vec![simd.splat_f64s(0.0); (d + 2) * per8];
        let mut product = LnProduct::new();
        let prefetch = Prefetch::on();
        let mut columns: Vec<&[f64]> = Vec::with_capacity(d);
        let mut sums = PassSums {
            loss: 0.0,
            grad_w: vec![0.0; d],
            grad_b: 0.0,
            tally: 0.0,
        };
        for lo in (0..len).step_by(BLOCK) {
            let hi = (lo + BLOCK).min(len);
            let rows = if kept { lo..hi } else { 0..hi - lo };
            let s = &mut scores[rows.clone()];
            let dv = &mut derivs[rows];
            let ls = &mut losses[..hi - lo];
            let fs = &mut factors[..hi - lo];
            let y = &y[start + lo..start + hi];
            let column = |j: usize, from: usize, to: usize| {
                &data[j * n + start + lo + from..j * n + start + lo + to]
            };
            let whole = (hi - lo) / GROUP * GROUP;
            columns.clear();
            columns.extend((0..d).map(|j| column(j, 0, whole)));
            fused_groups(
                simd,
                (w, b, loss, prefetch),
                &columns,
                &y[..whole],
                (&mut s[..whole], &mut ls[..whole], &mut dv[..whole]),
                &mut fs[..whole],
                (&mut lanes, S::as_mut_simd_f64s(&mut product.mantissas).0),
            );
            // The block's last rows, fewer than a group, one sweep at a time.
            if whole < hi - lo {
                let tail = whole..hi - lo;
                let (s, dv, ls, fs) = (
                    &mut s[tail.clone()],
                    &mut dv[tail.clone()],
                    &mut ls[tail.clone()],
                    &mut fs[tail.clone()],
                );
                let column = |j: usize| column(j, whole, hi - lo);
                dense_layer(
                    &mut [&mut *s],
                    |_, j| w[j],
                    |_| b,
                    (d, column),
                    Prefetch::off(),
                );
                loss.eval_rows(s, &y[tail], (ls, fs, dv));
                sums.loss += sum(ls);
                product.multiply(fs);
                let mut tail = GradientLanes::new(1, d);
                tail.add(&[&*dv], column);
                let (gw, gb) = tail.totals();
                for (g, t) in sums.grad_w.iter_mut().zip(&gw) {
                    *g += t;
                }
                sums.grad_b += gb[0];
            }
            product.renormalize();
            sums.tally += finish(FinishRows {
                scores: s,
                derivs: dv,
                losses: ls,
                y,
                extra: if extra.is_empty() {
                    &mut []
                } else {
                    &mut extra[lo..hi]
                },
                first: start + lo,
            });
        }
        let mut quantities = lane_totals::<S>(&lanes).into_iter();
        for g in &mut sums.grad_w {
            *g += quantities.next().unwrap_or(0.0);
        }
        sums.grad_b += quantities.next().unwrap_or(0.0);
        sums.loss += quantities.next().unwrap_or(0.0);
        if loss == RowLoss::Logistic {
            sums.loss += product.ln();
        }
        sums
    }
}

/// How far past the rows it is reading a kernel asks for the rows it will
/// read next ([`Prefetch::ahead`]): 256 rows, 2 KB of each column.
pub const AHEAD: usize = 256;

/// Software prefetch into the first-level cache, where the CPU has it. A
/// kernel reading several columns of X at once (one stream of addresses per
/// feature, on each core) asks for each column's rows [`AHEAD`] rows on
/// while it computes on the current ones: with ten columns the CPU's own
/// prefetchers fell behind, and the logistic step at 1M × 10 took 6.8 ms
/// against 4.6 ms with this (alternating steps in one run, 2026-12-02; see
/// benches/HISTORY.md).
#[derive(Clone, Copy)]
pub struct Prefetch(#[cfg(target_arch = "x86_64")] Option<pulp::x86::V1>);

impl Prefetch {
    /// Prefetch, for inputs streamed from memory.
    #[must_use]
    pub fn on() -> Self {
        #[cfg(target_arch = "x86_64")]
        return Self(pulp::x86::V1::try_new());
        #[cfg(not(target_arch = "x86_64"))]
        Self()
    }

    /// No prefetch, for inputs already in cache.
    #[must_use]
    pub fn off() -> Self {
        #[cfg(target_arch = "x86_64")]
        return Self(None);
        #[cfg(not(target_arch = "x86_64"))]
        Self()
    }

    /// Asks for the cache line of `values[i]` (a hint: `i` may lie past
    /// the end).
    #[inline(always)]
    pub fn at(self, values: &[f64], i: usize) {
        #[cfg(target_arch = "x86_64")]
        if let Some(v1) = self.0 {
            v1.sse._mm_prefetch::<{ core::arch::x86_64::_MM_HINT_T0 }>(
                values.as_ptr().wrapping_add(i).cast::<i8>(),
            );
        }
    }

    /// Asks for the cache lines of the `len` values that start [`AHEAD`]
    /// values past the start of `column`. A hint: the CPU reads nothing
    /// from it, so addresses past the column's end are harmless.
    #[inline(always)]
    pub fn ahead(self, column: &[f64], len: usize) {
        for k in (0..len).step_by(8) {
            self.at(column, AHEAD + k);
        }
    }
}

/// The total of each quantity's eight lanes in `lanes` (8 / lanes vectors
/// each, as [`add_chunks`] fills them), added in one fixed order.
pub fn lane_totals<S: pulp::Simd>(lanes: &[S::f64s]) -> Vec<f64> {
    let mut eight = [0.0; 8];
    lanes
        .chunks(8 / S::F64_LANES)
        .map(|acc| {
            S::as_mut_simd_f64s(&mut eight).0.copy_from_slice(acc);
            lane_total(&eight)
        })
        .collect()
}

/// One quantity's eight lanes added in the fixed order every kernel uses.
fn lane_total(l: &[f64; 8]) -> f64 {
    ((l[0] + l[1]) + (l[2] + l[3])) + ((l[4] + l[5]) + (l[6] + l[7]))
}

/// The groups of one block of the fused pass (`columns` holds the block's
/// rows of each column, a whole number of groups): [`fused_group`] on each,
/// with the weights and the lanes of dᵢxᵢ, dᵢ and lᵢ in registers
/// throughout the block when there are at most [`WIDEST_IN_REGISTERS`]
/// features (on vectors of four or eight lanes; narrower ones, and wider
/// data, take the loop over any number of columns). Compiled for the number
/// of features, the loops over columns unroll. Looping over any number of
/// them, each column's two sweeps of a group took about 24 instructions for
/// 8 multiply-adds (bounds checks, the column's address, its lanes loaded
/// and stored); at 1M × 10 the logistic step (`steplab run`) went from
/// 2.06–2.22 times a read pass to 1.38–1.45, the SVM's from 1.94–2.10 to
/// 1.32–1.46, and in cache the logistic pass from 3.4 to 2.8 ns a row
/// (2026-12-02; see benches/HISTORY.md).
///
/// Its own function for each instruction set, whatever the pass's `finish`:
/// inlined into every pass, its sixteen widths took the crate's release
/// build from 31 to 50 s.
#[inline(always)]
fn fused_groups<S: pulp::Simd>(
    simd: S,
    params: (&[f64], f64, RowLoss, Prefetch),
    columns: &[&[f64]],
    y: &[f64],
    out: (&mut [f64], &mut [f64], &mut [f64]),
    fs: &mut [f64],
    (lanes, product): (&mut [S::f64s], &mut [S::f64s]),
) {
    simd.vectorize(FusedGroups {
        params,
        columns,
        y,
        out,
        fs,
        lanes: pulp::bytemuck::cast_slice_mut(lanes),
        product: pulp::bytemuck::cast_slice_mut(product),
    });
}

/// The operands of [`fused_groups`], the lanes as plain numbers.
struct FusedGroups<'a> {
    params: (&'a [f64], f64, RowLoss, Prefetch),
    columns: &'a [&'a [f64]],
    y: &'a [f64],
    out: (&'a mut [f64], &'a mut [f64], &'a mut [f64]),
    fs: &'a mut [f64],
    lanes: &'a mut [f64],
    product: &'a mut [f64],
}

impl pulp::WithSimd for FusedGroups<'_> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, simd: S) {
        let Self {
            params,
            columns,
            y,
            out,
            fs,
            lanes,
            product,
        } = self;
        let lanes = (S::as_mut_simd_f64s(lanes).0, S::as_mut_simd_f64s(product).0);
        macro_rules! by_width {
            ($($d:literal)*) => {
                match columns.len() {
                    $($d => return fused_groups_of::<S, $d>(simd, params, columns, y, out, fs, lanes),)*
                    _ => {}
                }
            };
        }
        if S::F64_LANES >= 4 {
            by_width!(1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16);
        }
        let (s, ls, dv) = out;
        let (lanes, product) = lanes;
        for g in (0..y.len()).step_by(GROUP) {
            let rows = g..g + GROUP;
            fused_group(
                simd,
                params,
                |j| &columns[j][rows.clone()],
                &y[rows.clone()],
                (
                    &mut s[rows.clone()],
                    &mut ls[rows.clone()],
                    &mut dv[rows.clone()],
                ),
                &mut fs[rows.clone()],
                (&mut *lanes, &mut *product),
            );
        }
    }
}

/// The most features for which the fused pass keeps its weights and sums
/// in registers (the last width `fused_groups` lists).
pub const WIDEST_IN_REGISTERS: usize = 16;

/// [`fused_groups`] for `D` features, the same sums in the same order as
/// [`fused_group`] (so the same bits), with the lanes in local arrays the
/// compiler keeps in registers.
#[inline(always)]
fn fused_groups_of<S: pulp::Simd, const D: usize>(
    simd: S,
    (w, b, loss, prefetch): (&[f64], f64, RowLoss, Prefetch),
    columns: &[&[f64]],
    y: &[f64],
    (s, ls, dv): (&mut [f64], &mut [f64], &mut [f64]),
    fs: &mut [f64],
    (lanes, product): (&mut [S::f64s], &mut [S::f64s]),
) {
    let (Ok(&columns), Ok(w)) = (<&[&[f64]; D]>::try_from(columns), <&[f64; D]>::try_from(w))
    else {
        return;
    };
    let per8 = 8 / S::F64_LANES;
    let vectors = GROUP / S::F64_LANES;
    let zero = simd.splat_f64s(0.0);
    let weights: [S::f64s; D] = std::array::from_fn(|j| simd.splat_f64s(w[j]));
    // Eight lanes of each quantity, in `per8` ≤ 2 vectors (the first in
    // `low`, the second in `high`): dᵢxᵢ per feature, then dᵢ and lᵢ.
    let (mut low, mut high) = ([zero; D], [zero; D]);
    let at = |k: usize, p: usize| if p < per8 { lanes[k * per8 + p] } else { zero };
    for j in 0..D {
        (low[j], high[j]) = (at(j, 0), at(j, 1));
    }
    let (mut bias, mut total) = ([at(D, 0), at(D, 1)], [at(D + 1, 0), at(D + 1, 1)]);
    for g in (0..y.len()).step_by(GROUP) {
        let rows = g..g + GROUP;
        let mut sv = [simd.splat_f64s(b); GROUP];
        for j in 0..D {
            prefetch.ahead(&columns[j][g..], GROUP);
            let xv = S::as_simd_f64s(&columns[j][rows.clone()]).0;
            for q in 0..vectors {
                sv[q] = simd.mul_add_f64s(weights[j], xv[q], sv[q]);
            }
        }
        S::as_mut_simd_f64s(&mut s[rows.clone()])
            .0
            .copy_from_slice(&sv[..vectors]);
        loss.eval_rows(
            &s[rows.clone()],
            &y[rows.clone()],
            (
                &mut ls[rows.clone()],
                &mut fs[rows.clone()],
                &mut dv[rows.clone()],
            ),
        );
        if loss == RowLoss::Logistic {
            multiply_chunks(simd, product, S::as_simd_f64s(&fs[rows.clone()]).0);
        }
        let d = S::as_simd_f64s(&dv[rows.clone()]).0;
        for j in 0..D {
            let xv = S::as_simd_f64s(&columns[j][rows.clone()]).0;
            add_pair(simd, (&mut low[j], &mut high[j]), d, Some(xv));
        }
        let [b0, b1] = &mut bias;
        add_pair(simd, (b0, b1), d, None);
        let [t0, t1] = &mut total;
        add_pair(simd, (t0, t1), S::as_simd_f64s(&ls[rows]).0, None);
    }
    let quantities = low.into_iter().zip(high).chain([bias.into(), total.into()]);
    for (k, (l, h)) in quantities.enumerate() {
        lanes[k * per8] = l;
        if per8 == 2 {
            lanes[k * per8 + 1] = h;
        }
    }
}

/// [`add_chunks`] into lanes held in at most two vectors (of four or eight
/// lanes), indexed by constants only so that they stay in registers. (Its
/// loop written once for both, as a function of one vector's sum, made the
/// in-cache hinge pass 25% slower.)
#[inline(always)]
fn add_pair<S: pulp::Simd>(
    simd: S,
    acc: (&mut S::f64s, &mut S::f64s),
    v: &[S::f64s],
    x: Option<&[S::f64s]>,
) {
    let per8 = 8 / S::F64_LANES;
    let v = &v[..GROUP / S::F64_LANES];
    let x = x.map(|x| &x[..GROUP / S::F64_LANES]);
    for (p, acc) in [acc.0, acc.1].into_iter().take(per8).enumerate() {
        let mut sum = *acc;
        for c in 0..GROUP / 8 {
            let q = c * per8 + p;
            sum = match x {
                Some(x) => simd.mul_add_f64s(v[q], x[q], sum),
                None => simd.add_f64s(sum, v[q]),
            };
        }
        *acc = sum;
    }
}

/// One group of [`GROUP`] rows of the fused pass: their scores from
/// `column(j)` (the group's rows of column j) into `s`, the losses' parts,
/// factors and derivatives into `ls`, `fs` and `dv`, dᵢxᵢ, dᵢ and lᵢ
/// added to `lanes` and (for the logistic loss) the factors multiplied
/// into `product`'s lanes.
#[inline(always)]
fn fused_group<'a, S: pulp::Simd>(
    simd: S,
    (w, b, loss, prefetch): (&[f64], f64, RowLoss, Prefetch),
    column: impl Fn(usize) -> &'a [f64],
    y: &[f64],
    (s, ls, dv): (&mut [f64], &mut [f64], &mut [f64]),
    fs: &mut [f64],
    (lanes, product): (&mut [S::f64s], &mut [S::f64s]),
) {
    let vectors = GROUP / S::F64_LANES;
    let mut sv = [simd.splat_f64s(b); GROUP];
    for (j, &wj) in w.iter().enumerate() {
        prefetch.ahead(column(j), GROUP);
        let wj = simd.splat_f64s(wj);
        let xv = S::as_simd_f64s(column(j)).0;
        for q in 0..vectors {
            sv[q] = simd.mul_add_f64s(wj, xv[q], sv[q]);
        }
    }
    S::as_mut_simd_f64s(s).0.copy_from_slice(&sv[..vectors]);
    loss.eval_rows(s, y, (ls, fs, dv));
    if loss == RowLoss::Logistic {
        multiply_chunks(simd, product, S::as_simd_f64s(fs).0);
    }
    let dv = S::as_simd_f64s(dv).0;
    let per8 = 8 / S::F64_LANES;
    let mut quantities = lanes.chunks_mut(per8);
    for (j, acc) in (&mut quantities).take(w.len()).enumerate() {
        add_chunks(simd, acc, dv, Some(S::as_simd_f64s(column(j)).0));
    }
    if let (Some(bias), Some(total)) = (quantities.next(), quantities.next()) {
        add_chunks(simd, bias, dv, None);
        add_chunks(simd, total, S::as_simd_f64s(ls).0, None);
    }
}

/// Adds a group's vectors `v` (times `x`'s, when given) to eight lanes held
/// in `acc`: lane l takes rows l, l + 8, l + 16 and l + 24 in that order,
/// whatever the vector width (`acc` holds 8 / lanes vectors), so that every
/// CPU adds the same numbers in the same order.
#[inline(always)]
pub fn add_chunks<S: pulp::Simd>(
    simd: S,
    acc: &mut [S::f64s],
    v: &[S::f64s],
    x: Option<&[S::f64s]>,
) {
    add_group_chunks::<S, GROUP>(simd, acc, v, x);
}

/// Multiplies a group's vectors `v` into eight lanes held in `acc`, lane l
/// taking rows l, l + 8, l + 16 and l + 24 in that order (as
/// [`add_chunks`] adds them).
#[inline(always)]
fn multiply_chunks<S: pulp::Simd>(simd: S, acc: &mut [S::f64s], v: &[S::f64s]) {
    let per8 = 8 / S::F64_LANES;
    let v = &v[..GROUP / S::F64_LANES];
    for (p, a) in acc[..per8].iter_mut().enumerate() {
        let mut product = *a;
        for c in 0..GROUP / 8 {
            product = simd.mul_f64s(product, v[c * per8 + p]);
        }
        *a = product;
    }
}

/// [`add_chunks`] for a group of `G` rows (a multiple of 8): lane l takes
/// rows l, l + 8, … , l + G − 8 in that order.
#[inline(always)]
pub fn add_group_chunks<S: pulp::Simd, const G: usize>(
    simd: S,
    acc: &mut [S::f64s],
    v: &[S::f64s],
    x: Option<&[S::f64s]>,
) {
    // Lengths fixed up front, and each sum in a local: with a bounds check
    // inside the chain, every partial sum was stored back to `acc` before
    // the next multiply-add (a store per vector, not per lane set).
    let per8 = 8 / S::F64_LANES;
    let v = &v[..G / S::F64_LANES];
    let x = x.map(|x| &x[..G / S::F64_LANES]);
    for (p, a) in acc[..per8].iter_mut().enumerate() {
        let mut sum = *a;
        for c in 0..G / 8 {
            let q = c * per8 + p;
            sum = match x {
                Some(x) => simd.mul_add_f64s(v[q], x[q], sum),
                None => simd.add_f64s(sum, v[q]),
            };
        }
        *a = sum;
    }
}

/// Runs `f(lo, hi)` on the consecutive blocks `lo..hi` of at most `block`
/// rows that cover `start..end`, all in one loop compiled for the widest
/// vector unit ([`vmath::wide`]). Only what is inlined gets the wide
/// instructions: mark `f` and the helpers it calls `#[inline(always)]`.
#[inline(always)]
pub fn blocks(start: usize, end: usize, block: usize, mut f: impl FnMut(usize, usize)) {
    vmath::wide(
        #[inline(always)]
        || {
            for lo in (start..end).step_by(block) {
                f(lo, (lo + block).min(end));
            }
        },
    );
}

/// How many row ranges `n` rows are split into: one per core when there are enough rows.
fn threads_for(n: usize) -> usize {
    if n >= PARALLEL_MIN_ROWS {
        std::thread::available_parallelism()
            .map_or(1, std::num::NonZero::get)
            .min(8)
    } else {
        1
    }
}

/// Runs `f(start, end)` on consecutive row ranges covering `0..n`, one per
/// core when there are enough rows, and returns the results in row order.
pub fn over_row_ranges<R: Send>(n: usize, f: impl Fn(usize, usize) -> R + Sync) -> Vec<R> {
    over_row_ranges_into(n, &mut [], |start, end, _| f(start, end))
}

/// The rows of a range in each of several outputs of whole n-row columns:
/// `pieces[m][j]` is column j of output m, restricted to the range.
pub type Pieces<'a> = Vec<Vec<&'a mut [f64]>>;

/// Rows `lo..hi` of each column of a range's piece.
pub fn rows<'a>(columns: &'a mut [&mut [f64]], lo: usize, hi: usize) -> Vec<&'a mut [f64]> {
    columns.iter_mut().map(|c| &mut c[lo..hi]).collect()
}

/// [`over_row_ranges`] that also hands each range its rows of `outs`
/// (column-major data of n-row columns: a vector, or a matrix's slice) to
/// write: `f(start, end, pieces)`.
pub fn over_row_ranges_into<R: Send>(
    n: usize,
    outs: &mut [&mut [f64]],
    f: impl Fn(usize, usize, &mut Pieces) -> R + Sync,
) -> Vec<R> {
    over_ranges_into(n, threads_for(n), outs, f)
}

/// [`over_row_ranges_into`] in `threads` ranges.
fn over_ranges_into<R: Send>(
    n: usize,
    threads: usize,
    outs: &mut [&mut [f64]],
    f: impl Fn(usize, usize, &mut Pieces) -> R + Sync,
) -> Vec<R> {
    let chunk = n.div_ceil(threads.max(1)).max(1);
    let ranges: Vec<(usize, usize)> = (0..n.max(1))
        .step_by(chunk)
        .map(|start| (start, (start + chunk).min(n)))
        .collect();
    let mut slots: Vec<Pieces> = ranges.iter().map(|_| Vec::new()).collect();
    for m in outs.iter_mut() {
        for pieces in &mut slots {
            pieces.push(Vec::new());
        }
        for column in m.chunks_mut(n.max(1)) {
            let mut rest = column;
            for (pieces, &(start, end)) in slots.iter_mut().zip(&ranges) {
                let (piece, tail) = std::mem::take(&mut rest).split_at_mut(end - start);
                if let Some(columns) = pieces.last_mut() {
                    columns.push(piece);
                }
                rest = tail;
            }
        }
    }
    // Each range works on its own slot: its bounds, its pieces, its result.
    let mut slots: Vec<_> = ranges
        .into_iter()
        .zip(slots)
        .map(|(r, p)| (r, p, None))
        .collect();
    let run = |((start, end), pieces, result): &mut ((usize, usize), Pieces, Option<R>)| {
        *result = Some(f(*start, *end, pieces));
    };
    with_helpers(|helpers| match (helpers, slots.split_first_mut()) {
        (Some(helpers), Some((first, rest))) if !rest.is_empty() => {
            helpers.in_place_scope(|scope| {
                for slot in rest {
                    scope.spawn(|_| run(slot));
                }
                run(first);
            });
        }
        _ => slots.iter_mut().for_each(run),
    });
    slots.into_iter().filter_map(|(_, _, r)| r).collect()
}

thread_local! {
    /// The threads that run this thread's parallel passes with it (the
    /// caller takes the first range), started on its first such pass, so
    /// that they inherit its priority (see `ui::background`), and ended
    /// with it. With two threads started afresh for each pass, each took
    /// 0.08–0.10 ms to begin and the caller as long to wake from its join:
    /// steps at 1M × 10 took 5–9% longer (logistic 2.5 ms against 2.3,
    /// k-means 2.9 against 2.6, the SVM 2.0 against 1.9).
    static HELPERS: std::cell::OnceCell<Option<rayon::ThreadPool>> =
        const { std::cell::OnceCell::new() };
}

/// Runs `f` with this thread's helpers: `None` on one core, or where
/// threads cannot be started (the ranges then run here, one after another).
fn with_helpers<R>(f: impl FnOnce(Option<&rayon::ThreadPool>) -> R) -> R {
    HELPERS.with(|helpers| {
        let helpers = helpers.get_or_init(|| {
            let threads = threads_for(PARALLEL_MIN_ROWS) - 1;
            (threads > 0)
                .then(|| {
                    rayon::ThreadPoolBuilder::new()
                        .num_threads(threads)
                        .thread_name(|k| format!("steplab-rows-{}", k + 1))
                        .build()
                        .ok()
                })
                .flatten()
        });
        f(helpers.as_ref())
    })
}

/// Units per tile of [`dense_layer`] where [`WideTiles`] does not take
/// them: 4 units × 16 rows of sums stay in registers while the inputs
/// stream past; fewer units take 32 rows at a time.
const TILE_UNITS: usize = 4;

/// A dense layer over a block of rows: zᵤ = bᵤ + Σₘ wᵤₘ · input(m) for
/// every unit u (`z[u]`, one block-long column each), added in input order
/// on fused multiply-adds. Several units share each load of an input (eight
/// on AVX-512, in `WideTiles`, else four): one unit at a time, each input
/// column came from the second-level cache once per unit, and that traffic
/// was most of the MLP's forward pass.
#[inline(always)]
pub fn dense_layer<'a>(
    z: &mut [&mut [f64]],
    weight: impl Fn(usize, usize) -> f64,
    bias: impl Fn(usize) -> f64,
    (inputs, input): (usize, impl Fn(usize) -> &'a [f64]),
    prefetch: Prefetch,
) {
    // The input columns looked up once, not once per tile and row chunk.
    let columns: Vec<&[f64]> = (0..inputs).map(input).collect();
    let mut first = pulp::Arch::new().dispatch(WideTiles {
        z: &mut *z,
        weight: &weight,
        bias: &bias,
        columns: &columns,
        prefetch,
    });
    for units in z[first..].chunks_mut(TILE_UNITS) {
        if let Ok(four) = <&mut [&mut [f64]; TILE_UNITS]>::try_from(&mut *units) {
            dense_tile::<4, 16>(four, first, (&weight, &bias), &columns, prefetch);
        } else {
            // Fewer units read each input over more rows at a time: one
            // unit at 16 rows kept two cache lines of each column in
            // flight, and the first layer waited on memory.
            for (t, pair) in units.chunks_mut(2).enumerate() {
                let at = first + 2 * t;
                if let Ok(two) = <&mut [&mut [f64]; 2]>::try_from(&mut *pair) {
                    dense_tile::<2, 32>(two, at, (&weight, &bias), &columns, prefetch);
                } else {
                    let one = &mut [&mut *pair[0]];
                    dense_tile::<1, 32>(one, at, (&weight, &bias), &columns, prefetch);
                }
            }
        }
        first += units.len();
    }
}

/// Units and vectors of rows per register tile of [`WideTiles`]: 8 × 3
/// sums in 24 of AVX-512's 32 registers. On a (64, 64) layer of 512 rows,
/// one core, alternating builds (2026-12-03): 11–13.5 GFMA/s with the 4
/// units × 16 rows of [`dense_tile`] (eight sums), 17–19.5 with these; the
/// multiply-add units' peak is 34. The first layer also reads each block
/// of X once per eight units instead of once per four.
const WIDE_UNITS: usize = 8;
const WIDE_VECTORS: usize = 3;

/// [`dense_layer`]'s units in whole groups of [`WIDE_UNITS`] on 8-lane
/// vectors (none elsewhere): returns how many units it computed. Each sum
/// is the same chain of fused multiply-adds as [`dense_tile`]'s, so the
/// tiles' shape does not change a bit.
struct WideTiles<'z, 'o, 'c, W, B> {
    z: &'z mut [&'o mut [f64]],
    weight: &'z W,
    bias: &'z B,
    columns: &'z [&'c [f64]],
    prefetch: Prefetch,
}

impl<W: Fn(usize, usize) -> f64, B: Fn(usize) -> f64> pulp::WithSimd
    for WideTiles<'_, '_, '_, W, B>
{
    type Output = usize;

    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, simd: S) -> usize {
        let Self {
            z,
            weight,
            bias,
            columns,
            prefetch,
        } = self;
        if S::F64_LANES != 8 {
            return 0;
        }
        let groups = z.len() / WIDE_UNITS;
        for (g, group) in z.chunks_exact_mut(WIDE_UNITS).enumerate() {
            let first = g * WIDE_UNITS;
            let (w, b) = tile_weights::<WIDE_UNITS>(first, (weight, bias), columns.len());
            let len = group[0].len();
            // Three vectors of rows at a time, then one, then row by row.
            let whole = len / (8 * WIDE_VECTORS) * (8 * WIDE_VECTORS);
            wide_rows::<S, WIDE_VECTORS>(simd, group, (&w, &b), columns, prefetch, 0..whole);
            let vectors = len / 8 * 8;
            wide_rows::<S, 1>(simd, group, (&w, &b), columns, prefetch, whole..vectors);
            dense_rows(group, (&w, &b), columns, vectors..len);
        }
        groups * WIDE_UNITS
    }
}

/// [`WideTiles`]' group of units over `rows`, `V` 8-lane vectors of rows
/// at a time (`rows` a whole number of them).
#[inline(always)]
fn wide_rows<S: pulp::Simd, const V: usize>(
    simd: S,
    group: &mut [&mut [f64]],
    (w, b): (&[[f64; WIDE_UNITS]], &[f64; WIDE_UNITS]),
    columns: &[&[f64]],
    prefetch: Prefetch,
    rows: std::ops::Range<usize>,
) {
    let step = V * S::F64_LANES;
    for r in rows.step_by(step) {
        let mut acc: [[S::f64s; V]; WIDE_UNITS] =
            std::array::from_fn(|t| [simd.splat_f64s(b[t]); V]);
        for (column, wm) in columns.iter().zip(w) {
            let x = &column[r..r + step];
            prefetch.ahead(x, step);
            let x = S::as_simd_f64s(x).0;
            let x: [S::f64s; V] = std::array::from_fn(|v| x[v]);
            for (a, &wt) in acc.iter_mut().zip(wm) {
                let wt = simd.splat_f64s(wt);
                for v in 0..V {
                    a[v] = simd.mul_add_f64s(wt, x[v], a[v]);
                }
            }
        }
        for (zt, a) in group.iter_mut().zip(&acc) {
            S::as_mut_simd_f64s(&mut zt[r..r + step])
                .0
                .copy_from_slice(a);
        }
    }
}

/// [`dense_layer`] for the `U` units from `first` on, `R` rows at a time.
#[inline(always)]
fn dense_tile<const U: usize, const R: usize>(
    z: &mut [&mut [f64]; U],
    first: usize,
    (weight, bias): (&impl Fn(usize, usize) -> f64, &impl Fn(usize) -> f64),
    columns: &[&[f64]],
    prefetch: Prefetch,
) {
    let len = z[0].len();
    let (w, b) = tile_weights::<U>(first, (weight, bias), columns.len());
    let whole = len / R * R;
    for r in (0..whole).step_by(R) {
        let mut acc = [[0.0; R]; U];
        for (a, &bt) in acc.iter_mut().zip(&b) {
            *a = [bt; R];
        }
        for (column, wm) in columns.iter().zip(&w) {
            let x = &column[r..r + R];
            prefetch.ahead(x, R);
            for (a, &wt) in acc.iter_mut().zip(wm) {
                for k in 0..R {
                    a[k] = wt.mul_add(x[k], a[k]);
                }
            }
        }
        for (zt, a) in z.iter_mut().zip(&acc) {
            zt[r..r + R].copy_from_slice(a);
        }
    }
    dense_rows(z, (&w, &b), columns, whole..len);
}

/// The weights of a tile's `U` units from `first` on, by input (each
/// input's `U` weights side by side, broadcast one by one), and their
/// biases.
#[inline(always)]
fn tile_weights<const U: usize>(
    first: usize,
    (weight, bias): (&impl Fn(usize, usize) -> f64, &impl Fn(usize) -> f64),
    inputs: usize,
) -> (Vec<[f64; U]>, [f64; U]) {
    let w = (0..inputs)
        .map(|m| std::array::from_fn(|t| weight(first + t, m)))
        .collect();
    (w, std::array::from_fn(|t| bias(first + t)))
}

/// A tile's units on `rows`, one row at a time (a tile's last rows).
#[inline(always)]
fn dense_rows<const U: usize>(
    z: &mut [&mut [f64]],
    (w, b): (&[[f64; U]], &[f64; U]),
    columns: &[&[f64]],
    rows: std::ops::Range<usize>,
) {
    for i in rows {
        for (t, zt) in z.iter_mut().enumerate() {
            zt[i] = w
                .iter()
                .zip(columns)
                .fold(b[t], |a, (wm, column)| wm[t].mul_add(column[i], a));
        }
    }
}

/// The gradient sums of a dense layer, Σᵢ δᵤᵢ · input(m)ᵢ for each unit u
/// and input m, and Σᵢ δᵤᵢ for its bias, built block by block over a range
/// of rows. Each sum is held in eight lanes, lane l taking rows l, l + 8,
/// l + 16, … of each block in order (as [`add_chunks`] does), so every CPU
/// adds the same numbers in the same order, whatever its vector width.
#[derive(Debug, Clone)]
pub struct GradientLanes {
    /// Per unit: one lane set per input, then the bias's.
    lanes: Vec<[f64; 8]>,
    inputs: usize,
}

impl GradientLanes {
    #[must_use]
    pub fn new(units: usize, inputs: usize) -> Self {
        Self {
            lanes: vec![[0.0; 8]; units * (inputs + 1)],
            inputs,
        }
    }

    /// Adds a block: `deltas[u]` holds unit u's errors for the block's
    /// rows, `input(m)` the block's column of input m. Tiles of units ×
    /// inputs keep their sums in vector registers down the whole block (one
    /// dot product at a time waited on each sum's previous addition and
    /// reread the inputs from the second-level cache): on AVX-512's 32
    /// registers 8 × 3, 24 sums for 11 loads a chunk of 8 rows (a (64, 64)
    /// layer's sums on one core, alternating builds, 2026-12-03: 6–13
    /// GFMA/s with the 4 × 2 tiles' 8 sums for 6 loads, 13–17 with these);
    /// elsewhere 4 × 2 (2 × 4, 1 × 8 for fewer units).
    pub fn add<'a>(&mut self, deltas: &[&[f64]], input: impl Fn(usize) -> &'a [f64]) {
        self.add_on(pulp::Arch::new(), deltas, &input);
    }

    /// [`Self::add`] with the tiles run by `isa`.
    fn add_on<'a>(
        &mut self,
        isa: impl RunTile,
        deltas: &[&[f64]],
        input: &impl Fn(usize) -> &'a [f64],
    ) {
        let eight_lanes = isa.lanes() == 8;
        let mut u = 0;
        while u < deltas.len() {
            let left = deltas.len() - u;
            if left >= 8 && eight_lanes {
                self.tiles::<8, 3>(isa, u, deltas, input);
                u += 8;
            } else if left >= 4 {
                self.tiles::<4, 2>(isa, u, deltas, input);
                u += 4;
            } else if left >= 2 {
                self.tiles::<2, 4>(isa, u, deltas, input);
                u += 2;
            } else {
                self.tiles::<1, 8>(isa, u, deltas, input);
                u += 1;
            }
        }
    }

    /// Units `u..u + U`: their inputs `M` at a time, then two, then one,
    /// then the biases. Each tile holds about eight sums, enough to keep
    /// both multiply-add units busy.
    fn tiles<'a, const U: usize, const M: usize>(
        &mut self,
        isa: impl RunTile,
        u: usize,
        deltas: &[&[f64]],
        input: &impl Fn(usize) -> &'a [f64],
    ) {
        let d: [&[f64]; U] = std::array::from_fn(|t| deltas[u + t]);
        let mut m = 0;
        while m + M <= self.inputs {
            let x: [&[f64]; M] = std::array::from_fn(|j| input(m + j));
            isa.run_tile(self.tile(u, m, d, x));
            m += M;
        }
        while m + 2 <= self.inputs {
            isa.run_tile(self.tile(u, m, d, [input(m), input(m + 1)]));
            m += 2;
        }
        if m < self.inputs {
            isa.run_tile(self.tile(u, m, d, [input(m)]));
        }
        isa.run_tile(self.tile(u, self.inputs, d, []));
    }

    fn tile<'a, const U: usize, const M: usize>(
        &mut self,
        u: usize,
        m: usize,
        d: [&'a [f64]; U],
        x: [&'a [f64]; M],
    ) -> GradientTile<'_, 'a, U, M> {
        GradientTile {
            lanes: &mut self.lanes,
            per_unit: self.inputs + 1,
            u,
            m,
            d,
            x,
        }
    }

    /// The lane sets themselves, for a kernel that adds to them in the same
    /// order: unit u's for input m at u · (inputs + 1) + m, its bias's at
    /// u · (inputs + 1) + inputs.
    pub fn lanes_mut(&mut self) -> &mut [[f64; 8]] {
        &mut self.lanes
    }

    /// The sums, each one's lanes added in one fixed order: the weights'
    /// (units × inputs) and the biases'.
    #[must_use]
    pub fn totals(&self) -> (DMatrix<f64>, DVector<f64>) {
        let per_unit = self.inputs + 1;
        let units = self.lanes.len() / per_unit;
        let total = |u: usize, m: usize| lane_total(&self.lanes[u * per_unit + m]);
        (
            DMatrix::from_fn(units, self.inputs, total),
            DVector::from_fn(units, |u, _| total(u, self.inputs)),
        )
    }
}

/// What runs a [`GradientTile`]: the widest instruction set in use, any
/// other in the tests.
trait RunTile: Copy {
    fn run_tile<Op: pulp::WithSimd<Output = ()>>(self, op: Op);

    /// The f64 lanes of its vectors.
    fn lanes(self) -> usize;
}

/// The f64 lanes of an instruction set's vectors.
struct Lanes;

impl pulp::WithSimd for Lanes {
    type Output = usize;
    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, _: S) -> usize {
        S::F64_LANES
    }
}

impl RunTile for pulp::Arch {
    fn run_tile<Op: pulp::WithSimd<Output = ()>>(self, op: Op) {
        self.dispatch(op);
    }

    fn lanes(self) -> usize {
        self.dispatch(Lanes)
    }
}

/// Units `u..u + U` × inputs `m..m + M` of a [`GradientLanes`] (with no
/// inputs, the units' biases: m is then the number of inputs), over one
/// block: their lane sets held in registers from the first row to the last.
struct GradientTile<'l, 'a, const U: usize, const M: usize> {
    lanes: &'l mut [[f64; 8]],
    per_unit: usize,
    u: usize,
    m: usize,
    d: [&'a [f64]; U],
    x: [&'a [f64]; M],
}

impl<const U: usize, const M: usize> pulp::WithSimd for GradientTile<'_, '_, U, M> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, simd: S) {
        let Self {
            lanes,
            per_unit,
            u,
            m,
            d,
            x,
        } = self;
        // Each lane set is 8 / lanes vectors; row 8c + k goes to lane k.
        // One vector of the sets at a time, its rows in order.
        let per8 = 8 / S::F64_LANES;
        let len = d.first().map_or(0, |d| d.len());
        let body = len / 8 * 8;
        let at = |t: usize, j: usize| (u + t) * per_unit + m + j;
        let dv: [&[S::f64s]; U] = std::array::from_fn(|t| S::as_simd_f64s(&d[t][..body]).0);
        let xv: [&[S::f64s]; M] = std::array::from_fn(|j| S::as_simd_f64s(&x[j][..body]).0);
        for q in 0..per8 {
            let vector = |set: &[f64; 8]| S::as_simd_f64s(set).0[q];
            // The weights' sums, or (no inputs) the biases'.
            let mut acc: [[S::f64s; M]; U] =
                std::array::from_fn(|t| std::array::from_fn(|j| vector(&lanes[at(t, j)])));
            let mut bias: [S::f64s; U] = std::array::from_fn(|t| vector(&lanes[at(t, 0)]));
            for i in (q..body / S::F64_LANES).step_by(per8) {
                for t in 0..U {
                    let dt = dv[t][i];
                    if M == 0 {
                        bias[t] = simd.add_f64s(bias[t], dt);
                    }
                    for j in 0..M {
                        acc[t][j] = simd.mul_add_f64s(dt, xv[j][i], acc[t][j]);
                    }
                }
            }
            for t in 0..U {
                for j in 0..M {
                    S::as_mut_simd_f64s(&mut lanes[at(t, j)]).0[q] = acc[t][j];
                }
                if M == 0 {
                    S::as_mut_simd_f64s(&mut lanes[at(t, 0)]).0[q] = bias[t];
                }
            }
        }
        // The block's last rows, fewer than 8.
        for t in 0..U {
            for j in 0..M {
                let lane = &mut lanes[at(t, j)];
                for r in body..len {
                    lane[r % 8] = d[t][r].mul_add(x[j][r], lane[r % 8]);
                }
            }
            if M == 0 {
                let lane = &mut lanes[at(t, 0)];
                for r in body..len {
                    lane[r % 8] += d[t][r];
                }
            }
        }
    }
}

/// The column means of X and its population covariance (divided by n): the
/// [`moments`] of its columns.
#[must_use]
pub fn mean_and_covariance(x: &DMatrix<f64>) -> (DVector<f64>, DMatrix<f64>) {
    let n = x.nrows();
    let data = x.as_slice();
    let columns: Vec<&[f64]> = (0..x.ncols()).map(|j| &data[j * n..(j + 1) * n]).collect();
    moments(n, &columns)
}

/// The means of n-row columns and their population covariance (divided by
/// n), in two blocked passes on every core: the means, then the
/// cross-products of each block centred on them (the two-pass formula's
/// precision, without a centred copy).
///
/// # Panics
/// Never when every column holds n rows.
#[must_use]
pub fn moments(n: usize, columns: &[&[f64]]) -> (DVector<f64>, DMatrix<f64>) {
    let d = columns.len();
    let rows = n.max(1) as f64;
    let column = |j: usize, lo: usize, hi: usize| &columns[j][lo..hi];
    let mut mean = DVector::zeros(d);
    for part in over_row_ranges(n, |lo, hi| {
        DVector::from_iterator(d, (0..d).map(|j| sum(column(j, lo, hi))))
    }) {
        mean += part;
    }
    mean /= rows;
    let parts = over_row_ranges(n, |start, end| {
        let mut cov = DMatrix::<f64>::zeros(d, d);
        let mut centred = vec![0.0; d * BLOCK];
        for lo in (start..end).step_by(BLOCK) {
            let hi = (lo + BLOCK).min(end);
            let len = hi - lo;
            for (j, c) in centred.chunks_mut(BLOCK).enumerate() {
                for (c, &v) in c.iter_mut().zip(column(j, lo, hi)) {
                    *c = v - mean[j];
                }
            }
            for j in 0..d {
                for k in 0..=j {
                    cov[(j, k)] += dot(
                        &centred[j * BLOCK..j * BLOCK + len],
                        &centred[k * BLOCK..k * BLOCK + len],
                    );
                }
            }
        }
        cov
    });
    let mut cov = DMatrix::<f64>::zeros(d, d);
    for part in parts {
        cov += part;
    }
    cov /= rows;
    cov.fill_upper_triangle_with_lower_triangle();
    (mean, cov)
}

/// w·xᵢ + b into `s` for the rows from `first` on of the column-major
/// `data` of `n` rows, one per entry of `s`.
#[inline(always)]
fn linear_scores(s: &mut [f64], (w, b): (&[f64], f64), data: &[f64], n: usize, first: usize) {
    let len = s.len();
    let column = |j: usize| &data[j * n + first..j * n + first + len];
    dense_layer(
        &mut [s],
        |_, j| w[j],
        |_| b,
        (w.len(), column),
        Prefetch::on(),
    );
}

/// sᵢ = w·xᵢ + b into `scores` and sᵢ − yᵢ into `residuals` for every row,
/// on every core: a linear model's per-row record, without sums.
pub fn scores_and_residuals(
    x: &DMatrix<f64>,
    y: &[f64],
    (w, b): (&[f64], f64),
    scores: &mut [f64],
    residuals: &mut [f64],
) {
    let n = x.nrows();
    let data = x.as_slice();
    over_row_ranges_into(n, &mut [scores, residuals], |start, end, pieces| {
        let (first, rest) = pieces.split_at_mut(1);
        let (s, r) = (&mut *first[0][0], &mut *rest[0][0]);
        blocks(
            0,
            end - start,
            BLOCK,
            #[inline(always)]
            |lo, hi| {
                let s = &mut s[lo..hi];
                linear_scores(s, (w, b), data, n, start + lo);
                for ((r, &s), &y) in r[lo..hi]
                    .iter_mut()
                    .zip(&*s)
                    .zip(&y[start + lo..start + hi])
                {
                    *r = s - y;
                }
            },
        );
    });
}

/// (1/2n) Σ (w·xᵢ + b − yᵢ)², row by row on every core: the least-squares
/// loss where its form through the moments cancels (a near-exact fit).
#[must_use]
pub fn half_mean_squared_residual(x: &DMatrix<f64>, y: &[f64], (w, b): (&[f64], f64)) -> f64 {
    let n = x.nrows();
    let data = x.as_slice();
    let parts = over_row_ranges(n, |start, end| {
        let mut scores = vec![0.0; BLOCK];
        let mut squares = 0.0;
        blocks(
            0,
            end - start,
            BLOCK,
            #[inline(always)]
            |lo, hi| {
                let s = &mut scores[..hi - lo];
                linear_scores(s, (w, b), data, n, start + lo);
                for (s, &y) in s.iter_mut().zip(&y[start + lo..start + hi]) {
                    *s = (*s - y) * (*s - y);
                }
                squares += sum(s);
            },
        );
        squares
    });
    0.5 * parts.iter().sum::<f64>() / n as f64
}

/// How many sampled rows ahead [`gather_rows`] asks for (at a million
/// rows, every 50th: 1.6 ms without, 1.2 ms with).
const GATHER_AHEAD: usize = 16;

/// Rows 0, `every`, 2·`every`, … of `x` and `y`, as a matrix and a
/// vector of their own: what the window's plots draw, gathered once so
/// that a step's per-row values there ([`scores_and_residuals`] on them,
/// the same arithmetic row by row) read 20,000 contiguous rows, not one
/// cache line each all over X. The gathering is shared among the cores as
/// a pass over X would be.
#[must_use]
pub fn gather_rows(x: &DMatrix<f64>, y: &[f64], every: usize) -> (DMatrix<f64>, Vec<f64>) {
    let (n, every) = (x.nrows(), every.max(1));
    let data = x.as_slice();
    let m = n.div_ceil(every);
    let mut gathered = DMatrix::zeros(m, x.ncols());
    // As many cores as a pass over all n rows would take.
    over_ranges_into(
        m,
        threads_for(n),
        &mut [gathered.as_mut_slice()],
        |lo, hi, outs| {
            let prefetch = Prefetch::on();
            for (j, column) in outs[0].iter_mut().enumerate() {
                for (to, k) in column.iter_mut().zip(lo..hi) {
                    let i = k * every;
                    prefetch.at(data, j * n + i + GATHER_AHEAD * every);
                    *to = data[j * n + i];
                }
            }
        },
    );
    (gathered, y.iter().step_by(every).copied().collect())
}

/// Copies the first rows of `columns` (a block's per-row columns, in the
/// order of the heads' columns, head after head) into `heads`.
pub fn copy_heads<'a>(heads: &mut [DMatrix<f64>], columns: impl Iterator<Item = &'a [f64]>) {
    let to = heads.iter_mut().flat_map(|h| {
        let rows = h.nrows();
        h.column_iter_mut().map(move |c| (rows, c))
    });
    for ((rows, mut to), from) in to.zip(columns) {
        to.copy_from_slice(&from[..rows]);
    }
}

/// Σ aᵢ with eight independent accumulators (see [`dot`]).
#[must_use]
#[inline(always)]
pub fn sum(a: &[f64]) -> f64 {
    let mut acc = [0.0f64; 8];
    let mut chunks = a.chunks_exact(8);
    for x in &mut chunks {
        for k in 0..8 {
            acc[k] += x[k];
        }
    }
    acc.iter().sum::<f64>() + chunks.remainder().iter().sum::<f64>()
}

/// Each column's sum, smallest and largest value (NaN skipped in the
/// extremes; ∞ and −∞ when there are none), in one pass over `x` with its
/// rows shared among the cores: what the plots need of every row.
#[must_use]
pub fn column_extents(x: &DMatrix<f64>) -> Vec<Extent> {
    let n = x.nrows();
    let columns: Vec<&[f64]> = (0..x.ncols())
        .map(|j| &x.as_slice()[j * n..(j + 1) * n])
        .collect();
    let parts = over_row_ranges(n, |lo, hi| {
        let mut out = Vec::with_capacity(columns.len());
        vmath::wide(
            #[inline(always)]
            || {
                for c in &columns {
                    out.push(extent(&c[lo..hi]));
                }
            },
        );
        out
    });
    let mut total = vec![Extent::default(); columns.len()];
    for part in parts {
        for (t, p) in total.iter_mut().zip(part) {
            t.sum += p.sum;
            t.min = t.min.min(p.min);
            t.max = t.max.max(p.max);
        }
    }
    total
}

/// A column's sum and extremes ([`column_extents`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Extent {
    pub sum: f64,
    pub min: f64,
    pub max: f64,
}

impl Default for Extent {
    fn default() -> Self {
        Self {
            sum: 0.0,
            min: f64::INFINITY,
            max: f64::NEG_INFINITY,
        }
    }
}

/// [`Extent`] of `a` with eight running sums and extremes (see [`sum`]);
/// the comparisons, which a NaN fails, compile to single min and max
/// instructions (`f64::min` does not, and took 28 ms for 1M × 10).
#[inline(always)]
#[allow(clippy::inline_always)]
fn extent(a: &[f64]) -> Extent {
    let (mut sum, mut lo, mut hi) = ([0.0; 8], [f64::INFINITY; 8], [f64::NEG_INFINITY; 8]);
    let (chunks, rest) = a.as_chunks::<8>();
    for x in chunks {
        for k in 0..8 {
            sum[k] += x[k];
            lo[k] = if x[k] < lo[k] { x[k] } else { lo[k] };
            hi[k] = if x[k] > hi[k] { x[k] } else { hi[k] };
        }
    }
    let mut e = Extent {
        sum: sum.iter().sum::<f64>() + rest.iter().sum::<f64>(),
        ..Extent::default()
    };
    for &v in lo.iter().chain(rest) {
        e.min = e.min.min(v);
    }
    for &v in hi.iter().chain(rest) {
        e.max = e.max.max(v);
    }
    e
}

/// Σ aᵢbᵢ with eight independent accumulators, so the sum is limited by
/// memory rather than by the latency of one chain of additions.
#[must_use]
#[inline(always)]
pub fn dot(a: &[f64], b: &[f64]) -> f64 {
    let len = a.len().min(b.len());
    let (a8, a_tail) = a[..len].as_chunks::<8>();
    let (b8, b_tail) = b[..len].as_chunks::<8>();
    let mut acc = [0.0f64; 8];
    for (x, y) in a8.iter().zip(b8) {
        for k in 0..8 {
            acc[k] += x[k] * y[k];
        }
    }
    let tail: f64 = a_tail.iter().zip(b_tail).map(|(x, y)| x * y).sum();
    acc.iter().sum::<f64>() + tail
}

/// The instruction sets a kernel can run on, for tests that check that
/// they all give the same bits.
#[cfg(test)]
#[derive(Debug, Clone, Copy)]
pub enum Isa {
    /// What `pulp::Arch` picks on this CPU (AVX-512 here).
    Widest,
    /// One lane at a time.
    Scalar,
    /// AVX2 with FMA.
    Avx2,
    /// SSE4.2.
    Sse4,
}

#[cfg(test)]
impl RunTile for Isa {
    fn run_tile<Op: pulp::WithSimd<Output = ()>>(self, op: Op) {
        let ran = self.run(op);
        assert!(ran.is_some(), "{self:?} is not on this CPU");
    }

    fn lanes(self) -> usize {
        self.run(Lanes).unwrap_or(1)
    }
}

#[cfg(test)]
impl Isa {
    /// All of them, the widest first.
    pub const ALL: [Self; 4] = [Self::Widest, Self::Scalar, Self::Avx2, Self::Sse4];

    /// Runs `op` on this instruction set, or `None` where the CPU lacks it.
    pub fn run<Op: pulp::WithSimd>(self, op: Op) -> Option<Op::Output> {
        match self {
            Self::Widest => Some(pulp::Arch::new().dispatch(op)),
            Self::Scalar => Some(pulp::Simd::vectorize(pulp::Scalar, op)),
            #[cfg(target_arch = "x86_64")]
            Self::Avx2 => pulp::x86::V3::try_new().map(|s| pulp::Simd::vectorize(s, op)),
            #[cfg(target_arch = "x86_64")]
            Self::Sse4 => pulp::x86::V2::try_new().map(|s| pulp::Simd::vectorize(s, op)),
            #[cfg(not(target_arch = "x86_64"))]
            _ => None,
        }
    }

    /// Asserts that `bits` (the bit patterns of everything a kernel
    /// computed, or `None` where the CPU lacks the instruction set) is the
    /// same on every instruction set; `what` names the case.
    ///
    /// # Panics
    /// Where one differs: that is what it checks.
    pub fn assert_same_bits(what: &str, bits: impl Fn(Self) -> Option<Vec<u64>>) {
        let widest = bits(Self::Widest).unwrap_or_default();
        for isa in &Self::ALL[1..] {
            if let Some(other) = bits(*isa) {
                let at = widest.iter().zip(&other).position(|(a, b)| a != b);
                assert_eq!(at, None, "{what}: {isa:?} differs from the widest");
                assert_eq!(widest.len(), other.len());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gathered_rows_are_every_kth_row_of_x_and_y() {
        // Over PARALLEL_MIN_ROWS rows, so the gathering is split by core.
        let n = 40_001;
        let x = DMatrix::from_fn(n, 3, |i, j| (i * 10 + j) as f64);
        let y: Vec<f64> = (0..n).map(|i| -(i as f64)).collect();
        for every in [1, 3, 50] {
            let (g, gy) = gather_rows(&x, &y, every);
            assert_eq!(
                (g.nrows(), g.ncols(), gy.len()),
                (n.div_ceil(every), 3, n.div_ceil(every))
            );
            for (k, i) in (0..n).step_by(every).enumerate() {
                assert_eq!(g.row(k), x.row(i), "every {every} row {i}");
                assert_eq!(gy[k].to_bits(), y[i].to_bits());
            }
        }
    }

    #[test]
    fn row_losses_match_their_definitions() {
        use crate::algorithms::logistic::{sigmoid, softplus};
        for &s in &[
            -800.0, -40.0, -3.5, -1e-9, 0.0, 1e-9, 0.7, 12.0, 40.0, 800.0,
        ] {
            for &y in &[0.0, 1.0] {
                let (l, d) = RowLoss::Logistic.eval(s, y);
                let (l0, d0) = (softplus(s) - y * s, sigmoid(s) - y);
                assert!((l - l0).abs() <= 1e-15 * (1.0 + l0.abs()), "s {s} y {y}");
                assert!((d - d0).abs() <= 1e-15, "s {s} y {y}");
            }
            for &y in &[-1.0, 1.0] {
                let (l, d) = RowLoss::Hinge.eval(s, y);
                assert!((l - (1.0 - y * s).max(0.0)).abs() < f64::EPSILON);
                assert!((d - if y * s < 1.0 { -y } else { 0.0 }).abs() < f64::EPSILON);
            }
        }
    }

    #[test]
    fn dense_layers_and_their_gradients_match_plain_sums_for_any_shape() {
        // Units and inputs in tiles plus every remainder, blocks whose
        // length is not a multiple of a tile's rows or of eight.
        let mut rng = crate::rng::Rng::new(3);
        for units in 1..=9 {
            for inputs in 0..=9 {
                for len in [0, 1, 7, 8, 15, 16, 17, 33] {
                    let cols: Vec<Vec<f64>> = (0..inputs)
                        .map(|_| (0..len).map(|_| rng.normal()).collect())
                        .collect();
                    let w = DMatrix::from_fn(units, inputs, |_, _| rng.normal());
                    let b: Vec<f64> = (0..units).map(|_| rng.normal()).collect();
                    let mut z = vec![vec![f64::NAN; len]; units];
                    let mut zs: Vec<&mut [f64]> = z.iter_mut().map(|z| &mut z[..]).collect();
                    dense_layer(
                        &mut zs,
                        |u, m| w[(u, m)],
                        |u| b[u],
                        (inputs, |m| &cols[m]),
                        Prefetch::on(),
                    );
                    let deltas: Vec<Vec<f64>> = (0..units)
                        .map(|_| (0..len).map(|_| rng.normal()).collect())
                        .collect();
                    let ds: Vec<&[f64]> = deltas.iter().map(|d| &d[..]).collect();
                    let mut sums = GradientLanes::new(units, inputs);
                    // Twice: the sums go on across blocks.
                    sums.add(&ds, |m| &cols[m]);
                    sums.add(&ds, |m| &cols[m]);
                    let shape = format!("{units} units, {inputs} inputs, {len} rows");
                    let (gw, gb) = sums.totals();
                    for u in 0..units {
                        for i in 0..len {
                            let want =
                                b[u] + (0..inputs).map(|m| w[(u, m)] * cols[m][i]).sum::<f64>();
                            assert!((z[u][i] - want).abs() < 1e-12, "{shape}");
                        }
                        for (m, col) in cols.iter().enumerate() {
                            let want: f64 = (0..len).map(|i| 2.0 * deltas[u][i] * col[i]).sum();
                            assert!((gw[(u, m)] - want).abs() < 1e-11, "{shape}");
                        }
                        let want: f64 = 2.0 * deltas[u].iter().sum::<f64>();
                        assert!((gb[u] - want).abs() < 1e-11, "{shape}");
                    }
                }
            }
        }
    }

    #[test]
    fn dense_layers_and_their_gradients_give_the_same_bits_on_every_instruction_set() {
        struct Probe;
        impl pulp::WithSimd for Probe {
            type Output = ();
            fn with_simd<S: pulp::Simd>(self, _: S) {}
        }
        let mut rng = crate::rng::Rng::new(5);
        let len = 2 * 64 + 13;
        for (units, inputs) in [(1, 1), (3, 10), (9, 5)] {
            let cols: Vec<Vec<f64>> = (0..inputs)
                .map(|_| (0..len).map(|_| rng.normal()).collect())
                .collect();
            let deltas: Vec<Vec<f64>> = (0..units)
                .map(|_| (0..len).map(|_| rng.normal()).collect())
                .collect();
            let ds: Vec<&[f64]> = deltas.iter().map(|d| &d[..]).collect();
            let w = DMatrix::from_fn(units, inputs, |_, _| rng.normal());
            Isa::assert_same_bits(&format!("{units} × {inputs}"), |isa| {
                isa.run(Probe)?;
                let mut sums = GradientLanes::new(units, inputs);
                sums.add_on(isa, &ds, &|m| &cols[m][..]);
                let (gw, gb) = sums.totals();
                let mut all: Vec<f64> = gw.iter().chain(&gb).copied().collect();
                // The dense layer is plain arithmetic: inside `wide` (fused
                // multiply-adds in hardware) or out (libm's fma), same bits.
                let mut z = vec![vec![0.0; len]; units];
                let mut zs: Vec<&mut [f64]> = z.iter_mut().map(|z| &mut z[..]).collect();
                let layer = |zs: &mut [&mut [f64]]| {
                    dense_layer(
                        zs,
                        |u, m| w[(u, m)],
                        |u| 0.1 * u as f64,
                        (inputs, |m| &cols[m]),
                        Prefetch::on(),
                    );
                };
                if matches!(isa, Isa::Widest) {
                    vmath::wide(|| layer(&mut zs));
                } else {
                    layer(&mut zs);
                }
                all.extend(z.into_iter().flatten());
                Some(all.iter().map(|v| v.to_bits()).collect())
            });
        }
    }

    #[test]
    fn blocked_covariance_equals_the_centred_product() {
        // Two threads, several blocks, a ragged last one, and a large offset
        // that the one-pass formula E[xxᵀ] − μμᵀ would lose digits to.
        let (n, d) = (40_001, 4);
        let mut rng = crate::rng::Rng::new(8);
        let x = DMatrix::from_fn(n, d, |_, j| 1e6 * j as f64 + rng.normal());
        let (mean, cov) = mean_and_covariance(&x);
        let mu = DVector::from_iterator(d, x.column_iter().map(|c| c.mean()));
        let mut centred = x.clone();
        for j in 0..d {
            centred.column_mut(j).add_scalar_mut(-mu[j]);
        }
        let reference = centred.tr_mul(&centred) / n as f64;
        assert!((&mean - &mu).amax() < 1e-12 * mu.amax());
        assert!(
            (&cov - &reference).amax() < 1e-10,
            "{}",
            (&cov - &reference).amax()
        );
        assert_eq!(cov, cov.transpose());
        let (m0, c0) = mean_and_covariance(&DMatrix::zeros(0, 2));
        assert!(m0.iter().chain(c0.iter()).all(|v| *v == 0.0));
    }

    #[test]
    fn extents_skip_nan_and_reach_the_ragged_end() {
        let mut a: Vec<f64> = (0..29).map(|i| f64::from(i % 7) - 3.0).collect();
        a[5] = f64::NAN;
        a[28] = 9.5; // past the last chunk of eight
        a[0] = -4.25;
        let e = extent(&a);
        assert_eq!((e.min, e.max), (-4.25, 9.5));
        assert!(e.sum.is_nan());
        let e = extent(&[f64::NAN, 2.0]);
        assert_eq!((e.min, e.max), (2.0, 2.0));
        assert_eq!(extent(&[]), Extent::default());
        // Whole columns, their rows shared among the cores, against a
        // plain fold of each.
        let mut rng = crate::rng::Rng::new(3);
        let n = PARALLEL_MIN_ROWS * 2 + 13;
        let x = DMatrix::from_fn(n, 3, |i, j| rng.normal() * (j + 1) as f64 + i as f64 * 1e-6);
        for (c, e) in x.column_iter().zip(column_extents(&x)) {
            let min = c.iter().copied().fold(f64::INFINITY, f64::min);
            let max = c.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            assert_eq!((e.min, e.max), (min, max));
            assert!((e.sum - c.sum()).abs() <= 1e-9 * c.abs().sum());
        }
    }

    #[test]
    fn fused_pass_gives_the_same_bits_on_every_instruction_set() {
        // Several blocks, whole groups and a ragged last block.
        let n = 3 * BLOCK + GROUP + 13;
        let mut rng = crate::rng::Rng::new(4);
        // The widest set of features kept in registers, and one more (the
        // loop over any number of them): every width must give the same
        // bits as the scalar loop.
        for d in [1, 3, 10, WIDEST_IN_REGISTERS, WIDEST_IN_REGISTERS + 1] {
            let x = DMatrix::from_fn(n, d, |_, _| rng.normal());
            let w: Vec<f64> = (0..d).map(|_| rng.normal()).collect();
            for (loss, low) in [(RowLoss::Logistic, 0.0), (RowLoss::Hinge, -1.0)] {
                let y: Vec<f64> = (0..n).map(|i| if i % 3 == 0 { 1.0 } else { low }).collect();
                Isa::assert_same_bits(&format!("d = {d}, {loss:?}"), |isa| {
                    let (mut s, mut dv) = (vec![0.0; n], vec![0.0; n]);
                    let finish = |rows: FinishRows| rows.scores.len() as f64;
                    let outs: &mut [&mut [f64]] = &mut [&mut s, &mut dv];
                    let sums = chunk_pass_on(
                        |pass| isa.run(pass),
                        (&x, &y, (&w, 0.3), loss),
                        (0, n),
                        outs,
                        &finish,
                    )?;
                    let mut all = vec![sums.loss, sums.grad_b, sums.tally];
                    all.extend(sums.grad_w);
                    all.extend(s);
                    all.extend(dv);
                    Some(all.iter().map(|v| v.to_bits()).collect())
                });
            }
        }
    }

    #[test]
    fn the_logistic_loss_from_a_product_of_factors_matches_the_sum_of_rows() {
        // Scores from near 0 to ±60 (factors of 1 + e and series terms both,
        // and losses far below one ulp of the total), for more rows than a
        // thread takes and a ragged last block; then every score large and
        // on the right side, where the whole loss is a sum of e^{−|s|}.
        let n = PARALLEL_MIN_ROWS + 3 * BLOCK + 17;
        let mut rng = crate::rng::Rng::new(3);
        let x = DMatrix::from_fn(n, 2, |_, _| rng.normal());
        let y: Vec<f64> = (0..n).map(|i| f64::from(u8::from(i % 3 == 0))).collect();
        let separable: Vec<f64> = (0..n)
            .map(|i| f64::from(u8::from(x[(i, 0)] > 0.0)))
            .collect();
        for (w, b, y, shift) in [
            ([20.0, -3.0], 0.5, &y, 0.0),
            ([2.0, 0.0], 0.0, &y, 0.0),
            ([0.0, 0.0], 30.0, &separable, 60.0),
        ] {
            // Scores shifted away from 0 on each row's own side, when asked.
            let x = DMatrix::from_fn(n, 2, |i, j| {
                x[(i, j)]
                    + if j == 0 {
                        shift * (2.0 * y[i] - 1.0) / 30.0
                    } else {
                        0.0
                    }
            });
            let w = if shift > 0.0 { [30.0, 0.0] } else { w };
            let sums = linear_pass(&x, y, (&w, b), RowLoss::Logistic, &mut [], |_| 0.0);
            // The reference: each row's loss from the standard library, added
            // with compensation.
            let (mut total, mut carry) = (0.0f64, 0.0f64);
            for i in 0..n {
                let s = w[0] * x[(i, 0)] + w[1] * x[(i, 1)] + b;
                let l = s.max(0.0) + (-s.abs()).exp().ln_1p() - y[i] * s;
                let t = total + l;
                carry += if total.abs() >= l.abs() {
                    (total - t) + l
                } else {
                    (l - t) + total
                };
                total = t;
            }
            let reference = total + carry;
            assert!(
                (sums.loss - reference).abs() <= 1e-12 * reference,
                "{} vs {reference}",
                sums.loss
            );
        }
        // A NaN weight makes the loss NaN, as it does the scores.
        let sums = linear_pass(
            &x,
            &y,
            (&[f64::NAN, 0.0], 0.0),
            RowLoss::Logistic,
            &mut [],
            |_| 0.0,
        );
        assert!(sums.loss.is_nan());
    }

    #[test]
    fn row_ranges_cover_the_rows_in_order_on_the_caller_and_the_same_helpers() {
        let n = PARALLEL_MIN_ROWS + 5;
        let on_threads = || {
            let mut out = vec![f64::NAN; n];
            let ranges = over_row_ranges_into(n, &mut [&mut out], |start, end, pieces| {
                for (i, v) in pieces[0][0].iter_mut().enumerate() {
                    *v = (start + i) as f64;
                }
                (start, end, std::thread::current().id())
            });
            // Every row written by its own range, in place.
            assert!(
                out.iter()
                    .enumerate()
                    .all(|(i, &v)| v.to_bits() == (i as f64).to_bits())
            );
            ranges
        };
        let (first, second) = (on_threads(), on_threads());
        assert_eq!(first.len(), threads_for(n));
        let bounds: Vec<(usize, usize)> = first.iter().map(|&(s, e, _)| (s, e)).collect();
        assert_eq!(bounds.first().map(|b| b.0), Some(0));
        assert_eq!(bounds.last().map(|b| b.1), Some(n));
        assert!(
            bounds
                .windows(2)
                .all(|w| w[0].1 == w[1].0 && w[0].0 < w[0].1)
        );
        // The caller takes the first range; the others run on helpers that
        // stay for the next pass (one thread each), not threads started anew.
        assert_eq!(first[0].2, std::thread::current().id());
        let helpers = |ranges: &[(usize, usize, std::thread::ThreadId)]| {
            ranges[1..]
                .iter()
                .map(|r| r.2)
                .collect::<std::collections::HashSet<_>>()
        };
        assert_eq!(helpers(&first).len(), first.len() - 1);
        assert!(!helpers(&first).contains(&first[0].2));
        assert_eq!(helpers(&first), helpers(&second));
    }

    #[test]
    fn fused_parallel_pass_equals_the_matrix_form() {
        // Enough rows for several threads and blocks, and a ragged last block.
        let n = PARALLEL_MIN_ROWS + 3 * BLOCK + 17;
        let d = 3;
        let mut rng = crate::rng::Rng::new(1);
        let x = DMatrix::from_fn(n, d, |_, _| rng.normal());
        let y: Vec<f64> = (0..n).map(|i| f64::from(u8::from(i % 3 == 0))).collect();
        let w = [0.3, -0.2, 0.5];
        let b = 0.1;
        for loss in [RowLoss::Logistic, RowLoss::Hinge] {
            let mut s = vec![0.0; n];
            let mut dv = vec![0.0; n];
            let sums = linear_pass(&x, &y, (&w, b), loss, &mut [&mut s, &mut dv], |_| 0.0);
            let wv = nalgebra::DVector::from_column_slice(&w);
            let s_ref = &x * &wv + nalgebra::DVector::from_element(n, b);
            let mut l_ref = 0.0;
            let mut d_ref = nalgebra::DVector::zeros(n);
            for i in 0..n {
                let (l, dd) = loss.eval(s_ref[i], y[i]);
                l_ref += l;
                d_ref[i] = dd;
            }
            let g_ref = x.tr_mul(&d_ref);
            assert!((sums.loss - l_ref).abs() < 1e-8 * l_ref.abs().max(1.0));
            assert!((sums.grad_b - d_ref.sum()).abs() < 1e-8 * n as f64);
            for j in 0..d {
                assert!((sums.grad_w[j] - g_ref[j]).abs() < 1e-8 * n as f64);
            }
            for i in 0..n {
                assert!(
                    (s[i] - s_ref[i]).abs() < 1e-12 && (dv[i] - d_ref[i]).abs() < 1e-12,
                    "row {i}"
                );
            }
            // A finish that overwrites the scores with sᵢ + yᵢ, writes the
            // losses to a third output, and counts its rows: every row, in
            // its own place, exactly once.
            let mut extra = vec![f64::NAN; n];
            let with_finish = linear_pass(
                &x,
                &y,
                (&w, b),
                loss,
                &mut [&mut s, &mut dv, &mut extra],
                |rows| {
                    for ((s, e), (&l, &y)) in rows
                        .scores
                        .iter_mut()
                        .zip(rows.extra.iter_mut())
                        .zip(rows.losses.iter().zip(rows.y))
                    {
                        *s += y;
                        *e = l;
                    }
                    rows.scores.len() as f64
                },
            );
            assert_eq!(with_finish.tally.to_bits(), (n as f64).to_bits());
            assert_eq!(with_finish.loss.to_bits(), sums.loss.to_bits());
            for i in (0..n).step_by(997).chain([n - 1]) {
                assert!((s[i] - s_ref[i] - y[i]).abs() < 1e-12, "row {i}");
                // The part of the loss summed row by row.
                let part = match loss {
                    RowLoss::Logistic => vmath::sigmoid_log_loss_split(s_ref[i], y[i]).1,
                    RowLoss::Hinge => loss.eval(s_ref[i], y[i]).0,
                };
                assert!((extra[i] - part).abs() < 1e-12, "row {i}");
            }
        }
    }
}
