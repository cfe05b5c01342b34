//! Plot 5: the two variants side by side: accuracy, parameters, flash, peak RAM and time.

use std::fmt;
use std::path::Path;

use picocnn::{Dataset, Variant};
use plotters::prelude::*;

use super::canvas::{
    Area, COLOR_A, COLOR_B, COLOR_GRID, DrawResult, render_png, text, text_centered,
};
use super::curves::dataset_title;
use crate::error::Result;
use picocnn_host::summary::{format_bytes, group_thousands};

/// What was measured for one variant; the caller fills what it has, `None` is drawn as
/// "not measured".
#[derive(Debug, Clone, PartialEq)]
pub struct VariantFigures {
    /// The variant.
    pub variant: Variant,
    /// Test accuracy of the f32 model (0..1).
    pub accuracy_f32: Option<f64>,
    /// Test accuracy of the int8 model (0..1).
    pub accuracy_int8: Option<f64>,
    /// Trainable parameters.
    pub params: usize,
    /// Flash bytes the model needs (the int8 `weights.bin`, plus code when known).
    pub flash_bytes: Option<usize>,
    /// Peak activation RAM of one inference in picocnn, in bytes.
    pub peak_ram_bytes: Option<usize>,
    /// Peak activation RAM the same model needs in a layer-by-layer engine (such as
    /// TFLite Micro's arena), in bytes, for contrast.
    pub layerwise_ram_bytes: Option<usize>,
    /// Mean training time per epoch, in seconds.
    pub seconds_per_epoch: Option<f64>,
    /// Time per inference, in microseconds.
    pub micros_per_inference: Option<f64>,
}

/// The comparison figure's data.
#[derive(Debug, Clone, PartialEq)]
pub struct Comparison {
    /// Dataset the models were trained on.
    pub dataset: Dataset,
    /// One entry per variant, in the order drawn.
    pub variants: Vec<VariantFigures>,
    /// Footnotes saying how things were measured (one line each).
    pub notes: Vec<String>,
}

/// One bar: its value, label above it, and colour.
struct Bar {
    value: Option<f64>,
    text: String,
    color: RGBColor,
    caption: String,
}

/// Draws a 2x3 grid of bar charts comparing the variants. Writes a PNG to `path`.
///
/// # Errors
/// [`crate::error::Error::Plot`] if there are no variants or drawing fails; an I/O error
/// from writing `path`.
pub fn plot_comparison(comparison: &Comparison, path: &Path) -> Result<()> {
    let notes = comparison.notes.len() as i32;
    let size = (1500u32, (960 + notes * 26) as u32);
    render_png(path, size, |root| {
        if comparison.variants.is_empty() {
            return Err("no variants to compare".into());
        }
        let title = format!("The two variants on {}", dataset_title(comparison.dataset));
        text_centered(root, &title, &text(30.0), (size.0 as i32 / 2, 14))?;
        let body = root.margin(70, 60 + notes * 26, 20, 20);
        let panels = body.split_evenly((2, 3));
        let figures = &comparison.variants;
        let accuracy = bars(
            figures,
            &[
                ("f32", &|f| f.accuracy_f32.map(|a| a * 100.0)),
                ("int8", &|f| f.accuracy_int8.map(|a| a * 100.0)),
            ],
            &|v| format!("{v:.2}%"),
        );
        let ram = bars(
            figures,
            &[
                ("arena", &|f| f.layerwise_ram_bytes.map(|b| b as f64)),
                ("picocnn", &|f| f.peak_ram_bytes.map(|b| b as f64)),
            ],
            &|v| format_bytes(v as usize),
        );
        let params = bars(figures, &[("", &|f| Some(f.params as f64))], &|v| {
            format!("{:.3} M", v / 1e6)
        });
        let flash = bars(
            figures,
            &[("", &|f| f.flash_bytes.map(|b| b as f64))],
            &|v| format_bytes(v as usize),
        );
        let epoch = bars(figures, &[("", &|f| f.seconds_per_epoch)], &|v| {
            format!("{v:.1} s")
        });
        let inference = bars(
            figures,
            &[("", &|f| f.micros_per_inference)],
            &format_micros,
        );

        let specs: [(&str, &str, Vec<Bar>); 6] = [
            (
                "Test accuracy",
                "f32 and int8 model; higher is better",
                accuracy,
            ),
            ("Parameters", "lower is better", params),
            ("Flash (int8 model)", "lower is better", flash),
            (
                "Peak activation RAM",
                "layer-by-layer arena vs picocnn fused; lower is better",
                ram,
            ),
            ("Training time per epoch", "lower is better", epoch),
            ("Time per inference", "lower is better", inference),
        ];
        for (panel, (name, note, bars)) in panels.iter().zip(specs) {
            draw_bars(panel, name, note, &bars)?;
        }

        // Legend and footnotes.
        let color = variant_color;
        let mut x = 40;
        let y = size.1 as i32 - 44 - notes * 26;
        for f in figures {
            let c = color(f.variant);
            root.draw(&Rectangle::new([(x, y + 2), (x + 22, y + 20)], c.filled()))?;
            let label = f.variant.title().to_string();
            root.draw_text(&label, &text(18.0), (x + 30, y + 2))?;
            x += 60 + super::canvas::text_width(root, &label, &text(18.0));
        }
        for (i, note) in comparison.notes.iter().enumerate() {
            root.draw_text(
                note,
                &text(16.0).color(&RGBColor(90, 90, 90)),
                (40, y + 34 + i as i32 * 26),
            )?;
        }
        Ok(())
    })
}

