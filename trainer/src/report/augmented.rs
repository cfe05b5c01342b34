//! Plots for issue 16: what augmentation shows the model, and how the models read the
//! held-out digits class by class.

use std::path::Path;

use picocnn::Dataset;
use picocnn::shape::{CLASSES, IMAGE_PIXELS, IMAGE_SIDE};
use plotters::prelude::*;

use super::canvas::{
    COLOR_A, COLOR_B, COLOR_GRID, COLOR_TEXT, DrawResult, draw_image, render_png, text,
    text_centered, text_right,
};
use crate::augment::{Augment, Preset, image_key};
use crate::error::Result;

/// Training images per row of the augmentation grid.
pub const AUGMENT_COLUMNS: usize = 12;
/// Presets shown, one row each.
const PRESETS: [Preset; 3] = [Preset::None, Preset::Light, Preset::Strong];
/// Pixels per image pixel in the grid.
const SCALE: i32 = 3;

/// Draws the first [`AUGMENT_COLUMNS`] of `images` as each preset of `dataset` transforms
/// them in epoch 1 of a run with `seed` (exactly what training draws), one row per preset.
///
/// # Errors
/// [`crate::error::Error::Plot`] if drawing fails; an I/O error from writing `path`.
pub fn plot_augmented(
    images: &[[u8; IMAGE_PIXELS]],
    dataset: Dataset,
    seed: u64,
    path: &Path,
) -> Result<()> {
    let shown = images.len().min(AUGMENT_COLUMNS);
    let side = IMAGE_SIDE as i32 * SCALE;
    let (label_w, cell, header) = (250, side + 10, 80);
    let size = (
        (label_w + shown.max(1) as i32 * cell + 20) as u32,
        (header + PRESETS.len() as i32 * (cell + 8) + 10) as u32,
    );
    render_png(path, size, |root| {
        let title = format!(
            "What training sees: {} images under each --augment preset (epoch 1, seed {seed})",
            dataset.name()
        );
        text_centered(root, &title, &text(22.0), (size.0 as i32 / 2, 12))?;
        text_centered(
            root,
            "every image and epoch draws its own transform",
            &text(16.0),
            (size.0 as i32 / 2, 44),
        )?;
        for (row, preset) in PRESETS.iter().enumerate() {
            let augment = Augment::preset(*preset, dataset);
            let y = header + row as i32 * (cell + 8);
            // Row labels in colour: none grey, light and strong in the plots' two colours.
            let color = [COLOR_TEXT, COLOR_A, COLOR_B][row % 3];
            let style = text(20.0).color(&color);
            text_right(
                root,
                preset.name(),
                &style,
                (label_w - 16, y + side / 2 - 12),
            )?;
            for (col, image) in images.iter().take(shown).enumerate() {
                let mut out = [0u8; IMAGE_PIXELS];
                augment.apply(image, image_key(seed, 1, col), &mut out);
                draw_image(
                    root,
                    &out,
                    IMAGE_SIDE,
                    (label_w + col as i32 * cell, y),
                    SCALE,
                )?;
            }
        }
        Ok(())
    })
}

/// One model's result on the held-out digits: a legend name and per-class
/// `(correct, total)`.
#[derive(Debug, Clone, PartialEq)]
pub struct HeldOutResult {
    /// Legend name (the model's file stem and its overall accuracy are shown).
    pub name: String,
    /// Per class: (correct, total).
    pub per_class: [(usize, usize); CLASSES],
}

/// Bar colours after the two variant colours.
const MORE_COLORS: [RGBColor; 4] = [
    RGBColor(44, 160, 44),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(127, 127, 127),
];

/// Draws the held-out accuracy per digit, one bar per model in each class group.
///
/// # Errors
/// [`crate::error::Error::Plot`] if `results` is empty or drawing fails; an I/O error
/// from writing `path`.
pub fn plot_heldout(results: &[HeldOutResult], title: &str, path: &Path) -> Result<()> {
    let size = (1100u32, 560u32);
    render_png(path, size, |root| draw_heldout(root, results, title, size))
}

