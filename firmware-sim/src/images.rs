//! Input images: IDX files as the network takes them, PNG and PGM pictures of any size
//! brought to 28x28 the way MNIST was made.
//!
//! IDX files (raw or gzip, one or many images) must hold 28x28 images and are used as is:
//! they are the network's input format, so a different size is an error, not something to
//! guess about. A PNG or PGM picture is turned into white ink on black (compositing any
//! transparency over white, inverting when the border is light), then:
//! - 28x28 pictures are taken as they are (for example images cut from a dataset);
//! - otherwise the ink's bounding box is scaled with area averaging to fit 20x20 (MNIST)
//!   or 28x28 (Fashion-MNIST), keeping its aspect ratio, and placed so that its centre of
//!   mass falls on the centre of the 28x28 frame, as in MNIST's own preprocessing.

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::Path;

use picocnn::Dataset;
use picocnn::shape::{IMAGE_PIXELS, IMAGE_SIDE};

use crate::error::{Error, Result};

/// One 28x28 network input and where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Image {
    /// The file it was read from, with `#index` for files of several images.
    pub source: String,
    /// Row-major pixels, 0 = background.
    pub pixels: [u8; IMAGE_PIXELS],
}

/// Largest side of a PNG or PGM picture accepted (larger ones are almost certainly not
/// a single hand-drawn digit, and would cost memory for nothing).
pub const MAX_PICTURE_SIDE: usize = 8192;

/// A greyscale picture before it is fitted to 28x28.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Picture {
    /// Columns.
    pub width: usize,
    /// Rows.
    pub height: usize,
    /// Row-major greyscale, 0 = black.
    pub pixels: Vec<u8>,
}

/// Reads every image in `path` as network input. `dataset` selects how pictures are
/// fitted (MNIST digits to a 20x20 box, Fashion-MNIST items to the whole frame).
///
/// # Errors
/// [`Error::Io`] if the file cannot be read, [`Error::ImageSize`] for an IDX file whose
/// images are not 28x28, [`Error::ImageDecode`] for a file that is not a valid IDX, PNG or
/// PGM image, and the IDX reader's errors for a malformed IDX file.
pub fn load(path: &Path, dataset: Dataset) -> Result<Vec<Image>> {
    let mut magic = [0u8; 4];
    let read = File::open(path)
        .and_then(|f| f.take(4).read(&mut magic))
        .map_err(|e| Error::io(path, e))?;
    let name = path.display().to_string();
    let magic = magic.get(..read).unwrap_or_default();
    if magic.starts_with(&[0x1f, 0x8b]) || magic.starts_with(&[0, 0, 8]) {
        let images = picocnn_host::idx::read_images(path)?;
        if images.rows != IMAGE_SIDE || images.cols != IMAGE_SIDE {
            return Err(Error::ImageSize {
                path: path.to_owned(),
                rows: images.rows,
                cols: images.cols,
            });
        }
        let (chunks, _) = images.pixels.as_chunks::<IMAGE_PIXELS>();
        let single = chunks.len() == 1;
        return Ok(chunks
            .iter()
            .enumerate()
            .map(|(i, pixels)| Image {
                source: if single {
                    name.clone()
                } else {
                    format!("{name} #{i}")
                },
                pixels: *pixels,
            })
            .collect());
    }
    let picture = if magic.starts_with(b"\x89PNG") {
        read_png(path)?
    } else if magic.starts_with(b"P5") || magic.starts_with(b"P2") {
        let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        parse_pgm(&bytes).map_err(|message| Error::ImageDecode {
            path: path.to_owned(),
            message,
        })?
    } else {
        return Err(Error::ImageDecode {
            path: path.to_owned(),
            message: "not an IDX, PNG or PGM image".into(),
        });
    };
    Ok(vec![Image {
        source: name,
        pixels: fit(&picture, dataset),
    }])
}

