//! The files picocnn writes: one frame (magic, version, length, payload, CRC32) around a
//! payload, and the payload of `weights.bin`, a postcard-encoded [`ModelFile`].
//!
//! **The frame**, shared by every picocnn file (the host's `.ckpt` and `.resume` use it
//! with their own magic and version):
//!
//! | field | content |
//! |---|---|
//! | magic | 4 bytes naming the kind of file ([`MAGIC`], `PCNN`, for a model) |
//! | version | the format version of that kind of file, postcard varint (LEB128) |
//! | length | bytes of the payload that follows, varint |
//! | payload | `length` bytes |
//! | CRC32 | 4 bytes, little-endian: CRC-32 (ISO-HDLC, as zlib) of every byte before it |
//!
//! [`read_header`] reads the first three fields from the first [`MAX_HEADER`] bytes alone,
//! so a reader can check the kind, version and declared length of a file before reading
//! it whole; [`encode_frame`] and [`decode_frame`] write and check a whole frame.
//!
//! **The model payload** (postcard: integers as varints, `f32` as 4 little-endian bytes,
//! byte strings and `str` as a varint length then the bytes, arrays without a length):
//!
//! | field | content |
//! |---|---|
//! | `variant`, `dataset` | codes, see [`Variant::code`], [`Dataset::code`] |
//! | `dimensions` | the network's [`Dimensions`], checked against what this build runs |
//! | `class_names` | ten strings |
//! | `input_scale`, `input_zero_point` | input quantization: `1/255`, `-128` (`q = pixel - 128`) |
//! | `conv`, `hidden`, `output` | one [`LayerFile`] each |
//!
//! Tensors are stored as raw byte strings so that [`Model`](crate::Model) borrows them in
//! place (from flash on a microcontroller): int8 weights as bytes, int32 values as 4
//! little-endian bytes each, shifts as one byte each. The order of the weights is defined
//! in [`layout`](crate::layout). Weights are symmetric, in `-127..=127`: a byte `0x80`
//! (-128) makes the file invalid, and [`Model::from_bytes`](crate::Model::from_bytes)
//! refuses it with [`Error::ModelWeightRange`] (a scan that
//! [`Model::from_trusted_bytes`](crate::Model::from_trusted_bytes) skips with the CRC32,
//! as its documentation explains).
//!
//! Nothing here can panic, whatever the bytes (the firmware check links a firmware whose
//! panic handler does not exist).

use crate::error::{Error, Result};
use crate::shape::{CLASSES, Dataset, FILTERS, HIDDEN, IMAGE_SIDE, KERNEL_SIDE, Variant};
use serde::{Deserialize, Serialize};

/// The first four bytes of every model file.
pub const MAGIC: [u8; 4] = *b"PCNN";

/// The model format version this build writes and reads.
///
/// Version 2 added the [`Dimensions`] and changed the order of the weights; version 1
/// files are refused with a message to retrain or re-export them.
pub const FORMAT_VERSION: u16 = 2;

/// Bytes of the trailing checksum.
pub const CRC_BYTES: usize = 4;

/// Longest frame header: magic, a 3-byte varint version, a 5-byte varint length.
pub const MAX_HEADER: usize = 4 + 3 + 5;

const CRC32: crc::Crc<u32> = crc::Crc::<u32>::new(&crc::CRC_32_ISO_HDLC);

/// CRC-32 (ISO-HDLC, the zlib/PNG polynomial) of `bytes`, as stored at the end of a file.
///
/// ```
/// assert_eq!(picocnn::format::crc32(b"123456789"), 0xcbf4_3926);
/// ```
pub fn crc32(bytes: &[u8]) -> u32 {
    CRC32.checksum(bytes)
}

/// The start of a frame: what [`read_header`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// The format version (equal to the one asked for).
    pub version: u16,
    /// Bytes of the header: where the payload starts.
    pub payload_start: usize,
    /// Bytes of the payload, as the header declares.
    pub payload_len: usize,
}

impl Header {
    /// Bytes of the whole frame the header announces (header, payload, checksum), or
    /// `None` if that does not fit a `usize`.
    pub const fn frame_len(&self) -> Option<usize> {
        match self.payload_start.checked_add(self.payload_len) {
            Some(body) => body.checked_add(CRC_BYTES),
            None => None,
        }
    }
}

