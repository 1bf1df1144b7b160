//! `softmax-regression`: pₖ = softmax(Wx + b)ₖ, cross-entropy + (λ/2)‖W‖²
//! (+ λ₁‖W‖₁), stepped by a first-order optimizer.

// The block loops are inlined into `pass::blocks`' wider-vector loop.
#![allow(clippy::inline_always)]

use super::linear::{self, J, LAMBDA, LAMBDA1, N};
use super::pass;
use super::{
    AlgoError, Algorithm, DerivationStep, Entry, Hyper, PerRow, Spare, StepRecord, Symbol, Value,
};
use crate::data::{Dataset, Label};
use crate::optim::{self, Batches, Optimizer, OptimizerKind};
use nalgebra::{DMatrix, DVector};
use std::sync::Arc;

/// W: weights, one row per class (K × d).
pub const W_MAT: Symbol = Symbol {
    id: "W",
    latex: "W",
    meaning: "weights, one row per class",
};
/// b: one bias per class.
pub const B_VEC: Symbol = Symbol {
    id: "b_vec",
    latex: r"\mathbf{b}",
    meaning: "biases, one per class",
};
/// Z = XWᵀ + b (n × K).
pub const LOGITS: Symbol = Symbol {
    id: "logits",
    latex: r"z_{ik}",
    meaning: "scores of each row for each class",
};
/// P (n × K).
pub const PROBS: Symbol = Symbol {
    id: "probabilities",
    latex: r"p_{ik}",
    meaning: "predicted probability of each class for each row",
};
/// P − Y (n × K).
pub const ERRORS: Symbol = Symbol {
    id: "p_minus_y",
    latex: r"p_{ik} - y_{ik}",
    meaning: "probability minus one-hot label, per row and class",
};
/// ∇_W J (K × d).
pub const GRAD_W: Symbol = Symbol {
    id: "grad_W",
    latex: r"\nabla_W J",
    meaning: "gradient of the objective with respect to the weights",
};
/// ∇_b J.
pub const GRAD_B: Symbol = Symbol {
    id: "grad_b",
    latex: r"\nabla_{\mathbf{b}} J",
    meaning: "gradient of the objective with respect to the biases",
};

const MODEL_STEPS: &[DerivationStep] = &[
    DerivationStep {
        title: "Model",
        sentence: "Each class gets a linear score; the softmax turns the scores into probabilities that sum to one.",
        latex: r"z_{ik} = \mathbf{w}_k \cdot \mathbf{x}_i + b_k, \qquad p_{ik} = \frac{e^{z_{ik}}}{\sum_{l=1}^{K} e^{z_{il}}}",
        shows: &[W_MAT, B_VEC, LOGITS, PROBS],
    },
    DerivationStep {
        title: "Loss",
        sentence: "Cross-entropy: the mean negative log-probability of each row's true class yᵢ, plus the penalty on the weights. Below, yᵢₖ = 1 when row i is of class k and 0 otherwise (one-hot; Y stacks them).",
        latex: r"J = -\frac{1}{n} \sum_{i=1}^{n} \log p_{i, y_i} + \frac{\lambda}{2} \|W\|^2 + \lambda_1 \|W\|_1",
        shows: &[J, N, LAMBDA, LAMBDA1],
    },
    DerivationStep {
        title: "Chain rule through the softmax",
        sentence: "The softmax's Jacobian ∂pₗ/∂zₖ = pₗ(δₖₗ − pₖ) cancels the log, leaving probability minus one-hot label.",
        latex: r"\frac{\partial J_i}{\partial z_{ik}} = \sum_{l=1}^{K} \left( -\frac{y_{il}}{p_{il}} \right) p_{il} (\delta_{kl} - p_{ik}) = p_{ik} - y_{ik}",
        shows: &[ERRORS],
    },
    DerivationStep {
        title: "Gradient",
        sentence: "Each class's weights move along the rows' features in proportion to that class's error.",
        latex: r"\nabla_W J = \frac{1}{n} (P - Y)^\top X + \lambda W + \lambda_1 \operatorname{sign}(W), \qquad \nabla_{\mathbf{b}} J = \frac{1}{n} \sum_{i=1}^{n} (\mathbf{p}_i - \mathbf{y}_i)",
        shows: &[GRAD_W, GRAD_B],
    },
];

const CHEAP_STEP: DerivationStep = DerivationStep {
    title: "Computing it cheaply",
    sentence: "Adding the same number to every score of a row leaves its probabilities unchanged, so each pass over the rows computes only the K − 1 differences from the first class's score (the scores shown are z₁ plus them). The first class's term is e⁰ = 1, so a row takes K − 1 exponentials (with two classes, p₂ is the logistic sigmoid of z₂ − z₁, and the pass is logistic regression's on z₂ − z₁). A row's errors sum to zero over the classes, so the first class's gradient is minus the sum of the others' (before the penalty). A row the model fits well, whose other classes' probabilities add up to r at most 2⁻¹⁰, takes its loss −log(1 − r) from the series r + r²/2 + r³/3 + r⁴/4: log Σ e^z − z_y would round it away.",
    latex: r"p_{ik} = \frac{e^{z_{ik} - z_{i1}}}{\sum_{l=1}^{K} e^{z_{il} - z_{i1}}}, \qquad \sum_{k=1}^{K} (p_{ik} - y_{ik}) = 0, \qquad K = 2: \; p_{i2} = \sigma(z_{i2} - z_{i1})",
    shows: &[GRAD_W, GRAD_B],
};

/// The registry entry.
pub const ENTRY: Entry = Entry {
    id: "softmax-regression",
    summary: "multiclass classifier softmax(Wx + b) on the cross-entropy, by gradient descent (any optimizer)",
    supervised: true,
    classifies: true,
    create: |h| Ok(Box::new(SoftmaxRegression::new(h)?)),
    optimizers: OptimizerKind::FIRST_ORDER,
    default_l2: 0.0,
    default_k: 0,
};

/// Softmax regression.
#[derive(Debug, Clone)]
pub struct SoftmaxRegression {
    l2: f64,
    l1: f64,
    opt: Optimizer,
    batches: Batches,
    batches_init: Batches,
    w: DMatrix<f64>,
    b: DVector<f64>,
    t: usize,
    classes: Vec<Label>,
    features: Vec<String>,
    grad: Vec<f64>,
    /// Each row's class id, built once per dataset.
    y: Arc<DMatrix<f64>>,
    /// Whether records carry the per-row values (the window's plots), and
    /// past how many rows only their first rows.
    per_row: bool,
    head: Option<usize>,
    /// Per-row matrices of earlier records, reused by the next pass.
    spare: Spare,
}

/// Row-wise softmax of Z, computed stably (the reference the blocked passes are tested against).
#[cfg(test)]
#[must_use]
pub(super) fn softmax_rows(z: &DMatrix<f64>) -> DMatrix<f64> {
    let mut p = z.clone();
    for mut row in p.row_iter_mut() {
        let m = row.max();
        row.iter_mut().for_each(|v| *v = (*v - m).exp());
        let s = row.sum();
        row /= s;
    }
    p
}

/// Each row's class id as a number (n × 1): the targets the pass reads.
#[must_use]
pub fn class_column(class_ids: &[usize]) -> DMatrix<f64> {
    DMatrix::from_iterator(class_ids.len(), 1, class_ids.iter().map(|&c| c as f64))
}

