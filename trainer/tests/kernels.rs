//! Every kernel of every compiled backend against the scalar reference, over odd shapes and
//! tails, by one harness generic over [`Kernels`].
//!
//! Inputs are small integers stored as f32, so every product and partial sum is exact and
//! any order of summation gives the same bits: the kernels must agree exactly. Adam, which
//! divides and takes square roots, rounds step by step the same way in every backend, so
//! it must agree bit for bit on any input. Each backend also keeps the contracts that
//! hold within one backend (the fused kernels equal the unfused ones; Adam flushes
//! subnormals). [`Scalar`] runs the harness too, against itself: what it then checks is
//! those contracts and the reference's own properties, which portable builds rely on.
//!
//! A build without AVX2 has nothing to compare and says so; with `PICOCNN_REQUIRE_AVX2=1`
//! (set by `scripts/test.sh`) that is a failure instead, so CI cannot skip silently.

use picocnn::shape::{CONV_SIDE, FILTERS, IMAGE_PIXELS, KERNEL_TAPS, POOL_SIDE};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseResult, TestRunner};
use std::fmt::Debug;
use std::panic::{self, UnwindSafe};
#[cfg(avx2_kernels)]
use trainer::kernels::Avx2;
use trainer::kernels::{
    self, AdamStep, CONV_PARAMS, CONV_POSITIONS, Kernels, POOL_POSITIONS, Scalar,
};

#[test]
fn avx2_kernels_are_compiled_in_when_required() {
    let required = std::env::var("PICOCNN_REQUIRE_AVX2").is_ok_and(|v| v == "1");
    if required && !kernels::AVX2_COMPILED {
        panic!(
            "PICOCNN_REQUIRE_AVX2=1 but this build has no AVX2/FMA kernels (check the rustflags)"
        );
    } else if !kernels::AVX2_COMPILED {
        eprintln!("AVX2/FMA kernels not compiled in: AVX2-vs-scalar comparisons skipped");
    }
}

#[test]
fn scalar_kernels_keep_their_contracts() {
    check_backend::<Scalar>();
}

#[cfg(avx2_kernels)]
#[test]
fn avx2_kernels_equal_the_scalar_ones() {
    check_backend::<Avx2>();
}

/// Runs every check on backend `K`, then fails naming each check that failed (their
/// messages, with the smallest failing input proptest found, are printed as they fail).
fn check_backend<K: Kernels>() {
    let failed: Vec<&str> = [
        run(dense_forward::<K>),
        run(dense_forward_over_several_blocks::<K>),
        run(dense_forward_skips_zero_rows::<K>),
        run(dense_input_grad::<K>),
        run(dense_weight_grad::<K>),
        run(dense_backward_masked::<K>),
        run(dense_backward_masked_adam::<K>),
        run(fused_backward_adam_equals_backward_then_adam::<K>),
        run(conv_forward::<K>),
        run(conv_backward::<K>),
        run(conv_pool_forward_and_backward::<K>),
        run(conv_pool_forward_is_conv_then_max_pool::<K>),
        run(adam_update::<K>),
        run(adam_flushes_subnormal_moments_to_zero::<K>),
    ]
    .into_iter()
    .flatten()
    .collect();
    assert!(
        failed.is_empty(),
        "{} kernels failed {} checks: {failed:#?}",
        K::NAME,
        failed.len()
    );
}

/// Runs one check; its name if it failed.
fn run<F: FnOnce() + UnwindSafe>(check: F) -> Option<&'static str> {
    panic::catch_unwind(check)
        .err()
        .map(|_| std::any::type_name::<F>())
}

/// Checks `property` on 48 cases drawn from `strategy`; panics with the smallest failing
/// case proptest finds.
fn for_all<S: Strategy>(strategy: S, property: impl Fn(S::Value) -> TestCaseResult)
where
    S::Value: Debug,
{
    let config = Config {
        cases: 48,
        failure_persistence: None,
        ..Config::default()
    };
    if let Err(e) = TestRunner::new(config).run(&strategy, property) {
        panic!("{e}");
    }
}

/// Integer-valued floats in `lo..=hi`.
fn ints(len: usize, lo: i8, hi: i8) -> impl Strategy<Value = Vec<f32>> {
    prop::collection::vec(lo..=hi, len).prop_map(|v| v.into_iter().map(f32::from).collect())
}

