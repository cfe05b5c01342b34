//! The trainer's f32 checkpoint reader on arbitrary bytes (seeded with a valid checkpoint):
//! a typed one-line error or parameters of the right shapes, and never an allocation the
//! input cannot justify (postcard length prefixes are attacker-controlled).
#![no_main]

use libfuzzer_sys::fuzz_target;
use picocnn_fuzz::check_file_error;
use std::path::Path;

fuzz_target!(|bytes: &[u8]| {
    let path = Path::new("fuzz.ckpt");
    match picocnn_host::checkpoint::from_bytes(bytes, path) {
        Ok(checkpoint) => assert!(checkpoint.params.has_valid_shapes()),
        Err(e) => check_file_error(&e, path),
    }
});
