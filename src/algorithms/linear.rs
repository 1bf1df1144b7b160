//! `linear-regression`: ŷ = w·x + b, J = 1/(2n)‖Xw + b − y‖² + (λ/2)‖w‖² (+ λ₁‖w‖₁),
//! stepped by a first-order optimizer; the normal equations as the reference.
//!
//! Also the pieces every linear model shares: the symbols w, b, J, the scores
//! Xw + b, the gradient (1/n)Xᵀr, the JSON of weights and bias, and the
//! binary classifiers' two-valued target.

use super::Spare;
use super::pass::{self, PassSums, RowLoss};
use super::{
    AlgoError, Algorithm, DerivationStep, Entry, Hyper, Reference, StepRecord, Symbol, Value,
};
use crate::data::Dataset;
use crate::optim::{self, Batches, Optimizer, OptimizerKind};
use nalgebra::{DMatrix, DVector};
use std::sync::Arc;

/// w: the weights.
pub const W: Symbol = Symbol {
    id: "w",
    latex: r"\mathbf{w}",
    meaning: "weights, one per feature",
};
/// b: the bias.
pub const B: Symbol = Symbol {
    id: "b",
    latex: "b",
    meaning: "bias (intercept)",
};
/// J: the objective.
pub const J: Symbol = Symbol {
    id: "loss",
    latex: "J",
    meaning: "the objective at the current parameters",
};
/// λ: L2 strength.
pub const LAMBDA: Symbol = Symbol {
    id: "lambda",
    latex: r"\lambda",
    meaning: "L2 regularization strength",
};
/// λ₁: L1 strength.
pub const LAMBDA1: Symbol = Symbol {
    id: "lambda1",
    latex: r"\lambda_1",
    meaning: "L1 regularization strength",
};
/// n: the number of rows.
pub const N: Symbol = Symbol {
    id: "n",
    latex: "n",
    meaning: "number of rows",
};
/// ∇_w J at the current parameters.
pub const GRAD_W: Symbol = Symbol {
    id: "grad_w",
    latex: r"\nabla_{\mathbf{w}} J",
    meaning: "gradient of the objective with respect to the weights",
};
/// ∂J/∂b at the current parameters.
pub const GRAD_B: Symbol = Symbol {
    id: "grad_b",
    latex: r"\frac{\partial J}{\partial b}",
    meaning: "derivative of the objective with respect to the bias",
};
/// ŷ: predictions per row.
pub const YHAT: Symbol = Symbol {
    id: "y_hat",
    latex: r"\hat{y}_i",
    meaning: "prediction for each row",
};
/// r: residuals per row.
pub const RESIDUAL: Symbol = Symbol {
    id: "residual",
    latex: r"r_i",
    meaning: "residual ŷᵢ − yᵢ of each row",
};
/// w*: the closed-form weights.
pub const W_STAR: Symbol = Symbol {
    id: "w_star",
    latex: r"\mathbf{w}^\ast",
    meaning: "closed-form weights (normal equations)",
};
/// b*: the closed-form bias.
pub const B_STAR: Symbol = Symbol {
    id: "b_star",
    latex: r"b^\ast",
    meaning: "closed-form bias (normal equations)",
};

const MODEL_STEPS: &[DerivationStep] = &[
    DerivationStep {
        title: "Model",
        sentence: "Predict each row's target as a weighted sum of its features plus a bias.",
        latex: r"\hat{y}_i = \mathbf{w} \cdot \mathbf{x}_i + b",
        shows: &[W, B, YHAT],
    },
    DerivationStep {
        title: "Residuals",
        sentence: "A residual is how far the prediction is from the true target.",
        latex: r"r_i = \hat{y}_i - y_i",
        shows: &[RESIDUAL],
    },
    DerivationStep {
        title: "Loss",
        sentence: "Average half the squared residuals and add the penalty on the weights (the bias is never penalized).",
        latex: r"J(\mathbf{w}, b) = \frac{1}{2n} \sum_{i=1}^{n} r_i^2 + \frac{\lambda}{2} \|\mathbf{w}\|^2 + \lambda_1 \|\mathbf{w}\|_1",
        shows: &[J, N, LAMBDA, LAMBDA1],
    },
    DerivationStep {
        title: "Chain rule",
        sentence: "Each squared residual changes with wⱼ through ŷᵢ, whose derivative is xᵢⱼ.",
        latex: r"\begin{aligned} \frac{\partial J}{\partial w_j} &= \frac{1}{n} \sum_{i=1}^{n} r_i \frac{\partial \hat{y}_i}{\partial w_j} + \lambda w_j + \lambda_1 \operatorname{sign}(w_j) \\ &= \frac{1}{n} \sum_{i=1}^{n} r_i x_{ij} + \lambda w_j + \lambda_1 \operatorname{sign}(w_j) \end{aligned}",
        shows: &[GRAD_W],
    },
    DerivationStep {
        title: "Gradient",
        sentence: "In matrix form the weight gradient is Xᵀr/n plus the penalty terms (L1 by its subgradient, sign(0) = 0); the bias gets the mean residual.",
        latex: r"\nabla_{\mathbf{w}} J = \frac{1}{n} X^\top \mathbf{r} + \lambda \mathbf{w} + \lambda_1 \operatorname{sign}(\mathbf{w}), \qquad \frac{\partial J}{\partial b} = \frac{1}{n} \sum_{i=1}^{n} r_i",
        shows: &[GRAD_W, GRAD_B],
    },
];

