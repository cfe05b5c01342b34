//! On-the-fly data augmentation: every training image is redrawn with a small random
//! transform each epoch, so the model sees more handwriting than MNIST holds.
//!
//! The transforms work on the 28x28 `u8` images themselves, before the network scales them
//! to `[0, 1]`: one inverse-mapped warp with bilinear sampling (rotation, scale, shift,
//! horizontal flip and a smooth elastic field, all in one pass), then optionally a change
//! of stroke thickness (3x3 dilation or 2x2 erosion) and a loss of detail (downsampling to
//! 8-27 px and back, or a 3x3 blur).
//!
//! Each image's transform is drawn from its own random stream, keyed by the run's seed,
//! the epoch and the image's index in the training set ([`image_key`]): it depends neither
//! on the batch the image lands in nor on which thread prepares it, so an augmented run is
//! as reproducible as a plain one and a resumed run redraws the same transforms. A run
//! without augmentation never calls this module and trains on the stored bytes.
//!
//! Not for evaluation: validation, test and the held-out set are always seen as stored.

use picocnn::Dataset;
use picocnn::shape::{IMAGE_PIXELS, IMAGE_SIDE};
use serde::{Deserialize, Serialize};

/// The named presets of `--augment`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Preset {
    /// No augmentation: the stored images, as the Keras exercise trains.
    #[default]
    None,
    /// Small geometric jitter, tuned for the dataset's own test set.
    Light,
    /// Larger geometry plus stroke thickness and loss of detail, for input from the real
    /// world (other handwriting, typeset digits, camera pictures).
    Strong,
}

impl Preset {
    /// The name used on the command line and in the history.
    pub const fn name(self) -> &'static str {
        match self {
            Preset::None => "none",
            Preset::Light => "light",
            Preset::Strong => "strong",
        }
    }
}

/// What `--augment` asked for: a preset, or every parameter spelled out
/// (`rotation=6,scale=0.075,shift=1.4`; unnamed parameters are 0).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Choice {
    /// A named preset, resolved per dataset.
    Preset(Preset),
    /// Explicit parameters, the same for any dataset.
    Custom(Augment),
}

impl Choice {
    /// The transforms for `dataset`.
    pub const fn resolve(self, dataset: Dataset) -> Augment {
        match self {
            Choice::Preset(preset) => Augment::preset(preset, dataset),
            Choice::Custom(augment) => augment,
        }
    }

    /// How the history and the settings line name it: the preset, or `custom`.
    pub const fn name(self) -> &'static str {
        match self {
            Choice::Preset(preset) => preset.name(),
            Choice::Custom(_) => "custom",
        }
    }
}

impl std::str::FromStr for Choice {
    type Err = String;

    /// `none`, `light`, `strong`, or `name=value` pairs separated by commas, with the
    /// names of [`Augment`]'s fields (`rotation` for `rotation_deg`).
    fn from_str(text: &str) -> Result<Choice, String> {
        match text {
            "none" => return Ok(Choice::Preset(Preset::None)),
            "light" => return Ok(Choice::Preset(Preset::Light)),
            "strong" => return Ok(Choice::Preset(Preset::Strong)),
            _ => {}
        }
        let mut a = Augment::NONE;
        for pair in text.split(',') {
            let (name, value) = pair.split_once('=').ok_or_else(|| {
                format!("`{pair}`: expected none, light, strong or name=value pairs")
            })?;
            let value: f32 = value.trim().parse().map_err(|e| format!("`{pair}`: {e}"))?;
            if !value.is_finite() || value < 0.0 {
                return Err(format!("`{pair}`: must be a non-negative number"));
            }
            let field = match name.trim() {
                "rotation" => &mut a.rotation_deg,
                "scale" => &mut a.scale,
                "shift" => &mut a.shift,
                "flip" => &mut a.flip,
                "elastic" => &mut a.elastic,
                "dilate" => &mut a.dilate,
                "erode" => &mut a.erode,
                "resolution" => &mut a.resolution,
                "blur" => &mut a.blur,
                other => {
                    return Err(format!(
                        "unknown augmentation `{other}` (rotation, scale, shift, flip, elastic, \
                         dilate, erode, resolution, blur)"
                    ));
                }
            };
            *field = value;
        }
        if a.scale >= 0.5 || a.flip > 1.0 || a.dilate + a.erode > 1.0 || a.resolution + a.blur > 1.0
        {
            return Err(format!(
                "`{text}`: scale must stay below 0.5 and the fractions (flip, dilate + erode, \
                 resolution + blur) at most 1"
            ));
        }
        Ok(Choice::Custom(a))
    }
}

