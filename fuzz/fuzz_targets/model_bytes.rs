//! `Model::from_bytes` on arbitrary bytes, then `classify` when a model is accepted.
//!
//! Seeded with a real exported model (scripts/fuzz.sh writes it), so mutations start from
//! the real layout; most mutations then fail the CRC, which is what this target is for:
//! magic, version, truncation, lengths and checksum. `model_mutate` goes past the CRC.
#![no_main]

use libfuzzer_sys::fuzz_target;
use picocnn_fuzz::{check_model, sample_image};

fuzz_target!(|bytes: &[u8]| {
    check_model(bytes, &sample_image(1));
});
