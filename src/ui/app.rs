//! The app: the table, the dataset, the session and the panels' choices.
//! Panels only push [`Command`]s while drawing; [`App::apply`] carries them
//! out once per frame. Loading runs on a named background thread.

use super::{background, data_panel, model_panel, plots};
use crate::algorithms::conditioning::Curvature;
use crate::algorithms::{self, Hyper, StepRecord};
use crate::data::table::ColumnSummary;
use crate::data::{
    Dataset, MissingPolicy, Progress, Selection, Table, parse_table, read_table_with,
};
use crate::export::{self, Format};
use crate::math::plain::plain_text;
use crate::session::{CHECKPOINT_EVERY, Replayed, Session, StepJob};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, channel};
use std::time::{Duration, Instant};

/// A bundled example dataset.
#[derive(Debug, Clone, Copy)]
pub struct Example {
    /// Shown name.
    pub name: &'static str,
    /// CSV text.
    pub csv: &'static str,
    /// The algorithm it suits.
    pub algorithm: &'static str,
}

/// The examples bundled into the binary.
pub const EXAMPLES: &[Example] = &[
    Example {
        name: "houses.csv",
        csv: include_str!("../../assets/examples/houses.csv"),
        algorithm: "linear-regression",
    },
    Example {
        name: "exam_pass.csv",
        csv: include_str!("../../assets/examples/exam_pass.csv"),
        algorithm: "logistic-regression",
    },
    Example {
        name: "penguins.csv",
        csv: include_str!("../../assets/examples/penguins.csv"),
        algorithm: "softmax-regression",
    },
    Example {
        name: "blobs.csv",
        csv: include_str!("../../assets/examples/blobs.csv"),
        algorithm: "k-means",
    },
];

/// The bundled example algorithm `id` is shown on when the user's file
/// cannot be.
fn example_for(id: &str) -> usize {
    match id {
        "logistic-regression" | "perceptron" | "linear-svm" => 1,
        "softmax-regression" | "mlp" => 2,
        "k-means" | "pca" | "gmm" => 3,
        _ => 0,
    }
}

/// What a column is used for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Role {
    /// An input of the model.
    Feature,
    /// The column to predict.
    Target,
    /// Not used.
    Ignored,
}

/// Everything the panels ask for; applied by [`App::apply`] after drawing.
#[derive(Debug, Clone, PartialEq)]
#[must_use]
pub enum Command {
    /// Load a CSV file on a background thread (what the dialog, drag and drop and recent files send).
    LoadFile(PathBuf),
    /// Load a CSV file and use it with the algorithm of that id (the
    /// command line's `--data` and `--algorithm`, and the last session at
    /// start); the table shown meanwhile keeps its own algorithm.
    OpenAs(PathBuf, String),
    /// Load a bundled example by index.
    LoadExample(usize),
    /// Stop the load in progress.
    CancelLoad,
    /// Choose an algorithm by id (resets the run).
    SelectAlgorithm(String),
    /// Set a column's role (resets the run).
    SetRole(usize, Role),
    /// Standardize the features or not (resets the run).
    SetStandardize(bool),
    /// Missing-value policy (resets the run).
    SetMissing(MissingPolicy),
    /// Replace the selected algorithm's hyperparameters (resets the run).
    SetHyper(Box<Hyper>),
    /// Apply `n` updates (or move the view forward when it shows the past).
    Step(usize),
    /// Show the previous step.
    StepBack,
    /// Show step `t` of the history.
    Show(usize),
    /// Start or stop running.
    ToggleRun,
    /// Back to step 0.
    Reset,
    /// Change the learning rate without resetting.
    SetLearningRate(f64),
    /// Write the trajectory as CSV.
    ExportTrajectory(PathBuf),
    /// Write the derivation with the shown step's numbers.
    ExportDerivation(PathBuf, Format),
    /// Save the plots as a PNG (a screenshot of the plot area).
    ExportPlotPng(PathBuf),
    /// Show or hide the help window.
    ToggleHelp,
}

/// A step that took longer than this (a third of a 60 fps frame) is
/// followed by steps on their own thread, and so is a session's first step:
/// while running, and for Step and Step ×N on data of at least
/// [`DEFER_ROWS`] rows. A 30 ms MLP step on a million rows held every frame
/// to 30 ms.
pub const BACKGROUND_STEP: Duration = Duration::from_millis(6);

/// How long a frame takes fast steps: while running, and for a Step ×N on
/// data of at least [`DEFER_ROWS`] rows, whose rest goes on frame by frame,
/// so the window stays live (a Step ×100 of the MLP on a million rows held
/// it for 2.5 s).
pub const STEP_BUDGET: Duration = Duration::from_millis(8);

/// The time a frame has at 60 fps.
const FRAME: Duration = Duration::from_micros(16_667);

/// What a frame keeps, beside its interface, for eframe's tessellation and
/// painting (1–2 ms at a million points) and for the interface's own
/// frame-to-frame variation.
const PAINT_RESERVE: Duration = Duration::from_millis(3);

/// The least a frame gives fast steps while running, so a run whose
/// interface alone fills the frame still moves on.
const MIN_STEP_BUDGET: Duration = Duration::from_millis(1);

/// How long this frame takes fast steps: `cap` ([`STEP_BUDGET`]), or less
/// when the last frame's interface (`ui_cost`) with half as much again and
/// [`PAINT_RESERVE`] leaves less of a 60 fps frame, though not under
/// [`MIN_STEP_BUDGET`] (nor over `cap`). An MLP (64, 64) on penguins.csv
/// at 1,000 steps/s, whose interface takes 4–8 ms, had 89–207 of 480
/// frames over 16.7 ms with 8 ms of steps in each; now 26–31, at 20–35%
/// fewer steps a second.
fn in_frame_budget(cap: Duration, ui_cost: Duration) -> Duration {
    let left = FRAME.saturating_sub(ui_cost.mul_f64(1.5) + PAINT_RESERVE);
    cap.min(left.max(MIN_STEP_BUDGET))
}

/// See [`STEP_BUDGET`]: on fewer rows a Step ×N takes every step at once.
pub const DEFER_ROWS: usize = 100_000;

/// Records keep this many first rows of the per-row values no plot reads
/// (softmax's, the MLP's), on data of any size: the derivation panel shows
/// and lists at most 64 entries of each ([`crate::export::LISTED_ENTRIES`]).
/// At a million rows and 10 classes the whole matrices of the two records
/// alive took 480 MB for softmax and 280 MB for the MLP; below 100,000
/// rows, where they were kept whole, an MLP (64, 64) kept 258 columns, 206
/// MB a record at 99,999 rows, and its step at 10,000 rows took 1.42 times
/// a headless run's pass.
pub const HEAD_ROWS: usize = 64;

/// A Step ×N's slow steps go to their thread together, as many as start
/// within this long: the window collects them at its next frame, and that
/// wait (8 ms on average at 60 fps), paid after every single step, made a
/// Step ×100 of the MLP on a million rows take 3.8 s instead of 2.7 s.
/// The window shows the last step of each batch, ten times a second.
pub const JOB_BUDGET: Duration = Duration::from_millis(100);

/// The memory the window's history may take (512 MiB; the copies of the
/// algorithm kept for replays take about a tenth more). Every step keeps
/// its loss; the parameters of every step, which the timeline shows, fill
/// it after about 14,700 steps of an MLP (64, 64) on two features; from
/// then on older steps keep theirs only at a spacing (a power of two) that
/// grows with the run, and the steps between are replayed when shown
/// ([`Session::keep_within`]). A run stops, and says so, once the losses
/// alone would take half of it: about 4.8 million steps.
pub const HISTORY_BYTES: usize = 1 << 29;

/// Settings that persist across restarts.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct Settings {
    /// Recently opened files, newest first.
    pub recent: Vec<PathBuf>,
    /// The file open at exit.
    pub last_file: Option<PathBuf>,
    /// The algorithm selected at exit.
    pub algorithm: String,
    /// Standardization on or off.
    pub standardize: bool,
    /// Missing-value policy.
    pub missing: MissingPolicy,
    /// Run speed.
    pub steps_per_second: f64,
    /// Each algorithm's hyperparameters, by id (the defaults where none
    /// were chosen).
    pub hypers: BTreeMap<String, Hyper>,
    /// Where the last export went: the next save dialog opens there (at
    /// first in the home folder, not next to the data).
    pub export_dir: Option<PathBuf>,
}

impl Settings {
    /// The selected algorithm's hyperparameters.
    #[must_use]
    pub fn hyper(&self) -> Hyper {
        self.hypers
            .get(&self.algorithm)
            .cloned()
            .unwrap_or_default()
    }

