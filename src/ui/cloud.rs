//! A large cloud of data points as one plot item drawn as one mesh.
//!
//! `egui_plot::Points` makes one circle shape a point, and the frame then
//! tessellates each on its own: at the 20,000 points drawn of a large file
//! (`algorithms::DRAWN_ROWS`) those shapes were most of a frame's time. A
//! [`Cloud`] puts one textured square a point into one mesh, the texture a
//! disc rasterized once at the cloud's size in pixels with its edge
//! anti-aliased (as egui draws small discs), or a ring for hollow markers
//! (the SVM's margin violators). Clouds of fewer points keep egui_plot's
//! markers (see [`points`] and [`rings`]).

use egui::epaint::{Mesh, Shape};
use egui::{
    Color32, ColorImage, Context, Id, Pos2, Rect, TextureHandle, TextureId, Ui, pos2, vec2,
};
use egui_plot::{
    PlotBounds, PlotGeometry, PlotItem, PlotItemBase, PlotPoint, PlotPoints, PlotTransform, Points,
};

/// From how many points a cloud is drawn as one mesh (3,300 of egui_plot's
/// rings took 4 ms a frame to tessellate on the benchmark machine; 1,000
/// of its shapes cost little).
pub const MESH_FROM: usize = 1_000;

/// Points of one colour, drawn as one mesh of discs.
pub struct Cloud {
    base: PlotItemBase,
    points: Vec<PlotPoint>,
    bounds: PlotBounds,
    radius: f32,
    colour: Color32,
    filled: bool,
}

impl Cloud {
    /// The points `xy` named `name` (the legend's entry), each a disc of
    /// `radius` points.
    #[must_use]
    pub fn new(name: impl Into<String>, xy: &[[f64; 2]], radius: f32, colour: Color32) -> Self {
        let points: Vec<PlotPoint> = xy.iter().map(|&p| PlotPoint::from(p)).collect();
        let mut bounds = PlotBounds::NOTHING;
        for p in &points {
            bounds.extend_with(p);
        }
        Self {
            base: PlotItemBase::new(name.into()),
            points,
            bounds,
            radius,
            colour,
            filled: true,
        }
    }

    /// Each point a ring, as egui_plot draws unfilled points: a circle of
    /// `radius` stroked `radius / 5` wide.
    #[must_use]
    pub fn hollow(mut self) -> Self {
        self.filled = false;
        self
    }

    /// The mesh of the points inside `frame` (in screen points): at each,
    /// where `transform` puts it, a square of side `side` showing `disc`.
    fn mesh(&self, transform: &PlotTransform, frame: Rect, (disc, side): (TextureId, f32)) -> Mesh {
        let mut mesh = Mesh::with_texture(disc);
        mesh.reserve_triangles(2 * self.points.len());
        mesh.reserve_vertices(4 * self.points.len());
        let half = vec2(side, side) * 0.5;
        let frame = frame.expand(side);
        let uv = Rect::from_min_max(Pos2::ZERO, pos2(1.0, 1.0));
        for p in &self.points {
            let centre: Pos2 = transform.position_from_point(p);
            if frame.contains(centre) {
                let square = Rect::from_min_max(centre - half, centre + half);
                mesh.add_rect_with_uv(square, uv, self.colour);
            }
        }
        mesh
    }
}

/// A white disc of `outer` pixels' radius with a hole of `inner` (0 for
/// none), anti-aliased, in a square texture one pixel wider than it on
/// each side: its handle and its side in pixels. Made once per size and
/// kept in the context's memory.
fn disc(ctx: &Context, outer: f32, inner: f32) -> (TextureHandle, f32) {
    let id = Id::unique(("steplab-cloud-disc", outer.to_bits(), inner.to_bits()));
    if let Some(made) = ctx.data(|d| d.get_temp::<(TextureHandle, f32)>(id)) {
        return made;
    }
    let image = disc_image(outer, inner);
    let side = image.size[0] as f32;
    let handle = ctx.load_texture("cloud disc", image, egui::TextureOptions::LINEAR);
    ctx.data_mut(|d| d.insert_temp(id, (handle.clone(), side)));
    (handle, side)
}

/// The pixels of [`disc`]: each one's coverage by the disc from 4 × 4
/// samples, the disc's centre on the corner of the four middle pixels.
fn disc_image(outer: f32, inner: f32) -> ColorImage {
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let size = 2 * (outer.ceil() as usize + 1);
    let centre = size as f32 / 2.0;
    let pixels = (0..size * size)
        .map(|i| {
            let (x, y) = ((i % size) as f32, (i / size) as f32);
            let inside = (0..16u8)
                .filter(|s| {
                    let dx = x + (f32::from(s % 4) + 0.5) / 4.0 - centre;
                    let dy = y + (f32::from(s / 4) + 0.5) / 4.0 - centre;
                    let d2 = dx * dx + dy * dy;
                    d2 <= outer * outer && d2 >= inner * inner
                })
                .count();
            #[allow(clippy::cast_possible_truncation)]
            Color32::from_white_alpha((inside * 255 / 16) as u8)
        })
        .collect();
    ColorImage::new([size, size], pixels)
}

impl PlotItem for Cloud {
    fn shapes(&self, ui: &Ui, transform: &PlotTransform, shapes: &mut Vec<Shape>) {
        // Hovered in the legend, √2 times larger, as egui_plot's points are.
        let radius = if self.highlighted() {
            self.radius * std::f32::consts::SQRT_2
        } else {
            self.radius
        };
        let ppp = ui.ctx().pixels_per_point();
        let (outer, inner) = if self.filled {
            (radius, 0.0)
        } else {
            // egui strokes a circle on its edge, half the width each side.
            let half = self.radius / 10.0;
            (radius + half, radius - half)
        };
        let (texture, pixels) = disc(ui.ctx(), outer * ppp, inner * ppp);
        let frame = *transform.frame();
        shapes.push(Shape::mesh(self.mesh(
            transform,
            frame,
            (texture.id(), pixels / ppp),
        )));
    }

