//! IDX reading and dataset loading: round trips, every malformed-file error, real data.
//!
//! The real-data tests need `scripts/fetch-data.sh` to have run (or `PICOCNN_DATA` to
//! point at a directory holding `mnist/` and `fashion/`); they fail, not skip, otherwise.

use std::io::Write;
use std::path::{Path, PathBuf};

use flate2::Compression;
use flate2::write::GzEncoder;
use picocnn::Dataset;
use picocnn_host::Error;
use picocnn_host::dataset::{self, Part};
use picocnn_host::idx::{self, Images};
use proptest::prelude::*;

fn data_dir() -> PathBuf {
    match std::env::var_os("PICOCNN_DATA") {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => Path::new(env!("CARGO_MANIFEST_DIR")).join("../data"),
    }
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = GzEncoder::new(Vec::new(), Compression::default());
    enc.write_all(bytes).unwrap();
    enc.finish().unwrap()
}

fn header(magic: u32, dims: &[u32]) -> Vec<u8> {
    let mut v = magic.to_be_bytes().to_vec();
    for d in dims {
        v.extend_from_slice(&d.to_be_bytes());
    }
    v
}

/// A raw image file: the header for `dims` and then `data`.
fn image_file(dims: [u32; 3], data: &[u8]) -> Vec<u8> {
    let mut v = header(0x803, &dims);
    v.extend_from_slice(data);
    v
}

fn label_file(labels: &[u8]) -> Vec<u8> {
    let mut v = header(0x801, &[labels.len() as u32]);
    v.extend_from_slice(labels);
    v
}

struct Scratch {
    dir: tempfile::TempDir,
}

impl Scratch {
    fn new() -> Self {
        Scratch {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn file(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let path = self.dir.path().join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).unwrap();
        }
        std::fs::write(&path, bytes).unwrap();
        path
    }
}

fn sample_images(count: usize, rows: usize, cols: usize) -> Images {
    let pixels = (0..count * rows * cols)
        .map(|i| (i * 7 % 256) as u8)
        .collect();
    Images {
        count,
        rows,
        cols,
        pixels,
    }
}

#[test]
fn raw_round_trip_writes_the_exact_idx_bytes() {
    let s = Scratch::new();
    let images = sample_images(3, 2, 5);
    let path = s.dir.path().join("imgs");
    idx::write_images(&path, &images).unwrap();
    let bytes = std::fs::read(&path).unwrap();
    assert_eq!(&bytes[..16], &image_file([3, 2, 5], &[])[..]);
    assert_eq!(bytes.len(), 16 + 30);
    assert_eq!(idx::read_images(&path).unwrap(), images);

    let labels = [0, 9, 3, 3, 7];
    let lpath = s.dir.path().join("labels");
    idx::write_labels(&lpath, &labels).unwrap();
    assert_eq!(std::fs::read(&lpath).unwrap(), label_file(&labels));
    assert_eq!(idx::read_labels(&lpath).unwrap(), labels);
    // Only the two destination files: the atomic writes left no temporary behind.
    assert_eq!(std::fs::read_dir(s.dir.path()).unwrap().count(), 2);
}

#[test]
fn gzip_is_recognised_by_its_magic_whatever_the_name() {
    let s = Scratch::new();
    let images = sample_images(4, 28, 28);
    let raw = image_file([4, 28, 28], &images.pixels);
    let gz = gzip(&raw);
    for name in ["imgs.gz", "imgs-no-suffix"] {
        assert_eq!(idx::read_images(&s.file(name, &gz)).unwrap(), images);
    }
    let labels = [1, 2, 3, 4, 5, 6, 7, 8, 9, 0];
    let lpath = s.file("labels.gz", &gzip(&label_file(&labels)));
    assert_eq!(idx::read_labels(&lpath).unwrap(), labels);
    // Two gzip members concatenated are one valid stream (what `gzip -dc` also accepts).
    let half = raw.len() / 2;
    let mut two = gzip(&raw[..half]);
    two.extend(gzip(&raw[half..]));
    assert_eq!(idx::read_images(&s.file("two.gz", &two)).unwrap(), images);
}

