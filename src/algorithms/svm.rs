//! `linear-svm`: J = (λ/2)‖w‖² + 1/n Σ max(0, 1 − yᵢ(w·xᵢ + b)), y ∈ {−1, +1};
//! Pegasos (η_t = 1/(λt), mini-batches) or subgradient descent with a fixed rate.

use super::linear::{self, B, GRAD_B, GRAD_W, J, LAMBDA, LAMBDA1, W};
use super::pass::{self, RowLoss};
use super::{AlgoError, Algorithm, DerivationStep, Entry, Hyper, Spare, StepRecord, Symbol};
use crate::data::Dataset;
use crate::optim::{self, Batches, ETA, GRAD_PREV, Optimizer, OptimizerKind, THETA, THETA_PREV};
use nalgebra::{DMatrix, DVector};

/// mᵢ = yᵢ(w·xᵢ + b) per row.
pub const MARGINS: Symbol = Symbol {
    id: "margins",
    latex: r"m_i",
    meaning: "functional margin yᵢ(w·xᵢ + b) of each row",
};
/// max(0, 1 − mᵢ) per row.
pub const HINGE: Symbol = Symbol {
    id: "hinge",
    latex: r"\max(0, 1 - m_i)",
    meaning: "hinge loss of each row",
};
/// 1 where mᵢ < 1 (the rows that push the hyperplane).
pub const VIOLATORS: Symbol = Symbol {
    id: "violators",
    latex: r"\mathbf{1}[m_i < 1]",
    meaning: "1 for rows inside the margin or misclassified (they enter the subgradient)",
};
/// Rows on or inside the margin (mᵢ ≤ 1).
pub const SUPPORT: Symbol = Symbol {
    id: "support_vectors",
    latex: r"\#\{i : m_i \le 1\}",
    meaning: "number of rows on or inside the margin",
};

const MODEL_STEPS: &[DerivationStep] = &[
    DerivationStep {
        title: "Model and margins",
        sentence: "Classify by the sign of w·x + b; a row's margin is positive when it is on the right side, and at least 1 when it is also outside the margin band.",
        latex: r"\hat{y} = \operatorname{sign}(\mathbf{w} \cdot \mathbf{x} + b), \qquad m_i = y_i (\mathbf{w} \cdot \mathbf{x}_i + b)",
        shows: &[W, B, MARGINS],
    },
    DerivationStep {
        title: "Objective",
        sentence: "Penalize every row whose margin is below 1, and keep w small so the band 2/‖w‖ is wide.",
        latex: r"J(\mathbf{w}, b) = \frac{\lambda}{2} \|\mathbf{w}\|^2 + \lambda_1 \|\mathbf{w}\|_1 + \frac{1}{n} \sum_{i=1}^{n} \max(0, 1 - m_i)",
        shows: &[J, LAMBDA, LAMBDA1, HINGE],
    },
    DerivationStep {
        title: "Subgradient",
        sentence: "The hinge is flat for margins above 1 and has slope −yᵢxᵢ below; at exactly 1 we take the flat piece (0), a valid subgradient.",
        latex: r"\partial_{\mathbf{w}} J = \lambda \mathbf{w} + \lambda_1 \operatorname{sign}(\mathbf{w}) - \frac{1}{n} \sum_{i : m_i < 1} y_i \mathbf{x}_i, \qquad \partial_b J = -\frac{1}{n} \sum_{i : m_i < 1} y_i",
        shows: &[GRAD_W, GRAD_B, VIOLATORS, SUPPORT],
    },
];

const PEGASOS_STEP: DerivationStep = DerivationStep {
    title: "Pegasos step",
    sentence: "Step against the subgradient of this step's mini-batch A (all n rows unless a batch size is set), its margins taken at the previous w and b, with the rate 1/(λt) that decreases with the step t; the bias is not shrunk. The first steps are long (η₁ = 1/λ, 100 for λ = 0.01), so the loss may jump up before it settles; a larger λ takes shorter steps.",
    latex: r"\begin{aligned} \eta_t &= \frac{1}{\lambda t} \\ \mathbf{w}_t &= (1 - \eta_t \lambda) \mathbf{w}_{t-1} - \eta_t \lambda_1 \operatorname{sign}(\mathbf{w}_{t-1}) + \frac{\eta_t}{|A_t|} \sum_{i \in A_t : m_i < 1} y_i \mathbf{x}_i \\ b_t &= b_{t-1} + \frac{\eta_t}{|A_t|} \sum_{i \in A_t : m_i < 1} y_i \end{aligned}",
    shows: &[THETA_PREV, THETA, ETA_T, BATCH],
};

