//! The IDX reader on arbitrary bytes, raw and through gzip.
//!
//! The first byte picks the path: images or labels, the bytes as given (which may
//! themselves be gzip: the reader sniffs `1f 8b`), or the bytes gzip-compressed first so
//! the decoder path sees every payload the raw path sees. Raw and gzip must agree, except
//! when the bytes start like gzip: compressed once more they are gzip inside gzip, which
//! the reader refuses (it decompresses once).
#![no_main]

use flate2::Compression;
use flate2::write::GzEncoder;
use libfuzzer_sys::fuzz_target;
use picocnn_fuzz::check_file_error;
use std::fmt::Debug;
use std::io::Write;
use std::path::Path;
use picocnn_host::Result;
use picocnn_host::idx::{GZIP_MAGIC, parse_images, parse_labels};

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::fast());
    encoder.write_all(bytes).expect("writing to a Vec");
    encoder.finish().expect("writing to a Vec")
}

/// `result` came from parsing `data` gzip-compressed: it must equal parsing `data` as
/// it is, unless `data` starts like gzip. Then it was gzip inside gzip, which the reader
/// refuses (too short to be a header, or IdxGzipTwice): never a parsed file.
fn check_gzip_agrees<T: PartialEq + Debug>(
    result: &Result<T>,
    data: &[u8],
    parse: fn(&[u8], &Path) -> Result<T>,
    path: &Path,
) {
    if data.starts_with(&GZIP_MAGIC) {
        assert!(result.is_err(), "gzip inside gzip parsed: {result:?}");
    } else {
        let raw = parse(data, path);
        assert_eq!(
            raw.as_ref().ok(),
            result.as_ref().ok(),
            "gzip and raw disagree"
        );
    }
}

fuzz_target!(|input: &[u8]| {
    let Some((&mode, data)) = input.split_first() else {
        return;
    };
    let path = Path::new("fuzz.idx");
    let images = mode & 1 == 0;
    let compressed = mode & 2 != 0;
    let bytes = if compressed {
        gzip(data)
    } else {
        data.to_vec()
    };
    if images {
        let result = parse_images(&bytes, path);
        match &result {
            Ok(img) => {
                assert!(img.count > 0 && img.rows > 0 && img.cols > 0);
                assert_eq!(img.pixels.len(), img.count * img.rows * img.cols);
                assert!(img.image(img.count - 1).is_some() && img.image(img.count).is_none());
                if !data.starts_with(&GZIP_MAGIC) {
                    // A raw file is a 16-byte header and exactly the pixels.
                    assert_eq!(data.len(), 16 + img.pixels.len());
                }
            }
            Err(e) => check_file_error(e, path),
        }
        if compressed {
            check_gzip_agrees(&result, data, parse_images, path);
        }
    } else {
        let result = parse_labels(&bytes, path);
        match &result {
            Ok(labels) => {
                assert!(!labels.is_empty());
                assert!(labels.iter().all(|&l| l <= picocnn_host::idx::MAX_LABEL));
            }
            Err(e) => check_file_error(e, path),
        }
        if compressed {
            check_gzip_agrees(&result, data, parse_labels, path);
        }
    }
});