/// Reads a frame's magic, version and payload length from its first bytes (at most
/// [`MAX_HEADER`] are looked at; the rest of the file need not be there).
///
/// The frame errors are the `Model*` variants of [`Error`] whatever the kind of file.
///
/// ```
/// use picocnn::format::{encode_frame, read_header};
/// let mut buf = [0u8; 32];
/// let len = encode_frame(*b"DEMO", 3, b"payload", &mut buf).unwrap();
/// let header = read_header(&buf[..6], *b"DEMO", 3).unwrap();
/// assert_eq!((header.payload_start, header.payload_len), (6, 7));
/// assert_eq!(header.frame_len(), Some(len));
/// ```
///
/// # Errors
/// [`Error::ModelBadMagic`] if the bytes (even fewer than 4) do not start with `magic`,
/// [`Error::ModelVersion`] for another version, [`Error::ModelTruncated`] if the header
/// is incomplete, [`Error::ModelHeader`] for a varint that is too long or too large.
pub fn read_header(bytes: &[u8], magic: [u8; 4], version: u16) -> Result<Header> {
    let prefix = bytes.get(..magic.len()).unwrap_or(bytes);
    if magic.get(..prefix.len()) != Some(prefix) {
        return Err(Error::ModelBadMagic);
    }
    let rest = bytes.get(magic.len()..).ok_or(Error::ModelTruncated)?;
    let (found, rest) = postcard::take_from_bytes::<u16>(rest).map_err(header_error)?;
    if found != version {
        return Err(Error::ModelVersion {
            found,
            expected: version,
        });
    }
    let (length, rest) = postcard::take_from_bytes::<u32>(rest).map_err(header_error)?;
    Ok(Header {
        version: found,
        payload_start: bytes.len() - rest.len(),
        payload_len: usize::try_from(length).map_err(|_| Error::ModelTruncated)?,
    })
}

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

/// Writes a frame whose payload `write_payload` encodes in place: it gets the buffer after
/// room for the longest header and returns the payload's length. Returns the frame's
/// length. [`encode_frame`] is this with a copy; [`ModelFile::encode`] serializes straight
/// into the buffer.
///
/// # Errors
/// [`Error::EncodeBufferTooSmall`] if `out` cannot hold the frame, or `write_payload`'s
/// error.
pub fn encode_frame_with(
    magic: [u8; 4],
    version: u16,
    out: &mut [u8],
    write_payload: impl FnOnce(&mut [u8]) -> Result<usize>,
) -> Result<usize> {
    let room = out
        .get_mut(MAX_HEADER..)
        .ok_or(Error::EncodeBufferTooSmall)?;
    let payload_len = write_payload(room)?;
    let length = u32::try_from(payload_len).map_err(|_| Error::EncodeBufferTooSmall)?;
    let mut header = [0u8; MAX_HEADER];
    if let Some((head, _)) = header.split_first_chunk_mut::<4>() {
        *head = magic;
    }
    let start = put_varint(&mut header, magic.len(), u32::from(version))
        .and_then(|at| put_varint(&mut header, at, length))
        .ok_or(Error::EncodeBufferTooSmall)?;
    let end = start + payload_len;
    if MAX_HEADER + payload_len > out.len() || end + CRC_BYTES > out.len() {
        return Err(Error::EncodeBufferTooSmall);
    }
    // The payload moves back over the unused part of the header room.
    out.copy_within(MAX_HEADER..MAX_HEADER + payload_len, start);
    for (dst, &src) in out.iter_mut().zip(header.get(..start).unwrap_or(&[])) {
        *dst = src;
    }
    let crc = crc32(out.get(..end).unwrap_or(&[])).to_le_bytes();
    let tail = out
        .get_mut(end..end + CRC_BYTES)
        .ok_or(Error::EncodeBufferTooSmall)?;
    for (dst, src) in tail.iter_mut().zip(crc) {
        *dst = src;
    }
    Ok(end + CRC_BYTES)
}

