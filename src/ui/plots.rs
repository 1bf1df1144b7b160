//! Plots drawn from the step record: the data with the model on it, the loss
//! per step, and the loss surface over two parameters with the trajectory.
//! What is drawn is decimated; what the algorithm computes never is.

use super::{cloud, theme};
use crate::algorithms::{Algorithm, StepRecord, Value, pass};
use crate::data::Dataset;
use crate::export::format_number;
use crate::session::Session;
use egui_plot::{
    Arrows, Corner, HLine, Heatmap, Legend, Line, LineStyle, MarkerShape, Plot, PlotImage,
    PlotPoint, PlotPoints, Points, VLine,
};
use nalgebra::DMatrix;
use std::sync::Arc;

/// The most characters of a name an axis title (or a picker, or the
/// surface's smaller axes) shows.
const AXIS_CHARS: usize = 40;
const PICKED_CHARS: usize = 28;
/// The surface's pickers share half the plots' width with their words.
const SURFACE_CHARS: usize = 18;

/// The height in points kept under the data plot for its legend, the
/// surface's pickers and the loss plot.
const BELOW_DATA: f32 = 320.0;

/// The least width in points the loss plot and the surface are drawn side
/// by side in; in a narrower one they take turns.
const SIDE_BY_SIDE: f32 = 440.0;

/// The loss surface is computed only when rows × grid cells stay below this.
const SURFACE_BUDGET: usize = 40_000_000;

/// The plots' own state: chosen axes, scales and what is cached between frames.
#[derive(Default)]
pub struct PlotView {
    x_feature: usize,
    y_feature: Option<usize>,
    log_loss: bool,
    surface_params: Option<(usize, usize)>,
    surface: Option<Surface>,
    /// A surface being computed on a thread of its own.
    surface_job: Pending<Surface>,
    facts: Option<DataFacts>,
    loss_facts: Option<LossFacts>,
    regions: Option<Regions>,
    regions_job: Pending<RegionsMap>,
    /// The plots start afresh at the next frame (bounds, zoom, axis widths).
    fresh: bool,
    /// Where the loss plot and the surface take turns (a narrow window),
    /// whether the surface is the one shown.
    surface_shown: bool,
    /// Ids of the derivation symbols under the pointer: their plot items are emphasised.
    pub highlight: Vec<&'static str>,
}

/// Which plot items the hovered derivation terms refer to.
#[derive(Debug, Default, Clone, Copy)]
#[allow(clippy::struct_excessive_bools)] // Independent flags, one per kind of plot item.
struct Lit {
    residuals: bool,
    gradient: bool,
    margins: bool,
    centroids: bool,
    axes: bool,
    ellipses: bool,
    hidden: bool,
    loss: bool,
    sample: bool,
}

impl Lit {
    fn of(ids: &[&str]) -> Self {
        let any = |names: &[&str]| ids.iter().any(|id| names.contains(id));
        Self {
            residuals: any(&["residual", "y_hat", "error", "p", "z"]),
            gradient: any(&[
                "grad_w",
                "grad_b",
                "grad_W",
                "grad_prev",
                "theta_prev",
                "theta",
                "eta",
                "velocity",
                "m_hat",
                "s_hat",
            ]),
            margins: any(&["margins", "hinge", "violators", "support_vectors"]),
            centroids: any(&["centroids", "assignment", "distance", "cluster_size"]),
            axes: any(&[
                "components",
                "component",
                "w_pc",
                "eigenvalue",
                "explained_variance_ratio",
            ]),
            ellipses: any(&["means", "covariances", "responsibilities", "weights"]),
            hidden: any(&["W1", "a1", "delta1", "grad_W1"]),
            loss: any(&["loss", "log_likelihood"]),
            sample: any(&["sample", "x_i", "y_i", "margin", "mistake"]),
        }
    }

    /// The residuals' colour: the warning colour while lit.
    fn residual_colour(self) -> egui::Color32 {
        if self.residuals {
            theme::WARNING
        } else {
            theme::RESIDUAL
        }
    }

    /// A wider stroke for a lit item.
    fn width(on: bool, base: f32) -> f32 {
        if on { base + 2.5 } else { base }
    }
}

/// A computation on a thread of its own, taken in by the first frame that
/// finds it done.
struct Pending<T>(Option<std::thread::JoinHandle<Option<T>>>);

impl<T> Default for Pending<T> {
    fn default() -> Self {
        Self(None)
    }
}

impl<T: Send + 'static> Pending<T> {
    /// Whether one is running.
    fn busy(&self) -> bool {
        self.0.is_some()
    }

    /// Its result once it is done (`None` while it runs, or if it failed).
    fn take_done(&mut self) -> Option<T> {
        let done = self.0.take_if(|j| j.is_finished())?;
        done.join().ok().flatten()
    }

    /// Starts `f`; false (nothing started) if no thread can start.
    fn start(&mut self, f: impl FnOnce() -> Option<T> + Send + 'static) -> bool {
        self.0 = super::background::spawn("steplab-plot", f).ok();
        self.0.is_some()
    }
}

/// What a decision map or a loss surface is drawn for: the step shown, the
/// two axes (features or parameters) and the algorithm.
type PlotKey = (usize, usize, usize, String);

/// Whether `a` and `b` draw the same view (axes and algorithm), at any step.
fn same_view(a: &PlotKey, b: &PlotKey) -> bool {
    (a.1, a.2, &a.3) == (b.1, b.2, &b.3)
}

/// Whether what was made for `made_key` at `made`, in `cost`, stays drawn
/// for `key`: it is `key`'s own, or a slow one of the same view that a
/// running model has not yet earned again (at most every tenth of the
/// time it took; the frame when it falls due is asked for).
fn still_drawn(
    ctx: &egui::Context,
    key: &PlotKey,
    (made_key, made, cost): (&PlotKey, std::time::Instant, std::time::Duration),
) -> bool {
    if made_key == key {
        return true;
    }
    let waited = made.elapsed();
    if same_view(made_key, key) && waited < cost * 10 {
        ctx.request_repaint_after((cost * 10).saturating_sub(waited));
        return true;
    }
    false
}

/// The decision-region map: the model's own `classify` on a grid over two
/// features (the others at their means), as a faint texture under the points.
struct Regions {
    key: PlotKey,
    texture: egui::TextureHandle,
    center: PlotPoint,
    size: egui::Vec2,
    /// When it was made, and what making it took.
    made: std::time::Instant,
    cost: std::time::Duration,
}

/// Grid cells per side of the decision-region map.
const REGION_GRID: usize = 120;

/// At most about this many margin violators are ringed.
const RINGS_DRAWN: usize = 500;

/// The classes of the map's cells, made anywhere ([`RegionsJob`]), and
/// where the map lies.
struct RegionsMap {
    key: PlotKey,
    classes: Vec<usize>,
    center: PlotPoint,
    size: egui::Vec2,
    cost: std::time::Duration,
}

/// What classifying the map's cells takes: the model at `params`, over
/// features `axes` spanning `ranges`, the others at their `means`.
struct RegionsJob<'a> {
    algorithm: &'a dyn Algorithm,
    params: &'a [f64],
    means: &'a [f64],
    ranges: [(f64, f64); 2],
    axes: [usize; 2],
    key: PlotKey,
}

impl RegionsJob<'_> {
    /// About how long [`Self::run`] takes: one row of the map's cells,
    /// timed, for each row.
    fn estimate(&self) -> std::time::Duration {
        let started = std::time::Instant::now();
        let _ = self.algorithm.classify(&self.cells(1), self.params);
        started.elapsed() * u32::try_from(REGION_GRID).unwrap_or(u32::MAX)
    }

    /// The first `rows` rows of the map's cells (the top, largest y,
    /// first), as rows of features.
    fn cells(&self, rows: usize) -> DMatrix<f64> {
        let [j, k] = self.axes;
        let ((x0, x1), (y0, y1)) = (pad(self.ranges[0]), pad(self.ranges[1]));
        let g = REGION_GRID;
        DMatrix::from_fn(rows * g, self.means.len(), |row, m| {
            let (r, c) = (row / g, row % g);
            if m == j {
                x0 + (c as f64 + 0.5) / g as f64 * (x1 - x0)
            } else if m == k {
                y1 - (r as f64 + 0.5) / g as f64 * (y1 - y0)
            } else {
                self.means[m]
            }
        })
    }

    /// The map's classes, or `None` when the model does not classify.
    fn run(&self) -> Option<RegionsMap> {
        let started = std::time::Instant::now();
        let ((x0, x1), (y0, y1)) = (pad(self.ranges[0]), pad(self.ranges[1]));
        let classes = self
            .algorithm
            .classify(&self.cells(REGION_GRID), self.params)?;
        #[allow(clippy::cast_possible_truncation)]
        Some(RegionsMap {
            key: self.key.clone(),
            classes,
            center: PlotPoint::new(0.5 * (x0 + x1), 0.5 * (y0 + y1)),
            size: egui::vec2((x1 - x0) as f32, (y1 - y0) as f32),
            cost: started.elapsed(),
        })
    }

    /// [`Self::run`] with what it reads copied, to run on another thread.
    fn owned(&self) -> impl FnOnce() -> Option<RegionsMap> + Send + 'static {
        let algorithm = self.algorithm.boxed_clone();
        let (params, means) = (self.params.to_vec(), self.means.to_vec());
        let (ranges, axes, key) = (self.ranges, self.axes, self.key.clone());
        move || {
            RegionsJob {
                algorithm: algorithm.as_ref(),
                params: &params,
                means: &means,
                ranges,
                axes,
                key,
            }
            .run()
        }
    }
}

impl Regions {
    /// The map's texture.
    fn of(ctx: &egui::Context, map: RegionsMap) -> Self {
        let pixels = map
            .classes
            .iter()
            .map(|&c| {
                let [r, g, b, _] = theme::class(c).to_array();
                egui::Color32::from_rgba_unmultiplied(r, g, b, 46)
            })
            .collect();
        let image = egui::ColorImage::new([REGION_GRID, REGION_GRID], pixels);
        Self {
            key: map.key,
            texture: ctx.load_texture("decision-regions", image, egui::TextureOptions::NEAREST),
            center: map.center,
            size: map.size,
            made: std::time::Instant::now(),
            cost: map.cost,
        }
    }
}

/// The part of the line a·x + b·y = rhs inside `area` ([x range, y range]).
fn clip_line(
    [a, b]: [f64; 2],
    rhs: f64,
    [(x0, x1), (y0, y1)]: [(f64, f64); 2],
) -> Option<Vec<[f64; 2]>> {
    let mut hits: Vec<[f64; 2]> = Vec::with_capacity(4);
    if b.abs() > f64::MIN_POSITIVE {
        for x in [x0, x1] {
            let y = (rhs - a * x) / b;
            if (y0..=y1).contains(&y) {
                hits.push([x, y]);
            }
        }
    }
    if a.abs() > f64::MIN_POSITIVE {
        for y in [y0, y1] {
            let x = (rhs - b * y) / a;
            if (x0..=x1).contains(&x) {
                hits.push([x, y]);
            }
        }
    }
    let first = *hits.first()?;
    // The two hits farthest apart (corners can be hit twice).
    let far = hits
        .iter()
        .copied()
        .max_by(|p, q| dist2(first, *p).total_cmp(&dist2(first, *q)))?;
    (dist2(first, far) > 0.0).then(|| vec![first, far])
}

fn dist2(p: [f64; 2], q: [f64; 2]) -> f64 {
    (p[0] - q[0]).powi(2) + (p[1] - q[1]).powi(2)
}

/// A range widened by 5% on each side (and made non-empty).
fn pad((lo, hi): (f64, f64)) -> (f64, f64) {
    let margin = ((hi - lo) * 0.05).max(1e-9);
    (lo - margin, hi + margin)
}

/// How rows with one feature are drawn: along x, spread up the y axis
/// (each class in a lane of its own, when they have classes), since there
/// is no second feature to plot them against.
struct Strip<'a> {
    /// Each row's class, when the rows have classes.
    classes: Option<&'a [usize]>,
    lanes: usize,
}

impl<'a> Strip<'a> {
    /// The strip of a one-feature dataset (`None` with two or more).
    fn of(data: &'a Dataset) -> Option<Self> {
        (data.n_features() == 1).then(|| {
            let target = data.target().filter(|t| !t.classes.is_empty());
            Self {
                classes: target.map(|t| t.class_ids.as_slice()),
                lanes: target.map_or(1, |t| t.classes.len()),
            }
        })
    }

    /// Row `i`'s height: its lane's centre, moved by a fixed pseudo-random
    /// amount so that equal values do not hide each other.
    fn y(&self, i: usize) -> f64 {
        let hash = (i as u64 ^ 0x5851_F42D).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 11;
        #[allow(clippy::cast_precision_loss)]
        let spread = hash as f64 / (1u64 << 53) as f64 - 0.5;
        let lane = self.classes.and_then(|c| c.get(i)).copied().unwrap_or(0);
        lane as f64 + 0.7 * spread
    }

    /// The heights the lanes take.
    fn range(&self) -> (f64, f64) {
        (-0.5, self.lanes as f64 - 0.5)
    }

    /// Where the model's points (centroids, means) sit: mid-height.
    fn middle(&self) -> f64 {
        let (lo, hi) = self.range();
        0.5 * (lo + hi)
    }
}