#[test]
fn write_refuses_what_the_reader_would_refuse() {
    let s = Scratch::new();
    let path = s.dir.path().join("x");
    let mut bad = sample_images(2, 3, 3);
    bad.pixels.pop();
    assert!(matches!(
        idx::write_images(&path, &bad),
        Err(Error::IdxWriteShape { pixels: 17, .. })
    ));
    let empty = sample_images(0, 3, 3);
    assert!(matches!(
        idx::write_images(&path, &empty),
        Err(Error::IdxWriteShape { count: 0, .. })
    ));
    assert!(matches!(
        idx::write_labels(&path, &[]),
        Err(Error::IdxWriteCount { count: 0, .. })
    ));
    assert!(matches!(
        idx::write_labels(&path, &[1, 10]),
        Err(Error::LabelOutOfRange {
            index: 1,
            value: 10,
            ..
        })
    ));
    assert!(!path.exists());
}

#[test]
fn empty_and_short_files_are_too_short() {
    let s = Scratch::new();
    let empty = s.file("empty", &[]);
    assert!(matches!(
        idx::read_images(&empty),
        Err(Error::IdxTooShort {
            len: 0,
            needed: 16,
            ..
        })
    ));
    assert!(matches!(
        idx::read_labels(&empty),
        Err(Error::IdxTooShort {
            len: 0,
            needed: 8,
            ..
        })
    ));
    let short = s.file("short", &header(0x803, &[1, 28]));
    assert!(matches!(
        idx::read_images(&short),
        Err(Error::IdxTooShort { len: 12, .. })
    ));
    let short_gz = s.file("short.gz", &gzip(&header(0x803, &[1])));
    assert!(matches!(
        idx::read_images(&short_gz),
        Err(Error::IdxTooShort { len: 8, .. })
    ));
}

#[test]
fn wrong_magic_is_reported_with_both_values() {
    let s = Scratch::new();
    let labels = s.file("labels", &label_file(&[1, 2, 3]));
    let err = idx::read_images(&labels).unwrap_err();
    assert!(matches!(
        err,
        Error::IdxBadMagic {
            found: 0x801,
            expected: 0x803,
            ..
        }
    ));
    assert!(err.to_string().contains("0x00000801"), "{err}");
    let images = s.file("images", &image_file([1, 1, 1], &[0]));
    assert!(matches!(
        idx::read_labels(&images),
        Err(Error::IdxBadMagic {
            found: 0x803,
            expected: 0x801,
            ..
        })
    ));
    let text = s.file("text", b"this is not an IDX file at all");
    assert!(matches!(
        idx::read_images(&text),
        Err(Error::IdxBadMagic { .. })
    ));
}

#[test]
fn a_lying_count_is_caught_before_reading_the_data() {
    let s = Scratch::new();
    let path = s.file(
        "train-images-idx3-ubyte",
        &image_file([60000, 28, 28], &[0; 1000]),
    );
    let err = idx::read_images(&path).unwrap_err();
    assert!(matches!(
        err,
        Error::IdxLength {
            count: 60000,
            expected: 47_040_000,
            found: 1000,
            ..
        }
    ));
    assert_eq!(
        err.to_string(),
        format!(
            "{}: header claims 60000 images of 28x28 (47040000 bytes) but the file holds 1000 bytes",
            path.display()
        )
    );
}

