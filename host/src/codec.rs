//! A [`QuantModel`] to `weights.bin` and back, through the core's file format.
//!
//! [`encode`] reorders the weights from the float model's layouts (see
//! [`QuantLayer::weights`]) into the order the core's loops read them, encodes the file
//! with [`ModelFile::encode`] and loads it back with the core to prove it valid.
//! [`decode`] is the inverse: the core validates the file, then every weight is read back
//! from the position the same index function gives, so encoding and decoding cannot
//! disagree about the layout.

use picocnn::Model;
use picocnn::format::{Dimensions, LayerFile, ModelFile};
use picocnn::layout::{conv_index, hidden_index, output_index};
use picocnn::quant::Multiplier;
use picocnn::shape::{CLASSES, FILTERS, HIDDEN, KERNEL_TAPS};

use crate::quant_model::{QuantLayer, QuantModel};

/// Maps a weight's index in the natural layout to its position in the file.
type Position = fn(usize) -> usize;

/// File position of conv weight `[filter][tap]` (natural index `filter * 9 + tap`).
fn conv_position(natural: usize) -> usize {
    conv_index(natural / KERNEL_TAPS, natural % KERNEL_TAPS)
}

/// File position of hidden weight `[input][unit]` (natural index `input * 128 + unit`,
/// input `position * 32 + channel`).
fn hidden_position(natural: usize) -> usize {
    hidden_index(natural % HIDDEN, natural / HIDDEN)
}

/// File position of output weight `[unit][class]`.
fn output_position(natural: usize) -> usize {
    output_index(natural % CLASSES, natural / CLASSES)
}

/// `weights` (natural layout) at the file positions `position` gives.
fn to_file_order(weights: &[i8], position: Position) -> Vec<u8> {
    let mut out = vec![0u8; weights.len()];
    for (i, &w) in weights.iter().enumerate() {
        if let Some(dst) = out.get_mut(position(i)) {
            *dst = w as u8;
        }
    }
    out
}

/// The file's `weights` back in the natural layout.
fn from_file_order(weights: &[u8], position: Position) -> Vec<i8> {
    (0..weights.len())
        .map(|i| weights.get(position(i)).map_or(0, |&b| b as i8))
        .collect()
}

fn le_i32(values: &[i32]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
}

fn le_f32(values: &[f64]) -> Vec<u8> {
    values
        .iter()
        .flat_map(|&v| (v as f32).to_le_bytes())
        .collect()
}

/// A layer's parameter tensors as the file stores them.
struct LayerBytes {
    weights: Vec<u8>,
    weight_scale: Vec<u8>,
    bias: Vec<u8>,
    multiplier: Vec<u8>,
    shift: Vec<u8>,
    out_scale: f32,
    out_zero_point: i8,
}

impl LayerBytes {
    fn new(layer: &QuantLayer, position: Position) -> Self {
        let multipliers: Vec<i32> = layer.requant.iter().map(|m| m.multiplier()).collect();
        LayerBytes {
            weights: to_file_order(&layer.weights, position),
            weight_scale: le_f32(&layer.weight_scale),
            bias: le_i32(&layer.bias),
            multiplier: le_i32(&multipliers),
            shift: layer.requant.iter().map(|m| m.shift()).collect(),
            out_scale: layer.out_scale as f32,
            out_zero_point: layer.out_zero_point,
        }
    }

    fn file(&self) -> LayerFile<'_> {
        LayerFile {
            weights: &self.weights,
            weight_scale: &self.weight_scale,
            bias: &self.bias,
            multiplier: &self.multiplier,
            shift: &self.shift,
            out_scale: self.out_scale,
            out_zero_point: self.out_zero_point,
        }
    }

    fn len(&self) -> usize {
        self.weights.len() + self.weight_scale.len() + self.bias.len() + 2 * self.multiplier.len()
    }
}

/// Encodes a quantized model as a `weights.bin` file and checks that the core accepts it.
///
/// # Errors
/// The core's reason if it rejects the encoding (shapes or parameter ranges).
pub fn encode(model: &QuantModel) -> picocnn::Result<Vec<u8>> {
    let conv = LayerBytes::new(&model.conv, conv_position);
    let hidden = LayerBytes::new(&model.hidden, hidden_position);
    let output = LayerBytes::new(&model.output, output_position);
    let file = ModelFile {
        variant: model.variant.code(),
        dataset: model.dataset.code(),
        dimensions: Dimensions::of(model.variant),
        class_names: model.dataset.class_names(),
        input_scale: model.input_scale as f32,
        input_zero_point: model.input_zero_point,
        conv: conv.file(),
        hidden: hidden.file(),
        output: output.file(),
    };
    // Tensors plus generous room for lengths, names and scalars.
    let mut bytes = vec![0u8; conv.len() + hidden.len() + output.len() + 4096];
    let len = file.encode(&mut bytes)?;
    bytes.truncate(len);
    Model::from_bytes(&bytes)?;
    Ok(bytes)
}

/// Decodes a `weights.bin` (validated by the core first) into a [`QuantModel`].
///
/// # Errors
/// The core's reason if it rejects the file.
pub fn decode(bytes: &[u8]) -> picocnn::Result<QuantModel> {
    let model = Model::from_bytes(bytes)?;
    let file = ModelFile::decode(bytes)?;
    Ok(QuantModel {
        variant: model.variant(),
        dataset: model.dataset(),
        input_scale: f64::from(file.input_scale),
        input_zero_point: file.input_zero_point,
        conv: layer(&file.conv, FILTERS, conv_position),
        hidden: layer(&file.hidden, HIDDEN, hidden_position),
        output: layer(&file.output, CLASSES, output_position),
    })
}

/// One layer: weights back in the natural layout, per-channel values decoded from their
/// bytes. Lengths and ranges were checked by `Model::from_bytes`.
fn layer(file: &LayerFile<'_>, channels: usize, position: Position) -> QuantLayer {
    let words = |bytes: &[u8]| -> Vec<[u8; 4]> {
        bytes
            .as_chunks::<4>()
            .0
            .iter()
            .take(channels)
            .copied()
            .collect()
    };
    QuantLayer {
        weights: from_file_order(file.weights, position),
        weight_scale: words(file.weight_scale)
            .into_iter()
            .map(|b| f64::from(f32::from_le_bytes(b)))
            .collect(),
        bias: words(file.bias)
            .into_iter()
            .map(i32::from_le_bytes)
            .collect(),
        requant: words(file.multiplier)
            .into_iter()
            .zip(file.shift)
            .filter_map(|(m, &s)| Multiplier::new(i32::from_le_bytes(m), s))
            .collect(),
        out_scale: f64::from(file.out_scale),
        out_zero_point: file.out_zero_point,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use picocnn::Variant;

    /// Each index function is a permutation of its tensor: every file position is hit
    /// exactly once.
    #[test]
    fn index_functions_are_permutations() {
        let cases: [(Position, usize); 4] = [
            (conv_position, FILTERS * KERNEL_TAPS),
            (hidden_position, Variant::NoPool.flat_len() * HIDDEN),
            (hidden_position, Variant::Pool.flat_len() * HIDDEN),
            (output_position, HIDDEN * CLASSES),
        ];
        for (position, len) in cases {
            let mut seen = vec![false; len];
            for i in 0..len {
                let p = position(i);
                assert!(p < len && !seen[p], "position {p} of {len}");
                seen[p] = true;
            }
        }
    }
}
