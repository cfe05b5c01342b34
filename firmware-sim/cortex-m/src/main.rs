//! The picocnn core on a Cortex-M, as a product would run it: the model and a set of test
//! images are linked into flash at build time (see `build.rs`), the activation scratch is
//! a `static`, nothing is allocated. At boot the model is validated once, then every image
//! is classified and reported over semihosting as one line,
//!
//! ```text
//! image <index> class <class> logits <l0> ... <l9>
//! ```
//!
//! which is the format `firmware-sim classify --lines` prints for the same images on the
//! host, so `scripts/firmware-check.sh` can compare the two byte for byte. QEMU exits with
//! status 0 when every image was classified, 1 otherwise (a panic exits with 1 too).
//!
//! No `unsafe` here: `cortex-m-rt`'s `#[entry]` turns the `static mut` below into a
//! `&'static mut` that only `main` can reach.
#![no_std]
#![no_main]
#![forbid(unsafe_code)]

use core::fmt::Write;
use cortex_m_rt::entry;
use cortex_m_semihosting::{debug, hprintln};
use panic_semihosting as _;
use picocnn::shape::{CLASSES, IMAGE_PIXELS};
use picocnn::{Model, Scratch};

static WEIGHTS: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/weights.bin"));
static IMAGES: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/images.bin"));
static LABELS: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/labels.bin"));
const BOARD: &str = env!("PICOCNN_FW_BOARD");

#[entry]
fn main() -> ! {
    static mut SCRATCH: Scratch = Scratch::new();
    let status = if run(SCRATCH) {
        debug::EXIT_SUCCESS
    } else {
        debug::EXIT_FAILURE
    };
    debug::exit(status);
    // Only reached without a debugger or emulator to exit to.
    loop {
        cortex_m::asm::wfi();
    }
}

/// Classifies every linked-in image; false if the model or an image is rejected.
fn run(scratch: &mut Scratch) -> bool {
    // An empty region first: what a pair of marks costs by itself, subtracted from the rest.
    mark();
    mark();
    mark();
    let model = load(WEIGHTS);
    mark();
    let model = match model {
        Ok(model) => model,
        Err(error) => {
            hprintln!("error: weights: {}", error);
            return false;
        }
    };
    let count = IMAGES.len() / IMAGE_PIXELS;
    hprintln!(
        "board {} model {} {} images {}",
        BOARD,
        model.variant().name(),
        model.dataset().name(),
        count
    );
    let mut correct = 0;
    for (index, (pixels, &label)) in IMAGES.chunks_exact(IMAGE_PIXELS).zip(LABELS).enumerate() {
        mark();
        let prediction = classify(&model, pixels, scratch);
        mark();
        let prediction = match prediction {
            Ok(prediction) => prediction,
            Err(error) => {
                hprintln!("error: image {}: {}", index, error);
                return false;
            }
        };
        correct += usize::from(prediction.class == usize::from(label));
        report(index, prediction.class, &prediction.logits);
    }
    hprintln!("correct {}/{}", correct, count);
    true
}

/// `Model::from_bytes`, kept out of `main` so that its stack frame exists only while it
/// runs (inlined, every callee's locals would sit in `main`'s frame for good).
#[inline(never)]
fn load(bytes: &'static [u8]) -> picocnn::Result<Model<'static>> {
    Model::from_bytes(bytes)
}

/// `Model::classify`, kept out of `main` for the same reason: the stack it uses is then
/// exactly what one inference needs.
#[inline(never)]
fn classify(
    model: &Model<'static>,
    pixels: &[u8],
    scratch: &mut Scratch,
) -> picocnn::Result<picocnn::Prediction> {
    model.classify(pixels, scratch)
}

/// Prints one result line, built first so that it leaves in one semihosting call. Not
/// inlined: the line buffer and the formatting machinery stay off `main`'s frame, which
/// is on the stack during every inference.
#[inline(never)]
fn report(index: usize, class: usize, logits: &[i32; CLASSES]) {
    let mut line = heapless::String::<160>::new();
    // 10 logits of at most 11 characters and the prefix fit 160 bytes: no error possible.
    let _ = write!(line, "image {index} class {class} logits");
    for logit in logits {
        let _ = write!(line, " {logit}");
    }
    hprintln!("{}", line);
}

/// Does nothing; the instruction-counting QEMU plugin samples its counters each time this
/// runs (`scripts/firmware-check.sh` passes its address), so the calls around `from_bytes`
/// and `classify` delimit exactly what is measured.
#[inline(never)]
fn mark() {
    cortex_m::asm::nop();
}
