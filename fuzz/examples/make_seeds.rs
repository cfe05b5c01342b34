//! Writes the starting corpus of every fuzz target under the directory given as argument
//! (`<dir>/<target>/<name>`): small valid and borderline IDX files, raw and gzip, and a
//! real exported model. scripts/fuzz.sh runs it before fuzzing; the corpus itself is not
//! committed (a variant-B model is 0.7 MB), it is regenerated identically each time.

use flate2::Compression;
use flate2::write::GzEncoder;
use picocnn::Variant;
use picocnn_fuzz::{sample_image, valid_model};
use std::io::Write;
use std::path::{Path, PathBuf};

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::default());
    encoder.write_all(bytes).expect("writing to a Vec");
    encoder.finish().expect("writing to a Vec")
}

fn idx_images(count: u32, rows: u32, cols: u32, pixels: &[u8]) -> Vec<u8> {
    let mut bytes = Vec::new();
    for word in [0x0803, count, rows, cols] {
        bytes.extend_from_slice(&u32::to_be_bytes(word));
    }
    bytes.extend_from_slice(pixels);
    bytes
}

fn idx_labels(labels: &[u8]) -> Vec<u8> {
    let mut bytes = Vec::new();
    for word in [0x0801, labels.len() as u32] {
        bytes.extend_from_slice(&u32::to_be_bytes(word));
    }
    bytes.extend_from_slice(labels);
    bytes
}

fn write(dir: &Path, name: &str, bytes: &[u8]) {
    std::fs::create_dir_all(dir).expect("corpus directory");
    std::fs::write(dir.join(name), bytes).expect("corpus file");
}

fn with_mode(mode: u8, bytes: &[u8]) -> Vec<u8> {
    let mut v = vec![mode];
    v.extend_from_slice(bytes);
    v
}

fn main() {
    let root = PathBuf::from(std::env::args().nth(1).expect("usage: make_seeds DIR"));

    let idx = root.join("idx");
    let pixels: Vec<u8> = (0..3).flat_map(sample_image).collect();
    let images = idx_images(3, 28, 28, &pixels);
    let labels = idx_labels(&[7, 2, 1, 0, 4, 1, 4, 9]);
    write(&idx, "images", &with_mode(0, &images));
    write(&idx, "images_gz", &with_mode(0, &gzip(&images)));
    write(&idx, "images_via_gz", &with_mode(2, &images));
    write(
        &idx,
        "tiny_images",
        &with_mode(0, &idx_images(2, 1, 3, &[1, 2, 3, 4, 5, 6])),
    );
    write(&idx, "labels", &with_mode(1, &labels));
    write(&idx, "labels_gz", &with_mode(1, &gzip(&labels)));
    write(&idx, "labels_via_gz", &with_mode(3, &labels));
    let mut two_members = gzip(&labels[..5]);
    two_members.extend_from_slice(&gzip(&labels[5..]));
    write(&idx, "labels_two_gz_members", &with_mode(1, &two_members));
    // Mode 3 gzips the bytes again: gzip inside gzip, which the reader must refuse.
    write(
        &idx,
        "labels_gz_gzipped_again",
        &with_mode(3, &gzip(&labels)),
    );

    let model = valid_model(Variant::Pool);
    // The mutate target's length repair must leave an intact file as it is.
    let mut same = model.clone();
    picocnn_fuzz::fix_length(&mut same);
    assert!(same == model, "fix_length changed a valid file");
    let mut longer = model.clone();
    longer.insert(1000, 0);
    picocnn_fuzz::fix_length(&mut longer);
    picocnn_fuzz::fix_crc(&mut longer);
    let error = picocnn::Model::from_bytes(&longer).expect_err("an inserted byte");
    assert!(
        !matches!(
            error,
            picocnn::Error::ModelTruncated | picocnn::Error::ModelTrailingBytes
        ),
        "fix_length did not repair the length: {error}"
    );
    write(&root.join("model_bytes"), "valid_pool.bin", &model);
    write(&root.join("model_bytes"), "header_only", &model[..64]);

    let image = root.join("image_file");
    let digit = sample_image(5);
    write(&image, "idx", &with_mode(0, &idx_images(1, 28, 28, &digit)));
    write(
        &image,
        "idx_gz",
        &with_mode(1, &gzip(&idx_images(1, 28, 28, &digit))),
    );
    let mut pgm = b"P5\n# a comment\n28 28\n255\n".to_vec();
    pgm.extend_from_slice(&digit);
    write(&image, "pgm_p5", &with_mode(0, &pgm));
    let plain: Vec<String> = digit[..56].iter().map(u8::to_string).collect();
    let p2 = format!("P2\n14 4\n65535\n{}\n", plain.join(" "));
    write(&image, "pgm_p2", &with_mode(1, p2.as_bytes()));
    for (name, color, depth, channels) in [
        (
            "png_grey",
            png::ColorType::Grayscale,
            png::BitDepth::Eight,
            1,
        ),
        ("png_rgba", png::ColorType::Rgba, png::BitDepth::Eight, 4),
        (
            "png_grey16",
            png::ColorType::Grayscale,
            png::BitDepth::Sixteen,
            2,
        ),
    ] {
        let mut bytes = Vec::new();
        let mut encoder = png::Encoder::new(&mut bytes, 20, 12);
        encoder.set_color(color);
        encoder.set_depth(depth);
        let mut writer = encoder.write_header().expect("png header");
        let data: Vec<u8> = (0..20 * 12 * channels).map(|i| (i * 7) as u8).collect();
        writer.write_image_data(&data).expect("png data");
        writer.finish().expect("png end");
        write(&image, name, &with_mode(0, &bytes));
    }

    let params = picocnn_host::params::Params::zeros(Variant::Pool);
    let checkpoint = picocnn_host::params::Checkpoint {
        dataset: picocnn::Dataset::Fashion,
        params,
    };
    let ckpt = picocnn_host::checkpoint::to_bytes(&checkpoint).expect("encode a checkpoint");
    write(&root.join("checkpoint"), "zeros_pool.ckpt", &ckpt);
    write(&root.join("checkpoint"), "header_only", &ckpt[..64]);

    let state = picocnn_fuzz::ResumeFixture::new().state;
    let resume = trainer::resume::to_bytes(&state).expect("encode a resume state");
    let dir = root.join("resume");
    write(&dir, "valid", &with_mode(0, &resume));
    write(&dir, "header_only", &with_mode(0, &resume[..96]));
    write(&dir, "edit_nothing", &[1]);
    // Edits: a byte of the settings (past the 12-byte header and the seed) set to 2, and a
    // byte near the end (Adam's moments) xored.
    let mut edits = vec![0u8];
    edits.extend_from_slice(&u32::to_le_bytes(14));
    edits.push(2);
    edits.push(5);
    edits.extend_from_slice(&u32::to_le_bytes(1000));
    edits.push(0x7f);
    write(&dir, "edit_setting_and_moment", &with_mode(1, &edits));

    let mutate = root.join("model_mutate");
    for (flags, name) in [(0u8, "pool"), (1, "nopool"), (8, "pool_fix_length")] {
        let mut input = vec![flags];
        input.extend_from_slice(&sample_image(7));
        write(&mutate, name, &input);
    }
}
