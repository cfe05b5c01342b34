//! Training and export for picocnn (work in progress).

pub mod atomic;
pub mod dataset;
pub mod error;
pub mod history;
pub mod idx;
pub mod kernels;
pub mod optim;
pub mod params;
pub mod report;
