//! The host crate's one error type: what can be wrong with a dataset, a model file or a
//! checkpoint.
//!
//! Every fallible function in the crate returns [`Result`]. `Display` is always one line
//! that names the file involved (when there is one) and what is wrong with it, so the CLI
//! can print `error: <Display>` and exit 2 without further decoration.
//!
//! Other modules add variants here, one per distinct problem, each with a one-line doc.

use std::path::PathBuf;

/// Everything that can go wrong reading or writing the files the host tools share.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Reading, writing or creating a file failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file involved.
        path: PathBuf,
        /// The underlying operating-system error.
        #[source]
        source: std::io::Error,
    },

    /// A dataset file is not where it should be.
    #[error(
        "{}: dataset file not found (run scripts/fetch-data.sh, or pass --data DIR / set PICOCNN_DATA)",
        path.display()
    )]
    DatasetMissing {
        /// The file looked for (without `.gz`; the `.gz` name was tried as well).
        path: PathBuf,
    },

    /// A dataset file's path names a directory (or another kind of non-regular file).
    #[error("{}: {what}, not a dataset file", path.display())]
    DatasetNotAFile {
        /// The path of the dataset file.
        path: PathBuf,
        /// What is there, e.g. `is a directory`.
        what: &'static str,
    },

    /// An IDX file is shorter than its 8- or 16-byte header.
    #[error("{}: not an IDX file: {len} bytes is shorter than the {needed}-byte header", path.display())]
    IdxTooShort {
        /// The file involved.
        path: PathBuf,
        /// Bytes available.
        len: u64,
        /// Bytes the header needs.
        needed: u64,
    },

    /// An IDX file starts with the wrong magic number.
    #[error("{}: bad IDX magic 0x{found:08x}, expected 0x{expected:08x} ({kind})", path.display())]
    IdxBadMagic {
        /// The file involved.
        path: PathBuf,
        /// Magic number the file holds.
        found: u32,
        /// Magic number expected.
        expected: u32,
        /// What was expected, `images` or `labels`.
        kind: &'static str,
    },

    /// An IDX header's dimensions are zero or too large to be a plausible dataset.
    #[error("{}: bad IDX dimensions {count} x {rows} x {cols}: {reason}", path.display())]
    IdxBadDims {
        /// The file involved.
        path: PathBuf,
        /// Item count from the header.
        count: u32,
        /// Rows per image (1 for label files).
        rows: u32,
        /// Columns per image (1 for label files).
        cols: u32,
        /// Why they were rejected.
        reason: &'static str,
    },

    /// The data after an IDX header is not exactly as long as the header says.
    #[error(
        "{}: header claims {count} {kind} ({expected} bytes) but the file holds {found} bytes{}",
        path.display(),
        if *.found > *.expected { " (trailing bytes)" } else { "" }
    )]
    IdxLength {
        /// The file involved.
        path: PathBuf,
        /// `images of RxC` or `labels`.
        kind: String,
        /// Item count from the header.
        count: u32,
        /// Data bytes the header implies (after the header).
        expected: u64,
        /// Data bytes present (after the header; for gzip, after decompression, possibly
        /// only a lower bound once the stream is known to be too long).
        found: u64,
    },

    /// A gzip IDX file whose decompressed contents are gzip again.
    #[error(
        "{}: compressed twice (gzip inside gzip); decompress it once (gzip -d) and use that",
        path.display()
    )]
    IdxGzipTwice {
        /// The file involved.
        path: PathBuf,
    },

    /// A `.gz` IDX file could not be decompressed.
    #[error("{}: bad gzip data: {source}", path.display())]
    IdxGzip {
        /// The file involved.
        path: PathBuf,
        /// The decoder's error.
        #[source]
        source: std::io::Error,
    },

    /// A label file holds a value outside the ten classes 0..=9.
    #[error("{}: label {value} at index {index} is outside 0..=9", path.display())]
    LabelOutOfRange {
        /// The file involved.
        path: PathBuf,
        /// Position of the first bad label.
        index: usize,
        /// The bad value.
        value: u8,
    },

    /// An image file and its label file hold different numbers of items.
    #[error("{}: {images} images but {} holds {labels} labels", images_path.display(), labels_path.display())]
    CountMismatch {
        /// The image file.
        images_path: PathBuf,
        /// The label file.
        labels_path: PathBuf,
        /// Images in the image file.
        images: usize,
        /// Labels in the label file.
        labels: usize,
    },

    /// An IDX file's images are not the 28x28 the network takes (IDX images are network
    /// input and used as they are; only pictures are rescaled).
    #[error(
        "{}: images are {rows}x{cols}, the network takes 28x28 (IDX images are used as they \
         are; PNG and PGM pictures are rescaled)",
        path.display()
    )]
    ImageSize {
        /// The file involved.
        path: PathBuf,
        /// Rows per image.
        rows: usize,
        /// Columns per image.
        cols: usize,
    },

    /// An int8 model file is rejected by the core (corrupt, wrong version, bad shapes).
    #[error("{}: {source}", path.display())]
    ModelFile {
        /// The model file (`<memory>` for bytes not yet written).
        path: PathBuf,
        /// The core's reason.
        #[source]
        source: picocnn::Error,
    },

    /// A picocnn file whose frame is wrong: magic, version, length or checksum.
    #[error("{}: {}", path.display(), crate::frame::describe(what, problem))]
    Frame {
        /// The file.
        path: PathBuf,
        /// Its kind, e.g. `checkpoint`.
        what: &'static str,
        /// What the frame check found.
        problem: picocnn::Error,
    },

    /// A picocnn file with nothing in it.
    #[error("{}: {what} is empty (0 bytes)", path.display())]
    FileEmpty {
        /// The file.
        path: PathBuf,
        /// Its kind.
        what: &'static str,
    },

    /// A picocnn file whose header announces more bytes than a file of its kind can hold;
    /// it is refused before being read.
    #[error(
        "{}: {what} header announces {declared} bytes, more than the {limit} a {what} \
         can hold",
        path.display()
    )]
    FileTooLarge {
        /// The file.
        path: PathBuf,
        /// Its kind.
        what: &'static str,
        /// Payload bytes the header announces.
        declared: usize,
        /// The most a file of this kind may hold.
        limit: usize,
    },

    /// A file larger than any file of its kind may be, refused without being read whole
    /// (see [`crate::bounded::read`]).
    #[error(
        "{}: larger than the {} MiB a {what} may have; not read",
        path.display(),
        limit >> 20
    )]
    FileOverLimit {
        /// The file.
        path: PathBuf,
        /// Its kind, e.g. `PGM picture`.
        what: &'static str,
        /// The most a file of this kind may hold, in bytes (a whole number of MiB).
        limit: u64,
    },

    /// A checkpoint whose frame and checksum are sound but whose contents no run writes
    /// (the trainer checks the weights are finite before saving): damaged before it was
    /// checksummed, or forged.
    #[error("{}: checkpoint is damaged: {problem}", path.display())]
    CheckpointContents {
        /// The `.ckpt` file.
        path: PathBuf,
        /// What is wrong.
        problem: &'static str,
    },

    /// Images to be written as IDX whose count, sides and pixel buffer do not agree, or
    /// describe nothing or more than an IDX file may hold.
    #[error(
        "{}: cannot write {count} images of {rows}x{cols} from {pixels} pixels as IDX",
        path.display()
    )]
    IdxWriteShape {
        /// The file that was to be written.
        path: PathBuf,
        /// Images.
        count: usize,
        /// Rows per image.
        rows: usize,
        /// Columns per image.
        cols: usize,
        /// Pixels given.
        pixels: usize,
    },

    /// A label file to be written that is empty or larger than an IDX file may hold.
    #[error("{}: cannot write {count} labels as IDX (1 to 2^31 bytes)", path.display())]
    IdxWriteCount {
        /// The file that was to be written.
        path: PathBuf,
        /// Labels given.
        count: usize,
    },

    /// Pixels and labels that do not make a set of 28x28 images with one label each.
    #[error("{pixels} pixels do not make {labels} images of 28x28")]
    SplitShape {
        /// Pixels given.
        pixels: usize,
        /// Labels given.
        labels: usize,
    },

    /// A validation fraction outside `[0, 1)`, or one that leaves the training or the
    /// validation side without images.
    #[error(
        "a validation split of {fraction} leaves no image on one side of {images} training \
         image{}",
        if *.images == 1 { "" } else { "s" }
    )]
    ValidationSplit {
        /// The fraction asked for.
        fraction: f64,
        /// Training images available.
        images: usize,
    },

    /// A training images file with too few images to hold out the validation split and
    /// still train on the rest ([`ValidationSplit`](Error::ValidationSplit), with the file).
    #[error(
        "{}: {images} training image{} too few to hold out a validation split of {fraction} \
         and train on the rest",
        path.display(),
        if *.images == 1 { " is" } else { "s are" }
    )]
    TooFewTrainingImages {
        /// The training images file.
        path: PathBuf,
        /// Images it holds.
        images: usize,
        /// The validation fraction.
        fraction: f64,
    },

    /// Calibration was asked to look at no image.
    #[error("calibration needs at least one image")]
    NoCalibrationImages,

    /// Float parameters whose tensor lengths do not fit their variant.
    #[error("parameters do not have the shapes of variant {}", variant.name())]
    ParamShapes {
        /// The variant they claim.
        variant: picocnn::Variant,
    },

    /// A trained layer that int8 cannot represent (see [`QuantProblem`]).
    #[error("{layer}: channel {channel}: {problem}")]
    Quantization {
        /// `conv`, `hidden` or `output`.
        layer: &'static str,
        /// The output channel.
        channel: usize,
        /// What does not fit.
        problem: QuantProblem,
    },

    /// An output path names something that is not a regular file (a directory, a device,
    /// a FIFO, a symbolic link): renaming a new file over it would replace it.
    #[error("{}: {what}, not a regular file; the output is not written there", path.display())]
    OutputNotAFile {
        /// The output path.
        path: PathBuf,
        /// What is there, e.g. `is a directory`.
        what: &'static str,
    },

    /// The folder an output would be written in does not exist.
    #[error("{}: output directory {} does not exist", path.display(), dir.display())]
    OutputDirMissing {
        /// The output path.
        path: PathBuf,
        /// Its folder.
        dir: PathBuf,
    },

    /// An output is the same file as one of the run's inputs or other outputs.
    #[error("{}: is also the {role}; give each file of the run its own path", path.display())]
    OutputClash {
        /// The output path.
        path: PathBuf,
        /// What else the path is used for, e.g. `checkpoint (.ckpt) output`.
        role: String,
    },

    /// A model's class name is too long or holds a control character.
    #[error("{}: the name of class {class} {reason}; class names are at most {max} bytes of printable text", path.display(), max = crate::cli::MAX_CLASS_NAME_BYTES)]
    ClassName {
        /// The model file.
        path: PathBuf,
        /// The class whose name is refused.
        class: usize,
        /// What is wrong with it.
        reason: &'static str,
    },

    /// Another running process holds the lock on an output.
    #[error("{}: another trainer (pid {pid}) is writing it; wait for it to end, or remove {} if that process is gone", path.display(), lock.display())]
    OutputLocked {
        /// The output.
        path: PathBuf,
        /// The lock file.
        lock: PathBuf,
        /// The process holding it (0 if it has not written its id yet).
        pid: u32,
    },

    /// A value could not be encoded as postcard (only a bug can cause it).
    #[error("cannot encode the {what}: {source}")]
    Encode {
        /// What was being encoded.
        what: &'static str,
        /// postcard's reason.
        #[source]
        source: postcard::Error,
    },
}