/// What the plots need from all rows, read once per dataset rather than
/// once per frame.
struct DataFacts {
    /// Per feature: mean, smallest and largest value.
    means: Vec<f64>,
    ranges: Vec<(f64, f64)>,
}

impl DataFacts {
    /// The ranges of a feature plot's x and y: features `j` and `k`, or
    /// feature `j` and the strip's lanes.
    fn plane(&self, strip: Option<&Strip>, [j, k]: [usize; 2]) -> [(f64, f64); 2] {
        [self.ranges[j], strip.map_or(self.ranges[k], Strip::range)]
    }

    fn of(data: &Dataset) -> Self {
        let rows = data.n_rows().max(1) as f64;
        // One pass on both cores (50 ms of the first frame after every
        // rebuild at a million rows when each column took a chain).
        let extents = pass::column_extents(data.x());
        Self {
            means: extents.iter().map(|e| e.sum / rows).collect(),
            ranges: extents.iter().map(|e| (e.min, e.max)).collect(),
        }
    }
}

/// What the plots read of a new session, and of its dataset when that is
/// new too: each a pass over the rows at most, done where they were built
/// (on a thread of its own for large data) rather than in a frame.
pub struct Facts {
    data: Option<DataFacts>,
    loss: LossFacts,
}

impl Facts {
    /// The facts of `session`, and of `data` when `new_data`.
    #[must_use]
    pub fn of(data: &Dataset, session: &Session, new_data: bool) -> Self {
        Self {
            data: new_data.then(|| DataFacts::of(data)),
            loss: LossFacts::of(data, session),
        }
    }
}

/// What the loss plots need of the session's algorithm, read once per session.
struct LossFacts {
    /// The loss at the reference solution, where one exists.
    reference: Option<f64>,
    /// The reference solution's parameters: the surface spans them too.
    optimum: Option<Vec<f64>>,
    /// Whether the loss can be evaluated at any parameters (for the surface).
    has_surface: bool,
}

impl LossFacts {
    fn of(data: &Dataset, session: &Session) -> Self {
        let algorithm = session.algorithm();
        let reference = algorithm.reference(data).and_then(Result::ok);
        Self {
            reference: reference.as_ref().map(|r| r.loss),
            optimum: reference.map(|r| r.params),
            has_surface: algorithm.param_names().len() >= 2 && algorithm.has_loss_surface(),
        }
    }
}

/// A cached grid of the loss over two parameters.
struct Surface {
    key: PlotKey,
    /// When it was computed and how long that took (to keep its share of the frames small).
    made: std::time::Instant,
    cost: std::time::Duration,
    values: Vec<f64>,
    cols: usize,
    origin: [f64; 2],
    tile: [f64; 2],
    min: f64,
    max: f64,
}

fn stride(n: usize) -> usize {
    crate::algorithms::drawn_every(n)
}

/// Point size and colour for `drawn` points: smaller and translucent when
/// there are thousands, so a dense cloud shows its density and the classes
/// drawn first are not buried under the last one.
fn marker(drawn: usize, colour: egui::Color32) -> (f32, egui::Color32) {
    match drawn {
        0..=1_000 => (2.5, colour),
        1_001..=5_000 => (1.8, colour.gamma_multiply(0.8)),
        _ => (1.2, colour.gamma_multiply(0.5)),
    }
}

fn vector<'a>(record: Option<&'a StepRecord>, id: &str) -> Option<&'a [f64]> {
    record.and_then(|r| r.get_id(id)).map(Value::as_slice)
}

fn scalar(record: Option<&StepRecord>, id: &str) -> Option<f64> {
    record.and_then(|r| r.get_id(id)).and_then(Value::as_scalar)
}

fn matrix<'a>(record: Option<&'a StepRecord>, id: &str) -> Option<&'a DMatrix<f64>> {
    match record.and_then(|r| r.get_id(id)) {
        Some(Value::Matrix(m)) => Some(m),
        _ => None,
    }
}

impl PlotView {
    /// Takes `facts` of a rebuilt session (and dataset, when it is new)
    /// instead of what was read of the old ones.
    pub fn rebuilt(&mut self, facts: Facts) {
        if let Some(data) = facts.data {
            self.facts = Some(data);
        }
        self.loss_facts = Some(facts.loss);
        self.surface = None;
        self.surface_job = Pending::default();
        self.regions = None;
        self.regions_job = Pending::default();
        self.fresh = true;
    }

    /// Forgets what was drawn of the steps a run dropped (the surface
    /// spans the trajectory; the bounds of a diverged run would stay).
    pub fn history_cut(&mut self) {
        self.surface = None;
        self.surface_job = Pending::default();
        self.regions = None;
        self.regions_job = Pending::default();
        self.fresh = true;
    }

    /// The axis pickers, the data plot, the loss plot and the loss
    /// surface, at step `shown` and its parameters (`None` while they are
    /// replayed: the model's drawings wait for them).
    pub fn ui(
        &mut self,
        ui: &mut egui::Ui,
        data: &Arc<Dataset>,
        session: &Session,
        record: Option<&StepRecord>,
        (shown, params): (usize, Option<&[f64]>),
    ) {
        if std::mem::take(&mut self.fresh) {
            // What the plots remember of an earlier run (a diverged one's
            // bounds near 1e300, the axis widths its long tick labels took)
            // would otherwise outlive it.
            ui.ctx()
                .data_mut(egui::util::IdTypeMap::remove_by_type::<egui_plot::PlotMemory>);
        }
        let names = data.feature_names();
        let d = names.len();
        self.x_feature = self.x_feature.min(d.saturating_sub(1));
        let mut y_feature = self
            .y_feature
            .unwrap_or(usize::from(d > 1))
            .min(d.saturating_sub(1));
        // The MLP predicts a number when its target is not a set of classes.
        let regression = session.algorithm().id() == "linear-regression"
            || session.algorithm().id() == "mlp" && !session.algorithm().predicts_classes()
            || data.target().is_some_and(|t| t.classes.is_empty());
        // Wrapped: on a narrow window one row of pickers was wider than
        // the plots' panel and pushed the plots under the derivation.
        ui.horizontal_wrapped(|ui| {
            pick(
                egui::ComboBox::from_label("x axis"),
                ui,
                (names, PICKED_CHARS),
                &mut self.x_feature,
            );
            if !regression && d > 1 {
                pick(
                    egui::ComboBox::from_label("y axis"),
                    ui,
                    (names, PICKED_CHARS),
                    &mut y_feature,
                );
            }
            ui.checkbox(&mut self.log_loss, "log loss axis");
        });
        self.y_feature = Some(y_feature);
        let lit = Lit::of(&self.highlight);
        let facts = self.facts.get_or_insert_with(|| DataFacts::of(data));
        // The loss plot and the surface keep room under it (a 640-point
        // window left them 90 and 30 points).
        let room = ui.available_height();
        let height = (room * 0.55).min(room - BELOW_DATA).max(180.0);
        if regression {
            let model = params.map(|p| (session.algorithm(), p));
            regression_plot(
                ui,
                data,
                facts,
                (record, model),
                lit,
                self.x_feature,
                height,
            );
        } else {
            let view = (record, shown, params);
            self.classes_ui(ui, data, session, view, [self.x_feature, y_feature], height);
        }
        let loss_facts = self
            .loss_facts
            .get_or_insert_with(|| LossFacts::of(data, session));
        let (reference, has_surface) = (loss_facts.reference, loss_facts.has_surface);
        if has_surface && ui.available_width() < SIDE_BY_SIDE {
            ui.horizontal(|ui| {
                ui.selectable_value(&mut self.surface_shown, false, "loss per step");
                ui.selectable_value(&mut self.surface_shown, true, "loss surface");
            });
            if self.surface_shown {
                let view = (shown, params);
                self.surface_ui(ui, data, session, record, view, lit.gradient);
            } else {
                loss_plot(ui, session, reference, shown, self.log_loss, lit.loss);
            }
        } else if has_surface {
            ui.columns(2, |cols| {
                loss_plot(
                    &mut cols[0],
                    session,
                    reference,
                    shown,
                    self.log_loss,
                    lit.loss,
                );
                self.surface_ui(
                    &mut cols[1],
                    data,
                    session,
                    record,
                    (shown, params),
                    lit.gradient,
                );
            });
        } else {
            // Nothing to draw beside it: the loss takes the whole width.
            ui.weak("No loss surface for this algorithm.");
            loss_plot(ui, session, reference, shown, self.log_loss, lit.loss);
        }
    }

    /// The data plot of a model that classifies or clusters: the rows over
    /// features `axes` with the model on them, at step `shown`.
    fn classes_ui(
        &mut self,
        ui: &mut egui::Ui,
        data: &Dataset,
        session: &Session,
        (record, shown, params): (Option<&StepRecord>, usize, Option<&[f64]>),
        axes: [usize; 2],
        height: f32,
    ) {
        let facts = self.facts.get_or_insert_with(|| DataFacts::of(data));
        let key = (
            shown,
            axes[0],
            axes[1],
            session.algorithm().id().to_string(),
        );
        // One feature: its regions are bands across the strip's lanes.
        let strip = Strip::of(data);
        let job = params
            .filter(|_| axes[0] != axes[1] || strip.is_some())
            .map(|params| RegionsJob {
                algorithm: session.algorithm(),
                params,
                means: &facts.means,
                ranges: facts.plane(strip.as_ref(), axes),
                axes,
                key: key.clone(),
            });
        Self::refresh_regions(
            ui.ctx(),
            (&mut self.regions, &mut self.regions_job),
            &key,
            job,
        );
        let regions = self.regions.as_ref().filter(|r| same_view(&r.key, &key));
        // Rows join the nearest of the centroids before the step.
        let before = (shown > 0 && session.algorithm().id() == "k-means")
            .then(|| session.params_at(shown - 1))
            .flatten();
        let lit = Lit::of(&self.highlight);
        feature_plot(
            ui,
            data,
            facts,
            (record, before),
            regions,
            lit,
            axes,
            height,
        );
    }

    /// Makes the decision regions of `key` (made by `job`, when the model
    /// classifies and its parameters are there) the ones drawn when they
    /// are due: while the run moves on, a slow map follows at most every
    /// tenth of the time it took, as the surface does (an MLP (64, 64)
    /// classified the 14,400 cells in 30 ms, every frame), and one that
    /// took long (or, the first, would by [`RegionsJob::estimate`]) is made
    /// on a thread of its own.
    fn refresh_regions(
        ctx: &egui::Context,
        (regions, pending): (&mut Option<Regions>, &mut Pending<RegionsMap>),
        key: &PlotKey,
        job: Option<RegionsJob>,
    ) {
        if let Some(map) = pending.take_done() {
            *regions = Some(Regions::of(ctx, map));
        }
        if regions
            .as_ref()
            .is_some_and(|r| still_drawn(ctx, key, (&r.key, r.made, r.cost)))
        {
            return;
        }
        if pending.busy() {
            ctx.request_repaint_after(POLL);
            return;
        }
        let Some(job) = job else {
            return;
        };
        let slow = regions
            .as_ref()
            .filter(|r| same_view(&r.key, key))
            .map_or_else(|| job.estimate(), |r| r.cost)
            >= IN_FRAME;
        if !slow || !pending.start(job.owned()) {
            *regions = job.run().map(|map| Regions::of(ctx, map));
        }
    }

    /// Makes `job`'s surface the one drawn when it is due: in the frame
    /// when quick, else on a thread of its own (an MLP (64, 64) on
    /// penguins.csv took 340 ms, in each frame it was due in), one at a
    /// time; a slow surface follows a running model at most every tenth of
    /// the time it took.
    fn refresh_surface(
        &mut self,
        ctx: &egui::Context,
        data: &Arc<Dataset>,
        session: &Session,
        mut job: SurfaceJob,
    ) {
        if let Some(surface) = self.surface_job.take_done() {
            self.surface = Some(surface);
        }
        if self
            .surface
            .as_ref()
            .is_some_and(|s| still_drawn(ctx, &job.key, (&s.key, s.made, s.cost)))
        {
            return;
        }
        // The frame that takes it in asks again.
        if self.surface_job.busy() {
            ctx.request_repaint_after(POLL);
            return;
        }
        job.span = surface_span(session, job.params, self.optimum(), job.axes);
        if job.estimate(data) < IN_FRAME || !self.surface_job.start(job.owned(data)) {
            self.surface = compute_surface(data, &job);
        } else {
            ctx.request_repaint_after(POLL);
        }
    }

    /// The reference solution's parameters, where there is one.
    fn optimum(&self) -> Option<&[f64]> {
        self.loss_facts.as_ref()?.optimum.as_deref()
    }

    /// The two parameters the surface is drawn over.
    fn surface_picker_ui(&mut self, ui: &mut egui::Ui, names: &[String]) -> (usize, usize) {
        let names: Vec<String> = names.iter().map(|n| param_label(n)).collect();
        let (mut p, mut q) = self.surface_params.unwrap_or((0, 1));
        ui.horizontal_wrapped(|ui| {
            let over = ui.label("surface over");
            pick(
                egui::ComboBox::from_id_salt("surface-p"),
                ui,
                (&names, SURFACE_CHARS),
                &mut p,
            )
            .labelled_by(over.id);
            let and = ui.label("and");
            pick(
                egui::ComboBox::from_id_salt("surface-q"),
                ui,
                (&names, SURFACE_CHARS),
                &mut q,
            )
            .labelled_by(and.id);
        });
        let last = names.len().saturating_sub(1);
        let chosen = (p.min(last), q.min(last));
        self.surface_params = Some(chosen);
        chosen
    }

