//! PNG and PGM pictures decoded to greyscale, before they are fitted to the network.

use std::fs::File;
use std::io::BufReader;
use std::path::Path;

use crate::error::{Error, Result};

/// Largest side of a PNG or PGM picture accepted (larger ones are almost certainly not
/// a single hand-drawn digit, and would cost memory for nothing).
pub const MAX_PICTURE_SIDE: usize = 8192;

/// Largest PGM file read (64 MiB): a PGM is read whole before it is parsed, so its size is
/// bounded first. It holds an 8-bit binary picture of about 8000 pixels square; a
/// hand-drawn digit needs a tiny fraction of that.
pub const MAX_PGM_BYTES: u64 = 64 << 20;

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
/// Decodes a PNG of any colour type and depth to greyscale, transparency composited over
/// white (a drawing on a transparent background is dark ink on white paper).
pub(super) fn read_png(path: &Path) -> Result<Picture> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::images::load;
    use picocnn::Dataset;
    use picocnn::shape::IMAGE_PIXELS;

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
}