/// Activation-like rows: `rows x bp` small non-negative integers, about half of them zero,
/// and every third row entirely zero (as whole feature rows are for a batch of real images).
fn sparse_ints(rows: usize, bp: usize) -> impl Strategy<Value = Vec<f32>> {
    ints(rows * bp, -3, 3).prop_map(move |mut v| {
        for (r, row) in v.chunks_exact_mut(bp).enumerate() {
            for x in row.iter_mut() {
                if r % 3 == 1 || *x < 0.0 {
                    *x = 0.0;
                }
            }
        }
        v
    })
}

/// A batch padded to 1..=5 vectors.
fn padded_batch() -> impl Strategy<Value = usize> {
    (1usize..=5).prop_map(|v| v * kernels::LANES)
}

/// Shapes of a dense kernel: reduction rows, outputs (odd ones included) and padded batch.
fn dense_shape() -> impl Strategy<Value = (usize, usize, usize)> {
    (1usize..=20, 1usize..=40, padded_batch())
}

/// A range of positions, `(first, count)`, inside a map of `positions`.
fn position_range(positions: usize, longest: usize) -> impl Strategy<Value = (usize, usize)> {
    (0..positions).prop_flat_map(move |first| (Just(first), 1..=(positions - first).min(longest)))
}

fn adam_step() -> AdamStep {
    AdamStep {
        alpha: 1e-3,
        one_minus_beta1: 0.1,
        one_minus_beta2: 0.001,
        epsilon: 1e-7,
    }
}

/// `dy` (`bp x n_out`) in the activation layout (`n_out x bp`).
fn transposed(dy: &[f32], n_out: usize) -> Vec<f32> {
    let bp = dy.len() / n_out;
    (0..n_out * bp)
        .map(|k| dy[(k % bp) * n_out + k / bp])
        .collect()
}

fn bits(v: &[f32]) -> Vec<u32> {
    v.iter().map(|x| x.to_bits()).collect()
}

/// What `kernel` writes into a buffer of `len` NaNs (a lane it forgets stays NaN, which
/// equals nothing).
fn output(len: usize, kernel: impl FnOnce(&mut [f32])) -> Vec<f32> {
    let mut out = vec![f32::NAN; len];
    kernel(&mut out);
    out
}

fn dense_forward<K: Kernels>() {
    let strategy = dense_shape().prop_flat_map(|(rows, n_out, bp)| {
        (
            ints(rows * bp, -4, 4),
            ints(rows * n_out, -4, 4),
            Just(n_out),
        )
    });
    for_all(strategy, dense_forward_agrees::<K>);
}

/// Enough reduction rows for the AVX2 kernel's L1 blocking to take several blocks.
fn dense_forward_over_several_blocks<K: Kernels>() {
    let strategy = (300usize..=400, 1usize..=12).prop_flat_map(|(rows, n_out)| {
        (
            ints(rows * 8, -2, 2),
            ints(rows * n_out, -2, 2),
            Just(n_out),
        )
    });
    for_all(strategy, dense_forward_agrees::<K>);
}

/// Inputs with rows that are zero for the whole batch, which the kernels may skip.
fn dense_forward_skips_zero_rows<K: Kernels>() {
    let strategy = dense_shape().prop_flat_map(|(rows, n_out, bp)| {
        (
            sparse_ints(rows, bp),
            ints(rows * n_out, -4, 4),
            Just(n_out),
        )
    });
    for_all(strategy, dense_forward_agrees::<K>);
}

fn dense_forward_agrees<K: Kernels>((x, w, n_out): (Vec<f32>, Vec<f32>, usize)) -> TestCaseResult {
    let len = x.len() / (w.len() / n_out) * n_out;
    let want = output(len, |y| Scalar::dense_forward(&x, &w, n_out, y));
    let got = output(len, |y| K::dense_forward(&x, &w, n_out, y));
    prop_assert_eq!(want, got);
    Ok(())
}

fn dense_input_grad<K: Kernels>() {
    let strategy = dense_shape().prop_flat_map(|(rows, n_out, bp)| {
        (
            ints(rows * n_out, -4, 4),
            ints(n_out * bp, -4, 4),
            Just(n_out),
        )
    });
    for_all(strategy, |(w, dyt, n_out)| {
        let len = w.len() / n_out * (dyt.len() / n_out);
        let want = output(len, |dxt| Scalar::dense_input_grad(&w, &dyt, n_out, dxt));
        let got = output(len, |dxt| K::dense_input_grad(&w, &dyt, n_out, dxt));
        prop_assert_eq!(want, got);
        Ok(())
    });
}

