//! How results are printed: for people (a probability bar per class), as the firmware's
//! result lines (compared byte for byte with the QEMU run), and as JSON for scripts.

use std::fmt::Write;
use std::time::Duration;

use picocnn::{CLASSES, Prediction};
use serde::Serialize;

/// Width of a full probability bar, in character cells.
pub const BAR_WIDTH: usize = 40;

/// The firmware's result line for image `index`:
/// `image <index> class <class> logits <l0> ... <l9>`.
///
/// ```
/// let p = picocnn::Prediction { class: 2, logits: [0, -1, 7, 0, 0, 0, 0, 0, 0, 3], probabilities: [0.1; 10] };
/// assert_eq!(firmware_sim::render::result_line(4, &p), "image 4 class 2 logits 0 -1 7 0 0 0 0 0 0 3");
/// ```
pub fn result_line(index: usize, prediction: &Prediction) -> String {
    let mut line = format!("image {index} class {} logits", prediction.class);
    for logit in prediction.logits {
        let _ = write!(line, " {logit}");
    }
    line
}

/// A bar of `fraction` (clamped to `[0, 1]`) of [`BAR_WIDTH`] cells, in eighths of a cell.
///
/// ```
/// assert_eq!(firmware_sim::render::bar(0.5).chars().count(), 20);
/// assert_eq!(firmware_sim::render::bar(0.0), "");
/// ```
pub fn bar(fraction: f32) -> String {
    const PARTS: [char; 8] = [' ', '▏', '▎', '▍', '▌', '▋', '▊', '▉'];
    let eighths = (fraction.clamp(0.0, 1.0) * (BAR_WIDTH * 8) as f32).round() as usize;
    let mut s = "█".repeat(eighths / 8);
    if !eighths.is_multiple_of(8) {
        s.push(PARTS[eighths % 8]);
    }
    s
}

/// A human-readable block for one image: the verdict, then one bar per class.
pub fn human(
    source: &str,
    prediction: &Prediction,
    names: &[&str; CLASSES],
    time: Duration,
) -> String {
    let best = prediction.class;
    let mut out = format!(
        "{}: {} ({:.1} %) in {:.3} ms\n",
        picocnn_host::cli::escaped(source),
        names[best],
        100.0 * prediction.probabilities[best],
        time.as_secs_f64() * 1e3
    );
    let width = names.iter().map(|n| n.chars().count()).max().unwrap_or(1);
    for (k, (&name, &p)) in names.iter().zip(&prediction.probabilities).enumerate() {
        let marker = if k == best { '>' } else { ' ' };
        let _ = writeln!(
            out,
            "  {marker} {name:>width$} {:<bw$} {:5.1} %  (logit {})",
            bar(p),
            100.0 * p,
            prediction.logits[k],
            bw = BAR_WIDTH
        );
    }
    out
}

/// One image's result as `--json` prints it.
#[derive(Debug, Clone, Serialize)]
pub struct JsonResult<'a> {
    /// Where the image came from.
    pub source: &'a str,
    /// Position among all images classified in this run.
    pub index: usize,
    /// Predicted class index.
    pub class: usize,
    /// Its name.
    pub name: &'a str,
    /// Integer logits (exact).
    pub logits: [i32; CLASSES],
    /// Softmax probabilities.
    pub probabilities: [f32; CLASSES],
    /// Wall time of the inference, in microseconds.
    pub micros: f64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bars_grow_in_eighths_and_stay_within_width() {
        assert_eq!(bar(1.0).chars().count(), BAR_WIDTH);
        assert_eq!(bar(2.0).chars().count(), BAR_WIDTH);
        assert_eq!(bar(-1.0), "");
        assert_eq!(bar(1.0 / (BAR_WIDTH as f32 * 8.0)), "▏");
        assert_eq!(
            bar(0.5 + 4.0 / (BAR_WIDTH as f32 * 8.0)),
            format!("{}▌", "█".repeat(20))
        );
    }

    #[test]
    fn human_output_marks_the_winner() {
        let p = Prediction {
            class: 1,
            logits: [0, 5, 0, 0, 0, 0, 0, 0, 0, 0],
            probabilities: [0.0, 0.91, 0.09, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0],
        };
        let names = picocnn::Dataset::Mnist.class_names();
        let text = human("x.idx", &p, &names, Duration::from_micros(250));
        assert!(
            text.starts_with("x.idx: 1 (91.0 %) in 0.250 ms\n"),
            "{text}"
        );
        assert_eq!(text.lines().count(), 11);
        assert!(text.lines().nth(2).unwrap().starts_with("  > 1 "));
    }
}
