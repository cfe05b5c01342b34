#![no_std]
// The default build has no unsafe code at all; with the `dsp` feature on an ARMv7E-M
// target, the `dsp` module alone allows it, for its inline assembly.
#![cfg_attr(not(picocnn_dsp), forbid(unsafe_code))]
#![cfg_attr(picocnn_dsp, deny(unsafe_code))]
#![deny(missing_docs)]
#![cfg_attr(
    not(test),
    deny(
        clippy::indexing_slicing,
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic
    )
)]
//! picocnn: int8 inference for two small MNIST-class CNNs, on a microcontroller or a PC.
//!
//! Promises:
//! - **No heap, no OS**: `#![no_std]` without `alloc`; builds for Cortex-M0/M3/M4.
//! - **Weights read in place**: [`Model::from_bytes`] borrows every tensor from the file's
//!   bytes (a `&'static [u8]` in flash on a microcontroller); nothing is copied.
//! - **Static RAM**: all activations of one inference live in a [`Scratch`] of
//!   [`Scratch::BYTES`] bytes (under 2 KiB) with compile-time sizes, for either variant.
//! - **No panics on any input**: a file is validated once (magic, version, CRC32, weight
//!   range, shapes, parameter ranges); a bad one is a typed [`Error`]. After that,
//!   [`Model::classify`] can only fail on an image of the wrong length.
//! - **Exact integer arithmetic**: int32 accumulation, one rounding rule
//!   ([`quant::requantize`]), integer logits that the host's int8 reference reproduces
//!   bit for bit.
//!
//! ```
//! use picocnn::{Error, Model, Scratch};
//!
//! // A file that is not a model is rejected with a typed error, never a panic.
//! assert_eq!(Model::from_bytes(b"not a model").unwrap_err(), Error::ModelBadMagic);
//!
//! // With real weights (e.g. `include_bytes!("weights.bin")`):
//! fn top_class(weights: &[u8], pixels: &[u8; 784]) -> Result<usize, Error> {
//!     let model = Model::from_bytes(weights)?;
//!     let mut scratch = Scratch::new();
//!     Ok(model.classify(pixels, &mut scratch)?.class)
//! }
//! # let _ = top_class;
//! ```
//!
//! In a firmware: the integration guide is `docs/firmware.md` in the repository (the
//! Cargo line, the `dsp` feature, `memory.x`, stack and flash per variant, the panic-free
//! check), and `firmware-sim/cortex-m/examples/minimal.rs` is a complete bare-metal
//! example, built and run under QEMU by `scripts/firmware-check.sh`. MSRV: Rust 1.89.
//!
//! Modules follow the network: [`format`] (the file), [`quant`] (requantization), then
//! the layers `conv`, `pool`, `dense`, [`softmax`], and [`model`] which fuses them.

mod conv;
mod dense;
#[cfg(any(picocnn_dsp, test))]
mod dsp;
pub mod error;
pub mod format;
pub mod layout;
pub mod model;
mod pool;
mod prediction;
pub mod quant;
pub mod shape;
pub mod softmax;

pub use error::{Error, Result};
pub use model::{Model, Scratch};
pub use prediction::{Logits, Prediction, argmax};
pub use shape::{CLASSES, Dataset, Variant};
