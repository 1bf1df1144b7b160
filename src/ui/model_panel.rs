//! The model panel: the hyperparameters the selected algorithm reads
//! ([`Entry::reads`]), the ones `steplab run` takes as options. It edits a
//! draft; the app rebuilds the run from it.

use crate::algorithms::{Activation, Entry, Hyper, Reads, pca};
use crate::optim::OptimizerKind;

/// What the panel shows for each optimizer (its CLI name is the tooltip).
fn optimizer_label(kind: OptimizerKind) -> &'static str {
    match kind {
        OptimizerKind::Gd => "gradient descent",
        OptimizerKind::Momentum => "momentum",
        OptimizerKind::Nesterov => "Nesterov momentum",
        OptimizerKind::Adagrad => "Adagrad",
        OptimizerKind::Rmsprop => "RMSprop",
        OptimizerKind::Adam => "Adam",
        OptimizerKind::Newton => "Newton (IRLS)",
        OptimizerKind::Pegasos => "Pegasos",
    }
}

/// The largest size a hidden layer can be given here (the core refuses
/// networks of more than [`crate::algorithms::mlp::MAX_WEIGHTS`] weights).
const MAX_LAYER: usize = 256;

/// Draws the controls of what `entry` reads, editing `draft`, for data of
/// `shape` = (rows, features) when known. Returns whether something was
/// edited.
#[allow(clippy::too_many_lines)] // One row per hyperparameter, in order.
pub fn model_panel_ui(
    ui: &mut egui::Ui,
    entry: &Entry,
    draft: &mut Hyper,
    shape: Option<(usize, usize)>,
) -> bool {
    let before = draft.clone();
    let reads = entry.reads(draft);
    egui::Grid::new("model settings")
        .num_columns(2)
        .spacing([12.0, 4.0])
        .show(ui, |ui| {
            if let Some(current) = entry.optimizer(draft) {
                let label = row(ui, "--optimizer");
                let mut chosen = current;
                egui::ComboBox::from_id_salt("optimizer")
                    .selected_text(optimizer_label(current))
                    .show_ui(ui, |ui| {
                        for &kind in entry.optimizers {
                            ui.selectable_value(&mut chosen, kind, optimizer_label(kind))
                                .on_hover_text(format!("--optimizer {}", kind.name()));
                        }
                    })
                    .response
                    .labelled_by(label);
                ui.end_row();
                if chosen != current {
                    // The new optimizer starts from its own defaults (a
                    // full Newton step, Pegasos's 1/(λt), RMSprop's ρ).
                    draft.optimizer = Some(chosen);
                    draft.learning_rate = None;
                    draft.beta2 = None;
                }
            }
            if reads.momentum {
                let label = row(ui, "--momentum");
                ui.add(egui::Slider::new(&mut draft.momentum, 0.0..=0.999))
                    .labelled_by(label);
                ui.end_row();
            }
            if reads.beta1 {
                let label = row(ui, "--beta1");
                ui.add(egui::Slider::new(&mut draft.beta1, 0.0..=0.999))
                    .labelled_by(label);
                ui.end_row();
            }
            if let Some(kind) = entry.optimizer(draft).filter(|_| reads.beta2) {
                let label = if kind == OptimizerKind::Rmsprop {
                    "decay ρ"
                } else {
                    "β₂"
                };
                let label = named_row(ui, label, "--beta2");
                let mut beta2 = draft.beta2.unwrap_or(kind.default_beta2());
                if ui
                    .add(egui::Slider::new(&mut beta2, 0.0..=0.9999))
                    .labelled_by(label)
                    .changed()
                {
                    draft.beta2 = Some(beta2);
                }
                ui.end_row();
            }
            if reads.batch_size {
                batch_row(ui, draft, shape.map(|(rows, _)| rows));
            }
            if reads.l2 {
                let label = row(ui, "--l2");
                let mut l2 = draft.l2.unwrap_or(entry.default_l2);
                // Pegasos's rate 1/(λt) needs λ > 0.
                let least = if entry.optimizer(draft) == Some(OptimizerKind::Pegasos) {
                    SMALLEST_PENALTY
                } else {
                    0.0
                };
                if ui
                    .add(penalty_slider(&mut l2, least))
                    .labelled_by(label)
                    .changed()
                {
                    draft.l2 = Some(l2);
                }
                ui.end_row();
            }
            if reads.l1 {
                let label = row(ui, "--l1");
                ui.add(penalty_slider(&mut draft.l1, 0.0))
                    .labelled_by(label);
                ui.end_row();
            }
            if reads.k {
                let label = row(ui, "--k");
                let mut k = draft.k.unwrap_or(entry.default_k);
                let most = shape.map_or(50, |(rows, _)| rows.clamp(1, 50));
                if ui
                    .add(egui::DragValue::new(&mut k).range(1..=most))
                    .labelled_by(label)
                    .changed()
                {
                    draft.k = Some(k);
                    // Rows named for the old k do not fit the new one.
                    draft.init_rows = None;
                }
                ui.end_row();
            }
            if reads.init_rows {
                let label = row(ui, "--init-rows");
                init_rows_field(ui, draft, label);
                ui.end_row();
            }
            if reads.components {
                let label = row(ui, "--components");
                let features = shape.map_or(pca::DEFAULT_COMPONENTS, |(_, d)| d.max(1));
                let mut m = draft
                    .components
                    .unwrap_or(pca::DEFAULT_COMPONENTS)
                    .min(features);
                if ui
                    .add(egui::DragValue::new(&mut m).range(1..=features))
                    .labelled_by(label)
                    .changed()
                {
                    draft.components = Some(m);
                }
                ui.end_row();
            }
            if reads.hidden {
                hidden_rows(ui, draft);
            }
            if reads.activation {
                let label = row(ui, "--activation");
                egui::ComboBox::from_id_salt("activation")
                    .selected_text(draft.activation.name())
                    .show_ui(ui, |ui| {
                        for a in Activation::ALL {
                            ui.selectable_value(&mut draft.activation, a, a.name());
                        }
                    })
                    .response
                    .labelled_by(label);
                ui.end_row();
            }
            if reads.seed {
                let label = row(ui, "--seed");
                ui.add(egui::DragValue::new(&mut draft.seed))
                    .labelled_by(label);
                ui.end_row();
            }
        });
    // η has its slider above the panel.
    let panel_reads = Reads {
        learning_rate: false,
        ..reads
    };
    if panel_reads == Reads::default() {
        ui.label(egui::RichText::new("Nothing to set here but the learning rate η, above.").weak());
    } else if ui
        .add_enabled(
            *draft != Hyper::default(),
            egui::Button::new("Default settings"),
        )
        .on_hover_text("The settings `steplab run` uses when no option is given")
        .clicked()
    {
        *draft = Hyper::default();
    }
    *draft != before
}

