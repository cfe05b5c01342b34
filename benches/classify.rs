//! `classify` per variant: one image at a time, one thread, as a firmware runs it.
//!
//! Weights: `$PICOCNN_BENCH_WEIGHTS_DIR/{nopool,pool}.bin` when set (trained models), else
//! deterministic synthetic weights quantized on the spot; the core's work does not depend
//! on the weights' values, so both give the same time. Images: the first 256 MNIST test
//! images, cycled. Compare with `benches/compare-inference.sh` (TFLite int8).

use std::hint::black_box;
use std::path::PathBuf;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use picocnn::{Dataset, Model, Scratch, Variant};
use picocnn_host::quantize::{calibrate, quantize};
use trainer::export::model_bytes;

#[path = "../tests/int8_support/mod.rs"]
mod support;

fn weights(variant: Variant, images: &picocnn_host::dataset::Split) -> Vec<u8> {
    if let Some(dir) = std::env::var_os("PICOCNN_BENCH_WEIGHTS_DIR") {
        let path = PathBuf::from(dir).join(format!("{}.bin", variant.name()));
        return std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    }
    let checkpoint = support::synthetic_checkpoint(variant, Dataset::Mnist, 7);
    let ranges = calibrate(&checkpoint, images, 200).expect("calibration");
    model_bytes(&quantize(&checkpoint, &ranges).expect("quantization")).expect("encoding")
}

fn classify(c: &mut Criterion) {
    let data = support::load(Dataset::Mnist);
    let images: Vec<[u8; 784]> = data.test.image_arrays()[..256].to_vec();
    let mut group = c.benchmark_group("classify");
    group.throughput(Throughput::Elements(1));
    for variant in Variant::ALL {
        let bytes = weights(variant, &data.train);
        let model = Model::from_bytes(&bytes).expect("valid model");
        assert_eq!(model.variant(), variant);
        let mut scratch = Scratch::new();
        let mut next = images.iter().cycle();
        group.bench_function(variant.name(), |b| {
            b.iter(|| {
                let image = next.next().expect("cycle never ends");
                black_box(
                    model
                        .classify(black_box(image), &mut scratch)
                        .expect("784 pixels"),
                )
            })
        });
    }
    group.finish();
}

criterion_group!(benches, classify);
criterion_main!(benches);
