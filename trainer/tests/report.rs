//! The summary's totals against DESIGN.md, and every plot written as a real PNG.
//!
//! Set `PICOCNN_KEEP_PLOTS=DIR` to keep the synthetic plots for a look.

use std::path::{Path, PathBuf};

use picocnn::shape::{CLASSES, IMAGE_PIXELS, IMAGE_SIDE};
use picocnn::{Dataset, Variant};
use trainer::error::Error;
use trainer::history::{EpochRecord, History};
use trainer::report::{
    self, Comparison, Confusion, Sample, VariantFigures, plot_comparison, plot_confusion,
    plot_prediction_grid, plot_probabilities, plot_training_curves,
};

#[test]
fn summary_totals_match_the_design() {
    let a = report::summary(Variant::NoPool);
    let b = report::summary(Variant::Pool);
    assert_eq!(a.params(), 2_770_634);
    assert_eq!(b.params(), 693_962);
    // DESIGN.md: ~2.96 M and ~0.89 M MACs per image.
    assert_eq!(a.macs(), 2_964_864);
    assert_eq!(b.macs(), 888_192);
    assert_eq!(a.macs(), Variant::NoPool.macs());
    assert_eq!(b.macs(), Variant::Pool.macs());
    // A layer-by-layer engine holds input and output of the largest layer: the conv
    // (784 + 21,632) for A, the pool (21,632 + 5,408, DESIGN's "~27 KB") for B.
    assert_eq!(a.layerwise_ram_bytes(), 22_416);
    assert_eq!(b.layerwise_ram_bytes(), 27_040);
    for s in [&a, &b] {
        assert_eq!(s.fused_ram_bytes, picocnn::Scratch::BYTES);
        assert!(s.fused_ram_bytes <= 2048, "{}", s.fused_ram_bytes);
        // Int8 weights are one byte per float weight, so the int8 model is a bit over a
        // quarter of the f32 one (biases stay 4 bytes, plus requantization parameters).
        assert!(s.int8_bytes() > s.params() && s.int8_bytes() < s.params() + 4096);
    }
    let names: Vec<&str> = b.layers.iter().map(|l| l.name).collect();
    assert!(names.iter().any(|n| n.contains("max_pool")));
    assert!(!a.layers.iter().any(|l| l.name.contains("max_pool")));
}

#[test]
fn summary_prints_a_table_with_totals() {
    let text = report::summary(Variant::NoPool).to_string();
    assert!(text.contains("\"nopool\""), "{text}");
    assert!(text.contains("Total params: 2,770,634"), "{text}");
    assert!(text.contains("MACs per image: 2,964,864"), "{text}");
    assert!(text.contains("(26, 26, 32)"), "{text}");
    assert!(text.contains("(21632)"), "{text}");
    let pooled = report::summary(Variant::Pool).to_string();
    assert!(pooled.contains("(13, 13, 32)"), "{pooled}");
    assert!(pooled.contains("27,040"), "{pooled}");
    // Every table row is aligned: rows between the rules have the same width.
    let widths: Vec<usize> = text
        .lines()
        .filter(|l| l.starts_with(' '))
        .map(|l| l.trim_end().chars().count())
        .collect();
    assert!(widths.len() >= 7, "{text}");
}

/// Where a test writes a plot: a kept folder if asked for, else the temp dir.
fn out_path(dir: &Path, name: &str) -> PathBuf {
    match std::env::var_os("PICOCNN_KEEP_PLOTS") {
        Some(keep) => {
            std::fs::create_dir_all(&keep).unwrap();
            PathBuf::from(keep).join(name)
        }
        None => dir.join(name),
    }
}

/// The RGB pixels of a PNG and its width.
fn png_pixels(path: &Path) -> (Vec<[u8; 3]>, usize) {
    let file = std::fs::File::open(path).unwrap();
    let mut reader = png::Decoder::new(std::io::BufReader::new(file))
        .read_info()
        .unwrap();
    let mut bytes = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut bytes).unwrap();
    let pixels = bytes[..info.buffer_size()]
        .chunks_exact(3)
        .map(|p| [p[0], p[1], p[2]])
        .collect();
    (pixels, info.width as usize)
}

/// The colour at `(x, y)`.
fn pixel(image: &(Vec<[u8; 3]>, usize), (x, y): (i32, i32)) -> [u8; 3] {
    image.0[y as usize * image.1 + x as usize]
}

