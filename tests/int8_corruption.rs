//! A real exported model file, damaged every way that matters, gives a typed error and
//! never a panic: every truncation length, single-byte flips across the whole file
//! (every byte of the header and of the small tensors, a stride through the big hidden
//! weights), and the variant and version fields rewritten.

mod int8_support;

use picocnn::format::crc32;
use picocnn::{Dataset, Error, Model, Variant};
use picocnn_host::quantize::{calibrate, quantize};
use trainer::export::model_bytes;

fn exported(variant: Variant) -> Vec<u8> {
    let data = picocnn_host::dataset::load_part(
        &picocnn_suite::data_dir(),
        Dataset::Mnist,
        picocnn_host::dataset::Part::Test,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let checkpoint = int8_support::synthetic_checkpoint(variant, Dataset::Mnist, 11);
    let ranges = calibrate(&checkpoint, &data, 100).unwrap();
    model_bytes(&quantize(&checkpoint, &ranges).unwrap()).unwrap()
}

/// Offsets to flip: the first `edge` bytes (header, names, conv tensors), the last
/// `4 * edge` (hidden parameters, output tensors, checksum), and every `stride`th byte in
/// between (the hidden weights).
fn flip_offsets(len: usize, edge: usize, stride: usize) -> Vec<usize> {
    let end = len - 4 * edge;
    (0..edge)
        .chain((edge..end).step_by(stride))
        .chain(end..len)
        .collect()
}

/// Where the payload starts: after the magic, the one-byte version and the varint length.
fn payload_start(bytes: &[u8]) -> usize {
    assert_eq!(bytes[4], 2, "format version 2 is one varint byte");
    5 + bytes[5..].iter().position(|b| b & 0x80 == 0).unwrap() + 1
}

fn check(variant: Variant, edge: usize, stride: usize) {
    let bytes = exported(variant);
    let model = Model::from_bytes(&bytes).expect("the exported file is valid");
    assert_eq!(model.variant(), variant);

    for cut in 0..bytes.len() {
        assert_eq!(
            Model::from_bytes(&bytes[..cut]).err(),
            Some(Error::ModelTruncated),
            "{variant:?} cut at {cut}"
        );
    }

    let mut extended = bytes.clone();
    extended.extend_from_slice(&[0; 3]);
    assert_eq!(
        Model::from_bytes(&extended).err(),
        Some(Error::ModelTrailingBytes)
    );

    let mut damaged = bytes.clone();
    let offsets = flip_offsets(bytes.len(), edge, stride);
    for (n, &at) in offsets.iter().enumerate() {
        // Vary the flipped bits: a low bit, a high bit, all bits.
        damaged[at] ^= [0x01, 0x80, 0xff][n % 3];
        match Model::from_bytes(&damaged) {
            Ok(_) => panic!("{variant:?}: flip at {at} was accepted"),
            Err(Error::ModelChecksum { .. }) => {}
            // Only the header (magic, version, length) fails before the checksum.
            Err(e) => assert!(
                at < payload_start(&bytes),
                "{variant:?}: flip at {at} gave {e}"
            ),
        }
        damaged[at] = bytes[at];
    }
    assert!(offsets.len() > 5 * edge);
}

#[test]
fn pool_model_rejects_every_truncation_and_flip() {
    // Every byte outside the hidden weights (about 1 KB before, 4 KB after them).
    check(Variant::Pool, 1024, 1021);
}

#[test]
fn nopool_model_rejects_every_truncation_and_flip() {
    // Four times the bytes, so a sparser sample; the layout is the same as B's.
    check(Variant::NoPool, 128, 4093);
}

#[test]
fn a_file_of_the_other_variant_is_named_as_such() {
    let bytes = exported(Variant::Pool);
    let model = Model::from_bytes(&bytes).unwrap();
    assert_eq!(model.variant(), Variant::Pool);
    // Rewrite the variant code (the payload's first byte, after the magic, the version
    // and the varint length) to A and fix the checksum: the dimensions (pool 2) no
    // longer fit the variant, which is named before any tensor is read.
    let start = payload_start(&bytes);
    assert_eq!(bytes[start], Variant::Pool.code());
    let mut relabelled = bytes.clone();
    relabelled[start] = 0;
    let body = relabelled.len() - 4;
    let crc = crc32(&relabelled[..body]).to_le_bytes();
    relabelled[body..].copy_from_slice(&crc);
    assert_eq!(
        Model::from_bytes(&relabelled).err(),
        Some(Error::ModelDimension {
            name: "pool",
            found: 2,
            supported: 1
        })
    );
    // An unknown code is its own error.
    relabelled[start] = 7;
    let crc = crc32(&relabelled[..body]).to_le_bytes();
    relabelled[body..].copy_from_slice(&crc);
    assert_eq!(
        Model::from_bytes(&relabelled).err(),
        Some(Error::ModelVariant { code: 7 })
    );
}
