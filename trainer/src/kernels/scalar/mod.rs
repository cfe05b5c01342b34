//! The reference kernels: plain loops, compiled on every target.
//!
//! They define what each kernel computes (see the checked functions in [`super`] for the
//! contracts) and are what a portable build runs. Loops keep the batch innermost so the
//! compiler can vectorize them for whatever the target offers.

mod adam;
mod conv;
mod dense;

use super::{AdamStep, Kernels};

/// The reference backend, always compiled: plain loops (see [`Kernels`]).
#[derive(Debug, Clone, Copy, Default)]
pub struct Scalar;

impl Kernels for Scalar {
    const NAME: &'static str = "scalar";

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
