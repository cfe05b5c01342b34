//! Edits applied to a valid exported model, with the CRC fixed afterwards, then
//! `Model::from_bytes` and `classify` on fuzzer-chosen pixels.
//!
//! Random bytes almost never get past a CRC32, so this target starts from a valid file
//! and lets the fuzzer choose what to change. Input layout:
//! - byte 0: bit 0 picks the variant (A, 2.7 MB, when set; B, 0.7 MB, otherwise),
//!   bit 1 keeps the stale CRC (to test the checksum on structural edits too),
//!   bit 2 passes a 783-byte image instead of 784,
//!   bit 3 rewrites the header's payload length to fit the edited file;
//! - 784 bytes of pixels (zero-filled if the input is shorter);
//! - then edits ([`apply_edits`]); counting from the end of the file reaches the hidden
//!   and output layers' parameters (the start holds names, scales and conv).
#![no_main]

use libfuzzer_sys::fuzz_target;
use picocnn::Variant;
use picocnn::shape::IMAGE_PIXELS;
use picocnn_fuzz::{apply_edits, check_model, fix_crc, fix_length, valid_model};
use std::sync::OnceLock;

static POOL: OnceLock<Vec<u8>> = OnceLock::new();
static NOPOOL: OnceLock<Vec<u8>> = OnceLock::new();

fuzz_target!(|input: &[u8]| {
    let Some((&flags, rest)) = input.split_first() else {
        return;
    };
    let base = if flags & 1 != 0 {
        NOPOOL.get_or_init(|| valid_model(Variant::NoPool))
    } else {
        POOL.get_or_init(|| valid_model(Variant::Pool))
    };
    let mut pixels = [0u8; IMAGE_PIXELS];
    let take = rest.len().min(IMAGE_PIXELS);
    pixels[..take].copy_from_slice(&rest[..take]);
    let edits = &rest[take..];

    let mut bytes = base.clone();
    apply_edits(&mut bytes, edits);
    if flags & 8 != 0 {
        fix_length(&mut bytes);
    }
    if flags & 2 == 0 {
        fix_crc(&mut bytes);
    }
    let image: &[u8] = if flags & 4 != 0 {
        &pixels[1..]
    } else {
        &pixels
    };
    check_model(&bytes, image);
});
