//! `perceptron`: Rosenblatt's rule, one sample per step in data order; the
//! separating line moves only when the sample is misclassified.

use super::linear::{self, B, J, W};
use super::pass;
use super::{AlgoError, Algorithm, DerivationStep, Entry, Hyper, StepRecord, Symbol};
use crate::data::Dataset;
use crate::optim::{self, ETA, OptimizerKind, THETA, THETA_PREV};
use nalgebra::{DMatrix, DVector};

/// i: the row used in this step.
pub const SAMPLE: Symbol = Symbol {
    id: "sample",
    latex: "i",
    meaning: "the row this step looks at (0-based, in data order)",
};
/// xᵢ: that row's features.
pub const XI: Symbol = Symbol {
    id: "x_i",
    latex: r"\mathbf{x}_i",
    meaning: "features of the row this step looks at",
};
/// yᵢ ∈ {−1, +1}: that row's label.
pub const YI: Symbol = Symbol {
    id: "y_i",
    latex: "y_i",
    meaning: "label of the row this step looks at (−1 or +1)",
};
/// yᵢ(w·xᵢ + b) before the update.
pub const MARGIN: Symbol = Symbol {
    id: "margin",
    latex: r"y_i (\mathbf{w} \cdot \mathbf{x}_i + b)",
    meaning: "signed score of the row: positive when correctly classified",
};
/// 1 when the row was misclassified (and the parameters moved).
pub const MISTAKE: Symbol = Symbol {
    id: "mistake",
    latex: r"\mathbf{1}[\text{mistake}]",
    meaning: "1 when the row was misclassified, so the parameters moved",
};

const STEPS: &[DerivationStep] = &[
    DerivationStep {
        title: "Model",
        sentence: "Classify a row by the side of the hyperplane w·x + b = 0 it lies on.",
        latex: r"\hat{y} = \operatorname{sign}(\mathbf{w} \cdot \mathbf{x} + b)",
        shows: &[W, B],
    },
    DerivationStep {
        title: "Mistake test",
        sentence: "Step t looks at one row, i = (t − 1) mod n, in the file's order. It is misclassified when its label and its score disagree in sign (a score of 0 counts as a mistake).",
        latex: r"y_i (\mathbf{w} \cdot \mathbf{x}_i + b) \le 0",
        shows: &[SAMPLE, XI, YI, MARGIN, MISTAKE],
    },
    DerivationStep {
        title: "Update on a mistake",
        sentence: "Add the misclassified row, signed by its label, to the weights: its score rises by η(‖xᵢ‖² + 1) in the right direction.",
        latex: r"\mathbf{w}_t = \mathbf{w}_{t-1} + \eta \, y_i \mathbf{x}_i, \qquad b_t = b_{t-1} + \eta \, y_i",
        shows: &[THETA_PREV, THETA, ETA, YI],
    },
    DerivationStep {
        title: "Loss",
        sentence: "Track the fraction of all rows the current hyperplane misclassifies; it is 0 once the data is separated.",
        latex: r"J = \frac{1}{n} \sum_{i=1}^{n} \mathbf{1}\left[ y_i (\mathbf{w} \cdot \mathbf{x}_i + b) \le 0 \right]",
        shows: &[J],
    },
    DerivationStep {
        title: "Convergence",
        sentence: "If some (w*, b*) with ‖w*‖² + b*² = 1 separates the data with margin γ, and every row has ‖xᵢ‖² + 1 ≤ R² (the 1 is for the bias, which the rule learns too), the rule started at zero makes at most (R/γ)² mistakes, whatever η (Novikoff).",
        latex: r"\text{mistakes} \le \frac{R^2}{\gamma^2}, \qquad R^2 = \max_i \|\mathbf{x}_i\|^2 + 1, \qquad \gamma = \min_i y_i (\mathbf{w}^\ast \cdot \mathbf{x}_i + b^\ast)",
        shows: &[J],
    },
];

/// The registry entry.
pub const ENTRY: Entry = Entry {
    id: "perceptron",
    summary: "Rosenblatt's perceptron ŷ = sign(w·x + b), one sample per step in data order",
    supervised: true,
    classifies: true,
    create: |h| Ok(Box::new(Perceptron::new(h)?)),
    optimizers: &[],
    default_l2: 0.0,
    default_k: 0,
};

