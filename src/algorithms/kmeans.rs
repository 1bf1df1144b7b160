//! `k-means`: Lloyd's algorithm. One step assigns every row to its nearest
//! centroid, then moves each centroid to the mean of its rows.

// The group kernels are inlined into the function compiled for the
// detected vector unit.
#![allow(clippy::inline_always)]

use super::linear::J;
use super::pass::{self, GROUP};
use super::{
    AlgoError, Algorithm, Cached, DerivationStep, Entry, Hyper, Spare, StepRecord, Symbol, Value,
};
use crate::data::Dataset;
use crate::rng::Rng;
use nalgebra::DMatrix;

/// μ: the centroids (k × d).
pub const CENTROIDS: Symbol = Symbol {
    id: "centroids",
    latex: r"\boldsymbol{\mu}_k",
    meaning: "centroids, one row per cluster",
};
/// c_t(i): the cluster of each row.
pub const ASSIGNMENT: Symbol = Symbol {
    id: "assignment",
    latex: r"c_t(i)",
    meaning: "cluster each row is assigned to",
};
/// ‖xᵢ − μ_{t−1,c_t(i)}‖²: each row's squared distance to the centroid it joined.
pub const DISTANCE: Symbol = Symbol {
    id: "distance",
    latex: r"\|\mathbf{x}_i - \boldsymbol{\mu}_{t-1,c_t(i)}\|^2",
    meaning: "squared distance of each row to the centroid it joined (the previous step's)",
};
/// |C_k|: rows per cluster.
pub const SIZES: Symbol = Symbol {
    id: "cluster_size",
    latex: r"|C_k|",
    meaning: "number of rows in each cluster",
};
/// How many rows changed cluster in this step.
pub const CHANGED: Symbol = Symbol {
    id: "changed",
    latex: r"\Delta c",
    meaning: "rows whose cluster changed in this step",
};

const STEPS: &[DerivationStep] = &[
    DerivationStep {
        title: "Objective",
        sentence: "Measure a clustering by the mean squared distance of each row to the centroid of its cluster. The loss shown at step t is J(cₜ, μₜ): each row at the centroid it joined in this step, now moved to its cluster's mean (at step 0, the nearest initial centroid).",
        latex: r"J(c, \boldsymbol{\mu}) = \frac{1}{n} \sum_{i=1}^{n} \|\mathbf{x}_i - \boldsymbol{\mu}_{c(i)}\|^2, \qquad J(\boldsymbol{\mu}) = \min_{c} J(c, \boldsymbol{\mu})",
        shows: &[J],
    },
    DerivationStep {
        title: "Assignment step",
        sentence: "With the previous step's centroids fixed, J is smallest when every row joins its nearest centroid (ties go to the lowest index); the distances shown are to those centroids.",
        latex: r"\begin{aligned} c_t(i) &= \operatorname*{argmin}_{k} \|\mathbf{x}_i - \boldsymbol{\mu}_{t-1,k}\|^2 \\ \|\mathbf{x}_i - \boldsymbol{\mu}_{t-1,c_t(i)}\|^2 &= \min_{k} \|\mathbf{x}_i - \boldsymbol{\mu}_{t-1,k}\|^2 \end{aligned}",
        shows: &[ASSIGNMENT, DISTANCE, CHANGED],
    },
    DerivationStep {
        title: "Minimize over one centroid",
        sentence: "With the assignment fixed, J is a quadratic in each centroid; its derivative vanishes at the mean of the cluster.",
        latex: r"\frac{\partial J}{\partial \boldsymbol{\mu}_k} = -\frac{2}{n} \sum_{i \in C_k} (\mathbf{x}_i - \boldsymbol{\mu}_k) = 0",
        shows: &[SIZES],
    },
    DerivationStep {
        title: "Update step",
        sentence: "Move every centroid to the mean of the rows that joined it in this step; a cluster left empty keeps its centroid.",
        latex: r"\boldsymbol{\mu}_{t,k} = \frac{1}{|C_k|} \sum_{i \in C_k} \mathbf{x}_i, \qquad C_k = \{ i : c_t(i) = k \}",
        shows: &[CENTROIDS, SIZES],
    },
    DerivationStep {
        title: "Convergence",
        sentence: "Neither step can raise J, and there are finitely many assignments, so Lloyd's algorithm stops once no row changes cluster.",
        latex: r"J(c_{t}, \boldsymbol{\mu}_{t}) \le J(c_{t}, \boldsymbol{\mu}_{t-1}) \le J(c_{t-1}, \boldsymbol{\mu}_{t-1})",
        shows: &[J, CHANGED],
    },
];

/// The registry entry.
pub const ENTRY: Entry = Entry {
    id: "k-means",
    summary: "clustering by Lloyd's algorithm: assign rows to the nearest centroid, move centroids to the means",
    supervised: false,
    classifies: false,
    create: |h| Ok(Box::new(KMeans::new(h)?)),
    optimizers: &[],
    default_l2: 0.0,
    default_k: 3,
};

/// Lloyd's algorithm.
#[derive(Debug, Clone)]
pub struct KMeans {
    k: Option<usize>,
    init_rows: Option<Vec<usize>>,
    seed: u64,
    centroids: DMatrix<f64>,
    /// Nearest centroids, distances and cluster sums for the current centroids.
    current: Cached<Assignment>,
    /// The centroids before the last update.
    previous_centroids: Option<DMatrix<f64>>,
    /// Per-row vectors of records the session handed back.
    spare: Spare,
    t: usize,
    features: Vec<String>,
    /// Whether records carry the rows' distances (the window's derivation).
    per_row: bool,
    /// Whether they keep them at the rows drawn only, on data with more
    /// rows than the plots draw (see [`Algorithm::per_row_heads`]).
    drawn: bool,
}

