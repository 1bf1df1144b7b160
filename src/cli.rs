//! The command line: `steplab run | derive | list`, and the GUI's launch options.
//!
//! Raw arguments are parsed by clap, then validated into the core's types;
//! every error reaches the user once, as one sentence on stderr.

use crate::algorithms::{self, Activation, Entry, Hyper};
use crate::data::{Dataset, MissingPolicy, Selection, one_line, read_table};
use crate::export::{self, Format};
use crate::optim::OptimizerKind;
use crate::session::Session;
use anyhow::{Context as _, anyhow, bail};
use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

/// Steplab: the math of each machine-learning update rule beside a live plot of it on your data.
#[derive(Debug, Parser)]
#[command(name = "steplab", version, about)]
pub struct Cli {
    /// Open the GUI on this CSV file.
    #[arg(long, global = false)]
    pub data: Option<PathBuf>,
    /// Open the GUI with this algorithm selected.
    #[arg(long)]
    pub algorithm: Option<String>,
    /// Open the GUI in the light or dark theme (default: the last one chosen, or the system's).
    #[arg(long, value_parser = ["light", "dark"])]
    pub theme: Option<String>,
    /// A headless command; without one the GUI opens.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Headless commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run an algorithm and write its steps as JSON to stdout.
    // `--l2 -1` is a value to refuse with a reason, not an unknown option.
    #[command(allow_negative_numbers = true)]
    Run(Box<RunArgs>),
    /// Print the derivation of an algorithm's update rule.
    Derive {
        /// Algorithm id (see `steplab list`).
        id: String,
        /// text, latex or markdown.
        #[arg(long, default_value = "text")]
        format: String,
        /// Show the derivation for this optimizer's update.
        #[arg(long)]
        optimizer: Option<String>,
    },
    /// List the algorithm ids with a one-line description.
    List,
}

/// `steplab run` options (SPEC section 4).
#[derive(Debug, Args, Clone, Default)]
#[allow(clippy::struct_excessive_bools)]
pub struct RunArgs {
    /// Algorithm id.
    #[arg(long)]
    pub algorithm: String,
    /// The CSV file.
    #[arg(long)]
    pub data: PathBuf,
    /// Target column (supervised algorithms; default: the last column).
    #[arg(long)]
    pub target: Option<String>,
    /// Feature columns, comma separated, a name holding a comma in double
    /// quotes ("b,x") (default: every numeric column but the target).
    #[arg(long, value_parser = column_list)]
    pub features: Option<Vec<ColumnList>>,
    /// Standardize each feature to mean 0, population std 1.
    #[arg(long)]
    pub standardize: bool,
    /// Number of updates.
    #[arg(long, default_value_t = 1000)]
    pub steps: usize,
    /// Learning rate.
    #[arg(long)]
    pub lr: Option<f64>,
    /// gd (or sgd), momentum, nesterov, adagrad, rmsprop, adam (newton for logistic-regression, pegasos for linear-svm).
    #[arg(long)]
    pub optimizer: Option<String>,
    /// Momentum coefficient (momentum, nesterov).
    #[arg(long)]
    pub momentum: Option<f64>,
    /// Adam's β₁.
    #[arg(long)]
    pub beta1: Option<f64>,
    /// Adam's β₂ (RMSprop's decay ρ).
    #[arg(long)]
    pub beta2: Option<f64>,
    /// Mini-batch size (default: full batch).
    #[arg(long)]
    pub batch_size: Option<usize>,
    /// Seed for shuffling and random initialisation.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// L2 regularization strength λ.
    #[arg(long)]
    pub l2: Option<f64>,
    /// L1 regularization strength λ₁.
    #[arg(long)]
    pub l1: Option<f64>,
    /// Number of clusters / mixture components.
    #[arg(long)]
    pub k: Option<usize>,
    /// 0-based data rows used as initial centroids or means, comma separated.
    #[arg(long, value_delimiter = ',')]
    pub init_rows: Option<Vec<usize>>,
    /// Number of principal components.
    #[arg(long)]
    pub components: Option<usize>,
    /// MLP hidden layer sizes, comma separated (one or two layers).
    #[arg(long, value_delimiter = ',')]
    pub hidden: Option<Vec<usize>>,
    /// MLP hidden activation: tanh, relu or sigmoid.
    #[arg(long)]
    pub activation: Option<String>,
    /// Record every N-th step (the first and last are always recorded).
    #[arg(long, default_value_t = 1)]
    pub every: usize,
    /// Missing or non-finite cells: error, drop or mean.
    #[arg(long, default_value = "error")]
    pub missing: String,
}

