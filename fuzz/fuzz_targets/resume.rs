//! The trainer's resume-file reader (`--resume`) and the resumed training itself.
//!
//! Input layout: byte 0, bit 0 clear: the rest is the file, as is; bit 0 set: the rest
//! is edits ([`apply_edits`]) to a valid 8 MB state of a tiny run ([`ResumeFixture`]), far
//! past libFuzzer's 1 MiB input cap, so that decoded states with odd positions, tallies or
//! non-finite numbers get through. Any file must give a typed one-line error or a state of
//! the right shapes; a state that fits the run must then train to the end or stop with a
//! one-line error (a diverged loss), never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use picocnn_fuzz::{ResumeFixture, apply_edits, check_file_error};
use std::path::Path;
use std::sync::OnceLock;
use std::sync::atomic::AtomicBool;
use trainer::train::{Outcome, Silent, Start, train_resumable};

static FIXTURE: OnceLock<(ResumeFixture, Vec<u8>)> = OnceLock::new();

fuzz_target!(|input: &[u8]| {
    let Some((&mode, rest)) = input.split_first() else {
        return;
    };
    let (fixture, valid) = FIXTURE.get_or_init(|| {
        let fixture = ResumeFixture::new();
        let bytes = trainer::resume::to_bytes(&fixture.state).expect("encode a state");
        (fixture, bytes)
    });
    let edited;
    let bytes = if mode & 1 == 0 {
        rest
    } else {
        let mut copy = valid.clone();
        apply_edits(&mut copy, rest);
        edited = copy;
        &edited
    };
    let path = Path::new("fuzz.resume");
    let state = match trainer::resume::from_bytes(bytes, path) {
        Ok(state) => state,
        Err(e) => return check_file_error(&e, path),
    };
    assert!(state.params.has_valid_shapes());
    assert!(state.adam.m.has_valid_shapes() && state.adam.v.has_valid_shapes());
    if state.mismatch(&fixture.config, &fixture.train).is_some() {
        return;
    }
    let never = AtomicBool::new(false);
    match train_resumable(
        Start::Resume(Box::new(state)),
        &fixture.config,
        &fixture.train,
        &fixture.validation,
        &mut Silent,
        &never,
    ) {
        Ok(Outcome::Finished(params, records)) => {
            assert!(params.has_valid_shapes());
            assert_eq!(records.len(), fixture.config.epochs);
        }
        Ok(Outcome::Interrupted(_)) => panic!("stopped without a stop request"),
        Err(e) => {
            let message = e.to_string();
            assert!(!message.contains('\n'), "{message:?}");
        }
    }
});