    fn hyper_mut(&mut self) -> &mut Hyper {
        self.hypers.entry(self.algorithm.clone()).or_default()
    }
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            recent: Vec::new(),
            last_file: None,
            algorithm: "linear-regression".into(),
            standardize: true,
            missing: MissingPolicy::Drop,
            steps_per_second: 20.0,
            hypers: BTreeMap::new(),
            export_dir: None,
        }
    }
}

/// A load running on its thread.
struct Loading {
    path: PathBuf,
    /// The algorithm the table is opened with (else the selected one).
    algorithm: Option<String>,
    progress: Arc<Progress>,
    /// The table and its columns' summaries (read on the loading thread
    /// too: 18–48 ms at 1M × 11), or the error.
    result: Receiver<Result<(Table, Vec<ColumnSummary>), String>>,
}

/// Steps running on their own thread (which returns how long they took),
/// and the flag that stops them after the step they are taking.
struct Job {
    thread: std::thread::JoinHandle<(StepJob, Duration)>,
    cancel: Arc<AtomicBool>,
}

/// A dataset and session being built on their own thread.
struct Building {
    thread: std::thread::JoinHandle<Result<Built, String>>,
    selection: Selection,
    previous: Option<Previous>,
    /// Why a new table or new hyperparameters were not used, shown on once
    /// the previous ones' session is in.
    error: Option<String>,
}

/// What a rebuild replaced, back if the rebuild fails.
enum Previous {
    /// The table a new one replaced.
    Table(PreviousTable),
    /// The selected algorithm's hyperparameters before a change.
    Hyper(Hyper),
}

/// The table a new one replaced, back if the new one cannot be used.
struct PreviousTable {
    table: Option<Arc<Table>>,
    source: String,
    roles: Vec<Role>,
    summaries: Vec<ColumnSummary>,
    /// The algorithm selected with the old table, which comes back with it
    /// when the new table cannot be used; `None`: the new table stays
    /// instead, with the error, to choose again.
    algorithm: Option<String>,
    /// The new table's file, which joins the recent files once it is in use.
    path: Option<PathBuf>,
}

/// What a rebuild makes the dataset and the session from.
struct Plan {
    table: Arc<Table>,
    /// The dataset, when the choices are the ones it was built from.
    kept: Option<Arc<Dataset>>,
    selection: Selection,
    create: fn(&Hyper) -> Result<Box<dyn algorithms::Algorithm>, algorithms::AlgoError>,
    hyper: Hyper,
    /// The data's curvature, when the dataset is kept and it was read.
    curvature: Option<Curvature>,
    /// Whether the algorithm's step-size card needs the curvature.
    card: bool,
}

/// What a rebuild makes.
struct Built {
    data: Arc<Dataset>,
    session: Session,
    curvature: Option<Curvature>,
    facts: plots::Facts,
}

impl Plan {
    fn build(self) -> Result<Built, String> {
        let new_data = self.kept.is_none();
        let data = match self.kept {
            Some(data) => data,
            None => Arc::new(
                Dataset::from_table(&self.table, &self.selection).map_err(|e| e.to_string())?,
            ),
        };
        let mut algorithm = (self.create)(&self.hyper).map_err(|e| e.to_string())?;
        algorithm.per_row_heads(Some(HEAD_ROWS));
        let session = Session::new(algorithm, &data).map_err(|e| e.to_string())?;
        let curvature = self
            .curvature
            .or_else(|| self.card.then(|| Curvature::of(&data)).flatten());
        Ok(Built {
            facts: plots::Facts::of(&data, &session, new_data),
            data,
            session,
            curvature,
        })
    }
}

/// The application state.
pub struct App {
    settings: Settings,
    table: Option<Arc<Table>>,
    /// Each column's summary, computed once per table.
    summaries: Vec<ColumnSummary>,
    source: String,
    roles: Vec<Role>,
    /// Shared with the thread of a step in the background.
    data: Option<Arc<Dataset>>,
    /// The choices `data` was built from, on the current table.
    built_from: Option<Selection>,
    /// A new dataset and session on their way.
    building: Option<Building>,
    /// Tables of this many rows or more are rebuilt on their own thread.
    build_rows: usize,
    session: Option<Session>,
    /// Steps taken out of the session, running on their own thread.
    job: Option<Job>,
    /// How long the session's last step took (`None` before its first):
    /// steps after one slower than `background_after` ([`BACKGROUND_STEP`])
    /// or of unknown speed go to their own thread (while running, and any
    /// step on [`DEFER_ROWS`] rows or more).
    last_step: Option<Duration>,
    background_after: Duration,
    /// The steps of a Step ×N still to take, when a Step ×N leaves them
    /// for later frames ([`STEP_BUDGET`], [`DEFER_ROWS`]), and how long a
    /// thread takes them for ([`JOB_BUDGET`]).
    steps_left: usize,
    step_budget: (Duration, usize),
    /// What the last frame's interface took (see [`in_frame_budget`]).
    ui_cost: Duration,
    job_budget: Duration,
    /// The memory the history may take ([`HISTORY_BYTES`]).
    history_bytes: usize,
    /// The data's second moments for the step-size card, read once per dataset.
    curvature: Option<Curvature>,
    shown: usize,
    /// The record of the shown step when it is not the latest (replayed
    /// from a checkpoint), with its parameters (a thinned history no
    /// longer has them all); the latest is read from the session, not copied.
    replayed: Option<StepRecord>,
    replayed_params: Vec<f64>,
    /// A replay in the background, and a record no longer shown whose
    /// buffers the next replay writes into.
    replaying: Option<std::thread::JoinHandle<Option<Replayed>>>,
    spare_record: Option<StepRecord>,
    running: bool,
    run_credit: f64,
    error: Option<String>,
    notice: Option<String>,
    loading: Option<Loading>,
    view: plots::PlotView,
    help: bool,
    /// Hyperparameters being edited by a drag, applied when it ends (each
    /// value on the way would rebuild the run).
    hyper_draft: Option<Hyper>,
    commands: Vec<Command>,
    fonts_installed: bool,
    /// Where the next screenshot of the plots goes.
    pending_png: Option<PathBuf>,
    /// The plot area of the last frame, in points.
    plot_rect: egui::Rect,
    /// What the screenshot callback reports back (it runs on another thread).
    png_result: Arc<std::sync::Mutex<Option<Result<String, String>>>>,
}

/// Why a run stops when the history has no room for another step.
fn history_full(session: &Session, bytes: usize) -> String {
    format!(
        "the run stopped at step {}: the window keeps every step's loss so that the timeline can go back to any of them, and the losses of {} steps take half the {} MB it allows for its history; press Reset to start over, or use steplab run --every for longer runs",
        session.step_count(),
        session.history().len(),
        bytes / 1_000_000
    )
}

impl Default for App {
    fn default() -> Self {
        Self::new(Settings::default())
    }
}

impl App {
    /// The app with `settings`, on the first bundled example, ready to step.
    #[must_use]
    pub fn new(settings: Settings) -> Self {
        let mut app = Self {
            settings,
            table: None,
            summaries: Vec::new(),
            source: String::new(),
            roles: Vec::new(),
            data: None,
            built_from: None,
            building: None,
            build_rows: DEFER_ROWS,
            session: None,
            job: None,
            last_step: None,
            background_after: BACKGROUND_STEP,
            steps_left: 0,
            step_budget: (STEP_BUDGET, DEFER_ROWS),
            ui_cost: Duration::ZERO,
            job_budget: JOB_BUDGET,
            history_bytes: HISTORY_BYTES,
            curvature: None,
            shown: 0,
            replayed: None,
            replayed_params: Vec::new(),
            replaying: None,
            spare_record: None,
            running: false,
            run_credit: 0.0,
            error: None,
            notice: None,
            loading: None,
            view: plots::PlotView::default(),
            help: false,
            hyper_draft: None,
            commands: Vec::new(),
            fonts_installed: false,
            pending_png: None,
            plot_rect: egui::Rect::NOTHING,
            png_result: Arc::default(),
        };
        app.apply(Command::LoadExample(0));
        app
    }

    /// The app as `settings` left it: `data` (else the last session's file)
    /// opened with `algorithm` (else the last session's); on the bundled
    /// example when there is no file.
    #[must_use]
    pub fn resume(settings: Settings, data: Option<PathBuf>, algorithm: Option<String>) -> Self {
        let saved = settings.algorithm.clone();
        let last = settings.last_file.clone();
        let mut app = Self::new(settings);
        match (data.or(last), algorithm) {
            (Some(path), id) => app.apply(Command::OpenAs(path, id.unwrap_or(saved))),
            (None, Some(id)) => app.apply(Command::SelectAlgorithm(id)),
            (None, None) => {}
        }
        app
    }

    /// The file's line of row `i` (a row index as a record holds it) of
    /// the dataset.
    fn line_of_row(&self, i: f64) -> Option<usize> {
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let i = (i >= 0.0).then_some(i as usize)?;
        self.data.as_ref()?.lines().get(i).copied()
    }

