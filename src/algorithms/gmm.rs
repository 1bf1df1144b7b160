//! `gmm`: a Gaussian mixture with full covariances, fitted by EM. One step is
//! an M-step from the current responsibilities, then the E-step at the new
//! parameters, which gives the loss (negative mean log-likelihood).

// The block loops are inlined into `pass::blocks`' wider-vector loop.
#![allow(clippy::inline_always)]

use super::kmeans;
use super::linear::J;
use super::pass;
use super::{
    AlgoError, Algorithm, Cached, DerivationStep, Entry, Hyper, Spare, StepRecord, Symbol, Value,
};
use crate::data::Dataset;
use nalgebra::DMatrix;

/// Rows per group of the E-step: twice the other group kernels' (on
/// AVX-512 a group's solve then runs eight chains of multiply-adds, and
/// each of the M-step's lane sums takes eight rows per lane a call).
const GROUP: usize = 2 * pass::GROUP;

/// Rows per block of the block pass ([`EBlock`]), which takes each row
/// range's last rows, fewer than a group, and is the group pass's
/// reference in the tests.
const BLOCK: usize = 256;

/// Rows per call of the E-step's kernel ([`GmmRange`]), a whole number of
/// groups: without per-row records, this many rows of γ are all it keeps.
const CHUNK: usize = 64 * GROUP;

/// Added to every covariance diagonal after each M-step.
pub const RIDGE: f64 = 1e-6;
/// EM stops when the loss falls by less than this in a step.
pub const TOLERANCE: f64 = 1e-10;

/// γ: responsibilities (n × k).
pub const RESPONSIBILITIES: Symbol = Symbol {
    id: "responsibilities",
    latex: r"\gamma_{ik}",
    meaning: "probability that row i came from component k",
};
/// π: mixture weights.
pub const WEIGHTS: Symbol = Symbol {
    id: "weights",
    latex: r"\pi_k",
    meaning: "mixture weight of each component",
};
/// μ: component means (k × d).
pub const MEANS: Symbol = Symbol {
    id: "means",
    latex: r"\boldsymbol{\mu}_k",
    meaning: "mean of each component, one row each",
};
/// Σ: component covariances, flattened (k blocks of d × d, row-major).
pub const COVARIANCES: Symbol = Symbol {
    id: "covariances",
    latex: r"\Sigma_k",
    meaning: "covariance of each component (a row each: its d × d matrix, row by row)",
};
/// N_k = Σᵢ γᵢₖ.
pub const COUNTS: Symbol = Symbol {
    id: "effective_counts",
    latex: r"N_k",
    meaning: "effective number of rows of each component",
};
/// The mean log-likelihood.
pub const LOG_LIKELIHOOD: Symbol = Symbol {
    id: "log_likelihood",
    latex: r"\frac{1}{n} \log p(X)",
    meaning: "mean log-likelihood of the rows",
};

const STEPS: &[DerivationStep] = &[
    DerivationStep {
        title: "Model",
        sentence: "Each row comes from one of K Gaussians, chosen with probability πₖ.",
        latex: r"p(\mathbf{x}) = \sum_{k=1}^{K} \pi_k \, \mathcal{N}(\mathbf{x} \mid \boldsymbol{\mu}_k, \Sigma_k)",
        shows: &[WEIGHTS, MEANS, COVARIANCES],
    },
    DerivationStep {
        title: "Loss",
        sentence: "Minimize the negative mean log-likelihood of the rows.",
        latex: r"J = -\frac{1}{n} \sum_{i=1}^{n} \log \sum_{k=1}^{K} \pi_k \, \mathcal{N}(\mathbf{x}_i \mid \boldsymbol{\mu}_k, \Sigma_k)",
        shows: &[J, LOG_LIKELIHOOD],
    },
    DerivationStep {
        title: "E-step",
        sentence: "Bayes' rule gives each row's responsibilities under the previous step's parameters: how much each component explains it. The responsibilities shown are the ones this step's M-step used.",
        latex: r"\gamma_{ik} = \frac{\pi^{(t-1)}_k \, \mathcal{N}\big(\mathbf{x}_i \mid \boldsymbol{\mu}^{(t-1)}_k, \Sigma^{(t-1)}_k\big)}{\sum_{l=1}^{K} \pi^{(t-1)}_l \, \mathcal{N}\big(\mathbf{x}_i \mid \boldsymbol{\mu}^{(t-1)}_l, \Sigma^{(t-1)}_l\big)}",
        shows: &[RESPONSIBILITIES],
    },
    DerivationStep {
        title: "M-step: weights and means",
        sentence: "With the responsibilities fixed, the expected log-likelihood is maximized by weighted counts and weighted means, this step's parameters. A component left with almost no weight (an effective count below 10⁻¹⁰) keeps its parameters.",
        latex: r"N_k = \sum_{i=1}^{n} \gamma_{ik}, \qquad \pi_k = \frac{N_k}{n}, \qquad \boldsymbol{\mu}_k = \frac{1}{N_k} \sum_{i=1}^{n} \gamma_{ik} \mathbf{x}_i",
        shows: &[COUNTS, WEIGHTS, MEANS],
    },
    DerivationStep {
        title: "M-step: covariances",
        sentence: "Each covariance is the responsibility-weighted scatter around its mean; a small ridge 10⁻⁶ I keeps it positive definite.",
        latex: r"\Sigma_k = \frac{1}{N_k} \sum_{i=1}^{n} \gamma_{ik} (\mathbf{x}_i - \boldsymbol{\mu}_k)(\mathbf{x}_i - \boldsymbol{\mu}_k)^\top + 10^{-6} I",
        shows: &[COVARIANCES],
    },
    DerivationStep {
        title: "Monotone progress",
        sentence: "EM maximizes a lower bound that touches the log-likelihood at the current parameters, so the loss never increases (up to the small ridge, and rounding on nearly singular components).",
        latex: r"J(\theta_{t}) \le J(\theta_{t-1})",
        shows: &[J],
    },
];