/// Parses the process arguments and runs; the binary's whole `main`.
#[must_use]
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) if !e.use_stderr() => e.exit(),
        Err(e) => {
            eprintln!("steplab: {}", usage_sentence(&e.render().to_string()));
            return ExitCode::from(2);
        }
    };
    match cli.command {
        None => match check_launch(&cli)
            .and_then(|()| crate::ui::run_app(cli.data, cli.algorithm, cli.theme.as_deref()))
        {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => fail(&e),
        },
        Some(command) => {
            let mut stdout = std::io::stdout().lock();
            match execute(&command, &mut stdout) {
                // A reader that stopped reading (`| head`) wanted no more.
                Ok(()) => ExitCode::SUCCESS,
                Err(e) if broken_pipe(&e) => ExitCode::SUCCESS,
                Err(e) => fail(&e),
            }
        }
    }
}

/// What can be told wrong with the GUI's options before a window opens:
/// an unknown algorithm, a file that cannot be read.
fn check_launch(cli: &Cli) -> anyhow::Result<()> {
    if let Some(id) = &cli.algorithm {
        find_entry(id)?;
    }
    if let Some(path) = &cli.data {
        std::fs::File::open(path).map_err(|e| crate::data::DataError::Io {
            reason: e.to_string(),
            path: path.display().to_string(),
        })?;
    }
    Ok(())
}

/// clap's message for bad arguments (an `error:` line, indented details,
/// then `Usage: steplab run [OPTIONS] …`) as one sentence that points to
/// the command's `--help`.
fn usage_sentence(rendered: &str) -> String {
    let message = rendered.split("\n\n").next().unwrap_or(rendered);
    let message = message.trim().trim_start_matches("error:").trim();
    let words: Vec<&str> = message.split_whitespace().collect();
    let command: Vec<&str> = rendered
        .lines()
        .find_map(|l| l.trim().strip_prefix("Usage:"))
        .unwrap_or("steplab")
        .split_whitespace()
        .take_while(|w| !w.starts_with(['[', '-', '<']))
        .collect();
    format!("{}; see {} --help", words.join(" "), command.join(" "))
}

fn broken_pipe(e: &anyhow::Error) -> bool {
    let kind = e
        .downcast_ref::<std::io::Error>()
        .map(std::io::Error::kind)
        .or_else(|| {
            e.downcast_ref::<serde_json::Error>()
                .and_then(serde_json::Error::io_error_kind)
        });
    kind == Some(std::io::ErrorKind::BrokenPipe)
}

fn fail(e: &anyhow::Error) -> ExitCode {
    eprintln!("steplab: {e:#}");
    ExitCode::FAILURE
}

/// Runs a headless command, writing its output to `out`.
///
/// # Errors
/// Bad arguments, bad data, or a failed write; one sentence each.
pub fn execute(command: &Command, out: &mut dyn std::io::Write) -> anyhow::Result<()> {
    match command {
        Command::List => {
            for e in algorithms::REGISTRY {
                writeln!(out, "{:<20} {}", e.id, e.summary)?;
            }
        }
        Command::Derive {
            id,
            format,
            optimizer,
        } => {
            let entry = find_entry(id)?;
            let format = Format::parse(format).ok_or_else(|| {
                anyhow!("unknown format '{format}'; choose text, latex or markdown")
            })?;
            let hyper = Hyper {
                optimizer: optimizer.as_deref().map(parse_optimizer).transpose()?,
                ..Hyper::default()
            };
            check_optimizer(entry, hyper.optimizer)?;
            let algorithm = (entry.create)(&hyper)?;
            write!(
                out,
                "{}",
                export::derivation(entry.id, &algorithm.derivation(), format, None)
            )?;
        }
        Command::Run(args) => {
            let report = run_json(args)?;
            serde_json::to_writer(&mut *out, &report)?;
            writeln!(out)?;
        }
    }
    Ok(())
}

