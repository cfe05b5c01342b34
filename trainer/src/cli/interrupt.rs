//! Ctrl-C during a training run: finish the batch, save the state, exit 130.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use picocnn_host::cli::exit;

/// What Ctrl-C (SIGINT) does during `trainer`'s run. While training, the first press sets
/// `stop`: the batch in progress is finished, the state saved and the process exits with
/// 130. While the trained model is evaluated and written (`writing`, a few seconds), the
/// first press only says that the files are being finished, so that they stay one set. A
/// second press ends the process at once, also with 130; every output is written
/// atomically, so even then no file is left half-written.
pub(super) struct Interrupt {
    /// Set by the first Ctrl-C; training checks it before every batch.
    pub(super) stop: Arc<AtomicBool>,
    /// Set once training is over and the outputs are being written.
    pub(super) writing: Arc<AtomicBool>,
}

impl Interrupt {
    pub(super) fn install() -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let writing = Arc::new(AtomicBool::new(false));
        let (seen, late) = (Arc::clone(&stop), Arc::clone(&writing));
        // If a handler cannot be installed, Ctrl-C keeps its default: ending the process.
        let _ = ctrlc::set_handler(move || {
            if seen.swap(true, Ordering::SeqCst) {
                eprintln!("interrupted again: stopped at once, nothing more saved");
                std::process::exit(i32::from(exit::INTERRUPTED));
            }
            if late.load(Ordering::SeqCst) {
                eprintln!(
                    "Ctrl-C: training is done, finishing the model files (a few seconds); \
                     press it again to stop at once"
                );
            }
        });
        Self { stop, writing }
    }
}