    /// The current session, if the data fits the algorithm.
    #[must_use]
    pub fn session(&self) -> Option<&Session> {
        self.session.as_ref()
    }

    /// The loaded dataset.
    #[must_use]
    pub fn data(&self) -> Option<&Dataset> {
        self.data.as_deref()
    }

    /// The step shown.
    #[must_use]
    pub fn shown_step(&self) -> usize {
        self.shown
    }

    /// The error shown to the user, if any.
    #[must_use]
    pub fn error(&self) -> Option<&str> {
        self.error.as_deref()
    }

    /// Whether the run is playing.
    #[must_use]
    pub fn running(&self) -> bool {
        self.running
    }

    /// The algorithm id.
    #[must_use]
    pub fn algorithm(&self) -> &str {
        &self.settings.algorithm
    }

    /// The persisted settings.
    #[must_use]
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// The column roles.
    #[must_use]
    pub fn roles(&self) -> &[Role] {
        &self.roles
    }

    /// Ids of the derivation symbols under the pointer, which the plots emphasise.
    #[must_use]
    pub fn highlighted(&self) -> &[&'static str] {
        &self.view.highlight
    }

    /// Whether a file is loading.
    #[must_use]
    pub fn is_loading(&self) -> bool {
        self.loading.is_some()
    }

    /// Waits for the load in progress and the dataset it makes (for tests
    /// and the command line).
    pub fn finish_loading(&mut self) {
        while self.loading.is_some() {
            self.poll_loading(true);
        }
        self.finish_building();
    }

    /// Applies one command.
    #[allow(clippy::too_many_lines)] // One arm per command, each short.
    pub fn apply(&mut self, command: Command) {
        self.finish_building();
        // A Step while a Step's slow steps are out adds to them rather than
        // waiting for them: holding the Step key on a million rows kept
        // each frame waiting for an MLP step (25–29 ms).
        if let Command::Step(n) = command
            && self.job.is_some()
            && !self.running
        {
            self.steps_left = self.steps_left.saturating_add(n);
            return;
        }
        // Every other command sees the session with its steps in, if some
        // are out, and stops what is left of a Step ×N (as the window showed
        // it: the steps out may have been its last).
        let stepping = self.steps_left > 0;
        self.settle();
        self.steps_left = 0;
        // What the status line said last is about what came before; an
        // error too, once the user moves the run on.
        if !matches!(command, Command::SetLearningRate(_) | Command::ToggleHelp) {
            self.notice = None;
        }
        if self.session.is_some()
            && matches!(
                command,
                Command::Step(_) | Command::StepBack | Command::Show(_) | Command::ToggleRun
            )
        {
            self.error = None;
        }
        match command {
            Command::LoadFile(path) => self.start_loading(path, None),
            Command::OpenAs(path, id) => {
                if self.known(&id) {
                    self.start_loading(path, Some(id));
                }
            }
            Command::LoadExample(i) => {
                let Some(example) = EXAMPLES.get(i) else {
                    return;
                };
                match parse_table(example.csv.as_bytes(), example.name) {
                    Ok(table) => {
                        let previous = std::mem::replace(
                            &mut self.settings.algorithm,
                            example.algorithm.into(),
                        );
                        let summaries = table.summaries();
                        let back = Some(previous);
                        self.set_table(table, summaries, example.name.into(), None, back);
                    }
                    Err(e) => self.error = Some(e.to_string()),
                }
            }
            Command::CancelLoad => {
                if let Some(l) = &self.loading {
                    l.progress.cancel.store(true, Ordering::Relaxed);
                }
            }
            Command::SelectAlgorithm(id) => {
                if !self.known(&id) {
                    return;
                }
                self.settings.algorithm = id;
                self.hyper_draft = None;
                self.default_roles();
                self.rebuild();
            }
            Command::SetRole(col, role) => {
                if col < self.roles.len() {
                    if role == Role::Target {
                        for r in &mut self.roles {
                            if *r == Role::Target {
                                *r = Role::Ignored;
                            }
                        }
                    }
                    self.roles[col] = role;
                    self.rebuild();
                }
            }
            Command::SetStandardize(on) => {
                self.settings.standardize = on;
                self.rebuild();
            }
            Command::SetMissing(policy) => {
                self.settings.missing = policy;
                self.rebuild();
            }
            Command::SetHyper(hyper) => {
                let old = std::mem::replace(self.settings.hyper_mut(), *hyper);
                self.rebuild_for(Some(Previous::Hyper(old)));
            }
            Command::Step(n) => self.step(n),
            Command::StepBack => {
                self.shown = self.shown.saturating_sub(1);
                self.running = false;
                self.refresh_record();
            }
            Command::Show(t) => {
                self.shown = self.session.as_ref().map_or(0, |s| t.min(s.step_count()));
                self.refresh_record();
            }
            Command::ToggleRun => {
                // Pause, shown while a Step ×N goes on, stops it.
                self.running = !stepping && !self.running && self.session.is_some();
                if let Some(s) = &mut self.session {
                    s.resume();
                    self.shown = s.step_count();
                }
            }
            Command::Reset => {
                self.rebuild();
            }
            Command::SetLearningRate(lr) => {
                self.settings.hyper_mut().learning_rate = Some(lr);
                if let (Some(session), Some(data)) = (&mut self.session, self.data.as_deref()) {
                    // The steps after the one shown were taken at the old
                    // rate: the run goes on from the shown step instead.
                    let later = session.step_count().saturating_sub(self.shown);
                    if later > 0 && session.truncate(data, self.shown) {
                        self.notice = Some(format!(
                            "going on from step {} at the new learning rate; the {} {} dropped",
                            self.shown,
                            algorithms::count(later, "later step"),
                            if later == 1 { "was" } else { "were" }
                        ));
                        self.running = false;
                        self.replaying = None;
                        self.view.history_cut();
                    }
                    session.set_learning_rate(lr);
                    self.refresh_record();
                }
            }
            Command::ExportTrajectory(path) => {
                if let Some(s) = &self.session {
                    let csv = export::trajectory_csv(&s.algorithm().param_names(), s.history());
                    let stride = s.stride();
                    self.write(&path, &csv);
                    if stride > 1 && self.error.is_none() {
                        self.notice = Some(format!(
                            "saved {}; older steps keep their parameters every {stride} steps, the others' cells are empty",
                            path.display()
                        ));
                    }
                }
            }
            Command::ExportDerivation(path, format) => {
                self.settle_record();
                if let Some(s) = &self.session {
                    let text = export::derivation(
                        s.algorithm().id(),
                        &s.algorithm().derivation(),
                        format,
                        self.shown_record(),
                    );
                    self.write(&path, &text);
                }
            }
            Command::ExportPlotPng(path) => self.pending_png = Some(path),
            Command::ToggleHelp => self.help = !self.help,
        }
    }

    fn write(&mut self, path: &std::path::Path, text: &str) {
        match std::fs::write(path, text) {
            Ok(()) => self.notice = Some(format!("saved {}", path.display())),
            Err(e) => self.error = Some(format!("cannot write {}: {e}", path.display())),
        }
    }

    fn step(&mut self, n: usize) {
        let slow = self.next_step_is_slow();
        let (cap, from_rows) = self.step_budget;
        let budget = in_frame_budget(cap, self.ui_cost);
        let (Some(session), Some(data)) = (&mut self.session, self.data.as_deref()) else {
            return;
        };
        // From an earlier step, the steps already taken are shown first;
        // those beyond the latest are taken.
        let ahead = n.min(session.step_count().saturating_sub(self.shown));
        self.shown += ahead;
        let n = n - ahead;
        if n == 0 {
            // Nothing to take.
        } else if slow && data.n_rows() >= from_rows {
            // On large data a slow step never holds up the frame.
            self.steps_left = n;
            self.step_in_background(n, self.job_budget);
            return;
        } else {
            session.resume();
            let began = Instant::now();
            for done in 0..n {
                if done > 0 && data.n_rows() >= from_rows && began.elapsed() >= budget {
                    self.steps_left = n - done;
                    break;
                }
                if session.room() == 0 {
                    self.running = false;
                    self.steps_left = 0;
                    self.error = Some(history_full(session, self.history_bytes));
                    break;
                }
                let started = Instant::now();
                let going = session.step(data);
                self.last_step = Some(started.elapsed());
                if !going {
                    self.running = false;
                    self.steps_left = 0;
                    break;
                }
            }
            self.shown = session.step_count();
        }
        self.refresh_record();
    }

    /// Whether the next step goes to a thread of its own: the last one took
    /// `background_after` or longer, or none was timed yet.
    fn next_step_is_slow(&self) -> bool {
        self.last_step.is_none_or(|t| t >= self.background_after)
    }

