//! MNIST and Fashion-MNIST as the trainer uses them: 28x28 images with labels 0..=9.
//!
//! [`load`] reads `<dir>/<mnist|fashion>/{train,t10k}-{images-idx3,labels-idx1}-ubyte`,
//! raw or with a `.gz` suffix (see [`crate::idx`]), and checks that images are 28x28 and
//! that every image has a label. `scripts/fetch-data.sh` puts the files there.

use std::path::{Path, PathBuf};

use picocnn::Dataset;
use picocnn::shape::IMAGE_PIXELS;

use crate::error::{Error, Result};
use crate::idx;

/// Environment variable naming the data directory when `--data` is not given.
pub const DATA_ENV: &str = "PICOCNN_DATA";
/// Data directory used when neither `--data` nor [`DATA_ENV`] is given.
pub const DEFAULT_DIR: &str = "data";

/// The training and test sets of one dataset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Data {
    /// The 60,000 training images (the validation split is taken from these).
    pub train: Split,
    /// The 10,000 test images.
    pub test: Split,
}

/// Which half of a dataset's files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    /// `train-*` files.
    Train,
    /// `t10k-*` files.
    Test,
}

impl Part {
    fn prefix(self) -> &'static str {
        match self {
            Part::Train => "train",
            Part::Test => "t10k",
        }
    }
}

/// Labelled 28x28 images, stored flat.
///
/// Invariant (kept by every constructor in this module): `images.len() == 784 *
/// labels.len()`. The fields are public for cheap moves; code that changes them must keep it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Split {
    /// `len() * 784` pixels, image after image, row-major.
    pub images: Vec<u8>,
    /// One class index `0..=9` per image.
    pub labels: Vec<u8>,
}

impl Split {
    /// Builds a split from flat pixels and labels.
    ///
    /// # Errors
    /// [`Error::SplitShape`] unless `images.len() == 784 * labels.len()`.
    pub fn new(images: Vec<u8>, labels: Vec<u8>) -> Result<Split> {
        if Some(images.len()) != labels.len().checked_mul(IMAGE_PIXELS) {
            return Err(Error::SplitShape {
                pixels: images.len(),
                labels: labels.len(),
            });
        }
        Ok(Split { images, labels })
    }

    /// Number of images.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether the split holds no image.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// All images as 784-byte arrays, for indexing and iteration without bounds arithmetic.
    pub fn image_arrays(&self) -> &[[u8; IMAGE_PIXELS]] {
        self.images.as_chunks::<IMAGE_PIXELS>().0
    }

    /// The pixels of image `index`.
    ///
    /// # Panics
    /// If `index >= self.len()`, like slice indexing.
    pub fn image(&self, index: usize) -> &[u8; IMAGE_PIXELS] {
        &self.image_arrays()[index]
    }

    /// Image `index` and its label, or `None` past the end.
    pub fn get(&self, index: usize) -> Option<(&[u8; IMAGE_PIXELS], u8)> {
        Some((self.image_arrays().get(index)?, *self.labels.get(index)?))
    }

