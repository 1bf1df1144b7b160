//! The algorithm contract: symbols, derivations as data, step records, the
//! [`Algorithm`] trait and the registry by id.
//!
//! Every algorithm is implemented once. Its [`Algorithm::step`] applies the
//! update exactly as the last derivation line writes it and returns a
//! [`StepRecord`] holding every quantity the derivation names; the plots and
//! the derivation panel both read that record.

pub mod conditioning;
pub mod gmm;
pub mod kmeans;
pub mod linear;
pub mod logistic;
pub mod mlp;
pub mod pass;
pub mod pca;
pub mod perceptron;
pub mod softmax;
pub mod svm;
pub mod vmath;

use crate::data::{DataError, Dataset};
use crate::optim::OptimizerKind;
use nalgebra::DMatrix;

/// A named quantity of a derivation, declared once as a constant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Symbol {
    /// Stable id (used in records, exports and hover links).
    pub id: &'static str,
    /// How the symbol is typeset.
    pub latex: &'static str,
    /// What it is, in a few words.
    pub meaning: &'static str,
}

/// One numbered step of a derivation: from the model, through the loss and
/// the gradient, to the update.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DerivationStep {
    /// Short title.
    pub title: &'static str,
    /// One plain sentence saying what the step does.
    pub sentence: &'static str,
    /// The formula, in LaTeX.
    pub latex: &'static str,
    /// The symbols whose current values the step shows.
    pub shows: &'static [Symbol],
}

impl DerivationStep {
    /// Whether the step says how the implementation computes a quantity
    /// (its title starts with "Computing") rather than deriving the rule:
    /// the window starts such steps folded.
    #[must_use]
    pub fn is_aside(&self) -> bool {
        self.title.starts_with("Computing")
    }
}

/// Every symbol a derivation shows, once each, in order of first appearance:
/// the terms a reader can point at in its formulas.
#[must_use]
pub fn derivation_symbols(steps: &[DerivationStep]) -> Vec<Symbol> {
    let mut symbols: Vec<Symbol> = Vec::new();
    for symbol in steps.iter().flat_map(|s| s.shows) {
        if !symbols.iter().any(|s| s.id == symbol.id) {
            symbols.push(*symbol);
        }
    }
    symbols
}

/// The value of a symbol at one step.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// A number.
    Scalar(f64),
    /// A vector (per feature, per row or per class).
    Vector(Vec<f64>),
    /// A matrix (rows × columns).
    Matrix(DMatrix<f64>),
    /// The first rows of a per-row matrix of `rows` rows, where the record
    /// keeps no more of it (see [`Algorithm::per_row_heads`]).
    Head {
        /// The whole matrix's rows.
        rows: usize,
        /// Its first rows, every column.
        head: DMatrix<f64>,
    },
    /// Rows 0, `every`, 2·`every`, … of a per-row vector of `rows` rows,
    /// where the record keeps no more of it: the rows the plots draw of a
    /// large dataset ([`drawn_every`]; see [`Algorithm::per_row_heads`]).
    Sampled {
        /// The whole vector's rows.
        rows: usize,
        /// The spacing of the rows kept.
        every: usize,
        /// Their values, in order.
        values: Vec<f64>,
    },
}

/// At most this many rows of a dataset are drawn: every
/// [`drawn_every`]-th.
pub const DRAWN_ROWS: usize = 20_000;

/// The spacing of the rows drawn of `n` rows (1: all of them).
#[must_use]
pub fn drawn_every(n: usize) -> usize {
    n.div_ceil(DRAWN_ROWS).max(1)
}

impl Value {
    /// The value as a number, if it is one.
    #[must_use]
    pub fn as_scalar(&self) -> Option<f64> {
        match self {
            Self::Scalar(v) => Some(*v),
            _ => None,
        }
    }

    /// The value as a slice of numbers (a scalar is one number; a matrix is column-major).
    #[must_use]
    pub fn as_slice(&self) -> &[f64] {
        match self {
            Self::Scalar(v) => std::slice::from_ref(v),
            Self::Vector(v) | Self::Sampled { values: v, .. } => v,
            Self::Matrix(m) | Self::Head { head: m, .. } => m.as_slice(),
        }
    }

