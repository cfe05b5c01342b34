//! Models shared by the int8 tests and the `classify` bench.
//!
//! [`synthetic_checkpoint`] makes deterministic float parameters (He-scaled uniform
//! noise from a fixed-seed xorshift) for when a trained model is not needed: the core's
//! cost does not depend on the weights' values, and bit-exactness must hold for any
//! weights, not only trained ones.

#![allow(dead_code)]

use picocnn::shape::{CLASSES, FILTERS, HIDDEN, KERNEL_TAPS};
use picocnn::{Dataset, Variant};
use picocnn_host::dataset::{self, Data};
use picocnn_host::params::{Checkpoint, Params};

/// A small deterministic generator (xorshift64*), enough for test weights.
pub struct Xorshift(u64);

impl Xorshift {
    pub fn new(seed: u64) -> Self {
        Xorshift(seed | 1)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// Uniform in `[-1, 1)`.
    pub fn symmetric(&mut self) -> f32 {
        ((self.next_u64() >> 40) as f32 / (1u64 << 23) as f32) - 1.0
    }
}

/// Deterministic, non-trivial parameters: uniform He-scaled weights, small biases (some
/// negative so ReLUs clip), so activations and logits spread over their ranges.
pub fn synthetic_checkpoint(variant: Variant, dataset: Dataset, seed: u64) -> Checkpoint {
    let mut rng = Xorshift::new(seed);
    let mut params = Params::zeros(variant);
    let mut fill = |values: &mut [f32], fan_in: usize, scale: f32| {
        let bound = scale * (6.0 / fan_in as f32).sqrt();
        for v in values {
            *v = bound * rng.symmetric();
        }
    };
    fill(&mut params.conv_w, KERNEL_TAPS, 1.0);
    fill(&mut params.conv_b, KERNEL_TAPS, 0.2);
    fill(&mut params.hidden_w, variant.flat_len(), 1.0);
    fill(&mut params.hidden_b, FILTERS, 0.5);
    fill(&mut params.output_w, HIDDEN, 1.0);
    fill(&mut params.output_b, CLASSES, 0.5);
    Checkpoint { dataset, params }
}

/// Loads a dataset from the suite's data directory, with a message saying how to fetch it.
pub fn load(which: Dataset) -> Data {
    let dir = picocnn_suite::data_dir();
    dataset::load(&dir, which).unwrap_or_else(|e| panic!("{e}"))
}