/// Rosenblatt's perceptron.
#[derive(Debug, Clone)]
pub struct Perceptron {
    learning_rate: f64,
    w: DVector<f64>,
    b: f64,
    t: usize,
    features: Vec<String>,
    /// The ±1 target.
    y: linear::BinaryTarget,
}

/// The number of rows with yᵢ(w·xᵢ + b) ≤ 0, in one blocked pass over X
/// on every core (the scores are not kept: the record holds none).
fn mistakes(x: &DMatrix<f64>, y: &[f64], w: &[f64], b: f64) -> f64 {
    // One sweep per block and no second one, so unlike the fused pass's
    // blocks nothing has to stay in the first-level cache: the block only
    // sizes the scores' buffer.
    const BLOCK: usize = 2048;
    let n = x.nrows();
    let data = x.as_slice();
    let parts = pass::over_row_ranges(n, |start, end| {
        let mut scores = vec![0.0; BLOCK];
        let mut count = 0usize;
        pass::blocks(
            start,
            end,
            BLOCK,
            #[inline(always)]
            |lo, hi| {
                let s = &mut scores[..hi - lo];
                pass::dense_layer(
                    &mut [&mut *s],
                    |_, j| w[j],
                    |_| b,
                    (w.len(), |j| &data[j * n + lo..j * n + hi]),
                    pass::Prefetch::on(),
                );
                // Counted in whole numbers, so the loop runs on vector
                // instructions (a floating-point sum keeps its row order).
                count += s
                    .iter()
                    .zip(&y[lo..hi])
                    .filter(|&(s, y)| s * y <= 0.0)
                    .count();
            },
        );
        count
    });
    parts.iter().sum::<usize>() as f64
}

impl Perceptron {
    /// Builds it (η defaults to 1).
    ///
    /// # Errors
    /// An optimizer other than gd, or a bad learning rate.
    pub fn new(hyper: &Hyper) -> Result<Self, AlgoError> {
        if hyper.optimizer.is_some_and(|o| o != OptimizerKind::Gd) {
            return Err(AlgoError::Invalid(
                "the perceptron has its own update rule; --optimizer does not apply".into(),
            ));
        }
        let learning_rate = hyper.learning_rate.unwrap_or(1.0);
        optim::check_learning_rate(learning_rate)?;
        Ok(Self {
            learning_rate,
            w: DVector::zeros(0),
            b: 0.0,
            t: 0,
            features: Vec::new(),
            y: linear::BinaryTarget::new(ENTRY.id, -1.0, 1.0),
        })
    }

    fn evaluate(&self, data: &Dataset, y: &DVector<f64>) -> StepRecord {
        let mistakes = mistakes(data.x(), y.as_slice(), self.w.as_slice(), self.b);
        let loss = mistakes / y.len() as f64;
        let mut rec = StepRecord::new(self.t, loss);
        rec.vector(W, self.w.as_slice());
        rec.scalar(B, self.b);
        rec.scalar(J, loss);
        rec.converged = mistakes == 0.0;
        if rec.converged {
            rec.note = Some(format!(
                "converged: every row is classified correctly at step {}",
                self.t
            ));
        }
        rec
    }
}

