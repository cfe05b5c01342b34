//! Post-training int8 quantization of a float checkpoint, TFLite-style.
//!
//! - Input: `q = pixel - 128`, scale `1/255`, zero point `-128`.
//! - Weights: symmetric per output channel, `q = round(w / s_w)` in `-127..=127` with
//!   `s_w = max |w| / 127` over that channel.
//! - Activations after each ReLU: asymmetric per tensor, calibrated on training images:
//!   the range `[0, max]` of the float activations gives `s = max / 255`, zero point -128.
//!   Max-pooling keeps its input's scale and zero point.
//! - Biases: int32 at scale `s_in * s_w`.
//! - Requantization: each channel's `s_in * s_w / s_out`, computed in `f64`, becomes a
//!   [`Multiplier`](picocnn::quant::Multiplier) once, here ([`picocnn::quant::quantize_multiplier`]).
//! - Output layer: its int32 accumulators (per-class scales `s_h * s_w[k]`) are
//!   requantized to one common logit scale, [`LOGIT_SCALE`] = `2^-16`, so the integer
//!   logits are exact, comparable across classes, and read as `logit / 65536`.
//!
//! Weights are kept in the float model's natural layouts (see [`QuantLayer::weights`]);
//! [`crate::codec`] reorders them for the core.

use picocnn::quant::quantize_multiplier;
use picocnn::shape::{CLASSES, FILTERS, HIDDEN, KERNEL_TAPS};
use picocnn::{model::BIAS_LIMIT, model::INPUT_ZERO_POINT};

use rayon::prelude::*;

use crate::dataset::Split;
use crate::error::{Error, QuantProblem, Result};
use crate::params::Checkpoint;
use crate::quant_model::{INPUT_SCALE, LOGIT_SCALE, QuantLayer, QuantModel};
use crate::reference::forward_f32;

/// Images used for calibration unless the caller says otherwise.
pub const DEFAULT_CALIBRATION_IMAGES: usize = 2000;

/// The largest post-ReLU activations seen on the calibration images.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Calibration {
    /// Largest convolution output (after ReLU; pooling does not change it).
    pub conv_max: f32,
    /// Largest hidden-layer output (after ReLU).
    pub hidden_max: f32,
    /// Images seen.
    pub images: usize,
}

/// Runs the float model on up to `count` images spread evenly over `split` and records
/// the activation ranges.
///
/// # Errors
/// [`Error::NoCalibrationImages`] if the split is empty or `count` is 0,
/// [`Error::ParamShapes`] if the checkpoint's parameters do not fit their variant.
pub fn calibrate(checkpoint: &Checkpoint, split: &Split, count: usize) -> Result<Calibration> {
    if split.is_empty() || count == 0 {
        return Err(Error::NoCalibrationImages);
    }
    if !checkpoint.params.has_valid_shapes() {
        return Err(Error::ParamShapes {
            variant: checkpoint.params.variant,
        });
    }
    let count = count.min(split.len());
    let step = split.len() / count;
    let images = split.image_arrays();
    // Evenly spaced images (not the first `count`), so no class or writer dominates.
    // The maximum is order-independent, so the parallel reduction is deterministic.
    let (conv_max, hidden_max) = (0..count)
        .into_par_iter()
        .map(|i| {
            let a = forward_f32(&checkpoint.params, &images[i * step]);
            let conv = a.conv.iter().copied().fold(0f32, f32::max);
            let hidden = a.hidden.iter().copied().fold(0f32, f32::max);
            (conv, hidden)
        })
        .reduce(|| (0f32, 0f32), |(c, h), (c2, h2)| (c.max(c2), h.max(h2)));
    Ok(Calibration {
        conv_max,
        hidden_max,
        images: count,
    })
}

/// Scale of a post-ReLU activation whose float range is `[0, max]`, zero point -128.
fn activation_scale(max: f32) -> f64 {
    if max > 0.0 && max.is_finite() {
        f64::from(max) / 255.0
    } else {
        // A dead layer: any positive scale represents its zeros exactly.
        1.0 / 255.0
    }
}

