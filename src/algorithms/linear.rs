//! `linear-regression`: ŷ = w·x + b, J = 1/(2n)‖Xw + b − y‖² + (λ/2)‖w‖² (+ λ₁‖w‖₁),
//! stepped by a first-order optimizer; the normal equations as the reference.
//!
//! Also the pieces every linear model shares: the symbols w, b, J, the scores
//! Xw + b, the gradient (1/n)Xᵀr, the JSON of weights and bias, and the
//! binary classifiers' two-valued target.

use super::Spare;
use super::pass::{self, PassSums};
use super::{
    AlgoError, Algorithm, DerivationStep, Entry, Hyper, Reference, StepRecord, Symbol, Value,
};
use crate::data::Dataset;
use crate::optim::{self, Batches, Optimizer, OptimizerKind};
use nalgebra::{DMatrix, DVector};
use std::borrow::Cow;
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
        sentence: "Each squared residual changes with wⱼ through ŷᵢ, whose derivative is xᵢⱼ; the 2 from the square cancels the ½ (sign(0) = 0 for the L1 term).",
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

const MOMENTS_STEP: DerivationStep = DerivationStep {
    title: "Computing it cheaply",
    sentence: "Expanding the square shows that the loss and the full-batch gradient depend on the data only through the means and the covariance Σ of the columns (X, y), computed once at the start: each step then costs O(d²) instead of a pass over the rows. The mean residual r̄ is ∂J/∂b; the residuals shown are still computed row by row. Near an exact fit uᵀΣu is a small difference of large terms that rounding would swamp, so where it falls below 2⁻¹⁶ of their size the loss is summed row by row instead.",
    latex: r"\begin{aligned} \mathbf{u} &= \begin{pmatrix} \mathbf{w} \\ -1 \end{pmatrix} \\ \bar{r} &= b + \bar{\mathbf{x}} \cdot \mathbf{w} - \bar{y} \\ \frac{1}{n} \|\mathbf{r}\|^2 &= \mathbf{u}^\top \Sigma \, \mathbf{u} + \bar{r}^2 \\ \frac{1}{n} X^\top \mathbf{r} &= (\Sigma \, \mathbf{u})_{1..d} + \bar{r} \, \bar{\mathbf{x}} \end{aligned}",
    shows: &[J, GRAD_W, GRAD_B],
};

const CLOSED_FORM_STEP: DerivationStep = DerivationStep {
    title: "Closed form, for comparison",
    sentence: "Setting the gradient to zero gives the normal equations: ∂J/∂b = 0 makes the mean residual 0, which gives b*, and then Σₓₓw − σₓᵧ + λw = 0, with Σₓₓ the features' covariance and σₓᵧ their covariance with y (population, 1/n). They are solved once with a Cholesky factorization (no L1 term).",
    latex: r"\mathbf{w}^\ast = \left( \Sigma_{xx} + \lambda I \right)^{-1} \boldsymbol{\sigma}_{xy}, \qquad b^\ast = \bar{y} - \bar{\mathbf{x}} \cdot \mathbf{w}^\ast",
    shows: &[W_STAR, B_STAR],
};

/// The registry entry.
pub const ENTRY: Entry = Entry {
    id: "linear-regression",
    summary: "least squares ŷ = w·x + b by gradient descent (any optimizer), normal equations for comparison",
    supervised: true,
    classifies: false,
    create: |h| Ok(Box::new(LinearRegression::new(h)?)),
    optimizers: OptimizerKind::FIRST_ORDER,
    default_l2: 0.0,
    default_k: 0,
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
    /// The moments of (X, y) that every full-batch loss and gradient uses.
    moments: Moments,
    /// Whether records carry ŷ and r for every row (the window's plots),
    /// and whether, on large data, only for the rows drawn
    /// ([`Algorithm::per_row_heads`]).
    per_row: bool,
    sampled: bool,
    /// X and y at the rows drawn, gathered once per dataset when sampled.
    drawn: Option<Arc<DrawnRows>>,
    spare: Spare,
}

