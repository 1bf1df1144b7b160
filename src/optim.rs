//! Optimizers: turn a gradient into an update (gd, momentum, nesterov,
//! adagrad, rmsprop, adam), with their derivation lines and state; plus
//! mini-batches and the L1/L2 penalty shared by every gradient algorithm.

use crate::algorithms::{AlgoError, Cached, DerivationStep, Hyper, StepRecord, Symbol};
use crate::rng::Rng;

/// The ε added under square roots (adagrad, rmsprop, adam).
pub const EPSILON: f64 = 1e-8;

/// Which update turns the gradient into a step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum OptimizerKind {
    /// Plain gradient descent.
    Gd,
    /// Heavy-ball momentum (PyTorch form: v ← μv + g, θ ← θ − ηv).
    Momentum,
    /// Nesterov momentum (PyTorch form: θ ← θ − η(g + μv)).
    Nesterov,
    /// Adagrad.
    Adagrad,
    /// RMSprop.
    Rmsprop,
    /// Adam with bias correction.
    Adam,
    /// Newton's method (logistic regression: IRLS).
    Newton,
    /// Pegasos (linear SVM): η_t = 1/(λt).
    Pegasos,
}

impl OptimizerKind {
    /// Every optimizer: Pegasos, the first-order ones (gradient descent
    /// first), Newton; the algorithms offer slices of it.
    pub const ALL: [Self; 8] = [
        Self::Pegasos,
        Self::Gd,
        Self::Momentum,
        Self::Nesterov,
        Self::Adagrad,
        Self::Rmsprop,
        Self::Adam,
        Self::Newton,
    ];

    /// The first-order optimizers of [`Optimizer`], gradient descent first.
    pub const FIRST_ORDER: &[Self] = Self::ALL.split_at(1).1.split_at(6).0;

    /// Every name the CLI accepts.
    pub const NAMES: &'static [&'static str] = &[
        "gd", "momentum", "nesterov", "adagrad", "rmsprop", "adam", "newton", "pegasos",
    ];

    /// Parses a CLI name.
    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "gd" | "sgd" => Self::Gd,
            "momentum" => Self::Momentum,
            "nesterov" => Self::Nesterov,
            "adagrad" => Self::Adagrad,
            "rmsprop" => Self::Rmsprop,
            "adam" => Self::Adam,
            "newton" | "irls" => Self::Newton,
            "pegasos" => Self::Pegasos,
            _ => return None,
        })
    }

    /// The CLI name.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::Gd => "gd",
            Self::Momentum => "momentum",
            Self::Nesterov => "nesterov",
            Self::Adagrad => "adagrad",
            Self::Rmsprop => "rmsprop",
            Self::Adam => "adam",
            Self::Newton => "newton",
            Self::Pegasos => "pegasos",
        }
    }

    /// β₂ when none is given: RMSprop's ρ = 0.9, Adam's 0.999.
    #[must_use]
    pub fn default_beta2(self) -> f64 {
        if self == Self::Rmsprop { 0.9 } else { 0.999 }
    }

    /// Whether this is one of the first-order optimizers of [`Optimizer`].
    #[must_use]
    pub fn is_first_order(self) -> bool {
        !matches!(self, Self::Newton | Self::Pegasos)
    }
}

