//! The crate's one error type: each variant's `Display` is one line naming the file and the
//! problem, which the command line prints as `error: <Display>` before exiting with status 2.

use std::path::PathBuf;

use picocnn::{Dataset, Variant};

/// Everything that stops a `firmware-sim` command.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Reading or writing a file failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file involved.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },

    /// The weights file was rejected by the core (`Model::from_bytes`).
    #[error("{}: {source}", path.display())]
    Model {
        /// The weights file.
        path: PathBuf,
        /// What the core found wrong.
        #[source]
        source: picocnn::Error,
    },

    /// The weights file holds another network variant than the one asked for.
    #[error("{}: holds the {} variant, but {} was asked for", path.display(), found.name(), expected.name())]
    WrongVariant {
        /// The weights file.
        path: PathBuf,
        /// Variant in the file.
        found: Variant,
        /// Variant asked for.
        expected: Variant,
    },

    /// The weights were trained on another dataset than the one given.
    #[error("{}: model was trained on {}, but the {} dataset was given", path.display(), model.name(), data.name())]
    DatasetMismatch {
        /// The weights file.
        path: PathBuf,
        /// Dataset the model was trained on.
        model: Dataset,
        /// Dataset given on the command line.
        data: Dataset,
    },

    /// The f32 checkpoint next to the weights does not describe the same model.
    #[error("{}: checkpoint is the {ckpt} model, but {} is the {weights} model", ckpt_path.display(), weights_path.display())]
    CheckpointMismatch {
        /// The checkpoint file.
        ckpt_path: PathBuf,
        /// The weights file.
        weights_path: PathBuf,
        /// Variant and dataset of the checkpoint, e.g. `pool/mnist`.
        ckpt: String,
        /// Variant and dataset of the weights.
        weights: String,
    },

    /// An image file could not be decoded.
    #[error("{}: {message}", path.display())]
    ImageDecode {
        /// The image file.
        path: PathBuf,
        /// What is wrong with it.
        message: String,
    },

    /// A dataset index past the end of the test set.
    #[error("{}: test set has {len} images, index {index} is past its end", dataset.name())]
    IndexOutOfRange {
        /// The dataset.
        dataset: Dataset,
        /// Index asked for.
        index: usize,
        /// Images in the test set.
        len: usize,
    },

    /// `--max-drop` is not a finite number of percentage points, 0 or more (clap prints
    /// it after the option and the value).
    #[error("expected a finite number of percentage points, 0 or more")]
    MaxDrop,

    /// A dataset, checkpoint or other shared-file problem.
    #[error(transparent)]
    Host(#[from] picocnn_host::Error),
}

/// This crate's result type.
pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    /// Wraps an I/O error with the path of the file it concerns.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }
}