impl KMeans {
    /// Builds it (k defaults to the number of init rows, else 3).
    ///
    /// # Errors
    /// k = 0, or k disagreeing with the init rows.
    pub fn new(hyper: &Hyper) -> Result<Self, AlgoError> {
        check_k(hyper.k, hyper.init_rows.as_deref())?;
        Ok(Self {
            k: hyper.k,
            init_rows: hyper.init_rows.clone(),
            seed: hyper.seed,
            centroids: DMatrix::zeros(0, 0),
            current: Cached::default(),
            previous_centroids: None,
            spare: Spare::default(),
            t: 0,
            features: Vec::new(),
            per_row: true,
            drawn: false,
        })
    }

    /// The distances a pass records.
    fn distances(&self) -> Distances {
        match (self.per_row, self.drawn) {
            (false, _) => Distances::None,
            (true, false) => Distances::Every,
            (true, true) => Distances::Drawn,
        }
    }

    /// Assigns the rows to the current centroids (counting the rows that
    /// left `previous`), keeps the assignment for the next step, and starts
    /// the record with its objective.
    fn evaluate(&mut self, x: &DMatrix<f64>, previous: Option<&[f64]>) -> StepRecord {
        let current = assign(
            x,
            &self.centroids,
            previous,
            self.distances(),
            &mut self.spare,
        );
        let loss = current.total / x.nrows() as f64;
        self.current.set(current);
        let mut rec = StepRecord::new(self.t, loss);
        rec.scalar(J, loss);
        rec.set(CENTROIDS, Value::Matrix(self.centroids.clone()));
        rec
    }
}

/// Checks k against the init rows.
///
/// # Errors
/// k = 0, or k disagreeing with the number of init rows.
pub fn check_k(k: Option<usize>, init_rows: Option<&[usize]>) -> Result<(), AlgoError> {
    if k == Some(0) {
        return Err(AlgoError::Invalid("--k must be at least 1".into()));
    }
    if let (Some(k), Some(rows)) = (k, init_rows)
        && rows.len() != k
    {
        return Err(AlgoError::Invalid(format!(
            "--k is {k} but --init-rows names {}; give one row per cluster",
            super::count(rows.len(), "row")
        )));
    }
    if let Some(rows) = init_rows
        && let Some(r) = rows
            .iter()
            .enumerate()
            .find_map(|(i, r)| rows[..i].contains(r).then_some(r))
    {
        return Err(AlgoError::Invalid(format!(
            "--init-rows names row {r} twice; each cluster needs a row of its own"
        )));
    }
    Ok(())
}

/// Initial centers: the given rows (0-based), or k-means++ seeded with `seed`.
///
/// # Errors
/// A row index out of range, or more clusters than rows.
pub fn initial_centers(
    data: &Dataset,
    k: Option<usize>,
    init_rows: Option<&[usize]>,
    default_k: usize,
    seed: u64,
) -> Result<DMatrix<f64>, AlgoError> {
    let x = data.x();
    let (n, d) = x.shape();
    if let Some(rows) = init_rows {
        // The file's data rows, wherever dropped rows moved them.
        let rows = rows
            .iter()
            .map(|&r| data.row_of(r))
            .collect::<Result<Vec<usize>, String>>()
            .map_err(|why| AlgoError::Invalid(format!("--init-rows names {why}")))?;
        return Ok(DMatrix::from_fn(rows.len(), d, |c, j| x[(rows[c], j)]));
    }
    let k = k.unwrap_or(default_k);
    if k > n {
        return Err(AlgoError::Invalid(format!(
            "cannot make {k} clusters from {}",
            super::count(n, "row")
        )));
    }
    // k-means++: each next center is a row drawn with probability ∝ D(x)².
    let mut rng = Rng::new(seed);
    let mut chosen = vec![rng.below(n)];
    let mut d2: Vec<f64> = (0..n).map(|i| dist2_rows(x, i, chosen[0])).collect();
    while chosen.len() < k {
        let total: f64 = d2.iter().sum();
        let next = if total > 0.0 {
            let mut target = rng.uniform() * total;
            let mut pick = n - 1;
            for (i, &w) in d2.iter().enumerate() {
                if target < w {
                    pick = i;
                    break;
                }
                target -= w;
            }
            pick
        } else {
            rng.below(n)
        };
        chosen.push(next);
        for (i, v) in d2.iter_mut().enumerate() {
            *v = v.min(dist2_rows(x, i, next));
        }
    }
    Ok(DMatrix::from_fn(k, d, |c, j| x[(chosen[c], j)]))
}

fn dist2_rows(x: &DMatrix<f64>, a: usize, b: usize) -> f64 {
    (0..x.ncols())
        .map(|j| (x[(a, j)] - x[(b, j)]).powi(2))
        .sum()
}

/// For given centroids: the nearest centroid of every row (ties to the
/// lowest index), the squared distance to it, and per cluster the sum of its
/// rows and its size (what the next update step needs).
#[derive(Debug, Clone)]
pub struct Assignment {
    /// Nearest centroid of each row (a cluster index, as the record holds it).
    pub nearest: Vec<f64>,
    /// Squared distance of each row to it: a vector (empty unless asked
    /// for), or those of the rows drawn ([`Value::Sampled`]).
    pub dist: Value,
    /// Σ dist: n times the objective J.
    pub total: f64,
    /// Sum of the rows of each cluster (k × d).
    pub sums: DMatrix<f64>,
    /// Rows in each cluster.
    pub sizes: Vec<usize>,
    /// Rows whose nearest centroid differs from the assignment passed in.
    pub changed: Option<usize>,
}