/// Decodes a PNG and checks it is RGB of the given size (or any size if `None`), with
/// a real amount of drawing on it; returns its size.
fn assert_drawn_png(path: &Path, size: Option<(u32, u32)>) -> (u32, u32) {
    let file = std::fs::File::open(path).unwrap();
    let mut reader = png::Decoder::new(std::io::BufReader::new(file))
        .read_info()
        .unwrap();
    let mut pixels = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut pixels).unwrap();
    assert_eq!(info.color_type, png::ColorType::Rgb);
    if let Some(size) = size {
        assert_eq!((info.width, info.height), size);
    }
    let rgb = &pixels[..info.buffer_size()];
    let total = rgb.len() / 3;
    let inked = rgb
        .chunks_exact(3)
        .filter(|p| p != &[255, 255, 255])
        .count();
    let colored = rgb
        .chunks_exact(3)
        .filter(|p| p[0].abs_diff(p[1]) > 40 || p[1].abs_diff(p[2]) > 40)
        .count();
    assert!(
        inked * 100 > total,
        "{}: only {inked} of {total} pixels drawn",
        path.display()
    );
    assert!(
        inked * 100 < total * 95,
        "{}: all {inked} pixels drawn",
        path.display()
    );
    assert!(colored > 100, "{}: no coloured pixels", path.display());
    (info.width, info.height)
}

fn history(variant: Variant, epochs: usize) -> History {
    let offset = if variant == Variant::Pool { 0.01 } else { 0.0 };
    History {
        variant,
        dataset: Dataset::Fashion,
        seed: 1,
        batch: 32,
        learning_rate: 0.001,
        augment: "none".into(),
        augment_params: "none".into(),
        lr_schedule: "constant".into(),
        warmup_epochs: 0,
        label_smoothing: 0.0,
        threads: 2,
        epochs: (1..=epochs)
            .map(|e| {
                let t = e as f64;
                EpochRecord {
                    epoch: e,
                    train_loss: 0.5 / t + offset,
                    train_accuracy: 0.85 + 0.02 * t - offset,
                    val_loss: 0.45 / t + 0.05 + offset,
                    val_accuracy: 0.86 + 0.012 * t - offset,
                    seconds: 10.0 + t,
                }
            })
            .collect(),
        test_accuracy: Some(0.9),
        test_accuracy_int8: None,
    }
}

/// A synthetic 28x28 image of class `k`: a ring whose radius and a bar whose angle
/// depend on the class, so images differ visibly.
fn image(k: usize, jitter: usize) -> Vec<u8> {
    let mut pixels = vec![0u8; IMAGE_PIXELS];
    let c = IMAGE_SIDE as f64 / 2.0 - 0.5;
    let radius = 4.0 + k as f64 * 0.8;
    let angle = k as f64 * 0.3 + jitter as f64 * 0.1;
    for (i, p) in pixels.iter_mut().enumerate() {
        let (y, x) = ((i / IMAGE_SIDE) as f64 - c, (i % IMAGE_SIDE) as f64 - c);
        let ring = ((x * x + y * y).sqrt() - radius).abs();
        let bar = (x * angle.sin() - y * angle.cos()).abs();
        let ink = (1.5 - ring).max(1.2 - bar).clamp(0.0, 1.0);
        *p = (ink * 255.0) as u8;
    }
    pixels
}

fn softmax(z: &[f32; CLASSES]) -> [f32; CLASSES] {
    let max = z.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let e = z.map(|v| (v - max).exp());
    let sum: f32 = e.iter().sum();
    e.map(|v| v / sum)
}

fn samples(n: usize) -> Vec<Sample> {
    (0..n)
        .map(|i| {
            let label = (i * 7 + 3) % CLASSES;
            // Every fifth prediction is wrong.
            let predicted = if i % 5 == 4 {
                (label + 1) % CLASSES
            } else {
                label
            };
            let mut logits = [0f32; CLASSES];
            for (k, z) in logits.iter_mut().enumerate() {
                *z = ((k * 13 + i * 5) % 11) as f32 - 6.0;
            }
            logits[predicted] = 9.0 - (i % 3) as f32 * 2.5;
            logits[label] = logits[label].max(logits[predicted] - 2.0);
            if label != predicted {
                logits[label] = logits[predicted] - 1.0;
            }
            Sample {
                pixels: image(label, i),
                label: label as u8,
                predicted: predicted as u8,
                logits,
                probabilities: softmax(&logits),
            }
        })
        .collect()
}

