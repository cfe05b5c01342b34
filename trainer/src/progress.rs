//! What a person sees while training: a Keras-like progress bar per epoch and one line per
//! finished epoch.
//!
//! The bar (loss, accuracy, images per second, ETA) goes to stderr and only when stderr is
//! a terminal, so logs and pipes get the per-epoch lines (stdout) and nothing else.

use crate::history::EpochRecord;
use crate::network::Tally;
use crate::train::Observer;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressState, ProgressStyle};
use std::fmt;
use std::io::IsTerminal;

/// Writes one line to stdout ([`picocnn_host::cli::print`]). A closed or full stdout
/// (`trainer | head`) must not stop a training run or lose its files, so write errors are
/// ignored (`println!` would panic).
pub fn say(line: fmt::Arguments<'_>) {
    let _ = picocnn_host::cli::print(format_args!("{line}\n"));
}

/// Prints training progress to the console.
#[derive(Debug)]
pub struct Console {
    bar: Option<ProgressBar>,
    interactive: bool,
    epochs: usize,
    images: usize,
}

impl Console {
    /// A console reporter; the bar shows only if stderr is a terminal.
    pub fn new() -> Self {
        Console {
            bar: None,
            interactive: std::io::stderr().is_terminal(),
            epochs: 0,
            images: 0,
        }
    }
}

impl Default for Console {
    fn default() -> Self {
        Console::new()
    }
}

impl Observer for Console {
    fn epoch_started(&mut self, epoch: usize, epochs: usize, images: usize) {
        self.epochs = epochs;
        self.images = images;
        if !self.interactive {
            return;
        }
        let bar = ProgressBar::with_draw_target(Some(images as u64), ProgressDrawTarget::stderr());
        let style = ProgressStyle::with_template(
            "Epoch {prefix} [{bar:30}] {human_pos}/{human_len} {rate} ETA {eta:>3} {msg}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .with_key("rate", |state: &ProgressState, w: &mut dyn fmt::Write| {
            let _ = write!(w, "{:>6.0} img/s", state.per_sec());
        })
        .progress_chars("=> ");
        bar.set_style(style);
        bar.set_prefix(format!("{epoch}/{epochs}"));
        self.bar = Some(bar);
    }

    fn batch_done(&mut self, so_far: &Tally) {
        if let Some(bar) = &self.bar {
            bar.set_position(so_far.count as u64);
            bar.set_message(format!(
                "- loss {:.4} - accuracy {:.4}",
                so_far.mean_loss(),
                so_far.accuracy()
            ));
        }
    }

    fn validating(&mut self) {
        if let Some(bar) = &self.bar {
            bar.set_message(format!("{} - validating", bar.message()));
        }
    }

    fn epoch_done(&mut self, r: &EpochRecord) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
        say(format_args!(
            "Epoch {}/{}: {:.1} s ({:.0} img/s) - loss {:.4} - accuracy {:.4} - val_loss {:.4} - val_accuracy {:.4}",
            r.epoch,
            self.epochs,
            r.seconds,
            self.images as f64 / r.seconds.max(1e-9),
            r.train_loss,
            r.train_accuracy,
            r.val_loss,
            r.val_accuracy,
        ));
    }
}
