//! `mlp`: a multilayer perceptron with one or two hidden layers (tanh, relu or
//! sigmoid), a sigmoid, softmax or identity output, trained by backpropagation
//! and a first-order optimizer.

use super::linear::{J, LAMBDA};
use super::softmax::softmax_rows;
use super::{
    Activation, AlgoError, Algorithm, DerivationStep, Entry, Hyper, StepRecord, Symbol, Value,
};
use crate::data::{Dataset, Label};
use crate::optim::{self, Batches, Optimizer, OptimizerKind};
use crate::rng::Rng;
use nalgebra::{DMatrix, DVector};

/// What the output layer predicts, and with which loss.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Output {
    /// One sigmoid unit, log-loss.
    Binary,
    /// K softmax units, cross-entropy.
    Multiclass(usize),
    /// One identity unit, half mean squared error.
    Regression,
}

macro_rules! symbol {
    ($name:ident, $id:expr, $latex:expr, $meaning:expr) => {
        #[doc = $meaning]
        pub const $name: Symbol = Symbol {
            id: $id,
            latex: $latex,
            meaning: $meaning,
        };
    };
}

symbol!(
    W1,
    "W1",
    r"W^{(1)}",
    "weights of the first hidden layer (units × inputs)"
);
symbol!(
    W2,
    "W2",
    r"W^{(2)}",
    "weights of the second layer (units × inputs)"
);
symbol!(
    W3,
    "W3",
    r"W^{(3)}",
    "weights of the third layer (units × inputs)"
);
symbol!(
    B1,
    "b1",
    r"\mathbf{b}^{(1)}",
    "biases of the first hidden layer"
);
symbol!(
    A1,
    "a1",
    r"\mathbf{a}^{(1)}",
    "activations of the first hidden layer, per row"
);
symbol!(
    A2,
    "a2",
    r"\mathbf{a}^{(2)}",
    "activations of the second hidden layer, per row"
);
symbol!(
    Y_HAT,
    "y_hat",
    r"\hat{\mathbf{y}}",
    "the network's output, per row"
);
symbol!(
    DELTA_OUT,
    "delta_out",
    r"\boldsymbol{\delta}^{(L)}",
    "error at the output layer, per row"
);
symbol!(
    DELTA1,
    "delta1",
    r"\boldsymbol{\delta}^{(1)}",
    "error at the first hidden layer, per row"
);
symbol!(
    DELTA2,
    "delta2",
    r"\boldsymbol{\delta}^{(2)}",
    "error at the second hidden layer, per row"
);
symbol!(
    GRAD_W1,
    "grad_W1",
    r"\nabla_{W^{(1)}} J",
    "gradient of the objective for the first layer's weights"
);
symbol!(
    GRAD_W2,
    "grad_W2",
    r"\nabla_{W^{(2)}} J",
    "gradient of the objective for the second layer's weights"
);
symbol!(
    GRAD_W3,
    "grad_W3",
    r"\nabla_{W^{(3)}} J",
    "gradient of the objective for the third layer's weights"
);
symbol!(
    GRAD_B1,
    "grad_b1",
    r"\nabla_{\mathbf{b}^{(1)}} J",
    "gradient of the objective for the first layer's biases"
);
symbol!(
    GRAD_B2,
    "grad_b2",
    r"\nabla_{\mathbf{b}^{(2)}} J",
    "gradient of the objective for the second layer's biases"
);
symbol!(
    GRAD_B3,
    "grad_b3",
    r"\nabla_{\mathbf{b}^{(3)}} J",
    "gradient of the objective for the third layer's biases"
);