/// θ_{t−1}: all parameters before the update, flattened.
pub const THETA_PREV: Symbol = Symbol {
    id: "theta_prev",
    latex: r"\theta_{t-1}",
    meaning: "parameters before the update",
};
/// θ_t: all parameters after the update, flattened.
pub const THETA: Symbol = Symbol {
    id: "theta",
    latex: r"\theta_t",
    meaning: "parameters after the update",
};
/// |B_t|: the rows of this step's mini-batch.
pub const BATCH_ROWS: Symbol = Symbol {
    id: "batch_rows",
    latex: r"|B_t|",
    meaning: "rows in this step's mini-batch B_t, over which g's mean runs (all n without a batch size)",
};
/// g_{t−1}: the gradient the update used.
pub const GRAD_PREV: Symbol = Symbol {
    id: "grad_prev",
    latex: r"g_{t-1}",
    meaning: "gradient at the previous parameters (the one the update uses)",
};
/// η: the learning rate.
pub const ETA: Symbol = Symbol {
    id: "eta",
    latex: r"\eta",
    meaning: "learning rate",
};
/// μ: the momentum coefficient.
pub const MU: Symbol = Symbol {
    id: "mu",
    latex: r"\mu",
    meaning: "momentum coefficient",
};
/// v_t: the velocity.
pub const VELOCITY: Symbol = Symbol {
    id: "velocity",
    latex: r"v_t",
    meaning: "velocity (running sum of gradients)",
};
/// m_t: Adam's first moment.
pub const M1: Symbol = Symbol {
    id: "m",
    latex: r"m_t",
    meaning: "first-moment estimate",
};
/// s_t: the second moment / accumulated squares.
pub const M2: Symbol = Symbol {
    id: "s",
    latex: r"s_t",
    meaning: "second-moment estimate (squared gradients)",
};
/// v_{t−1}: the velocity before the update.
pub const VELOCITY_PREV: Symbol = Symbol {
    id: "velocity_prev",
    latex: r"v_{t-1}",
    meaning: "velocity before the update",
};
/// m_{t−1}: Adam's first moment before the update.
pub const M1_PREV: Symbol = Symbol {
    id: "m_prev",
    latex: r"m_{t-1}",
    meaning: "first-moment estimate before the update",
};
/// s_{t−1}: the second moment before the update.
pub const M2_PREV: Symbol = Symbol {
    id: "s_prev",
    latex: r"s_{t-1}",
    meaning: "second-moment estimate before the update",
};
/// m̂_t: bias-corrected first moment.
pub const M1_HAT: Symbol = Symbol {
    id: "m_hat",
    latex: r"\hat{m}_t",
    meaning: "bias-corrected first moment",
};
/// ŝ_t: bias-corrected second moment.
pub const M2_HAT: Symbol = Symbol {
    id: "s_hat",
    latex: r"\hat{s}_t",
    meaning: "bias-corrected second moment",
};
/// β₁.
pub const BETA1: Symbol = Symbol {
    id: "beta1",
    latex: r"\beta_1",
    meaning: "first-moment decay",
};
/// β₂ (ρ for RMSprop).
pub const BETA2: Symbol = Symbol {
    id: "beta2",
    latex: r"\beta_2",
    meaning: "second-moment decay",
};

/// What g_{t−1} is, said where an optimizer first uses it.
macro_rules! gradient_note {
    () => {
        " Here g is the gradient at the previous parameters (a subgradient where the loss has a kink): with a batch size, its mean runs over this step's mini-batch B instead of all n rows, penalty included."
    };
}

const GD_STEPS: &[DerivationStep] = &[DerivationStep {
    title: "Gradient step",
    sentence: concat!(
        "Move every parameter a small step against its gradient.",
        gradient_note!()
    ),
    latex: r"\theta_t = \theta_{t-1} - \eta \, g_{t-1}",
    shows: &[THETA, THETA_PREV, ETA, GRAD_PREV, BATCH_ROWS],
}];

const MOMENTUM_STEPS: &[DerivationStep] = &[
    DerivationStep {
        title: "Velocity",
        sentence: concat!(
            "Accumulate the gradients with decay μ, so steps keep going where the gradient keeps pointing.",
            gradient_note!()
        ),
        latex: r"v_t = \mu \, v_{t-1} + g_{t-1}",
        shows: &[VELOCITY, MU, VELOCITY_PREV, GRAD_PREV, BATCH_ROWS],
    },
    DerivationStep {
        title: "Momentum step",
        sentence: "Move against the velocity instead of the raw gradient.",
        latex: r"\theta_t = \theta_{t-1} - \eta \, v_t",
        shows: &[THETA, THETA_PREV, ETA, VELOCITY],
    },
];

const NESTEROV_STEPS: &[DerivationStep] = &[
    DerivationStep {
        title: "Velocity",
        sentence: concat!("Accumulate the gradients with decay μ.", gradient_note!()),
        latex: r"v_t = \mu \, v_{t-1} + g_{t-1}",
        shows: &[VELOCITY, MU, VELOCITY_PREV, GRAD_PREV, BATCH_ROWS],
    },
    DerivationStep {
        title: "Nesterov step",
        sentence: "Look ahead: step with the gradient plus the decayed new velocity (the form PyTorch uses).",
        latex: r"\theta_t = \theta_{t-1} - \eta \left( g_{t-1} + \mu \, v_t \right)",
        shows: &[THETA, THETA_PREV, ETA, GRAD_PREV, MU, VELOCITY],
    },
];

