//! The app: the dataset, the session, the controls and the panels; side
//! effects are collected as [`Command`]s while drawing and applied once per frame.

use crate::algorithms::{self, Hyper, StepRecord};
use crate::data::{Dataset, MissingPolicy, Selection, Table, parse_table, read_table};
use crate::export;
use crate::session::Session;
use std::fmt::Write as _;
use std::path::PathBuf;

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
        name: "blobs.csv",
        csv: include_str!("../../assets/examples/blobs.csv"),
        algorithm: "k-means",
    },
];

/// Everything the panels ask for; applied by [`App::apply`] after drawing.
#[derive(Debug, Clone, PartialEq)]
#[must_use]
pub enum Command {
    /// Load a CSV file (what the file dialog and drag and drop send).
    LoadFile(PathBuf),
    /// Load a bundled example by index.
    LoadExample(usize),
    /// Choose an algorithm by id (resets the run).
    SelectAlgorithm(String),
    /// Apply `n` updates.
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
    /// Toggle standardization (reloads the selection).
    SetStandardize(bool),
}

/// The application state.
pub struct App {
    table: Option<Table>,
    source: String,
    data: Option<Dataset>,
    session: Option<Session>,
    algorithm: String,
    hyper: Hyper,
    standardize: bool,
    /// The step shown (≤ the latest step).
    shown: usize,
    shown_record: Option<StepRecord>,
    running: bool,
    steps_per_second: f64,
    run_credit: f64,
    error: Option<String>,
    x_feature: usize,
    commands: Vec<Command>,
    fonts_installed: bool,
}

impl Default for App {
    fn default() -> Self {
        Self::new()
    }
}

impl App {
    /// The app on the first bundled example, linear regression ready to step.
    #[must_use]
    pub fn new() -> Self {
        let mut app = Self {
            table: None,
            source: String::new(),
            data: None,
            session: None,
            algorithm: "linear-regression".into(),
            hyper: Hyper::default(),
            standardize: true,
            shown: 0,
            shown_record: None,
            running: false,
            steps_per_second: 20.0,
            run_credit: 0.0,
            error: None,
            x_feature: 0,
            commands: Vec::new(),
            fonts_installed: false,
        };
        app.apply(Command::LoadExample(0));
        app
    }

    /// The current session, if the data fits the algorithm.
    #[must_use]
    pub fn session(&self) -> Option<&Session> {
        self.session.as_ref()
    }

    /// The loaded dataset.
    #[must_use]
    pub fn data(&self) -> Option<&Dataset> {
        self.data.as_ref()
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
        &self.algorithm
    }

    /// Applies one command.
    pub fn apply(&mut self, command: Command) {
        match command {
            Command::LoadFile(path) => match read_table(&path) {
                Ok(table) => self.set_table(table, path.display().to_string()),
                Err(e) => self.error = Some(e.to_string()),
            },
            Command::LoadExample(i) => {
                let Some(example) = EXAMPLES.get(i) else {
                    return;
                };
                match parse_table(example.csv.as_bytes(), example.name) {
                    Ok(table) => {
                        if algorithms::entry(example.algorithm).is_some() {
                            self.algorithm = example.algorithm.into();
                        }
                        self.set_table(table, example.name.into());
                    }
                    Err(e) => self.error = Some(e.to_string()),
                }
            }
            Command::SelectAlgorithm(id) => {
                if algorithms::entry(&id).is_none() {
                    self.error = Some(format!(
                        "unknown algorithm '{id}'; choose one of: {}",
                        algorithms::ids()
                    ));
                    return;
                }
                self.algorithm = id;
                self.rebuild();
            }
            Command::SetStandardize(on) => {
                self.standardize = on;
                self.rebuild();
            }
            Command::Step(n) => {
                if let (Some(session), Some(data)) = (&mut self.session, &self.data) {
                    if self.shown < session.step_count() {
                        self.shown = (self.shown + n).min(session.step_count());
                    } else {
                        for _ in 0..n {
                            if !session.step(data) {
                                self.running = false;
                                break;
                            }
                        }
                        self.shown = session.step_count();
                    }
                }
                self.refresh_record();
            }
            Command::StepBack => {
                self.shown = self.shown.saturating_sub(1);
                self.running = false;
                self.refresh_record();
            }
            Command::Show(t) => {
                self.shown = t;
                self.refresh_record();
            }
            Command::ToggleRun => self.running = !self.running && self.session.is_some(),
            Command::Reset => {
                self.running = false;
                self.rebuild();
            }
            Command::SetLearningRate(lr) => {
                self.hyper.learning_rate = Some(lr);
                if let Some(session) = &mut self.session {
                    session.set_learning_rate(lr);
                }
            }
        }
    }

