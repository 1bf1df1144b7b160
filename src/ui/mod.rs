//! The desktop workbench (eframe + egui + egui_plot). Only this module draws.

mod app;
mod plots;

pub use app::{App, Command, EXAMPLES, Example};

use std::path::PathBuf;

/// Opens the window on `data` (or the bundled example) with `algorithm` selected.
///
/// # Errors
/// The window could not be created.
pub fn run_app(data: Option<PathBuf>, algorithm: Option<String>) -> anyhow::Result<()> {
    let options = eframe::NativeOptions {
        viewport: egui::ViewportBuilder::default()
            .with_inner_size([1400.0, 900.0])
            .with_title("Steplab")
            .with_drag_and_drop(true),
        ..eframe::NativeOptions::default()
    };
    let mut app = App::new();
    if let Some(id) = algorithm {
        app.apply(Command::SelectAlgorithm(id));
    }
    if let Some(path) = data {
        app.apply(Command::LoadFile(path));
    }
    eframe::run_native("Steplab", options, Box::new(|_cc| Ok(Box::new(app))))
        .map_err(|e| anyhow::anyhow!("cannot open the window: {e}"))
}
