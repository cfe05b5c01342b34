//! Training and export for picocnn (work in progress).

pub mod params;
