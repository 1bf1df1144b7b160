//! Typeset formulas in the derivation panel: latex-rust's pixels as cached
//! textures, and the boxes of the symbols in them as hover regions.

use crate::algorithms::Symbol;
use crate::math::TermBox;
use std::collections::HashMap;

/// A formula turned into a texture, with where its terms were drawn.
#[derive(Clone)]
struct Typeset {
    texture: egui::TextureHandle,
    /// Raster pixels per texture pixel is 1; the boxes are in raster pixels.
    terms: Vec<TermBox>,
}

/// Typeset formulas by (LaTeX, terms, em in pixels, colour); `None` when the
/// formula cannot be typeset.
#[derive(Clone, Default)]
struct Cache(HashMap<(String, String, u32, [u8; 3]), Option<Typeset>>);

/// What the pointer is over in a formula.
pub struct FormulaResponse {
    /// The formula's response (hovered anywhere in it).
    pub response: egui::Response,
    /// The symbol whose term is under the pointer.
    pub term: Option<Symbol>,
}

/// Shows a typeset formula (rasterized at the screen's pixel density and
/// cached), scaled down to fit the width, or, where that would make it
/// too small to read, less and in a sideways scroll area. Occurrences of
/// `symbols` in it are hover regions: the one under the pointer, and every
/// occurrence of the symbols in `lit` (what the rest of the window points
/// at), get a tint.
/// Falls back to the source in monospace if it cannot be typeset.
pub fn formula_ui(
    ui: &mut egui::Ui,
    latex: &str,
    symbols: &[Symbol],
    lit: &[&str],
) -> FormulaResponse {
    let ppp = ui.ctx().pixels_per_point();
    let em_pixels = 15.0 * ppp;
    let c = ui.visuals().text_color();
    let rgb = [c.r(), c.g(), c.b()];
    let names: String = symbols
        .iter()
        .map(|s| s.latex)
        .collect::<Vec<_>>()
        .join("\u{1}");
    let key = (latex.to_string(), names, em_pixels.to_bits(), rgb);
    let id = egui::Id::unique("steplab-formula-textures");
    let cached = ui
        .ctx()
        .data_mut(|d| d.get_temp_mut_or_default::<Cache>(id).0.get(&key).cloned());
    let typeset = cached.unwrap_or_else(|| {
        let candidates: Vec<&str> = symbols.iter().map(|s| s.latex).collect();
        let typeset = crate::math::typeset(latex, &candidates, em_pixels, rgb)
            .ok()
            .and_then(|t| {
                let size = [
                    usize::try_from(t.raster.width).ok()?,
                    usize::try_from(t.raster.height).ok()?,
                ];
                let image = egui::ColorImage::from_rgba_unmultiplied(size, &t.raster.rgba);
                Some(Typeset {
                    texture: ui.ctx().load_texture(
                        format!("formula {latex}"),
                        image,
                        egui::TextureOptions::LINEAR,
                    ),
                    terms: t.terms,
                })
            });
        ui.ctx().data_mut(|d| {
            d.get_temp_mut_or_default::<Cache>(id)
                .0
                .insert(key, typeset.clone());
        });
        typeset
    });
    let Some(typeset) = typeset else {
        let response =
            ui.add(egui::Label::new(egui::RichText::new(latex).monospace().size(12.0)).wrap());
        return FormulaResponse {
            response,
            term: None,
        };
    };
    let natural = typeset.texture.size_vec2() / ppp;
    // Clear of the scroll bar, which floats over the panel's right edge.
    let available = (ui.available_width() - ui.spacing().scroll.bar_width - 4.0).max(50.0);
    let (scale, scrolls) = fitted(natural.x, available);
    let paint =
        |ui: &mut egui::Ui| paint_formula(ui, (latex, &typeset), natural * scale, symbols, lit);
    if scrolls {
        egui::ScrollArea::horizontal()
            .id_salt(("formula", latex))
            .show(ui, paint)
            .inner
    } else {
        paint(ui)
    }
}

/// Formulas wider than the panel are shrunk to fit it, but to no less
/// than this share of their size, below which they are hard to read.
const LEAST_SCALE: f32 = 0.75;

/// The scale a formula `width` points wide is drawn at in `available`
/// points, and whether it then needs to scroll sideways.
fn fitted(width: f32, available: f32) -> (f32, bool) {
    if width <= available {
        return (1.0, false);
    }
    let fit = available / width;
    (fit.max(LEAST_SCALE), fit < LEAST_SCALE)
}

/// Draws `typeset` at `size`, with its terms as hover regions.
fn paint_formula(
    ui: &mut egui::Ui,
    (latex, typeset): (&str, &Typeset),
    size: egui::Vec2,
    symbols: &[Symbol],
    lit: &[&str],
) -> FormulaResponse {
    let texture = &typeset.texture;
    let (rect, response) = ui.allocate_exact_size(size, egui::Sense::hover());
    response.widget_info(|| egui::WidgetInfo::labeled(egui::Role::Image, true, latex));
    let scale = size.x / texture.size_vec2().x;
    let rect_of = |b: &TermBox| {
        egui::Rect::from_min_max(
            rect.min + egui::vec2(b.rect[0], b.rect[1]) * scale,
            rect.min + egui::vec2(b.rect[2], b.rect[3]) * scale,
        )
        .expand(1.0)
    };
    // The smallest box under the pointer (a term inside another wins).
    let under = response.hover_pos().and_then(|p| {
        typeset
            .terms
            .iter()
            .filter(|b| rect_of(b).contains(p))
            .min_by(|a, b| rect_of(a).area().total_cmp(&rect_of(b).area()))
    });
    let term = under.and_then(|b| symbols.get(b.candidate).copied());
    let tint = ui.visuals().selection.bg_fill.gamma_multiply(0.45);
    for b in &typeset.terms {
        let id = symbols.get(b.candidate).map(|s| s.id);
        if term.map(|t| t.id) == id || id.is_some_and(|id| lit.contains(&id)) {
            ui.painter().rect_filled(rect_of(b), 3.0, tint);
        }
    }
    // The glyphs over the tints.
    egui::Image::new((texture.id(), size)).paint_at(ui, rect);
    FormulaResponse { response, term }
}

#[cfg(test)]
mod tests {
    use super::{LEAST_SCALE, fitted};

    #[test]
    fn wide_formulas_shrink_to_a_readable_size_then_scroll() {
        assert_eq!(fitted(300.0, 400.0), (1.0, false));
        let (scale, scrolls) = fitted(500.0, 400.0);
        assert!((scale - 0.8).abs() < 1e-6 && !scrolls);
        assert_eq!(fitted(1000.0, 400.0), (LEAST_SCALE, true));
    }
}