/// |A_t|: the rows of this step's mini-batch.
const BATCH: Symbol = Symbol {
    id: "batch_rows",
    latex: r"|A_t|",
    meaning: "rows in this step's mini-batch (all n without a batch size)",
};

/// Pegasos's rate, the record's η under the name its formula uses.
const ETA_T: Symbol = Symbol {
    latex: r"\eta_t",
    meaning: "Pegasos's rate 1/(λt) at this step",
    ..ETA
};

/// The registry entry.
pub const ENTRY: Entry = Entry {
    id: "linear-svm",
    summary: "linear SVM on the hinge loss, by Pegasos (η_t = 1/(λt), mini-batches) or subgradient descent",
    supervised: true,
    classifies: true,
    create: |h| Ok(Box::new(LinearSvm::new(h)?)),
    optimizers: OptimizerKind::ALL.split_at(7).0,
    default_l2: 0.01,
    default_k: 0,
};

/// How the parameters are updated.
#[derive(Debug, Clone)]
enum Method {
    Pegasos,
    FirstOrder(Optimizer),
}

/// A linear SVM.
#[derive(Debug, Clone)]
pub struct LinearSvm {
    l2: f64,
    l1: f64,
    method: Method,
    batches: Batches,
    batches_init: Batches,
    w: DVector<f64>,
    b: f64,
    t: usize,
    features: Vec<String>,
    /// The ±1 target.
    y: linear::BinaryTarget,
    grad: Vec<f64>,
    /// Whether records carry the per-row values (the window's plots).
    per_row: bool,
    /// On large data, whether only the rows drawn keep them
    /// ([`Algorithm::per_row_heads`]).
    sampled: bool,
    spare: Spare,
}

/// The subgradient [∂w; ∂b] of the hinge objective on the mini-batch `rows`.
fn subgradient(
    x: &DMatrix<f64>,
    y: &DVector<f64>,
    rows: &[usize],
    w: &DVector<f64>,
    b: f64,
    l2: f64,
    l1: f64,
) -> Vec<f64> {
    let d = w.len();
    let mut g = vec![0.0; d + 1];
    for &i in rows {
        let s = (0..d).map(|j| x[(i, j)] * w[j]).sum::<f64>() + b;
        if y[i] * s < 1.0 {
            for j in 0..d {
                g[j] -= y[i] * x[(i, j)];
            }
            g[d] -= y[i];
        }
    }
    let m = rows.len().max(1) as f64;
    for v in &mut g {
        *v /= m;
    }
    for j in 0..d {
        g[j] += l2 * w[j];
    }
    optim::add_penalty_gradient(&mut g[..d], w.as_slice(), 0.0, l1);
    g
}

impl LinearSvm {
    /// Builds it (λ defaults to 0.01; Pegasos unless another optimizer is named).
    ///
    /// # Errors
    /// λ ≤ 0 with Pegasos, Newton, or other invalid hyperparameters.
    pub fn new(hyper: &Hyper) -> Result<Self, AlgoError> {
        let l2 = linear::check_penalty(hyper.l2.unwrap_or(ENTRY.default_l2), "l2")?;
        let method = match hyper.optimizer {
            None | Some(OptimizerKind::Pegasos) => {
                if l2 <= 0.0 {
                    return Err(AlgoError::Invalid(
                        "Pegasos needs --l2 > 0 (its rate is 1/(λt)); use --optimizer gd for λ = 0"
                            .into(),
                    ));
                }
                Method::Pegasos
            }
            Some(_) => Method::FirstOrder(Optimizer::new(hyper, OptimizerKind::Gd, 0.1)?),
        };
        let batches = Batches::new(hyper.batch_size, hyper.seed)?;
        Ok(Self {
            l2,
            l1: linear::check_penalty(hyper.l1, "l1")?,
            method,
            batches_init: batches.clone(),
            batches,
            w: DVector::zeros(0),
            b: 0.0,
            t: 0,
            features: Vec::new(),
            y: linear::BinaryTarget::new(ENTRY.id, -1.0, 1.0),
            grad: Vec::new(),
            per_row: true,
            sampled: false,
            spare: Spare::default(),
        })
    }

