//! The picocnn core on a microcontroller, as a product would run it: the model and a set
//! of test images are linked into flash at build time (see `build.rs`), the activation
//! scratch is a `static` (on RISC-V, `main`'s frame), nothing is allocated. At boot the
//! model is validated once with its checksum and once more without (to count both), then
//! every image is classified with the integer-only entry and reported over semihosting as
//! one line,
//!
//! ```text
//! image <index> class <class> logits <l0> ... <l9>
//! ```
//!
//! which is the format `firmware-sim classify --lines` prints for the same images on the
//! host, so `scripts/firmware-check.sh` can compare the two byte for byte. QEMU exits with
//! status 0 when every image was classified, 1 otherwise (a panic exits with 1 too).
//!
//! Boards: `board/arm.rs` (Cortex-M under QEMU's mps2 boards), `board/riscv.rs` (rv32imc
//! under QEMU `virt`).
#![no_std]
#![no_main]
#![forbid(unsafe_code)]

#[cfg_attr(target_arch = "arm", path = "board/arm.rs")]
#[cfg_attr(target_arch = "riscv32", path = "board/riscv.rs")]
mod board;

use core::fmt::Write;
use picocnn::shape::{CLASSES, IMAGE_PIXELS};
use picocnn::{Logits, Model, Scratch};

static WEIGHTS: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/weights.bin"));
static IMAGES: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/images.bin"));
static LABELS: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/labels.bin"));
const BOARD: &str = env!("PICOCNN_FW_BOARD");

/// Classifies every linked-in image; false if the model is rejected.
fn run(scratch: &mut Scratch) -> bool {
    // Marks, in order (scripts/firmware-check.sh relies on it): an empty region (what a
    // pair of marks costs by itself), `from_bytes`, `from_trusted_bytes`, then one pair
    // around each inference.
    mark();
    mark();
    mark();
    let model = load(WEIGHTS);
    mark();
    mark();
    let trusted = load_trusted(WEIGHTS);
    mark();
    let model = match (model, trusted) {
        (Ok(model), Ok(_)) => model,
        (Err(error), _) | (_, Err(error)) => {
            line(format_args!("error: weights: {error}"));
            return false;
        }
    };
    let count = IMAGES.len() / IMAGE_PIXELS;
    line(format_args!(
        "board {} model {} {} images {}",
        BOARD,
        model.variant().name(),
        model.dataset().name(),
        count
    ));
    let mut correct = 0;
    let (images, _) = IMAGES.as_chunks::<IMAGE_PIXELS>();
    for (index, (image, &label)) in images.iter().zip(LABELS).enumerate() {
        mark();
        let logits = infer(&model, image, scratch);
        mark();
        correct += usize::from(logits.class == usize::from(label));
        report(index, logits.class, &logits.values);
    }
    line(format_args!("correct {correct}/{count}"));
    true
}

/// `Model::from_bytes`, kept out of `run` so that its stack frame exists only while it
/// runs (inlined, every callee's locals would sit in `run`'s frame for good).
#[inline(never)]
fn load(bytes: &'static [u8]) -> picocnn::Result<Model<'static>> {
    Model::from_bytes(bytes)
}

/// `Model::from_trusted_bytes` (no CRC), for the same reason.
#[inline(never)]
fn load_trusted(bytes: &'static [u8]) -> picocnn::Result<Model<'static>> {
    Model::from_trusted_bytes(bytes)
}

/// `Model::infer`, kept out of `run` for the same reason: the stack it uses is then
/// exactly what one inference needs.
#[inline(never)]
fn infer(model: &Model<'static>, image: &[u8; IMAGE_PIXELS], scratch: &mut Scratch) -> Logits {
    model.infer(image, scratch)
}

/// Prints one result line, built first so that it leaves in one semihosting call. Not
/// inlined: the line buffer and the formatting machinery stay off `run`'s frame, which
/// is on the stack during every inference.
#[inline(never)]
fn report(index: usize, class: usize, logits: &[i32; CLASSES]) {
    let mut text = heapless::String::<160>::new();
    // 10 logits of at most 11 characters and the prefix fit 160 bytes: no error possible.
    let _ = write!(text, "image {index} class {class} logits");
    for logit in logits {
        let _ = write!(text, " {logit}");
    }
    board::print(&text);
}

/// Prints a formatted line of at most 160 bytes (longer ones are cut).
#[inline(never)]
fn line(args: core::fmt::Arguments<'_>) {
    let mut text = heapless::String::<160>::new();
    let _ = text.write_fmt(args);
    board::print(&text);
}

/// Does nothing; the instruction-counting QEMU plugin samples its counters each time this
/// runs (`scripts/firmware-check.sh` passes its address), so the calls around `from_bytes`
/// and `infer` delimit exactly what is measured.
#[inline(never)]
fn mark() {
    board::nop();
}
