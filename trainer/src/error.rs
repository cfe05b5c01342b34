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
        "training diverged at epoch {epoch}, batch {batch}: the {what} is not finite \
         (NaN or infinity); try a smaller learning rate"
    )]
    TrainingDiverged {
        /// Epoch, from 1.
        epoch: usize,
        /// Batch within the epoch, from 1.
        batch: usize,
        /// `loss` or `weights`.
        what: &'static str,
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

    /// A resume file is malformed, or does not fit the run it should continue.
    #[error("{}: cannot resume from it: {reason}", path.display())]
    ResumeFile {
        /// The resume file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },

    /// The command line or a library call got an argument it cannot use.
    #[error("{0}")]
    InvalidArgument(String),

    /// A dataset, model file or checkpoint problem.
    #[error(transparent)]
    Host(#[from] picocnn_host::Error),
}

/// The trainer crate's result type.
pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    /// Wraps an I/O error with the path of the file it concerns.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Host(picocnn_host::Error::io(path, source))
    }
}