/// Which rows' distances to their nearest centroid a pass writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Distances {
    /// None (a headless run).
    None,
    /// Every row's.
    Every,
    /// Those of the rows the plots draw, on data with more rows than they
    /// draw (every row's otherwise).
    Drawn,
}

/// [`Assignment`] in one pass over X on every core, in groups of rows
/// small enough to stay in cache while every centroid is measured against
/// them and their rows are added to their clusters' sums (`AssignRange`).
/// The per-row vectors are taken from `spare`; with `previous`, the pass
/// also counts the rows whose cluster differs from it. Each row's distance
/// is written as `distances` asks (the window's derivation shows them).
#[must_use]
pub fn assign(
    x: &DMatrix<f64>,
    centroids: &DMatrix<f64>,
    previous: Option<&[f64]>,
    distances: Distances,
    spare: &mut Spare,
) -> Assignment {
    let (n, d) = x.shape();
    let k = centroids.nrows();
    let mut nearest = spare.take(n);
    let (drawn, every) = pass::Samples::<1>::choose(
        distances != Distances::None,
        distances == Distances::Drawn,
        n,
    );
    let mut dist = spare.take(every);
    let parts =
        pass::over_row_ranges_into(n, &mut [&mut nearest, &mut dist], |start, end, pieces| {
            let (near, rest) = pieces.split_at_mut(1);
            pulp::Arch::new().dispatch(AssignRange {
                x,
                centroids,
                previous: previous.map(|p| &p[start..end]),
                start,
                near: &mut *near[0][0],
                dist: RangeDistances {
                    every: rest[0].first_mut().map(|d| &mut **d),
                    drawn: drawn.as_ref(),
                    start,
                },
            })
        });
    let mut all = Assignment {
        nearest,
        dist: match drawn {
            Some(drawn) => {
                let [dist] = drawn.into_values();
                dist
            }
            None => Value::Vector(dist),
        },
        total: 0.0,
        sums: DMatrix::zeros(k, d),
        sizes: vec![0; k],
        changed: previous.map(|_| 0),
    };
    for part in parts {
        all.total += part.total;
        all.changed = all.changed.map(|c| c + part.changed);
        all.sums += part.sums;
        for (a, b) in all.sizes.iter_mut().zip(part.sizes) {
            *a += b;
        }
    }
    all
}

/// The nearest centroid of each row of a group (`column(j)` its rows of
/// feature j), ties to the lowest index, and the squared distance to it.
#[inline(always)]
#[allow(clippy::cast_precision_loss)] // Cluster indices are far below 2⁵³.
fn nearest_in_group<'a, S: pulp::Simd>(
    simd: S,
    centroids: &DMatrix<f64>,
    column: impl Fn(usize) -> &'a [f64],
) -> ([S::f64s; GROUP], [S::f64s; GROUP]) {
    let vectors = GROUP / S::F64_LANES;
    let zero = simd.splat_f64s(0.0);
    let mut best = [zero; GROUP];
    let mut bd = [simd.splat_f64s(f64::INFINITY); GROUP];
    for (c, mu) in centroids.row_iter().enumerate() {
        let mut acc = [zero; GROUP];
        for (j, &m) in mu.iter().enumerate() {
            let m = simd.splat_f64s(m);
            let xv = S::as_simd_f64s(column(j)).0;
            for q in 0..vectors {
                let t = simd.sub_f64s(xv[q], m);
                acc[q] = simd.mul_add_f64s(t, t, acc[q]);
            }
        }
        let cv = simd.splat_f64s(c as f64);
        for q in 0..vectors {
            let closer = simd.less_than_f64s(acc[q], bd[q]);
            bd[q] = simd.select_f64s(closer, acc[q], bd[q]);
            best[q] = simd.select_f64s(closer, cv, best[q]);
        }
    }
    (best, bd)
}

/// The nearest centroid of one row (`value(j)` its feature j), ties to the
/// lowest index, and the squared distance to it: [`nearest_in_group`] for
/// the rows left after the last whole group.
fn nearest_of_row(centroids: &DMatrix<f64>, value: impl Fn(usize) -> f64) -> (usize, f64) {
    let (mut best, mut bd) = (0, f64::INFINITY);
    for (c, mu) in centroids.row_iter().enumerate() {
        let mut acc = 0.0;
        for (j, &m) in mu.iter().enumerate() {
            let t = value(j) - m;
            acc = t.mul_add(t, acc);
        }
        if acc < bd {
            (best, bd) = (c, acc);
        }
    }
    (best, bd)
}