/// The n × k one-hot matrix [yᵢ = c] of a class column, for the tests'
/// references.
#[cfg(test)]
#[allow(clippy::float_cmp)] // Class ids are small integers, exact.
pub(super) fn one_hot(y: &DMatrix<f64>, k: usize) -> DMatrix<f64> {
    DMatrix::from_fn(y.nrows(), k, |i, c| f64::from(u8::from(y[i] == c as f64)))
}

/// Rows per block of the pass.
const BLOCK: usize = 512;

/// What one pass over the rows computed.
struct Forward {
    /// Logits z = Wx + b (n × K).
    z: DMatrix<f64>,
    /// Probabilities softmax(z) (n × K).
    p: DMatrix<f64>,
    /// Errors p − y (n × K).
    err: DMatrix<f64>,
    loss: f64,
    grad_w: DMatrix<f64>,
    grad_b: DVector<f64>,
}

/// The first `len` rows of each `BLOCK`-row column of a block's scratch.
fn block_columns(m: &mut [f64], len: usize) -> Vec<&mut [f64]> {
    m.chunks_mut(BLOCK).map(|c| &mut c[..len]).collect()
}

/// Softmax and cross-entropy on one block of rows: from the logits (column
/// c of the block at `z[c * stride..]`) and each row's class `y` (its index
/// as a number, so the one-hot yᵢ꜀ = [yᵢ = c] is never stored), writes the
/// probabilities p and the errors p − y, and returns the block's summed
/// −log p_{i,yᵢ} = log Σ_c e^{z_ic} − z_{i,yᵢ}.
#[inline(always)]
pub(super) fn cross_entropy_rows(
    z: &[f64],
    stride: usize,
    y: &[f64],
    p: &mut [&mut [f64]],
    err: &mut [&mut [f64]],
    scratch: &mut [Vec<f64>; 2],
) -> f64 {
    let len = y.len();
    // Per row e_c = exp(z_c − max z) into p, and their sum.
    let [row_loss, sum] = scratch;
    let row_loss = &mut row_loss[..len];
    row_loss.fill(f64::NEG_INFINITY);
    sum[..len].fill(0.0);
    for zc in z.chunks(stride) {
        for (m, &v) in row_loss.iter_mut().zip(&zc[..len]) {
            *m = m.max(v);
        }
    }
    for (zc, pc) in z.chunks(stride).zip(p.iter_mut()) {
        for (((s, &m), &v), e) in sum
            .iter_mut()
            .zip(row_loss.iter())
            .zip(&zc[..len])
            .zip(pc.iter_mut())
        {
            *e = super::vmath::exp(v - m);
            *s += *e;
        }
    }
    normalized_rows(z, stride, y, (p, err), (row_loss, &mut sum[..len]))
}

/// The end of [`cross_entropy_rows`]: from e_c = exp(z_c − m) in `p`, their
/// sums Σ e and each row's shift m in `row_loss`, turns p into
/// probabilities, writes the errors and returns the block's summed
/// −log p_{i,yᵢ} = m + ln Σ e − z_{i,yᵢ}, or, for a row whose other
/// classes' probabilities add up to r ≤ 2⁻¹⁰, −ln(1 − r) from its series
/// ([`super::vmath::neg_ln_1m_or`]).
#[inline(always)]
fn normalized_rows(
    z: &[f64],
    stride: usize,
    y: &[f64],
    (p, err): (&mut [&mut [f64]], &mut [&mut [f64]]),
    (row_loss, sum): (&mut [f64], &mut [f64]),
) -> f64 {
    let len = y.len();
    // p_c = e_c · (1 / Σ e), one division a row.
    for (m, s) in row_loss.iter_mut().zip(sum.iter_mut()) {
        *m += super::vmath::ln(*s);
        *s = 1.0 / *s;
    }
    for (c, ((zc, pc), ec)) in z
        .chunks(stride)
        .zip(p.iter_mut())
        .zip(err.iter_mut())
        .enumerate()
    {
        let class = c as f64;
        for (((l, &v), (p, e)), (&s, &yi)) in row_loss
            .iter_mut()
            .zip(&zc[..len])
            .zip(pc.iter_mut().zip(ec.iter_mut()))
            .zip(sum.iter().zip(y))
        {
            // Exact: both are small integers.
            #[allow(clippy::float_cmp)]
            let hit = yi == class;
            *l -= if hit { v } else { 0.0 };
            *p *= s;
            *e = *p - if hit { 1.0 } else { 0.0 };
        }
    }
    // Each row's other classes' probabilities, in `sum`, class by class.
    sum.fill(0.0);
    for (c, pc) in p.iter().enumerate() {
        let class = c as f64;
        for ((r, &q), &yi) in sum.iter_mut().zip(pc.iter()).zip(y) {
            #[allow(clippy::float_cmp)]
            let hit = yi == class;
            *r += if hit { 0.0 } else { q };
        }
    }
    for (l, &r) in row_loss.iter_mut().zip(sum.iter()) {
        *l = super::vmath::neg_ln_1m_or(r, *l);
    }
    super::pass::sum(row_loss)
}

/// Below this, e^d and a sum of up to [`crate::data::MAX_CLASSES`] such
/// terms stay finite (e^700 ≈ 1.0e304).
const SHIFTED_MAX: f64 = 700.0;

/// [`cross_entropy_rows`] from scores relative to the first class's
/// (column 0 of `shifted` is all zero): e^{zₖ − z₁}, 1 for the first class,
/// needs no per-row maximum and K − 1 exponentials a row. A block whose
/// largest difference is above [`SHIFTED_MAX`] (or infinite) takes the
/// general form, whose maximum keeps every term finite.
#[inline(always)]
fn shifted_cross_entropy_rows(
    shifted: &[f64],
    y: &[f64],
    p: &mut [&mut [f64]],
    err: &mut [&mut [f64]],
    scratch: &mut [Vec<f64>; 2],
) -> f64 {
    let len = y.len();
    let top = shifted
        .chunks(BLOCK)
        .skip(1)
        .flat_map(|c| &c[..len])
        .fold(f64::NEG_INFINITY, |m, &v| m.max(v));
    if top > SHIFTED_MAX {
        return cross_entropy_rows(shifted, BLOCK, y, p, err, scratch);
    }
    if let Some(first) = p.first_mut() {
        first.fill(1.0);
    }
    let [row_loss, sum] = scratch;
    let (row_loss, sum) = (&mut row_loss[..len], &mut sum[..len]);
    row_loss.fill(0.0);
    sum.fill(1.0);
    for (zc, pc) in shifted.chunks(BLOCK).zip(p.iter_mut()).skip(1) {
        for ((s, &v), e) in sum.iter_mut().zip(&zc[..len]).zip(pc.iter_mut()) {
            *e = super::vmath::exp(v);
            *s += *e;
        }
    }
    normalized_rows(shifted, BLOCK, y, (p, err), (row_loss, sum))
}

/// The blocks of three-class softmax without per-row values: their whole
/// groups of [`pass::GROUP`] rows by [`ThreeClasses`], the last rows by
/// the block path.
const GROUPED_CLASSES: usize = 3;