fn find_entry(id: &str) -> anyhow::Result<&'static Entry> {
    algorithms::entry(id).ok_or_else(|| {
        anyhow!(
            "unknown algorithm '{id}'; choose one of: {}",
            algorithms::ids()
        )
    })
}

fn parse_optimizer(name: &str) -> anyhow::Result<OptimizerKind> {
    OptimizerKind::parse(name).ok_or_else(|| {
        anyhow!(
            "unknown optimizer '{name}'; choose one of: {}",
            OptimizerKind::NAMES.join(", ")
        )
    })
}

/// Validates `args` into hyperparameters.
///
/// # Errors
/// An unknown optimizer or activation, or a non-finite number.
pub fn hyper_from_args(args: &RunArgs) -> anyhow::Result<Hyper> {
    let defaults = Hyper::default();
    for (name, v) in [
        ("lr", args.lr),
        ("momentum", args.momentum),
        ("beta1", args.beta1),
        ("beta2", args.beta2),
        ("l2", args.l2),
        ("l1", args.l1),
    ] {
        if let Some(v) = v.filter(|v| !v.is_finite()) {
            bail!("--{name} must be a finite number, got {v}");
        }
    }
    Ok(Hyper {
        learning_rate: args.lr,
        optimizer: args.optimizer.as_deref().map(parse_optimizer).transpose()?,
        momentum: args.momentum.unwrap_or(defaults.momentum),
        beta1: args.beta1.unwrap_or(defaults.beta1),
        beta2: args.beta2,
        batch_size: args.batch_size,
        seed: args.seed,
        l2: args.l2,
        l1: args.l1.unwrap_or(0.0),
        k: args.k,
        init_rows: args.init_rows.clone(),
        components: args.components,
        hidden: args.hidden.clone().unwrap_or(defaults.hidden),
        activation: match args.activation.as_deref() {
            None => defaults.activation,
            Some(a) => Activation::parse(a)
                .ok_or_else(|| anyhow!("unknown activation '{a}'; choose tanh, relu or sigmoid"))?,
        },
    })
}

/// The options `args` gives that a run of `entry` does not read
/// ([`Entry::reads`]), as written on the command line.
#[must_use]
pub fn ignored_options(entry: &Entry, args: &RunArgs) -> Vec<&'static str> {
    let reads = entry.reads(&Hyper {
        optimizer: args.optimizer.as_deref().and_then(OptimizerKind::parse),
        batch_size: args.batch_size,
        init_rows: args.init_rows.clone(),
        ..Hyper::default()
    });
    // Each option: whether it was given, and whether this run reads it.
    let options = [
        ("--optimizer", args.optimizer.is_some(), reads.optimizer),
        ("--lr", args.lr.is_some(), reads.learning_rate),
        ("--momentum", args.momentum.is_some(), reads.momentum),
        ("--beta1", args.beta1.is_some(), reads.beta1),
        ("--beta2", args.beta2.is_some(), reads.beta2),
        ("--batch-size", args.batch_size.is_some(), reads.batch_size),
        ("--seed", args.seed != 0, reads.seed),
        ("--l2", args.l2.is_some(), reads.l2),
        ("--l1", args.l1.is_some(), reads.l1),
        ("--k", args.k.is_some(), reads.k),
        ("--init-rows", args.init_rows.is_some(), reads.init_rows),
        ("--components", args.components.is_some(), reads.components),
        ("--hidden", args.hidden.is_some(), reads.hidden),
        ("--activation", args.activation.is_some(), reads.activation),
    ];
    options
        .into_iter()
        .filter(|&(_, given, used)| given && !used)
        .map(|(option, ..)| option)
        .collect()
}