#[test]
fn training_curves_are_a_png() {
    let dir = tempfile::tempdir().unwrap();
    let path = out_path(dir.path(), "curves.png");
    let histories = [history(Variant::NoPool, 5), history(Variant::Pool, 5)];
    plot_training_curves(&histories, &path).unwrap();
    assert_drawn_png(&path, Some((1400, 560)));
    // One epoch (a degenerate x range) still draws.
    let one = dir.path().join("one.png");
    plot_training_curves(&[history(Variant::Pool, 1)], &one).unwrap();
    assert_drawn_png(&one, Some((1400, 560)));
}

/// Each curve's markers sit where its history's values are: in the series' own colour,
/// in epoch order from left to right, rising or falling as the values do, the variants in
/// the order of their values, and on one linear scale per panel.
#[test]
fn training_curves_put_every_epoch_where_its_value_is() {
    let dir = tempfile::tempdir().unwrap();
    let path = out_path(dir.path(), "curves-content.png");
    let histories = [history(Variant::NoPool, 5), history(Variant::Pool, 5)];
    let marks = plot_training_curves(&histories, &path).unwrap();
    assert_eq!(
        marks.len(),
        8,
        "2 panels x 2 variants x training/validation"
    );
    let image = png_pixels(&path);
    let value = |variant: Variant, accuracy: bool, validation: bool, epoch: usize| {
        let h = histories.iter().find(|h| h.variant == variant).unwrap();
        let r = &h.epochs[epoch];
        match (accuracy, validation) {
            (true, false) => r.train_accuracy,
            (true, true) => r.val_accuracy,
            (false, false) => r.train_loss,
            (false, true) => r.val_loss,
        }
    };
    let mut pixels_per_unit = Vec::new();
    for m in &marks {
        assert_eq!(m.points.len(), 5);
        let colour = match m.variant {
            Variant::NoPool => [31, 119, 180],
            Variant::Pool => [255, 127, 14],
        };
        if !m.validation {
            // Training markers are filled discs: their centre is the series' colour.
            for &p in &m.points {
                assert_eq!(pixel(&image, p), colour, "{m:?} at {p:?}");
            }
        }
        assert!(m.points.windows(2).all(|w| w[0].0 < w[1].0), "{m:?}");
        let first = value(m.variant, m.accuracy, m.validation, 0);
        let last = value(m.variant, m.accuracy, m.validation, 4);
        let (y0, y4) = (m.points[0].1, m.points[4].1);
        // Pixel rows grow downwards: a rising value moves up.
        assert_eq!(last > first, y4 < y0, "{m:?}");
        pixels_per_unit.push((m.accuracy, f64::from(y0 - y4) / (last - first)));
    }
    for panel in [true, false] {
        let scales: Vec<f64> = pixels_per_unit
            .iter()
            .filter(|(a, _)| *a == panel)
            .map(|&(_, s)| s)
            .collect();
        let (lo, hi) = scales
            .iter()
            .fold((f64::MAX, f64::MIN), |(lo, hi), &s| (lo.min(s), hi.max(s)));
        assert!(hi - lo < 0.03 * hi.abs(), "one scale per panel: {scales:?}");
    }
    // The last training accuracy of A is above B's (the history says 0.95 vs 0.94), its
    // last training loss below.
    let last_y = |variant, accuracy| {
        marks
            .iter()
            .find(|m| m.variant == variant && m.accuracy == accuracy && !m.validation)
            .unwrap()
            .points[4]
            .1
    };
    assert!(last_y(Variant::NoPool, true) < last_y(Variant::Pool, true));
    assert!(last_y(Variant::NoPool, false) > last_y(Variant::Pool, false));
}

#[test]
fn a_history_without_epochs_is_an_error_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("none.png");
    let err = plot_training_curves(&[history(Variant::Pool, 0)], &path).unwrap_err();
    assert!(matches!(err, Error::Plot { .. }), "{err}");
    assert!(err.to_string().contains("none.png"), "{err}");
    assert!(!path.exists());
}

