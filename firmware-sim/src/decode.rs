//! The quantized model a `weights.bin` holds, read back into the trainer's natural layouts
//! ([`trainer::quantize::QuantModel`]) so the host int8 reference can run the very same
//! integers as the core.
//!
//! This follows the layouts documented in [`picocnn::format::LayerFile::weights`], written
//! independently of the exporter's code: when the reference's logits equal the core's, the
//! exporter, the documentation and the core's loops all agree.

use picocnn::dense::BAND_POSITIONS;
use picocnn::format::{LayerFile, ModelFile};
use picocnn::quant::Multiplier;
use picocnn::shape::{CLASSES, FILTERS, HIDDEN, KERNEL_TAPS};
use trainer::quantize::{QuantLayer, QuantModel};

use crate::device::Weights;

/// Filters per group in the convolution's weight layout (`[group][tap][filter in group]`).
const CONV_GROUP: usize = 8;
const _: () = assert!(FILTERS.is_multiple_of(CONV_GROUP));
use crate::error::{Error, Result};

/// Decodes `weights` (validated by the core first) into a [`QuantModel`].
///
/// # Errors
/// [`Error::Model`] if the core rejects the file.
pub fn quant_model(weights: &Weights) -> Result<QuantModel> {
    let model = weights.model(None)?;
    let file = ModelFile::decode(weights.bytes()).map_err(|source| Error::Model {
        path: weights.path().to_owned(),
        source,
    })?;
    let positions = model.variant().feature_positions();
    let conv = layer(&file.conv, FILTERS, |w| {
        // [filter group][tap][filter in group] -> [filter][tap]
        let mut out = vec![0i8; w.len()];
        for (i, &b) in w.iter().enumerate() {
            let in_group = i % CONV_GROUP;
            let tap = (i / CONV_GROUP) % KERNEL_TAPS;
            let group = i / (CONV_GROUP * KERNEL_TAPS);
            out[(group * CONV_GROUP + in_group) * KERNEL_TAPS + tap] = b as i8;
        }
        out
    });
    let hidden = layer(&file.hidden, HIDDEN, |w| {
        // [band][unit][position in band][channel] -> [input][unit], input = position * 32 + channel
        let mut out = vec![0i8; w.len()];
        for (i, &b) in w.iter().enumerate() {
            let channel = i % FILTERS;
            let in_band = (i / FILTERS) % BAND_POSITIONS;
            let unit = (i / (FILTERS * BAND_POSITIONS)) % HIDDEN;
            let band = i / (FILTERS * BAND_POSITIONS * HIDDEN);
            let input = (band * BAND_POSITIONS + in_band) * FILTERS + channel;
            out[input * HIDDEN + unit] = b as i8;
        }
        debug_assert_eq!(w.len(), positions * FILTERS * HIDDEN);
        out
    });
    let output = layer(&file.output, CLASSES, |w| {
        // [class][unit] -> [unit][class]
        let mut out = vec![0i8; w.len()];
        for (i, &b) in w.iter().enumerate() {
            let (class, unit) = (i / HIDDEN, i % HIDDEN);
            out[unit * CLASSES + class] = b as i8;
        }
        out
    });
    Ok(QuantModel {
        variant: model.variant(),
        dataset: model.dataset(),
        input_scale: f64::from(file.input_scale),
        input_zero_point: file.input_zero_point,
        conv,
        hidden,
        output,
    })
}

/// One layer: weights reordered by `reorder`, per-channel values decoded from their bytes.
/// Lengths and ranges were checked by `Model::from_bytes`.
fn layer(file: &LayerFile<'_>, channels: usize, reorder: impl Fn(&[u8]) -> Vec<i8>) -> QuantLayer {
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
        weights: reorder(file.weights),
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