const FORWARD_1: DerivationStep = DerivationStep {
    title: "Forward pass",
    sentence: "Each layer applies its weights and bias, then the activation f; the output layer's g is sigmoid, softmax or the identity.",
    latex: r"\mathbf{a}^{(1)} = f\left(W^{(1)} \mathbf{x} + \mathbf{b}^{(1)}\right), \qquad \hat{\mathbf{y}} = g\left(W^{(2)} \mathbf{a}^{(1)} + \mathbf{b}^{(2)}\right)",
    shows: &[W1, W2, A1, Y_HAT],
};
const FORWARD_2: DerivationStep = DerivationStep {
    latex: r"\mathbf{a}^{(1)} = f\left(W^{(1)} \mathbf{x} + \mathbf{b}^{(1)}\right), \quad \mathbf{a}^{(2)} = f\left(W^{(2)} \mathbf{a}^{(1)} + \mathbf{b}^{(2)}\right), \quad \hat{\mathbf{y}} = g\left(W^{(3)} \mathbf{a}^{(2)} + \mathbf{b}^{(3)}\right)",
    shows: &[W1, W2, W3, A1, A2, Y_HAT],
    ..FORWARD_1
};
const LOSS: DerivationStep = DerivationStep {
    title: "Loss",
    sentence: "Log-loss for a sigmoid output, cross-entropy for softmax, half the squared error for a numeric target; plus the penalty on every weight matrix.",
    latex: r"J = \frac{1}{n} \sum_{i=1}^{n} \ell(\hat{\mathbf{y}}_i, \mathbf{y}_i) + \frac{\lambda}{2} \sum_{l} \|W^{(l)}\|^2",
    shows: &[J, LAMBDA],
};
const OUTPUT_ERROR: DerivationStep = DerivationStep {
    title: "Output error",
    sentence: "Each output/loss pair is chosen so that the derivative with respect to the output layer's pre-activation is prediction minus target.",
    latex: r"\boldsymbol{\delta}^{(L)} = \frac{\partial \ell}{\partial \mathbf{z}^{(L)}} = \hat{\mathbf{y}} - \mathbf{y}",
    shows: &[DELTA_OUT],
};
const BACKPROP_1: DerivationStep = DerivationStep {
    title: "Backpropagate",
    sentence: "The chain rule sends the error back through the weights and multiplies by the activation's slope.",
    latex: r"\boldsymbol{\delta}^{(1)} = \left( W^{(2)\top} \boldsymbol{\delta}^{(2)} \right) \odot f'\left(\mathbf{z}^{(1)}\right)",
    shows: &[DELTA1],
};
const BACKPROP_2: DerivationStep = DerivationStep {
    title: "Backpropagate",
    sentence: "The chain rule sends the error back through each layer's weights and multiplies by the activation's slope.",
    latex: r"\boldsymbol{\delta}^{(2)} = \left( W^{(3)\top} \boldsymbol{\delta}^{(3)} \right) \odot f'\left(\mathbf{z}^{(2)}\right), \qquad \boldsymbol{\delta}^{(1)} = \left( W^{(2)\top} \boldsymbol{\delta}^{(2)} \right) \odot f'\left(\mathbf{z}^{(1)}\right)",
    shows: &[DELTA2, DELTA1],
};
const GRADIENTS_1: DerivationStep = DerivationStep {
    title: "Gradients",
    sentence: "A weight's gradient is the error at its output times the activation at its input, averaged over the rows.",
    latex: r"\nabla_{W^{(l)}} J = \frac{1}{n} \sum_{i=1}^{n} \boldsymbol{\delta}^{(l)}_i \mathbf{a}^{(l-1)\top}_i + \lambda W^{(l)}, \qquad \nabla_{\mathbf{b}^{(l)}} J = \frac{1}{n} \sum_{i=1}^{n} \boldsymbol{\delta}^{(l)}_i",
    shows: &[GRAD_W1, GRAD_B1, GRAD_W2, GRAD_B2],
};
const GRADIENTS_2: DerivationStep = DerivationStep {
    shows: &[GRAD_W1, GRAD_B1, GRAD_W2, GRAD_B2, GRAD_W3, GRAD_B3],
    ..GRADIENTS_1
};
const ACTIVATIONS: DerivationStep = DerivationStep {
    title: "Activation slopes",
    sentence: "The slopes the backward pass multiplies by, each written with the activation's own value.",
    latex: r"\tanh' = 1 - \tanh^2, \qquad \sigma' = \sigma (1 - \sigma), \qquad \operatorname{relu}'(z) = \mathbf{1}[z > 0]",
    shows: &[],
};

