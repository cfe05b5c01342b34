//! Renders the held-out digit set: the digits 0-9 of font files, with varied slant, stroke
//! weight and rendering size, centred the way MNIST centred its scans, written as IDX.
//!
//! `scripts/make-heldout.sh` installs the Debian font packages, lists their files and runs
//! this program; the result is checked in (`data/heldout/`) with its SHA-256 pinned.
//!
//! Usage: `render_digits OUT_DIR GROUP:FONT_FILE...` where GROUP is `hand` (a handwriting
//! font: 8 renderings per digit) or `type` (a typeface: 2 renderings per digit). Writes
//! `OUT_DIR/fonts-{images-idx3,labels-idx1}-ubyte.gz` and prints one line per font.
//!
//! Each rendering's parameters are drawn from a hash of the font's file name, the digit
//! and the rendering's number, so adding or removing a font leaves the other images as
//! they were. MNIST's recipe, as its authors describe it: the digit is scaled, aspect
//! kept, to fit a 20x20 box (anti-aliased), then placed in 28x28 with its centre of mass
//! at the centre (pixel index 14, measured on MNIST's training images).

use ab_glyph::{Font, FontVec, OutlineCurve, Point};
use ab_glyph_rasterizer::{Rasterizer, point};
use flate2::Compression;
use flate2::write::GzEncoder;
use std::io::Write;
use std::path::{Path, PathBuf};

const SIDE: usize = 28;
/// MNIST's box for the digit's longer side.
const BOX: f32 = 20.0;
/// Where MNIST's centre of mass lies, in pixel indices (mean over its training set: 14.0).
const CENTRE: f32 = 14.0;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((out, fonts)) = args.split_first() else {
        eprintln!("usage: render_digits OUT_DIR GROUP:FONT_FILE...");
        std::process::exit(2);
    };
    let mut images: Vec<u8> = Vec::new();
    let mut labels: Vec<u8> = Vec::new();
    for spec in fonts {
        let (group, path) = spec.split_once(':').unwrap_or_else(|| {
            eprintln!("{spec}: expected GROUP:FONT_FILE (group hand or type)");
            std::process::exit(2);
        });
        let per_digit = match group {
            "hand" => 8,
            "type" => 2,
            _ => {
                eprintln!("{spec}: group must be hand or type");
                std::process::exit(2);
            }
        };
        let path = PathBuf::from(path);
        let font = FontVec::try_from_vec(std::fs::read(&path).unwrap_or_else(|e| {
            eprintln!("{}: {e}", path.display());
            std::process::exit(1);
        }))
        .unwrap_or_else(|e| {
            eprintln!("{}: {e}", path.display());
            std::process::exit(1);
        });
        let name = path
            .file_name()
            .map_or(String::new(), |n| n.to_string_lossy().into_owned());
        let mut made = 0;
        for digit in 0..10u8 {
            for k in 0..per_digit {
                let mut rng = Rng::new(&name, digit, k);
                let style = Style {
                    slant: rng.range(-0.15, if group == "hand" { 0.3 } else { 0.25 }),
                    weight: rng.range(-0.4, 1.2),
                    height: rng.range(24.0, 120.0),
                };
                if let Some(image) = render(&font, char::from(b'0' + digit), style) {
                    images.extend_from_slice(&image);
                    labels.push(digit);
                    made += 1;
                }
            }
        }
        println!("{group} {name}: {made} images");
    }
    write_idx(Path::new(out), &images, &labels);
    println!("{} images in {out}", labels.len());
}

/// How one digit is drawn.
#[derive(Debug, Clone, Copy)]
struct Style {
    /// Horizontal shear (x += slant * y): positive leans right.
    slant: f32,
    /// Change of stroke width, in pixels of the final 28x28 image (negative: thinner).
    weight: f32,
    /// Height of the first rendering, in pixels (small ones look pixelated, like a scan).
    height: f32,
}