/// Writes `payload` framed with `magic`, `version`, its length and a CRC32 into `out`;
/// returns the bytes written.
///
/// # Errors
/// [`Error::EncodeBufferTooSmall`] if `out` cannot hold the frame.
pub fn encode_frame(magic: [u8; 4], version: u16, payload: &[u8], out: &mut [u8]) -> Result<usize> {
    encode_frame_with(magic, version, out, |room| {
        let dst = room
            .get_mut(..payload.len())
            .ok_or(Error::EncodeBufferTooSmall)?;
        dst.copy_from_slice(payload);
        Ok(payload.len())
    })
}

/// Whether [`decode_frame_with`] computes the checksum.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Integrity {
    /// Check the CRC32 over the whole frame: for bytes that may be damaged (the default).
    Crc,
    /// Skip the CRC32 (header and length are still checked): for bytes whose checksum was
    /// verified before and that cannot have changed since, such as weights in flash
    /// checked on the first boot.
    Trusted,
}

/// The payload of a whole frame, after checking its magic, version, length and CRC32, in
/// that order.
///
/// ```
/// use picocnn::format::{decode_frame, encode_frame};
/// let mut buf = [0u8; 32];
/// let len = encode_frame(*b"DEMO", 3, b"payload", &mut buf).unwrap();
/// assert_eq!(decode_frame(&buf[..len], *b"DEMO", 3), Ok(&b"payload"[..]));
/// buf[7] ^= 1;
/// assert!(decode_frame(&buf[..len], *b"DEMO", 3).is_err());
/// ```
///
/// # Errors
/// [`read_header`]'s, then [`Error::ModelTruncated`], [`Error::ModelTrailingBytes`] or
/// [`Error::ModelChecksum`].
pub fn decode_frame(bytes: &[u8], magic: [u8; 4], version: u16) -> Result<&[u8]> {
    decode_frame_with(bytes, magic, version, Integrity::Crc)
}

/// [`decode_frame`], with the checksum computed or not as `integrity` says.
///
/// # Errors
/// As [`decode_frame`] (never [`Error::ModelChecksum`] with [`Integrity::Trusted`]).
pub fn decode_frame_with(
    bytes: &[u8],
    magic: [u8; 4],
    version: u16,
    integrity: Integrity,
) -> Result<&[u8]> {
    let header = read_header(bytes, magic, version)?;
    let expected = header.frame_len().ok_or(Error::ModelTruncated)?;
    if bytes.len() < expected {
        return Err(Error::ModelTruncated);
    }
    if bytes.len() > expected {
        return Err(Error::ModelTrailingBytes);
    }
    let (body, stored) = bytes
        .split_last_chunk::<CRC_BYTES>()
        .ok_or(Error::ModelTruncated)?;
    if integrity == Integrity::Crc {
        let stored = u32::from_le_bytes(*stored);
        let computed = crc32(body);
        if stored != computed {
            return Err(Error::ModelChecksum { stored, computed });
        }
    }
    body.get(header.payload_start..)
        .ok_or(Error::ModelTruncated)
}

/// One layer's quantized tensors and requantization parameters.
///
/// For `N` output channels: `bias`, `multiplier` are `N` little-endian `i32`, `shift` and
/// the per-channel weight scales (`weight_scale`, `N` little-endian `f32`, informative) as
/// listed. The channel's requantization factor `s_in * weight_scale / out_scale` is
/// `multiplier / 2^shift` (see [`quant`](crate::quant)).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LayerFile<'a> {
    /// int8 weights (symmetric, per output channel, in `-127..=127`: never -128), as
    /// bytes, in the order [`layout`](crate::layout) defines.
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

// Every dimension fits the header's u16 fields.
const _: () = assert!(IMAGE_SIDE <= u16::MAX as usize);
const _: () = assert!(FILTERS <= u16::MAX as usize);
const _: () = assert!(KERNEL_SIDE <= u16::MAX as usize);
const _: () = assert!(HIDDEN <= u16::MAX as usize);
const _: () = assert!(CLASSES <= u16::MAX as usize);

