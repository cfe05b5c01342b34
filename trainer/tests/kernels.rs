//! Every AVX2 kernel against the scalar reference, over odd shapes and tails.
//!
//! Inputs are small integers stored as f32, so every product and partial sum is exact and
//! any order of summation gives the same bits: the kernels must agree exactly. (Adam
//! divides and takes square roots, so it is held to a few ulps instead.)
//!
//! A build without AVX2 has nothing to compare and says so; with `PICOCNN_REQUIRE_AVX2=1`
//! (set by `scripts/test.sh`) that is a failure instead, so CI cannot skip silently.

use proptest::prelude::*;
use trainer::kernels::{self, AdamStep, CONV_PARAMS, CONV_ROW, POOL_ROW, scalar};

#[test]
fn avx2_kernels_are_compiled_in_when_required() {
    let required = std::env::var("PICOCNN_REQUIRE_AVX2").is_ok_and(|v| v == "1");
    if required {
        assert!(
            kernels::AVX2_COMPILED,
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

    /// The fused weight-gradient + Adam kernel equals the two kernels run in turn, bit for bit
    /// (it only avoids storing the gradient). Holds for whichever implementation is built.
    #[test]
    fn fused_weight_grad_adam_equals_grad_then_adam(
        (x, dy, n_out, w, m, v) in dense_shape().prop_flat_map(|(rows, n_out, bp)| (
            ints(rows * bp, -4, 4), ints(bp * n_out, -4, 4), Just(n_out),
            ints(rows * n_out, -4, 4), ints(rows * n_out, -2, 2), ints(rows * n_out, 0, 3),
        ))
    ) {
        let mut g = vec![0.0; w.len()];
        kernels::dense_weight_grad(&x, &dy, n_out, &mut g);
        let (mut w1, mut m1, mut v1) = (w.clone(), m.clone(), v.clone());
        kernels::adam_update(&mut w1, &mut m1, &mut v1, &g, adam_step());
        let (mut w2, mut m2, mut v2) = (w, m, v);
        kernels::dense_weight_grad_adam(&x, &dy, n_out, &mut w2, &mut m2, &mut v2, adam_step());
        prop_assert_eq!(bits(&w1), bits(&w2));
        prop_assert_eq!(bits(&m1), bits(&m2));
        prop_assert_eq!(bits(&v1), bits(&v2));
    }
}

fn bits(v: &[f32]) -> Vec<u32> {
    v.iter().map(|x| x.to_bits()).collect()
}

#[cfg(all(
    target_arch = "x86_64",
    target_feature = "avx2",
    target_feature = "fma"
))]
mod avx_vs_scalar {
    use super::*;
    use picocnn::shape::{CONV_SIDE, FILTERS, IMAGE_PIXELS, KERNEL_TAPS};
    use trainer::kernels::avx;

    /// First output row and row count of a convolution slice.
    fn conv_rows() -> impl Strategy<Value = (usize, usize)> {
        (0..CONV_SIDE).prop_flat_map(|first| (Just(first), 1..=(CONV_SIDE - first).min(3)))
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
            scalar::dense_forward(&x, &w, n_out, &mut want);
            avx::dense_forward(&x, &w, n_out, &mut got);
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
            scalar::dense_forward(&x, &w, n_out, &mut want);
            avx::dense_forward(&x, &w, n_out, &mut got);
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
            scalar::dense_input_grad(&w, &dyt, n_out, &mut want);
            avx::dense_input_grad(&w, &dyt, n_out, &mut got);
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
            scalar::dense_weight_grad(&x, &dy, n_out, &mut want);
            avx::dense_weight_grad(&x, &dy, n_out, &mut got);
            prop_assert_eq!(want, got);
        }

        #[test]
        fn conv_forward(
            ((first, rows), bp, pixels, w, b) in (conv_rows(), padded_batch()).prop_flat_map(|(r, bp)| (
                Just(r), Just(bp), ints(IMAGE_PIXELS * bp, 0, 3),
                ints(FILTERS * KERNEL_TAPS, -2, 2), ints(FILTERS, -2, 2),
            ))
        ) {
            let mut want = vec![f32::NAN; rows * CONV_ROW * bp];
            let mut got = vec![f32::NAN; rows * CONV_ROW * bp];
            scalar::conv_forward(&pixels, &w, &b, first, &mut want);
            avx::conv_forward(&pixels, &w, &b, first, &mut got);
            prop_assert!(want.iter().any(|&o| o > 0.0) && want.iter().any(|&o| o == 0.0));
            prop_assert_eq!(want, got);
        }

        #[test]
        fn conv_backward(
            ((first, _), _bp, pixels, out, grad) in (conv_rows(), padded_batch()).prop_flat_map(|(r, bp)| (
                Just(r), Just(bp), ints(IMAGE_PIXELS * bp, 0, 3),
                ints(r.1 * CONV_ROW * bp, -1, 2), ints(r.1 * CONV_ROW * bp, -3, 3),
            ))
        ) {
            // Negative "outputs" stand for positions the ReLU cut; they must pass nothing.
            let mut want = vec![f32::NAN; CONV_PARAMS];
            let mut got = vec![f32::NAN; CONV_PARAMS];
            scalar::conv_backward(&pixels, first, &out, &grad, &mut want);
            avx::conv_backward(&pixels, first, &out, &grad, &mut got);
            prop_assert_eq!(want, got);
        }

        #[test]
        fn pool_forward_and_backward(
            (conv, grad) in padded_batch().prop_flat_map(|bp| (
                ints(2 * CONV_ROW * bp, 0, 2), ints(POOL_ROW * bp, -3, 3),
            ))
        ) {
            // Values in 0..=2 make ties and all-zero windows common: the tie rule is tested.
            let pooled_len = grad.len();
            let mut want = vec![f32::NAN; pooled_len];
            let mut got = vec![f32::NAN; pooled_len];
            scalar::pool_forward(&conv, &mut want);
            avx::pool_forward(&conv, &mut got);
            prop_assert_eq!(&want, &got);
            let mut want_grad = vec![f32::NAN; conv.len()];
            let mut got_grad = vec![f32::NAN; conv.len()];
            scalar::pool_backward(&conv, &want, &grad, &mut want_grad);
            avx::pool_backward(&conv, &want, &grad, &mut got_grad);
            prop_assert_eq!(want_grad, got_grad);
        }

        #[test]
        fn adam_update(
            (w, m, v, g) in (1usize..=70).prop_flat_map(|n| (
                ints(n, -4, 4), ints(n, -2, 2), ints(n, 0, 3), ints(n, -4, 4),
            ))
        ) {
            let (mut w1, mut m1, mut v1) = (w.clone(), m.clone(), v.clone());
            let (mut w2, mut m2, mut v2) = (w, m, v);
            scalar::adam_update(&mut w1, &mut m1, &mut v1, &g, adam_step());
            avx::adam_update(&mut w2, &mut m2, &mut v2, &g, adam_step());
            for (a, b) in [(&w1, &w2), (&m1, &m2), (&v1, &v2)] {
                for (&a, &b) in a.iter().zip(b.iter()) {
                    prop_assert!((a - b).abs() <= 4.0 * f32::EPSILON * a.abs().max(1e-3), "{a} vs {b}");
                }
            }
        }
    }
}