/// X and y at the rows drawn of `rows` (one in `drawn_every(rows)`,
/// [`pass::gather_rows`]).
#[derive(Debug)]
struct DrawnRows {
    rows: usize,
    x: DMatrix<f64>,
    y: Vec<f64>,
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
            moments: Moments::default(),
            per_row: true,
            sampled: false,
            drawn: None,
            spare: Spare::default(),
        })
    }

    /// Evaluates the loss and gradient at the current parameters from the
    /// moments, and the predictions and residuals of every row when kept.
    fn evaluate(&mut self, data: &Dataset, y: &DVector<f64>) -> StepRecord {
        if self.moments.rows != y.len() {
            self.moments = Moments::new(data.x(), y.as_slice());
        }
        let (w, b) = (self.w.as_slice(), self.b);
        let (half_mse, mut grad_w, grad_b) = self.moments.half_mse_and_gradient(w, b);
        let half_mse = precise(&self.moments, half_mse, data, y, (w, b));
        let loss = half_mse + optim::penalty(w, self.l2, self.l1);
        optim::add_penalty_gradient(&mut grad_w, w, self.l2, self.l1);
        let mut rec = StepRecord::new(self.t, loss);
        rec.vector(W, w);
        rec.scalar(B, b);
        let (n, every) = (y.len(), super::drawn_every(y.len()));
        if self.per_row && self.sampled && every > 1 {
            let drawn = match &self.drawn {
                Some(drawn) if drawn.rows == n => Arc::clone(drawn),
                _ => {
                    let (x, y) = pass::gather_rows(data.x(), y.as_slice(), every);
                    let drawn = Arc::new(DrawnRows { rows: n, x, y });
                    self.drawn = Some(Arc::clone(&drawn));
                    drawn
                }
            };
            let mut yhat = vec![0.0; drawn.y.len()];
            let mut r = vec![0.0; drawn.y.len()];
            pass::scores_and_residuals(&drawn.x, &drawn.y, (w, b), &mut yhat, &mut r);
            let sampled = |values| Value::Sampled {
                rows: n,
                every,
                values,
            };
            rec.set(YHAT, sampled(yhat));
            rec.set(RESIDUAL, sampled(r));
        } else if self.per_row {
            let mut yhat = self.spare.take(y.len());
            let mut r = self.spare.take(y.len());
            pass::scores_and_residuals(data.x(), y.as_slice(), (w, b), &mut yhat, &mut r);
            rec.vector(YHAT, yhat);
            rec.vector(RESIDUAL, r);
        }
        rec.scalar(J, loss);
        rec.scalar(N, y.len() as f64);
        rec.scalar(LAMBDA, self.l2);
        rec.scalar(LAMBDA1, self.l1);
        rec.vector(GRAD_W, grad_w.as_slice());
        rec.scalar(GRAD_B, grad_b);
        if let Some(cf) = &self.closed_form {
            let d = self.w.len();
            rec.vector(W_STAR, &cf.params[..d]);
            rec.scalar(B_STAR, cf.params[d]);
        }
        self.grad = grad_w.into_iter().chain([grad_b]).collect();
        rec
    }

    /// The moments kept for `data`, or new ones when they belong to other data.
    fn moments_for(&self, data: &Dataset, y: &DVector<f64>) -> Cow<'_, Moments> {
        if self.moments.rows == y.len() {
            Cow::Borrowed(&self.moments)
        } else {
            Cow::Owned(Moments::new(data.x(), y.as_slice()))
        }
    }

    /// The objective at (w, b).
    fn loss_of(&self, moments: &Moments, w: &[f64], b: f64) -> f64 {
        moments.half_mse_and_gradient(w, b).0 + optim::penalty(w, self.l2, self.l1)
    }

    /// The normal equations' solution and the objective there.
    fn closed_form(&self, data: &Dataset, y: &DVector<f64>) -> Result<Reference, AlgoError> {
        let moments = self.moments_for(data, y);
        let p = moments.normal_equations(self.l2)?;
        let (w, b) = p.split_at(p.len() - 1);
        let half_mse = moments.half_mse_and_gradient(w, b[0]).0;
        let half_mse = precise(&moments, half_mse, data, y, (w, b[0]));
        Ok(Reference {
            method: "normal equations (Cholesky)".into(),
            loss: half_mse + optim::penalty(w, self.l2, self.l1),
            params: p,
        })
    }
}

/// `half_mse` at (w, b) from the moments, or from a pass over the rows
/// where [`Moments::cancels`] says that its digits were lost.
fn precise(
    moments: &Moments,
    half_mse: f64,
    data: &Dataset,
    y: &DVector<f64>,
    (w, b): (&[f64], f64),
) -> f64 {
    if moments.cancels(w, half_mse) {
        pass::half_mean_squared_residual(data.x(), y.as_slice(), (w, b))
    } else {
        half_mse
    }
}