    /// Every image with its label, in order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = (&[u8; IMAGE_PIXELS], u8)> {
        self.image_arrays().iter().zip(self.labels.iter().copied())
    }

    /// Splits off the last `fraction` of the images as a validation set, as Keras's
    /// `validation_split` does: the first `floor(len * (1 - fraction))` images stay, the
    /// rest are returned (no shuffling). A `fraction` of 0 returns an empty split.
    ///
    /// # Errors
    /// [`Error::ValidationSplit`] if `fraction` is not in `[0, 1)` or a non-zero fraction
    /// would leave either part empty, [`Error::SplitShape`] if the fields break the
    /// split's invariant; `self` is then unchanged.
    pub fn split_off_validation(&mut self, fraction: f64) -> Result<Split> {
        let n = self.len();
        let unusable = Error::ValidationSplit {
            fraction,
            images: n,
        };
        if !(0.0..1.0).contains(&fraction) {
            return Err(unusable);
        }
        if fraction == 0.0 {
            return Ok(Split::default());
        }
        if Some(self.images.len()) != n.checked_mul(IMAGE_PIXELS) {
            return Err(Error::SplitShape {
                pixels: self.images.len(),
                labels: n,
            });
        }
        // The same float expression as Keras, so the same images end up on each side.
        let keep = (n as f64 * (1.0 - fraction)).floor() as usize;
        if keep == 0 || keep >= n {
            return Err(unusable);
        }
        let labels = self.labels.split_off(keep);
        let images = self.images.split_off(keep * IMAGE_PIXELS);
        Ok(Split { images, labels })
    }

    /// Counts of each label `0..=9` (labels are checked to be in range when read).
    pub fn class_counts(&self) -> [usize; 10] {
        let mut counts = [0; 10];
        for &label in &self.labels {
            if let Some(c) = counts.get_mut(usize::from(label)) {
                *c += 1;
            }
        }
        counts
    }
}

/// The data directory: `arg` if given, else `$PICOCNN_DATA`, else `data`.
pub fn resolve_dir(arg: Option<&Path>) -> PathBuf {
    match arg {
        Some(dir) => dir.to_owned(),
        None => std::env::var_os(DATA_ENV)
            .filter(|v| !v.is_empty())
            .map_or_else(|| PathBuf::from(DEFAULT_DIR), PathBuf::from),
    }
}

/// Loads the training and test sets of `which` from `dir`.
///
/// # Errors
/// As [`load_part`], for either part.
pub fn load(dir: &Path, which: Dataset) -> Result<Data> {
    Ok(Data {
        train: load_part(dir, which, Part::Train)?,
        test: load_part(dir, which, Part::Test)?,
    })
}

/// Loads one part (training or test set) of `which` from `dir`.
///
/// # Errors
/// [`Error::DatasetMissing`] if a file is absent under both its raw and `.gz` names,
/// [`Error::DatasetNotAFile`] if the first of them that exists is a directory or another
/// non-regular file; any error of [`idx::read_images`] / [`idx::read_labels`]; [`Error::ImageSize`] if the
/// images are not 28x28; [`Error::CountMismatch`] if images and labels differ in number.
pub fn load_part(dir: &Path, which: Dataset, part: Part) -> Result<Split> {
    let images_path = images_path(dir, which, part)?;
    let labels_path = find_file(dir, which, part, "labels-idx1")?;
    load_files(images_path, labels_path)
}

/// Reads a pair of IDX files, 28x28 images and their labels, into a [`Split`]: what
/// [`load_part`] and the held-out set (`heldout::load`) share once they know the paths.
///
/// # Errors
/// Any error of [`idx::read_network_images`] / [`idx::read_labels`];
/// [`Error::CountMismatch`] if images and labels differ in number.
pub fn load_files(images_path: PathBuf, labels_path: PathBuf) -> Result<Split> {
    let images = idx::read_network_images(&images_path)?;
    let labels = idx::read_labels(&labels_path)?;
    if labels.len() != images.count {
        return Err(Error::CountMismatch {
            images_path,
            labels_path,
            images: images.count,
            labels: labels.len(),
        });
    }
    Split::new(images.pixels, labels)
}

/// The images file of one part of `which` in `dir` (raw or `.gz`), as [`load_part`] finds
/// it: for messages about its contents.
///
/// # Errors
/// As [`load_part`] when it looks for the file.
pub fn images_path(dir: &Path, which: Dataset, part: Part) -> Result<PathBuf> {
    find_file(dir, which, part, "images-idx3")
}