const CLOSED_FORM_STEP: DerivationStep = DerivationStep {
    title: "Closed form, for comparison",
    sentence: "Setting the gradient to zero gives the normal equations, solved once with a Cholesky factorization (no L1 term).",
    latex: r"\begin{pmatrix} \mathbf{w}^\ast \\ b^\ast \end{pmatrix} = \left( A^\top A + n \lambda D \right)^{-1} A^\top \mathbf{y}, \quad A = \begin{pmatrix} X & \mathbf{1} \end{pmatrix}",
    shows: &[W_STAR, B_STAR],
};

/// The registry entry.
pub const ENTRY: Entry = Entry {
    id: "linear-regression",
    summary: "least squares ŷ = w·x + b by gradient descent (any optimizer), normal equations for comparison",
    supervised: true,
    classifies: false,
    create: |h| Ok(Box::new(LinearRegression::new(h)?)),
};

/// Linear regression by a first-order optimizer.
#[derive(Debug, Clone)]
pub struct LinearRegression {
    l2: f64,
    l1: f64,
    opt: Optimizer,
    batches: Batches,
    batches_init: Batches,
    w: DVector<f64>,
    b: f64,
    t: usize,
    features: Vec<String>,
    grad: Vec<f64>,
    closed_form: Option<Reference>,
    spare: Spare,
}

impl LinearRegression {
    /// Builds it from hyperparameters (default optimizer gd, η = 0.1).
    ///
    /// # Errors
    /// Invalid hyperparameters.
    pub fn new(hyper: &Hyper) -> Result<Self, AlgoError> {
        let batches = Batches::new(hyper.batch_size, hyper.seed)?;
        Ok(Self {
            l2: check_penalty(hyper.l2.unwrap_or(0.0), "l2")?,
            l1: check_penalty(hyper.l1, "l1")?,
            opt: Optimizer::new(hyper, OptimizerKind::Gd, 0.1)?,
            batches_init: batches.clone(),
            batches,
            w: DVector::zeros(0),
            b: 0.0,
            t: 0,
            features: Vec::new(),
            grad: Vec::new(),
            closed_form: None,
            spare: Spare::default(),
        })
    }

    /// Evaluates model, residuals, loss and gradient at the current parameters.
    fn evaluate(&mut self, data: &Dataset, y: &DVector<f64>) -> StepRecord {
        let n_rows = y.len();
        let mut yhat = self.spare.take(n_rows);
        let mut r = self.spare.take(n_rows);
        let sums = pass::linear_pass(
            data.x(),
            y.as_slice(),
            (self.w.as_slice(), self.b),
            RowLoss::Squared,
            &mut [&mut yhat, &mut r],
            |_| 0.0,
        );
        let n = n_rows as f64;
        let loss = sums.loss / n + optim::penalty(self.w.as_slice(), self.l2, self.l1);
        let (grad_w, grad_b) = mean_of_sums(&sums, n, &self.w, self.l2, self.l1);
        let mut rec = StepRecord::new(self.t, loss);
        rec.vector(W, self.w.as_slice());
        rec.scalar(B, self.b);
        rec.vector(YHAT, yhat);
        rec.vector(RESIDUAL, r);
        rec.scalar(J, loss);
        rec.scalar(N, n);
        rec.scalar(LAMBDA, self.l2);
        rec.scalar(LAMBDA1, self.l1);
        rec.vector(GRAD_W, grad_w.as_slice());
        rec.scalar(GRAD_B, grad_b);
        if let Some(cf) = &self.closed_form {
            let d = self.w.len();
            rec.vector(W_STAR, &cf.params[..d]);
            rec.scalar(B_STAR, cf.params[d]);
        }
        self.grad = grad_w.iter().copied().chain([grad_b]).collect();
        rec
    }