/// Decodes a PNG of any colour type and depth to greyscale, transparency composited over
/// white (a drawing on a transparent background is dark ink on white paper).
fn read_png(path: &Path) -> Result<Picture> {
    let decode_error = |message: String| Error::ImageDecode {
        path: path.to_owned(),
        message,
    };
    let file = File::open(path).map_err(|e| Error::io(path, e))?;
    let mut decoder = png::Decoder::new(BufReader::new(file));
    decoder.set_transformations(png::Transformations::EXPAND | png::Transformations::STRIP_16);
    let mut reader = decoder
        .read_info()
        .map_err(|e| decode_error(format!("bad PNG: {e}")))?;
    // The header's size is checked before the frame buffer is allocated: a 90-byte file
    // can claim 20 x 2.7e9 pixels.
    let header = reader.info();
    check_side(header.width as usize, header.height as usize).map_err(decode_error)?;
    let size = reader
        .output_buffer_size()
        .ok_or_else(|| decode_error("PNG too large".into()))?;
    let mut buf = vec![0u8; size];
    let info = reader
        .next_frame(&mut buf)
        .map_err(|e| decode_error(format!("bad PNG: {e}")))?;
    let (width, height) = (info.width as usize, info.height as usize);
    check_side(width, height).map_err(decode_error)?;
    let channels = info.color_type.samples();
    let pixels = buf
        .chunks_exact(channels)
        .take(width * height)
        .map(|px| {
            let (grey, alpha) = match *px {
                [g] => (u32::from(g), 255),
                [g, a] => (u32::from(g), u32::from(a)),
                [r, g, b] => (luma(r, g, b), 255),
                [r, g, b, a] => (luma(r, g, b), u32::from(a)),
                _ => (0, 255),
            };
            // Over white: grey * alpha + 255 * (1 - alpha), rounded.
            ((grey * alpha + 255 * (255 - alpha) + 127) / 255) as u8
        })
        .collect();
    Ok(Picture {
        width,
        height,
        pixels,
    })
}

/// ITU-R BT.601 luma, as most greyscale conversions use.
fn luma(r: u8, g: u8, b: u8) -> u32 {
    (299 * u32::from(r) + 587 * u32::from(g) + 114 * u32::from(b) + 500) / 1000
}

fn check_side(width: usize, height: usize) -> std::result::Result<(), String> {
    if width == 0 || height == 0 || width > MAX_PICTURE_SIDE || height > MAX_PICTURE_SIDE {
        return Err(format!(
            "picture is {width}x{height}; sides must be 1..={MAX_PICTURE_SIDE}"
        ));
    }
    Ok(())
}

/// Parses a binary (`P5`) or plain (`P2`) PGM with a maximum value up to 65535, scaled to
/// 0..=255.
///
/// # Errors
/// A one-line description of what is malformed.
pub fn parse_pgm(bytes: &[u8]) -> std::result::Result<Picture, String> {
    let binary = bytes.starts_with(b"P5");
    if !binary && !bytes.starts_with(b"P2") {
        return Err("not a PGM file (no P5 or P2 magic)".into());
    }
    let mut pos = 2;
    let mut header = [0usize; 3];
    for field in &mut header {
        *field = next_number(bytes, &mut pos).ok_or("bad PGM header")?;
    }
    let [width, height, max] = header;
    check_side(width, height)?;
    if !(1..=65535).contains(&max) {
        return Err(format!("bad PGM maximum value {max}"));
    }
    let count = width * height;
    let scale = |v: usize| -> u8 { ((v.min(max) * 255 + max / 2) / max) as u8 };
    let pixels: Vec<u8> = if binary {
        // Exactly one whitespace byte separates the header from the raster.
        let raster = bytes.get(pos + 1..).ok_or("PGM raster missing")?;
        let sample = if max < 256 { 1 } else { 2 };
        if raster.len() < count * sample {
            return Err(format!(
                "PGM raster holds {} bytes, {width}x{height} needs {}",
                raster.len(),
                count * sample
            ));
        }
        raster
            .chunks_exact(sample)
            .take(count)
            .map(|s| scale(s.iter().fold(0usize, |v, &b| v << 8 | usize::from(b))))
            .collect()
    } else {
        // Each plain value takes at least two bytes: never reserve more than the file holds.
        let mut pixels = Vec::with_capacity(count.min(bytes.len() / 2));
        for _ in 0..count {
            let v = next_number(bytes, &mut pos).ok_or("PGM raster ends early")?;
            pixels.push(scale(v));
        }
        pixels
    };
    Ok(Picture {
        width,
        height,
        pixels,
    })
}

