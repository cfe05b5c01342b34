//! What a kernel backend provides: one associated function per kernel.

use super::AdamStep;

/// A set of training kernels: [`Scalar`](super::Scalar), the reference, or
/// `Avx2`, compiled in builds with AVX2 and FMA (see [`Active`](super::Active)).
///
/// Each function is the kernel behind its namesake in [`super`], which documents the
/// contract and checks the shapes before calling [`Active`](super::Active)'s. The
/// backends take the shapes as checked: called directly with lengths that disagree, one may
/// panic or compute nonsense (never anything unsafe; there is no `unsafe` here).
///
/// Backends agree with [`Scalar`](super::Scalar) exactly when every product and partial
/// sum is exact (integer-valued inputs), and bit for bit in Adam, whatever the input;
/// `tests/kernels.rs` holds every compiled backend to that.
pub trait Kernels {
    /// How the build reports this backend (see [`IMPLEMENTATION`](super::IMPLEMENTATION)).
    const NAME: &'static str;

    /// See [`conv_forward`](super::conv_forward).
    fn conv_forward(pixels: &[f32], w: &[f32], b: &[f32], first: usize, out: &mut [f32]);

    /// See [`conv_backward`](super::conv_backward).
    fn conv_backward(pixels: &[f32], first: usize, out: &[f32], grad: &[f32], dw: &mut [f32]);

    /// See [`conv_pool_forward`](super::conv_pool_forward).
    fn conv_pool_forward(
        pixels: &[f32],
        w: &[f32],
        b: &[f32],
        first: usize,
        pooled: &mut [f32],
        argmax: &mut [f32],
    );

    /// See [`conv_pool_backward`](super::conv_pool_backward).
    fn conv_pool_backward(
        pixels: &[f32],
        first: usize,
        pooled: &[f32],
        argmax: &[f32],
        grad: &[f32],
        dw: &mut [f32],
    );

    /// See [`dense_forward`](super::dense_forward).
    fn dense_forward(x: &[f32], w: &[f32], n_out: usize, y: &mut [f32]);

    /// See [`dense_input_grad`](super::dense_input_grad).
    fn dense_input_grad(w: &[f32], dyt: &[f32], n_out: usize, dxt: &mut [f32]);

    /// See [`dense_weight_grad`](super::dense_weight_grad).
    fn dense_weight_grad(x: &[f32], dy: &[f32], n_out: usize, g: &mut [f32]);

    /// See [`dense_backward_masked`](super::dense_backward_masked).
    fn dense_backward_masked(
        x: &[f32],
        dy: &[f32],
        dyt: &[f32],
        n_out: usize,
        w: &[f32],
        dx: &mut [f32],
        g: &mut [f32],
    );

    /// See [`dense_backward_masked_adam`](super::dense_backward_masked_adam).
    #[allow(clippy::too_many_arguments)]
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
    );

    /// See [`adam_update`](super::adam_update).
    fn adam_update(w: &mut [f32], m: &mut [f32], v: &mut [f32], g: &[f32], step: AdamStep);
}
