//! Shared pieces of the fuzz targets: a valid model file to mutate, sample images, and the
//! properties every target checks on whatever the code under test returns.
//!
//! The valid model is quantized by the trainer's own exporter from deterministic random
//! parameters, so it has exactly the structure of a real `weights.bin` without needing a
//! trained network or the datasets.

use picocnn::shape::{HIDDEN, IMAGE_PIXELS, IMAGE_SIDE};
use picocnn::{CLASSES, Dataset, Model, Prediction, Variant};
use std::path::Path;
use picocnn_host::dataset::Split;
use picocnn_host::params::{Checkpoint, Params};

/// A small xorshift generator: the seed files and the base model must be the same on every
/// run, and the fuzz crate should not depend on a particular `rand` version's streams.
#[derive(Debug, Clone)]
pub struct XorShift(u64);

impl XorShift {
    /// A generator from a non-zero seed.
    pub fn new(seed: u64) -> Self {
        XorShift(seed | 1)
    }

    /// Next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// Uniform in `[-1, 1)`.
    pub fn next_signed(&mut self) -> f32 {
        (self.next_u64() >> 40) as f32 / (1u64 << 23) as f32 - 1.0
    }
}

/// A 28x28 image of a thick ring with some noise, different for each `seed`: enough ink
/// for calibration and for every conv filter to fire somewhere.
pub fn sample_image(seed: u64) -> [u8; IMAGE_PIXELS] {
    let mut rng = XorShift::new(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15));
    let cx = 10.0 + (rng.next_u64() % 8) as f32;
    let cy = 10.0 + (rng.next_u64() % 8) as f32;
    let mut image = [0u8; IMAGE_PIXELS];
    for (i, p) in image.iter_mut().enumerate() {
        let (y, x) = ((i / IMAGE_SIDE) as f32, (i % IMAGE_SIDE) as f32);
        let r = ((x - cx).powi(2) + (y - cy).powi(2)).sqrt();
        let ink = (1.0 - (r - 6.0).abs() / 2.5).clamp(0.0, 1.0);
        let noise = (rng.next_u64() % 32) as f32;
        *p = (ink * 223.0 + noise) as u8;
    }
    image
}

/// A valid `weights.bin` for `variant`, as the trainer exports it, from He-style random
/// parameters and calibration on [`sample_image`]s.
///
/// # Panics
/// If the trainer's exporter fails on these well-formed inputs (a bug worth knowing).
pub fn valid_model(variant: Variant) -> Vec<u8> {
    let mut rng = XorShift::new(0x5eed + variant.code() as u64);
    let mut params = Params::zeros(variant);
    let fan_in = [9.0, 1.0, variant.flat_len() as f32, 1.0, HIDDEN as f32, 1.0];
    for (tensor, fan) in params.tensors_mut().into_iter().zip(fan_in) {
        let scale = (6.0 / fan).sqrt();
        for w in tensor.iter_mut() {
            *w = rng.next_signed() * scale * if fan == 1.0 { 0.05 } else { 1.0 };
        }
    }
    let checkpoint = Checkpoint {
        dataset: Dataset::Mnist,
        params,
    };
    let images: Vec<u8> = (0..16).flat_map(sample_image).collect();
    let calibration = Split::new(images, (0..16).map(|i| i % 10).collect()).expect("16 images");
    let ranges = picocnn_host::quantize::calibrate(&checkpoint, &calibration, 16).expect("calibrate");
    let model = picocnn_host::quantize::quantize(&checkpoint, &ranges).expect("quantize");
    trainer::export::model_bytes(&model).expect("export")
}

/// Recomputes the trailing CRC32 of a model file in place (no-op below 4 bytes), so that
/// mutations reach the checks behind the checksum.
pub fn fix_crc(bytes: &mut [u8]) {
    if let Some(split) = bytes.len().checked_sub(picocnn::format::CRC_BYTES) {
        let crc = picocnn::format::crc32(&bytes[..split]).to_le_bytes();
        bytes[split..].copy_from_slice(&crc);
    }
}

/// Rewrites the payload length in a model file's header (after the magic and a one-byte
/// version) to what the file now holds, so that inserted or removed bytes reach the
/// decoder instead of stopping at the length check. Leaves other files alone.
pub fn fix_length(bytes: &mut Vec<u8>) {
    let header = picocnn::format::MAGIC.len() + 1;
    if bytes.len() < header + 1 + picocnn::format::CRC_BYTES
        || bytes[..4] != picocnn::format::MAGIC
        || bytes[4] >= 0x80
    {
        return;
    }
    let old_len = bytes[header..]
        .iter()
        .take(5)
        .position(|b| b & 0x80 == 0)
        .map_or(5, |i| i + 1);
    let mut payload = bytes.len() - header - old_len - picocnn::format::CRC_BYTES;
    // The varint's own length may change; one adjustment settles it.
    for _ in 0..2 {
        let varint = varint(payload as u32);
        let total = bytes.len() - old_len + varint.len();
        payload = total - header - varint.len() - picocnn::format::CRC_BYTES;
    }
    bytes.splice(header..header + old_len, varint(payload as u32));
}

fn varint(mut n: u32) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let byte = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            out.push(byte);
            return out;
        }
        out.push(byte | 0x80);
    }
}

