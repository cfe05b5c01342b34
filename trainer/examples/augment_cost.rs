//! CPU cost of one augmented image per preset, single-threaded: run it under `time` and
//! divide the user seconds by the images (printed), or read the wall figure on an idle
//! machine. `cargo run --release -p trainer --example augment_cost [IMAGES [PRESET]]`,
//! PRESET one of `mnist-light`, `mnist-strong`, `fashion-light` (default: all three).

use picocnn::Dataset;
use picocnn::shape::IMAGE_PIXELS;
use std::time::Instant;
use trainer::augment::{Augment, Preset, image_key};

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(200_000);
    let only = std::env::args().nth(2);
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
        if only.as_deref().is_some_and(|o| o != name.replace(' ', "-")) {
            continue;
        }
        let aug = Augment::preset(preset, dataset);
        let mut out = [0u8; IMAGE_PIXELS];
        let mut sum = 0xcbf2_9ce4_8422_2325u64;
        let start = Instant::now();
        for i in 0..n {
            aug.apply(&image, image_key(0, 1, i), &mut out);
            sum = out.iter().fold(sum, |h, &b| {
                (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
            });
        }
        let wall = start.elapsed().as_secs_f64();
        println!(
            "{name}: {:.2} us/image wall over {n} images (FNV-1a of every output byte {sum:016x})",
            1e6 * wall / n as f64
        );
    }
}
