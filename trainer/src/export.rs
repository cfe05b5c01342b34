//! `weights.bin`: the quantized model in the core's file format.
//!
//! [`quantize_model`] runs the whole chain: calibrate, quantize, encode
//! ([`picocnn_host::codec`]) and measure the int8 accuracy with the core itself;
//! [`export`] also writes the file atomically.

use std::fmt;
use std::path::{Path, PathBuf};

use picocnn::shape::CLASSES;
use picocnn::{Model, Scratch};
use rayon::prelude::*;

use crate::error::{Error, Result};
use picocnn::argmax;
use picocnn_host::atomic::write_atomic;
use picocnn_host::codec;
use picocnn_host::dataset::Split;
use picocnn_host::params::Checkpoint;
use picocnn_host::quant_model::QuantModel;
use picocnn_host::quantize::{Calibration, DEFAULT_CALIBRATION_IMAGES, calibrate, quantize};

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

/// Encodes `model` as a `weights.bin` the core accepts ([`picocnn_host::codec::encode`]).
///
/// # Errors
/// [`Error::Host`] wrapping the core's reason if it rejects the encoding.
pub fn model_bytes(model: &QuantModel) -> Result<Vec<u8>> {
    codec::encode(model).map_err(|source| in_memory(source).into())
}

/// A core error about bytes not yet written to any file.
fn in_memory(source: picocnn::Error) -> picocnn_host::Error {
    picocnn_host::Error::ModelFile {
        path: PathBuf::from("<memory>"),
        source,
    }
}

/// Integer logits of every image of `split`, computed by the core from `bytes`.
///
/// # Errors
/// [`picocnn_host::Error::ModelFile`] if the core rejects `bytes`.
pub fn core_logits(bytes: &[u8], split: &Split) -> Result<Vec<[i32; CLASSES]>> {
    let model = Model::from_bytes(bytes).map_err(in_memory)?;
    let logits: picocnn::Result<Vec<_>> = split
        .image_arrays()
        .par_iter()
        .map_init(Scratch::new, |scratch, image| {
            model.classify(image, scratch).map(|p| p.logits)
        })
        .collect();
    Ok(logits.map_err(in_memory)?)
}

/// Fraction of `split` the int8 model in `bytes` classifies correctly (run by the core).
///
/// # Errors
/// [`picocnn_host::Error::ModelFile`] if the core rejects `bytes`.
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
/// images), quantizes, encodes, and measures the int8 model's accuracy on `test` with the
/// core itself; returns the file's bytes for `out` without writing them, so that a run can
/// commit all its outputs together once nothing can fail any more.
///
/// # Errors
/// [`Error::Export`] naming `out`, wrapping [`picocnn_host::Error::NoCalibrationImages`]
/// for an empty calibration split, [`picocnn_host::Error::Quantization`] for parameters
/// int8 cannot represent, or [`picocnn_host::Error::ModelFile`] if the core rejects the
/// encoding.
pub fn quantize_model(
    checkpoint: &Checkpoint,
    calibration: &Split,
    test: &Split,
    out: &Path,
) -> Result<(Vec<u8>, ExportReport)> {
    let failed = |source: Error| match source {
        Error::Host(source) => Error::Export {
            path: out.to_owned(),
            source,
        },
        other => other,
    };
    let ranges = calibrate(checkpoint, calibration, DEFAULT_CALIBRATION_IMAGES)
        .map_err(|e| failed(e.into()))?;
    let model = quantize(checkpoint, &ranges).map_err(|e| failed(e.into()))?;
    let bytes = model_bytes(&model).map_err(failed)?;
    let int8_accuracy = int8_accuracy(&bytes, test).map_err(failed)?;
    let report = ExportReport {
        path: out.to_path_buf(),
        file_bytes: bytes.len(),
        calibration: ranges,
        test_images: test.len(),
        int8_accuracy,
    };
    Ok((bytes, report))
}

/// [`quantize_model`], then writes `out` atomically.
///
/// # Errors
/// As [`quantize_model`]; [`picocnn_host::Error::Io`] if writing fails (`out` is then
/// unchanged).
pub fn export(
    checkpoint: &Checkpoint,
    calibration: &Split,
    test: &Split,
    out: &Path,
) -> Result<ExportReport> {
    let (bytes, report) = quantize_model(checkpoint, calibration, test, out)?;
    write_atomic(out, &bytes).map_err(|e| Error::io(out, e))?;
    Ok(report)
}