impl Algorithm for LinearRegression {
    fn id(&self) -> &'static str {
        ENTRY.id
    }

    fn derivation(&self) -> Vec<DerivationStep> {
        let mut steps = MODEL_STEPS.to_vec();
        steps.push(MOMENTS_STEP);
        steps.extend_from_slice(self.opt.derivation());
        if self.l1 == 0.0 {
            steps.push(CLOSED_FORM_STEP);
        }
        steps
    }

    fn reset(&mut self, data: &Dataset) -> Result<StepRecord, AlgoError> {
        let y = data.numeric_target(ENTRY.id)?.clone();
        let d = data.n_features();
        super::check_square(ENTRY.id, d, d + 1, 1)?;
        self.w = DVector::zeros(d);
        self.b = 0.0;
        self.t = 0;
        self.opt.reset();
        self.batches = self.batches_init.clone();
        self.features = data.feature_names().to_vec();
        self.moments = Moments::new(data.x(), y.as_slice());
        self.drawn = None;
        self.closed_form = if self.l1 == 0.0 {
            self.closed_form(data, &y).ok()
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
        self.batches.record(&mut update, data.n_rows());
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
        Some(
            data.numeric_target(ENTRY.id)
                .map_err(AlgoError::from)
                .and_then(|y| self.closed_form(data, y)),
        )
    }

    fn stability_bound(&self, data: &Dataset) -> Option<f64> {
        super::conditioning::stable_below(ENTRY.id, data, self.l2, Some(self.opt.kind))
    }

    fn has_loss_surface(&self) -> bool {
        true
    }

    fn loss_at(&self, data: &Dataset, flat: &[f64]) -> Option<f64> {
        let y = data.numeric_target(ENTRY.id).ok()?;
        let (w, b) = flat.split_last().map(|(b, w)| (w, *b))?;
        (w.len() == data.n_features()).then(|| self.loss_of(&self.moments_for(data, y), w, b))
    }

    fn loss_at_reads_rows(&self) -> bool {
        // Once reset, the moments are kept.
        self.moments.rows == 0
    }

    fn keep_per_row(&mut self, keep: bool) {
        self.per_row = keep;
    }

    fn per_row_heads(&mut self, head: Option<usize>) {
        self.sampled = head.is_some();
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
            "--{name} must be a non-negative number, got {}",
            crate::export::format_given(v)
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
    // Wide, so that σ's polynomial runs on fused multiply-adds.
    super::vmath::wide(
        #[inline(always)]
        || {
            for &i in rows {
                let s = (0..d).map(|j| x[(i, j)] * w[j]).sum::<f64>() + b;
                let r = dloss(s, y[i]);
                for j in 0..d {
                    g[j] += r * x[(i, j)];
                }
                g[d] += r;
            }
        },
    );
    let m = rows.len().max(1) as f64;
    for v in &mut g {
        *v /= m;
    }
    optim::add_penalty_gradient(&mut g[..d], w.as_slice(), l2, l1);
    g
}

/// The least-squares part of the objective through the first two moments
/// of the columns (X, y): their means m = (x̄, ȳ) and population covariance
/// Σ, from two passes over the rows. With u = (w, −1) and the mean residual
/// r̄ = b + x̄·w − ȳ, the cross terms of the expanded square vanish:
/// (1/n)‖Xw + b − y‖² = uᵀΣu + r̄² and (1/n)Xᵀr = (Σu)₁..d + r̄x̄. Centring
/// keeps the means out of the cancellation.
#[derive(Debug, Clone, Default)]
pub struct Moments {
    /// (x̄, ȳ).
    mean: DVector<f64>,
    /// The covariance of (X, y), (d + 1) × (d + 1).
    cov: DMatrix<f64>,
    /// n, to tell whether they belong to a dataset.
    rows: usize,
}

impl Moments {
    /// The moments of `x` with `y` as a last column.
    #[must_use]
    pub fn new(x: &DMatrix<f64>, y: &[f64]) -> Self {
        let n = x.nrows();
        let data = x.as_slice();
        let columns: Vec<&[f64]> = (0..x.ncols())
            .map(|j| &data[j * n..(j + 1) * n])
            .chain([y])
            .collect();
        let (mean, cov) = pass::moments(n, &columns);
        Self { mean, cov, rows: n }
    }

    /// (1/2n)‖Xw + b − y‖², and its gradient: (1/n)Xᵀr and r̄.
    ///
    /// # Panics
    /// Never when `w` holds one weight per feature.
    #[must_use]
    pub fn half_mse_and_gradient(&self, w: &[f64], b: f64) -> (f64, Vec<f64>, f64) {
        let d = w.len();
        let u = DVector::from_iterator(d + 1, w.iter().copied().chain([-1.0]));
        let su = &self.cov * &u;
        let mean_r = b + self.mean.dot(&u);
        // uᵀΣu is the variance of the residuals: never below zero, however
        // the rounding of a near-perfect fit falls (and NaN stays NaN, so a
        // diverging run still stops).
        let variance = u.dot(&su);
        let variance = if variance < 0.0 { 0.0 } else { variance };
        let half_mse = 0.5 * (variance + mean_r * mean_r);
        let grad_w = (0..d).map(|j| su[j] + mean_r * self.mean[j]).collect();
        (half_mse, grad_w, mean_r)
    }

    /// Whether `half_mse` at weights `w` lost its digits to cancellation:
    /// uᵀΣu adds terms whose magnitudes add up to |u|ᵀ|Σ||u|, and near an
    /// exact fit they cancel down to a variance ε(d + 1)|u|ᵀ|Σ||u| can swamp
    /// (a fit of 1e6·x within 1e-3 came out at 1.5e-8 against 5.6e-7).
    /// Below 2⁻¹⁶ of that size (a residual variance below about 1.5e-5 of
    /// the target's, roughly), the loss is taken row by row instead.
    #[must_use]
    pub fn cancels(&self, w: &[f64], half_mse: f64) -> bool {
        let u: Vec<f64> = w.iter().map(|v| v.abs()).chain([1.0]).collect();
        let size: f64 = (0..u.len())
            .map(|i| {
                u[i] * (0..u.len())
                    .map(|j| self.cov[(i, j)].abs() * u[j])
                    .sum::<f64>()
            })
            .sum();
        2.0 * half_mse < size / 65_536.0
    }

    /// The normal equations centred on the means: (Σₓₓ + λI)w* = σₓᵧ by
    /// Cholesky, then b* = ȳ − x̄·w*. Flat [w*; b*].
    ///
    /// # Errors
    /// [`AlgoError::Singular`] when a feature is constant or a linear
    /// combination of others (and λ = 0).
    pub fn normal_equations(&self, l2: f64) -> Result<Vec<f64>, AlgoError> {
        let d = self.mean.len().saturating_sub(1);
        let mut a = self.cov.view((0, 0), (d, d)).into_owned();
        for j in 0..d {
            a[(j, j)] += l2;
        }
        let singular = || {
            AlgoError::Singular(
                "XᵀX is singular, so the normal equations have no unique solution (a feature is constant or a linear combination of others; drop it or set --l2 > 0)"
                    .into(),
            )
        };
        let chol = well_conditioned_cholesky(a).ok_or_else(singular)?;
        let w = chol.solve(&self.cov.view((0, d), (d, 1)).into_owned());
        let b = self.mean[d] - self.mean.rows(0, d).dot(&w);
        let theta: Vec<f64> = w.iter().copied().chain([b]).collect();
        if theta.iter().all(|v| v.is_finite()) {
            Ok(theta)
        } else {
            Err(singular())
        }
    }
}

/// Below this, a squared Cholesky pivot relative to the largest diagonal
/// entry means the matrix is singular.
pub const RCOND: f64 = 1e-12;

/// The Cholesky factor of a symmetric matrix, or `None` when it is
/// singular: Cholesky succeeds on singular matrices only through
/// rounding, so a squared pivot below [`RCOND`] of the largest diagonal
/// entry counts as singular too.
#[must_use]
pub fn well_conditioned_cholesky(
    a: DMatrix<f64>,
) -> Option<nalgebra::Cholesky<f64, nalgebra::Dyn>> {
    let scale = a.diagonal().max().max(1e-300);
    let chol = a.cholesky()?;
    let min_pivot = chol
        .l_dirty()
        .diagonal()
        .iter()
        .fold(f64::INFINITY, |m, v| m.min(v * v));
    (min_pivot >= RCOND * scale).then_some(chol)
}

/// Names `w[feature]` …, `bias`.
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
    fn the_moments_give_the_per_row_loss_and_gradient() {
        // Two threads, several blocks and a ragged last one; columns and a
        // target far from zero, where uncentred sums would cancel.
        let (n, d) = (40_001, 3);
        let mut rng = crate::rng::Rng::new(5);
        let x = DMatrix::from_fn(n, d, |_, j| rng.normal() + [2.0, -1e3, 0.0][j]);
        let y = DVector::from_fn(n, |i, _| 5e3 + x[(i, 0)] - 0.5 * x[(i, 2)] + rng.normal());
        let moments = Moments::new(&x, y.as_slice());
        for (w, b) in [
            (vec![0.0; 3], 0.0),
            (vec![1.0, -0.5, 0.3], 4.0),
            (vec![0.9, 0.01, -0.4], 5e3),
        ] {
            let r = scores(&x, &DVector::from_column_slice(&w), b) - &y;
            let half_mse = r.norm_squared() / (2.0 * n as f64);
            let grad_w = x.tr_mul(&r) / n as f64;
            let (h, g, gb) = moments.half_mse_and_gradient(&w, b);
            assert!((h - half_mse).abs() < 1e-10 * half_mse, "{h} vs {half_mse}");
            assert!(
                (gb - r.mean()).abs() < 1e-9 * r.amax(),
                "{gb} vs {}",
                r.mean()
            );
            for j in 0..d {
                assert!(
                    (g[j] - grad_w[j]).abs() < 1e-9 * grad_w.amax(),
                    "{j}: {} vs {}",
                    g[j],
                    grad_w[j]
                );
            }
            // The window's per-row record, against the matrix form.
            let (mut yhat, mut res) = (vec![f64::NAN; n], vec![f64::NAN; n]);
            pass::scores_and_residuals(&x, y.as_slice(), (&w, b), &mut yhat, &mut res);
            for i in (0..n).step_by(997).chain([n - 1]) {
                assert!(
                    (res[i] - r[i]).abs() < 1e-9 && (yhat[i] - r[i] - y[i]).abs() < 1e-9,
                    "row {i}"
                );
            }
        }
    }

    #[test]
    fn overflowing_parameters_give_a_non_finite_loss() {
        let data = noisy(20);
        let moments = Moments::new(data.x(), data.numeric_target("t").unwrap().as_slice());
        for w in [[1e300, -1e300], [f64::INFINITY, 0.0], [f64::NAN, 1.0]] {
            let (half_mse, _, _) = moments.half_mse_and_gradient(&w, 0.0);
            assert!(!half_mse.is_finite(), "{w:?}: {half_mse}");
        }
        // uᵀΣu = ∞ − ∞ with a finite mean residual: NaN, not clamped to 0.
        let opposite = Moments {
            mean: DVector::zeros(3),
            cov: DMatrix::from_diagonal(&DVector::from_column_slice(&[1.0, -1.0, 1.0])),
            rows: 20,
        };
        let (half_mse, _, _) = opposite.half_mse_and_gradient(&[1e300, 1e300], 0.0);
        assert!(half_mse.is_nan(), "{half_mse}");
    }

    #[test]
    fn on_large_data_the_window_keeps_the_drawn_rows_of_y_hat_and_r_only() {
        // Three rows per drawn one.
        let data = noisy(2 * super::super::DRAWN_ROWS + 1);
        let make =
            || -> Box<dyn Algorithm> { Box::new(LinearRegression::new(&hyper(0.1)).unwrap()) };
        super::super::assert_keeps_the_drawn_rows(make, &data, &[YHAT, RESIDUAL], GRAD_W);
        let mut drawn = make();
        drawn.per_row_heads(Some(64));
        // Small data keeps every row either way.
        let small = noisy(50);
        let rec = drawn.reset(&small).unwrap();
        assert!(matches!(rec.get(YHAT), Some(Value::Vector(v)) if v.len() == 50));
    }

    #[test]
    fn a_perfect_fit_descends_to_zero_and_per_row_values_are_optional() {
        let data = tiny();
        let mut kept = LinearRegression::new(&hyper(0.1)).unwrap();
        let mut lean = LinearRegression::new(&hyper(0.1)).unwrap();
        lean.keep_per_row(false);
        kept.reset(&data).unwrap();
        let r0 = lean.reset(&data).unwrap();
        assert!(r0.get(YHAT).is_none() && r0.get(RESIDUAL).is_none());
        let mut last = f64::INFINITY;
        for _ in 0..2000 {
            let a = kept.step(&data).unwrap();
            let b = lean.step(&data).unwrap();
            assert_eq!(a.loss.to_bits(), b.loss.to_bits());
            // Down to the rounding of the residuals themselves (ε·|y|, squared).
            assert!(
                a.loss >= 0.0 && (a.loss <= last || a.loss < 1e-28),
                "{} after {last}",
                a.loss
            );
            last = a.loss;
            // ŷ and r are the record's, for the current parameters.
            let p = kept.params();
            assert!((recorded(&a, YHAT)[3] - (3.0 * p[0] + p[1])).abs() < 1e-12);
            assert!((recorded(&a, RESIDUAL)[3] - (3.0 * p[0] + p[1] - 7.0)).abs() < 1e-12);
        }
        assert_eq!(kept.params(), lean.params());
        assert!(last < 1e-20, "{last}");
    }

    #[test]
    fn a_near_exact_fit_keeps_its_loss_digits() {
        // y = 10⁶·x ± 10⁻³: the moments' uᵀΣu adds terms near 10¹³ that
        // cancel to a variance near 10⁻⁶, below their rounding.
        let x: Vec<f64> = (1..=10).map(f64::from).collect();
        let y: Vec<f64> = x
            .iter()
            .enumerate()
            .map(|(i, v)| 1e6 * v + if i % 2 == 0 { 1e-3 } else { -1e-3 })
            .collect();
        let data = Dataset::from_columns(&["x"], std::slice::from_ref(&x), Some(("y", y.clone())))
            .unwrap();
        let direct = |p: &[f64]| {
            x.iter()
                .zip(&y)
                .map(|(v, t)| (p[0] * v + p[1] - t).powi(2))
                .sum::<f64>()
                / 20.0
        };
        let mut alg = LinearRegression::new(&hyper(0.03)).unwrap();
        let mut last = alg.reset(&data).unwrap().loss;
        for _ in 0..3000 {
            let rec = alg.step(&data).unwrap();
            assert!(rec.loss <= last, "{} after {last}", rec.loss);
            last = rec.loss;
        }
        let want = direct(&alg.params());
        assert!(want < 1e-6, "{want}");
        assert!((last - want).abs() < 1e-6 * want, "{last} vs {want}");
        let exact = alg.reference(&data).unwrap().unwrap();
        let want = direct(&exact.params);
        assert!(
            (exact.loss - want).abs() < 1e-6 * want,
            "{} vs {want}",
            exact.loss
        );
    }

    #[test]
    fn normal_equations_agree_with_qr_least_squares() {
        let data = noisy(100);
        let y = data.numeric_target("t").unwrap();
        let ne = Moments::new(data.x(), y.as_slice())
            .normal_equations(0.0)
            .unwrap();
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
        let moments = Moments::new(data.x(), data.numeric_target("t").unwrap().as_slice());
        let err = moments.normal_equations(0.0).unwrap_err();
        assert!(err.to_string().contains("singular"), "{err}");
        // A ridge makes it solvable.
        assert!(moments.normal_equations(0.1).is_ok());
    }

    #[test]
    fn stability_bound_matches_eigenvalues() {
        let data = tiny();
        let alg = LinearRegression::new(&hyper(0.1)).unwrap();
        // A = [x 1], AᵀA/n = [[14, 6], [6, 4]]/4; eigenvalues (18 ± √(100+144))/8.
        let l = (18.0 + 244f64.sqrt()) / 8.0;
        assert!((alg.stability_bound(&data).unwrap() - 2.0 / l).abs() < 1e-12);
        // Only plain gradient descent's rate is bounded by it.
        let adam = LinearRegression::new(&Hyper {
            optimizer: Some(OptimizerKind::Adam),
            ..hyper(0.1)
        })
        .unwrap();
        assert_eq!(adam.stability_bound(&data), None);
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

    #[test]
    fn each_step_records_the_rows_its_gradient_ran_over() {
        let data = noisy(25);
        let batch_rows = |h: &Hyper| {
            let mut alg = LinearRegression::new(h).unwrap();
            alg.reset(&data).unwrap();
            (0..4)
                .map(|_| {
                    alg.step(&data)
                        .unwrap()
                        .get(crate::optim::BATCH_ROWS)
                        .cloned()
                })
                .collect::<Vec<_>>()
        };
        let rows = |n: f64| Some(Value::Scalar(n));
        // Batches of 10 from 25 rows: 10, 10, then the epoch's last 5.
        let batched = Hyper {
            batch_size: Some(10),
            ..hyper(0.05)
        };
        assert_eq!(
            batch_rows(&batched),
            [rows(10.0), rows(10.0), rows(5.0), rows(10.0)]
        );
        assert_eq!(batch_rows(&hyper(0.05)), vec![rows(25.0); 4]);
    }
}
