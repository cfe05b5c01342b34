//! The numeric kernels of training, and the one place that picks their implementation.
//!
//! Every kernel exists twice: [`scalar`], plain loops that are always compiled and serve as
//! the reference, and `avx`, AVX2/FMA versions through `safe_arch`, compiled only when the
//! build enables those target features (the repository's host rustflags do on x86_64).
//! The functions in this module check the shapes once and forward to one of the two; no
//! other module names an implementation, so what a build runs is decided here alone.
//!
//! # Layouts
//!
//! Activations are stored feature-major with the batch innermost: element `(i, b)` of an
//! activation with `n` features lives at `i * bp + b`, where `bp` is the batch padded to a
//! multiple of [`LANES`] (padding lanes hold zero images and zero gradients, so they add
//! exactly nothing to any weight gradient). With this layout every kernel vectorizes over
//! the batch or over output units, never needs a horizontal sum in an inner loop, and a
//! range of features (a few rows of the feature map) is one contiguous slice, which is how
//! work is split across threads.
//!
//! - pixels: `IMAGE_PIXELS x bp`, value in `[0, 1]`.
//! - convolution output: `(y * CONV_SIDE + x) * FILTERS + f` rows, after ReLU.
//! - pooled output: `(y * POOL_SIDE + x) * FILTERS + f` rows.
//! - dense weights: `w[i * n_out + j]`, input `i` to output `j` (see [`crate::params`]).
//! - a dense layer's output gradient comes in two forms: `dyt` (`n_out x bp`, the
//!   activation layout) for the input gradient and `dy` (`bp x n_out`) for the weight
//!   gradient, because each kernel wants the dimension it vectorizes over innermost.
//!
//! Sums run in a fixed order inside each kernel, so a kernel's result depends only on its
//! inputs: callers get bit-identical results whatever the threads do, provided they split
//! work and combine partial results the same way every time.

use picocnn::shape::{CONV_SIDE, FILTERS, IMAGE_PIXELS, KERNEL_TAPS, POOL_SIDE};

pub mod scalar;

#[cfg(all(
    target_arch = "x86_64",
    target_feature = "avx2",
    target_feature = "fma"
))]
pub mod avx;

#[cfg(all(
    target_arch = "x86_64",
    target_feature = "avx2",
    target_feature = "fma"
))]
use avx as active;
#[cfg(not(all(
    target_arch = "x86_64",
    target_feature = "avx2",
    target_feature = "fma"
)))]
use scalar as active;

/// The batch is padded to a multiple of this many images (one 256-bit vector of f32).
pub const LANES: usize = 8;

/// Which implementation this build runs: `"avx2+fma"` or `"scalar"`.
pub const IMPLEMENTATION: &str = if cfg!(all(
    target_arch = "x86_64",
    target_feature = "avx2",
    target_feature = "fma"
)) {
    "avx2+fma"
} else {
    "scalar"
};

/// True when this build compiled the AVX2/FMA kernels in (and therefore needs such a CPU).
pub const AVX2_COMPILED: bool = cfg!(all(
    target_arch = "x86_64",
    target_feature = "avx2",
    target_feature = "fma"
));

/// Floats of one convolution output row (all columns and filters) per batch lane.
pub const CONV_ROW: usize = CONV_SIDE * FILTERS;
/// Floats of one pooled output row per batch lane.
pub const POOL_ROW: usize = POOL_SIDE * FILTERS;
/// Convolution weights plus biases: the length of a convolution gradient.
pub const CONV_PARAMS: usize = FILTERS * KERNEL_TAPS + FILTERS;

/// The per-step constants of an Adam update (Keras's formulation).
///
/// With `t` the 1-based step: `m += (g - m) * (1 - beta1)`, `v += (g^2 - v) * (1 - beta2)`,
/// `w -= alpha * m / (sqrt(v) + epsilon)` where
/// `alpha = lr * sqrt(1 - beta2^t) / (1 - beta1^t)`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AdamStep {
    /// Bias-corrected step size for this step.
    pub alpha: f32,
    /// `1 - beta1`.
    pub one_minus_beta1: f32,
    /// `1 - beta2`.
    pub one_minus_beta2: f32,
    /// Added to `sqrt(v)` before dividing.
    pub epsilon: f32,
}

fn padded_batch(len: usize, per_lane: usize) -> usize {
    assert!(
        per_lane > 0 && len.is_multiple_of(per_lane),
        "buffer length {len} is not a multiple of {per_lane}"
    );
    let bp = len / per_lane;
    assert!(
        bp.is_multiple_of(LANES),
        "batch {bp} is not padded to a multiple of {LANES}"
    );
    bp
}

/// Convolution rows `first_row..` (3x3 valid, stride 1) plus bias, then ReLU.
///
/// `pixels` is `IMAGE_PIXELS x bp`; `out` receives whole output rows, `rows x CONV_ROW x bp`.
///
/// # Panics
/// If the lengths disagree or the rows run past the feature map.
pub fn conv_forward(pixels: &[f32], w: &[f32], b: &[f32], first_row: usize, out: &mut [f32]) {
    let bp = padded_batch(pixels.len(), IMAGE_PIXELS);
    assert_eq!((w.len(), b.len()), (FILTERS * KERNEL_TAPS, FILTERS));
    assert_eq!(out.len() % (CONV_ROW * bp), 0);
    assert!(first_row + out.len() / (CONV_ROW * bp) <= CONV_SIDE);
    active::conv_forward(pixels, w, b, first_row, out);
}