    /// Row `i`'s entry of a per-row vector of `rows` rows (`None` when the
    /// value is not one, or keeps no entry for that row).
    #[must_use]
    pub fn at_row(&self, i: usize, rows: usize) -> Option<f64> {
        match self {
            Self::Vector(v) if v.len() == rows => v.get(i).copied(),
            Self::Sampled {
                rows: n,
                every,
                values,
            } if *n == rows && i.is_multiple_of(*every) => values.get(i / every).copied(),
            _ => None,
        }
    }

    /// How many numbers the value has (a head counts its whole matrix's).
    #[must_use]
    pub fn entries(&self) -> usize {
        match self {
            Self::Head { rows, head } => rows * head.ncols(),
            Self::Sampled { rows, .. } => *rows,
            _ => self.as_slice().len(),
        }
    }

    /// Whether every entry is finite.
    #[must_use]
    pub fn is_finite(&self) -> bool {
        self.as_slice().iter().all(|v| v.is_finite())
    }
}

/// Everything one step computed: the loss at the parameters after the step,
/// and the value of every symbol the derivation names.
#[derive(Debug, Clone, PartialEq)]
pub struct StepRecord {
    /// Updates applied so far (0 is the initial state).
    pub step: usize,
    /// The objective at the parameters after `step` updates.
    pub loss: f64,
    /// Symbol values, in the order they were set.
    pub values: Vec<(Symbol, Value)>,
    /// Set when the algorithm reached its fixed point at this step.
    pub converged: bool,
    /// A note for the user about this step (e.g. an empty cluster kept in place).
    pub note: Option<String>,
}

impl StepRecord {
    /// An empty record for `step` with its loss.
    #[must_use]
    pub fn new(step: usize, loss: f64) -> Self {
        Self {
            step,
            loss,
            values: Vec::new(),
            converged: false,
            note: None,
        }
    }

    /// Sets (or replaces) a symbol's value.
    pub fn set(&mut self, symbol: Symbol, value: Value) {
        if let Some(slot) = self.values.iter_mut().find(|(s, _)| s.id == symbol.id) {
            slot.1 = value;
        } else {
            self.values.push((symbol, value));
        }
    }

    /// Sets a scalar.
    pub fn scalar(&mut self, symbol: Symbol, v: f64) {
        self.set(symbol, Value::Scalar(v));
    }

    /// Sets a vector.
    pub fn vector(&mut self, symbol: Symbol, v: impl Into<Vec<f64>>) {
        self.set(symbol, Value::Vector(v.into()));
    }

    /// Sets the per-row values of `symbols`: at the rows drawn, when
    /// `samples` took them ([`pass::Samples::choose`]), or else, when the
    /// record keeps per-row values (`keep`), every row from `whole`.
    pub fn per_row<const Q: usize>(
        &mut self,
        symbols: [Symbol; Q],
        samples: Option<pass::Samples<Q>>,
        (keep, whole): (bool, [Vec<f64>; Q]),
    ) {
        if let Some(samples) = samples {
            for (symbol, value) in symbols.into_iter().zip(samples.into_values()) {
                self.set(symbol, value);
            }
        } else if keep {
            for (symbol, v) in symbols.into_iter().zip(whole) {
                self.vector(symbol, v);
            }
        }
    }

    /// Moves out the values with one entry per row of an `n`-row dataset
    /// (vectors of length n, matrices of n rows) into a record of their own.
    #[must_use]
    pub fn take_per_row(&mut self, n: usize) -> Self {
        let (rows, rest) =
            std::mem::take(&mut self.values)
                .into_iter()
                .partition(|(_, v)| match v {
                    Value::Vector(v) => v.len() == n,
                    Value::Matrix(m) => m.nrows() == n,
                    Value::Scalar(_) | Value::Head { .. } | Value::Sampled { .. } => false,
                });
        self.values = rest;
        Self {
            values: rows,
            ..Self::new(self.step, self.loss)
        }
    }

    /// A symbol's value, if recorded.
    #[must_use]
    pub fn get(&self, symbol: Symbol) -> Option<&Value> {
        self.get_id(symbol.id)
    }

