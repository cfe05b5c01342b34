//! The `weights.bin` file: a short header, a postcard-encoded [`ModelFile`], a CRC32.
//!
//! Layout, in order (postcard: integers as varints, `f32` as 4 little-endian bytes, byte
//! strings and `str` as a varint length then the bytes, arrays without a length):
//!
//! | field | content |
//! |---|---|
//! | magic | the 4 bytes [`MAGIC`] (`PCNN`) |
//! | version | [`FORMAT_VERSION`], varint |
//! | length | bytes of the [`ModelFile`] that follows, varint |
//! | `variant`, `dataset` | codes, see [`Variant::code`], [`Dataset::code`] |
//! | `class_names` | ten strings |
//! | `input_scale`, `input_zero_point` | input quantization: `1/255`, `-128` (`q = pixel - 128`) |
//! | `conv`, `hidden`, `output` | one [`LayerFile`] each |
//! | CRC32 | 4 bytes, little-endian: CRC-32 (ISO-HDLC, as zlib) of every byte before it |
//!
//! The header lets a reader check, before parsing anything, that the file is complete
//! (its length), intact (the CRC) and of a version it knows.
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
    /// - `conv`: `[filter group 4][tap 9][filter 8]`, tap = `ky * 3 + kx`, filter
    ///   `8 * group + k`;
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

/// The contents of a model file between its header and its checksum, borrowing the
/// tensors.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ModelFile<'a> {
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

/// Longest header: magic, a 3-byte varint version, a 5-byte varint length.
const MAX_HEADER: usize = 4 + 3 + 5;

/// Appends `value` as a postcard (LEB128) varint; returns the new length.
fn put_varint(out: &mut [u8], mut at: usize, mut value: u32) -> Option<usize> {
    loop {
        let low = (value & 0x7f) as u8;
        value >>= 7;
        *out.get_mut(at)? = if value == 0 { low } else { low | 0x80 };
        at += 1;
        if value == 0 {
            return Some(at);
        }
    }
}

/// The magic, version and payload length at the start of a file, and where the payload
/// starts.
fn read_header(bytes: &[u8]) -> Result<(u16, u32, usize)> {
    let prefix = bytes.get(..MAGIC.len()).unwrap_or(bytes);
    if MAGIC.get(..prefix.len()) != Some(prefix) {
        return Err(Error::ModelBadMagic);
    }
    let rest = bytes.get(MAGIC.len()..).ok_or(Error::ModelTruncated)?;
    let (version, rest) = postcard::take_from_bytes::<u16>(rest).map_err(decode_error)?;
    if version != FORMAT_VERSION {
        return Err(Error::ModelVersion {
            found: version,
            expected: FORMAT_VERSION,
        });
    }
    let (length, rest) = postcard::take_from_bytes::<u32>(rest).map_err(decode_error)?;
    Ok((version, length, bytes.len() - rest.len()))
}

impl<'a> ModelFile<'a> {
    /// Encodes the header, the model and its CRC32 into `out`; returns the bytes written.
    ///
    /// No validation happens here: [`Model::from_bytes`](crate::Model::from_bytes) on the
    /// result is the check.
    ///
    /// # Errors
    /// [`Error::EncodeBufferTooSmall`] if `out` cannot hold the encoding.
    pub fn encode(&self, out: &mut [u8]) -> Result<usize> {
        let scratch = out
            .get_mut(MAX_HEADER..)
            .ok_or(Error::EncodeBufferTooSmall)?;
        let payload_len = postcard::to_slice(self, scratch)
            .map_err(|_| Error::EncodeBufferTooSmall)?
            .len();
        let length = u32::try_from(payload_len).map_err(|_| Error::EncodeBufferTooSmall)?;
        let header = out
            .get_mut(..MAGIC.len())
            .ok_or(Error::EncodeBufferTooSmall)?;
        header.copy_from_slice(&MAGIC);
        let at = put_varint(out, MAGIC.len(), u32::from(FORMAT_VERSION))
            .and_then(|at| put_varint(out, at, length))
            .ok_or(Error::EncodeBufferTooSmall)?;
        out.copy_within(MAX_HEADER..MAX_HEADER + payload_len, at);
        let body_len = at + payload_len;
        let (body, rest) = out.split_at_mut(body_len);
        let crc = crc32(body).to_le_bytes();
        rest.get_mut(..CRC_BYTES)
            .ok_or(Error::EncodeBufferTooSmall)?
            .copy_from_slice(&crc);
        Ok(body_len + CRC_BYTES)
    }

    /// Checks a file's header, length and checksum, in that order, then decodes it.
    /// Values (codes, shapes, parameter ranges) are checked by
    /// [`Model::from_bytes`](crate::Model::from_bytes).
    ///
    /// # Errors
    /// [`Error::ModelBadMagic`], [`Error::ModelVersion`], [`Error::ModelTruncated`],
    /// [`Error::ModelTrailingBytes`], [`Error::ModelChecksum`] or
    /// [`Error::ModelMalformed`] (a checksum-valid file that does not decode).
    pub fn decode(bytes: &'a [u8]) -> Result<Self> {
        let (_, length, start) = read_header(bytes)?;
        let expected = usize::try_from(length)
            .ok()
            .and_then(|l| l.checked_add(start + CRC_BYTES))
            .ok_or(Error::ModelTruncated)?;
        if bytes.len() < expected {
            return Err(Error::ModelTruncated);
        }
        if bytes.len() > expected {
            return Err(Error::ModelTrailingBytes);
        }
        let (body, tail) = bytes.split_at(expected - CRC_BYTES);
        let mut stored = [0u8; CRC_BYTES];
        stored.copy_from_slice(tail);
        let stored = u32::from_le_bytes(stored);
        let computed = crc32(body);
        if stored != computed {
            return Err(Error::ModelChecksum { stored, computed });
        }
        let payload = body.get(start..).ok_or(Error::ModelMalformed)?;
        match postcard::take_from_bytes::<ModelFile<'a>>(payload) {
            Ok((file, [])) => Ok(file),
            _ => Err(Error::ModelMalformed),
        }
    }
}

fn decode_error(error: postcard::Error) -> Error {
    match error {
        postcard::Error::DeserializeUnexpectedEnd => Error::ModelTruncated,
        _ => Error::ModelMalformed,
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