/// Three-class softmax over a block's whole groups of [`pass::GROUP`] rows
/// (`columns` holds the groups' rows of each column), on explicit vector
/// registers: a group's two scores relative to the first class's (each
/// column loaded once for both), then its probabilities, errors and
/// losses (`losses`, a row each), then its share of the gradient sums
/// (`lanes`, [`pass::GradientLanes::lanes_mut`] of two units), while the
/// group is in the first-level cache. Every number is the block path's
/// own, computed in the same order (the same bits), except in a group
/// whose score differences exceed [`SHIFTED_MAX`]: it takes the general
/// form, which the block path takes only for a whole block. In sweeps of
/// 256 rows, three exponentials' and a logarithm's worth of rows went to
/// memory and back between the dense layer, the probabilities and the
/// gradient tiles. Returns false, having done nothing, on vectors of
/// fewer than four lanes or more than [`pass::WIDEST_IN_REGISTERS`]
/// columns.
struct ThreeClasses<'a> {
    /// Per column, the two classes' weights less the first's.
    w: &'a [[f64; 2]],
    /// Their biases less the first's.
    b: [f64; 2],
    columns: &'a [&'a [f64]],
    y: &'a [f64],
    losses: &'a mut [f64],
    lanes: &'a mut [[f64; 8]],
}

impl pulp::WithSimd for ThreeClasses<'_> {
    type Output = bool;

    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, simd: S) -> bool {
        macro_rules! by_width {
            ($($d:literal)*) => {
                match self.columns.len() {
                    $($d => return three_classes_of::<S, $d>(simd, self),)*
                    _ => {}
                }
            };
        }
        if S::F64_LANES >= 4 {
            by_width!(1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16);
        }
        false
    }
}

/// [`ThreeClasses`] for `D` columns, the lanes in local arrays the
/// compiler keeps in registers.
#[inline(always)]
fn three_classes_of<S: pulp::Simd, const D: usize>(simd: S, op: ThreeClasses) -> bool {
    use pass::GROUP;
    let ThreeClasses {
        w,
        b,
        columns,
        y,
        losses,
        lanes,
    } = op;
    let (Ok(&columns), Ok(w)) = (
        <&[&[f64]; D]>::try_from(columns),
        <&[[f64; 2]; D]>::try_from(w),
    ) else {
        return false;
    };
    let per8 = 8 / S::F64_LANES;
    let vectors = GROUP / S::F64_LANES;
    let zero = simd.splat_f64s(0.0);
    // Class c's lane set for column j at c · (D + 1) + j, its bias's at
    // c · (D + 1) + D, each in `per8` ≤ 2 vectors.
    let set = |at: usize| {
        let v = S::as_simd_f64s(&lanes[at]).0;
        [v[0], if per8 > 1 { v[1] } else { zero }]
    };
    let mut sums: [[[S::f64s; 2]; D]; 2] =
        std::array::from_fn(|c| std::array::from_fn(|j| set(c * (D + 1) + j)));
    let mut bias: [[S::f64s; 2]; 2] = std::array::from_fn(|c| set(c * (D + 1) + D));
    let prefetch = pass::Prefetch::on();
    // The group's scores less the first class's (the first column all 0),
    // and its errors, by class.
    let mut z = [0.0; GROUPED_CLASSES * GROUP];
    let mut err = [0.0; GROUPED_CLASSES * GROUP];
    for g in (0..y.len()).step_by(GROUP) {
        let rows = g..g + GROUP;
        let mut scores = [
            [simd.splat_f64s(b[0]); GROUP],
            [simd.splat_f64s(b[1]); GROUP],
        ];
        for (j, column) in columns.iter().enumerate() {
            prefetch.ahead(&column[g..], GROUP);
            let x = S::as_simd_f64s(&column[rows.clone()]).0;
            for (c, s) in scores.iter_mut().enumerate() {
                let wc = simd.splat_f64s(w[j][c]);
                for q in 0..vectors {
                    s[q] = simd.mul_add_f64s(wc, x[q], s[q]);
                }
            }
        }
        for (c, s) in scores.iter().enumerate() {
            S::as_mut_simd_f64s(&mut z[(c + 1) * GROUP..][..GROUP])
                .0
                .copy_from_slice(&s[..vectors]);
        }
        let y = &y[rows.clone()];
        let losses = &mut losses[rows.clone()];
        let mut far = false;
        for &v in &z[GROUP..] {
            far |= v > SHIFTED_MAX;
        }
        if far {
            general_group(&z, y, losses, &mut err);
        } else {
            let (z1, z2) = z[GROUP..].split_at(GROUP);
            let (e1, e2) = err[GROUP..].split_at_mut(GROUP);
            for i in 0..GROUP {
                let (p1, p2) = (super::vmath::exp(z1[i]), super::vmath::exp(z2[i]));
                let sum = 1.0 + p1 + p2;
                let inverse = 1.0 / sum;
                // As `normalized_rows`: the first class's score is 0.
                #[allow(clippy::float_cmp)] // Exact: small integers.
                let (hit1, hit2) = (y[i] == 1.0, y[i] == 2.0);
                let mut loss = 0.0 + super::vmath::ln(sum);
                loss -= if hit1 { z1[i] } else { 0.0 };
                loss -= if hit2 { z2[i] } else { 0.0 };
                let (q1, q2) = (p1 * inverse, p2 * inverse);
                e1[i] = q1 - if hit1 { 1.0 } else { 0.0 };
                e2[i] = q2 - if hit2 { 1.0 } else { 0.0 };
                // The other classes' probabilities, in class order.
                let mut others = 0.0 + if hit1 || hit2 { inverse } else { 0.0 };
                others += if hit1 { 0.0 } else { q1 };
                others += if hit2 { 0.0 } else { q2 };
                losses[i] = super::vmath::neg_ln_1m_or(others, loss);
            }
        }
        for c in 0..2 {
            let e = S::as_simd_f64s(&err[(c + 1) * GROUP..][..GROUP]).0;
            for (j, column) in columns.iter().enumerate() {
                let x = S::as_simd_f64s(&column[rows.clone()]).0;
                pass::add_group_chunks::<S, GROUP>(simd, &mut sums[c][j][..per8], e, Some(x));
            }
            pass::add_group_chunks::<S, GROUP>(simd, &mut bias[c][..per8], e, None);
        }
    }
    let mut put = |at: usize, v: [S::f64s; 2]| {
        S::as_mut_simd_f64s(&mut lanes[at]).0[..per8].copy_from_slice(&v[..per8]);
    };
    for (c, (sums, bias)) in sums.iter().zip(bias).enumerate() {
        for (j, &set) in sums.iter().enumerate() {
            put(c * (D + 1) + j, set);
        }
        put(c * (D + 1) + D, bias);
    }
    true
}

/// A group of [`ThreeClasses`] whose scores are too far apart for the
/// shifted form: [`cross_entropy_rows`] on it (its own function: rare).
#[inline(never)]
fn general_group(z: &[f64], y: &[f64], losses: &mut [f64], err: &mut [f64]) {
    let len = y.len();
    let mut p = vec![0.0; z.len()];
    let mut p: Vec<&mut [f64]> = p.chunks_mut(len).collect();
    let mut e: Vec<&mut [f64]> = err.chunks_mut(len).collect();
    let mut scratch = [vec![0.0; len], vec![0.0; len]];
    super::vmath::wide(
        #[inline(always)]
        || cross_entropy_rows(z, len, y, &mut p, &mut e, &mut scratch),
    );
    losses.copy_from_slice(&scratch[0]);
}

/// Fills the first class's row of the gradient sums from the others': each
/// row's errors pᵢₖ − yᵢₖ sum to zero over the classes, so the first
/// class's sums are minus the sum of the others'.
fn first_from_others(grad_w: &mut DMatrix<f64>, grad_b: &mut DVector<f64>) {
    let k = grad_w.nrows();
    if k > 0 {
        let rest = grad_w.rows(1, k - 1).row_sum();
        grad_w.row_mut(0).copy_from(&-rest);
        grad_b[0] = -grad_b.rows(1, k - 1).sum();
    }
}

