//! The numeric kernels of training, and the one place that picks their implementation.
//!
//! Every kernel exists in each backend, an implementation of [`Kernels`]: [`Scalar`],
//! plain loops that are always compiled and serve as the reference, and `Avx2`, AVX2/FMA
//! versions through `safe_arch`, compiled only when the build enables those target features
//! (the repository's host rustflags do on x86_64; `build.rs` then sets the `avx2_kernels`
//! cfg). The functions in this module check the shapes once and forward to [`Active`], the
//! backend this build runs; no other module names a backend, so what a build runs is
//! decided here alone.
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
//! - pooled output: `(y * POOL_SIDE + x) * FILTERS + f` rows; its `argmax` companion has
//!   the same layout.
//! - dense weights: `w[i * n_out + j]`, input `i` to output `j` (see [`picocnn_host::params`]).
//! - a dense layer's output gradient comes in two forms: `dyt` (`n_out x bp`, the
//!   activation layout) for the input gradient and `dy` (`bp x n_out`) for the weight
//!   gradient, because each kernel wants the dimension it vectorizes over innermost.
//!
//! Sums run in a fixed order inside each kernel, so a kernel's result depends only on its
//! inputs: callers get bit-identical results whatever the threads do, provided they split
//! work and combine partial results the same way every time.

use picocnn::shape::{CONV_SIDE, FILTERS, IMAGE_PIXELS, KERNEL_TAPS, POOL_SIDE};

#[cfg(avx2_kernels)]
mod avx;
mod backend;
mod geometry;
mod scalar;

#[cfg(avx2_kernels)]
pub use avx::Avx2;
pub use backend::Kernels;
pub use scalar::Scalar;

/// The backend this build runs: `Avx2` when the build enables AVX2 and FMA, else [`Scalar`].
#[cfg(avx2_kernels)]
pub type Active = Avx2;
/// The backend this build runs: `Avx2` when the build enables AVX2 and FMA, else [`Scalar`].
#[cfg(not(avx2_kernels))]
pub type Active = Scalar;

/// The batch is padded to a multiple of this many images (one 256-bit vector of f32).
pub const LANES: usize = 8;

/// Which implementation this build runs: `"avx2+fma"` or `"scalar"`.
pub const IMPLEMENTATION: &str = Active::NAME;

/// True when this build compiled the AVX2/FMA kernels in (and therefore needs such a CPU).
pub const AVX2_COMPILED: bool = cfg!(avx2_kernels);

/// Positions of the convolution's output map.
pub const CONV_POSITIONS: usize = CONV_SIDE * CONV_SIDE;
/// Positions of the pooled map.
pub const POOL_POSITIONS: usize = POOL_SIDE * POOL_SIDE;
/// Convolution weights plus biases: the length of a convolution gradient.
pub const CONV_PARAMS: usize = FILTERS * KERNEL_TAPS + FILTERS;

/// The per-step constants of an Adam update (Keras's formulation).
///
/// With `t` the 1-based step: `m += (g - m) * (1 - beta1)`, `v += (g^2 - v) * (1 - beta2)`,
/// `w -= alpha * m / (sqrt(v) + epsilon)` where
/// `alpha = lr * sqrt(1 - beta2^t) / (1 - beta1^t)`.
///
/// New values of `m`, `v` and `w` that are subnormal are stored as zero, as TensorFlow's
/// CPU kernels do (they run with flush-to-zero). Without it the first moment of a weight
/// whose gradient stays zero decays into subnormals and sticks at the smallest one
/// (`0.9 * 1.4e-45` rounds back to `1.4e-45`); every later step then pays a microcode
/// assist per vector: on the development machine a tenth of variant B's moments got
/// there within 700 steps and each step became 2.4 times slower. For the same reason the
/// numerator `m * alpha` counts as zero when it would be subnormal; that is decided on
/// `|m|` before multiplying (see [`AdamStep::numerator_floor`]), so the CPU never has to
/// produce the subnormal only to flush it.
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