    /// Starts the next steps (at most `most`, as many as start within
    /// `budget`) on a thread of their own: the window goes on drawing the
    /// latest record (and answering) while they run.
    fn step_in_background(&mut self, most: usize, budget: Duration) {
        let (Some(session), Some(data)) = (&mut self.session, &self.data) else {
            return;
        };
        let room = session.room();
        if room == 0 {
            self.running = false;
            self.steps_left = 0;
            self.error = Some(history_full(session, self.history_bytes));
            return;
        }
        session.resume();
        let Some(mut job) = session.begin_steps(most.min(room), budget) else {
            self.running = false;
            self.steps_left = 0;
            return;
        };
        let data = Arc::clone(data);
        let cancel = job.canceller();
        let spawned = background::spawn("steplab-step", move || {
            let started = Instant::now();
            job.run(&data);
            (job, started.elapsed())
        });
        match spawned {
            Ok(thread) => self.job = Some(Job { thread, cancel }),
            // The session keeps the algorithm as it was at its latest step.
            Err(e) => {
                self.running = false;
                self.steps_left = 0;
                self.error = Some(format!("cannot start a thread for the next step: {e}"));
            }
        }
    }

    /// Records the steps running in the background once they are done, or
    /// first waits for them with `wait`.
    fn collect(&mut self, wait: bool) {
        let Some(job) = self.job.take_if(|j| wait || j.thread.is_finished()) else {
            return;
        };
        let (Some(session), Some(data)) = (&mut self.session, self.data.as_deref()) else {
            return;
        };
        if let Ok((job, took)) = job.thread.join() {
            let taken = job.taken();
            self.last_step = Some(took / u32::try_from(taken.max(1)).unwrap_or(u32::MAX));
            self.steps_left = self.steps_left.saturating_sub(taken);
            if !session.finish_step(job, data) {
                self.running = false;
                self.steps_left = 0;
            }
        } else {
            // The session still holds the algorithm as it was at its latest step.
            self.running = false;
            self.steps_left = 0;
            self.error = Some(format!(
                "step {} failed unexpectedly; the run stopped at step {}",
                session.step_count() + 1,
                session.step_count()
            ));
        }
        self.shown = session.step_count();
        self.refresh_record();
    }

    /// Waits for the steps running in the background, which stop after
    /// the one they are taking, and records them.
    fn settle(&mut self) {
        if let Some(job) = &self.job {
            job.cancel.store(true, Ordering::Relaxed);
        }
        self.collect(true);
    }

    /// Whether `id` names an algorithm; the error says so when it does not.
    fn known(&mut self, id: &str) -> bool {
        let known = algorithms::entry(id).is_some();
        if !known {
            self.error = Some(format!(
                "unknown algorithm '{id}'; choose one of: {}",
                algorithms::ids()
            ));
        }
        known
    }

    fn start_loading(&mut self, path: PathBuf, algorithm: Option<String>) {
        let progress = Arc::new(Progress::default());
        let (tx, rx) = channel();
        let thread_progress = Arc::clone(&progress);
        let thread_path = path.clone();
        let spawned = background::spawn("steplab-load", move || {
            let result = read_table_with(&thread_path, &thread_progress)
                .map(|table| {
                    let summaries = table.summaries();
                    (table, summaries)
                })
                .map_err(|e| e.to_string());
            let _ = tx.send(result);
        });
        match spawned {
            Ok(_) => {
                self.loading = Some(Loading {
                    path,
                    algorithm,
                    progress,
                    result: rx,
                });
            }
            Err(e) => self.error = Some(format!("cannot start loading: {e}")),
        }
    }

    /// Takes the loader's result once it is there (waiting for it when `block`).
    fn poll_loading(&mut self, block: bool) {
        let Some(loading) = &self.loading else {
            return;
        };
        let result = if block {
            loading.result.recv().ok()
        } else {
            loading.result.try_recv().ok()
        };
        let Some(result) = result else {
            return;
        };
        let Some(Loading {
            path, algorithm, ..
        }) = self.loading.take()
        else {
            return;
        };
        match result {
            Ok((table, summaries)) => {
                let source = path.display().to_string();
                // A file opened with an algorithm stays when they do not
                // fit, so that the user can choose another.
                let back = match algorithm {
                    Some(id) => {
                        self.settings.algorithm = id;
                        None
                    }
                    None => Some(self.settings.algorithm.clone()),
                };
                self.set_table(table, summaries, source, Some(path), back);
            }
            Err(e) => {
                // A file that was to open with an algorithm (at launch):
                // that algorithm, on a bundled example it suits.
                if let Some(id) = algorithm {
                    self.apply(Command::LoadExample(example_for(&id)));
                    self.apply(Command::SelectAlgorithm(id));
                    self.finish_building();
                }
                self.error = Some(e);
            }
        }
    }

    /// Uses `table` with the selected algorithm; `algorithm` (the one
    /// selected before) comes back with the old table if the new one cannot
    /// be used (`None`: the new one stays, with the error).
    fn set_table(
        &mut self,
        table: Table,
        summaries: Vec<ColumnSummary>,
        source: String,
        path: Option<PathBuf>,
        algorithm: Option<String>,
    ) {
        // The dataset is the old table's.
        self.built_from = None;
        let previous = PreviousTable {
            table: self.table.take(),
            source: std::mem::take(&mut self.source),
            roles: std::mem::take(&mut self.roles),
            summaries: std::mem::take(&mut self.summaries),
            algorithm,
            path,
        };
        self.summaries = summaries;
        self.table = Some(Arc::new(table));
        self.source = source;
        self.default_roles();
        self.rebuild_for(Some(Previous::Table(previous)));
    }

    /// Target: the last column for supervised algorithms; features: the other numeric columns.
    fn default_roles(&mut self) {
        let Some(table) = &self.table else {
            return;
        };
        let supervised = algorithms::entry(&self.settings.algorithm).is_some_and(|e| e.supervised);
        let last = table.names.len().saturating_sub(1);
        self.roles = table
            .columns
            .iter()
            .enumerate()
            .map(|(i, c)| {
                if supervised && i == last {
                    Role::Target
                } else if c.is_numeric() {
                    Role::Feature
                } else {
                    Role::Ignored
                }
            })
            .collect();
    }

    /// Rebuilds the dataset and the session from the table and the choices:
    /// on a thread of its own on large tables ([`App::set_build_rows`]),
    /// the window showing the previous session meanwhile. Sets the error
    /// when they do not fit.
    fn rebuild(&mut self) {
        self.rebuild_for(None);
    }

    /// [`App::rebuild`] after a new table replaced `previous`, which comes
    /// back if the new one cannot be used.
    fn rebuild_for(&mut self, previous: Option<Previous>) {
        self.finish_building();
        self.settle();
        self.running = false;
        self.steps_left = 0;
        self.last_step = None;
        let plan = match self.plan() {
            Ok(plan) => plan,
            Err(Some(e)) => return self.fail(e, previous),
            Err(None) => return self.restore(previous),
        };
        let selection = plan.selection.clone();
        if plan.table.lines.len() < self.build_rows {
            self.install(plan.build(), selection, previous);
            return;
        }
        let spawned = background::spawn("steplab-build", move || plan.build());
        match spawned {
            Ok(thread) => {
                self.building = Some(Building {
                    thread,
                    selection,
                    previous,
                    error: None,
                });
            }
            Err(e) => self.fail(format!("cannot start preparing the data: {e}"), previous),
        }
    }

    /// What a rebuild makes from, and the error when the choices cannot
    /// make a session (`None`: nothing to build from).
    fn plan(&self) -> Result<Plan, Option<String>> {
        let table = self.table.as_ref().ok_or(None)?;
        let entry = algorithms::entry(&self.settings.algorithm).ok_or(None)?;
        let named = |role: Role| -> Vec<String> {
            table
                .names
                .iter()
                .zip(&self.roles)
                .filter(|(_, r)| **r == role)
                .map(|(n, _)| n.clone())
                .collect()
        };
        let selection = Selection {
            target: if entry.supervised {
                named(Role::Target).into_iter().next()
            } else {
                None
            },
            features: Some(named(Role::Feature)),
            standardize: self.settings.standardize,
            missing: self.settings.missing,
        };
        if entry.supervised && selection.target.is_none() {
            return Err(Some(format!(
                "{} needs a target column: set one column's role to target",
                entry.id
            )));
        }
        // The same choices on the same table give the same dataset: a Reset,
        // new hyperparameters or another algorithm of the same kind keep it
        // (at a million rows, building it again took 60 ms and its
        // curvature 15 ms).
        let kept = self
            .data
            .as_ref()
            .filter(|_| self.built_from.as_ref() == Some(&selection))
            .map(Arc::clone);
        Ok(Plan {
            curvature: kept.as_ref().and(self.curvature.clone()),
            card: algorithms::conditioning::applies(entry.id),
            table: Arc::clone(table),
            kept,
            selection,
            create: entry.create,
            hyper: self.settings.hyper(),
        })
    }

