//! IDX files, the format MNIST and Fashion-MNIST ship in: read (raw or gzip) and write (raw).
//!
//! An IDX file is a big-endian header followed by bytes: magic `0x00000801` then a `u32`
//! count for labels, magic `0x00000803` then count, rows and columns for images. The
//! header is never trusted: its dimensions must be non-zero and describe at most
//! [`MAX_DATA_BYTES`], and the data after it must be exactly that long. For a raw file
//! this is checked against the file's length before anything is allocated; a gzip file
//! (recognised by its magic `1f 8b`, whatever its name) is decoded as a stream into a
//! buffer that never grows past the header's claim, and the stream must end exactly
//! there. No input makes these functions panic; every problem is an [`Error`] naming the
//! file.
//!
//! Only the two magics above are accepted (unsigned bytes, three or one dimension); use
//! this module for MNIST-shaped data, not as a general IDX library.

#![cfg_attr(
    not(test),
    deny(
        clippy::indexing_slicing,
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::arithmetic_side_effects
    )
)]

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::Path;

use flate2::bufread::MultiGzDecoder;

use picocnn::shape::IMAGE_SIDE;

use crate::error::{Error, Result};

/// Magic number of an IDX label file (unsigned bytes, one dimension).
pub const LABELS_MAGIC: u32 = 0x0000_0801;
/// Magic number of an IDX image file (unsigned bytes, three dimensions).
pub const IMAGES_MAGIC: u32 = 0x0000_0803;
/// Largest data section (after the header) the reader accepts: 2 GiB. MNIST's largest
/// file holds 47 MB; anything near this bound is a corrupt or hostile header.
pub const MAX_DATA_BYTES: u64 = 1 << 31;
/// Largest label value accepted: both datasets have ten classes, `0..=9`.
pub const MAX_LABEL: u8 = 9;

/// The first two bytes of every gzip stream, by which the readers recognise gzip.
pub const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// Whether a file starting with `prefix` (its first bytes) is for this reader: gzip, or an
/// IDX file of unsigned bytes (`00 00 08`, then the number of dimensions). What exactly it
/// holds is for [`read_images`] or [`read_labels`] to check.
pub fn looks_like_idx(prefix: &[u8]) -> bool {
    let ubyte = LABELS_MAGIC.to_be_bytes();
    prefix.starts_with(&GZIP_MAGIC) || ubyte.get(..3).is_some_and(|m| prefix.starts_with(m))
}
/// Deflate never expands data by more than about 1032:1, so a gzip file cannot
/// legitimately decode to more than this many times its own size; used only to bound the
/// first allocation, the stream itself is still checked byte for byte.
const MAX_DEFLATE_RATIO: u64 = 1100;

/// A set of same-sized greyscale images, row-major, one byte per pixel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Images {
    /// Number of images.
    pub count: usize,
    /// Rows per image.
    pub rows: usize,
    /// Columns per image.
    pub cols: usize,
    /// `count * rows * cols` pixels, image after image.
    pub pixels: Vec<u8>,
}

impl Images {
    /// Pixels per image (`rows * cols`).
    pub fn image_len(&self) -> usize {
        self.rows.saturating_mul(self.cols)
    }

    /// The pixels of image `index`, or `None` past the end.
    pub fn image(&self, index: usize) -> Option<&[u8]> {
        let len = self.image_len();
        let start = index.checked_mul(len)?;
        self.pixels.get(start..start.checked_add(len)?)
    }
}

/// What an IDX file is expected to hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Labels,
    Images,
}

impl Kind {
    fn magic(self) -> u32 {
        match self {
            Kind::Labels => LABELS_MAGIC,
            Kind::Images => IMAGES_MAGIC,
        }
    }

    fn header_len(self) -> usize {
        match self {
            Kind::Labels => 8,
            Kind::Images => 16,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Kind::Labels => "labels",
            Kind::Images => "images",
        }
    }
}

/// A validated header: dimensions and the exact data length they imply.
#[derive(Debug, Clone, Copy)]
struct Header {
    count: u32,
    rows: u32,
    cols: u32,
    data_len: u64,
}

