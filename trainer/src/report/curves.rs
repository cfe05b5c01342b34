//! Plot 1: training and validation accuracy and loss per epoch, all variants on one figure.

use std::path::Path;

use plotters::prelude::*;

use super::canvas::{Area, COLOR_A, COLOR_B, DrawResult, render_png, text};
use crate::error::Result;
use crate::history::History;

/// Where one curve's markers were drawn: one per epoch with a finite value, in pixels
/// of the whole image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeriesMarks {
    /// The accuracy panel (left) or the loss panel (right).
    pub accuracy: bool,
    /// Whose curve.
    pub variant: picocnn::Variant,
    /// The validation curve (dashed) or the training curve (solid).
    pub validation: bool,
    /// Marker centres, epoch 1 first.
    pub points: Vec<(i32, i32)>,
}

/// Figure size in pixels.
const SIZE: (u32, u32) = (1400, 560);

/// Which metric a panel shows.
#[derive(Clone, Copy)]
enum Metric {
    Accuracy,
    Loss,
}

/// Draws accuracy (left) and loss (right) per epoch for every history in `histories`:
/// training as solid lines with filled dots, validation dashed with open dots, one colour
/// per variant. Writes a PNG to `path`.
///
/// # Errors
/// [`crate::error::Error::Plot`] if `histories` is empty or has no epochs, or drawing
/// fails; an I/O error from writing `path`.
pub fn plot_training_curves(histories: &[History], path: &Path) -> Result<Vec<SeriesMarks>> {
    let dataset = histories.first().map(|h| h.dataset);
    render_png(path, SIZE, |root| {
        if histories.iter().all(|h| h.epochs.is_empty()) {
            return Err("no epochs to plot".into());
        }
        let title = match dataset {
            Some(d) => format!("Training history on {} (per epoch)", dataset_title(d)),
            None => "Training history".to_string(),
        };
        let body = root.titled(&title, text(30.0))?;
        let (left, right) = body.split_horizontally(SIZE.0 / 2);
        let mut marks = draw_panel(&left, histories, Metric::Accuracy)?;
        marks.extend(draw_panel(&right, histories, Metric::Loss)?);
        Ok(marks)
    })
}

/// The dataset's name for titles.
pub(crate) fn dataset_title(dataset: picocnn::Dataset) -> &'static str {
    match dataset {
        picocnn::Dataset::Mnist => "MNIST",
        picocnn::Dataset::Fashion => "Fashion-MNIST",
    }
}

fn draw_panel(
    area: &Area<'_>,
    histories: &[History],
    metric: Metric,
) -> DrawResult<Vec<SeriesMarks>> {
    let value = |r: &crate::history::EpochRecord, validation: bool| match (metric, validation) {
        (Metric::Accuracy, false) => r.train_accuracy,
        (Metric::Accuracy, true) => r.val_accuracy,
        (Metric::Loss, false) => r.train_loss,
        (Metric::Loss, true) => r.val_loss,
    };
    let epochs = histories.iter().map(|h| h.epochs.len()).max().unwrap_or(1);
    let all: Vec<f64> = histories
        .iter()
        .flat_map(|h| h.epochs.iter())
        .flat_map(|r| [value(r, false), value(r, true)])
        .filter(|v| v.is_finite())
        .collect();
    let lo = all.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = all.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let (y_range, caption, y_desc) = match metric {
        Metric::Accuracy => {
            let span = (hi - lo).max(0.01);
            let bottom = (lo - span * 0.15).max(0.0);
            let top = (hi + span * 0.15).min(1.0);
            (bottom..top, "Accuracy (higher is better)", "accuracy")
        }
        Metric::Loss => {
            let span = (hi - lo).max(0.01);
            let bottom = (lo - span * 0.15).max(0.0);
            (
                bottom..hi + span * 0.15,
                "Loss (lower is better)",
                "cross-entropy loss",
            )
        }
    };
    let x_range = if epochs > 1 {
        0.8..epochs as f64 + 0.2
    } else {
        0.5..1.5
    };

    let mut chart = ChartBuilder::on(area)
        .caption(caption, text(24.0))
        .margin(20)
        .x_label_area_size(55)
        .y_label_area_size(80)
        .build_cartesian_2d(x_range, y_range)?;
    let accuracy = matches!(metric, Metric::Accuracy);
    let y_format = |v: &f64| {
        if accuracy {
            format!("{:.1}%", v * 100.0)
        } else {
            format!("{v:.3}")
        }
    };
    let x_format = |v: &f64| format!("{v:.0}");
    chart
        .configure_mesh()
        .x_labels(epochs.min(20) + 1)
        .x_label_formatter(&x_format)
        .y_label_formatter(&y_format)
        .x_desc("epoch")
        .y_desc(y_desc)
        .label_style(text(17.0))
        .axis_desc_style(text(19.0))
        .light_line_style(WHITE)
        .bold_line_style(RGBColor(225, 225, 225))
        .draw()?;

    let mut marks = Vec::new();
    for history in histories {
        let color = match history.variant {
            picocnn::Variant::NoPool => COLOR_A,
            picocnn::Variant::Pool => COLOR_B,
        };
        let name = history.variant.title();
        for validation in [false, true] {
            let points: Vec<(f64, f64)> = history
                .epochs
                .iter()
                .map(|r| (r.epoch as f64, value(r, validation)))
                .filter(|(_, v)| v.is_finite())
                .collect();
            let style = color.stroke_width(3);
            let label = format!(
                "{name}, {}",
                if validation { "validation" } else { "training" }
            );
            if validation {
                chart
                    .draw_series(DashedLineSeries::new(points.clone(), 12, 8, style))?
                    .label(label)
                    .legend(move |(x, y)| {
                        EmptyElement::at((x, y))
                            + PathElement::new([(0, 0), (8, 0)], color.stroke_width(3))
                            + PathElement::new([(16, 0), (24, 0)], color.stroke_width(3))
                            + Circle::new((12, 0), 5, color.stroke_width(2))
                    });
            } else {
                chart
                    .draw_series(LineSeries::new(points.clone(), style))?
                    .label(label)
                    .legend(move |(x, y)| {
                        EmptyElement::at((x, y))
                            + PathElement::new([(0, 0), (24, 0)], color.stroke_width(3))
                            + Circle::new((12, 0), 5, color.filled())
                    });
            }
            let marker = if validation {
                color.stroke_width(2)
            } else {
                color.filled()
            };
            chart.draw_series(points.iter().map(|&p| Circle::new(p, 5, marker)))?;
            marks.push(SeriesMarks {
                accuracy,
                variant: history.variant,
                validation,
                points: points.iter().map(|p| chart.backend_coord(p)).collect(),
            });
        }
    }
    let legend_position = match metric {
        Metric::Accuracy => SeriesLabelPosition::LowerRight,
        Metric::Loss => SeriesLabelPosition::UpperRight,
    };
    chart
        .configure_series_labels()
        .position(legend_position)
        .label_font(text(17.0))
        .background_style(WHITE.mix(0.9))
        .border_style(RGBColor(180, 180, 180))
        .margin(12)
        .legend_area_size(34)
        .draw()?;
    Ok(marks)
}