    /// A symbol's value by id, if recorded.
    #[must_use]
    pub fn get_id(&self, id: &str) -> Option<&Value> {
        self.values.iter().find(|(s, _)| s.id == id).map(|(_, v)| v)
    }
}

/// Why a run cannot go on.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum AlgoError {
    /// The data does not fit the algorithm.
    #[error(transparent)]
    Data(#[from] DataError),
    /// A hyperparameter is out of range or does not apply.
    #[error("{0}")]
    Invalid(String),
    /// A linear system has no unique solution.
    #[error("{0}")]
    Singular(String),
}

/// "1 row", "3 rows": `n` and a noun made plural by an s when n ≠ 1.
#[must_use]
pub fn count(n: usize, noun: &str) -> String {
    format!("{n} {noun}{}", if n == 1 { "" } else { "s" })
}

/// The most entries the d × d matrices of one algorithm (covariances,
/// Hessians) may hold in all: 4096², 134 MB.
pub const MAX_SQUARE_ENTRIES: usize = 4096 * 4096;

/// Refuses, before allocating them, `count` matrices of `side` × `side`
/// (for `features` features) beyond [`MAX_SQUARE_ENTRIES`] in all: on wide
/// data they would exhaust memory.
///
/// # Errors
/// Too many features for `id`.
pub fn check_square(id: &str, features: usize, side: usize, count: usize) -> Result<(), AlgoError> {
    let entries = side.saturating_mul(side).saturating_mul(count);
    if entries <= MAX_SQUARE_ENTRIES {
        return Ok(());
    }
    let matrices = if count == 1 {
        "a matrix".to_string()
    } else {
        format!("{count} matrices")
    };
    Err(AlgoError::Invalid(format!(
        "{id} forms {matrices} of {side} × {side} from the {features} features ({} MB), more than the {} MB it allows; choose fewer features with --features",
        entries.saturating_mul(8) / 1_000_000,
        MAX_SQUARE_ENTRIES * 8 / 1_000_000
    )))
}

/// Activation function of an MLP hidden layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub enum Activation {
    /// Hyperbolic tangent.
    #[default]
    Tanh,
    /// Rectified linear unit.
    Relu,
    /// Logistic sigmoid.
    Sigmoid,
}

impl Activation {
    /// Every activation.
    pub const ALL: [Self; 3] = [Self::Tanh, Self::Relu, Self::Sigmoid];

    /// Parses `tanh`, `relu` or `sigmoid`.
    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.name() == s)
    }

    /// The CLI name.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::Tanh => "tanh",
            Self::Relu => "relu",
            Self::Sigmoid => "sigmoid",
        }
    }
}

/// Hyperparameters of a run; each algorithm reads the ones that apply to it.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct Hyper {
    /// Learning rate η; `None` means the algorithm's default.
    pub learning_rate: Option<f64>,
    /// Optimizer; `None` means the algorithm's default.
    pub optimizer: Option<OptimizerKind>,
    /// Momentum coefficient μ (momentum, nesterov).
    pub momentum: f64,
    /// Adam's first-moment decay β₁.
    pub beta1: f64,
    /// Second-moment decay β₂ (Adam; RMSprop's ρ); `None` means 0.999 for Adam, 0.9 for RMSprop.
    pub beta2: Option<f64>,
    /// Mini-batch size; `None` means the full batch.
    pub batch_size: Option<usize>,
    /// Seed for shuffling and random initialisation.
    pub seed: u64,
    /// L2 strength λ (never applied to the bias); `None` means the algorithm's default.
    pub l2: Option<f64>,
    /// L1 strength λ₁ (never applied to the bias).
    pub l1: f64,
    /// Number of clusters or mixture components.
    pub k: Option<usize>,
    /// Rows (0-based) used as initial centroids / means.
    pub init_rows: Option<Vec<usize>>,
    /// Number of principal components.
    pub components: Option<usize>,
    /// Hidden layer sizes of the MLP.
    pub hidden: Vec<usize>,
    /// Hidden activation of the MLP.
    pub activation: Activation,
}

