//! `mlp`: a multilayer perceptron with one or two hidden layers (tanh, relu or
//! sigmoid), a sigmoid, softmax or identity output, trained by backpropagation
//! and a first-order optimizer.

// The block loops are inlined into `pass::blocks`' wider-vector loop.
#![allow(clippy::inline_always)]

use super::linear::{J, LAMBDA, LAMBDA1};
use super::pass::{GradientLanes, Pieces, Prefetch, dense_layer, rows};
use super::{
    Activation, AlgoError, Algorithm, DerivationStep, Entry, Hyper, PerRow, Spare, StepRecord,
    Symbol, Value,
};
use crate::data::{Dataset, Label};
use crate::optim::{self, Batches, Optimizer, OptimizerKind};
use crate::rng::Rng;
use nalgebra::{DMatrix, DVector};
use std::sync::Arc;

/// The most weights and biases a network may have: a copy of them for each
/// of 1,000 steps takes 800 MB.
pub const MAX_WEIGHTS: usize = 100_000;

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
symbol!(B2, "b2", r"\mathbf{b}^{(2)}", "biases of the second layer");
symbol!(B3, "b3", r"\mathbf{b}^{(3)}", "biases of the third layer");
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
    SATURATED,
    "saturated",
    r"\text{flat}",
    "share of hidden activations (rows × units) whose slope f′ is below 0.01"
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
    sentence: "Each layer l computes z⁽ˡ⁾ = W⁽ˡ⁾a⁽ˡ⁻¹⁾ + b⁽ˡ⁾ from the layer before (a⁽⁰⁾ = x), then the activation f; the output layer L applies g instead: sigmoid, softmax or the identity.",
    latex: r"\mathbf{a}^{(1)} = f\left(W^{(1)} \mathbf{x} + \mathbf{b}^{(1)}\right), \qquad \hat{\mathbf{y}} = g\left(W^{(2)} \mathbf{a}^{(1)} + \mathbf{b}^{(2)}\right)",
    shows: &[W1, B1, W2, B2, A1, Y_HAT],
};
const FORWARD_2: DerivationStep = DerivationStep {
    latex: r"\mathbf{a}^{(1)} = f\left(W^{(1)} \mathbf{x} + \mathbf{b}^{(1)}\right), \quad \mathbf{a}^{(2)} = f\left(W^{(2)} \mathbf{a}^{(1)} + \mathbf{b}^{(2)}\right), \quad \hat{\mathbf{y}} = g\left(W^{(3)} \mathbf{a}^{(2)} + \mathbf{b}^{(3)}\right)",
    shows: &[W1, B1, W2, B2, W3, B3, A1, A2, Y_HAT],
    ..FORWARD_1
};
const LOSS: DerivationStep = DerivationStep {
    title: "Loss",
    sentence: "ℓ is the log-loss −[y log ŷ + (1 − y) log(1 − ŷ)] for a sigmoid output, the cross-entropy −Σₖ yₖ log ŷₖ for softmax (y one-hot), half the squared error ½‖ŷ − y‖² for a numeric target; plus the penalty on every weight matrix. The output follows the target: two values make a sigmoid output; text labels, or 3 to 10 whole numbers with at least two rows each on average, a softmax; any other numbers an identity output.",
    latex: r"J = \frac{1}{n} \sum_{i=1}^{n} \ell(\hat{\mathbf{y}}_i, \mathbf{y}_i) + \frac{\lambda}{2} \sum_{l} \|W^{(l)}\|^2 + \lambda_1 \sum_{l} \|W^{(l)}\|_1",
    shows: &[J, LAMBDA, LAMBDA1],
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
    latex: r"\begin{aligned} \nabla_{W^{(l)}} J &= \frac{1}{n} \sum_{i=1}^{n} \boldsymbol{\delta}^{(l)}_i \mathbf{a}^{(l-1)\top}_i + \lambda W^{(l)} + \lambda_1 \operatorname{sign}(W^{(l)}) \\ \nabla_{\mathbf{b}^{(l)}} J &= \frac{1}{n} \sum_{i=1}^{n} \boldsymbol{\delta}^{(l)}_i \end{aligned}",
    shows: &[GRAD_W1, GRAD_B1, GRAD_W2, GRAD_B2],
};
const GRADIENTS_2: DerivationStep = DerivationStep {
    shows: &[GRAD_W1, GRAD_B1, GRAD_W2, GRAD_B2, GRAD_W3, GRAD_B3],
    ..GRADIENTS_1
};
const ACTIVATIONS: DerivationStep = DerivationStep {
    title: "Activation slopes",
    sentence: "The slopes the backward pass multiplies by, each written with the activation's own value. Where a slope is near 0 (tanh or σ saturated at its ends, relu off) almost no error passes back, and those weights barely move; 'flat' counts how often that happens.",
    latex: r"\begin{aligned} &\tanh' = 1 - \tanh^2, \qquad \sigma' = \sigma (1 - \sigma), \qquad \operatorname{relu}'(z) = \mathbf{1}[z > 0] \\ &\text{flat} = \text{share of the slopes } f'\left(\mathbf{z}^{(l)}_i\right) \text{ below } 0.01 \text{, over rows and units} \end{aligned}",
    shows: &[SATURATED],
};

