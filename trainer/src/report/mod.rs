//! What people see: the Keras-like model summary and the PNG plots.
//!
//! - [`summary()`]: per-layer shapes, parameters, MACs, int8 bytes and activation RAM of a
//!   variant, computed from [`picocnn::shape`]; `Display` prints the table.
//! - Plots, each a function from plain data to a PNG file (written atomically):
//!   [`plot_training_curves`], [`plot_prediction_grid`], [`plot_probabilities`],
//!   [`plot_confusion`], [`plot_comparison`], [`plot_augmented`] (what each `--augment`
//!   preset shows the model), [`plot_heldout`] (accuracy per digit on the held-out set).
//! - [`write_report`]: all of them for a folder of trained models (`trainer report`).
//!
//! Plots are drawn with `plotters` into an in-memory bitmap with a font compiled into the
//! binary, so they need nothing installed on the machine.

mod augmented;
mod canvas;
mod comparison;
mod confusion;
mod curves;
mod render;
mod samples;

pub use augmented::{AUGMENT_COLUMNS, HeldOutResult, plot_augmented, plot_heldout};
pub use comparison::{Comparison, VariantFigures, plot_comparison};
pub use confusion::{CellGrid, Confusion, plot_confusion};
pub use curves::{SeriesMarks, plot_training_curves};
pub use picocnn_host::summary::{Summary, summary};
pub use render::{HISTORY_SUFFIX, ModelFiles, Report, find_models, read_history, write_report};
pub use samples::{Sample, plot_prediction_grid, plot_probabilities};
