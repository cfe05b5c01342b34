//! The convolution kernels, with and without the 2x2 max-pooling fused in.

use crate::kernels::geometry::{TAP_OFFSETS, WINDOW_OFFSETS, conv_corner, pool_corner};
use picocnn::shape::{FILTERS, IMAGE_PIXELS, KERNEL_TAPS};

/// `bias + sum_k w[k] * pixel(corner + tap k)` for every lane.
fn conv_lanes(pixels: &[f32], bp: usize, corner: usize, wf: &[f32], bias: f32, out: &mut [f32]) {
    out.fill(bias);
    for (&offset, &wk) in TAP_OFFSETS.iter().zip(wf) {
        let tap = &pixels[(corner + offset) * bp..][..bp];
        for (o, &p) in out.iter_mut().zip(tap) {
            *o += wk * p;
        }
    }
}

/// `dw[k] += sum_lanes g * pixel(corner + tap k)`.
fn accumulate_taps(pixels: &[f32], bp: usize, corner: usize, g: &[f32], dw: &mut [f32]) {
    for (&offset, dwk) in TAP_OFFSETS.iter().zip(dw.iter_mut()) {
        let tap = &pixels[(corner + offset) * bp..][..bp];
        *dwk += g.iter().zip(tap).map(|(&g, &p)| g * p).sum::<f32>();
    }
}

/// See [`crate::kernels::conv_forward`].
pub(super) fn conv_forward(pixels: &[f32], w: &[f32], b: &[f32], first: usize, out: &mut [f32]) {
    let bp = pixels.len() / IMAGE_PIXELS;
    for (p, out_pos) in out.chunks_exact_mut(FILTERS * bp).enumerate() {
        let corner = conv_corner(first + p);
        for ((out_f, wf), &bias) in out_pos
            .chunks_exact_mut(bp)
            .zip(w.chunks_exact(KERNEL_TAPS))
            .zip(b)
        {
            conv_lanes(pixels, bp, corner, wf, bias, out_f);
            for o in out_f.iter_mut() {
                *o = o.max(0.0);
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
    let bp = pixels.len() / IMAGE_PIXELS;
    let (dw_taps, db) = dw.split_at_mut(FILTERS * KERNEL_TAPS);
    dw_taps.fill(0.0);
    db.fill(0.0);
    let mut masked = vec![0.0f32; bp];
    let positions = out
        .chunks_exact(FILTERS * bp)
        .zip(grad.chunks_exact(FILTERS * bp));
    for (p, (out_pos, grad_pos)) in positions.enumerate() {
        let corner = conv_corner(first + p);
        let filters = out_pos.chunks_exact(bp).zip(grad_pos.chunks_exact(bp));
        for (((out_f, grad_f), dwf), dbf) in filters
            .zip(dw_taps.chunks_exact_mut(KERNEL_TAPS))
            .zip(db.iter_mut())
        {
            for ((mg, &o), &g) in masked.iter_mut().zip(out_f).zip(grad_f) {
                *mg = if o > 0.0 { g } else { 0.0 };
            }
            *dbf += masked.iter().sum::<f32>();
            accumulate_taps(pixels, bp, corner, &masked, dwf);
        }
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
    let bp = pixels.len() / IMAGE_PIXELS;
    let mut window = vec![0.0f32; bp];
    let positions = pooled
        .chunks_exact_mut(FILTERS * bp)
        .zip(argmax.chunks_exact_mut(FILTERS * bp));
    for (p, (pooled_pos, argmax_pos)) in positions.enumerate() {
        let corner = pool_corner(first + p);
        let filters = pooled_pos
            .chunks_exact_mut(bp)
            .zip(argmax_pos.chunks_exact_mut(bp));
        for ((pooled_f, argmax_f), (wf, &bias)) in filters.zip(w.chunks_exact(KERNEL_TAPS).zip(b)) {
            for (k, &offset) in WINDOW_OFFSETS.iter().enumerate() {
                conv_lanes(pixels, bp, corner + offset, wf, bias, &mut window);
                for ((best, arg), &c) in pooled_f.iter_mut().zip(argmax_f.iter_mut()).zip(&window) {
                    let c = c.max(0.0);
                    if k == 0 || c > *best {
                        *best = c;
                        *arg = k as f32;
                    }
                }
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
    let bp = pixels.len() / IMAGE_PIXELS;
    let (dw_taps, db) = dw.split_at_mut(FILTERS * KERNEL_TAPS);
    dw_taps.fill(0.0);
    db.fill(0.0);
    let mut routed = vec![0.0f32; bp];
    let positions = pooled
        .chunks_exact(FILTERS * bp)
        .zip(argmax.chunks_exact(FILTERS * bp))
        .zip(grad.chunks_exact(FILTERS * bp));
    for (p, ((pooled_pos, argmax_pos), grad_pos)) in positions.enumerate() {
        let corner = pool_corner(first + p);
        let filters = pooled_pos
            .chunks_exact(bp)
            .zip(argmax_pos.chunks_exact(bp))
            .zip(grad_pos.chunks_exact(bp));
        for (((pooled_f, argmax_f), grad_f), (dwf, dbf)) in
            filters.zip(dw_taps.chunks_exact_mut(KERNEL_TAPS).zip(db.iter_mut()))
        {
            for (k, &offset) in WINDOW_OFFSETS.iter().enumerate() {
                for (((r, &m), &a), &g) in routed.iter_mut().zip(pooled_f).zip(argmax_f).zip(grad_f)
                {
                    *r = if m > 0.0 && a == k as f32 { g } else { 0.0 };
                }
                *dbf += routed.iter().sum::<f32>();
                accumulate_taps(pixels, bp, corner + offset, &routed, dwf);
            }
        }
    }
}
