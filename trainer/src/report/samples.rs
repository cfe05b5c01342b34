//! Plots 2 and 3: a grid of test images with predicted and true class, and the logits and
//! softmax probabilities of a few images side by side.

use std::path::Path;

use picocnn::shape::{CLASSES, IMAGE_PIXELS, IMAGE_SIDE};
use plotters::prelude::*;

use super::canvas::{
    Area, COLOR_GRID, COLOR_RIGHT, COLOR_TEXT, COLOR_WRONG, DrawResult, draw_image, render_png,
    text, text_centered, text_right,
};
use crate::error::Result;

/// One classified image: what the plots of individual predictions need.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// The 28x28 pixels, row by row (0 = background, 255 = ink).
    pub pixels: Vec<u8>,
    /// True class.
    pub label: u8,
    /// Predicted class (argmax of the logits).
    pub predicted: u8,
    /// The logits, in the real units the softmax is taken over.
    pub logits: [f32; CLASSES],
    /// Softmax of the logits.
    pub probabilities: [f32; CLASSES],
}

impl Sample {
    /// True when the prediction is right.
    pub fn is_correct(&self) -> bool {
        self.label == self.predicted
    }
}

/// Grid columns.
const GRID_COLUMNS: usize = 10;
/// Screen pixels per image pixel in the grid.
const GRID_SCALE: i32 = 4;

/// Draws `samples` as a grid of images, each captioned with its predicted and true class;
/// wrong predictions are red and framed. Writes a PNG to `path`.
///
/// # Errors
/// [`crate::error::Error::Plot`] if `samples` is empty, an image is not 28x28, a class
/// is out of range, or drawing fails; an I/O error from writing `path`.
pub fn plot_prediction_grid(
    samples: &[Sample],
    class_names: &[&str; CLASSES],
    title: &str,
    path: &Path,
) -> Result<()> {
    let image = IMAGE_SIDE as i32 * GRID_SCALE;
    let cell_w = image + 50;
    let cell_h = image + 64;
    let columns = samples.len().clamp(1, GRID_COLUMNS);
    let rows = samples.len().div_ceil(GRID_COLUMNS).max(1);
    let header = 110;
    let size = (
        (columns as i32 * cell_w + 40) as u32,
        (header + rows as i32 * cell_h + 20) as u32,
    );
    render_png(path, size, |root| {
        check_samples(samples)?;
        let wrong = samples.iter().filter(|s| !s.is_correct()).count();
        text_centered(root, title, &text(28.0), (size.0 as i32 / 2, 14))?;
        let subtitle = format!(
            "{} of {} correct; captions: predicted (true)",
            samples.len() - wrong,
            samples.len()
        );
        text_centered(root, &subtitle, &text(19.0), (size.0 as i32 / 2, 56))?;
        for (i, sample) in samples.iter().enumerate() {
            let x = 20 + (i % GRID_COLUMNS) as i32 * cell_w;
            let y = header + (i / GRID_COLUMNS) as i32 * cell_h;
            let cx = x + cell_w / 2;
            let left = cx - image / 2;
            draw_image(root, &sample.pixels, IMAGE_SIDE, (left, y), GRID_SCALE)?;
            let predicted = class_name(class_names, sample.predicted);
            let truth = class_name(class_names, sample.label);
            let (color, caption) = if sample.is_correct() {
                (COLOR_RIGHT, predicted.to_string())
            } else {
                root.draw(&Rectangle::new(
                    [(left - 4, y - 4), (left + image + 3, y + image + 3)],
                    COLOR_WRONG.stroke_width(3),
                ))?;
                (COLOR_WRONG, predicted.to_string())
            };
            let style = text(17.0).color(&color);
            text_centered(root, &caption, &style, (cx, y + image + 10))?;
            let truth_style = text(15.0).color(&RGBColor(110, 110, 110));
            text_centered(
                root,
                &format!("({truth})"),
                &truth_style,
                (cx, y + image + 31),
            )?;
        }
        Ok(())
    })
}

