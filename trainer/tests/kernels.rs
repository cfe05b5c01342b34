//! Every AVX2 kernel against the scalar reference, over odd shapes and tails.
//!
//! Inputs are small integers stored as f32, so every product and partial sum is exact and
//! any order of summation gives the same bits: the kernels must agree exactly. Adam, which
//! divides and takes square roots, rounds step by step the same way in both, so it must
//! agree bit for bit on any input.
//!
//! A build without AVX2 has nothing to compare and says so; with `PICOCNN_REQUIRE_AVX2=1`
//! (set by `scripts/test.sh`) that is a failure instead, so CI cannot skip silently.

use picocnn::shape::{CONV_SIDE, FILTERS, IMAGE_PIXELS, KERNEL_TAPS, POOL_SIDE};
use proptest::prelude::*;
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

fn adam_step() -> AdamStep {
    AdamStep {
        alpha: 1e-3,
        one_minus_beta1: 0.1,
        one_minus_beta2: 0.001,
        epsilon: 1e-7,
    }
}

/// Shapes of a dense kernel: reduction rows, outputs (odd ones included) and padded batch.
fn dense_shape() -> impl Strategy<Value = (usize, usize, usize)> {
    (1usize..=20, 1usize..=40, padded_batch())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// The fused backward + Adam kernel equals the backward kernel followed by Adam, bit for
    /// bit (it only avoids storing the gradient). Holds for whichever implementation is built.
    #[test]
    fn fused_backward_adam_equals_backward_then_adam(
        (x, dy, n_out, w, m, v) in dense_shape().prop_flat_map(|(rows, n_out, bp)| (
            sparse_ints(rows, bp), ints(bp * n_out, -4, 4), Just(n_out),
            ints(rows * n_out, -4, 4), ints(rows * n_out, -2, 2), ints(rows * n_out, 0, 3),
        ))
    ) {
        let mut g = vec![0.0; w.len()];
        let mut dx1 = vec![f32::NAN; x.len()];
        kernels::dense_backward_masked(&x, &dy, &transposed(&dy, n_out), n_out, &w, &mut dx1, &mut g);
        let (mut w1, mut m1, mut v1) = (w.clone(), m.clone(), v.clone());
        kernels::adam_update(&mut w1, &mut m1, &mut v1, &g, adam_step());
        let (mut w2, mut m2, mut v2) = (w, m, v);
        let mut dx2 = vec![f32::NAN; x.len()];
        kernels::dense_backward_masked_adam(&x, &dy, &transposed(&dy, n_out), n_out, &mut w2, &mut m2, &mut v2, adam_step(), &mut dx2);
        prop_assert_eq!(bits(&dx1), bits(&dx2));
        prop_assert_eq!(bits(&w1), bits(&w2));
        prop_assert_eq!(bits(&m1), bits(&m2));
        prop_assert_eq!(bits(&v1), bits(&v2));
    }
}