#[test]
fn prediction_grid_and_probability_bars_are_pngs() {
    let dir = tempfile::tempdir().unwrap();
    let names = Dataset::Fashion.class_names();
    let grid = out_path(dir.path(), "grid.png");
    plot_prediction_grid(&samples(23), &names, "Predictions on test images", &grid).unwrap();
    let (w, h) = assert_drawn_png(&grid, None);
    assert!(w >= 1000 && h >= 400, "{w}x{h}");

    let bars = out_path(dir.path(), "probabilities.png");
    plot_probabilities(&samples(5)[2..5], &names, "synthetic", &bars).unwrap();
    assert_drawn_png(&bars, None);

    let bad = dir.path().join("bad.png");
    let mut wrong_size = samples(1);
    wrong_size[0].pixels.pop();
    let err = plot_prediction_grid(&wrong_size, &names, "x", &bad).unwrap_err();
    assert!(err.to_string().contains("783 pixels"), "{err}");
    assert!(plot_probabilities(&[], &names, "x", &bad).is_err());
    assert!(!bad.exists());
}

#[test]
fn confusion_counts_and_plot() {
    let labels: Vec<u8> = (0..1000).map(|i| (i % 10) as u8).collect();
    let predicted: Vec<u8> = labels
        .iter()
        .enumerate()
        .map(|(i, &l)| if i % 37 == 0 { (l + 3) % 10 } else { l })
        .collect();
    let confusion = Confusion::from_predictions(&labels, &predicted);
    assert_eq!(confusion.total(), 1000);
    let wrong = (0..1000).filter(|i| i % 37 == 0).count();
    assert!((confusion.accuracy() - (1000 - wrong) as f64 / 1000.0).abs() < 1e-12);
    assert_eq!(
        confusion.counts[0][3],
        (0..1000).filter(|i| i % 37 == 0 && i % 10 == 0).count() as u32
    );

    let dir = tempfile::tempdir().unwrap();
    for (dataset, name) in [
        (Dataset::Fashion, "confusion.png"),
        (Dataset::Mnist, "confusion-mnist.png"),
    ] {
        let path = out_path(dir.path(), name);
        plot_confusion(
            &confusion,
            &dataset.class_names(),
            "Confusion matrix",
            &path,
        )
        .unwrap();
        assert_drawn_png(&path, None);
    }
    // What the cells show: the diagonal is the darkest cell of every row, the one
    // confusion per row (class + 3) is coloured but lighter, every other cell is white.
    let path = out_path(dir.path(), "confusion-content.png");
    let grid = plot_confusion(
        &confusion,
        &Dataset::Mnist.class_names(),
        "Confusion matrix",
        &path,
    )
    .unwrap();
    let image = png_pixels(&path);
    let darkness = |t: usize, p: usize| {
        let (x, y) = grid.corner(t, p);
        // Near the corner, clear of the grid line and of the count in the middle.
        let c = pixel(&image, (x + 6, y + 6));
        765 - c.iter().map(|&v| u32::from(v)).sum::<u32>()
    };
    for t in 0..CLASSES {
        for p in 0..CLASSES {
            let d = darkness(t, p);
            if p == t {
                assert!(d > 400, "diagonal ({t},{p}): {d}");
            } else if p == (t + 3) % 10 {
                assert!(d > 0 && d < darkness(t, t), "confusion ({t},{p}): {d}");
            } else {
                assert_eq!(d, 0, "empty cell ({t},{p})");
            }
        }
    }

    let empty = Confusion::from_predictions(&[], &[]);
    assert!(
        plot_confusion(
            &empty,
            &Dataset::Mnist.class_names(),
            "x",
            &dir.path().join("e.png")
        )
        .is_err()
    );
}

#[test]
fn comparison_is_a_png_and_shows_missing_values() {
    let dir = tempfile::tempdir().unwrap();
    let path = out_path(dir.path(), "comparison.png");
    let comparison = Comparison {
        dataset: Dataset::Mnist,
        variants: vec![
            VariantFigures {
                variant: Variant::NoPool,
                accuracy_f32: Some(0.9812),
                accuracy_int8: Some(0.9807),
                params: Variant::NoPool.params(),
                flash_bytes: Some(report::summary(Variant::NoPool).int8_bytes()),
                peak_ram_bytes: Some(1200),
                layerwise_ram_bytes: Some(report::summary(Variant::NoPool).layerwise_ram_bytes()),
                seconds_per_epoch: Some(41.5),
                micros_per_inference: Some(820.0),
            },
            VariantFigures {
                variant: Variant::Pool,
                accuracy_f32: Some(0.9871),
                accuracy_int8: None,
                params: Variant::Pool.params(),
                flash_bytes: Some(report::summary(Variant::Pool).int8_bytes()),
                peak_ram_bytes: Some(1100),
                layerwise_ram_bytes: Some(report::summary(Variant::Pool).layerwise_ram_bytes()),
                seconds_per_epoch: Some(20.2),
                micros_per_inference: None,
            },
        ],
        notes: vec!["synthetic figures for the test".to_string()],
    };
    plot_comparison(&comparison, &path).unwrap();
    assert_drawn_png(&path, None);
}