    /// Takes in what a rebuild made: the new session, or the error (and
    /// then the previous table back, after a new one).
    fn install(
        &mut self,
        built: Result<Built, String>,
        selection: Selection,
        previous: Option<Previous>,
    ) {
        self.forget_records();
        match built {
            Ok(built) => {
                // A new table's plots start from their first axes (the old
                // ones are drawn until then).
                if matches!(previous, Some(Previous::Table(_))) {
                    self.view = plots::PlotView::default();
                }
                self.view.rebuilt(built.facts);
                self.curvature = built.curvature;
                self.data = Some(built.data);
                self.built_from = Some(selection);
                let mut session = built.session;
                session.keep_within(self.history_bytes);
                self.session = Some(session);
                self.error = None;
                self.refresh_record();
                if let Some(Previous::Table(PreviousTable {
                    path: Some(path), ..
                })) = previous
                {
                    self.settings.recent.retain(|p| *p != path);
                    self.settings.recent.insert(0, path.clone());
                    self.settings.recent.truncate(8);
                    self.settings.last_file = Some(path);
                }
            }
            Err(e) => self.fail(e, previous),
        }
    }

    /// Leaves no session, `error` saying why; after a new table, the
    /// previous one comes back.
    fn fail(&mut self, error: String, previous: Option<Previous>) {
        self.error = Some(error);
        self.session = None;
        self.forget_records();
        self.restore(previous);
    }

    /// Puts back the table or the hyperparameters a rebuild replaced,
    /// when the new ones cannot be used, keeping the error that says why.
    fn restore(&mut self, previous: Option<Previous>) {
        let mut message = self.error.clone();
        match previous {
            None => return,
            Some(Previous::Table(PreviousTable {
                algorithm: None, ..
            })) => {
                // The new table stays, without a session: the error says
                // what to choose.
                self.data = None;
                return;
            }
            Some(Previous::Table(previous)) => {
                self.summaries = previous.summaries;
                self.table = previous.table;
                self.source = previous.source;
                self.roles = previous.roles;
                if let Some(algorithm) = previous.algorithm {
                    self.settings.algorithm = algorithm;
                }
                self.built_from = None;
            }
            Some(Previous::Hyper(hyper)) => {
                *self.settings.hyper_mut() = hyper;
                message = message.map(|m| {
                    format!(
                        "{} (the settings before the change are back)",
                        model_panel::in_panel_words(&m)
                    )
                });
            }
        }
        self.rebuild();
        match &mut self.building {
            Some(building) => building.error = message,
            None => self.error = message,
        }
    }

    /// Takes in the dataset and session built in the background once they
    /// are there, or first waits for them with `wait`.
    fn poll_building(&mut self, wait: bool) {
        let Some(building) = self.building.take_if(|b| wait || b.thread.is_finished()) else {
            return;
        };
        let built = building.thread.join().unwrap_or_else(|_| {
            Err("preparing the data failed unexpectedly; choose again to retry".into())
        });
        self.install(built, building.selection, building.previous);
        if building.error.is_some() && self.session.is_some() {
            self.error = building.error;
        }
    }

    /// Waits for the dataset and session being built, and takes them in
    /// (and for the previous table's, when a new table could not be used).
    pub fn finish_building(&mut self) {
        while self.building.is_some() {
            self.poll_building(true);
        }
    }

    /// Makes the shown step's record the one shown: the latest is read
    /// from the session; an earlier one is replayed, in the frame on small
    /// data, and on data of [`DEFER_ROWS`] rows or more on a thread of its
    /// own (the window shows the record it has until the replay lands: at
    /// a million rows an MLP step takes 30 ms, and dragging the timeline
    /// froze each frame that long).
    fn refresh_record(&mut self) {
        let (Some(session), Some(data)) = (&self.session, &self.data) else {
            self.replayed = None;
            return;
        };
        if self.shown >= session.step_count() {
            if let Some(record) = self.replayed.take() {
                self.spare_record = Some(record);
            }
            return;
        }
        if self.replayed.as_ref().is_some_and(|r| r.step == self.shown) {
            return;
        }
        // The frame that takes the replay in asks again.
        if self.replaying.is_some() {
            return;
        }
        let Some(replay) = session.begin_replay(self.shown) else {
            return;
        };
        // Small data, or a replay of fast steps (linear regression's take
        // 0.02 ms at a million rows), in the frame: exact at once. A
        // thinned history's checkpoints lie further apart: its long
        // replays of slow steps go to a thread even on small data.
        let fast = self.last_step.is_some_and(|t| {
            t.saturating_mul(u32::try_from(replay.steps()).unwrap_or(u32::MAX))
                < self.background_after
        });
        let small = data.n_rows() < self.step_budget.1 && replay.steps() <= CHECKPOINT_EVERY;
        if small || fast {
            let old = self.replayed.take();
            if let Some((record, params)) = replay.run_with_params(data, old) {
                self.replayed = Some(record);
                self.replayed_params = params;
            }
            return;
        }
        let (data, old) = (Arc::clone(data), self.spare_record.take());
        let spawned =
            background::spawn("steplab-replay", move || replay.run_with_params(&data, old));
        match spawned {
            Ok(thread) => self.replaying = Some(thread),
            Err(e) => {
                self.error = Some(format!(
                    "cannot start a thread to show step {}: {e}",
                    self.shown
                ));
            }
        }
    }

    /// Takes in the record replayed in the background once it is there (or
    /// first waits for it with `wait`), and asks for the shown step's if
    /// the timeline moved on meanwhile. A replay that fails (its step did
    /// not finish) leaves no record: the next move of the timeline tries again.
    fn poll_replay(&mut self, wait: bool) {
        let Some(thread) = self.replaying.take_if(|t| wait || t.is_finished()) else {
            return;
        };
        if let Ok(Some((record, params))) = thread.join() {
            self.spare_record = self.replayed.replace(record);
            self.replayed_params = params;
            self.refresh_record();
        } else if let Some(record) = self.replayed.take() {
            self.spare_record = Some(record);
        }
    }

    /// The shown step's own record, waiting for its replays if need be.
    fn settle_record(&mut self) {
        while self.replaying.is_some() {
            self.poll_replay(true);
        }
    }

    /// Back to step 0 of a new session (or none): the records shown,
    /// replayed or spare were the old one's.
    fn forget_records(&mut self) {
        self.shown = 0;
        self.replayed = None;
        self.replaying = None;
        self.spare_record = None;
    }

    /// The parameters of the shown step: from the history, or when it no
    /// longer has them, from the shown step's replay (`None` until it lands).
    #[must_use]
    pub fn shown_params(&self) -> Option<&[f64]> {
        params_of(
            self.session.as_ref()?,
            (self.replayed.as_ref(), &self.replayed_params),
            self.shown,
        )
    }

    /// The record the derivation panel and the plots show: the shown step's,
    /// or on large data, while an earlier step is replayed in the
    /// background, the one shown before (its `step` says which).
    #[must_use]
    pub fn shown_record(&self) -> Option<&StepRecord> {
        self.data.as_ref()?;
        Some(record_of(
            self.session.as_ref()?,
            self.replayed.as_ref(),
            self.shown,
        ))
    }