/// Loads the data `args` names, with the columns the algorithm needs.
///
/// # Errors
/// Any data error, as one sentence.
pub fn load_for(entry: &Entry, args: &RunArgs) -> anyhow::Result<Dataset> {
    let missing = MissingPolicy::parse(&args.missing).ok_or_else(|| {
        anyhow!(
            "unknown --missing '{}'; choose error, drop or mean",
            args.missing
        )
    })?;
    let table = read_table(&args.data)?;
    let target = match (&args.target, entry.supervised) {
        (Some(t), _) => Some(t.clone()),
        (None, true) => Some(
            table
                .names
                .last()
                .cloned()
                .context("the file has no columns")?,
        ),
        (None, false) => None,
    };
    if args.features.is_none() {
        for note in text_columns_left_out(&table, target.as_deref()) {
            eprintln!("steplab: note: {note}");
        }
    }
    let selection = Selection {
        target,
        // `--features a,b` or `--features a --features b`.
        features: args
            .features
            .clone()
            .map(|lists| lists.into_iter().flat_map(|l| l.0).collect()),
        standardize: args.standardize,
        missing,
    };
    Ok(Dataset::from_owned_table(table, &selection)?)
}

/// Column names as `--features` lists them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ColumnList(pub Vec<String>);

/// Splits `raw` at its commas, except within double quotes (a name
/// holding a comma: `"b,x",y`; `""` within quotes is a quote).
///
/// # Errors
/// A quote left open.
pub fn column_list(raw: &str) -> Result<ColumnList, String> {
    let (mut names, mut name) = (Vec::new(), String::new());
    let mut quoted = false;
    let mut chars = raw.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.next_if_eq(&'"').is_some() => name.push('"'),
            ('"', _) => quoted = !quoted,
            (',', false) => names.push(std::mem::take(&mut name)),
            (c, _) => name.push(c),
        }
    }
    if quoted {
        return Err(format!("a double quote in '{raw}' is never closed"));
    }
    names.push(name);
    Ok(ColumnList(names))
}

/// The columns the default features leave out as text (all but the
/// target), each a sentence naming its first text cell: a column of
/// numbers written in a form Steplab does not read (thousands separators,
/// units) would otherwise drop out of the features unsaid.
fn text_columns_left_out(table: &crate::data::table::Table, target: Option<&str>) -> Vec<String> {
    table
        .names
        .iter()
        .zip(&table.columns)
        .filter(|(name, column)| Some(name.as_str()) != target && !column.is_numeric())
        .map(|(name, column)| match column.first_texts.first() {
            Some(cell) => format!(
                "column '{}' holds text ('{}' on line {}), so it is not a feature",
                one_line(name),
                one_line(&cell.text),
                cell.line
            ),
            None => format!(
                "column '{}' holds no numbers, so it is not a feature",
                one_line(name)
            ),
        })
        .collect()
}

/// The JSON object of SPEC section 4: every field but `steps` built, and
/// the steps written one at a time from the session's history as the
/// object is serialized (5,000 steps of an MLP (64, 64) on penguins.csv,
/// 470 MB of JSON, peaked at 1.7 GB built as one value, 209 MB so).
pub struct RunReport {
    head: serde_json::Map<String, serde_json::Value>,
    session: Session,
}

impl RunReport {
    /// The JSON of one step of the history.
    fn step_json(&self, s: &crate::session::Snapshot) -> serde_json::Value {
        serde_json::json!({
            "step": s.step,
            "loss": s.loss,
            "params": self.session.algorithm().params_json(&s.params),
        })
    }
}

/// The history's steps, as a JSON array.
struct Steps<'a>(&'a RunReport);

impl serde::Serialize for Steps<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeSeq as _;
        let history = self.0.session.history();
        let mut seq = serializer.serialize_seq(Some(history.len()))?;
        for s in history {
            seq.serialize_element(&self.0.step_json(s))?;
        }
        seq.end()
    }
}

impl serde::Serialize for RunReport {
    /// The fields in the order a whole `serde_json` object has them (by
    /// name), `steps` among them.
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap as _;
        let mut map = serializer.serialize_map(Some(self.head.len() + 1))?;
        let mut steps = Some(Steps(self));
        for (key, value) in &self.head {
            if key.as_str() > "steps"
                && let Some(steps) = steps.take()
            {
                map.serialize_entry("steps", &steps)?;
            }
            map.serialize_entry(key, value)?;
        }
        if let Some(steps) = steps {
            map.serialize_entry("steps", &steps)?;
        }
        map.end()
    }
}