fn dense_weight_grad<K: Kernels>() {
    let strategy = dense_shape().prop_flat_map(|(rows, n_out, bp)| {
        (ints(rows * bp, -4, 4), ints(bp * n_out, -4, 4), Just(n_out))
    });
    for_all(strategy, |(x, dy, n_out)| {
        let len = x.len() / (dy.len() / n_out) * n_out;
        let want = output(len, |g| Scalar::dense_weight_grad(&x, &dy, n_out, g));
        let got = output(len, |g| K::dense_weight_grad(&x, &dy, n_out, g));
        prop_assert_eq!(want, got);
        Ok(())
    });
}

/// A dense layer's backward inputs: `x` (with whole zero rows), `dy`, `n_out`, `w`.
type DenseBackward = (Vec<f32>, Vec<f32>, usize, Vec<f32>);

fn dense_backward_case() -> impl Strategy<Value = DenseBackward> {
    dense_shape().prop_flat_map(|(rows, n_out, bp)| {
        (
            sparse_ints(rows, bp),
            ints(bp * n_out, -4, 4),
            Just(n_out),
            ints(rows * n_out, -4, 4),
        )
    })
}

/// [`dense_backward_case`] plus Adam's moments `m` and `v`.
fn dense_backward_adam_case() -> impl Strategy<Value = (DenseBackward, Vec<f32>, Vec<f32>)> {
    dense_backward_case().prop_flat_map(|case| {
        let len = case.3.len();
        (Just(case), ints(len, -2, 2), ints(len, 0, 3))
    })
}

/// `dense_backward_masked` of `K`: the input gradient, then the weight gradient.
fn backward_masked<K: Kernels>(
    x: &[f32],
    dy: &[f32],
    n_out: usize,
    w: &[f32],
) -> (Vec<f32>, Vec<f32>) {
    let mut dx = vec![f32::NAN; x.len()];
    let mut g = vec![f32::NAN; w.len()];
    K::dense_backward_masked(x, dy, &transposed(dy, n_out), n_out, w, &mut dx, &mut g);
    (dx, g)
}

fn dense_backward_masked<K: Kernels>() {
    for_all(dense_backward_case(), |(x, dy, n_out, w)| {
        let (want_dx, want_g) = backward_masked::<Scalar>(&x, &dy, n_out, &w);
        let (got_dx, got_g) = backward_masked::<K>(&x, &dy, n_out, &w);
        prop_assert!(want_dx.iter().zip(&x).all(|(&d, &x)| x != 0.0 || d == 0.0));
        prop_assert_eq!(want_dx, got_dx);
        prop_assert_eq!(want_g, got_g);
        Ok(())
    });
}

/// `dense_backward_masked_adam` of `K` from weights `w` and moments `m`, `v`: the input
/// gradient and the new `w`, `m`, `v`.
fn backward_masked_adam<K: Kernels>(
    x: &[f32],
    dy: &[f32],
    n_out: usize,
    [mut w, mut m, mut v]: [Vec<f32>; 3],
) -> (Vec<f32>, [Vec<f32>; 3]) {
    let mut dx = vec![f32::NAN; x.len()];
    let dyt = transposed(dy, n_out);
    K::dense_backward_masked_adam(
        x,
        dy,
        &dyt,
        n_out,
        &mut w,
        &mut m,
        &mut v,
        adam_step(),
        &mut dx,
    );
    (dx, [w, m, v])
}

fn dense_backward_masked_adam<K: Kernels>() {
    for_all(dense_backward_adam_case(), |((x, dy, n_out, w), m, v)| {
        let state = [w, m, v];
        let (dx1, [w1, m1, v1]) = backward_masked_adam::<Scalar>(&x, &dy, n_out, state.clone());
        let (dx2, [w2, m2, v2]) = backward_masked_adam::<K>(&x, &dy, n_out, state);
        prop_assert_eq!(dx1, dx2);
        prop_assert_eq!(bits(&w1), bits(&w2));
        prop_assert_eq!(bits(&m1), bits(&m2));
        prop_assert_eq!(bits(&v1), bits(&v2));
        Ok(())
    });
}

