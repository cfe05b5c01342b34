//! Finite-difference checks of every gradient the trainer computes.
//!
//! Layer by layer (dense, convolution + ReLU, convolution + ReLU + max-pooling, softmax
//! cross-entropy), each backward kernel is compared with central differences of its own
//! forward kernel, on inputs built so that no ReLU or max switches inside the difference
//! step (asserted, not assumed). Then the whole network's gradient is checked tensor by
//! tensor along its own direction, for both variants, with a batch that leaves padding
//! lanes, and the forward pass is compared with plain per-image loops.

use picocnn::Variant;
use picocnn::shape::{
    CLASSES, CONV_SIDE, FILTERS, HIDDEN, IMAGE_PIXELS, IMAGE_SIDE, KERNEL_SIDE, KERNEL_TAPS,
    POOL_SIDE,
};
use picocnn_host::params::Params;
use trainer::kernels::{self, CONV_PARAMS, CONV_POSITIONS, POOL_POSITIONS};
use trainer::network::{self, Network};
use trainer::train::init_params;

/// Deterministic pseudo-random floats in `[-1, 1)`.
fn noise(len: usize, seed: u64) -> Vec<f32> {
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            (s >> 40) as f32 / (1u64 << 23) as f32 - 1.0
        })
        .collect()
}

/// `sum r * y` in f64.
fn weighted_sum(r: &[f32], y: &[f32]) -> f64 {
    r.iter()
        .zip(y)
        .map(|(&r, &y)| f64::from(r) * f64::from(y))
        .sum()
}

/// Central difference of `f` in coordinate `i` of `x`.
fn central_difference(x: &mut [f32], i: usize, h: f32, f: &mut dyn FnMut(&[f32]) -> f64) -> f64 {
    let keep = x[i];
    x[i] = keep + h;
    let up = f(x);
    x[i] = keep - h;
    let down = f(x);
    x[i] = keep;
    (up - down) / (f64::from(keep + h) - f64::from(keep - h))
}

/// Asserts `|a - b| <= tolerance * scale` for each pair, naming the first offender.
fn assert_close(what: &str, analytic: &[f32], numeric: &[f64], tolerance: f64) {
    let scale = numeric.iter().fold(1e-6f64, |m, x| m.max(x.abs()));
    for (i, (&a, &n)) in analytic.iter().zip(numeric).enumerate() {
        assert!(
            (f64::from(a) - n).abs() <= tolerance * scale,
            "{what}[{i}]: analytic {a}, finite difference {n} (scale {scale})"
        );
    }
}

#[test]
fn softmax_cross_entropy_gradient_is_softmax_minus_one_hot() {
    let logits: [f32; CLASSES] = [0.3, -1.2, 2.5, 0.0, 0.7, -0.4, 1.1, -2.0, 0.9, 0.05];
    for label in [2u8, 7] {
        let (_, probabilities) = network::softmax_cross_entropy(&logits, label);
        let mut z = logits;
        let numeric: Vec<f64> = (0..CLASSES)
            .map(|k| {
                central_difference(&mut z, k, 1e-2, &mut |z| {
                    f64::from(network::softmax_cross_entropy(&z.try_into().unwrap(), label).0)
                })
            })
            .collect();
        let analytic: Vec<f32> = probabilities
            .iter()
            .enumerate()
            .map(|(k, &p)| p - f32::from(k == usize::from(label)))
            .collect();
        assert_close("d loss / d logits", &analytic, &numeric, 1e-3);
    }
}

#[test]
fn dense_gradients_match_finite_differences() {
    let (rows, n_out, bp) = (37, 19, 16);
    let mut x = noise(rows * bp, 1);
    let mut w = noise(rows * n_out, 2);
    let r = noise(n_out * bp, 3);
    let loss = |x: &[f32], w: &[f32]| {
        let mut y = vec![0.0; n_out * bp];
        kernels::dense_forward(x, w, n_out, &mut y);
        weighted_sum(&r, &y)
    };
    // d loss / d y = r, in both layouts.
    let mut r_t = vec![0.0; bp * n_out];
    for j in 0..n_out {
        for b in 0..bp {
            r_t[b * n_out + j] = r[j * bp + b];
        }
    }
    let mut dw = vec![0.0; rows * n_out];
    kernels::dense_weight_grad(&x, &r_t, n_out, &mut dw);
    let mut dx = vec![0.0; rows * bp];
    kernels::dense_input_grad(&w, &r, n_out, &mut dx);

    let x0 = x.clone();
    let numeric_w: Vec<f64> = (0..w.len())
        .map(|i| central_difference(&mut w, i, 0.25, &mut |w| loss(&x0, w)))
        .collect();
    let w0 = w.clone();
    let numeric_x: Vec<f64> = (0..x.len())
        .map(|i| central_difference(&mut x, i, 0.25, &mut |x| loss(x, &w0)))
        .collect();
    assert_close("dense d/dw", &dw, &numeric_w, 1e-4);
    assert_close("dense d/dx", &dx, &numeric_x, 1e-4);
}

