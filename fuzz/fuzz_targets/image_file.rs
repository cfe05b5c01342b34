//! firmware-sim's image reader (IDX, PNG, PGM, told apart by their magic) on arbitrary
//! bytes: images of 28x28 pixels, or a one-line error naming the file.
//!
//! The reader takes a path, so each input is written to a file in the temp directory
//! first (one per process). The first byte picks how pictures are fitted (MNIST or
//! Fashion-MNIST); the rest is the file.
#![no_main]

use libfuzzer_sys::fuzz_target;
use picocnn::Dataset;
use std::path::PathBuf;
use std::sync::OnceLock;

static PATH: OnceLock<PathBuf> = OnceLock::new();

fuzz_target!(|input: &[u8]| {
    let Some((&which, bytes)) = input.split_first() else {
        return;
    };
    let path = PATH.get_or_init(|| {
        std::env::temp_dir().join(format!("picocnn-fuzz-image-{}", std::process::id()))
    });
    std::fs::write(path, bytes).expect("temp file");
    let dataset = if which & 1 == 0 {
        Dataset::Mnist
    } else {
        Dataset::Fashion
    };
    match firmware_sim::images::load(path, dataset) {
        Ok(images) => assert!(!images.is_empty()),
        Err(e) => {
            let s = e.to_string();
            assert!(!s.contains('\n'), "{s:?}");
            assert!(s.starts_with(&path.display().to_string()), "{s:?}");
        }
    }
});
