//! `logistic-regression`: p = σ(w·x + b), mean log-loss + (λ/2)‖w‖² (+ λ₁‖w‖₁),
//! by a first-order optimizer or by Newton's method (IRLS).

use super::linear::{self, B, GRAD_B, GRAD_W, J, LAMBDA, LAMBDA1, N, W};
use super::pass::{self, RowLoss};
use super::{AlgoError, Algorithm, DerivationStep, Entry, Hyper, Spare, StepRecord, Symbol};
use crate::data::Dataset;
use crate::optim::{self, Batches, ETA, GRAD_PREV, Optimizer, OptimizerKind, THETA, THETA_PREV};
use nalgebra::{DMatrix, DVector};

/// z: the score per row.
pub const Z: Symbol = Symbol {
    id: "z",
    latex: r"z_i",
    meaning: "score w·xᵢ + b of each row",
};
/// p: the predicted probability per row.
pub const P: Symbol = Symbol {
    id: "p",
    latex: r"p_i",
    meaning: "predicted probability of the second class for each row",
};
/// p − y per row.
pub const ERROR: Symbol = Symbol {
    id: "error",
    latex: r"p_i - y_i",
    meaning: "probability minus label, per row",
};
/// The Hessian (Newton).
pub const HESSIAN: Symbol = Symbol {
    id: "hessian",
    latex: "H",
    meaning: "Hessian of the objective (with the bias as last row and column)",
};

const MODEL_STEPS: &[DerivationStep] = &[
    DerivationStep {
        title: "Model",
        sentence: "A linear score per row, squashed by the sigmoid into the probability of the second class.",
        latex: r"z_i = \mathbf{w} \cdot \mathbf{x}_i + b, \qquad p_i = \sigma(z_i) = \frac{1}{1 + e^{-z_i}}",
        shows: &[W, B, Z, P],
    },
    DerivationStep {
        title: "Loss",
        sentence: "The mean negative log-likelihood of the labels (y = 0 or 1), plus the penalty on the weights.",
        latex: r"J = -\frac{1}{n} \sum_{i=1}^{n} \left[ y_i \log p_i + (1 - y_i) \log(1 - p_i) \right] + \frac{\lambda}{2} \|\mathbf{w}\|^2 + \lambda_1 \|\mathbf{w}\|_1",
        shows: &[J, N, LAMBDA, LAMBDA1],
    },
    DerivationStep {
        title: "Computing the loss cheaply",
        sentence: "Each row's loss is max(z, 0) − y·z plus log(1 + e^(−|z|)). The logarithms of many rows are added as the logarithm of their product: one logarithm for a run of rows instead of one per row. For rows with e = e^(−|z|) at most 2⁻¹⁰, log(1 + e) comes from its series e − e²/2 + e³/3 − e⁴/4 instead, since a product of factors that close to 1 would round them away.",
        latex: r"\begin{aligned} J_i &= \max(z_i, 0) - y_i z_i + \log\left(1 + e^{-|z_i|}\right) \\ \sum_{i} \log\left(1 + e^{-|z_i|}\right) &= \log \prod_{i} \left(1 + e^{-|z_i|}\right) \end{aligned}",
        shows: &[J, Z],
    },
    DerivationStep {
        title: "Chain rule",
        sentence: "The sigmoid's derivative σ(1 − σ) cancels the log's denominators, leaving probability minus label.",
        latex: r"\frac{\partial J_i}{\partial z_i} = -\frac{y_i}{p_i} p_i (1 - p_i) + \frac{1 - y_i}{1 - p_i} p_i (1 - p_i) = p_i - y_i",
        shows: &[ERROR],
    },
    DerivationStep {
        title: "Gradient",
        sentence: "Each row pushes the weights along its features in proportion to its error; the bias gets the mean error.",
        latex: r"\nabla_{\mathbf{w}} J = \frac{1}{n} X^\top (\mathbf{p} - \mathbf{y}) + \lambda \mathbf{w} + \lambda_1 \operatorname{sign}(\mathbf{w}), \qquad \frac{\partial J}{\partial b} = \frac{1}{n} \sum_{i=1}^{n} (p_i - y_i)",
        shows: &[GRAD_W, GRAD_B],
    },
];

