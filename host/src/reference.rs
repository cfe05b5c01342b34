//! Plain, per-image forward passes written for clarity, not speed: the yardstick for the
//! core (`picocnn`) and for quantization.
//!
//! - [`forward_f32`]: the float model, layer by layer, with every intermediate tensor.
//!   Used for calibration and as the float accuracy the int8 model is compared with.
//! - [`logits_int8`]: the quantized model, layer by layer, with every intermediate int8
//!   tensor (no fusion, no streaming, natural weight layouts from [`QuantModel`]). It
//!   shares only the rounding primitive ([`picocnn::quant::requantize`]) with the core,
//!   so its integer logits checking equal to the core's tests everything else: the
//!   exporter's weight layouts, the fused conv+ReLU+pool, the band streaming and the
//!   accumulator arithmetic.
//!
//! Layouts follow [`crate::params`]: feature maps are height-width-channel.

use picocnn::argmax;
use picocnn::quant::requantize;
use picocnn::shape::{
    CLASSES, CONV_SIDE, FILTERS, HIDDEN, IMAGE_PIXELS, IMAGE_SIDE, KERNEL_SIDE, KERNEL_TAPS,
    POOL_SIDE, Variant,
};

use rayon::prelude::*;

use crate::dataset::Split;
use crate::params::Params;
use crate::quant_model::QuantModel;

/// Every activation of one image through the float model.
#[derive(Debug, Clone, PartialEq)]
pub struct F32Activations {
    /// Convolution output after ReLU, `26 x 26 x 32`.
    pub conv: Vec<f32>,
    /// The flattened features the hidden layer reads (after pooling for variant B).
    pub features: Vec<f32>,
    /// Hidden layer after ReLU.
    pub hidden: [f32; HIDDEN],
    /// Output logits (before softmax).
    pub logits: [f32; CLASSES],
}

/// 2x2 stride-2 max pooling of a `26 x 26 x 32` map into `13 x 13 x 32`.
fn max_pool<T: Copy + PartialOrd>(map: &[T]) -> Vec<T> {
    let mut out = Vec::with_capacity(POOL_SIDE * POOL_SIDE * FILTERS);
    for y in 0..POOL_SIDE {
        for x in 0..POOL_SIDE {
            for f in 0..FILTERS {
                let at = |dy: usize, dx: usize| {
                    map[((2 * y + dy) * CONV_SIDE + 2 * x + dx) * FILTERS + f]
                };
                let mut best = at(0, 0);
                for (dy, dx) in [(0, 1), (1, 0), (1, 1)] {
                    if at(dy, dx) > best {
                        best = at(dy, dx);
                    }
                }
                out.push(best);
            }
        }
    }
    out
}

/// The float model on one image (pixels scaled to `[0, 1]`).
///
/// # Panics
/// If `params` does not have the shapes of its variant.
pub fn forward_f32(params: &Params, image: &[u8; IMAGE_PIXELS]) -> F32Activations {
    assert!(
        params.has_valid_shapes(),
        "parameters do not match their variant"
    );
    let pixel = |y: usize, x: usize| f32::from(image[y * IMAGE_SIDE + x]) / 255.0;

    let mut conv = vec![0f32; CONV_SIDE * CONV_SIDE * FILTERS];
    for y in 0..CONV_SIDE {
        for x in 0..CONV_SIDE {
            for f in 0..FILTERS {
                let mut sum = params.conv_b[f];
                for ky in 0..KERNEL_SIDE {
                    for kx in 0..KERNEL_SIDE {
                        sum += params.conv_w[f * KERNEL_TAPS + ky * KERNEL_SIDE + kx]
                            * pixel(y + ky, x + kx);
                    }
                }
                conv[(y * CONV_SIDE + x) * FILTERS + f] = sum.max(0.0);
            }
        }
    }

    let features = match params.variant {
        Variant::NoPool => conv.clone(),
        Variant::Pool => max_pool(&conv),
    };

    // Input-major loop: hidden_w is stored [input][unit].
    let mut hidden = [0f32; HIDDEN];
    hidden.copy_from_slice(&params.hidden_b);
    for (i, &v) in features.iter().enumerate() {
        if v != 0.0 {
            let row = &params.hidden_w[i * HIDDEN..(i + 1) * HIDDEN];
            for (h, &w) in hidden.iter_mut().zip(row) {
                *h += v * w;
            }
        }
    }
    for h in &mut hidden {
        *h = h.max(0.0);
    }

    let mut logits = [0f32; CLASSES];
    logits.copy_from_slice(&params.output_b);
    for (j, &h) in hidden.iter().enumerate() {
        for (k, l) in logits.iter_mut().enumerate() {
            *l += h * params.output_w[j * CLASSES + k];
        }
    }

    F32Activations {
        conv,
        features,
        hidden,
        logits,
    }
}

