//! The trainer crate's one error type.
//!
//! Every fallible function in the crate returns [`Result`]. `Display` is always one line
//! that names the file involved (when there is one) and what is wrong with it, so the CLI
//! can print `error: <Display>` and exit 2 without further decoration. Problems with the
//! shared files (datasets, model files, checkpoints) come from [`picocnn_host::Error`].

use std::path::PathBuf;

/// Everything that can go wrong in the trainer library and its command line.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A training history file is not valid history JSON.
    #[error("{}: not a training history: {source}", path.display())]
    HistoryFile {
        /// The `.history.json` file.
        path: PathBuf,
        /// The JSON parser's reason.
        #[source]
        source: serde_json::Error,
    },

    /// A plot could not be drawn or encoded (bad input data, or a drawing failure).
    #[error("{}: cannot draw plot: {message}", path.display())]
    Plot {
        /// The PNG file being written.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },

    /// Training produced a loss or weights that are not finite numbers.
    #[error(
        "training diverged at epoch {epoch}, batch {batch}: {what} (NaN or infinity); try a \
         smaller learning rate"
    )]
    TrainingDiverged {
        /// Epoch, from 1.
        epoch: usize,
        /// Batch within the epoch, from 1.
        batch: usize,
        /// What stopped being finite.
        what: Diverged,
    },

    /// Training was interrupted (Ctrl-C) after saving its state; not a failure of the data.
    #[error(
        "interrupted at epoch {epoch}, batch {batch}: progress saved to {}; continue with the \
         same options and --resume {}",
        path.display(),
        path.display()
    )]
    Interrupted {
        /// The resume file written.
        path: PathBuf,
        /// Epoch in progress, from 1.
        epoch: usize,
        /// Batches of it done.
        batch: usize,
    },

    /// A resume file whose frame and checksum are sound but whose contents no run writes
    /// (values that are not finite or out of range, shapes that do not fit): damaged
    /// before it was checksummed, or forged.
    #[error("{}: resume file is damaged: {problem}; start afresh without --resume", path.display())]
    ResumeDamaged {
        /// The resume file.
        path: PathBuf,
        /// What is wrong with it.
        problem: &'static str,
    },

    /// A resume file that does not fit the run it should continue.
    #[error("{}: cannot resume from it: {reason}", path.display())]
    ResumeFile {
        /// The resume file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },

    /// The trained model could not become an int8 `weights.bin`.
    #[error("{}: cannot export the int8 model: {source}", path.display())]
    Export {
        /// The model file that was to be written.
        path: PathBuf,
        /// Why.
        #[source]
        source: picocnn_host::Error,
    },

    /// `--out` names a file in a directory that does not exist.
    #[error("{}: output directory {} does not exist", path.display(), dir.display())]
    OutputDirMissing {
        /// The output file asked for.
        path: PathBuf,
        /// Its directory.
        dir: PathBuf,
    },

    /// A folder given to `trainer report` holds no trained model.
    #[error("{}: no trained model here (expected <name>.history.json and <name>.bin)", dir.display())]
    NoModels {
        /// The folder.
        dir: PathBuf,
    },

    /// A training history without the model file it belongs to.
    #[error("{}: no model file next to {} (export the model first)", weights.display(), history.display())]
    ModelMissing {
        /// The history file found.
        history: PathBuf,
        /// The model file that should be next to it.
        weights: PathBuf,
    },

    /// A model file and its history describe different networks.
    #[error("{}: model is {model} but its history says {history}", weights.display())]
    HistoryMismatch {
        /// The model file.
        weights: PathBuf,
        /// Variant and dataset of the model, e.g. `pool on mnist`.
        model: String,
        /// Variant and dataset of the history.
        history: String,
    },

    /// `trainer report` on models of different datasets.
    #[error("{}: the models were trained on different datasets; report them one dataset at a time", dir.display())]
    MixedDatasets {
        /// The folder.
        dir: PathBuf,
    },

    /// The history could not be encoded as JSON (only a bug can cause it).
    #[error("cannot encode the training history: {0}")]
    HistoryEncode(#[source] serde_json::Error),

    /// The operating system refused the worker threads.
    #[error("cannot start {threads} worker threads: {source}")]
    Threads {
        /// Threads asked for.
        threads: usize,
        /// rayon's reason.
        #[source]
        source: rayon::ThreadPoolBuildError,
    },

    /// A training configuration that cannot run (no images, batch 0, parameters of
    /// another variant).
    #[error("cannot train: {0}")]
    TrainConfig(&'static str),

    /// A resume state that does not fit the run that should continue it.
    #[error("cannot resume: {0}")]
    ResumeMismatch(String),

    /// A learning-rate warm-up as long as the whole run.
    #[error("--warmup {warmup} leaves no epoch of the {epochs} for the schedule")]
    WarmupTooLong {
        /// Warm-up epochs asked for.
        warmup: usize,
        /// Epochs of the run.
        epochs: usize,
    },

    /// Training stopped although nothing asked it to (only a bug can cause it).
    #[error("training stopped without being asked to")]
    UnexpectedStop,

    /// A dataset, model file or checkpoint problem.
    #[error(transparent)]
    Host(#[from] picocnn_host::Error),
}

/// What stopped being finite when training diverged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Diverged {
    /// The loss of a batch.
    #[error("the loss is not finite")]
    Loss,
    /// The weights after an epoch, or when the run was stopped.
    #[error("the weights are not finite")]
    Weights,
}

/// The trainer crate's result type.
pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    /// Wraps an I/O error with the path of the file it concerns.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Host(picocnn_host::Error::io(path, source))
    }
}
