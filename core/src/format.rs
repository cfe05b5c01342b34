//! The `weights.bin` file: a postcard-encoded [`ModelFile`] followed by a CRC32.
//!
//! Layout, in order (postcard: integers as varints, `f32` as 4 little-endian bytes, byte
//! strings and `str` as a varint length then the bytes, arrays without a length):
//!
//! | field | content |
//! |---|---|
//! | `magic` | the 4 bytes [`MAGIC`] (`PCNN`) |
//! | `version` | [`FORMAT_VERSION`] |
//! | `variant`, `dataset` | codes, see [`Variant::code`], [`Dataset::code`] |
//! | `class_names` | ten strings |
//! | `input_scale`, `input_zero_point` | input quantization: `1/255`, `-128` (`q = pixel - 128`) |
//! | `conv`, `hidden`, `output` | one [`LayerFile`] each |
//! | CRC32 | 4 bytes, little-endian: CRC-32 (ISO-HDLC, as zlib) of every byte before it |
//!
//! Tensors are stored as raw byte strings so that [`Model`](crate::Model) borrows them in
//! place (from flash on a microcontroller): int8 weights as bytes, int32 values as 4
//! little-endian bytes each, shifts as one byte each. Weight layouts are those the
//! inference loops read in order, see [`LayerFile::weights`].

use crate::error::{Error, Result};
use crate::shape::{CLASSES, Dataset, Variant};
use serde::{Deserialize, Serialize};

/// The first four bytes of every model file.
pub const MAGIC: [u8; 4] = *b"PCNN";

/// The format version this build writes and reads.
pub const FORMAT_VERSION: u16 = 1;

/// Bytes of the trailing checksum.
pub const CRC_BYTES: usize = 4;

const CRC32: crc::Crc<u32> = crc::Crc::<u32>::new(&crc::CRC_32_ISO_HDLC);

/// CRC-32 (ISO-HDLC, the zlib/PNG polynomial) of `bytes`, as stored at the end of a file.
///
/// ```
/// assert_eq!(picocnn::format::crc32(b"123456789"), 0xcbf4_3926);
/// ```
pub fn crc32(bytes: &[u8]) -> u32 {
    CRC32.checksum(bytes)
}

/// One layer's quantized tensors and requantization parameters.
///
/// For `N` output channels: `bias`, `multiplier` are `N` little-endian `i32`, `shift` and
/// the per-channel weight scales (`weight_scale`, `N` little-endian `f32`, informative) as
/// listed. The channel's requantization factor `s_in * weight_scale / out_scale` is
/// `multiplier / 2^shift` (see [`quant`](crate::quant)).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LayerFile<'a> {
    /// int8 weights (symmetric, per output channel, in `-127..=127`), as bytes. Layouts:
    /// - `conv`: `[tap 9][filter 32]`, tap = `ky * 3 + kx`;
    /// - `hidden`: `[band][unit 128][position 13][channel 32]`, where band `b` holds the
    ///   13 feature positions `13b..13b+13` of the row-major feature map (half a conv row
    ///   for variant A, one pooled row for variant B), so each unit's weights for a band
    ///   are one contiguous 416-byte dot product;
    /// - `output`: `[class 10][unit 128]`.
    pub weights: &'a [u8],
    /// Per output channel: the real scale of its weights (`max |w| / 127`), f32 LE.
    pub weight_scale: &'a [u8],
    /// Per output channel: bias at scale `s_in * weight_scale`, i32 LE.
    pub bias: &'a [u8],
    /// Per output channel: requantization multiplier, i32 LE.
    pub multiplier: &'a [u8],
    /// Per output channel: requantization right shift.
    pub shift: &'a [u8],
    /// Real scale of one step of this layer's output.
    pub out_scale: f32,
    /// Zero point of this layer's int8 output (0 for the output layer's int32 logits).
    pub out_zero_point: i8,
}

/// Everything in a model file except the trailing checksum, borrowing its tensors.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ModelFile<'a> {
    /// Must be [`MAGIC`].
    pub magic: [u8; 4],
    /// Must be [`FORMAT_VERSION`].
    pub version: u16,
    /// [`Variant::code`] of the network.
    pub variant: u8,
    /// [`Dataset::code`] of the training data.
    pub dataset: u8,
    /// Class names in label order.
    #[serde(borrow)]
    pub class_names: [&'a str; CLASSES],
    /// Real scale of the int8 input (`1/255`).
    pub input_scale: f32,
    /// Zero point of the int8 input; must be -128, so that `q - zero_point` is the pixel.
    pub input_zero_point: i8,
    /// 3x3 convolution, 32 filters, ReLU.
    #[serde(borrow)]
    pub conv: LayerFile<'a>,
    /// Dense 128, ReLU.
    #[serde(borrow)]
    pub hidden: LayerFile<'a>,
    /// Dense 10: requantized to int32 logits at the common scale `output.out_scale`.
    #[serde(borrow)]
    pub output: LayerFile<'a>,
}

