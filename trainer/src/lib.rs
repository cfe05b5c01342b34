//! trainer: trains the two picocnn networks in f32 and exports them int8.
//!
//! [`train`] runs mini-batch Adam over [`network`] (forward and backward passes on the
//! [`kernels`], scalar or AVX2), [`export`] quantizes and writes `weights.bin`,
//! [`report`] draws the plots, [`cli`] is the command line. What the trainer shares with
//! `firmware-sim` (datasets, files, the quantized model and its references) is in
//! [`picocnn_host`].

pub mod augment;
pub mod cli;
pub mod error;
pub mod export;
pub mod history;
pub mod kernels;
pub mod network;
pub mod optim;
pub mod progress;
pub mod report;
pub mod resume;
pub mod schedule;
pub mod train;