/// Filters alternate between a bias so high that the ReLU always passes and one so low
/// that it never does, so the loss is piecewise linear without a kink nearby.
fn conv_params_without_kinks() -> (Vec<f32>, Vec<f32>) {
    let w = noise(FILTERS * KERNEL_TAPS, 4);
    let b = (0..FILTERS)
        .map(|f| if f % 2 == 0 { 20.0 } else { -20.0 })
        .collect();
    (w, b)
}

#[test]
fn convolution_gradient_matches_finite_differences() {
    let bp = 8;
    let pixels: Vec<f32> = noise(IMAGE_PIXELS * bp, 5)
        .iter()
        .map(|p| 0.5 + 0.5 * p)
        .collect();
    let (w, b) = conv_params_without_kinks();
    let r = noise(CONV_POSITIONS * FILTERS * bp, 6);
    let mut params: Vec<f32> = w.iter().chain(&b).copied().collect();
    let mut loss = |p: &[f32]| {
        let (w, b) = p.split_at(FILTERS * KERNEL_TAPS);
        let mut out = vec![0.0; CONV_POSITIONS * FILTERS * bp];
        kernels::conv_forward(&pixels, w, b, 0, &mut out);
        weighted_sum(&r, &out)
    };
    let mut out = vec![0.0; CONV_POSITIONS * FILTERS * bp];
    kernels::conv_forward(&pixels, &w, &b, 0, &mut out);
    // The cut filters must stay cut within the step (|w| <= 1, 9 taps, pixels <= 1).
    assert!(out.iter().all(|&o| o == 0.0 || o > 10.0));
    let mut analytic = vec![0.0; CONV_PARAMS];
    kernels::conv_backward(&pixels, 0, &out, &r, &mut analytic);
    let numeric: Vec<f64> = (0..CONV_PARAMS)
        .map(|i| central_difference(&mut params, i, 0.05, &mut loss))
        .collect();
    assert_close("conv d/dw,b", &analytic, &numeric, 1e-3);
    // Half the filters never pass the ReLU: their gradient is exactly zero.
    assert!(
        analytic[KERNEL_TAPS..2 * KERNEL_TAPS]
            .iter()
            .all(|&g| g == 0.0)
    );
}

#[test]
fn max_pool_gradient_matches_finite_differences() {
    // Pixels are a ramp a*y + c*x whose slopes differ from lane to lane (|a| != |c|, all
    // signs), so the four elements of every window are far apart and every window
    // position wins somewhere; the smallest gap is asserted against the step below.
    let bp = 8;
    let slopes = [
        (1.0, 0.5),
        (-1.0, 0.5),
        (1.0, -0.5),
        (-1.0, -0.5),
        (0.5, 1.0),
        (-0.5, 1.0),
        (0.5, -1.0),
        (-0.5, -1.0),
    ];
    let mut pixels = vec![0.0f32; IMAGE_PIXELS * bp];
    for y in 0..IMAGE_SIDE {
        for x in 0..IMAGE_SIDE {
            for (lane, &(a, c)) in slopes.iter().enumerate() {
                pixels[(y * IMAGE_SIDE + x) * bp + lane] =
                    0.1 * (a * y as f32 + c * x as f32) + 3.0;
            }
        }
    }
    let (mut w, mut b) = conv_params_without_kinks();
    // Ramps reach 7 in magnitude: biases of +-60 keep every filter on one side of the ReLU.
    for bf in &mut b {
        *bf *= 3.0;
    }
    // Each filter's taps sum to at least 1 in magnitude, so its ramp has a slope.
    for wf in w.chunks_exact_mut(KERNEL_TAPS) {
        let sum: f32 = wf.iter().sum();
        wf[0] += if sum >= 0.0 { 1.0 } else { -1.0 };
    }
    let mut conv = vec![0.0; CONV_POSITIONS * FILTERS * bp];
    kernels::conv_forward(&pixels, &w, &b, 0, &mut conv);
    let mut min_gap = f32::INFINITY;
    for py in 0..POOL_SIDE {
        for px in 0..POOL_SIDE {
            for e in 0..FILTERS * bp {
                let mut window: Vec<f32> = [(0, 0), (0, 1), (1, 0), (1, 1)]
                    .iter()
                    .map(|(dy, dx)| {
                        conv[((2 * py + dy) * CONV_SIDE + 2 * px + dx) * FILTERS * bp + e]
                    })
                    .collect();
                window.sort_by(f32::total_cmp);
                if window[3] > 0.0 {
                    // Distance to the runner-up, and to the ReLU's kink at zero.
                    min_gap = min_gap.min(window[3] - window[2]).min(window[3]);
                }
            }
        }
    }
    let h = 1e-3;
    // A step of h in one weight (or bias) moves each conv value by at most h * max pixel
    // (or h), so neither the window's winner nor the ReLU can switch.
    let max_pixel = pixels.iter().fold(1.0f32, |m, p| m.max(p.abs()));
    assert!(
        min_gap > 2.0 * h * max_pixel,
        "windows too close: {min_gap}"
    );

    let r = noise(POOL_POSITIONS * FILTERS * bp, 7);
    let mut params: Vec<f32> = w.iter().chain(&b).copied().collect();
    let mut loss = |p: &[f32]| {
        let (w, b) = p.split_at(FILTERS * KERNEL_TAPS);
        let mut pooled = vec![0.0; POOL_POSITIONS * FILTERS * bp];
        let mut argmax = vec![0.0; POOL_POSITIONS * FILTERS * bp];
        kernels::conv_pool_forward(&pixels, w, b, 0, &mut pooled, &mut argmax);
        weighted_sum(&r, &pooled)
    };
    let mut pooled = vec![0.0; POOL_POSITIONS * FILTERS * bp];
    let mut argmax = vec![0.0; POOL_POSITIONS * FILTERS * bp];
    kernels::conv_pool_forward(&pixels, &w, &b, 0, &mut pooled, &mut argmax);
    for k in 0..4 {
        assert!(
            argmax
                .iter()
                .zip(&pooled)
                .any(|(&a, &m)| a == k as f32 && m > 0.0)
        );
    }
    let mut analytic = vec![0.0; CONV_PARAMS];
    kernels::conv_pool_backward(&pixels, 0, &pooled, &argmax, &r, &mut analytic);
    let numeric: Vec<f64> = (0..CONV_PARAMS)
        .map(|i| central_difference(&mut params, i, h, &mut loss))
        .collect();
    assert_close("conv+pool d/dw,b", &analytic, &numeric, 2e-3);
}