    fn initialize(&mut self, _x_range: std::ops::RangeInclusive<f64>) {}

    fn color(&self) -> Color32 {
        self.colour
    }

    fn geometry(&self) -> PlotGeometry<'_> {
        PlotGeometry::Points(&self.points)
    }

    fn bounds(&self) -> PlotBounds {
        self.bounds
    }

    fn base(&self) -> &PlotItemBase {
        &self.base
    }

    fn base_mut(&mut self) -> &mut PlotItemBase {
        &mut self.base
    }
}

/// Draws the points `xy` named `name` as discs: a [`Cloud`] from
/// [`MESH_FROM`] points, else egui_plot's points.
pub fn points(
    plot_ui: &mut egui_plot::PlotUi<'_>,
    name: impl Into<String>,
    xy: Vec<[f64; 2]>,
    radius: f32,
    colour: Color32,
) {
    draw(plot_ui, name.into(), xy, radius, colour, true);
}

/// Draws the points `xy` named `name` as rings, as [`points`] does discs.
pub fn rings(
    plot_ui: &mut egui_plot::PlotUi<'_>,
    name: impl Into<String>,
    xy: Vec<[f64; 2]>,
    radius: f32,
    colour: Color32,
) {
    draw(plot_ui, name.into(), xy, radius, colour, false);
}

fn draw(
    plot_ui: &mut egui_plot::PlotUi<'_>,
    name: String,
    xy: Vec<[f64; 2]>,
    radius: f32,
    colour: Color32,
    filled: bool,
) {
    if xy.len() >= MESH_FROM {
        let cloud = Cloud::new(name, &xy, radius, colour);
        plot_ui.add(if filled { cloud } else { cloud.hollow() });
    } else {
        plot_ui.points(
            Points::new(name, PlotPoints::from(xy))
                .radius(radius)
                .color(colour)
                .filled(filled),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mesh_has_a_square_per_point_in_the_frame_and_none_outside() {
        let xy: Vec<[f64; 2]> = (0..100).map(|i| [f64::from(i), f64::from(i % 7)]).collect();
        let cloud = Cloud::new("data", &xy, 1.5, Color32::RED);
        let bounds = cloud.bounds();
        assert_eq!(
            (bounds.min(), bounds.max()),
            ([0.0, 0.0], [99.0, 6.0]),
            "the bounds span the points"
        );
        let frame = Rect::from_min_size(Pos2::ZERO, vec2(200.0, 100.0));
        let transform = PlotTransform::new(frame, bounds, egui::Vec2b::new(false, false));
        let disc = (TextureId::User(7), 4.0);
        let mesh = cloud.mesh(&transform, frame, disc);
        assert_eq!(mesh.vertices.len(), 4 * 100);
        assert_eq!(mesh.indices.len(), 6 * 100);
        // The first point lies at the frame's lower-left corner.
        let first = &mesh.vertices[..4];
        let centre = first
            .iter()
            .fold(Pos2::ZERO, |c, v| c + v.pos.to_vec2() / 4.0);
        assert!(centre.distance(frame.left_bottom()) < 1e-3, "{centre:?}");
        assert!(first.iter().all(|v| v.color == Color32::RED));
        assert_eq!(mesh.texture_id, TextureId::User(7));
        // Half the frame's width holds about half the points.
        let half = Rect::from_min_size(Pos2::ZERO, vec2(100.0, 100.0));
        let squares = cloud.mesh(&transform, half, disc).vertices.len() / 4;
        assert!((49..=52).contains(&squares), "{squares}");
    }

    #[test]
    fn the_disc_covers_its_area_and_is_made_once_per_radius() {
        let image = disc_image(3.0, 0.0);
        assert_eq!(image.size, [8, 8]);
        let area: f32 = image.pixels.iter().map(|p| f32::from(p.a()) / 255.0).sum();
        let exact = std::f32::consts::PI * 9.0;
        assert!(
            (area - exact).abs() < 0.03 * exact,
            "{area} against {exact}"
        );
        assert_eq!(image.pixels[3 * 8 + 3].a(), 255, "the middle is opaque");
        assert_eq!(image.pixels[0].a(), 0, "the corners are clear");
        let ctx = Context::default();
        let (a, side) = disc(&ctx, 3.0, 0.0);
        assert!((side - 8.0).abs() < f32::EPSILON, "{side}");
        assert_eq!(disc(&ctx, 3.0, 0.0).0.id(), a.id());
        assert_ne!(disc(&ctx, 1.5, 0.0).0.id(), a.id());
        assert_ne!(disc(&ctx, 3.0, 2.0).0.id(), a.id());
    }

    #[test]
    fn a_ring_covers_its_annulus_and_leaves_its_middle_clear() {
        let image = disc_image(6.0, 4.0);
        assert_eq!(image.size, [14, 14]);
        let area: f32 = image.pixels.iter().map(|p| f32::from(p.a()) / 255.0).sum();
        let exact = std::f32::consts::PI * (6.0 * 6.0 - 4.0 * 4.0);
        assert!(
            (area - exact).abs() < 0.05 * exact,
            "{area} against {exact}"
        );
        assert_eq!(image.pixels[7 * 14 + 7].a(), 0, "the middle is clear");
        // On the ring: the pixel 4 to 5 right of the centre (7, 7).
        assert_eq!(image.pixels[7 * 14 + 11].a(), 255);
    }
}
