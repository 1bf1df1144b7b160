//! Typeset math: LaTeX formulas laid out and rasterized by latex-rust
//! (STIX Two Math), with the workarounds its 2.1 release needs. No GUI code:
//! the UI turns the pixels into a texture.

pub mod plain;
pub mod terms;

use latex_rust::{
    BoxContent, Color, Dim, MathBox, MathFont, MathStyle, PngOptions, layout_with_em_size_pt,
    render_png,
};
use std::fmt::Write as _;
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

/// A typeset formula with the boxes of the terms found in it.
#[derive(Debug, Clone, PartialEq)]
pub struct Typeset {
    /// The pixels.
    pub raster: Raster,
    /// Where each found term was drawn, in the raster's pixels.
    pub terms: Vec<TermBox>,
}

/// Where one occurrence of a candidate term was drawn.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TermBox {
    /// Index into the candidates given to [`typeset`].
    pub candidate: usize,
    /// Left, top, right, bottom in pixels of the raster.
    pub rect: [f32; 4],
}

/// Typesets `latex` with an em of `em_pixels` pixels in `rgb`.
///
/// # Errors
/// A construct latex-rust does not support, or a rasterization failure.
pub fn render(latex: &str, em_pixels: f32, rgb: [u8; 3]) -> Result<Raster, String> {
    typeset(latex, &[], em_pixels, rgb).map(|t| t.raster)
}

/// Typesets `latex` like [`render`] and reports where each occurrence of the
/// `candidates` (LaTeX fragments, see [`terms::find`]) was drawn. Each
/// occurrence is wrapped in a marker colour before layout; the layout walk
/// records the marked boxes and paints them in the ink colour again, so the
/// pixels are those of the formula and the boxes those the renderer used.
///
/// # Errors
/// As [`render`]. If the marked source does not lay out, the formula is
/// typeset without terms.
pub fn typeset(
    latex: &str,
    candidates: &[&str],
    em_pixels: f32,
    rgb: [u8; 3],
) -> Result<Typeset, String> {
    let font = font()?;
    let mut options = PngOptions::new();
    // px = pt · dpi / 72 with a 12 pt em, so dpi = 6 · px.
    #[allow(clippy::cast_possible_truncation)]
    let dpi = (em_pixels * 6.0).round().clamp(12.0, 2400.0) as i64;
    options.dpi = Dim::from_i64(dpi);
    options.color = Color::rgb(rgb[0], rgb[1], rgb[2]);
    #[allow(clippy::cast_precision_loss)]
    let em_px = dpi as f32 / 6.0;
    let layout = |source: &str| {
        let ast = latex_rust::parse(&normalize(source)).map_err(|e| e.to_string())?;
        layout_with_em_size_pt(&ast, font, MathStyle::Display, &options.font_size_pt)
            .map_err(|e| e.to_string())
    };
    let occurrences = terms::find(latex, candidates);
    let mut boxes = Vec::new();
    let tree = match layout(&mark(latex, &occurrences)) {
        Ok(mut tree) if !occurrences.is_empty() => {
            let baseline = px(&tree.height);
            unmark(&mut tree, 0.0, baseline, options.color, &mut boxes);
            tree
        }
        _ => layout(latex)?,
    };
    let png = render_png(&tree, font, &options).map_err(|e| e.to_string())?;
    let terms = boxes
        .into_iter()
        .filter_map(|(marker, rect)| {
            Some(TermBox {
                candidate: occurrences.get(usize::from(marker))?.candidate,
                rect: rect.map(|v| v * em_px),
            })
        })
        .collect();
    Ok(Typeset {
        raster: decode(&png)?,
        terms,
    })
}

/// The marker colour of occurrence `i` (at most 256 per formula).
fn marker(i: u8) -> Color {
    Color::rgb(1, 2, i)
}

/// `latex` with each occurrence wrapped in `\textcolor` with its marker.
fn mark(latex: &str, occurrences: &[terms::Occurrence]) -> String {
    let mut out = String::with_capacity(latex.len() + 32 * occurrences.len());
    let mut at = 0;
    for (i, o) in occurrences.iter().take(256).enumerate() {
        let c = marker(u8::try_from(i).unwrap_or(u8::MAX));
        let before = &latex[at..o.range.start];
        let term = &latex[o.range.clone()];
        // A bare script takes one group. An italic letter among others gets
        // its italic correction only in a list of two (`J{}`), as outside.
        let head = &latex[..o.range.start];
        let script = head.ends_with(['_', '^']);
        let sole = script || (head.ends_with('{') && latex[o.range.end..].starts_with('}'));
        let letter = !sole && term.len() == 1 && term.as_bytes()[0].is_ascii_alphabetic();
        let _ = write!(
            out,
            r"{before}{}\textcolor[RGB]{{{},{},{}}}{{{term}{}}}{}",
            if script { "{" } else { "" },
            c.r,
            c.g,
            c.b,
            if letter { "{}" } else { "" },
            if script { "}" } else { "" },
        );
        at = o.range.end;
    }
    out.push_str(&latex[at..]);
    out
}

fn px(d: &Dim) -> f32 {
    f32::from_bits(d.to_ieee32_bits())
}