/// The registry entry.
pub const ENTRY: Entry = Entry {
    id: "mlp",
    summary: "neural network with one or two hidden layers, trained by backpropagation and gradient descent",
    supervised: true,
    classifies: false,
    create: |h| Ok(Box::new(Mlp::new(h)?)),
    optimizers: OptimizerKind::FIRST_ORDER,
    default_l2: 0.0,
    default_k: 0,
};

/// One dense layer.
#[derive(Debug, Clone, PartialEq)]
struct Layer {
    w: DMatrix<f64>,
    b: DVector<f64>,
}

impl Layer {
    /// Zero weights and biases of the shapes of `layers`.
    fn zeros_like(layers: &[Self]) -> Vec<Self> {
        layers
            .iter()
            .map(|l| Self {
                w: DMatrix::zeros(l.w.nrows(), l.w.ncols()),
                b: DVector::zeros(l.b.len()),
            })
            .collect()
    }
}

/// Rows per block of the forward and backward pass.
const BLOCK: usize = 512;

/// Values of padding after each column of a block's activations or
/// errors in the buffers a pass uses without per-row records: one cache
/// line. With columns exactly 4 KB (a block) apart, they all fell into the
/// same sets of the first-level cache, and a 64-unit layer's columns
/// evicted each other between the rows of a tile.
const PAD: usize = 8;

thread_local! {
    /// A thread's block buffers (activations, output and errors) for
    /// passes without per-row records, kept from one step to the next: a
    /// (64, 64) network's 1 MB of them, allocated afresh each step, went
    /// back to the system and faulted in again every time, a third of a
    /// step on 150 rows.
    static BLOCK_BUFFERS: std::cell::Cell<Vec<Vec<f64>>> = const { std::cell::Cell::new(Vec::new()) };
}

/// What [`Mlp::rows_pass`] returns for one range of rows: the summed loss,
/// each layer's gradient sums, the count of flat hidden activations, and
/// the first rows of the per-row matrices (from the range of row 0).
type RangeSums = (f64, Vec<GradientLanes>, usize, Option<Vec<DMatrix<f64>>>);

/// Everything a forward and backward pass computed.
struct Pass {
    activations: Vec<DMatrix<f64>>,
    output: DMatrix<f64>,
    deltas: Vec<DMatrix<f64>>,
    grads: Vec<Layer>,
    loss: f64,
    /// The share of hidden activations (rows × units) whose slope is below
    /// [`FLAT_SLOPE`].
    saturated: f64,
}

/// A slope below this passes back almost none of the error: the unit is
/// saturated (tanh, sigmoid) or off (relu) for that row.
const FLAT_SLOPE: f64 = 0.01;

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
    /// Per-row matrices of earlier records, reused by the next pass.
    spare: Spare,
    /// The targets as the output layer sees them (the class id for classes).
    y: Arc<DMatrix<f64>>,
    /// Whether records keep the per-row activations and errors, and past
    /// how many rows only their first rows (a numeric target's predictions
    /// stay whole: the plot draws their residuals).
    per_row: bool,
    head: Option<usize>,
}

#[inline(always)]
fn activate(a: Activation, z: f64) -> f64 {
    match a {
        Activation::Tanh => super::vmath::tanh(z),
        Activation::Relu => z.max(0.0),
        Activation::Sigmoid => super::logistic::sigmoid(z),
    }
}

/// `activate` over a block, one loop per activation (so each vectorizes).
#[inline(always)]
fn activate_rows(a: Activation, z: &mut [f64]) {
    match a {
        Activation::Tanh => {
            for v in z {
                *v = activate(Activation::Tanh, *v);
            }
        }
        Activation::Relu => {
            for v in z {
                *v = activate(Activation::Relu, *v);
            }
        }
        Activation::Sigmoid => {
            for v in z {
                *v = activate(Activation::Sigmoid, *v);
            }
        }
    }
}

/// f'(z) written with a = f(z) (for relu, z > 0 exactly when a > 0).
#[inline(always)]
fn slope(a: Activation, value: f64) -> f64 {
    match a {
        Activation::Tanh => 1.0 - value * value,
        Activation::Relu => f64::from(u8::from(value > 0.0)),
        Activation::Sigmoid => value * (1.0 - value),
    }
}

/// δ ⊙ f'(z) over a block, f' written with a = f(z): one loop per
/// activation, so each vectorizes (with the match inside the loop, the
/// activation was read again for every row, one row at a time).
#[inline(always)]
fn scale_by_slope(a: Activation, delta: &mut [f64], activations: &[f64]) {
    let rows = delta.iter_mut().zip(activations);
    match a {
        Activation::Tanh => {
            for (d, &v) in rows {
                *d *= slope(Activation::Tanh, v);
            }
        }
        Activation::Relu => {
            for (d, &v) in rows {
                *d *= slope(Activation::Relu, v);
            }
        }
        Activation::Sigmoid => {
            for (d, &v) in rows {
                *d *= slope(Activation::Sigmoid, v);
            }
        }
    }
}