impl SoftmaxRegression {
    /// Builds it (default gd with η = 0.1).
    ///
    /// # Errors
    /// Invalid hyperparameters.
    pub fn new(hyper: &Hyper) -> Result<Self, AlgoError> {
        let batches = Batches::new(hyper.batch_size, hyper.seed)?;
        Ok(Self {
            l2: linear::check_penalty(hyper.l2.unwrap_or(0.0), "l2")?,
            l1: linear::check_penalty(hyper.l1, "l1")?,
            opt: Optimizer::new(hyper, OptimizerKind::Gd, 0.1)?,
            batches_init: batches.clone(),
            batches,
            w: DMatrix::zeros(0, 0),
            b: DVector::zeros(0),
            t: 0,
            classes: Vec::new(),
            features: Vec::new(),
            grad: Vec::new(),
            y: Arc::new(DMatrix::zeros(0, 0)),
            per_row: true,
            head: None,
            spare: Spare::default(),
        })
    }

    /// The class column of `data` (rebuilt when the rows changed).
    fn targets(&mut self, data: &Dataset) -> Result<Arc<DMatrix<f64>>, AlgoError> {
        if self.y.nrows() != data.n_rows() {
            let t = data.require_target(ENTRY.id)?;
            self.y = Arc::new(class_column(&t.class_ids));
        }
        Ok(Arc::clone(&self.y))
    }

    /// Logits, probabilities, errors, loss and gradient on rows `x` with
    /// class column `y`, in one pass over blocks of rows on every core
    /// (the per-row matrices are taken from `spare`, then overwritten; with
    /// `PerRow::Head(h)` they are the first h rows, copied from the first
    /// block of the first range).
    #[allow(clippy::too_many_lines)] // Each block by `ThreeClasses` or by sweeps, in order.
    fn forward(
        &self,
        x: &DMatrix<f64>,
        y: &DMatrix<f64>,
        spare: &mut Spare,
        per_row: PerRow,
    ) -> Forward {
        let (n, d) = x.shape();
        let k = self.w.nrows();
        if k == 2 {
            return self.two_classes_forward(x, y, spare, per_row);
        }
        let data = x.as_slice();
        let targets = y.as_slice();
        let keep = per_row == PerRow::All;
        let head = match per_row {
            PerRow::Head(h) => h.min(BLOCK),
            _ => 0,
        };
        // Three classes without every row's values: `ThreeClasses`'s weights.
        let grouped = (k == GROUPED_CLASSES && !keep).then(|| self.shifted_pairs());
        // Without per-row values, z, p and p − y live in one block's scratch.
        let kept = if keep { n } else { 0 };
        let [mut z, mut p, mut err] = [(); 3].map(|()| spare.take_matrix(kept, k));
        let mut outs = [z.as_mut_slice(), p.as_mut_slice(), err.as_mut_slice()];
        let parts = pass::over_row_ranges_into(
            n,
            if keep { &mut outs } else { &mut [] },
            |start, end, pieces| {
                let mut nll = 0.0;
                let mut sums = pass::GradientLanes::new(k.saturating_sub(1), d);
                // Column 0 (the first class's shifted score) stays 0.
                let mut logits = vec![0.0; k * BLOCK];
                let mut scratch = [vec![0.0; BLOCK], vec![0.0; BLOCK]];
                let mut local = vec![0.0; if keep { 0 } else { 2 * k * BLOCK }];
                let mut heads = (start == 0 && head > 0)
                    .then(|| [(); 3].map(|()| DMatrix::zeros(head.min(end), k)));
                // The scores themselves, for the rows shown only.
                let shows = keep || heads.is_some();
                let mut scores = vec![0.0; if shows { k * BLOCK } else { 0 }];
                // Each row's loss, summed a block at a time.
                let mut losses = vec![0.0; BLOCK];
                let mut columns: Vec<&[f64]> = Vec::with_capacity(d);
                pass::blocks(
                    0,
                    end - start,
                    BLOCK,
                    #[inline(always)]
                    |lo, hi| {
                        let len = hi - lo;
                        let x_col = |j: usize| &data[j * n + start + lo..j * n + start + hi];
                        let t = &targets[start + lo..start + hi];
                        let shown = keep || heads.is_some() && lo == 0;
                        // Three classes without rows shown: the whole groups
                        // by `ThreeClasses`, the rows from `from` on below.
                        let mut from = 0;
                        if let Some((w, b)) = grouped.as_ref().filter(|_| !shown) {
                            let whole = len / pass::GROUP * pass::GROUP;
                            columns.clear();
                            columns.extend((0..d).map(|j| &x_col(j)[..whole]));
                            let ran = pulp::Arch::new().dispatch(ThreeClasses {
                                w,
                                b: *b,
                                columns: &columns,
                                y: &t[..whole],
                                losses: &mut losses[..whole],
                                lanes: sums.lanes_mut(),
                            });
                            if ran {
                                from = whole;
                            }
                        }
                        let rows = len - from;
                        if rows > 0 {
                            let x_rows = |j: usize| &x_col(j)[from..];
                            self.block_shifted(&mut logits, rows, (d, x_rows));
                            if shown {
                                self.block_scores(&mut scores, &logits, rows, (d, x_rows));
                            }
                            if keep {
                                for (c, zc) in scores.chunks(BLOCK).enumerate() {
                                    pieces[0][c][lo..hi].copy_from_slice(&zc[..len]);
                                }
                            }
                            let (mut ps, mut es) = if keep {
                                let (_, rest) = pieces.split_at_mut(1);
                                let (ps, es) = rest.split_at_mut(1);
                                (
                                    pass::rows(&mut ps[0], lo, hi),
                                    pass::rows(&mut es[0], lo, hi),
                                )
                            } else {
                                let (ps, es) = local.split_at_mut(k * BLOCK);
                                (block_columns(ps, rows), block_columns(es, rows))
                            };
                            let t = &t[from..];
                            shifted_cross_entropy_rows(&logits, t, &mut ps, &mut es, &mut scratch);
                            losses[from..len].copy_from_slice(&scratch[0][..rows]);
                            if let Some(heads) = heads.as_mut().filter(|_| lo == 0) {
                                let from = ps.iter().chain(&es).map(|c| &**c);
                                pass::copy_heads(heads, scores.chunks(BLOCK).chain(from));
                            }
                            // The first class's errors are minus the sum of the others'.
                            let es: Vec<&[f64]> = es.iter().skip(1).map(|e| &**e).collect();
                            sums.add(&es, x_rows);
                        }
                        nll += pass::sum(&losses[..len]);
                    },
                );
                (nll, sums, heads)
            },
        );
        let (mut nll, mut grad_w, mut grad_b) = (0.0, DMatrix::zeros(k, d), DVector::zeros(k));
        let [mut z, mut p, mut err] = [z, p, err];
        for (l, sums, heads) in parts {
            nll += l;
            let (gw, gb) = sums.totals();
            let mut others = grad_w.rows_mut(1, gw.nrows());
            others += gw;
            let mut others = grad_b.rows_mut(1, gb.nrows());
            others += gb;
            if let Some(heads) = heads {
                [z, p, err] = heads;
            }
        }
        self.finish(n, nll, (grad_w, grad_b), [z, p, err])
    }