impl std::fmt::Display for Augment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.is_identity() {
            return f.write_str("none");
        }
        let fields = [
            ("rotation", self.rotation_deg),
            ("scale", self.scale),
            ("shift", self.shift),
            ("flip", self.flip),
            ("elastic", self.elastic),
            ("dilate", self.dilate),
            ("erode", self.erode),
            ("resolution", self.resolution),
            ("blur", self.blur),
        ];
        let mut first = true;
        for (name, value) in fields.into_iter().filter(|(_, v)| *v != 0.0) {
            if !first {
                f.write_str(",")?;
            }
            first = false;
            write!(f, "{name}={value}")?;
        }
        Ok(())
    }
}

/// What one preset does to each image: ranges are symmetric (`±`), fractions are of the
/// images (each image draws its own).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Augment {
    /// Largest rotation, in degrees.
    pub rotation_deg: f32,
    /// Largest relative change of size (0.075: 92.5 % to 107.5 %).
    pub scale: f32,
    /// Largest shift along each axis, in pixels.
    pub shift: f32,
    /// Fraction of images mirrored left-right (clothes, never digits).
    pub flip: f32,
    /// Largest displacement of the elastic field's control points, in pixels (0: none).
    pub elastic: f32,
    /// Fraction of images whose strokes are thickened by a 3x3 dilation.
    pub dilate: f32,
    /// Fraction of images whose strokes are thinned by a 2x2 erosion.
    pub erode: f32,
    /// Fraction of images downsampled to 8-27 px and scaled back up.
    pub resolution: f32,
    /// Fraction of images blurred with a 3x3 binomial filter.
    pub blur: f32,
}

impl Augment {
    /// Nothing changed.
    pub const NONE: Augment = Augment {
        rotation_deg: 0.0,
        scale: 0.0,
        shift: 0.0,
        flip: 0.0,
        elastic: 0.0,
        dilate: 0.0,
        erode: 0.0,
        resolution: 0.0,
        blur: 0.0,
    };

    /// The transforms of `preset` for `dataset`: digits get rotations, clothes do not
    /// (a shirt is photographed upright) but may be mirrored.
    pub const fn preset(preset: Preset, dataset: Dataset) -> Augment {
        match (preset, dataset) {
            (Preset::None, _) => Augment::NONE,
            (Preset::Light, Dataset::Mnist) => Augment {
                rotation_deg: 6.0,
                scale: 0.075,
                shift: 1.4,
                ..Augment::NONE
            },
            (Preset::Strong, Dataset::Mnist) => Augment {
                rotation_deg: 12.0,
                scale: 0.15,
                shift: 2.8,
                elastic: 0.0,
                dilate: 0.25,
                erode: 0.15,
                resolution: 0.3,
                ..Augment::NONE
            },
            (Preset::Light, Dataset::Fashion) => Augment {
                flip: 0.5,
                ..Augment::NONE
            },
            (Preset::Strong, Dataset::Fashion) => Augment {
                flip: 0.5,
                shift: 1.0,
                scale: 0.05,
                ..Augment::NONE
            },
        }
    }

    /// Whether every image comes out as it went in.
    pub fn is_identity(&self) -> bool {
        *self == Augment::NONE
    }

    /// Writes the transformed `image` to `out`, the transform drawn from `key` (see
    /// [`image_key`]).
    pub fn apply(&self, image: &[u8; IMAGE_PIXELS], key: u64, out: &mut [u8; IMAGE_PIXELS]) {
        let mut rng = SplitMix64(key);
        let mut buf = [0.0f32; IMAGE_PIXELS];
        self.warp(image, &mut rng, &mut buf);
        let thickness = rng.unit();
        if thickness < self.dilate {
            dilate3(&mut buf);
        } else if thickness < self.dilate + self.erode {
            erode2(&mut buf);
        }
        let detail = rng.unit();
        let side = 8 + (rng.next() % 20) as usize;
        if detail < self.resolution {
            resample_through(&mut buf, side);
        } else if detail < self.resolution + self.blur {
            blur3(&mut buf);
        }
        for (o, &v) in out.iter_mut().zip(&buf) {
            // Round half up; the clamp also maps anything odd to a valid pixel.
            *o = (v + 0.5).clamp(0.0, 255.0) as u8;
        }
    }