/// The next decimal number after whitespace and `#` comments, leaving `pos` just after it.
fn next_number(bytes: &[u8], pos: &mut usize) -> Option<usize> {
    loop {
        match bytes.get(*pos)? {
            b'#' => {
                while bytes.get(*pos).is_some_and(|&b| b != b'\n') {
                    *pos += 1;
                }
            }
            b if b.is_ascii_whitespace() => *pos += 1,
            _ => break,
        }
    }
    let start = *pos;
    while bytes.get(*pos).is_some_and(u8::is_ascii_digit) {
        *pos += 1;
    }
    std::str::from_utf8(bytes.get(start..*pos)?)
        .ok()?
        .parse()
        .ok()
}

/// Brings a picture to network input: white ink on black, 28x28 (see the module docs).
pub fn fit(picture: &Picture, dataset: Dataset) -> [u8; IMAGE_PIXELS] {
    let ink = to_ink(picture);
    if picture.width == IMAGE_SIDE && picture.height == IMAGE_SIDE {
        let mut out = [0u8; IMAGE_PIXELS];
        out.copy_from_slice(&ink);
        return out;
    }
    let Some((x0, y0, x1, y1)) = ink_box(&ink, picture.width) else {
        // Nothing drawn: a blank input.
        return [0; IMAGE_PIXELS];
    };
    let target = match dataset {
        Dataset::Mnist => 20,
        Dataset::Fashion => IMAGE_SIDE,
    };
    let (w, h) = (x1 - x0, y1 - y0);
    let (out_w, out_h) = if w >= h {
        (target, (h * target + w / 2) / w)
    } else {
        ((w * target + h / 2) / h, target)
    };
    let (out_w, out_h) = (out_w.max(1), out_h.max(1));
    let small = resample(&ink, picture.width, x0, y0, x1, y1, out_w, out_h);
    place(&small, out_w, out_h)
}

/// Greyscale to ink: inverted when the border is mostly light (dark ink on paper).
fn to_ink(picture: &Picture) -> Vec<u8> {
    let (w, h) = (picture.width, picture.height);
    let border = picture
        .pixels
        .iter()
        .enumerate()
        .filter(|(i, _)| {
            let (x, y) = (i % w, i / w);
            x == 0 || y == 0 || x + 1 == w || y + 1 == h
        })
        .map(|(_, &p)| u64::from(p));
    let (sum, n) = border.fold((0u64, 0u64), |(s, n), p| (s + p, n + 1));
    if n > 0 && sum / n > 127 {
        picture.pixels.iter().map(|&p| 255 - p).collect()
    } else {
        picture.pixels.clone()
    }
}

/// The smallest box `[x0, x1) x [y0, y1)` holding every pixel brighter than a quarter of
/// the brightest one, or `None` for a blank picture.
fn ink_box(ink: &[u8], width: usize) -> Option<(usize, usize, usize, usize)> {
    let max = ink.iter().copied().max()?;
    if max == 0 {
        return None;
    }
    let threshold = max / 4;
    let mut b: Option<(usize, usize, usize, usize)> = None;
    for (i, _) in ink.iter().enumerate().filter(|&(_, &p)| p > threshold) {
        let (x, y) = (i % width, i / width);
        b = Some(match b {
            None => (x, y, x + 1, y + 1),
            Some((x0, y0, x1, y1)) => (x0.min(x), y0.min(y), x1.max(x + 1), y1.max(y + 1)),
        });
    }
    b
}