/// The fused backward + Adam kernel equals the backward kernel followed by Adam, bit for
/// bit (it only avoids storing the gradient).
fn fused_backward_adam_equals_backward_then_adam<K: Kernels>() {
    for_all(dense_backward_adam_case(), |((x, dy, n_out, w), m, v)| {
        let (dx1, g) = backward_masked::<K>(&x, &dy, n_out, &w);
        let (mut w1, mut m1, mut v1) = (w.clone(), m.clone(), v.clone());
        K::adam_update(&mut w1, &mut m1, &mut v1, &g, adam_step());
        let (dx2, [w2, m2, v2]) = backward_masked_adam::<K>(&x, &dy, n_out, [w, m, v]);
        prop_assert_eq!(bits(&dx1), bits(&dx2));
        prop_assert_eq!(bits(&w1), bits(&w2));
        prop_assert_eq!(bits(&m1), bits(&m2));
        prop_assert_eq!(bits(&v1), bits(&v2));
        Ok(())
    });
}

/// A convolution's inputs over up to `longest` of a map's `positions`: `(first, count)`,
/// pixels in `0..=top`, weights and biases in `-reach..=reach`.
fn conv_case(
    positions: usize,
    longest: usize,
    top: i8,
    reach: i8,
) -> impl Strategy<Value = ((usize, usize), Vec<f32>, Vec<f32>, Vec<f32>)> {
    (position_range(positions, longest), padded_batch()).prop_flat_map(move |(r, bp)| {
        (
            Just(r),
            ints(IMAGE_PIXELS * bp, 0, top),
            ints(FILTERS * KERNEL_TAPS, -reach, reach),
            ints(FILTERS, -reach, reach),
        )
    })
}

fn conv_forward<K: Kernels>() {
    for_all(
        conv_case(CONV_POSITIONS, 60, 3, 2),
        |((first, n), pixels, w, b)| {
            let len = n * FILTERS * (pixels.len() / IMAGE_PIXELS);
            let want = output(len, |out| Scalar::conv_forward(&pixels, &w, &b, first, out));
            let got = output(len, |out| K::conv_forward(&pixels, &w, &b, first, out));
            prop_assert!(want.iter().any(|&o| o > 0.0) && want.contains(&0.0));
            prop_assert_eq!(want, got);
            Ok(())
        },
    );
}

fn conv_backward<K: Kernels>() {
    let strategy =
        (position_range(CONV_POSITIONS, 60), padded_batch()).prop_flat_map(|((first, n), bp)| {
            (
                Just((first, n, bp)),
                ints(IMAGE_PIXELS * bp, 0, 3),
                ints(n * FILTERS * bp, -1, 2),
                ints(n * FILTERS * bp, -3, 3),
            )
        });
    for_all(strategy, |((first, n, bp), pixels, out, grad)| {
        // Negative "outputs" stand for positions the ReLU cut; they must pass nothing.
        prop_assert_eq!(out.len(), n * FILTERS * bp);
        let want = output(CONV_PARAMS, |dw| {
            Scalar::conv_backward(&pixels, first, &out, &grad, dw)
        });
        let got = output(CONV_PARAMS, |dw| {
            K::conv_backward(&pixels, first, &out, &grad, dw)
        });
        prop_assert_eq!(want, got);
        Ok(())
    });
}

/// `conv_pool_forward` of `K`: the pooled maxima and their window elements.
fn conv_pool<K: Kernels>(
    pixels: &[f32],
    w: &[f32],
    b: &[f32],
    first: usize,
    len: usize,
) -> (Vec<f32>, Vec<f32>) {
    let mut argmax = vec![f32::NAN; len];
    let pooled = output(len, |pooled| {
        K::conv_pool_forward(pixels, w, b, first, pooled, &mut argmax)
    });
    (pooled, argmax)
}

fn conv_pool_forward_and_backward<K: Kernels>() {
    for_all(
        conv_case(POOL_POSITIONS, 20, 2, 1),
        |((first, n), pixels, w, b)| {
            // Tiny integers make ties and all-negative windows common: the tie rule is tested.
            let len = n * FILTERS * (pixels.len() / IMAGE_PIXELS);
            let (want, want_arg) = conv_pool::<Scalar>(&pixels, &w, &b, first, len);
            let (got, got_arg) = conv_pool::<K>(&pixels, &w, &b, first, len);
            prop_assert_eq!(&want, &got);
            prop_assert_eq!(&want_arg, &got_arg);

            let grad: Vec<f32> = (0..len).map(|i| (i % 7) as f32 - 3.0).collect();
            let want_dw = output(CONV_PARAMS, |dw| {
                Scalar::conv_pool_backward(&pixels, first, &want, &want_arg, &grad, dw)
            });
            let got_dw = output(CONV_PARAMS, |dw| {
                K::conv_pool_backward(&pixels, first, &want, &want_arg, &grad, dw)
            });
            prop_assert_eq!(want_dw, got_dw);
            Ok(())
        },
    );
}

