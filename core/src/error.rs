//! The crate's one error type: every way loading a model or classifying an image can fail.

use core::fmt;

/// Why a model file was rejected or an image could not be classified.
///
/// Variants are named by phase: `Model*` while [`Model::from_bytes`](crate::Model::from_bytes)
/// validates a file, the rest while using a loaded model.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Error {
    /// The file does not start with the picocnn magic bytes: not a picocnn model.
    ModelBadMagic,
    /// The file is a picocnn model in a format version this build cannot read (an older
    /// one must be retrained or re-exported with this version; a newer one needs a newer
    /// picocnn).
    ModelVersion {
        /// Version stored in the file.
        found: u16,
        /// The only version this build reads.
        expected: u16,
    },
    /// The file ends before the model (or its trailing checksum) is complete.
    ModelTruncated,
    /// The header's version or payload length is not a valid varint (too long, or too
    /// large for its type): the first bytes are damaged; no checksum was computed yet.
    ModelHeader,
    /// The stored CRC32 does not match the file's contents: the file is corrupted.
    ModelChecksum {
        /// Checksum stored at the end of the file.
        stored: u32,
        /// Checksum computed over the file's contents.
        computed: u32,
    },
    /// The file cannot be decoded although its checksum matches (a writer bug).
    ModelMalformed,
    /// Bytes follow the checksum: the file is longer than the model it holds.
    ModelTrailingBytes,
    /// The file names a network variant this build does not know.
    ModelVariant {
        /// The variant code found in the file.
        code: u8,
    },
    /// The file's network has other dimensions than this build runs.
    ModelDimension {
        /// Which dimension, e.g. `"hidden"` (a field of
        /// [`Dimensions`](crate::format::Dimensions)).
        name: &'static str,
        /// The value in the file.
        found: u16,
        /// The value this build supports for the file's variant.
        supported: u16,
    },
    /// The file names a dataset this build does not know.
    ModelDataset {
        /// The dataset code found in the file.
        code: u8,
    },
    /// A quantization parameter is out of its valid range (shift, multiplier, zero point,
    /// bias magnitude or a scale).
    ModelQuantization {
        /// Which parameter, e.g. `"hidden.shift"`.
        what: &'static str,
    },
    /// A weight is -128, outside the range `-127..=127` the format allows (quantization is
    /// symmetric; no exporter writes it). Checked by
    /// [`Model::from_bytes`](crate::Model::from_bytes), not by
    /// [`Model::from_trusted_bytes`](crate::Model::from_trusted_bytes).
    ModelWeightRange {
        /// Which layer's weights, e.g. `"hidden.weights"`.
        tensor: &'static str,
        /// Position of the first such weight in the tensor, in file order.
        index: usize,
    },
    /// A tensor's length does not match the shape its variant requires.
    ShapeMismatch {
        /// Which tensor, e.g. `"hidden.weights"`.
        tensor: &'static str,
        /// Length the variant requires, in bytes.
        expected: usize,
        /// Length found in the file, in bytes.
        found: usize,
    },
    /// The image passed to `classify` does not have 28 x 28 = 784 pixels.
    ImageSize {
        /// Pixels required.
        expected: usize,
        /// Pixels given.
        found: usize,
    },
    /// The output buffer is too small to encode the model into.
    EncodeBufferTooSmall,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Error::ModelBadMagic => f.write_str("not a picocnn model (bad magic bytes)"),
            Error::ModelVersion { found, expected } if found < expected => write!(
                f,
                "model format version {found} is older than this build's version {expected}: \
                 retrain or re-export the model with this version of picocnn"
            ),
            Error::ModelVersion { found, expected } => write!(
                f,
                "model format version {found} is newer than this build's version {expected}: \
                 use a picocnn that reads version {found}"
            ),
            Error::ModelTruncated => f.write_str("model file is truncated"),
            Error::ModelHeader => f.write_str(
                "model file header is damaged: its version or length is not a valid varint",
            ),
            Error::ModelChecksum { stored, computed } => write!(
                f,
                "model file is corrupted (CRC32 stored {stored:#010x}, computed {computed:#010x})"
            ),
            Error::ModelMalformed => {
                f.write_str("model file cannot be decoded although its checksum matches")
            }
            Error::ModelTrailingBytes => f.write_str("model file has bytes after its checksum"),
            Error::ModelVariant { code } => write!(f, "model has unknown network variant {code}"),
            Error::ModelDimension {
                name,
                found,
                supported,
            } => write!(
                f,
                "model dimension {name} is {found}, this build supports {supported}"
            ),
            Error::ModelDataset { code } => write!(f, "model has unknown dataset {code}"),
            Error::ModelQuantization { what } => {
                write!(f, "model quantization parameter {what} is out of range")
            }
            Error::ModelWeightRange { tensor, index } => write!(
                f,
                "model tensor {tensor} holds the weight -128 (at byte {index}); int8 weights \
                 must be in -127..=127"
            ),
            Error::ShapeMismatch {
                tensor,
                expected,
                found,
            } => write!(
                f,
                "model tensor {tensor} has {found} bytes, the variant requires {expected}"
            ),
            Error::ImageSize { expected, found } => {
                write!(f, "image has {found} pixels, expected {expected}")
            }
            Error::EncodeBufferTooSmall => f.write_str("buffer too small to encode the model"),
        }
    }
}

impl core::error::Error for Error {}

/// `Result` with this crate's [`Error`].
pub type Result<T> = core::result::Result<T, Error>;