    /// The end of [`Self::forward`], from the data's sums over the rows
    /// (the other classes' gradient sums, the first class's row left to
    /// fill): the first class's row from the others', the means, and the
    /// penalty's share of the loss and gradient.
    fn finish(
        &self,
        n: usize,
        nll: f64,
        (mut grad_w, mut grad_b): (DMatrix<f64>, DVector<f64>),
        [z, p, err]: [DMatrix<f64>; 3],
    ) -> Forward {
        let inv_n = 1.0 / n as f64;
        first_from_others(&mut grad_w, &mut grad_b);
        grad_w *= inv_n;
        grad_b *= inv_n;
        optim::add_penalty_gradient(grad_w.as_mut_slice(), self.w.as_slice(), self.l2, self.l1);
        Forward {
            z,
            p,
            err,
            loss: nll * inv_n + optim::penalty(self.w.as_slice(), self.l2, self.l1),
            grad_w,
            grad_b,
        }
    }

    /// [`Self::forward`] for two classes: with s = z₂ − z₁ the loss is
    /// logistic regression's on s, so its fused pass gives the loss and
    /// ∂J/∂(w₂, b₂) = Σ (σ(s) − y)(x, 1)/n (one sweep over X, a block's
    /// logarithms taken as one), and ∂J/∂(w₁, b₁) is its negative (before
    /// the penalty). The same pass with or without per-row values, so the
    /// window and `steplab run` step alike to the bit. The rows shown take
    /// s and σ(s) − y from the pass; z₁ (as the general form's scores) and
    /// p₁ = σ(−s) are made for them only.
    fn two_classes_forward(
        &self,
        x: &DMatrix<f64>,
        y: &DMatrix<f64>,
        spare: &mut Spare,
        per_row: PerRow,
    ) -> Forward {
        let (n, d) = x.shape();
        let w: Vec<f64> = (0..d).map(|j| self.w[(1, j)] - self.w[(0, j)]).collect();
        let all = per_row == PerRow::All;
        let shown = match per_row {
            PerRow::All => n,
            PerRow::Head(h) => h.min(BLOCK).min(n),
            PerRow::None => 0,
        };
        // s and σ(s) − y: every row's from the pass's outputs, or the
        // first rows' taken from its blocks.
        let (mut s_all, mut e_all) = if all {
            (vec![0.0; n], vec![0.0; n])
        } else {
            (Vec::new(), Vec::new())
        };
        let first_rows = std::sync::Mutex::new(vec![0.0; if all { 0 } else { 2 * shown }]);
        let sums = pass::linear_pass(
            x,
            y.as_slice(),
            (&w, self.b[1] - self.b[0]),
            pass::RowLoss::Logistic,
            &mut [&mut s_all, &mut e_all],
            |rows| {
                if !all && rows.first < shown {
                    let len = rows.scores.len().min(shown - rows.first);
                    if let Ok(mut kept) = first_rows.lock() {
                        let (s, e) = kept.split_at_mut(shown);
                        s[rows.first..][..len].copy_from_slice(&rows.scores[..len]);
                        e[rows.first..][..len].copy_from_slice(&rows.derivs[..len]);
                    }
                }
                0.0
            },
        );
        let kept = first_rows.into_inner().unwrap_or_default();
        let (s, e) = if all {
            (&s_all[..], &e_all[..])
        } else {
            kept.split_at(shown)
        };
        let [mut z, mut p, mut err] = [(); 3].map(|()| spare.take_matrix(shown, 2));
        for i in 0..shown {
            let yi = y[i];
            let z1 = (0..d).fold(self.b[0], |a, j| self.w[(0, j)].mul_add(x[(i, j)], a));
            (z[(i, 0)], z[(i, 1)]) = (z1, z1 + s[i]);
            let p1 = super::vmath::sigmoid(-s[i]);
            (p[(i, 0)], p[(i, 1)]) = (p1, e[i] + yi);
            (err[(i, 0)], err[(i, 1)]) = (p1 - (1.0 - yi), e[i]);
        }
        // The second class's sums; the first's are their negatives.
        let grad_w = DMatrix::from_fn(2, d, |c, j| if c == 1 { sums.grad_w[j] } else { 0.0 });
        let grad_b = DVector::from_vec(vec![0.0, sums.grad_b]);
        self.finish(n, sums.loss, (grad_w, grad_b), [z, p, err])
    }

    /// [`ThreeClasses`]' weights and biases: the second and third classes'
    /// less the first's, by column.
    fn shifted_pairs(&self) -> (Vec<[f64; 2]>, [f64; 2]) {
        let w = (0..self.w.ncols())
            .map(|j| [1, 2].map(|c| self.w[(c, j)] - self.w[(0, j)]))
            .collect();
        (w, [1, 2].map(|c| self.b[c] - self.b[0]))
    }

    /// The scores of a block's `len` rows relative to the first class's,
    /// zₖ − z₁ = (wₖ − w₁)·x + (bₖ − b₁), into class k's column of
    /// `shifted` (at `shifted[k * BLOCK..]`; the first class's column is
    /// left as it is, 0).
    #[inline(always)]
    fn block_shifted<'a>(
        &self,
        shifted: &mut [f64],
        len: usize,
        (d, x_col): (usize, impl Fn(usize) -> &'a [f64]),
    ) {
        let mut zs: Vec<&mut [f64]> = shifted
            .chunks_mut(BLOCK)
            .skip(1)
            .map(|zc| &mut zc[..len])
            .collect();
        pass::dense_layer(
            &mut zs,
            |c, j| self.w[(c + 1, j)] - self.w[(0, j)],
            |c| self.b[c + 1] - self.b[0],
            (d, x_col),
            pass::Prefetch::on(),
        );
    }

    /// The scores of a block's `len` rows (class c's column at
    /// `scores[c * BLOCK..]`) from their differences from the first
    /// class's (laid out alike in `shifted`): z₁ from the first class's
    /// weights, then z₁ + (zₖ − z₁).
    #[inline(always)]
    fn block_scores<'a>(
        &self,
        scores: &mut [f64],
        shifted: &[f64],
        len: usize,
        (d, x_col): (usize, impl Fn(usize) -> &'a [f64]),
    ) {
        let (first, rest) = scores.split_at_mut(BLOCK);
        let first = &mut first[..len];
        pass::dense_layer(
            &mut [&mut *first],
            |_, j| self.w[(0, j)],
            |_| self.b[0],
            (d, x_col),
            pass::Prefetch::off(),
        );
        for (zc, dc) in rest.chunks_mut(BLOCK).zip(shifted.chunks(BLOCK).skip(1)) {
            for ((z, &z1), &dz) in zc.iter_mut().zip(&*first).zip(dc) {
                *z = z1 + dz;
            }
        }
    }

    fn flat(w: &DMatrix<f64>, b: &DVector<f64>) -> Vec<f64> {
        let k = w.nrows();
        (0..k)
            .flat_map(|c| w.row(c).iter().copied().collect::<Vec<_>>())
            .chain(b.iter().copied())
            .collect()
    }

