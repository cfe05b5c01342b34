//! The quantized network as the host holds it: int8 weights in the float model's natural
//! layouts, per-channel scales, biases and requantization multipliers.
//!
//! [`crate::quantize`] makes one from a checkpoint, [`crate::codec`] turns one into a
//! `weights.bin` and back, and [`crate::reference::logits_int8`] runs one.

use picocnn::quant::Multiplier;
use picocnn::{Dataset, Variant};

/// Real value of one integer logit step.
pub const LOGIT_SCALE: f64 = 1.0 / 65536.0;

/// Real scale of the int8 input: pixel / 255.
pub const INPUT_SCALE: f64 = 1.0 / 255.0;

/// One quantized layer.
#[derive(Debug, Clone, PartialEq)]
pub struct QuantLayer {
    /// int8 weights in the float model's layout: conv `[filter][tap]`, hidden
    /// `[input][unit]`, output `[unit][class]`.
    pub weights: Vec<i8>,
    /// Per output channel: the weights' real scale.
    pub weight_scale: Vec<f64>,
    /// Per output channel: bias at scale `s_in * weight_scale`.
    pub bias: Vec<i32>,
    /// Per output channel: `s_in * weight_scale / out_scale` as an integer multiplier.
    pub requant: Vec<Multiplier>,
    /// Real scale of the layer's output.
    pub out_scale: f64,
    /// Zero point of the layer's output (-128 after ReLU, 0 for the logits).
    pub out_zero_point: i8,
}

/// A whole quantized network, ready for export or for the host int8 reference.
#[derive(Debug, Clone, PartialEq)]
pub struct QuantModel {
    /// Which network.
    pub variant: Variant,
    /// Which dataset it was trained on.
    pub dataset: Dataset,
    /// Real scale of the input (`1/255`).
    pub input_scale: f64,
    /// Zero point of the input (-128).
    pub input_zero_point: i8,
    /// Convolution (32 filters), ReLU.
    pub conv: QuantLayer,
    /// Hidden dense (128), ReLU.
    pub hidden: QuantLayer,
    /// Output dense (10), int32 logits at [`LOGIT_SCALE`].
    pub output: QuantLayer,
}