/// Reads one measurement of a variant.
type Measure<'a> = &'a dyn Fn(&VariantFigures) -> Option<f64>;

fn variant_color(variant: Variant) -> RGBColor {
    match variant {
        Variant::NoPool => COLOR_A,
        Variant::Pool => COLOR_B,
    }
}

/// One bar per variant and measure, the variant's colour lightened for the second
/// measure, captioned "A f32", "A int8", ... (or just "A" for a single measure).
fn bars(
    figures: &[VariantFigures],
    measures: &[(&str, Measure<'_>)],
    format: &dyn Fn(f64) -> String,
) -> Vec<Bar> {
    let mut bars = Vec::new();
    for f in figures {
        let short = match f.variant {
            Variant::NoPool => "A",
            Variant::Pool => "B",
        };
        for (i, (kind, measure)) in measures.iter().enumerate() {
            let value = measure(f);
            let base = variant_color(f.variant);
            bars.push(Bar {
                value,
                text: value.map(format).unwrap_or_default(),
                color: if i == 0 { base } else { lighten(base) },
                caption: format!("{short} {kind}").trim_end().to_string(),
            });
        }
    }
    bars
}

fn lighten(c: RGBColor) -> RGBColor {
    let up = |v: u8| (f64::from(v) + (255.0 - f64::from(v)) * 0.45).round() as u8;
    RGBColor(up(c.0), up(c.1), up(c.2))
}

fn format_micros(us: f64) -> String {
    if us >= 1000.0 {
        format!("{:.2} ms", us / 1000.0)
    } else {
        format!("{us:.0} \u{b5}s")
    }
}

fn draw_bars(area: &Area<'_>, title: &str, note: &str, bars: &[Bar]) -> DrawResult {
    let (w, h) = area.dim_in_pixel();
    let (w, h) = (w as i32, h as i32);
    text_centered(area, title, &text(22.0), (w / 2, 10))?;
    text_centered(
        area,
        note,
        &text(15.0).color(&RGBColor(110, 110, 110)),
        (w / 2, 40),
    )?;
    let plot_top = 100;
    let plot_bottom = h - 50;
    let margin = 40;
    let max = bars
        .iter()
        .filter_map(|b| b.value)
        .filter(|v| v.is_finite())
        .fold(0.0f64, f64::max);
    area.draw(&PathElement::new(
        [(margin, plot_bottom), (w - margin, plot_bottom)],
        RGBColor(120, 120, 120).stroke_width(1),
    ))?;
    area.draw(&Rectangle::new(
        [(4, 4), (w - 4, h - 4)],
        COLOR_GRID.stroke_width(1),
    ))?;
    let n = bars.len().max(1) as i32;
    let slot = (w - 2 * margin) / n;
    let bar_w = (slot * 6 / 10).min(110);
    for (i, bar) in bars.iter().enumerate() {
        let cx = margin + slot * i as i32 + slot / 2;
        text_centered(area, &bar.caption, &text(16.0), (cx, plot_bottom + 10))?;
        match bar.value.filter(|v| v.is_finite() && *v >= 0.0) {
            Some(v) if max > 0.0 => {
                let height = ((v / max) * f64::from(plot_bottom - plot_top)).round() as i32;
                let y = plot_bottom - height;
                area.draw(&Rectangle::new(
                    [(cx - bar_w / 2, y), (cx + bar_w / 2, plot_bottom)],
                    bar.color.filled(),
                ))?;
                text_centered(area, &bar.text, &text(17.0), (cx, y - 24))?;
            }
            _ => {
                let style = text(15.0).color(&RGBColor(130, 130, 130));
                text_centered(area, "not", &style, (cx, plot_bottom - 44))?;
                text_centered(area, "measured", &style, (cx, plot_bottom - 26))?;
            }
        }
    }
    Ok(())
}

impl fmt::Display for Comparison {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let percent = |v: Option<f64>| v.map_or("-".to_string(), |a| format!("{:.2}%", a * 100.0));
        let bytes = |v: Option<usize>| v.map_or("-".to_string(), format_bytes);
        writeln!(f, "Variants on {}:", dataset_title(self.dataset))?;
        writeln!(
            f,
            "{:<22}{:>10}{:>10}{:>12}{:>12}{:>10}{:>12}{:>11}{:>12}",
            "variant",
            "f32 acc",
            "int8 acc",
            "params",
            "flash",
            "RAM",
            "arena RAM",
            "s/epoch",
            "inference"
        )?;
        for v in &self.variants {
            writeln!(
                f,
                "{:<22}{:>10}{:>10}{:>12}{:>12}{:>10}{:>12}{:>11}{:>12}",
                v.variant.title(),
                percent(v.accuracy_f32),
                percent(v.accuracy_int8),
                group_thousands(v.params as u64),
                bytes(v.flash_bytes),
                bytes(v.peak_ram_bytes),
                bytes(v.layerwise_ram_bytes),
                v.seconds_per_epoch
                    .map_or("-".to_string(), |s| format!("{s:.1}")),
                v.micros_per_inference
                    .map_or("-".to_string(), |us| format!("{us:.0} us")),
            )?;
        }
        for note in &self.notes {
            writeln!(f, "  {note}")?;
        }
        Ok(())
    }
}
