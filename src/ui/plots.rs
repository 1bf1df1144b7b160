//! Plots drawn from the step record: the data with the model on it, and the loss per step.

use crate::algorithms::{StepRecord, Value};
use crate::data::Dataset;
use crate::session::Session;
use egui::Color32;
use egui_plot::{HLine, Legend, Line, Plot, PlotPoints, Points, VLine};

/// At most this many points are drawn; the algorithm always uses all rows.
const MAX_DRAWN: usize = 20_000;

const CLASS_COLOURS: [Color32; 6] = [
    Color32::from_rgb(0x1f, 0x77, 0xb4),
    Color32::from_rgb(0xff, 0x7f, 0x0e),
    Color32::from_rgb(0x2c, 0xa0, 0x2c),
    Color32::from_rgb(0xd6, 0x27, 0x28),
    Color32::from_rgb(0x94, 0x67, 0xbd),
    Color32::from_rgb(0x8c, 0x56, 0x4b),
];
const MODEL: Color32 = Color32::from_rgb(0xe0, 0x40, 0x40);
const REFERENCE: Color32 = Color32::from_rgb(0x80, 0x80, 0x80);

fn stride(n: usize) -> usize {
    n.div_ceil(MAX_DRAWN).max(1)
}

fn vector<'a>(record: Option<&'a StepRecord>, id: &str) -> Option<&'a [f64]> {
    record.and_then(|r| r.get_id(id)).map(Value::as_slice)
}

fn scalar(record: Option<&StepRecord>, id: &str) -> Option<f64> {
    record.and_then(|r| r.get_id(id)).and_then(Value::as_scalar)
}

/// The data plot and the loss plot, side by side.
pub fn plots_ui(
    ui: &mut egui::Ui,
    data: &Dataset,
    session: &Session,
    record: Option<&StepRecord>,
    shown: usize,
    x_feature: &mut usize,
) {
    let names = data.feature_names();
    ui.horizontal(|ui| {
        egui::ComboBox::from_label("x axis")
            .selected_text(names.get(*x_feature).map_or("", String::as_str))
            .show_ui(ui, |ui| {
                for (j, n) in names.iter().enumerate() {
                    ui.selectable_value(x_feature, j, n);
                }
            });
    });
    let height = (ui.available_height() * 0.6).max(200.0);
    let id = session.algorithm().id();
    if id == "linear-regression" {
        regression_plot(ui, data, record, *x_feature, height);
    } else {
        feature_plot(ui, data, record, *x_feature, height);
    }
    loss_plot(ui, data, session, shown);
}

fn regression_plot(
    ui: &mut egui::Ui,
    data: &Dataset,
    record: Option<&StepRecord>,
    j: usize,
    height: f32,
) {
    let Some(y) = data.target().and_then(|t| t.values.as_ref()) else {
        return;
    };
    let x = data.x();
    let j = j.min(x.ncols().saturating_sub(1));
    let col = x.column(j);
    let s = stride(x.nrows());
    let points: Vec<[f64; 2]> = (0..x.nrows()).step_by(s).map(|i| [col[i], y[i]]).collect();
    let means: Vec<f64> = x.column_iter().map(|c| c.mean()).collect();
    let (lo, hi) = col
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &v| {
            (a.min(v), b.max(v))
        });
    // The fitted value along feature j, the other features at their means.
    let line_of = |w: &[f64], b: f64| -> Vec<[f64; 2]> {
        let offset: f64 = b + w
            .iter()
            .zip(&means)
            .enumerate()
            .filter(|(k, _)| *k != j)
            .map(|(_, (w, m))| w * m)
            .sum::<f64>();
        let wj = w.get(j).copied().unwrap_or(0.0);
        vec![[lo, offset + wj * lo], [hi, offset + wj * hi]]
    };
    Plot::new("data")
        .height(height)
        .legend(Legend::default())
        .show(ui, |plot_ui| {
            if let Some(yhat) = vector(record, "y_hat") {
                for i in (0..x.nrows()).step_by(s.max(x.nrows() / 400).max(1)) {
                    if let Some(&p) = yhat.get(i) {
                        plot_ui.line(
                            Line::new(
                                "residuals",
                                PlotPoints::from(vec![[col[i], y[i]], [col[i], p]]),
                            )
                            .color(Color32::from_rgba_unmultiplied(0xe0, 0x40, 0x40, 90)),
                        );
                    }
                }
            }
            plot_ui.points(
                Points::new("data", PlotPoints::from(points))
                    .radius(2.5)
                    .color(CLASS_COLOURS[0]),
            );
            if let (Some(w), Some(b)) = (vector(record, "w_star"), scalar(record, "b_star")) {
                plot_ui.line(
                    Line::new("closed form", PlotPoints::from(line_of(w, b)))
                        .color(REFERENCE)
                        .style(egui_plot::LineStyle::dashed_loose()),
                );
            }
            if let (Some(w), Some(b)) = (vector(record, "w"), scalar(record, "b")) {
                plot_ui.line(
                    Line::new("model ŷ = w·x + b", PlotPoints::from(line_of(w, b)))
                        .color(MODEL)
                        .width(2.5),
                );
            }
        });
}