/// The path of one dataset file: the raw name if it exists, else the `.gz` name. Whatever
/// exists there must be a file (symbolic links followed): a directory is named as one,
/// not reported missing.
fn find_file(dir: &Path, which: Dataset, part: Part, stem: &str) -> Result<PathBuf> {
    let raw = dir
        .join(which.name())
        .join(format!("{}-{stem}-ubyte", part.prefix()));
    let gz = raw.with_extension("gz");
    for path in [&raw, &gz] {
        if let Ok(meta) = std::fs::metadata(path) {
            if meta.is_file() {
                return Ok(path.clone());
            }
            return Err(Error::DatasetNotAFile {
                path: path.clone(),
                what: crate::cli::kind_of(meta.file_type()),
            });
        }
    }
    Err(Error::DatasetMissing { path: raw })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn numbered(n: usize) -> Split {
        let images = (0..n).flat_map(|i| [i as u8; IMAGE_PIXELS]).collect();
        let labels = (0..n).map(|i| (i % 10) as u8).collect();
        Split::new(images, labels).unwrap()
    }

    #[test]
    fn validation_is_the_last_fraction_as_in_keras() {
        let mut train = numbered(60_000);
        let val = train.split_off_validation(0.1).unwrap();
        assert_eq!((train.len(), val.len()), (54_000, 6_000));
        assert_eq!(train.images.len(), 54_000 * IMAGE_PIXELS);
        // The validation set starts with what was image 54000.
        assert_eq!(val.image(0)[0], (54_000 % 256) as u8);
        assert_eq!(val.labels[0], 0);
        assert_eq!(train.image(53_999)[783], (53_999 % 256) as u8);
    }

    #[test]
    fn keras_floor_rounding_on_uneven_sizes() {
        // floor(7 * 0.7) = floor(4.9) = 4 stay and 3 go, where rounding would keep 5.
        let mut s = numbered(7);
        let val = s.split_off_validation(0.3).unwrap();
        assert_eq!((s.len(), val.len()), (4, 3));
        assert_eq!(val.get(0).unwrap().1, 4);
    }

    #[test]
    fn bad_fractions_are_refused_and_change_nothing() {
        let mut s = numbered(5);
        for f in [-0.1, 1.0, 1.5, f64::NAN, 0.99, 1e-20] {
            assert!(
                matches!(
                    s.split_off_validation(f),
                    Err(Error::ValidationSplit { .. })
                ),
                "{f}"
            );
            assert_eq!(s.len(), 5);
        }
        assert!(s.split_off_validation(0.0).unwrap().is_empty());
        let mut one = numbered(1);
        assert_eq!(
            one.split_off_validation(0.1).unwrap_err().to_string(),
            "a validation split of 0.1 leaves no image on one side of 1 training image"
        );
    }

    #[test]
    fn accessors_agree() {
        let s = numbered(12);
        assert_eq!(s.iter().len(), 12);
        for (i, (img, label)) in s.iter().enumerate() {
            assert_eq!(img, s.image(i));
            assert_eq!(Some((img, label)), s.get(i));
        }
        assert!(s.get(12).is_none());
        assert_eq!(s.class_counts(), [2, 2, 1, 1, 1, 1, 1, 1, 1, 1]);
        assert!(Split::new(vec![0; 783], vec![1]).is_err());
    }

    #[test]
    fn a_directory_in_place_of_a_dataset_file_is_named_as_one() {
        let dir = tempfile::tempdir().unwrap();
        let folder = dir.path().join("mnist/train-images-idx3-ubyte");
        std::fs::create_dir_all(&folder).unwrap();
        let err = load(dir.path(), Dataset::Mnist).unwrap_err();
        assert!(matches!(&err, Error::DatasetNotAFile { path, .. } if *path == folder));
        assert_eq!(
            err.to_string(),
            format!("{}: is a directory, not a dataset file", folder.display())
        );
    }

    #[test]
    fn missing_file_is_named_with_the_fetch_hint() {
        let dir = tempfile::tempdir().unwrap();
        let err = load(dir.path(), Dataset::Fashion).unwrap_err();
        let expected = dir.path().join("fashion/train-images-idx3-ubyte");
        assert!(matches!(&err, Error::DatasetMissing { path } if *path == expected));
        assert!(err.to_string().contains("scripts/fetch-data.sh"));
    }
}
