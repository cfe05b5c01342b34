//! Cortex-M (mps2-an385, mps2-an386 under QEMU): cortex-m-rt start-up, semihosting for
//! output and exit, a panic exits QEMU with status 1.

use cortex_m_rt::entry;
use cortex_m_semihosting::{debug, hprintln};
use panic_semihosting as _;
use picocnn::Scratch;

#[entry]
fn main() -> ! {
    // cortex-m-rt turns this into a `&'static mut` that only `main` can reach: the
    // activation RAM is a static, as a product would hold it.
    static mut SCRATCH: Scratch = Scratch::new();
    exit(crate::run(SCRATCH))
}

/// Prints one line on the host's standard output.
pub fn print(line: &str) {
    hprintln!("{}", line);
}

/// Ends the emulation with status 0 (`ok`) or 1.
pub fn exit(ok: bool) -> ! {
    debug::exit(if ok {
        debug::EXIT_SUCCESS
    } else {
        debug::EXIT_FAILURE
    });
    // Only reached without a debugger or emulator to exit to.
    loop {
        cortex_m::asm::wfi();
    }
}

/// One instruction that does nothing and cannot be optimized away.
pub fn nop() {
    cortex_m::asm::nop();
}
