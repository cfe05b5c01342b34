//! The smallest firmware that uses picocnn, as docs/firmware.md describes it: the model
//! linked into flash with `include_bytes!`, one `static` Scratch, the model validated
//! once at boot, one image classified with the integer-only entry, the result printed
//! over semihosting. No `unsafe`, no allocator, no float arithmetic.
//!
//! Run it under QEMU (Cortex-M4F board; `build.rs` copies the files named by the
//! variables into the build and writes the board's `memory.x`):
//!
//! ```text
//! cd firmware-sim/cortex-m
//! PICOCNN_FW_WEIGHTS=$PWD/../../out/mnist/pool.bin \
//! PICOCNN_FW_IMAGES=$PWD/digit.idx PICOCNN_FW_LABELS=$PWD/digit-labels.idx \
//!   cargo run --release --example minimal --target thumbv7em-none-eabihf
//! ```
//!
//! (`firmware-sim cut --index 0 --count 1 --out digit.idx --labels digit-labels.idx`
//! makes the image files; `.cargo/config.toml` runs the ELF with `qemu-system-arm`.)
#![no_std]
#![no_main]
#![forbid(unsafe_code)]

use cortex_m_rt::entry;
use cortex_m_semihosting::{debug, hprintln};
use panic_semihosting as _;
use picocnn::shape::IMAGE_PIXELS;
use picocnn::{Model, Scratch};

/// The model, in flash, read in place: any alignment will do.
static WEIGHTS: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/weights.bin"));
/// Test images, 784 bytes each; the first one is classified.
static IMAGES: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/images.bin"));

#[entry]
fn main() -> ! {
    // All activation RAM of an inference (1,344 bytes); cortex-m-rt hands `main` a
    // `&'static mut` to it.
    static mut SCRATCH: Scratch = Scratch::new();

    // Checks the file once: magic, version, length, CRC32, dimensions, shapes, ranges.
    let model = match Model::from_bytes(WEIGHTS) {
        Ok(model) => model,
        Err(error) => {
            hprintln!("the model is rejected: {}", error);
            exit(false)
        }
    };
    let Some(image) = IMAGES.first_chunk::<IMAGE_PIXELS>() else {
        hprintln!("no image linked in");
        exit(false)
    };
    // Class and integer logits; cannot fail.
    let logits = model.infer(image, SCRATCH);
    let name = model
        .class_names()
        .get(logits.class)
        .copied()
        .unwrap_or("?");
    hprintln!("{} ({})", logits, name);
    exit(true)
}

fn exit(ok: bool) -> ! {
    debug::exit(if ok {
        debug::EXIT_SUCCESS
    } else {
        debug::EXIT_FAILURE
    });
    loop {
        cortex_m::asm::wfi();
    }
}
