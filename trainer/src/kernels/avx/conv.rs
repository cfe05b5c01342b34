//! The convolution kernels, with and without the 2x2 max-pooling fused in.

use super::{W, fma, lanes, lanes_mut, load, splat, store};
use crate::kernels::geometry::{
    BLOCK_OFFSETS, BLOCK_PIXELS, TAP_OFFSETS, WINDOW, WINDOW_TAPS, conv_corner, pool_corner,
};
use picocnn::shape::{FILTERS, IMAGE_PIXELS, KERNEL_TAPS};
use safe_arch::{
    add_m256, bitand_m256, blend_varying_m256, cmp_op, cmp_op_mask_m256, m256, max_m256,
    zeroed_m256,
};
use std::array;

/// The sum of a vector's lanes, always in the same order.
fn sum_lanes(v: m256) -> f32 {
    v.to_array().iter().sum()
}

/// The convolution weights and biases broadcast to vectors, once per call.
fn broadcast_filters(w: &[f32], b: &[f32]) -> (Vec<[m256; KERNEL_TAPS]>, Vec<m256>) {
    let wv = w
        .chunks_exact(KERNEL_TAPS)
        .map(|wf| array::from_fn(|k| splat(wf[k])))
        .collect();
    (wv, b.iter().map(|&bf| splat(bf)).collect())
}

/// See [`crate::kernels::conv_forward`].
pub(super) fn conv_forward(pixels: &[f32], w: &[f32], b: &[f32], first: usize, out: &mut [f32]) {
    let nv = pixels.len() / IMAGE_PIXELS / W;
    let px = lanes(pixels);
    let (wv, bv) = broadcast_filters(w, b);
    let zero = zeroed_m256();
    for (p, out_pos) in lanes_mut(out).chunks_exact_mut(FILTERS * nv).enumerate() {
        let corner = conv_corner(first + p);
        for lane in 0..nv {
            let taps: [m256; KERNEL_TAPS] =
                array::from_fn(|k| load(&px[(corner + TAP_OFFSETS[k]) * nv + lane]));
            for ((out_f, wf), &bf) in out_pos.chunks_exact_mut(nv).zip(&wv).zip(&bv) {
                let mut acc = bf;
                for (&wk, &tk) in wf.iter().zip(&taps) {
                    acc = fma(wk, tk, acc);
                }
                store(&mut out_f[lane], max_m256(acc, zero));
            }
        }
    }
}

/// See [`crate::kernels::conv_backward`].
pub(super) fn conv_backward(
    pixels: &[f32],
    first: usize,
    out: &[f32],
    grad: &[f32],
    dw: &mut [f32],
) {
    let nv = pixels.len() / IMAGE_PIXELS / W;
    let px = lanes(pixels);
    let (out, grad) = (lanes(out), lanes(grad));
    let positions = out.len() / (FILTERS * nv);
    let zero = zeroed_m256();
    let (dw_taps, db) = dw.split_at_mut(FILTERS * KERNEL_TAPS);
    // Filter by filter, so the nine tap sums and the bias sum stay in registers.
    for (f, (dwf, dbf)) in dw_taps
        .chunks_exact_mut(KERNEL_TAPS)
        .zip(db.iter_mut())
        .enumerate()
    {
        let mut acc_taps = [zero; KERNEL_TAPS];
        let mut acc_bias = zero;
        for p in 0..positions {
            let corner = conv_corner(first + p);
            let at = (p * FILTERS + f) * nv;
            for (lane, (o, g)) in out[at..at + nv].iter().zip(&grad[at..at + nv]).enumerate() {
                let positive = cmp_op_mask_m256::<{ cmp_op!(GreaterThanOrdered) }>(load(o), zero);
                let g = bitand_m256(load(g), positive);
                acc_bias = add_m256(acc_bias, g);
                for (acc, &offset) in acc_taps.iter_mut().zip(&TAP_OFFSETS) {
                    *acc = fma(g, load(&px[(corner + offset) * nv + lane]), *acc);
                }
            }
        }
        for (d, &acc) in dwf.iter_mut().zip(&acc_taps) {
            *d = sum_lanes(acc);
        }
        *dbf = sum_lanes(acc_bias);
    }
}

