//! Input images: IDX files as the network takes them, PNG and PGM pictures of any size
//! brought to 28x28 the way MNIST was made.
//!
//! IDX files (raw or gzip, one or many images) must hold 28x28 images and are used as is:
//! they are the network's input format, so a different size is an error, not something to
//! guess about. A PNG or PGM picture is turned into white ink on black (compositing any
//! transparency over white, inverting when the border is light), then:
//! - 28x28 pictures are taken as they are (for example images cut from a dataset);
//! - otherwise the ink's bounding box is scaled with area averaging to fit 20x20 (MNIST)
//!   or 28x28 (Fashion-MNIST), keeping its aspect ratio, and placed so that its centre of
//!   mass falls on the centre of the 28x28 frame, as in MNIST's own preprocessing.

//!
//! [`decode`] reads PNG and PGM files into a [`Picture`]; [`fit()`] brings one to 28x28.

pub mod decode;
pub mod fit;

pub use decode::{MAX_PGM_BYTES, MAX_PICTURE_SIDE, Picture, parse_pgm};
pub use fit::fit;

use std::fs::File;
use std::io::Read;
use std::path::Path;

use picocnn::Dataset;
use picocnn::shape::IMAGE_PIXELS;
use picocnn_host::idx;

use crate::error::{Error, Result};

/// One 28x28 network input and where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Image {
    /// The file it was read from, with `#index` for files of several images.
    pub source: String,
    /// Row-major pixels, 0 = background.
    pub pixels: [u8; IMAGE_PIXELS],
}
/// Reads every image in `path` as network input. `dataset` selects how pictures are
/// fitted (MNIST digits to a 20x20 box, Fashion-MNIST items to the whole frame).
///
/// # Errors
/// [`Error::Io`] if the file cannot be read, [`picocnn_host::Error::ImageSize`] for an IDX file whose
/// images are not 28x28, [`picocnn_host::Error::FileOverLimit`] for a PGM file over
/// [`MAX_PGM_BYTES`], [`Error::ImageDecode`] for a file that is not a valid IDX, PNG or
/// PGM image, and the IDX reader's errors for a malformed IDX file.
pub fn load(path: &Path, dataset: Dataset) -> Result<Vec<Image>> {
    let mut magic = [0u8; 4];
    let read = File::open(path)
        .and_then(|f| f.take(4).read(&mut magic))
        .map_err(|e| Error::io(path, e))?;
    let name = path.display().to_string();
    let magic = magic.get(..read).unwrap_or_default();
    if idx::looks_like_idx(magic) {
        let images = idx::read_network_images(path)?;
        let (chunks, _) = images.pixels.as_chunks::<IMAGE_PIXELS>();
        let single = chunks.len() == 1;
        return Ok(chunks
            .iter()
            .enumerate()
            .map(|(i, pixels)| Image {
                source: if single {
                    name.clone()
                } else {
                    format!("{name} #{i}")
                },
                pixels: *pixels,
            })
            .collect());
    }
    let picture = if magic.starts_with(b"\x89PNG") {
        decode::read_png(path)?
    } else if magic.starts_with(b"P5") || magic.starts_with(b"P2") {
        let bytes = picocnn_host::bounded::read(path, "PGM picture", MAX_PGM_BYTES)?;
        parse_pgm(&bytes).map_err(|message| Error::ImageDecode {
            path: path.to_owned(),
            message,
        })?
    } else {
        return Err(Error::ImageDecode {
            path: path.to_owned(),
            message: "not an IDX, PNG or PGM image".into(),
        });
    };
    Ok(vec![Image {
        source: name,
        pixels: fit(&picture, dataset),
    }])
}