impl Algorithm for Perceptron {
    fn id(&self) -> &'static str {
        ENTRY.id
    }

    fn derivation(&self) -> Vec<DerivationStep> {
        STEPS.to_vec()
    }

    fn reset(&mut self, data: &Dataset) -> Result<StepRecord, AlgoError> {
        let y = self.y.reset(data)?;
        self.w = DVector::zeros(data.n_features());
        self.b = 0.0;
        self.t = 0;
        self.features = data.feature_names().to_vec();
        Ok(self.evaluate(data, &y))
    }

    fn step(&mut self, data: &Dataset) -> Result<StepRecord, AlgoError> {
        let y = self.y.get(data)?;
        let n = data.n_rows();
        let i = self.t % n;
        let xi: Vec<f64> = data.x().row(i).iter().copied().collect();
        let yi = y[i];
        let margin = yi
            * (xi
                .iter()
                .zip(self.w.iter())
                .map(|(a, b)| a * b)
                .sum::<f64>()
                + self.b);
        let before = self.params();
        let mistake = margin <= 0.0;
        if mistake {
            for (w, x) in self.w.iter_mut().zip(&xi) {
                *w += self.learning_rate * yi * x;
            }
            self.b += self.learning_rate * yi;
        }
        self.t += 1;
        let mut rec = self.evaluate(data, &y);
        rec.scalar(SAMPLE, i as f64);
        rec.vector(XI, xi);
        rec.scalar(YI, yi);
        rec.scalar(MARGIN, margin);
        rec.scalar(MISTAKE, if mistake { 1.0 } else { 0.0 });
        rec.scalar(ETA, self.learning_rate);
        rec.vector(THETA_PREV, before);
        rec.vector(THETA, self.params());
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

    fn learning_rate(&self) -> Option<f64> {
        Some(self.learning_rate)
    }

    fn set_learning_rate(&mut self, learning_rate: f64) {
        if optim::check_learning_rate(learning_rate).is_ok() {
            self.learning_rate = learning_rate;
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
        let s = linear::scores(data.x(), &DVector::from_column_slice(&flat[..d]), flat[d]);
        Some(
            s.iter()
                .zip(y.iter())
                .filter(|(s, y)| *s * *y <= 0.0)
                .count() as f64
                / y.len() as f64,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocked_mistake_count_matches_a_direct_count_on_many_rows() {
        // Two threads, many blocks, a ragged last one; some rows exactly on
        // the hyperplane (score 0 counts as a mistake).
        let n = 70_001;
        let mut rng = crate::rng::Rng::new(9);
        let x = DMatrix::from_fn(n, 3, |i, j| {
            if i % 7 == 0 {
                0.0
            } else {
                rng.normal() + j as f64
            }
        });
        let y: Vec<f64> = (0..n)
            .map(|i| if i % 3 == 0 { 1.0 } else { -1.0 })
            .collect();
        for (w, b) in [
            ([0.5, -0.25, 0.1], 0.0),
            ([0.0, 0.0, 0.0], 0.0),
            ([1.0, 2.0, -1.5], 0.3),
        ] {
            let direct = (0..n)
                .filter(|&i| {
                    let s: f64 = (0..3).map(|j| w[j] * x[(i, j)]).sum::<f64>() + b;
                    s * y[i] <= 0.0
                })
                .count();
            let counted = mistakes(&x, &y, &w, b);
            assert_eq!(counted.to_bits(), (direct as f64).to_bits(), "w {w:?}");
        }
    }

    #[test]
    fn hand_checked_first_steps_and_convergence() {
        // Labels "a" < "b" map to −1, +1.
        let d = Dataset::from_columns(
            &["x1", "x2"],
            &[vec![1.0, -1.0, 2.0, -2.0], vec![1.0, -1.0, 0.5, -0.5]],
            Some(("y", vec![1.0, 0.0, 1.0, 0.0])),
        )
        .unwrap();
        let mut p = Perceptron::new(&Hyper::default()).unwrap();
        let r0 = p.reset(&d).unwrap();
        assert!(
            (r0.loss - 1.0).abs() < 1e-15,
            "score 0 is a mistake for every row"
        );
        // Step 1: row 0, y = +1, mistake → w = (1, 1), b = 1.
        let r1 = p.step(&d).unwrap();
        assert_eq!(p.params(), vec![1.0, 1.0, 1.0]);
        assert_eq!(
            r1.get(MISTAKE).and_then(super::super::Value::as_scalar),
            Some(1.0)
        );
        // Step 2: row 1, y = −1, score −1 − 1 + 1 = −1 → correct, nothing moves.
        let r2 = p.step(&d).unwrap();
        assert_eq!(p.params(), vec![1.0, 1.0, 1.0]);
        assert_eq!(
            r2.get(MISTAKE).and_then(super::super::Value::as_scalar),
            Some(0.0)
        );
        assert!(r2.converged && r2.loss.abs() < 1e-15);
    }

    #[test]
    fn separable_data_converges_and_wraps_epochs() {
        let mut rng = crate::rng::Rng::new(8);
        let mut a = Vec::new();
        let mut b = Vec::new();
        let mut y = Vec::new();
        for i in 0..60 {
            let label = f64::from(u8::from(i % 2 == 0));
            a.push(rng.normal() + if label > 0.0 { 3.0 } else { -3.0 });
            b.push(rng.normal());
            y.push(label);
        }
        let d = Dataset::from_columns(&["a", "b"], &[a, b], Some(("y", y))).unwrap();
        let mut p = Perceptron::new(&Hyper::default()).unwrap();
        p.reset(&d).unwrap();
        let steps = (1..=10_000)
            .find(|_| p.step(&d).unwrap().converged)
            .unwrap();
        assert!(steps > 0);
        assert!(p.loss_at(&d, &p.params()).unwrap().abs() < 1e-15);
    }
}
