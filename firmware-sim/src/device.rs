//! The core run as a firmware runs it: the model borrowed in place from one byte buffer
//! (flash on a microcontroller), the activation scratch in a `static`, nothing allocated
//! per image. The bare-metal image (`firmware-sim/cortex-m`) does exactly this with the
//! buffer and the scratch in its own statics.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use picocnn::shape::IMAGE_PIXELS;
use picocnn::{CLASSES, Model, Prediction, Scratch, Variant};

use picocnn_host::frame;

use crate::error::{Error, Result};

/// The one activation scratch, as a firmware keeps it: a `static` with a compile-time
/// size. A [`Device`] holds it for its whole life, so there is never a second one.
static SCRATCH: Mutex<Scratch> = Mutex::new(Scratch::new());

/// A model file read into one buffer, the way it sits in flash.
#[derive(Debug, Clone)]
pub struct Weights {
    path: PathBuf,
    bytes: Vec<u8>,
}

impl Weights {
    /// Reads a `weights.bin` whose header and length are right (never more than a model
    /// file can hold; [`Weights::model`] checks the rest).
    ///
    /// # Errors
    /// The reader's ([`picocnn_host::frame::read`]): the file cannot be read, or its
    /// magic, version or length is wrong.
    pub fn read(path: &Path) -> Result<Self> {
        let bytes = frame::read(&frame::MODEL, path)?;
        Ok(Weights {
            path: path.to_owned(),
            bytes,
        })
    }

    /// The file the weights came from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The file's bytes.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// Validates the file with the core and borrows the model from the buffer; with
    /// `expected`, the file must hold that variant.
    ///
    /// # Errors
    /// [`Error::Model`] if the core rejects the file, [`Error::Host`] if a class name is
    /// too long or holds a control character, [`Error::WrongVariant`] if it holds another
    /// variant than `expected`.
    pub fn model(&self, expected: Option<Variant>) -> Result<Model<'_>> {
        let model = Model::from_bytes(&self.bytes).map_err(|source| Error::Model {
            path: self.path.clone(),
            source,
        })?;
        picocnn_host::cli::check_class_names(&self.path, &model.class_names())?;
        match expected {
            Some(expected) if expected != model.variant() => Err(Error::WrongVariant {
                path: self.path.clone(),
                found: model.variant(),
                expected,
            }),
            _ => Ok(model),
        }
    }
}

/// A model and the static scratch, ready to classify one image after another.
#[derive(Debug)]
pub struct Device<'a> {
    model: Model<'a>,
    scratch: MutexGuard<'static, Scratch>,
}

impl<'a> Device<'a> {
    /// Takes the static scratch for `model`; waits while another `Device` holds it.
    pub fn new(model: Model<'a>) -> Self {
        // A panic elsewhere while holding the scratch leaves only stale activations,
        // which every inference overwrites before reading.
        let scratch = SCRATCH.lock().unwrap_or_else(PoisonError::into_inner);
        Device { model, scratch }
    }

    /// The model.
    pub fn model(&self) -> &Model<'a> {
        &self.model
    }

    /// Classifies one image: nothing is allocated, all activations live in the scratch.
    ///
    /// # Errors
    /// [`picocnn::Error::ImageSize`] if `pixels` is not 784 bytes long.
    pub fn classify(&mut self, pixels: &[u8]) -> picocnn::Result<Prediction> {
        self.model.classify(pixels, &mut self.scratch)
    }

    /// Whether the model plainly cannot tell classes apart, judged on two images that
    /// any trained model answers differently: a blank one (all 0) and a full one (all
    /// 255). A model whose quantization went wrong (multipliers of 0, a conv zero point of
    /// 127, saturating biases) gives both the same logits, or ten equal logits to each,
    /// and then puts every image in the same class. Two inferences; `None` for a model
    /// that passes.
    pub fn degenerate(&mut self) -> Option<Degenerate> {
        let blank = self
            .model
            .infer(&[0; IMAGE_PIXELS], &mut self.scratch)
            .values;
        let full = self
            .model
            .infer(&[255; IMAGE_PIXELS], &mut self.scratch)
            .values;
        let flat = |logits: &[i32; CLASSES]| logits.windows(2).all(|w| w.first() == w.last());
        if flat(&blank) && flat(&full) {
            Some(Degenerate::FlatLogits)
        } else if blank == full {
            Some(Degenerate::SameLogits)
        } else {
            None
        }
    }

    /// [`Device::classify`], with the wall time it took.
    ///
    /// # Errors
    /// As [`Device::classify`].
    pub fn classify_timed(&mut self, pixels: &[u8]) -> picocnn::Result<(Prediction, Duration)> {
        let start = Instant::now();
        let prediction = self.classify(pixels)?;
        Ok((prediction, start.elapsed()))
    }
}

/// How a model shows that it cannot tell classes apart ([`Device::degenerate`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Degenerate {
    /// A blank and a full image get identical logits.
    #[error("a blank and a full image get the same logits")]
    SameLogits,
    /// A blank and a full image each get ten equal logits.
    #[error("all ten logits are equal on a blank and on a full image")]
    FlatLogits,
}