/// Deterministic pseudo-random weights in `[-scale, scale)`.
fn random_params(variant: Variant, seed: u64) -> picocnn_host::params::Params {
    let mut state = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    let mut params = picocnn_host::params::Params::zeros(variant);
    for (t, tensor) in params.tensors_mut().into_iter().enumerate() {
        let scale = [0.5, 0.05, 0.02, 0.05, 0.2, 0.05][t];
        for w in tensor.iter_mut() {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let unit = (state >> 40) as f32 / (1u64 << 24) as f32;
            *w = (unit * 2.0 - 1.0) * scale;
        }
    }
    params
}

/// A folder with an exported int8 model and a history for both variants, and a data
/// folder with a small synthetic MNIST test set.
fn trained_folder(root: &Path, images: usize) -> (PathBuf, PathBuf) {
    let data = root.join("data");
    let models = root.join("models");
    std::fs::create_dir_all(data.join("mnist")).unwrap();
    std::fs::create_dir_all(&models).unwrap();
    let labels: Vec<u8> = (0..images).map(|i| (i % CLASSES) as u8).collect();
    let pixels: Vec<u8> = labels
        .iter()
        .enumerate()
        .flat_map(|(i, &l)| image(usize::from(l), i))
        .collect();
    picocnn_host::idx::write_images(
        &data.join("mnist/t10k-images-idx3-ubyte"),
        &picocnn_host::idx::Images {
            count: images,
            rows: IMAGE_SIDE,
            cols: IMAGE_SIDE,
            pixels: pixels.clone(),
        },
    )
    .unwrap();
    picocnn_host::idx::write_labels(&data.join("mnist/t10k-labels-idx1-ubyte"), &labels).unwrap();
    let split = picocnn_host::dataset::Split::new(pixels, labels).unwrap();
    for variant in Variant::ALL {
        let checkpoint = picocnn_host::params::Checkpoint {
            dataset: Dataset::Mnist,
            params: random_params(variant, variant as u64 + 7),
        };
        let calibration = picocnn_host::quantize::calibrate(&checkpoint, &split, images).unwrap();
        let model = picocnn_host::quantize::quantize(&checkpoint, &calibration).unwrap();
        let bytes = trainer::export::model_bytes(&model).unwrap();
        std::fs::write(models.join(format!("{}.bin", variant.name())), bytes).unwrap();
        let mut h = history(variant, 3);
        h.dataset = Dataset::Mnist;
        std::fs::write(
            models.join(format!("{}.history.json", variant.name())),
            serde_json::to_vec(&h).unwrap(),
        )
        .unwrap();
    }
    (models, data)
}

#[test]
fn report_renders_every_plot_for_a_folder_of_models() {
    let dir = tempfile::tempdir().unwrap();
    let (models, data) = trained_folder(dir.path(), 60);
    let out = match std::env::var_os("PICOCNN_KEEP_PLOTS") {
        Some(keep) => PathBuf::from(keep).join("report"),
        None => dir.path().join("plots"),
    };
    let report = report::write_report(&models, &data, &out).unwrap();

    let names: Vec<String> = report
        .files
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    for expected in [
        "training-curves.png",
        "nopool-predictions.png",
        "nopool-probabilities.png",
        "nopool-confusion.png",
        "pool-predictions.png",
        "pool-probabilities.png",
        "pool-confusion.png",
        "comparison.png",
        "augmented.png",
    ] {
        assert!(
            names.iter().any(|n| n == expected),
            "{expected} missing from {names:?}"
        );
    }
    for file in &report.files {
        assert!(file.starts_with(&out));
        assert_drawn_png(file, None);
    }

    // The comparison holds what was measured: the core's accuracy on these 60 images
    // (checked against the core run here), the file size, and Scratch's size.
    assert_eq!(report.comparison.variants.len(), 2);
    let test =
        picocnn_host::dataset::load_part(&data, Dataset::Mnist, picocnn_host::dataset::Part::Test)
            .unwrap();
    for figures in &report.comparison.variants {
        let bytes = std::fs::read(models.join(format!("{}.bin", figures.variant.name()))).unwrap();
        let model = picocnn::Model::from_bytes(&bytes).unwrap();
        let mut scratch = picocnn::Scratch::new();
        let right = test
            .iter()
            .filter(|(image, label)| {
                model.classify(*image, &mut scratch).unwrap().class == usize::from(*label)
            })
            .count();
        assert_eq!(figures.accuracy_int8, Some(right as f64 / 60.0));
        assert_eq!(figures.accuracy_f32, Some(0.9));
        assert_eq!(figures.flash_bytes, Some(bytes.len()));
        assert_eq!(figures.peak_ram_bytes, Some(picocnn::Scratch::BYTES));
        assert_eq!(figures.seconds_per_epoch, Some(12.0));
        assert!(figures.micros_per_inference.is_some_and(|us| us > 0.0));
        // The summary's tensor bytes are what the core finds in a real file.
        assert_eq!(
            report::summary(figures.variant).int8_bytes(),
            model.tensor_bytes()
        );
    }
    let table = report.comparison.to_string();
    assert!(
        table.contains("A (no pooling)") && table.contains("B (2x2 max-pooling)"),
        "{table}"
    );
}