/// Adds a group's rows to their clusters: for each cluster c, a masked sum
/// of each column into the eight lanes at `lanes[(c·d + j)·per8..]`, and
/// its count at `lanes[(k·d + c)·per8..]` (per8 = 8 / lanes vectors).
#[inline(always)]
#[allow(clippy::cast_precision_loss)] // Cluster indices are far below 2⁵³.
fn add_group_to_clusters<'a, S: pulp::Simd>(
    simd: S,
    best: &[S::f64s; GROUP],
    (k, d, column): (usize, usize, impl Fn(usize) -> &'a [f64]),
    lanes: &mut [S::f64s],
) {
    let vectors = GROUP / S::F64_LANES;
    let per8 = 8 / S::F64_LANES;
    let ones = [simd.splat_f64s(1.0); GROUP];
    let (sums, sizes) = lanes.split_at_mut(k * d * per8);
    for (c, size) in sizes.chunks_mut(per8).enumerate() {
        let cluster = &mut sums[c * d * per8..(c + 1) * d * per8];
        let cv = simd.splat_f64s(c as f64);
        let mut mine = [simd.equal_f64s(cv, cv); GROUP];
        for q in 0..vectors {
            mine[q] = simd.equal_f64s(best[q], cv);
        }
        add_chunks_where(simd, size, &ones, &mine);
        for (j, acc) in cluster.chunks_mut(per8).enumerate() {
            add_chunks_where(simd, acc, S::as_simd_f64s(column(j)).0, &mine);
        }
    }
}

/// [`pass::add_chunks`] of the rows where `mine` holds: each lane adds
/// them in the same order, skipping the others (the same bits as adding
/// +0 in their place, since a sum from +0 is never −0), one masked
/// addition a vector where a select and an addition took two.
#[inline(always)]
fn add_chunks_where<S: pulp::Simd>(
    simd: S,
    acc: &mut [S::f64s],
    v: &[S::f64s],
    mine: &[S::m64s; GROUP],
) {
    let per8 = 8 / S::F64_LANES;
    let v = &v[..GROUP / S::F64_LANES];
    for (p, a) in acc[..per8].iter_mut().enumerate() {
        let mut sum = *a;
        for c in 0..GROUP / 8 {
            let q = c * per8 + p;
            sum = simd.select_f64s(mine[q], simd.add_f64s(sum, v[q]), sum);
        }
        *a = sum;
    }
}

/// What one row range adds to an [`Assignment`].
struct RangeSums {
    total: f64,
    changed: usize,
    sums: DMatrix<f64>,
    sizes: Vec<usize>,
}

/// Up to this many clusters, each group's rows are added to the cluster
/// sums by a masked sum per cluster and column; above, row by row.
const MASKED_MAX_K: usize = 8;

/// [`assign`] on one row range (`near` holds its rows), on
/// explicit vector registers, [`pass::GROUP`] rows at a time: each
/// centroid's squared distances (the group's columns stay in the
/// first-level cache), the nearest centroid (ties to the lowest index),
/// then the group's rows added to their clusters. Sums keep eight lanes
/// whatever the vector width ([`pass::add_chunks`]), so every CPU gets the
/// same bits. Measuring every centroid against a block of 256 rows, then
/// summing, left memory idle for half the step.
struct AssignRange<'a> {
    x: &'a DMatrix<f64>,
    centroids: &'a DMatrix<f64>,
    previous: Option<&'a [f64]>,
    start: usize,
    near: &'a mut [f64],
    dist: RangeDistances<'a>,
}

/// Where [`AssignRange`] writes its rows' distances: every row's (`every`,
/// the range's rows), the drawn rows' (`drawn`), or neither.
struct RangeDistances<'a> {
    every: Option<&'a mut [f64]>,
    drawn: Option<&'a pass::Samples<1>>,
    /// The range's first row.
    start: usize,
}

impl RangeDistances<'_> {
    /// The distances of the range's rows `first..first + values.len()`.
    #[inline(always)]
    fn put(&mut self, first: usize, values: &[f64]) {
        if let Some(every) = self.every.as_deref_mut() {
            every[first..first + values.len()].copy_from_slice(values);
        }
        if let Some(drawn) = self.drawn {
            drawn.keep(self.start + first, values.len(), |r| [values[r]]);
        }
    }
}