const NEWTON_STEPS: &[DerivationStep] = &[
    DerivationStep {
        title: "Hessian",
        sentence: "Differentiating the gradient again weights each row by p(1 − p), its uncertainty; D leaves the bias, θ's last entry, unpenalized. The H shown is at this step's parameters: the next step's.",
        latex: r"H = \frac{1}{n} A^\top S A + \lambda D, \quad S = \operatorname{diag}\big(p_i (1 - p_i)\big), \quad A = \begin{pmatrix} X & \mathbf{1} \end{pmatrix}, \quad D = \operatorname{diag}(1, \dots, 1, 0)",
        shows: &[HESSIAN],
    },
    DerivationStep {
        title: "Newton step (IRLS)",
        sentence: "Jump to the minimum of the local quadratic model at the previous parameters; η = 1 is the full Newton step. Where H is singular (collinear features, or rows fitted so surely that p(1 − p) rounds to 0), its pseudo-inverse H⁺ gives the smallest step that minimizes the model; a step that changes no parameter beyond rounding (8 ulps of the largest) ends the run as converged once the gradient is below 10⁻⁶ of its size at step 0 (an overshooting η > 1 can leave every row fitted wrongly with p(1 − p) rounded to 0: H = 0, and the step stands still far from the minimum).",
        latex: r"\theta_t = \theta_{t-1} - \eta \, H_{t-1}^{-1} g_{t-1}",
        shows: &[THETA, THETA_PREV, ETA, GRAD_PREV],
    },
];

/// The registry entry.
pub const ENTRY: Entry = Entry {
    id: "logistic-regression",
    summary: "binary classifier p = σ(w·x + b) on the log-loss, by gradient descent or Newton / IRLS",
    supervised: true,
    classifies: true,
    create: |h| Ok(Box::new(LogisticRegression::new(h)?)),
    optimizers: OptimizerKind::ALL.split_at(1).1,
    default_l2: 0.0,
    default_k: 0,
};

/// How the parameters are updated.
#[derive(Debug, Clone)]
enum Method {
    FirstOrder(Optimizer),
    Newton { learning_rate: f64 },
}

/// Logistic regression.
#[derive(Debug, Clone)]
pub struct LogisticRegression {
    l2: f64,
    l1: f64,
    method: Method,
    batches: Batches,
    batches_init: Batches,
    w: DVector<f64>,
    b: f64,
    t: usize,
    features: Vec<String>,
    grad: Vec<f64>,
    /// ‖∇J‖ at step 0: a Newton step that moves nothing is convergence
    /// only where the gradient has fallen far below it.
    first_grad_norm: f64,
    /// The 0/1 target.
    y: linear::BinaryTarget,
    /// Whether records carry the per-row values (the window's plots).
    per_row: bool,
    /// On large data, whether only the rows drawn keep them
    /// ([`Algorithm::per_row_heads`]).
    sampled: bool,
    spare: Spare,
}

impl LogisticRegression {
    /// Builds it (default gd with η = 0.1; Newton takes full steps unless a learning rate is given).
    ///
    /// # Errors
    /// Invalid hyperparameters.
    pub fn new(hyper: &Hyper) -> Result<Self, AlgoError> {
        let method = if hyper.optimizer == Some(OptimizerKind::Newton) {
            let learning_rate = hyper.learning_rate.unwrap_or(1.0);
            optim::check_learning_rate(learning_rate)?;
            if hyper.l1 != 0.0 {
                return Err(AlgoError::Invalid(
                    "Newton's method needs a twice-differentiable loss, so it cannot use --l1; use a first-order optimizer".into(),
                ));
            }
            Method::Newton { learning_rate }
        } else {
            Method::FirstOrder(Optimizer::new(hyper, OptimizerKind::Gd, 0.1)?)
        };
        let batches = Batches::new(hyper.batch_size, hyper.seed)?;
        Ok(Self {
            l2: linear::check_penalty(hyper.l2.unwrap_or(0.0), "l2")?,
            l1: linear::check_penalty(hyper.l1, "l1")?,
            method,
            batches_init: batches.clone(),
            batches,
            w: DVector::zeros(0),
            b: 0.0,
            t: 0,
            features: Vec::new(),
            grad: Vec::new(),
            first_grad_norm: 0.0,
            y: linear::BinaryTarget::new(ENTRY.id, 0.0, 1.0),
            per_row: true,
            sampled: false,
            spare: Spare::default(),
        })
    }