    fn loss_of(&self, data: &Dataset, y: &DVector<f64>, w: &DVector<f64>, b: f64) -> f64 {
        let r = scores(data.x(), w, b) - y;
        r.norm_squared() / (2.0 * y.len() as f64) + optim::penalty(w.as_slice(), self.l2, self.l1)
    }
}

impl Algorithm for LinearRegression {
    fn id(&self) -> &'static str {
        ENTRY.id
    }

    fn derivation(&self) -> Vec<DerivationStep> {
        let mut steps = MODEL_STEPS.to_vec();
        steps.extend_from_slice(self.opt.derivation());
        if self.l1 == 0.0 {
            steps.push(CLOSED_FORM_STEP);
        }
        steps
    }

    fn reset(&mut self, data: &Dataset) -> Result<StepRecord, AlgoError> {
        let y = data.numeric_target(ENTRY.id)?.clone();
        self.w = DVector::zeros(data.n_features());
        self.b = 0.0;
        self.t = 0;
        self.opt.reset();
        self.batches = self.batches_init.clone();
        self.features = data.feature_names().to_vec();
        self.closed_form = if self.l1 == 0.0 {
            normal_equations(data.x(), &y, self.l2)
                .ok()
                .map(|p| Reference {
                    method: "normal equations (Cholesky)".into(),
                    loss: self.loss_of(
                        data,
                        &y,
                        &DVector::from_column_slice(&p[..p.len() - 1]),
                        p[p.len() - 1],
                    ),
                    params: p,
                })
        } else {
            None
        };
        Ok(self.evaluate(data, &y))
    }

    fn step(&mut self, data: &Dataset) -> Result<StepRecord, AlgoError> {
        let y = data.numeric_target(ENTRY.id)?;
        let grad = match self.batches.next_batch(data.n_rows()) {
            None => std::mem::take(&mut self.grad),
            Some(rows) => batch_gradient(
                data.x(),
                y,
                &rows,
                &self.w,
                self.b,
                self.l2,
                self.l1,
                |s, y| s - y,
            ),
        };
        let mut theta = self.params();
        let mut update = StepRecord::new(0, 0.0);
        self.opt.apply(&mut theta, &grad, &mut update);
        let d = self.w.len();
        self.w = DVector::from_column_slice(&theta[..d]);
        self.b = theta[d];
        self.t += 1;
        let mut rec = self.evaluate(data, y);
        rec.values.extend(update.values);
        Ok(rec)
    }

    fn params(&self) -> Vec<f64> {
        self.w.iter().copied().chain([self.b]).collect()
    }

    fn param_names(&self) -> Vec<String> {
        weight_names(&self.features)
    }

    fn params_json(&self, flat: &[f64]) -> serde_json::Value {
        weights_bias_json(flat)
    }

    fn boxed_clone(&self) -> Box<dyn Algorithm> {
        Box::new(self.clone())
    }

    fn recycle(&mut self, old: StepRecord) {
        self.spare.keep(old, &[YHAT, RESIDUAL]);
    }

    fn learning_rate(&self) -> Option<f64> {
        Some(self.opt.learning_rate)
    }

    fn set_learning_rate(&mut self, learning_rate: f64) {
        if optim::check_learning_rate(learning_rate).is_ok() {
            self.opt.learning_rate = learning_rate;
        }
    }

    fn reference(&self, data: &Dataset) -> Option<Result<Reference, AlgoError>> {
        if self.l1 != 0.0 {
            return None;
        }
        if let Some(cf) = self
            .closed_form
            .as_ref()
            .filter(|cf| cf.params.len() == data.n_features() + 1)
        {
            return Some(Ok(cf.clone()));
        }
        let y = match data.numeric_target(ENTRY.id) {
            Ok(y) => y,
            Err(e) => return Some(Err(e.into())),
        };
        Some(normal_equations(data.x(), y, self.l2).map(|p| {
            let d = p.len() - 1;
            Reference {
                method: "normal equations (Cholesky)".into(),
                loss: self.loss_of(data, y, &DVector::from_column_slice(&p[..d]), p[d]),
                params: p,
            }
        }))
    }

    fn stability_bound(&self, data: &Dataset) -> Option<f64> {
        super::conditioning::step_size_card(ENTRY.id, data, self.l2).map(|c| c.stable_below)
    }

    fn loss_at(&self, data: &Dataset, flat: &[f64]) -> Option<f64> {
        let y = data.numeric_target(ENTRY.id).ok()?;
        let d = data.n_features();
        (flat.len() == d + 1)
            .then(|| self.loss_of(data, y, &DVector::from_column_slice(&flat[..d]), flat[d]))
    }
}