impl Header {
    fn describe(&self, kind: Kind) -> String {
        match kind {
            Kind::Labels => "labels".to_owned(),
            Kind::Images => format!("images of {}x{}", self.rows, self.cols),
        }
    }
}

/// Reads an IDX image file (raw or gzip-compressed).
///
/// # Errors
/// [`Error::Io`] if the file cannot be opened or read; [`Error::IdxTooShort`],
/// [`Error::IdxBadMagic`], [`Error::IdxBadDims`], [`Error::IdxLength`] or
/// [`Error::IdxGzip`] if its contents are not a well-formed image file.
pub fn read_images(path: &Path) -> Result<Images> {
    let (header, pixels) = read_idx(path, Kind::Images)?;
    Ok(Images {
        count: usize_from(header.count),
        rows: usize_from(header.rows),
        cols: usize_from(header.cols),
        pixels,
    })
}

/// Reads an IDX image file whose images must be network input: 28x28.
///
/// # Errors
/// As [`read_images`], and [`Error::ImageSize`] for images of another size.
pub fn read_network_images(path: &Path) -> Result<Images> {
    let images = read_images(path)?;
    if images.rows != IMAGE_SIDE || images.cols != IMAGE_SIDE {
        return Err(Error::ImageSize {
            path: path.to_owned(),
            rows: images.rows,
            cols: images.cols,
        });
    }
    Ok(images)
}

/// Reads an IDX label file (raw or gzip-compressed); every label must be in `0..=9`.
///
/// # Errors
/// As [`read_images`], plus [`Error::LabelOutOfRange`] for the first label above 9.
pub fn read_labels(path: &Path) -> Result<Vec<u8>> {
    let (_, labels) = read_idx(path, Kind::Labels)?;
    check_labels(path, labels)
}

fn check_labels(path: &Path, labels: Vec<u8>) -> Result<Vec<u8>> {
    if let Some((index, &value)) = labels.iter().enumerate().find(|(_, l)| **l > MAX_LABEL) {
        return Err(Error::LabelOutOfRange {
            path: path.to_owned(),
            index,
            value,
        });
    }
    Ok(labels)
}

/// Writes `images` to `path` as a raw (uncompressed) IDX image file, atomically.
///
/// # Errors
/// [`Error::IdxWriteShape`] if `images.pixels` is not `count * rows * cols` bytes, a
/// dimension is zero or does not fit the format's `u32`, or the data exceeds
/// [`MAX_DATA_BYTES`] (the reader would refuse the file); [`Error::Io`] if writing fails
/// (the destination is then unchanged).
pub fn write_images(path: &Path, images: &Images) -> Result<()> {
    let dims = [images.count, images.rows, images.cols];
    let dims = dims.map(|d| u32::try_from(d).unwrap_or(0));
    let shape = || Error::IdxWriteShape {
        path: path.to_owned(),
        count: images.count,
        rows: images.rows,
        cols: images.cols,
        pixels: images.pixels.len(),
    };
    let header = check_dims(path, Kind::Images, dims).map_err(|_| shape())?;
    if u64::try_from(images.pixels.len()).ok() != Some(header.data_len) {
        return Err(shape());
    }
    write_idx(path, IMAGES_MAGIC, &dims, &images.pixels)
}

/// Writes `labels` to `path` as a raw IDX label file, atomically.
///
/// # Errors
/// [`Error::IdxWriteCount`] if `labels` is empty or longer than [`MAX_DATA_BYTES`],
/// [`Error::LabelOutOfRange`] if one is above 9 (the reader would refuse the file); [`Error::Io`] if writing
/// fails.
pub fn write_labels(path: &Path, labels: &[u8]) -> Result<()> {
    let count = u32::try_from(labels.len()).unwrap_or(0);
    check_dims(path, Kind::Labels, [count, 1, 1]).map_err(|_| Error::IdxWriteCount {
        path: path.to_owned(),
        count: labels.len(),
    })?;
    if let Some((index, &value)) = labels.iter().enumerate().find(|(_, l)| **l > MAX_LABEL) {
        return Err(Error::LabelOutOfRange {
            path: path.to_owned(),
            index,
            value,
        });
    }
    write_idx(path, LABELS_MAGIC, &[count], labels)
}

