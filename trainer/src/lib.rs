//! Training and export for picocnn (work in progress).

pub mod atomic;
pub mod augment;
pub mod checkpoint;
pub mod cli;
pub mod dataset;
pub mod error;
pub mod export;
pub mod framed;
pub mod heldout;
pub mod history;
pub mod idx;
pub mod kernels;
pub mod network;
pub mod optim;
pub mod params;
pub mod progress;
pub mod quantize;
pub mod reference;
pub mod report;
pub mod resume;
pub mod schedule;
pub mod train;