/// The output layer on one block of rows: from the pre-activations `z`
/// (one column of `BLOCK` per output unit) and the targets `t` (the target
/// value, 0/1, or the class id), writes the outputs ŷ and the errors ŷ − y, and returns the
/// block's summed loss.
#[inline(always)]
fn output_rows(
    output: Output,
    z: &[f64],
    t: &[f64],
    out: &mut [&mut [f64]],
    delta: &mut [&mut [f64]],
    scratch: &mut [Vec<f64>; 2],
) -> f64 {
    let len = t.len();
    let mut loss = 0.0;
    match output {
        Output::Binary => {
            // The per-row losses go to scratch first, so the loop runs on
            // vector instructions.
            let losses = &mut scratch[0][..len];
            for (((l, &zi), &y), (p, d)) in losses
                .iter_mut()
                .zip(&z[..len])
                .zip(t)
                .zip(out[0].iter_mut().zip(delta[0].iter_mut()))
            {
                let (sigma, loss) = super::vmath::sigmoid_log_loss(zi, y);
                *l = loss;
                *p = sigma;
                *d = sigma - y;
            }
            loss = super::pass::sum(losses);
        }
        Output::Regression => {
            for (i, &zi) in z[..len].iter().enumerate() {
                let r = zi - t[i];
                loss += 0.5 * r * r;
                out[0][i] = zi;
                delta[0][i] = r;
            }
        }
        Output::Multiclass(_) => {
            loss = super::softmax::cross_entropy_rows(z, BLOCK, t, out, delta, scratch);
        }
    }
    loss
}