    fn surface_ui(
        &mut self,
        ui: &mut egui::Ui,
        data: &Arc<Dataset>,
        session: &Session,
        record: Option<&StepRecord>,
        (shown, params): (usize, Option<&[f64]>),
        lit: bool,
    ) {
        let alg = session.algorithm();
        let names = alg.param_names();
        let Some(current) = params else {
            return;
        };
        let (p, q) = self.surface_picker_ui(ui, &names);
        let grid = 32usize;
        if alg.loss_at_reads_rows() && data.n_rows() * grid * grid > SURFACE_BUDGET {
            ui.label("The data is too large to draw the loss surface interactively.");
            return;
        }
        let key = (shown, p, q, alg.id().to_string());
        let job = SurfaceJob {
            algorithm: alg,
            params: current,
            axes: (p, q),
            span: [(0.0, 0.0); 2],
            grid,
            key: key.clone(),
        };
        self.refresh_surface(ui.ctx(), data, session, job);
        let Some(surface) = self.surface.as_ref().filter(|s| same_view(&s.key, &key)) else {
            if self.surface_job.busy() {
                ui.weak("computing the loss surface…");
            }
            return;
        };
        let trajectory: Vec<[f64; 2]> = trajectory(session, shown)
            .map(|t| [t[p], t[q]])
            .chain(std::iter::once([current[p], current[q]]))
            .collect();
        plot("surface")
            .x_axis_label(super::short(
                &param_label(&names[p]),
                title_chars(ui.available_width()),
            ))
            .y_axis_label(super::short(
                &param_label(&names[q]),
                title_chars(ui.available_height()),
            ))
            .show(ui, |plot_ui| {
                #[allow(clippy::cast_possible_truncation)]
                let heat = Heatmap::new(surface.values.clone(), surface.cols)
                    .at(PlotPoint::new(surface.origin[0], surface.origin[1]))
                    .tile_size(surface.tile[0] as f32, surface.tile[1] as f32)
                    .range(surface.min, surface.max)
                    .show_labels(false)
                    .palette(&theme::SURFACE)
                    .name("loss J");
                plot_ui.heatmap(heat);
                plot_ui.line(
                    Line::new("iterates", PlotPoints::from(trajectory))
                        .color(theme::TRAJECTORY)
                        .width(1.5),
                );
                plot_ui.points(
                    Points::new(
                        "shown step",
                        PlotPoints::from(vec![[current[p], current[q]]]),
                    )
                    .radius(4.0)
                    .color(theme::MODEL),
                );
                if let Some(o) = self.optimum().filter(|o| o.len() > p.max(q)) {
                    plot_ui.points(
                        Points::new(
                            "optimum (closed form)",
                            PlotPoints::from(vec![[o[p], o[q]]]),
                        )
                        .radius(6.0)
                        .shape(MarkerShape::Cross)
                        .color(theme::REFERENCE),
                    );
                }
                gradient_arrows(plot_ui, record, [current[p], current[q]], (p, q), lit);
            });
    }
}

/// On the surface over parameters `(p, q)`: the step's −η∇J from the
/// previous parameters, and where the step went (at `moved`) when that is
/// elsewhere (momentum, adaptive steps).
fn gradient_arrows(
    plot_ui: &mut egui_plot::PlotUi,
    record: Option<&StepRecord>,
    moved: [f64; 2],
    (p, q): (usize, usize),
    lit: bool,
) {
    let (Some(t), Some(g), Some(eta)) = (
        vector(record, "theta_prev"),
        vector(record, "grad_prev"),
        scalar(record, "eta"),
    ) else {
        return;
    };
    if t.len() <= p.max(q) || g.len() <= p.max(q) {
        return;
    }
    let origin = [t[p], t[q]];
    let mut arrow = |name: &str, tip: [f64; 2], colour: egui::Color32| {
        plot_ui.arrows(
            Arrows::new(
                name,
                PlotPoints::from(vec![origin]),
                PlotPoints::from(vec![tip]),
            )
            .highlight(lit)
            .color(colour),
        );
    };
    let tip = [t[p] - eta * g[p], t[q] - eta * g[q]];
    arrow("−η∇J (the update's gradient)", tip, theme::GRADIENT);
    // Momentum and adaptive steps move elsewhere than −η∇J: show where.
    let apart = (moved[0] - tip[0]).hypot(moved[1] - tip[1]);
    if apart > 1e-9 * (1.0 + moved[0].hypot(moved[1])) {
        arrow(
            "the step taken (velocity / adaptive)",
            moved,
            theme::TRAJECTORY,
        );
    }
}

/// `combo` as a drop-down choosing one of `names` into `chosen`, the
/// chosen name shown in at most `most` characters (all of them in the
/// list).
fn pick(
    combo: egui::ComboBox,
    ui: &mut egui::Ui,
    (names, most): (&[String], usize),
    chosen: &mut usize,
) -> egui::Response {
    combo
        .selected_text(
            names
                .get(*chosen)
                .map_or(String::new(), |n| super::short(n, most)),
        )
        .show_ui(ui, |ui| {
            for (i, n) in names.iter().enumerate() {
                ui.selectable_value(chosen, i, n);
            }
        })
        .response
}

/// A parameter's name (as the trajectory export writes it) in the
/// derivation's notation: W1[0,1] as W⁽¹⁾[0,1], mu0[x] as μ₀[x], pi1 as
/// π₁, sigma0[a,b] as Σ₀[a,b].
fn param_label(name: &str) -> String {
    const SUB: [char; 10] = ['₀', '₁', '₂', '₃', '₄', '₅', '₆', '₇', '₈', '₉'];
    const SUP: [char; 10] = ['⁰', '¹', '²', '³', '⁴', '⁵', '⁶', '⁷', '⁸', '⁹'];
    let digits = |rest: &str, table: &[char; 10]| -> Option<(String, usize)> {
        let n = rest.chars().take_while(char::is_ascii_digit).count();
        let mapped = rest[..n]
            .bytes()
            .map(|b| table[usize::from(b - b'0')])
            .collect();
        (n > 0).then_some((mapped, n))
    };
    for (prefix, symbol, layer) in [
        ("sigma", "Σ", false),
        ("mu", "μ", false),
        ("pi", "π", false),
        ("W", "W", true),
        ("b", "b", true),
    ] {
        let Some(rest) = name.strip_prefix(prefix) else {
            continue;
        };
        let table = if layer { &SUP } else { &SUB };
        if let Some((index, n)) = digits(rest, table) {
            let index = if layer {
                format!("⁽{index}⁾")
            } else {
                index
            };
            return format!("{symbol}{index}{}", &rest[n..]);
        }
    }
    name.to_owned()
}

/// A loss surface or decision map is made in the frame when it takes less
/// than this (as estimated, or as it took last time), else on a thread of
/// its own.
const IN_FRAME: std::time::Duration = std::time::Duration::from_millis(8);

/// How soon a frame looks again for a surface or map made on a thread.
const POLL: std::time::Duration = std::time::Duration::from_millis(30);

/// The parameters of the steps up to `upto` that the surface's trajectory
/// goes through: about [`crate::algorithms::DRAWN_ROWS`] of them, evenly
/// spaced at multiples of the history's stride, which keep their
/// parameters. The others are not read: a filter over every snapshot took
/// each frame a pass over the whole history (270 MB at 4.8 million steps).
fn trajectory(session: &Session, upto: usize) -> impl Iterator<Item = &[f64]> {
    let history = session.history();
    let upto = upto.min(history.len().saturating_sub(1));
    let every = stride(upto + 1).next_multiple_of(session.stride());
    // The window's history holds every step: index i is step i.
    (0..=upto)
        .step_by(every)
        .filter_map(move |i| history.get(i).filter(|h| h.has_params()))
        .map(|h| h.params.as_slice())
}

/// The ranges of parameters `p` and `q` the surface covers: the
/// trajectory's and `params`', padded.
fn surface_span(
    session: &Session,
    params: &[f64],
    optimum: Option<&[f64]>,
    (p, q): (usize, usize),
) -> [(f64, f64); 2] {
    let span = |k: usize| {
        let (lo, hi) = trajectory(session, usize::MAX)
            .chain(optimum.filter(|o| o.len() == params.len()))
            .fold((params[k], params[k]), |(lo, hi), t| {
                (lo.min(t[k]), hi.max(t[k]))
            });
        let pad = ((hi - lo) * 0.25).max(0.5 * params[k].abs()).max(1.0);
        (lo - pad, hi + pad)
    };
    [span(p), span(q)]
}

/// What computing a surface takes: the loss on a `grid` × `grid` grid over
/// parameters `axes` spanning `span`, the others at `params`.
struct SurfaceJob<'a> {
    algorithm: &'a dyn Algorithm,
    params: &'a [f64],
    axes: (usize, usize),
    span: [(f64, f64); 2],
    grid: usize,
    key: PlotKey,
}

impl SurfaceJob<'_> {
    /// About how long [`compute_surface`] takes: one evaluation, timed, for each cell.
    fn estimate(&self, data: &Dataset) -> std::time::Duration {
        let started = std::time::Instant::now();
        let _ = self.algorithm.loss_at(data, self.params);
        started.elapsed() * u32::try_from(self.grid * self.grid).unwrap_or(u32::MAX)
    }

    /// [`compute_surface`] with what it reads copied, to run on another thread.
    fn owned(&self, data: &Arc<Dataset>) -> impl FnOnce() -> Option<Surface> + Send + 'static {
        let algorithm = self.algorithm.boxed_clone();
        let (params, data) = (self.params.to_vec(), Arc::clone(data));
        let (axes, span, grid, key) = (self.axes, self.span, self.grid, self.key.clone());
        move || {
            let job = SurfaceJob {
                algorithm: algorithm.as_ref(),
                params: &params,
                axes,
                span,
                grid,
                key,
            };
            compute_surface(&data, &job)
        }
    }
}

/// `job`'s loss surface, colour values and all.
fn compute_surface(data: &Dataset, job: &SurfaceJob) -> Option<Surface> {
    let started = std::time::Instant::now();
    let SurfaceJob {
        algorithm: alg,
        params,
        axes: (p, q),
        span: [(x0, x1), (y0, y1)],
        grid,
        ref key,
    } = *job;
    let tile = [(x1 - x0) / grid as f64, (y1 - y0) / grid as f64];
    let mut theta = params.to_vec();
    let mut values = Vec::with_capacity(grid * grid);
    for r in 0..grid {
        for c in 0..grid {
            theta[p] = x0 + (c as f64 + 0.5) * tile[0];
            theta[q] = y0 + (r as f64 + 0.5) * tile[1];
            values.push(alg.loss_at(data, &theta).unwrap_or(f64::NAN));
        }
    }
    let finite: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
    if finite.is_empty() {
        return None;
    }
    // Colour by rank-like scale: log of the excess over the minimum keeps the valley visible.
    let min = finite.iter().copied().fold(f64::INFINITY, f64::min);
    let max = finite.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    // The floor keeps the lowest cell from stretching the scale to ln(0).
    let floor = ((max - min) * 1e-3).max(f64::MIN_POSITIVE);
    let values: Vec<f64> = values
        .iter()
        .map(|v| {
            if v.is_finite() {
                (v - min + floor).ln()
            } else {
                f64::NAN
            }
        })
        .collect();
    let (lo, hi) = values
        .iter()
        .filter(|v| v.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &v| {
            (a.min(v), b.max(v))
        });
    Some(Surface {
        key: key.clone(),
        made: std::time::Instant::now(),
        cost: started.elapsed(),
        values,
        cols: grid,
        origin: [x0, y0],
        tile,
        min: lo,
        max: hi,
    })
}

/// The algorithm of the run and the shown step's flat parameters.
type Model<'a> = (&'a dyn Algorithm, &'a [f64]);

/// Rows of the fitted curve drawn for a model with [`Algorithm::predict`].
const CURVE_POINTS: usize = 200;