fn feature_plot(
    ui: &mut egui::Ui,
    data: &Dataset,
    record: Option<&StepRecord>,
    j: usize,
    height: f32,
) {
    let x = data.x();
    let (n, d) = x.shape();
    let j = j.min(d.saturating_sub(1));
    let k = if d > 1 { (j + 1) % d } else { j };
    let s = stride(n);
    let classes = data
        .target()
        .map(|t| t.class_ids.as_slice())
        .filter(|c| c.len() == n);
    let mut groups: Vec<Vec<[f64; 2]>> = vec![Vec::new(); CLASS_COLOURS.len()];
    for i in (0..n).step_by(s) {
        let c = classes.and_then(|c| c.get(i)).copied().unwrap_or(0) % CLASS_COLOURS.len();
        groups[c].push([x[(i, j)], if d > 1 { x[(i, k)] } else { 0.0 }]);
    }
    let means: Vec<f64> = x.column_iter().map(|c| c.mean()).collect();
    let (lo, hi) = x
        .column(j)
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &v| {
            (a.min(v), b.max(v))
        });
    let labels: Vec<String> = data
        .target()
        .map(|t| t.classes.iter().map(ToString::to_string).collect())
        .unwrap_or_default();
    Plot::new("data")
        .height(height)
        .legend(Legend::default())
        .data_aspect(1.0)
        .show(ui, |plot_ui| {
            for (c, pts) in groups.into_iter().enumerate() {
                if !pts.is_empty() {
                    let name = labels.get(c).cloned().unwrap_or_else(|| "data".into());
                    plot_ui.points(
                        Points::new(name, PlotPoints::from(pts))
                            .radius(2.5)
                            .color(CLASS_COLOURS[c]),
                    );
                }
            }
            // A linear decision boundary w·x + b = 0 in the plane of features j, k.
            if let (Some(w), Some(b)) = (vector(record, "w"), scalar(record, "b"))
                && d > 1
                && w.len() == d
                && w[k].abs() > 1e-12
            {
                let offset: f64 = b + w
                    .iter()
                    .zip(&means)
                    .enumerate()
                    .filter(|(m, _)| *m != j && *m != k)
                    .map(|(_, (w, m))| w * m)
                    .sum::<f64>();
                let at = |x: f64| -(offset + w[j] * x) / w[k];
                plot_ui.line(
                    Line::new(
                        "boundary w·x + b = 0",
                        PlotPoints::from(vec![[lo, at(lo)], [hi, at(hi)]]),
                    )
                    .color(MODEL)
                    .width(2.5),
                );
            }
            if let Some(Value::Matrix(c)) = record.and_then(|r| r.get_id("centroids")) {
                let pts: Vec<[f64; 2]> = (0..c.nrows())
                    .map(|r| [c[(r, j)], if d > 1 { c[(r, k)] } else { 0.0 }])
                    .collect();
                plot_ui.points(
                    Points::new("centroids", PlotPoints::from(pts))
                        .radius(7.0)
                        .shape(egui_plot::MarkerShape::Diamond)
                        .color(MODEL),
                );
            }
        });
}

fn loss_plot(ui: &mut egui::Ui, data: &Dataset, session: &Session, shown: usize) {
    let history = session.history();
    let s = stride(history.len());
    let points: Vec<[f64; 2]> = history
        .iter()
        .step_by(s)
        .filter(|h| h.loss.is_finite())
        .map(|h| [h.step as f64, h.loss])
        .collect();
    let reference = session
        .algorithm()
        .reference(data)
        .and_then(Result::ok)
        .map(|r| r.loss);
    Plot::new("loss")
        .legend(Legend::default())
        .show(ui, |plot_ui| {
            plot_ui.line(Line::new("loss J per step", PlotPoints::from(points)).color(MODEL));
            if let Some(r) = reference {
                plot_ui.hline(HLine::new("optimum (closed form)", r).color(REFERENCE));
            }
            plot_ui.vline(VLine::new("shown step", shown as f64).color(REFERENCE));
        });
}