#[test]
fn truncated_and_overlong_data_are_length_errors() {
    let s = Scratch::new();
    let full = image_file([2, 28, 28], &[5; 2 * 784]);
    let truncated = s.file("truncated", &full[..full.len() - 1]);
    assert!(matches!(
        idx::read_images(&truncated),
        Err(Error::IdxLength {
            expected: 1568,
            found: 1567,
            ..
        })
    ));
    let mut long = full.clone();
    long.extend_from_slice(b"junk");
    let err = idx::read_images(&s.file("long", &long)).unwrap_err();
    assert!(matches!(
        err,
        Error::IdxLength {
            expected: 1568,
            found: 1572,
            ..
        }
    ));
    assert!(err.to_string().ends_with("(trailing bytes)"), "{err}");

    // The same inside a gzip stream: too little data, or data after the claimed end.
    let gz_short = s.file("short.gz", &gzip(&full[..full.len() - 10]));
    assert!(matches!(
        idx::read_images(&gz_short),
        Err(Error::IdxLength {
            expected: 1568,
            found: 1558,
            ..
        })
    ));
    let gz_long = s.file("long.gz", &gzip(&long));
    assert!(matches!(
        idx::read_images(&gz_long),
        Err(Error::IdxLength {
            expected: 1568,
            found: 1572,
            ..
        })
    ));
    let labels = label_file(&[1, 2, 3]);
    let lab_long = s.file("lab", &[&labels[..], &[0][..]].concat());
    assert!(matches!(
        idx::read_labels(&lab_long),
        Err(Error::IdxLength {
            expected: 3,
            found: 4,
            ..
        })
    ));
}

#[test]
fn zero_and_huge_dimensions_are_refused() {
    let s = Scratch::new();
    for dims in [[0, 28, 28], [1, 0, 28], [1, 28, 0]] {
        let path = s.file("zero", &image_file(dims, &[]));
        assert!(
            matches!(idx::read_images(&path), Err(Error::IdxBadDims { .. })),
            "{dims:?}"
        );
    }
    // u32::MAX cubed overflows u64; 65536 * 65536 * 1 is exactly 4 GiB: both over the cap.
    for dims in [[u32::MAX; 3], [65536, 65536, 1], [3, 1 << 15, 1 << 15]] {
        let path = s.file("huge", &image_file(dims, &[0; 64]));
        assert!(
            matches!(idx::read_images(&path), Err(Error::IdxBadDims { .. })),
            "{dims:?}"
        );
        let gz = s.file("huge.gz", &gzip(&image_file(dims, &[0; 64])));
        assert!(
            matches!(idx::read_images(&gz), Err(Error::IdxBadDims { .. })),
            "{dims:?}"
        );
    }
    let path = s.file("nolabels", &label_file(&[]));
    assert!(matches!(
        idx::read_labels(&path),
        Err(Error::IdxBadDims { .. })
    ));
}

#[test]
fn a_gzip_header_claiming_two_gib_fails_fast_on_a_tiny_file() {
    // Just under the cap: the claim is accepted, but the first allocation is bounded by
    // the compressed size, and the short stream is then a length error.
    let s = Scratch::new();
    let path = s.file("lie.gz", &gzip(&image_file([2048, 1024, 1024], &[1; 100])));
    let start = std::time::Instant::now();
    assert!(matches!(
        idx::read_images(&path),
        Err(Error::IdxLength {
            expected: 2_147_483_648,
            found: 100,
            ..
        })
    ));
    assert!(start.elapsed().as_secs() < 2);
}

