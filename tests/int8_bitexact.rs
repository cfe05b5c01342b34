//! The core's integer logits equal the host int8 reference's, bit for bit, on all 10,000
//! test images of MNIST and Fashion-MNIST, for both variants.
//!
//! The models here are deterministic synthetic ones (`int8_support`): bit-exactness must
//! hold for any weights, and these spread activations over the whole int8 range. The
//! trained models are checked the same way by `firmware-sim verify`.

mod int8_support;

use picocnn::{Dataset, Model, Scratch, Variant};
use picocnn_host::quantize::{calibrate, quantize};
use picocnn_host::reference::logits_int8;
use rayon::prelude::*;
use trainer::export::{core_logits, model_bytes};

fn check(variant: Variant, dataset: Dataset) {
    let data = int8_support::load(dataset);
    let checkpoint =
        int8_support::synthetic_checkpoint(variant, dataset, 0x5eed + variant.code() as u64);
    let ranges = calibrate(&checkpoint, &data.train, 500).unwrap();
    let model = quantize(&checkpoint, &ranges).unwrap();
    let bytes = model_bytes(&model).unwrap();

    let core = core_logits(&bytes, &data.test).unwrap();
    let reference: Vec<[i32; 10]> = data
        .test
        .image_arrays()
        .par_iter()
        .map(|image| logits_int8(&model, image))
        .collect();
    assert_eq!(core.len(), 10_000);
    let mismatches: Vec<usize> = (0..core.len())
        .filter(|&i| core[i] != reference[i])
        .collect();
    assert!(
        mismatches.is_empty(),
        "{variant:?}/{dataset:?}: {} of 10000 images differ; first {}: core {:?}, reference {:?}",
        mismatches.len(),
        mismatches[0],
        core[mismatches[0]],
        reference[mismatches[0]]
    );

    // The logits are not degenerate: they vary across images and classes.
    let distinct_classes: std::collections::HashSet<usize> =
        core.iter().map(|l| picocnn::argmax(l)).collect();
    assert!(
        distinct_classes.len() >= 3,
        "{variant:?}/{dataset:?}: classes {distinct_classes:?}"
    );

    // The single-image API gives the same logits and the first argmax as its class.
    let loaded = Model::from_bytes(&bytes).unwrap();
    let mut scratch = Scratch::new();
    for i in [0, 1, 4999, 9999] {
        let p = loaded.classify(data.test.image(i), &mut scratch).unwrap();
        assert_eq!(p.logits, reference[i]);
        assert_eq!(p.class, picocnn::argmax(&reference[i]));
    }
}

#[test]
fn nopool_mnist() {
    check(Variant::NoPool, Dataset::Mnist);
}

#[test]
fn pool_mnist() {
    check(Variant::Pool, Dataset::Mnist);
}

#[test]
fn nopool_fashion() {
    check(Variant::NoPool, Dataset::Fashion);
}

#[test]
fn pool_fashion() {
    check(Variant::Pool, Dataset::Fashion);
}
