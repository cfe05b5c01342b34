//! A picture brought to 28x28 network input the way MNIST was made: white ink on black,
//! the ink's bounding box scaled with area averaging (to 20x20 for digits, the whole frame
//! for clothes) and placed by its centre of mass.

use picocnn::Dataset;
use picocnn::shape::{IMAGE_PIXELS, IMAGE_SIDE};

use super::Picture;

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
    fn area_averaging_preserves_the_mean() {
        let src: Vec<u8> = (0..90).map(|i| (i * 7 % 256) as u8).collect();
        let out = resample(&src, 10, 0, 0, 10, 9, 5, 3);
        let mean_in = src.iter().map(|&p| f64::from(p)).sum::<f64>() / 90.0;
        let mean_out = out.iter().map(|&p| f64::from(p)).sum::<f64>() / 15.0;
        assert!((mean_in - mean_out).abs() < 0.5, "{mean_in} vs {mean_out}");
    }
}