/// The target against feature `j` with the model on it: the line of w and
/// b, or the curve of the shown step's parameters (`model`) for a model
/// that predicts numbers otherwise (the MLP), the other features at their
/// means.
fn regression_plot(
    ui: &mut egui::Ui,
    data: &Dataset,
    facts: &DataFacts,
    (record, model): (Option<&StepRecord>, Option<Model<'_>>),
    lit: Lit,
    j: usize,
    height: f32,
) {
    let Some((target, y)) = data
        .target()
        .and_then(|t| Some((&t.name, t.values.as_ref()?)))
    else {
        return;
    };
    let x = data.x();
    let n = x.nrows();
    let col = x.column(j);
    let s = stride(n);
    let points: Vec<[f64; 2]> = (0..n).step_by(s).map(|i| [col[i], y[i]]).collect();
    let means = &facts.means;
    let (lo, hi) = facts.ranges[j];
    let band = band_around(&points);
    let line_of = |w: &[f64], b: f64| slice_line((w, b), means, j, [(lo, hi), band]);
    // ŷ and r of the drawn rows (on large data the record keeps no others).
    let per_row = |id: &str, i: usize| record?.get_id(id)?.at_row(i, n);
    let yhat = |i: usize| per_row("y_hat", i);
    // Row i's residual as a segment from y to ŷ (cut at the band).
    let stick = |i: usize| {
        let top = yhat(i)?.clamp(band.0, band.1);
        Some(PlotPoints::from(vec![[col[i], y[i]], [col[i], top]]))
    };
    let [line_name, curve_name, residual_name] = regression_names(data.n_features());
    // The legend goes under the plot, as the classes' does (over it, its
    // long names hid the data of a narrow plot).
    let mut entries: Vec<(String, egui::Color32)> = Vec::new();
    let mut entry = |name: &str, colour: egui::Color32| {
        entries.push((name.to_owned(), colour));
    };
    let response = plot("data")
        .height(height)
        .x_axis_label(axis_name(data, j, ui.available_width()))
        .y_axis_label(super::short(target, AXIS_CHARS))
        .show(ui, |plot_ui| {
            // Residuals ŷᵢ − yᵢ as segments (a few hundred at most, of rows drawn).
            let mut sticks = 0;
            for stick in (0..n)
                .step_by((n / 300).max(1).next_multiple_of(s))
                .filter_map(stick)
            {
                sticks += 1;
                plot_ui.line(
                    Line::new(residual_name, stick)
                        .color(lit.residual_colour())
                        .width(Lit::width(lit.residuals, 1.0)),
                );
            }
            let (radius, colour) = marker(points.len(), theme::class(0));
            cloud::points(plot_ui, "data", points, radius, colour);
            entry("data", theme::class(0));
            if sticks > 0 {
                entry(residual_name, lit.residual_colour());
            }
            if let (Some(w), Some(b)) = (vector(record, "w_star"), scalar(record, "b_star")) {
                plot_ui.line(
                    Line::new("closed form", PlotPoints::from(line_of(w, b)))
                        .color(theme::REFERENCE)
                        .style(LineStyle::dashed_loose()),
                );
                entry("closed form", theme::REFERENCE);
            }
            if let (Some(w), Some(b)) = (vector(record, "w"), scalar(record, "b")) {
                plot_ui.line(
                    Line::new(line_name, PlotPoints::from(line_of(w, b)))
                        .color(theme::MODEL)
                        .width(2.5),
                );
                entry(line_name, theme::MODEL);
            } else if let Some(curve) =
                model.and_then(|(a, p)| curve(a, p, means, j, [(lo, hi), band]))
            {
                plot_ui.line(
                    Line::new(curve_name, PlotPoints::from(curve))
                        .color(theme::MODEL)
                        .width(2.5),
                );
                entry(curve_name, theme::MODEL);
            }
            let i = row_under_pointer(plot_ui, (0..n).step_by(s), |i| [col[i], y[i]])?;
            if let Some(stick) = stick(i) {
                plot_ui.line(
                    Line::new("this row's residual", stick)
                        .color(theme::WARNING)
                        .width(3.0),
                );
            }
            Some(i)
        });
    if let Some((i, r)) = response
        .inner
        .and_then(|i| Some((i, per_row("residual", i)?)))
    {
        response
            .response
            .on_hover_text_at_pointer(row_term(data, i, y[i], yhat(i), r));
    }
    legend_row(ui, &entries);
}

/// The fitted value of linear model `(w, b)` along feature `j`, the other
/// features at their `means`, within `view` (a diverging model's line at
/// 1e33 flattened the data).
fn slice_line(
    (w, b): (&[f64], f64),
    means: &[f64],
    j: usize,
    view: [(f64, f64); 2],
) -> Vec<[f64; 2]> {
    let offset: f64 = b + w
        .iter()
        .zip(means)
        .enumerate()
        .filter(|(k, _)| *k != j)
        .map(|(_, (w, m))| w * m)
        .sum::<f64>();
    let wj = w.get(j).copied().unwrap_or(0.0);
    clip_line([wj, -1.0], -offset, view).unwrap_or_default()
}

/// Of the drawn `rows`, at `at` in the plot, the one nearest the pointer
/// (within a few pixels).
fn row_under_pointer(
    plot_ui: &egui_plot::PlotUi,
    rows: impl Iterator<Item = usize>,
    at: impl Fn(usize) -> [f64; 2],
) -> Option<usize> {
    let pointer = plot_ui.screen_from_plot(plot_ui.pointer_coordinate()?);
    let (i, dist) = rows
        .map(|i| {
            let [x, y] = at(i);
            (
                i,
                plot_ui
                    .screen_from_plot(PlotPoint::new(x, y))
                    .distance(pointer),
            )
        })
        .min_by(|a, b| a.1.total_cmp(&b.1))?;
    (dist <= 8.0).then_some(i)
}

/// The legend's names for the model's line, its curve and the residuals:
/// with other features than the one plotted, the line is a slice through
/// the model, while each residual is the row's own ŷ − y.
fn regression_names(features: usize) -> [&'static str; 3] {
    if features > 1 {
        [
            "model ŷ = w·x + b, other features at their means",
            "model ŷ, other features at their means",
            "residuals ŷᵢ − yᵢ, at each row's own features",
        ]
    } else {
        ["model ŷ = w·x + b", "model ŷ", "residuals ŷᵢ − yᵢ"]
    }
}

/// The heights a regression plot shows: the data's, and twice their span
/// above and below (where a model's line or residuals go farther, they are
/// cut there).
fn band_around(points: &[[f64; 2]]) -> (f64, f64) {
    let (y0, y1) = points
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), p| {
            (a.min(p[1]), b.max(p[1]))
        });
    let span = (y1 - y0).max(1e-9 * y0.abs().max(1.0));
    (y0 - 2.0 * span, y1 + 2.0 * span)
}

/// The prediction of `algorithm` at `params` along feature `j` from `lo`
/// to `hi`, the other features at `means`, held within `band`.
fn curve(
    algorithm: &dyn Algorithm,
    params: &[f64],
    means: &[f64],
    j: usize,
    [(lo, hi), band]: [(f64, f64); 2],
) -> Option<Vec<[f64; 2]>> {
    let at = |r: usize| lo + (hi - lo) * r as f64 / (CURVE_POINTS - 1) as f64;
    let x = DMatrix::from_fn(CURVE_POINTS, means.len(), |r, c| {
        if c == j { at(r) } else { means[c] }
    });
    let y = algorithm.predict(&x, params)?;
    Some(
        y.iter()
            .enumerate()
            .map(|(r, &v)| [at(r), v.clamp(band.0, band.1)])
            .collect(),
    )
}

/// Row `i`'s terms of the squared loss and its gradient, given its residual
/// r: (r²/(2n), r·xᵢ/n per feature, r/n). Summed over the rows they make J
/// (without penalty) and ∇J.
fn row_terms(data: &Dataset, i: usize, r: f64) -> (f64, Vec<f64>, f64) {
    let rows = data.n_rows() as f64;
    let x = data.x();
    (
        r * r / (2.0 * rows),
        (0..x.ncols()).map(|m| r * x[(i, m)] / rows).collect(),
        r / rows,
    )
}

/// Row `i`'s terms of the loss and of the gradient, with its numbers.
fn row_term(data: &Dataset, i: usize, y: f64, yhat: Option<f64>, r: f64) -> String {
    use std::fmt::Write as _;
    let n = data.n_rows();
    let (loss, grad_w, grad_b) = row_terms(data, i, r);
    let mut text = format!(
        "row {i} (line {})\nŷ = {}, y = {}, r = ŷ − y = {}\nits term of J: r²/(2n) = {}\nits term of ∂J/∂w = r·x/n:",
        data.lines().get(i).copied().unwrap_or(0),
        format_number(yhat.unwrap_or(f64::NAN)),
        format_number(y),
        format_number(r),
        format_number(loss),
    );
    for ((m, name), g) in data.feature_names().iter().enumerate().zip(grad_w) {
        let _ = write!(
            text,
            "\n  {name}: {} · {} / {n} = {}",
            format_number(r),
            format_number(data.x()[(i, m)]),
            format_number(g)
        );
    }
    let _ = write!(text, "\nits term of ∂J/∂b = r/n: {}", format_number(grad_b));
    text
}

/// How the points are coloured: the group of each row in `rows` (class, or
/// cluster for the clustering algorithms, or range of a numeric target), the
/// groups' names where they have them, and the colour of group g.
struct Groups {
    ids: Vec<usize>,
    labels: Vec<String>,
    /// A numeric target in ranges: colours from a sequential ramp.
    ranges: bool,
}

impl Groups {
    fn colour(&self, g: usize) -> egui::Color32 {
        if self.ranges {
            theme::RAMP[g.min(theme::RAMP.len() - 1)]
        } else {
            theme::class(g)
        }
    }
}

fn colours(
    data: &Dataset,
    record: Option<&StepRecord>,
    rows: impl Iterator<Item = usize>,
) -> Groups {
    let n = data.n_rows();
    let unnamed = |ids| Groups {
        ids,
        labels: Vec::new(),
        ranges: false,
    };
    if let Some(a) = vector(record, "assignment").filter(|a| a.len() == n) {
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        return unnamed(rows.map(|i| a[i].max(0.0) as usize).collect());
    }
    if let Some(r) = matrix(record, "responsibilities").filter(|r| r.nrows() == n) {
        return unnamed(
            rows.map(|i| crate::algorithms::argmax(r.row(i).iter().copied()))
                .collect(),
        );
    }
    match data.target() {
        // More distinct numbers than any classifier here takes as classes
        // (the MLP's limit is 10): a quantity, coloured by ranges.
        Some(t) if t.values.is_some() && t.classes.len() > 10 => {
            let values = t.values.as_ref().map_or(&[][..], |v| v.as_slice());
            let (ids, labels) = value_ranges(values, theme::RAMP.len(), rows);
            Groups {
                ids,
                labels: labels
                    .iter()
                    .map(|(lo, hi)| format!("{} {} to {}", t.name, round3(*lo), round3(*hi)))
                    .collect(),
                ranges: true,
            }
        }
        Some(t) if !t.classes.is_empty() => Groups {
            ids: rows.map(|i| t.class_ids[i]).collect(),
            labels: t.classes.iter().map(ToString::to_string).collect(),
            ranges: false,
        },
        _ => unnamed(rows.map(|_| 0).collect()),
    }
}

/// v to three significant digits (a legend's range bound).
fn round3(v: f64) -> String {
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let decimals = if v == 0.0 || !v.is_finite() {
        0
    } else {
        (2.0 - v.abs().log10().floor()).max(0.0) as usize
    };
    format!("{v:.decimals$}")
}

/// Splits the range of `values` into `bins` equal parts: the part of each
/// row in `rows`, and each part's bounds.
fn value_ranges(
    values: &[f64],
    bins: usize,
    rows: impl Iterator<Item = usize>,
) -> (Vec<usize>, Vec<(f64, f64)>) {
    let lo = values.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let width = (hi - lo) / bins as f64;
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let ids = rows
        .map(|i| {
            if width > 0.0 {
                (((values[i] - lo) / width) as usize).min(bins - 1)
            } else {
                0
            }
        })
        .collect();
    let bounds = (0..bins)
        .map(|b| (lo + width * b as f64, lo + width * (b + 1) as f64))
        .collect();
    (ids, bounds)
}