/// Refuses negative or non-finite penalty strengths.
///
/// # Errors
/// [`AlgoError::Invalid`] naming the option.
pub fn check_penalty(v: f64, name: &str) -> Result<f64, AlgoError> {
    if v.is_finite() && v >= 0.0 {
        Ok(v)
    } else {
        Err(AlgoError::Invalid(format!(
            "--{name} must be a non-negative number, got {v}"
        )))
    }
}

/// Xw + b for every row.
#[must_use]
pub fn scores(x: &DMatrix<f64>, w: &DVector<f64>, b: f64) -> DVector<f64> {
    let mut s = DVector::from_element(x.nrows(), b);
    s.gemv(1.0, x, w, 1.0);
    s
}

/// A binary classifier's target, each row's class as `low` or `high`, made
/// once per dataset instead of every step. Clones (checkpoints) share it.
#[derive(Debug, Clone)]
pub struct BinaryTarget {
    algorithm: &'static str,
    low: f64,
    high: f64,
    y: Arc<DVector<f64>>,
}

impl BinaryTarget {
    /// Nothing made yet, for `algorithm` (named in its errors).
    #[must_use]
    pub fn new(algorithm: &'static str, low: f64, high: f64) -> Self {
        Self {
            algorithm,
            low,
            high,
            y: Arc::new(DVector::zeros(0)),
        }
    }

    /// Makes it from `data` (at reset: the data may be new).
    ///
    /// # Errors
    /// No target, or not exactly two classes.
    pub fn reset(&mut self, data: &Dataset) -> Result<Arc<DVector<f64>>, AlgoError> {
        self.y = Arc::new(data.binary_target(self.algorithm, self.low, self.high)?);
        Ok(Arc::clone(&self.y))
    }

    /// The target made at reset, or made again when the number of rows
    /// says it belongs to other data.
    ///
    /// # Errors
    /// As [`Self::reset`].
    pub fn get(&mut self, data: &Dataset) -> Result<Arc<DVector<f64>>, AlgoError> {
        if self.y.len() != data.n_rows() {
            return self.reset(data);
        }
        Ok(Arc::clone(&self.y))
    }
}

/// The side of the hyperplane w·x + b = 0 each row of `x` falls on (class 1
/// where positive), for flat parameters `[w…, b]`; the binary classifiers' `classify`.
#[must_use]
pub fn side_of_hyperplane(x: &DMatrix<f64>, flat: &[f64]) -> Option<Vec<usize>> {
    let (b, w) = flat.split_last()?;
    if w.len() != x.ncols() {
        return None;
    }
    let s = scores(x, &DVector::from_column_slice(w), *b);
    Some(s.iter().map(|&v| usize::from(v > 0.0)).collect())
}

/// The gradient from a pass's sums: (1/n) Σ dᵢxᵢ + λw + λ₁ sign(w) and (1/n) Σ dᵢ.
#[must_use]
pub fn mean_of_sums(
    sums: &PassSums,
    n: f64,
    w: &DVector<f64>,
    l2: f64,
    l1: f64,
) -> (Vec<f64>, f64) {
    let mut grad_w: Vec<f64> = sums.grad_w.iter().map(|g| g / n).collect();
    optim::add_penalty_gradient(&mut grad_w, w.as_slice(), l2, l1);
    (grad_w, sums.grad_b / n)
}