/// The registry entry.
pub const ENTRY: Entry = Entry {
    id: "gmm",
    summary: "Gaussian mixture with full covariances, fitted by EM (E-step responsibilities, M-step)",
    supervised: false,
    classifies: false,
    create: |h| Ok(Box::new(Gmm::new(h)?)),
    optimizers: &[],
    default_l2: 0.0,
    default_k: 2,
};

/// A Gaussian mixture fitted by EM.
#[derive(Debug, Clone)]
pub struct Gmm {
    k: Option<usize>,
    init_rows: Option<Vec<usize>>,
    seed: u64,
    weights: Vec<f64>,
    means: DMatrix<f64>,
    covariances: Vec<DMatrix<f64>>,
    /// The last E-step: responsibilities at the current parameters and the
    /// sums the next M-step needs.
    last: Cached<EStep>,
    /// Responsibility matrices of earlier records, reused by the next E-step.
    spare: Spare,
    loss: f64,
    t: usize,
    features: Vec<String>,
    /// Whether records carry every row's responsibilities (the window's plots).
    per_row: bool,
}

/// What one E-step found.
#[derive(Debug)]
struct EStep {
    /// γ (n × k; 0 × k without per-row records).
    resp: DMatrix<f64>,
    /// The negative mean log-likelihood.
    loss: f64,
    moments: Moments,
}

/// The sums the M-step needs, per component c, around s_c, the means of
/// the E-step that gathered them (close to the new means, so the scatter
/// keeps its precision): N_c = Σᵢ γᵢ, Σᵢ γᵢ (xᵢ − s_c) and Σᵢ γᵢ (xᵢ − s_c)(xᵢ − s_c)ᵀ.
#[derive(Debug)]
struct Moments {
    counts: Vec<f64>,
    first: DMatrix<f64>,
    second: Vec<DMatrix<f64>>,
}

impl Moments {
    fn zeros(k: usize, d: usize) -> Self {
        Self {
            counts: vec![0.0; k],
            first: DMatrix::zeros(k, d),
            second: vec![DMatrix::zeros(d, d); k],
        }
    }

    fn add(&mut self, other: &Self) {
        for (a, b) in self.counts.iter_mut().zip(&other.counts) {
            *a += b;
        }
        self.first += &other.first;
        for (a, b) in self.second.iter_mut().zip(&other.second) {
            *a += b;
        }
    }
}

/// One row range's work space for the E-step: the rows' offsets from a
/// mean, column by column (d × BLOCK), and the solves against them.
struct EBlock<'a> {
    x: &'a [f64],
    n: usize,
    means: &'a DMatrix<f64>,
    start: usize,
    diff: Vec<f64>,
    z: Vec<f64>,
    maha: Vec<f64>,
}

/// Turns rows `lo..hi` of the log densities log w_c N(xᵢ | μ_c, Σ_c) in
/// `resp` (a column per component) into responsibilities γ_ic = e^{v_c − t}
/// / Σ_c e^{v_c − t}, t each row's largest term, and returns their summed
/// log-likelihood, Σᵢ t + ln Σ_c e^{v_c − t}; `top` and `sum` are scratch
/// of hi − lo rows. One exponential per density: the exponentials are the
/// most expensive part of the E-step.
#[inline(always)]
fn normalize(
    resp: &mut [&mut [f64]],
    lo: usize,
    hi: usize,
    top: &mut [f64],
    sum: &mut [f64],
) -> f64 {
    top.fill(f64::NEG_INFINITY);
    sum.fill(0.0);
    for r in resp.iter() {
        for (t, &v) in top.iter_mut().zip(&r[lo..hi]) {
            *t = t.max(v);
        }
    }
    for r in resp.iter_mut() {
        for ((s, &t), v) in sum.iter_mut().zip(top.iter()).zip(&mut r[lo..hi]) {
            *v = super::vmath::exp(*v - t);
            *s += *v;
        }
    }
    for (s, t) in sum.iter_mut().zip(top.iter_mut()) {
        *t += super::vmath::ln(*s);
        *s = 1.0 / *s;
    }
    for r in resp.iter_mut() {
        for (v, &inverse) in r[lo..hi].iter_mut().zip(sum.iter()) {
            *v *= inverse;
        }
    }
    super::pass::sum(top)
}

