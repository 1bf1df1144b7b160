//! The desktop workbench (eframe + egui + egui_plot). Only this module draws.

use std::path::PathBuf;

/// Opens the window.
///
/// # Errors
/// The window could not be created.
pub fn run_app(_data: Option<PathBuf>, _algorithm: Option<String>) -> anyhow::Result<()> {
    anyhow::bail!("the GUI is not built yet")
}