impl Default for Hyper {
    fn default() -> Self {
        Self {
            learning_rate: None,
            optimizer: None,
            momentum: 0.9,
            beta1: 0.9,
            beta2: None,
            batch_size: None,
            seed: 0,
            l2: None,
            l1: 0.0,
            k: None,
            init_rows: None,
            components: None,
            hidden: vec![8],
            activation: Activation::Tanh,
        }
    }
}

/// A closed-form or reference solution to compare the iterates with.
#[derive(Debug, Clone, PartialEq)]
pub struct Reference {
    /// How it was obtained (e.g. "normal equations (Cholesky)").
    pub method: String,
    /// Flat parameters in the algorithm's [`Algorithm::params`] layout.
    pub params: Vec<f64>,
    /// The objective at those parameters.
    pub loss: f64,
}

/// An algorithm stepped one update at a time.
pub trait Algorithm: Send + std::fmt::Debug {
    /// The registry id (e.g. `linear-regression`).
    fn id(&self) -> &'static str;

    /// The derivation, numbered in order, including the optimizer's lines.
    fn derivation(&self) -> Vec<DerivationStep>;

    /// Initialises the state for `data` and returns the record of step 0.
    ///
    /// # Errors
    /// The data or hyperparameters do not fit the algorithm.
    fn reset(&mut self, data: &Dataset) -> Result<StepRecord, AlgoError>;

    /// Evaluates the derivation at the current state, applies the update once,
    /// and returns every quantity the derivation names.
    ///
    /// # Errors
    /// Only for conditions that make a further step meaningless (e.g. a
    /// singular Hessian); divergence is reported through the record's loss.
    fn step(&mut self, data: &Dataset) -> Result<StepRecord, AlgoError>;

    /// The current parameters, flattened.
    fn params(&self) -> Vec<f64>;

    /// Names of the flattened parameters, for CSV export and axis labels.
    fn param_names(&self) -> Vec<String>;

    /// Flattened parameters as the JSON object of the CLI contract.
    fn params_json(&self, flat: &[f64]) -> serde_json::Value;

    /// A boxed copy of the whole state (for checkpoints in the history).
    fn boxed_clone(&self) -> Box<dyn Algorithm>;

    /// The learning rate in use, when the update has one the user can set.
    fn learning_rate(&self) -> Option<f64> {
        None
    }

    /// Changes the learning rate without resetting the run.
    fn set_learning_rate(&mut self, _learning_rate: f64) {}

    /// The closed-form or reference solution, where one exists.
    fn reference(&self, _data: &Dataset) -> Option<Result<Reference, AlgoError>> {
        None
    }

    /// The stability bound 2/L of plain gradient descent's rate, where the loss is quadratic.
    fn stability_bound(&self, _data: &Dataset) -> Option<f64> {
        None
    }

    /// Takes back a record the session no longer needs, so its large per-row
    /// buffers can be reused by the next step instead of allocated again.
    fn recycle(&mut self, _old: StepRecord) {}

    /// Whether records carry the per-row quantities the derivation panel
    /// shows. A headless run, which reports parameters and losses only,
    /// turns this off where those quantities would cost more memory than
    /// the data (the MLP's hidden activations and errors) or more time than
    /// the rest of the step (linear regression's predictions and residuals:
    /// its loss and gradient come from the data's moments); the step
    /// computes the same either way.
    fn keep_per_row(&mut self, _keep: bool) {}

    /// With `Some(h)`, records that keep per-row values keep only the first
    /// `h` rows of those no plot reads, as [`Value::Head`]s (the derivation
    /// panel shows a few entries of each): the window's choice, on data of
    /// any size (at a million rows and 10 classes softmax's and the MLP's
    /// per-row matrices took 480 and 280 MB for the two records alive).
    /// Linear regression, logistic regression, the SVM and k-means (its
    /// distances) keep theirs only at the rows the plots draw, as
    /// [`Value::Sampled`], on data with more rows than are drawn: linear
    /// regression's loss and gradient need no pass over the rows (a pass
    /// for ŷ and r took 1.8 times a read pass at a million rows), and the
    /// others copy those rows from their pass instead of writing whole
    /// vectors. The step computes the same either way.
    fn per_row_heads(&mut self, _head: Option<usize>) {}

