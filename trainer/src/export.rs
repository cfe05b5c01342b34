//! `weights.bin`: the quantized model in the core's file format, written atomically.
//!
//! [`model_bytes`] reorders the weights from the float model's layouts into the order the
//! core's loops read them (see [`picocnn::format::LayerFile::weights`]), encodes the file
//! with [`picocnn::format::ModelFile::encode`] and loads it back with the core to prove it
//! valid. [`export`] runs the whole chain: calibrate, quantize, encode, measure the int8
//! accuracy with the core itself, write.

use std::fmt;
use std::path::{Path, PathBuf};

use picocnn::dense::{BAND_LEN, BAND_POSITIONS};
use picocnn::format::{LayerFile, ModelFile};
use picocnn::shape::{CLASSES, FILTERS, HIDDEN, KERNEL_TAPS};
use picocnn::{Model, Scratch};
use rayon::prelude::*;

use crate::atomic::write_atomic;
use crate::dataset::Split;
use crate::error::{Error, Result};
use crate::params::Checkpoint;
use crate::quantize::{
    Calibration, DEFAULT_CALIBRATION_IMAGES, QuantLayer, QuantModel, calibrate, quantize,
};
use crate::reference::argmax;

/// What an export produced.
#[derive(Debug, Clone, PartialEq)]
pub struct ExportReport {
    /// The file written.
    pub path: PathBuf,
    /// Its size in bytes.
    pub file_bytes: usize,
    /// The activation ranges used.
    pub calibration: Calibration,
    /// Test images evaluated.
    pub test_images: usize,
    /// Test accuracy of the int8 model run by the core, in `[0, 1]`.
    pub int8_accuracy: f64,
}

impl fmt::Display for ExportReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "int8 model {} ({} bytes, activations calibrated on {} training images): \
             test accuracy {:.2} % on {} images",
            self.path.display(),
            self.file_bytes,
            self.calibration.images,
            100.0 * self.int8_accuracy,
            self.test_images
        )
    }
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