impl AdamStep {
    /// The smallest `|m|` whose product with `alpha` is a normal f32.
    pub fn numerator_floor(self) -> f32 {
        f32::MIN_POSITIVE / self.alpha
    }
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

/// Convolution (3x3 valid, stride 1) plus bias, then ReLU, at output positions
/// `first..first + n` (position `y * CONV_SIDE + x`), `n = out.len() / (FILTERS * bp)`.
///
/// `pixels` is `IMAGE_PIXELS x bp`; `out` is `n x FILTERS x bp`, rows `(position, filter)`.
///
/// # Panics
/// If the lengths disagree or the positions run past the feature map.
pub fn conv_forward(pixels: &[f32], w: &[f32], b: &[f32], first: usize, out: &mut [f32]) {
    let bp = padded_batch(pixels.len(), IMAGE_PIXELS);
    assert_eq!((w.len(), b.len()), (FILTERS * KERNEL_TAPS, FILTERS));
    assert!(out.len().is_multiple_of(FILTERS * bp));
    assert!(first + out.len() / (FILTERS * bp) <= CONV_POSITIONS);
    Active::conv_forward(pixels, w, b, first, out);
}

/// Weight and bias gradient of [`conv_forward`] at positions `first..`, through the ReLU.
///
/// `out` is what [`conv_forward`] produced there and `grad` the loss gradient with respect
/// to it; positions where `out <= 0` pass nothing. `dw` receives the sum over these
/// positions and the whole batch: `FILTERS x KERNEL_TAPS` weights, then `FILTERS` biases
/// (it is overwritten, not accumulated).
///
/// # Panics
/// If the lengths disagree or the positions run past the feature map.
pub fn conv_backward(pixels: &[f32], first: usize, out: &[f32], grad: &[f32], dw: &mut [f32]) {
    let bp = padded_batch(pixels.len(), IMAGE_PIXELS);
    assert_eq!(out.len(), grad.len());
    assert!(out.len().is_multiple_of(FILTERS * bp));
    assert!(first + out.len() / (FILTERS * bp) <= CONV_POSITIONS);
    assert_eq!(dw.len(), CONV_PARAMS);
    Active::conv_backward(pixels, first, out, grad, dw);
}

/// Convolution + ReLU + 2x2 max-pooling at pooled positions `first..first + n` (position
/// `y * POOL_SIDE + x`), without storing the convolution's output.
///
/// `pooled` (`n x FILTERS x bp`) receives each window's maximum and `argmax` which of the
/// window's four elements it is (0 top-left, 1 top-right, 2 bottom-left, 3 bottom-right,
/// as an f32), the first one on ties: all [`conv_pool_backward`] needs.
///
/// # Panics
/// If the lengths disagree or the positions run past the pooled map.
pub fn conv_pool_forward(
    pixels: &[f32],
    w: &[f32],
    b: &[f32],
    first: usize,
    pooled: &mut [f32],
    argmax: &mut [f32],
) {
    let bp = padded_batch(pixels.len(), IMAGE_PIXELS);
    assert_eq!((w.len(), b.len()), (FILTERS * KERNEL_TAPS, FILTERS));
    assert_eq!(pooled.len(), argmax.len());
    assert!(pooled.len().is_multiple_of(FILTERS * bp));
    assert!(first + pooled.len() / (FILTERS * bp) <= POOL_POSITIONS);
    Active::conv_pool_forward(pixels, w, b, first, pooled, argmax);
}

/// Weight and bias gradient of [`conv_pool_forward`] at pooled positions `first..`.
///
/// Each window's gradient reaches the convolution only at its maximal element, and only
/// when that maximum is positive (the ReLU before pooling passes nothing otherwise). `dw`
/// is overwritten as in [`conv_backward`].
///
/// # Panics
/// If the lengths disagree or the positions run past the pooled map.
pub fn conv_pool_backward(
    pixels: &[f32],
    first: usize,
    pooled: &[f32],
    argmax: &[f32],
    grad: &[f32],
    dw: &mut [f32],
) {
    let bp = padded_batch(pixels.len(), IMAGE_PIXELS);
    assert_eq!((argmax.len(), grad.len()), (pooled.len(), pooled.len()));
    assert!(pooled.len().is_multiple_of(FILTERS * bp));
    assert!(first + pooled.len() / (FILTERS * bp) <= POOL_POSITIONS);
    assert_eq!(dw.len(), CONV_PARAMS);
    Active::conv_pool_backward(pixels, first, pooled, argmax, grad, dw);
}

/// Partial dense layer: `y[j][b] = sum_i w[i][j] * x[i][b]` over the rows `i` given.
///
/// `x` is `rows x bp`, `w` is `rows x n_out`, `y` is `n_out x bp` and is overwritten (the
/// caller adds partial sums of different row ranges, and the bias, in a fixed order).
///
/// Rows of `x` that are zero for the whole batch are skipped: after a ReLU many are (38 %
/// of the hidden layer's input rows for variant A, 24 % for B, measured on MNIST batches of
/// 32), and adding `0 * w` leaves every sum unchanged, so the result has the same bits.
///
/// # Panics
/// If the lengths disagree.
pub fn dense_forward(x: &[f32], w: &[f32], n_out: usize, y: &mut [f32]) {
    let bp = padded_batch(y.len(), n_out);
    assert_eq!(x.len() % bp, 0);
    assert_eq!(w.len(), x.len() / bp * n_out);
    Active::dense_forward(x, w, n_out, y);
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
    Active::dense_input_grad(w, dyt, n_out, dxt);
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
    Active::dense_weight_grad(x, dy, n_out, g);
}

/// Backward pass of a dense layer whose input `x` comes from a ReLU (or a max-pool of
/// ReLU outputs), for the rows given: the weight gradient `g[i][j] = sum_b x[i][b] *
/// dy[b][j]` (`rows x n_out`, overwritten) and the input gradient where the input is
/// non-zero, `dx[i][b] = sum_j w[i][j] * dy[b][j]`, zero where `x[i][b] = 0` (`rows x bp`,
/// overwritten): the ReLU in front passes nothing back there anyway.
///
/// The output gradient comes in both layouts, `dy` (`bp x n_out`) and `dyt` (`n_out x bp`),
/// since each half vectorizes over a different dimension. Rows of `x` that are zero for
/// the whole batch are skipped (their weight gradient is zero), which changes no bit.
///
/// # Panics
/// If the lengths disagree.
pub fn dense_backward_masked(
    x: &[f32],
    dy: &[f32],
    dyt: &[f32],
    n_out: usize,
    w: &[f32],
    dx: &mut [f32],
    g: &mut [f32],
) {
    let bp = padded_batch(dy.len(), n_out);
    assert_eq!(dyt.len(), dy.len());
    assert!(x.len().is_multiple_of(bp));
    assert_eq!(
        (w.len(), g.len()),
        (x.len() / bp * n_out, x.len() / bp * n_out)
    );
    assert_eq!(dx.len(), x.len());
    Active::dense_backward_masked(x, dy, dyt, n_out, w, dx, g);
}

/// [`dense_backward_masked`] with the weight gradient applied by [`adam_update`] row by
/// row as soon as it is known (the input gradient uses the weights from before), never
/// stored. Bit-identical to the two in turn; what it saves is a pass over memory.
///
/// # Panics
/// If the lengths disagree.
#[allow(clippy::too_many_arguments)]
pub fn dense_backward_masked_adam(
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
    let bp = padded_batch(dy.len(), n_out);
    assert_eq!(dyt.len(), dy.len());
    assert!(x.len().is_multiple_of(bp));
    assert_eq!(w.len(), x.len() / bp * n_out);
    assert_eq!((m.len(), v.len()), (w.len(), w.len()));
    assert_eq!(dx.len(), x.len());
    Active::dense_backward_masked_adam(x, dy, dyt, n_out, w, m, v, step, dx);
}

/// One Adam step (see [`AdamStep`]) on `w` with moments `m`, `v` and gradient `g`.
///
/// # Panics
/// If the lengths differ.
pub fn adam_update(w: &mut [f32], m: &mut [f32], v: &mut [f32], g: &[f32], step: AdamStep) {
    assert_eq!((m.len(), v.len(), g.len()), (w.len(), w.len(), w.len()));
    Active::adam_update(w, m, v, g, step);
}