/// Pseudo-random images and labels.
fn batch(n: usize, seed: u64) -> (Vec<[u8; IMAGE_PIXELS]>, Vec<u8>) {
    let bytes = noise(n * IMAGE_PIXELS, seed);
    let images = bytes
        .chunks_exact(IMAGE_PIXELS)
        .map(|c| std::array::from_fn(|p| ((c[p] + 1.0) * 127.9) as u8))
        .collect();
    let labels = (0..n).map(|i| (i * 7 % CLASSES) as u8).collect();
    (images, labels)
}

/// Glorot weights plus small random biases (so the bias gradients are exercised with
/// non-zero biases too).
fn test_params(variant: Variant) -> Params {
    let mut p = init_params(variant, 3);
    p.conv_b = noise(FILTERS, 8).iter().map(|b| 0.1 * b).collect();
    p.hidden_b = noise(HIDDEN, 9).iter().map(|b| 0.1 * b).collect();
    p.output_b = noise(CLASSES, 10).iter().map(|b| 0.1 * b).collect();
    p
}

/// Mean cross-entropy of the batch, from the network's logits, against targets smoothed by
/// `eps` (`1 - eps + eps / 10` for the label, `eps / 10` for the others), in f64.
fn mean_loss(
    net: &mut Network,
    p: &Params,
    images: &[&[u8; IMAGE_PIXELS]],
    labels: &[u8],
    eps: f64,
) -> f64 {
    let logits = net.logits(p, images);
    let total: f64 = logits
        .iter()
        .zip(labels)
        .map(|(z, &l)| {
            let z = z.map(f64::from);
            let max = z.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let log_sum = z.iter().map(|&v| (v - max).exp()).sum::<f64>().ln() + max;
            z.iter()
                .enumerate()
                .map(|(k, &v)| {
                    let own = if k == usize::from(l) { 1.0 - eps } else { 0.0 };
                    (own + eps / CLASSES as f64) * (log_sum - v)
                })
                .sum::<f64>()
        })
        .sum();
    total / labels.len() as f64
}