/// Area-averaging resampling of the box `[x0, x1) x [y0, y1)` of a `width`-wide image to
/// `out_w x out_h`: each output pixel is the mean of the source area it covers, partial
/// source pixels weighted by the fraction covered.
#[allow(clippy::too_many_arguments)]
fn resample(
    src: &[u8],
    width: usize,
    x0: usize,
    y0: usize,
    x1: usize,
    y1: usize,
    out_w: usize,
    out_h: usize,
) -> Vec<u8> {
    let weights_x = coverage(x1 - x0, out_w);
    let weights_y = coverage(y1 - y0, out_h);
    let mut out = vec![0u8; out_w * out_h];
    for (oy, wy) in weights_y.iter().enumerate() {
        for (ox, wx) in weights_x.iter().enumerate() {
            let mut sum = 0.0f64;
            let mut area = 0.0f64;
            for &(sy, fy) in wy {
                for &(sx, fx) in wx {
                    let p = src.get((y0 + sy) * width + x0 + sx).copied().unwrap_or(0);
                    sum += f64::from(p) * fx * fy;
                    area += fx * fy;
                }
            }
            if let Some(o) = out.get_mut(oy * out_w + ox) {
                *o = (sum / area).round().clamp(0.0, 255.0) as u8;
            }
        }
    }
    out
}

/// For each of `n_out` output cells spanning `n_in` source cells: the source cells it
/// overlaps and by how much (in source-cell units).
fn coverage(n_in: usize, n_out: usize) -> Vec<Vec<(usize, f64)>> {
    let step = n_in as f64 / n_out as f64;
    (0..n_out)
        .map(|o| {
            let (start, end) = (o as f64 * step, (o + 1) as f64 * step);
            let first = start.floor() as usize;
            let last = (end.ceil() as usize).min(n_in);
            (first..last)
                .map(|s| {
                    let overlap = end.min(s as f64 + 1.0) - start.max(s as f64);
                    (s, overlap)
                })
                .filter(|&(_, f)| f > 0.0)
                .collect()
        })
        .collect()
}