/// The registry entry.
pub const ENTRY: Entry = Entry {
    id: "mlp",
    summary: "neural network with one or two hidden layers, trained by backpropagation and gradient descent",
    supervised: true,
    classifies: false,
    create: |h| Ok(Box::new(Mlp::new(h)?)),
};

/// One dense layer.
#[derive(Debug, Clone, PartialEq)]
struct Layer {
    w: DMatrix<f64>,
    b: DVector<f64>,
}

/// Everything a forward and backward pass computed.
struct Pass {
    activations: Vec<DMatrix<f64>>,
    output: DMatrix<f64>,
    deltas: Vec<DMatrix<f64>>,
    grads: Vec<Layer>,
    loss: f64,
}

/// The multilayer perceptron.
#[derive(Debug, Clone)]
pub struct Mlp {
    hidden: Vec<usize>,
    activation: Activation,
    seed: u64,
    l2: f64,
    l1: f64,
    opt: Optimizer,
    batches: Batches,
    batches_init: Batches,
    layers: Vec<Layer>,
    output: Output,
    classes: Vec<Label>,
    t: usize,
    grad: Vec<f64>,
}

fn activate(a: Activation, z: f64) -> f64 {
    match a {
        Activation::Tanh => z.tanh(),
        Activation::Relu => z.max(0.0),
        Activation::Sigmoid => super::logistic::sigmoid(z),
    }
}

/// f'(z) written with a = f(z).
fn slope(a: Activation, z: f64, value: f64) -> f64 {
    match a {
        Activation::Tanh => 1.0 - value * value,
        Activation::Relu => f64::from(u8::from(z > 0.0)),
        Activation::Sigmoid => value * (1.0 - value),
    }
}

/// Chooses the output for a target: text or two values → classes; a few
/// integer values (at most 10, fewer than n/2) → classes; otherwise regression.
#[must_use]
pub fn output_for(data: &Dataset) -> Option<Output> {
    let t = data.target()?;
    let k = t.classes.len();
    let integer_classes = t
        .classes
        .iter()
        .all(|c| matches!(c, Label::Number(v) if v.fract() == 0.0));
    let output = if t.values.is_none() || k == 2 {
        if k == 2 {
            Output::Binary
        } else {
            Output::Multiclass(k)
        }
    } else if (3..=10).contains(&k) && integer_classes && k * 2 < t.class_ids.len() {
        Output::Multiclass(k)
    } else {
        Output::Regression
    };
    Some(output)
}

impl Mlp {
    /// Builds it (default gd with η = 0.1, seeded Glorot-uniform weights).
    ///
    /// # Errors
    /// Zero or more than two hidden layers, a layer of size 0, or invalid optimizer settings.
    pub fn new(hyper: &Hyper) -> Result<Self, AlgoError> {
        if hyper.hidden.is_empty() || hyper.hidden.len() > 2 {
            return Err(AlgoError::Invalid(format!(
                "--hidden takes one or two layer sizes (e.g. 8 or 8,8), got {} layers",
                hyper.hidden.len()
            )));
        }
        if hyper.hidden.contains(&0) {
            return Err(AlgoError::Invalid(
                "--hidden layer sizes must be at least 1".into(),
            ));
        }
        let batches = Batches::new(hyper.batch_size, hyper.seed)?;
        Ok(Self {
            hidden: hyper.hidden.clone(),
            activation: hyper.activation,
            seed: hyper.seed,
            l2: super::linear::check_penalty(hyper.l2.unwrap_or(0.0), "l2")?,
            l1: super::linear::check_penalty(hyper.l1, "l1")?,
            opt: Optimizer::new(hyper, OptimizerKind::Gd, 0.1)?,
            batches_init: batches.clone(),
            batches,
            layers: Vec::new(),
            output: Output::Regression,
            classes: Vec::new(),
            t: 0,
            grad: Vec::new(),
        })
    }