/// The digit `ch` of `font` in `style`, as a 28x28 MNIST-style image, or `None` if the
/// font has no such glyph or the stroke change leaves no ink.
fn render(font: &FontVec, ch: char, style: Style) -> Option<[u8; SIDE * SIDE]> {
    let id = font.glyph_id(ch);
    if id.0 == 0 {
        return None;
    }
    let outline = font.outline(id)?;
    let shear = |p: Point| (p.x + style.slant * p.y, p.y);
    let (mut x0, mut x1, mut y0, mut y1) = (f32::MAX, f32::MIN, f32::MAX, f32::MIN);
    for curve in &outline.curves {
        let points: &[Point] = match curve {
            OutlineCurve::Line(a, b) => &[*a, *b],
            OutlineCurve::Quad(a, b, c) => &[*a, *b, *c],
            OutlineCurve::Cubic(a, b, c, d) => &[*a, *b, *c, *d],
        };
        for &p in points {
            let (x, y) = shear(p);
            (x0, x1, y0, y1) = (x0.min(x), x1.max(x), y0.min(y), y1.max(y));
        }
    }
    if !(x1 > x0 && y1 > y0) {
        return None;
    }
    let scale = style.height / (y1 - y0);
    // One pixel of the 28x28 image is about this many pixels of the rendering.
    let px = style.height / BOX;
    let radius = (style.weight * px / 2.0).round() as i32;
    let pad = radius.unsigned_abs() as usize + 2;
    let w = ((x1 - x0) * scale).ceil() as usize + 2 * pad;
    let h = ((y1 - y0) * scale).ceil() as usize + 2 * pad;
    let map = |p: Point| {
        let (x, y) = shear(p);
        point((x - x0) * scale + pad as f32, (y1 - y) * scale + pad as f32)
    };
    let mut raster = Rasterizer::new(w, h);
    for curve in &outline.curves {
        match *curve {
            OutlineCurve::Line(a, b) => raster.draw_line(map(a), map(b)),
            OutlineCurve::Quad(a, b, c) => raster.draw_quad(map(a), map(b), map(c)),
            OutlineCurve::Cubic(a, b, c, d) => raster.draw_cubic(map(a), map(b), map(c), map(d)),
        }
    }
    let mut cover = vec![0.0f32; w * h];
    raster.for_each_pixel_2d(|x, y, a| cover[y as usize * w + x as usize] = a.abs().min(1.0));
    if radius > 0 {
        morph(&mut cover, w, h, radius as usize, f32::max);
    } else if radius < 0 {
        morph(&mut cover, w, h, radius.unsigned_abs() as usize, f32::min);
    }
    normalize(&cover, w, h)
}

/// A square max (dilation) or min (erosion) filter of the given radius, separably.
fn morph(img: &mut [f32], w: usize, h: usize, r: usize, pick: fn(f32, f32) -> f32) {
    let mut tmp = vec![0.0f32; w * h];
    for y in 0..h {
        for x in 0..w {
            let (lo, hi) = (x.saturating_sub(r), (x + r).min(w - 1));
            tmp[y * w + x] = (lo..=hi)
                .map(|i| img[y * w + i])
                .reduce(pick)
                .unwrap_or(0.0);
        }
    }
    for y in 0..h {
        for x in 0..w {
            let (lo, hi) = (y.saturating_sub(r), (y + r).min(h - 1));
            img[y * w + x] = (lo..=hi)
                .map(|j| tmp[j * w + x])
                .reduce(pick)
                .unwrap_or(0.0);
        }
    }
}

