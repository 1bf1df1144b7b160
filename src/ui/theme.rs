//! Colours and fonts: the only place the app's look is decided.

use egui::Color32;

/// The model drawn on the data (line, boundary, centroids).
pub const MODEL: Color32 = Color32::from_rgb(0xe0, 0x40, 0x40);
/// References: closed forms, optima, the shown step.
pub const REFERENCE: Color32 = Color32::from_rgb(0x88, 0x88, 0x88);
/// Residual segments.
pub const RESIDUAL: Color32 = Color32::from_rgba_premultiplied(0x90, 0x28, 0x28, 0x70);
/// The trajectory on the loss surface.
pub const TRAJECTORY: Color32 = Color32::from_rgb(0xff, 0xff, 0xff);
/// The gradient's arrow on the loss surface: cyan, which no colour of the
/// surface's map comes near (orange vanished on its bright end).
pub const GRADIENT: Color32 = Color32::from_rgb(0x00, 0xe5, 0xff);
/// Warnings such as the stability bound.
pub const WARNING: Color32 = Color32::from_rgb(0xe0, 0x90, 0x10);
/// Errors.
pub const ERROR: Color32 = Color32::from_rgb(0xd0, 0x30, 0x30);
/// The loss surface, from the valley (dark) to high loss (bright).
pub const SURFACE: [Color32; 5] = [
    Color32::from_rgb(0x0d, 0x08, 0x87),
    Color32::from_rgb(0x6a, 0x00, 0xa8),
    Color32::from_rgb(0xb1, 0x2a, 0x90),
    Color32::from_rgb(0xe1, 0x64, 0x62),
    Color32::from_rgb(0xfc, 0xce, 0x25),
];
/// A numeric target's ranges, low to high (viridis).
pub const RAMP: [Color32; 6] = [
    Color32::from_rgb(0x44, 0x01, 0x54),
    Color32::from_rgb(0x41, 0x44, 0x87),
    Color32::from_rgb(0x2a, 0x78, 0x8e),
    Color32::from_rgb(0x22, 0xa8, 0x84),
    Color32::from_rgb(0x7a, 0xd1, 0x51),
    Color32::from_rgb(0xfd, 0xe7, 0x25),
];
/// One colour per class or cluster (tab10 without the model's red and the
/// reference's grey; its pink before its cyan, which six classes showed
/// too close to the first class's blue).
pub const CLASSES: [Color32; 8] = [
    Color32::from_rgb(0x1f, 0x77, 0xb4),
    Color32::from_rgb(0xff, 0x7f, 0x0e),
    Color32::from_rgb(0x2c, 0xa0, 0x2c),
    Color32::from_rgb(0x94, 0x67, 0xbd),
    Color32::from_rgb(0x8c, 0x56, 0x4b),
    Color32::from_rgb(0xe3, 0x77, 0xc2),
    Color32::from_rgb(0x17, 0xbe, 0xcf),
    Color32::from_rgb(0xbc, 0xbd, 0x22),
];

/// The colour of class or cluster `k`: past the eight, the same hues
/// lighter, then darker, so 24 groups keep apart.
#[must_use]
pub fn class(k: usize) -> Color32 {
    let base = CLASSES[k % CLASSES.len()];
    match (k / CLASSES.len()) % 3 {
        0 => base,
        1 => base.lerp_to_gamma(Color32::WHITE, 0.5),
        _ => base.lerp_to_gamma(Color32::BLACK, 0.45),
    }
}

/// Adds DejaVu Sans after egui's fonts, for the math the sentences use
/// (subscripts, ‖, ∇, Σ) that the default fonts lack.
pub fn install_fonts(ctx: &egui::Context) {
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
    fonts.families.insert(marks(), vec!["dejavu".into()]);
    ctx.set_fonts(fonts);
}

/// The family of letters that carry a combining mark (the bar of x̄) or
/// scripts (rᵢ): egui draws a mark in its letter's font or not at all, and
/// the body font has no marks.
fn marks() -> egui::FontFamily {
    egui::FontFamily::Name("marks".into())
}

/// `text` in the body font, with each letter that carries combining marks
/// or sub- and superscripts set in DejaVu Sans with them: so that the
/// marks show, and a script is drawn in its letter's font (rᵢ, r in the
/// body font and ᵢ in DejaVu, read as n). All in the body font in the
/// frame before the fonts are installed.
pub fn marked(ui: &egui::Ui, text: &str) -> egui::text::LayoutJob {
    use crate::math::plain::{is_combining, is_script};
    // What is drawn over, under or beside the letter before it.
    let attached = |c: char| is_combining(c) || is_script(c);
    let body = egui::TextStyle::Body.resolve(ui.style());
    let format = |family: egui::FontFamily| {
        egui::TextFormat::simple(egui::FontId::new(body.size, family), Color32::PLACEHOLDER)
    };
    let mut job = egui::text::LayoutJob::default();
    let mut rest = text;
    let installed = ui
        .ctx()
        .fonts(|f| f.definitions().families.contains_key(&marks()));
    while let Some(mark) = rest.find(attached).filter(|_| installed) {
        let letter = rest[..mark]
            .char_indices()
            .next_back()
            .map_or(mark, |(i, _)| i);
        let end = rest[mark..]
            .find(|c| !attached(c))
            .map_or(rest.len(), |i| mark + i);
        job.append(&rest[..letter], 0.0, format(body.family.clone()));
        job.append(&rest[letter..end], 0.0, format(marks()));
        rest = &rest[end..];
    }
    job.append(rest, 0.0, format(body.family.clone()));
    job
}