/// ‖z‖² for a group's rows, z solving L z = x − μ (`column(j)`: the
/// group's rows of column j), on `z`, d × the group's vectors, which
/// keeps each solved z_j: z_j = (x_j − μ_j − Σ_{m<j} L_jm z_m) / L_jj.
#[inline(always)]
fn squared_distances<'x, S: pulp::Simd>(
    simd: S,
    l: &DMatrix<f64>,
    mu: impl Fn(usize) -> f64,
    column: impl Fn(usize) -> &'x [S::f64s],
    z: &mut [S::f64s],
) -> [S::f64s; GROUP] {
    let vectors = GROUP / S::F64_LANES;
    let zero = simd.splat_f64s(0.0);
    let mut acc = [zero; GROUP];
    for j in 0..l.nrows() {
        // z_j in registers while the solved z_m are subtracted.
        let mut v = [zero; GROUP];
        let (mu, xv) = (simd.splat_f64s(mu(j)), column(j));
        for q in 0..vectors {
            v[q] = simd.sub_f64s(xv[q], mu);
        }
        for m in 0..j {
            let a = simd.splat_f64s(l[(j, m)]);
            let zm = &z[m * vectors..][..vectors];
            for q in 0..vectors {
                v[q] = simd.negate_mul_add_f64s(a, zm[q], v[q]);
            }
        }
        let inverse = simd.splat_f64s(1.0 / l[(j, j)]);
        for q in 0..vectors {
            v[q] = simd.mul_f64s(v[q], inverse);
            acc[q] = simd.mul_add_f64s(v[q], v[q], acc[q]);
        }
        z[j * vectors..][..vectors].copy_from_slice(&v[..vectors]);
    }
    acc
}

/// The E-step on one row range (`resp`: its rows of γ, a column per
/// component), on explicit vector registers, [`GROUP`] rows at a time:
/// each component's log density (the forward solve L z = x − μ_c with z in
/// the first-level cache), the responsibilities, then the group's share of
/// the next M-step's sums. The range's last rows, fewer than a group, go
/// through [`EBlock`]. Sums keep eight lanes whatever the vector width
/// ([`pass::add_group_chunks`]), so every CPU gets the same bits. Returns the
/// summed log-likelihood and the sums.
struct GmmRange<'a, 'r> {
    x: &'a DMatrix<f64>,
    means: &'a DMatrix<f64>,
    factors: &'a [(DMatrix<f64>, f64)],
    start: usize,
    resp: &'a mut [&'r mut [f64]],
}

impl pulp::WithSimd for GmmRange<'_, '_> {
    type Output = (f64, Moments);

    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, simd: S) -> (f64, Moments) {
        let Self {
            x,
            means,
            factors,
            start,
            resp,
        } = self;
        let (n, d) = x.shape();
        let k = factors.len();
        let data = x.as_slice();
        let len = resp.first().map_or(0, |r| r.len());
        let vectors = GROUP / S::F64_LANES;
        let per8 = 8 / S::F64_LANES;
        let zero = simd.splat_f64s(0.0);
        // Per component, eight lanes each for N_c, the d first moments and
        // the d(d + 1)/2 second moments (j ≥ m, row by row).
        let per_c = 1 + d + d * (d + 1) / 2;
        let mut lanes = vec![zero; k * per_c * per8];
        // The group's solved z (E-step), then its offsets x − μ_c (M-step).
        let mut z = vec![zero; d * vectors];
        let (mut top, mut sum) = ([0.0; GROUP], [0.0; GROUP]);
        let mut total = 0.0;
        let whole = len / GROUP * GROUP;
        let prefetch = pass::Prefetch::on();
        for g in (0..whole).step_by(GROUP) {
            let rows = |j: usize| &data[j * n + start + g..][..GROUP];
            for j in 0..d {
                prefetch.ahead(rows(j), GROUP);
            }
            let column = |j: usize| S::as_simd_f64s(rows(j)).0;
            for ((l, constant), (c, r)) in factors.iter().zip(resp.iter_mut().enumerate()) {
                let mu = |j: usize| means[(c, j)];
                let acc = squared_distances(simd, l, mu, column, &mut z);
                let (half, constant) = (simd.splat_f64s(-0.5), simd.splat_f64s(*constant));
                let out = S::as_mut_simd_f64s(&mut r[g..g + GROUP]).0;
                for (o, &q) in out.iter_mut().zip(&acc) {
                    *o = simd.mul_add_f64s(half, q, constant);
                }
            }
            total += normalize(resp, g, g + GROUP, &mut top, &mut sum);
            for (c, (r, sums)) in resp.iter().zip(lanes.chunks_mut(per_c * per8)).enumerate() {
                let gamma = S::as_simd_f64s(&r[g..g + GROUP]).0;
                let (count, moments) = sums.split_at_mut(per8);
                let (first, second) = moments.split_at_mut(d * per8);
                pass::add_group_chunks::<S, GROUP>(simd, count, gamma, None);
                for j in 0..d {
                    let (mu, xv) = (simd.splat_f64s(means[(c, j)]), column(j));
                    let e = &mut z[j * vectors..][..vectors];
                    for q in 0..vectors {
                        e[q] = simd.sub_f64s(xv[q], mu);
                    }
                }
                let mut second = second.chunks_mut(per8);
                for (j, (ej, first)) in z.chunks(vectors).zip(first.chunks_mut(per8)).enumerate() {
                    let mut weighted = [zero; GROUP];
                    for q in 0..vectors {
                        weighted[q] = simd.mul_f64s(gamma[q], ej[q]);
                    }
                    let weighted = &weighted[..vectors];
                    pass::add_group_chunks::<S, GROUP>(simd, first, weighted, None);
                    // The second moments of this row j: m = 0 ..= j.
                    for (em, acc) in z.chunks(vectors).take(j + 1).zip(&mut second) {
                        pass::add_group_chunks::<S, GROUP>(simd, acc, weighted, Some(em));
                    }
                }
            }
        }
        let mut moments = Moments::zeros(k, d);
        if whole < len {
            let mut block = EBlock::new(x, means, start, d);
            total += block.densities(factors, whole, len, resp);
            block.add_moments(whole, len, resp, &mut moments);
        }
        let totals = pass::lane_totals::<S>(&lanes);
        for (c, sums) in totals.chunks(per_c).enumerate() {
            moments.counts[c] += sums[0];
            let mut second = sums[1 + d..].iter();
            for j in 0..d {
                moments.first[(c, j)] += sums[1 + j];
                for m in 0..=j {
                    let s = second.next().copied().unwrap_or(0.0);
                    moments.second[c][(j, m)] += s;
                    if m != j {
                        moments.second[c][(m, j)] += s;
                    }
                }
            }
        }
        (total, moments)
    }
}