#[allow(clippy::too_many_lines, clippy::too_many_arguments)] // One block per kind of plot item.
fn feature_plot(
    ui: &mut egui::Ui,
    data: &Dataset,
    facts: &DataFacts,
    (record, before): (Option<&StepRecord>, Option<&[f64]>),
    regions: Option<&Regions>,
    lit: Lit,
    [j, k]: [usize; 2],
    height: f32,
) {
    let x = data.x();
    let (n, d) = x.shape();
    let s = stride(n);
    let strip = Strip::of(data);
    let y_of = |i: usize| strip.as_ref().map_or_else(|| x[(i, k)], |strip| strip.y(i));
    let groups = colours(data, record, (0..n).step_by(s));
    let mut points: Vec<Vec<[f64; 2]>> =
        vec![Vec::new(); groups.ids.iter().copied().max().map_or(1, |m| m + 1)];
    for (i, &id) in (0..n).step_by(s).zip(&groups.ids) {
        points[id].push([x[(i, j)], y_of(i)]);
    }
    let means = &facts.means;
    let (lo, hi) = facts.ranges[j];
    // The model's points at mid-strip, or at their second feature.
    let at = |v: &[f64]| match &strip {
        Some(strip) => [v[j], strip.middle()],
        None => [v[j], v[k]],
    };
    // The line w_j x + w_k y + c = level in the plane of features j and k
    // (on a strip, the vertical line w_j x + c = level).
    // The data's box, padded: lines are drawn only inside it.
    let area = facts.plane(strip.as_ref(), [j, k]).map(pad);
    let line = |w: &[f64], b: f64, level: f64| -> Option<Vec<[f64; 2]>> {
        if w.len() != d || j == k && strip.is_none() {
            return None;
        }
        let w_k = if strip.is_some() { 0.0 } else { w[k] };
        let c = b + w
            .iter()
            .zip(means)
            .enumerate()
            .filter(|(m, _)| *m != j && *m != k)
            .map(|(_, (w, m))| w * m)
            .sum::<f64>();
        clip_line([w[j], w_k], level - c, area)
    };
    // The legend goes under the plot, where it hides no data: each item's
    // name and colour, in the order drawn.
    let mut entries: Vec<(String, egui::Color32)> = Vec::new();
    let mut frame =
        plot("data")
            .height(height)
            .x_axis_label(axis_name(data, j, ui.available_width()));
    frame = match &strip {
        Some(strip) => frame
            .y_axis_label(if strip.classes.is_some() {
                "class (rows spread within)"
            } else {
                "rows spread out (no scale)"
            })
            .y_grid_spacer(egui_plot::log_grid_spacer(10))
            .y_axis_formatter(strip_tick_label(data)),
        None => frame
            .data_aspect(1.0)
            .y_axis_label(axis_name(data, k, height)),
    };
    frame.show(ui, |plot_ui| {
        let mut entry = |name: &str, colour: egui::Color32| {
            if !entries.iter().any(|(n, _)| n == name) {
                entries.push((name.to_owned(), colour));
            }
        };
        if let Some(regions) = regions {
            plot_ui.image(
                PlotImage::new(
                    "decision regions",
                    regions.texture.id(),
                    regions.center,
                    regions.size,
                )
                .allow_hover(false),
            );
            entry("decision regions", theme::REFERENCE);
        }
        let drawn = points.iter().map(Vec::len).sum();
        let one_group = points.iter().filter(|p| !p.is_empty()).count() == 1;
        // Past a dozen groups the rest share one legend entry (50
        // clusters ran the legend off the plot).
        let groups_in_all = points.len();
        for (c, pts) in points.into_iter().enumerate() {
            if !pts.is_empty() {
                let (radius, colour) = marker(drawn, groups.colour(c));
                let name = if groups_in_all > LEGEND_GROUPS && c + 1 >= LEGEND_GROUPS {
                    format!("{} more", groups_in_all + 1 - LEGEND_GROUPS)
                } else {
                    groups.labels.get(c).cloned().unwrap_or_else(|| {
                        if one_group {
                            "data".to_string()
                        } else {
                            format!("group {c}")
                        }
                    })
                };
                entry(&name, groups.colour(c));
                cloud::points(plot_ui, name, pts, radius, colour);
            }
        }
        if let (Some(w), Some(b)) = (vector(record, "w"), scalar(record, "b")) {
            // Beyond the two features drawn, a slice through the model.
            let boundary = if w.len() > 2 {
                "boundary w·x + b = 0, other features at their means"
            } else {
                "boundary w·x + b = 0"
            };
            if let Some(l) = line(w, b, 0.0) {
                plot_ui.line(
                    Line::new(boundary, PlotPoints::from(l))
                        .color(theme::MODEL)
                        .width(2.5),
                );
                entry(boundary, theme::MODEL);
            }
            if record.and_then(|r| r.get_id("margins")).is_some() {
                for level in [-1.0, 1.0] {
                    if let Some(l) = line(w, b, level) {
                        plot_ui.line(
                            Line::new("margins w·x + b = ±1", PlotPoints::from(l))
                                .color(theme::MODEL)
                                .style(LineStyle::dashed_loose()),
                        );
                        entry("margins w·x + b = ±1", theme::MODEL);
                    }
                }
                // Of the rows drawn (on large data the record keeps no others).
                if let Some(v) = record.and_then(|r| r.get_id("violators")) {
                    let pts: Vec<[f64; 2]> = (0..n)
                        .step_by(s)
                        .filter(|&i| v.at_row(i, n).is_some_and(|v| v > 0.5))
                        .map(|i| [x[(i, j)], y_of(i)])
                        .collect();
                    // Thousands of rings would hide the classes' colours:
                    // a stable share of them stands for the rest.
                    let every = pts.len().div_ceil(RINGS_DRAWN).max(1);
                    let name = if every > 1 {
                        format!("margin violators (1 in {every} ringed)")
                    } else {
                        "margin violators".to_owned()
                    };
                    entry(&name, theme::WARNING);
                    cloud::rings(
                        plot_ui,
                        name,
                        pts.into_iter().step_by(every).collect(),
                        Lit::width(lit.margins, 5.0),
                        theme::WARNING,
                    );
                }
            }
        }
        if let (Some(w1), Some(b1)) = (matrix(record, "W1"), vector(record, "b1"))
            && w1.ncols() == d
        {
            // Each first-layer hidden unit switches where W1·x + b1 = 0.
            for (u, &bu) in b1.iter().enumerate() {
                let row: Vec<f64> = w1.row(u).iter().copied().collect();
                if let Some(l) = line(&row, bu, 0.0) {
                    plot_ui.line(
                        Line::new("hidden units: W⁽¹⁾x + b⁽¹⁾ = 0", PlotPoints::from(l))
                            .color(theme::REFERENCE)
                            .style(LineStyle::dashed_dense())
                            .width(Lit::width(lit.hidden, 1.0)),
                    );
                    entry("hidden units: W⁽¹⁾x + b⁽¹⁾ = 0", theme::REFERENCE);
                }
            }
        }
        // The row a perceptron step looked at, and whether it moved the line.
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        if let Some(i) = scalar(record, "sample")
            .map(|i| i as usize)
            .filter(|&i| i < n)
        {
            let (name, colour) = if scalar(record, "mistake").is_some_and(|m| m > 0.5) {
                ("row i: misclassified, so the line moved", theme::MODEL)
            } else {
                ("row i: classified right, the line stays", theme::REFERENCE)
            };
            entry(name, colour);
            cloud::rings(
                plot_ui,
                name,
                vec![[x[(i, j)], y_of(i)]],
                Lit::width(lit.sample, 9.0),
                colour,
            );
        }
        if let Some(c) = matrix(record, "centroids")
            && let Some(before) = before.filter(|b| b.len() == c.nrows() * d)
        {
            // Where each centroid was, and the way it moved: the rows'
            // colours are the clusters of the centroids before the step,
            // the cells those of the centroids after it.
            for (r, old) in before.chunks(d).enumerate() {
                let new: Vec<f64> = c.row(r).iter().copied().collect();
                plot_ui.line(
                    Line::new("centroid moves", PlotPoints::from(vec![at(old), at(&new)]))
                        .color(theme::REFERENCE)
                        .style(LineStyle::dotted_dense()),
                );
            }
            entry("centroid moves", theme::REFERENCE);
            entry("centroids before the step", theme::REFERENCE);
            plot_ui.points(
                Points::new(
                    "centroids before the step",
                    PlotPoints::from(before.chunks(d).map(at).collect::<Vec<_>>()),
                )
                .radius(7.0)
                .shape(MarkerShape::Diamond)
                .filled(false)
                .color(theme::REFERENCE),
            );
        }
        for id in ["centroids", "means"] {
            if let Some(c) = matrix(record, id).filter(|c| c.ncols() == d) {
                let pts: Vec<[f64; 2]> = c
                    .row_iter()
                    .map(|r| at(&r.iter().copied().collect::<Vec<_>>()))
                    .collect();
                entry(id, theme::MODEL);
                plot_ui.points(
                    Points::new(id, PlotPoints::from(pts))
                        .radius(Lit::width(lit.centroids || lit.ellipses, 8.0))
                        .shape(MarkerShape::Diamond)
                        .color(theme::MODEL),
                );
            }
        }
        if let (Some(means), Some(cov)) = (matrix(record, "means"), matrix(record, "covariances")) {
            for c in 0..means.nrows().min(cov.nrows()) {
                let block: Vec<f64> = cov.row(c).iter().copied().collect();
                let mean: Vec<f64> = means.row(c).iter().copied().collect();
                // On a strip, the ellipse is the ±2σ interval.
                let s = if strip.is_some() {
                    [[block[j * d + j], 0.0], [0.0, 0.0]]
                } else {
                    [
                        [block[j * d + j], block[j * d + k]],
                        [block[k * d + j], block[k * d + k]],
                    ]
                };
                // On a strip, each component's interval at a height of its
                // own (on one line they covered each other).
                let mut centre = at(&mean);
                if strip.is_some() {
                    centre[1] += 0.15 * (c as f64 - 0.5 * (means.nrows() - 1) as f64);
                }
                entry("2σ ellipses", theme::class(0));
                plot_ui.line(
                    Line::new("2σ ellipses", PlotPoints::from(ellipse(centre, s)))
                        .color(theme::class(c))
                        .width(Lit::width(lit.ellipses, 1.0)),
                );
            }
        }
        if let (Some(comps), Some(mean)) = (matrix(record, "components"), vector(record, "mean")) {
            let ratios = vector(record, "explained_variance_ratio").unwrap_or(&[]);
            let scale = (hi - lo).max(1e-9) * 0.5;
            // The components found so far and the one being iterated; the
            // later ones are still starting guesses.
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
            let upto = scalar(record, "component")
                .map_or(comps.nrows(), |c| c.max(0.0) as usize + 1)
                .min(comps.nrows());
            for r in 0..upto {
                let len = scale * ratios.get(r).copied().unwrap_or(1.0).sqrt();
                let u = comps[(r, j)];
                let v = if strip.is_some() { 0.0 } else { comps[(r, k)] };
                let [cx, cy] = at(mean);
                let pts = vec![[cx - u * len, cy - v * len], [cx + u * len, cy + v * len]];
                let colour = [theme::MODEL, theme::WARNING, theme::REFERENCE]
                    .get(r)
                    .copied()
                    .unwrap_or_else(|| theme::class(r));
                entry(&format!("component {r}"), colour);
                plot_ui.line(
                    Line::new(format!("component {r}"), PlotPoints::from(pts))
                        .color(colour)
                        .width(Lit::width(lit.axes, (3.0 - r as f32 * 0.8).max(1.0))),
                );
            }
        }
    });
    legend_row(ui, &entries);
}

/// Feature `j`'s name as an axis title, saying when its values are
/// standardized ones (z-scores) rather than the file's.
fn axis_name(data: &Dataset, j: usize, length: f32) -> String {
    let scaled = data.scaling().is_some();
    let note = if scaled { " (standardized)" } else { "" };
    let most = title_chars(length).saturating_sub(note.len()).max(8);
    let name = super::short(data.feature_names().get(j).map_or("", String::as_str), most);
    format!("{name}{note}")
}

/// How many characters of an axis title fit along `length` points (at
/// most [`AXIS_CHARS`]): a surface's y title taller than its plot ran over
/// the pickers above it.
fn title_chars(length: f32) -> usize {
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let fit = ((length - 60.0) / 7.0).max(0.0) as usize;
    fit.min(AXIS_CHARS)
}

/// A plot's legend as a row of coloured dots and names under it.
fn legend_row(ui: &mut egui::Ui, entries: &[(String, egui::Color32)]) {
    ui.horizontal_wrapped(|ui| {
        // A name longer than the row wraps within it (else it widened the
        // panel).
        let row = (ui.available_width() - 10.0 - ui.spacing().item_spacing.x).max(40.0);
        for (name, colour) in entries {
            // The dot and its name wrap together (a nested horizontal
            // layout did not wrap: it widened the panel instead).
            let text = egui::WidgetText::from(name.as_str()).into_galley(
                ui,
                Some(egui::TextWrapMode::Wrap),
                row,
                egui::TextStyle::Body,
            );
            let needed = 10.0 + ui.spacing().item_spacing.x + text.size().x;
            if ui.available_size_before_wrap().x < needed {
                ui.end_row();
            }
            let (rect, _) = ui.allocate_exact_size(egui::vec2(10.0, 10.0), egui::Sense::hover());
            ui.painter().circle_filled(rect.center(), 4.0, *colour);
            ui.label(text);
            ui.add_space(6.0);
        }
    });
}

/// The corner of the plot of `points` with the fewest of them under where
/// a legend would go, top right on a tie.
fn emptiest_corner<'a>(points: impl Iterator<Item = &'a [f64; 2]> + Clone) -> Corner {
    const CORNERS: [Corner; 4] = [
        Corner::RightTop,
        Corner::LeftTop,
        Corner::RightBottom,
        Corner::LeftBottom,
    ];
    let [(x0, x1), (y0, y1)] = points.clone().fold(
        [(f64::INFINITY, f64::NEG_INFINITY); 2],
        |[(x0, x1), (y0, y1)], &[x, y]| [(x0.min(x), x1.max(x)), (y0.min(y), y1.max(y))],
    );
    // A legend covers about 40% of the width and height of a plot.
    let (w, h) = (0.4 * (x1 - x0), 0.4 * (y1 - y0));
    let mut under = [0usize; 4];
    for &[x, y] in points {
        let (left, right, top, bottom) = (x < x0 + w, x > x1 - w, y > y1 - h, y < y0 + h);
        for (n, hit) in
            under
                .iter_mut()
                .zip([right && top, left && top, right && bottom, left && bottom])
        {
            *n += usize::from(hit);
        }
    }
    let fewest = (0..4).min_by_key(|&c| under[c]).unwrap_or(0);
    CORNERS[fewest]
}