    /// J at (w, b): the step's own fused pass, without its per-row values.
    fn loss_of(&self, x: &DMatrix<f64>, y: &DVector<f64>, w: &DVector<f64>, b: f64) -> f64 {
        let sums = pass::linear_pass(
            x,
            y.as_slice(),
            (w.as_slice(), b),
            RowLoss::Logistic,
            &mut [],
            |_| 0.0,
        );
        sums.loss / y.len() as f64 + optim::penalty(w.as_slice(), self.l2, self.l1)
    }

    fn evaluate(&mut self, data: &Dataset, y: &DVector<f64>) -> StepRecord {
        let n_rows = y.len();
        // On large data the window keeps z, p and σ − y at the rows drawn
        // only, taken from the pass's blocks while they are in cache.
        let (samples, rows) = pass::Samples::<3>::choose(self.per_row, self.sampled, n_rows);
        let mut z = self.spare.take(rows);
        let mut err = self.spare.take(rows);
        let mut p = self.spare.take(rows);
        let sums = pass::linear_pass(
            data.x(),
            y.as_slice(),
            (self.w.as_slice(), self.b),
            RowLoss::Logistic,
            &mut [&mut z, &mut err, &mut p],
            // p = σ(z) = (σ(z) − y) + y, while the block is in cache.
            #[inline(always)]
            |rows| {
                for ((p, e), y) in rows.extra.iter_mut().zip(&*rows.derivs).zip(rows.y) {
                    *p = e + y;
                }
                if let Some(samples) = &samples {
                    let (z, e, y) = (&*rows.scores, &*rows.derivs, rows.y);
                    samples.keep(rows.first, z.len(), |r| [z[r], e[r] + y[r], e[r]]);
                }
                0.0
            },
        );
        let n = n_rows as f64;
        let loss = sums.loss / n + optim::penalty(self.w.as_slice(), self.l2, self.l1);
        let (grad_w, grad_b) = linear::mean_of_sums(&sums, n, &self.w, self.l2, self.l1);
        let mut rec = StepRecord::new(self.t, loss);
        rec.vector(W, self.w.as_slice());
        rec.scalar(B, self.b);
        rec.per_row([Z, P, ERROR], samples, (self.per_row, [z, p, err]));
        rec.scalar(J, loss);
        rec.scalar(N, y.len() as f64);
        rec.scalar(LAMBDA, self.l2);
        rec.scalar(LAMBDA1, self.l1);
        rec.vector(GRAD_W, grad_w.as_slice());
        rec.scalar(GRAD_B, grad_b);
        self.grad = grad_w.iter().copied().chain([grad_b]).collect();
        rec
    }

    /// H = AᵀSA/n + λD at the current parameters.
    fn hessian(&self, x: &DMatrix<f64>) -> DMatrix<f64> {
        let (n, d) = x.shape();
        let p = linear::scores(x, &self.w, self.b).map(sigmoid);
        let a = x.clone().insert_column(d, 1.0);
        let mut sa = a.clone();
        for (i, mut row) in sa.row_iter_mut().enumerate() {
            row *= p[i] * (1.0 - p[i]);
        }
        let mut h = a.tr_mul(&sa) / n as f64;
        for j in 0..d {
            h[(j, j)] += self.l2;
        }
        h
    }
}