    /// The geometric part: every output pixel samples the input bilinearly at the inverse
    /// image of its centre (pixels outside the input are 0, the background).
    fn warp(
        &self,
        image: &[u8; IMAGE_PIXELS],
        rng: &mut SplitMix64,
        out: &mut [f32; IMAGE_PIXELS],
    ) {
        let angle = rng.symmetric(self.rotation_deg).to_radians();
        let scale = 1.0 + rng.symmetric(self.scale);
        let (tx, ty) = (rng.symmetric(self.shift), rng.symmetric(self.shift));
        let mirror = if rng.unit() < self.flip { -1.0 } else { 1.0 };
        let mut grid = [[(0.0f32, 0.0f32); ELASTIC_POINTS]; ELASTIC_POINTS];
        if self.elastic > 0.0 {
            for point in grid.iter_mut().flatten() {
                *point = (rng.symmetric(self.elastic), rng.symmetric(self.elastic));
            }
        }
        // Inverse map: src = c + M^-1 (dst - c - t), M = scale * rotation(angle) * mirror.
        let (sin, cos) = angle.sin_cos();
        let inv = 1.0 / scale;
        let (a, b) = (cos * inv * mirror, sin * inv * mirror);
        let (c, d) = (-sin * inv, cos * inv);
        let centre = (IMAGE_SIDE as f32 - 1.0) / 2.0;
        let source = padded(image);
        let dxs: [f32; IMAGE_SIDE] = std::array::from_fn(|x| x as f32 - centre - tx);
        for (y, row) in out.chunks_exact_mut(IMAGE_SIDE).enumerate() {
            let dy = y as f32 - centre - ty;
            for (x, (o, &dx)) in row.iter_mut().zip(&dxs).enumerate() {
                let mut sx = centre + a * dx + b * dy;
                let mut sy = centre + c * dx + d * dy;
                if self.elastic > 0.0 {
                    let (ex, ey) = elastic_at(&grid, x, y);
                    sx += ex;
                    sy += ey;
                }
                *o = sample_bilinear(&source, sx, sy);
            }
        }
    }
}

impl Default for Augment {
    fn default() -> Self {
        Augment::NONE
    }
}

/// Control points per side of the elastic field (a smooth field over a 4x4 grid).
const ELASTIC_POINTS: usize = 4;

/// The elastic displacement at pixel `(x, y)`: the control grid interpolated bilinearly.
fn elastic_at(
    grid: &[[(f32, f32); ELASTIC_POINTS]; ELASTIC_POINTS],
    x: usize,
    y: usize,
) -> (f32, f32) {
    let cell = (IMAGE_SIDE - 1) as f32 / (ELASTIC_POINTS - 1) as f32;
    let (gx, gy) = (x as f32 / cell, y as f32 / cell);
    let (ix, iy) = (
        (gx as usize).min(ELASTIC_POINTS - 2),
        (gy as usize).min(ELASTIC_POINTS - 2),
    );
    let (fx, fy) = (gx - ix as f32, gy - iy as f32);
    let lerp =
        |p: (f32, f32), q: (f32, f32), t: f32| (p.0 + (q.0 - p.0) * t, p.1 + (q.1 - p.1) * t);
    let top = lerp(grid[iy][ix], grid[iy][ix + 1], fx);
    let bottom = lerp(grid[iy + 1][ix], grid[iy + 1][ix + 1], fx);
    lerp(top, bottom, fy)
}

/// Side of the zero-padded copy the warp samples from: one row and column of background
/// before the image and two after, so that every clamped coordinate's four neighbours
/// exist and no pixel needs a bounds test.
const PADDED_SIDE: usize = IMAGE_SIDE + 3;

/// `image` as `f32` inside a border of zeros (see [`PADDED_SIDE`]).
fn padded(image: &[u8; IMAGE_PIXELS]) -> [f32; PADDED_SIDE * PADDED_SIDE] {
    let mut p = [0.0f32; PADDED_SIDE * PADDED_SIDE];
    for (row, src) in p
        .chunks_exact_mut(PADDED_SIDE)
        .skip(1)
        .zip(image.chunks_exact(IMAGE_SIDE))
    {
        for (d, &s) in row[1..=IMAGE_SIDE].iter_mut().zip(src) {
            *d = f32::from(s);
        }
    }
    p
}

