//! How much of the hidden layer's work the trainer skips, per augmentation preset: the
//! share of the hidden layer's input rows (one per position and filter of the map it
//! reads) that are zero for a whole batch of 32, which `kernels::dense_forward` and the
//! backward pass skip. Augmented digits spread their ink over more positions, so fewer
//! rows are skipped and an epoch does more multiply-adds, beside the transforms' own cost.
//!
//! `cargo run --release -p trainer --example skipped_rows -- CHECKPOINT [DATA_DIR [BATCHES]]`
//! with a trained MNIST checkpoint of either variant.

use picocnn::shape::{CONV_SIDE, FILTERS, IMAGE_PIXELS, IMAGE_SIDE, KERNEL_SIDE, POOL_SIDE};
use picocnn::{Dataset, Variant};
use picocnn_host::dataset::{self, Part};
use std::path::PathBuf;
use trainer::augment::{Augment, Preset, image_key};

const BATCH: usize = 32;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let checkpoint = PathBuf::from(
        args.next()
            .ok_or("usage: skipped_rows CHECKPOINT [DATA_DIR [BATCHES]]")?,
    );
    let data = PathBuf::from(args.next().unwrap_or_else(|| "data".into()));
    let batches: usize = args.next().map_or(Ok(200), |b| b.parse())?;
    let params = picocnn_host::checkpoint::read(&checkpoint)?.params;
    let train = dataset::load_part(&data, Dataset::Mnist, Part::Train)?;
    let images = train.image_arrays();
    println!(
        "{} ({:?}), {batches} batches of {BATCH} training images spread over the set",
        checkpoint.display(),
        params.variant
    );
    for (name, preset) in [
        ("none", Preset::None),
        ("light", Preset::Light),
        ("strong", Preset::Strong),
    ] {
        let augment = Augment::preset(preset, Dataset::Mnist);
        let mut skipped = 0usize;
        let mut rows = 0usize;
        for b in 0..batches {
            let mut alive = vec![false; map_rows(params.variant)];
            for i in 0..BATCH {
                // A fixed stride through the set: batches of unrelated images, as shuffled.
                let index = (b * BATCH + i) * 7919 % images.len();
                let mut image = images[index];
                if !augment.is_identity() {
                    augment.apply(&images[index], image_key(0, 1, index), &mut image);
                }
                mark_nonzero(&params, &image, &mut alive);
            }
            skipped += alive.iter().filter(|&&a| !a).count();
            rows += alive.len();
        }
        println!(
            "--augment {name:<6}: {:.1} % of the hidden layer's input rows are zero for the whole batch",
            100.0 * skipped as f64 / rows as f64
        );
    }
    Ok(())
}

/// Rows of the map the hidden layer reads: the convolution's (A) or the pooled one (B).
fn map_rows(variant: Variant) -> usize {
    match variant {
        Variant::NoPool => CONV_SIDE * CONV_SIDE * FILTERS,
        Variant::Pool => POOL_SIDE * POOL_SIDE * FILTERS,
    }
}

/// Marks the rows where this image's value after convolution, ReLU (and pooling) is not 0.
fn mark_nonzero(
    params: &picocnn_host::params::Params,
    image: &[u8; IMAGE_PIXELS],
    alive: &mut [bool],
) {
    let pixel = |y: usize, x: usize| f32::from(image[y * IMAGE_SIDE + x]) / 255.0;
    let mut conv = vec![0.0f32; CONV_SIDE * CONV_SIDE * FILTERS];
    for y in 0..CONV_SIDE {
        for x in 0..CONV_SIDE {
            for f in 0..FILTERS {
                let mut s = params.conv_b[f];
                for ky in 0..KERNEL_SIDE {
                    for kx in 0..KERNEL_SIDE {
                        s += params.conv_w[f * 9 + ky * 3 + kx] * pixel(y + ky, x + kx);
                    }
                }
                conv[(y * CONV_SIDE + x) * FILTERS + f] = s.max(0.0);
            }
        }
    }
    match params.variant {
        Variant::NoPool => {
            for (a, &v) in alive.iter_mut().zip(&conv) {
                *a |= v > 0.0;
            }
        }
        Variant::Pool => {
            for py in 0..POOL_SIDE {
                for px in 0..POOL_SIDE {
                    for f in 0..FILTERS {
                        let at = |y: usize, x: usize| conv[(y * CONV_SIDE + x) * FILTERS + f];
                        let (y, x) = (2 * py, 2 * px);
                        let m = at(y, x)
                            .max(at(y, x + 1))
                            .max(at(y + 1, x))
                            .max(at(y + 1, x + 1));
                        alive[(py * POOL_SIDE + px) * FILTERS + f] |= m > 0.0;
                    }
                }
            }
        }
    }
}
