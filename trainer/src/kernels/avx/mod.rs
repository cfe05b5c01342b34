//! The AVX2/FMA kernels, through `safe_arch`; compiled only under `avx2_kernels` (x86_64
//! with both target features, see `build.rs`).
//!
//! Each kernel computes what its [`Scalar`](super::Scalar) namesake computes (the harness
//! in `tests/kernels.rs` holds them to it, exactly, on integer-valued inputs); only the
//! rounding differs, because products are fused into their sums. Adam is the exception:
//! it rounds step by step like the scalar kernel and agrees with it bit for bit.
//!
//! The convolutions are in [`conv`], the dense layers (register tiles, see [`tile`]) in
//! [`dense`], Adam in [`adam`]; this module holds the vector helpers they share.

mod adam;
mod conv;
mod dense;
mod tile;

use super::{AdamStep, Kernels, LANES};
use safe_arch::{
    fused_mul_add_m256, load_unaligned_m256, m256, set_splat_m256, store_unaligned_m256,
};

/// The AVX2/FMA backend (see [`Kernels`]).
#[derive(Debug, Clone, Copy, Default)]
pub struct Avx2;

impl Kernels for Avx2 {
    const NAME: &'static str = "avx2+fma";

    fn conv_forward(pixels: &[f32], w: &[f32], b: &[f32], first: usize, out: &mut [f32]) {
        conv::conv_forward(pixels, w, b, first, out);
    }

    fn conv_backward(pixels: &[f32], first: usize, out: &[f32], grad: &[f32], dw: &mut [f32]) {
        conv::conv_backward(pixels, first, out, grad, dw);
    }

    fn conv_pool_forward(
        pixels: &[f32],
        w: &[f32],
        b: &[f32],
        first: usize,
        pooled: &mut [f32],
        argmax: &mut [f32],
    ) {
        conv::conv_pool_forward(pixels, w, b, first, pooled, argmax);
    }

    fn conv_pool_backward(
        pixels: &[f32],
        first: usize,
        pooled: &[f32],
        argmax: &[f32],
        grad: &[f32],
        dw: &mut [f32],
    ) {
        conv::conv_pool_backward(pixels, first, pooled, argmax, grad, dw);
    }

    fn dense_forward(x: &[f32], w: &[f32], n_out: usize, y: &mut [f32]) {
        dense::dense_forward(x, w, n_out, y);
    }

    fn dense_input_grad(w: &[f32], dyt: &[f32], n_out: usize, dxt: &mut [f32]) {
        dense::dense_input_grad(w, dyt, n_out, dxt);
    }

    fn dense_weight_grad(x: &[f32], dy: &[f32], n_out: usize, g: &mut [f32]) {
        dense::dense_weight_grad(x, dy, n_out, g);
    }

    fn dense_backward_masked(
        x: &[f32],
        dy: &[f32],
        dyt: &[f32],
        n_out: usize,
        w: &[f32],
        dx: &mut [f32],
        g: &mut [f32],
    ) {
        dense::dense_backward_masked(x, dy, dyt, n_out, w, dx, g);
    }

    fn dense_backward_masked_adam(
        x: &[f32],
        dy: &[f32],
        dyt: &[f32],
        n_out: usize,
        w: &mut [f32],
        m: &mut [f32],
        v: &mut [f32],
        step: AdamStep,
        dx: &mut [f32],
    ) {
        dense::dense_backward_masked_adam(x, dy, dyt, n_out, w, m, v, step, dx);
    }

    fn adam_update(w: &mut [f32], m: &mut [f32], v: &mut [f32], g: &[f32], step: AdamStep) {
        adam::adam_update(w, m, v, g, step);
    }
}

/// Floats per vector.
const W: usize = 8;

#[inline(always)]
fn load(a: &[f32; W]) -> m256 {
    load_unaligned_m256(a)
}

#[inline(always)]
fn store(a: &mut [f32; W], v: m256) {
    store_unaligned_m256(a, v);
}

#[inline(always)]
fn splat(x: f32) -> m256 {
    set_splat_m256(x)
}

#[inline(always)]
fn fma(a: m256, b: m256, c: m256) -> m256 {
    fused_mul_add_m256(a, b, c)
}

/// Views a batch-padded buffer as vectors (its length is a multiple of [`W`]).
fn lanes(s: &[f32]) -> &[[f32; W]] {
    s.as_chunks::<W>().0
}

fn lanes_mut(s: &mut [f32]) -> &mut [[f32; W]] {
    s.as_chunks_mut::<W>().0
}

// The kernels view a padded batch as whole vectors.
const _: () = assert!(LANES.is_multiple_of(W));