/// The network's dimensions as a file states them, so that a reader built for other
/// shapes refuses the file by name instead of misreading its tensors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Dimensions {
    /// Side of the square one-channel input image, in pixels.
    pub input_side: u16,
    /// Convolution filters (output channels).
    pub filters: u16,
    /// Side of the square convolution kernel.
    pub kernel_side: u16,
    /// Side of the max-pooling window after the convolution: 1 (none) or 2.
    pub pool: u16,
    /// Units of the hidden dense layer.
    pub hidden: u16,
    /// Output classes.
    pub classes: u16,
}

impl Dimensions {
    /// The dimensions of `variant` in this build.
    pub const fn of(variant: Variant) -> Self {
        Dimensions {
            input_side: IMAGE_SIDE as u16,
            filters: FILTERS as u16,
            kernel_side: KERNEL_SIDE as u16,
            pool: match variant {
                Variant::NoPool => 1,
                Variant::Pool => 2,
            },
            hidden: HIDDEN as u16,
            classes: CLASSES as u16,
        }
    }

    /// Checks that these are the dimensions of `variant` in this build.
    ///
    /// # Errors
    /// [`Error::ModelDimension`] naming the first dimension that differs.
    pub fn check(&self, variant: Variant) -> Result<()> {
        let supported = Dimensions::of(variant);
        let pairs = [
            ("input_side", self.input_side, supported.input_side),
            ("filters", self.filters, supported.filters),
            ("kernel_side", self.kernel_side, supported.kernel_side),
            ("pool", self.pool, supported.pool),
            ("hidden", self.hidden, supported.hidden),
            ("classes", self.classes, supported.classes),
        ];
        for (name, found, supported) in pairs {
            if found != supported {
                return Err(Error::ModelDimension {
                    name,
                    found,
                    supported,
                });
            }
        }
        Ok(())
    }
}

/// The payload of a model file, borrowing the tensors.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ModelFile<'a> {
    /// [`Variant::code`] of the network.
    pub variant: u8,
    /// [`Dataset::code`] of the training data.
    pub dataset: u8,
    /// The network's dimensions.
    pub dimensions: Dimensions,
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

impl<'a> ModelFile<'a> {
    /// Encodes the model in its frame (magic [`MAGIC`], version [`FORMAT_VERSION`]) into
    /// `out`; returns the bytes written.
    ///
    /// No validation happens here: [`Model::from_bytes`](crate::Model::from_bytes) on the
    /// result is the check.
    ///
    /// # Errors
    /// [`Error::EncodeBufferTooSmall`] if `out` cannot hold the encoding.
    pub fn encode(&self, out: &mut [u8]) -> Result<usize> {
        encode_frame_with(MAGIC, FORMAT_VERSION, out, |room| {
            postcard::to_slice(self, room)
                .map(|payload| payload.len())
                .map_err(|_| Error::EncodeBufferTooSmall)
        })
    }

    /// Checks a file's frame (magic, version, length, checksum, in that order), then
    /// decodes the payload. Values (codes, dimensions, shapes, parameter ranges, the
    /// weights' range) are checked by [`Model::from_bytes`](crate::Model::from_bytes).
    ///
    /// # Errors
    /// [`decode_frame`]'s, or [`Error::ModelMalformed`] (a frame whose payload does not
    /// decode).
    pub fn decode(bytes: &'a [u8]) -> Result<Self> {
        Self::decode_with(bytes, Integrity::Crc)
    }

    /// [`ModelFile::decode`], with the checksum computed or not as `integrity` says.
    ///
    /// # Errors
    /// As [`ModelFile::decode`].
    pub fn decode_with(bytes: &'a [u8], integrity: Integrity) -> Result<Self> {
        let payload = decode_frame_with(bytes, MAGIC, FORMAT_VERSION, integrity)?;
        match postcard::take_from_bytes::<ModelFile<'a>>(payload) {
            Ok((file, [])) => Ok(file),
            _ => Err(Error::ModelMalformed),
        }
    }
}

/// A header field that postcard cannot read: cut short, or not a varint of its type.
/// (Not [`Error::ModelMalformed`], which says the checksum matched: the header is read
/// before anything is checksummed.)
fn header_error(error: postcard::Error) -> Error {
    match error {
        postcard::Error::DeserializeUnexpectedEnd => Error::ModelTruncated,
        _ => Error::ModelHeader,
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