impl<'a> EBlock<'a> {
    fn new(x: &'a DMatrix<f64>, means: &'a DMatrix<f64>, start: usize, d: usize) -> Self {
        Self {
            x: x.as_slice(),
            n: x.nrows(),
            means,
            start,
            diff: vec![0.0; d * BLOCK],
            z: vec![0.0; d * BLOCK],
            maha: vec![0.0; BLOCK],
        }
    }

    /// Fills `diff` with the rows `lo..hi` (of the range) minus μ_c.
    #[inline(always)]
    fn offsets(&mut self, c: usize, lo: usize, hi: usize) {
        let (n, at) = (self.n, self.start + lo);
        for (j, e) in self.diff.chunks_mut(BLOCK).enumerate() {
            let mu = self.means[(c, j)];
            for (e, &v) in e.iter_mut().zip(&self.x[j * n + at..j * n + at + hi - lo]) {
                *e = v - mu;
            }
        }
    }

    /// Writes γ for rows `lo..hi` into `resp` (columns restricted to the
    /// range) and returns their summed log-likelihood: log w_c N(x | μ_c, Σ_c)
    /// by solving L z = x − μ_c, a row per lane (‖z‖² is the Mahalanobis
    /// distance), then normalized by log-sum-exp.
    #[inline(always)]
    fn densities(
        &mut self,
        factors: &[(DMatrix<f64>, f64)],
        lo: usize,
        hi: usize,
        resp: &mut [&mut [f64]],
    ) -> f64 {
        let len = hi - lo;
        let (n, at) = (self.n, self.start + lo);
        for (c, (l, constant)) in factors.iter().enumerate() {
            let maha = &mut self.maha[..len];
            maha.fill(0.0);
            // Forward substitution, z_j = (x_j − μ_j − Σ_{m<j} L_jm z_m) / L_jj.
            for j in 0..l.nrows() {
                let (solved, rest) = self.z.split_at_mut(j * BLOCK);
                let zj = &mut rest[..len];
                let mu = self.means[(c, j)];
                for (v, &u) in zj.iter_mut().zip(&self.x[j * n + at..j * n + at + len]) {
                    *v = u - mu;
                }
                for (m, zm) in solved.chunks(BLOCK).enumerate() {
                    let a = l[(j, m)];
                    for (v, &u) in zj.iter_mut().zip(&zm[..len]) {
                        *v -= a * u;
                    }
                }
                // A multiplication by 1/L_jj, not a division per row: a
                // vector division takes as long as sixteen multiplications.
                let inverse = 1.0 / l[(j, j)];
                for (v, q) in zj.iter_mut().zip(maha.iter_mut()) {
                    *v *= inverse;
                    *q += *v * *v;
                }
            }
            for (r, &q) in resp[c][lo..hi].iter_mut().zip(maha.iter()) {
                *r = constant - 0.5 * q;
            }
        }
        normalize(resp, lo, hi, &mut self.maha[..len], &mut self.z[..len])
    }

    /// Adds rows `lo..hi` to the M-step's sums, around the current means.
    #[inline(always)]
    fn add_moments(&mut self, lo: usize, hi: usize, resp: &[&mut [f64]], m: &mut Moments) {
        let len = hi - lo;
        for (c, gamma) in resp.iter().enumerate() {
            let gamma = &gamma[lo..hi];
            self.offsets(c, lo, hi);
            m.counts[c] += super::pass::sum(gamma);
            // z_j = γ ∘ e_j, then Σ z_j = Σ γ e_j and z_j · e_m = Σ γ e_j e_m.
            for (j, (zj, ej)) in self
                .z
                .chunks_mut(BLOCK)
                .zip(self.diff.chunks(BLOCK))
                .enumerate()
            {
                for ((v, &g), &e) in zj.iter_mut().zip(gamma).zip(&ej[..len]) {
                    *v = g * e;
                }
                m.first[(c, j)] += super::pass::sum(&zj[..len]);
                for (mm, em) in self.diff.chunks(BLOCK).enumerate().take(j + 1) {
                    let s = super::pass::dot(&zj[..len], &em[..len]);
                    m.second[c][(j, mm)] += s;
                    if mm != j {
                        m.second[c][(mm, j)] += s;
                    }
                }
            }
        }
    }
}

