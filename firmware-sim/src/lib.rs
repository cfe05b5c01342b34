//! firmware-sim: runs the picocnn core exactly as a firmware does (weights borrowed from one
//! byte buffer, activations in a static scratch, nothing allocated per image) and checks it
//! against the host: the int8 reference and the float model (`verify`), and the same core
//! on a Cortex-M under QEMU (`scripts/firmware-check.sh` compares the firmware's result
//! lines with [`render::result_line`]).
//!
//! Modules: [`device`] (the firmware-like runner), [`images`] (IDX, PNG and PGM input),
//! [`verify`] (the test-set comparison), [`render`] (output formats), [`error`]. Datasets,
//! the host references and the `weights.bin` decoder come from [`picocnn_host`].

pub mod device;
pub mod error;
pub mod images;
pub mod render;
pub mod verify;

pub use error::{Error, Result};