impl Algorithm for LogisticRegression {
    fn id(&self) -> &'static str {
        ENTRY.id
    }

    fn derivation(&self) -> Vec<DerivationStep> {
        let mut steps = MODEL_STEPS.to_vec();
        match &self.method {
            Method::FirstOrder(opt) => steps.extend_from_slice(opt.derivation()),
            Method::Newton { .. } => steps.extend_from_slice(NEWTON_STEPS),
        }
        steps
    }

    fn reset(&mut self, data: &Dataset) -> Result<StepRecord, AlgoError> {
        let y = self.y.reset(data)?;
        let d = data.n_features();
        if matches!(self.method, Method::Newton { .. }) {
            super::check_square(ENTRY.id, d, d + 1, 1)?;
        }
        self.w = DVector::zeros(d);
        self.b = 0.0;
        self.t = 0;
        self.batches = self.batches_init.clone();
        if let Method::FirstOrder(opt) = &mut self.method {
            opt.reset();
        }
        self.features = data.feature_names().to_vec();
        let mut rec = self.evaluate(data, &y);
        self.first_grad_norm = DVector::from_column_slice(&self.grad).norm();
        if matches!(self.method, Method::Newton { .. }) {
            rec.set(HESSIAN, super::Value::Matrix(self.hessian(data.x())));
        }
        Ok(rec)
    }

    fn step(&mut self, data: &Dataset) -> Result<StepRecord, AlgoError> {
        let y = self.y.get(data)?;
        let mut theta = self.params();
        let mut update = StepRecord::new(0, 0.0);
        // Whether a Newton step left every parameter as it was (but for
        // rounding: the last bits can go back and forth), at a gradient
        // about 0.
        let mut settled = false;
        match &mut self.method {
            Method::FirstOrder(opt) => {
                let grad = match self.batches.next_batch(data.n_rows()) {
                    None => std::mem::take(&mut self.grad),
                    Some(rows) => linear::batch_gradient(
                        data.x(),
                        &y,
                        &rows,
                        &self.w,
                        self.b,
                        self.l2,
                        self.l1,
                        |z, y| sigmoid(z) - y,
                    ),
                };
                opt.apply(&mut theta, &grad, &mut update);
                self.batches.record(&mut update, data.n_rows());
            }
            Method::Newton { learning_rate } => {
                let eta = *learning_rate;
                let h = self.hessian(data.x());
                let g = DVector::from_column_slice(&self.grad);
                let Some(delta) = newton_step(&h, &g) else {
                    return Err(AlgoError::Singular(format!(
                        "the Hessian at step {} has no eigen-decomposition (a value in it is not finite)",
                        self.t
                    )));
                };
                update.vector(THETA_PREV, theta.clone());
                update.vector(GRAD_PREV, self.grad.clone());
                update.scalar(ETA, eta);
                let before = theta.clone();
                for (th, dl) in theta.iter_mut().zip(delta.iter()) {
                    *th -= eta * dl;
                }
                // Where every p(1 − p) rounds to 0 on rows fitted wrongly
                // (after a step with η > 1 overshot), H is 0 and the step
                // stands still far from the minimum: not convergence.
                let largest = before.iter().fold(1.0f64, |m, v| m.max(v.abs()));
                let moved = theta
                    .iter()
                    .zip(&before)
                    .fold(0.0f64, |m, (a, b)| m.max((a - b).abs()));
                settled = moved <= 8.0 * f64::EPSILON * largest
                    && g.norm() <= 1e-6 * self.first_grad_norm;
                update.vector(THETA, theta.clone());
            }
        }
        let d = self.w.len();
        self.w = DVector::from_column_slice(&theta[..d]);
        self.b = theta[d];
        self.t += 1;
        let mut rec = self.evaluate(data, &y);
        if matches!(self.method, Method::Newton { .. }) {
            rec.set(HESSIAN, super::Value::Matrix(self.hessian(data.x())));
        }
        if settled {
            rec.converged = true;
            rec.note = Some(format!(
                "converged at step {}: the Newton step no longer changes the parameters beyond rounding",
                self.t
            ));
        }
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

    fn classify(&self, x: &DMatrix<f64>, flat: &[f64]) -> Option<Vec<usize>> {
        linear::side_of_hyperplane(x, flat)
    }

    fn recycle(&mut self, old: StepRecord) {
        self.spare.keep(old, &[Z, P, ERROR]);
    }

    fn keep_per_row(&mut self, keep: bool) {
        self.per_row = keep;
    }

    fn per_row_heads(&mut self, head: Option<usize>) {
        self.sampled = head.is_some();
    }

    fn learning_rate(&self) -> Option<f64> {
        Some(match &self.method {
            Method::FirstOrder(opt) => opt.learning_rate,
            Method::Newton { learning_rate } => *learning_rate,
        })
    }

    fn set_learning_rate(&mut self, learning_rate: f64) {
        if optim::check_learning_rate(learning_rate).is_err() {
            return;
        }
        match &mut self.method {
            Method::FirstOrder(opt) => opt.learning_rate = learning_rate,
            Method::Newton { learning_rate: lr } => *lr = learning_rate,
        }
    }

    fn stability_bound(&self, data: &Dataset) -> Option<f64> {
        // σ' ≤ 1/4 bounds the Hessian by AᵀA/(4n) + λD: the card's L.
        let optimizer = match &self.method {
            Method::FirstOrder(o) => o.kind,
            Method::Newton { .. } => OptimizerKind::Newton,
        };
        super::conditioning::stable_below(ENTRY.id, data, self.l2, Some(optimizer))
    }

    fn has_loss_surface(&self) -> bool {
        true
    }

    fn loss_at(&self, data: &Dataset, flat: &[f64]) -> Option<f64> {
        let y = data.binary_target(ENTRY.id, 0.0, 1.0).ok()?;
        let d = data.n_features();
        (flat.len() == d + 1).then(|| {
            self.loss_of(
                data.x(),
                &y,
                &DVector::from_column_slice(&flat[..d]),
                flat[d],
            )
        })
    }
}