impl Gmm {
    /// Builds it (k defaults to the number of init rows, else 2).
    ///
    /// # Errors
    /// k = 0, or k disagreeing with the init rows.
    pub fn new(hyper: &Hyper) -> Result<Self, AlgoError> {
        kmeans::check_k(hyper.k, hyper.init_rows.as_deref())?;
        Ok(Self {
            k: hyper.k,
            init_rows: hyper.init_rows.clone(),
            seed: hyper.seed,
            weights: Vec::new(),
            means: DMatrix::zeros(0, 0),
            covariances: Vec::new(),
            last: Cached::default(),
            spare: Spare::default(),
            loss: f64::NAN,
            t: 0,
            features: Vec::new(),
            per_row: true,
        })
    }

    /// E-step: the responsibilities, the negative mean log-likelihood, and
    /// the sums of the next M-step, in one pass over X in row blocks on
    /// every core.
    fn e_step(&mut self, x: &DMatrix<f64>) -> Result<EStep, AlgoError> {
        let (n, d) = x.shape();
        let k = self.weights.len();
        let log_2pi = (2.0 * std::f64::consts::PI).ln();
        // Per component: the Cholesky factor L of Σ and log w − ½(d log 2π + log det Σ).
        let mut factors = Vec::with_capacity(k);
        for c in 0..k {
            if self.covariances[c].iter().any(|v| !v.is_finite()) {
                return Err(AlgoError::Singular(format!(
                    "the covariance of component {c} is not a finite number at step {} (the features' values are beyond about 1e154, where their squares overflow); standardize them",
                    self.t
                )));
            }
            let Some(chol) = self.covariances[c].clone().cholesky() else {
                return Err(AlgoError::Singular(format!(
                    "the covariance of component {c} is not positive definite at step {}; try other --init-rows or fewer components",
                    self.t
                )));
            };
            let l = chol.l();
            let log_det = 2.0 * l.diagonal().iter().map(|v| v.ln()).sum::<f64>();
            let constant = self.weights[c].ln() - 0.5 * (d as f64 * log_2pi + log_det);
            factors.push((l, constant));
        }
        let keep = self.per_row;
        let mut resp = self.spare.take_matrix(if keep { n } else { 0 }, k);
        let means = &self.means;
        let parts = super::pass::over_row_ranges_into(
            n,
            &mut [resp.as_mut_slice()],
            |start, end, pieces| {
                // Without per-row records, γ lives in one chunk's scratch.
                let mut local = vec![0.0; if keep { 0 } else { k * CHUNK }];
                let mut sums = (0.0, Moments::zeros(k, d));
                for lo in (0..end - start).step_by(CHUNK) {
                    let hi = (lo + CHUNK).min(end - start);
                    let mut gamma: Vec<&mut [f64]> = if keep {
                        super::pass::rows(&mut pieces[0], lo, hi)
                    } else {
                        local.chunks_mut(CHUNK).map(|c| &mut c[..hi - lo]).collect()
                    };
                    let (total, moments) = pulp::Arch::new().dispatch(GmmRange {
                        x,
                        means,
                        factors: &factors,
                        start: start + lo,
                        resp: &mut gamma,
                    });
                    sums.0 += total;
                    sums.1.add(&moments);
                }
                sums
            },
        );
        let mut moments = Moments::zeros(k, d);
        let mut total = 0.0;
        for (t, m) in parts {
            total += t;
            moments.add(&m);
        }
        Ok(EStep {
            resp,
            loss: -total / n as f64,
            moments,
        })
    }

    fn record(&self) -> StepRecord {
        let mut rec = StepRecord::new(self.t, self.loss);
        rec.scalar(J, self.loss);
        rec.scalar(LOG_LIKELIHOOD, -self.loss);
        rec.vector(WEIGHTS, self.weights.clone());
        rec.set(MEANS, Value::Matrix(self.means.clone()));
        // A row a component (its matrix row by row): read together.
        let d = self.means.ncols();
        let rows = DMatrix::from_fn(self.covariances.len(), d * d, |c, e| {
            self.covariances[c][(e / d, e % d)]
        });
        rec.set(COVARIANCES, Value::Matrix(rows));
        rec
    }

    fn flat_covariances(&self) -> Vec<f64> {
        self.covariances
            .iter()
            .flat_map(|s| {
                s.row_iter()
                    .flat_map(|r| r.iter().copied().collect::<Vec<_>>())
                    .collect::<Vec<_>>()
            })
            .collect()
    }
}