/// Draws, for each sample, its image, the ten logits as bars, and the ten softmax
/// probabilities as bars, so the step from logits to probabilities can be read off.
/// `logit_note` says where the logits come from (e.g. "int8 core, dequantized").
/// Writes a PNG to `path`.
///
/// # Errors
/// [`crate::error::Error::Plot`] if `samples` is empty, an image is not 28x28, a class
/// is out of range, or drawing fails; an I/O error from writing `path`.
pub fn plot_probabilities(
    samples: &[Sample],
    class_names: &[&str; CLASSES],
    logit_note: &str,
    path: &Path,
) -> Result<()> {
    let row_h = 300;
    let header = 172;
    let size = (
        1500u32,
        (header + samples.len().max(1) as i32 * row_h + 10) as u32,
    );
    render_png(path, size, |root| {
        check_samples(samples)?;
        let cx = size.0 as i32 / 2;
        text_centered(root, "From logits to probabilities", &text(30.0), (cx, 14))?;
        text_centered(
            root,
            "softmax:  p(k) = exp(z(k)) / \u{3a3}\u{2c7c} exp(z(j))   \u{2014}   only differences between logits \
             matter; the largest wins, and a lead of a few units already makes it near-certain",
            &text(19.0),
            (cx, 58),
        )?;
        let grey = text(16.0).color(&RGBColor(90, 90, 90));
        text_centered(root, &format!("logits z: {logit_note}"), &grey, (cx, 90))?;
        let legend = "bars: green = predicted and true, red = predicted but wrong, \
                      dark grey = the true class the model missed; \u{25B8} marks the true class";
        text_centered(root, legend, &grey, (cx, 114))?;
        for (i, sample) in samples.iter().enumerate() {
            let top = header + i as i32 * row_h;
            if i > 0 {
                root.draw(&PathElement::new(
                    [(20, top - 16), (size.0 as i32 - 20, top - 16)],
                    COLOR_GRID.stroke_width(2),
                ))?;
            }
            draw_probability_row(root, sample, class_names, top)?;
        }
        Ok(())
    })
}