#[test]
fn broken_gzip_streams_are_gzip_errors() {
    let s = Scratch::new();
    let raw = image_file([3, 28, 28], &[9; 3 * 784]);
    let good = gzip(&raw);

    let garbage = s.file(
        "garbage.gz",
        &[0x1f, 0x8b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
    );
    assert!(matches!(
        idx::read_images(&garbage),
        Err(Error::IdxGzip { .. })
    ));

    // Cut inside the deflate data, and cut inside the CRC/length trailer.
    for cut in [good.len() / 2, good.len() - 3] {
        let path = s.file("cut.gz", &good[..cut]);
        assert!(
            matches!(idx::read_images(&path), Err(Error::IdxGzip { .. })),
            "cut {cut}"
        );
    }

    // A flipped CRC byte: the data decodes, but the trailer no longer matches.
    let mut bad_crc = good.clone();
    let crc_at = bad_crc.len() - 8;
    bad_crc[crc_at] ^= 0xff;
    let path = s.file("crc.gz", &bad_crc);
    let err = idx::read_images(&path).unwrap_err();
    assert!(matches!(err, Error::IdxGzip { .. }));
    assert!(
        err.to_string()
            .starts_with(&format!("{}: bad gzip data", path.display()))
    );

    // Bytes after the gzip stream that are not another gzip member.
    let mut trailing = good.clone();
    trailing.extend_from_slice(b"trailing garbage");
    let path = s.file("trailing.gz", &trailing);
    assert!(matches!(
        idx::read_images(&path),
        Err(Error::IdxGzip { .. })
    ));
}

#[test]
fn labels_above_nine_are_refused_with_their_position() {
    let s = Scratch::new();
    let path = s.file("labels", &label_file(&[0, 9, 4, 10, 255]));
    let err = idx::read_labels(&path).unwrap_err();
    assert!(matches!(
        err,
        Error::LabelOutOfRange {
            index: 3,
            value: 10,
            ..
        }
    ));
    assert!(err.to_string().contains("label 10 at index 3"), "{err}");
}

#[test]
fn a_missing_file_is_an_io_error_naming_it() {
    let path = Path::new("/nonexistent/picocnn/images");
    let err = idx::read_images(path).unwrap_err();
    assert!(
        matches!(&err, Error::Io { source, .. } if source.kind() == std::io::ErrorKind::NotFound)
    );
    assert!(err.to_string().starts_with("/nonexistent/picocnn/images: "));
}

/// Writes a dataset part under `<root>/mnist/` with the given images and labels files.
fn dataset_part(s: &Scratch, part: &str, images: &[u8], labels: &[u8]) {
    s.file(&format!("mnist/{part}-images-idx3-ubyte"), images);
    s.file(&format!("mnist/{part}-labels-idx1-ubyte.gz"), &gzip(labels));
}

#[test]
fn dataset_checks_counts_and_image_size() {
    let s = Scratch::new();
    dataset_part(
        &s,
        "t10k",
        &image_file([3, 28, 28], &[0; 3 * 784]),
        &label_file(&[1, 2]),
    );
    let err = dataset::load_part(s.dir.path(), Dataset::Mnist, Part::Test).unwrap_err();
    assert!(matches!(
        err,
        Error::CountMismatch {
            images: 3,
            labels: 2,
            ..
        }
    ));

    dataset_part(
        &s,
        "t10k",
        &image_file([2, 27, 29], &[0; 2 * 783]),
        &label_file(&[1, 2]),
    );
    let err = dataset::load_part(s.dir.path(), Dataset::Mnist, Part::Test).unwrap_err();
    assert!(matches!(
        err,
        Error::ImageSize {
            rows: 27,
            cols: 29,
            ..
        }
    ));

    dataset_part(
        &s,
        "t10k",
        &image_file([2, 28, 28], &[7; 2 * 784]),
        &label_file(&[1, 2]),
    );
    let test = dataset::load_part(s.dir.path(), Dataset::Mnist, Part::Test).unwrap();
    assert_eq!((test.len(), test.labels.as_slice()), (2, &[1, 2][..]));
    assert_eq!(test.image(1), &[7; 784]);
    // The training files are absent: the error names the first one looked for.
    let err = dataset::load(s.dir.path(), Dataset::Mnist).unwrap_err();
    assert!(
        matches!(&err, Error::DatasetMissing { path } if path.ends_with("mnist/train-images-idx3-ubyte"))
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Arbitrary bytes, raw or gzipped, never panic: they load or give an error.
    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..64), gz: bool) {
        let s = Scratch::new();
        let bytes = if gz { gzip(&bytes) } else { bytes };
        let path = s.file("any", &bytes);
        let _ = idx::read_images(&path);
        let _ = idx::read_labels(&path);
    }

    /// A valid file with one header or data byte changed loads only if it is still
    /// consistent, and otherwise gives an error; never a panic or a wrong-sized result.
    #[test]
    fn mutated_valid_files_never_panic(pos in 0usize..(16 + 2 * 12), value: u8, gz: bool) {
        let s = Scratch::new();
        let mut raw = image_file([2, 3, 4], &[200; 24]);
        raw[pos] = value;
        let bytes = if gz { gzip(&raw) } else { raw };
        let path = s.file("mutated", &bytes);
        if let Ok(images) = idx::read_images(&path) {
            prop_assert_eq!(images.pixels.len(), images.count * images.rows * images.cols);
            prop_assert_eq!(images.pixels.len(), 24);
        }
    }

    /// Parsing bytes in memory gives exactly what reading them from a file gives, error
    /// messages included (the fuzz targets rely on it: they call the in-memory parsers).
    #[test]
    fn parsing_bytes_matches_reading_the_file(pos in 0usize..(16 + 2 * 12), value: u8, gz: bool) {
        let s = Scratch::new();
        let mut raw = image_file([2, 3, 4], &[9; 24]);
        raw[pos] = value;
        let bytes = if gz { gzip(&raw) } else { raw };
        let path = s.file("same", &bytes);
        let from_file = idx::read_images(&path).map_err(|e| e.to_string());
        let parsed = idx::parse_images(&bytes, &path).map_err(|e| e.to_string());
        prop_assert_eq!(from_file, parsed);
        let from_file = idx::read_labels(&path).map_err(|e| e.to_string());
        let parsed = idx::parse_labels(&bytes, &path).map_err(|e| e.to_string());
        prop_assert_eq!(from_file, parsed);
    }
}