/// Requantizes an accumulator, adds the zero point and clamps at the zero point (ReLU)
/// and at 127.
fn relu_to_int8(acc: i64, m: picocnn::quant::Multiplier, zero_point: i8) -> i8 {
    let acc = i32::try_from(acc).expect("accumulator fits i32 (bias and weights are bounded)");
    let q = requantize(acc, m).saturating_add(i32::from(zero_point));
    q.clamp(i32::from(zero_point), 127) as i8
}

/// The quantized model on one image: integer logits at the scale `model.output.out_scale`.
///
/// # Panics
/// If `model`'s tensors do not have the shapes of its variant.
pub fn logits_int8(model: &QuantModel, image: &[u8; IMAGE_PIXELS]) -> [i32; CLASSES] {
    // Input: q = pixel - 128 at scale 1/255, zero point -128.
    let input: Vec<i8> = image.iter().map(|&p| (i16::from(p) - 128) as i8).collect();
    let input_zp = i64::from(model.input_zero_point);

    // Convolution + ReLU, int8 out.
    let conv_layer = &model.conv;
    let mut conv = vec![0i8; CONV_SIDE * CONV_SIDE * FILTERS];
    for y in 0..CONV_SIDE {
        for x in 0..CONV_SIDE {
            for f in 0..FILTERS {
                let mut acc = i64::from(conv_layer.bias[f]);
                for ky in 0..KERNEL_SIDE {
                    for kx in 0..KERNEL_SIDE {
                        let w = conv_layer.weights[f * KERNEL_TAPS + ky * KERNEL_SIDE + kx];
                        let q = input[(y + ky) * IMAGE_SIDE + x + kx];
                        acc += i64::from(w) * (i64::from(q) - input_zp);
                    }
                }
                conv[(y * CONV_SIDE + x) * FILTERS + f] =
                    relu_to_int8(acc, conv_layer.requant[f], conv_layer.out_zero_point);
            }
        }
    }

    // Max pooling on int8 (scale and zero point unchanged).
    let features = match model.variant {
        Variant::NoPool => conv,
        Variant::Pool => max_pool(&conv),
    };

    // Hidden dense + ReLU. Weights are [input][unit].
    let hidden_layer = &model.hidden;
    let features_zp = i64::from(conv_layer.out_zero_point);
    let mut acc: Vec<i64> = hidden_layer.bias.iter().map(|&b| i64::from(b)).collect();
    for (i, &q) in features.iter().enumerate() {
        let x = i64::from(q) - features_zp;
        for (j, a) in acc.iter_mut().enumerate() {
            *a += i64::from(hidden_layer.weights[i * HIDDEN + j]) * x;
        }
    }
    let hidden: Vec<i8> = acc
        .iter()
        .zip(&hidden_layer.requant)
        .map(|(&a, &m)| relu_to_int8(a, m, hidden_layer.out_zero_point))
        .collect();

    // Output dense, requantized to int32 logits at one common scale. Weights are [unit][class].
    let output_layer = &model.output;
    let hidden_zp = i64::from(hidden_layer.out_zero_point);
    let mut logits = [0i32; CLASSES];
    for (k, logit) in logits.iter_mut().enumerate() {
        let mut acc = i64::from(output_layer.bias[k]);
        for (j, &q) in hidden.iter().enumerate() {
            acc += i64::from(output_layer.weights[j * CLASSES + k]) * (i64::from(q) - hidden_zp);
        }
        let acc = i32::try_from(acc).expect("output accumulator fits i32");
        *logit = requantize(acc, output_layer.requant[k]);
    }
    logits
}

/// Fraction of `split` the float model classifies correctly (plain per-image forward).
pub fn accuracy_f32(params: &Params, split: &Split) -> f64 {
    let right = split
        .image_arrays()
        .par_iter()
        .zip(split.labels.par_iter())
        .filter(|&(image, &label)| argmax(&forward_f32(params, image).logits) == usize::from(label))
        .count();
    right as f64 / split.len().max(1) as f64
}