const ADAGRAD_STEPS: &[DerivationStep] = &[
    DerivationStep {
        title: "Accumulated squares",
        sentence: concat!(
            "Sum the squared gradients of every step, per parameter (squares, roots and quotients act entry by entry).",
            gradient_note!()
        ),
        latex: r"s_t = s_{t-1} + g_{t-1}^2",
        shows: &[M2, M2_PREV, GRAD_PREV, BATCH_ROWS],
    },
    DerivationStep {
        title: "Adagrad step",
        sentence: "Divide each parameter's step by the root of its accumulated squares (ε = 10⁻⁸ avoids division by zero).",
        latex: r"\theta_t = \theta_{t-1} - \frac{\eta}{\sqrt{s_t} + \epsilon} \, g_{t-1}",
        shows: &[THETA, THETA_PREV, ETA, M2, GRAD_PREV],
    },
];

const RMSPROP_STEPS: &[DerivationStep] = &[
    DerivationStep {
        title: "Running mean of squares",
        sentence: concat!(
            "Average the squared gradients with decay β₂ (ρ), so old gradients are forgotten (squares, roots and quotients act entry by entry).",
            gradient_note!()
        ),
        latex: r"s_t = \beta_2 \, s_{t-1} + (1 - \beta_2) \, g_{t-1}^2",
        shows: &[M2, BETA2, M2_PREV, GRAD_PREV, BATCH_ROWS],
    },
    DerivationStep {
        title: "RMSprop step",
        sentence: "Divide each parameter's step by the root of its running mean of squares (ε = 10⁻⁸ avoids division by zero).",
        latex: r"\theta_t = \theta_{t-1} - \frac{\eta}{\sqrt{s_t} + \epsilon} \, g_{t-1}",
        shows: &[THETA, THETA_PREV, ETA, M2, GRAD_PREV],
    },
];

const ADAM_STEPS: &[DerivationStep] = &[
    DerivationStep {
        title: "First moment",
        sentence: concat!(
            "A running mean of the gradients, with decay β₁.",
            gradient_note!()
        ),
        latex: r"m_t = \beta_1 \, m_{t-1} + (1 - \beta_1) \, g_{t-1}",
        shows: &[M1, BETA1, M1_PREV, GRAD_PREV, BATCH_ROWS],
    },
    DerivationStep {
        title: "Second moment",
        sentence: "A running mean of the squared gradients, with decay β₂ (squares, roots and quotients act entry by entry).",
        latex: r"s_t = \beta_2 \, s_{t-1} + (1 - \beta_2) \, g_{t-1}^2",
        shows: &[M2, BETA2, M2_PREV, GRAD_PREV],
    },
    DerivationStep {
        title: "Bias correction",
        sentence: "Both means start at zero; dividing by 1 − β₁ᵗ and 1 − β₂ᵗ removes that pull towards zero.",
        latex: r"\hat{m}_t = \frac{m_t}{1 - \beta_1^t}, \quad \hat{s}_t = \frac{s_t}{1 - \beta_2^t}",
        shows: &[M1_HAT, M2_HAT],
    },
    DerivationStep {
        title: "Adam step",
        sentence: "Step along the corrected mean, scaled per parameter by the root of the corrected squares (ε = 10⁻⁸ avoids division by zero).",
        latex: r"\theta_t = \theta_{t-1} - \eta \, \frac{\hat{m}_t}{\sqrt{\hat{s}_t} + \epsilon}",
        shows: &[THETA, THETA_PREV, ETA, M1_HAT, M2_HAT],
    },
];

/// A first-order optimizer and its state.
#[derive(Debug, Clone, PartialEq)]
pub struct Optimizer {
    /// Which update.
    pub kind: OptimizerKind,
    /// η.
    pub learning_rate: f64,
    /// μ.
    pub momentum: f64,
    /// β₁.
    pub beta1: f64,
    /// β₂ (ρ for RMSprop).
    pub beta2: f64,
    /// Updates applied.
    pub t: usize,
    v: Vec<f64>,
    s: Vec<f64>,
}

