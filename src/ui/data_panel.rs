//! The data panel: source, column roles and summaries, standardization,
//! missing values, and the preview table. It only reads and pushes commands.

use super::app::{Command, Role, Settings};
use crate::data::table::ColumnSummary;
use crate::data::{Dataset, MissingPolicy, Table};
use crate::export::format_number;
use egui_extras::{Column, TableBuilder};

/// Draws the panel for `table` with the current choices (the preview is
/// [`preview_ui`], below it).
#[allow(clippy::too_many_lines)] // The panel's sections, top to bottom.
pub fn data_panel_ui(
    ui: &mut egui::Ui,
    table: &Table,
    summaries: &[ColumnSummary],
    roles: &[Role],
    settings: &Settings,
    data: Option<&Dataset>,
    commands: &mut Vec<Command>,
) {
    ui.heading("Data");
    ui.label(format!(
        "{} rows × {} columns{}{}",
        table.lines.len(),
        table.names.len(),
        if table.decimal_comma {
            ", decimal commas"
        } else {
            ""
        },
        if table.latin1 {
            ", read as Latin-1"
        } else {
            ""
        }
    ));
    let mut standardize = settings.standardize;
    if ui
        .checkbox(&mut standardize, "Standardize features")
        .on_hover_text("x → (x − mean)/std with the population std")
        .changed()
    {
        commands.push(Command::SetStandardize(standardize));
    }
    if let Some(scaling) = data.and_then(Dataset::scaling) {
        egui::CollapsingHeader::new("Standardization coefficients").show(ui, |ui| {
            for (name, s) in data
                .map(Dataset::feature_names)
                .unwrap_or_default()
                .iter()
                .zip(scaling)
            {
                ui.label(format!(
                    "{name}: mean {}, std {}",
                    format_number(s.mean),
                    format_number(s.std)
                ));
            }
            ui.label(
                egui::RichText::new(
                    "A weight w on a standardized feature is w/std per original unit.",
                )
                .weak(),
            );
        });
    }
    // Wrapped: a narrow panel cut "fill mean" off.
    ui.horizontal_wrapped(|ui| {
        ui.label("Missing values:");
        for (policy, label) in [
            (MissingPolicy::Error, "refuse"),
            (MissingPolicy::Drop, "drop rows"),
            (MissingPolicy::Mean, "fill mean"),
        ] {
            if ui
                .selectable_label(settings.missing == policy, label)
                .clicked()
                && settings.missing != policy
            {
                commands.push(Command::SetMissing(policy));
            }
        }
    });
    if let Some(report) = data.map(Dataset::missing_report).filter(|r| !r.is_clean()) {
        ui.label(report.summary());
    }
    ui.separator();
    ui.label("Columns");
    // Sideways, the columns scroll rather than leave the panel.
    egui::ScrollArea::horizontal()
        .id_salt("columns-scroll")
        .show(ui, |ui| columns_grid(ui, table, summaries, roles, commands));
}

/// Each column's name, role picker, statistics and missing cells.
fn columns_grid(
    ui: &mut egui::Ui,
    table: &Table,
    summaries: &[ColumnSummary],
    roles: &[Role],
    commands: &mut Vec<Command>,
) {
    egui::Grid::new("columns").striped(true).show(ui, |ui| {
        ui.label("name");
        ui.label("role");
        let whole = "of the file's cells, before rows with missing cells are dropped or filled";
        ui.label("mean ± std").on_hover_text(whole);
        ui.label("min … max").on_hover_text(whole);
        ui.label("missing");
        ui.end_row();
        for (i, (name, s)) in table.names.iter().zip(summaries).enumerate() {
            let label = ui.label(super::short(name, NAME_CHARS)).on_hover_text(name);
            let role = roles.get(i).copied().unwrap_or(Role::Ignored);
            let mut chosen = role;
            egui::ComboBox::from_id_salt(("role", i))
                .selected_text(match role {
                    Role::Feature => "feature",
                    Role::Target => "target",
                    Role::Ignored => "ignored",
                })
                .width(70.0)
                .show_ui(ui, |ui| {
                    ui.selectable_value(&mut chosen, Role::Feature, "feature");
                    ui.selectable_value(&mut chosen, Role::Target, "target");
                    ui.selectable_value(&mut chosen, Role::Ignored, "ignored");
                })
                .response
                .labelled_by(label.id);
            if chosen != role {
                commands.push(Command::SetRole(i, chosen));
            }
            if s.numeric {
                ui.label(format!(
                    "{} ± {}",
                    format_number(s.mean),
                    format_number(s.std)
                ));
                ui.label(format!(
                    "{} … {}",
                    format_number(s.min),
                    format_number(s.max)
                ));
            } else {
                ui.label("text");
                ui.label("");
            }
            ui.label(s.missing.to_string());
            ui.end_row();
        }
    });
}

/// The most characters of a number the preview shows as written.
const PREVIEW_CHARS: usize = 10;

/// The most characters of a column's name the columns table shows.
const NAME_CHARS: usize = 24;

/// Cell `row` of column `c` in the preview, on one line: as written, but a
/// long number with about 6 significant digits (all of them on hover).
fn preview_cell(ui: &mut egui::Ui, table: &Table, c: usize, row: usize) {
    let text = table.cell_text(c, row);
    let number = table
        .values(c)
        .get(row)
        .filter(|v| table.columns[c].texts.is_none() && v.is_finite());
    // A number as the file writes it while that is short (3224431.2, not
    // 3.22443e6).
    let shown = match number {
        Some(&v) if text.trim().chars().count() > PREVIEW_CHARS => format_number(v),
        _ => text.clone(),
    };
    let label = ui.add(egui::Label::new(&shown).truncate());
    if shown != text {
        label.on_hover_text(text);
    }
}

/// The rows of the file, virtually scrolled, in the height left.
pub fn preview_ui(ui: &mut egui::Ui, table: &Table) {
    ui.label("Preview");
    let rows = table.lines.len();
    let text_height = egui::TextStyle::Body.resolve(ui.style()).size + 4.0;
    egui::ScrollArea::horizontal()
        .id_salt("preview-h")
        .show(ui, |ui| {
            let height = ui.available_height().max(120.0);
            TableBuilder::new(ui)
                .id_salt("preview")
                .striped(true)
                .column(Column::auto())
                .columns(Column::auto().at_least(50.0), table.names.len())
                .max_scroll_height(height)
                .header(text_height, |mut header| {
                    header.col(|ui| {
                        ui.strong("line");
                    });
                    for name in &table.names {
                        header.col(|ui| {
                            ui.strong(name);
                        });
                    }
                })
                .body(|body| {
                    body.rows(text_height, rows, |mut row| {
                        let r = row.index();
                        row.col(|ui| {
                            ui.label(
                                table
                                    .lines
                                    .get(r)
                                    .map_or_else(String::new, ToString::to_string),
                            );
                        });
                        for c in 0..table.columns.len() {
                            row.col(|ui| {
                                preview_cell(ui, table, c, r);
                            });
                        }
                    });
                });
        });
}