/// The image at `(sx, sy)` (pixel centres at integers, 0 outside), bilinearly, from its
/// padded copy. Coordinates are first clamped to `[-1, 28]`: beyond that all four
/// neighbours are background, so the value (0) is the same as unclamped.
fn sample_bilinear(padded: &[f32; PADDED_SIDE * PADDED_SIDE], sx: f32, sy: f32) -> f32 {
    let limit = IMAGE_SIDE as f32;
    let (sx, sy) = (sx.clamp(-1.0, limit), sy.clamp(-1.0, limit));
    let (fx0, fy0) = (sx.floor(), sy.floor());
    let (fx, fy) = (sx - fx0, sy - fy0);
    // The padded copy's index of the top-left neighbour (row and column in 0..=29): exact
    // in f32, and one conversion instead of two.
    let i = ((fy0 + 1.0) * PADDED_SIDE as f32 + (fx0 + 1.0)) as i32 as usize;
    let (p00, p01) = (padded[i], padded[i + 1]);
    let (p10, p11) = (padded[i + PADDED_SIDE], padded[i + PADDED_SIDE + 1]);
    let top = p00 + (p01 - p00) * fx;
    let bottom = p10 + (p11 - p10) * fx;
    top + (bottom - top) * fy
}

/// Thicker strokes: each pixel becomes the brightest of its 3x3 neighbourhood.
fn dilate3(buf: &mut [f32; IMAGE_PIXELS]) {
    // Separably: the 3-wide maximum along rows, then along columns (pixels are never
    // negative, so the background outside the image changes nothing).
    let n = IMAGE_SIDE;
    let mut rows = [0.0f32; IMAGE_PIXELS];
    for (out, line) in rows.chunks_exact_mut(n).zip(buf.chunks_exact(n)) {
        for x in 0..n {
            let left = if x > 0 { line[x - 1] } else { 0.0 };
            let right = if x + 1 < n { line[x + 1] } else { 0.0 };
            out[x] = line[x].max(left).max(right);
        }
    }
    for y in 0..n {
        for x in 0..n {
            let up = if y > 0 { rows[(y - 1) * n + x] } else { 0.0 };
            let down = if y + 1 < n {
                rows[(y + 1) * n + x]
            } else {
                0.0
            };
            buf[y * n + x] = rows[y * n + x].max(up).max(down);
        }
    }
}

/// Thinner strokes: each pixel becomes the darkest of the 2x2 block it starts (outside
/// the image counts as background).
fn erode2(buf: &mut [f32; IMAGE_PIXELS]) {
    let src = *buf;
    let n = IMAGE_SIDE;
    for y in 0..n {
        for x in 0..n {
            buf[y * n + x] = if x + 1 < n && y + 1 < n {
                src[y * n + x]
                    .min(src[y * n + x + 1])
                    .min(src[(y + 1) * n + x])
                    .min(src[(y + 1) * n + x + 1])
            } else {
                0.0
            };
        }
    }
}

/// A 3x3 binomial blur ([1 2 1] / 4 along each axis; background outside).
fn blur3(buf: &mut [f32; IMAGE_PIXELS]) {
    let n = IMAGE_SIDE;
    let mut tmp = [0.0f32; IMAGE_PIXELS];
    for y in 0..n {
        for x in 0..n {
            let l = if x > 0 { buf[y * n + x - 1] } else { 0.0 };
            let r = if x + 1 < n { buf[y * n + x + 1] } else { 0.0 };
            tmp[y * n + x] = 0.25 * l + 0.5 * buf[y * n + x] + 0.25 * r;
        }
    }
    for y in 0..n {
        for x in 0..n {
            let u = if y > 0 { tmp[(y - 1) * n + x] } else { 0.0 };
            let d = if y + 1 < n { tmp[(y + 1) * n + x] } else { 0.0 };
            buf[y * n + x] = 0.25 * u + 0.5 * tmp[y * n + x] + 0.25 * d;
        }
    }
}