impl Optimizer {
    /// Builds the optimizer `hyper` asks for (or `default_kind`), with
    /// `default_lr` when no learning rate is given.
    ///
    /// # Errors
    /// A non-positive or non-finite learning rate, decay outside [0, 1), or a
    /// kind that is not first-order.
    pub fn new(
        hyper: &Hyper,
        default_kind: OptimizerKind,
        default_lr: f64,
    ) -> Result<Self, AlgoError> {
        let kind = hyper.optimizer.unwrap_or(default_kind);
        if !kind.is_first_order() {
            return Err(AlgoError::Invalid(format!(
                "the optimizer '{}' does not apply here; choose gd, momentum, nesterov, adagrad, rmsprop or adam",
                kind.name()
            )));
        }
        let learning_rate = hyper.learning_rate.unwrap_or(default_lr);
        check_learning_rate(learning_rate)?;
        let beta2 = hyper.beta2.unwrap_or(kind.default_beta2());
        for (name, v) in [
            ("momentum", hyper.momentum),
            ("beta1", hyper.beta1),
            ("beta2", beta2),
        ] {
            if !(0.0..1.0).contains(&v) {
                return Err(AlgoError::Invalid(format!(
                    "--{name} must be in [0, 1), got {}",
                    crate::export::format_given(v)
                )));
            }
        }
        Ok(Self {
            kind,
            learning_rate,
            momentum: hyper.momentum,
            beta1: hyper.beta1,
            beta2,
            t: 0,
            v: Vec::new(),
            s: Vec::new(),
        })
    }

    /// Forgets the state (velocity, moments, step count).
    pub fn reset(&mut self) {
        self.t = 0;
        self.v.clear();
        self.s.clear();
    }

    /// The derivation lines of this update.
    #[must_use]
    pub fn derivation(&self) -> &'static [DerivationStep] {
        match self.kind {
            OptimizerKind::Momentum => MOMENTUM_STEPS,
            OptimizerKind::Nesterov => NESTEROV_STEPS,
            OptimizerKind::Adagrad => ADAGRAD_STEPS,
            OptimizerKind::Rmsprop => RMSPROP_STEPS,
            OptimizerKind::Adam => ADAM_STEPS,
            _ => GD_STEPS,
        }
    }

    /// Applies one update to `theta` with gradient `grad`, and records
    /// θ_{t−1}, g_{t−1}, η, θ_t and the optimizer's state.
    pub fn apply(&mut self, theta: &mut [f64], grad: &[f64], rec: &mut StepRecord) {
        let p = theta.len();
        if self.v.len() != p {
            self.v = vec![0.0; p];
            self.s = vec![0.0; p];
        }
        self.t += 1;
        rec.vector(THETA_PREV, theta.to_vec());
        rec.vector(GRAD_PREV, grad.to_vec());
        rec.scalar(ETA, self.learning_rate);
        let eta = self.learning_rate;
        let t = i32::try_from(self.t).unwrap_or(i32::MAX);
        match self.kind {
            OptimizerKind::Momentum | OptimizerKind::Nesterov => {
                rec.vector(VELOCITY_PREV, self.v.clone());
                let nesterov = self.kind == OptimizerKind::Nesterov;
                for i in 0..p {
                    self.v[i] = self.momentum * self.v[i] + grad[i];
                    let dir = if nesterov {
                        grad[i] + self.momentum * self.v[i]
                    } else {
                        self.v[i]
                    };
                    theta[i] -= eta * dir;
                }
                rec.scalar(MU, self.momentum);
                rec.vector(VELOCITY, self.v.clone());
            }
            OptimizerKind::Adagrad | OptimizerKind::Rmsprop => {
                rec.vector(M2_PREV, self.s.clone());
                let rms = self.kind == OptimizerKind::Rmsprop;
                for i in 0..p {
                    let g2 = grad[i] * grad[i];
                    self.s[i] = if rms {
                        self.beta2 * self.s[i] + (1.0 - self.beta2) * g2
                    } else {
                        self.s[i] + g2
                    };
                    theta[i] -= eta * grad[i] / (self.s[i].sqrt() + EPSILON);
                }
                rec.vector(M2, self.s.clone());
                if rms {
                    rec.scalar(BETA2, self.beta2);
                }
            }
            OptimizerKind::Adam => {
                rec.vector(M1_PREV, self.v.clone());
                rec.vector(M2_PREV, self.s.clone());
                let c1 = 1.0 - self.beta1.powi(t);
                let c2 = 1.0 - self.beta2.powi(t);
                let mut m_hat = vec![0.0; p];
                let mut s_hat = vec![0.0; p];
                for i in 0..p {
                    self.v[i] = self.beta1 * self.v[i] + (1.0 - self.beta1) * grad[i];
                    self.s[i] = self.beta2 * self.s[i] + (1.0 - self.beta2) * grad[i] * grad[i];
                    m_hat[i] = self.v[i] / c1;
                    s_hat[i] = self.s[i] / c2;
                    theta[i] -= eta * m_hat[i] / (s_hat[i].sqrt() + EPSILON);
                }
                rec.vector(M1, self.v.clone());
                rec.vector(M2, self.s.clone());
                rec.vector(M1_HAT, m_hat);
                rec.vector(M2_HAT, s_hat);
                rec.scalar(BETA1, self.beta1);
                rec.scalar(BETA2, self.beta2);
            }
            _ => {
                for (th, g) in theta.iter_mut().zip(grad) {
                    *th -= eta * g;
                }
            }
        }
        rec.vector(THETA, theta.to_vec());
    }
}