impl pulp::WithSimd for AssignRange<'_> {
    type Output = RangeSums;

    #[inline(always)]
    #[allow(clippy::cast_precision_loss)] // Cluster indices are far below 2⁵³.
    fn with_simd<S: pulp::Simd>(self, simd: S) -> RangeSums {
        let Self {
            x,
            centroids,
            previous,
            start,
            near,
            mut dist,
        } = self;
        let (n, d) = x.shape();
        let k = centroids.nrows();
        let data = x.as_slice();
        let len = near.len();
        let column = |j: usize, lo: usize, hi: usize| &data[j * n + start + lo..j * n + start + hi];
        let vectors = GROUP / S::F64_LANES;
        let per8 = 8 / S::F64_LANES;
        let (zero, one) = (simd.splat_f64s(0.0), simd.splat_f64s(1.0));
        // Eight lanes for each cluster's column sums (k × d, row-major),
        // then each cluster's size, then the total distance and the changes.
        let mut lanes = vec![zero; (k * d + k + 2) * per8];
        let total_at = (k * d + k) * per8;
        // Rows added one at a time: past MASKED_MAX_K clusters, and the last
        // rows of the range, fewer than a group.
        let mut sums = DMatrix::<f64>::zeros(k, d);
        let mut sizes = vec![0usize; k];
        let mut add_row = |c: usize, i: usize| {
            sizes[c] += 1;
            for j in 0..d {
                sums[(c, j)] += data[j * n + start + i];
            }
        };
        let (mut total, mut changed) = (0.0, 0usize);
        let whole = len / GROUP * GROUP;
        let prefetch = pass::Prefetch::on();
        for g in (0..whole).step_by(GROUP) {
            let rows = g..g + GROUP;
            let column = |j: usize| column(j, g, g + GROUP);
            for j in 0..d {
                prefetch.ahead(column(j), GROUP);
            }
            let (best, bd) = nearest_in_group(simd, centroids, column);
            S::as_mut_simd_f64s(&mut near[rows.clone()])
                .0
                .copy_from_slice(&best[..vectors]);
            dist.put(g, pulp::bytemuck::cast_slice(&bd[..vectors]));
            pass::add_chunks(
                simd,
                &mut lanes[total_at..total_at + per8],
                &bd[..vectors],
                None,
            );
            if let Some(p) = previous {
                let pv = S::as_simd_f64s(&p[rows.clone()]).0;
                let mut moved = [zero; GROUP];
                for q in 0..vectors {
                    moved[q] = simd.select_f64s(simd.equal_f64s(best[q], pv[q]), zero, one);
                }
                let at = total_at + per8;
                pass::add_chunks(simd, &mut lanes[at..at + per8], &moved[..vectors], None);
            }
            if k <= MASKED_MAX_K {
                add_group_to_clusters(simd, &best, (k, d, column), &mut lanes[..total_at]);
                continue;
            }
            for i in rows {
                // Exact: a cluster index below k.
                #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
                add_row(near[i] as usize, i);
            }
        }
        for i in whole..len {
            let (best, bd) = nearest_of_row(centroids, |j| data[j * n + start + i]);
            near[i] = best as f64;
            dist.put(i, &[bd]);
            total += bd;
            // Exact comparison: both hold small integers.
            #[allow(clippy::float_cmp)]
            let moved = previous.is_some_and(|p| p[i] != best as f64);
            changed += usize::from(moved);
            add_row(best, i);
        }
        let totals = pass::lane_totals::<S>(&lanes);
        for c in 0..k {
            for j in 0..d {
                sums[(c, j)] += totals[c * d + j];
            }
            // Exact: a count below 2⁵³.
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
            {
                sizes[c] += totals[k * d + c] as usize;
            }
        }
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        RangeSums {
            total: total + totals[k * d + k],
            changed: changed + totals[k * d + k + 1] as usize,
            sums,
            sizes,
        }
    }
}