/// (1/n) Xᵀr + λw + λ₁ sign(w) and (1/n) Σ r.
#[must_use]
pub fn mean_gradient(
    x: &DMatrix<f64>,
    r: &DVector<f64>,
    w: &DVector<f64>,
    l2: f64,
    l1: f64,
) -> (DVector<f64>, f64) {
    let n = r.len() as f64;
    let mut grad_w = x.tr_mul(r) / n;
    optim::add_penalty_gradient(grad_w.as_mut_slice(), w.as_slice(), l2, l1);
    (grad_w, r.sum() / n)
}

/// The flat gradient [∇w; ∂b] of a linear model on the rows `rows` only,
/// where `dloss(score, y)` is the derivative of the per-row loss with respect
/// to the score (ŷ − y for squared error, p − y for log-loss).
#[must_use]
#[allow(clippy::too_many_arguments)]
pub fn batch_gradient(
    x: &DMatrix<f64>,
    y: &DVector<f64>,
    rows: &[usize],
    w: &DVector<f64>,
    b: f64,
    l2: f64,
    l1: f64,
    dloss: impl Fn(f64, f64) -> f64,
) -> Vec<f64> {
    let d = w.len();
    let mut g = vec![0.0; d + 1];
    for &i in rows {
        let s = (0..d).map(|j| x[(i, j)] * w[j]).sum::<f64>() + b;
        let r = dloss(s, y[i]);
        for j in 0..d {
            g[j] += r * x[(i, j)];
        }
        g[d] += r;
    }
    let m = rows.len().max(1) as f64;
    for v in &mut g {
        *v /= m;
    }
    optim::add_penalty_gradient(&mut g[..d], w.as_slice(), l2, l1);
    g
}

/// Solves (AᵀA + nλD)θ = Aᵀy with A = [X 1] and D = diag(1, …, 1, 0), by Cholesky.
///
/// # Errors
/// [`AlgoError::Singular`] when XᵀX (with the intercept column) is singular.
pub fn normal_equations(
    x: &DMatrix<f64>,
    y: &DVector<f64>,
    l2: f64,
) -> Result<Vec<f64>, AlgoError> {
    let (n, d) = x.shape();
    let (mut ata, aty) = gram(x, y);
    for j in 0..d {
        ata[(j, j)] += n as f64 * l2;
    }
    // Cholesky succeeds on singular matrices only through rounding, so check
    // the conditioning as well: a relative pivot below 1e-12 means singular.
    let scale = ata.diagonal().max().max(1e-300);
    let singular = || {
        AlgoError::Singular(
            "XᵀX is singular, so the normal equations have no unique solution (a feature is constant or a linear combination of others; drop it or set --l2 > 0)"
                .into(),
        )
    };
    let chol = ata.clone().cholesky().ok_or_else(singular)?;
    let min_pivot = chol
        .l_dirty()
        .diagonal()
        .iter()
        .fold(f64::INFINITY, |m, v| m.min(v * v));
    if min_pivot < 1e-12 * scale {
        return Err(singular());
    }
    let theta = chol.solve(&aty);
    if theta.iter().all(|v| v.is_finite()) {
        Ok(theta.iter().copied().collect())
    } else {
        Err(singular())
    }
}

/// AᵀA and Aᵀy for A = [X 1], in one blocked pass over the rows on every
/// core (A itself, a copy of X, is never formed).
fn gram(x: &DMatrix<f64>, y: &DVector<f64>) -> (DMatrix<f64>, DVector<f64>) {
    const BLOCK: usize = 2048;
    let (n, d) = x.shape();
    let data = x.as_slice();
    let parts = pass::over_row_ranges(n, |start, end| {
        let mut ata = DMatrix::<f64>::zeros(d + 1, d + 1);
        let mut aty = DVector::<f64>::zeros(d + 1);
        for lo in (start..end).step_by(BLOCK) {
            let hi = (lo + BLOCK).min(end);
            let col = |j: usize| &data[j * n + lo..j * n + hi];
            let ys = &y.as_slice()[lo..hi];
            for j in 0..d {
                for k in 0..=j {
                    ata[(j, k)] += pass::dot(col(j), col(k));
                }
                ata[(d, j)] += pass::sum(col(j));
                aty[j] += pass::dot(col(j), ys);
            }
            aty[d] += pass::sum(ys);
        }
        (ata, aty)
    });
    let mut ata = DMatrix::<f64>::zeros(d + 1, d + 1);
    let mut aty = DVector::<f64>::zeros(d + 1);
    for (a, b) in parts {
        ata += a;
        aty += b;
    }
    ata[(d, d)] = n as f64;
    ata.fill_upper_triangle_with_lower_triangle();
    (ata, aty)
}

