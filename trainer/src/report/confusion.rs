//! Plot 4: the confusion matrix of a classifier on the test set.

use std::path::Path;

use picocnn::shape::CLASSES;
use plotters::prelude::*;

use super::canvas::{
    COLOR_TEXT, COLOR_WRONG, label_width, render_png, text, text_centered, text_right, text_width,
};
use crate::error::Result;
use picocnn_host::summary::group_thousands;

/// Counts of (true class, predicted class) pairs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Confusion {
    /// `counts[true][predicted]`.
    pub counts: [[u32; CLASSES]; CLASSES],
}

impl Confusion {
    /// Tallies pairs of true and predicted classes; pairs with a class out of range are
    /// ignored (they cannot come from a 10-class model).
    pub fn from_predictions(labels: &[u8], predicted: &[u8]) -> Self {
        let mut counts = [[0u32; CLASSES]; CLASSES];
        for (&t, &p) in labels.iter().zip(predicted) {
            if let Some(cell) = counts
                .get_mut(usize::from(t))
                .and_then(|row| row.get_mut(usize::from(p)))
            {
                *cell += 1;
            }
        }
        Confusion { counts }
    }

    /// Number of images counted.
    pub fn total(&self) -> u64 {
        self.counts.iter().flatten().map(|&c| u64::from(c)).sum()
    }

    /// Fraction on the diagonal (0 when empty).
    pub fn accuracy(&self) -> f64 {
        let right: u64 = (0..CLASSES).map(|k| u64::from(self.counts[k][k])).sum();
        let total = self.total();
        if total == 0 {
            0.0
        } else {
            right as f64 / total as f64
        }
    }
}

/// Colour for a fraction in [0, 1]: white through light blue to dark blue.
fn heat(t: f64) -> RGBColor {
    const STOPS: [(f64, [f64; 3]); 3] = [
        (0.0, [255.0, 255.0, 255.0]),
        (0.35, [140.0, 190.0, 225.0]),
        (1.0, [8.0, 48.0, 107.0]),
    ];
    let t = t.clamp(0.0, 1.0);
    let (a, b) = if t <= STOPS[1].0 {
        (STOPS[0], STOPS[1])
    } else {
        (STOPS[1], STOPS[2])
    };
    let f = (t - a.0) / (b.0 - a.0);
    let mix = |i: usize| (a.1[i] + (b.1[i] - a.1[i]) * f).round() as u8;
    RGBColor(mix(0), mix(1), mix(2))
}

/// How strongly a cell is coloured: the square root of its share of the true class, so
/// that a handful of confusions stands out next to a full diagonal.
fn intensity(count: u32, row_total: u32) -> f64 {
    if row_total == 0 {
        0.0
    } else {
        (f64::from(count) / f64::from(row_total)).sqrt()
    }
}

/// Where the matrix's cells are in a drawn confusion plot, in pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CellGrid {
    /// Left edge of the first column.
    pub left: i32,
    /// Top edge of the first row.
    pub top: i32,
    /// Side of one cell.
    pub cell: i32,
}

impl CellGrid {
    /// The cell of true class `t` and predicted class `p`: its top-left corner.
    pub fn corner(&self, t: usize, p: usize) -> (i32, i32) {
        (
            self.left + p as i32 * self.cell,
            self.top + t as i32 * self.cell,
        )
    }
}