    fn file_row_ui(&mut self, ui: &mut egui::Ui) {
        ui.horizontal_wrapped(|ui| {
            ui.menu_button("Open", |ui| {
                if ui.button("CSV file…  (Ctrl+O)").clicked() {
                    self.open_dialog();
                }
                ui.separator();
                ui.label("Examples");
                for (i, e) in EXAMPLES.iter().enumerate() {
                    if ui.button(e.name).clicked() {
                        self.commands.push(Command::LoadExample(i));
                    }
                }
                if !self.settings.recent.is_empty() {
                    ui.separator();
                    ui.label("Recent");
                    for p in &self.settings.recent {
                        if ui.button(p.display().to_string()).clicked() {
                            self.commands.push(Command::LoadFile(p.clone()));
                        }
                    }
                }
            });
            ui.menu_button("Theme", theme_menu_ui);
            ui.menu_button("Export", |ui| {
                if ui.button("Plots as PNG…").clicked()
                    && let Some(p) = self.save_dialog("plots.png", "PNG", "png")
                {
                    self.commands.push(Command::ExportPlotPng(p));
                }
                if ui.button("Trajectory as CSV…").clicked()
                    && let Some(p) = self.save_dialog("trajectory.csv", "CSV", "csv")
                {
                    self.commands.push(Command::ExportTrajectory(p));
                }
                if ui.button("Derivation as Markdown…").clicked()
                    && let Some(p) = self.save_dialog("derivation.md", "Markdown", "md")
                {
                    self.commands
                        .push(Command::ExportDerivation(p, Format::Markdown));
                }
                if ui.button("Derivation as LaTeX…").clicked()
                    && let Some(p) = self.save_dialog("derivation.tex", "LaTeX", "tex")
                {
                    self.commands
                        .push(Command::ExportDerivation(p, Format::Latex));
                }
                if ui.button("Copy derivation (Markdown)").clicked()
                    && let Some(s) = &self.session
                {
                    let text = export::derivation(
                        s.algorithm().id(),
                        &s.algorithm().derivation(),
                        Format::Markdown,
                        self.shown_record(),
                    );
                    ui.ctx().copy_text(text);
                    self.notice = Some(format!(
                        "copied the derivation of step {} to the clipboard (Markdown)",
                        self.shown
                    ));
                }
            });
            if ui.button("Help").clicked() {
                self.commands.push(Command::ToggleHelp);
            }
            ui.separator();
            let mut selected = self.settings.algorithm.clone();
            egui::ComboBox::from_label("Algorithm")
                .selected_text(&selected)
                .show_ui(ui, |ui| {
                    for e in algorithms::REGISTRY {
                        ui.selectable_value(&mut selected, e.id.to_string(), e.id)
                            .on_hover_text(e.summary);
                    }
                });
            if selected != self.settings.algorithm {
                self.commands.push(Command::SelectAlgorithm(selected));
            }
            ui.label(egui::RichText::new(&self.source).weak());
        });
        if let Some(loading) = &self.loading {
            ui.horizontal(|ui| {
                ui.add(
                    egui::ProgressBar::new(loading.progress.fraction())
                        .text(format!("loading {}", loading.path.display()))
                        .desired_width(400.0),
                );
                if ui.button("Cancel").clicked() {
                    self.commands.push(Command::CancelLoad);
                }
            });
        }
    }

    fn open_dialog(&mut self) {
        match rfd::FileDialog::new()
            .add_filter("CSV", &["csv", "tsv", "txt"])
            .pick_file()
        {
            Some(path) => self.commands.push(Command::LoadFile(path)),
            None => {
                if let Some(e) =
                    no_file_dialog("drop a CSV file on the window or start with --data FILE")
                {
                    self.error = Some(e);
                }
            }
        }
    }

    /// The save dialog for an export, opening where the last one went.
    fn save_dialog(&mut self, name: &str, kind: &str, ext: &str) -> Option<PathBuf> {
        let mut dialog = rfd::FileDialog::new()
            .set_file_name(name)
            .add_filter(kind, &[ext]);
        if let Some(dir) = self.settings.export_dir.clone().or_else(std::env::home_dir) {
            dialog = dialog.set_directory(dir);
        }
        let path = dialog.save_file();
        match &path {
            Some(p) => self.settings.export_dir = p.parent().map(PathBuf::from),
            None => {
                if let Some(e) = no_file_dialog("exports need one") {
                    self.error = Some(e);
                }
            }
        }
        path
    }

    fn step_buttons_ui(&mut self, ui: &mut egui::Ui) {
        if ui
            .button("Reset")
            .on_hover_text("Back to step 0 (R)")
            .clicked()
        {
            self.commands.push(Command::Reset);
        }
        if ui
            .button("Back")
            .on_hover_text("Show the previous step (←)")
            .clicked()
        {
            self.commands.push(Command::StepBack);
        }
        if ui
            .button("Step")
            .on_hover_text("Apply one update (→)")
            .clicked()
        {
            self.commands.push(Command::Step(1));
        }
        if ui.button("Step ×10").clicked() {
            self.commands.push(Command::Step(10));
        }
        if ui.button("Step ×100").clicked() {
            self.commands.push(Command::Step(100));
        }
        let label = if self.running || self.steps_left > 0 {
            "Pause"
        } else {
            "Run"
        };
        // One width for both words, so the row does not shift.
        if ui
            .add(egui::Button::new(label).min_size(egui::vec2(52.0, 0.0)))
            .on_hover_text("Run or pause (Space)")
            .clicked()
        {
            self.commands.push(Command::ToggleRun);
        }
    }

    fn run_controls_ui(&mut self, ui: &mut egui::Ui) {
        ui.horizontal_wrapped(|ui| {
            // Without a model there is nothing to step: the buttons say so.
            ui.add_enabled_ui(self.session.is_some(), |ui| self.step_buttons_ui(ui));
            ui.add(
                egui::Slider::new(&mut self.settings.steps_per_second, 1.0..=1000.0)
                    .logarithmic(true)
                    .text("steps/s"),
            );
            if let Some(session) = &self.session
                && let Some(lr) = session.algorithm().learning_rate()
            {
                let mut value = lr;
                let card = self.step_size_card();
                let bound = card.as_ref().map(|c| c.stable_below);
                // The bound beside the slider, where a narrow window wraps it.
                let note = match &card {
                    None => None,
                    // Said before the run diverges, not only after.
                    Some(c) if lr > c.stable_below => Some(
                        egui::RichText::new(format!(
                            "(above 2/L = {}: {})",
                            export::format_number(c.stable_below),
                            if c.exact {
                                "the steps will grow until they diverge"
                            } else {
                                "the steps may overshoot and diverge"
                            }
                        ))
                        .color(super::theme::WARNING),
                    ),
                    Some(c) => Some(egui::RichText::new(format!(
                        "(stable below 2/L = {})",
                        export::format_number(c.stable_below)
                    ))),
                };
                let response = ui.add(
                    egui::Slider::new(&mut value, 1e-5..=10.0)
                        .logarithmic(true)
                        .text("learning rate η"),
                );
                if let Some(note) = note {
                    ui.label(note);
                }
                if let Some(b) = bound {
                    // Mark 2/L on the log slider.
                    let rect = response.rect;
                    let slider_width = ui.spacing().slider_width;
                    let frac =
                        ((b.ln() - 1e-5f64.ln()) / (10f64.ln() - 1e-5f64.ln())).clamp(0.0, 1.0);
                    #[allow(clippy::cast_possible_truncation)]
                    let x = rect.left() + (frac as f32) * slider_width;
                    ui.painter().vline(
                        x,
                        rect.y_range(),
                        egui::Stroke::new(2.0, super::theme::WARNING),
                    );
                }
                if response.changed() {
                    self.commands.push(Command::SetLearningRate(value));
                }
            }
        });
    }

    fn status_ui(&mut self, ui: &mut egui::Ui) {
        if let Some(session) = &self.session {
            let latest = session.step_count();
            let mut t = self.shown;
            if ui
                .add(egui::Slider::new(&mut t, 0..=latest.max(1)).text("timeline (step)"))
                .changed()
            {
                self.commands.push(Command::Show(t.min(latest)));
            }
            let snap = session.history().get(self.shown.min(latest));
            let mut status = format!(
                "step {} of {latest}    loss {}",
                self.shown,
                snap.map_or_else(String::new, |s| export::format_number(s.loss))
            );
            if self.steps_left > 0 {
                let _ = write!(status, "    {} more to take", self.steps_left);
            }
            if let Some(g) = snap.and_then(|s| s.grad_norm) {
                let _ = write!(status, "    gradient norm {}", export::format_number(g));
            }
            if session.stride() > 1 {
                let _ = write!(
                    status,
                    "    older steps keep their parameters every {} steps, to save memory",
                    session.stride()
                );
            }
            if let Some(stop) = session
                .stop()
                .filter(|s| s.kind != crate::session::StopKind::MaxSteps)
            {
                let _ = write!(status, "    stopped: {}", stop.message);
            }
            ui.label(status);
            if let Some(warning) = self.shown_record().and_then(flat_units_warning) {
                ui.colored_label(super::theme::WARNING, warning);
            }
        }
        if self.building.is_some() {
            ui.horizontal(|ui| {
                ui.spinner();
                ui.label("preparing the data…");
            });
        }
        if let Some(e) = &self.error {
            ui.colored_label(super::theme::ERROR, e);
        } else if let Some(n) = &self.notice {
            ui.label(egui::RichText::new(n).weak());
        }
    }