impl Algorithm for Gmm {
    fn id(&self) -> &'static str {
        ENTRY.id
    }

    fn derivation(&self) -> Vec<DerivationStep> {
        STEPS.to_vec()
    }

    fn reset(&mut self, data: &Dataset) -> Result<StepRecord, AlgoError> {
        let x = data.x();
        let d = x.ncols();
        self.means = kmeans::initial_centers(
            data,
            self.k,
            self.init_rows.as_deref(),
            ENTRY.default_k,
            self.seed,
        )?;
        let k = self.means.nrows();
        super::check_square(ENTRY.id, d, d, k)?;
        let (_, mut cov) = super::pass::mean_and_covariance(x);
        for j in 0..d {
            cov[(j, j)] += RIDGE;
        }
        self.covariances = vec![cov; k];
        self.weights = vec![1.0 / k as f64; k];
        self.t = 0;
        self.features = data.feature_names().to_vec();
        let e = self.e_step(x)?;
        self.loss = e.loss;
        let mut rec = self.record();
        if self.per_row {
            rec.set(RESPONSIBILITIES, Value::Matrix(e.resp.clone()));
        }
        self.last.set(e);
        Ok(rec)
    }

    fn step(&mut self, data: &Dataset) -> Result<StepRecord, AlgoError> {
        let x = data.x();
        let (n, d) = x.shape();
        // The responsibilities at the current parameters and their sums,
        // from the last E-step.
        let EStep { resp, moments, .. } = match self.last.take() {
            Some(e) => e,
            None => self.e_step(x)?,
        };
        let counts = moments.counts;
        let mut empty = Vec::new();
        for (c, &nk) in counts.iter().enumerate() {
            if nk < 1e-10 {
                // A component that explains no row keeps its parameters.
                empty.push(c);
                continue;
            }
            // μ = s + Σγ(x − s)/N and Σ = Σγ(x − s)(x − s)ᵀ/N − (μ − s)(μ − s)ᵀ.
            let offset = moments.first.row(c).transpose() / nk;
            let mut sigma = &moments.second[c] / nk - &offset * offset.transpose();
            for j in 0..d {
                sigma[(j, j)] += RIDGE;
                self.means[(c, j)] += offset[j];
            }
            self.weights[c] = nk / n as f64;
            self.covariances[c] = sigma;
        }
        let total: f64 = self.weights.iter().sum();
        for w in &mut self.weights {
            *w /= total;
        }
        self.t += 1;
        let previous = self.loss;
        let next = self.e_step(x)?;
        let loss = next.loss;
        self.last.set(next);
        self.loss = loss;
        let mut rec = self.record();
        // The M-step used the previous responsibilities; the record shows those.
        if self.per_row {
            rec.set(RESPONSIBILITIES, Value::Matrix(resp));
        }
        rec.vector(COUNTS, counts);
        if !empty.is_empty() {
            rec.note = Some(format!(
                "component(s) {empty:?} explain no rows at step {} and keep their parameters",
                self.t
            ));
        }
        if (previous - loss).abs() < TOLERANCE {
            rec.converged = true;
            rec.note = Some(format!(
                "converged: the loss changed by less than {TOLERANCE:e} at step {}",
                self.t
            ));
        }
        Ok(rec)
    }

    fn params(&self) -> Vec<f64> {
        let means = (0..self.means.nrows())
            .flat_map(|c| self.means.row(c).iter().copied().collect::<Vec<_>>());
        self.weights
            .iter()
            .copied()
            .chain(means)
            .chain(self.flat_covariances())
            .collect()
    }

    fn param_names(&self) -> Vec<String> {
        let k = self.weights.len();
        let f = &self.features;
        (0..k)
            .map(|c| format!("pi{c}"))
            .chain((0..k).flat_map(|c| f.iter().map(move |n| format!("mu{c}[{n}]"))))
            .chain((0..k).flat_map(|c| {
                f.iter()
                    .flat_map(move |a| f.iter().map(move |b| format!("sigma{c}[{a},{b}]")))
            }))
            .collect()
    }

    fn params_json(&self, flat: &[f64]) -> serde_json::Value {
        let k = self.weights.len();
        let d = self.means.ncols().max(1);
        let (weights, rest) = flat.split_at(k.min(flat.len()));
        let (means, covs) = rest.split_at((k * d).min(rest.len()));
        let covariances: Vec<Vec<&[f64]>> = covs
            .chunks(d * d)
            .map(|block| block.chunks(d).collect())
            .collect();
        serde_json::json!({
            "weights": weights,
            "means": means.chunks(d).collect::<Vec<_>>(),
            "covariances": covariances,
        })
    }

    fn boxed_clone(&self) -> Box<dyn Algorithm> {
        Box::new(self.clone())
    }

    fn recycle(&mut self, old: StepRecord) {
        self.spare.keep(old, &[RESPONSIBILITIES]);
    }

    fn keep_per_row(&mut self, keep: bool) {
        self.per_row = keep;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Rng;

    fn blobs() -> Dataset {
        let mut rng = Rng::new(12);
        let mut a = Vec::new();
        let mut b = Vec::new();
        for i in 0..200 {
            let (cx, cy) = if i % 2 == 0 { (0.0, 0.0) } else { (6.0, 3.0) };
            a.push(cx + rng.normal());
            b.push(cy + rng.normal() * 0.5);
        }
        Dataset::from_columns(&["a", "b"], &[a, b], None).unwrap()
    }

    #[test]
    fn likelihood_never_decreases_and_blobs_are_recovered() {
        let d = blobs();
        let mut g = Gmm::new(&Hyper {
            init_rows: Some(vec![0, 1]),
            ..Hyper::default()
        })
        .unwrap();
        let mut last = g.reset(&d).unwrap().loss;
        let mut converged = false;
        for _ in 0..500 {
            let r = g.step(&d).unwrap();
            assert!(
                r.loss <= last + 1e-12,
                "loss rose from {last} to {}",
                r.loss
            );
            last = r.loss;
            if r.converged {
                converged = true;
                break;
            }
        }
        assert!(converged);
        assert!((g.weights.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        // The record's covariances: a row a component, its matrix row by row.
        let Some(Value::Matrix(cov)) = g.record().get(COVARIANCES).cloned() else {
            panic!("the covariances are a matrix");
        };
        assert_eq!(cov.shape(), (2, 4));
        for (c, s) in g.covariances.iter().enumerate() {
            assert_eq!(cov[(c, 1)].to_bits(), s[(0, 1)].to_bits());
            assert_eq!(cov[(c, 2)].to_bits(), s[(1, 0)].to_bits());
            assert_eq!(cov[(c, 3)].to_bits(), s[(1, 1)].to_bits());
        }
        assert!((g.means[(0, 0)] - 0.0).abs() < 0.3 && (g.means[(1, 0)] - 6.0).abs() < 0.3);
        assert!((g.means[(1, 1)] - 3.0).abs() < 0.2);
        for s in &g.covariances {
            assert!((s - s.transpose()).norm() < 1e-12);
        }
        // The second blob's spread along b is about 0.5² = 0.25.
        assert!((g.covariances[1][(1, 1)] - 0.25).abs() < 0.1);
    }

    /// X, the means and each component's (L, constant).
    type Model<'a> = (
        &'a DMatrix<f64>,
        &'a DMatrix<f64>,
        &'a [(DMatrix<f64>, f64)],
    );

    /// The E-step of one range on `isa`, if this CPU has it: the
    /// log-likelihood, the sums and γ.
    fn group_pass(
        isa: pass::Isa,
        (x, means, factors): Model,
    ) -> Option<(f64, Moments, DMatrix<f64>)> {
        let mut resp = DMatrix::zeros(x.nrows(), factors.len());
        let mut columns: Vec<&mut [f64]> = resp.as_mut_slice().chunks_mut(x.nrows()).collect();
        let (total, moments) = isa.run(GmmRange {
            x,
            means,
            factors,
            start: 0,
            resp: &mut columns,
        })?;
        Some((total, moments, resp))
    }

    #[test]
    fn the_group_pass_matches_the_block_pass_and_gives_the_same_bits_everywhere() {
        for d in [1, 4, 5] {
            group_pass_matches_the_block_pass(d);
        }
    }

    fn group_pass_matches_the_block_pass(d: usize) {
        // Whole groups and a ragged end (which the block pass takes).
        let (n, k) = (3 * GROUP + 11, 3);
        let mut rng = Rng::new(12);
        let x = DMatrix::from_fn(n, d, |_, _| rng.normal());
        let means = DMatrix::from_fn(k, d, |_, _| 0.5 * rng.normal());
        // Cholesky factors of covariances AᵀA/d + I.
        let factors: Vec<(DMatrix<f64>, f64)> = (0..k)
            .map(|c| {
                let a = DMatrix::from_fn(d, d, |_, _| rng.normal());
                let sigma = a.tr_mul(&a) / d as f64 + DMatrix::identity(d, d);
                (sigma.cholesky().unwrap().l(), -0.3 * c as f64)
            })
            .collect();
        let input = (&x, &means, factors.as_slice());
        let (total, moments, resp) = group_pass(pass::Isa::Widest, input).unwrap();
        // The block pass, block by block over the same rows.
        let mut block_resp = DMatrix::zeros(n, k);
        let mut columns: Vec<&mut [f64]> = block_resp.as_mut_slice().chunks_mut(n).collect();
        let mut block = EBlock::new(&x, &means, 0, d);
        let mut block_moments = Moments::zeros(k, d);
        let mut block_total = 0.0;
        for lo in (0..n).step_by(BLOCK) {
            let hi = (lo + BLOCK).min(n);
            block_total += block.densities(&factors, lo, hi, &mut columns);
            block.add_moments(lo, hi, &columns, &mut block_moments);
        }
        drop(columns);
        let close = |a: f64, b: f64| (a - b).abs() <= 1e-11 * a.abs().max(1.0);
        assert!(close(total, block_total), "{total} vs {block_total}");
        assert!((&resp - &block_resp).abs().max() < 1e-13);
        for c in 0..k {
            assert!(close(moments.counts[c], block_moments.counts[c]));
            for j in 0..d {
                assert!(close(moments.first[(c, j)], block_moments.first[(c, j)]));
                for m in 0..d {
                    let (a, b) = (moments.second[c][(j, m)], block_moments.second[c][(j, m)]);
                    assert!(close(a, b), "second moment {c} {j} {m}: {a} vs {b}");
                }
            }
        }
        pass::Isa::assert_same_bits(&format!("d {d}, k 3"), |isa| {
            let (total, m, resp) = group_pass(isa, input)?;
            let mut all = vec![total];
            all.extend(m.counts);
            all.extend(m.first.iter());
            all.extend(m.second.iter().flat_map(|s| s.iter().copied()));
            all.extend(resp.iter());
            Some(all.iter().map(|v| v.to_bits()).collect())
        });
    }

    #[test]
    fn blocked_parallel_passes_match_direct_sums_on_many_rows() {
        let n = 40_001;
        let mut rng = crate::rng::Rng::new(9);
        let a: Vec<f64> = (0..n)
            .map(|i| rng.normal() + 3.0 * f64::from(u8::from(i % 2 == 0)))
            .collect();
        let b: Vec<f64> = (0..n).map(|_| rng.normal()).collect();
        let d = Dataset::from_columns(&["a", "b"], &[a, b], None).unwrap();
        let mut g = Gmm::new(&Hyper {
            init_rows: Some(vec![0, 1]),
            ..Hyper::default()
        })
        .unwrap();
        // Without per-row records, γ stays in each chunk's scratch: the
        // same steps, bit for bit, and records without it.
        let mut lean = g.clone();
        lean.keep_per_row(false);
        g.reset(&d).unwrap();
        lean.reset(&d).unwrap();
        for _ in 0..2 {
            let rec = g.step(&d).unwrap();
            let lean_rec = lean.step(&d).unwrap();
            assert!(lean_rec.get(RESPONSIBILITIES).is_none());
            assert_eq!(lean_rec.loss.to_bits(), rec.loss.to_bits());
            assert_eq!(lean.params(), g.params());
            for row in [0, 20_003, n - 1] {
                assert_responsibilities_match_direct_densities(&g, &d, row);
            }
            // The M-step against direct weighted sums over the responsibilities it used.
            let Some(Value::Matrix(gamma)) = rec.get(RESPONSIBILITIES) else {
                panic!("the record shows the responsibilities");
            };
            for c in 0..2 {
                let nk: f64 = gamma.column(c).sum();
                let mu: Vec<f64> = (0..2)
                    .map(|j| (0..n).map(|i| gamma[(i, c)] * d.x()[(i, j)]).sum::<f64>() / nk)
                    .collect();
                let mut direct = DMatrix::<f64>::identity(2, 2) * RIDGE;
                for i in 0..n {
                    for j in 0..2 {
                        for l in 0..2 {
                            direct[(j, l)] +=
                                gamma[(i, c)] * (d.x()[(i, j)] - mu[j]) * (d.x()[(i, l)] - mu[l])
                                    / nk;
                        }
                    }
                }
                for (j, m) in mu.iter().enumerate() {
                    assert!((g.means[(c, j)] - m).abs() < 1e-10, "mean {c} {j}");
                }
                assert!(
                    (&g.covariances[c] - &direct).abs().max() < 1e-10,
                    "covariance {c}"
                );
                assert!((g.weights[c] - nk / n as f64).abs() < 1e-12);
            }
        }
    }

    #[test]
    fn e_step_matches_a_direct_density_computation() {
        let d = blobs();
        let mut g = Gmm::new(&Hyper {
            init_rows: Some(vec![0, 1]),
            ..Hyper::default()
        })
        .unwrap();
        g.reset(&d).unwrap();
        g.step(&d).unwrap();
        assert_responsibilities_match_direct_densities(&g, &d, 5);
    }

    #[test]
    fn values_too_large_to_square_are_named_as_such() {
        let x: Vec<f64> = (0..20).map(|i| f64::from(i) * 1e200).collect();
        let data = Dataset::from_columns(&["x"], &[x], None).unwrap();
        let err = Gmm::new(&Hyper::default())
            .unwrap()
            .reset(&data)
            .unwrap_err();
        assert!(
            err.to_string().contains("beyond about 1e154")
                && err.to_string().contains("standardize"),
            "{err}"
        );
    }

    /// Row `row`'s responsibilities against the two-component 2-D Gaussian
    /// densities written out by hand (2 × 2 inverse and determinant).
    fn assert_responsibilities_match_direct_densities(g: &Gmm, d: &Dataset, row: usize) {
        let x = [d.x()[(row, 0)], d.x()[(row, 1)]];
        let dens: Vec<f64> = (0..2)
            .map(|c| {
                let s = &g.covariances[c];
                let det = s[(0, 0)] * s[(1, 1)] - s[(0, 1)] * s[(1, 0)];
                let (u, v) = (x[0] - g.means[(c, 0)], x[1] - g.means[(c, 1)]);
                let q = (s[(1, 1)] * u * u - 2.0 * s[(0, 1)] * u * v + s[(0, 0)] * v * v) / det;
                g.weights[c] * (-0.5 * q).exp() / (2.0 * std::f64::consts::PI * det.sqrt())
            })
            .collect();
        let total: f64 = dens.iter().sum();
        let resp = &g.last.get().unwrap().resp;
        for (c, p) in dens.iter().enumerate() {
            assert!((resp[(row, c)] - p / total).abs() < 1e-12, "row {row}");
        }
    }
}