/// Each command-line option and the label of its row.
const LABELS: &[(&str, &str)] = &[
    ("--optimizer", "optimizer"),
    ("--momentum", "momentum μ"),
    ("--beta1", "β₁"),
    ("--beta2", "β₂"),
    ("--batch-size", "mini-batches"),
    ("--l2", "L2 strength λ"),
    ("--l1", "L1 strength λ₁"),
    ("--k", "clusters k"),
    ("--init-rows", "initial rows"),
    ("--components", "components"),
    ("--hidden", "hidden layers"),
    ("--activation", "activation"),
    ("--seed", "seed"),
];

/// The row of `option`, labelled as [`LABELS`] says.
fn row(ui: &mut egui::Ui, option: &str) -> egui::Id {
    let label = LABELS
        .iter()
        .find(|(o, _)| *o == option)
        .map_or(option, |(_, label)| label);
    named_row(ui, label, option)
}

/// A row's label, with the command-line option as its tooltip; the
/// widgets of the row are labelled by its id.
fn named_row(ui: &mut egui::Ui, label: &str, option: &str) -> egui::Id {
    ui.label(label)
        .on_hover_text(format!("steplab run {option}"))
        .id
}

/// `message` (about hyperparameters, in the command line's words) with
/// each option named as the panel labels it: "cannot use --l1" becomes
/// "cannot use L1 strength λ₁ (--l1)".
#[must_use]
pub fn in_panel_words(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut rest = message;
    while let Some(at) = rest.find("--") {
        out.push_str(&rest[..at]);
        let option_end = rest[at + 2..]
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
            .map_or(rest.len(), |end| at + 2 + end);
        let option = &rest[at..option_end];
        match LABELS.iter().find(|(o, _)| *o == option) {
            Some((_, label)) => {
                out.push_str(label);
                out.push_str(" (");
                out.push_str(option);
                out.push(')');
            }
            None => out.push_str(option),
        }
        rest = &rest[option_end..];
    }
    out.push_str(rest);
    out
}

/// The smallest positive λ the sliders reach.
const SMALLEST_PENALTY: f64 = 1e-6;

/// λ on a log scale from `least` (0 or [`SMALLEST_PENALTY`]) to 10, shown
/// with 3 significant digits.
fn penalty_slider(value: &mut f64, least: f64) -> egui::Slider<'_> {
    egui::Slider::new(value, least..=10.0)
        .logarithmic(true)
        .smallest_positive(SMALLEST_PENALTY)
        .custom_formatter(|v, _| short(v))
}

/// `v` with 3 significant digits: 0, 0.0125, 2.5, 1.0e-5.
fn short(v: f64) -> String {
    if v == 0.0 || !v.is_finite() {
        return v.to_string();
    }
    if v.abs() < 1e-3 {
        return format!("{v:.1e}");
    }
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let decimals = (2.0 - v.abs().log10().floor()).max(0.0) as usize;
    let text = format!("{v:.decimals$}");
    if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        text
    }
}