    fn derivation_ui(&mut self, ui: &mut egui::Ui) {
        let Some(session) = &self.session else {
            ui.label("Load data that fits the algorithm to see its derivation.");
            return;
        };
        // The session's own algorithm: while another one is being built,
        // the panel still shows this one's derivation.
        ui.heading(format!("Derivation: {}", session.algorithm().id()));
        // While an earlier step is replayed in the background, the numbers
        // are still those of the step shown before.
        let numbers = self.shown_record().map_or(self.shown, |r| r.step);
        ui.horizontal(|ui| {
            ui.label(egui::RichText::new(format!("numbers of step {numbers}")).weak());
            if numbers != self.shown && self.replaying.is_some() {
                ui.spinner();
                ui.label(egui::RichText::new(format!("replaying step {}", self.shown)).weak());
            }
        });
        let card = self.step_size_card();
        let mut chosen_rate = None;
        // Hovering a formula or a value lights up what it refers to in the plots.
        let mut hovered: Vec<&'static str> = Vec::new();
        // What was pointed at in the last frame lights its terms in every formula.
        let lit = std::mem::take(&mut self.view.highlight);
        let steps = session.algorithm().derivation();
        let symbols = algorithms::derivation_symbols(&steps);
        egui::ScrollArea::vertical()
            .id_salt("derivation-scroll")
            .show(ui, |ui| {
                for (i, step) in steps.iter().enumerate() {
                    egui::CollapsingHeader::new(format!("{}. {}", i + 1, step.title))
                        .default_open(!step.is_aside())
                        .show(ui, |ui| {
                            ui.label(step.sentence);
                            let formula =
                                super::formula::formula_ui(ui, step.latex, &symbols, &lit);
                            if let Some(term) = formula.term {
                                // One term: what it names, with its value.
                                hovered.push(term.id);
                                let value = self.shown_record().and_then(|r| r.get(term));
                                let text = match value {
                                    Some(v) => format!(
                                        "{}\n{} = {}",
                                        term.meaning,
                                        plain_text(term.latex),
                                        export::format_entries(v, 16)
                                    ),
                                    None => term.meaning.to_string(),
                                };
                                let text = super::theme::marked(ui, &text);
                                formula.response.on_hover_text(text);
                            } else if formula.response.hovered() {
                                // The whole step lights up in the plots; no
                                // tooltip (its raw LaTeX covered the numbers).
                                hovered.extend(step.shows.iter().map(|s| s.id));
                            }
                            if let Some(record) = self.shown_record() {
                                for symbol in step.shows {
                                    if let Some(value) = record.get(*symbol) {
                                        let mut text = format!(
                                            "{} = {}",
                                            plain_text(symbol.latex),
                                            export::format_value(value, export::SHOWN_ENTRIES)
                                        );
                                        // A row index, with the file's line
                                        // (the preview's key).
                                        if let Some(line) = (symbol.id == "sample")
                                            .then(|| value.as_scalar())
                                            .flatten()
                                            .and_then(|i| self.line_of_row(i))
                                        {
                                            let _ = write!(text, " (line {line})");
                                        }
                                        let label = ui
                                            .label(super::theme::marked(ui, &text))
                                            .on_hover_text(format!(
                                                "{}\n{}",
                                                symbol.meaning,
                                                export::format_entries(
                                                    value,
                                                    export::LISTED_ENTRIES
                                                )
                                            ));
                                        if label.hovered() {
                                            hovered.push(symbol.id);
                                        }
                                    }
                                }
                            }
                        });
                }
                if let Some(card) = &card {
                    ui.separator();
                    chosen_rate = super::step_size_card_ui(ui, card);
                }
            });
        if let Some(lr) = chosen_rate {
            self.commands.push(Command::SetLearningRate(lr));
        }
        self.view.highlight = hovered;
    }

    fn model_ui(&mut self, ui: &mut egui::Ui) {
        let Some(entry) = algorithms::entry(&self.settings.algorithm) else {
            return;
        };
        let pending = self.hyper_draft.is_some();
        let mut draft = self
            .hyper_draft
            .take()
            .unwrap_or_else(|| self.settings.hyper());
        let shape = self.data.as_deref().map(|d| (d.n_rows(), d.n_features()));
        let edited = egui::CollapsingHeader::new(format!("Model: {}", entry.id))
            .id_salt("model")
            .default_open(true)
            .show(ui, |ui| {
                model_panel::model_panel_ui(ui, entry, &mut draft, shape)
            })
            .body_returned
            .unwrap_or(false);
        if edited || pending {
            if ui.ctx().dragged_id().is_some() {
                self.hyper_draft = Some(draft);
            } else if draft != self.settings.hyper() {
                self.commands.push(Command::SetHyper(Box::new(draft)));
            }
        }
        ui.separator();
    }

    fn step_size_card(&self) -> Option<algorithms::conditioning::StepSizeCard> {
        let entry = algorithms::entry(&self.settings.algorithm)?;
        let hyper = self.settings.hyper();
        if !algorithms::conditioning::bounds_rate(entry.optimizer(&hyper)) {
            return None;
        }
        self.curvature
            .as_ref()?
            .card(entry.id, hyper.l2.unwrap_or(entry.default_l2))
    }

    fn help_ui(&mut self, ctx: &egui::Context) {
        let mut open = self.help;
        // In the middle, not over the buttons under the Help button.
        egui::Window::new("Help")
            .open(&mut open)
            .pivot(egui::Align2::CENTER_CENTER)
            .default_pos(ctx.content_rect().center())
            .show(ctx, |ui| {
                ui.label("Space: run / pause");
                ui.label("→: one step      ←: show the previous step");
                ui.label("R: reset to step 0      Ctrl+O: open a CSV file");
                ui.label("Drop a CSV file on the window to open it.");
                ui.separator();
                ui.label(
                    "The derivation panel shows the numbers of the step selected on the timeline.",
                );
                ui.label("Hover a value to see all of it.");
            });
        self.help = open;
    }

    fn keyboard(&mut self, ctx: &egui::Context) {
        // Keys go to the app only when no text field has focus.
        if ctx.memory(|m| m.focused().is_some()) {
            return;
        }
        ctx.input(|i| {
            if i.key_pressed(egui::Key::Space) {
                self.commands.push(Command::ToggleRun);
            }
            if i.key_pressed(egui::Key::ArrowRight) {
                self.commands.push(Command::Step(1));
            }
            if i.key_pressed(egui::Key::ArrowLeft) {
                self.commands.push(Command::StepBack);
            }
            if i.key_pressed(egui::Key::R) && !i.modifiers.command {
                self.commands.push(Command::Reset);
            }
            for file in &i.raw.dropped_files {
                self.commands
                    .push(Command::LoadFile(file.path().to_path_buf()));
            }
        });
        if ctx.input_mut(|i| i.consume_key(egui::Modifiers::COMMAND, egui::Key::O)) {
            self.open_dialog();
        }
    }

    /// Draws one frame and applies the commands it produced.
    pub fn frame_ui(&mut self, ui: &mut egui::Ui) {
        let began = Instant::now();
        if !self.fonts_installed {
            super::theme::install_fonts(ui.ctx());
            self.fonts_installed = true;
        }
        self.poll_loading(false);
        self.poll_building(false);
        self.poll_replay(false);
        self.keyboard(ui.ctx());
        egui::Panel::top("controls").show(ui, |ui| {
            self.file_row_ui(ui);
            self.run_controls_ui(ui);
            self.status_ui(ui);
        });
        // The side panels leave the plots at least a third of the width
        // (at 1024 points their fixed widths left the plots 120; at most
        // 35% and 45% of a window shrunk to 800 left them 160).
        let width = ui.available_width();
        egui::Panel::left("data")
            .default_size(330f32.min(width * 0.27))
            .max_size(width * 0.3)
            .show(ui, |ui| {
                // The settings scroll in at most two thirds of the panel;
                // the preview takes the rest.
                egui::ScrollArea::vertical()
                    .id_salt("settings-scroll")
                    .max_height(ui.available_height() * 2.0 / 3.0)
                    .show(ui, |ui| {
                        self.model_ui(ui);
                        if let Some(table) = &self.table {
                            data_panel::data_panel_ui(
                                ui,
                                table,
                                &self.summaries,
                                &self.roles,
                                &self.settings,
                                self.data.as_deref(),
                                &mut self.commands,
                            );
                        }
                    });
                if let Some(table) = &self.table {
                    ui.separator();
                    data_panel::preview_ui(ui, table);
                }
            });
        egui::Panel::right("derivation")
            .default_size(460f32.min(width * 0.34))
            .max_size(width * 0.36)
            .show(ui, |ui| self.derivation_ui(ui));
        egui::CentralPanel::default().show(ui, |ui| {
            self.plot_rect = ui.max_rect();
            if let (Some(session), Some(data)) = (&self.session, &self.data) {
                let record = Some(record_of(session, self.replayed.as_ref(), self.shown));
                let replayed = (self.replayed.as_ref(), self.replayed_params.as_slice());
                let params = params_of(session, replayed, self.shown);
                self.view
                    .ui(ui, data, session, record, (self.shown, params));
            }
        });
        self.help_ui(ui.ctx());
        self.screenshot(ui.ctx());
        if self.loading.is_some() {
            ui.ctx()
                .request_repaint_after(std::time::Duration::from_millis(50));
        }
        // A build or a replay on its thread lands at the first frame after
        // it ends (soon, not at once: a test harness runs until no frame is
        // asked for at once).
        if self.building.is_some() || self.replaying.is_some() {
            ui.ctx()
                .request_repaint_after(std::time::Duration::from_millis(8));
        }
        // Before the commands: a Step among them takes steps here.
        self.ui_cost = began.elapsed();
        for command in std::mem::take(&mut self.commands) {
            self.apply(command);
        }
    }

