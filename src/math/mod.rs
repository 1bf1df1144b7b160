//! Typeset math: LaTeX formulas laid out and rasterized by latex-rust
//! (STIX Two Math), with the workarounds its 2.1 release needs. No GUI code:
//! the UI turns the pixels into a texture.

use latex_rust::{Color, Dim, MathFont, PngOptions, latex_to_png};
use std::sync::OnceLock;

/// A rasterized formula: RGBA pixels, row-major.
#[derive(Debug, Clone, PartialEq)]
pub struct Raster {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// 4 bytes per pixel.
    pub rgba: Vec<u8>,
}

fn font() -> Result<&'static MathFont, String> {
    static FONT: OnceLock<Result<MathFont, String>> = OnceLock::new();
    FONT.get_or_init(|| MathFont::stix_two_math().map_err(|e| e.to_string()))
        .as_ref()
        .map_err(Clone::clone)
}

/// Rewrites what latex-rust 2.1 renders wrongly or not at all into
/// equivalents it renders well: `\quad`/`\qquad` (spacing dropped) become
/// explicit thick spaces, `\vec{x}` (arrow misplaced) becomes bold, and
/// `\operatorname*{argmin}` becomes an upright operator. A tall invisible
/// strut (`\vphantom{\Bigg(}`) makes the canvas taller than sums, limits and
/// big delimiters, whose ink the renderer otherwise clips at the image edge.
#[must_use]
pub fn normalize(latex: &str) -> String {
    let body = latex
        .replace(r"\qquad", r"\;\;\;\;\;\;\;\;")
        .replace(r"\quad", r"\;\;\;\;")
        .replace(r"\vec{", r"\mathbf{")
        .replace(r"\operatorname*{", r"\operatorname{")
        .replace(r"\lVert", r"\|")
        .replace(r"\rVert", r"\|");
    format!(r"\vphantom{{\Bigg(}} {body}")
}

/// Typesets `latex` with an em of `em_pixels` pixels in `rgb`.
///
/// # Errors
/// A construct latex-rust does not support, or a rasterization failure.
pub fn render(latex: &str, em_pixels: f32, rgb: [u8; 3]) -> Result<Raster, String> {
    let font = font()?;
    let mut options = PngOptions::new();
    // px = pt · dpi / 72 with a 12 pt em, so dpi = 6 · px.
    #[allow(clippy::cast_possible_truncation)]
    let dpi = (em_pixels * 6.0).round().clamp(12.0, 2400.0) as i64;
    options.dpi = Dim::from_i64(dpi);
    options.color = Color::rgb(rgb[0], rgb[1], rgb[2]);
    options.display = true;
    let png = latex_to_png(&normalize(latex), font, &options).map_err(|e| e.to_string())?;
    decode(&png)
}

fn decode(bytes: &[u8]) -> Result<Raster, String> {
    let mut decoder = png::Decoder::new(std::io::Cursor::new(bytes));
    decoder.set_transformations(png::Transformations::EXPAND | png::Transformations::ALPHA);
    let mut reader = decoder.read_info().map_err(|e| e.to_string())?;
    let mut buf = vec![0; reader.output_buffer_size().ok_or("image too large")?];
    let info = reader.next_frame(&mut buf).map_err(|e| e.to_string())?;
    buf.truncate(info.buffer_size());
    let rgba = match info.color_type {
        png::ColorType::Rgba => buf,
        png::ColorType::GrayscaleAlpha => buf
            .chunks(2)
            .flat_map(|p| [p[0], p[0], p[0], p[1]])
            .collect(),
        other => return Err(format!("unexpected PNG colour type {other:?}")),
    };
    Ok(Raster {
        width: info.width,
        height: info.height,
        rgba,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::algorithms::{Hyper, REGISTRY};
    use crate::optim::OptimizerKind;

    #[test]
    fn every_registered_formula_typesets() {
        let mut failures = Vec::new();
        let mut count = 0;
        for entry in REGISTRY {
            for optimizer in [
                None,
                Some(OptimizerKind::Adam),
                Some(OptimizerKind::Momentum),
                Some(OptimizerKind::Nesterov),
                Some(OptimizerKind::Adagrad),
                Some(OptimizerKind::Rmsprop),
                Some(OptimizerKind::Newton),
            ] {
                let Ok(alg) = (entry.create)(&Hyper {
                    optimizer,
                    ..Hyper::default()
                }) else {
                    continue;
                };
                for step in alg.derivation() {
                    count += 1;
                    match render(step.latex, 20.0, [0, 0, 0]) {
                        Ok(r) => assert!(
                            r.width > 0
                                && r.height > 0
                                && r.rgba.len() == (r.width * r.height * 4) as usize
                        ),
                        Err(e) => failures.push(format!("{} / {}: {e}", entry.id, step.title)),
                    }
                }
            }
        }
        assert!(
            failures.is_empty(),
            "{} of {count} formulas failed:\n{}",
            failures.len(),
            failures.join("\n")
        );
    }

    #[test]
    fn quad_becomes_visible_space() {
        let tight = render("a b", 20.0, [0, 0, 0]).unwrap();
        let spaced = render(r"a \quad b", 20.0, [0, 0, 0]).unwrap();
        assert!(
            spaced.width > tight.width + 10,
            "{} vs {}",
            spaced.width,
            tight.width
        );
    }

    #[test]
    fn tall_glyphs_keep_ink_off_the_edges() {
        let r = render(
            r"\sum_{i=1}^{n} \left( \frac{a}{b} \right)",
            24.0,
            [0, 0, 0],
        )
        .unwrap();
        let w = r.width as usize;
        let alpha = |x: usize, y: usize| r.rgba[(y * w + x) * 4 + 3];
        let top: u32 = (0..w).map(|x| u32::from(alpha(x, 0))).sum();
        let bottom: u32 = (0..w)
            .map(|x| u32::from(alpha(x, r.height as usize - 1)))
            .sum();
        assert!(
            top < 255 * 3 && bottom < 255 * 3,
            "ink touches the edge: top {top}, bottom {bottom}"
        );
    }
}