/// Just the start of a file, decoded first so that a newer version is reported as such.
#[derive(Deserialize)]
struct Header {
    magic: [u8; 4],
    version: u16,
}

impl<'a> ModelFile<'a> {
    /// Encodes the model followed by its CRC32 into `out`; returns the bytes written.
    ///
    /// No validation happens here: [`Model::from_bytes`](crate::Model::from_bytes) on the
    /// result is the check.
    ///
    /// # Errors
    /// [`Error::EncodeBufferTooSmall`] if `out` cannot hold the encoding.
    pub fn encode(&self, out: &mut [u8]) -> Result<usize> {
        let body_len = postcard::to_slice(self, out)
            .map_err(|_| Error::EncodeBufferTooSmall)?
            .len();
        let (body, rest) = out.split_at_mut(body_len);
        let crc = crc32(body).to_le_bytes();
        let tail = rest
            .get_mut(..CRC_BYTES)
            .ok_or(Error::EncodeBufferTooSmall)?;
        tail.copy_from_slice(&crc);
        Ok(body_len + CRC_BYTES)
    }

    /// Decodes a file: magic, version, structure, exact length and checksum, in that
    /// order. Values (codes, shapes, parameter ranges) are checked by
    /// [`Model::from_bytes`](crate::Model::from_bytes).
    ///
    /// # Errors
    /// [`Error::ModelBadMagic`], [`Error::ModelVersion`], [`Error::ModelTruncated`],
    /// [`Error::ModelChecksum`], [`Error::ModelMalformed`] or [`Error::ModelTrailingBytes`].
    pub fn decode(bytes: &'a [u8]) -> Result<Self> {
        let prefix = bytes.get(..MAGIC.len()).unwrap_or(bytes);
        if MAGIC.get(..prefix.len()) != Some(prefix) {
            return Err(Error::ModelBadMagic);
        }
        let header: Header = postcard::from_bytes(bytes).map_err(decode_error)?;
        if header.magic != MAGIC {
            return Err(Error::ModelBadMagic);
        }
        if header.version != FORMAT_VERSION {
            return Err(Error::ModelVersion {
                found: header.version,
                expected: FORMAT_VERSION,
            });
        }
        let (file, rest) = match postcard::take_from_bytes::<ModelFile<'a>>(bytes) {
            Ok(decoded) => decoded,
            Err(postcard::Error::DeserializeUnexpectedEnd) => return Err(Error::ModelTruncated),
            Err(_) => {
                // Undecodable: corruption if the checksum disagrees, else a writer bug.
                check_crc(bytes)?;
                return Err(Error::ModelMalformed);
            }
        };
        if rest.len() < CRC_BYTES {
            return Err(Error::ModelTruncated);
        }
        if rest.len() > CRC_BYTES {
            return Err(Error::ModelTrailingBytes);
        }
        check_crc(bytes)?;
        Ok(file)
    }
}

fn decode_error(error: postcard::Error) -> Error {
    match error {
        postcard::Error::DeserializeUnexpectedEnd => Error::ModelTruncated,
        _ => Error::ModelMalformed,
    }
}

/// Compares the last four bytes of `bytes` with the CRC32 of the rest.
fn check_crc(bytes: &[u8]) -> Result<()> {
    let split = bytes
        .len()
        .checked_sub(CRC_BYTES)
        .ok_or(Error::ModelTruncated)?;
    let (body, tail) = bytes.split_at(split);
    let mut stored = [0u8; CRC_BYTES];
    stored.copy_from_slice(tail);
    let stored = u32::from_le_bytes(stored);
    let computed = crc32(body);
    if stored == computed {
        Ok(())
    } else {
        Err(Error::ModelChecksum { stored, computed })
    }
}

impl Variant {
    /// The variant's code in model files: 0 for A (no pooling), 1 for B (pooling).
    pub const fn code(self) -> u8 {
        match self {
            Variant::NoPool => 0,
            Variant::Pool => 1,
        }
    }

    /// The variant with this file code.
    ///
    /// # Errors
    /// [`Error::ModelVariant`] for an unknown code.
    pub const fn from_code(code: u8) -> Result<Self> {
        match code {
            0 => Ok(Variant::NoPool),
            1 => Ok(Variant::Pool),
            _ => Err(Error::ModelVariant { code }),
        }
    }
}

impl Dataset {
    /// The dataset's code in model files: 0 for MNIST, 1 for Fashion-MNIST.
    pub const fn code(self) -> u8 {
        match self {
            Dataset::Mnist => 0,
            Dataset::Fashion => 1,
        }
    }

    /// The dataset with this file code.
    ///
    /// # Errors
    /// [`Error::ModelDataset`] for an unknown code.
    pub const fn from_code(code: u8) -> Result<Self> {
        match code {
            0 => Ok(Dataset::Mnist),
            1 => Ok(Dataset::Fashion),
            _ => Err(Error::ModelDataset { code }),
        }
    }
}
