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
//! - then edits of 6 bytes each: `op`, a little-endian `u32` offset, a byte `v`.
//!   `op & 3`: 0 set the byte to `v`, 1 xor it with `v`, 2 insert `v` before it,
//!   3 remove it; `op & 4` counts the offset from the end of the file, where the
//!   hidden and output layers' parameters are (the start holds names, scales and conv).
#![no_main]

use libfuzzer_sys::fuzz_target;
use picocnn::Variant;
use picocnn::shape::IMAGE_PIXELS;
use picocnn_fuzz::{check_model, fix_crc, fix_length, valid_model};
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
    for edit in edits.chunks_exact(6).take(64) {
        let [op, o0, o1, o2, o3, v] = *edit else {
            continue;
        };
        if bytes.is_empty() {
            break;
        }
        let offset = u32::from_le_bytes([o0, o1, o2, o3]) as usize % bytes.len();
        let at = if op & 4 != 0 {
            bytes.len() - 1 - offset
        } else {
            offset
        };
        match op & 3 {
            0 => bytes[at] = v,
            1 => bytes[at] ^= v,
            2 => bytes.insert(at, v),
            _ => {
                bytes.remove(at);
            }
        }
    }
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