impl Algorithm for KMeans {
    fn id(&self) -> &'static str {
        ENTRY.id
    }

    fn derivation(&self) -> Vec<DerivationStep> {
        STEPS.to_vec()
    }

    fn reset(&mut self, data: &Dataset) -> Result<StepRecord, AlgoError> {
        self.centroids = initial_centers(
            data,
            self.k,
            self.init_rows.as_deref(),
            ENTRY.default_k,
            self.seed,
        )?;
        self.t = 0;
        self.previous_centroids = None;
        self.features = data.feature_names().to_vec();
        let mut rec = self.evaluate(data.x(), None);
        if let Some(current) = self.current.get() {
            if self.per_row {
                rec.set(DISTANCE, current.dist.clone());
            }
            rec.vector(ASSIGNMENT, current.nearest.clone());
        }
        Ok(rec)
    }

    fn step(&mut self, data: &Dataset) -> Result<StepRecord, AlgoError> {
        let x = data.x();
        let (n, d) = x.shape();
        let k = self.centroids.nrows();
        // Assignment step: the nearest centroids, and the sums of the rows
        // assigned to each, were found by the last evaluation's pass (a
        // restored copy finds them again).
        let current = self.current.take().unwrap_or_else(|| {
            let before = self
                .previous_centroids
                .as_ref()
                .map(|c| assign(x, c, None, Distances::None, &mut self.spare).nearest);
            assign(
                x,
                &self.centroids,
                before.as_deref(),
                self.distances(),
                &mut self.spare,
            )
        });
        let Assignment {
            nearest: assignment,
            dist: dist_before,
            sums,
            sizes,
            changed,
            total,
        } = current;
        let before = self.centroids.clone();
        // Update step.
        let mut empty = Vec::new();
        for c in 0..k {
            if sizes[c] == 0 {
                empty.push(c);
                continue;
            }
            for j in 0..d {
                self.centroids[(c, j)] = sums[(c, j)] / sizes[c] as f64;
            }
        }
        self.t += 1;
        // J(c_t, μ_t), each row at the centroid it was assigned to: each
        // cluster's squared distances to its old centroid less n_k times
        // the centroid's squared move (μ_t is its rows' mean), with no
        // second pass over the rows.
        let moves: f64 = (0..k)
            .map(|c| {
                let shift = (self.centroids.row(c) - before.row(c)).norm_squared();
                sizes[c] as f64 * shift
            })
            .sum();
        let loss = ((total - moves) / n as f64).max(0.0);
        self.previous_centroids = Some(before);
        let mut rec = self.evaluate(x, Some(&assignment));
        rec.loss = loss;
        rec.scalar(J, loss);
        rec.vector(ASSIGNMENT, assignment);
        if self.per_row {
            rec.set(DISTANCE, dist_before);
        }
        rec.vector(SIZES, sizes.iter().map(|&s| s as f64).collect::<Vec<_>>());
        rec.scalar(CHANGED, changed.unwrap_or(n) as f64);
        if !empty.is_empty() {
            rec.note = Some(format!(
                "cluster{} {} got no rows at step {} and kept {} centroid",
                if empty.len() == 1 { "" } else { "s" },
                empty
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", "),
                self.t,
                if empty.len() == 1 { "its" } else { "their" }
            ));
        }
        if changed == Some(0) {
            rec.converged = true;
            rec.note = Some(format!(
                "converged: no row changed cluster at step {}",
                self.t
            ));
        }
        Ok(rec)
    }

    fn params(&self) -> Vec<f64> {
        // Row-major: centroid by centroid.
        (0..self.centroids.nrows())
            .flat_map(|c| self.centroids.row(c).iter().copied().collect::<Vec<_>>())
            .collect()
    }

    fn param_names(&self) -> Vec<String> {
        (0..self.centroids.nrows())
            .flat_map(|c| self.features.iter().map(move |f| format!("mu{c}[{f}]")))
            .collect()
    }

    fn params_json(&self, flat: &[f64]) -> serde_json::Value {
        let d = self.centroids.ncols().max(1);
        serde_json::json!({ "centroids": flat.chunks(d).collect::<Vec<_>>() })
    }

    fn boxed_clone(&self) -> Box<dyn Algorithm> {
        Box::new(self.clone())
    }

    fn recycle(&mut self, old: StepRecord) {
        self.spare.keep(old, &[ASSIGNMENT, DISTANCE]);
    }

    fn keep_per_row(&mut self, keep: bool) {
        self.per_row = keep;
    }

    fn per_row_heads(&mut self, head: Option<usize>) {
        self.drawn = head.is_some();
    }

    fn classify(&self, x: &DMatrix<f64>, flat: &[f64]) -> Option<Vec<usize>> {
        // The cells: every point belongs to its nearest centroid.
        let (k, d) = (self.centroids.nrows(), x.ncols());
        if k == 0 || flat.len() != k * d {
            return None;
        }
        let centroids = DMatrix::from_row_slice(k, d, flat);
        let nearest = assign(x, &centroids, None, Distances::None, &mut Spare::default()).nearest;
        // Exact: cluster indices are small non-negative integers.
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        Some(nearest.iter().map(|&c| c as usize).collect())
    }

    fn has_loss_surface(&self) -> bool {
        true
    }

    /// J(μ) = min_c J(c, μ) at centroids `flat`, each row at its nearest
    /// (the surface's): at or below the step's J(c_t, μ_t).
    fn loss_at(&self, data: &Dataset, flat: &[f64]) -> Option<f64> {
        let d = data.n_features();
        if d == 0 || flat.is_empty() || !flat.len().is_multiple_of(d) {
            return None;
        }
        let c = DMatrix::from_row_slice(flat.len() / d, d, flat);
        let total = assign(data.x(), &c, None, Distances::None, &mut Spare::default()).total;
        Some(total / data.n_rows() as f64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data() -> Dataset {
        let x = vec![0.0, 0.0, 1.0, 10.0, 10.0, 11.0];
        let y = vec![0.0, 1.0, 0.0, 10.0, 11.0, 10.0];
        Dataset::from_columns(&["x", "y"], &[x, y], None).unwrap()
    }

    fn hyper(rows: &[usize]) -> Hyper {
        Hyper {
            init_rows: Some(rows.to_vec()),
            ..Hyper::default()
        }
    }

    #[test]
    fn on_large_data_the_window_keeps_the_distances_of_the_drawn_rows_only() {
        // On two threads, three rows per drawn one, and a ragged last group;
        // k above MASKED_MAX_K too, where rows join their clusters one by one.
        let n = 2 * crate::algorithms::DRAWN_ROWS + 1;
        let mut rng = crate::rng::Rng::new(6);
        let x: Vec<Vec<f64>> = (0..3)
            .map(|_| (0..n).map(|_| rng.normal()).collect())
            .collect();
        let data = Dataset::from_columns(&["a", "b", "c"], &x, None).unwrap();
        for k in [3, MASKED_MAX_K + 2] {
            let h = Hyper {
                k: Some(k),
                ..Hyper::default()
            };
            crate::algorithms::assert_keeps_the_drawn_rows(
                || Box::new(KMeans::new(&h).unwrap()),
                &data,
                &[DISTANCE],
                CENTROIDS,
            );
        }
    }

    #[test]
    fn the_assignment_pass_gives_the_same_bits_on_every_instruction_set() {
        // Whole groups and a ragged end; masked sums and row-by-row sums.
        let n = 5 * GROUP + 7;
        let mut rng = crate::rng::Rng::new(8);
        let previous: Vec<f64> = (0..n).map(|i| (i % 2) as f64).collect();
        for (d, k) in [(1, 2), (4, 3), (10, MASKED_MAX_K + 3)] {
            let x = DMatrix::from_fn(n, d, |_, _| rng.normal());
            let centroids = DMatrix::from_fn(k, d, |_, _| rng.normal());
            pass::Isa::assert_same_bits(&format!("d {d} k {k}"), |isa| {
                let (mut near, mut best_d) = (vec![0.0; n], vec![0.0; n]);
                let part = isa.run(AssignRange {
                    x: &x,
                    centroids: &centroids,
                    previous: Some(&previous),
                    start: 0,
                    near: &mut near,
                    dist: RangeDistances {
                        every: Some(&mut best_d),
                        drawn: None,
                        start: 0,
                    },
                })?;
                let mut all = vec![part.total, part.changed as f64];
                all.extend(part.sizes.iter().map(|&s| s as f64));
                all.extend(part.sums.iter());
                all.extend(near);
                all.extend(best_d);
                Some(all.iter().map(|v| v.to_bits()).collect())
            });
        }
    }

    #[test]
    fn parallel_blocked_pass_matches_brute_force_on_many_rows() {
        // More rows than one thread takes, and a ragged last block; few
        // clusters (masked sums) and many (per-row additions).
        let n = 70_001;
        let mut rng = crate::rng::Rng::new(5);
        let x = DMatrix::from_fn(n, 3, |_, _| rng.normal());
        for k in [3, MASKED_MAX_K + 4] {
            let centroids = DMatrix::from_fn(k, 3, |_, _| 0.5 * rng.normal());
            let mut spare = Spare::default();
            // A reused buffer holds stale values: the pass must overwrite them.
            let mut stale = StepRecord::new(0, 0.0);
            stale.vector(ASSIGNMENT, vec![f64::NAN; n]);
            stale.vector(DISTANCE, vec![f64::NAN; n]);
            spare.keep(stale, &[ASSIGNMENT, DISTANCE]);
            let previous: Vec<f64> = (0..n).map(|i| (i % 3) as f64).collect();
            let a = assign(
                &x,
                &centroids,
                Some(&previous),
                Distances::Every,
                &mut spare,
            );
            // Without the distances, the same pass writes only the clusters.
            let lean = assign(&x, &centroids, Some(&previous), Distances::None, &mut spare);
            assert!(lean.dist.as_slice().is_empty());
            assert_eq!(lean.nearest, a.nearest);
            assert_eq!(
                (lean.total.to_bits(), lean.changed, &lean.sizes, &lean.sums),
                (a.total.to_bits(), a.changed, &a.sizes, &a.sums)
            );
            let (mut sums, mut sizes, mut total, mut changed) =
                (DMatrix::<f64>::zeros(k, 3), vec![0usize; k], 0.0, 0);
            for i in 0..n {
                let d: Vec<f64> = (0..k)
                    .map(|c| {
                        (0..3)
                            .map(|j| (x[(i, j)] - centroids[(c, j)]).powi(2))
                            .sum()
                    })
                    .collect();
                let c = (0..k).fold(0, |b, c| if d[c] < d[b] { c } else { b });
                assert_eq!(
                    a.nearest[i].to_bits(),
                    (c as f64).to_bits(),
                    "k {k} row {i}"
                );
                assert!((a.dist.as_slice()[i] - d[c]).abs() < 1e-12);
                total += d[c];
                changed += usize::from(i % 3 != c);
                sizes[c] += 1;
                for j in 0..3 {
                    sums[(c, j)] += x[(i, j)];
                }
            }
            assert_eq!(a.sizes, sizes, "k {k}");
            assert_eq!(a.changed, Some(changed));
            assert!((a.total - total).abs() < 1e-9 * total);
            assert!((&a.sums - sums).abs().max() < 1e-9, "k {k}");
        }
    }

    #[test]
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)] // Cluster ids are small integers.
    fn the_loss_is_each_row_at_the_centroid_it_was_assigned_to() {
        // Centroids 0 and 4: 2.9 joins 4, which then moves to 8.97, farther
        // from 2.9 than 0 is; the loss keeps 2.9 with the centroid it joined.
        let d = Dataset::from_columns(&["x"], &[vec![0.0, 2.9, 4.0, 20.0]], None).unwrap();
        let mut km = KMeans::new(&hyper(&[0, 2])).unwrap();
        km.reset(&d).unwrap();
        let r = km.step(&d).unwrap();
        let mu = (2.9 + 4.0 + 20.0) / 3.0;
        let want = ((2.9f64 - mu).powi(2) + (4.0f64 - mu).powi(2) + (20.0f64 - mu).powi(2)) / 4.0;
        assert!((r.loss - want).abs() < 1e-12 * want, "{} vs {want}", r.loss);
        assert_eq!(r.get(J).map(|v| v.as_slice()[0]), Some(r.loss));
        // Against the rows on many steps of random data, by brute force.
        let mut rng = crate::rng::Rng::new(5);
        let cols: Vec<Vec<f64>> = (0..3)
            .map(|_| (0..500).map(|_| rng.normal() * 4.0).collect())
            .collect();
        let d = Dataset::from_columns(&["a", "b", "c"], &cols, None).unwrap();
        let mut km = KMeans::new(&Hyper {
            k: Some(5),
            ..Hyper::default()
        })
        .unwrap();
        km.reset(&d).unwrap();
        for _ in 0..6 {
            let r = km.step(&d).unwrap();
            let assigned = r.get(ASSIGNMENT).unwrap().as_slice().to_vec();
            let mu = r.get(CENTROIDS).unwrap();
            let mu = mu.as_slice();
            let brute = (0..500)
                .map(|i| {
                    let c = assigned[i] as usize;
                    (0..3)
                        .map(|j| (d.x()[(i, j)] - mu[j * 5 + c]).powi(2))
                        .sum::<f64>()
                })
                .sum::<f64>()
                / 500.0;
            assert!(
                (r.loss - brute).abs() < 1e-12 * brute,
                "step {}: {} vs {brute}",
                r.step,
                r.loss
            );
        }
    }

    #[test]
    fn hand_checked_two_clusters() {
        let d = data();
        let mut km = KMeans::new(&hyper(&[0, 1])).unwrap();
        let r0 = km.reset(&d).unwrap();
        // Centroids (0,0) and (0,1): rows 0 and 2 go to 0 (row 2 is at distance 1 from both → lowest index);
        // row 1 to 1; the far rows are nearer (0,1).
        assert_eq!(
            km.current
                .get()
                .map(|a| a.nearest.clone())
                .unwrap_or_default(),
            vec![0.0, 1.0, 0.0, 1.0, 1.0, 1.0]
        );
        let want0 = (0.0 + 0.0 + 1.0 + (100.0 + 81.0) + (100.0 + 100.0) + (121.0 + 81.0)) / 6.0;
        assert!((r0.loss - want0).abs() < 1e-12);
        km.step(&d).unwrap();
        // μ0 = mean of rows 0, 2 = (0.5, 0); μ1 = mean of rows 1, 3, 4, 5 = (7.75, 8).
        assert_eq!(km.params(), vec![0.5, 0.0, 7.75, 8.0]);
        let r = (0..10)
            .map(|_| km.step(&d).unwrap())
            .find(|r| r.converged)
            .unwrap();
        assert_eq!(
            km.params(),
            vec![1.0 / 3.0, 1.0 / 3.0, 31.0 / 3.0, 31.0 / 3.0]
        );
        assert!(r.note.unwrap().contains("no row changed"));
    }

    #[test]
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)] // Cluster ids are small integers.
    fn assignment_matches_brute_force_and_inertia_never_rises() {
        // Three features (one at a time) and six (a group of four, then two).
        for features in [3, 6] {
            let mut rng = Rng::new(2);
            let cols: Vec<Vec<f64>> = (0..features)
                .map(|_| (0..200).map(|_| rng.normal() * 3.0).collect())
                .collect();
            let names: Vec<String> = (0..features).map(|j| format!("x{j}")).collect();
            let names: Vec<&str> = names.iter().map(String::as_str).collect();
            let d = Dataset::from_columns(&names, &cols, None).unwrap();
            let mut km = KMeans::new(&Hyper {
                k: Some(5),
                seed: 4,
                ..Hyper::default()
            })
            .unwrap();
            let mut last = km.reset(&d).unwrap().loss;
            let mut converged = false;
            for _ in 0..50 {
                let c = km.centroids.clone();
                let r = km.step(&d).unwrap();
                // Brute force: every row against every old centroid.
                let assignment = r.get(ASSIGNMENT).unwrap().as_slice().to_vec();
                for i in 0..200 {
                    let dists: Vec<f64> = (0..5)
                        .map(|k| {
                            (0..features)
                                .map(|j| (d.x()[(i, j)] - c[(k, j)]).powi(2))
                                .sum()
                        })
                        .collect();
                    let best = dists.iter().copied().fold(f64::INFINITY, f64::min);
                    // Up to rounding: the pass adds four features at a time.
                    assert!(
                        dists[assignment[i] as usize] <= best * (1.0 + 1e-12),
                        "{features} features: row {i} is not at its nearest centroid"
                    );
                }
                assert!(r.loss <= last + 1e-12);
                last = r.loss;
                if r.converged {
                    converged = true;
                    break;
                }
            }
            assert!(
                converged,
                "{features} features: did not converge in 50 steps"
            );
        }
    }

    #[test]
    fn a_restored_copy_steps_like_the_original() {
        // A clone (a checkpoint) keeps no assignment: its next step finds
        // the assignment and the rows that changed cluster again.
        let mut rng = Rng::new(6);
        let cols: Vec<Vec<f64>> = (0..2)
            .map(|_| (0..300).map(|_| rng.normal()).collect())
            .collect();
        let d = Dataset::from_columns(&["a", "b"], &cols, None).unwrap();
        let mut km = KMeans::new(&Hyper {
            k: Some(4),
            ..Hyper::default()
        })
        .unwrap();
        km.reset(&d).unwrap();
        for _ in 0..2 {
            let old = km.step(&d).unwrap();
            km.recycle(old);
        }
        let mut copy = km.clone();
        assert!(copy.current.get().is_none());
        let (a, b) = (km.step(&d).unwrap(), copy.step(&d).unwrap());
        for s in [ASSIGNMENT, DISTANCE, SIZES, CHANGED, J] {
            assert_eq!(a.get(s), b.get(s), "{}", s.id);
        }
        assert_eq!(km.params(), copy.params());
    }

    #[test]
    fn bad_init_rows_and_k_are_refused() {
        let d = data();
        let e = KMeans::new(&hyper(&[0, 9])).unwrap().reset(&d).unwrap_err();
        assert!(
            e.to_string().contains("row 9") && e.to_string().contains("6 rows"),
            "{e}"
        );
        assert!(
            KMeans::new(&Hyper {
                k: Some(3),
                ..hyper(&[0, 1])
            })
            .is_err()
        );
        let e = KMeans::new(&hyper(&[2, 0, 2])).unwrap_err();
        assert!(e.to_string().contains("row 2 twice"), "{e}");
        assert!(
            KMeans::new(&Hyper {
                k: Some(7),
                ..Hyper::default()
            })
            .unwrap()
            .reset(&d)
            .is_err()
        );
    }

    #[test]
    fn an_empty_cluster_keeps_its_centroid_and_says_so() {
        // Two init rows with the same values: the second never wins a tie.
        let mut x = data().x().clone();
        x.set_row(1, &x.row(0).into_owned());
        let d = Dataset::from_columns(
            &["x", "y"],
            &[
                x.column(0).iter().copied().collect(),
                x.column(1).iter().copied().collect(),
            ],
            None,
        )
        .unwrap();
        let mut km = KMeans::new(&hyper(&[0, 1])).unwrap();
        km.reset(&d).unwrap();
        let r = km.step(&d).unwrap();
        assert!(r.note.unwrap().contains("cluster 1 got no rows"));
        assert_eq!(&km.params()[2..], &[0.0, 0.0]);
    }
}