/// See [`crate::kernels::conv_pool_forward`].
pub(super) fn conv_pool_forward(
    pixels: &[f32],
    w: &[f32],
    b: &[f32],
    first: usize,
    pooled: &mut [f32],
    argmax: &mut [f32],
) {
    let nv = pixels.len() / IMAGE_PIXELS / W;
    let px = lanes(pixels);
    let (wv, bv) = broadcast_filters(w, b);
    let zero = zeroed_m256();
    let window_index: [m256; WINDOW] = array::from_fn(|k| splat(k as f32));
    let positions = lanes_mut(pooled)
        .chunks_exact_mut(FILTERS * nv)
        .zip(lanes_mut(argmax).chunks_exact_mut(FILTERS * nv));
    for (p, (pooled_pos, argmax_pos)) in positions.enumerate() {
        let corner = pool_corner(first + p);
        for lane in 0..nv {
            let block: [m256; BLOCK_PIXELS] =
                array::from_fn(|q| load(&px[(corner + BLOCK_OFFSETS[q]) * nv + lane]));
            let filters = pooled_pos
                .chunks_exact_mut(nv)
                .zip(argmax_pos.chunks_exact_mut(nv));
            for ((pooled_f, argmax_f), (wf, &bf)) in filters.zip(wv.iter().zip(&bv)) {
                let conv: [m256; WINDOW] = array::from_fn(|k| {
                    let mut acc = bf;
                    for (&wk, &q) in wf.iter().zip(&WINDOW_TAPS[k]) {
                        acc = fma(wk, block[q], acc);
                    }
                    max_m256(acc, zero)
                });
                // Strictly greater replaces, so ties keep the earlier element.
                let mut best = conv[0];
                let mut arg = window_index[0];
                for (&c, &k) in conv.iter().zip(&window_index).skip(1) {
                    let greater = cmp_op_mask_m256::<{ cmp_op!(GreaterThanOrdered) }>(c, best);
                    best = blend_varying_m256(best, c, greater);
                    arg = blend_varying_m256(arg, k, greater);
                }
                store(&mut pooled_f[lane], best);
                store(&mut argmax_f[lane], arg);
            }
        }
    }
}

/// See [`crate::kernels::conv_pool_backward`].
pub(super) fn conv_pool_backward(
    pixels: &[f32],
    first: usize,
    pooled: &[f32],
    argmax: &[f32],
    grad: &[f32],
    dw: &mut [f32],
) {
    let nv = pixels.len() / IMAGE_PIXELS / W;
    let px = lanes(pixels);
    let (pooled, argmax, grad) = (lanes(pooled), lanes(argmax), lanes(grad));
    let positions = pooled.len() / (FILTERS * nv);
    let zero = zeroed_m256();
    let window_index: [m256; WINDOW] = array::from_fn(|k| splat(k as f32));
    let (dw_taps, db) = dw.split_at_mut(FILTERS * KERNEL_TAPS);
    for (f, (dwf, dbf)) in dw_taps
        .chunks_exact_mut(KERNEL_TAPS)
        .zip(db.iter_mut())
        .enumerate()
    {
        let mut acc_taps = [zero; KERNEL_TAPS];
        let mut acc_bias = zero;
        for p in 0..positions {
            let corner = pool_corner(first + p);
            let at = (p * FILTERS + f) * nv;
            let lanes = pooled[at..at + nv]
                .iter()
                .zip(&argmax[at..at + nv])
                .zip(&grad[at..at + nv]);
            for (lane, ((m, a), g)) in lanes.enumerate() {
                let positive = cmp_op_mask_m256::<{ cmp_op!(GreaterThanOrdered) }>(load(m), zero);
                let g = bitand_m256(load(g), positive);
                acc_bias = add_m256(acc_bias, g);
                let a = load(a);
                for (taps, &k) in WINDOW_TAPS.iter().zip(&window_index) {
                    let g_k = bitand_m256(g, cmp_op_mask_m256::<{ cmp_op!(EqualOrdered) }>(a, k));
                    for (acc, &q) in acc_taps.iter_mut().zip(taps) {
                        *acc = fma(
                            g_k,
                            load(&px[(corner + BLOCK_OFFSETS[q]) * nv + lane]),
                            *acc,
                        );
                    }
                }
            }
        }
        for (d, &acc) in dwf.iter_mut().zip(&acc_taps) {
            *d = sum_lanes(acc);
        }
        *dbf = sum_lanes(acc_bias);
    }
}
