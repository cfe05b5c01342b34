//! The float model's parameters: the layout every part of the trainer agrees on.
//!
//! Layouts follow Keras so results compare one to one:
//! - `conv_w[f * 9 + ky * 3 + kx]`: filter `f`, kernel row `ky`, column `kx` (one input channel).
//! - the flattened feature vector is height-width-channel: `(y * side + x) * 32 + f`.
//! - `hidden_w[i * 128 + j]`: input `i` of the flattened vector to hidden unit `j`
//!   (Keras's `(in, out)` kernel).
//! - `output_w[j * 10 + k]`: hidden unit `j` to class `k`.

use picocnn::shape::{CLASSES, FILTERS, HIDDEN, KERNEL_TAPS};
use picocnn::{Dataset, Variant};
use serde::{Deserialize, Serialize};

/// All trainable parameters of one variant, in f32.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Params {
    /// Which network these parameters belong to; fixes the hidden layer's input length.
    pub variant: Variant,
    /// Convolution weights, `FILTERS x KERNEL_TAPS`.
    pub conv_w: Vec<f32>,
    /// Convolution biases, one per filter.
    pub conv_b: Vec<f32>,
    /// Hidden dense weights, `variant.flat_len() x HIDDEN`.
    pub hidden_w: Vec<f32>,
    /// Hidden dense biases.
    pub hidden_b: Vec<f32>,
    /// Output dense weights, `HIDDEN x CLASSES`.
    pub output_w: Vec<f32>,
    /// Output dense biases.
    pub output_b: Vec<f32>,
}

impl Params {
    /// All-zero parameters of the right shapes for `variant`.
    pub fn zeros(variant: Variant) -> Self {
        Params {
            variant,
            conv_w: vec![0.0; FILTERS * KERNEL_TAPS],
            conv_b: vec![0.0; FILTERS],
            hidden_w: vec![0.0; variant.flat_len() * HIDDEN],
            hidden_b: vec![0.0; HIDDEN],
            output_w: vec![0.0; HIDDEN * CLASSES],
            output_b: vec![0.0; CLASSES],
        }
    }

    /// The tensors in a fixed order, for optimizers and checks that treat them alike.
    pub fn tensors(&self) -> [&[f32]; 6] {
        [
            &self.conv_w,
            &self.conv_b,
            &self.hidden_w,
            &self.hidden_b,
            &self.output_w,
            &self.output_b,
        ]
    }

    /// Mutable view of [`Params::tensors`], same order.
    pub fn tensors_mut(&mut self) -> [&mut [f32]; 6] {
        [
            &mut self.conv_w,
            &mut self.conv_b,
            &mut self.hidden_w,
            &mut self.hidden_b,
            &mut self.output_w,
            &mut self.output_b,
        ]
    }

    /// True when every tensor has the length its variant requires.
    pub fn has_valid_shapes(&self) -> bool {
        let zeros = Params::zeros(self.variant);
        self.tensors()
            .iter()
            .zip(zeros.tensors())
            .all(|(have, want)| have.len() == want.len())
    }

    /// Whether every value is a finite number (training that diverged leaves NaN or
    /// infinity behind).
    pub fn is_finite(&self) -> bool {
        self.tensors()
            .iter()
            .all(|t| t.iter().all(|v| v.is_finite()))
    }
}

/// The f32 checkpoint written next to `weights.bin`: parameters plus what they were trained on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// Dataset the model was trained on.
    pub dataset: Dataset,
    /// The trained parameters.
    pub params: Params,
}