/// Loss of resolution: area-average down to `side x side` pixels, then bilinear back up
/// to 28x28 (as a small scan or a distant camera would see it).
fn resample_through(buf: &mut [f32; IMAGE_PIXELS], side: usize) {
    let n = IMAGE_SIDE;
    let side = side.clamp(1, n);
    // Downsample rows then columns with exact box overlaps.
    let weights = box_weights(side);
    // Only the input pixels a box overlaps: the others' weights are exactly 0, and
    // leaving out zero terms does not change a sum of non-negative terms.
    let width = n as f32 / side as f32;
    let span = |i: usize| {
        let lo = (i as f32 * width).floor() as usize;
        let hi = (((i + 1) as f32 * width).ceil() as usize).min(n);
        lo..hi
    };
    let mut rows = [0.0f32; IMAGE_SIDE * IMAGE_SIDE]; // n rows x side columns
    for y in 0..n {
        for (i, w) in weights.iter().take(side).enumerate() {
            rows[y * side + i] = span(i).map(|x| w[x] * buf[y * n + x]).sum();
        }
    }
    let mut small = [0.0f32; IMAGE_SIDE * IMAGE_SIDE]; // side x side
    for (j, w) in weights.iter().take(side).enumerate() {
        for i in 0..side {
            small[j * side + i] = span(j).map(|y| w[y] * rows[y * side + i]).sum();
        }
    }
    // Bilinear up, pixel centres aligned, edges clamped.
    let ratio = side as f32 / n as f32;
    let coord = |x: usize| -> (usize, usize, f32) {
        let s = ((x as f32 + 0.5) * ratio - 0.5).clamp(0.0, (side - 1) as f32);
        let i0 = s as usize;
        (i0, (i0 + 1).min(side - 1), s - i0 as f32)
    };
    // The same for rows and columns: computed once.
    let coords: [(usize, usize, f32); IMAGE_SIDE] = std::array::from_fn(coord);
    for (y, &(y0, y1, fy)) in coords.iter().enumerate() {
        for (x, &(x0, x1, fx)) in coords.iter().enumerate() {
            let top = small[y0 * side + x0] + (small[y0 * side + x1] - small[y0 * side + x0]) * fx;
            let bottom =
                small[y1 * side + x0] + (small[y1 * side + x1] - small[y1 * side + x0]) * fx;
            buf[y * n + x] = top + (bottom - top) * fy;
        }
    }
}

/// For each of `side` output pixels, the weight of each of the 28 input pixels: the part
/// of the input pixel inside the output pixel's box, over the box's width.
fn box_weights(side: usize) -> [[f32; IMAGE_SIDE]; IMAGE_SIDE] {
    let mut weights = [[0.0f32; IMAGE_SIDE]; IMAGE_SIDE];
    let width = IMAGE_SIDE as f32 / side as f32;
    for (i, w) in weights.iter_mut().take(side).enumerate() {
        let (lo, hi) = (i as f32 * width, (i + 1) as f32 * width);
        for (x, weight) in w.iter_mut().enumerate() {
            let overlap = (hi.min(x as f32 + 1.0) - lo.max(x as f32)).max(0.0);
            *weight = overlap / width;
        }
    }
    weights
}

/// The key of image `index`'s transform in `epoch` of a run with `seed`: a hash, so
/// neighbouring indices and epochs get unrelated streams.
pub fn image_key(seed: u64, epoch: usize, index: usize) -> u64 {
    let mut h = mix(seed ^ 0x6175_676d_656e_7421); // "augment!"
    h = mix(h ^ epoch as u64);
    mix(h ^ index as u64)
}

