//! Ctrl-C, `kill` and a closed terminal during a training run: finish the batch, save the
//! state, exit 128 + the signal's number.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};

use picocnn_host::cli::exit;
use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
use signal_hook::iterator::Signals;

/// The signal that stopped training (0 before any); sets the exit status.
static RECEIVED: AtomicI32 = AtomicI32::new(0);

/// The exit status of a run stopped by a signal: 128 + its number, as a shell reports a
/// process the signal ended (130 for Ctrl-C, 143 for SIGTERM, 129 for SIGHUP).
pub fn status() -> u8 {
    match RECEIVED.load(Ordering::SeqCst) {
        signal @ 1..=127 => 128 + signal as u8,
        _ => exit::INTERRUPTED,
    }
}

/// What SIGINT (Ctrl-C), SIGTERM (`kill`, systemd, CI runners) and SIGHUP (the terminal
/// closed) do during `trainer`'s run; the three act alike. While training, the first one
/// sets `stop`: the batch in progress is finished, the state saved and the process exits
/// with 128 + the signal's number. While the trained model is evaluated and written
/// (`writing`, a few seconds), the first one only says that the files are being finished,
/// so that they stay one set. A second one ends the process at once, with the same kind of
/// status; every output is written atomically, so even then no file is left half-written.
///
/// `signal-hook` rather than `ctrlc`: `ctrlc` can catch SIGTERM and SIGHUP too, but does
/// not say which signal came, and the exit status must.
pub(super) struct Interrupt {
    /// Set by the first signal; training checks it before every batch.
    pub(super) stop: Arc<AtomicBool>,
    /// Set once training is over and the outputs are being written.
    pub(super) writing: Arc<AtomicBool>,
}

impl Interrupt {
    pub(super) fn install() -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let writing = Arc::new(AtomicBool::new(false));
        let (seen, late) = (Arc::clone(&stop), Arc::clone(&writing));
        // If the handler cannot be installed, the signals keep their default: ending the
        // process.
        if let Ok(mut signals) = Signals::new([SIGINT, SIGTERM, SIGHUP]) {
            std::thread::spawn(move || {
                for signal in signals.forever() {
                    let _ =
                        RECEIVED.compare_exchange(0, signal, Ordering::SeqCst, Ordering::SeqCst);
                    if seen.swap(true, Ordering::SeqCst) {
                        eprintln!("interrupted again: stopped at once, nothing more saved");
                        std::process::exit(128 + signal);
                    }
                    if late.load(Ordering::SeqCst) {
                        eprintln!(
                            "interrupted: training is done, finishing the model files (a few \
                             seconds); interrupt again to stop at once"
                        );
                    }
                }
            });
        }
        Self { stop, writing }
    }
}
