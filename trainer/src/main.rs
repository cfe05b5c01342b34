//! `trainer`: trains the picocnn CNNs; see `trainer --help`.

use picocnn_host::cli::exit;
use std::process::ExitCode;
use trainer::cli::{self, Cli};
use trainer::error::Error;
use trainer::kernels;

/// Whether this CPU can run this build's kernels: always for a portable build; for an
/// AVX2 build, when CPUID reports AVX2, FMA and an OS that saves vector state (OSXSAVE).
///
/// CPUID is queried directly because `is_x86_feature_detected!` answers `true` at compile
/// time for features the build enables. Nothing here may use vector instructions, nor may
/// anything before it: `main` calls this first, and the release profile does not LTO the
/// standard library (which would recompile its start-up code with AVX).
#[cfg(target_arch = "x86_64")]
fn cpu_supports_this_build() -> bool {
    if !kernels::AVX2_COMPILED {
        return true;
    }
    let leaf1 = std::arch::x86_64::__cpuid(1);
    let leaf7 = std::arch::x86_64::__cpuid_count(7, 0);
    let fma = leaf1.ecx & (1 << 12) != 0;
    let osxsave = leaf1.ecx & (1 << 27) != 0;
    let avx2 = leaf7.ebx & (1 << 5) != 0;
    fma && osxsave && avx2
}

#[cfg(not(target_arch = "x86_64"))]
fn cpu_supports_this_build() -> bool {
    true
}

/// Says, in one line, that this CPU cannot run this build, and exits with status 2.
#[cold]
#[inline(never)]
fn refuse_cpu() -> ! {
    let message = b"error: this trainer build uses AVX2/FMA instructions, which this CPU lacks; \
build a portable one: RUSTFLAGS=\"-C target-cpu=x86-64\" cargo build --release -p trainer\n";
    let _ = std::io::Write::write_all(&mut std::io::stderr(), message);
    std::process::exit(i32::from(exit::USAGE))
}

fn main() -> ExitCode {
    if !cpu_supports_this_build() {
        refuse_cpu();
    }
    let cli: Cli = match picocnn_host::cli::parse_or_exit() {
        Ok(cli) => cli,
        Err(status) => return status,
    };
    match cli::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        // Ctrl-C, SIGTERM, SIGHUP: the usual status of a process ended by that signal
        // (130, 143, 129), and the one-line hint.
        Err(e @ Error::Interrupted { .. }) => {
            eprintln!("{}", picocnn_host::cli::escaped(&e.to_string()));
            ExitCode::from(cli::interrupted_status())
        }
        Err(e) => {
            eprintln!("error: {}", picocnn_host::cli::escaped(&e.to_string()));
            ExitCode::from(exit::USAGE)
        }
    }
}