/// Refuses learning rates that are not positive and finite.
///
/// # Errors
/// [`AlgoError::Invalid`] naming the value.
pub fn check_learning_rate(learning_rate: f64) -> Result<(), AlgoError> {
    if learning_rate.is_finite() && learning_rate > 0.0 {
        Ok(())
    } else {
        Err(AlgoError::Invalid(format!(
            "the learning rate must be a positive number, got {}",
            crate::export::format_given(learning_rate)
        )))
    }
}

/// Mini-batches drawn from seeded shuffles of the rows, epoch after epoch.
#[derive(Debug, Clone)]
pub struct Batches {
    size: Option<usize>,
    rng: Rng,
    /// The generator before the current epoch's shuffle, and that epoch's
    /// rows: the order (n indices) is shuffled again from it when missing,
    /// since a clone (a checkpoint of the algorithm) does not copy it.
    epoch: Rng,
    order: Cached<Vec<usize>>,
    rows: usize,
    pos: usize,
    /// How many rows the last batch had (`None`: the full batch).
    last: Option<usize>,
}

impl Batches {
    /// Batches of `size` rows (`None`: the full batch), shuffled with `seed`.
    ///
    /// # Errors
    /// A batch size of zero.
    pub fn new(size: Option<usize>, seed: u64) -> Result<Self, AlgoError> {
        if size == Some(0) {
            return Err(AlgoError::Invalid("--batch-size must be at least 1".into()));
        }
        Ok(Self {
            size,
            rng: Rng::new(seed),
            epoch: Rng::new(seed),
            order: Cached::default(),
            rows: 0,
            pos: 0,
            last: None,
        })
    }

    /// The rows of the next mini-batch, or `None` for the full batch (also when the
    /// batch size is at least `n`).
    pub fn next_batch(&mut self, n: usize) -> Option<Vec<usize>> {
        self.last = None;
        let size = self.size.filter(|&s| s < n)?;
        if self.rows != n || self.pos >= n {
            self.epoch = self.rng.clone();
            self.order.set(shuffled(n, &mut self.rng));
            self.rows = n;
            self.pos = 0;
        }
        if self.order.get().is_none() {
            self.order.set(shuffled(n, &mut self.epoch.clone()));
        }
        let order = self.order.get()?;
        let end = (self.pos + size).min(n);
        let batch = order[self.pos..end].to_vec();
        self.pos = end;
        self.last = Some(batch.len());
        Some(batch)
    }

    /// The rows of the last batch: all `n` for the full batch.
    #[must_use]
    pub fn last_rows(&self, n: usize) -> usize {
        self.last.unwrap_or(n)
    }