/// A layer's parameter tensors as the file stores them (weights supplied reordered).
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
    fn new(layer: &QuantLayer, weights: Vec<u8>) -> Self {
        LayerBytes {
            weights,
            weight_scale: le_f32(&layer.weight_scale),
            bias: le_i32(&layer.bias),
            multiplier: le_i32(
                &layer
                    .requant
                    .iter()
                    .map(|m| m.multiplier())
                    .collect::<Vec<_>>(),
            ),
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

/// Filters per group in the core's conv layout.
const CONV_GROUP: usize = 8;

/// Conv weights `[filter][tap]` -> `[filter group][tap][filter in group]`.
fn conv_order(layer: &QuantLayer) -> Vec<u8> {
    let mut out = Vec::with_capacity(KERNEL_TAPS * FILTERS);
    for group in 0..FILTERS / CONV_GROUP {
        for t in 0..KERNEL_TAPS {
            for k in 0..CONV_GROUP {
                let f = group * CONV_GROUP + k;
                out.push(layer.weights[f * KERNEL_TAPS + t] as u8);
            }
        }
    }
    out
}

/// Hidden weights `[input][unit]`, input = `position * 32 + channel`, ->
/// `[band][unit][position in band][channel]`.
fn hidden_order(layer: &QuantLayer, positions: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(positions * FILTERS * HIDDEN);
    for band in 0..positions / BAND_POSITIONS {
        for j in 0..HIDDEN {
            for k in 0..BAND_POSITIONS {
                let position = band * BAND_POSITIONS + k;
                for c in 0..FILTERS {
                    let i = position * FILTERS + c;
                    out.push(layer.weights[i * HIDDEN + j] as u8);
                }
            }
        }
    }
    debug_assert_eq!(out.len() % BAND_LEN, 0);
    out
}

/// Output weights `[unit][class]` -> `[class][unit]`.
fn output_order(layer: &QuantLayer) -> Vec<u8> {
    let mut out = Vec::with_capacity(CLASSES * HIDDEN);
    for k in 0..CLASSES {
        for j in 0..HIDDEN {
            out.push(layer.weights[j * CLASSES + k] as u8);
        }
    }
    out
}

/// Encodes a quantized model as a `weights.bin` file and checks that the core accepts it.
///
/// # Errors
/// [`Error::ModelFile`] if the core rejects the encoding (shapes or parameter ranges).
pub fn model_bytes(model: &QuantModel) -> Result<Vec<u8>> {
    let conv = LayerBytes::new(&model.conv, conv_order(&model.conv));
    let hidden = LayerBytes::new(
        &model.hidden,
        hidden_order(&model.hidden, model.variant.feature_positions()),
    );
    let output = LayerBytes::new(&model.output, output_order(&model.output));
    let file = ModelFile {
        variant: model.variant.code(),
        dataset: model.dataset.code(),
        class_names: model.dataset.class_names(),
        input_scale: model.input_scale as f32,
        input_zero_point: model.input_zero_point,
        conv: conv.file(),
        hidden: hidden.file(),
        output: output.file(),
    };
    // Tensors plus generous room for lengths, names and scalars.
    let mut bytes = vec![0u8; conv.len() + hidden.len() + output.len() + 4096];
    let len = file.encode(&mut bytes).map_err(|source| Error::ModelFile {
        path: PathBuf::from("<memory>"),
        source,
    })?;
    bytes.truncate(len);
    Model::from_bytes(&bytes).map_err(|source| Error::ModelFile {
        path: PathBuf::from("<memory>"),
        source,
    })?;
    Ok(bytes)
}

/// Integer logits of every image of `split`, computed by the core from `bytes`.
///
/// # Errors
/// [`Error::ModelFile`] if the core rejects `bytes`.
pub fn core_logits(bytes: &[u8], split: &Split) -> Result<Vec<[i32; CLASSES]>> {
    let model = Model::from_bytes(bytes).map_err(|source| Error::ModelFile {
        path: PathBuf::from("<memory>"),
        source,
    })?;
    Ok(split
        .image_arrays()
        .par_iter()
        .map_init(Scratch::new, |scratch, image| {
            model
                .classify(image, scratch)
                .map(|p| p.logits)
                .unwrap_or([0; CLASSES])
        })
        .collect())
}

/// Fraction of `split` the int8 model in `bytes` classifies correctly (run by the core).
///
/// # Errors
/// [`Error::ModelFile`] if the core rejects `bytes`.
pub fn int8_accuracy(bytes: &[u8], split: &Split) -> Result<f64> {
    let logits = core_logits(bytes, split)?;
    let right = logits
        .iter()
        .zip(&split.labels)
        .filter(|&(l, &label)| argmax(l) == usize::from(label))
        .count();
    Ok(right as f64 / split.len().max(1) as f64)
}

/// Calibrates on `calibration` (up to [`DEFAULT_CALIBRATION_IMAGES`] evenly spaced
/// images), quantizes, writes `out` atomically, and measures the int8 model's accuracy on
/// `test` with the core itself.
///
/// # Errors
/// [`Error::InvalidArgument`] for an empty calibration split or unusable parameters,
/// [`Error::ModelFile`] if the core rejects the encoding, [`Error::Io`] if writing fails.
pub fn export(
    checkpoint: &Checkpoint,
    calibration: &Split,
    test: &Split,
    out: &Path,
) -> Result<ExportReport> {
    let ranges = calibrate(checkpoint, calibration, DEFAULT_CALIBRATION_IMAGES)?;
    let model = quantize(checkpoint, &ranges)?;
    let bytes = model_bytes(&model)?;
    let int8_accuracy = int8_accuracy(&bytes, test)?;
    write_atomic(out, &bytes).map_err(|e| Error::io(out, e))?;
    Ok(ExportReport {
        path: out.to_path_buf(),
        file_bytes: bytes.len(),
        calibration: ranges,
        test_images: test.len(),
        int8_accuracy,
    })
}