    fn set_table(&mut self, table: Table, source: String) {
        let previous = (self.table.take(), std::mem::take(&mut self.source));
        self.table = Some(table);
        self.source = source;
        self.x_feature = 0;
        if !self.rebuild() {
            // Keep the previous data when the new file cannot be used.
            let message = self.error.clone();
            self.table = previous.0;
            self.source = previous.1;
            self.rebuild();
            self.error = message;
        }
    }

    /// Rebuilds the dataset and the session from the table and the choices.
    /// Returns false (with the error set) when they do not fit.
    fn rebuild(&mut self) -> bool {
        self.running = false;
        self.shown = 0;
        self.shown_record = None;
        let Some(table) = &self.table else {
            return false;
        };
        let Some(entry) = algorithms::entry(&self.algorithm) else {
            return false;
        };
        let selection = Selection {
            target: entry
                .supervised
                .then(|| table.names.last().cloned())
                .flatten(),
            features: None,
            standardize: self.standardize,
            missing: MissingPolicy::Drop,
            target_is_class: entry.classifies,
        };
        let result = Dataset::from_table(table, &selection)
            .map_err(|e| e.to_string())
            .and_then(|data| {
                let algorithm = (entry.create)(&self.hyper).map_err(|e| e.to_string())?;
                let session = Session::new(algorithm, &data).map_err(|e| e.to_string())?;
                Ok((data, session))
            });
        match result {
            Ok((data, session)) => {
                self.data = Some(data);
                self.session = Some(session);
                self.error = None;
                self.refresh_record();
                true
            }
            Err(e) => {
                self.error = Some(e);
                self.session = None;
                false
            }
        }
    }

    fn refresh_record(&mut self) {
        self.shown_record = match (&self.session, &self.data) {
            (Some(s), Some(d)) => s.record_at(d, self.shown.min(s.step_count())),
            _ => None,
        };
    }

    fn controls_ui(&mut self, ui: &mut egui::Ui) {
        ui.horizontal_wrapped(|ui| {
            ui.menu_button("Examples", |ui| {
                for (i, e) in EXAMPLES.iter().enumerate() {
                    if ui.button(e.name).clicked() {
                        self.commands.push(Command::LoadExample(i));
                    }
                }
            });
            if ui.button("Open CSV…").on_hover_text("Ctrl+O").clicked()
                && let Some(path) = rfd::FileDialog::new()
                    .add_filter("CSV", &["csv", "tsv", "txt"])
                    .pick_file()
            {
                self.commands.push(Command::LoadFile(path));
            }
            ui.label(&self.source);
            ui.separator();
            let mut selected = self.algorithm.clone();
            egui::ComboBox::from_label("Algorithm")
                .selected_text(&selected)
                .show_ui(ui, |ui| {
                    for e in algorithms::REGISTRY {
                        ui.selectable_value(&mut selected, e.id.to_string(), e.id)
                            .on_hover_text(e.summary);
                    }
                });
            if selected != self.algorithm {
                self.commands.push(Command::SelectAlgorithm(selected));
            }
            let mut standardize = self.standardize;
            if ui.checkbox(&mut standardize, "Standardize").changed() {
                self.commands.push(Command::SetStandardize(standardize));
            }
        });
        self.run_controls_ui(ui);
        self.status_ui(ui);
    }