#[test]
fn report_names_the_missing_or_broken_model_file() {
    let dir = tempfile::tempdir().unwrap();
    let (models, data) = trained_folder(dir.path(), 20);
    let out = dir.path().join("plots");

    std::fs::write(models.join("pool.bin"), b"PCNN but not a model").unwrap();
    let err = report::write_report(&models, &data, &out).unwrap_err();
    assert!(
        matches!(err, Error::Host(picocnn_host::Error::Frame { .. })),
        "{err}"
    );
    assert!(err.to_string().contains("pool.bin"), "{err}");

    std::fs::remove_file(models.join("pool.bin")).unwrap();
    let err = report::write_report(&models, &data, &out).unwrap_err();
    assert!(
        err.to_string().contains("pool.bin") && err.to_string().contains("export"),
        "{err}"
    );

    std::fs::write(models.join("pool.history.json"), b"{\"variant\": 3}").unwrap();
    std::fs::copy(models.join("nopool.bin"), models.join("pool.bin")).unwrap();
    let err = report::write_report(&models, &data, &out).unwrap_err();
    assert!(matches!(err, Error::HistoryFile { .. }), "{err}");

    let empty = dir.path().join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let err = report::write_report(&empty, &data, &out).unwrap_err();
    assert!(err.to_string().contains("no trained model"), "{err}");
}

fn trainer_command(args: &[&std::ffi::OsStr]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_trainer"))
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn cli_summary_prints_the_table_of_either_variant() {
    let a = trainer_command(&["summary".as_ref()]);
    assert!(a.status.success());
    let a = String::from_utf8(a.stdout).unwrap();
    assert_eq!(a, report::summary(Variant::NoPool).to_string());
    let b = trainer_command(&["summary".as_ref(), "--pooling".as_ref()]);
    assert!(b.status.success());
    let b = String::from_utf8(b.stdout).unwrap();
    assert!(
        b.contains("Total params: 693,962") && b.contains("max_pool"),
        "{b}"
    );
}

#[test]
fn cli_report_writes_the_plots_and_the_table() {
    let dir = tempfile::tempdir().unwrap();
    let (models, data) = trained_folder(dir.path(), 30);
    let out = dir.path().join("plots");
    let run = trainer_command(&[
        "report".as_ref(),
        models.as_os_str(),
        "--data".as_ref(),
        data.as_os_str(),
        "--out".as_ref(),
        out.as_os_str(),
    ]);
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(
        run.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert!(
        stdout.contains("comparison.png") && stdout.contains("B (2x2 max-pooling)"),
        "{stdout}"
    );
    assert_drawn_png(&out.join("comparison.png"), None);
    assert_drawn_png(&out.join("pool-confusion.png"), None);

    // A folder without models: exit 2 and one line naming it.
    let empty = dir.path().join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let run = trainer_command(&[
        "report".as_ref(),
        empty.as_os_str(),
        "--data".as_ref(),
        data.as_os_str(),
    ]);
    assert_eq!(run.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.starts_with("error: ") && stderr.contains("empty"),
        "{stderr}"
    );
    assert!(!empty.join("plots").exists());
}