/// The fused convolution + pooling kernel equals the convolution followed by 2x2
/// max-pooling (first maximum on ties).
fn conv_pool_forward_is_conv_then_max_pool<K: Kernels>() {
    let bp = 8;
    let pixels: Vec<f32> = (0..IMAGE_PIXELS * bp)
        .map(|i| ((i * 7919) % 5) as f32)
        .collect();
    let w: Vec<f32> = (0..FILTERS * KERNEL_TAPS)
        .map(|i| ((i * 31) % 5) as f32 - 2.0)
        .collect();
    // Every fourth filter has a bias low enough for whole windows to be cut by the ReLU.
    let b: Vec<f32> = (0..FILTERS)
        .map(|f| {
            if f % 4 == 0 {
                -12.0
            } else {
                (f % 3) as f32 - 1.0
            }
        })
        .collect();
    let conv = output(CONV_POSITIONS * FILTERS * bp, |out| {
        K::conv_forward(&pixels, &w, &b, 0, out)
    });
    let (pooled, argmax) = conv_pool::<K>(&pixels, &w, &b, 0, POOL_POSITIONS * FILTERS * bp);
    let (mut ties, mut zero_windows) = (0, 0);
    for py in 0..POOL_SIDE {
        for px in 0..POOL_SIDE {
            for f in 0..FILTERS {
                for lane in 0..bp {
                    let window: Vec<f32> = [(0, 0), (0, 1), (1, 0), (1, 1)]
                        .iter()
                        .map(|(dy, dx)| {
                            conv[(((2 * py + dy) * CONV_SIDE + 2 * px + dx) * FILTERS + f) * bp
                                + lane]
                        })
                        .collect();
                    let max = window.iter().copied().fold(f32::MIN, f32::max);
                    let first = window.iter().position(|&c| c == max).unwrap();
                    let at = ((py * POOL_SIDE + px) * FILTERS + f) * bp + lane;
                    assert_eq!(
                        (pooled[at], argmax[at]),
                        (max, first as f32),
                        "window {py},{px} filter {f}"
                    );
                    ties +=
                        usize::from(window.iter().filter(|&&c| c == max).count() > 1 && max > 0.0);
                    zero_windows += usize::from(max == 0.0);
                }
            }
        }
    }
    assert!(
        ties > 100 && zero_windows > 100,
        "ties {ties}, all-zero windows {zero_windows}"
    );
}

fn adam_update<K: Kernels>() {
    let strategy = (1usize..=70).prop_flat_map(|n| {
        (
            prop::collection::vec(-1.0f32..1.0, n),
            prop::collection::vec(-1e-2f32..1e-2, n),
            prop::collection::vec(0.0f32..1e-3, n),
            prop::collection::vec(-0.1f32..0.1, n),
        )
    });
    for_all(strategy, |(w, m, v, g)| {
        let (mut w1, mut m1, mut v1) = (w.clone(), m.clone(), v.clone());
        let (mut w2, mut m2, mut v2) = (w, m, v);
        Scalar::adam_update(&mut w1, &mut m1, &mut v1, &g, adam_step());
        K::adam_update(&mut w2, &mut m2, &mut v2, &g, adam_step());
        prop_assert_eq!(bits(&w1), bits(&w2));
        prop_assert_eq!(bits(&m1), bits(&m2));
        prop_assert_eq!(bits(&v1), bits(&v2));
        Ok(())
    });
}

/// Adam stores subnormal results as zero (TensorFlow's flush-to-zero): a first moment
/// decaying under a zero gradient reaches zero instead of sticking at the smallest
/// subnormal, which would make every later step slow.
fn adam_flushes_subnormal_moments_to_zero<K: Kernels>() {
    let tiny = f32::from_bits(1);
    let mut w = vec![0.5; 3];
    let mut m = vec![1.05 * f32::MIN_POSITIVE, tiny, 2.0 * f32::MIN_POSITIVE];
    let mut v = vec![1.0; 3];
    K::adam_update(&mut w, &mut m, &mut v, &[0.0; 3], adam_step());
    assert_eq!(m, [0.0, 0.0, 0.9 * 2.0 * f32::MIN_POSITIVE]);
    // Without the flush, 0.9 * tiny rounds back to tiny: stuck forever.
    assert_eq!(tiny - tiny * 0.1, tiny);
}