fn write_idx(path: &Path, magic: u32, dims: &[u32], data: &[u8]) -> Result<()> {
    let mut bytes = Vec::with_capacity(data.len().saturating_add(16));
    bytes.extend_from_slice(&magic.to_be_bytes());
    for d in dims {
        bytes.extend_from_slice(&d.to_be_bytes());
    }
    bytes.extend_from_slice(data);
    crate::atomic::write_atomic(path, &bytes).map_err(|e| Error::io(path, e))
}

/// Opens `path`, recognises gzip, and returns the checked header and the data after it.
fn read_idx(path: &Path, kind: Kind) -> Result<(Header, Vec<u8>)> {
    let file_err = |e| Error::io(path, e);
    let file = File::open(path).map_err(file_err)?;
    let file_len = file.metadata().map_err(file_err)?.len();
    // A large buffer: the data is read in one long stream, 47 MB for MNIST's training set.
    decode_idx(
        BufReader::with_capacity(1 << 20, file),
        file_len,
        path,
        kind,
    )
}

/// Parses an IDX image file already in memory (raw or gzip), exactly as [`read_images`]
/// parses a file; `path` only names the source in errors.
///
/// # Errors
/// As [`read_images`], except that I/O errors cannot occur.
pub fn parse_images(bytes: &[u8], path: &Path) -> Result<Images> {
    let (header, pixels) = decode_idx(bytes, bytes.len() as u64, path, Kind::Images)?;
    Ok(Images {
        count: usize_from(header.count),
        rows: usize_from(header.rows),
        cols: usize_from(header.cols),
        pixels,
    })
}

/// Parses an IDX label file already in memory (raw or gzip), exactly as [`read_labels`]
/// parses a file; `path` only names the source in errors.
///
/// # Errors
/// As [`read_labels`], except that I/O errors cannot occur.
pub fn parse_labels(bytes: &[u8], path: &Path) -> Result<Vec<u8>> {
    let (_, labels) = decode_idx(bytes, bytes.len() as u64, path, Kind::Labels)?;
    check_labels(path, labels)
}

/// Recognises gzip in `reader` (whose raw length is `file_len`) and returns the checked
/// header and the data after it.
fn decode_idx(
    mut reader: impl BufRead,
    file_len: u64,
    path: &Path,
    kind: Kind,
) -> Result<(Header, Vec<u8>)> {
    let file_err = |e| Error::io(path, e);
    let is_gzip = reader
        .fill_buf()
        .map_err(file_err)?
        .starts_with(&GZIP_MAGIC);
    if is_gzip {
        // Errors out of the decoder are bad gzip data unless the file itself failed.
        let gz_err = |e: io::Error| match e.kind() {
            io::ErrorKind::InvalidInput
            | io::ErrorKind::InvalidData
            | io::ErrorKind::UnexpectedEof => Error::IdxGzip {
                path: path.to_owned(),
                source: e,
            },
            _ => Error::io(path, e),
        };
        let mut decoder = MultiGzDecoder::new(reader);
        let header = read_header(&mut decoder, path, kind, None, &gz_err)?;
        let first_alloc = header
            .data_len
            .min(file_len.saturating_mul(MAX_DEFLATE_RATIO));
        let data = read_data(&mut decoder, path, kind, header, first_alloc, &gz_err)?;
        Ok((header, data))
    } else {
        let header = read_header(&mut reader, path, kind, Some(file_len), &file_err)?;
        let data_len = file_len.saturating_sub(kind.header_len() as u64);
        if data_len != header.data_len {
            return Err(length_error(path, kind, header, data_len));
        }
        let data = read_data(&mut reader, path, kind, header, data_len, &file_err)?;
        Ok((header, data))
    }
}

