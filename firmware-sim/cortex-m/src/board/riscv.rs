//! RISC-V rv32imc (QEMU `virt`, started with `-bios none`): riscv-rt start-up,
//! semihosting for output and exit, a panic exits QEMU with status 1.

use picocnn::Scratch;
use riscv_rt::entry;
use riscv_semihosting::{debug, hprintln};

#[entry]
fn main() -> ! {
    // riscv-rt has no `static mut` hand-over as cortex-m-rt has; `main` never returns,
    // so a scratch in its frame lives as long as a static would (it is counted as stack).
    let mut scratch = Scratch::new();
    exit(crate::run(&mut scratch))
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    hprintln!("panic: {}", info);
    exit(false)
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
    loop {
        riscv::asm::wfi();
    }
}

/// One instruction that does nothing and cannot be optimized away.
pub fn nop() {
    riscv::asm::nop();
}
