//! CPU cost of one augmented image per preset, single-threaded: run it under `time` and
//! divide the user seconds by the images (printed), or read the wall figure on an idle
//! machine. `cargo run --release -p trainer --example augment_cost [IMAGES]`.

use picocnn::Dataset;
use picocnn::shape::IMAGE_PIXELS;
use std::time::Instant;
use trainer::augment::{Augment, Preset, image_key};

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(200_000);
    let mut image = [0u8; IMAGE_PIXELS];
    for i in 5..23 {
        image[i * 28 + 14] = 255;
        image[8 * 28 + i] = 200;
    }
    for (name, preset, dataset) in [
        ("mnist light", Preset::Light, Dataset::Mnist),
        ("mnist strong", Preset::Strong, Dataset::Mnist),
        ("fashion light", Preset::Light, Dataset::Fashion),
    ] {
        let aug = Augment::preset(preset, dataset);
        let mut out = [0u8; IMAGE_PIXELS];
        let mut sum = 0u64;
        let start = Instant::now();
        for i in 0..n {
            aug.apply(&image, image_key(0, 1, i), &mut out);
            sum += u64::from(out[14 * 28 + 14]);
        }
        let wall = start.elapsed().as_secs_f64();
        println!(
            "{name}: {:.2} us/image wall over {n} images (checksum {sum})",
            1e6 * wall / n as f64
        );
    }
}