/// Quantizes the weights of one layer per output channel. `weight(o, i)` reads the float
/// weight of output channel `o` from input `i`; the result is laid out by `index(o, i)`.
#[allow(clippy::too_many_arguments)]
fn quantize_layer(
    layer: &'static str,
    outputs: usize,
    inputs: usize,
    weight: impl Fn(usize, usize) -> f32,
    index: impl Fn(usize, usize) -> usize,
    bias: &[f32],
    in_scale: f64,
    out_scale: f64,
    out_zero_point: i8,
) -> Result<QuantLayer> {
    let mut weights = vec![0i8; outputs * inputs];
    let mut weight_scale = Vec::with_capacity(outputs);
    let mut biases = Vec::with_capacity(outputs);
    let mut requant = Vec::with_capacity(outputs);
    for o in 0..outputs {
        let problem = |problem| Error::Quantization {
            layer,
            channel: o,
            problem,
        };
        let max = (0..inputs).map(|i| weight(o, i).abs()).fold(0f32, f32::max);
        if !max.is_finite() {
            return Err(problem(QuantProblem::NonFiniteWeight));
        }
        // An all-zero channel quantizes to zeros with any scale; 1/127 keeps the bias exact.
        let s_w = if max > 0.0 {
            f64::from(max) / 127.0
        } else {
            1.0 / 127.0
        };
        for i in 0..inputs {
            let q = (f64::from(weight(o, i)) / s_w).round().clamp(-127.0, 127.0);
            weights[index(o, i)] = q as i8;
        }
        let b = (f64::from(bias[o]) / (in_scale * s_w)).round();
        if b.is_nan() || b.abs() > f64::from(BIAS_LIMIT) {
            return Err(problem(QuantProblem::BiasRange(bias[o])));
        }
        biases.push(b as i32);
        let factor = in_scale * s_w / out_scale;
        let m = quantize_multiplier(factor)
            .ok_or_else(|| problem(QuantProblem::FactorRange(factor)))?;
        requant.push(m);
        weight_scale.push(s_w);
    }
    Ok(QuantLayer {
        weights,
        weight_scale,
        bias: biases,
        requant,
        out_scale,
        out_zero_point,
    })
}

/// Quantizes a checkpoint with the given activation ranges.
///
/// # Errors
/// [`Error::ParamShapes`] if the parameters have the wrong shapes,
/// [`Error::Quantization`] if they hold non-finite values or a bias or scale does not fit
/// the integer representation.
pub fn quantize(checkpoint: &Checkpoint, calibration: &Calibration) -> Result<QuantModel> {
    let p = &checkpoint.params;
    if !p.has_valid_shapes() {
        return Err(Error::ParamShapes {
            variant: checkpoint.params.variant,
        });
    }
    let conv_scale = activation_scale(calibration.conv_max);
    let hidden_scale = activation_scale(calibration.hidden_max);
    let flat = p.variant.flat_len();

    let conv = quantize_layer(
        "conv",
        FILTERS,
        KERNEL_TAPS,
        |f, t| p.conv_w[f * KERNEL_TAPS + t],
        |f, t| f * KERNEL_TAPS + t,
        &p.conv_b,
        INPUT_SCALE,
        conv_scale,
        -128,
    )?;
    let hidden = quantize_layer(
        "hidden",
        HIDDEN,
        flat,
        |j, i| p.hidden_w[i * HIDDEN + j],
        |j, i| i * HIDDEN + j,
        &p.hidden_b,
        conv_scale,
        hidden_scale,
        -128,
    )?;
    let output = quantize_layer(
        "output",
        CLASSES,
        HIDDEN,
        |k, j| p.output_w[j * CLASSES + k],
        |k, j| j * CLASSES + k,
        &p.output_b,
        hidden_scale,
        LOGIT_SCALE,
        0,
    )?;
    Ok(QuantModel {
        variant: p.variant,
        dataset: checkpoint.dataset,
        input_scale: INPUT_SCALE,
        input_zero_point: INPUT_ZERO_POINT,
        conv,
        hidden,
        output,
    })
}