/// `samples` points evenly spread in x along the polyline through
/// `points` (in increasing x).
fn along_line(points: &[[f64; 2]], samples: usize) -> Vec<[f64; 2]> {
    let (Some(first), Some(last)) = (points.first(), points.last()) else {
        return Vec::new();
    };
    let mut segment = 0;
    (0..samples)
        .map(|i| {
            #[allow(clippy::cast_precision_loss)]
            let x = first[0] + (last[0] - first[0]) * i as f64 / (samples.max(2) - 1) as f64;
            while segment + 2 < points.len() && points[segment + 1][0] < x {
                segment += 1;
            }
            let (a, b) = (points[segment], points[(segment + 1).min(points.len() - 1)]);
            let t = if b[0] > a[0] {
                ((x - a[0]) / (b[0] - a[0])).clamp(0.0, 1.0)
            } else {
                0.0
            };
            [x, a[1] + t * (b[1] - a[1])]
        })
        .collect()
}

/// A plot with compact tick labels ([`tick_label`]) on round values of
/// both axes ([`tidy_axis`]).
fn plot(id: &str) -> Plot<'static> {
    // Which lines are labelled is the grid's choice, not egui_plot's
    // fading by spacing.
    let plot = Plot::new(id)
        .custom_x_axes(vec![egui_plot::AxisHints::new_x().label_spacing(0.0..=1.0)])
        .custom_y_axes(vec![egui_plot::AxisHints::new_y().label_spacing(0.0..=1.0)]);
    tidy_axis(tidy_axis(plot, true, false), false, false)
}

/// The least distance in points between labelled grid lines, and on a
/// short y axis (where it left fewer than two labels).
const X_LABEL_GAP: f64 = 50.0;
const Y_LABEL_GAP: f64 = 36.0;
const X_LEAST_GAP: f64 = 24.0;
const Y_LEAST_GAP: f64 = 16.0;

/// How far in points a y label's line is kept from the plot's top and
/// bottom: about half a label's height, which would stick out of the frame.
const LABEL_EDGE: f64 = 7.0;

/// Grid lines on the x (or y) axis of `plot` at round values
/// ([`grid_marks`]), only the labelled step's lines labelled; on a `whole`
/// axis (steps) no line between whole numbers. egui_plot's powers of ten
/// left some axes a single readable label (a loss from 0.77 to 0.95
/// labelled only 0.8, a 200,000-row axis only 0).
fn tidy_axis(plot: Plot<'static>, x: bool, whole: bool) -> Plot<'static> {
    axis_of(plot, (x, whole, false))
}

/// [`tidy_axis`] on the `x` (or y) axis, or with `log`, a y axis of
/// log₁₀ values at round values of their powers ([`log_marks`],
/// [`power_label`]).
fn axis_of(plot: Plot<'static>, (x, whole, log): (bool, bool, bool)) -> Plot<'static> {
    // The spacer picks the labelled step each frame before the labels are
    // written (0: every line is labelled).
    let labelled = std::rc::Rc::new(std::cell::Cell::new((0.0, 0.0)));
    let picked = std::rc::Rc::clone(&labelled);
    let spacer = move |input: egui_plot::GridInput| {
        let (marks, major) = if log {
            log_marks(&input)
        } else {
            grid_marks(&input, x, whole)
        };
        picked.set((major, input.base_step_size.abs() / 8.0));
        marks
    };
    let label = move |mark: egui_plot::GridMark, range: &std::ops::RangeInclusive<f64>| {
        let (major, per_point) = labelled.get();
        let k = mark.value / major;
        if major > 0.0 && (k - k.round()).abs() > 1e-6 {
            return String::new();
        }
        let step_size = if major > 0.0 { major } else { mark.step_size };
        let mark = egui_plot::GridMark { step_size, ..mark };
        let text = if log {
            power_label(mark, range)
        } else {
            tick_label(mark, range)
        };
        // Not half out of the frame: half a label's height from a y axis's
        // ends, half its width from an x axis's (800 was cut to 80).
        #[allow(clippy::cast_precision_loss)]
        let half = if x {
            text.chars().count() as f64 * 3.5 + 2.0
        } else {
            LABEL_EDGE
        };
        let edge = half * per_point;
        if mark.value >= range.start() + edge && mark.value <= range.end() - edge {
            text
        } else {
            String::new()
        }
    };
    if x {
        plot.x_grid_spacer(spacer).x_axis_formatter(label)
    } else {
        plot.y_grid_spacer(spacer).y_axis_formatter(label)
    }
}

/// Grid lines at multiples of 1, 2 or 5 × 10ᵏ, and that step (the
/// labelled one): the smallest at least [`X_LABEL_GAP`] (on `x`, and as
/// wide as its labels) or [`Y_LABEL_GAP`] points long, with unlabelled
/// lines a fifth (a quarter for 2 × 10ᵏ) of it apart between them; on a
/// `whole` axis, whole numbers only.
fn grid_marks(
    input: &egui_plot::GridInput,
    x: bool,
    whole: bool,
) -> (Vec<egui_plot::GridMark>, f64) {
    // The input's step is what egui_plot's 8-point minimum spans.
    let per_point = input.base_step_size.abs() / 8.0;
    let (lo, hi) = input.bounds;
    let gap = if x { X_LABEL_GAP } else { Y_LABEL_GAP };
    if !(per_point.is_normal() && lo.is_finite() && hi.is_finite()) {
        return (Vec::new(), 0.0);
    }
    // Labels about 7 points a character, with a margin.
    let fits = |step: f64, gap: f64| {
        let wide = |v: f64| {
            let mark = egui_plot::GridMark {
                value: v * step,
                step_size: step,
            };
            tick_label(mark, &(lo..=hi)).chars().count()
        };
        let chars = wide((lo / step).ceil()).max(wide((hi / step).floor()));
        #[allow(clippy::cast_precision_loss)]
        let width = if x { chars as f64 * 7.0 + 12.0 } else { 0.0 };
        step / per_point >= gap.max(width)
    };
    // The smallest step of 1, 2 or 5 × 10ᵏ that fits `gap`.
    let smallest = |gap: f64| {
        let mut power = 10f64.powf((per_point * gap).log10().floor());
        loop {
            if let Some(found) = [(1.0, 5.0), (2.0, 4.0), (5.0, 5.0)]
                .into_iter()
                .map(|(m, parts)| (m * power, parts))
                .find(|&(step, _)| fits(step, gap))
            {
                return Some(found);
            }
            power *= 10.0;
            if !power.is_finite() {
                return None;
            }
        }
    };
    // Labels clear of the ends by half their height, as [`axis_of`] writes
    // them.
    let labels = |step: f64| {
        let edge = if x { 0.0 } else { LABEL_EDGE * per_point };
        ((hi - edge) / step).floor() - ((lo + edge) / step).ceil() + 1.0
    };
    let Some(mut found) = smallest(gap) else {
        return (Vec::new(), 0.0);
    };
    // A short axis with one label or none: closer labels.
    if labels(found.0) < 2.0
        && let Some(closer) = smallest(if x { X_LEAST_GAP } else { Y_LEAST_GAP })
    {
        found = closer;
    }
    let (major, mut parts) = found;
    let major = if whole { major.max(1.0) } else { major };
    if whole && major / parts < 1.0 {
        parts = major;
    }
    let minor = major / parts;
    let (first, last) = ((lo / minor).ceil(), (hi / minor).floor());
    if !(last - first).is_finite() || last - first > 2000.0 {
        return (Vec::new(), 0.0);
    }
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let count = (last - first + 1.0).max(0.0) as usize;
    let marks = (0..count)
        .map(|i| {
            #[allow(clippy::cast_precision_loss)]
            let k = first + i as f64;
            egui_plot::GridMark {
                value: k * minor,
                step_size: if k % parts == 0.0 { major } else { minor },
            }
        })
        .collect();
    (marks, major)
}

/// A tick's label as egui_plot writes it (as many decimals as the tick
/// spacing needs), in e-notation from a million up and below 10⁻⁴: a
/// diverged run's ticks near 1e136 were too wide to be drawn at all.
fn tick_label(mark: egui_plot::GridMark, range: &std::ops::RangeInclusive<f64>) -> String {
    let (v, step) = (mark.value, mark.step_size.abs());
    // One form for the whole axis, by its largest value (1.5e6 beside
    // 500000 read as two scales).
    let largest = [*range.start(), *range.end(), v]
        .into_iter()
        .filter(|e| e.is_finite())
        .fold(0.0f64, |m, e| m.max(e.abs()));
    if v != 0.0 && !(1e-4..1e6).contains(&largest) && step > 0.0 {
        // Enough significant digits to tell neighbouring ticks apart.
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let digits = (largest.log10().floor() - step.log10().floor()).clamp(0.0, 6.0) as usize;
        format!("{v:.digits$e}")
    } else {
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let decimals = (-step.log10() - 1e-9).ceil().clamp(0.0, 20.0) as usize;
        egui::emath::format_with_decimals_in_range(v, decimals..=decimals)
    }
}

/// Grid lines on an axis of log₁₀ values at the logarithms of round
/// values: powers of ten, or 1, 2 and 5 × 10ᵏ, or 1 to 9 × 10ᵏ, the
/// sparsest of these with three lines or more in view (lines at least
/// [`Y_LEAST_GAP`] apart), all labelled (the step returned is 0); where
/// none has two, [`grid_marks`]' lines on the logarithms (0.2, 0.251,
/// 0.316 on a loss from 0.2 to 0.35).
fn log_marks(input: &egui_plot::GridInput) -> (Vec<egui_plot::GridMark>, f64) {
    const SETS: [&[f64]; 3] = [
        &[1.0],
        &[1.0, 2.0, 5.0],
        &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0],
    ];
    let per_point = input.base_step_size.abs() / 8.0;
    let (lo, hi) = input.bounds;
    if !(per_point.is_normal() && lo.is_finite() && hi.is_finite() && hi - lo < 400.0) {
        return grid_marks(input, false, false);
    }
    #[allow(clippy::cast_possible_truncation)]
    let decades = (lo.floor() as i32)..=(hi.ceil() as i32);
    let at = |set: &[f64]| -> Vec<f64> {
        decades
            .clone()
            .flat_map(|k| set.iter().map(move |m| m.log10() + f64::from(k)))
            .filter(|v| (lo..=hi).contains(v))
            .collect()
    };
    let mut best: Vec<f64> = Vec::new();
    for set in SETS {
        let values = at(set);
        if values
            .windows(2)
            .any(|w| (w[1] - w[0]) / per_point < Y_LEAST_GAP)
        {
            break;
        }
        best = values;
        if best.len() >= 3 {
            break;
        }
    }
    if best.len() < 2 {
        return grid_marks(input, false, false);
    }
    let marks = best
        .into_iter()
        .map(|value| egui_plot::GridMark {
            value,
            step_size: if value.fract() == 0.0 { 1.0 } else { 0.3 },
        })
        .collect();
    (marks, 0.0)
}

/// The label of a tick at `mark.value` = log₁₀ of the loss: the loss,
/// 10^v, with three significant digits (e-notation from a million up and
/// below 10⁻⁴).
fn power_label(mark: egui_plot::GridMark, range: &std::ops::RangeInclusive<f64>) -> String {
    let loss = 10f64.powf(mark.value);
    // One form for the whole axis, by its largest loss (as [`tick_label`]).
    let largest = 10f64.powf(range.end().max(mark.value));
    if !(1e-4..1e6).contains(&loss) || largest >= 1e6 {
        let text = format!("{loss:.2e}");
        let (mantissa, exponent) = text.split_once('e').unwrap_or((&text, "0"));
        let mantissa = mantissa.trim_end_matches('0').trim_end_matches('.');
        return format!("{mantissa}e{exponent}");
    }
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let decimals = (2.0 - loss.log10().floor()).max(0.0) as usize;
    let text = format!("{loss:.decimals$}");
    if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        text
    }
}

/// A strip's y ticks: its classes' names at their lanes, nothing between
/// (and nothing where the rows have no classes: the height means nothing).
fn strip_tick_label(
    data: &Dataset,
) -> impl Fn(egui_plot::GridMark, &std::ops::RangeInclusive<f64>) -> String + 'static {
    let names: Vec<String> = data
        .target()
        .map(|t| t.classes.iter().map(ToString::to_string).collect())
        .unwrap_or_default();
    move |mark, _| {
        let lane = mark.value.round();
        if (mark.value - lane).abs() > 1e-9 || lane < 0.0 {
            return String::new();
        }
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        names.get(lane as usize).cloned().unwrap_or_default()
    }
}

/// Below this height in points the loss plot names its lines above it
/// instead of in a legend over it.
const SHORT_LOSS: f32 = 200.0;

/// What a plot takes beside its legend's widest name: the legend's marker
/// and margins, and the y axis's tick labels.
const LEGEND_MARGIN: f32 = 80.0;

/// The most groups the data plot's legend names one by one.
const LEGEND_GROUPS: usize = 12;

/// Points of the 2σ ellipse of a 2 × 2 covariance around `centre`.
fn ellipse(centre: [f64; 2], s: [[f64; 2]; 2]) -> Vec<[f64; 2]> {
    let (a, b, c) = (s[0][0], s[0][1], s[1][1]);
    let mid = 0.5 * (a + c);
    let rad = (0.25 * (a - c) * (a - c) + b * b).sqrt();
    let (l1, l2) = ((mid + rad).max(0.0), (mid - rad).max(0.0));
    let angle = 0.5 * (2.0 * b).atan2(a - c);
    (0..=64)
        .map(|i| {
            let t = f64::from(i) / 64.0 * std::f64::consts::TAU;
            let (x, y) = (2.0 * l1.sqrt() * t.cos(), 2.0 * l2.sqrt() * t.sin());
            [
                centre[0] + x * angle.cos() - y * angle.sin(),
                centre[1] + x * angle.sin() + y * angle.cos(),
            ]
        })
        .collect()
}