fn draw_heldout(
    root: &super::canvas::Area<'_>,
    results: &[HeldOutResult],
    title: &str,
    size: (u32, u32),
) -> DrawResult {
    if results.is_empty() {
        return Err("no held-out results to plot".into());
    }
    text_centered(root, title, &text(22.0), (size.0 as i32 / 2, 12))?;
    let (left, top, bottom) = (70, 90, size.1 as i32 - 60);
    let right = size.0 as i32 - 20;
    let plot_h = bottom - top;
    // Accuracy axis from 50 % to 100 %: the interesting part; lower bars are clipped.
    let y_of = |pct: f64| bottom - ((pct.clamp(50.0, 100.0) - 50.0) / 50.0 * plot_h as f64) as i32;
    for pct in [50, 60, 70, 80, 90, 100] {
        let y = y_of(f64::from(pct));
        root.draw(&PathElement::new([(left, y), (right, y)], COLOR_GRID))?;
        text_right(root, &format!("{pct} %"), &text(14.0), (left - 6, y - 8))?;
    }
    let group_w = (right - left) / CLASSES as i32;
    let bar_w = ((group_w - 16) / results.len() as i32).max(2);
    let color = |i: usize| match i {
        0 => COLOR_A,
        1 => COLOR_B,
        _ => MORE_COLORS[(i - 2) % MORE_COLORS.len()],
    };
    for class in 0..CLASSES {
        let x0 = left + class as i32 * group_w + 8;
        for (i, r) in results.iter().enumerate() {
            let (c, t) = r.per_class[class];
            let pct = 100.0 * c as f64 / t.max(1) as f64;
            let x = x0 + i as i32 * bar_w;
            root.draw(&Rectangle::new(
                [(x, y_of(pct)), (x + bar_w - 2, bottom)],
                color(i).filled(),
            ))?;
        }
        text_centered(
            root,
            &class.to_string(),
            &text(18.0),
            (left + class as i32 * group_w + group_w / 2, bottom + 8),
        )?;
    }
    // Legend: name and overall accuracy.
    let mut x = left;
    for (i, r) in results.iter().enumerate() {
        let (c, t) = r
            .per_class
            .iter()
            .fold((0, 0), |(a, b), &(c, t)| (a + c, b + t));
        let label = format!("{}: {:.2} %", r.name, 100.0 * c as f64 / t.max(1) as f64);
        root.draw(&Rectangle::new([(x, 52), (x + 16, 68)], color(i).filled()))?;
        root.draw_text(&label, &text(15.0).color(&COLOR_TEXT), (x + 22, 52))?;
        x += 22 + super::canvas::label_width(&label, 15.0) + 24;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_plots_render() {
        let dir = tempfile::tempdir().unwrap();
        let mut image = [0u8; IMAGE_PIXELS];
        for i in 6..22 {
            image[i * IMAGE_SIDE + 14] = 255;
        }
        let images = vec![image; 14];
        let path = dir.path().join("augmented.png");
        plot_augmented(&images, Dataset::Mnist, 0, &path).unwrap();
        assert!(std::fs::metadata(&path).unwrap().len() > 1000);
        let mut per_class = [(9, 10); CLASSES];
        per_class[1] = (5, 10);
        let results = [
            HeldOutResult {
                name: "a".into(),
                per_class,
            },
            HeldOutResult {
                name: "b".into(),
                per_class: [(10, 10); CLASSES],
            },
        ];
        let path = dir.path().join("heldout.png");
        plot_heldout(&results, "held-out", &path).unwrap();
        assert!(std::fs::metadata(&path).unwrap().len() > 1000);
        assert!(plot_heldout(&[], "none", &path).is_err());
    }
}