/// Names w[feature] …, bias.
#[must_use]
pub fn weight_names(features: &[String]) -> Vec<String> {
    features
        .iter()
        .map(|f| format!("w[{f}]"))
        .chain(["bias".to_string()])
        .collect()
}

/// `{"weights": [..], "bias": b}` from flat [w; b].
#[must_use]
pub fn weights_bias_json(flat: &[f64]) -> serde_json::Value {
    let (w, b) = flat.split_at(flat.len().saturating_sub(1));
    serde_json::json!({ "weights": w, "bias": b.first().copied().unwrap_or(0.0) })
}

/// Reads a vector symbol from a record (empty when absent).
#[must_use]
pub fn recorded(rec: &StepRecord, s: Symbol) -> &[f64] {
    rec.get(s).map_or(&[], Value::as_slice)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tiny() -> Dataset {
        // y = 2x + 1 exactly.
        Dataset::from_columns(
            &["x"],
            &[vec![0.0, 1.0, 2.0, 3.0]],
            Some(("y", vec![1.0, 3.0, 5.0, 7.0])),
        )
        .unwrap()
    }

    fn noisy(n: usize) -> Dataset {
        let mut rng = crate::rng::Rng::new(5);
        let x1: Vec<f64> = (0..n).map(|_| rng.normal()).collect();
        let x2: Vec<f64> = (0..n).map(|_| rng.normal() * 2.0 + 1.0).collect();
        let y: Vec<f64> = x1
            .iter()
            .zip(&x2)
            .map(|(a, b)| 3.0 * a - 0.5 * b + 2.0 + rng.normal() * 0.1)
            .collect();
        Dataset::from_columns(&["a", "b"], &[x1, x2], Some(("y", y))).unwrap()
    }

    fn hyper(lr: f64) -> Hyper {
        Hyper {
            learning_rate: Some(lr),
            ..Hyper::default()
        }
    }

    #[test]
    fn first_step_by_hand() {
        let data = tiny();
        let mut alg = LinearRegression::new(&hyper(0.1)).unwrap();
        let r0 = alg.reset(&data).unwrap();
        // At w = b = 0: residuals −y, J = (1+9+25+49)/8 = 10.5.
        assert!((r0.loss - 10.5).abs() < 1e-12);
        // ∂J/∂w = (1/4) Σ (−yᵢ) xᵢ = −(0+3+10+21)/4 = −8.5; ∂J/∂b = −16/4 = −4.
        assert_eq!(recorded(&r0, GRAD_W), &[-8.5]);
        assert_eq!(r0.get(GRAD_B).and_then(Value::as_scalar), Some(-4.0));
        let r1 = alg.step(&data).unwrap();
        // w = 0.85, b = 0.4.
        let p = alg.params();
        assert!((p[0] - 0.85).abs() < 1e-12 && (p[1] - 0.4).abs() < 1e-12);
        assert_eq!(r1.step, 1);
        assert_eq!(recorded(&r1, optim::THETA_PREV), &[0.0, 0.0]);
        assert_eq!(recorded(&r1, optim::GRAD_PREV), &[-8.5, -4.0]);
        // The loss at the new parameters, by hand.
        let want: f64 = [0.0, 1.0, 2.0, 3.0]
            .iter()
            .zip([1.0, 3.0, 5.0, 7.0])
            .map(|(x, y)| (0.85 * x + 0.4 - y) * (0.85 * x + 0.4 - y))
            .sum::<f64>()
            / 8.0;
        assert!((r1.loss - want).abs() < 1e-12);
    }

    #[test]
    fn gradient_matches_finite_differences() {
        let data = noisy(50);
        let h = Hyper {
            l2: Some(0.3),
            ..hyper(0.05)
        };
        let mut alg = LinearRegression::new(&h).unwrap();
        alg.reset(&data).unwrap();
        for _ in 0..3 {
            alg.step(&data).unwrap();
        }
        let theta = alg.params();
        let rec = alg.evaluate(&data, data.numeric_target("t").unwrap());
        let analytic: Vec<f64> = recorded(&rec, GRAD_W)
            .iter()
            .copied()
            .chain([rec.get(GRAD_B).and_then(Value::as_scalar).unwrap()])
            .collect();
        for k in 0..theta.len() {
            let mut plus = theta.clone();
            let mut minus = theta.clone();
            plus[k] += 1e-6;
            minus[k] -= 1e-6;
            let fd =
                (alg.loss_at(&data, &plus).unwrap() - alg.loss_at(&data, &minus).unwrap()) / 2e-6;
            assert!(
                (fd - analytic[k]).abs() < 1e-6,
                "param {k}: {fd} vs {}",
                analytic[k]
            );
        }
    }

    #[test]
    fn gradient_descent_reaches_the_normal_equations() {
        let data = noisy(200);
        for l2 in [0.0, 0.5] {
            let h = Hyper {
                l2: Some(l2),
                ..hyper(0.1)
            };
            let mut alg = LinearRegression::new(&h).unwrap();
            alg.reset(&data).unwrap();
            for _ in 0..3000 {
                alg.step(&data).unwrap();
            }
            let exact = alg.reference(&data).unwrap().unwrap();
            for (a, b) in alg.params().iter().zip(&exact.params) {
                assert!((a - b).abs() < 1e-8, "l2 {l2}: {a} vs {b}");
            }
        }
    }

    #[test]
    fn the_blocked_gram_matrix_equals_the_product_with_the_intercept_column() {
        // Two threads, several blocks and a ragged last one.
        let (n, d) = (40_001, 3);
        let mut rng = crate::rng::Rng::new(5);
        let x = DMatrix::from_fn(n, d, |_, _| rng.normal() + 2.0);
        let y = DVector::from_fn(n, |_, _| rng.normal());
        let (ata, aty) = gram(&x, &y);
        let a = x.clone().insert_column(d, 1.0);
        assert!((&ata - a.tr_mul(&a)).amax() < 1e-9 * n as f64);
        assert!((&aty - a.tr_mul(&y)).amax() < 1e-9 * n as f64);
        assert_eq!(ata, ata.transpose());
    }

    #[test]
    fn normal_equations_agree_with_qr_least_squares() {
        let data = noisy(100);
        let y = data.numeric_target("t").unwrap();
        let ne = normal_equations(data.x(), y, 0.0).unwrap();
        let a = data.x().clone().insert_column(2, 1.0);
        let qr = a.qr();
        let qty = qr.q().tr_mul(y);
        let theta = qr.r().solve_upper_triangular(&qty).unwrap();
        for (u, v) in ne.iter().zip(theta.iter()) {
            assert!((u - v).abs() < 1e-9);
        }
    }

    #[test]
    fn singular_design_is_reported() {
        let data = Dataset::from_columns(
            &["a", "b"],
            &[vec![1.0, 2.0, 3.0], vec![2.0, 4.0, 6.0]],
            Some(("y", vec![1.0, 2.0, 3.0])),
        )
        .unwrap();
        let err = normal_equations(data.x(), data.numeric_target("t").unwrap(), 0.0).unwrap_err();
        assert!(err.to_string().contains("singular"), "{err}");
        // A ridge makes it solvable.
        assert!(normal_equations(data.x(), data.numeric_target("t").unwrap(), 0.1).is_ok());
    }

    #[test]
    fn stability_bound_matches_eigenvalues() {
        let data = tiny();
        let alg = LinearRegression::new(&hyper(0.1)).unwrap();
        // A = [x 1], AᵀA/n = [[14, 6], [6, 4]]/4; eigenvalues (18 ± √(100+144))/8.
        let l = (18.0 + 244f64.sqrt()) / 8.0;
        assert!((alg.stability_bound(&data).unwrap() - 2.0 / l).abs() < 1e-12);
    }

    #[test]
    fn mini_batches_with_a_seed_are_reproducible_and_converge() {
        let data = noisy(100);
        let h = Hyper {
            batch_size: Some(10),
            seed: 9,
            ..hyper(0.05)
        };
        let run = || {
            let mut alg = LinearRegression::new(&h).unwrap();
            alg.reset(&data).unwrap();
            for _ in 0..2000 {
                alg.step(&data).unwrap();
            }
            alg.params()
        };
        let a = run();
        assert_eq!(a, run());
        assert!(
            (a[0] - 3.0).abs() < 0.1 && (a[1] + 0.5).abs() < 0.1 && (a[2] - 2.0).abs() < 0.1,
            "{a:?}"
        );
    }
}