/// Weight and bias gradient of convolution rows `first_row..`, through the ReLU.
///
/// `out` is what [`conv_forward`] produced for those rows and `grad` the loss gradient
/// with respect to it; positions where `out <= 0` pass no gradient. `dw` receives the sum
/// over these rows and the whole batch: `FILTERS x KERNEL_TAPS` weights, then `FILTERS`
/// biases (it is overwritten, not accumulated).
///
/// # Panics
/// If the lengths disagree or the rows run past the feature map.
pub fn conv_backward(pixels: &[f32], first_row: usize, out: &[f32], grad: &[f32], dw: &mut [f32]) {
    let bp = padded_batch(pixels.len(), IMAGE_PIXELS);
    assert_eq!(out.len(), grad.len());
    assert_eq!(out.len() % (CONV_ROW * bp), 0);
    assert!(first_row + out.len() / (CONV_ROW * bp) <= CONV_SIDE);
    assert_eq!(dw.len(), CONV_PARAMS);
    active::conv_backward(pixels, first_row, out, grad, dw);
}

/// 2x2 max-pooling of two convolution rows into one pooled row.
///
/// `conv` is `2 x CONV_ROW x bp` (rows `2y` and `2y + 1`), `pooled` is `POOL_ROW x bp`.
///
/// # Panics
/// If the lengths disagree.
pub fn pool_forward(conv: &[f32], pooled: &mut [f32]) {
    let bp = padded_batch(pooled.len(), POOL_ROW);
    assert_eq!(conv.len(), 2 * CONV_ROW * bp);
    active::pool_forward(conv, pooled);
}

/// Gradient of [`pool_forward`]: each window's gradient goes to its first maximal element,
/// and to none when the maximum is not positive (the ReLU before pooling passes nothing
/// there), so the result is already the gradient at the convolution's pre-activation.
///
/// `grad_conv` (same shape as `conv`) is overwritten.
///
/// # Panics
/// If the lengths disagree.
pub fn pool_backward(conv: &[f32], pooled: &[f32], grad_pooled: &[f32], grad_conv: &mut [f32]) {
    let bp = padded_batch(pooled.len(), POOL_ROW);
    assert_eq!(conv.len(), 2 * CONV_ROW * bp);
    assert_eq!(grad_conv.len(), conv.len());
    assert_eq!(grad_pooled.len(), pooled.len());
    active::pool_backward(conv, pooled, grad_pooled, grad_conv);
}

/// Partial dense layer: `y[j][b] = sum_i w[i][j] * x[i][b]` over the rows `i` given.
///
/// `x` is `rows x bp`, `w` is `rows x n_out`, `y` is `n_out x bp` and is overwritten (the
/// caller adds partial sums of different row ranges, and the bias, in a fixed order).
///
/// # Panics
/// If the lengths disagree.
pub fn dense_forward(x: &[f32], w: &[f32], n_out: usize, y: &mut [f32]) {
    let bp = padded_batch(y.len(), n_out);
    assert_eq!(x.len() % bp, 0);
    assert_eq!(w.len(), x.len() / bp * n_out);
    active::dense_forward(x, w, n_out, y);
}

/// Input gradient of a dense layer for the rows given: `dxt[i][b] = sum_j w[i][j] dyt[j][b]`.
///
/// `w` is `rows x n_out`, `dyt` is `n_out x bp`, `dxt` is `rows x bp` and is overwritten.
///
/// # Panics
/// If the lengths disagree.
pub fn dense_input_grad(w: &[f32], dyt: &[f32], n_out: usize, dxt: &mut [f32]) {
    let bp = padded_batch(dyt.len(), n_out);
    assert_eq!(dxt.len() % bp, 0);
    assert_eq!(w.len(), dxt.len() / bp * n_out);
    active::dense_input_grad(w, dyt, n_out, dxt);
}

/// Weight gradient of a dense layer for the rows given: `g[i][j] = sum_b x[i][b] dy[b][j]`.
///
/// `x` is `rows x bp`, `dy` is `bp x n_out`, `g` is `rows x n_out` and is overwritten.
///
/// # Panics
/// If the lengths disagree.
pub fn dense_weight_grad(x: &[f32], dy: &[f32], n_out: usize, g: &mut [f32]) {
    let bp = padded_batch(dy.len(), n_out);
    assert_eq!(x.len() % bp, 0);
    assert_eq!(g.len(), x.len() / bp * n_out);
    active::dense_weight_grad(x, dy, n_out, g);
}

/// [`dense_weight_grad`] followed by [`adam_update`] on the same rows, without ever storing
/// the gradient: each tile is applied while it is still in registers. The result is
/// bit-identical to calling the two in turn; what it saves is a full pass over memory.
///
/// # Panics
/// If the lengths disagree.
#[allow(clippy::too_many_arguments)]
pub fn dense_weight_grad_adam(
    x: &[f32],
    dy: &[f32],
    n_out: usize,
    w: &mut [f32],
    m: &mut [f32],
    v: &mut [f32],
    step: AdamStep,
) {
    let bp = padded_batch(dy.len(), n_out);
    assert_eq!(x.len() % bp, 0);
    assert_eq!(w.len(), x.len() / bp * n_out);
    assert_eq!((m.len(), v.len()), (w.len(), w.len()));
    active::dense_weight_grad_adam(x, dy, n_out, w, m, v, step);
}

/// One Adam step (see [`AdamStep`]) on `w` with moments `m`, `v` and gradient `g`.
///
/// # Panics
/// If the lengths differ.
pub fn adam_update(w: &mut [f32], m: &mut [f32], v: &mut [f32], g: &[f32], step: AdamStep) {
    assert_eq!((m.len(), v.len(), g.len()), (w.len(), w.len(), w.len()));
    active::adam_update(w, m, v, g, step);
}