/// Reads and checks the header. `file_len` is the raw file's length (for the error
/// message when the file is shorter than a header), `None` for a decoded stream.
fn read_header(
    reader: &mut impl Read,
    path: &Path,
    kind: Kind,
    file_len: Option<u64>,
    on_io: &dyn Fn(io::Error) -> Error,
) -> Result<Header> {
    let mut buf = [0u8; 16];
    let want = kind.header_len();
    let got = read_up_to(reader, buf.get_mut(..want).unwrap_or_default()).map_err(on_io)?;
    let (words, _) = buf.as_chunks::<4>();
    let mut words = words.iter().map(|w| u32::from_be_bytes(*w));
    let magic = words.next().unwrap_or(0);
    // The magic first, when there is one: a label file passed as images is a wrong file,
    // not a short one.
    if got >= 4 && magic != kind.magic() {
        if file_len.is_none() && buf.starts_with(&GZIP_MAGIC) {
            return Err(Error::IdxGzipTwice {
                path: path.to_owned(),
            });
        }
        return Err(Error::IdxBadMagic {
            path: path.to_owned(),
            found: magic,
            expected: kind.magic(),
            kind: kind.name(),
        });
    }
    if got < want {
        return Err(Error::IdxTooShort {
            path: path.to_owned(),
            len: file_len.unwrap_or(got as u64),
            needed: want as u64,
        });
    }
    let count = words.next().unwrap_or(0);
    let dims = match kind {
        Kind::Labels => [count, 1, 1],
        Kind::Images => [count, words.next().unwrap_or(0), words.next().unwrap_or(0)],
    };
    check_dims(path, kind, dims)
}

fn check_dims(path: &Path, kind: Kind, [count, rows, cols]: [u32; 3]) -> Result<Header> {
    let bad = |reason| Error::IdxBadDims {
        path: path.to_owned(),
        count,
        rows,
        cols,
        reason,
    };
    if count == 0 {
        return Err(bad(match kind {
            Kind::Labels => "no labels",
            Kind::Images => "no images",
        }));
    }
    if rows == 0 || cols == 0 {
        return Err(bad("an image side is zero"));
    }
    let data_len = u64::from(count)
        .checked_mul(u64::from(rows))
        .and_then(|n| n.checked_mul(u64::from(cols)))
        .filter(|&n| n <= MAX_DATA_BYTES)
        .ok_or_else(|| bad("more than 2 GiB of data"))?;
    Ok(Header {
        count,
        rows,
        cols,
        data_len,
    })
}

/// Reads exactly `header.data_len` bytes and then requires the end of the stream.
/// `first_alloc` bounds the initial allocation: for gzip it may be less than the claim,
/// since the real length is only known by decoding.
fn read_data(
    reader: &mut impl Read,
    path: &Path,
    kind: Kind,
    header: Header,
    first_alloc: u64,
    on_io: &dyn Fn(io::Error) -> Error,
) -> Result<Vec<u8>> {
    let mut data = Vec::with_capacity(usize::try_from(first_alloc).unwrap_or(0));
    let got = reader
        .take(header.data_len)
        .read_to_end(&mut data)
        .map_err(on_io)? as u64;
    if got < header.data_len {
        return Err(length_error(path, kind, header, got));
    }
    // Reading on to the end also makes the gzip decoder check its CRC and length trailer.
    // The count of extra bytes is capped so a hostile stream cannot keep us decoding.
    let extra = io::copy(&mut reader.take(MAX_DATA_BYTES), &mut io::sink()).map_err(on_io)?;
    if extra > 0 {
        return Err(length_error(path, kind, header, got.saturating_add(extra)));
    }
    Ok(data)
}

fn length_error(path: &Path, kind: Kind, header: Header, found: u64) -> Error {
    Error::IdxLength {
        path: path.to_owned(),
        kind: header.describe(kind),
        count: header.count,
        expected: header.data_len,
        found,
    }
}

/// Fills as much of `buf` as the reader has; returns the number of bytes read.
fn read_up_to(reader: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while let Some(rest) = buf.get_mut(filled..) {
        if rest.is_empty() {
            break;
        }
        match reader.read(rest) {
            Ok(0) => break,
            Ok(n) => filled = filled.saturating_add(n),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

fn usize_from(n: u32) -> usize {
    // usize is at least 32 bits on every host the trainer builds for.
    usize::try_from(n).unwrap_or(usize::MAX)
}