/// Runs `args` and reports it as SPEC section 4 asks.
///
/// # Errors
/// Bad arguments or data; a run that diverges is not an error.
pub fn run_json(args: &RunArgs) -> anyhow::Result<RunReport> {
    let entry = find_entry(&args.algorithm)?;
    if args.every == 0 {
        bail!("--every must be at least 1");
    }
    let hyper = hyper_from_args(args)?;
    // Where no optimizer applies, `--optimizer` gets a note, as every
    // option the algorithm ignores.
    if !entry.optimizers.is_empty() {
        check_optimizer(entry, hyper.optimizer)?;
    }
    let mut algorithm = (entry.create)(&hyper)?;
    // The JSON reports parameters and losses, never the per-row values.
    algorithm.keep_per_row(false);
    let data = load_for(entry, args)?;
    // What the algorithm finds wrong with this data names the file too.
    let mut session = Session::new(algorithm, &data).map_err(|e| match e {
        algorithms::AlgoError::Data(e) => anyhow!(e),
        e => anyhow!("{e}: {}", data.path()),
    })?;
    session.record_every(args.every);
    session.run(&data, args.steps);
    let alg = session.algorithm();
    let mut head = serde_json::Map::new();
    let mut put = |key: &str, value: serde_json::Value| head.insert(key.into(), value);
    put("algorithm", entry.id.into());
    put("features", data.feature_names().into());
    put("target", data.target().map(|t| t.name.clone()).into());
    put("rows", data.n_rows().into());
    let stop = session.stop();
    put(
        "stopped",
        stop.map_or("max_steps", |s| s.kind.name()).into(),
    );
    if let Some(stop) = stop {
        put("message", stop.message.clone().into());
        if stop.kind == crate::session::StopKind::Diverged {
            put("diverged_at", stop.step.into());
            eprintln!("steplab: {}", stop.message);
        }
    }
    if let Some(t) = data
        .target()
        .filter(|_| entry.classifies || alg.predicts_classes())
    {
        put("classes", serde_json::to_value(&t.classes)?);
    }
    if let Some(scaling) = data.scaling() {
        put(
            "standardization",
            serde_json::json!({
                "mean": scaling.iter().map(|s| s.mean).collect::<Vec<_>>(),
                "std": scaling.iter().map(|s| s.std).collect::<Vec<_>>(),
            }),
        );
    }
    if !data.missing_report().is_clean() {
        put("missing", data.missing_report().summary().into());
    }
    let ignored = ignored_options(entry, args);
    if !ignored.is_empty() {
        eprintln!(
            "steplab: note: this {} run does not use {}, so {} no effect",
            entry.id,
            ignored.join(", "),
            if ignored.len() == 1 {
                "it has"
            } else {
                "they have"
            }
        );
    }
    if let Some(reference) = alg.reference(&data) {
        let reference = match reference {
            Ok(r) => {
                serde_json::json!({"method": r.method, "loss": r.loss, "params": alg.params_json(&r.params)})
            }
            Err(e) => serde_json::json!({"error": e.to_string()}),
        };
        put("reference", reference);
    }
    let mut report = RunReport { head, session };
    // The history holds the steps --every reports and the last.
    let history = report.session.history();
    let last = report.step_json(&history[history.len() - 1]);
    report.head.insert("final".into(), last);
    Ok(report)
}

/// Refuses an optimizer `entry` does not offer, naming those it does.
fn check_optimizer(entry: &Entry, optimizer: Option<OptimizerKind>) -> anyhow::Result<()> {
    if let Some(kind) = optimizer
        && !entry.optimizers.contains(&kind)
    {
        let offered: Vec<&str> = entry.optimizers.iter().map(|o| o.name()).collect();
        if offered.is_empty() {
            bail!(
                "{}'s update is not a gradient step, so --optimizer does not apply",
                entry.id
            );
        }
        bail!(
            "the optimizer '{}' does not apply to {}; choose {}",
            kind.name(),
            entry.id,
            offered.join(", ")
        );
    }
    Ok(())
}