    /// Whether [`Algorithm::loss_at`] answers, for parameters of the right
    /// length on data the algorithm accepts: the window asks this instead of
    /// evaluating the loss (a pass over the rows) to know if there is a
    /// surface to draw.
    fn has_loss_surface(&self) -> bool {
        false
    }

    /// The objective at arbitrary flat parameters (for the loss surface).
    fn loss_at(&self, _data: &Dataset, _flat: &[f64]) -> Option<f64> {
        None
    }

    /// Whether [`Algorithm::loss_at`] takes a pass over the rows (linear
    /// regression's takes the moments it keeps: O(d²) on any number of
    /// rows), so that a surface on many rows is too slow to draw.
    fn loss_at_reads_rows(&self) -> bool {
        true
    }

    /// The class (or cluster) the model assigns to each row of `x` at flat
    /// parameters `flat`: its own prediction, drawn as the decision-region
    /// map. `None` where the model does not assign rows to classes.
    fn classify(&self, _x: &DMatrix<f64>, _flat: &[f64]) -> Option<Vec<usize>> {
        None
    }

    /// The number the model predicts for each row of `x` at flat parameters
    /// `flat`, drawn as its fitted curve: the MLP's identity output. `None`
    /// for the other models (linear regression's line is drawn from w and b).
    fn predict(&self, _x: &DMatrix<f64>, _flat: &[f64]) -> Option<Vec<f64>> {
        None
    }

    /// Whether, beyond the registry's classifiers ([`Entry::classifies`]),
    /// this model predicts the target's classes on the data it was reset on
    /// (the MLP, which chooses its output from the target).
    fn predicts_classes(&self) -> bool {
        false
    }
}

/// The index of the largest value (the first one on ties; 0 when empty).
#[must_use]
pub fn argmax(values: impl IntoIterator<Item = f64>) -> usize {
    values
        .into_iter()
        .enumerate()
        .fold((0, f64::NEG_INFINITY), |best, (c, v)| {
            if v > best.1 { (c, v) } else { best }
        })
        .0
}

/// The index of the largest entry of each row (the predicted class).
#[must_use]
pub fn argmax_rows(m: &DMatrix<f64>) -> Vec<usize> {
    m.row_iter()
        .map(|row| argmax(row.iter().copied()))
        .collect()
}

/// An entry of the registry.
#[derive(Debug, Clone, Copy)]
pub struct Entry {
    /// The id used by the CLI and the GUI.
    pub id: &'static str,
    /// One line for `steplab list`.
    pub summary: &'static str,
    /// Whether the algorithm learns a target column.
    pub supervised: bool,
    /// Whether the target holds classes (never mean-imputed).
    pub classifies: bool,
    /// Builds the algorithm from hyperparameters.
    pub create: fn(&Hyper) -> Result<Box<dyn Algorithm>, AlgoError>,
    /// The optimizers its update can use, the default first; none where
    /// the update is not a gradient step.
    pub optimizers: &'static [OptimizerKind],
    /// λ when none is given.
    pub default_l2: f64,
    /// The number of clusters when none is given (0 where there are none).
    pub default_k: usize,
}

/// Which hyperparameters a run reads; it ignores the others.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[allow(clippy::struct_excessive_bools)]
pub struct Reads {
    /// The optimizer (where the update is a gradient step).
    pub optimizer: bool,
    /// η.
    pub learning_rate: bool,
    /// μ.
    pub momentum: bool,
    /// β₁.
    pub beta1: bool,
    /// β₂ (RMSprop's ρ).
    pub beta2: bool,
    /// The mini-batch size.
    pub batch_size: bool,
    /// The seed: where something is drawn.
    pub seed: bool,
    /// λ.
    pub l2: bool,
    /// λ₁.
    pub l1: bool,
    /// k.
    pub k: bool,
    /// The initial rows of the clusters.
    pub init_rows: bool,
    /// The number of principal components.
    pub components: bool,
    /// The MLP's hidden layers.
    pub hidden: bool,
    /// The MLP's activation.
    pub activation: bool,
}

