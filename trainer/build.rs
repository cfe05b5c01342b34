//! Names the one build condition the kernels depend on, so it is written once.
//!
//! `avx2_kernels` is set when the target is x86_64 and the build enables both AVX2 and FMA
//! (the repository's host rustflags do; a portable build with `-C target-cpu=x86-64` does
//! not). It has to be a `cfg` rather than a `cfg!()` test: `safe_arch` only defines its
//! AVX2 functions under those target features, so the code naming them must not be compiled
//! otherwise.

use std::env;

fn main() {
    println!("cargo::rustc-check-cfg=cfg(avx2_kernels)");
    println!("cargo::rerun-if-changed=build.rs");
    // Cargo describes the target (not the host running this script) in these variables.
    let arch = env::var("CARGO_CFG_TARGET_ARCH").unwrap_or_default();
    let features = env::var("CARGO_CFG_TARGET_FEATURE").unwrap_or_default();
    let enabled = |feature: &str| features.split(',').any(|f| f == feature);
    if arch == "x86_64" && enabled("avx2") && enabled("fma") {
        println!("cargo::rustc-cfg=avx2_kernels");
    }
}