/// A tiny training run for the resume target: 64 training and 32 validation
/// [`sample_image`]s, variant B, batch 32, 2 epochs, and the state of that run stopped
/// after its first batch.
pub struct ResumeFixture {
    /// The training images.
    pub train: picocnn_host::dataset::Split,
    /// The validation images.
    pub validation: picocnn_host::dataset::Split,
    /// The run's settings.
    pub config: trainer::train::TrainConfig,
    /// A valid state of it, at epoch 1 after batch 1.
    pub state: trainer::train::TrainState,
}

impl ResumeFixture {
    /// Builds the fixture (deterministic).
    ///
    /// # Panics
    /// Never for these fixed sizes.
    pub fn new() -> Self {
        let split = |from: u64, count: u64| {
            let images = (from..from + count).flat_map(sample_image).collect();
            let labels = (from..from + count).map(|i| (i % 10) as u8).collect();
            picocnn_host::dataset::Split::new(images, labels).expect("a valid split")
        };
        let train = split(0, 64);
        let config = trainer::train::TrainConfig {
            epochs: 2,
            ..trainer::train::TrainConfig::keras(Variant::Pool)
        };
        let state = trainer::train::TrainState {
            seed: config.seed,
            batch: config.batch,
            learning_rate: config.learning_rate,
            recipe: Default::default(),
            train_images: train.len(),
            train_labels_crc: picocnn::format::crc32(&train.labels),
            epoch: 1,
            batches_done: 1,
            tally: trainer::network::Tally {
                loss: 70.0,
                correct: 4,
                count: 32,
            },
            seconds: 0.01,
            records: Vec::new(),
            params: trainer::train::init_params(Variant::Pool, config.seed),
            adam: trainer::optim::Adam::keras(Variant::Pool),
        };
        Self {
            train,
            validation: split(64, 32),
            config,
            state,
        }
    }
}

impl Default for ResumeFixture {
    fn default() -> Self {
        Self::new()
    }
}

/// Applies up to 64 edits of 6 bytes each to `bytes`: `op`, a little-endian `u32`
/// offset (modulo the length), a byte `v`. `op & 3`: 0 sets the byte to `v`, 1 xors it
/// with `v`, 2 inserts `v` before it, 3 removes it; `op & 4` counts the offset from the end.
/// A fuzzer edits a large valid file this way instead of rebuilding it from random bytes.
pub fn apply_edits(bytes: &mut Vec<u8>, edits: &[u8]) {
    for edit in edits.chunks_exact(6).take(64) {
        let [op, o0, o1, o2, o3, v] = *edit else {
            continue;
        };
        if bytes.is_empty() {
            break;
        }
        let offset = u32::from_le_bytes([o0, o1, o2, o3]) as usize % bytes.len();
        let at = if op & 4 != 0 {
            bytes.len() - 1 - offset
        } else {
            offset
        };
        match op & 3 {
            0 => bytes[at] = v,
            1 => bytes[at] ^= v,
            2 => bytes.insert(at, v),
            _ => {
                bytes.remove(at);
            }
        }
    }
}

/// Checks what `Model::from_bytes` and `classify` promise for any input bytes: a typed
/// error with a one-line message, or a model whose predictions are well formed.
pub fn check_model(bytes: &[u8], pixels: &[u8]) {
    match Model::from_bytes(bytes) {
        Err(e) => check_core_error(&e),
        Ok(model) => {
            assert!(model.file_bytes() == bytes.len());
            assert!(model.tensor_bytes() < bytes.len());
            let mut scratch = picocnn::Scratch::new();
            match model.classify(pixels, &mut scratch) {
                Ok(p) => {
                    assert_eq!(pixels.len(), IMAGE_PIXELS);
                    check_prediction(&p);
                    // Same image, same scratch reused: the same answer.
                    let again = model
                        .classify(pixels, &mut scratch)
                        .expect("classified once");
                    assert_eq!(p.logits, again.logits);
                }
                Err(e) => {
                    assert_ne!(pixels.len(), IMAGE_PIXELS, "classify failed: {e}");
                    assert!(matches!(e, picocnn::Error::ImageSize { .. }));
                    check_core_error(&e);
                }
            }
        }
    }
}

/// A prediction's class is the first maximum of its logits; probabilities are a
/// distribution.
pub fn check_prediction(p: &Prediction) {
    let max = *p.logits.iter().max().expect("ten logits");
    let first = p.logits.iter().position(|&l| l == max).expect("a maximum");
    assert_eq!(
        p.class, first,
        "class is not the first argmax of {:?}",
        p.logits
    );
    assert!(p.class < CLASSES);
    for &q in &p.probabilities {
        assert!(
            q.is_finite() && (0.0..=1.0).contains(&q),
            "{:?}",
            p.probabilities
        );
    }
    let sum: f32 = p.probabilities.iter().sum();
    assert!(
        (sum - 1.0).abs() < 1e-4,
        "probabilities sum to {sum}: {:?}",
        p
    );
}

/// The core's error messages are one non-empty line.
pub fn check_core_error(e: &picocnn::Error) {
    let s = e.to_string();
    assert!(!s.is_empty() && !s.contains('\n'), "{s:?}");
}

/// A host tool's error message is one line that starts with the file's name.
pub fn check_file_error(e: &impl std::fmt::Display, path: &Path) {
    let s = e.to_string();
    assert!(!s.contains('\n'), "{s:?}");
    assert!(s.starts_with(&path.display().to_string()), "{s:?}");
}
