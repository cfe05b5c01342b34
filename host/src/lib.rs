//! picocnn-host: what the picocnn host tools (`trainer`, `firmware-sim`) share, so that
//! each fact lives in one place.
//!
//! - Data: [`idx`] (IDX files, raw or gzip), [`dataset`] (MNIST and Fashion-MNIST as
//!   28x28 images with labels), [`heldout`] (digits rendered from fonts, not MNIST).
//! - Files: [`atomic`] (every output is written atomically), [`frame`] (one frame and one
//!   bounded reader for every picocnn file), [`bounded`] (the same bound for other small
//!   files: pictures, histories), [`checkpoint`] (the f32 `.ckpt`), [`codec`]
//!   (a [`QuantModel`](quant_model::QuantModel) to `weights.bin` and
//!   back, through the core's file format).
//! - Models: [`params`] (the float parameters), [`quant_model`] and [`quantize`] (int8,
//!   TFLite-style), [`reference`](mod@reference) (plain f32 and int8 forward passes, the yardsticks for
//!   the core), [`summary`] (the Keras-like table).
//! - Command lines: [`cli`] (options both tools take, clap errors as one line, exit codes).
//!
//! Data flows one way: IDX -> f32 parameters -> [`quantize`] -> [`codec`] -> `picocnn`.
//! Nothing here trains; the trainer crate does.

pub mod atomic;
pub mod bounded;
pub mod checkpoint;
pub mod cli;
pub mod codec;
pub mod dataset;
pub mod error;
pub mod frame;
pub mod heldout;
pub mod idx;
pub mod lock;
pub mod params;
pub mod quant_model;
pub mod quantize;
pub mod reference;
pub mod summary;

pub use error::{Error, Result};
