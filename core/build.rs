//! Picks the kernels for the target being built, from its name: stable Rust exposes no
//! Arm target features to `cfg` (they are unstable), so this is the one place that
//! knows which instructions a target has.
//!
//! - `picocnn_smlal`: ARMv7-M, ARMv7E-M and ARMv8-M Mainline (32x32 -> 64-bit
//!   multiply-accumulate): the convolution packs two positions into one `SMLAL`.
//! - `picocnn_halfword`: ARMv7E-M (the DSP extension's 16 x 16 + 32 multiply-accumulates
//!   `SMLABB`/`SMLATB`, which LLVM emits from plain code): the hidden layer reads two
//!   activations per 32-bit load and multiplies each half in place.
//! - `picocnn_dsp`: the `dsp` feature on ARMv7E-M (`thumbv7em-*`), or on an ARMv8-M
//!   Mainline target built with `-C target-feature=+dsp`: the inline-assembly kernels.
//!   The feature on any other target is a build error naming the target.

use std::env;

fn main() {
    println!("cargo::rustc-check-cfg=cfg(picocnn_smlal)");
    println!("cargo::rustc-check-cfg=cfg(picocnn_halfword)");
    println!("cargo::rustc-check-cfg=cfg(picocnn_dsp)");
    println!("cargo::rerun-if-changed=build.rs");
    println!("cargo::rerun-if-env-changed=CARGO_ENCODED_RUSTFLAGS");
    let target = env::var("TARGET").unwrap_or_default();
    let flags = env::var("CARGO_ENCODED_RUSTFLAGS").unwrap_or_default();
    let mainline = target.starts_with("thumbv8m.main");
    if target.starts_with("thumbv7m") || target.starts_with("thumbv7em") || mainline {
        println!("cargo::rustc-cfg=picocnn_smlal");
    }
    let has_dsp = target.starts_with("thumbv7em") || (mainline && flags.contains("+dsp"));
    if has_dsp {
        println!("cargo::rustc-cfg=picocnn_halfword");
    }
    if env::var_os("CARGO_FEATURE_DSP").is_some() {
        let dsp = has_dsp;
        if dsp {
            println!("cargo::rustc-cfg=picocnn_dsp");
        } else {
            println!(
                "cargo::error=the `dsp` feature needs an Arm target with the DSP extension \
                 (thumbv7em-*: Cortex-M4/M7; thumbv8m.main-* with -C target-feature=+dsp: \
                 Cortex-M33/M35P/M55); {target} has no such instructions: build without it"
            );
        }
    }
}