impl Entry {
    /// The optimizer a run with `hyper` uses (`None` where the update is
    /// not a gradient step).
    #[must_use]
    pub fn optimizer(&self, hyper: &Hyper) -> Option<OptimizerKind> {
        let default = *self.optimizers.first()?;
        Some(hyper.optimizer.unwrap_or(default))
    }

    /// What a run with `hyper` reads: the optimizer's own settings for the
    /// optimizer it runs, the seed where something is drawn (initial rows,
    /// shuffled mini-batches, random weights or start vectors).
    #[must_use]
    pub fn reads(&self, hyper: &Hyper) -> Reads {
        use OptimizerKind as O;
        let optimizer = self.optimizer(hyper);
        let stepping = optimizer.is_some();
        let batches = stepping && optimizer != Some(O::Newton);
        let clustering = self.default_k > 0;
        let drawn_start = matches!(self.id, "mlp" | "pca");
        Reads {
            optimizer: stepping,
            learning_rate: (stepping && optimizer != Some(O::Pegasos))
                || matches!(self.id, "perceptron" | "pca"),
            momentum: matches!(optimizer, Some(O::Momentum | O::Nesterov)),
            beta1: optimizer == Some(O::Adam),
            beta2: matches!(optimizer, Some(O::Adam | O::Rmsprop)),
            batch_size: batches,
            seed: drawn_start
                || (clustering && hyper.init_rows.is_none())
                || (batches && hyper.batch_size.is_some()),
            l2: stepping,
            l1: stepping,
            k: clustering,
            init_rows: clustering,
            components: self.id == pca::ENTRY.id,
            hidden: self.id == mlp::ENTRY.id,
            activation: self.id == mlp::ENTRY.id,
        }
    }
}

/// Every algorithm, in catalogue order.
pub const REGISTRY: &[Entry] = &[
    linear::ENTRY,
    logistic::ENTRY,
    softmax::ENTRY,
    perceptron::ENTRY,
    svm::ENTRY,
    mlp::ENTRY,
    kmeans::ENTRY,
    pca::ENTRY,
    gmm::ENTRY,
];

/// Looks an algorithm up by id.
#[must_use]
pub fn entry(id: &str) -> Option<&'static Entry> {
    REGISTRY.iter().find(|e| e.id == id)
}

/// The ids in catalogue order, comma separated (for messages).
#[must_use]
pub fn ids() -> String {
    REGISTRY.iter().map(|e| e.id).collect::<Vec<_>>().join(", ")
}

/// Every symbol any step of `derivation` shows.
#[must_use]
pub fn shown_symbols(derivation: &[DerivationStep]) -> Vec<Symbol> {
    let mut out: Vec<Symbol> = Vec::new();
    for s in derivation.iter().flat_map(|d| d.shows.iter()) {
        if !out.iter().any(|o| o.id == s.id) {
            out.push(*s);
        }
    }
    out
}

/// Which per-row values a step's record keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PerRow {
    /// None (a headless run).
    None,
    /// The first rows of those no plot reads (see [`Algorithm::per_row_heads`]).
    Head(usize),
    /// All of them.
    All,
}

impl PerRow {
    /// The choice for a record on `n` rows, from [`Algorithm::keep_per_row`]
    /// and [`Algorithm::per_row_heads`].
    #[must_use]
    pub fn of(keep: bool, head: Option<usize>, n: usize) -> Self {
        match head {
            _ if !keep => Self::None,
            Some(h) if h < n => Self::Head(h),
            _ => Self::All,
        }
    }

    /// A record's value for a per-row matrix `m` on `rows` rows: `m` itself,
    /// or, with `Head`, the head `m` holds.
    #[must_use]
    pub fn value(self, rows: usize, m: DMatrix<f64>) -> Value {
        match self {
            Self::Head(_) => Value::Head { rows, head: m },
            Self::None | Self::All => Value::Matrix(m),
        }
    }
}

/// Per-row buffers handed back by [`Algorithm::recycle`]. Cloning gives an
/// empty pool, so checkpoints never copy them.
#[derive(Debug, Default)]
pub struct Spare(Vec<Vec<f64>>);

impl Clone for Spare {
    fn clone(&self) -> Self {
        Self(Vec::new())
    }
}

