//! Cost of on-the-fly augmentation, per image and per batch of 32 (on the rayon pool, as
//! training draws it), for each preset. An epoch draws 54,000 images: multiply the
//! per-batch time by 1,688 batches and compare with the epoch time of
//! `benches/compare-training.sh` to get the share of an epoch (README, "Augmentation").

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use picocnn::Dataset;
use picocnn::shape::IMAGE_PIXELS;
use rayon::prelude::*;
use trainer::augment::{Augment, Preset, image_key};

/// A digit-like image: two strokes of ink on black (the cost does not depend on the
/// pixels: every transform visits every pixel the same way).
fn strokes() -> [u8; IMAGE_PIXELS] {
    let mut im = [0u8; IMAGE_PIXELS];
    for i in 5..23 {
        im[i * 28 + 14] = 255;
        im[i * 28 + 13] = 128;
        im[8 * 28 + i] = 200;
    }
    im
}

fn augment(c: &mut Criterion) {
    let image = strokes();
    let presets = [
        (
            "mnist-light",
            Augment::preset(Preset::Light, Dataset::Mnist),
        ),
        (
            "mnist-strong",
            Augment::preset(Preset::Strong, Dataset::Mnist),
        ),
        (
            "fashion-light",
            Augment::preset(Preset::Light, Dataset::Fashion),
        ),
    ];
    let mut group = c.benchmark_group("augment-image");
    group.throughput(Throughput::Elements(1));
    for (name, aug) in presets {
        let mut out = [0u8; IMAGE_PIXELS];
        let mut index = 0usize;
        group.bench_function(name, |b| {
            b.iter(|| {
                index += 1;
                aug.apply(black_box(&image), image_key(0, 1, index), &mut out);
                black_box(&out);
            })
        });
    }
    group.finish();

    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .build()
        .expect("2 threads");
    let mut group = c.benchmark_group("augment-batch32-2threads");
    group.throughput(Throughput::Elements(32));
    for (name, aug) in presets {
        let mut out = vec![[0u8; IMAGE_PIXELS]; 32];
        let mut epoch = 0usize;
        group.bench_function(name, |b| {
            b.iter(|| {
                epoch += 1;
                pool.install(|| {
                    out.par_iter_mut()
                        .enumerate()
                        .with_min_len(8)
                        .for_each(|(i, o)| {
                            aug.apply(&image, image_key(0, epoch, i), o);
                        });
                });
                black_box(&out);
            })
        });
    }
    group.finish();
}

criterion_group!(benches, augment);
criterion_main!(benches);