    /// Records |B_t|, the rows of the last batch ([`Self::last_rows`]).
    #[allow(clippy::cast_precision_loss)]
    pub fn record(&self, rec: &mut StepRecord, n: usize) {
        rec.scalar(BATCH_ROWS, self.last_rows(n) as f64);
    }
}

/// 0, 1, …, n − 1 in the order of one shuffle with `rng`.
fn shuffled(n: usize, rng: &mut Rng) -> Vec<usize> {
    let mut order: Vec<usize> = (0..n).collect();
    rng.shuffle(&mut order);
    order
}

/// (λ/2)‖w‖² + λ₁‖w‖₁.
#[must_use]
pub fn penalty(w: &[f64], l2: f64, l1: f64) -> f64 {
    w.iter().map(|v| 0.5 * l2 * v * v + l1 * v.abs()).sum()
}

/// Adds the penalty's (sub)gradient λw + λ₁ sign(w) to `grad_w` (sign(0) = 0).
pub fn add_penalty_gradient(grad_w: &mut [f64], w: &[f64], l2: f64, l1: f64) {
    for (g, &v) in grad_w.iter_mut().zip(w) {
        let sign = if v > 0.0 {
            1.0
        } else if v < 0.0 {
            -1.0
        } else {
            0.0
        };
        *g += l2 * v + l1 * sign;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opt(kind: OptimizerKind, lr: f64) -> Optimizer {
        let hyper = Hyper {
            optimizer: Some(kind),
            learning_rate: Some(lr),
            ..Hyper::default()
        };
        Optimizer::new(&hyper, OptimizerKind::Gd, 0.1).unwrap()
    }

    /// Runs `steps` updates on J(θ) = ½ θ² (gradient θ) from θ = 1.
    fn on_quadratic(kind: OptimizerKind, lr: f64, steps: usize) -> Vec<f64> {
        let mut o = opt(kind, lr);
        let mut theta = [1.0];
        let mut out = Vec::new();
        for _ in 0..steps {
            let g = [theta[0]];
            o.apply(&mut theta, &g, &mut StepRecord::new(0, 0.0));
            out.push(theta[0]);
        }
        out
    }

    fn close(a: &[f64], b: &[f64]) {
        for (x, y) in a.iter().zip(b) {
            assert!((x - y).abs() < 1e-12, "{a:?} vs {b:?}");
        }
    }

    #[test]
    fn each_record_holds_the_state_its_formulas_start_from() {
        let at = |rec: &StepRecord, symbol: Symbol| rec.get(symbol).unwrap().as_slice()[0];
        for kind in [
            OptimizerKind::Momentum,
            OptimizerKind::Adagrad,
            OptimizerKind::Rmsprop,
            OptimizerKind::Adam,
        ] {
            let mut o = opt(kind, 0.1);
            let mut theta = [1.0];
            for _ in 0..3 {
                let mut rec = StepRecord::new(0, 0.0);
                let g = [theta[0]];
                o.apply(&mut theta, &g, &mut rec);
                let (b1, b2) = (o.beta1, o.beta2);
                let (m, s) = match kind {
                    OptimizerKind::Momentum => (
                        Some((
                            at(&rec, VELOCITY),
                            o.momentum * at(&rec, VELOCITY_PREV) + g[0],
                        )),
                        None,
                    ),
                    OptimizerKind::Adagrad => {
                        (None, Some((at(&rec, M2), at(&rec, M2_PREV) + g[0] * g[0])))
                    }
                    OptimizerKind::Rmsprop => (
                        None,
                        Some((
                            at(&rec, M2),
                            b2 * at(&rec, M2_PREV) + (1.0 - b2) * g[0] * g[0],
                        )),
                    ),
                    _ => (
                        Some((at(&rec, M1), b1 * at(&rec, M1_PREV) + (1.0 - b1) * g[0])),
                        Some((
                            at(&rec, M2),
                            b2 * at(&rec, M2_PREV) + (1.0 - b2) * g[0] * g[0],
                        )),
                    ),
                };
                for (now, from_previous) in m.into_iter().chain(s) {
                    assert!((now - from_previous).abs() < 1e-15, "{kind:?}");
                }
            }
        }
    }

    #[test]
    fn gd_by_hand() {
        // θ ← θ − 0.5 θ halves θ each step.
        close(
            &on_quadratic(OptimizerKind::Gd, 0.5, 3),
            &[0.5, 0.25, 0.125],
        );
    }

    #[test]
    fn momentum_by_hand() {
        // v1 = 1, θ1 = 1 − 0.1 = 0.9; v2 = 0.9·1 + 0.9 = 1.8, θ2 = 0.9 − 0.18 = 0.72.
        close(&on_quadratic(OptimizerKind::Momentum, 0.1, 2), &[0.9, 0.72]);
    }

    #[test]
    fn nesterov_by_hand() {
        // v1 = 1, θ1 = 1 − 0.1(1 + 0.9) = 0.81; v2 = 0.9 + 0.81 = 1.71,
        // θ2 = 0.81 − 0.1(0.81 + 0.9·1.71) = 0.81 − 0.2349 = 0.5751.
        close(
            &on_quadratic(OptimizerKind::Nesterov, 0.1, 2),
            &[0.81, 0.5751],
        );
    }

    #[test]
    fn adagrad_by_hand() {
        // s1 = 1, θ1 = 1 − 0.1·1/(1 + ε); s2 = 1 + θ1², θ2 = θ1 − 0.1 θ1/(√s2 + ε).
        let t1 = 1.0 - 0.1 / (1.0 + EPSILON);
        let t2 = t1 - 0.1 * t1 / ((1.0 + t1 * t1).sqrt() + EPSILON);
        close(&on_quadratic(OptimizerKind::Adagrad, 0.1, 2), &[t1, t2]);
    }

    #[test]
    fn rmsprop_by_hand() {
        // s1 = 0.1, θ1 = 1 − 0.1/(√0.1 + ε).
        let t1 = 1.0 - 0.1 / (0.1f64.sqrt() + EPSILON);
        close(&on_quadratic(OptimizerKind::Rmsprop, 0.1, 1), &[t1]);
    }

    #[test]
    fn adam_first_steps_by_hand() {
        // Bias correction makes the first step exactly η·g/(|g| + ε) ≈ η.
        let t1 = 1.0 - 0.1 * 1.0 / (1.0 + EPSILON);
        let m = 0.1 * 1.0 * 0.9 + 0.1 * t1;
        let s = 0.999 * 0.001 + 0.001 * t1 * t1;
        let t2 = t1 - 0.1 * (m / (1.0 - 0.81)) / ((s / (1.0 - 0.999f64.powi(2))).sqrt() + EPSILON);
        close(&on_quadratic(OptimizerKind::Adam, 0.1, 2), &[t1, t2]);
    }

    #[test]
    fn every_optimizer_converges_on_a_quadratic() {
        for &kind in OptimizerKind::FIRST_ORDER {
            // Adaptive methods take steps of about η near the optimum, so they
            // settle within η of it rather than on it.
            let last = *on_quadratic(kind, 0.05, 3000).last().unwrap();
            assert!(last.abs() <= 0.05, "{kind:?} ended at {last}");
        }
    }

    #[test]
    fn batches_cover_each_epoch_once() {
        let mut b = Batches::new(Some(3), 1).unwrap();
        let mut seen: Vec<usize> = Vec::new();
        for _ in 0..4 {
            seen.extend(b.next_batch(10).unwrap());
        }
        seen.sort_unstable();
        assert_eq!(seen, (0..10).collect::<Vec<_>>());
        assert!(Batches::new(None, 1).unwrap().next_batch(10).is_none());
        assert!(Batches::new(Some(0), 1).is_err());
    }

    #[test]
    fn a_copy_draws_the_same_batches_without_copying_the_order() {
        let mut b = Batches::new(Some(4), 7).unwrap();
        for _ in 0..4 {
            b.next_batch(10);
        }
        // Mid-way through the second epoch: the copy shuffles it again.
        let mut copy = b.clone();
        assert!(copy.order.get().is_none());
        for _ in 0..7 {
            assert_eq!(copy.next_batch(10), b.next_batch(10));
        }
    }

    #[test]
    fn bad_learning_rates_are_refused() {
        for lr in [0.0, -1.0, f64::NAN, f64::INFINITY] {
            assert!(check_learning_rate(lr).is_err());
        }
    }
}