pub use super::vmath::{sigmoid, softplus};

/// The Newton step δ = H⁻¹g: by Cholesky where H is well conditioned;
/// otherwise (collinear features, or rows fitted so surely that
/// p(1 − p) rounds to 0) the least-squares step of smallest norm, H⁺g,
/// from H's eigen-decomposition with eigenvalues below [`linear::RCOND`]
/// of the largest taken as 0 (0 when all of them are). `None` when H
/// holds a value that is not finite.
fn newton_step(h: &DMatrix<f64>, g: &DVector<f64>) -> Option<DVector<f64>> {
    if let Some(c) = linear::well_conditioned_cholesky(h.clone()) {
        return Some(c.solve(g));
    }
    if !h.iter().all(|v| v.is_finite()) {
        return None;
    }
    let eigen = h.clone().try_symmetric_eigen(f64::EPSILON, 10_000)?;
    let top = eigen.eigenvalues.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    let mut delta = DVector::zeros(g.len());
    for (k, &lambda) in eigen.eigenvalues.iter().enumerate() {
        if lambda > linear::RCOND * top {
            let q = eigen.eigenvectors.column(k);
            delta += q * (q.dot(g) / lambda);
        }
    }
    Some(delta)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::algorithms::linear::recorded;

    fn overlapping(n: usize) -> Dataset {
        let mut rng = crate::rng::Rng::new(11);
        let mut a = Vec::new();
        let mut b = Vec::new();
        let mut y = Vec::new();
        for i in 0..n {
            let label = (i % 2) as f64;
            a.push(rng.normal() + label);
            b.push(rng.normal() * 0.5 - label * 0.5);
            y.push(label);
        }
        Dataset::from_columns(&["a", "b"], &[a, b], Some(("y", y))).unwrap()
    }

    #[test]
    fn on_large_data_the_window_keeps_the_drawn_rows_of_z_p_and_the_error_only() {
        // On two threads, three rows per drawn one, and a ragged last block.
        let data = overlapping(2 * crate::algorithms::DRAWN_ROWS + 1);
        crate::algorithms::assert_keeps_the_drawn_rows(
            || Box::new(LogisticRegression::new(&Hyper::default()).unwrap()),
            &data,
            &[Z, P, ERROR],
            GRAD_W,
        );
    }

    fn run(h: &Hyper, data: &Dataset, steps: usize) -> LogisticRegression {
        let mut alg = LogisticRegression::new(h).unwrap();
        alg.reset(data).unwrap();
        for _ in 0..steps {
            alg.step(data).unwrap();
        }
        alg
    }

    #[test]
    fn first_step_by_hand() {
        let data =
            Dataset::from_columns(&["x"], &[vec![-1.0, 1.0]], Some(("y", vec![0.0, 1.0]))).unwrap();
        let mut alg = LogisticRegression::new(&Hyper {
            learning_rate: Some(1.0),
            ..Hyper::default()
        })
        .unwrap();
        let r0 = alg.reset(&data).unwrap();
        assert!((r0.loss - 2f64.ln()).abs() < 1e-12);
        // p = ½ everywhere: ∂J/∂w = ((½)(−1) + (−½)(1))/2 = −½, ∂J/∂b = 0.
        assert_eq!(recorded(&r0, GRAD_W), &[-0.5]);
        alg.step(&data).unwrap();
        assert_eq!(alg.params(), vec![0.5, 0.0]);
    }

    #[test]
    fn gradient_matches_finite_differences() {
        let data = overlapping(60);
        let h = Hyper {
            l2: Some(0.2),
            ..Hyper::default()
        };
        let mut alg = run(&h, &data, 5);
        let theta = alg.params();
        let y = data.binary_target("t", 0.0, 1.0).unwrap();
        alg.evaluate(&data, &y);
        for k in 0..theta.len() {
            let mut plus = theta.clone();
            let mut minus = theta.clone();
            plus[k] += 1e-6;
            minus[k] -= 1e-6;
            let fd =
                (alg.loss_at(&data, &plus).unwrap() - alg.loss_at(&data, &minus).unwrap()) / 2e-6;
            assert!((fd - alg.grad[k]).abs() < 1e-7, "{fd} vs {}", alg.grad[k]);
        }
    }

    #[test]
    fn newton_converges_in_few_steps_to_the_gradient_descent_optimum() {
        let data = overlapping(200);
        let newton = run(
            &Hyper {
                optimizer: Some(OptimizerKind::Newton),
                ..Hyper::default()
            },
            &data,
            8,
        );
        let gd = run(
            &Hyper {
                learning_rate: Some(1.0),
                ..Hyper::default()
            },
            &data,
            20_000,
        );
        for (a, b) in newton.params().iter().zip(gd.params()) {
            assert!((a - b).abs() < 1e-6, "{a} vs {b}");
        }
        // The gradient at Newton's point is essentially zero.
        assert!(
            newton.grad.iter().all(|g| g.abs() < 1e-10),
            "{:?}",
            newton.grad
        );
    }

    #[test]
    fn loss_never_increases_for_a_small_step() {
        let data = overlapping(100);
        let mut alg = LogisticRegression::new(&Hyper::default()).unwrap();
        let mut last = alg.reset(&data).unwrap().loss;
        for _ in 0..200 {
            let l = alg.step(&data).unwrap().loss;
            assert!(l <= last + 1e-15);
            last = l;
        }
    }

    #[test]
    fn text_labels_map_in_sorted_order_and_three_classes_are_refused() {
        let data = Dataset::from_columns(
            &["x"],
            &[vec![1.0, 2.0, 3.0]],
            Some(("y", vec![5.0, 7.0, 9.0])),
        )
        .unwrap();
        let err = LogisticRegression::new(&Hyper::default())
            .unwrap()
            .reset(&data)
            .unwrap_err();
        assert!(
            err.to_string().contains("exactly two classes")
                && err
                    .to_string()
                    .contains("softmax-regression and mlp take more"),
            "{err}"
        );
    }

    fn newton(data: &Dataset, steps: usize) -> (LogisticRegression, StepRecord) {
        newton_at(data, steps, None)
    }

    fn newton_at(
        data: &Dataset,
        steps: usize,
        learning_rate: Option<f64>,
    ) -> (LogisticRegression, StepRecord) {
        let mut alg = LogisticRegression::new(&Hyper {
            optimizer: Some(OptimizerKind::Newton),
            learning_rate,
            ..Hyper::default()
        })
        .unwrap();
        let mut rec = alg.reset(data).unwrap();
        for _ in 0..steps {
            rec = alg.step(data).unwrap();
            if rec.converged {
                break;
            }
        }
        (alg, rec)
    }

    #[test]
    fn an_overshooting_newton_step_that_stands_still_is_not_convergence() {
        // Overlapping classes: at η = 3 the steps overshoot until every
        // row's p(1 − p) rounds to 0, many of them fitted wrongly.
        let mut rng = crate::rng::Rng::new(7);
        let (mut u, mut v, mut y) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..60 {
            let (a, b) = (rng.normal(), rng.normal());
            let p = sigmoid(0.5 + 1.2 * a - 0.8 * b);
            u.push(a);
            v.push(b);
            y.push(f64::from(u8::from(rng.uniform() < p)));
        }
        let data = Dataset::from_columns(&["u", "v"], &[u, v], Some(("y", y))).unwrap();
        let (alg, rec) = newton_at(&data, 300, Some(3.0));
        let g = DVector::from_column_slice(&alg.grad).norm();
        assert!(
            !rec.converged && g > 1e-3,
            "step {}: converged {} at ‖∇J‖ = {g}, loss {}",
            rec.step,
            rec.converged,
            rec.loss
        );
        // The full step still converges, at a gradient about 0.
        let (alg, rec) = newton(&data, 100);
        let g = DVector::from_column_slice(&alg.grad).norm();
        assert!(rec.converged && rec.step <= 15 && g < 1e-9);
    }

    #[test]
    fn separable_data_lets_newton_run_until_its_step_changes_nothing() {
        let data = Dataset::from_columns(
            &["x"],
            &[vec![-2.0, -1.0, 1.0, 2.0]],
            Some(("y", vec![0.0, 0.0, 1.0, 1.0])),
        )
        .unwrap();
        // The weights grow until every p(1 − p) rounds to 0 (|z| above
        // about 37, where σ(z) rounds to 1): H = 0 and the step is 0.
        let (alg, rec) = newton(&data, 2_000);
        assert!(rec.converged, "still going at step {}", rec.step);
        assert!(
            rec.note
                .as_deref()
                .is_some_and(|n| n.contains("no longer changes"))
        );
        assert!(alg.params().iter().all(|v| v.is_finite()));
        assert!(alg.w[0] > 0.0);
        // Every row on its side: each row's loss is ln(1 + e^{−|z|}),
        // tiny but not 0 (it is not lost to rounding z + ln(1 + e) − z).
        let loss = [-2.0, -1.0, 1.0, 2.0]
            .iter()
            .map(|x: &f64| (-(alg.w[0] * x + alg.b).abs()).exp().ln_1p())
            .sum::<f64>()
            / 4.0;
        assert!(loss > 0.0 && loss < 1e-15, "{loss}");
        assert!(
            (rec.loss - loss).abs() < 1e-12 * loss,
            "{} vs {loss}",
            rec.loss
        );
    }

    #[test]
    fn collinear_features_take_the_smallest_newton_step() {
        // A copy of a feature: H is singular from the start. The
        // pseudo-inverse splits the weight evenly between the copies and
        // reaches the one-feature optimum.
        let one = overlapping(200);
        let a = one.x().column(0).iter().copied().collect::<Vec<_>>();
        let b = one.x().column(1).iter().copied().collect::<Vec<_>>();
        let y: Vec<f64> = one
            .target()
            .unwrap()
            .class_ids
            .iter()
            .map(|&c| c as f64)
            .collect();
        let two =
            Dataset::from_columns(&["a", "a2", "b"], &[a.clone(), a, b], Some(("y", y))).unwrap();
        let (single, r1) = newton(&one, 30);
        let (double, r2) = newton(&two, 30);
        assert!(
            (r1.loss - r2.loss).abs() < 1e-12,
            "{} vs {}",
            r1.loss,
            r2.loss
        );
        let (w1, w2) = (&single.w, &double.w);
        assert!((w2[0] - w2[1]).abs() < 1e-9, "{w2:?}");
        assert!((w2[0] + w2[1] - w1[0]).abs() < 1e-9, "{w1:?} {w2:?}");
        assert!((w2[2] - w1[1]).abs() < 1e-9 && (double.b - single.b).abs() < 1e-9);
    }
}