impl Spare {
    /// Keeps the vectors and matrices of `symbols` from `old`.
    pub fn keep(&mut self, mut old: StepRecord, symbols: &[Symbol]) {
        for (s, v) in old.values.drain(..) {
            if !symbols.iter().any(|k| k.id == s.id) || self.0.len() >= symbols.len() {
                continue;
            }
            match v {
                Value::Vector(v) => self.0.push(v),
                Value::Matrix(m) => self.0.push(m.data.into()),
                Value::Scalar(_) | Value::Head { .. } | Value::Sampled { .. } => {}
            }
        }
    }

    /// An `rows` × `cols` matrix (contents unspecified: callers overwrite it).
    pub fn take_matrix(&mut self, rows: usize, cols: usize) -> DMatrix<f64> {
        DMatrix::from_vec(rows, cols, self.take(rows * cols))
    }

    /// A vector of length `n` (contents unspecified: callers overwrite it).
    pub fn take(&mut self, n: usize) -> Vec<f64> {
        match self.0.iter().position(|v| v.len() == n) {
            Some(i) => self.0.swap_remove(i),
            None => vec![0.0; n],
        }
    }
}

/// Something computed from the parameters over every row and kept for the
/// next step, which would otherwise compute it again. Cloning gives an
/// empty cache, so checkpoints stay the size of the parameters; a restored
/// copy computes it again when it first needs it.
#[derive(Debug)]
pub struct Cached<T>(Option<T>);

impl<T> Default for Cached<T> {
    fn default() -> Self {
        Self(None)
    }
}

impl<T> Clone for Cached<T> {
    fn clone(&self) -> Self {
        Self(None)
    }
}

impl<T> Cached<T> {
    /// Keeps `value`.
    pub fn set(&mut self, value: T) {
        self.0 = Some(value);
    }

    /// Takes the kept value, if any.
    pub fn take(&mut self) -> Option<T> {
        self.0.take()
    }

    /// The kept value, if any.
    #[must_use]
    pub fn get(&self) -> Option<&T> {
        self.0.as_ref()
    }
}

/// Row-major nested vectors of a matrix, for JSON.
#[must_use]
pub fn rows_json(m: &DMatrix<f64>) -> Vec<Vec<f64>> {
    m.row_iter().map(|r| r.iter().copied().collect()).collect()
}

/// Checks what [`Algorithm::per_row_heads`] promises of `symbols` on data
/// larger than [`DRAWN_ROWS`]: over a few steps, the algorithm with heads
/// keeps them at rows 0, `every`, 2·`every`, … only, bit for bit as the
/// whole record has them there, and computes the same loss, gradient
/// (`grad`) and parameters as without.
#[cfg(test)]
pub(crate) fn assert_keeps_the_drawn_rows(
    make: impl Fn() -> Box<dyn Algorithm>,
    data: &Dataset,
    symbols: &[Symbol],
    grad: Symbol,
) {
    let n = data.n_rows();
    let every = drawn_every(n);
    assert!(every > 1, "{n} rows are all drawn");
    let (mut whole, mut drawn) = (make(), make());
    drawn.per_row_heads(Some(64));
    whole.reset(data).unwrap();
    drawn.reset(data).unwrap();
    for _ in 0..3 {
        let (a, b) = (whole.step(data).unwrap(), drawn.step(data).unwrap());
        assert_eq!(a.loss.to_bits(), b.loss.to_bits());
        assert_eq!(a.get(grad), b.get(grad));
        assert_eq!(whole.params(), drawn.params());
        for &symbol in symbols {
            let (full, kept) = (a.get(symbol).unwrap(), b.get(symbol).unwrap());
            assert!(
                matches!(kept, Value::Sampled { rows, every: e, values } if *rows == n && *e == every && values.len() == n.div_ceil(every)),
                "{}",
                symbol.id
            );
            for i in 0..n {
                let expected = i
                    .is_multiple_of(every)
                    .then(|| full.as_slice()[i].to_bits());
                assert_eq!(
                    kept.at_row(i, n).map(f64::to_bits),
                    expected,
                    "{} row {i}",
                    symbol.id
                );
            }
        }
    }
}