/// The whole network's gradient along itself, tensor by tensor, against the loss with
/// targets smoothed by `eps`; the loss the network reports stays the plain cross-entropy.
fn check_network_gradient(variant: Variant, eps: f32) {
    // 5 images: the batch is padded to 8, so padding lanes must add nothing.
    let (images, labels) = batch(5, 11);
    let refs: Vec<&[u8; IMAGE_PIXELS]> = images.iter().collect();
    let params = test_params(variant);
    let mut net = Network::new(variant, 5);
    net.set_label_smoothing(eps);
    let (grads, tally) = net.gradients(&params, &refs, &labels);
    let loss = mean_loss(&mut net, &params, &refs, &labels, 0.0);
    assert!(
        (tally.mean_loss() - loss).abs() < 1e-5,
        "{} vs {loss}",
        tally.mean_loss()
    );

    let names = [
        "conv_w", "conv_b", "hidden_w", "hidden_b", "output_w", "output_b",
    ];
    for (t, name) in names.iter().enumerate() {
        let g = grads.tensors()[t];
        let norm = g
            .iter()
            .map(|&x| f64::from(x) * f64::from(x))
            .sum::<f64>()
            .sqrt();
        assert!(norm > 1e-6, "{variant:?} {name}: zero gradient");
        // Step along the gradient so the loss changes by about 1e-3 each way.
        let h = 1e-3 / norm;
        let mut moved = |sign: f64| {
            let mut p = params.clone();
            for (w, &gi) in p.tensors_mut()[t].iter_mut().zip(g) {
                *w = (f64::from(*w) + sign * h * f64::from(gi) / norm) as f32;
            }
            mean_loss(&mut net, &p, &refs, &labels, f64::from(eps))
        };
        let directional = (moved(1.0) - moved(-1.0)) / (2.0 * h);
        assert!(
            (directional - norm).abs() <= 0.02 * norm,
            "{variant:?} {name}: |grad| {norm}, finite difference along it {directional}"
        );
    }
}

#[test]
fn network_gradient_matches_finite_differences_variant_a() {
    check_network_gradient(Variant::NoPool, 0.0);
}

#[test]
fn network_gradient_matches_finite_differences_variant_b() {
    check_network_gradient(Variant::Pool, 0.0);
}

#[test]
fn network_gradient_with_label_smoothing_matches_finite_differences() {
    check_network_gradient(Variant::Pool, 0.1);
}

/// The network's forward pass (batched, tiled, threaded) against plain per-image loops
/// written from the layout documented in `picocnn_host::params`.
fn check_forward_against_plain_loops(variant: Variant) {
    let (images, labels) = batch(11, 12);
    let refs: Vec<&[u8; IMAGE_PIXELS]> = images.iter().collect();
    let p = test_params(variant);
    let logits = Network::new(variant, 16).logits(&p, &refs);
    assert_eq!(logits.len(), labels.len());
    for (image, got) in images.iter().zip(&logits) {
        let pixel = |y: usize, x: usize| f64::from(image[y * IMAGE_SIDE + x]) / 255.0;
        let mut conv = vec![0.0f64; CONV_POSITIONS * FILTERS];
        for y in 0..CONV_SIDE {
            for x in 0..CONV_SIDE {
                for f in 0..FILTERS {
                    let mut s = f64::from(p.conv_b[f]);
                    for t in 0..KERNEL_TAPS {
                        let (ty, tx) = (t / KERNEL_SIDE, t % KERNEL_SIDE);
                        s += f64::from(p.conv_w[f * KERNEL_TAPS + t]) * pixel(y + ty, x + tx);
                    }
                    conv[(y * CONV_SIDE + x) * FILTERS + f] = s.max(0.0);
                }
            }
        }
        let features: Vec<f64> = match variant {
            Variant::NoPool => conv,
            Variant::Pool => (0..POOL_POSITIONS * FILTERS)
                .map(|i| {
                    let (pos, f) = (i / FILTERS, i % FILTERS);
                    let (py, px) = (pos / POOL_SIDE, pos % POOL_SIDE);
                    [(0, 0), (0, 1), (1, 0), (1, 1)]
                        .iter()
                        .map(|(dy, dx)| {
                            conv[((2 * py + dy) * CONV_SIDE + 2 * px + dx) * FILTERS + f]
                        })
                        .fold(f64::MIN, f64::max)
                })
                .collect(),
        };
        let hidden: Vec<f64> = (0..HIDDEN)
            .map(|j| {
                let s: f64 = features
                    .iter()
                    .enumerate()
                    .map(|(i, &v)| v * f64::from(p.hidden_w[i * HIDDEN + j]))
                    .sum();
                (s + f64::from(p.hidden_b[j])).max(0.0)
            })
            .collect();
        for (k, &got_k) in got.iter().enumerate() {
            let want: f64 = f64::from(p.output_b[k])
                + hidden
                    .iter()
                    .enumerate()
                    .map(|(j, &h)| h * f64::from(p.output_w[j * CLASSES + k]))
                    .sum::<f64>();
            assert!(
                (f64::from(got_k) - want).abs() < 1e-4 * (1.0 + want.abs()),
                "logit {k}: {got_k} vs {want}"
            );
        }
    }
}

#[test]
fn forward_matches_plain_loops_variant_a() {
    check_forward_against_plain_loops(Variant::NoPool);
}

#[test]
fn forward_matches_plain_loops_variant_b() {
    check_forward_against_plain_loops(Variant::Pool);
}
