#![no_std]
#![forbid(unsafe_code)]
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
//! picocnn: int8 inference for two small MNIST-class CNNs (work in progress).

pub mod shape;

pub use shape::{CLASSES, Dataset, Variant};