/// The fused convolution + pooling kernel equals the convolution followed by 2x2 max-pooling
/// (first maximum on ties), for whichever implementation is built.
#[test]
fn conv_pool_forward_is_conv_then_max_pool() {
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
    let mut conv = vec![0.0; CONV_POSITIONS * FILTERS * bp];
    kernels::conv_forward(&pixels, &w, &b, 0, &mut conv);
    let mut pooled = vec![0.0; POOL_POSITIONS * FILTERS * bp];
    let mut argmax = vec![0.0; POOL_POSITIONS * FILTERS * bp];
    kernels::conv_pool_forward(&pixels, &w, &b, 0, &mut pooled, &mut argmax);
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

/// Adam stores subnormal results as zero (TensorFlow's flush-to-zero): a first moment
/// decaying under a zero gradient reaches zero instead of sticking at the smallest
/// subnormal, which would make every later step slow.
#[test]
fn adam_flushes_subnormal_moments_to_zero() {
    let tiny = f32::from_bits(1);
    let mut w = vec![0.5; 3];
    let mut m = vec![1.05 * f32::MIN_POSITIVE, tiny, 2.0 * f32::MIN_POSITIVE];
    let mut v = vec![1.0; 3];
    kernels::adam_update(&mut w, &mut m, &mut v, &[0.0; 3], adam_step());
    assert_eq!(m, [0.0, 0.0, 0.9 * 2.0 * f32::MIN_POSITIVE]);
    // Without the flush, 0.9 * tiny rounds back to tiny: stuck forever.
    assert_eq!(tiny - tiny * 0.1, tiny);
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

#[cfg(avx2_kernels)]
mod avx_vs_scalar {
    use super::*;
    use trainer::kernels::Avx2;

    /// A range of positions, `(first, count)`, inside a map of `positions`.
    fn position_range(positions: usize, longest: usize) -> impl Strategy<Value = (usize, usize)> {
        (0..positions)
            .prop_flat_map(move |first| (Just(first), 1..=(positions - first).min(longest)))
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

        #[test]
        fn dense_forward(
            (x, w, n_out, bp) in dense_shape().prop_flat_map(|(rows, n_out, bp)| (
                ints(rows * bp, -4, 4), ints(rows * n_out, -4, 4), Just(n_out), Just(bp),
            ))
        ) {
            let mut want = vec![f32::NAN; n_out * bp];
            let mut got = vec![f32::NAN; n_out * bp];
            Scalar::dense_forward(&x, &w, n_out, &mut want);
            Avx2::dense_forward(&x, &w, n_out, &mut got);
            prop_assert_eq!(want, got);
        }

        #[test]
        fn dense_forward_over_several_blocks(
            (x, w, n_out) in (300usize..=400, 1usize..=12).prop_flat_map(|(rows, n_out)| (
                ints(rows * 8, -2, 2), ints(rows * n_out, -2, 2), Just(n_out),
            ))
        ) {
            let mut want = vec![f32::NAN; n_out * 8];
            let mut got = vec![f32::NAN; n_out * 8];
            Scalar::dense_forward(&x, &w, n_out, &mut want);
            Avx2::dense_forward(&x, &w, n_out, &mut got);
            prop_assert_eq!(want, got);
        }

        #[test]
        fn dense_input_grad(
            (w, dyt, n_out, rows, bp) in dense_shape().prop_flat_map(|(rows, n_out, bp)| (
                ints(rows * n_out, -4, 4), ints(n_out * bp, -4, 4), Just(n_out), Just(rows), Just(bp),
            ))
        ) {
            let mut want = vec![f32::NAN; rows * bp];
            let mut got = vec![f32::NAN; rows * bp];
            Scalar::dense_input_grad(&w, &dyt, n_out, &mut want);
            Avx2::dense_input_grad(&w, &dyt, n_out, &mut got);
            prop_assert_eq!(want, got);
        }

        #[test]
        fn dense_weight_grad(
            (x, dy, n_out) in dense_shape().prop_flat_map(|(rows, n_out, bp)| (
                ints(rows * bp, -4, 4), ints(bp * n_out, -4, 4), Just(n_out),
            ))
        ) {
            let rows = x.len() / (dy.len() / n_out);
            let mut want = vec![f32::NAN; rows * n_out];
            let mut got = vec![f32::NAN; rows * n_out];
            Scalar::dense_weight_grad(&x, &dy, n_out, &mut want);
            Avx2::dense_weight_grad(&x, &dy, n_out, &mut got);
            prop_assert_eq!(want, got);
        }

        #[test]
        fn dense_forward_skips_zero_rows(
            (x, w, n_out, bp) in dense_shape().prop_flat_map(|(rows, n_out, bp)| (
                sparse_ints(rows, bp), ints(rows * n_out, -4, 4), Just(n_out), Just(bp),
            ))
        ) {
            let mut want = vec![f32::NAN; n_out * bp];
            let mut got = vec![f32::NAN; n_out * bp];
            Scalar::dense_forward(&x, &w, n_out, &mut want);
            Avx2::dense_forward(&x, &w, n_out, &mut got);
            prop_assert_eq!(want, got);
        }

        #[test]
        fn dense_backward_masked(
            (x, dy, n_out, w) in dense_shape().prop_flat_map(|(rows, n_out, bp)| (
                sparse_ints(rows, bp), ints(bp * n_out, -4, 4), Just(n_out), ints(rows * n_out, -4, 4),
            ))
        ) {
            let (mut want_dx, mut got_dx) = (vec![f32::NAN; x.len()], vec![f32::NAN; x.len()]);
            let (mut want_g, mut got_g) = (vec![f32::NAN; w.len()], vec![f32::NAN; w.len()]);
            Scalar::dense_backward_masked(&x, &dy, &transposed(&dy, n_out), n_out, &w, &mut want_dx, &mut want_g);
            Avx2::dense_backward_masked(&x, &dy, &transposed(&dy, n_out), n_out, &w, &mut got_dx, &mut got_g);
            prop_assert!(want_dx.iter().zip(&x).all(|(&d, &x)| x != 0.0 || d == 0.0));
            prop_assert_eq!(want_dx, got_dx);
            prop_assert_eq!(want_g, got_g);
        }

        #[test]
        fn dense_backward_masked_adam(
            (x, dy, n_out, w, m, v) in dense_shape().prop_flat_map(|(rows, n_out, bp)| (
                sparse_ints(rows, bp), ints(bp * n_out, -4, 4), Just(n_out),
                ints(rows * n_out, -4, 4), ints(rows * n_out, -2, 2), ints(rows * n_out, 0, 3),
            ))
        ) {
            let (mut w1, mut m1, mut v1) = (w.clone(), m.clone(), v.clone());
            let (mut w2, mut m2, mut v2) = (w, m, v);
            let (mut dx1, mut dx2) = (vec![f32::NAN; x.len()], vec![f32::NAN; x.len()]);
            Scalar::dense_backward_masked_adam(&x, &dy, &transposed(&dy, n_out), n_out, &mut w1, &mut m1, &mut v1, adam_step(), &mut dx1);
            Avx2::dense_backward_masked_adam(&x, &dy, &transposed(&dy, n_out), n_out, &mut w2, &mut m2, &mut v2, adam_step(), &mut dx2);
            prop_assert_eq!(dx1, dx2);
            prop_assert_eq!(bits(&w1), bits(&w2));
            prop_assert_eq!(bits(&m1), bits(&m2));
            prop_assert_eq!(bits(&v1), bits(&v2));
        }

        #[test]
        fn conv_forward(
            ((first, n), bp, pixels, w, b) in (position_range(CONV_POSITIONS, 60), padded_batch())
                .prop_flat_map(|(r, bp)| (
                    Just(r), Just(bp), ints(IMAGE_PIXELS * bp, 0, 3),
                    ints(FILTERS * KERNEL_TAPS, -2, 2), ints(FILTERS, -2, 2),
                ))
        ) {
            let mut want = vec![f32::NAN; n * FILTERS * bp];
            let mut got = vec![f32::NAN; n * FILTERS * bp];
            Scalar::conv_forward(&pixels, &w, &b, first, &mut want);
            Avx2::conv_forward(&pixels, &w, &b, first, &mut got);
            prop_assert!(want.iter().any(|&o| o > 0.0) && want.contains(&0.0));
            prop_assert_eq!(want, got);
        }

        #[test]
        fn conv_backward(
            ((first, n), bp, pixels, out, grad) in (position_range(CONV_POSITIONS, 60), padded_batch())
                .prop_flat_map(|((first, n), bp)| (
                    Just((first, n)), Just(bp), ints(IMAGE_PIXELS * bp, 0, 3),
                    ints(n * FILTERS * bp, -1, 2), ints(n * FILTERS * bp, -3, 3),
                ))
        ) {
            // Negative "outputs" stand for positions the ReLU cut; they must pass nothing.
            prop_assert_eq!(out.len(), n * FILTERS * bp);
            let mut want = vec![f32::NAN; CONV_PARAMS];
            let mut got = vec![f32::NAN; CONV_PARAMS];
            Scalar::conv_backward(&pixels, first, &out, &grad, &mut want);
            Avx2::conv_backward(&pixels, first, &out, &grad, &mut got);
            prop_assert_eq!(want, got);
        }

        #[test]
        fn conv_pool_forward_and_backward(
            ((first, n), bp, pixels, w, b) in (position_range(POOL_POSITIONS, 20), padded_batch())
                .prop_flat_map(|(r, bp)| (
                    Just(r), Just(bp), ints(IMAGE_PIXELS * bp, 0, 2),
                    ints(FILTERS * KERNEL_TAPS, -1, 1), ints(FILTERS, -1, 1),
                ))
        ) {
            // Tiny integers make ties and all-negative windows common: the tie rule is tested.
            let len = n * FILTERS * bp;
            let (mut want, mut want_arg) = (vec![f32::NAN; len], vec![f32::NAN; len]);
            let (mut got, mut got_arg) = (vec![f32::NAN; len], vec![f32::NAN; len]);
            Scalar::conv_pool_forward(&pixels, &w, &b, first, &mut want, &mut want_arg);
            Avx2::conv_pool_forward(&pixels, &w, &b, first, &mut got, &mut got_arg);
            prop_assert_eq!(&want, &got);
            prop_assert_eq!(&want_arg, &got_arg);

            let grad: Vec<f32> = (0..len).map(|i| (i % 7) as f32 - 3.0).collect();
            let mut want_dw = vec![f32::NAN; CONV_PARAMS];
            let mut got_dw = vec![f32::NAN; CONV_PARAMS];
            Scalar::conv_pool_backward(&pixels, first, &want, &want_arg, &grad, &mut want_dw);
            Avx2::conv_pool_backward(&pixels, first, &want, &want_arg, &grad, &mut got_dw);
            prop_assert_eq!(want_dw, got_dw);
        }

        #[test]
        fn adam_update(
            (w, m, v, g) in (1usize..=70).prop_flat_map(|n| (
                prop::collection::vec(-1.0f32..1.0, n),
                prop::collection::vec(-1e-2f32..1e-2, n),
                prop::collection::vec(0.0f32..1e-3, n),
                prop::collection::vec(-0.1f32..0.1, n),
            ))
        ) {
            let (mut w1, mut m1, mut v1) = (w.clone(), m.clone(), v.clone());
            let (mut w2, mut m2, mut v2) = (w, m, v);
            Scalar::adam_update(&mut w1, &mut m1, &mut v1, &g, adam_step());
            Avx2::adam_update(&mut w2, &mut m2, &mut v2, &g, adam_step());
            prop_assert_eq!(bits(&w1), bits(&w2));
            prop_assert_eq!(bits(&m1), bits(&m2));
            prop_assert_eq!(bits(&v1), bits(&v2));
        }
    }
}