/// Places a `w x h` image in a 28x28 frame with its centre of mass at the frame's centre
/// (integer shift, kept inside the frame).
fn place(small: &[u8], w: usize, h: usize) -> [u8; IMAGE_PIXELS] {
    let (mut mass, mut mx, mut my) = (0.0f64, 0.0f64, 0.0f64);
    for (i, &p) in small.iter().enumerate() {
        let p = f64::from(p);
        mass += p;
        mx += p * (i % w) as f64;
        my += p * (i / w) as f64;
    }
    let centre = |m: f64, side: usize| {
        if mass > 0.0 {
            m / mass
        } else {
            (side as f64 - 1.0) / 2.0
        }
    };
    let half = (IMAGE_SIDE as f64 - 1.0) / 2.0;
    let offset = |c: f64, side: usize| -> usize {
        let o = (half - c).round() as i64;
        o.clamp(0, (IMAGE_SIDE - side.min(IMAGE_SIDE)) as i64) as usize
    };
    let (ox, oy) = (offset(centre(mx, w), w), offset(centre(my, h), h));
    let mut out = [0u8; IMAGE_PIXELS];
    for (i, &p) in small.iter().enumerate() {
        let (x, y) = (ox + i % w, oy + i / w);
        if x < IMAGE_SIDE
            && let Some(o) = out.get_mut(y * IMAGE_SIDE + x)
        {
            *o = p;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_and_binary_pgm_agree() {
        let plain = b"P2\n# a comment\n3 2\n15\n0 15 7\n15 0 1\n";
        let binary = b"P5 3 2 15\n\x00\x0f\x07\x0f\x00\x01";
        let a = parse_pgm(plain).unwrap();
        let b = parse_pgm(binary).unwrap();
        assert_eq!(a, b);
        assert_eq!((a.width, a.height), (3, 2));
        assert_eq!(a.pixels, vec![0, 255, 119, 255, 0, 17]);
    }

    #[test]
    fn truncated_pgm_is_an_error_not_a_panic() {
        assert!(parse_pgm(b"P5 4 4 255\n\x00\x01").is_err());
        assert!(parse_pgm(b"P2 2 2 255\n1 2 3").is_err());
        assert!(parse_pgm(b"P5 0 4 255\n").is_err());
        assert!(parse_pgm(b"P5").is_err());
    }

    #[test]
    fn a_28x28_picture_is_kept_pixel_for_pixel() {
        let pixels: Vec<u8> = (0..IMAGE_PIXELS)
            .map(|i| if i % 29 == 0 { 200 } else { 0 })
            .collect();
        let picture = Picture {
            width: 28,
            height: 28,
            pixels: pixels.clone(),
        };
        assert_eq!(fit(&picture, Dataset::Mnist).to_vec(), pixels);
    }

    #[test]
    fn dark_ink_on_white_is_inverted_scaled_and_centred() {
        // A 100x60 white page with a black 10-wide, 40-high bar off to the left.
        let (w, h) = (100, 60);
        let mut pixels = vec![255u8; w * h];
        for y in 5..45 {
            for x in 10..20 {
                pixels[y * w + x] = 0;
            }
        }
        let out = fit(
            &Picture {
                width: w,
                height: h,
                pixels,
            },
            Dataset::Mnist,
        );
        // The bar becomes 20 high and 5 wide, white on black, centred: rows 4..24, columns 12..17.
        let lit: Vec<(usize, usize)> = (0..IMAGE_PIXELS)
            .filter(|&i| out[i] > 128)
            .map(|i| (i % 28, i / 28))
            .collect();
        assert_eq!(lit.len(), 20 * 5);
        assert!(
            lit.iter()
                .all(|&(x, y)| (4..24).contains(&y) && (12..17).contains(&x)),
            "{lit:?}"
        );
        assert_eq!(out[0], 0);
    }

    /// A transparent 56x56 RGBA PNG with an opaque black 4x24 stroke: composited over
    /// white, inverted, and fitted into the 20x20 box like a hand-drawn "1".
    #[test]
    fn a_transparent_rgba_png_is_read_as_ink_on_paper() {
        let (w, h) = (56u32, 56u32);
        let mut rgba = vec![0u8; (w * h * 4) as usize];
        for y in 16..40 {
            for x in 26..30 {
                let i = ((y * w + x) * 4) as usize;
                rgba[i..i + 4].copy_from_slice(&[0, 0, 0, 255]);
            }
        }
        let dir = std::env::temp_dir().join(format!("firmware-sim-png-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("one.png");
        {
            let file = std::fs::File::create(&path).unwrap();
            let mut encoder = png::Encoder::new(std::io::BufWriter::new(file), w, h);
            encoder.set_color(png::ColorType::Rgba);
            encoder.set_depth(png::BitDepth::Eight);
            encoder
                .write_header()
                .unwrap()
                .write_image_data(&rgba)
                .unwrap();
        }
        let images = load(&path, Dataset::Mnist).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(images.len(), 1);
        let out = &images[0].pixels;
        let lit: Vec<(usize, usize)> = (0..IMAGE_PIXELS)
            .filter(|&i| out[i] > 128)
            .map(|i| (i % 28, i / 28))
            .collect();
        // 24 high becomes 20 high; 4 wide becomes 3 (4 * 20 / 24, rounded); centred.
        assert_eq!(lit.len(), 20 * 3, "{lit:?}");
        assert!(
            lit.iter()
                .all(|&(x, y)| (4..24).contains(&y) && (12..16).contains(&x)),
            "{lit:?}"
        );
        assert_eq!(out[0], 0);
    }

    #[test]
    fn area_averaging_preserves_the_mean() {
        let src: Vec<u8> = (0..90).map(|i| (i * 7 % 256) as u8).collect();
        let out = resample(&src, 10, 0, 0, 10, 9, 5, 3);
        let mean_in = src.iter().map(|&p| f64::from(p)).sum::<f64>() / 90.0;
        let mean_out = out.iter().map(|&p| f64::from(p)).sum::<f64>() / 15.0;
        assert!((mean_in - mean_out).abs() < 0.5, "{mean_in} vs {mean_out}");
    }
}
