//! The trainer's resume-file reader (`--resume`) on arbitrary bytes (seeded with a valid
//! state): a typed one-line error or a state whose parameters and Adam moments have the
//! variant's shapes, and never an allocation the input cannot justify.
#![no_main]

use libfuzzer_sys::fuzz_target;
use picocnn_fuzz::check_trainer_error;
use std::path::Path;

fuzz_target!(|bytes: &[u8]| {
    let path = Path::new("fuzz.resume");
    match trainer::resume::from_bytes(bytes, path) {
        Ok(state) => {
            assert!(state.params.has_valid_shapes());
            assert!(state.adam.m.has_valid_shapes() && state.adam.v.has_valid_shapes());
        }
        Err(e) => check_trainer_error(&e, path),
    }
});