/// Why a trained layer cannot be quantized.
#[derive(Debug, Clone, Copy, PartialEq, thiserror::Error)]
pub enum QuantProblem {
    /// A weight is NaN or infinite.
    #[error("a weight is not finite")]
    NonFiniteWeight,
    /// The bias, at scale `s_in * s_w`, exceeds what the int32 accumulator may start from.
    #[error("bias {0} does not fit the int32 accumulator range")]
    BiasRange(f32),
    /// The requantization factor `s_in * s_w / s_out` has no int32 multiplier and shift.
    #[error(
        "requantization factor {0:e} is out of range (the weights or activations are too large or too small; a smaller learning rate may help)"
    )]
    FactorRange(f64),
}

/// The host crate's result type.
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn length_mismatch_reads_as_one_line_naming_the_file() {
        let e = Error::IdxLength {
            path: PathBuf::from("data/mnist/train-images-idx3-ubyte"),
            kind: "images of 28x28".into(),
            count: 60000,
            expected: 47_040_000,
            found: 1000,
        };
        assert_eq!(
            e.to_string(),
            "data/mnist/train-images-idx3-ubyte: header claims 60000 images of 28x28 \
             (47040000 bytes) but the file holds 1000 bytes"
        );
    }

    #[test]
    fn missing_dataset_names_the_file_and_the_fetch_script() {
        let e = Error::DatasetMissing {
            path: PathBuf::from("data/fashion/t10k-labels-idx1-ubyte"),
        };
        let s = e.to_string();
        assert!(
            s.starts_with("data/fashion/t10k-labels-idx1-ubyte: "),
            "{s}"
        );
        assert!(s.contains("scripts/fetch-data.sh"), "{s}");
        assert!(!s.contains('\n'));
    }

    #[test]
    fn io_error_keeps_its_source() {
        let e = Error::io("x.bin", std::io::Error::from(std::io::ErrorKind::NotFound));
        assert!(e.to_string().starts_with("x.bin: "));
        assert!(std::error::Error::source(&e).is_some());
    }
}