#[test]
fn real_mnist_and_fashion_load_with_known_labels() {
    let dir = data_dir();
    let mnist = dataset::load(&dir, Dataset::Mnist)
        .unwrap_or_else(|e| panic!("{e} (run scripts/fetch-data.sh first)"));
    assert_eq!((mnist.train.len(), mnist.test.len()), (60_000, 10_000));
    assert_eq!(mnist.test.labels[..5], [7, 2, 1, 0, 4]);
    assert_eq!(mnist.train.labels[..5], [5, 0, 4, 1, 9]);
    assert_eq!(
        mnist.test.class_counts(),
        [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    );
    // The MNIST digits are centred: the first test image (a 7) has ink in the middle
    // rows and a blank border.
    let seven = mnist.test.image(0);
    assert!(seven[..28].iter().all(|&p| p == 0));
    assert!(seven[14 * 28..15 * 28].iter().any(|&p| p > 128));

    let fashion = dataset::load(&dir, Dataset::Fashion)
        .unwrap_or_else(|e| panic!("{e} (run scripts/fetch-data.sh first)"));
    assert_eq!((fashion.train.len(), fashion.test.len()), (60_000, 10_000));
    assert_eq!(fashion.test.labels[0], 9);
    assert_eq!(fashion.test.class_counts(), [1000; 10]);
    assert_eq!(fashion.train.class_counts(), [6000; 10]);
}

#[test]
fn real_labels_round_trip_raw_and_gzipped() {
    let dir = data_dir();
    let test = dataset::load_part(&dir, Dataset::Fashion, Part::Test)
        .unwrap_or_else(|e| panic!("{e} (run scripts/fetch-data.sh first)"));
    let s = Scratch::new();
    let raw_path = s.dir.path().join("t10k-labels-idx1-ubyte");
    idx::write_labels(&raw_path, &test.labels).unwrap();
    let gz_path = s.file(
        "t10k-labels-idx1-ubyte.gz",
        &gzip(&std::fs::read(&raw_path).unwrap()),
    );
    assert_eq!(idx::read_labels(&raw_path).unwrap(), test.labels);
    assert_eq!(idx::read_labels(&gz_path).unwrap(), test.labels);
}

#[test]
fn a_file_compressed_twice_is_named_as_such() {
    // Found by the idx fuzz target: gzip of a gzip file.
    let s = Scratch::new();
    let labels = [7, 2, 1];
    let twice = s.file("labels.gz.gz", &gzip(&gzip(&label_file(&labels))));
    let err = idx::read_labels(&twice).unwrap_err();
    assert!(matches!(err, Error::IdxGzipTwice { .. }), "{err}");
    assert!(err.to_string().contains("compressed twice"), "{err}");
    let images = s.file("images.gz.gz", &gzip(&gzip(&image_file([1, 1, 1], &[0]))));
    assert!(matches!(
        idx::read_images(&images),
        Err(Error::IdxGzipTwice { .. })
    ));
}