/// Full batch, or mini-batches of a chosen size.
fn batch_row(ui: &mut egui::Ui, draft: &mut Hyper, rows: Option<usize>) {
    let label = row(ui, "--batch-size");
    ui.horizontal(|ui| {
        let mut on = draft.batch_size.is_some();
        if ui.checkbox(&mut on, "").labelled_by(label).changed() {
            draft.batch_size = on.then(|| rows.map_or(32, |n| n.clamp(1, 32)));
        }
        match &mut draft.batch_size {
            Some(size) => {
                let most = rows.unwrap_or(usize::MAX).max(1);
                ui.add(egui::DragValue::new(size).range(1..=most).suffix(" rows"))
                    .labelled_by(label);
            }
            None => {
                ui.label("full batch");
            }
        }
    });
    ui.end_row();
}

/// One or two hidden layers and their sizes.
fn hidden_rows(ui: &mut egui::Ui, draft: &mut Hyper) {
    row(ui, "--hidden");
    ui.horizontal(|ui| {
        let mut layers = draft.hidden.len().clamp(1, 2);
        for n in [1, 2] {
            ui.selectable_value(&mut layers, n, n.to_string());
        }
        if layers != draft.hidden.len() {
            let last = draft.hidden.last().copied().unwrap_or(8);
            draft.hidden.resize(layers, last);
        }
    });
    ui.end_row();
    let label = named_row(ui, "units per layer", "--hidden");
    ui.horizontal(|ui| {
        for size in &mut draft.hidden {
            ui.add(egui::DragValue::new(size).range(1..=MAX_LAYER))
                .labelled_by(label);
        }
    });
    ui.end_row();
}

/// The initial rows as a comma-separated list, applied when the field is
/// left; empty draws them with the seed.
fn init_rows_field(ui: &mut egui::Ui, draft: &mut Hyper, label: egui::Id) {
    let id = ui.make_persistent_id("init rows text");
    let shown = draft.init_rows.as_ref().map_or_else(String::new, |rows| {
        rows.iter()
            .map(usize::to_string)
            .collect::<Vec<_>>()
            .join(",")
    });
    let mut text = ui
        .data(|d| d.get_temp::<String>(id))
        .unwrap_or_else(|| shown.clone());
    ui.vertical(|ui| {
        let response = ui
            .add(
                egui::TextEdit::singleline(&mut text)
                    .hint_text("drawn with the seed")
                    .desired_width(140.0),
            )
            .labelled_by(label);
        let parsed = parse_rows(&text);
        if response.lost_focus()
            && let Some(rows) = &parsed
        {
            // One cluster per row named; none named draws them.
            draft.init_rows = (!rows.is_empty()).then(|| rows.clone());
            if !rows.is_empty() {
                draft.k = Some(rows.len());
            }
        }
        if parsed.is_none() {
            ui.colored_label(
                super::theme::ERROR,
                "rows are 0-based numbers separated by commas",
            );
        }
        if response.has_focus() || parsed.is_none() {
            ui.data_mut(|d| d.insert_temp(id, text));
        } else {
            ui.data_mut(|d| d.remove::<String>(id));
        }
    });
}

/// The rows of a comma-separated list (none for a blank one); `None` when
/// the text is not a list of row numbers.
fn parse_rows(text: &str) -> Option<Vec<usize>> {
    if text.trim().is_empty() {
        return Some(Vec::new());
    }
    text.split(',')
        .map(|part| part.trim().parse().ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::parse_rows;

    #[test]
    fn errors_name_options_as_the_panel_does() {
        use super::in_panel_words;
        assert_eq!(
            in_panel_words("so it cannot use --l1; use a first-order optimizer"),
            "so it cannot use L1 strength λ₁ (--l1); use a first-order optimizer"
        );
        assert_eq!(
            in_panel_words("--k is 3 but --init-rows names 2 rows"),
            "clusters k (--k) is 3 but initial rows (--init-rows) names 2 rows"
        );
        assert_eq!(
            in_panel_words("see --lr and --kx --"),
            "see --lr and --kx --"
        );
    }

    #[test]
    fn penalties_show_three_significant_digits() {
        for (v, shown) in [
            (0.0, "0"),
            (0.01, "0.01"),
            (0.012_345, "0.0123"),
            (2.5, "2.5"),
            (10.0, "10"),
            (1e-7, "1.0e-7"),
            (0.000_25, "2.5e-4"),
        ] {
            assert_eq!(super::short(v), shown, "{v}");
        }
    }

    #[test]
    fn rows_parse_as_the_command_line_takes_them() {
        assert_eq!(parse_rows("  "), Some(vec![]));
        assert_eq!(parse_rows("0, 5,9"), Some(vec![0, 5, 9]));
        assert_eq!(parse_rows("0,,5"), None);
        assert_eq!(parse_rows("-1"), None);
        assert_eq!(parse_rows("a"), None);
    }
}
