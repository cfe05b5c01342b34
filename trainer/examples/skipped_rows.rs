//! How much of the hidden layer's work the trainer skips, per augmentation preset: the
//! share of the hidden layer's input rows (one per position and filter of the map it
//! reads) that are zero for a whole batch of 32, which `kernels::dense_forward` and the
//! backward pass skip. Augmented digits spread their ink over more positions, so fewer
//! rows are skipped and an epoch does more multiply-adds, beside the transforms' own cost.
//!
//! `cargo run --release -p trainer --example skipped_rows -- CHECKPOINT [DATA_DIR [BATCHES]]`
//! with a trained MNIST checkpoint of either variant.

use picocnn::Dataset;
use picocnn_host::dataset::{self, Part};
use picocnn_host::reference::forward_f32;
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
            let mut alive = vec![false; params.variant.flat_len()];
            for i in 0..BATCH {
                // A fixed stride through the set: batches of unrelated images, as shuffled.
                let index = (b * BATCH + i) * 7919 % images.len();
                let mut image = images[index];
                if !augment.is_identity() {
                    augment.apply(&images[index], image_key(0, 1, index), &mut image);
                }
                // The f32 reference's features are the rows the hidden layer reads.
                let features = forward_f32(&params, &image).features;
                for (a, &v) in alive.iter_mut().zip(&features) {
                    *a |= v > 0.0;
                }
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