fn draw_probability_row(
    root: &Area<'_>,
    sample: &Sample,
    class_names: &[&str; CLASSES],
    top: i32,
) -> DrawResult {
    let scale = 6;
    let image = IMAGE_SIDE as i32 * scale;
    draw_image(root, &sample.pixels, IMAGE_SIDE, (30, top + 28), scale)?;
    let (color, verdict) = if sample.is_correct() {
        (COLOR_RIGHT, "correct")
    } else {
        (COLOR_WRONG, "wrong")
    };
    text_centered(
        root,
        &format!("true: {}", class_name(class_names, sample.label)),
        &text(17.0),
        (30 + image / 2, top + image + 36),
    )?;
    text_centered(
        root,
        &format!(
            "predicted: {} ({verdict})",
            class_name(class_names, sample.predicted)
        ),
        &text(17.0).color(&color),
        (30 + image / 2, top + image + 58),
    )?;

    let bar_top = top + 28;
    let bar_h = 22;
    let names_w = 110;
    let logits_left = 270 + names_w;
    let logits_w = 360;
    let probs_left = logits_left + logits_w + 110 + names_w;
    let probs_w = 420;
    let predicted = usize::from(sample.predicted);
    let label = usize::from(sample.label);

    text_centered(
        root,
        "logits z",
        &text(19.0),
        (logits_left + logits_w / 2, top),
    )?;
    text_centered(
        root,
        "probabilities p = softmax(z)",
        &text(19.0),
        (probs_left + probs_w / 2, top),
    )?;

    // Logits: bars from zero, negative to the left.
    let finite = sample.logits.iter().copied().filter(|v| v.is_finite());
    let lo = finite.clone().fold(0.0f32, f32::min);
    let hi = finite.fold(0.0f32, f32::max);
    let span = (hi - lo).max(1e-6);
    // Room at both ends for the value labels.
    let pad = 52;
    let to_x =
        |v: f32| logits_left + pad + ((v - lo) / span * (logits_w - 2 * pad) as f32).round() as i32;
    let zero = to_x(0.0);
    root.draw(&PathElement::new(
        [
            (zero, bar_top - 4),
            (zero, bar_top + CLASSES as i32 * bar_h + 2),
        ],
        RGBColor(120, 120, 120).stroke_width(1),
    ))?;

    for k in 0..CLASSES {
        let y = bar_top + k as i32 * bar_h;
        let fill = bar_color(k, predicted, label);
        let name_style = if k == label {
            text(15.0).color(&COLOR_TEXT)
        } else {
            text(15.0).color(&RGBColor(100, 100, 100))
        };
        let name = class_name(class_names, k as u8);
        let mark = if k == label { " \u{25B8}" } else { "" };
        for left in [logits_left, probs_left] {
            text_right(
                root,
                &format!("{name}{mark}"),
                &name_style,
                (left - 8, y + 3),
            )?;
        }

        let z = sample.logits.get(k).copied().unwrap_or(0.0);
        let x = to_x(z);
        let (x0, x1) = if x < zero { (x, zero) } else { (zero, x) };
        root.draw(&Rectangle::new(
            [(x0, y + 3), (x1.max(x0 + 1), y + bar_h - 3)],
            fill.filled(),
        ))?;
        let value = format_logit(z);
        let value_style = text(14.0);
        if z < 0.0 {
            text_right(root, &value, &value_style, (x0 - 4, y + 4))?;
        } else {
            root.draw_text(&value, &value_style, (x1 + 4, y + 4))?;
        }

        let p = sample
            .probabilities
            .get(k)
            .copied()
            .unwrap_or(0.0)
            .clamp(0.0, 1.0);
        let width = (p * probs_w as f32).round() as i32;
        root.draw(&Rectangle::new(
            [(probs_left, y + 3), (probs_left + probs_w, y + bar_h - 3)],
            RGBColor(244, 244, 244).filled(),
        ))?;
        if width > 0 {
            root.draw(&Rectangle::new(
                [(probs_left, y + 3), (probs_left + width, y + bar_h - 3)],
                fill.filled(),
            ))?;
        }
        root.draw_text(
            &format_probability(p),
            &value_style,
            (probs_left + probs_w + 6, y + 4),
        )?;
    }

    // The softmax step between the two panels.
    let arrow_y = bar_top + CLASSES as i32 * bar_h / 2;
    let arrow_x0 = logits_left + logits_w + 48;
    let arrow_x1 = probs_left - names_w - 14;
    root.draw(&PathElement::new(
        [(arrow_x0, arrow_y), (arrow_x1, arrow_y)],
        COLOR_TEXT.stroke_width(2),
    ))?;
    root.draw(&Polygon::new(
        vec![
            (arrow_x1 + 8, arrow_y),
            (arrow_x1 - 4, arrow_y - 6),
            (arrow_x1 - 4, arrow_y + 6),
        ],
        COLOR_TEXT.filled(),
    ))?;
    text_centered(
        root,
        "softmax",
        &text(16.0),
        ((arrow_x0 + arrow_x1) / 2, arrow_y - 24),
    )?;
    Ok(())
}

/// Predicted class: green if right, red if wrong; the true class (when missed): dark
/// outline colour; the rest: grey.
fn bar_color(k: usize, predicted: usize, label: usize) -> RGBColor {
    if k == predicted && k == label {
        COLOR_RIGHT
    } else if k == predicted {
        COLOR_WRONG
    } else if k == label {
        RGBColor(90, 90, 90)
    } else {
        RGBColor(170, 180, 195)
    }
}

fn format_logit(z: f32) -> String {
    if z.abs() >= 100.0 {
        format!("{z:.0}")
    } else {
        format!("{z:.2}")
    }
}

fn format_probability(p: f32) -> String {
    if p >= 0.9995 || p == 0.0 {
        format!("{:.0}%", p * 100.0)
    } else if p >= 0.001 {
        format!("{:.1}%", p * 100.0)
    } else {
        format!("{p:.0e}")
    }
}

pub(crate) fn class_name<'a>(class_names: &[&'a str; CLASSES], class: u8) -> &'a str {
    class_names.get(usize::from(class)).copied().unwrap_or("?")
}

fn check_samples(samples: &[Sample]) -> DrawResult {
    if samples.is_empty() {
        return Err("no samples to plot".into());
    }
    for (i, s) in samples.iter().enumerate() {
        if s.pixels.len() != IMAGE_PIXELS {
            return Err(format!(
                "sample {i} has {} pixels, expected {IMAGE_PIXELS}",
                s.pixels.len()
            )
            .into());
        }
        if usize::from(s.label) >= CLASSES || usize::from(s.predicted) >= CLASSES {
            return Err(format!("sample {i} has a class outside 0..{CLASSES}").into());
        }
    }
    Ok(())
}