    fn targets(&self, data: &Dataset) -> Result<DMatrix<f64>, AlgoError> {
        let t = data.require_target(ENTRY.id)?;
        let n = data.n_rows();
        Ok(match self.output {
            Output::Binary => {
                DMatrix::from_fn(n, 1, |i, _| f64::from(u8::from(t.class_ids[i] == 1)))
            }
            Output::Multiclass(k) => {
                DMatrix::from_fn(n, k, |i, c| f64::from(u8::from(t.class_ids[i] == c)))
            }
            Output::Regression => {
                let Some(v) = t.values.as_ref() else {
                    return Err(AlgoError::Invalid(
                        "the mlp's regression output needs a numeric target".into(),
                    ));
                };
                DMatrix::from_column_slice(n, 1, v.as_slice())
            }
        })
    }

    /// Forward and backward pass on rows `x` with targets `y`.
    fn pass(&self, layers: &[Layer], x: &DMatrix<f64>, y: &DMatrix<f64>) -> Pass {
        let n = x.nrows() as f64;
        // Hidden activations a⁽¹⁾, a⁽²⁾; the input of layer l is x or a⁽ˡ⁾ (never copied).
        let mut activations: Vec<DMatrix<f64>> = Vec::new();
        let mut pre = Vec::new();
        let last = layers.len() - 1;
        for (l, layer) in layers.iter().enumerate() {
            let input = if l == 0 { x } else { &activations[l - 1] };
            let mut z = input * layer.w.transpose();
            for (mut col, &b) in z.column_iter_mut().zip(layer.b.iter()) {
                col.add_scalar_mut(b);
            }
            if l < last {
                let a = z.map(|v| activate(self.activation, v));
                pre.push(z);
                activations.push(a);
            } else {
                pre.push(z);
            }
        }
        let z_out = &pre[last];
        let (output, data_loss) = match self.output {
            Output::Binary => {
                let loss = z_out
                    .iter()
                    .zip(y.iter())
                    .map(|(&z, &t)| super::logistic::softplus(z) - t * z)
                    .sum::<f64>();
                (z_out.map(super::logistic::sigmoid), loss)
            }
            Output::Multiclass(_) => {
                let mut loss = 0.0;
                for (i, row) in z_out.row_iter().enumerate() {
                    let m = row.max();
                    let lse = m + row.iter().map(|v| (v - m).exp()).sum::<f64>().ln();
                    loss += lse
                        - row
                            .iter()
                            .zip(y.row(i).iter())
                            .map(|(a, b)| a * b)
                            .sum::<f64>();
                }
                (softmax_rows(z_out), loss)
            }
            Output::Regression => (z_out.clone(), 0.5 * (z_out - y).norm_squared()),
        };
        let penalty: f64 = layers
            .iter()
            .map(|l| optim::penalty(l.w.as_slice(), self.l2, self.l1))
            .sum();
        let loss = data_loss / n + penalty;
        // Backward: δ_L = ŷ − y, δ_l = (δ_{l+1} W_{l+1}) ⊙ f'(z_l).
        let mut deltas = vec![DMatrix::zeros(0, 0); layers.len()];
        deltas[last] = &output - y;
        for l in (0..last).rev() {
            let back = &deltas[l + 1] * &layers[l + 1].w;
            let a = &activations[l];
            let z = &pre[l];
            deltas[l] = DMatrix::from_fn(back.nrows(), back.ncols(), |i, j| {
                back[(i, j)] * slope(self.activation, z[(i, j)], a[(i, j)])
            });
        }
        let grads = layers
            .iter()
            .enumerate()
            .map(|(l, layer)| {
                let input = if l == 0 { x } else { &activations[l - 1] };
                let mut gw = deltas[l].tr_mul(input) / n;
                optim::add_penalty_gradient(
                    gw.as_mut_slice(),
                    layer.w.as_slice(),
                    self.l2,
                    self.l1,
                );
                let gb = DVector::from_iterator(
                    deltas[l].ncols(),
                    deltas[l].column_iter().map(|c| c.sum() / n),
                );
                Layer { w: gw, b: gb }
            })
            .collect();
        Pass {
            activations,
            output,
            deltas,
            grads,
            loss,
        }
    }

