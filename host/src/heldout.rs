//! The held-out digit set: digits that are not MNIST, for a robustness figure beside the
//! MNIST test accuracy.
//!
//! 3,760 digits rendered from the fonts of Debian packages (24 handwriting-like fonts, 80
//! renderings each; 92 typefaces, 20 each) with varied slant, stroke weight and rendering
//! size, centred as MNIST centred its scans (`scripts/make-heldout.sh`). The files are
//! checked in under `assets/heldout/`; `scripts/fetch-data.sh` copies them to
//! `<data>/heldout/fonts-{images-idx3,labels-idx1}-ubyte.gz`, where [`load`] finds them.
//!
//! It measures digits a model was not trained on, not handwriting from real people: a
//! font is drawn by one hand, so the set is easier than real writers in some ways (clean
//! strokes) and harder in others (serifs, slab feet on the 1, open 4s). Only for MNIST
//! models: its classes are digits.

use std::path::{Path, PathBuf};

use crate::dataset::{self, Split};
use crate::error::Result;

/// Folder of the held-out set inside the data directory.
pub const DIR: &str = "heldout";
/// Its name in reports.
pub const NAME: &str = "held-out font digits";

/// Paths of the image and label files in `data` (raw preferred, else `.gz`, as for the
/// datasets); `None` if either is missing.
pub fn files(data: &Path) -> Option<(PathBuf, PathBuf)> {
    let find = |stem: &str| {
        let raw = data.join(DIR).join(format!("fonts-{stem}-ubyte"));
        let gz = raw.with_extension("gz");
        [raw, gz].into_iter().find(|p| p.is_file())
    };
    Some((find("images-idx3")?, find("labels-idx1")?))
}

/// The held-out set in `data`, or `None` if its files are not there (older data folders).
///
/// # Errors
/// As [`dataset::load_files`].
pub fn load(data: &Path) -> Result<Option<Split>> {
    let Some((images_path, labels_path)) = files(data) else {
        return Ok(None);
    };
    dataset::load_files(images_path, labels_path).map(Some)
}

/// Accuracy per class: `(correct, total)` for each label, from predicted classes.
pub fn per_class(
    labels: &[u8],
    predicted: impl IntoIterator<Item = usize>,
) -> [(usize, usize); 10] {
    let mut counts = [(0, 0); 10];
    for (&label, class) in labels.iter().zip(predicted) {
        if let Some(c) = counts.get_mut(usize::from(label)) {
            c.1 += 1;
            c.0 += usize::from(class == usize::from(label));
        }
    }
    counts
}

/// Overall accuracy from [`per_class`] counts (0 for no images).
pub fn accuracy(counts: &[(usize, usize); 10]) -> f64 {
    let (correct, total) = counts
        .iter()
        .fold((0, 0), |(c, t), &(ci, ti)| (c + ci, t + ti));
    correct as f64 / total.max(1) as f64
}

/// `0: 99.5, 1: 93.4, ...`: per-class accuracy in percent, for one line of output.
pub fn describe_per_class(counts: &[(usize, usize); 10]) -> String {
    counts
        .iter()
        .enumerate()
        .map(|(class, &(c, t))| format!("{class}: {:.1}", 100.0 * c as f64 / t.max(1) as f64))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Error;
    use crate::idx::{self, Images};

    #[test]
    fn absent_files_are_none_and_present_ones_load() {
        let dir = tempfile::tempdir().unwrap();
        assert!(load(dir.path()).unwrap().is_none());
        std::fs::create_dir(dir.path().join(DIR)).unwrap();
        let images = Images {
            count: 2,
            rows: 28,
            cols: 28,
            pixels: vec![7; 2 * 784],
        };
        idx::write_images(
            &dir.path().join(DIR).join("fonts-images-idx3-ubyte"),
            &images,
        )
        .unwrap();
        assert!(load(dir.path()).unwrap().is_none(), "labels missing");
        let labels = dir.path().join(DIR).join("fonts-labels-idx1-ubyte");
        idx::write_labels(&labels, &[3, 4, 5]).unwrap();
        assert!(matches!(load(dir.path()), Err(Error::CountMismatch { .. })));
        idx::write_labels(&labels, &[3, 4]).unwrap();
        let split = load(dir.path()).unwrap().unwrap();
        assert_eq!(split.labels, [3, 4]);
    }

    #[test]
    fn per_class_counts_hits_and_totals() {
        let counts = per_class(&[0, 0, 1, 9], [0, 1, 1, 9]);
        assert_eq!(counts[0], (1, 2));
        assert_eq!(counts[1], (1, 1));
        assert_eq!(counts[9], (1, 1));
        assert_eq!(counts[5], (0, 0));
        assert_eq!(accuracy(&counts), 0.75);
        assert!(describe_per_class(&counts).starts_with("0: 50.0, 1: 100.0, 2: 0.0"));
    }

    /// The checked-in set is what the generator's pinned SHA-256 says (see
    /// `scripts/make-heldout.sh`), and holds every digit.
    #[test]
    fn the_checked_in_set_loads() {
        let assets = Path::new(env!("CARGO_MANIFEST_DIR")).join("../assets");
        let split = load(&assets)
            .unwrap()
            .expect("assets/heldout is checked in");
        assert_eq!(split.len(), 3760);
        let counts = per_class(&split.labels, split.labels.iter().map(|&l| usize::from(l)));
        assert!(
            counts.iter().all(|&(c, t)| c == t && t == 376),
            "{counts:?}"
        );
    }
}