/// Chooses the output for a target: text or two values → classes; 3
/// to 10 whole-number values, with at least two rows each on average (k ≤
/// n/2) → classes; otherwise regression.
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
    } else if (3..=10).contains(&k) && integer_classes && k * 2 <= t.class_ids.len() {
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
            spare: Spare::default(),
            y: Arc::new(DMatrix::zeros(0, 0)),
            per_row: true,
            head: None,
        })
    }

    /// The targets of `data` as the output layer sees them, built once per
    /// dataset (rebuilt when the rows changed).
    fn targets(&mut self, data: &Dataset) -> Result<Arc<DMatrix<f64>>, AlgoError> {
        if self.y.nrows() != data.n_rows() {
            self.y = Arc::new(self.build_targets(data)?);
        }
        Ok(Arc::clone(&self.y))
    }

    fn build_targets(&self, data: &Dataset) -> Result<DMatrix<f64>, AlgoError> {
        let t = data.require_target(ENTRY.id)?;
        let n = data.n_rows();
        Ok(match self.output {
            Output::Binary => {
                DMatrix::from_fn(n, 1, |i, _| f64::from(u8::from(t.class_ids[i] == 1)))
            }
            Output::Multiclass(_) => super::softmax::class_column(&t.class_ids),
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

    /// Forward and backward pass on rows `x` with targets `y`: blocks of
    /// rows small enough to stay in cache go forward and back through every
    /// layer, on every core, writing the per-row activations, outputs and
    /// errors the record shows and adding up the loss and the gradients.
    /// The per-row matrices are taken from `spare` where it has them; with
    /// `PerRow::None` they are left empty (only the sums are wanted), with
    /// `PerRow::Head(h)` they hold the first h rows, copied from the first
    /// block of the first range.
    /// The output layer's values on the rows of `x` at flat parameters
    /// `flat` (the forward pass of [`Self::pass`]).
    fn outputs_at(&self, x: &DMatrix<f64>, flat: &[f64]) -> Option<DMatrix<f64>> {
        if flat.len() != self.params().len() {
            return None;
        }
        let layers = self.unflatten(flat);
        let outputs = layers.last()?.w.nrows();
        let pass = self.pass(
            &layers,
            x,
            &DMatrix::zeros(x.nrows(), outputs),
            &mut Spare::default(),
            PerRow::All,
        );
        Some(pass.output)
    }

    fn pass(
        &self,
        layers: &[Layer],
        x: &DMatrix<f64>,
        y: &DMatrix<f64>,
        spare: &mut Spare,
        per_row: PerRow,
    ) -> Pass {
        let n = x.nrows();
        let last = layers.len() - 1;
        let (per_row, head) = match per_row {
            PerRow::All => (true, 0),
            PerRow::Head(h) => (false, h.min(BLOCK)),
            PerRow::None => (false, 0),
        };
        // Without per-row records the matrices are empty and each range
        // works in block-sized stand-ins instead.
        let kept = if per_row { n } else { 0 };
        let units = |l: &Layer| l.w.nrows();
        let mut activations: Vec<DMatrix<f64>> = layers[..last]
            .iter()
            .map(|l| spare.take_matrix(kept, units(l)))
            .collect();
        let mut output = spare.take_matrix(kept, units(&layers[last]));
        let mut deltas: Vec<DMatrix<f64>> = layers
            .iter()
            .map(|l| spare.take_matrix(kept, units(l)))
            .collect();
        let parts = if per_row {
            // The per-row outputs, in the order `rows_pass` expects them.
            let mut outs: Vec<&mut [f64]> = activations
                .iter_mut()
                .chain(std::iter::once(&mut output))
                .chain(deltas.iter_mut())
                .map(DMatrix::as_mut_slice)
                .collect();
            super::pass::over_row_ranges_into(n, &mut outs, |start, end, pieces| {
                self.rows_pass(layers, x, y, (start, end), pieces, (true, 0))
            })
        } else {
            super::pass::over_row_ranges(n, |start, end| {
                // A block's rows (fewer on small data), and PAD after each column.
                let rows = BLOCK.min(end - start);
                let stride = rows + PAD;
                let pieces = layers[..last].iter().chain([&layers[last]]).chain(layers);
                let mut local = BLOCK_BUFFERS.take();
                local.resize_with(2 * layers.len(), Vec::new);
                for (buffer, layer) in local.iter_mut().zip(pieces) {
                    buffer.clear();
                    buffer.resize(stride * units(layer), 0.0);
                }
                let mut pieces: Pieces = local
                    .iter_mut()
                    .map(|m| m.chunks_mut(stride).map(|c| &mut c[..rows]).collect())
                    .collect();
                let sums = self.rows_pass(layers, x, y, (start, end), &mut pieces, (false, head));
                drop(pieces);
                BLOCK_BUFFERS.set(local);
                sums
            })
        };
        let inv_n = 1.0 / n as f64;
        let mut grads = Layer::zeros_like(layers);
        let mut data_loss = 0.0;
        let mut flat = 0;
        for (loss, part, f, heads) in parts {
            data_loss += loss;
            flat += f;
            if let Some(mut heads) = heads {
                deltas = heads.split_off(last + 1);
                output = heads.pop().unwrap_or_default();
                activations = heads;
            }
            for (g, lanes) in grads.iter_mut().zip(part) {
                let (w, b) = lanes.totals();
                g.w += w;
                g.b += b;
            }
        }
        for (g, layer) in grads.iter_mut().zip(layers) {
            g.w *= inv_n;
            g.b *= inv_n;
            optim::add_penalty_gradient(g.w.as_mut_slice(), layer.w.as_slice(), self.l2, self.l1);
        }
        let penalty: f64 = layers
            .iter()
            .map(|l| optim::penalty(l.w.as_slice(), self.l2, self.l1))
            .sum();
        Pass {
            activations,
            output,
            deltas,
            grads,
            loss: data_loss * inv_n + penalty,
            saturated: flat as f64 / (n * self.hidden.iter().sum::<usize>()).max(1) as f64,
        }
    }

    /// [`Self::pass`] over rows `start..end`, block by block. `pieces` holds
    /// the hidden activations, the output and the errors of every layer,
    /// column by column: those rows of them when `whole`, else one block
    /// that each block overwrites. Returns the summed loss, each layer's
    /// gradient sums, how many hidden activations had a flat slope, and
    /// (from the range of row 0, with `head` above 0) the first `head` rows
    /// of every piece.
    #[allow(clippy::too_many_lines)] // A block's sweeps forward, out, back and into the sums, in order.
    fn rows_pass(
        &self,
        layers: &[Layer],
        x: &DMatrix<f64>,
        y: &DMatrix<f64>,
        (start, end): (usize, usize),
        pieces: &mut Pieces,
        (whole, head): (bool, usize),
    ) -> RangeSums {
        let mut heads: Option<Vec<DMatrix<f64>>> = (start == 0 && head > 0).then(|| {
            let rows = head.min(end);
            pieces
                .iter()
                .map(|p| DMatrix::zeros(rows, p.len()))
                .collect()
        });
        let n = x.nrows();
        let data = x.as_slice();
        let targets = y.as_slice();
        let last = layers.len() - 1;
        let outputs = layers[last].w.nrows();
        let (forward, deltas) = pieces.split_at_mut(last + 1);
        let mut loss = 0.0;
        let mut flat = 0;
        let mut sums: Vec<GradientLanes> = layers
            .iter()
            .map(|l| GradientLanes::new(l.w.nrows(), l.w.ncols()))
            .collect();
        // Output pre-activations, and softmax's scratch rows.
        let mut z = vec![0.0; outputs * BLOCK];
        let mut scratch = [vec![0.0; BLOCK], vec![0.0; BLOCK]];
        // Every block's loops on the widest vector unit.
        super::pass::blocks(
            start,
            end,
            BLOCK,
            #[inline(always)]
            |first, block_end| {
                let len = block_end - first;
                let x_col = |j: usize| &data[j * n + first..][..len];
                // Where this block sits in `pieces`.
                let (lo, hi) = if whole {
                    (first - start, first - start + len)
                } else {
                    (0, len)
                };
                // Forward: z = W·input + b, column by column over the block.
                for (l, layer) in layers.iter().enumerate() {
                    let (before, rest) = forward.split_at_mut(l);
                    let mut target: Vec<&mut [f64]> = if l == last {
                        z.chunks_mut(BLOCK).map(|c| &mut c[..len]).collect()
                    } else {
                        rows(&mut rest[0], lo, hi)
                    };
                    let input = |m: usize| {
                        if l == 0 {
                            x_col(m)
                        } else {
                            &before[l - 1][m][lo..hi]
                        }
                    };
                    // Only the first layer reads from memory (X).
                    let prefetch = if l == 0 {
                        Prefetch::on()
                    } else {
                        Prefetch::off()
                    };
                    dense_layer(
                        &mut target,
                        |u, m| layer.w[(u, m)],
                        |u| layer.b[u],
                        (layer.w.ncols(), input),
                        prefetch,
                    );
                    if l < last {
                        for zu in target {
                            activate_rows(self.activation, zu);
                        }
                    }
                }
                // Output, loss and the output error ŷ − y.
                loss += output_rows(
                    self.output,
                    &z,
                    &targets[first..][..len],
                    &mut rows(&mut forward[last], lo, hi),
                    &mut rows(&mut deltas[last], lo, hi),
                    &mut scratch,
                );
                // Backward: δ⁽ˡ⁾ = (W⁽ˡ⁺¹⁾ᵀ δ⁽ˡ⁺¹⁾) ⊙ f'(z⁽ˡ⁾), f' written with a = f(z).
                for l in (0..last).rev() {
                    let (lower, upper) = deltas.split_at_mut(l + 1);
                    let next = &layers[l + 1].w;
                    // W⁽ˡ⁺¹⁾ᵀ δ⁽ˡ⁺¹⁾ as a dense layer of its own, in tiles
                    // of units and rows held in registers: one pass per
                    // (unit, input) pair, loading and storing the block's
                    // δ each time, took 40% of a (64, 64) network's step.
                    let mut below = rows(&mut lower[l], lo, hi);
                    dense_layer(
                        &mut below,
                        |m, u| next[(u, m)],
                        |_| 0.0,
                        (next.nrows(), |u: usize| &upper[0][u][lo..hi]),
                        Prefetch::off(),
                    );
                    for (m, dm) in below.into_iter().enumerate() {
                        let am = &forward[l][m][lo..hi];
                        scale_by_slope(self.activation, dm, am);
                        // Counted in a loop of its own, so both vectorize.
                        flat += am
                            .iter()
                            .filter(|&&a| slope(self.activation, a) < FLAT_SLOPE)
                            .count();
                    }
                }
                // Gradients: Σ δᵢ inputᵢᵀ and Σ δᵢ over the block.
                for (l, g) in sums.iter_mut().enumerate() {
                    let input = |m: usize| {
                        if l == 0 {
                            x_col(m)
                        } else {
                            &forward[l - 1][m][lo..hi]
                        }
                    };
                    let du: Vec<&[f64]> = deltas[l].iter().map(|d| &d[lo..hi]).collect();
                    g.add(&du, input);
                }
                if let Some(heads) = heads.as_mut().filter(|_| first == start) {
                    let pieces = forward.iter().chain(deltas.iter());
                    super::pass::copy_heads(heads, pieces.flatten().map(|c| &**c));
                }
            },
        );
        (loss, sums, flat, heads)
    }

    fn flatten(layers: &[Layer]) -> Vec<f64> {
        let mut out = Vec::with_capacity(layers.iter().map(|l| l.w.len() + l.b.len()).sum());
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
        let mut spare = std::mem::take(&mut self.spare);
        let n = data.n_rows();
        // A numeric target's predictions stay whole: the plot draws their residuals.
        let head = self
            .head
            .filter(|_| !matches!(self.output, Output::Regression));
        let per_row = PerRow::of(self.per_row, head, n);
        let p = self.pass(&self.layers, data.x(), y, &mut spare, per_row);
        self.spare = spare;
        self.grad = Self::flatten(&p.grads);
        let mut rec = StepRecord::new(self.t, p.loss);
        rec.scalar(J, p.loss);
        rec.scalar(LAMBDA, self.l2);
        rec.scalar(LAMBDA1, self.l1);
        rec.scalar(SATURATED, p.saturated);
        let two = self.layers.len() == 3;
        // Each layer's symbols: W, b, ∇W, ∇b (the last layer's are the
        // third's or the second's).
        let (layers, ds): (&[[Symbol; 4]], &[Symbol]) = if two {
            (
                &[
                    [W1, B1, GRAD_W1, GRAD_B1],
                    [W2, B2, GRAD_W2, GRAD_B2],
                    [W3, B3, GRAD_W3, GRAD_B3],
                ],
                &[DELTA1, DELTA2],
            )
        } else {
            (
                &[[W1, B1, GRAD_W1, GRAD_B1], [W2, B2, GRAD_W2, GRAD_B2]],
                &[DELTA1],
            )
        };
        for ((layer, grad), [w, b, grad_w, grad_b]) in self.layers.iter().zip(&p.grads).zip(layers)
        {
            rec.set(*w, Value::Matrix(layer.w.clone()));
            rec.vector(*b, layer.b.as_slice());
            rec.set(*grad_w, Value::Matrix(grad.w.clone()));
            rec.vector(*grad_b, grad.b.as_slice());
        }
        if !self.per_row {
            return rec;
        }
        // The per-row matrices move into the record (and come back through
        // `recycle`), or their first rows.
        let value = |m: DMatrix<f64>| per_row.value(n, m);
        let mut deltas = p.deltas.into_iter();
        for (s, delta) in ds.iter().zip(&mut deltas) {
            rec.set(*s, value(delta));
        }
        if let Some(delta_out) = deltas.next() {
            rec.set(DELTA_OUT, value(delta_out));
        }
        for (s, a) in [A1, A2].iter().zip(p.activations) {
            rec.set(*s, value(a));
        }
        rec.set(Y_HAT, value(p.output));
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
        if output != Output::Regression {
            data.class_target(ENTRY.id)?;
        }
        self.output = output;
        self.classes = data.target().map(|t| t.classes.clone()).unwrap_or_default();
        let outputs = match output {
            Output::Multiclass(k) => k,
            _ => 1,
        };
        let mut sizes = vec![data.n_features()];
        sizes.extend(&self.hidden);
        sizes.push(outputs);
        // Each step keeps a copy of every weight (and the run's JSON writes
        // one): a network beyond this would exhaust memory within a run.
        let weights = sizes.windows(2).try_fold(0usize, |sum, io| {
            io[0]
                .checked_add(1)
                .and_then(|fan_in| fan_in.checked_mul(io[1]))
                .and_then(|layer| layer.checked_add(sum))
        });
        if weights.is_none_or(|w| w > MAX_WEIGHTS) {
            let hidden: Vec<String> = self.hidden.iter().map(ToString::to_string).collect();
            return Err(AlgoError::Invalid(format!(
                "--hidden {} would give the network {} weights and biases on {} features; at most {MAX_WEIGHTS} are allowed",
                hidden.join(","),
                weights.map_or_else(|| "more than 2^64".to_string(), |w| w.to_string()),
                data.n_features()
            )));
        }
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
                Self::flatten(
                    &self
                        .pass(&self.layers, &xb, &yb, &mut Spare::default(), PerRow::None)
                        .grads,
                )
            }
        };
        let mut theta = self.params();
        let mut update = StepRecord::new(0, 0.0);
        self.opt.apply(&mut theta, &grad, &mut update);
        self.batches.record(&mut update, data.n_rows());
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

    fn recycle(&mut self, old: StepRecord) {
        self.spare
            .keep(old, &[A1, A2, Y_HAT, DELTA1, DELTA2, DELTA_OUT]);
    }

    fn keep_per_row(&mut self, keep: bool) {
        self.per_row = keep;
    }

    fn per_row_heads(&mut self, head: Option<usize>) {
        self.head = head;
    }

    fn classify(&self, x: &DMatrix<f64>, flat: &[f64]) -> Option<Vec<usize>> {
        if self.output == Output::Regression {
            return None;
        }
        let output = self.outputs_at(x, flat)?;
        Some(match self.output {
            Output::Binary => output.iter().map(|&v| usize::from(v > 0.5)).collect(),
            _ => super::argmax_rows(&output),
        })
    }

    fn predict(&self, x: &DMatrix<f64>, flat: &[f64]) -> Option<Vec<f64>> {
        if self.output != Output::Regression {
            return None;
        }
        Some(self.outputs_at(x, flat)?.as_slice().to_vec())
    }

    fn has_loss_surface(&self) -> bool {
        true
    }

    fn predicts_classes(&self) -> bool {
        self.output != Output::Regression
    }

    fn loss_at(&self, data: &Dataset, flat: &[f64]) -> Option<f64> {
        if flat.len() != self.params().len() {
            return None;
        }
        let y = self.build_targets(data).ok()?;
        Some(
            self.pass(
                &self.unflatten(flat),
                data.x(),
                &y,
                &mut Spare::default(),
                PerRow::None,
            )
            .loss,
        )
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
    fn a_few_whole_numbers_with_two_rows_each_on_average_are_classes() {
        let output = |y: &[f64]| {
            let a: Vec<f64> = (0..y.len()).map(|i| i as f64).collect();
            let d = Dataset::from_columns(&["a"], &[a], Some(("y", y.to_vec()))).unwrap();
            output_for(&d).unwrap()
        };
        // Three labels on six rows: two each, as the derivation says.
        assert!(matches!(
            output(&[2.0, 10.0, 9.0, 2.0, 10.0, 9.0]),
            Output::Multiclass(3)
        ));
        assert!(matches!(
            output(&[2.0, 10.0, 9.0, 2.0, 10.0]),
            Output::Regression
        ));
        assert!(matches!(
            output(&[2.5, 10.0, 9.0, 2.5, 10.0, 9.0]),
            Output::Regression
        ));
        assert!(matches!(output(&[0.0, 1.0, 1.0]), Output::Binary));
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

    /// The pass written directly with whole-matrix products, one thread.
    fn reference_pass(m: &Mlp, x: &DMatrix<f64>, y: &DMatrix<f64>) -> Pass {
        let n = x.nrows() as f64;
        let y = &match m.output {
            Output::Multiclass(k) => super::super::softmax::one_hot(y, k),
            _ => y.clone(),
        };
        let last = m.layers.len() - 1;
        let mut inputs = vec![x.clone()];
        let mut z_out = DMatrix::zeros(0, 0);
        for (l, layer) in m.layers.iter().enumerate() {
            let mut z = &inputs[l] * layer.w.transpose();
            for (mut col, &b) in z.column_iter_mut().zip(layer.b.iter()) {
                col.add_scalar_mut(b);
            }
            if l < last {
                inputs.push(z.map(|v| activate(m.activation, v)));
            } else {
                z_out = z;
            }
        }
        let (output, data_loss) = match m.output {
            Output::Binary => (
                z_out.map(super::super::logistic::sigmoid),
                z_out
                    .iter()
                    .zip(y.iter())
                    .map(|(&z, &t)| super::super::logistic::softplus(z) - t * z)
                    .sum::<f64>(),
            ),
            Output::Multiclass(_) => {
                let p = super::super::softmax::softmax_rows(&z_out);
                let loss = (0..z_out.nrows())
                    .map(|i| {
                        -(0..z_out.ncols())
                            .map(|c| y[(i, c)] * p[(i, c)].ln())
                            .sum::<f64>()
                    })
                    .sum();
                (p, loss)
            }
            Output::Regression => (z_out.clone(), 0.5 * (&z_out - y).norm_squared()),
        };
        let mut deltas = vec![DMatrix::zeros(0, 0); m.layers.len()];
        deltas[last] = &output - y;
        for l in (0..last).rev() {
            let back = &deltas[l + 1] * &m.layers[l + 1].w;
            deltas[l] = back.zip_map(&inputs[l + 1], |b, a| b * slope(m.activation, a));
        }
        let grads = m
            .layers
            .iter()
            .enumerate()
            .map(|(l, layer)| {
                let mut w = deltas[l].tr_mul(&inputs[l]) / n;
                optim::add_penalty_gradient(w.as_mut_slice(), layer.w.as_slice(), m.l2, m.l1);
                let b = DVector::from_iterator(
                    deltas[l].ncols(),
                    deltas[l].column_iter().map(|c| c.sum() / n),
                );
                Layer { w, b }
            })
            .collect();
        let penalty: f64 = m
            .layers
            .iter()
            .map(|l| optim::penalty(l.w.as_slice(), m.l2, m.l1))
            .sum();
        let hidden = inputs.split_off(1);
        let flat = hidden
            .iter()
            .flat_map(|a| a.iter())
            .filter(|&&a| slope(m.activation, a) < FLAT_SLOPE)
            .count();
        let cells: usize = hidden.iter().map(DMatrix::len).sum();
        Pass {
            activations: hidden,
            output,
            deltas,
            grads,
            loss: data_loss / n + penalty,
            saturated: flat as f64 / cells as f64,
        }
    }

    fn assert_close(a: &DMatrix<f64>, b: &DMatrix<f64>, what: &str) {
        assert_eq!(a.shape(), b.shape(), "{what}");
        let scale = b.abs().max().max(1.0);
        // Written so that a NaN fails.
        let close = a
            .iter()
            .zip(b.iter())
            .all(|(u, v)| (u - v).abs() < 1e-10 * scale);
        assert!(close, "{what}");
    }

    /// With heads, `m`'s pass gives `fast`'s sums (a pass keeping every
    /// row) and the first rows of its per-row matrices; its record keeps
    /// heads, but a numeric target's whole predictions (the plot draws their
    /// residuals).
    fn check_heads(m: &mut Mlp, d: &Dataset, fast: &Pass, case: &str) {
        let y = m.targets(d).unwrap();
        let head = PerRow::Head(64);
        let headed = m.pass(&m.layers, d.x(), &y, &mut Spare::default(), head);
        assert_eq!(headed.loss.to_bits(), fast.loss.to_bits(), "{case}");
        assert_eq!(headed.grads, fast.grads, "{case}");
        let all = |p: &Pass| -> Vec<DMatrix<f64>> {
            let per_row = p.activations.iter().chain([&p.output]);
            per_row.chain(&p.deltas).cloned().collect()
        };
        for (h, f) in all(&headed).iter().zip(all(fast)) {
            assert_eq!(*h, f.rows(0, 64).into_owned(), "{case}");
        }
        m.per_row_heads(Some(64));
        let n = d.n_rows();
        let record = m.step(d).unwrap();
        let headed = matches!(record.get(A1), Some(Value::Head { rows, .. }) if *rows == n);
        let whole = matches!(record.get(Y_HAT), Some(Value::Matrix(y)) if y.nrows() == n);
        let regression = matches!(m.output, Output::Regression);
        assert_eq!((headed, whole), (!regression, regression), "{case}");
        m.per_row_heads(None);
    }

    #[test]
    fn blocked_parallel_pass_matches_whole_matrix_products_on_many_rows() {
        // Two row ranges, ragged last blocks.
        let n = 40_001;
        let mut rng = Rng::new(11);
        let cols: Vec<Vec<f64>> = (0..3)
            .map(|_| (0..n).map(|_| rng.normal()).collect())
            .collect();
        let reg: Vec<f64> = (0..n)
            .map(|i| cols[0][i] * cols[1][i] + 0.37 * cols[2][i])
            .collect();
        let three: Vec<f64> = (0..n)
            .map(|i| f64::from(u8::from(cols[0][i] > 0.3) + u8::from(cols[1][i] > -0.2)))
            .collect();
        let two: Vec<f64> = (0..n)
            .map(|i| f64::from(u8::from(cols[2][i] > 0.0)))
            .collect();
        for y in [reg, three, two] {
            let d = Dataset::from_columns(&["a", "b", "c"], &cols, Some(("y", y))).unwrap();
            for activation in [Activation::Tanh, Activation::Sigmoid, Activation::Relu] {
                for hidden in [vec![8], vec![5, 4]] {
                    let mut m = Mlp::new(&Hyper {
                        hidden,
                        activation,
                        l2: Some(0.01),
                        seed: 2,
                        ..Hyper::default()
                    })
                    .unwrap();
                    m.reset(&d).unwrap();
                    m.step(&d).unwrap();
                    let y = m.targets(&d).unwrap();
                    let slow = reference_pass(&m, d.x(), &y);
                    // Reused buffers hold anything: every entry must be overwritten.
                    let symbols = [A1, A2, Y_HAT, DELTA1, DELTA2, DELTA_OUT];
                    let mut poisoned = StepRecord::new(0, 0.0);
                    let per_row = slow.activations.iter().chain([&slow.output]);
                    for (s, a) in symbols.iter().zip(per_row.chain(&slow.deltas)) {
                        poisoned.set(*s, Value::Matrix(a.map(|_| f64::NAN)));
                    }
                    let mut spare = Spare::default();
                    spare.keep(poisoned, &symbols);
                    let fast = m.pass(&m.layers, d.x(), &y, &mut spare, PerRow::All);
                    let case = format!("{:?} {activation:?} {:?}", m.output, m.hidden);
                    assert!(
                        (fast.loss - slow.loss).abs() < 1e-10 * slow.loss.abs(),
                        "{case}"
                    );
                    assert_close(&fast.output, &slow.output, &case);
                    assert!(
                        (fast.saturated - slow.saturated).abs() < 1e-12,
                        "{case}: {} vs {}",
                        fast.saturated,
                        slow.saturated
                    );
                    if matches!(activation, Activation::Relu) {
                        assert!(fast.saturated > 0.1, "{case}: relu is off for many rows");
                    }
                    for (a, b) in fast.activations.iter().zip(&slow.activations) {
                        assert_close(a, b, &case);
                    }
                    for (a, b) in fast.deltas.iter().zip(&slow.deltas) {
                        assert_close(a, b, &case);
                    }
                    for (a, b) in fast.grads.iter().zip(&slow.grads) {
                        assert_close(&a.w, &b.w, &case);
                        assert_close(
                            &DMatrix::from_column_slice(a.b.len(), 1, a.b.as_slice()),
                            &DMatrix::from_column_slice(b.b.len(), 1, b.b.as_slice()),
                            &case,
                        );
                    }
                    // Without per-row records: block-sized buffers, the same
                    // arithmetic, so bit for bit the same sums.
                    let lean = m.pass(&m.layers, d.x(), &y, &mut Spare::default(), PerRow::None);
                    assert_eq!(lean.loss.to_bits(), fast.loss.to_bits(), "{case}");
                    assert_eq!(lean.saturated.to_bits(), fast.saturated.to_bits());
                    assert_eq!(lean.grads, fast.grads, "{case}");
                    assert!(
                        lean.output.is_empty() && lean.activations.iter().all(DMatrix::is_empty)
                    );
                    check_heads(&mut m, &d, &fast, &case);
                    m.keep_per_row(false);
                    let record = m.step(&d).unwrap();
                    assert!(record.get(A1).is_none() && record.get(SATURATED).is_some());
                }
            }
        }
    }

    #[test]
    fn predictions_are_the_outputs_whose_squared_error_is_the_loss() {
        let mut rng = Rng::new(5);
        let a: Vec<f64> = (0..40).map(|_| rng.normal()).collect();
        let y: Vec<f64> = a.iter().map(|u| u.sin() + 0.1 * u).collect();
        let d = Dataset::from_columns(&["a"], &[a], Some(("y", y.clone()))).unwrap();
        let mut m = Mlp::new(&Hyper::default()).unwrap();
        m.reset(&d).unwrap();
        m.step(&d).unwrap();
        let theta = m.params();
        let predicted = m.predict(d.x(), &theta).unwrap();
        let half_mse = predicted
            .iter()
            .zip(&y)
            .map(|(p, y)| 0.5 * (p - y).powi(2))
            .sum::<f64>()
            / 40.0;
        let loss = m.loss_at(&d, &theta).unwrap();
        assert!(
            (half_mse - loss).abs() < 1e-12 * loss,
            "{half_mse} vs {loss}"
        );
        assert!(m.classify(d.x(), &theta).is_none());
        // A classifier's outputs are classes, not numbers.
        let d = xor();
        m.reset(&d).unwrap();
        assert!(m.predict(d.x(), &m.params()).is_none());
        assert!(m.classify(d.x(), &m.params()).is_some());
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
