//! Training and export for picocnn (work in progress).

pub mod atomic;
pub mod history;
pub mod params;