    /// Runs steps within a per-frame time budget while playing: fast
    /// steps in the frame, slow ones ([`BACKGROUND_STEP`]) on a thread of
    /// their own, collected by the first frame after they end.
    pub fn run_budget(&mut self, dt: f64) {
        self.collect(false);
        // The pace's credit builds up while steps are out too: a frame that
        // collects them goes on at once (it used to wait for one more step's
        // worth, and an MLP on a million rows ran at half the pace it could).
        let rate = self.settings.steps_per_second;
        if self.running {
            self.run_credit = (self.run_credit + dt * rate).min(rate.max(1.0));
        }
        if self.job.is_some() {
            return;
        }
        if self.steps_left > 0 {
            // More of a Step ×N: in the frame while the budget lasts, slow
            // steps on a thread of their own.
            let left = std::mem::take(&mut self.steps_left);
            self.step(left);
            return;
        }
        if !self.running {
            return;
        }
        let (began, budget) = (Instant::now(), in_frame_budget(STEP_BUDGET, self.ui_cost));
        while self.run_credit >= 1.0 && self.running && began.elapsed() < budget {
            self.run_credit -= 1.0;
            // A view of the past moves forward in the frame, as Step does.
            let at_latest = self
                .session
                .as_ref()
                .is_some_and(|s| self.shown >= s.step_count());
            if at_latest && self.next_step_is_slow() {
                // As many as the pace has asked for by now (the credit that
                // built up while the last ones ran), within the job budget.
                let mut most = 1;
                while self.run_credit >= 1.0 {
                    self.run_credit -= 1.0;
                    most += 1;
                }
                self.step_in_background(most, self.job_budget);
                return;
            }
            self.step(1);
        }
    }

    /// The steps of a Step ×N still to take (see [`STEP_BUDGET`]).
    #[must_use]
    pub fn steps_left(&self) -> usize {
        self.steps_left
    }

    /// Sets how long a Step ×N takes steps in its frame, on data of at
    /// least `from_rows` rows (default [`STEP_BUDGET`] from [`DEFER_ROWS`]).
    pub fn set_step_budget(&mut self, budget: Duration, from_rows: usize) {
        self.step_budget = (budget, from_rows);
    }

    /// Sets how long a thread takes a Step ×N's slow steps for (default
    /// [`JOB_BUDGET`]; zero takes one step a thread).
    pub fn set_job_budget(&mut self, budget: Duration) {
        self.job_budget = budget;
    }

    /// Sets the memory the history may take (default [`HISTORY_BYTES`]),
    /// from the current run on.
    pub fn set_history_budget(&mut self, bytes: usize) {
        self.history_bytes = bytes;
        if let Some(session) = &mut self.session {
            session.keep_within(bytes);
        }
    }

    /// Sets from how many rows a table's dataset and session are rebuilt
    /// on a thread of their own (default [`DEFER_ROWS`]; zero: always).
    pub fn set_build_rows(&mut self, rows: usize) {
        self.build_rows = rows;
    }

    /// Whether a dataset and session are being built in the background.
    #[must_use]
    pub fn is_building(&self) -> bool {
        self.building.is_some()
    }

    /// Whether a step is running in the background.
    #[must_use]
    pub fn stepping_in_background(&self) -> bool {
        self.job.is_some()
    }

    /// Sets how slow a step must be for the next ones to run in the
    /// background while running (default [`BACKGROUND_STEP`]; zero sends
    /// every running step there).
    pub fn set_background_after(&mut self, slower_than: Duration) {
        self.background_after = slower_than;
    }
}

impl App {
    /// Asks for a screenshot when a PNG export is pending, and reports the last one.
    fn screenshot(&mut self, ctx: &egui::Context) {
        if let Ok(mut slot) = self.png_result.lock()
            && let Some(result) = slot.take()
        {
            match result {
                Ok(notice) => self.notice = Some(notice),
                Err(e) => self.error = Some(e),
            }
        }
        let Some(path) = self.pending_png.take() else {
            return;
        };
        let rect = self.plot_rect;
        let ppp = ctx.pixels_per_point();
        let slot = Arc::clone(&self.png_result);
        let repaint = ctx.clone();
        ctx.request_screenshot(move |image| {
            let crop = image.region(&rect, Some(ppp));
            let [w, h] = crop.size;
            let rgba: Vec<u8> = crop
                .pixels
                .iter()
                .flat_map(egui::Color32::to_array)
                .collect();
            let result = u32::try_from(w)
                .ok()
                .zip(u32::try_from(h).ok())
                .ok_or_else(|| "the plot area is too large".to_string())
                .and_then(|(w, h)| export::write_png(&path, w, h, &rgba))
                .map(|()| format!("saved {}", path.display()));
            if let Ok(mut s) = slot.lock() {
                *s = Some(result);
            }
            repaint.request_repaint();
        });
    }
}

/// Why a cancelled file dialog may not have opened at all, with `remedy`:
/// on Linux, without a session bus (for the desktop portal) or zenity, rfd
/// shows nothing and reports a cancel.
fn no_file_dialog(remedy: &str) -> Option<String> {
    let zenity = std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|dir| dir.join("zenity").is_file()));
    (cfg!(target_os = "linux") && std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_none() && !zenity)
        .then(|| {
            format!(
                "no file dialog can open here (it needs the desktop portal or zenity); {remedy}"
            )
        })
}

impl eframe::App for App {
    fn logic(&mut self, ctx: &egui::Context, _frame: &mut eframe::Frame) {
        let dt = f64::from(ctx.input(|i| i.stable_dt)).min(0.1);
        self.run_budget(dt);
        if self.running || self.steps_left > 0 || self.job.is_some() {
            ctx.request_repaint();
        }
    }

    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        self.frame_ui(ui);
    }

    fn save(&mut self, storage: &mut dyn eframe::Storage) {
        eframe::set_value(storage, eframe::APP_KEY, &self.settings);
    }
}

/// The theme choices, in words: egui's own buttons are emoji icons, which
/// the bundled fonts lack.
fn theme_menu_ui(ui: &mut egui::Ui) {
    let mut preference = ui.options(|o| o.theme_preference);
    for (choice, label) in [
        (egui::ThemePreference::System, "Follow the system"),
        (egui::ThemePreference::Dark, "Dark"),
        (egui::ThemePreference::Light, "Light"),
    ] {
        ui.radio_value(&mut preference, choice, label);
    }
    ui.ctx().set_theme(preference);
}

/// A warning when most hidden activations of the shown step are flat (the
/// MLP's recorded share of slopes below 0.01): the error no longer reaches
/// the first layer, the usual sign of a too large step or target scale.
fn flat_units_warning(record: &StepRecord) -> Option<String> {
    let share = record.get_id("saturated")?.as_scalar()?;
    (share > 0.9).then(|| {
        format!(
            "{:.0}% of the hidden activations are flat (slope f′ below 0.01), so almost no error reaches the first layer and it stops learning: try a smaller learning rate, or a target in smaller units.",
            share * 100.0
        )
    })
}

/// Step `shown`'s record: the session's latest, or the replayed one (the
/// latest until there is one: a replay in the background, or one that failed).
fn record_of<'a>(
    session: &'a Session,
    replayed: Option<&'a StepRecord>,
    shown: usize,
) -> &'a StepRecord {
    match replayed {
        Some(record) if shown < session.step_count() => record,
        _ => session.latest(),
    }
}

/// Step `shown`'s parameters: the history's, or when it no longer has them,
/// those of the replayed record if it is that step's.
fn params_of<'a>(
    session: &'a Session,
    (replayed, params): (Option<&StepRecord>, &'a [f64]),
    shown: usize,
) -> Option<&'a [f64]> {
    session
        .params_at(shown)
        .or_else(|| replayed.is_some_and(|r| r.step == shown).then_some(params))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fast_steps_get_what_the_interface_leaves_of_a_frame() {
        let ms = Duration::from_millis;
        // A light interface leaves the whole budget.
        assert_eq!(in_frame_budget(STEP_BUDGET, ms(2)), STEP_BUDGET);
        // 8 ms of interface: 16.667 − 12 − 3 ms.
        assert_eq!(
            in_frame_budget(STEP_BUDGET, ms(8)),
            Duration::from_micros(1_667)
        );
        // An interface that fills the frame leaves the least.
        assert_eq!(in_frame_budget(STEP_BUDGET, ms(20)), MIN_STEP_BUDGET);
        // Never more than asked for (a test's zero budget stays zero).
        assert_eq!(in_frame_budget(Duration::ZERO, ms(2)), Duration::ZERO);
    }
}