/// SplitMix64's finalizer: a bijective 64-bit mix.
const fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// SplitMix64: tiny and fast, plenty for drawing a few transform parameters per image.
#[derive(Debug, Clone)]
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        mix(self.0)
    }

    /// Uniform in `[0, 1)`, 24 random bits.
    fn unit(&mut self) -> f32 {
        (self.next() >> 40) as f32 / (1u64 << 24) as f32
    }

    /// Uniform in `[-limit, limit)`.
    fn symmetric(&mut self, limit: f32) -> f32 {
        (2.0 * self.unit() - 1.0) * limit
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A plus sign of bright strokes, off centre so flips and shifts show.
    fn plus() -> [u8; IMAGE_PIXELS] {
        let mut im = [0u8; IMAGE_PIXELS];
        for i in 6..20 {
            im[12 * IMAGE_SIDE + i] = 255;
            im[i * IMAGE_SIDE + 10] = 200;
        }
        im
    }

    fn ink(im: &[u8; IMAGE_PIXELS]) -> u32 {
        im.iter().map(|&p| u32::from(p)).sum()
    }

    /// The straightforward sampler, with a bounds test per neighbour.
    fn sample_reference(image: &[u8; IMAGE_PIXELS], sx: f32, sy: f32) -> f32 {
        let (fx0, fy0) = (sx.floor(), sy.floor());
        let (fx, fy) = (sx - fx0, sy - fy0);
        let (x0, y0) = (fx0 as i32, fy0 as i32);
        let at = |x: i32, y: i32| -> f32 {
            if (0..IMAGE_SIDE as i32).contains(&x) && (0..IMAGE_SIDE as i32).contains(&y) {
                f32::from(image[y as usize * IMAGE_SIDE + x as usize])
            } else {
                0.0
            }
        };
        let top = at(x0, y0) + (at(x0 + 1, y0) - at(x0, y0)) * fx;
        let bottom = at(x0, y0 + 1) + (at(x0 + 1, y0 + 1) - at(x0, y0 + 1)) * fx;
        top + (bottom - top) * fy
    }

    #[test]
    fn the_padded_sampler_equals_the_bounds_tested_one_bit_for_bit() {
        let mut image = [0u8; IMAGE_PIXELS];
        for (i, p) in image.iter_mut().enumerate() {
            *p = (i * 37 % 256) as u8;
        }
        let source = padded(&image);
        let mut rng = SplitMix64(5);
        for _ in 0..200_000 {
            let (sx, sy) = (rng.symmetric(40.0) + 13.5, rng.symmetric(40.0) + 13.5);
            let (fast, slow) = (
                sample_bilinear(&source, sx, sy),
                sample_reference(&image, sx, sy),
            );
            assert_eq!(fast.to_bits(), slow.to_bits(), "at ({sx}, {sy})");
        }
        for edge in [-1.0, -0.5, 0.0, 27.0, 27.5, 28.0, 28.5] {
            for other in [-1.0, 0.25, 13.0, 27.75, 28.0] {
                for (sx, sy) in [(edge, other), (other, edge)] {
                    let fast = sample_bilinear(&source, sx, sy);
                    assert_eq!(fast.to_bits(), sample_reference(&image, sx, sy).to_bits());
                }
            }
        }
    }

    #[test]
    fn the_identity_warp_returns_the_image() {
        let im = plus();
        let mut out = [0u8; IMAGE_PIXELS];
        Augment::NONE.apply(&im, 42, &mut out);
        assert_eq!(out, im);
    }

    #[test]
    fn same_key_same_bytes_other_key_other_bytes() {
        let im = plus();
        let aug = Augment::preset(Preset::Strong, Dataset::Mnist);
        let (mut a, mut b, mut c) = (
            [0u8; IMAGE_PIXELS],
            [0u8; IMAGE_PIXELS],
            [0u8; IMAGE_PIXELS],
        );
        aug.apply(&im, image_key(0, 1, 5), &mut a);
        aug.apply(&im, image_key(0, 1, 5), &mut b);
        aug.apply(&im, image_key(0, 2, 5), &mut c);
        assert_eq!(a, b);
        assert_ne!(a, c);
    }

    #[test]
    fn keys_differ_by_seed_epoch_and_index() {
        let keys = [
            image_key(0, 1, 0),
            image_key(1, 1, 0),
            image_key(0, 2, 0),
            image_key(0, 1, 1),
            image_key(1, 0, 0),
        ];
        for (i, a) in keys.iter().enumerate() {
            for b in &keys[i + 1..] {
                assert_ne!(a, b);
            }
        }
    }

    #[test]
    fn a_full_flip_mirrors_the_image() {
        let im = plus();
        let flip = Augment {
            flip: 1.0,
            ..Augment::NONE
        };
        let mut out = [0u8; IMAGE_PIXELS];
        flip.apply(&im, 3, &mut out);
        for y in 0..IMAGE_SIDE {
            for x in 0..IMAGE_SIDE {
                assert_eq!(
                    out[y * IMAGE_SIDE + x],
                    im[y * IMAGE_SIDE + IMAGE_SIDE - 1 - x]
                );
            }
        }
    }

    #[test]
    fn light_keeps_the_ink_and_moves_it_a_little() {
        let im = plus();
        let aug = Augment::preset(Preset::Light, Dataset::Mnist);
        let mut changed = 0;
        for index in 0..200 {
            let mut out = [0u8; IMAGE_PIXELS];
            aug.apply(&im, image_key(9, 1, index), &mut out);
            // Scale changes the ink by the area factor (at most 1.075^2), rounding a little.
            let ratio = f64::from(ink(&out)) / f64::from(ink(&im));
            assert!((0.8..1.2).contains(&ratio), "ink ratio {ratio}");
            changed += usize::from(out != im);
        }
        assert!(changed > 190);
    }

    #[test]
    fn dilation_thickens_and_erosion_thins() {
        let im = plus();
        let mut buf = im.map(f32::from);
        dilate3(&mut buf);
        let thick = buf.iter().filter(|&&v| v > 0.0).count();
        // Two 14-pixel bars become 3x16 blocks; their 3x3 crossing is counted once.
        assert_eq!(thick, 2 * 3 * 16 - 9);
        let mut buf = im.map(f32::from);
        erode2(&mut buf);
        // One-pixel strokes vanish under a 2x2 erosion.
        assert!(buf.iter().all(|&v| v == 0.0));
    }

    #[test]
    fn resampling_keeps_a_flat_image_flat_and_blurs_detail() {
        let mut flat = [100.0f32; IMAGE_PIXELS];
        resample_through(&mut flat, 11);
        assert!(flat.iter().all(|&v| (v - 100.0).abs() < 1e-3), "{flat:?}");
        let mut buf = plus().map(f32::from);
        let before: f32 = buf.iter().sum();
        resample_through(&mut buf, 9);
        let after: f32 = buf.iter().sum();
        assert!((after / before - 1.0).abs() < 0.1, "{before} -> {after}");
        assert!(buf.iter().cloned().fold(0.0, f32::max) < 200.0);
        for side in 8..=28 {
            let w = box_weights(side);
            for row in w.iter().take(side) {
                assert!((row.iter().sum::<f32>() - 1.0).abs() < 1e-5);
            }
        }
    }

    #[test]
    fn blur_keeps_the_ink_inside() {
        let mut buf = [0.0f32; IMAGE_PIXELS];
        buf[14 * IMAGE_SIDE + 14] = 160.0;
        blur3(&mut buf);
        assert_eq!(buf[14 * IMAGE_SIDE + 14], 40.0);
        assert_eq!(buf[13 * IMAGE_SIDE + 13], 10.0);
        assert!((buf.iter().sum::<f32>() - 160.0).abs() < 1e-3);
    }

    #[test]
    fn elastic_field_is_zero_without_points_and_interpolates_corners() {
        let mut grid = [[(0.0f32, 0.0f32); ELASTIC_POINTS]; ELASTIC_POINTS];
        assert_eq!(elastic_at(&grid, 5, 7), (0.0, 0.0));
        grid[0][0] = (1.0, -1.0);
        assert_eq!(elastic_at(&grid, 0, 0), (1.0, -1.0));
        grid[3][3] = (2.0, 2.0);
        assert_eq!(elastic_at(&grid, 27, 27), (2.0, 2.0));
    }

    #[test]
    fn choices_parse_and_print_back() {
        let light: Choice = "light".parse().unwrap();
        assert_eq!(light, Choice::Preset(Preset::Light));
        let spec = "rotation=6,scale=0.075,shift=1.4";
        let custom: Choice = spec.parse().unwrap();
        assert_eq!(
            custom.resolve(Dataset::Fashion),
            Augment::preset(Preset::Light, Dataset::Mnist)
        );
        assert_eq!(custom.resolve(Dataset::Mnist).to_string(), spec);
        assert_eq!(Augment::NONE.to_string(), "none");
        for bad in [
            "heavy",
            "rotation",
            "tilt=3",
            "scale=0.6",
            "flip=-1",
            "dilate=0.7,erode=0.5",
        ] {
            assert!(bad.parse::<Choice>().is_err(), "{bad}");
        }
    }

    #[test]
    fn presets_fit_the_dataset() {
        assert!(Augment::preset(Preset::None, Dataset::Mnist).is_identity());
        for preset in [Preset::Light, Preset::Strong] {
            let digits = Augment::preset(preset, Dataset::Mnist);
            assert_eq!(digits.flip, 0.0, "digits are never mirrored");
            let clothes = Augment::preset(preset, Dataset::Fashion);
            assert_eq!(clothes.rotation_deg, 0.0, "clothes are not rotated");
        }
    }
}