    fn evaluate(&mut self, data: &Dataset, y: &DVector<f64>) -> StepRecord {
        // One fused pass over X: scores, hinge terms and the subgradient's sums.
        let n_rows = y.len();
        // The pass's scores become the margins and its row derivatives the
        // hinge terms, in place, in buffers recycled from an earlier record.
        // On large data the window keeps them at the rows drawn only, taken
        // from the pass's blocks while they are in cache.
        let (samples, rows) = pass::Samples::<3>::choose(self.per_row, self.sampled, n_rows);
        let mut margins = self.spare.take(rows);
        let mut hinge = self.spare.take(rows);
        let mut violators = self.spare.take(rows);
        let violator = |m: f64| if m < 1.0 { 1.0 } else { 0.0 };
        let sums = pass::linear_pass(
            data.x(),
            y.as_slice(),
            (self.w.as_slice(), self.b),
            RowLoss::Hinge,
            &mut [&mut margins, &mut hinge, &mut violators],
            // While the block is in cache: margins yᵢsᵢ and a count of the
            // support vectors, then (when kept) the hinge terms (the per-row
            // losses) and the violators.
            #[inline(always)]
            |rows| {
                for (m, &y) in rows.scores.iter_mut().zip(rows.y) {
                    *m *= y;
                }
                // Counted in whole numbers, so the loop runs on vector
                // instructions (a floating-point sum keeps its row order).
                let support = rows.scores.iter().filter(|&&m| m <= 1.0 + 1e-9).count();
                let per_row = rows.derivs.iter_mut().zip(rows.extra.iter_mut());
                for ((h, v), (&l, &m)) in per_row.zip(rows.losses.iter().zip(&*rows.scores)) {
                    *h = l;
                    *v = violator(m);
                }
                if let Some(samples) = &samples {
                    let (m, l) = (&*rows.scores, rows.losses);
                    samples.keep(rows.first, m.len(), |r| [violator(m[r]), m[r], l[r]]);
                }
                support as f64
            },
        );
        let n = n_rows as f64;
        let loss = sums.loss / n + optim::penalty(self.w.as_slice(), self.l2, self.l1);
        let (grad_w, grad_b) = linear::mean_of_sums(&sums, n, &self.w, self.l2, self.l1);
        self.grad = grad_w.into_iter().chain([grad_b]).collect();
        let d = self.w.len();
        let mut rec = StepRecord::new(self.t, loss);
        rec.vector(W, self.w.as_slice());
        rec.scalar(B, self.b);
        rec.scalar(J, loss);
        rec.scalar(LAMBDA, self.l2);
        rec.scalar(LAMBDA1, self.l1);
        rec.vector(GRAD_W, &self.grad[..d]);
        rec.scalar(GRAD_B, self.grad[d]);
        rec.scalar(SUPPORT, sums.tally);
        let whole = [violators, margins, hinge];
        rec.per_row([VIOLATORS, MARGINS, HINGE], samples, (self.per_row, whole));
        rec
    }
}