    fn evaluate(&mut self, data: &Dataset, y: &DMatrix<f64>) -> StepRecord {
        let Forward {
            z,
            p,
            err,
            loss,
            grad_w,
            grad_b,
        } = {
            let mut spare = std::mem::take(&mut self.spare);
            let f = self.forward(data.x(), y, &mut spare, self.rows(data.n_rows()));
            self.spare = spare;
            f
        };
        let mut rec = StepRecord::new(self.t, loss);
        rec.set(W_MAT, Value::Matrix(self.w.clone()));
        rec.vector(B_VEC, self.b.as_slice());
        let n = data.n_rows();
        let per_row = |m: DMatrix<f64>| self.rows(n).value(n, m);
        if self.per_row {
            rec.set(ERRORS, per_row(err));
            rec.set(LOGITS, per_row(z));
            rec.set(PROBS, per_row(p));
        }
        rec.scalar(J, loss);
        rec.scalar(N, y.nrows() as f64);
        rec.scalar(LAMBDA, self.l2);
        rec.scalar(LAMBDA1, self.l1);
        self.grad = Self::flat(&grad_w, &grad_b);
        rec.set(GRAD_W, Value::Matrix(grad_w));
        rec.vector(GRAD_B, grad_b.as_slice());
        rec
    }

    /// What the record on `n` rows keeps of the per-row values.
    fn rows(&self, n: usize) -> PerRow {
        PerRow::of(self.per_row, self.head, n)
    }

    fn set_flat(&mut self, theta: &[f64]) {
        let (k, d) = self.w.shape();
        self.w = DMatrix::from_row_slice(k, d, &theta[..k * d]);
        self.b = DVector::from_column_slice(&theta[k * d..]);
    }
}