/// Draws `confusion` as a heat map with the count in every cell, true classes down the
/// side, predicted classes along the bottom, per-class accuracy on the right and a colour
/// scale. Writes a PNG to `path` and says where the cells are.
///
/// # Errors
/// [`crate::error::Error::Plot`] if the matrix is empty or drawing fails; an I/O error
/// from writing `path`.
pub fn plot_confusion(
    confusion: &Confusion,
    class_names: &[&str; CLASSES],
    title: &str,
    path: &Path,
) -> Result<CellGrid> {
    let cell = 70;
    let n = CLASSES as i32;
    let label_size = 16.0;
    let longest = class_names
        .iter()
        .map(|name| label_width(name, label_size))
        .max()
        .unwrap_or(0);
    let left = longest.max(20) + 70;
    let top = 150;
    let matrix = n * cell;
    // Names wider than a cell are written vertically under it.
    let rotate = longest > cell - 8;
    let x_labels = if rotate { longest } else { 20 };
    let size = (
        (left + matrix + 330) as u32,
        (top + matrix + x_labels + 70) as u32,
    );
    render_png(path, size, |root| {
        if confusion.total() == 0 {
            return Err("empty confusion matrix".into());
        }
        text_centered(root, title, &text(28.0), (size.0 as i32 / 2, 16))?;
        let subtitle = format!(
            "{} test images, {:.2}% on the diagonal; colour = share of the true class (square-root scale)",
            group_thousands(confusion.total()),
            confusion.accuracy() * 100.0
        );
        text_centered(root, &subtitle, &text(17.0), (size.0 as i32 / 2, 56))?;

        for (t, row) in confusion.counts.iter().enumerate() {
            let row_total: u32 = row.iter().sum();
            let y = top + t as i32 * cell;
            for (p, &count) in row.iter().enumerate() {
                let x = left + p as i32 * cell;
                let level = intensity(count, row_total);
                root.draw(&Rectangle::new(
                    [(x, y), (x + cell, y + cell)],
                    heat(level).filled(),
                ))?;
                let ink = if level > 0.55 { WHITE } else { COLOR_TEXT };
                let ink = if t != p && count > 0 && level <= 0.55 {
                    COLOR_WRONG
                } else {
                    ink
                };
                let style = text(17.0).color(&ink);
                if count > 0 || t == p {
                    text_centered(
                        root,
                        &count.to_string(),
                        &style,
                        (x + cell / 2, y + cell / 2 - 10),
                    )?;
                }
            }
            let recall = if row_total == 0 {
                0.0
            } else {
                f64::from(row[t]) / f64::from(row_total)
            };
            root.draw_text(
                &format!("{:.1}%", recall * 100.0),
                &text(16.0),
                (left + matrix + 12, y + cell / 2 - 9),
            )?;
        }
        // Grid and frame.
        for i in 0..=n {
            let line = RGBColor(200, 200, 200).stroke_width(1);
            root.draw(&PathElement::new(
                [(left + i * cell, top), (left + i * cell, top + matrix)],
                line,
            ))?;
            root.draw(&PathElement::new(
                [(left, top + i * cell), (left + matrix, top + i * cell)],
                line,
            ))?;
        }
        root.draw(&Rectangle::new(
            [(left, top), (left + matrix, top + matrix)],
            COLOR_TEXT.stroke_width(1),
        ))?;

        // Axis labels: true classes down the side, predicted along the bottom.
        let label_style = text(label_size);
        for (k, name) in class_names.iter().enumerate() {
            let centre = k as i32 * cell + cell / 2;
            text_right(root, name, &label_style, (left - 10, top + centre - 9))?;
            if rotate {
                let w = text_width(root, name, &label_style);
                let style = label_style.transform(FontTransform::Rotate270);
                root.draw_text(name, &style, (left + centre - 9, top + matrix + 10 + w))?;
            } else {
                text_centered(root, name, &label_style, (left + centre, top + matrix + 10))?;
            }
        }
        text_centered(
            root,
            "predicted class",
            &text(20.0),
            (left + matrix / 2, top + matrix + x_labels + 30),
        )?;
        let side = text(20.0).transform(FontTransform::Rotate270);
        let w = text_width(root, "true class", &text(20.0));
        root.draw_text("true class", &side, (18, top + matrix / 2 + w / 2))?;
        text_centered(
            root,
            "per-class",
            &text(16.0),
            (left + matrix + 40, top - 48),
        )?;
        text_centered(
            root,
            "accuracy",
            &text(16.0),
            (left + matrix + 40, top - 28),
        )?;

        // Colour scale.
        let bar_x = left + matrix + 120;
        let bar_w = 28;
        let steps = 200;
        for i in 0..steps {
            let t = 1.0 - f64::from(i) / f64::from(steps);
            let y0 = top + i * matrix / steps;
            let y1 = top + (i + 1) * matrix / steps;
            root.draw(&Rectangle::new(
                [(bar_x, y0), (bar_x + bar_w, y1)],
                heat(t).filled(),
            ))?;
        }
        root.draw(&Rectangle::new(
            [(bar_x, top), (bar_x + bar_w, top + matrix)],
            COLOR_TEXT.stroke_width(1),
        ))?;
        for share in [0.0, 0.01, 0.05, 0.2, 0.5, 1.0] {
            let y = top + ((1.0 - f64::sqrt(share)) * f64::from(matrix)).round() as i32;
            root.draw(&PathElement::new(
                [(bar_x + bar_w, y), (bar_x + bar_w + 6, y)],
                COLOR_TEXT.stroke_width(1),
            ))?;
            root.draw_text(
                &format!("{}%", share * 100.0),
                &text(15.0),
                (bar_x + bar_w + 10, y - 8),
            )?;
        }
        text_centered(
            root,
            "share of",
            &text(16.0),
            (bar_x + bar_w / 2 + 20, top - 48),
        )?;
        text_centered(
            root,
            "true class",
            &text(16.0),
            (bar_x + bar_w / 2 + 20, top - 28),
        )?;
        Ok(CellGrid { left, top, cell })
    })
}