    fn run_controls_ui(&mut self, ui: &mut egui::Ui) {
        ui.horizontal_wrapped(|ui| {
            if ui.button("Reset").on_hover_text("R").clicked() {
                self.commands.push(Command::Reset);
            }
            if ui.button("Back").on_hover_text("←").clicked() {
                self.commands.push(Command::StepBack);
            }
            if ui.button("Step").on_hover_text("→").clicked() {
                self.commands.push(Command::Step(1));
            }
            if ui.button("Step ×10").clicked() {
                self.commands.push(Command::Step(10));
            }
            if ui.button("Step ×100").clicked() {
                self.commands.push(Command::Step(100));
            }
            let label = if self.running { "Pause" } else { "Run" };
            if ui.button(label).on_hover_text("Space").clicked() {
                self.commands.push(Command::ToggleRun);
            }
            ui.add(
                egui::Slider::new(&mut self.steps_per_second, 1.0..=500.0)
                    .logarithmic(true)
                    .text("steps/s"),
            );
            if let (Some(session), Some(data)) = (&self.session, &self.data)
                && let Some(lr) = session.algorithm().learning_rate()
            {
                let mut value = lr;
                let bound = session.algorithm().stability_bound(data);
                let text = bound.map_or_else(
                    || "η".to_string(),
                    |b| format!("η (2/L = {})", export::format_number(b)),
                );
                if ui
                    .add(
                        egui::Slider::new(&mut value, 1e-4..=10.0)
                            .logarithmic(true)
                            .text(text),
                    )
                    .changed()
                {
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
                .add(egui::Slider::new(&mut t, 0..=latest.max(1)).text("step (timeline)"))
                .changed()
            {
                self.commands.push(Command::Show(t.min(latest)));
            }
            let snap = session.history().get(self.shown.min(latest));
            let mut status = format!(
                "step {} of {latest}   loss {}",
                self.shown,
                snap.map_or_else(String::new, |s| export::format_number(s.loss))
            );
            if let Some(g) = snap.and_then(|s| s.grad_norm) {
                let _ = write!(status, "   ‖∇J‖ {}", export::format_number(g));
            }
            if let Some(stop) = session.stop() {
                let _ = write!(status, "   stopped: {}", stop.message);
            }
            ui.label(status);
        }
        if let Some(e) = &self.error {
            ui.colored_label(egui::Color32::from_rgb(0xd0, 0x30, 0x30), e);
        }
    }

    fn derivation_ui(&self, ui: &mut egui::Ui) {
        let Some(session) = &self.session else {
            ui.label("Load data that fits the algorithm to see its derivation.");
            return;
        };
        ui.heading(format!("Derivation: {}", self.algorithm));
        egui::ScrollArea::vertical().show(ui, |ui| {
            for (i, step) in session.algorithm().derivation().iter().enumerate() {
                egui::CollapsingHeader::new(format!("{}. {}", i + 1, step.title))
                    .default_open(true)
                    .show(ui, |ui| {
                        ui.label(step.sentence);
                        ui.label(egui::RichText::new(step.latex).monospace().small());
                        if let Some(record) = &self.shown_record {
                            for symbol in step.shows {
                                if let Some(value) = record.get(*symbol) {
                                    ui.label(format!(
                                        "{} = {}",
                                        symbol.id,
                                        export::format_value(value)
                                    ))
                                    .on_hover_text(format!(
                                        "{}: {:?}",
                                        symbol.meaning,
                                        value.as_slice()
                                    ));
                                }
                            }
                        }
                    });
            }
        });
    }

    fn keyboard(&mut self, ctx: &egui::Context) {
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
            if i.key_pressed(egui::Key::R) {
                self.commands.push(Command::Reset);
            }
            for file in &i.raw.dropped_files {
                self.commands
                    .push(Command::LoadFile(file.path().to_path_buf()));
            }
        });
    }

    /// Draws one frame and applies the commands it produced.
    pub fn frame_ui(&mut self, ui: &mut egui::Ui) {
        if !self.fonts_installed {
            install_fonts(ui.ctx());
            self.fonts_installed = true;
        }
        self.keyboard(ui.ctx());
        egui::Panel::top("controls").show(ui, |ui| self.controls_ui(ui));
        egui::Panel::right("derivation")
            .default_size(480.0)
            .show(ui, |ui| self.derivation_ui(ui));
        egui::CentralPanel::default().show(ui, |ui| {
            if let (Some(session), Some(data)) = (&self.session, &self.data) {
                super::plots::plots_ui(
                    ui,
                    data,
                    session,
                    self.shown_record.as_ref(),
                    self.shown,
                    &mut self.x_feature,
                );
            }
        });
        for command in std::mem::take(&mut self.commands) {
            self.apply(command);
        }
    }

    /// Runs steps within a per-frame time budget while playing.
    pub fn run_budget(&mut self, dt: f64) {
        if !self.running {
            return;
        }
        self.run_credit = (self.run_credit + dt * self.steps_per_second).min(self.steps_per_second);
        let n = self.run_credit.floor();
        if n >= 1.0 {
            self.run_credit -= n;
            let budget = std::time::Instant::now();
            let mut done = 0;
            while f64::from(done) < n && budget.elapsed().as_secs_f64() < 0.008 {
                self.apply(Command::Step(1));
                done += 1;
                if !self.running {
                    break;
                }
            }
        }
    }
}

/// Adds DejaVu Sans after egui's fonts, for the math the sentences use
/// (subscripts, ‖, ∇, Σ) that the default fonts lack.
fn install_fonts(ctx: &egui::Context) {
    let mut fonts = egui::FontDefinitions::default();
    fonts.font_data.insert(
        "dejavu".into(),
        std::sync::Arc::new(egui::FontData::from_static(include_bytes!(
            "../../assets/fonts/DejaVuSans.ttf"
        ))),
    );
    for family in [egui::FontFamily::Proportional, egui::FontFamily::Monospace] {
        fonts
            .families
            .entry(family)
            .or_default()
            .push("dejavu".into());
    }
    ctx.set_fonts(fonts);
}

impl eframe::App for App {
    fn logic(&mut self, ctx: &egui::Context, _frame: &mut eframe::Frame) {
        let dt = f64::from(ctx.input(|i| i.stable_dt)).min(0.1);
        self.run_budget(dt);
        if self.running {
            ctx.request_repaint();
        }
    }

    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        self.frame_ui(ui);
    }
}