    fn flatten(layers: &[Layer]) -> Vec<f64> {
        let mut out = Vec::new();
        for l in layers {
            for r in 0..l.w.nrows() {
                out.extend(l.w.row(r).iter());
            }
            out.extend(l.b.iter());
        }
        out
    }

    fn unflatten(&self, flat: &[f64]) -> Vec<Layer> {
        let mut at = 0;
        self.layers
            .iter()
            .map(|l| {
                let (r, c) = l.w.shape();
                let w = DMatrix::from_row_slice(r, c, &flat[at..at + r * c]);
                at += r * c;
                let b = DVector::from_column_slice(&flat[at..at + r]);
                at += r;
                Layer { w, b }
            })
            .collect()
    }

    fn evaluate(&mut self, data: &Dataset, y: &DMatrix<f64>) -> StepRecord {
        let p = self.pass(&self.layers, data.x(), y);
        self.grad = Self::flatten(&p.grads);
        let mut rec = StepRecord::new(self.t, p.loss);
        rec.scalar(J, p.loss);
        rec.scalar(LAMBDA, self.l2);
        let two = self.layers.len() == 3;
        let (ws, gws, gbs, ds): (&[Symbol], &[Symbol], &[Symbol], &[Symbol]) = if two {
            (
                &[W1, W2, W3],
                &[GRAD_W1, GRAD_W2, GRAD_W3],
                &[GRAD_B1, GRAD_B2, GRAD_B3],
                &[DELTA1, DELTA2],
            )
        } else {
            (
                &[W1, W2],
                &[GRAD_W1, GRAD_W2],
                &[GRAD_B1, GRAD_B2],
                &[DELTA1],
            )
        };
        for (l, layer) in self.layers.iter().enumerate() {
            rec.set(ws[l], Value::Matrix(layer.w.clone()));
            rec.set(gws[l], Value::Matrix(p.grads[l].w.clone()));
            rec.vector(gbs[l], p.grads[l].b.as_slice());
        }
        rec.vector(B1, self.layers[0].b.as_slice());
        for (l, s) in ds.iter().enumerate() {
            rec.set(*s, Value::Matrix(p.deltas[l].clone()));
        }
        let last = p.deltas.len() - 1;
        rec.set(DELTA_OUT, Value::Matrix(p.deltas[last].clone()));
        for (l, s) in [A1, A2].iter().enumerate().take(p.activations.len()) {
            rec.set(*s, Value::Matrix(p.activations[l].clone()));
        }
        rec.set(Y_HAT, Value::Matrix(p.output));
        rec
    }
}