/// `text`'s width on one line in the body font.
fn text_width(ui: &egui::Ui, text: &str) -> f32 {
    egui::WidgetText::from(text)
        .into_galley(
            ui,
            Some(egui::TextWrapMode::Extend),
            f32::INFINITY,
            egui::TextStyle::Body,
        )
        .size()
        .x
}

/// The loss plot's axes: steps in whole numbers, at least 0 to 1 (at step
/// 0 the single point spanned ±20,000); on a `log` axis the losses, not
/// their logarithms, written at round losses.
fn loss_axes(loss: Plot<'static>, log: bool) -> Plot<'static> {
    let loss = if log {
        axis_of(loss, (false, false, true))
    } else {
        loss
    };
    tidy_axis(loss, true, true)
        .include_x(0.0)
        .include_x(1.0)
        .x_axis_label("step")
        .y_axis_label(if log { "loss (log scale)" } else { "loss" })
}

fn loss_plot(
    ui: &mut egui::Ui,
    session: &Session,
    reference: Option<f64>,
    shown: usize,
    log: bool,
    lit: bool,
) {
    const LOSS: &str = "loss J";
    const OPTIMUM: &str = "optimum (closed form)";
    const SHOWN: &str = "shown step";
    let history = session.history();
    let s = stride(history.len());
    let value = |v: f64| if log { v.max(1e-300).log10() } else { v };
    let points: Vec<[f64; 2]> = history
        .iter()
        .step_by(s)
        .filter(|h| h.loss.is_finite())
        .map(|h| [h.step as f64, value(h.loss)])
        .collect();
    // A plot narrower than its legend names its lines above it, in their
    // colours: the legend spilled over the panel beside it.
    // The lines drawn, in the legend's order.
    let drawn: Vec<&str> = [LOSS, OPTIMUM, SHOWN]
        .into_iter()
        .filter(|&n| n != OPTIMUM || reference.is_some())
        .collect();
    let widest = drawn.iter().map(|n| text_width(ui, n)).fold(0.0, f32::max);
    // (A legend over a short plot hid most of its line.)
    let narrow =
        ui.available_width() < widest + LEGEND_MARGIN || ui.available_height() < SHORT_LOSS;
    if narrow {
        ui.horizontal_wrapped(|ui| {
            ui.colored_label(theme::MODEL, format!("— {LOSS}"));
            if reference.is_some() {
                ui.colored_label(theme::REFERENCE, format!("— {OPTIMUM}"));
            }
            ui.colored_label(theme::REFERENCE, format!("| {SHOWN}"));
        });
    }
    // The shown step's loss as a dot: at step 0 the line has one point,
    // which draws nothing.
    let at_shown = history
        .get(shown)
        .filter(|h| h.step == shown)
        .map(|h| value(h.loss))
        .filter(|v| v.is_finite());
    let loss = plot("loss");
    let mut bottom = false;
    let loss = if narrow {
        loss
    } else {
        // The optimum's line bounds the plot too (a point mid-way, under
        // no corner, stands for it).
        let level: Vec<[f64; 2]> = reference
            .iter()
            .filter_map(|&r| {
                let (a, b) = points.first().zip(points.last())?;
                Some([0.5 * (a[0] + b[0]), value(r)])
            })
            .collect();
        // The line between the points too (a diverging run's few points
        // left its steep line under the legend).
        let along = along_line(&points, 64);
        let corner = emptiest_corner(points.iter().chain(&along).chain(&level));
        bottom = matches!(corner, Corner::LeftBottom | Corner::RightBottom);
        loss.legend(
            Legend::default()
                .position(corner)
                .follow_insertion_order(true),
        )
    };
    loss_axes(loss, log).show(ui, |plot_ui| {
        if bottom {
            // A bottom corner's legend stacks upwards: its entries are
            // named, without points, in the reverse order first.
            for &name in drawn.iter().rev() {
                let colour = if name == LOSS {
                    theme::MODEL
                } else {
                    theme::REFERENCE
                };
                // (`add`: `line` drops a line without points.)
                plot_ui.add(Line::new(name, PlotPoints::default()).color(colour));
            }
        }
        plot_ui.line(
            Line::new(LOSS, PlotPoints::from(points))
                .color(theme::MODEL)
                .width(Lit::width(lit, 1.5)),
        );
        if let Some(r) = reference {
            plot_ui.hline(HLine::new(OPTIMUM, value(r)).color(theme::REFERENCE));
        }
        plot_ui.vline(VLine::new(SHOWN, shown as f64).color(theme::REFERENCE));
        if let Some(v) = at_shown {
            plot_ui.points(
                Points::new(SHOWN, PlotPoints::from(vec![[shown as f64, v]]))
                    .radius(3.5)
                    .color(theme::MODEL),
            );
        }
    });
}

#[cfg(test)]
mod tests {
    use super::{
        LABEL_EDGE, LossFacts, Pending, RegionsJob, Strip, X_LABEL_GAP, Y_LABEL_GAP, Y_LEAST_GAP,
        along_line, band_around, clip_line, colours, emptiest_corner, grid_marks, log_marks,
        param_label, power_label, round3, row_term, row_terms, surface_span, tick_label,
        trajectory, value_ranges,
    };
    use crate::algorithms::{Hyper, REGISTRY};
    use crate::data::Dataset;
    use crate::session::Session;

    /// Four rows, two features, two classes.
    fn two_classes() -> Dataset {
        Dataset::from_columns(
            &["a", "b"],
            &[vec![0.0, 1.0, 2.0, 3.0], vec![1.0, 0.0, 1.0, 0.0]],
            Some(("y", vec![0.0, 0.0, 1.0, 1.0])),
        )
        .unwrap()
    }

    #[test]
    fn a_regression_plot_shows_its_data_and_twice_their_span_around() {
        assert_eq!(
            band_around(&[[0.0, 0.0], [1.0, 10.0], [2.0, 4.0]]),
            (-20.0, 30.0)
        );
        // One height: still a band, not a point.
        let (lo, hi) = band_around(&[[0.0, 5.0]]);
        assert!(lo < 5.0 && hi > 5.0);
    }

    #[test]
    fn the_legend_goes_to_the_corner_with_the_fewest_points() {
        use egui_plot::Corner;
        // The plot spans (0, 0) to (10, 10), with these under no corner.
        let corner = |pts: &[[f64; 2]]| {
            let span = [[0.0, 5.0], [10.0, 5.0], [5.0, 0.0], [5.0, 10.0]];
            emptiest_corner(pts.iter().chain(&span))
        };
        assert!(matches!(corner(&[]), Corner::RightTop));
        assert!(matches!(corner(&[[9.0, 9.0]]), Corner::LeftTop));
        assert!(matches!(
            corner(&[[9.0, 9.0], [1.0, 9.0], [9.0, 1.0]]),
            Corner::LeftBottom
        ));
        assert!(matches!(corner(&[[5.0, 5.0]; 3]), Corner::RightTop));
        assert!(matches!(emptiest_corner([].iter()), Corner::RightTop));
    }

    #[test]
    fn one_feature_rows_spread_within_their_class_lanes() {
        assert!(
            Strip::of(&two_classes()).is_none(),
            "two features need no strip"
        );
        let labels = [2.0, 0.0, 1.0, 2.0, 1.0, 0.0];
        let one =
            Dataset::from_columns(&["a"], &[vec![1.0; 6]], Some(("y", labels.to_vec()))).unwrap();
        let strip = Strip::of(&one).unwrap();
        assert_eq!(strip.range(), (-0.5, 2.5));
        assert!((strip.middle() - 1.0).abs() < 1e-12);
        let heights: Vec<f64> = (0..6).map(|i| strip.y(i)).collect();
        for (y, label) in heights.iter().zip(labels) {
            assert!(
                (y - label).abs() <= 0.35,
                "{y} in the lane of class {label}"
            );
        }
        // Equal values are spread apart, the same way every frame.
        assert!((heights[0] - heights[3]).abs() > 1e-3);
        assert_eq!(heights[0].to_bits(), strip.y(0).to_bits());
        let unlabelled = Dataset::from_columns(&["a"], &[vec![1.0; 3]], None).unwrap();
        let strip = Strip::of(&unlabelled).unwrap();
        assert_eq!(strip.range(), (-0.5, 0.5));
        assert!((0..3).all(|i| strip.y(i).abs() <= 0.35));
    }

    #[test]
    fn the_surface_spans_the_closed_form_optimum_from_the_first_step() {
        // y = 10a − 4b + 30, exactly: the optimum is far from the start at 0.
        let (a, b) = (vec![0.0, 1.0, 2.0, 3.0], vec![1.0, 0.0, 1.0, 0.0]);
        let y = a
            .iter()
            .zip(&b)
            .map(|(a, b)| 10.0 * a - 4.0 * b + 30.0)
            .collect();
        let data = Dataset::from_columns(&["a", "b"], &[a, b], Some(("y", y))).unwrap();
        let create = crate::algorithms::entry("linear-regression")
            .unwrap()
            .create;
        let session = Session::new(create(&Hyper::default()).unwrap(), &data).unwrap();
        let optimum = LossFacts::of(&data, &session).optimum.unwrap();
        assert!((optimum[0] - 10.0).abs() < 1e-9 && (optimum[1] + 4.0).abs() < 1e-9);
        let start = session.history()[0].params.clone();
        let inside = |[p, q]: [(f64, f64); 2]| {
            (p.0..=p.1).contains(&optimum[0]) && (q.0..=q.1).contains(&optimum[1])
        };
        assert!(inside(surface_span(
            &session,
            &start,
            Some(&optimum),
            (0, 1)
        )));
        assert!(!inside(surface_span(&session, &start, None, (0, 1))));
    }

    #[test]
    fn the_trajectory_reads_the_steps_that_kept_their_parameters() {
        let data = two_classes();
        let hyper = Hyper {
            hidden: vec![16, 16],
            ..Hyper::default()
        };
        let mut s = Session::new(
            (crate::algorithms::entry("mlp").unwrap().create)(&hyper).unwrap(),
            &data,
        )
        .unwrap();
        for _ in 0..50 {
            s.step(&data);
        }
        // Every step, while nothing is thinned.
        let all: Vec<&[f64]> = s.history().iter().map(|h| h.params.as_slice()).collect();
        assert_eq!(trajectory(&s, 50).collect::<Vec<_>>(), all);
        assert_eq!(trajectory(&s, 20).count(), 21);
        // Thinned: the multiples of the stride, no step without parameters.
        s.keep_within(1 << 16);
        for _ in 0..1000 {
            s.step(&data);
        }
        let stride = s.stride();
        assert!(stride > 1);
        let kept: Vec<&[f64]> = (0..=1000)
            .step_by(stride)
            .map(|i| s.params_at(i).unwrap())
            .collect();
        assert_eq!(trajectory(&s, 1000).collect::<Vec<_>>(), kept);
    }

    #[test]
    fn a_map_made_on_another_thread_is_the_map_made_in_the_frame() {
        let data = two_classes();
        let entry = crate::algorithms::entry("logistic-regression").unwrap();
        let mut session = Session::new((entry.create)(&Hyper::default()).unwrap(), &data).unwrap();
        session.step(&data);
        let params = session.algorithm().params();
        let job = RegionsJob {
            algorithm: session.algorithm(),
            params: &params,
            means: &[1.5, 0.5],
            ranges: [(0.0, 3.0), (0.0, 1.0)],
            axes: [0, 1],
            key: (1, 0, 1, entry.id.to_string()),
        };
        let here = job.run().unwrap();
        let mut pending = Pending::default();
        assert!(!pending.busy());
        assert!(pending.start(job.owned()));
        assert!(pending.busy());
        let there = loop {
            if let Some(map) = pending.take_done() {
                break map;
            }
            std::thread::sleep(std::time::Duration::from_millis(1));
        };
        assert!(!pending.busy());
        // Both classes appear on the map: the boundary crosses it.
        assert!(here.classes.contains(&0) && here.classes.contains(&1));
        assert_eq!((there.key, there.classes), (here.key, here.classes));
    }

    #[test]
    fn huge_ticks_read_in_e_notation_and_ordinary_ones_as_before() {
        let tick = |value: f64, step_size: f64, range: (f64, f64)| {
            tick_label(
                egui_plot::GridMark { value, step_size },
                &(range.0..=range.1),
            )
        };
        assert_eq!(tick(2.0e136, 1.0e136, (0.0, 3e136)), "2e136");
        assert_eq!(tick(1.25e136, 5.0e134, (1e136, 1.3e136)), "1.25e136");
        assert_eq!(tick(-3.0e6, 1.0e6, (-4e6, 0.0)), "-3e6");
        assert_eq!(tick(2e-5, 1e-5, (0.0, 3e-5)), "2e-5");
        assert_eq!(tick(0.0, 1e136, (-1e136, 1e136)), "0");
        assert_eq!(tick(0.3, 0.1, (0.0, 1.0)), "0.3");
        assert_eq!(tick(400.0, 100.0, (0.0, 1000.0)), "400");
        // Steps of 2 and 5 × 10ᵏ take the decimals they need.
        assert_eq!(tick(0.85, 0.05, (0.77, 0.95)), "0.85");
        assert_eq!(tick(0.4, 0.2, (0.0, 1.0)), "0.4");
        assert_eq!(tick(150_000.0, 50_000.0, (0.0, 200_000.0)), "150000");
        // One form for the whole axis: 500000 beside 1.5e6 is 5.0e5.
        assert_eq!(tick(500_000.0, 500_000.0, (0.0, 2e6)), "5.0e5");
        assert_eq!(tick(1_500_000.0, 500_000.0, (0.0, 2e6)), "1.5e6");
        assert_eq!(tick(5e6, 5e6, (-1e6, 2.1e7)), "5.0e6");
        assert_eq!(tick(2e7, 5e6, (-1e6, 2.1e7)), "2.0e7");
    }

    #[test]
    #[allow(clippy::float_cmp)] // Exact binary fractions.
    fn points_along_a_line_follow_its_segments() {
        let pts = [[0.0, 0.0], [1.0, 10.0], [3.0, 10.0]];
        let along = along_line(&pts, 7);
        assert_eq!(along.len(), 7);
        assert_eq!(along[0], [0.0, 0.0]);
        assert_eq!(along[1], [0.5, 5.0]);
        assert_eq!(along[4], [2.0, 10.0]);
        assert_eq!(along[6], [3.0, 10.0]);
        assert!(along_line(&[], 5).is_empty());
        assert_eq!(along_line(&[[2.0, 1.0]], 3), vec![[2.0, 1.0]; 3]);
        // A steep rise from few points: its line fills the top left, so
        // the legend goes to the bottom right.
        let rise = [[0.0, 0.0], [1.0, 100.0], [2.0, 100.0], [10.0, 100.0]];
        let along = along_line(&rise, 64);
        assert!(matches!(
            emptiest_corner(rise.iter().chain(&along)),
            egui_plot::Corner::RightBottom
        ));
    }

    #[test]
    fn a_log_axis_is_labelled_with_the_losses() {
        let label = |v: f64| {
            power_label(
                egui_plot::GridMark {
                    value: v,
                    step_size: 1.0,
                },
                &(0.0..=1.0),
            )
        };
        assert_eq!(label(2.0), "100");
        assert_eq!(label(0.0), "1");
        assert_eq!(label(-2.0), "0.01");
        assert_eq!(label(7.0), "1e7");
        assert_eq!(label(-9.0), "1e-9");
        assert_eq!(label(0.5), "3.16");
        assert_eq!(label(4.5), "31623");
        assert_eq!(label(-0.7), "0.2");
        assert_eq!(label(2f64.log10() + 7.0), "2e7");
        // Beside 1e6 and up, 500000 is 5e5.
        let beside = power_label(
            egui_plot::GridMark {
                value: 5f64.log10() + 5.0,
                step_size: 1.0,
            },
            &(5.0..=7.5),
        );
        assert_eq!(beside, "5e5");
        // Lines at round losses: powers of ten over decades, else 1, 2 and
        // 5 × 10ᵏ, else the logarithms' own grid.
        let marks = |lo: f64, hi: f64, points: f64| {
            let input = egui_plot::GridInput {
                bounds: (lo.log10(), hi.log10()),
                base_step_size: (hi.log10() - lo.log10()) / points * 8.0,
            };
            let (marks, major) = log_marks(&input);
            let losses: Vec<String> = marks
                .iter()
                .filter(|m| {
                    let k = m.value / major;
                    major == 0.0 || (k - k.round()).abs() < 1e-6
                })
                .map(|&m| power_label(m, &(0.0..=1.0)))
                .collect();
            losses
        };
        assert_eq!(marks(0.5, 2000.0, 300.0), ["1", "10", "100", "1000"]);
        assert_eq!(marks(0.15, 0.9, 200.0), ["0.2", "0.5"]);
        assert_eq!(
            marks(1.5, 9.5, 300.0),
            ["2", "3", "4", "5", "6", "7", "8", "9"]
        );
        assert!(marks(0.2, 0.35, 200.0).len() >= 2);
    }

    #[test]
    fn parameters_are_named_as_the_derivation_writes_them() {
        assert_eq!(param_label("W1[0,12]"), "W⁽¹⁾[0,12]");
        assert_eq!(param_label("b2[3]"), "b⁽²⁾[3]");
        assert_eq!(param_label("mu10[x]"), "μ₁₀[x]");
        assert_eq!(param_label("pi1"), "π₁");
        assert_eq!(param_label("sigma0[a,b]"), "Σ₀[a,b]");
        // Linear models' and softmax's names are the derivation's already.
        for plain in ["w[area]", "b", "W[setosa][x]", "b[setosa]", "bill"] {
            assert_eq!(param_label(plain), plain);
        }
    }

    #[test]
    #[allow(clippy::float_cmp)] // The labelled lines carry the step itself.
    fn grid_lines_label_a_few_round_values_in_any_range() {
        // A 300-point axis: egui_plot's input step is 8 points' worth.
        let marks = |lo: f64, hi: f64, x: bool, whole: bool| {
            let input = egui_plot::GridInput {
                bounds: (lo, hi),
                base_step_size: (hi - lo) / 300.0 * 8.0,
            };
            let (marks, major) = grid_marks(&input, x, whole);
            let labelled: Vec<f64> = marks
                .iter()
                .filter(|m| m.step_size == major)
                .map(|m| m.value)
                .collect();
            (marks, major, labelled)
        };
        let ranges = [
            (0.77, 0.95),
            (0.0, 200_000.0),
            (-3.2, 2.9),
            (1e-9, 3e-9),
            (5e33, 9e33),
        ];
        for (lo, hi) in ranges {
            for (x, gap) in [(true, X_LABEL_GAP), (false, Y_LABEL_GAP)] {
                let (all, major, labelled) = marks(lo, hi, x, false);
                let points = major / (hi - lo) * 300.0;
                assert!(points >= gap * 0.999, "{lo}..{hi}: {major}");
                assert!(labelled.len() >= 3, "{lo}..{hi}: {labelled:?}");
                // Labelled lines at whole multiples of a 1-2-5 step, wide
                // enough apart for their labels.
                let mantissa = major / 10f64.powf(major.log10().floor());
                assert!(
                    [1.0, 2.0, 5.0].iter().any(|m| (m - mantissa).abs() < 1e-9),
                    "{major}"
                );
                for v in &labelled {
                    assert!(
                        ((v / major).round() - v / major).abs() < 1e-6,
                        "{v} / {major}"
                    );
                    let label = tick_label(
                        egui_plot::GridMark {
                            value: *v,
                            step_size: major,
                        },
                        &(lo..=hi),
                    );
                    #[allow(clippy::cast_precision_loss)]
                    let chars = label.chars().count() as f64;
                    assert!(!x || points >= chars * 7.0, "{label} in {points}");
                }
                // Unlabelled lines in between, evenly, inside the range.
                assert!(all.len() > labelled.len());
                let slack = 1e-9 * (hi - lo);
                assert!(
                    all.iter()
                        .all(|m| m.value >= lo - slack && m.value <= hi + slack)
                );
                let gaps: Vec<f64> = all.windows(2).map(|w| w[1].value - w[0].value).collect();
                assert!(gaps.iter().all(|g| (g - gaps[0]).abs() <= 1e-6 * gaps[0]));
            }
        }
        // Steps: whole numbers only, however few.
        for hi in [2.0, 7.0, 40.0, 1e5] {
            let (all, _, _) = marks(-0.1, hi + 0.1, true, true);
            assert!(
                all.iter()
                    .all(|m| m.value.fract() == 0.0 && m.step_size >= 1.0)
            );
            assert!(all.iter().any(|m| m.value == 0.0), "{hi}");
        }
        // A short y axis (80 points from 1.70 to 1.79) keeps two labels
        // clear of its ends.
        let (lo, hi) = (1.70, 1.79);
        let per_point = (hi - lo) / 80.0;
        let input = egui_plot::GridInput {
            bounds: (lo, hi),
            base_step_size: per_point * 8.0,
        };
        let (all, major) = grid_marks(&input, false, false);
        let edge = LABEL_EDGE * per_point;
        let clear = all
            .iter()
            .filter(|m| m.step_size == major && m.value >= lo + edge && m.value <= hi - edge)
            .count();
        assert!(clear >= 2, "{major}: {all:?}");
        assert!(major / per_point >= Y_LEAST_GAP);
        assert!(marks(0.0, 0.0, false, false).0.is_empty());
        assert!(marks(0.0, f64::INFINITY, false, false).0.is_empty());
    }

    #[test]
    fn row_terms_sum_to_the_records_loss_and_gradient() {
        let a = vec![1.0, 2.0, 4.0, 7.0];
        let b = vec![0.5, -1.0, 2.0, 0.0];
        let y = vec![3.0, 1.0, 6.0, 9.0];
        let data = Dataset::from_columns(&["a", "b"], &[a, b], Some(("y", y))).unwrap();
        let entry = REGISTRY
            .iter()
            .find(|e| e.id == "linear-regression")
            .unwrap();
        let mut session = Session::new((entry.create)(&Hyper::default()).unwrap(), &data).unwrap();
        session.step(&data);
        let record = session.latest();
        let r = record.get_id("residual").unwrap().as_slice();
        let (mut loss, mut gw, mut gb) = (0.0, [0.0; 2], 0.0);
        for (i, &ri) in r.iter().enumerate() {
            let (l, w, b) = row_terms(&data, i, ri);
            loss += l;
            gw[0] += w[0];
            gw[1] += w[1];
            gb += b;
        }
        let close = |u: f64, v: f64| (u - v).abs() < 1e-12 * (1.0 + v.abs());
        assert!(close(loss, record.loss));
        let grad_w = record.get_id("grad_w").unwrap().as_slice();
        assert!(close(gw[0], grad_w[0]) && close(gw[1], grad_w[1]));
        assert!(close(
            gb,
            record.get_id("grad_b").unwrap().as_scalar().unwrap()
        ));
        let text = row_term(&data, 2, 6.0, None, r[2]);
        assert!(text.starts_with("row 2 (line 4)"), "{text}");
        assert!(text.contains(&crate::export::format_number(r[2] * 4.0 / 4.0)));
    }

    #[test]
    fn a_numeric_target_is_coloured_by_ranges_and_few_classes_by_class() {
        let (ids, bounds) = value_ranges(&[10.0, 12.0, 40.0, 70.0], 6, 0..4);
        assert_eq!(ids, [0, 0, 3, 5]);
        assert_eq!(bounds.len(), 6);
        assert_eq!((bounds[0].0, bounds[5].1), (10.0, 70.0));
        assert_eq!(value_ranges(&[3.0, 3.0], 6, 0..2).0, [0, 0]);

        let x: Vec<f64> = (0..12).map(f64::from).collect();
        let price: Vec<f64> = x.iter().map(|v| 100.0 + 12.0 * v).collect();
        let data = Dataset::from_columns(&["x"], std::slice::from_ref(&x), Some(("price", price)))
            .unwrap();
        let g = colours(&data, None, 0..12);
        assert!(g.ranges && g.labels.len() == 6, "{:?}", g.labels);
        assert_eq!(g.labels[0], "price 100 to 122");
        assert_eq!(round3(128.333_333), "128");
        assert_eq!(round3(66.7), "66.7");
        assert_eq!(round3(0.012_345), "0.0123");
        assert_eq!(round3(-4500.0), "-4500");
        assert_eq!((g.ids[0], g.ids[11]), (0, 5));
        // Ten integer classes stay classes.
        let digits: Vec<f64> = x.iter().map(|v| v % 10.0).collect();
        let data = Dataset::from_columns(&["x"], &[x], Some(("digit", digits))).unwrap();
        let g = colours(&data, None, 0..12);
        assert!(!g.ranges && g.labels.len() == 10, "{:?}", g.labels);
    }

    #[test]
    fn lines_are_clipped_to_the_data_box() {
        let unit = [(-1.0, 1.0), (-1.0, 1.0)];
        let l = clip_line([1.0, 1.0], 0.0, unit).unwrap();
        assert!(
            l.contains(&[-1.0, 1.0]) && l.contains(&[1.0, -1.0]),
            "{l:?}"
        );
        // Vertical and horizontal lines, which a slope form cannot draw.
        assert_eq!(
            clip_line([1.0, 0.0], 0.5, unit).unwrap(),
            [[0.5, -1.0], [0.5, 1.0]]
        );
        assert_eq!(
            clip_line([0.0, 2.0], 1.0, unit).unwrap(),
            [[-1.0, 0.5], [1.0, 0.5]]
        );
        // A steep line stays inside the box instead of stretching the plot.
        let steep = clip_line([100.0, 1.0], 0.0, unit).unwrap();
        assert!(steep.iter().all(|p| p[1].abs() <= 1.0 && p[0].abs() <= 1.0));
        assert!(clip_line([1.0, 1.0], 5.0, unit).is_none());
        assert!(clip_line([0.0, 0.0], 1.0, unit).is_none());
    }
}
