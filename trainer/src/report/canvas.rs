//! The drawing surface every plot shares: an in-memory RGB bitmap with an embedded font,
//! encoded as PNG and written atomically.
//!
//! Text is rendered with DejaVu Sans compiled into the binary (see `trainer/assets/`), so
//! plots look the same on a machine without any fonts installed.

use std::path::Path;
use std::sync::Once;

use plotters::coord::Shift;
use plotters::prelude::*;

use crate::error::{Error, Result};

/// Font family name the plots ask for; it resolves to the embedded DejaVu Sans.
pub(crate) const FONT: &str = "sans-serif";

static DEJAVU_SANS: &[u8] = include_bytes!("../../assets/DejaVuSans.ttf");
static REGISTER: Once = Once::new();

/// The drawing area a plot draws on.
pub(crate) type Area<'a> = DrawingArea<BitMapBackend<'a>, Shift>;

/// What a drawing closure returns: plotters' errors are generic over the backend, so
/// they are boxed and turned into one [`Error::Plot`] by [`render_png`].
pub(crate) type DrawResult<T = ()> =
    std::result::Result<T, Box<dyn std::error::Error + Send + Sync>>;

/// Colour of variant A (no pooling) in every plot.
pub(crate) const COLOR_A: RGBColor = RGBColor(31, 119, 180);
/// Colour of variant B (pooling) in every plot.
pub(crate) const COLOR_B: RGBColor = RGBColor(255, 127, 14);
/// A correct prediction.
pub(crate) const COLOR_RIGHT: RGBColor = RGBColor(30, 130, 50);
/// A wrong prediction.
pub(crate) const COLOR_WRONG: RGBColor = RGBColor(200, 30, 30);
/// Axis text and secondary labels.
pub(crate) const COLOR_TEXT: RGBColor = RGBColor(40, 40, 40);
/// Light grid lines and frames.
pub(crate) const COLOR_GRID: RGBColor = RGBColor(225, 225, 225);

/// Makes the embedded font known to plotters (once per process).
fn register_font() {
    REGISTER.call_once(|| {
        // The bytes are a fixed, valid TrueType file; a failure here would leave text
        // blank, which the tests' "not blank" check on a text-only area would catch.
        let _ = plotters::style::register_font(FONT, FontStyle::Normal, DEJAVU_SANS);
    });
}

/// Text style of `size` pixels in the embedded font.
pub(crate) fn text(size: f64) -> TextStyle<'static> {
    (FONT, size).into_font().color(&COLOR_TEXT)
}

/// Renders `draw` on a white `width` x `height` canvas and writes it to `path` as PNG.
///
/// # Errors
/// [`Error::Plot`] if drawing or encoding fails, [`picocnn_host::Error::Io`] if writing `path` fails.
pub(crate) fn render_png<T>(
    path: &Path,
    (width, height): (u32, u32),
    draw: impl FnOnce(&Area<'_>) -> DrawResult<T>,
) -> Result<T> {
    register_font();
    let plot_error = |message: String| Error::Plot {
        path: path.to_path_buf(),
        message,
    };
    let mut rgb = vec![255u8; width as usize * height as usize * 3];
    let drawn = {
        let backend = BitMapBackend::with_buffer_and_format(&mut rgb, (width, height))
            .map_err(|e| plot_error(e.to_string()))?;
        let area = backend.into_drawing_area();
        area.fill(&WHITE).map_err(|e| plot_error(e.to_string()))?;
        let drawn = draw(&area).map_err(|e| plot_error(e.to_string()))?;
        area.present().map_err(|e| plot_error(e.to_string()))?;
        drawn
    };
    let png = encode_png(&rgb, width, height).map_err(|e| plot_error(e.to_string()))?;
    picocnn_host::atomic::write_atomic(path, &png).map_err(|source| Error::io(path, source))?;
    Ok(drawn)
}

/// Encodes 8-bit RGB pixels as a PNG file in memory.
fn encode_png(
    rgb: &[u8],
    width: u32,
    height: u32,
) -> std::result::Result<Vec<u8>, png::EncodingError> {
    let mut bytes = Vec::new();
    let mut encoder = png::Encoder::new(&mut bytes, width, height);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder.write_header()?;
    writer.write_image_data(rgb)?;
    writer.finish()?;
    Ok(bytes)
}

/// Draws a 28x28 grayscale image (0 = white paper, 255 = ink, as MNIST stores it) with
/// its top-left corner at `(x, y)`, each pixel a `scale` x `scale` square, in a thin frame.
pub(crate) fn draw_image(
    area: &Area<'_>,
    pixels: &[u8],
    side: usize,
    (x, y): (i32, i32),
    scale: i32,
) -> DrawResult {
    for (row, line) in pixels.chunks_exact(side).enumerate() {
        for (col, &value) in line.iter().enumerate() {
            let ink = 255 - value;
            let x0 = x + col as i32 * scale;
            let y0 = y + row as i32 * scale;
            area.draw(&Rectangle::new(
                [(x0, y0), (x0 + scale, y0 + scale)],
                RGBColor(ink, ink, ink).filled(),
            ))?;
        }
    }
    let extent = side as i32 * scale;
    area.draw(&Rectangle::new(
        [(x - 1, y - 1), (x + extent, y + extent)],
        RGBColor(170, 170, 170).stroke_width(1),
    ))?;
    Ok(())
}

/// Pixel width of `label` at `size` pixels in the embedded font, before any drawing
/// area exists (for sizing a figure to its labels).
pub(crate) fn label_width(label: &str, size: f64) -> i32 {
    register_font();
    (FONT, size)
        .into_font()
        .box_size(label)
        .map(|(w, _)| w as i32)
        .unwrap_or(0)
}

/// Pixel width of `label` in `style`, for centring and right-aligning text.
pub(crate) fn text_width(area: &Area<'_>, label: &str, style: &TextStyle<'_>) -> i32 {
    area.estimate_text_size(label, style)
        .map(|(w, _)| w as i32)
        .unwrap_or(0)
}

/// Draws `label` horizontally centred on `cx`, its top at `y`.
pub(crate) fn text_centered(
    area: &Area<'_>,
    label: &str,
    style: &TextStyle<'_>,
    (cx, y): (i32, i32),
) -> DrawResult {
    let w = text_width(area, label, style);
    area.draw_text(label, style, (cx - w / 2, y))?;
    Ok(())
}

/// Draws `label` so that it ends at `right`, its top at `y`.
pub(crate) fn text_right(
    area: &Area<'_>,
    label: &str,
    style: &TextStyle<'_>,
    (right, y): (i32, i32),
) -> DrawResult {
    let w = text_width(area, label, style);
    area.draw_text(label, style, (right - w, y))?;
    Ok(())
}