impl Algorithm for SoftmaxRegression {
    fn id(&self) -> &'static str {
        ENTRY.id
    }

    fn derivation(&self) -> Vec<DerivationStep> {
        let mut steps = MODEL_STEPS.to_vec();
        steps.push(CHEAP_STEP);
        steps.extend_from_slice(self.opt.derivation());
        steps
    }

    fn reset(&mut self, data: &Dataset) -> Result<StepRecord, AlgoError> {
        let target = data.class_target(ENTRY.id)?;
        self.classes.clone_from(&target.classes);
        let k = self.classes.len();
        self.w = DMatrix::zeros(k, data.n_features());
        self.b = DVector::zeros(k);
        self.t = 0;
        self.opt.reset();
        self.batches = self.batches_init.clone();
        self.features = data.feature_names().to_vec();
        self.y = Arc::new(DMatrix::zeros(0, 0));
        let y = self.targets(data)?;
        Ok(self.evaluate(data, &y))
    }

    fn step(&mut self, data: &Dataset) -> Result<StepRecord, AlgoError> {
        let y = self.targets(data)?;
        let grad = match self.batches.next_batch(data.n_rows()) {
            None => std::mem::take(&mut self.grad),
            Some(rows) => {
                let xb = data.x().select_rows(rows.iter());
                let yb = y.select_rows(rows.iter());
                let f = self.forward(&xb, &yb, &mut Spare::default(), PerRow::None);
                Self::flat(&f.grad_w, &f.grad_b)
            }
        };
        let mut theta = self.params();
        let mut update = StepRecord::new(0, 0.0);
        self.opt.apply(&mut theta, &grad, &mut update);
        self.batches.record(&mut update, data.n_rows());
        self.set_flat(&theta);
        self.t += 1;
        let mut rec = self.evaluate(data, &y);
        rec.values.extend(update.values);
        Ok(rec)
    }

    fn params(&self) -> Vec<f64> {
        Self::flat(&self.w, &self.b)
    }

    fn param_names(&self) -> Vec<String> {
        let classes: Vec<String> = self.classes.iter().map(ToString::to_string).collect();
        classes
            .iter()
            .flat_map(|c| self.features.iter().map(move |f| format!("W[{c}][{f}]")))
            .chain(classes.iter().map(|c| format!("b[{c}]")))
            .collect()
    }

    fn params_json(&self, flat: &[f64]) -> serde_json::Value {
        let (k, d) = self.w.shape();
        let (w, b) = flat.split_at((k * d).min(flat.len()));
        serde_json::json!({
            "weights": w.chunks(d.max(1)).collect::<Vec<_>>(),
            "bias": b,
            "classes": self.classes,
        })
    }

    fn boxed_clone(&self) -> Box<dyn Algorithm> {
        Box::new(self.clone())
    }

    fn recycle(&mut self, old: StepRecord) {
        self.spare.keep(old, &[LOGITS, PROBS, ERRORS]);
    }

    fn keep_per_row(&mut self, keep: bool) {
        self.per_row = keep;
    }

    fn per_row_heads(&mut self, head: Option<usize>) {
        self.head = head;
    }

    fn stability_bound(&self, data: &Dataset) -> Option<f64> {
        // diag(p) − ppᵀ ≼ I/2 bounds the Hessian by AᵀA/(2n) + λD: the card's L.
        super::conditioning::stable_below(ENTRY.id, data, self.l2, Some(self.opt.kind))
    }

    fn classify(&self, x: &DMatrix<f64>, flat: &[f64]) -> Option<Vec<usize>> {
        // flat = W row by row, then b; the prediction is argmax_k (Wx + b)_k.
        let (k, d) = (self.w.nrows(), x.ncols());
        if k == 0 || flat.len() != k * (d + 1) {
            return None;
        }
        let w = DMatrix::from_row_slice(k, d, &flat[..k * d]);
        let mut z = x * w.transpose();
        for mut row in z.row_iter_mut() {
            for (zc, bc) in row.iter_mut().zip(&flat[k * d..]) {
                *zc += bc;
            }
        }
        Some(super::argmax_rows(&z))
    }

    fn learning_rate(&self) -> Option<f64> {
        Some(self.opt.learning_rate)
    }

    fn set_learning_rate(&mut self, learning_rate: f64) {
        if optim::check_learning_rate(learning_rate).is_ok() {
            self.opt.learning_rate = learning_rate;
        }
    }

    fn has_loss_surface(&self) -> bool {
        true
    }

    fn loss_at(&self, data: &Dataset, flat: &[f64]) -> Option<f64> {
        if flat.len() != self.params().len() {
            return None;
        }
        let mut other = self.clone();
        other.set_flat(flat);
        let y = other.targets(data).ok()?;
        Some(
            other
                .forward(data.x(), &y, &mut Spare::default(), PerRow::None)
                .loss,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::algorithms::logistic::LogisticRegression;
    use crate::rng::Rng;

    fn data(classes: usize) -> Dataset {
        let mut rng = Rng::new(31);
        let mut a = Vec::new();
        let mut b = Vec::new();
        let mut y = Vec::new();
        for i in 0..90 {
            let c = i % classes;
            a.push(rng.normal() + 2.0 * c as f64);
            b.push(rng.normal() - (c as f64));
            y.push(c as f64);
        }
        Dataset::from_columns(&["a", "b"], &[a, b], Some(("y", y))).unwrap()
    }

    /// 40,001 rows of three features and three classes (two with
    /// `two_classes`): two row ranges and ragged last blocks.
    fn many_rows_of(two_classes: bool) -> Dataset {
        let n = 40_001;
        let mut rng = Rng::new(8);
        let cols: Vec<Vec<f64>> = (0..3)
            .map(|_| (0..n).map(|_| rng.normal()).collect())
            .collect();
        let y: Vec<f64> = (0..n)
            .map(|i| {
                let second = !two_classes && cols[1][i] + cols[2][i] > 0.0;
                f64::from(u8::from(cols[0][i] > 0.2) + u8::from(second))
            })
            .collect();
        Dataset::from_columns(&["a", "b", "c"], &cols, Some(("y", y))).unwrap()
    }

    fn many_rows() -> Dataset {
        many_rows_of(false)
    }

    #[test]
    fn blocked_parallel_pass_matches_whole_matrix_products_on_many_rows() {
        // Two row ranges, ragged last blocks, both penalties; two classes
        // take their own path.
        for k in [2, 3] {
            blocked_pass_matches_whole_matrix_products(k);
        }
    }

    fn blocked_pass_matches_whole_matrix_products(k: usize) {
        let d = many_rows_of(k == 2);
        let n = d.n_rows();
        let mut s = SoftmaxRegression::new(&Hyper {
            l2: Some(0.1),
            l1: 0.01,
            learning_rate: Some(0.5),
            ..Hyper::default()
        })
        .unwrap();
        s.reset(&d).unwrap();
        for _ in 0..3 {
            s.step(&d).unwrap();
        }
        let y = s.targets(&d).unwrap();
        let f = s.forward(d.x(), &y, &mut Spare::default(), PerRow::All);
        // The same quantities from whole-matrix products, one thread.
        let mut z = d.x() * s.w.transpose();
        for mut row in z.row_iter_mut() {
            row += s.b.transpose();
        }
        let p = softmax_rows(&z);
        let y = one_hot(&y, k);
        let nll: f64 = (0..n)
            .map(|i| -(0..k).map(|c| y[(i, c)] * p[(i, c)].ln()).sum::<f64>())
            .sum();
        let loss = nll / n as f64 + optim::penalty(s.w.as_slice(), s.l2, s.l1);
        let err = &p - &y;
        let mut grad_w = err.tr_mul(d.x()) / n as f64;
        optim::add_penalty_gradient(grad_w.as_mut_slice(), s.w.as_slice(), s.l2, s.l1);
        let grad_b: Vec<f64> = err.column_iter().map(|c| c.sum() / n as f64).collect();
        let close = |a: &DMatrix<f64>, b: &DMatrix<f64>| {
            a.shape() == b.shape() && a.iter().zip(b.iter()).all(|(u, v)| (u - v).abs() < 1e-10)
        };
        assert!((f.loss - loss).abs() < 1e-12);
        assert!(close(&f.z, &z) && close(&f.p, &p) && close(&f.err, &err));
        assert!(close(&f.grad_w, &grad_w));
        assert!(
            f.grad_b
                .iter()
                .zip(&grad_b)
                .all(|(u, v)| (u - v).abs() < 1e-12)
        );
    }

    #[test]
    fn scores_too_far_apart_for_the_shifted_form_still_give_finite_losses() {
        // Differences of hundreds: blocks above SHIFTED_MAX take the
        // maximum-shifted form, the others the shifted one, in one pass.
        let d = many_rows();
        let n = d.n_rows();
        let mut s = SoftmaxRegression::new(&Hyper::default()).unwrap();
        s.reset(&d).unwrap();
        let mut w = DMatrix::zeros(3, 3);
        w[(1, 0)] = 240.0;
        w[(2, 1)] = -240.0;
        s.set_flat(&SoftmaxRegression::flat(
            &w,
            &DVector::from_vec(vec![0.0, 1.0, -1.0]),
        ));
        let y = s.targets(&d).unwrap();
        let f = s.forward(d.x(), &y, &mut Spare::default(), PerRow::All);
        let top = (0..n).map(|i| f.z[(i, 1)].max(f.z[(i, 2)]) - f.z[(i, 0)]);
        assert!(top.clone().any(|t| t > SHIFTED_MAX) && top.clone().any(|t| t < 100.0));
        // log Σ e^z − z_y by the maximum, row by row.
        let mut z = d.x() * s.w.transpose();
        for mut row in z.row_iter_mut() {
            row += s.b.transpose();
        }
        let classes = &d.target().unwrap().class_ids;
        let nll: f64 = (0..n)
            .map(|i| {
                let m = z.row(i).max();
                let lse = m + z.row(i).iter().map(|v| (v - m).exp()).sum::<f64>().ln();
                lse - z[(i, classes[i])]
            })
            .sum();
        assert!(f.loss.is_finite());
        assert!((f.loss - nll / n as f64).abs() < 1e-9 * (nll / n as f64).max(1.0));
        let p = softmax_rows(&z);
        assert!(f.p.iter().zip(p.iter()).all(|(a, b)| (a - b).abs() < 1e-12));
        assert!(f.grad_w.iter().all(|g| g.is_finite()));
        // Without per-row values, `ThreeClasses` takes the general form
        // group by group: the same loss and gradient, to rounding.
        let g = s.forward(d.x(), &y, &mut Spare::default(), PerRow::None);
        assert!((g.loss - f.loss).abs() < 1e-12 * f.loss.abs().max(1.0));
        let close = |a: f64, b: f64| (a - b).abs() < 1e-9 * a.abs().max(1.0);
        assert!(
            f.grad_w
                .iter()
                .zip(g.grad_w.iter())
                .all(|(&a, &b)| close(a, b))
        );
        assert!(
            f.grad_b
                .iter()
                .zip(g.grad_b.iter())
                .all(|(&a, &b)| close(a, b))
        );
    }

    #[test]
    fn rows_fitted_well_keep_their_tiny_losses() {
        // K classes at the corners of a polygon, each row near its own, and
        // weights along the corners: the right class wins each row by 30 to
        // 45, so p_y rounds toward 1 and ln Σ e^z − z_y would lose the loss
        // e^{−35} or so of most rows. 3 classes take `ThreeClasses` without
        // rows shown, 4 the block path.
        let mut rng = Rng::new(11);
        for k in [3, 4] {
            let n = 300;
            let corner = |c: usize| {
                let t = std::f64::consts::TAU * c as f64 / k as f64;
                [t.cos(), t.sin()]
            };
            let class: Vec<usize> = (0..n).map(|i| i % k).collect();
            let cols: Vec<Vec<f64>> = (0..2)
                .map(|j| {
                    class
                        .iter()
                        .map(|&c| corner(c)[j] + 0.05 * rng.normal())
                        .collect()
                })
                .collect();
            let y = class.iter().map(|&c| c as f64).collect();
            let d = Dataset::from_columns(&["a", "b"], &cols, Some(("y", y))).unwrap();
            let mut s = SoftmaxRegression::new(&Hyper::default()).unwrap();
            s.reset(&d).unwrap();
            let scale = if k == 3 { 25.0 } else { 40.0 };
            let w = DMatrix::from_fn(k, 2, |c, j| scale * corner(c)[j]);
            s.set_flat(&SoftmaxRegression::flat(&w, &DVector::zeros(k)));
            // ln(1 + Σ_{c≠y} e^{z_c − z_y}) row by row.
            let z = d.x() * w.transpose();
            let reference = (0..n)
                .map(|i| {
                    let zy = z[(i, class[i])];
                    let others: f64 = (0..k)
                        .filter(|&c| c != class[i])
                        .map(|c| (z[(i, c)] - zy).exp())
                        .sum();
                    others.ln_1p()
                })
                .sum::<f64>()
                / n as f64;
            assert!(reference < 1e-12, "{k} classes: {reference}");
            let y = s.targets(&d).unwrap();
            for per_row in [PerRow::All, PerRow::None] {
                let f = s.forward(d.x(), &y, &mut Spare::default(), per_row);
                assert!(
                    (f.loss - reference).abs() < 1e-12 * reference,
                    "{k} classes, {per_row:?}: {} vs {reference}",
                    f.loss
                );
            }
        }
    }

    #[test]
    fn three_class_groups_give_the_block_paths_bits_on_every_instruction_set() {
        // 1 to 16 columns (the widths compiled), 256 rows; one group with
        // scores too far apart for the shifted form.
        let mut rng = Rng::new(5);
        for d in [1, 3, 10, 16] {
            let rows = 256;
            let x = DMatrix::from_fn(rows, d, |_, _| rng.normal());
            let y = DMatrix::from_fn(rows, 1, |i, _| (i % 3) as f64);
            let mut s = SoftmaxRegression::new(&Hyper::default()).unwrap();
            s.w = DMatrix::from_fn(3, d, |_, _| rng.normal());
            s.b = DVector::from_fn(3, |_, _| rng.normal());
            let mut x_far = x.clone();
            // Class 1's score 10⁴ · |w₁₀ − w₀₀| above the first's.
            x_far[(40, 0)] = 1e4 * (s.w[(1, 0)] - s.w[(0, 0)]).signum();
            for (x, far) in [(&x, false), (&x_far, true)] {
                let block = s.forward(x, &y, &mut Spare::default(), PerRow::All);
                let (w, b) = s.shifted_pairs();
                let grouped = |isa: pass::Isa| {
                    let mut losses = vec![0.0; rows];
                    let mut sums = pass::GradientLanes::new(2, d);
                    let columns: Vec<&[f64]> = x.as_slice().chunks(rows).collect();
                    let ran = isa.run(ThreeClasses {
                        w: &w,
                        b,
                        columns: &columns,
                        y: y.as_slice(),
                        losses: &mut losses,
                        lanes: sums.lanes_mut(),
                    })?;
                    // Narrower vectors leave it to the block path.
                    if !ran {
                        return None;
                    }
                    let (gw, gb) = sums.totals();
                    let bits = losses.iter().chain(gw.iter()).chain(gb.iter());
                    let bits = bits.map(|v| v.to_bits()).collect();
                    Some((pass::sum(&losses), gw, gb, bits))
                };
                pass::Isa::assert_same_bits(&format!("{d} columns"), |isa| {
                    grouped(isa).map(|g| g.3)
                });
                let Some((nll, gw, gb, _)) = grouped(pass::Isa::Widest) else {
                    continue;
                };
                // The block path's loss and gradient (no penalty), as
                // `finish` makes them means.
                let inv_n = 1.0 / rows as f64;
                if far {
                    // The block path takes the general form for the whole block.
                    assert!((nll * inv_n - block.loss).abs() < 1e-12 * block.loss);
                    continue;
                }
                let mean = |sum: f64| (sum * inv_n).to_bits();
                assert_eq!(mean(nll), block.loss.to_bits(), "{d} columns");
                for c in 0..2 {
                    assert_eq!(mean(gb[c]), block.grad_b[c + 1].to_bits());
                    for j in 0..d {
                        assert_eq!(mean(gw[(c, j)]), block.grad_w[(c + 1, j)].to_bits());
                    }
                }
            }
        }
    }

    #[test]
    fn heads_are_the_first_rows_of_the_whole_per_row_matrices() {
        // Three classes, and two (logistic regression's pass).
        for d in [many_rows(), many_rows_of(true)] {
            heads_match_whole_matrices(&d);
        }
        // Data no larger than the head keeps every row.
        let mut small = SoftmaxRegression::new(&Hyper::default()).unwrap();
        small.per_row_heads(Some(90));
        let r = small.reset(&data(3)).unwrap();
        assert!(matches!(r.get(PROBS), Some(Value::Matrix(m)) if m.nrows() == 90));
    }

    fn heads_match_whole_matrices(d: &Dataset) {
        let mut whole = SoftmaxRegression::new(&Hyper::default()).unwrap();
        let mut headed = whole.clone();
        headed.per_row_heads(Some(64));
        let (mut a, mut b) = (whole.reset(d).unwrap(), headed.reset(d).unwrap());
        for _ in 0..2 {
            (a, b) = (whole.step(d).unwrap(), headed.step(d).unwrap());
        }
        for symbol in [LOGITS, PROBS, ERRORS] {
            let (Some(Value::Matrix(m)), Some(Value::Head { rows, head })) =
                (a.get(symbol), b.get(symbol))
            else {
                panic!("{}: not a matrix and its head", symbol.id);
            };
            assert_eq!(*rows, d.n_rows());
            assert_eq!(*head, m.rows(0, 64).into_owned(), "{}", symbol.id);
        }
        // The rest of the record, bit for bit.
        let rest = |r: &StepRecord| -> Vec<u64> {
            let kept = r
                .values
                .iter()
                .filter(|(_, v)| !matches!(v, Value::Head { .. }));
            kept.filter(|(_, v)| !matches!(v, Value::Matrix(m) if m.nrows() == d.n_rows()))
                .flat_map(|(_, v)| v.as_slice().iter().map(|x| x.to_bits()))
                .chain([r.loss.to_bits()])
                .collect()
        };
        assert_eq!(rest(&a), rest(&b));
        assert_eq!(whole.params(), headed.params());
    }

    #[test]
    fn gradient_matches_finite_differences() {
        let d = data(3);
        let mut s = SoftmaxRegression::new(&Hyper {
            l2: Some(0.1),
            ..Hyper::default()
        })
        .unwrap();
        s.reset(&d).unwrap();
        for _ in 0..5 {
            s.step(&d).unwrap();
        }
        let y = s.targets(&d).unwrap();
        s.evaluate(&d, &y);
        let theta = s.params();
        for k in 0..theta.len() {
            let mut plus = theta.clone();
            let mut minus = theta.clone();
            plus[k] += 1e-6;
            minus[k] -= 1e-6;
            let fd = (s.loss_at(&d, &plus).unwrap() - s.loss_at(&d, &minus).unwrap()) / 2e-6;
            assert!(
                (fd - s.grad[k]).abs() < 1e-7,
                "param {k}: {fd} vs {}",
                s.grad[k]
            );
        }
    }

    #[test]
    fn two_classes_give_the_logistic_optimum() {
        // From zero, gradient descent keeps w₀ = −w₁ and b₀ = −b₁, so softmax with
        // λ on both rows is logistic regression on w = w₁ − w₀ with λ/2.
        let d = data(2);
        let mut s = SoftmaxRegression::new(&Hyper {
            l2: Some(0.1),
            learning_rate: Some(0.5),
            ..Hyper::default()
        })
        .unwrap();
        let mut l = LogisticRegression::new(&Hyper {
            l2: Some(0.05),
            optimizer: Some(OptimizerKind::Newton),
            ..Hyper::default()
        })
        .unwrap();
        s.reset(&d).unwrap();
        l.reset(&d).unwrap();
        for _ in 0..20_000 {
            s.step(&d).unwrap();
        }
        for _ in 0..20 {
            l.step(&d).unwrap();
        }
        let p = s.params();
        let lw = l.params();
        assert!(
            (p[2] - p[0] - lw[0]).abs() < 1e-6,
            "{} vs {}",
            p[2] - p[0],
            lw[0]
        );
        assert!((p[3] - p[1] - lw[1]).abs() < 1e-6);
        assert!((p[5] - p[4] - lw[2]).abs() < 1e-6);
        // And so the probabilities of class 1 agree row by row.
        let y = s.targets(&d).unwrap();
        let probs = s.forward(d.x(), &y, &mut Spare::default(), PerRow::All).p;
        let lp =
            crate::algorithms::linear::scores(d.x(), &DVector::from_column_slice(&lw[..2]), lw[2])
                .map(crate::algorithms::logistic::sigmoid);
        for i in 0..d.n_rows() {
            assert!((probs[(i, 1)] - lp[i]).abs() < 1e-6);
        }
    }
}