/// MNIST's centring: crop to the ink, scale (area-averaged) so the longer side is 20 px,
/// then place it in 28x28 with the centre of mass at pixel index 14 (shifted by whole
/// pixels, kept inside the image).
fn normalize(cover: &[f32], w: usize, h: usize) -> Option<[u8; SIDE * SIDE]> {
    let ink = |x: usize, y: usize| cover[y * w + x] > 0.02;
    let rows: Vec<usize> = (0..h).filter(|&y| (0..w).any(|x| ink(x, y))).collect();
    let cols: Vec<usize> = (0..w).filter(|&x| (0..h).any(|y| ink(x, y))).collect();
    let (&top, &bottom) = (rows.first()?, rows.last()?);
    let (&left, &right) = (cols.first()?, cols.last()?);
    let (cw, ch) = (right - left + 1, bottom - top + 1);
    let factor = BOX / cw.max(ch) as f32;
    let (sw, sh) = (
        ((cw as f32 * factor).round() as usize).clamp(1, 20),
        ((ch as f32 * factor).round() as usize).clamp(1, 20),
    );
    // Exact box overlaps: output pixel i covers [i, i + 1) / factor of the crop.
    let weights = |out: usize, len: usize| -> Vec<Vec<(usize, f32)>> {
        let step = len as f32 / out as f32;
        (0..out)
            .map(|i| {
                let (lo, hi) = (i as f32 * step, (i + 1) as f32 * step);
                (lo.floor() as usize..(hi.ceil() as usize).min(len))
                    .map(|j| {
                        let overlap = (hi.min(j as f32 + 1.0) - lo.max(j as f32)).max(0.0);
                        (j, overlap / step)
                    })
                    .collect()
            })
            .collect()
    };
    let (wx, wy) = (weights(sw, cw), weights(sh, ch));
    let mut small = vec![0.0f32; sw * sh];
    for (i, row) in wy.iter().enumerate() {
        for (k, col) in wx.iter().enumerate() {
            let mut v = 0.0;
            for &(j, a) in row {
                for &(l, b) in col {
                    v += a * b * cover[(top + j) * w + left + l];
                }
            }
            small[i * sw + k] = v;
        }
    }
    let total: f32 = small.iter().sum();
    if total <= 0.0 {
        return None;
    }
    let cx = small
        .iter()
        .enumerate()
        .map(|(i, v)| (i % sw) as f32 * v)
        .sum::<f32>()
        / total;
    let cy = small
        .iter()
        .enumerate()
        .map(|(i, v)| (i / sw) as f32 * v)
        .sum::<f32>()
        / total;
    let ox = ((CENTRE - cx).round() as i32).clamp(0, (SIDE - sw) as i32) as usize;
    let oy = ((CENTRE - cy).round() as i32).clamp(0, (SIDE - sh) as i32) as usize;
    let mut image = [0u8; SIDE * SIDE];
    for y in 0..sh {
        for x in 0..sw {
            image[(oy + y) * SIDE + ox + x] =
                (small[y * sw + x] * 255.0 + 0.5).clamp(0.0, 255.0) as u8;
        }
    }
    Some(image)
}

/// Writes the IDX pair, gzip-compressed (no timestamp: the same images give the same bytes).
fn write_idx(dir: &Path, images: &[u8], labels: &[u8]) {
    let count = u32::try_from(labels.len()).expect("fewer than 2^32 images");
    let mut image_file = Vec::with_capacity(16 + images.len());
    image_file.extend_from_slice(&0x0000_0803u32.to_be_bytes());
    for n in [count, SIDE as u32, SIDE as u32] {
        image_file.extend_from_slice(&n.to_be_bytes());
    }
    image_file.extend_from_slice(images);
    let mut label_file = Vec::with_capacity(8 + labels.len());
    label_file.extend_from_slice(&0x0000_0801u32.to_be_bytes());
    label_file.extend_from_slice(&count.to_be_bytes());
    label_file.extend_from_slice(labels);
    std::fs::create_dir_all(dir).expect("create the output directory");
    for (name, bytes) in [
        ("fonts-images-idx3-ubyte.gz", &image_file),
        ("fonts-labels-idx1-ubyte.gz", &label_file),
    ] {
        let mut gz = GzEncoder::new(Vec::new(), Compression::best());
        gz.write_all(bytes).expect("compress in memory");
        let path = dir.join(name);
        std::fs::write(&path, gz.finish().expect("compress in memory"))
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    }
}

/// SplitMix64 keyed by font name, digit and rendering number.
struct Rng(u64);

impl Rng {
    fn new(name: &str, digit: u8, k: u32) -> Self {
        // FNV-1a of the name, then the digit and number mixed in.
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in name.bytes().chain([b'/', digit, k as u8]) {
            h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
        Rng(h)
    }

    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn range(&mut self, lo: f32, hi: f32) -> f32 {
        lo + (hi - lo) * ((self.next() >> 40) as f32 / (1u64 << 24) as f32)
    }
}