impl Algorithm for Mlp {
    fn id(&self) -> &'static str {
        ENTRY.id
    }

    fn derivation(&self) -> Vec<DerivationStep> {
        let mut steps = if self.hidden.len() == 2 {
            vec![
                FORWARD_2,
                LOSS,
                OUTPUT_ERROR,
                BACKPROP_2,
                ACTIVATIONS,
                GRADIENTS_2,
            ]
        } else {
            vec![
                FORWARD_1,
                LOSS,
                OUTPUT_ERROR,
                BACKPROP_1,
                ACTIVATIONS,
                GRADIENTS_1,
            ]
        };
        steps.extend_from_slice(self.opt.derivation());
        steps
    }

    fn reset(&mut self, data: &Dataset) -> Result<StepRecord, AlgoError> {
        let Some(output) = output_for(data) else {
            return Err(data.require_target(ENTRY.id).err().map_or_else(
                || AlgoError::Invalid("mlp needs a target".into()),
                AlgoError::from,
            ));
        };
        self.output = output;
        self.classes = data.target().map(|t| t.classes.clone()).unwrap_or_default();
        let outputs = match output {
            Output::Multiclass(k) => k,
            _ => 1,
        };
        let mut sizes = vec![data.n_features()];
        sizes.extend(&self.hidden);
        sizes.push(outputs);
        let mut rng = Rng::new(self.seed);
        self.layers = sizes
            .windows(2)
            .map(|io| {
                let (fan_in, fan_out) = (io[0], io[1]);
                let a = (6.0 / (fan_in + fan_out) as f64).sqrt();
                let w = DMatrix::from_row_iterator(
                    fan_out,
                    fan_in,
                    (0..fan_in * fan_out).map(|_| (rng.uniform() * 2.0 - 1.0) * a),
                );
                Layer {
                    w,
                    b: DVector::zeros(fan_out),
                }
            })
            .collect();
        self.t = 0;
        self.opt.reset();
        self.batches = self.batches_init.clone();
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
                Self::flatten(&self.pass(&self.layers, &xb, &yb).grads)
            }
        };
        let mut theta = self.params();
        let mut update = StepRecord::new(0, 0.0);
        self.opt.apply(&mut theta, &grad, &mut update);
        self.layers = self.unflatten(&theta);
        self.t += 1;
        let mut rec = self.evaluate(data, &y);
        rec.values.extend(update.values);
        Ok(rec)
    }

    fn params(&self) -> Vec<f64> {
        Self::flatten(&self.layers)
    }

    fn param_names(&self) -> Vec<String> {
        let mut out = Vec::new();
        for (l, layer) in self.layers.iter().enumerate() {
            let (r, c) = layer.w.shape();
            for i in 0..r {
                for j in 0..c {
                    out.push(format!("W{}[{i},{j}]", l + 1));
                }
            }
            for i in 0..r {
                out.push(format!("b{}[{i}]", l + 1));
            }
        }
        out
    }

    fn params_json(&self, flat: &[f64]) -> serde_json::Value {
        if flat.len() != self.params().len() {
            return serde_json::Value::Null;
        }
        let layers: Vec<serde_json::Value> = self
            .unflatten(flat)
            .iter()
            .map(|l| {
                serde_json::json!({
                    "weights": super::rows_json(&l.w),
                    "bias": l.b.as_slice(),
                })
            })
            .collect();
        serde_json::json!({ "layers": layers })
    }

    fn boxed_clone(&self) -> Box<dyn Algorithm> {
        Box::new(self.clone())
    }

    fn learning_rate(&self) -> Option<f64> {
        Some(self.opt.learning_rate)
    }

    fn set_learning_rate(&mut self, learning_rate: f64) {
        if optim::check_learning_rate(learning_rate).is_ok() {
            self.opt.learning_rate = learning_rate;
        }
    }

    fn classify(&self, x: &DMatrix<f64>, flat: &[f64]) -> Option<Vec<usize>> {
        if flat.len() != self.params().len() || matches!(self.output, Output::Regression) {
            return None;
        }
        let layers = self.unflatten(flat);
        let outputs = layers.last()?.w.nrows();
        let p = self.pass(&layers, x, &DMatrix::zeros(x.nrows(), outputs));
        Some(match self.output {
            Output::Binary => p.output.iter().map(|&v| usize::from(v > 0.5)).collect(),
            _ => super::argmax_rows(&p.output),
        })
    }

    fn loss_at(&self, data: &Dataset, flat: &[f64]) -> Option<f64> {
        if flat.len() != self.params().len() {
            return None;
        }
        let y = self.targets(data).ok()?;
        Some(self.pass(&self.unflatten(flat), data.x(), &y).loss)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn xor() -> Dataset {
        let a = vec![0.0, 0.0, 1.0, 1.0];
        let b = vec![0.0, 1.0, 0.0, 1.0];
        Dataset::from_columns(&["a", "b"], &[a, b], Some(("y", vec![0.0, 1.0, 1.0, 0.0]))).unwrap()
    }

    fn check_gradient(data: &Dataset, hyper: &Hyper) {
        let mut m = Mlp::new(hyper).unwrap();
        m.reset(data).unwrap();
        for _ in 0..3 {
            m.step(data).unwrap();
        }
        let y = m.targets(data).unwrap();
        m.evaluate(data, &y);
        let theta = m.params();
        for k in 0..theta.len() {
            let mut plus = theta.clone();
            let mut minus = theta.clone();
            plus[k] += 1e-6;
            minus[k] -= 1e-6;
            let fd = (m.loss_at(data, &plus).unwrap() - m.loss_at(data, &minus).unwrap()) / 2e-6;
            assert!(
                (fd - m.grad[k]).abs() < 1e-6 * fd.abs().max(1.0),
                "{hyper:?} param {k}: {fd} vs {}",
                m.grad[k]
            );
        }
    }

    #[test]
    fn gradients_on_every_layer_match_finite_differences() {
        let mut rng = Rng::new(3);
        let a: Vec<f64> = (0..30).map(|_| rng.normal()).collect();
        let b: Vec<f64> = (0..30).map(|_| rng.normal()).collect();
        let reg: Vec<f64> = a.iter().zip(&b).map(|(u, v)| u * v + 0.37 * u).collect();
        let three: Vec<f64> = (0..30).map(|i| f64::from(i % 3)).collect();
        let two: Vec<f64> = (0..30).map(|i| f64::from(i % 2)).collect();
        for y in [reg, three, two] {
            let d = Dataset::from_columns(&["a", "b"], &[a.clone(), b.clone()], Some(("y", y)))
                .unwrap();
            for activation in [Activation::Tanh, Activation::Sigmoid, Activation::Relu] {
                for hidden in [vec![3], vec![4, 3]] {
                    check_gradient(
                        &d,
                        &Hyper {
                            hidden,
                            activation,
                            l2: Some(0.01),
                            seed: 2,
                            ..Hyper::default()
                        },
                    );
                }
            }
        }
    }

    #[test]
    fn learns_xor_with_a_hidden_layer() {
        let d = xor();
        let mut m = Mlp::new(&Hyper {
            hidden: vec![4],
            learning_rate: Some(0.5),
            seed: 1,
            ..Hyper::default()
        })
        .unwrap();
        m.reset(&d).unwrap();
        let mut loss = 0.0;
        for _ in 0..5000 {
            loss = m.step(&d).unwrap().loss;
        }
        assert_eq!(m.output, Output::Binary);
        assert!(loss < 0.05, "XOR loss {loss}");
    }

    #[test]
    fn seeded_initialisation_is_reproducible_and_glorot_bounded() {
        let d = xor();
        let h = Hyper {
            hidden: vec![5],
            seed: 7,
            ..Hyper::default()
        };
        let mut a = Mlp::new(&h).unwrap();
        let mut b = Mlp::new(&h).unwrap();
        a.reset(&d).unwrap();
        b.reset(&d).unwrap();
        assert_eq!(a.params(), b.params());
        let bound = (6.0f64 / 7.0).sqrt();
        assert!(a.layers[0].w.iter().all(|w| w.abs() <= bound));
        assert!(
            Mlp::new(&Hyper {
                hidden: vec![],
                ..Hyper::default()
            })
            .is_err()
        );
        assert!(
            Mlp::new(&Hyper {
                hidden: vec![2, 2, 2],
                ..Hyper::default()
            })
            .is_err()
        );
    }
}