impl Algorithm for LinearSvm {
    fn id(&self) -> &'static str {
        ENTRY.id
    }

    fn derivation(&self) -> Vec<DerivationStep> {
        let mut steps = MODEL_STEPS.to_vec();
        match &self.method {
            Method::Pegasos => steps.push(PEGASOS_STEP),
            Method::FirstOrder(opt) => steps.extend_from_slice(opt.derivation()),
        }
        steps
    }

    fn reset(&mut self, data: &Dataset) -> Result<StepRecord, AlgoError> {
        let y = self.y.reset(data)?;
        self.w = DVector::zeros(data.n_features());
        self.b = 0.0;
        self.t = 0;
        self.batches = self.batches_init.clone();
        if let Method::FirstOrder(opt) = &mut self.method {
            opt.reset();
        }
        self.features = data.feature_names().to_vec();
        Ok(self.evaluate(data, &y))
    }

    fn step(&mut self, data: &Dataset) -> Result<StepRecord, AlgoError> {
        let y = self.y.get(data)?;
        let grad = match self.batches.next_batch(data.n_rows()) {
            None => std::mem::take(&mut self.grad),
            Some(rows) => subgradient(data.x(), &y, &rows, &self.w, self.b, self.l2, self.l1),
        };
        let mut theta = self.params();
        let mut update = StepRecord::new(0, 0.0);
        match &mut self.method {
            Method::Pegasos => {
                let eta = 1.0 / (self.l2 * (self.t + 1) as f64);
                update.vector(THETA_PREV, theta.clone());
                update.vector(GRAD_PREV, grad.clone());
                update.scalar(ETA, eta);
                #[allow(clippy::cast_precision_loss)]
                update.scalar(BATCH, self.batches.last_rows(data.n_rows()) as f64);
                for (th, g) in theta.iter_mut().zip(&grad) {
                    *th -= eta * g;
                }
                update.vector(THETA, theta.clone());
            }
            Method::FirstOrder(opt) => {
                opt.apply(&mut theta, &grad, &mut update);
                self.batches.record(&mut update, data.n_rows());
            }
        }
        let d = self.w.len();
        self.w = DVector::from_column_slice(&theta[..d]);
        self.b = theta[d];
        self.t += 1;
        let mut rec = self.evaluate(data, &y);
        rec.values.extend(update.values);
        Ok(rec)
    }

    fn params(&self) -> Vec<f64> {
        self.w.iter().copied().chain([self.b]).collect()
    }

    fn param_names(&self) -> Vec<String> {
        linear::weight_names(&self.features)
    }

    fn params_json(&self, flat: &[f64]) -> serde_json::Value {
        linear::weights_bias_json(flat)
    }

    fn boxed_clone(&self) -> Box<dyn Algorithm> {
        Box::new(self.clone())
    }

    fn recycle(&mut self, old: StepRecord) {
        self.spare.keep(old, &[MARGINS, HINGE, VIOLATORS]);
    }

    fn keep_per_row(&mut self, keep: bool) {
        self.per_row = keep;
    }

    fn per_row_heads(&mut self, head: Option<usize>) {
        self.sampled = head.is_some();
    }

    fn classify(&self, x: &DMatrix<f64>, flat: &[f64]) -> Option<Vec<usize>> {
        linear::side_of_hyperplane(x, flat)
    }

    fn learning_rate(&self) -> Option<f64> {
        match &self.method {
            Method::Pegasos => None,
            Method::FirstOrder(opt) => Some(opt.learning_rate),
        }
    }

    fn set_learning_rate(&mut self, learning_rate: f64) {
        if let Method::FirstOrder(opt) = &mut self.method
            && optim::check_learning_rate(learning_rate).is_ok()
        {
            opt.learning_rate = learning_rate;
        }
    }

    fn has_loss_surface(&self) -> bool {
        true
    }

    fn loss_at(&self, data: &Dataset, flat: &[f64]) -> Option<f64> {
        let y = data.binary_target(ENTRY.id, -1.0, 1.0).ok()?;
        let d = data.n_features();
        if flat.len() != d + 1 {
            return None;
        }
        let w = DVector::from_column_slice(&flat[..d]);
        let s = linear::scores(data.x(), &w, flat[d]);
        let hinge: f64 = s
            .iter()
            .zip(y.iter())
            .map(|(s, y)| (1.0 - s * y).max(0.0))
            .sum();
        Some(hinge / y.len() as f64 + optim::penalty(w.as_slice(), self.l2, self.l1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Four points symmetric about the origin: the max-margin separator is
    /// w ∝ (1, 0), b = 0, with the points at x = ±1 on the margin.
    fn symmetric() -> Dataset {
        Dataset::from_columns(
            &["x1", "x2"],
            &[
                vec![1.0, 1.0, -1.0, -1.0, 2.0, -2.0],
                vec![1.0, -1.0, 1.0, -1.0, 0.5, -0.5],
            ],
            Some(("y", vec![1.0, 1.0, 0.0, 0.0, 1.0, 0.0])),
        )
        .unwrap()
    }

    #[test]
    fn on_large_data_the_window_keeps_the_drawn_rows_of_the_margins_only() {
        // On two threads, three rows per drawn one, and a ragged last block.
        let n = 2 * crate::algorithms::DRAWN_ROWS + 1;
        let mut rng = crate::rng::Rng::new(5);
        let x: Vec<Vec<f64>> = (0..2)
            .map(|_| (0..n).map(|_| rng.normal()).collect())
            .collect();
        let y: Vec<f64> = (0..n)
            .map(|i| f64::from(u8::from(x[0][i] + 0.3 * rng.normal() > 0.0)))
            .collect();
        let data = Dataset::from_columns(&["a", "b"], &x, Some(("y", y))).unwrap();
        crate::algorithms::assert_keeps_the_drawn_rows(
            || Box::new(LinearSvm::new(&Hyper::default()).unwrap()),
            &data,
            &[MARGINS, HINGE, VIOLATORS],
            GRAD_W,
        );
    }

    fn run(h: &Hyper, steps: usize) -> (LinearSvm, Dataset) {
        let d = symmetric();
        let mut s = LinearSvm::new(h).unwrap();
        s.reset(&d).unwrap();
        for _ in 0..steps {
            s.step(&d).unwrap();
        }
        (s, d)
    }

    #[test]
    fn pegasos_records_the_size_of_each_mini_batch() {
        let d = symmetric();
        let sizes = |batch_size| {
            let mut s = LinearSvm::new(&Hyper {
                batch_size,
                ..Hyper::default()
            })
            .unwrap();
            s.reset(&d).unwrap();
            (0..4)
                .map(|_| {
                    s.step(&d)
                        .unwrap()
                        .get(BATCH)
                        .and_then(crate::algorithms::Value::as_scalar)
                })
                .collect::<Vec<_>>()
        };
        // Six rows in batches of four: 4, then the 2 left, then a new epoch.
        assert_eq!(sizes(Some(4)), [Some(4.0), Some(2.0), Some(4.0), Some(2.0)]);
        assert_eq!(sizes(None), [Some(6.0); 4]);
    }

    #[test]
    fn reaches_the_known_optimum() {
        // For small λ every margin constraint yᵢ(w·xᵢ + b) ≥ 1 is met with w = (1, 0), b = 0,
        // which minimises ‖w‖ subject to them; with λ = 0.01 the regularized optimum is that point:
        // J = λ/2 and no row has hinge loss. Compare J with it.
        let h = Hyper {
            l2: Some(0.01),
            ..Hyper::default()
        };
        let (s, d) = run(&h, 20_000);
        let at_optimum = s.loss_at(&d, &[1.0, 0.0, 0.0]).unwrap();
        assert!((at_optimum - 0.005).abs() < 1e-12);
        let j = s.loss_at(&d, &s.params()).unwrap();
        assert!(
            j - at_optimum < 2e-3,
            "Pegasos J = {j}, optimum {at_optimum}"
        );
        let p = s.params();
        assert!(
            (p[0] - 1.0).abs() < 0.05 && p[1].abs() < 0.05 && p[2].abs() < 0.05,
            "{p:?}"
        );
    }

    #[test]
    fn first_pegasos_step_by_hand() {
        // At w = 0 every margin is 0 < 1: w₁ = (1/λ)(1/n) Σ yᵢxᵢ, b₁ = (1/λ)(1/n) Σ yᵢ = 0.
        let (s, d) = run(
            &Hyper {
                l2: Some(0.5),
                ..Hyper::default()
            },
            1,
        );
        let y = d.binary_target("t", -1.0, 1.0).unwrap();
        let mean_yx0: f64 = (0..6).map(|i| y[i] * d.x()[(i, 0)]).sum::<f64>() / 6.0;
        let p = s.params();
        assert!((p[0] - mean_yx0 / 0.5).abs() < 1e-12 && p[2].abs() < 1e-12);
    }

    #[test]
    fn subgradient_matches_finite_differences_away_from_kinks() {
        let (mut s, d) = run(
            &Hyper {
                l2: Some(0.1),
                optimizer: Some(OptimizerKind::Gd),
                learning_rate: Some(0.05),
                ..Hyper::default()
            },
            7,
        );
        let y = d.binary_target("t", -1.0, 1.0).unwrap();
        s.evaluate(&d, &y);
        let theta = s.params();
        for k in 0..3 {
            let mut plus = theta.clone();
            let mut minus = theta.clone();
            plus[k] += 1e-7;
            minus[k] -= 1e-7;
            let fd = (s.loss_at(&d, &plus).unwrap() - s.loss_at(&d, &minus).unwrap()) / 2e-7;
            assert!((fd - s.grad[k]).abs() < 1e-6, "{k}: {fd} vs {}", s.grad[k]);
        }
        // The mini-batch subgradient over every row is the fused pass's.
        let all: Vec<usize> = (0..d.n_rows()).collect();
        let g = subgradient(d.x(), &y, &all, &s.w, s.b, s.l2, s.l1);
        for (a, b) in g.iter().zip(&s.grad) {
            assert!((a - b).abs() < 1e-12, "{a} vs {b}");
        }
    }

    #[test]
    fn seeded_mini_batches_are_reproducible() {
        let h = Hyper {
            batch_size: Some(2),
            seed: 5,
            ..Hyper::default()
        };
        assert_eq!(run(&h, 30).0.params(), run(&h, 30).0.params());
        assert!(
            LinearSvm::new(&Hyper {
                l2: Some(0.0),
                ..Hyper::default()
            })
            .is_err()
        );
    }
}
