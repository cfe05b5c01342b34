//! Links only if nothing that `Model::from_bytes`, `Model::from_trusted_bytes`,
//! `Model::infer` and `Model::classify` reach can panic: the panic handler calls a
//! function that is defined nowhere, so one reachable panic leaves an undefined symbol
//! and the link fails. The weights and the image reach the core through
//! `core::hint::black_box`, so the compiler knows neither their length nor their
//! contents, as with weights received at run time. `scripts/firmware-check.sh` builds
//! this for every target; it is never run.
#![no_std]
#![no_main]
// The only unsafe item in the firmware: the declaration of the function that must not
// exist. It is never called if the binary links.
#![deny(unsafe_code)]

use core::hint::black_box;
use picocnn::{Model, Scratch};

static WEIGHTS: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/weights.bin"));
static IMAGES: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/images.bin"));

#[cfg_attr(target_arch = "arm", cortex_m_rt::entry)]
#[cfg_attr(target_arch = "riscv32", riscv_rt::entry)]
fn main() -> ! {
    let mut scratch = Scratch::new();
    let weights: &'static [u8] = black_box(WEIGHTS);
    let pixels: &[u8] = black_box(IMAGES);
    let mut checked = 0usize;
    if let Ok(model) = Model::from_bytes(weights)
        && let Ok(prediction) = model.classify(pixels, &mut scratch)
    {
        checked ^= prediction.class;
    }
    if let Ok(model) = Model::from_trusted_bytes(weights)
        && let Some(image) = pixels.first_chunk()
    {
        checked ^= model.infer(image, &mut scratch).class;
    }
    black_box(checked);
    loop {
        black_box(&mut scratch);
    }
}

#[panic_handler]
fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
    #[allow(unsafe_code)]
    unsafe extern "C" {
        /// Defined nowhere: if any panic is reachable, the link fails naming this symbol.
        safe fn picocnn_panic_is_reachable() -> !;
    }
    picocnn_panic_is_reachable()
}