/// Walks the box tree as the rasterizer draws it (positions in em from the
/// top left), records each marked box as (marker, [left, top, right, bottom])
/// and gives it the ink colour back.
fn unmark(
    bx: &mut MathBox,
    x: f32,
    parent_baseline: f32,
    ink: Color,
    out: &mut Vec<(u8, [f32; 4])>,
) {
    let baseline = parent_baseline - px(&bx.shift);
    match &mut bx.content {
        BoxContent::HList(kids) => {
            let mut x = x;
            for k in kids {
                unmark(k, x, baseline, ink, out);
                x += px(&k.width);
            }
        }
        BoxContent::VList(kids) => {
            let mut below = 0.0;
            for (i, k) in kids.iter_mut().enumerate() {
                let child_baseline = if i == 0 {
                    baseline
                } else {
                    baseline + below + px(&k.height)
                };
                below += if i == 0 {
                    px(&k.depth)
                } else {
                    px(&k.height) + px(&k.depth)
                };
                unmark(k, x, child_baseline, ink, out);
            }
        }
        BoxContent::Overlap(kids) => {
            for k in kids {
                unmark(k, x, baseline, ink, out);
            }
        }
        BoxContent::Color(c, inner) => {
            if c.r == 1 && c.g == 2 {
                let drawn = baseline - px(&inner.shift);
                out.push((
                    c.b,
                    [
                        x,
                        drawn - px(&inner.height),
                        x + px(&inner.width),
                        drawn + px(&inner.depth),
                    ],
                ));
                *c = ink;
            }
            unmark(inner, x, baseline, ink, out);
        }
        BoxContent::BackColor(_, inner) | BoxContent::Frame { inner, .. } => {
            unmark(inner, x, baseline, ink, out);
        }
        _ => {}
    }
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
    use crate::algorithms::{Hyper, REGISTRY, derivation_symbols};
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
                let steps = alg.derivation();
                let symbols = derivation_symbols(&steps);
                let candidates: Vec<&str> = symbols.iter().map(|s| s.latex).collect();
                for step in &steps {
                    count += 1;
                    let name = format!("{} / {}", entry.id, step.title);
                    match (
                        render(step.latex, 20.0, [0, 0, 0]),
                        typeset(step.latex, &candidates, 20.0, [0, 0, 0]),
                    ) {
                        (Ok(r), Ok(t)) => {
                            assert!(
                                r.width > 0
                                    && r.height > 0
                                    && r.rgba.len() == (r.width * r.height * 4) as usize
                            );
                            // Finding the terms must not move a pixel, and
                            // every occurrence must get its box.
                            if t.raster != r {
                                failures.push(format!("{name}: marking terms moved pixels"));
                            }
                            let found = terms::find(step.latex, &candidates);
                            let boxed: Vec<usize> = t.terms.iter().map(|b| b.candidate).collect();
                            let expected: Vec<usize> = found.iter().map(|o| o.candidate).collect();
                            if boxed != expected {
                                failures.push(format!(
                                    "{name}: boxes {boxed:?} for terms {expected:?}"
                                ));
                            }
                        }
                        (Err(e), _) | (_, Err(e)) => failures.push(format!("{name}: {e}")),
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
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        clippy::cast_precision_loss
    )]
    fn term_boxes_cover_their_ink_and_leave_the_pixels_as_they_were() {
        let latex = r"r_i = \hat{y}_i - y_i";
        let candidates = ["r_i", r"\hat{y}_i", "y_i"];
        let plain = render(latex, 30.0, [10, 20, 30]).unwrap();
        let t = typeset(latex, &candidates, 30.0, [10, 20, 30]).unwrap();
        assert_eq!(t.raster, plain, "marking terms changed the pixels");
        let which: Vec<usize> = t.terms.iter().map(|b| b.candidate).collect();
        assert_eq!(which, [0, 1, 2]);
        let (w, h) = (t.raster.width as f32, t.raster.height as f32);
        let ink = |rect: [f32; 4]| {
            let mut sum = 0_u32;
            for y in rect[1].max(0.0) as usize..(rect[3].min(h) as usize) {
                for x in rect[0].max(0.0) as usize..(rect[2].min(w) as usize) {
                    sum += u32::from(t.raster.rgba[(y * t.raster.width as usize + x) * 4 + 3]);
                }
            }
            sum
        };
        let all = ink([0.0, 0.0, w, h]);
        let mut covered = 0;
        for pair in t.terms.windows(2) {
            assert!(pair[0].rect[2] <= pair[1].rect[0], "{:?}", t.terms);
        }
        for b in &t.terms {
            let [l, top, r, bottom] = b.rect;
            assert!(
                0.0 <= l
                    && l < r
                    && r <= w + 1.0
                    && 0.0 <= top
                    && top < bottom
                    && bottom <= h + 1.0
            );
            assert!(ink(b.rect) > 255 * 20, "no ink in {b:?}");
            covered += ink(b.rect);
        }
        // The three terms hold most of the ink; the rest is `=` and `−`.
        assert!(covered * 10 > all * 6, "{covered} of {all}");
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
