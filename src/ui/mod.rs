//! The desktop workbench (eframe + egui + egui_plot). Only this module draws.

mod app;
mod background;
mod cloud;
mod data_panel;
mod formula;
mod model_panel;
mod plots;
mod theme;

pub use app::{
    App, BACKGROUND_STEP, Command, DEFER_ROWS, EXAMPLES, Example, HEAD_ROWS, HISTORY_BYTES,
    JOB_BUDGET, Role, STEP_BUDGET, Settings,
};

use crate::algorithms::conditioning::StepSizeCard;
use crate::export::format_number;
use std::path::PathBuf;

/// `name` cut to at most `most` characters, its middle replaced by "…"
/// (its start and end tell similar names apart): a long column name
/// pushed the role pickers out of the data panel.
fn short(name: &str, most: usize) -> String {
    let n = name.chars().count();
    if n <= most {
        return name.to_owned();
    }
    let head = most / 2;
    let tail = most.saturating_sub(head + 1);
    let start: String = name.chars().take(head).collect();
    let end: String = name.chars().skip(n - tail).collect();
    format!("{start}…{end}")
}

/// Opens the window on `data` (or the last session's file, or the bundled
/// example) with `algorithm` selected (or the last session's), in `theme`
/// ("light" or "dark") when given; settings persist across restarts.
///
/// # Errors
/// The window could not be created.
pub fn run_app(
    data: Option<PathBuf>,
    algorithm: Option<String>,
    theme: Option<&str>,
) -> anyhow::Result<()> {
    let theme = match theme {
        Some("light") => Some(egui::ThemePreference::Light),
        Some("dark") => Some(egui::ThemePreference::Dark),
        _ => None,
    };
    let options = eframe::NativeOptions {
        viewport: egui::ViewportBuilder::default()
            .with_inner_size([1400.0, 900.0])
            // Below this the plots and panels are too cramped to read.
            .with_min_inner_size([960.0, 640.0])
            .with_title("Steplab")
            .with_drag_and_drop(true),
        ..eframe::NativeOptions::default()
    };
    eframe::run_native(
        "Steplab",
        options,
        Box::new(move |cc| {
            // A corrupt or old settings file falls back to the defaults.
            let settings: Settings = cc
                .storage
                .and_then(|s| eframe::get_value(s, eframe::APP_KEY))
                .unwrap_or_default();
            if let Some(theme) = theme {
                cc.egui_ctx.set_theme(theme);
            }
            Ok(Box::new(App::resume(settings, data, algorithm)))
        }),
    )
    .map_err(|e| {
        anyhow::anyhow!(
            "cannot open the window ({}); steplab run, derive and list work without one",
            window_reason(&e.to_string())
        )
    })
}

/// winit's reason without the source location it quotes ("os error at
/// /path/to/winit/…/mod.rs:765: neither … is set.").
fn window_reason(message: &str) -> &str {
    let reason = message.rsplit(": ").next().unwrap_or(message);
    reason.trim().trim_end_matches('.')
}

/// The step-size card; returns a learning rate when the user clicks one.
pub fn step_size_card_ui(ui: &mut egui::Ui, card: &StepSizeCard) -> Option<f64> {
    let mut chosen = None;
    ui.heading("Why the step size matters");
    ui.label(card.note);
    ui.label(format!("L (largest curvature) = {}", format_number(card.l)));
    if let Some(mu) = card.mu {
        ui.label(format!("μ (smallest curvature) = {}", format_number(mu)));
    }
    if let Some(k) = card.kappa {
        ui.label(format!("condition number κ = L/μ = {}", format_number(k)));
    }
    if let (Some(raw), Some(std)) = (card.kappa_raw, card.kappa_standardized) {
        ui.label(format!(
            "κ on raw features {} → standardized {}",
            format_number(raw),
            format_number(std)
        ));
    }
    if ui
        .link(format!(
            "stable for η < 2/L = {}",
            format_number(card.stable_below)
        ))
        .on_hover_text("Click to set η just below the bound")
        .clicked()
    {
        chosen = Some(card.stable_below * 0.99);
    }
    if let Some(best) = card.best_rate
        && ui
            .link(format!(
                "best fixed step 2/(μ + L) = {}",
                format_number(best)
            ))
            .on_hover_text("Click to use it")
            .clicked()
    {
        chosen = Some(best);
    }
    if let Some(rate) = card.contraction {
        ui.label(format!(
            "error shrinks at least ×{} per step at that rate",
            format_number(rate)
        ));
    }
    chosen
}

#[cfg(test)]
mod tests {
    use super::short;

    #[test]
    fn long_names_keep_their_start_and_end() {
        assert_eq!(short("price", 5), "price");
        assert_eq!(short("average_monthly_use_2019", 11), "avera…_2019");
        assert_eq!(short("αβγδεζηθ", 5), "αβ…ηθ");
        assert_eq!(short("abcdef", 5).chars().count(), 5);
    }
}
